//! The single-valued navigation properties of the BC entities
//! (`customers?$expand=currency`): which entity a property leads to and
//! which field of the record names the target — its `id` in a GUID field
//! (`currencyId`), or a code (`currencyCode` → the target's `code`), as BC
//! keeps both in step. Only properties whose target herald holds are
//! listed; the others of the reference (`picture`, `defaultDimensions`, …)
//! are refused by `$expand`.

/// One navigation property of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BcNavigation {
    /// The property (`currency`).
    pub name: &'static str,
    /// The entity set it leads to (`currencies`).
    pub target: &'static str,
    /// The GUID field holding the target's `id` (`currencyId`), if any.
    pub id_field: Option<&'static str>,
    /// A field of this entity matched against a field of the target
    /// (`("currencyCode", "code")`), used when the id field is empty.
    pub code_field: Option<(&'static str, &'static str)>,
}

impl BcNavigation {
    /// A property `name` leading to `target`; add how with `by_id`/`by_code`.
    pub const fn to(name: &'static str, target: &'static str) -> BcNavigation {
        BcNavigation {
            name,
            target,
            id_field: None,
            code_field: None,
        }
    }

    pub const fn by_id(mut self, field: &'static str) -> BcNavigation {
        self.id_field = Some(field);
        self
    }

    pub const fn by_code(mut self, here: &'static str, there: &'static str) -> BcNavigation {
        self.code_field = Some((here, there));
        self
    }
}
