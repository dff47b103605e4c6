//! Real pages in headless Chromium through chromedriver: every demo role logs in and sees
//! its workbench; large-text mode switches on and stays on; the login form works by keyboard.

mod common;

use common::{Db, TestApp};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use onewindow_store::demo::{ACCOUNTS, DEMO_PASSWORD};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A chromedriver process on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
    _profiles: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let bin =
        std::env::var("ONEWINDOW_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {bin}: {e} (scripts/test installs chromium-driver)")
        });
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profiles: tempfile::tempdir().unwrap(),
    }
}

/// A new browser with an empty profile (no cookies): a fresh device.
async fn browser(driver: &Driver) -> Client {
    let chromium =
        std::env::var("ONEWINDOW_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = tempfile::Builder::new()
        .tempdir_in(driver._profiles.path())
        .unwrap()
        .keep();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--disable-quic", "--window-size=1280,1000",
                     format!("--user-data-dir={}", profile.display())]
        }),
    );
    // Both ring and aws-lc end up in the dependency tree; pick one for the WebDriver client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("connect to chromedriver")
}

async fn wait_css(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

async fn html_class(c: &Client) -> String {
    c.execute("return document.documentElement.className", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or("")
        .to_string()
}

async fn login(c: &Client, app: &TestApp, username: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    wait_css(c, "#username")
        .await
        .send_keys(username)
        .await
        .unwrap();
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(DEMO_PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("#login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
