//! Server-rendered pages over HTTP: redirects, forms, errors in Chinese, 403 pages.

mod common;

use common::TestApp;
use reqwest::StatusCode;

on_both_backends!(
    anonymous_visitors_are_sent_to_login,
    form_login_shows_the_role_workbench,
    pages_refuse_other_roles_with_a_chinese_403,
    admin_creates_a_user_through_the_form,
    large_text_mode_is_remembered_for_the_account,
);

/// Logs in through the HTML form; returns the cookie-keeping client.
async fn form_login(app: &TestApp, username: &str) -> reqwest::Client {
    let c = app.browser();
    let page = c
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    let res = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", username),
            ("password", onewindow_store::demo::DEMO_PASSWORD),
            ("next", "/home"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    c
}

fn csrf_of(html: &str) -> String {
    let i = html
        .find("name=\"_csrf\" value=\"")
        .expect("form has a CSRF field")
        + 20;
    html[i..i + 64].to_string()
}

async fn page(c: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = c.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn anonymous_visitors_are_sent_to_login(app: TestApp) {
    let c = app.browser();
    let res = c.get(app.url("/admin/users?x=1")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        "/login?next=%2Fadmin%2Fusers%3Fx%3D1"
    );
    let (s, html) = page(&c, &app, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("欢迎使用一窗通办"));
    let (s, html) = page(&c, &app, "/no/such/page").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(html.contains("页面或接口不存在"));
}

async fn form_login_shows_the_role_workbench(app: TestApp) {
    let c = app.browser();
    let page1 = c
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page1);
    let res = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "approver"),
            ("password", "wrong-one"),
            ("next", "/home"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let html = res.text().await.unwrap();
    assert!(html.contains("用户名或密码错误"));
    assert!(html.contains("value=\"approver\""), "the username is kept");
    let c = form_login(&app, "approver").await;
    let (s, html) = page(&c, &app, "/home").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("后台审批工作台"));
    assert!(html.contains("区民政局"));
}

async fn pages_refuse_other_roles_with_a_chinese_403(app: TestApp) {
    let c = form_login(&app, "clerk").await;
    for path in ["/admin/users", "/admin/audit", "/admin/api-keys"] {
        let (s, html) = page(&c, &app, path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("当前角色无权执行此操作"), "{path}");
    }
    // The clerk's navigation only offers what the role may use.
    let (_, html) = page(&c, &app, "/home").await;
    assert!(!html.contains("href=\"/admin/users\""));
    assert!(html.contains("href=\"/admin/orgs\""));
}

async fn admin_creates_a_user_through_the_form(app: TestApp) {
    let c = form_login(&app, "admin").await;
    let (_, html) = page(&c, &app, "/admin/users").await;
    let csrf = csrf_of(&html);
    let org = app.org_id("dongfeng").await.to_string();
    let users_before = app.count("users").await;
    let res = c
        .post(app.url("/admin/users"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "df.clerk"),
            ("display_name", ""),
            ("org_id", org.as_str()),
            ("password", "east-wind-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("请填写姓名") && html.contains("至少选择一个角色"),
        "errors are listed in Chinese"
    );
    assert!(
        html.contains("value=\"df.clerk\""),
        "what was typed is kept"
    );
    assert_eq!(app.count("users").await, users_before);
    let res = c
        .post(app.url("/admin/users"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "df.clerk"),
            ("display_name", "郑东风"),
            ("org_id", org.as_str()),
            ("roles", "window_clerk"),
            ("roles", "guide_desk"),
            ("password", "east-wind-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let (_, html) = page(&c, &app, &location).await;
    assert!(
        html.contains("综合受理窗口人员") && html.contains("导办人员"),
        "both roles saved"
    );
    assert!(html.contains("东风社区"));
}

async fn large_text_mode_is_remembered_for_the_account(app: TestApp) {
    let c = form_login(&app, "grid").await;
    let (_, html) = page(&c, &app, "/home").await;
    assert!(!html.contains("class=\"large-text\""));
    let res = c
        .post(app.url("/prefs/large-text"))
        .form(&[
            ("_csrf", csrf_of(&html).as_str()),
            ("on", "1"),
            ("next", "/home"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("ow_large=1")));
    let (_, html) = page(&c, &app, "/admin/orgs").await;
    assert!(html.contains("<html lang=\"zh-CN\" class=\"large-text\">"));
    // A fresh device (no cookie) gets it from the account after login.
    let other = form_login(&app, "grid").await;
    let (_, html) = page(&other, &app, "/home").await;
    assert!(html.contains("class=\"large-text\""));
}
