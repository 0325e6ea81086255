//! `$metadata` is valid CSDL and says what the data API does: a strict
//! reader ([`reader`]) finds no broken rule (with a many-to-many
//! relationship made at run time too); every table, column and lookup
//! of the schema is described with the right Edm type; every navigation
//! property it declares can be `$expand`ed and followed; the functions it
//! declares answer (`WhoAmI`, `RetrieveVersion`) with context types it
//! declares, and so do the actions (`CreateMultiple`, `UpdateMultiple`,
//! `UpsertMultiple` bound to `crmbaseentity` collections, `BulkDelete`); the service document lists every entity set; and the OASIS
//! CSDL XML schemas accept the document ([`oasis`]).

mod definitions;
mod oasis;
mod reader;

use std::collections::BTreeSet;

use herald_core::schema::{Access, ColumnType};
use reqwest::{Method, StatusCode};

use crate::common::{Backend, TestServer};
use reader::{navigations, properties, unwrap_collection, Csdl, EDM};

/// A user table with a lookup, beside the built-in ones.
fn project_table() -> herald_core::schema::UserTableConfig {
    toml::from_str(
        r#"
        logical_name = "new_project"
        primary_name = "new_name"
        [columns]
        new_name = "string(200)"
        new_budget = "money"
        new_accountid = "lookup(account)"
        new_phase = "choice(1:Plan,2:Build,3:Run)"
        "#,
    )
    .expect("a valid table")
}

