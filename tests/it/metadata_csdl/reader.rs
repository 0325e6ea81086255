//! A strict reader of CSDL XML (OData v4.0): the structural rules a
//! validator applies beyond well-formed XML, written out because no CSDL
//! validator ships with the toolchain. [`problems`] lists every rule a
//! document breaks (empty when it is valid):
//! - the Edmx envelope (version 4.0, DataServices, schemas with namespaces);
//! - names unique within each scope (schema children, an entity type's
//!   properties and navigation properties together, a container's
//!   children, a set's binding paths);
//! - every type reference resolves (primitive `Edm.*`, or a declared
//!   entity or complex type, through a namespace or its alias), and
//!   navigation properties point at entity types;
//! - keys name existing, primitive, non-nullable properties; an entity
//!   type has exactly one key, its own or inherited from its `BaseType`
//!   (which must be an entity type), unless it is abstract;
//! - structural properties are not of an entity type (a complex type
//!   holds an entity in a navigation property);
//! - partners exist, point back and have the right type;
//! - referential constraints name existing properties of the same type on
//!   both sides;
//! - entity sets name declared entity types; bindings name a navigation
//!   property of the set's type and a set of the target type;
//! - function imports name unbound functions, action imports unbound
//!   actions; functions return something; bound operations bind an entity
//!   type;
//! - annotation terms come from a referenced vocabulary.

use std::collections::{BTreeMap, BTreeSet};

use roxmltree::{Document, Node};

// The CSDL namespace names (XML namespace URIs), compared as strings; never contacted.
pub const EDM: &str = "http://docs.oasis-open.org/odata/ns/edm";
pub const EDMX: &str = "http://docs.oasis-open.org/odata/ns/edmx";

/// The Edm primitive types of OData 4.0.
const PRIMITIVES: [&str; 33] = [
    "Edm.Binary",
    "Edm.Boolean",
    "Edm.Byte",
    "Edm.Date",
    "Edm.DateTimeOffset",
    "Edm.Decimal",
    "Edm.Double",
    "Edm.Duration",
    "Edm.Guid",
    "Edm.Int16",
    "Edm.Int32",
    "Edm.Int64",
    "Edm.SByte",
    "Edm.Single",
    "Edm.Stream",
    "Edm.String",
    "Edm.TimeOfDay",
    "Edm.Geography",
    "Edm.GeographyPoint",
    "Edm.GeographyLineString",
    "Edm.GeographyPolygon",
    "Edm.GeographyMultiPoint",
    "Edm.GeographyMultiLineString",
    "Edm.GeographyMultiPolygon",
    "Edm.GeographyCollection",
    "Edm.Geometry",
    "Edm.GeometryPoint",
    "Edm.GeometryLineString",
    "Edm.GeometryPolygon",
    "Edm.GeometryMultiPoint",
    "Edm.GeometryMultiLineString",
    "Edm.GeometryMultiPolygon",
    "Edm.GeometryCollection",
];

/// A parsed document with its declarations indexed by qualified name.
pub struct Csdl<'a, 'input> {
    pub doc: &'a Document<'input>,
    /// Namespace or alias → namespace.
    namespaces: BTreeMap<String, String>,
    /// Vocabulary namespace or alias → namespace (from edmx:Reference).
    vocabularies: BTreeMap<String, String>,
    /// `Namespace.Name` → EntityType element.
    pub entity_types: BTreeMap<String, Node<'a, 'input>>,
    /// `Namespace.Name` → ComplexType element.
    pub complex_types: BTreeMap<String, Node<'a, 'input>>,
    /// `Namespace.Name` → EnumType element.
    pub enum_types: BTreeMap<String, Node<'a, 'input>>,
    /// `Namespace.Name` → Function/Action elements (overloads).
    operations: BTreeMap<String, Vec<Node<'a, 'input>>>,
}

fn name<'a>(n: Node<'a, '_>) -> &'a str {
    n.attribute("Name").unwrap_or_default()
}

fn children<'a, 'input>(
    n: Node<'a, 'input>,
    tag: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    n.children().filter(move |c| c.has_tag_name((EDM, tag)))
}

/// `Collection(T)` → (true, T); `T` → (false, T).
pub fn unwrap_collection(ty: &str) -> (bool, &str) {
    match ty
        .strip_prefix("Collection(")
        .and_then(|t| t.strip_suffix(')'))
    {
        Some(inner) => (true, inner),
        None => (false, ty),
    }
}

