//! Real pages in headless Chromium through chromedriver: every demo role logs in and sees
//! its workbench; large-text mode switches on and stays on; the login form works by keyboard.

mod common;

use common::browser::{browser, html_class, login, screenshot_dir, start_driver, wait_css};
use common::{Db, TestApp};
use fantoccini::key::Key;
use fantoccini::Locator;
use onewindow_store::demo::{ACCOUNTS, DEMO_PASSWORD};
use std::time::Duration;

async fn every_role_sees_its_workbench(app: TestApp) {
    let driver = start_driver().await;
    let c = browser(&driver).await;
    for account in &ACCOUNTS {
        login(&c, &app, account.username).await;
        let title = wait_css(&c, "h1.workbench-title")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(title, account.role.workbench(), "{}", account.username);
        let who = c
            .find(Locator::Css("#current-user"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(who.contains(account.org), "{who}");
        if app.backend == Db::Sqlite {
            let png = c.screenshot().await.unwrap();
            std::fs::write(
                screenshot_dir().join(format!("home-{}.png", account.username)),
                png,
            )
            .unwrap();
        }
        c.find(Locator::Css("#logout"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_css(&c, "#login-submit").await;
    }
    c.close().await.unwrap();
}

async fn large_text_switches_on_and_persists(app: TestApp) {
    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "clerk").await;
    wait_css(&c, "h1.workbench-title").await;
    assert!(!html_class(&c).await.contains("large-text"));
    let before: f64 = c
        .execute(
            "return parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    c.find(Locator::Css("#large-text-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css(&c, "html.large-text").await;
    let after: f64 = c
        .execute(
            "return parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(after >= before * 1.25, "text grows: {before} → {after}");
    // Another page, a reload: still large.
    c.goto(&app.url("/admin/orgs")).await.unwrap();
    wait_css(&c, "#org-tree").await;
    assert!(html_class(&c).await.contains("large-text"));
    if app.backend == Db::Sqlite {
        std::fs::write(
            screenshot_dir().join("orgs-large-text.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    c.close().await.unwrap();
    // A different device: the account remembers it.
    let other = browser(&driver).await;
    login(&other, &app, "clerk").await;
    wait_css(&other, "h1.workbench-title").await;
    assert!(html_class(&other).await.contains("large-text"));
    // Switching off works the same way.
    other
        .find(Locator::Css("#large-text-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    other
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("html:not(.large-text) #large-text-toggle"))
        .await
        .unwrap();
    other.close().await.unwrap();
}

async fn the_login_form_works_by_keyboard_alone(app: TestApp) {
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.goto(&app.url("/login")).await.unwrap();
    // The username field has focus on arrival; Tab moves to the password; Enter submits.
    let focused = wait_css(&c, "#username:focus").await;
    focused.send_keys("supervisor").await.unwrap();
    focused.send_keys(&Key::Tab.to_string()).await.unwrap();
    let pw = wait_css(&c, "#password:focus").await;
    pw.send_keys(&format!("{DEMO_PASSWORD}{}", Key::Enter))
        .await
        .unwrap();
    let title = wait_css(&c, "h1.workbench-title")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(title, "督查监管工作台");
    c.close().await.unwrap();
}

on_both_backends!(
    every_role_sees_its_workbench,
    large_text_switches_on_and_persists,
    the_login_form_works_by_keyboard_alone
);
