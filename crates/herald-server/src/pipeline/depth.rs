//! Infinite-loop prevention: the depth each correlation id has reached.
//! An event delivered at depth d under correlation c makes a write that
//! echoes c run at depth d + 1; past `delivery.max_depth` it is refused.
//! Kept in memory per node (bounded); a callback normally reaches the node
//! that sent the webhook's correlation within seconds.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

const CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct DepthTracker {
    inner: Mutex<HashMap<Uuid, i64>>,
}

impl DepthTracker {
    /// The deepest depth seen for a correlation (0 if unknown).
    pub fn depth(&self, correlation: Uuid) -> i64 {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&correlation).copied().unwrap_or(0)
    }

    pub fn record(&self, correlation: Uuid, depth: i64) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CAPACITY && !map.contains_key(&correlation) {
            map.clear();
        }
        let e = map.entry(correlation).or_insert(depth);
        if *e < depth {
            *e = depth;
        }
    }
}
