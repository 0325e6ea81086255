//! The functions and actions herald serves, declared as Dataverse declares
//! them: the unbound functions `WhoAmI` and `RetrieveVersion` with their
//! response complex types, and herald's own bound operations. Which bound
//! operations exist, on which set and with which method, comes from the one
//! table in `api/odata/bound.rs`; this file adds what only `$metadata`
//! needs (return type, description), and a test fails if a bound operation
//! has no declaration here.

use axum::http::Method;
use herald_core::Schema;

use super::{attr, ALIAS};

/// An unbound function served at the service root, with its response
/// type's properties (name, Edm type, nullable).
struct Unbound {
    name: &'static str,
    response: &'static str,
    properties: &'static [(&'static str, &'static str, bool)],
}

const UNBOUND: [Unbound; 2] = [
    Unbound {
        name: "WhoAmI",
        response: "WhoAmIResponse",
        properties: &[
            ("BusinessUnitId", "Edm.Guid", false),
            ("UserId", "Edm.Guid", false),
            ("OrganizationId", "Edm.Guid", false),
        ],
    },
    Unbound {
        name: "RetrieveVersion",
        response: "RetrieveVersionResponse",
        properties: &[("Version", "Edm.String", true)],
    },
];

/// What `$metadata` says about a bound operation of `api/odata/bound.rs`.
struct BoundDeclaration {
    name: &'static str,
    returns: &'static str,
    description: &'static str,
}

const BOUND: [BoundDeclaration; 3] = [
    BoundDeclaration {
        name: "herald_Notify",
        returns: "Edm.String",
        description: "Post the request body (an execution context) to this webhook \
            without a step, with its auth and Dataverse's headers; returns the \
            webhook's response body.",
    },
    BoundDeclaration {
        name: "herald_Retry",
        returns: "mscrm.asyncoperation",
        description: "Run this failed or canceled System Job again; returns the job.",
    },
    BoundDeclaration {
        name: "herald_Attempts",
        returns: "Collection(herald.attempt)",
        description: "The HTTP attempts of this System Job's webhook call.",
    },
];

/// The names of the unbound functions (for the container's imports).
pub(super) fn unbound_functions() -> impl Iterator<Item = &'static str> {
    UNBOUND.iter().map(|f| f.name)
}

/// Complex types, functions and actions of the `mscrm` schema.
pub(super) fn write(x: &mut String, schema: &Schema) {
    for f in &UNBOUND {
        complex_type(x, f.response, f.properties);
        x.push_str(&format!(
            r#"<Function Name="{}"><ReturnType Type="{ALIAS}.{}" Nullable="false"/></Function>"#,
            f.name, f.response
        ));
    }
    for (set, method, name) in crate::api::odata::bound_operations() {
        let (Some(table), Some(declared)) = (
            schema.table_by_set(set),
            BOUND.iter().find(|d| d.name == name),
        ) else {
            continue;
        };
        let element = if *method == Method::GET {
            "Function"
        } else {
            "Action"
        };
        x.push_str(&format!(
            r#"<{element} Name="{name}" IsBound="true"><Parameter Name="entity" Type="{ALIAS}.{}" Nullable="false"/><ReturnType Type="{}" Nullable="false"/><Annotation Term="Org.OData.Core.V1.Description" String="{}"/></{element}>"#,
            attr(&table.logical_name),
            declared.returns,
            attr(declared.description)
        ));
    }
}

/// The `herald` schema: the types only herald's operations return.
pub(super) fn write_herald_types(x: &mut String) {
    complex_type(
        x,
        "attempt",
        &[
            ("attempt", "Edm.Int64", false),
            ("startedon", "Edm.DateTimeOffset", false),
            ("durationms", "Edm.Int64", false),
            ("status", "Edm.Int32", true),
            ("error", "Edm.String", true),
            ("response", "Edm.String", true),
        ],
    );
}

fn complex_type(x: &mut String, name: &str, properties: &[(&str, &str, bool)]) {
    x.push_str(&format!(r#"<ComplexType Name="{name}">"#));
    for (property, ty, nullable) in properties {
        let facet = if *nullable {
            ""
        } else {
            r#" Nullable="false""#
        };
        x.push_str(&format!(
            r#"<Property Name="{property}" Type="{ty}"{facet}/>"#
        ));
    }
    x.push_str("</ComplexType>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_operation_is_declared() {
        for (set, _, name) in crate::api::odata::bound_operations() {
            assert!(
                BOUND.iter().any(|d| d.name == name),
                "{set}/{name} is served but not declared in $metadata: add it to BOUND"
            );
        }
    }

    #[test]
    fn every_declaration_is_served() {
        for d in &BOUND {
            assert!(
                crate::api::odata::bound_operations().any(|(_, _, name)| name == d.name),
                "{} is declared but not served",
                d.name
            );
        }
    }
}
