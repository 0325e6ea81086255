//! The jobs a node holds, one lane per endpoint: the claimed ones waiting
//! for a delivery slot (oldest first) and how many run now, and which job
//! a free slot takes next.
//!
//! The delivery slots are long-lived tasks that each take the next job
//! here when they finish one, so a delivery starts the moment a slot is
//! free, without a round through the worker loop (which only claims and
//! takes hand-overs into the lanes). A slot takes the oldest waiting job
//! (in the order the jobs were put in: claims read them oldest `ready_at`
//! first) among the endpoints running fewer than their share, in O(log
//! endpoints): the lanes that may go are kept ordered by the age of their
//! first job, so an endpoint at its share is never scanned past.
//!
//! Pure bookkeeping (no I/O, no clock of its own: the caller passes the
//! time), behind the worker's mutex.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The window over which an endpoint's pace (deliveries finished) is
/// counted.
pub const PACE_WINDOW: Duration = Duration::from_secs(1);

/// What one endpoint holds on this node.
struct Lane<T> {
    /// Waiting for a slot, with the order in which they were put in.
    waiting: VecDeque<(u64, T)>,
    running: i64,
    /// Deliveries finished in the current window and in the one before.
    window: Instant,
    finished: i64,
    finished_before: i64,
}

impl<T> Lane<T> {
    fn new(now: Instant) -> Lane<T> {
        Lane {
            waiting: VecDeque::new(),
            running: 0,
            window: now,
            finished: 0,
            finished_before: 0,
        }
    }

    fn roll(&mut self, now: Instant) {
        let age = now.saturating_duration_since(self.window);
        if age >= PACE_WINDOW * 2 {
            self.finished_before = 0;
            self.finished = 0;
            self.window = now;
        } else if age >= PACE_WINDOW {
            self.finished_before = self.finished;
            self.finished = 0;
            self.window += PACE_WINDOW;
        }
    }

    /// Deliveries finished over about the last window.
    fn per_window(&self) -> i64 {
        self.finished.max(self.finished_before)
    }

    fn head(&self) -> Option<u64> {
        self.waiting.front().map(|(seq, _)| *seq)
    }
}

/// One endpoint's figures, for the claim's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneLoad {
    pub endpoint: Uuid,
    /// Running and waiting.
    pub held: i64,
    /// Deliveries finished over about the last second.
    pub finished: i64,
}

/// The lanes of one node; `T` is what a slot needs to run a job.
pub struct Lanes<T> {
    lanes: HashMap<Uuid, Lane<T>>,
    /// The lanes a slot may take from (a waiting job, fewer running than
    /// the share), by the order of their first waiting job.
    open: BTreeSet<(u64, Uuid)>,
    per_endpoint: i64,
    next_seq: u64,
    waiting: usize,
    running: usize,
}

impl<T> Lanes<T> {
    /// Lanes where an endpoint runs at most `per_endpoint` jobs at once.
    pub fn new(per_endpoint: i64) -> Lanes<T> {
        Lanes {
            lanes: HashMap::new(),
            open: BTreeSet::new(),
            per_endpoint: per_endpoint.max(1),
            next_seq: 0,
            waiting: 0,
            running: 0,
        }
    }

    /// Jobs waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Put a job in at the end of its endpoint's lane.
    pub fn push(&mut self, endpoint: Uuid, job: T, now: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let lane = self.lanes.entry(endpoint).or_insert_with(|| Lane::new(now));
        let was_empty = lane.waiting.is_empty();
        lane.waiting.push_back((seq, job));
        self.waiting += 1;
        if was_empty && lane.running < self.per_endpoint {
            self.open.insert((seq, endpoint));
        }
    }

