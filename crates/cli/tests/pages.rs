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
    residents_search_and_read_the_service_guide,
    admins_edit_the_catalog_and_the_calendar_through_pages,
    admins_import_the_catalog_from_a_file,
    workbenches_of_the_one_window_respect_roles,
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

async fn residents_search_and_read_the_service_guide(app: TestApp) {
    let c = app.browser();
    let (s, html) = page(&c, &app, "/guide?q=%E7%A4%BE%E4%BF%9D%E5%8D%A1").await; // 社保卡
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("社保卡") && html.contains("data-code=\"RS-04"),
        "search finds the 社保卡 items"
    );
    let (_, html) = page(
        &c,
        &app,
        "/guide?q=%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E4%BA%8B%E9%A1%B9",
    )
    .await;
    assert!(html.contains("没有找到相关事项"));
    let (s, html) = page(&c, &app, "/guide/items/MZ-0101").await;
    assert_eq!(s, StatusCode::OK);
    for text in [
        "最低生活保障",
        "设定依据",
        "受理条件",
        "申请材料",
        "家庭成员收入证明",
        "可容缺后补",
        "不收费",
        "办理流程",
    ] {
        assert!(html.contains(text), "the guide shows {text}");
    }
    let (s, html) = page(&c, &app, "/guide/bundles/YJS-01").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("新生儿出生一件事") && html.contains("一套材料"));
}

