//! The December block as people meet it, in headless Chromium: in December 2026, with
//! 2027's arrangement not loaded, a 25-working-day case was taken in; the clerk's case page
//! says 待定（日历未发布） with no light; the administrator's workbench says a case waits for
//! 2027 and leads to the calendar page, where the pasted arrangement is previewed date by
//! date and confirmed; the case page then shows the computed date.

mod common;

use common::browser::{browser, login, screenshot_dir, start_driver, wait_css};
use common::{Db, TestApp};
use fantoccini::{Client, Locator};
use serde_json::json;
use std::time::Duration;

/// Shaped like a notice, NOT the real 2027 arrangement.
const NOTICE_2027: &str = include_str!("data/test-calendar-2027.csv");
const PENDING: &str = "待定（日历未发布）";

async fn text_of(c: &Client, css: &str) -> String {
    wait_css(c, css).await.text().await.unwrap()
}

/// Waits until the element matching `css` contains `needle`.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            let t = e.text().await.unwrap_or_default();
            if t.contains(needle) {
                return t;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {needle:?}");
}

async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if app.backend == Db::Sqlite {
        let png = c.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }
}

async fn the_december_block_from_intake_to_import(app: TestApp) {
    app.clock.advance_secs(8 * 86400); // Tuesday 2026-12-01
    let api = app.login("clerk").await;
    let (_, item) = api.get("/api/v1/catalog/items/MZ-0102").await;
    let mut materials = serde_json::Map::new();
    for m in item["item"]["materials"].as_array().unwrap() {
        materials.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
    }
    let (s, case) = api
        .post(
            "/api/v1/cases",
            json!({"item_code": "MZ-0102", "applicant_kind": "person", "applicant_name": "王五",
                   "applicant_id": "11010519491231002X", "applicant_phone": "13800138000",
                   "materials": materials}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{case}");
    let id = case["id"].as_i64().unwrap();

    let driver = start_driver().await;
    let clerk = browser(&driver).await;
    login(&clerk, &app, "clerk").await;
    wait_css(&clerk, "h1.workbench-title").await;
    clerk.goto(&app.url(&format!("/cases/{id}"))).await.unwrap();
    assert_eq!(text_of(&clerk, "#due-date").await, PENDING);
    assert!(clerk
        .find_all(Locator::Css("#due-date .light, .light-red, .light-yellow"))
        .await
        .unwrap()
        .is_empty());
    screenshot(&clerk, &app, "case-deadline-pending").await;

    let admin = browser(&driver).await;
    login(&admin, &app, "admin").await;
    let warning = text_of(&admin, "#calendar-warning").await;
    assert!(warning.contains("1件办件等待2027年节假日安排"), "{warning}");
    admin
        .find(Locator::Css("#calendar-warning a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let pending = text_of(&admin, "#calendar-pending").await;
    assert!(pending.contains("2027年"), "{pending}");
    let field = wait_css(&admin, "#csv").await;
    field.clear().await.unwrap();
    field.send_keys(NOTICE_2027).await.unwrap();
    admin
        .find(Locator::Css("#calendar-preview-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let preview = wait_text(&admin, "#calendar-preview", "2027年（新增年份）").await;
    assert!(
        preview.contains("导入后将确定1件待定办件的承诺办结日期"),
        "{preview}"
    );
    // Date by date, from what to what: the make-up Sunday starts being a working day.
    let row = admin
        .find(Locator::XPath(
            "//section[@id='calendar-preview']//tr[td[1][normalize-space()='2027-02-14']]",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("星期日")
            && row.contains("未导入（不计算时限）")
            && row.contains("调休上班（春节）")
            && row.contains("开始计算：工作日"),
        "{row}"
    );
    screenshot(&admin, &app, "calendar-preview-2027").await;
    admin
        .find(Locator::Css("#calendar-confirm"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let done = wait_text(&admin, "#calendar-imported", "已导入2027年").await;
    assert!(done.contains("确定了1件待定办件的承诺办结日期"), "{done}");
    assert!(admin
        .find_all(Locator::Css("#calendar-pending"))
        .await
        .unwrap()
        .is_empty());

    let (_, due) = api.get("/api/v1/calendar/due?date=2026-12-01&n=25").await;
    let due = due["due"].as_str().unwrap();
    clerk.refresh().await.unwrap();
    let shown = wait_text(&clerk, "#due-date", due).await;
    assert!(!shown.contains(PENDING), "{shown}");
    admin.close().await.unwrap();
    clerk.close().await.unwrap();
}

on_both_backends!(the_december_block_from_intake_to_import);
