//! FetchXML (`GET /<set>?fetchXml=…`): parsing a `<fetch>` document into a
//! bound [`Query`], including `<link-entity>` joins.
//!
//! Supported (SPEC §2): `<fetch top count page distinct
//! returntotalrecordcount>`, one `<entity name>`, `<attribute name alias>`,
//! `<all-attributes/>`, `<order attribute descending>`, nested `<filter
//! type="and|or">`, `<condition attribute operator value entityname>` and
//! `<link-entity name from to link-type="inner|outer" alias>` (nested, with
//! their own attributes, filters, orders and links).
//!
//! Names follow FetchXML, not the Web API: lookups are named without the
//! `_x_value` wrapping (`owningextensionid`) and compared with GUIDs;
//! write-only columns (`authvalue`) do not exist for it. An `<attribute>`
//! whose name is `<column>name`, where `<column>` is a lookup, choice or
//! boolean (e.g. `asyncautodeletename`), is the formatted-value attribute
//! of that column: it selects the column itself, whose formatted value the
//! Web API returns as an annotation.
//!
//! Defaults, as in Dataverse: an `<entity>` without `<attribute>` or
//! `<all-attributes/>` returns only its primary key; a `<link-entity>`
//! without them returns no columns; a link without `alias` is aliased by its
//! table name (`name1`, `name2`… if that is taken). `count` alone means the
//! first page of that size; `page` alone uses pages of [`MAX_TOP`] rows;
//! `top` and `count` are capped to [`MAX_TOP`].
//!
//! Aggregates (`aggregate="true"`; see the `aggregate` module): groupings
//! (with `dategrouping`) and `count countcolumn sum avg min max`, keyed by
//! alias. Paging: `page` + `count`, with the cookie of [`paging_cookie`].
//!
//! Not supported (clear errors): `aggregatelimit`, `rowaggregate`, `valueof`, link
//! types other than inner/outer, `alias` on attributes of a `<link-entity>`,
//! and operators not listed in [`parse_fetchxml`].
//!
//! Error positions are 0-based character offsets in the XML text.

//!
//! The parser is one `Parser` value whose methods are spread by concept:
//! `parser` (positions, errors, attribute and name resolution), `entity`
//! (`<fetch>`, `<entity>`, `<link-entity>` and their bodies), `condition`
//! (`<filter>`, `<condition>` and typed values), and `nesting` (the depth
//! pre-scan run before the XML parser).

mod aggregate;
mod condition;
mod entity;
mod nesting;
mod paging;
mod parser;
#[cfg(test)]
mod tests;

use roxmltree::Document;

use crate::error::QueryError;
use crate::query::Query;
use crate::schema::Schema;

use nesting::{char_offset_of_text_pos, check_nesting};
use parser::Parser;

pub use crate::odata::MAX_TOP;
pub use nesting::MAX_FETCH_DEPTH;
pub use paging::paging_cookie;

/// Parse a FetchXML document against the schema.
///
/// Condition operators: `eq ne lt le gt ge`, `like not-like` (pattern with
/// SQL `%`/`_` wildcards, used as given; a `\` escapes the next character as
/// in [`Condition::Like`](crate::query::Condition::Like)), `begins-with not-begin-with
/// ends-with not-end-with`, `in not-in` (`<value>` children), `null
/// not-null`, `between not-between` (two `<value>`s), and for date-times
/// `on`, `on-or-after`, `on-or-before` (with a date-only value, `on-or-before`
/// includes that whole day). A `like`/`not-like` value ending in a lone `\`
/// matches a literal backslash there. Values may not contain U+0000.
pub fn parse_fetchxml(schema: &Schema, xml: &str) -> Result<Query, QueryError> {
    check_nesting(xml)?;
    let doc = Document::parse(xml).map_err(|e| {
        let pos = char_offset_of_text_pos(xml, e.pos().row, e.pos().col);
        QueryError::at(
            format!("Invalid FetchXML: {e} (at position {pos} in fetchXml)"),
            pos,
        )
    })?;
    Parser::new(schema, xml).parse_fetch(doc.root_element())
}