impl<'a, 'input> Csdl<'a, 'input> {
    pub fn read(doc: &'a Document<'input>) -> Self {
        let mut c = Csdl {
            doc,
            namespaces: BTreeMap::new(),
            vocabularies: BTreeMap::new(),
            entity_types: BTreeMap::new(),
            complex_types: BTreeMap::new(),
            enum_types: BTreeMap::new(),
            operations: BTreeMap::new(),
        };
        for include in doc
            .descendants()
            .filter(|n| n.has_tag_name((EDMX, "Include")))
        {
            if let Some(ns) = include.attribute("Namespace") {
                c.vocabularies.insert(ns.to_string(), ns.to_string());
                if let Some(alias) = include.attribute("Alias") {
                    c.vocabularies.insert(alias.to_string(), ns.to_string());
                }
            }
        }
        for schema in c.schemas() {
            let Some(ns) = schema.attribute("Namespace") else {
                continue;
            };
            c.namespaces.insert(ns.to_string(), ns.to_string());
            if let Some(alias) = schema.attribute("Alias") {
                c.namespaces.insert(alias.to_string(), ns.to_string());
            }
            for child in schema.children().filter(|n| n.is_element()) {
                let q = format!("{ns}.{}", name(child));
                match child.tag_name().name() {
                    "EntityType" => {
                        c.entity_types.insert(q, child);
                    }
                    "ComplexType" => {
                        c.complex_types.insert(q, child);
                    }
                    "EnumType" => {
                        c.enum_types.insert(q, child);
                    }
                    "Function" | "Action" => c.operations.entry(q).or_default().push(child),
                    _ => {}
                }
            }
        }
        c
    }

    pub fn schemas(&self) -> impl Iterator<Item = Node<'a, 'input>> {
        self.doc
            .descendants()
            .filter(|n| n.has_tag_name((EDM, "Schema")))
    }

    /// `alias.Name` or `Namespace.Name` → `Namespace.Name`.
    pub fn qualify(&self, reference: &str) -> Option<String> {
        let (prefix, local) = reference.rsplit_once('.')?;
        Some(format!("{}.{local}", self.namespaces.get(prefix)?))
    }

    pub fn entity_type(&self, reference: &str) -> Option<Node<'a, 'input>> {
        self.entity_types.get(&self.qualify(reference)?).copied()
    }

    /// Whether a (possibly `Collection(…)`) type reference resolves.
    pub fn type_resolves(&self, ty: &str) -> bool {
        let (_, inner) = unwrap_collection(ty);
        PRIMITIVES.contains(&inner)
            || self.qualify(inner).is_some_and(|q| {
                self.entity_types.contains_key(&q)
                    || self.complex_types.contains_key(&q)
                    || self.enum_types.contains_key(&q)
            })
    }

    /// The operations named `reference` (overloads).
    pub fn operations(&self, reference: &str) -> &[Node<'a, 'input>] {
        self.qualify(reference)
            .and_then(|q| self.operations.get(&q))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// `ty` and its base types, nearest first (stops at a cycle or an
    /// unresolved base).
    pub fn lineage(&self, ty: Node<'a, 'input>) -> Vec<Node<'a, 'input>> {
        let mut out = vec![ty];
        while let Some(base) = out
            .last()
            .and_then(|t| t.attribute("BaseType"))
            .and_then(|b| self.entity_type(b))
        {
            if out.contains(&base) {
                break;
            }
            out.push(base);
        }
        out
    }

    pub fn containers(&self) -> impl Iterator<Item = Node<'a, 'input>> {
        self.schemas()
            .flat_map(|s| children(s, "EntityContainer").collect::<Vec<_>>())
    }

    pub fn entity_sets(&self) -> BTreeMap<&'a str, Node<'a, 'input>> {
        self.containers()
            .flat_map(|c| children(c, "EntitySet").collect::<Vec<_>>())
            .map(|s| (name(s), s))
            .collect()
    }
}

/// The `Property` elements of a structured type, by name.
pub fn properties<'a, 'input>(ty: Node<'a, 'input>) -> BTreeMap<&'a str, Node<'a, 'input>> {
    children(ty, "Property").map(|p| (name(p), p)).collect()
}

/// The `NavigationProperty` elements of an entity type, by name.
pub fn navigations<'a, 'input>(ty: Node<'a, 'input>) -> BTreeMap<&'a str, Node<'a, 'input>> {
    children(ty, "NavigationProperty")
        .map(|p| (name(p), p))
        .collect()
}

