//! BC fidelity of reads: `$metadata` (the CSDL every `@odata.context`
//! points at: one entity type per entity with its fields, Edm types, key
//! and navigation properties, `company` containing the entity sets, the
//! `NAV` container), and `$expand` on the navigation properties herald
//! holds — by id, by code, absent (`null`) — on lists and single reads,
//! with documented-but-not-held and unknown names refused in BC's shape.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::harness::{error_message, Bc};
use crate::common::Backend;

both_backends!(
    starts_own: metadata_describes_every_entity,
    expand_follows_navigation_properties,
);

// The CSDL namespace name (an XML namespace URI), compared as a string; never contacted.
const EDM: &str = "http://docs.oasis-open.org/odata/ns/edm";

async fn metadata_describes_every_entity(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let customer = s
        .create("customers", json!({"displayName": "Adatum"}))
        .await;
    let context = customer["@odata.context"].as_str().unwrap().to_string();
    let metadata_url = context.split('#').next().unwrap().to_string();
    assert!(metadata_url.ends_with("/api/v2.0/$metadata"), "{context}");
    let company_metadata = s.url(&format!("companies({})/$metadata", s.company()));
    for url in [metadata_url, company_metadata] {
        let resp = reqwest::Client::new()
            .get(&url)
            .bearer_auth("test-admin-key")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/xml"), "{ct}");
        assert_eq!(resp.headers()["odata-version"], "4.0");
        let text = resp.text().await.unwrap();
        let doc = roxmltree::Document::parse(&text).expect("CSDL is XML");
        let schema = doc
            .descendants()
            .find(|n| n.has_tag_name((EDM, "Schema")))
            .expect("Schema");
        assert_eq!(schema.attribute("Namespace"), Some("Microsoft.NAV"));
        let types: Vec<roxmltree::Node> = schema
            .children()
            .filter(|n| n.has_tag_name((EDM, "EntityType")))
            .collect();
        let type_named = |name: &str| {
            *types
                .iter()
                .find(|t| t.attribute("Name") == Some(name))
                .unwrap_or_else(|| panic!("no EntityType {name}"))
        };
        let lines = herald_core::builtin::BC_LINES.iter().map(|l| &l.entity);
        for e in herald_core::builtin::BC_ENTITIES.iter().chain(lines) {
            let t = type_named(e.type_name);
            let key = t
                .descendants()
                .find(|n| n.has_tag_name((EDM, "PropertyRef")))
                .and_then(|k| k.attribute("Name"));
            assert_eq!(key, Some("id"), "{}", e.name);
            let props: Vec<&str> = t
                .children()
                .filter(|n| n.has_tag_name((EDM, "Property")))
                .filter_map(|n| n.attribute("Name"))
                .collect();
            for (f, _) in e.fields {
                assert!(props.contains(f), "{}.{f}", e.name);
            }
            assert!(props.contains(&"lastModifiedDateTime"), "{}", e.name);
        }
        let prop_type = |t: roxmltree::Node, name: &str| {
            t.children()
                .find(|n| n.has_tag_name((EDM, "Property")) && n.attribute("Name") == Some(name))
                .and_then(|n| n.attribute("Type"))
                .map(str::to_string)
        };
        let cust = type_named("customer");
        assert_eq!(prop_type(cust, "currencyId").as_deref(), Some("Edm.Guid"));
        assert_eq!(
            prop_type(cust, "creditLimit").as_deref(),
            Some("Edm.Decimal")
        );
        assert_eq!(prop_type(cust, "taxLiable").as_deref(), Some("Edm.Boolean"));
        assert_eq!(
            prop_type(type_named("salesInvoice"), "invoiceDate").as_deref(),
            Some("Edm.Date")
        );
        let navs: Vec<(&str, &str)> = cust
            .children()
            .filter(|n| n.has_tag_name((EDM, "NavigationProperty")))
            .map(|n| (n.attribute("Name").unwrap(), n.attribute("Type").unwrap()))
            .collect();
        assert!(
            navs.contains(&("currency", "Microsoft.NAV.currency")),
            "{navs:?}"
        );
        assert!(
            navs.contains(&("paymentMethod", "Microsoft.NAV.paymentMethod")),
            "{navs:?}"
        );
        let company = type_named("company");
        assert!(company
            .children()
            .any(|n| n.attribute("Name") == Some("customers")
                && n.attribute("Type") == Some("Collection(Microsoft.NAV.customer)")
                && n.attribute("ContainsTarget") == Some("true")));
        let sets: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name((EDM, "EntitySet")))
            .filter_map(|n| n.attribute("Name"))
            .collect();
        let invoice = type_named("salesInvoice");
        assert!(invoice
            .children()
            .any(|n| n.attribute("Name") == Some("salesInvoiceLines")
                && n.attribute("Type") == Some("Collection(Microsoft.NAV.salesInvoiceLine)")
                && n.attribute("ContainsTarget") == Some("true")));
        for set in [
            "companies",
            "customers",
            "salesInvoices",
            "salesInvoiceLines",
            "subscriptions",
        ] {
            assert!(sets.contains(&set), "{set}: {sets:?}");
        }
        // Every EntityType a navigation property names exists.
        for n in doc
            .descendants()
            .filter(|n| n.has_tag_name((EDM, "NavigationProperty")))
        {
            let ty = n.attribute("Type").unwrap();
            let name = ty.trim_start_matches("Collection(").trim_end_matches(')');
            let name = name.strip_prefix("Microsoft.NAV.").expect("namespaced");
            type_named(name);
        }
    }
}

