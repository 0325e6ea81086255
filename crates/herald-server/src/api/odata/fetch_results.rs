//! What FetchXML (and SQL) results add to a list response: Dataverse's
//! paging annotations for `<fetch count page>` and the rows of aggregate
//! queries, which are keyed by alias rather than by column.

use herald_core::fetchxml::paging_cookie;
use herald_core::Table;
use herald_store::Record;
use serde_json::{Map, Value as Json};

use super::Request;

/// `@Microsoft.Dynamics.CRM.morerecords` and, when there are more,
/// `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` for page `page` of a
/// FetchXML query, when the client asked for annotations (as Dataverse
/// returns them). No cookie on the last page: `dynamics-web-api`'s
/// `fetchAll` asks for the next page as long as there is one.
pub(super) fn paging_annotations(
    out: &mut Map<String, Json>,
    req: &Request,
    table: &Table,
    page: u64,
    rows: &[Record],
    more: bool,
) {
    if !req.prefer.annotations {
        return;
    }
    if more {
        let id = |r: Option<&Record>| r.and_then(|r| r.guid(&table.primary_id));
        out.insert(
            "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie".into(),
            Json::String(paging_cookie(
                &table.primary_id,
                page,
                id(rows.first()),
                id(rows.last()),
            )),
        );
    }
    out.insert(
        "@Microsoft.Dynamics.CRM.morerecords".into(),
        Json::Bool(more),
    );
}

/// One row of an aggregate query: each output under its alias.
pub(super) fn aggregate_row(record: &Record) -> Json {
    Json::Object(
        record
            .values
            .iter()
            .map(|(alias, value)| (alias.clone(), value.to_json()))
            .collect(),
    )
}
