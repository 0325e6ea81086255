//! The delay window's rules: one notification per record per window.
//! A record's changes merge in order — create-then-update stays `created`,
//! anything-then-delete is `deleted`, update×n is one `updated` — and the
//! notification carries the time of the record's last change.

use herald_store::bc::BcChange;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    /// Too many changes to one collection in a window: "read it again".
    Collection,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Created => "created",
            ChangeType::Updated => "updated",
            ChangeType::Deleted => "deleted",
            ChangeType::Collection => "collection",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeType> {
        match s {
            "created" => Some(ChangeType::Created),
            "updated" => Some(ChangeType::Updated),
            "deleted" => Some(ChangeType::Deleted),
            "collection" => Some(ChangeType::Collection),
            _ => None,
        }
    }

    /// What a subscriber should hear about `self` followed by `later`.
    pub fn then(self, later: ChangeType) -> ChangeType {
        use ChangeType::*;
        match (self, later) {
            (Collection, _) | (_, Collection) => Collection,
            (_, Deleted) => Deleted,
            (Created, _) => Created,
            // Deleted and made again (a client-chosen id): it exists, changed.
            (Deleted, _) => Updated,
            (Updated, _) => Updated,
        }
    }
}

/// One record's net change within a window.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordChange {
    pub record: Uuid,
    pub change_type: ChangeType,
    /// Time of the record's last change (ms).
    pub last_modified_ms: i64,
}

/// Merge a window's changes per record, in the order records first changed.
pub fn coalesce(changes: &[BcChange]) -> Vec<RecordChange> {
    let mut ordered: Vec<&BcChange> = changes.iter().collect();
    ordered.sort_by_key(|c| (c.at_ms, c.version));
    let mut out: Vec<RecordChange> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    for c in ordered {
        let Some(ty) = ChangeType::parse(&c.change_type) else {
            continue;
        };
        match index.get(&c.record_id) {
            Some(&i) => {
                let r = &mut out[i];
                r.change_type = r.change_type.then(ty);
                r.last_modified_ms = r.last_modified_ms.max(c.at_ms);
            }
            None => {
                index.insert(c.record_id, out.len());
                out.push(RecordChange {
                    record: c.record_id,
                    change_type: ty,
                    last_modified_ms: c.at_ms,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(record: u128, ty: &str, at: i64, version: i64) -> BcChange {
        BcChange {
            table: "bc_customer".into(),
            company_id: Uuid::nil(),
            record_id: Uuid::from_u128(record),
            change_type: ty.into(),
            at_ms: at,
            version,
        }
    }

    fn types(changes: &[BcChange]) -> Vec<&'static str> {
        coalesce(changes)
            .iter()
            .map(|r| r.change_type.as_str())
            .collect()
    }

    #[test]
    fn merges_per_record() {
        assert_eq!(
            types(&[
                ch(1, "created", 0, 1),
                ch(1, "updated", 0, 2),
                ch(1, "updated", 5, 3)
            ]),
            ["created"]
        );
        let five: Vec<_> = (0..5).map(|i| ch(1, "updated", 10, 2 + i)).collect();
        assert_eq!(types(&five), ["updated"]);
        assert_eq!(
            types(&[ch(1, "updated", 0, 2), ch(1, "deleted", 1, 3)]),
            ["deleted"]
        );
        assert_eq!(
            types(&[ch(1, "created", 0, 1), ch(1, "deleted", 0, 2)]),
            ["deleted"]
        );
        // Out-of-order input is put in order by time and version.
        assert_eq!(
            types(&[
                ch(1, "deleted", 0, 3),
                ch(1, "created", 0, 1),
                ch(1, "updated", 0, 2)
            ]),
            ["deleted"]
        );
        assert_eq!(
            types(&[
                ch(2, "created", 0, 1),
                ch(1, "updated", 1, 4),
                ch(2, "updated", 2, 2)
            ]),
            ["created", "updated"]
        );
        let r = coalesce(&[ch(1, "created", 3, 1), ch(1, "updated", 9, 2)]);
        assert_eq!(r[0].last_modified_ms, 9);
    }

    #[test]
    fn then_rules() {
        use ChangeType::*;
        assert_eq!(Created.then(Updated), Created);
        assert_eq!(Updated.then(Updated), Updated);
        assert_eq!(Created.then(Deleted), Deleted);
        assert_eq!(Deleted.then(Created), Updated);
        assert_eq!(Updated.then(Collection), Collection);
    }
}
