//! 网格事件 end to end in headless Chromium at a phone's size (390×844): the grid worker
//! reports with a camera photo (a real JPEG with GPS tags) and the browser's geolocation
//! (set through chromedriver's CDP endpoint, then 使用当前位置), and once more by picking
//! the place on the street's map; the street's dispatcher finds it on the board and
//! dispatches it to 区城市管理局; the department signs, starts and handles it with a reply
//! and an after-photo in one form; the worker confirms on the phone from 我的上报 and the
//! street closes it. The states on the pages, the public photo copy without GPS, and the
//! chain listing every act. Screenshots of the phone pages.

mod common;

use common::grid::*;

use common::browser::{
    browser, click, login, screenshot_dir, start_driver, text_of, type_into, wait_css, Driver,
};
use common::{Db, TestApp};
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(a_grid_event_goes_round_the_loop_on_a_phone);

const PHONE: (u32, u32) = (390, 844);

fn fixture() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/src/grid/fixtures/gps.jpg");
    std::fs::canonicalize(p)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Imports the demo street's grids and creates 路灯损坏 with this file's extra fields; its id.
async fn setup(app: &TestApp) -> i64 {
    import_demo_grids(app).await;
    lights_category(
        app,
        json!([{"code": "pole", "datatype": "string", "required": false,
                    "description": "灯杆编号", "order": 1}]),
    )
    .await
}

/// A browser at a phone's size.
async fn phone(driver: &Driver) -> Client {
    let c = browser(driver).await;
    c.set_window_size(PHONE.0, PHONE.1).await.unwrap();
    c
}

/// A chromedriver CDP command on `c`'s session.
async fn cdp(driver: &Driver, c: &Client, cmd: &str, params: Value) {
    let session = c.session_id().await.unwrap().expect("a session");
    let res = reqwest::Client::new()
        .post(format!("{}/session/{session}/goog/cdp/execute", driver.url))
        .json(&json!({ "cmd": cmd, "params": params }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert!(status.is_success(), "{cmd}: {}", res.text().await.unwrap());
}

/// Waits until the element's text holds `words`.
async fn wait_text(c: &Client, css: &str, words: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if t.contains(words) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {words:?}; last {last:?}")
}

/// Waits until the input at `css` has a value; the value.
async fn wait_value(c: &Client, css: &str) -> String {
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(Some(v)) = e.prop("value").await {
                if !v.is_empty() {
                    return v;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} stayed empty")
}

async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), &png).unwrap();
    let tmp = std::path::Path::new("/tmp/onewindow-grid-screens");
    std::fs::create_dir_all(tmp).unwrap();
    std::fs::write(tmp.join(format!("{name}.png")), png).unwrap();
}

/// A full-page screenshot: the window grown to the page's height for the shot.
async fn screenshot_full(c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let h = c
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(844) as u32;
    c.set_window_size(PHONE.0, h.clamp(PHONE.1, 4000) + 100)
        .await
        .unwrap();
    screenshot(c, app, name).await;
    c.set_window_size(PHONE.0, PHONE.1).await.unwrap();
}

