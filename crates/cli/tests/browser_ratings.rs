//! 好差评 end to end in headless Chromium: the supervisor pairs a tablet with window 4;
//! the clerk finishes a ticket at the window page and the tablet shows the prompt; the
//! resident taps 非常不满意; the hall's supervisor finds the rectification in the inbox,
//! verifies, rectifies and sends the SMS callback link; the rater rates the rectification
//! from that link; the supervisor's figures move.

mod common;

use common::browser::{browser, login, screenshot_dir, start_driver, wait_css};
use common::{Db, TestApp};
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use sqlx::Row;

on_both_backends!(a_bad_rating_goes_round_the_whole_loop);

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// The hall row's rectification rate on the supervisor's overview.
async fn hall_rect_rate(c: &Client, app: &TestApp) -> String {
    let hall = app.org_id("xingfu-hall").await;
    c.goto(&app.url("/ratings?dim=hall")).await.unwrap();
    wait_css(c, "#rating-figures").await;
    text_of(
        c,
        &format!("#rating-figures tr[data-id='{hall}'] .rect-rate"),
    )
    .await
}

async fn a_bad_rating_goes_round_the_whole_loop(app: TestApp) {
    let driver = start_driver().await;
    let w: i64 = sqlx::query("SELECT id FROM service_windows WHERE number = 4")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");

    // The supervisor pairs the tablet on the devices page.
    let sup = browser(&driver).await;
    login(&sup, &app, "supervisor").await;
    wait_css(&sup, "#current-user").await;
    sup.goto(&app.url("/ratings/devices")).await.unwrap();
    wait_css(&sup, "#window_id").await;
    sup.find(Locator::Css(&format!("#window_id option[value='{w}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&sup, "#pair-submit").await;
    wait_css(&sup, "#device-url").await;
    let url = text_of(&sup, "#device-url").await;
    let device_path = &url[url.find("/device/rating/").unwrap()..];

    // The tablet waits on its idle screen.
    let tablet = browser(&driver).await;
    tablet.set_window_size(1024, 768).await.unwrap();
    tablet.goto(&app.url(device_path)).await.unwrap();
    wait_css(&tablet, "#device-idle").await;
    screenshot(&tablet, &app, "rating-device-idle").await;

    // A ticket is called to window 4 and the clerk takes in a case while serving it (the
    // case links to the ticket, so the rater can be called back).
    let clerk_api = app.login("clerk").await;
    let guide = app.login("guide").await;
    let (_, _) = clerk_api
        .post(
            &format!("/api/v1/queue/windows/{w}/state"),
            json!({"state": "open"}),
        )
        .await;
    let hall = app.org_id("xingfu-hall").await;
    let (_, t) = guide
        .post(
            &format!("/api/v1/queue/halls/{hall}/tickets"),
            json!({"class": "C"}),
        )
        .await;
    let (_, called) = clerk_api
        .post(&format!("/api/v1/queue/windows/{w}/call-next"), json!({}))
        .await;
    assert_eq!(called["ticket"]["id"], t["id"]);
    let (_, _) = clerk_api
        .post(
            &format!("/api/v1/queue/tickets/{}/actions", t["id"]),
            json!({"action": "start_service"}),
        )
        .await;
    let item: Value = app
        .browser()
        .get(app.url("/api/v1/catalog/items/MZ-0104"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut materials = serde_json::Map::new();
    for m in item["item"]["materials"].as_array().unwrap() {
        if m["required"] == true {
            materials.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
        }
    }
    let (s, case) = clerk_api
        .post(
            "/api/v1/cases",
            json!({"item_code": "MZ-0104", "applicant_kind": "person", "applicant_name": "李四",
                   "applicant_id": "11010519491231002X", "applicant_phone": "13900139000",
                   "materials": materials}),
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{case}");

    // Before: nothing to rectify at the hall.
    let before = {
        sup.goto(&app.url("/ratings?dim=hall")).await.unwrap();
        wait_css(&sup, "h1").await;
        sup.find_all(Locator::Css(&format!(
            "#rating-figures tr[data-id='{hall}']"
        )))
        .await
        .unwrap()
        .len()
    };
    assert_eq!(before, 0, "no ratings at the hall yet");

    // The clerk finishes on the window page (办结).
    let clerk = browser(&driver).await;
    login(&clerk, &app, "clerk").await;
    wait_css(&clerk, "#current-user").await;
    clerk
        .goto(&app.url(&format!("/counter/{w}")))
        .await
        .unwrap();
    wait_css(&clerk, "#op-finish").await;
    click(&clerk, "#op-finish").await;
    wait_css(&clerk, "h1").await;

    // The tablet shows the prompt by itself (it looks again every 3 s); one tap.
    let prompt = tablet
        .wait()
        .at_most(std::time::Duration::from_secs(20))
        .for_element(Locator::Css("#device-prompt"))
        .await
        .expect("the prompt after the finish");
    assert!(prompt
        .text()
        .await
        .unwrap()
        .contains(t["number"].as_str().unwrap()));
    screenshot(&tablet, &app, "rating-device-prompt").await;
    click(&tablet, "#level-very_dissatisfied").await;
    wait_css(&tablet, "#device-thanks").await;
    screenshot(&tablet, &app, "rating-device-thanks").await;

    // The hall's supervisor: the inbox holds the rectification.
    sup.goto(&app.url("/inbox")).await.unwrap();
    wait_css(&sup, "#inbox").await;
    sup.find(Locator::XPath(
        "//table[@id='inbox']//a[contains(@href, '/ratings/rectifications/')]",
    ))
    .await
    .expect("a notice about the rectification")
    .click()
    .await
    .unwrap();
    wait_css(&sup, "#verify-form").await;
    assert!(text_of(&sup, "#rect-rating").await.contains("非常不满意"));
    screenshot(&sup, &app, "rectification-verify").await;
    // Verify: true, 限期整改, with the evidence.
    click(&sup, "#founded-yes").await;
    click(&sup, "#remedy-by_deadline").await;
    type_into(&sup, "#evidence", "调取录像核实，窗口解释不耐心，情况属实").await;
    click(&sup, "#verify-submit").await;
    wait_css(&sup, "#rectify-form").await;
    assert!(text_of(&sup, "#rect-state").await.contains("整改中"));
    type_into(&sup, "#done", "已对窗口人员批评教育并组织服务规范培训").await;
    click(&sup, "#rectify-submit").await;
    wait_css(&sup, "#sms-link").await;
    click(&sup, "#sms-link").await;
    wait_css(&sup, "#rect-steps").await;
    assert!(text_of(&sup, "#rect-steps")
        .await
        .contains("已发送短信回访链接"));

    // The rater opens the link from the SMS and rates the rectification.
    let msg: String = sqlx::query(
        "SELECT message FROM outbox_messages WHERE phone = '13900139000' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("message");
    let link = &msg[msg.find("/hf/").expect("the callback link")..];
    let phone = browser(&driver).await;
    phone.set_window_size(390, 844).await.unwrap();
    phone.goto(&app.url(link)).await.unwrap();
    wait_css(&phone, "#callback-form").await;
    assert!(text_of(&phone, "#callback-remedy").await.contains("培训"));
    click(&phone, "#callback-satisfied").await;
    screenshot(&phone, &app, "rating-callback-phone").await;
    click(&phone, "#callback-submit").await;
    wait_css(&phone, "#callback-done").await;

    // The supervisor's figures: the bad rating is rectified — 100%.
    assert_eq!(hall_rect_rate(&sup, &app).await, "100.0%");
    screenshot(&sup, &app, "ratings-overview").await;
    for c in [sup, tablet, clerk, phone] {
        c.close().await.unwrap();
    }
}