/// The names declared twice among `nodes`.
fn duplicates<'a>(nodes: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    let mut twice = BTreeSet::new();
    for n in nodes {
        if !seen.insert(n) {
            twice.insert(n);
        }
    }
    twice.into_iter().collect()
}

/// Every rule the document breaks.
pub fn problems(xml: &str) -> Vec<String> {
    let doc = match Document::parse(xml) {
        Ok(d) => d,
        Err(e) => return vec![format!("not well-formed XML: {e}")],
    };
    let csdl = Csdl::read(&doc);
    let mut out = Vec::new();
    envelope(&csdl, &mut out);
    for schema in csdl.schemas() {
        schema_rules(&csdl, schema, &mut out);
    }
    for container in csdl.containers() {
        container_rules(&csdl, container, &mut out);
    }
    annotations(&csdl, &mut out);
    out
}

fn envelope(csdl: &Csdl<'_, '_>, out: &mut Vec<String>) {
    let root = csdl.doc.root_element();
    if !root.has_tag_name((EDMX, "Edmx")) {
        out.push(format!("the root is {:?}, not edmx:Edmx", root.tag_name()));
    }
    if root.attribute("Version") != Some("4.0") {
        out.push(format!(
            "Edmx Version is {:?}, not 4.0",
            root.attribute("Version")
        ));
    }
    let services: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name((EDMX, "DataServices")))
        .collect();
    if services.len() != 1 {
        out.push(format!(
            "{} edmx:DataServices elements, not 1",
            services.len()
        ));
    }
    if csdl.schemas().next().is_none() {
        out.push("no Schema".into());
    }
    for s in csdl.schemas() {
        if s.attribute("Namespace").is_none() {
            out.push("a Schema without a Namespace".into());
        }
    }
    let containers = csdl.containers().count();
    if containers != 1 {
        out.push(format!("{containers} entity containers, not 1"));
    }
}

fn schema_rules(csdl: &Csdl<'_, '_>, schema: Node<'_, '_>, out: &mut Vec<String>) {
    let ns = schema.attribute("Namespace").unwrap_or_default();
    // Types and containers share the schema's name scope; operations may
    // overload one another but not take a type's name.
    let named = schema
        .children()
        .filter(|n| n.is_element() && !matches!(n.tag_name().name(), "Function" | "Action"))
        .map(name);
    for d in duplicates(named) {
        out.push(format!("{ns}: '{d}' is declared twice"));
    }
    for op in schema
        .children()
        .filter(|n| matches!(n.tag_name().name(), "Function" | "Action"))
    {
        let q = format!("{ns}.{}", name(op));
        if csdl.entity_types.contains_key(&q) || csdl.complex_types.contains_key(&q) {
            out.push(format!("{q}: an operation with a type's name"));
        }
        operation_rules(csdl, &q, op, out);
    }
    for ty in children(schema, "ComplexType") {
        let q = format!("{ns}.{}", name(ty));
        structured_rules(csdl, &q, ty, out);
        for nav in children(ty, "NavigationProperty") {
            let t = nav.attribute("Type").unwrap_or_default();
            if csdl.entity_type(unwrap_collection(t).1).is_none() {
                out.push(format!(
                    "{q}/{}: type '{t}' is not an entity type",
                    name(nav)
                ));
            }
        }
    }
    for ty in children(schema, "EnumType") {
        let q = format!("{ns}.{}", name(ty));
        let members: Vec<_> = children(ty, "Member").collect();
        if members.is_empty() {
            out.push(format!("{q}: an enum without members"));
        }
        for d in duplicates(members.iter().map(|m| name(*m))) {
            out.push(format!("{q}: member '{d}' is declared twice"));
        }
        for m in members {
            if m.attribute("Value")
                .is_some_and(|v| v.parse::<i64>().is_err())
            {
                out.push(format!("{q}.{}: Value is not an integer", name(m)));
            }
        }
    }
    for ty in children(schema, "EntityType") {
        let q = format!("{ns}.{}", name(ty));
        structured_rules(csdl, &q, ty, out);
        entity_rules(csdl, &q, ty, out);
    }
}

