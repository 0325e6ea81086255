//! Which of the two SQL dialects a store speaks. Both backends run the same
//! SQL text; the few places where they differ (DDL column types, folding
//! text, `FOR UPDATE SKIP LOCKED`, LISTEN/NOTIFY) match on this. It has its
//! own file because the SQL builder (`sql`), the DDL (`ddl`) and the
//! connection (`conn`) all need it and none of them should need another.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}