    /// The next job to run: the oldest waiting one of an endpoint below
    /// its share, now counted as running (until [`Lanes::finish`]).
    pub fn take(&mut self) -> Option<(Uuid, T)> {
        let (seq, endpoint) = self.open.pop_first()?;
        let per_endpoint = self.per_endpoint;
        let lane = self.lanes.get_mut(&endpoint)?;
        let (head, job) = lane.waiting.pop_front()?;
        debug_assert_eq!(head, seq);
        lane.running += 1;
        self.waiting -= 1;
        self.running += 1;
        if lane.running < per_endpoint {
            if let Some(next) = lane.head() {
                self.open.insert((next, endpoint));
            }
        }
        Some((endpoint, job))
    }

    /// A job of `endpoint` taken with [`Lanes::take`] finished.
    pub fn finish(&mut self, endpoint: Uuid, now: Instant) {
        let per_endpoint = self.per_endpoint;
        let Some(lane) = self.lanes.get_mut(&endpoint) else {
            return;
        };
        let was_full = lane.running >= per_endpoint;
        lane.roll(now);
        lane.running -= 1;
        lane.finished += 1;
        self.running = self.running.saturating_sub(1);
        if was_full && lane.running < per_endpoint {
            if let Some(head) = lane.head() {
                self.open.insert((head, endpoint));
            }
        }
    }

    /// Every endpoint's load (lanes with nothing held and no recent pace
    /// are forgotten).
    pub fn loads(&mut self, now: Instant) -> Vec<LaneLoad> {
        self.lanes.retain(|_, lane| {
            lane.roll(now);
            lane.running > 0 || !lane.waiting.is_empty() || lane.per_window() > 0
        });
        self.lanes
            .iter()
            .map(|(endpoint, lane)| LaneLoad {
                endpoint: *endpoint,
                held: lane.running + lane.waiting.len() as i64,
                finished: lane.per_window(),
            })
            .collect()
    }

