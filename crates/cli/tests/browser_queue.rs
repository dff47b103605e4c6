//! The queue in headless Chromium: the display screen shows a call within a second without
//! reloading, fits every window of the hall at 1920×1080 and restyles a window opened after
//! it loaded; a resident books a weekend slot by choosing the date and gets that date; the
//! kiosk shows no staff link and returns to its start after a ticket.

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
            "#windows [data-window='1'] .ticket-now",
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

on_both_backends!(
    the_display_shows_a_call_within_a_second,
    the_display_fits_every_window_and_follows_their_state,
    a_resident_books_a_weekend_slot_by_choosing_the_date,
    the_kiosk_returns_to_its_start_without_staff_links,
);

/// Every window element of the display lies inside the viewport (and is drawn): the number
/// of windows, or a description of the first that does not fit.
async fn windows_on_screen(c: &fantoccini::Client) -> Result<u64, String> {
    let r = c
        .execute(
            "var h = window.innerHeight, w = window.innerWidth, bad = null, n = 0;
             document.querySelectorAll('#windows [data-window]').forEach(function (el) {
               n++;
               var r = el.getBoundingClientRect();
               var t = el.querySelector('.ticket-now').getBoundingClientRect();
               if (!bad && (r.height < 20 || r.bottom > h || r.right > w || t.bottom > r.bottom + 1))
                 bad = el.getAttribute('data-window') + ': ' + JSON.stringify(r) + ' in ' + w + 'x' + h;
             });
             return bad === null ? n : bad;",
            vec![],
        )
        .await
        .unwrap();
    r.as_u64().ok_or_else(|| r.to_string())
}

async fn color_of(c: &fantoccini::Client, css: &str) -> String {
    c.execute(
        "return getComputedStyle(document.querySelector(arguments[0])).color",
        vec![json!(css)],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap()
    .to_string()
}

async fn the_display_fits_every_window_and_follows_their_state(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.set_window_size(1920, 1080).await.unwrap();
    c.goto(&app.url(&format!("/halls/{hall}/display")))
        .await
        .unwrap();
    wait_css(&c, "body[data-live='1']").await;
    let inner = c
        .execute("return [window.innerWidth, window.innerHeight]", vec![])
        .await
        .unwrap();
    assert!(
        inner[1].as_u64().unwrap() >= 900,
        "a full-HD screen: {inner}"
    );
    assert_eq!(
        windows_on_screen(&c).await,
        Ok(8),
        "all eight windows on screen"
    );
    // Window 1 is closed: grey. Opened after the page loaded, it takes the open style.
    let grey = color_of(&c, "#windows [data-window='1'] .ticket-now").await;
    assert_eq!(grey, "rgb(170, 170, 170)");
    let clerk = app.login("clerk").await;
    use sqlx::Row;
    let w1: i64 = sqlx::query("SELECT id FROM service_windows WHERE number = 1")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let (s, _) = clerk
        .post(
            &format!("/api/v1/queue/windows/{w1}/state"),
            json!({"state": "open"}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK);
    wait_css(&c, "#windows [data-window='1'].state-open").await;
    let open = color_of(&c, "#windows [data-window='1'] .ticket-now").await;
    assert_ne!(open, grey, "no longer grey without a reload");
    let text = c
        .find(fantoccini::Locator::Css(
            "#windows [data-window='1'] .ticket-now",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "—");
    if app.backend == Db::Sqlite {
        std::fs::write(
            screenshot_dir().join("display-8-windows.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    // A bigger hall: twelve windows still fit one screen.
    for n in 9..=12 {
        sqlx::query("INSERT INTO service_windows (hall_id, number, name, classes, state, updated_at) VALUES ($1, $2, '综合窗口', '[\"F\"]', 'open', 0)")
            .bind(hall)
            .bind(n)
            .execute(app.store.reader())
            .await
            .unwrap();
    }
    c.refresh().await.unwrap();
    wait_css(&c, "#windows[data-count='12']").await;
    assert_eq!(windows_on_screen(&c).await, Ok(12));
    c.close().await.unwrap();
}

async fn a_resident_books_a_weekend_slot_by_choosing_the_date(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.goto(&app.url(&format!("/halls/{hall}/book")))
        .await
        .unwrap();
    // Today (Monday) is shown first; the resident picks Saturday (周末不打烊).
    let shown = wait_css(&c, "#slot-day").await.text().await.unwrap();
    assert_eq!(shown, "11月23日 星期一");
    wait_css(&c, "#days a[data-date='2026-11-28']")
        .await
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(fantoccini::Locator::XPath(
            "//strong[@id='slot-day' and text()='11月28日 星期六']",
        ))
        .await
        .expect("the slots follow the chosen date");
    wait_css(&c, "input[name='slot_id'][data-start='09:00']")
        .await
        .click()
        .await
        .unwrap();
    for (field, value) in [
        ("#name", "王奶奶"),
        ("#id_number", "11010519491231002X"),
        ("#phone", "13800138000"),
    ] {
        c.find(fantoccini::Locator::Css(field))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    c.find(fantoccini::Locator::Css("#book-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let when = wait_css(&c, "#booked-when").await.text().await.unwrap();
    assert_eq!(when, "11月28日 星期六 09:00", "the date chosen, in words");
    use sqlx::Row;
    let (day, start): (String, String) = {
        let r = sqlx::query("SELECT day, start_time FROM appointments")
            .fetch_one(app.store.reader())
            .await
            .unwrap();
        (r.get("day"), r.get("start_time"))
    };
    assert_eq!((day.as_str(), start.as_str()), ("2026-11-28", "09:00"));
    if app.backend == Db::Sqlite {
        std::fs::write(
            screenshot_dir().join("booked-saturday.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    c.close().await.unwrap();
}

async fn the_kiosk_returns_to_its_start_without_staff_links(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    let admin = app.login("admin").await;
    let (s, _) = admin
        .put(
            "/api/v1/settings/queue.kiosk_reset_seconds",
            json!({"value": 3}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK);
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.goto(&app.url(&format!("/halls/{hall}/kiosk")))
        .await
        .unwrap();
    let staff_links = "a[href='/login'], #login-link, a[href='/home']";
    wait_css(&c, "#kiosk-A").await.click().await.unwrap();
    let number = wait_css(&c, "#ticket-number").await.text().await.unwrap();
    assert_eq!(number, "A001");
    assert!(
        c.find_all(fantoccini::Locator::Css(staff_links))
            .await
            .unwrap()
            .is_empty(),
        "no staff links on the kiosk's slip"
    );
    // The next person finds the start page, not the last ticket.
    let started = Instant::now();
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(fantoccini::Locator::Css("#kiosk-A"))
        .await
        .expect("the kiosk returns to its start");
    assert!(started.elapsed() >= Duration::from_secs(1), "not at once");
    assert!(c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with(&format!("/halls/{hall}/kiosk")));
    assert!(c
        .find_all(fantoccini::Locator::Css(staff_links))
        .await
        .unwrap()
        .is_empty());
    assert!(c
        .find_all(fantoccini::Locator::Css("#ticket-number"))
        .await
        .unwrap()
        .is_empty());
    c.close().await.unwrap();
}
