//! What a person notices, in headless Chromium (issue 10, item 9): the large-text switch
//! keeps a half-filled intake form and a tracking result where they are; in large text
//! the radio buttons grow; on a 375 px phone the materials table keeps readable columns
//! and the page does not spill sideways; an error page wears the site's layout and
//! 返回上一页 goes back; a form that comes back with errors puts the focus on them.

mod common;

use common::browser::{browser, html_class, login, screenshot_dir, start_driver, wait_css};
use common::{Db, TestApp};
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn number(c: &Client, script: &str) -> f64 {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
        .as_f64()
        .unwrap_or_else(|| panic!("{script}: not a number"))
}

async fn value_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn switch_to_large_text(c: &Client) {
    click(c, "#large-text-toggle").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "html.large-text #large-text-toggle[aria-pressed='true']",
        ))
        .await
        .expect("the page turns to large text");
}

fn shot(app: &TestApp, c_png: Vec<u8>, name: &str) {
    if app.backend == Db::Sqlite {
        std::fs::write(screenshot_dir().join(name), c_png).unwrap();
    }
}

/// A case taken in through the API (every required material of MZ-0101): number and code.
async fn a_case(app: &TestApp) -> (String, String) {
    let clerk = app.login("clerk").await;
    let (_, item) = clerk.get("/api/v1/catalog/items/MZ-0101").await;
    let mut materials = serde_json::Map::new();
    for m in item["item"]["materials"].as_array().unwrap() {
        if m["required"] == true {
            materials.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
        }
    }
    let (s, case) = clerk
        .post(
            "/api/v1/cases",
            json!({
                "item_code": "MZ-0101",
                "applicant_kind": "person",
                "applicant_name": "张桂芬",
                "applicant_id": "11010519491231002X",
                "applicant_phone": "13800138000",
                "materials": materials,
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    (
        case["case_no"].as_str().unwrap().to_string(),
        case["query_code"].as_str().unwrap().to_string(),
    )
}

async fn large_text_keeps_the_intake_form_and_grows_the_radios(app: TestApp) {
    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "clerk").await;
    wait_css(&c, "h1.workbench-title").await;
    c.goto(&app.url("/window/intake?item=MZ-0101"))
        .await
        .unwrap();
    wait_css(&c, "#intake-form").await;
    let radio_before = number(
        &c,
        "return document.querySelector('.materials-check input[type=radio]').getBoundingClientRect().width",
    )
    .await;
    wait_css(&c, "#applicant_name")
        .await
        .send_keys("张桂芬")
        .await
        .unwrap();
    click(&c, "input[name=applicant_kind][value=company]").await;
    switch_to_large_text(&c).await;
    // Still the same page with what was typed: no navigation happened.
    assert_eq!(value_of(&c, "#applicant_name").await, "张桂芬");
    assert!(c
        .find(Locator::Css("input[name=applicant_kind][value=company]"))
        .await
        .unwrap()
        .prop("checked")
        .await
        .unwrap()
        .is_some_and(|v| v == "true"));
    let url = c.current_url().await.unwrap();
    assert_eq!(
        (url.path(), url.query()),
        ("/window/intake", Some("item=MZ-0101"))
    );
    assert!(!html_class(&c).await.is_empty());
    assert!(c.find(Locator::Css("#error-page")).await.is_err());
    // The radio buttons grow with the text: no longer the browser's 13 px.
    let radio_after = number(
        &c,
        "return document.querySelector('.materials-check input[type=radio]').getBoundingClientRect().width",
    )
    .await;
    let font = number(
        &c,
        "return parseFloat(getComputedStyle(document.documentElement).fontSize)",
    )
    .await;
    assert!(font >= 20.0, "large text: {font}px");
    assert!(
        radio_after >= 20.0 && radio_after > radio_before,
        "radio {radio_before}px → {radio_after}px"
    );
    let check = number(
        &c,
        "var c = document.querySelector('input[type=checkbox]'); return c ? c.getBoundingClientRect().width : 99",
    )
    .await;
    assert!(check >= 20.0, "check box {check}px");
    shot(&app, c.screenshot().await.unwrap(), "intake-large-text.png");
    // The choice is kept: another page is large too.
    c.goto(&app.url("/home")).await.unwrap();
    wait_css(&c, "html.large-text h1.workbench-title").await;
    c.close().await.unwrap();
}

async fn large_text_keeps_the_tracking_result(app: TestApp) {
    let (case_no, code) = a_case(&app).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.goto(&app.url("/track")).await.unwrap();
    wait_css(&c, "#case_no")
        .await
        .send_keys(&case_no)
        .await
        .unwrap();
    c.find(Locator::Css("#code"))
        .await
        .unwrap()
        .send_keys(&code)
        .await
        .unwrap();
    click(&c, "#track-submit").await;
    let state = wait_css(&c, "#track-result #track-state")
        .await
        .text()
        .await
        .unwrap();
    switch_to_large_text(&c).await;
    assert_eq!(
        wait_css(&c, "#track-result #track-state")
            .await
            .text()
            .await
            .unwrap(),
        state,
        "the result stays on the screen"
    );
    let url = c.current_url().await.unwrap();
    assert!(url.query().unwrap_or("").contains(&case_no), "{url}");
    // Back to the standard size the same way.
    click(&c, "#large-text-toggle").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("html:not(.large-text) #track-result"))
        .await
        .unwrap();
    c.close().await.unwrap();
}

async fn on_a_phone_the_materials_table_stays_readable(app: TestApp) {
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.set_window_size(375, 812).await.unwrap();
    c.goto(&app.url("/guide/items/MZ-0101")).await.unwrap();
    wait_css(&c, "table.materials").await;
    switch_to_large_text(&c).await;
    let width = number(&c, "return window.innerWidth").await;
    assert!(width <= 400.0, "a phone-sized window: {width}px");
    // Every column is at least a few characters wide, the name and the requirements
    // wide enough for a phrase.
    let narrowest_chars = number(
        &c,
        "var t = document.querySelector('table.materials'); var f = parseFloat(getComputedStyle(t.querySelector('td')).fontSize);\
         return Math.min.apply(null, Array.from(t.querySelectorAll('tbody tr:first-child td')).map(function (td) { return td.getBoundingClientRect().width / f; }));",
    )
    .await;
    assert!(
        narrowest_chars >= 3.0,
        "narrowest column: {narrowest_chars} characters"
    );
    let name_chars = number(
        &c,
        "var td = document.querySelector('table.materials tbody td:nth-child(2)'); return td.getBoundingClientRect().width / parseFloat(getComputedStyle(td).fontSize)",
    )
    .await;
    assert!(
        name_chars >= 8.0,
        "the material's name: {name_chars} characters"
    );
    // The table scrolls inside itself; the page does not spill sideways.
    let spill = number(
        &c,
        "return document.documentElement.scrollWidth - window.innerWidth",
    )
    .await;
    assert!(spill <= 1.0, "page wider than the screen by {spill}px");
    shot(
        &app,
        c.screenshot().await.unwrap(),
        "guide-phone-large-text.png",
    );
    c.close().await.unwrap();
}

async fn error_pages_wear_the_layout_and_lead_back(app: TestApp) {
    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "clerk").await;
    wait_css(&c, "h1.workbench-title").await;
    c.goto(&app.url("/admin/users")).await.unwrap();
    let heading = wait_css(&c, "#error-page h1").await.text().await.unwrap();
    assert!(
        heading.chars().all(|ch| !ch.is_ascii_alphanumeric()),
        "{heading}"
    );
    let main = c
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !main.contains("forbidden") && !main.contains("403"),
        "{main}"
    );
    // The site's header and navigation, so the clerk is still at home.
    wait_css(&c, ".site-nav a[href='/window']").await;
    wait_css(&c, "#current-user").await;
    shot(&app, c.screenshot().await.unwrap(), "error-403.png");
    click(&c, "#error-back").await;
    c.wait()
        .at_most(WAIT)
        .for_url(app.url("/home").parse().unwrap())
        .await
        .expect("返回上一页 goes back to the workbench");
    c.close().await.unwrap();
}

async fn a_form_with_errors_takes_the_focus_to_them(app: TestApp) {
    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "clerk").await;
    wait_css(&c, "h1.workbench-title").await;
    c.goto(&app.url("/account/password")).await.unwrap();
    wait_css(&c, "#current_password")
        .await
        .send_keys("not-the-password")
        .await
        .unwrap();
    for id in ["#new_password", "#confirm_password"] {
        c.find(Locator::Css(id))
            .await
            .unwrap()
            .send_keys("a-new-Passw0rd")
            .await
            .unwrap();
    }
    click(&c, "button[type=submit].button").await;
    let summary = wait_css(&c, "#form-errors[role='alert']").await;
    assert!(!summary.text().await.unwrap().is_empty());
    let focused = c
        .execute("return document.activeElement.id", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "form-errors");
    c.close().await.unwrap();
}

on_both_backends!(
    large_text_keeps_the_intake_form_and_grows_the_radios,
    large_text_keeps_the_tracking_result,
    on_a_phone_the_materials_table_stays_readable,
    error_pages_wear_the_layout_and_lead_back,
    a_form_with_errors_takes_the_focus_to_them,
);