/// Properties of entity and complex types: unique, typed, resolvable.
fn structured_rules(csdl: &Csdl<'_, '_>, q: &str, ty: Node<'_, '_>, out: &mut Vec<String>) {
    let members = ty
        .children()
        .filter(|n| {
            n.has_tag_name((EDM, "Property")) || n.has_tag_name((EDM, "NavigationProperty"))
        })
        .map(name);
    for d in duplicates(members) {
        out.push(format!("{q}: member '{d}' is declared twice"));
    }
    for p in children(ty, "Property") {
        match p.attribute("Type") {
            Some(t) if csdl.entity_type(unwrap_collection(t).1).is_some() => out.push(format!(
                "{q}.{}: a structural property of entity type {t}",
                name(p)
            )),
            Some(t) if csdl.type_resolves(t) => {}
            t => out.push(format!("{q}.{}: type {t:?} does not resolve", name(p))),
        }
        if let Some(n) = p.attribute("Nullable") {
            if n != "true" && n != "false" {
                out.push(format!("{q}.{}: Nullable=\"{n}\"", name(p)));
            }
        }
    }
}

fn entity_rules(csdl: &Csdl<'_, '_>, q: &str, ty: Node<'_, '_>, out: &mut Vec<String>) {
    let props = properties(ty);
    let keys: Vec<_> = children(ty, "Key").collect();
    if let Some(base) = ty.attribute("BaseType") {
        if csdl.entity_type(base).is_none() {
            out.push(format!("{q}: base type '{base}' is not an entity type"));
        }
    }
    let inherited = csdl.lineage(ty)[1..]
        .iter()
        .filter(|b| children(**b, "Key").next().is_some())
        .count();
    let abstract_type = ty.attribute("Abstract") == Some("true");
    match (keys.len(), inherited) {
        (0, 0) if abstract_type => {}
        (1, 0) | (0, 1) => {}
        (own, 0) => out.push(format!("{q}: {own} Key elements, not 1")),
        (_, _) => out.push(format!("{q}: declares a key but inherits one")),
    }
    for key in keys {
        for r in children(key, "PropertyRef") {
            let n = name(r);
            match props.get(n) {
                None => out.push(format!("{q}: key '{n}' is not a property")),
                Some(p) => {
                    if p.attribute("Nullable") != Some("false") {
                        out.push(format!("{q}: key '{n}' is not Nullable=\"false\""));
                    }
                    if !p.attribute("Type").is_some_and(|t| PRIMITIVES.contains(&t)) {
                        out.push(format!("{q}: key '{n}' is not of a primitive type"));
                    }
                }
            }
        }
    }
    for (n, nav) in navigations(ty) {
        let ty_ref = nav.attribute("Type").unwrap_or_default();
        let (many, inner) = unwrap_collection(ty_ref);
        let Some(target) = csdl.entity_type(inner) else {
            out.push(format!("{q}/{n}: type '{ty_ref}' is not an entity type"));
            continue;
        };
        let target_q = csdl.qualify(inner).unwrap_or_default();
        if let Some(partner) = nav.attribute("Partner") {
            match navigations(target).get(partner) {
                None => out.push(format!("{q}/{n}: partner '{partner}' is not on {target_q}")),
                Some(back) => {
                    if back.attribute("Partner") != Some(n) {
                        out.push(format!(
                            "{q}/{n}: partner {target_q}/{partner} names {:?} as its partner",
                            back.attribute("Partner")
                        ));
                    }
                    let back_ty = back.attribute("Type").unwrap_or_default();
                    let (back_many, back_inner) = unwrap_collection(back_ty);
                    if csdl.qualify(back_inner).as_deref() != Some(q) {
                        out.push(format!(
                            "{q}/{n}: partner {target_q}/{partner} is of type {back_ty}"
                        ));
                    }
                    if many && back_many {
                        out.push(format!("{q}/{n}: both partners are collections"));
                    }
                }
            }
        }
        let target_props = properties(target);
        for rc in children(nav, "ReferentialConstraint") {
            let (p, r) = (
                rc.attribute("Property").unwrap_or_default(),
                rc.attribute("ReferencedProperty").unwrap_or_default(),
            );
            match (props.get(p), target_props.get(r)) {
                (Some(dependent), Some(principal)) => {
                    if dependent.attribute("Type") != principal.attribute("Type") {
                        out.push(format!(
                            "{q}/{n}: constraint {p} -> {r} joins different types"
                        ));
                    }
                }
                _ => out.push(format!(
                    "{q}/{n}: constraint {p} -> {target_q}.{r} names a missing property"
                )),
            }
        }
    }
}

