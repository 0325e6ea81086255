//! Which steps run, and in which order: filtering attributes, stages and
//! ranks (with images and impersonation, disabled steps skipped), and the
//! depth limit that stops a receiver writing back in a loop.

use std::time::Duration;

use herald_testkit::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::HEADERS;
use crate::common::{odata_error, register, TestServer};

both_backends!(
    filtering_attributes_decide_whether_a_step_fires,
    stages_and_ranks_run_in_order_with_images_and_impersonation,
    loops_are_stopped_at_depth_8,
    async_steps_carry_the_asynchronous_step_primary_name_image,
);

async fn filtering_attributes_decide_whether_a_step_fires(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        0,
        json!({"filteringattributes": "telephone1"}),
    )
    .await;
    let c = s.create("contacts", json!({"lastname": "X"})).await;
    s.patch(&format!("contacts({c})"), json!({"firstname": "no"}))
        .await;
    assert!(
        rx.requests().is_empty(),
        "firstname is not a filtering attribute"
    );
    s.patch(
        &format!("contacts({c})"),
        json!({"telephone1": "555", "firstname": "yes"}),
    )
    .await;
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        got[0].body_json()["InputParameters"][0]["value"]["Attributes"][0]["key"],
        "telephone1"
    );
}

async fn stages_and_ranks_run_in_order_with_images_and_impersonation(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let runner = s
        .create("systemusers", json!({"firstname": "Run", "lastname": "As"}))
        .await;
    let post2 = register::step(
        &s,
        &hook,
        "Update",
        "account",
        40,
        0,
        json!({"rank": 2, "name": "post2"}),
    )
    .await;
    let post1 = register::step(&s, &hook, "Update", "account", 40, 0, json!({"rank": 1, "name": "post1", "impersonatinguserid@odata.bind": format!("/systemusers({runner})")})).await;
    let pre = register::step(
        &s,
        &hook,
        "Update",
        "account",
        20,
        0,
        json!({"rank": 5, "name": "pre"}),
    )
    .await;
    let val = register::step(
        &s,
        &hook,
        "Update",
        "account",
        10,
        0,
        json!({"rank": 9, "name": "val"}),
    )
    .await;
    register::image(&s, &post1, 2, "both", "name").await;
    let a = s
        .create("accounts", json!({"name": "Old", "telephone1": "1"}))
        .await;
    s.patch(&format!("accounts({a})"), json!({"name": "New"}))
        .await;
    let got = rx.wait_for(4, Duration::from_secs(10)).await;
    let order: Vec<String> = got
        .iter()
        .map(|r| {
            r.body_json()["OwningExtension"]["Id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(order, vec![val.clone(), pre, post1.clone(), post2]);
    let stages: Vec<i64> = got
        .iter()
        .map(|r| r.body_json()["Stage"].as_i64().unwrap())
        .collect();
    assert_eq!(stages, vec![10, 20, 40, 40]);
    let b = got[2].body_json();
    assert_eq!(b["UserId"], runner, "Run in User's Context");
    assert_eq!(b["InitiatingUserId"], s.state.org.admin_user_id.to_string());
    let pre_img = &b["PreEntityImages"][0]["value"]["Attributes"];
    let post_img = &b["PostEntityImages"][0]["value"]["Attributes"];
    let val_of = |attrs: &Value, k: &str| {
        attrs
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["key"] == k)
            .map(|x| x["value"].clone())
    };
    assert_eq!(val_of(pre_img, "name"), Some(json!("Old")));
    assert_eq!(val_of(post_img, "name"), Some(json!("New")));
    assert_eq!(
        val_of(post_img, "telephone1"),
        None,
        "only the listed attributes"
    );
    assert_eq!(
        got[0].body_json()["UserId"],
        s.state.org.admin_user_id.to_string()
    );
    // Disabled steps do not run.
    s.patch(
        &format!("sdkmessageprocessingsteps({val})"),
        json!({"statecode": 1, "statuscode": 2}),
    )
    .await;
    rx.clear();
    s.patch(&format!("accounts({a})"), json!({"name": "Newer"}))
        .await;
    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    assert!(got.iter().all(|r| r.body_json()["Stage"] != 10));
}

async fn loops_are_stopped_at_depth_8(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Update", "account", 40, 0, json!({})).await;
    let a = s.create("accounts", json!({"name": "loop"})).await;
    s.patch(&format!("accounts({a})"), json!({"name": "0"}))
        .await;
    let mut correlation = rx.wait_for(1, Duration::from_secs(5)).await[0]
        .header("x-ms-correlation-request-id")
        .unwrap()
        .to_string();
    // A receiver that writes back echoes the correlation id: depth grows by one each time.
    for depth in 2..=8 {
        let (st, _, body) = s
            .send(
                s.request(Method::PATCH, &format!("accounts({a})"))
                    .header("x-ms-correlation-request-id", &correlation)
                    .json(&json!({"name": depth.to_string()})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "depth {depth}: {body}");
        let got = rx.wait_for(depth as usize, Duration::from_secs(5)).await;
        let last = got.last().unwrap();
        assert_eq!(last.body_json()["Depth"], depth);
        correlation = last
            .header("x-ms-correlation-request-id")
            .unwrap()
            .to_string();
    }
    let (st, _, body) = s
        .send(
            s.request(Method::PATCH, &format!("accounts({a})"))
                .header("x-ms-correlation-request-id", &correlation)
                .json(&json!({"name": "9"})),
        )
        .await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(msg.contains("infinite loop"), "{msg}");
}

/// Dataverse adds `AsynchronousStepPrimaryName` (primary name, then primary
/// id) to every asynchronous step's context, with no image registered;
/// synchronous steps and Delete get none, and a step that registers an
/// image of that name gets its own.
async fn async_steps_carry_the_asynchronous_step_primary_name_image(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let async_step = register::step(&s, &hook, "Create", "contact", 40, 1, json!({})).await;
    register::step(&s, &hook, "Create", "contact", 40, 0, json!({})).await;
    let c = s
        .create(
            "contacts",
            json!({"firstname": "James", "lastname": "Glynn"}),
        )
        .await;
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    let (asynchronous, synchronous): (Vec<Value>, Vec<Value>) = got
        .iter()
        .map(|r| r.body_json())
        .partition(|b| b["OwningExtension"]["Id"] == async_step.as_str());
    assert_eq!((asynchronous.len(), synchronous.len()), (1, 1));
    assert_eq!(synchronous[0]["PostEntityImages"], json!([]));
    let images = &asynchronous[0]["PostEntityImages"];
    assert_eq!(images.as_array().map(Vec::len), Some(1), "{images}");
    assert_eq!(images[0]["key"], "AsynchronousStepPrimaryName");
    let image = &images[0]["value"];
    assert_eq!(image["LogicalName"], "contact");
    assert_eq!(image["Id"], c);
    assert_eq!(
        image["Attributes"],
        json!([
            {"key": "fullname", "value": "James Glynn"},
            {"key": "contactid", "value": c}
        ])
    );
}