    /// Take every waiting job out (the node stops); running ones stay
    /// counted until they finish.
    pub fn drain_waiting(&mut self) -> Vec<T> {
        self.open.clear();
        self.waiting = 0;
        let mut out: Vec<(u64, T)> = self
            .lanes
            .values_mut()
            .flat_map(|lane| lane.waiting.drain(..))
            .collect();
        out.sort_by_key(|(seq, _)| *seq);
        out.into_iter().map(|(_, job)| job).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn takes_the_oldest_job_of_an_endpoint_below_its_share() {
        let now = Instant::now();
        let mut lanes = Lanes::new(2);
        for (i, e) in [1, 1, 1, 2, 1, 3].iter().enumerate() {
            lanes.push(ep(*e), i, now);
        }
        assert_eq!(lanes.waiting(), 6);
        // Endpoint 1 runs its share (jobs 0, 1); its job 2 waits, 3 and 5 of
        // the others go before job 4 of endpoint 1.
        assert_eq!(lanes.take(), Some((ep(1), 0)));
        assert_eq!(lanes.take(), Some((ep(1), 1)));
        assert_eq!(lanes.take(), Some((ep(2), 3)));
        assert_eq!(lanes.take(), Some((ep(3), 5)));
        assert_eq!(lanes.take(), None, "endpoint 1 is at its share");
        assert_eq!((lanes.waiting(), lanes.running()), (2, 4));
        // One of endpoint 1's finishes: its oldest waiting job goes next.
        lanes.finish(ep(1), now);
        assert_eq!(lanes.take(), Some((ep(1), 2)));
        assert_eq!(lanes.take(), None);
        lanes.finish(ep(2), now);
        assert_eq!(lanes.take(), None, "endpoint 2 has nothing waiting");
        lanes.finish(ep(1), now);
        assert_eq!(lanes.take(), Some((ep(1), 4)));
        assert_eq!((lanes.waiting(), lanes.running()), (0, 3));
    }

    #[test]
    fn a_job_put_in_later_goes_after_the_waiting_ones() {
        let now = Instant::now();
        let mut lanes = Lanes::new(1);
        lanes.push(ep(1), "a1", now);
        lanes.push(ep(1), "a2", now);
        assert_eq!(lanes.take(), Some((ep(1), "a1")));
        lanes.push(ep(2), "b1", now);
        lanes.finish(ep(1), now);
        // a2 was put in before b1.
        assert_eq!(lanes.take(), Some((ep(1), "a2")));
        assert_eq!(lanes.take(), Some((ep(2), "b1")));
    }

    #[test]
    fn loads_count_held_jobs_and_the_pace_of_the_last_window() {
        let t0 = Instant::now();
        let mut lanes = Lanes::new(4);
        for i in 0..5 {
            lanes.push(ep(1), i, t0);
        }
        lanes.push(ep(2), 9, t0);
        for _ in 0..3 {
            assert_eq!(lanes.take().map(|(e, _)| e), Some(ep(1)));
        }
        lanes.finish(ep(1), t0);
        lanes.finish(ep(1), t0);
        let mut loads = lanes.loads(t0);
        loads.sort_by_key(|l| l.endpoint);
        assert_eq!(
            loads,
            vec![
                LaneLoad {
                    endpoint: ep(1),
                    held: 3,
                    finished: 2
                },
                LaneLoad {
                    endpoint: ep(2),
                    held: 1,
                    finished: 0
                },
            ]
        );
        // Two windows later the pace is forgotten, and so is a lane that
        // holds nothing.
        let later = t0 + PACE_WINDOW * 3;
        lanes.finish(ep(1), later);
        assert_eq!(lanes.drain_waiting(), vec![3, 4, 9]);
        let loads = lanes.loads(later);
        assert_eq!(
            loads,
            vec![LaneLoad {
                endpoint: ep(1),
                held: 0,
                finished: 1
            }]
        );
        assert_eq!(lanes.take(), None, "drained");
        assert_eq!(lanes.loads(later + PACE_WINDOW * 3), vec![]);
    }

    #[test]
    fn counts_stay_consistent_under_any_interleaving() {
        // A deterministic pseudo-random sequence of pushes, takes and
        // finishes over 5 endpoints with a share of 3: no endpoint ever
        // runs more than its share, every job comes out once, and each
        // job taken is the oldest waiting one among the endpoints below
        // their share.
        let now = Instant::now();
        let mut lanes: Lanes<u64> = Lanes::new(3);
        let mut model: Vec<(u64, Uuid)> = Vec::new(); // waiting, in order
        let mut running: HashMap<Uuid, i64> = HashMap::new();
        let mut taken = Vec::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next_job = 0u64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let e = ep((x % 5) as u128);
            match (x >> 8) % 3 {
                0 => {
                    lanes.push(e, next_job, now);
                    model.push((next_job, e));
                    next_job += 1;
                }
                1 => {
                    let expect = model
                        .iter()
                        .position(|(_, me)| running.get(me).copied().unwrap_or(0) < 3);
                    let got = lanes.take();
                    match expect {
                        Some(i) => {
                            let (job, me) = model.remove(i);
                            assert_eq!(got, Some((me, job)));
                            *running.entry(me).or_insert(0) += 1;
                            taken.push(job);
                        }
                        None => assert_eq!(got, None),
                    }
                }
                _ => {
                    if running.get(&e).copied().unwrap_or(0) > 0 {
                        *running.get_mut(&e).unwrap() -= 1;
                        lanes.finish(e, now);
                    }
                }
            }
            assert!(running.values().all(|r| *r <= 3));
            assert_eq!(lanes.waiting(), model.len());
            assert_eq!(lanes.running() as i64, running.values().sum::<i64>());
        }
        let rest = lanes.drain_waiting();
        assert_eq!(rest, model.iter().map(|(j, _)| *j).collect::<Vec<_>>());
        taken.extend(rest);
        taken.sort();
        assert_eq!(taken, (0..next_job).collect::<Vec<_>>());
    }
}