fn operation_rules(csdl: &Csdl<'_, '_>, q: &str, op: Node<'_, '_>, out: &mut Vec<String>) {
    let kind = op.tag_name().name();
    let returns: Vec<_> = children(op, "ReturnType").collect();
    if kind == "Function" && returns.len() != 1 {
        out.push(format!(
            "{q}: a function with {} ReturnType elements",
            returns.len()
        ));
    }
    for r in returns {
        let t = r.attribute("Type").unwrap_or_default();
        if !csdl.type_resolves(t) {
            out.push(format!("{q}: return type '{t}' does not resolve"));
        }
    }
    let params: Vec<_> = children(op, "Parameter").collect();
    for d in duplicates(params.iter().map(|p| name(*p))) {
        out.push(format!("{q}: parameter '{d}' twice"));
    }
    for p in &params {
        let t = p.attribute("Type").unwrap_or_default();
        if !csdl.type_resolves(t) {
            out.push(format!(
                "{q}: parameter '{}' type '{t}' does not resolve",
                name(*p)
            ));
        }
    }
    if op.attribute("IsBound") == Some("true") {
        let binding = params
            .first()
            .and_then(|p| p.attribute("Type"))
            .unwrap_or_default();
        if csdl.entity_type(unwrap_collection(binding).1).is_none() {
            out.push(format!("{q}: bound to '{binding}', not an entity type"));
        }
    }
}

fn container_rules(csdl: &Csdl<'_, '_>, container: Node<'_, '_>, out: &mut Vec<String>) {
    let c = name(container);
    for d in duplicates(container.children().filter(|n| n.is_element()).map(name)) {
        out.push(format!("container {c}: '{d}' is declared twice"));
    }
    let sets = csdl.entity_sets();
    for set in children(container, "EntitySet") {
        let s = name(set);
        let ty_ref = set.attribute("EntityType").unwrap_or_default();
        let Some(ty) = csdl.entity_type(ty_ref) else {
            out.push(format!("set {s}: entity type '{ty_ref}' is not declared"));
            continue;
        };
        let navs = navigations(ty);
        let bindings: Vec<_> = children(set, "NavigationPropertyBinding").collect();
        for d in duplicates(
            bindings
                .iter()
                .map(|b| b.attribute("Path").unwrap_or_default()),
        ) {
            out.push(format!("set {s}: binding path '{d}' twice"));
        }
        for b in bindings {
            let path = b.attribute("Path").unwrap_or_default();
            let target = b.attribute("Target").unwrap_or_default();
            let Some(nav) = navs.get(path) else {
                out.push(format!(
                    "set {s}: binding path '{path}' is not a navigation property"
                ));
                continue;
            };
            let Some(target_set) = sets.get(target) else {
                out.push(format!(
                    "set {s}/{path}: target set '{target}' is not declared"
                ));
                continue;
            };
            let nav_ty = unwrap_collection(nav.attribute("Type").unwrap_or_default()).1;
            let set_ty = target_set.attribute("EntityType").unwrap_or_default();
            if csdl.qualify(nav_ty) != csdl.qualify(set_ty) {
                out.push(format!(
                    "set {s}/{path}: leads to {nav_ty} but '{target}' holds {set_ty}"
                ));
            }
        }
    }
    for import in children(container, "ActionImport") {
        let a = import.attribute("Action").unwrap_or_default();
        let unbound = csdl
            .operations(a)
            .iter()
            .any(|o| o.tag_name().name() == "Action" && o.attribute("IsBound") != Some("true"));
        if !unbound {
            out.push(format!(
                "import {}: '{a}' is not an unbound action",
                name(import)
            ));
        }
    }
    for import in children(container, "FunctionImport") {
        let f = import.attribute("Function").unwrap_or_default();
        let unbound = csdl
            .qualify(f)
            .and_then(|q| csdl.operations.get(&q))
            .is_some_and(|ops| {
                ops.iter().any(|o| {
                    o.tag_name().name() == "Function" && o.attribute("IsBound") != Some("true")
                })
            });
        if !unbound {
            out.push(format!(
                "import {}: '{f}' is not an unbound function",
                name(import)
            ));
        }
    }
}

fn annotations(csdl: &Csdl<'_, '_>, out: &mut Vec<String>) {
    for a in csdl
        .doc
        .descendants()
        .filter(|n| n.has_tag_name((EDM, "Annotation")))
    {
        let term = a.attribute("Term").unwrap_or_default();
        let known = term.rsplit_once('.').is_some_and(|(prefix, _)| {
            csdl.vocabularies.contains_key(prefix) || csdl.namespaces.contains_key(prefix)
        });
        if !known {
            out.push(format!(
                "annotation term '{term}' is from no referenced vocabulary"
            ));
        }
    }
}
