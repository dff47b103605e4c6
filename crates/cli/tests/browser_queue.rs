//! The hall's display screen in headless Chromium: a call made through the API appears
//! within a second, without reloading the page.

mod common;

use common::browser::{browser, screenshot_dir, start_driver, wait_css};
use common::{Db, TestApp};
use serde_json::json;
use std::time::{Duration, Instant};

async fn the_display_shows_a_call_within_a_second(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    let guide = app.login("guide").await;
    let clerk = app.login("clerk").await;
    let (_, t) = guide
        .post(
            &format!("/api/v1/queue/halls/{hall}/tickets"),
            json!({"class": "A", "priority": "elderly"}),
        )
        .await;
    let number = t["number"].as_str().unwrap().to_string();
    use sqlx::Row;
    let w1: i64 = sqlx::query("SELECT id FROM service_windows WHERE number = 1")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    clerk
        .post(
            &format!("/api/v1/queue/windows/{w1}/state"),
            json!({"state": "open"}),
        )
        .await;

    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.goto(&app.url(&format!("/halls/{hall}/display")))
        .await
        .unwrap();
    wait_css(&c, "#windows").await;
    // Mark this page load: a reload would lose the mark.
    c.execute("window.__loaded_once = true; return true", vec![])
        .await
        .unwrap();
    let waiting_a = c
        .find(fantoccini::Locator::Css(
            "#waiting li[data-class='A'] strong",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(waiting_a, "1");
    // The screen is live once its event stream is open.
    wait_css(&c, "body[data-live='1']").await;

    let started = Instant::now();
    let (_, called) = clerk
        .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
        .await;
    assert_eq!(called["ticket"]["number"], number);
    let expected = format!("请{number}号到1号窗口办理");
    c.wait()
        .at_most(Duration::from_secs(1))
        .for_element(fantoccini::Locator::XPath(&format!(
            "//div[@id='latest' and normalize-space(text())='{expected}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("the call did not reach the screen within a second: {e}"));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    let row = c
        .find(fantoccini::Locator::Css(
            "#windows tr[data-window='1'] .ticket-now",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(row, number);
    let waiting_a = c
        .find(fantoccini::Locator::Css(
            "#waiting li[data-class='A'] strong",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(waiting_a, "0");
    let same_page = c
        .execute("return window.__loaded_once === true", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, json!(true), "updated without a reload");
    if app.backend == Db::Sqlite {
        std::fs::write(
            screenshot_dir().join("display.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    c.close().await.unwrap();
}

on_both_backends!(the_display_shows_a_call_within_a_second);