async fn admins_edit_the_catalog_and_the_calendar_through_pages(app: TestApp) {
    let c = form_login(&app, "admin").await;
    let (s, html) = page(&c, &app, "/admin/catalog/items/MZ-0101").await;
    assert_eq!(s, StatusCode::OK);
    let csrf = csrf_of(&html);
    for field in [
        r#"name="materials[0].name""#,
        r#"name="promised_limit_days""#,
        r#"<option value="dept-mz" selected>"#,
        r#"name="faq[0].q""#,
    ] {
        assert!(html.contains(field), "the edit form has {field}");
    }
    let (_, item) = app
        .login("admin")
        .await
        .get("/api/v1/catalog/items/MZ-0101")
        .await;
    let item = &item["item"];
    let post = |pairs: Vec<(String, String)>| {
        let c = c.clone();
        let url = app.url("/admin/catalog/items/MZ-0101");
        async move { c.post(url).form(&pairs).send().await.unwrap() }
    };
    let with = |changes: &[(&str, &str)]| {
        let mut pairs = item_form_pairs(item);
        pairs.push(("_csrf".into(), csrf.clone()));
        pairs.push(("version".into(), "1".into()));
        for (k, v) in changes {
            match pairs.iter_mut().find(|(name, _)| name == k) {
                Some(pair) => pair.1 = v.to_string(),
                None => pairs.push((k.to_string(), v.to_string())),
            }
        }
        pairs
    };
    // A fixed fee without its amount and copies that are not a number: both named beside
    // their fields, what was typed is kept, nothing is saved.
    let res = post(with(&[
        ("fee.kind", "fixed"),
        ("fee.amount", ""),
        ("materials[0].copies", "两"),
    ]))
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("请填写收费金额"), "{html}");
    assert!(html.contains("份数须为整数（如 1、15），填写的是「两」"));
    assert!(html.contains(r#"name="materials[0].copies" value="两""#));
    assert!(html.contains("当前为第1版"), "nothing saved");
    // Fixed, with new hours and a material added in a blank row.
    let added = format!(
        "materials[{}].name",
        item["materials"].as_array().unwrap().len()
    );
    let res = post(with(&[
        ("hours", "周一至周五 9:00-17:00"),
        (added.as_str(), "户口簿"),
        ("effective_from", "2026-12-01"),
    ]))
    .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let (_, html) = page(&c, &app, "/admin/catalog/items/MZ-0101?saved=1").await;
    assert!(html.contains("已保存为第2版") && html.contains("2026-12-01"));
    assert!(html.contains("周一至周五 9:00-17:00") && html.contains(r#"value="户口簿""#));
    // A second save from a form opened at version 1 would overwrite version 2: refused on
    // the form, with what was typed kept and the date still there.
    let res = post(with(&[
        ("hours", "周一至周六 9:00-17:00"),
        ("effective_from", "2026-12-02"),
    ]))
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="version-conflict""#), "{html}");
    assert!(html.contains(r#"value="周一至周六 9:00-17:00""#));
    assert!(html.contains(r#"name="version" value="1""#));
    assert!(html.contains(r#"name="effective_from" value="2026-12-02""#));
    let (s, html) = page(&c, &app, "/admin/calendar").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("2026") && html.contains("调休上班"));
    // An import is previewed first, then confirmed (admin_scope.rs tests the preview).
    let csv = include_str!("data/test-calendar-2027.csv");
    let res = c
        .post(app.url("/admin/calendar"))
        .form(&[("_csrf", csrf.as_str()), ("csv", csv)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("calendar-confirm"));
    let res = c
        .post(app.url("/admin/calendar"))
        .form(&[("_csrf", csrf.as_str()), ("csv", csv), ("confirm", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("已导入2027年"));
}

async fn workbenches_of_the_one_window_respect_roles(app: TestApp) {
    let approver = form_login(&app, "approver").await;
    let (s, _) = page(&approver, &app, "/window").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, html) = page(&approver, &app, "/dept").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("后台审批"));
    let clerk = form_login(&app, "clerk").await;
    let (s, _) = page(&clerk, &app, "/dept").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, html) = page(&clerk, &app, "/window?q=%E4%BD%8F%E6%88%BF").await; // 住房
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("/window/intake?item="),
        "search offers items to take in"
    );
    let (s, html) = page(&clerk, &app, "/window/intake?item=MZ-0101").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("材料核验") && html.contains("家庭成员收入证明"));
}

/// The edit form's fields as the page would send them for `item` (the API's JSON of it).
fn item_form_pairs(item: &serde_json::Value) -> Vec<(String, String)> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut pairs: Vec<(String, String)> = [
        "name",
        "parent_code",
        "variant",
        "item_type",
        "window_class",
        "department_code",
        "legal_basis",
        "conditions",
        "legal_limit_days",
        "promised_limit_days",
        "place",
        "hours",
        "visits",
        "consult_phone",
        "complaint_phone",
    ]
    .iter()
    .map(|k| (k.to_string(), text(&item[*k])))
    .collect();
    // The demo item is free of charge (不收费).
    assert_eq!(item["fee"]["kind"], "free", "{}", item["fee"]);
    pairs.push(("fee.kind".into(), "free".into()));
    for flag in ["online", "commitment_allowed"] {
        if item[flag] == true {
            pairs.push((flag.into(), "1".into()));
        }
    }
    let lines = |k: &str, sep: &str| {
        item[k]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect::<Vec<_>>()
            .join(sep)
    };
    pairs.push(("steps".into(), lines("steps", "\n")));
    pairs.push(("keywords".into(), lines("keywords", "、")));
    // One blank row more than the item has, as the page offers.
    let materials = item["materials"].as_array().unwrap();
    for (i, m) in materials.iter().enumerate() {
        for k in ["name", "form", "copies", "source", "note"] {
            pairs.push((format!("materials[{i}].{k}"), text(&m[k])));
        }
        for flag in ["required", "tolerable", "e_cert", "commitment"] {
            if m[flag] == true {
                pairs.push((format!("materials[{i}].{flag}"), "1".into()));
            }
        }
    }
    let blank = materials.len();
    for (k, v) in [
        ("name", ""),
        ("form", "original"),
        ("copies", "1"),
        ("required", "1"),
    ] {
        pairs.push((format!("materials[{blank}].{k}"), v.into()));
    }
    for (i, f) in item["faq"].as_array().unwrap().iter().enumerate() {
        pairs.push((format!("faq[{i}].q"), text(&f["q"])));
        pairs.push((format!("faq[{i}].a"), text(&f["a"])));
    }
    pairs
}

/// The import form takes a file: a CSV as Excel on a Chinese Windows saves it (GBK) is
/// read, an Excel workbook is refused with what to do instead, and the token is checked.
async fn admins_import_the_catalog_from_a_file(app: TestApp) {
    let c = form_login(&app, "admin").await;
    let (s, html) = page(&c, &app, "/admin/catalog").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"enctype="multipart/form-data""#) && html.contains(r#"type="file""#));
    let csrf = csrf_of(&html);
    let csv = c
        .get(app.url("/api/v1/catalog/export?format=csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("最低生活保障申请"));
    let renamed = csv.replacen("最低生活保障申请", "最低生活保障待遇申请", 1);
    let (gbk, _, lossy) = encoding_rs::GBK.encode(&renamed);
    assert!(
        !lossy && std::str::from_utf8(&gbk).is_err(),
        "really GBK bytes"
    );
    let upload = |file_name: &str, bytes: Vec<u8>, token: &str| {
        reqwest::multipart::Form::new()
            .text("_csrf", token.to_string())
            .text("effective_from", "")
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()),
            )
    };
    let post = |form: reqwest::multipart::Form| {
        let c = c.clone();
        let url = app.url("/admin/catalog");
        async move { c.post(url).multipart(form).send().await.unwrap() }
    };

    let res = post(upload("事项目录.csv", gbk.to_vec(), "not-the-token")).await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "the CSRF token is checked"
    );

    let res = post(upload("事项目录.xlsx", b"PK\x03\x04".to_vec(), &csrf)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("另存为”CSV"));

    let res = post(upload("事项目录.csv", gbk.to_vec(), &csrf)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("生成新版本1项"), "{html}");
    let (_, item) = app
        .login("admin")
        .await
        .get("/api/v1/catalog/items/MZ-0101")
        .await;
    assert_eq!(item["item"]["name"], "最低生活保障待遇申请");

    // A file bigger than the usual 2 MiB form limit (a city's catalog can be): the export,
    // padded with blanks JSON ignores, imports as "nothing changed".
    let json = c
        .get(app.url("/api/v1/catalog/export?format=json"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut big = vec![b' '; 3 * 1024 * 1024];
    big.extend_from_slice(&json);
    let res = post(upload("事项目录.json", big, &csrf)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("新增0项，生成新版本0项"), "{html}");

    let res = post(
        reqwest::multipart::Form::new()
            .text("_csrf", csrf.clone())
            .text("content", ""),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("请选择要导入的文件"));
}