/// Asserts the page needs no sideways scrolling at the phone's width.
async fn fits_width(c: &Client, what: &str) {
    let v = c
        .execute(
            "const d = document.documentElement; return [d.scrollWidth, d.clientWidth]",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, client) = (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
    assert!(scroll <= client, "{what}: {scroll} px wide in {client}");
}

/// The event's id from the page's address (`/grid/events/{id}…`).
async fn event_id(c: &Client) -> i64 {
    let url = c.current_url().await.unwrap();
    url.path()
        .strip_prefix("/grid/events/")
        .unwrap_or_else(|| panic!("{url}"))
        .parse()
        .unwrap()
}

/// The `data-act` of every entry of the chain, in order.
async fn chain(c: &Client) -> Vec<String> {
    let v = c
        .execute(
            "return [...document.querySelectorAll('#chain-list li')].map(l => l.dataset.act)",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Whether every image in `css` loaded (a real picture, not a broken link), within a few
/// seconds of being scrolled into view (the thumbnails load lazily).
async fn images_loaded(c: &Client, css: &str) -> bool {
    for _ in 0..50 {
        let v = c
            .execute(
                &format!(
                    "const b = document.querySelector('{css}'); if (b) b.scrollIntoView(); \
                     const i = [...document.querySelectorAll('{css} img')]; \
                     return i.length > 0 && i.every(x => x.complete && x.naturalWidth > 0)"
                ),
                vec![],
            )
            .await
            .unwrap();
        if v.as_bool().unwrap_or(false) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

async fn a_grid_event_goes_round_the_loop_on_a_phone(app: TestApp) {
    let category = setup(&app).await;
    let cg = app.org_id("dept-cg").await;
    let driver = start_driver().await;

    // 孙网格 on the phone: category, description, 使用当前位置, a camera photo.
    let g = phone(&driver).await;
    login(&g, &app, "grid").await;
    wait_css(&g, "#current-user").await;
    g.goto(&app.url("/grid/report")).await.unwrap();
    wait_css(&g, "#report-form").await;
    fits_width(&g, "the report form").await;
    screenshot_full(&g, &app, "grid-report").await;
    click(&g, &format!("input[name=category_id][value='{category}']")).await;
    wait_css(&g, &format!("input[name='attr.{category}.pole']")).await;
    type_into(&g, &format!("input[name='attr.{category}.pole']"), "YG-017").await;
    type_into(&g, "#description", "阳光小区3号楼前路灯不亮，夜里很黑").await;
    cdp(
        &driver,
        &g,
        "Browser.grantPermissions",
        json!({"origin": app.base, "permissions": ["geolocation"]}),
    )
    .await;
    cdp(
        &driver,
        &g,
        "Emulation.setGeolocationOverride",
        json!({"latitude": IN_G1.1, "longitude": IN_G1.0, "accuracy": 10}),
    )
    .await;
    click(&g, "#locate").await;
    let lon: f64 = wait_value(&g, "#lon").await.parse().unwrap();
    let lat: f64 = wait_value(&g, "#lat").await.parse().unwrap();
    assert!((lon - IN_G1.0).abs() < 1e-5 && (lat - IN_G1.1).abs() < 1e-5);
    assert!(text_of(&g, "#locate-status").await.contains("已定位"));
    type_into(&g, "#photos", &fixture()).await;
    screenshot_full(&g, &app, "grid-report-filled").await;
    click(&g, "#report-submit").await;
    wait_css(&g, "#reported-notice").await;
    let id = event_id(&g).await;
    assert!(text_of(&g, "#event-grid")
        .await
        .contains("阳光社区第一网格"));
    assert!(text_of(&g, "#event-state").await.contains("已上报"));
    assert!(images_loaded(&g, "#report-photos").await, "the thumbnail");
    let photo: i64 = g
        .find(Locator::Css("#report-photos a"))
        .await
        .unwrap()
        .attr("data-photo")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    screenshot_full(&g, &app, "grid-event-reported").await;

    // Once more, the place picked on the map (the point of 阳光社区第一网格 clicked) —
    // after a first press with nothing filled in: the errors beside their fields.
    g.goto(&app.url("/grid/report")).await.unwrap();
    wait_css(&g, "#report-form").await;
    type_into(&g, "#address", "阳光小区3号楼").await;
    click(&g, "#report-submit").await;
    wait_css(&g, "#form-errors").await;
    assert!(text_of(&g, "#category_id-error")
        .await
        .contains("请选择事件类别"));
    let kept = g
        .find(Locator::Css("#address"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("阳光小区3号楼"), "kept");
    screenshot_full(&g, &app, "grid-report-errors").await;
    click(&g, &format!("input[name=category_id][value='{category}']")).await;
    type_into(&g, "#description", "3号楼旁灯杆倾斜").await;
    let at = g
        .execute(
            "const s = document.querySelector('#pick-map svg'); s.scrollIntoView({block: 'center'}); \
             const d = s.dataset, p = s.createSVGPoint(); \
             p.x = +d.pad + (arguments[0] - d.lon0) * d.scale; p.y = +d.pad + (d.lat1 - arguments[1]) * d.scale; \
             const q = p.matrixTransform(s.getScreenCTM()); return [Math.round(q.x), Math.round(q.y)]",
            vec![json!(IN_G1.0), json!(IN_G1.1)],
        )
        .await
        .unwrap();
    let (x, y) = (at[0].as_i64().unwrap(), at[1].as_i64().unwrap());
    g.perform_actions(
        MouseActions::new("finger".into())
            .then(PointerAction::MoveTo {
                duration: None,
                x,
                y,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            }),
    )
    .await
    .unwrap();
    let lon: f64 = wait_value(&g, "#lon").await.parse().unwrap();
    let lat: f64 = wait_value(&g, "#lat").await.parse().unwrap();
    // One screen pixel of the map is a few metres.
    assert!(
        (lon - IN_G1.0).abs() < 3e-4 && (lat - IN_G1.1).abs() < 3e-4,
        "{lon},{lat}"
    );
    assert!(text_of(&g, "#locate-status")
        .await
        .contains("已在地图上选点"));
    wait_css(&g, "#pick").await;
    screenshot_full(&g, &app, "grid-report-map-pick").await;
    click(&g, "#report-submit").await;
    wait_css(&g, "#reported-notice").await;
    let picked = event_id(&g).await;
    assert_ne!(picked, id);
    assert!(text_of(&g, "#event-grid")
        .await
        .contains("阳光社区第一网格"));

    // The street's dispatcher: the board, then one action.
    let d = browser(&driver).await;
    login(&d, &app, "dispatcher").await;
    wait_css(&d, "#current-user").await;
    d.goto(&app.url("/grid")).await.unwrap();
    wait_css(&d, "#grid-map").await;
    d.find(Locator::Css(&format!("table a[href='/grid/events/{id}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css(&d, "#act-dispatch").await;
    click(&d, &format!("#department option[value='{cg}']")).await;
    click(&d, "#dispatch-submit").await;
    wait_text(&d, "#event-state", "已派单").await;
    assert!(text_of(&d, "#event-department")
        .await
        .contains("区城市管理局"));

    // 区城市管理局: sign, start, handle with the reply and an after-photo at once.
    let h = phone(&driver).await;
    login(&h, &app, "handler").await;
    wait_css(&h, "#current-user").await;
    h.goto(&app.url(&format!("/grid/events/{id}")))
        .await
        .unwrap();
    click(&h, "#sign-submit").await;
    wait_text(&h, "#event-state", "已签收").await;
    click(&h, "#start-submit").await;
    wait_text(&h, "#event-state", "处置中").await;
    type_into(&h, "#reply", "已更换灯泡，恢复照明").await;
    type_into(&h, "#after-photos-input", &fixture()).await;
    fits_width(&h, "the handling form").await;
    screenshot_full(&h, &app, "grid-event-handle").await;
    click(&h, "#handle-submit").await;
    wait_text(&h, "#event-state", "已处置待确认").await;
    assert!(images_loaded(&h, "#after-photos").await);

    // 孙网格 confirms from 我的上报 on the phone.
    g.goto(&app.url("/grid/mine")).await.unwrap();
    wait_css(&g, "#waiting-list").await;
    assert!(text_of(&g, "#waiting-list")
        .await
        .contains(&format!("事件{id}")));
    assert!(text_of(&g, "#mine-list")
        .await
        .contains(&format!("事件{picked}")));
    fits_width(&g, "my reports").await;
    screenshot_full(&g, &app, "grid-mine").await;
    click(&g, &format!("#waiting-list a[href='/grid/events/{id}']")).await;
    wait_css(&g, "#confirm-submit").await;
    assert!(images_loaded(&g, "#report-photos").await && images_loaded(&g, "#after-photos").await);
    fits_width(&g, "the event page").await;
    screenshot_full(&g, &app, "grid-event-confirm").await;
    click(&g, "#confirm-submit").await;
    wait_text(&g, "#event-state", "已确认").await;
    // Large text on the phone: the report form still fits.
    g.goto(&app.url("/grid/report")).await.unwrap();
    click(&g, "#large-text-toggle").await;
    for _ in 0..50 {
        if common::browser::html_class(&g).await.contains("large-text") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    wait_css(&g, "#report-form").await;
    fits_width(&g, "the report form in large text").await;
    screenshot_full(&g, &app, "grid-report-large-text").await;

    // The street closes it; the chain lists every act.
    d.goto(&app.url(&format!("/grid/events/{id}")))
        .await
        .unwrap();
    click(&d, "#close-submit").await;
    wait_text(&d, "#event-state", "已办结").await;
    assert_eq!(
        chain(&d).await,
        ["report", "dispatch", "sign", "start", "handle", "confirm", "close"]
    );
    let text = text_of(&d, "#chain-list").await;
    assert!(
        text.contains("已更换灯泡，恢复照明") && text.contains("grid"),
        "{text}"
    );

    // The public copy of the reported photo carries no GPS.
    let res = reqwest::get(app.url(&format!("/grid/photos/{photo}")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert!(!has_gps_tag(&bytes), "GPS stripped from the public copy");
    assert!(
        has_gps_tag(&std::fs::read(fixture()).unwrap()),
        "the fixture had it"
    );
    for c in [g, d, h] {
        c.close().await.unwrap();
    }
}
