//! Ticket and case at the window in headless Chromium: the clerk serves a ticket, a case
//! taken in meanwhile shows as linked to it without retyping its number, handing the
//! result over and 办结 each say what happened (naming the case and the ticket), and the
//! case page lists the visit.

mod common;

use common::browser::{browser, login, start_driver, wait_css};
use common::TestApp;
use fantoccini::Locator;
use serde_json::{json, Value};

/// Signs in and waits for the workbench, so the next page is asked with the session.
async fn sign_in(c: &fantoccini::Client, app: &TestApp, username: &str) {
    login(c, app, username).await;
    wait_css(c, "h1.workbench-title").await;
}

/// The text of `css`, found again when the page was replaced between finding and reading
/// it (a form's redirect landing: the element found was the old page's).
async fn text(c: &fantoccini::Client, css: &str) -> String {
    for _ in 0..50 {
        match wait_css(c, css).await.text().await {
            Ok(t) => return t,
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("{css} kept going stale")
}

async fn the_window_links_the_case_and_confirms_every_step(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    let guide = app.login("guide").await;
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let (_, t) = guide
        .post(
            &format!("/api/v1/queue/halls/{hall}/tickets"),
            json!({"class": "C"}),
        )
        .await;
    let number = t["number"].as_str().unwrap().to_string();

    let driver = start_driver().await;
    let c = browser(&driver).await;
    sign_in(&c, &app, "clerk").await;
    // The window list says which queues each window serves.
    c.goto(&app.url("/counter")).await.unwrap();
    let serves = text(&c, "tr[data-window='4'] .window-serves").await;
    assert_eq!(serves, "C 民政救济与残疾人保障");
    wait_css(&c, "#window-4").await.click().await.unwrap();
    wait_css(&c, "#op-open").await.click().await.unwrap();
    assert_eq!(text(&c, "#window-notice").await, "4号窗口已开窗");
    wait_css(&c, "#op-call").await.click().await.unwrap();
    assert_eq!(text(&c, "#current-number").await, number);
    wait_css(&c, "#op-start").await.click().await.unwrap();
    assert_eq!(
        text(&c, "#window-notice").await,
        format!("{number} 开始办理")
    );

    // The same clerk takes an application in while serving (here through the API).
    let item: Value = app
        .browser()
        .get(app.url("/api/v1/catalog/items/MZ-0104"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let materials: serde_json::Map<String, Value> = item["item"]["materials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["required"] == true)
        .map(|m| (m["name"].as_str().unwrap().to_string(), json!("submitted")))
        .collect();
    let (_, case) = clerk
        .post(
            "/api/v1/cases",
            json!({"item_code": "MZ-0104", "applicant_kind": "person", "applicant_name": "张三",
                   "applicant_id": "11010519491231002X", "applicant_phone": "13800138000",
                   "materials": materials}),
        )
        .await;
    let case_no = case["case_no"].as_str().unwrap().to_string();
    let mut case = case;
    for action in [
        json!({"action": "take"}),
        json!({"action": "approve", "opinion": "同意"}),
        json!({"action": "result_ready"}),
    ] {
        let mut body = action;
        body["version"] = case["version"].clone();
        let (_, after) = approver
            .post(&format!("/api/v1/cases/{}/actions", case["id"]), body)
            .await;
        case = after;
    }
    assert_eq!(case["state"], "result_ready");

    // The window shows the case linked to the ticket: nothing to retype.
    c.refresh().await.unwrap();
    assert!(
        text(&c, "#linked-cases").await.contains(&case_no),
        "the case taken in shows as linked"
    );
    // Hand the result over on the case page: the page says what happened.
    c.goto(&app.url(&format!("/cases/{}", case["id"])))
        .await
        .unwrap();
    wait_css(&c, "#do-issue").await.click().await.unwrap();
    assert_eq!(
        text(&c, "#case-done").await,
        format!("出件：办件 {case_no}，现为“已出件”")
    );
    // 办结 at the window names the ticket and the case the visit is recorded for.
    c.goto(&app.url("/counter")).await.unwrap();
    wait_css(&c, "#window-4").await.click().await.unwrap();
    wait_css(&c, "#op-finish").await.click().await.unwrap();
    assert_eq!(
        text(&c, "#window-notice").await,
        format!("{number} 已办结，已记录到场：办件 {case_no}")
    );
    // The case page lists the visit: when, how, where.
    c.goto(&app.url(&format!("/cases/{}", case["id"])))
        .await
        .unwrap();
    let row = text(&c, "#case-visits tbody tr").await;
    assert!(row.contains(&format!("取号办理（{number}号）")), "{row}");
    assert!(row.contains("幸福街道便民服务中心 4号窗口"), "{row}");
    assert!(
        c.find_all(Locator::Css("#case-visits tbody tr"))
            .await
            .unwrap()
            .len()
            == 1
    );
    c.close().await.unwrap();
}

async fn a_community_clerk_without_windows_is_told_why(app: TestApp) {
    let driver = start_driver().await;
    let c = browser(&driver).await;
    sign_in(&c, &app, "clerk-yangguang").await;
    c.goto(&app.url("/counter")).await.unwrap();
    let why = text(&c, "#no-windows").await;
    assert!(why.contains("阳光社区没有叫号窗口"), "{why}");
    assert!(why.contains("联系系统管理员"), "{why}");
    c.close().await.unwrap();
}

on_both_backends!(
    the_window_links_the_case_and_confirms_every_step,
    a_community_clerk_without_windows_is_told_why,
);