/// A server with the user table and a many-to-many relationship made at
/// run time between it and `contact` (an intersect table, a collection on
/// each side).
async fn start(backend: Backend, test: &str) -> Option<TestServer> {
    let s = TestServer::start_with(backend, test, |c| c.tables = vec![project_table()]).await?;
    let (status, _, body) = s
        .post(
            "RelationshipDefinitions",
            serde_json::json!({
                "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
                "SchemaName": "new_project_contact",
                "Entity1LogicalName": "new_project",
                "Entity2LogicalName": "contact"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "many-to-many: {body}");
    Some(s)
}

pub async fn metadata(s: &TestServer) -> String {
    let resp = s
        .request(Method::GET, "$metadata")
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.expect("a body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strict_reader_finds_nothing_wrong() {
    let s = start(Backend::Sqlite, "metadata_csdl::strict")
        .await
        .expect("server");
    let xml = metadata(&s).await;
    let problems = reader::problems(&xml);
    assert!(
        problems.is_empty(),
        "$metadata breaks {} rule(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_strict_reader_is_strict() {
    // A document with one of each mistake: the reader names them all. (Its
    // xmlns URIs are XML namespace names, compared as strings; never contacted.)
    let xml = r#"<?xml version="1.0"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
<Schema Namespace="N" Alias="n" xmlns="http://docs.oasis-open.org/odata/ns/edm">
<EntityType Name="a"><Key><PropertyRef Name="aid"/></Key><Property Name="aid" Type="Edm.Guid"/>
<Property Name="x" Type="Edm.String"/><Property Name="x" Type="Edm.String"/>
<NavigationProperty Name="b" Type="n.missing"/>
<NavigationProperty Name="c" Type="n.a" Partner="nope"><ReferentialConstraint Property="_c_value" ReferencedProperty="aid"/></NavigationProperty>
<Property Name="y" Type="n.Unknown"><Annotation Term="Org.OData.Core.V1.Computed" Bool="true"/></Property></EntityType>
<Function Name="f"/><EntityType Name="d" BaseType="n.a"><Key><PropertyRef Name="aid"/></Key></EntityType>
<ComplexType Name="r"><Property Name="e" Type="n.a"/><NavigationProperty Name="t" Type="n.r"/></ComplexType><EnumType Name="k"/>
<EntityContainer Name="C"><EntitySet Name="as" EntityType="n.a"><NavigationPropertyBinding Path="zz" Target="bs"/></EntitySet>
<EntitySet Name="bs" EntityType="n.b"/><FunctionImport Name="g" Function="n.g"/><ActionImport Name="h" Action="n.f"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;
    let problems = reader::problems(xml).join("\n");
    for expected in [
        "key 'aid' is not Nullable=\"false\"",
        "member 'x' is declared twice",
        "N.a/b: type 'n.missing' is not an entity type",
        "partner 'nope' is not on N.a",
        "constraint _c_value -> N.a.aid names a missing property",
        "N.a.y: type Some(\"n.Unknown\") does not resolve",
        "N.f: a function with 0 ReturnType",
        "set as: binding path 'zz' is not a navigation property",
        "set bs: entity type 'n.b' is not declared",
        "import g: 'n.g' is not an unbound function",
        "import h: 'n.f' is not an unbound action",
        "N.d: declares a key but inherits one",
        "N.r.e: a structural property of entity type n.a",
        "N.r/t: type 'n.r' is not an entity type",
        "N.k: an enum without members",
        "annotation term 'Org.OData.Core.V1.Computed' is from no referenced vocabulary",
    ] {
        assert!(
            problems.contains(expected),
            "missed '{expected}' in:\n{problems}"
        );
    }
}

/// The Edm type a column must be described with (the row version is
/// Dataverse's 64-bit `BigInt`).
fn edm(c: &herald_core::schema::Column) -> &'static str {
    match &c.ty {
        ColumnType::Integer if c.name == "versionnumber" => "Edm.Int64",
        ColumnType::String { .. } | ColumnType::Memo { .. } => "Edm.String",
        ColumnType::Integer | ColumnType::Choice { .. } => "Edm.Int32",
        ColumnType::Decimal | ColumnType::Money => "Edm.Decimal",
        ColumnType::Boolean => "Edm.Boolean",
        ColumnType::DateTime => "Edm.DateTimeOffset",
        ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => "Edm.Guid",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_column_and_lookup_is_described() {
    let s = start(Backend::Sqlite, "metadata_csdl::tables")
        .await
        .expect("server");
    let xml = metadata(&s).await;
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    let csdl = Csdl::read(&doc);
    let schema = &s.state.schema();
    let sets = csdl.entity_sets();
    let mut described = 0;
    for t in schema.tables() {
        let q = format!("mscrm.{}", t.logical_name);
        let ty = csdl
            .entity_type(&q)
            .unwrap_or_else(|| panic!("no entity type for table {}", t.logical_name));
        let set = sets
            .get(t.entity_set.as_str())
            .unwrap_or_else(|| panic!("no entity set {}", t.entity_set));
        assert_eq!(set.attribute("EntityType"), Some(q.as_str()));
        let props = properties(ty);
        let navs = navigations(ty);
        let mut expected = BTreeSet::new();
        for c in &t.columns {
            let key = c.name == t.primary_id;
            let property = if c.is_lookup() && !key {
                c.value_name()
            } else {
                c.name.clone()
            };
            if c.access == Access::WriteOnly {
                assert!(
                    !props.contains_key(property.as_str()),
                    "{q}: write-only {property} described"
                );
                continue;
            }
            expected.insert(property.clone());
            let p = props
                .get(property.as_str())
                .unwrap_or_else(|| panic!("{q}: column {} has no property {property}", c.name));
            assert_eq!(p.attribute("Type"), Some(edm(c)), "{q}.{property}");
            if let ColumnType::String { max_length } | ColumnType::Memo { max_length } = c.ty {
                assert_eq!(
                    p.attribute("MaxLength"),
                    Some(max_length.to_string().as_str()),
                    "{q}.{property}"
                );
            }
            let computed = p.children().any(|a| {
                a.has_tag_name((EDM, "Annotation"))
                    && a.attribute("Term") == Some("Org.OData.Core.V1.Computed")
                    && a.attribute("Bool") == Some("true")
            });
            assert_eq!(
                computed,
                c.access == Access::ReadOnly,
                "{q}.{property}: Computed"
            );
            if key {
                assert_eq!(
                    p.attribute("Nullable"),
                    Some("false"),
                    "{q}: key {property}"
                );
            }
            if let (Some(target), false) = (c.lookup_target(), key) {
                let target = schema.table(target).expect("lookup target");
                let nav = navs
                    .get(c.navigation_name())
                    .unwrap_or_else(|| panic!("{q}: lookup {} has no navigation property", c.name));
                assert_eq!(
                    nav.attribute("Type"),
                    Some(format!("mscrm.{}", target.logical_name).as_str())
                );
                let rc = nav
                    .children()
                    .find(|n| n.has_tag_name((EDM, "ReferentialConstraint")))
                    .unwrap_or_else(|| {
                        panic!("{q}/{}: no ReferentialConstraint", c.navigation_name())
                    });
                assert_eq!(rc.attribute("Property"), Some(property.as_str()));
                assert_eq!(
                    rc.attribute("ReferencedProperty"),
                    Some(target.primary_id.as_str())
                );
            }
        }
        let extra: Vec<_> = props.keys().filter(|p| !expected.contains(**p)).collect();
        assert!(
            extra.is_empty(),
            "{q}: properties that are no column: {extra:?}"
        );
        for r in schema
            .relationships()
            .iter()
            .filter(|r| r.one_table == t.logical_name)
        {
            let nav = navs
                .get(r.name.as_str())
                .unwrap_or_else(|| panic!("{q}: relationship {} has no collection", r.name));
            assert_eq!(
                nav.attribute("Type"),
                Some(format!("Collection(mscrm.{})", r.many_table).as_str())
            );
        }
        described += 1;
    }
    assert!(described > 10 && schema.table("new_project").is_some());
    assert_eq!(sets.len(), described, "one entity set per table");
}

/// `GET <set>?$expand=<every navigation property>` answers 200, and
/// following each collection from a record answers 200: every name
/// `$metadata` declares is one the data API knows.
async fn every_navigation_property_expands(s: TestServer) {
    let xml = metadata(&s).await;
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    let csdl = Csdl::read(&doc);
    let (_, me) = s.get("WhoAmI()").await;
    let user = me["UserId"].as_str().expect("a user id").to_string();
    for (set, node) in csdl.entity_sets() {
        let ty = csdl
            .entity_type(node.attribute("EntityType").unwrap_or_default())
            .expect("entity type");
        let names: Vec<&str> = navigations(ty).keys().copied().collect();
        if names.is_empty() {
            continue;
        }
        let key = ty
            .descendants()
            .find(|n| n.has_tag_name((EDM, "PropertyRef")))
            .and_then(|n| n.attribute("Name"))
            .expect("a key");
        let expand: Vec<String> = names
            .iter()
            .map(|n| format!("{n}($select={})", target_key(&csdl, ty, n)))
            .collect();
        let path = format!("{set}?$top=1&$select={key}&$expand={}", expand.join(","));
        let (status, body) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let users = csdl.entity_type("mscrm.systemuser").expect("systemuser");
    for (name, nav) in navigations(users) {
        if unwrap_collection(nav.attribute("Type").unwrap_or_default()).0 {
            let path = format!("systemusers({user})/{name}?$top=1");
            let (status, body) = s.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            assert!(body["value"].is_array(), "{path}: {body}");
        }
    }
}

/// The key of the entity type the navigation property `nav` of `ty` leads to.
fn target_key<'a>(csdl: &Csdl<'a, '_>, ty: roxmltree::Node<'a, '_>, nav: &str) -> &'a str {
    let target = navigations(ty)
        .get(nav)
        .and_then(|n| n.attribute("Type"))
        .map(|t| unwrap_collection(t).1)
        .and_then(|t| csdl.entity_type(t))
        .expect("target type");
    target
        .descendants()
        .find(|n| n.has_tag_name((EDM, "PropertyRef")))
        .and_then(|n| n.attribute("Name"))
        .expect("a key")
}

both_backends!(start = start; every_navigation_property_expands);

/// The `@odata.context` of a function's answer names a type `$metadata`
/// declares.
fn context_type_is_declared(csdl: &Csdl<'_, '_>, context: &str) {
    let (_, fragment) = context.split_once("$metadata#").expect("a context URL");
    let (_, inner) = unwrap_collection(fragment);
    assert!(
        csdl.type_resolves(inner),
        "{inner} (from {context}) is not declared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_functions_answer_with_declared_types() {
    let s = start(Backend::Sqlite, "metadata_csdl::functions")
        .await
        .expect("server");
    let xml = metadata(&s).await;
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    let csdl = Csdl::read(&doc);
    for path in ["RetrieveVersion()", "RetrieveVersion"] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let version = body["Version"].as_str().expect("a Version");
        let parts: Vec<&str> = version.split('.').collect();
        assert_eq!(parts.len(), 4, "{version}");
        assert_eq!(&parts[..2], ["9", "2"], "{version}");
        assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "{version}");
        assert!(
            body["@odata.context"].as_str().is_some_and(|c| c
                == format!(
                    "{}/$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse",
                    s.api
                )),
            "{body}"
        );
        context_type_is_declared(&csdl, body["@odata.context"].as_str().unwrap_or_default());
    }
    let (_, me) = s.get("WhoAmI()").await;
    context_type_is_declared(&csdl, me["@odata.context"].as_str().unwrap_or_default());
    let who = csdl
        .complex_types
        .get("Microsoft.Dynamics.CRM.WhoAmIResponse")
        .expect("WhoAmIResponse");
    let props = properties(*who);
    for p in ["BusinessUnitId", "UserId", "OrganizationId"] {
        assert_eq!(
            props.get(p).and_then(|n| n.attribute("Type")),
            Some("Edm.Guid"),
            "{p}"
        );
        assert!(me[p].is_string(), "WhoAmI().{p}: {me}");
    }
    // herald's bound operations are declared on the sets that serve them.
    for (name, kind, binding, returns) in [
        (
            "herald_Notify",
            "Action",
            "mscrm.serviceendpoint",
            "Edm.String",
        ),
        (
            "herald_Retry",
            "Action",
            "mscrm.asyncoperation",
            "mscrm.asyncoperation",
        ),
        (
            "herald_Attempts",
            "Function",
            "mscrm.asyncoperation",
            "Collection(herald.attempt)",
        ),
    ] {
        let op = doc
            .descendants()
            .find(|n| n.has_tag_name((EDM, kind)) && n.attribute("Name") == Some(name))
            .unwrap_or_else(|| panic!("no {kind} {name}"));
        assert_eq!(op.attribute("IsBound"), Some("true"), "{name}");
        let param = op
            .children()
            .find(|n| n.has_tag_name((EDM, "Parameter")))
            .expect("a binding");
        assert_eq!(param.attribute("Type"), Some(binding), "{name}");
        let ret = op
            .children()
            .find(|n| n.has_tag_name((EDM, "ReturnType")))
            .expect("a return type");
        assert_eq!(ret.attribute("Type"), Some(returns), "{name}");
        assert!(csdl.type_resolves(returns), "{returns}");
    }
    for f in ["WhoAmI", "RetrieveVersion"] {
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name((EDM, "FunctionImport")) && n.attribute("Name") == Some(f)),
            "no FunctionImport {f}"
        );
    }
}

/// The Dataverse messages herald serves as actions are declared as
/// Dataverse declares them, and each answers with the type it declares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_actions_answer_with_declared_types() {
    let s = start(Backend::Sqlite, "metadata_csdl::actions")
        .await
        .expect("server");
    let xml = metadata(&s).await;
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    let csdl = Csdl::read(&doc);
    let action = |name: &str| {
        let ops = csdl.operations(&format!("mscrm.{name}"));
        assert_eq!(ops.len(), 1, "one declaration of {name}");
        let op = ops[0];
        assert_eq!(op.tag_name().name(), "Action", "{name}");
        let params: Vec<(&str, &str)> = op
            .children()
            .filter(|n| n.has_tag_name((EDM, "Parameter")))
            .map(|p| (p.attribute("Name").unwrap(), p.attribute("Type").unwrap()))
            .collect();
        let returns = op
            .children()
            .find(|n| n.has_tag_name((EDM, "ReturnType")))
            .and_then(|r| r.attribute("Type"));
        (op.attribute("IsBound") == Some("true"), params, returns)
    };
    // Every entity type derives from the abstract crmbaseentity the bulk
    // messages bind to.
    let base = csdl
        .entity_type("mscrm.crmbaseentity")
        .expect("crmbaseentity");
    assert_eq!(base.attribute("Abstract"), Some("true"));
    let account = csdl.entity_type("mscrm.account").expect("account");
    assert_eq!(account.attribute("BaseType"), Some("mscrm.crmbaseentity"));
    let all = "Collection(mscrm.crmbaseentity)";
    for (name, returns) in [
        ("CreateMultiple", Some("mscrm.CreateMultipleResponse")),
        ("UpdateMultiple", None),
        ("UpsertMultiple", Some("mscrm.UpsertMultipleResponse")),
    ] {
        assert_eq!(
            action(name),
            (true, vec![("entityset", all), ("Targets", all)], returns),
            "{name}"
        );
    }
    let ids = csdl
        .complex_types
        .get("Microsoft.Dynamics.CRM.CreateMultipleResponse")
        .expect("CreateMultipleResponse");
    assert_eq!(
        properties(*ids)
            .get("Ids")
            .and_then(|p| p.attribute("Type")),
        Some("Collection(Edm.Guid)")
    );
    let (bound, params, returns) = action("BulkDelete");
    assert!(!bound);
    assert_eq!(returns, Some("mscrm.BulkDeleteResponse"));
    let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "QuerySet",
            "JobName",
            "SendEmailNotification",
            "ToRecipients",
            "CCRecipients",
            "RecurrencePattern",
            "StartDateTime",
            "SourceImportId",
            "RunNow"
        ]
    );
    assert_eq!(params[0].1, "Collection(mscrm.QueryExpression)");
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name((EDM, "ActionImport"))
            && n.attribute("Name") == Some("BulkDelete")
            && n.attribute("Action") == Some("mscrm.BulkDelete")));
    // Every operator the ConditionOperator enum names is one a BulkDelete accepts.
    let operators = csdl
        .enum_types
        .get("Microsoft.Dynamics.CRM.ConditionOperator")
        .expect("ConditionOperator");
    let members: Vec<&str> = operators
        .children()
        .filter_map(|m| m.attribute("Name"))
        .collect();
    assert!(
        members.contains(&"Equal") && members.contains(&"NotNull"),
        "{members:?}"
    );

    // The answers: the context names the declared response type, and the
    // body has its properties.
    let (st, _, created) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            serde_json::json!({"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "A"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{created}");
    context_type_is_declared(
        &csdl,
        created["@odata.context"].as_str().unwrap_or_default(),
    );
    assert!(created["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("#Microsoft.Dynamics.CRM.CreateMultipleResponse"));
    assert_eq!(
        created["Ids"].as_array().map(Vec::len),
        Some(1),
        "{created}"
    );
    let (st, _, upserted) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.UpsertMultiple",
            serde_json::json!({"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": created["Ids"][0], "name": "B"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{upserted}");
    context_type_is_declared(
        &csdl,
        upserted["@odata.context"].as_str().unwrap_or_default(),
    );
    assert_eq!(upserted["Results"][0]["RecordCreated"], false, "{upserted}");
    let (st, _, job) = s
        .post(
            "BulkDelete",
            serde_json::json!({"QuerySet": [{"EntityName": "account", "Criteria": {"FilterOperator": "And", "Conditions": [{"AttributeName": "name", "Operator": "Equal", "Values": [{"Value": "none", "Type": "System.String"}]}]}}], "JobName": "none"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{job}");
    context_type_is_declared(&csdl, job["@odata.context"].as_str().unwrap_or_default());
    assert!(job["JobId"].is_string(), "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_document_lists_every_entity_set() {
    let s = start(Backend::Sqlite, "metadata_csdl::service")
        .await
        .expect("server");
    let expected: BTreeSet<String> = s
        .state
        .schema()
        .tables()
        .map(|t| t.entity_set.clone())
        .collect();
    for url in [format!("{}/", s.api), s.api.clone()] {
        let (status, _, body) = s.send(s.request(Method::GET, &url)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(
            body["@odata.context"],
            format!("{}/$metadata", s.api),
            "{url}"
        );
        let value = body["value"].as_array().expect("value");
        let listed: BTreeSet<String> = value
            .iter()
            .map(|e| {
                assert_eq!(e["kind"], "EntitySet", "{e}");
                assert_eq!(e["url"], e["name"], "{e}");
                e["name"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        assert_eq!(listed, expected, "{url}");
    }
}