async fn expand_follows_navigation_properties(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let eur = s
        .create("currencies", json!({"code": "EUR", "displayName": "Euro"}))
        .await;
    let cash = s
        .create(
            "paymentMethods",
            json!({"code": "CASH", "displayName": "Cash"}),
        )
        .await;
    let by_id = s
        .create(
            "customers",
            json!({"displayName": "By id", "currencyId": eur["id"], "paymentMethodId": cash["id"]}),
        )
        .await;
    let by_code = s
        .create(
            "customers",
            json!({"displayName": "By code", "currencyCode": "EUR"}),
        )
        .await;
    let none = s.create("customers", json!({"displayName": "None"})).await;

    let (st, list) = s
        .get(&format!(
            "{}?$expand=currency,paymentMethod&$orderby=number",
            s.collection("customers")
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let rows = list["value"].as_array().unwrap();
    let row = |id: &Value| {
        rows.iter()
            .find(|r| r["id"] == *id)
            .unwrap_or_else(|| panic!("{list}"))
    };
    assert_eq!(row(&by_id["id"])["currency"]["code"], "EUR");
    assert_eq!(row(&by_id["id"])["currency"]["id"], eur["id"]);
    assert_eq!(row(&by_id["id"])["paymentMethod"]["displayName"], "Cash");
    assert_eq!(row(&by_code["id"])["currency"]["id"], eur["id"], "by code");
    assert_eq!(row(&by_code["id"])["paymentMethod"], Value::Null);
    assert_eq!(row(&none["id"])["currency"], Value::Null);

    let one = format!(
        "{}({})?$expand=currency",
        s.collection("customers"),
        by_id["id"].as_str().unwrap()
    );
    let (st, got) = s.get(&one).await;
    assert_eq!(
        (st, got["currency"]["code"].clone()),
        (StatusCode::OK, json!("EUR")),
        "{got}"
    );
    assert!(
        got.get("paymentMethod").is_none(),
        "only what was asked: {got}"
    );

    // Documents reach their customer, items their category.
    let inv = s
        .create("salesInvoices", json!({"customerId": by_id["id"]}))
        .await;
    let (_, invs) = s
        .get(&format!(
            "{}?$expand=customer,currency",
            s.collection("salesInvoices")
        ))
        .await;
    assert_eq!(invs["value"][0]["id"], inv["id"]);
    assert_eq!(
        invs["value"][0]["customer"]["displayName"], "By id",
        "{invs}"
    );
    let cat = s
        .create(
            "itemCategories",
            json!({"code": "BIKES", "displayName": "Bikes"}),
        )
        .await;
    s.create(
        "items",
        json!({"displayName": "Bicycle", "itemCategoryCode": "BIKES"}),
    )
    .await;
    let (_, items) = s
        .get(&format!("{}?$expand=itemCategory", s.collection("items")))
        .await;
    assert_eq!(
        items["value"][0]["itemCategory"]["id"], cat["id"],
        "{items}"
    );

    // Refused: documented but not held, unknown, nested options.
    for (q, needle) in [
        ("purchaseInvoices?$expand=pdfDocument", "not available"),
        ("customers?$expand=picture", "not available"),
        ("customers?$expand=nothing", "nothing"),
        ("customers?$expand=currency($select=code)", "nested"),
    ] {
        let (st, body) = s.get(&format!("companies({})/{q}", s.company())).await;
        assert_eq!(body["error"]["code"], "BadRequest", "{q}: {body}");
        let msg = error_message(st, &body, StatusCode::BAD_REQUEST);
        assert!(msg.contains(needle), "{q}: {msg}");
    }
}
