//! Tests of the FetchXML parser: the seeds' queries, every operator,
//! links, error positions, and robustness against garbage and deep nesting.

use uuid::Uuid;

use super::*;
use crate::query::{ColumnRef, CompareOp, Condition, Order};
use crate::value::{parse_datetime, Value};

const ID: &str = "6d81597f-0f9f-e711-8122-000d3aa2331c";

fn parse(xml: &str) -> Result<Query, QueryError> {
    let schema = Schema::build(&[]).expect("schema");
    parse_fetchxml(&schema, xml)
}

fn guid() -> Value {
    Value::Guid(Uuid::parse_str(ID).expect("guid"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn cond(xml_condition: &str) -> Result<Condition, QueryError> {
    let q = parse(&format!(
        "<fetch><entity name='account'><filter>{xml_condition}</filter></entity></fetch>"
    ))?;
    Ok(q.filter.expect("a filter"))
}

// ---- the seeds' FetchXML, as printed (with <id> placeholders replaced) ----

#[test]
fn seed_webhook_registrations() {
    let q = parse(
        r#"<fetch>
  <entity name="serviceendpoint" >
<attribute name="serviceendpointid" />
<attribute name="name" />
<attribute name="authtype" />
<attribute name="url" />
<filter>
  <condition attribute="contract" operator="eq" value="8" />
</filter>
  </entity>
</fetch> "#,
    )
    .unwrap();
    assert_eq!(q.table, "serviceendpoint");
    assert_eq!(
        q.select,
        strings(&["serviceendpointid", "name", "authtype", "url"])
    );
    assert_eq!(
        q.filter,
        Some(Condition::Compare {
            column: ColumnRef::new("contract"),
            op: CompareOp::Eq,
            value: Value::Int(8)
        })
    );
}

#[test]
fn seed_steps_of_endpoint_with_links() {
    let xml = r#"<fetch>
  <entity name="sdkmessageprocessingstep" >
<attribute name="name" />
<attribute name="filteringattributes" />
<attribute name="stage" />
<attribute name="asyncautodeletename" />
<attribute name="description" />
<attribute name="mode" />
<link-entity name="serviceendpoint" from="serviceendpointid" to="eventhandler" link-type="inner" alias="endpnt" >
  <attribute name="name" />
  <filter>
    <condition attribute="serviceendpointid" operator="eq" value="<serviceendpointid>" />
  </filter>
</link-entity>
<link-entity name="sdkmessagefilter" from="sdkmessagefilterid" to="sdkmessagefilterid" link-type="inner" alias="fltr" >
  <attribute name="primaryobjecttypecode" />
</link-entity>
<link-entity name="sdkmessage" from="sdkmessageid" to="sdkmessageid" link-type="inner" alias="msg" >
  <attribute name="name" />
</link-entity>
  </entity>
</fetch>
"#
    .replace("<serviceendpointid>", ID);
    let q = parse(&xml).unwrap();
    assert_eq!(
        q.select,
        strings(&[
            "name",
            "filteringattributes",
            "stage",
            "asyncautodelete",
            "description",
            "mode"
        ])
    );
    assert_eq!(q.filter, None);
    assert_eq!(q.links.len(), 3);
    let l = &q.links[0];
    assert_eq!(
        (
            l.table.as_str(),
            l.from.as_str(),
            l.to.as_str(),
            l.alias.as_str(),
            l.outer
        ),
        (
            "serviceendpoint",
            "serviceendpointid",
            "eventhandler",
            "endpnt",
            false
        )
    );
    assert_eq!(l.select, strings(&["name"]));
    assert_eq!(
        l.filter,
        Some(Condition::Compare {
            column: ColumnRef::linked("endpnt", "serviceendpointid"),
            op: CompareOp::Eq,
            value: guid()
        })
    );
    assert_eq!(q.links[1].alias, "fltr");
    assert_eq!(q.links[1].select, strings(&["primaryobjecttypecode"]));
    assert_eq!(q.links[2].table, "sdkmessage");
}

#[test]
fn seed_failed_jobs_of_step() {
    let xml = r#"<fetch>
  <entity name="asyncoperation" >
<attribute name="name" />
	<attribute name="friendlymessage" />
<attribute name="errorcode" />
<attribute name="message" />
<attribute name="completedon" />     
<filter>
  <condition attribute="owningextensionid" operator="eq" value="<stepid>" />
</filter>
<order attribute="completedon" descending="true" />
  </entity>
</fetch>"#
        .replace("<stepid>", ID);
    let q = parse(&xml).unwrap();
    assert_eq!(
        q.select,
        strings(&[
            "name",
            "friendlymessage",
            "errorcode",
            "message",
            "completedon"
        ])
    );
    assert_eq!(
        q.filter,
        Some(Condition::Compare {
            column: ColumnRef::new("owningextensionid"),
            op: CompareOp::Eq,
            value: guid()
        })
    );
    assert_eq!(
        q.order,
        vec![Order {
            column: ColumnRef::new("completedon"),
            descending: true
        }]
    );
}

// ---- fetch attributes and defaults ----

#[test]
fn paging_top_distinct_and_defaults() {
    let q = parse(r#"<fetch count="50" page="3" distinct="true" returntotalrecordcount="true"><entity name="contact"><all-attributes/></entity></fetch>"#).unwrap();
    assert_eq!((q.page_size, q.page, q.top), (Some(50), Some(3), None));
    assert!(q.distinct && q.count);
    assert!(q.select.is_empty());
    let q = parse(r#"<fetch top="9999"><entity name="contact"/></fetch>"#).unwrap();
    assert_eq!((q.top, q.page, q.page_size), (Some(MAX_TOP), None, None));
    assert_eq!(q.select, strings(&["contactid"]));
    let q = parse(r#"<fetch count="10"><entity name="contact"/></fetch>"#).unwrap();
    assert_eq!((q.page_size, q.page), (Some(10), Some(1)));
    assert!(parse(r#"<fetch page="0"><entity name="contact"/></fetch>"#).is_err());
    assert!(parse(r#"<fetch top="x"><entity name="contact"/></fetch>"#).is_err());
    assert!(parse(r#"<fetch distinct="maybe"><entity name="contact"/></fetch>"#).is_err());
    let q = parse(
        r#"<fetch><entity name="contact"><attribute name="fullname" alias="n"/></entity></fetch>"#,
    )
    .unwrap();
    assert_eq!(q.select, strings(&["fullname"]));
    assert_eq!(
        q.select_aliases,
        vec![("fullname".to_string(), "n".to_string())]
    );
}

// ---- conditions ----

#[test]
fn operators() {
    let c = |col: &str, op, value| Condition::Compare {
        column: ColumnRef::new(col),
        op,
        value,
    };
    assert_eq!(
        cond(r#"<condition attribute="revenue" operator="ge" value="10.5"/>"#).unwrap(),
        c("revenue", CompareOp::Ge, Value::Decimal(10.5))
    );
    assert_eq!(
        cond(r#"<condition attribute="creditonhold" operator="ne" value="1"/>"#).unwrap(),
        c("creditonhold", CompareOp::Ne, Value::Bool(true))
    );
    assert_eq!(
        cond(r#"<condition attribute="name" operator="like" value="%a_b%"/>"#).unwrap(),
        Condition::Like {
            column: ColumnRef::new("name"),
            pattern: "%a_b%".into(),
            negated: false
        }
    );
    assert_eq!(
        cond(r#"<condition attribute="name" operator="not-like" value="x%"/>"#).unwrap(),
        Condition::Like {
            column: ColumnRef::new("name"),
            pattern: "x%".into(),
            negated: true
        }
    );
    assert_eq!(
        cond(r#"<condition attribute="name" operator="begins-with" value="50%"/>"#).unwrap(),
        Condition::Like {
            column: ColumnRef::new("name"),
            pattern: "50\\%%".into(),
            negated: false
        }
    );
    assert_eq!(
        cond(r#"<condition attribute="name" operator="ends-with" value="Ltd"/>"#).unwrap(),
        Condition::Like {
            column: ColumnRef::new("name"),
            pattern: "%Ltd".into(),
            negated: false
        }
    );
    assert_eq!(
        cond(r#"<condition attribute="industrycode" operator="not-in"><value>1</value><value>2</value></condition>"#).unwrap(),
        Condition::In {
            column: ColumnRef::new("industrycode"),
            values: vec![Value::Int(1), Value::Int(2)],
            negated: true
        }
    );
    assert_eq!(
        cond(&format!(r#"<condition attribute="primarycontactid" operator="in"><value>{{{ID}}}</value></condition>"#)).unwrap(),
        Condition::In { column: ColumnRef::new("primarycontactid"), values: vec![guid()], negated: false }
    );
    assert_eq!(
        cond(r#"<condition attribute="parentaccountid" operator="null"/>"#).unwrap(),
        Condition::Null {
            column: ColumnRef::new("parentaccountid"),
            negated: false
        }
    );
    assert_eq!(
        cond(r#"<condition attribute="name" operator="not-null"/>"#).unwrap(),
        Condition::Null {
            column: ColumnRef::new("name"),
            negated: true
        }
    );
    assert_eq!(
        cond(r#"<condition attribute="numberofemployees" operator="between"><value>1</value><value>9</value></condition>"#).unwrap(),
        Condition::And(vec![
            c("numberofemployees", CompareOp::Ge, Value::Int(1)),
            c("numberofemployees", CompareOp::Le, Value::Int(9)),
        ])
    );
    let day = parse_datetime("2024-05-01").unwrap();
    let next = parse_datetime("2024-05-02").unwrap();
    assert_eq!(
        cond(r#"<condition attribute="createdon" operator="on-or-after" value="2024-05-01"/>"#)
            .unwrap(),
        c("createdon", CompareOp::Ge, Value::DateTime(day))
    );
    assert_eq!(
        cond(r#"<condition attribute="createdon" operator="on-or-before" value="2024-05-01"/>"#)
            .unwrap(),
        c("createdon", CompareOp::Lt, Value::DateTime(next))
    );
    assert_eq!(
        cond(r#"<condition attribute="createdon" operator="on-or-before" value="2024-05-01T00:00:00Z"/>"#).unwrap(),
        c("createdon", CompareOp::Le, Value::DateTime(day))
    );
}

#[test]
fn nested_filters() {
    let q = parse(
        r#"<fetch><entity name="contact"><filter type="or">
             <condition attribute="lastname" operator="eq" value="a"/>
             <filter><condition attribute="firstname" operator="eq" value="b"/>
                     <condition attribute="jobtitle" operator="eq" value="c"/></filter>
           </filter><filter/></entity></fetch>"#,
    )
    .unwrap();
    let s = |col: &str, v: &str| Condition::Compare {
        column: ColumnRef::new(col),
        op: CompareOp::Eq,
        value: Value::String(v.into()),
    };
    assert_eq!(
        q.filter,
        Some(Condition::Or(vec![
            s("lastname", "a"),
            Condition::And(vec![s("firstname", "b"), s("jobtitle", "c")]),
        ]))
    );
}

#[test]
fn links_nested_outer_default_alias_and_entityname() {
    let q = parse(
        r#"<fetch><entity name="contact">
             <attribute name="fullname"/>
             <filter><condition entityname="acct" attribute="name" operator="eq" value="Contoso"/></filter>
             <link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer" alias="acct">
               <all-attributes/>
               <order attribute="name"/>
               <link-entity name="systemuser" from="systemuserid" to="ownerid">
                 <attribute name="fullname"/>
               </link-entity>
               <link-entity name="systemuser" from="systemuserid" to="createdby"/>
             </link-entity>
           </entity></fetch>"#,
    )
    .unwrap();
    assert_eq!(
        q.filter,
        Some(Condition::Compare {
            column: ColumnRef::linked("acct", "name"),
            op: CompareOp::Eq,
            value: Value::String("Contoso".into())
        })
    );
    let l = &q.links[0];
    assert!(l.outer);
    assert!(l.select.contains(&"revenue".to_string()) && l.select.len() > 10);
    assert_eq!(l.order[0].column, ColumnRef::linked("acct", "name"));
    assert_eq!(l.links[0].alias, "systemuser");
    assert_eq!(l.links[0].select, strings(&["fullname"]));
    assert_eq!(l.links[1].alias, "systemuser1");
    assert!(l.links[1].select.is_empty());
}

// ---- errors ----

#[test]
fn errors_name_the_token_and_position() {
    let e = parse("<fetch><entity name='nosuch'/></fetch>").unwrap_err();
    assert!(e.message.contains("'nosuch'"), "{}", e.message);
    assert_eq!(e.position, Some(21));

    let e = parse(
        "<fetch><entity name='serviceendpoint'><attribute name='authvalue'/></entity></fetch>",
    )
    .unwrap_err();
    assert!(e.message.contains("'authvalue'"), "{}", e.message);
    assert_eq!(e.position, Some(55));

    let e = parse("<fetch><entity name='contact'><attribute name='_parentcustomerid_value'/></entity></fetch>").unwrap_err();
    assert!(e.message.contains("does not exist"), "{}", e.message);
    // Only lookups, choices and booleans have '<column>name' attributes.
    assert!(parse(
        "<fetch><entity name='contact'><attribute name='lastnamename'/></entity></fetch>"
    )
    .is_err());
    assert!(parse(
        "<fetch><entity name='contact'><attribute name='parentcustomeridname'/></entity></fetch>"
    )
    .is_ok());

    let e = cond(r#"<condition attribute="name" operator="sounds-like" value="x"/>"#).unwrap_err();
    assert!(e.message.contains("'sounds-like'"), "{}", e.message);
    let e = cond(r#"<condition attribute="industrycode" operator="eq" value="abc"/>"#).unwrap_err();
    assert!(
        e.message.contains("'abc'") && e.message.contains("industrycode"),
        "{}",
        e.message
    );
    assert!(cond(r#"<condition attribute="name" operator="eq"/>"#).is_err());
    assert!(cond(r#"<condition attribute="name" operator="between" value="a"/>"#).is_err());
    assert!(cond(r#"<condition attribute="name" operator="null" value="a"/>"#).is_err());
    assert!(cond(r#"<condition attribute="name" operator="in"/>"#).is_err());
    assert!(cond(r#"<condition attribute="revenue" operator="like" value="1"/>"#).is_err());
    assert!(cond(r#"<condition attribute="name" operator="on" value="2024-01-01"/>"#).is_err());
    assert!(cond(r#"<condition attribute="name" operator="eq" valueof="x"/>"#).is_err());
    assert!(
        cond(r#"<condition entityname="zz" attribute="name" operator="eq" value="x"/>"#).is_err()
    );
    assert!(
        cond(r#"<condition attribute="name" operator="eq" value="x"><bogus/></condition>"#)
            .is_err()
    );
    assert!(
        parse(r#"<fetch><entity name="account"><filter type="xor"/></entity></fetch>"#).is_err()
    );
    assert!(parse(r#"<fetch aggregate="true"><entity name="account"/></fetch>"#).is_err());
    assert!(parse(r#"<fetch><entity name="account"><link-entity name="contact" from="nosuch" to="accountid"/></entity></fetch>"#).is_err());
    assert!(parse(r#"<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="exists"/></entity></fetch>"#).is_err());
    assert!(parse(r#"<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" alias="a"/><link-entity name="contact" from="parentcustomerid" to="accountid" alias="a"/></entity></fetch>"#).is_err());
    assert!(parse(r#"<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid"><attribute name="fullname" alias="x"/></link-entity></entity></fetch>"#).is_err());
    assert!(parse("<fetch/>").is_err());
    assert!(parse("<query><entity name='account'/></query>").is_err());
    assert!(parse("<fetch><entity name='account'/><entity name='account'/></fetch>").is_err());
    assert!(parse("<fetch><entity name='account'><sort/></entity></fetch>").is_err());
}

#[test]
fn bad_xml_reports_position() {
    // The seeds' unreplaced placeholder is not well-formed XML.
    let e = parse("<fetch>\n  <entity name=\"x\" value=\"<id>\"/></fetch>").unwrap_err();
    assert!(e.message.starts_with("Invalid FetchXML"), "{}", e.message);
    assert_eq!(e.position, Some(34));
    let e = parse("<fetch>é<entity></fetch>").unwrap_err();
    assert!(e.position.is_some_and(|p| p <= 24), "{e:?}");
    assert!(parse("").is_err());
    assert!(parse("<!DOCTYPE x [<!ENTITY a 'b'>]><fetch/>").is_err());
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let n = 20_000;
    let xml = format!(
        "<fetch><entity name='account'>{}{}</entity></fetch>",
        "<filter>".repeat(n),
        "</filter>".repeat(n)
    );
    assert!(parse(&xml).unwrap_err().message.contains("nested"));
    let xml = format!(
        "<fetch><entity name='account'>{}{}</entity></fetch>",
        "<link-entity name='account' from='accountid' to='parentaccountid'>".repeat(n),
        "</link-entity>".repeat(n)
    );
    assert!(parse(&xml).unwrap_err().message.contains("nested"));
}

#[test]
fn garbage_never_panics() {
    let pieces = [
        "<fetch",
        "<fetch>",
        "</fetch>",
        "<entity name='account'>",
        "</entity>",
        "<entity",
        " name='contact'",
        "<attribute name='name'/>",
        "<attribute name='authvalue'/>",
        "<all-attributes/>",
        "<filter type='or'>",
        "</filter>",
        "<condition attribute='name' ",
        "operator='eq' ",
        "operator='in'",
        "operator='between'",
        "operator='on-or-before'",
        " value='2024-05-01'",
        " value='x'",
        "/>",
        ">",
        "<value>1</value>",
        "</condition>",
        "<link-entity name='contact' from='parentcustomerid' to='accountid'",
        "</link-entity>",
        "<order attribute='name' descending='true'/>",
        " top='5'",
        " count='x'",
        "&amp;",
        "&",
        "é",
        "日本",
        "\u{1F600}",
        "<",
        "'",
        "\"",
        "=",
        " ",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
    ];
    let schema = Schema::build(&[]).expect("schema");
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for _ in 0..3000 {
        let mut xml = String::new();
        for _ in 0..next() % 24 {
            xml.push_str(pieces[(next() % pieces.len() as u64) as usize]);
        }
        if let Err(e) = parse_fetchxml(&schema, &xml) {
            if let Some(p) = e.position {
                assert!(p <= xml.chars().count(), "{xml:?}: {e:?}");
            }
        }
    }
}

#[test]
fn nul_characters_are_refused_with_a_position() {
    for c in [
        "<condition attribute='name' operator='eq' value='a&#0;'/>",
        "<condition attribute='name' operator='in'><value>a&#x0;</value></condition>",
        "<condition attribute='name' operator='like' value='a\u{0}'/>",
    ] {
        let e = cond(c).unwrap_err();
        assert!(e.position.is_some(), "{c}: {}", e.message);
        assert!(e.message.contains("position"), "{c}: {}", e.message);
    }
}
