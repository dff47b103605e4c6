//! 办不成事 reference data through the API and the pages on both backends: the negative
//! list published without login (by category, with the right channel), every change
//! versioned with its reason and audited, entries retired never deleted (and a retired one
//! cannot be named in a refusal), tags, department liaisons (1+N) and the expert pool —
//! and the refusals: wrong role, another organisation, a street admin on a district entry.

mod common;

use common::{Api, TestApp};
use onewindow_domain::org::OrgPath;
use onewindow_store::demo::DEMO_PASSWORD;
use onewindow_store::fallback::reference;
use onewindow_store::StoreError;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

on_both_backends!(
    the_demo_list_is_published_by_category_without_login,
    every_change_is_versioned_audited_and_a_retired_entry_leaves_the_list,
    refusals_by_role_and_organisation_write_nothing,
    tags_liaisons_and_experts_follow_their_rules,
    the_lists_page_edits_by_form_and_keeps_what_was_typed,
);

/// A new account (password: the demo's) with `role` at organisation `org_id`.
async fn account(app: &TestApp, org_id: i64, username: &str, role: &str) -> Api {
    let city_admin = app.login("admin").await;
    let (s, user) = city_admin
        .post(
            "/api/v1/users",
            json!({"org_id": org_id, "username": username, "display_name": "测试人员",
                   "roles": [role], "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    app.login(username).await
}

/// Audit events other than logins: what was changed.
async fn changes(app: &TestApp) -> i64 {
    app.store.settle_audit().await.unwrap();
    sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE action NOT LIKE 'auth.%'")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("n")
}

async fn audit_actions(app: &TestApp, entity_id: &str) -> Vec<String> {
    app.store.settle_audit().await.unwrap();
    sqlx::query(
        "SELECT action FROM audit_events WHERE entity = 'fallback_negative_entry' AND entity_id = $1 ORDER BY seq",
    )
    .bind(entity_id)
    .fetch_all(app.store.reader())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("action"))
    .collect()
}

async fn org_path(app: &TestApp, code: &str) -> OrgPath {
    onewindow_store::orgs::find_by_code(app.store.reader(), code)
        .await
        .unwrap()
        .unwrap()
        .path
}

fn new_entry(org_id: i64, title: &str) -> Value {
    json!({"org_id": org_id, "category": "against_policy", "title": title,
           "description": "要求按已废止的标准发放补贴", "right_channel": "区民政局政策咨询窗口",
           "reason": "区政府常务会议决定增补"})
}

fn field_codes(problem: &Value) -> Vec<(String, String)> {
    problem["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["field"].as_str().unwrap_or("").to_string(),
                        f["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn the_demo_list_is_published_by_category_without_login(app: TestApp) {
    reference::seed_demo(&app.store, app.clock_now())
        .await
        .unwrap();
    // Seeding twice adds nothing.
    let before = app.count("fallback_negative_entries").await;
    reference::seed_demo(&app.store, app.clock_now())
        .await
        .unwrap();
    assert_eq!(app.count("fallback_negative_entries").await, before);
    assert_eq!(before, 6);
    assert_eq!(app.count("fallback_negative_versions").await, 6);

    // The page, anonymous: every category, the right channels, printable.
    let anon = app.browser();
    let res = anon
        .get(app.url("/fallback/negative-list"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for words in [
        "涉法事项",
        "涉诉事项",
        "涉访事项",
        "违反现行政策的请求",
        "已进入诉讼或仲裁程序的事项",
        "人民法院或受理案件的仲裁机构",
        "区信访局",
        "data-print",
    ] {
        assert!(html.contains(words), "{words}");
    }
    assert!(html.find("涉法事项").unwrap() < html.find("涉访事项").unwrap());
    // At a street, the district's list applies.
    let res = anon
        .get(app.url("/fallback/negative-list?org=xingfu"))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("适用于幸福街道"), "{html}");
    assert!(html.contains("信访事项"));
    let res = anon
        .get(app.url("/fallback/negative-list?org=nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("没有找到所选地区"));

    // The API, anonymous.
    let res = anon
        .get(app.url("/api/v1/fallback/negative-list"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let cats: Vec<&str> = body["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        cats,
        ["legal", "litigation", "petition", "against_policy", "other"]
    );
    let petition = &body["categories"][2]["entries"][0];
    assert_eq!(petition["title"], "信访事项");
    assert!(petition["right_channel"].as_str().unwrap().contains("信访"));
    assert!(
        petition.get("updated_by_name").is_none(),
        "no staff names in public"
    );
    let street = app.org_id("xingfu").await;
    let res = anon
        .get(app.url(&format!("/api/v1/fallback/negative-list?org_id={street}")))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["org"]["name"], "幸福街道");
    assert_eq!(body["categories"].as_array().unwrap().len(), 5);
    for junk in ["abc", "99999999", "-1"] {
        let res = anon
            .get(app.url(&format!("/api/v1/fallback/negative-list?org_id={junk}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{junk}");
    }

    // The demo's tags, liaisons and experts, as the street's fallback officer reads them.
    let officer = app.login("fallback").await;
    let (s, tags) = officer.get("/api/v1/fallback/tags").await;
    assert_eq!(s, StatusCode::OK, "{tags}");
    assert!(tags["applicable"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "部门职责交叉"));
    let (s, liaisons) = officer.get("/api/v1/fallback/liaisons").await;
    assert_eq!(s, StatusCode::OK);
    let mz = liaisons["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["department_name"] == "区民政局")
        .expect("a street window works with the district's bureaus");
    assert_eq!(mz["liaison"]["name"], "陈审批");
    let (_, experts) = officer.get("/api/v1/fallback/experts").await;
    assert_eq!(experts["items"].as_array().unwrap().len(), 4);
    // The staff page shows the four parts.
    let res = officer
        .client
        .get(app.url("/fallback/lists"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for words in [
        "负面清单",
        "问题标签",
        "部门联络员",
        "专家咨询库",
        "钱立法",
        "陈审批",
    ] {
        assert!(html.contains(words), "{words}");
    }
    assert!(
        !html.contains("新增负面清单条目"),
        "an officer gets no admin forms"
    );
}

async fn every_change_is_versioned_audited_and_a_retired_entry_leaves_the_list(app: TestApp) {
    let admin = app.login("admin").await;
    let district = app.org_id("district").await;
    let before = changes(&app).await;
    let (s, e) = admin
        .post(
            "/api/v1/fallback/negative-list",
            new_entry(district, "按已废止标准发放补贴的请求"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["version"], 1);
    assert_eq!(e["active"], true);
    assert_eq!(e["category_label"], "违反现行政策的请求");
    let id = e["id"].as_i64().unwrap();
    let path = format!("/api/v1/fallback/negative-list/{id}");

    // An edit, at the version read.
    let (s, e2) = admin
        .patch(
            &path,
            json!({"version": 1, "right_channel": "区民政局（社会救助科）", "reason": "明确承办科室"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e2}");
    assert_eq!(e2["version"], 2);
    assert_eq!(
        e2["title"], "按已废止标准发放补贴的请求",
        "fields left out are kept"
    );
    // A second admin still holding version 1 is refused, and nothing changes.
    let (s, conflict) = admin
        .patch(
            &path,
            json!({"version": 1, "title": "覆盖", "reason": "并发修改"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{conflict}");
    // A change without a reason is refused, naming the field.
    let (s, p) = admin
        .patch(&path, json!({"version": 2, "title": "新名称"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_codes(&p).contains(&("reason".into(), "required".into())),
        "{p}"
    );

    // Public before retiring.
    let public = |app: &TestApp| {
        let c = app.browser();
        let url = app.url("/api/v1/fallback/negative-list");
        async move {
            c.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert!(public(&app).await.to_string().contains("社会救助科"));

    // Retiring at a stale version is refused like an edit.
    let (s, _) = admin
        .patch(
            &path,
            json!({"version": 1, "active": false, "reason": "旧页面上停用"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Retire: version 3, off the public list, kept for staff with its history.
    let (s, e3) = admin
        .patch(
            &path,
            json!({"version": 2, "active": false, "reason": "政策已调整"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e3}");
    assert_eq!(
        (e3["version"].as_i64(), e3["active"].as_bool()),
        (Some(3), Some(false))
    );
    assert!(!public(&app).await.to_string().contains("社会救助科"));
    let (s, again) = admin
        .patch(
            &path,
            json!({"version": 3, "active": false, "reason": "再次停用"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_codes(&again).contains(&("active".into(), "unchanged".into())));
    let (s, full) = admin.get(&path).await;
    assert_eq!(s, StatusCode::OK);
    let versions = full["versions"].as_array().unwrap();
    let got: Vec<(i64, bool, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["snapshot"]["active"].as_bool().unwrap(),
                v["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, false, "政策已调整"),
            (2, true, "明确承办科室"),
            (1, true, "区政府常务会议决定增补")
        ]
    );
    assert_eq!(
        versions[1]["snapshot"]["right_channel"],
        "区民政局（社会救助科）"
    );
    assert_eq!(
        versions[2]["snapshot"]["right_channel"],
        "区民政局政策咨询窗口"
    );
    assert_eq!(
        audit_actions(&app, &id.to_string()).await,
        [
            "fallback.negative.create",
            "fallback.negative.update",
            "fallback.negative.retire"
        ]
    );
    assert_eq!(
        changes(&app).await,
        before + 3,
        "the refused requests wrote nothing"
    );

    // A refusal cannot name a retired entry, nor one that does not exist.
    let mut conn = app.store.reader().acquire().await.unwrap();
    match reference::negative_entry(&mut conn, id).await {
        Err(StoreError::Invalid(f)) => {
            assert_eq!(
                (f.0[0].field.as_str(), f.0[0].code.as_str()),
                ("entry_id", "retired")
            )
        }
        other => panic!("a retired entry was accepted: {other:?}"),
    }
    match reference::negative_entry(&mut conn, id + 1000).await {
        Err(StoreError::Invalid(f)) => assert_eq!(f.0[0].code, "unknown"),
        other => panic!("{other:?}"),
    }
    drop(conn);
    let xingfu = org_path(&app, "xingfu").await;
    assert!(reference::active_negative_list(app.store.reader(), &xingfu)
        .await
        .unwrap()
        .iter()
        .all(|e| e.id != id));

    // Reactivated: version 4, back on the list, and a refusal may name it again.
    let (s, e4) = admin
        .patch(
            &path,
            json!({"version": 3, "active": true, "reason": "新政策实施细则未出台前继续适用"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e4}");
    assert_eq!(e4["version"], 4);
    let mut conn = app.store.reader().acquire().await.unwrap();
    let named = reference::negative_entry(&mut conn, id).await.unwrap();
    assert_eq!(named.right_channel, "区民政局（社会救助科）");
    drop(conn);
    assert!(reference::active_negative_list(app.store.reader(), &xingfu)
        .await
        .unwrap()
        .iter()
        .any(|e| e.id == id));
    // Never deleted: there is no DELETE, and the database keeps every version.
    let (s, _) = admin.delete(&path).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.count("fallback_negative_versions").await, 4);
}

async fn refusals_by_role_and_organisation_write_nothing(app: TestApp) {
    let admin = app.login("admin").await;
    let district = app.org_id("district").await;
    let xingfu = app.org_id("xingfu").await;
    let (s, district_entry) = admin
        .post(
            "/api/v1/fallback/negative-list",
            new_entry(district, "区级条目"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let district_entry = district_entry["id"].as_i64().unwrap();
    // A second street with its own administrator.
    let (s, other) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": district, "kind": "street", "name": "和谐街道", "code": "hexie"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{other}");
    let hexie = other["id"].as_i64().unwrap();
    let street_admin = account(&app, xingfu, "xingfu.admin", "admin").await;
    let other_admin = account(&app, hexie, "hexie.admin", "admin").await;
    let officer = app.login("fallback").await;
    let handler = app.login("handler").await;

    // The street admin keeps its street's list.
    let (s, street_entry) = street_admin
        .post(
            "/api/v1/fallback/negative-list",
            new_entry(xingfu, "街道条目"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{street_entry}");
    let street_entry = street_entry["id"].as_i64().unwrap();
    // Without org_id, the caller's own organisation.
    let (s, own) = other_admin
        .post(
            "/api/v1/fallback/negative-list",
            json!({"category": "other", "title": "和谐街道条目", "right_channel": "街道综治中心", "reason": "新设"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{own}");
    assert_eq!(own["org_id"], hexie);

    let entries = app.count("fallback_negative_entries").await;
    let before = changes(&app).await;
    let refused: Vec<(&str, &Api, &str, String, Value)> = vec![
        // A lower-level admin on a district entry, and adding to the district.
        (
            "street admin edits a district entry",
            &street_admin,
            "PATCH",
            format!("/api/v1/fallback/negative-list/{district_entry}"),
            json!({"version": 1, "active": false, "reason": "越级停用"}),
        ),
        (
            "street admin adds to the district",
            &street_admin,
            "POST",
            "/api/v1/fallback/negative-list".into(),
            new_entry(district, "越级新增"),
        ),
        // Another organisation.
        (
            "another street's admin edits xingfu's entry",
            &other_admin,
            "PATCH",
            format!("/api/v1/fallback/negative-list/{street_entry}"),
            json!({"version": 1, "title": "改别人的", "reason": "越权"}),
        ),
        (
            "another street's admin adds to xingfu",
            &other_admin,
            "POST",
            "/api/v1/fallback/negative-list".into(),
            new_entry(xingfu, "越权新增"),
        ),
        // The wrong role.
        (
            "the fallback officer adds an entry",
            &officer,
            "POST",
            "/api/v1/fallback/negative-list".into(),
            new_entry(xingfu, "专员新增"),
        ),
        (
            "the fallback officer retires an entry",
            &officer,
            "PATCH",
            format!("/api/v1/fallback/negative-list/{street_entry}"),
            json!({"version": 1, "active": false, "reason": "专员停用"}),
        ),
        (
            "the officer adds a tag",
            &officer,
            "POST",
            "/api/v1/fallback/tags".into(),
            json!({"name": "专员标签"}),
        ),
        (
            "the officer adds an expert",
            &officer,
            "POST",
            "/api/v1/fallback/experts".into(),
            json!({"name": "某专家", "field": "法律", "affiliation": "某所", "phone": "13900000000"}),
        ),
        (
            "the street admin names a district bureau's liaison",
            &street_admin,
            "PUT",
            format!("/api/v1/fallback/liaisons/{}", app.org_id("dept-mz").await),
            json!({"user_id": 1, "phone": "0571-87010001"}),
        ),
    ];
    for (what, api, method, path, body) in &refused {
        let (s, p) = match *method {
            "POST" => api.post(path, body.clone()).await,
            "PATCH" => api.patch(path, body.clone()).await,
            _ => api.put(path, body.clone()).await,
        };
        assert_eq!(s, StatusCode::FORBIDDEN, "{what}: {p}");
        assert!(
            p["code"].as_str().unwrap().starts_with("forbidden"),
            "{what}: {p}"
        );
    }
    // Reading the lists staff-side needs the fallback permissions: a department handler
    // has none (the public list stays open to everyone).
    for path in [
        "/api/v1/fallback/tags",
        "/api/v1/fallback/liaisons",
        "/api/v1/fallback/experts",
        &format!("/api/v1/fallback/negative-list/{district_entry}"),
    ] {
        let (s, _) = handler.get(path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let res = handler
        .client
        .get(app.url("/fallback/lists"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (s, _) = handler.get("/api/v1/fallback/negative-list").await;
    assert_eq!(s, StatusCode::OK);
    // Another street's entry is not visible to the street's staff; the district's is.
    let (s, _) = other_admin
        .get(&format!("/api/v1/fallback/negative-list/{street_entry}"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = other_admin
        .get(&format!("/api/v1/fallback/negative-list/{district_entry}"))
        .await;
    assert_eq!(s, StatusCode::OK);
    // Bad input is named field by field.
    let (s, p) = admin
        .post(
            "/api/v1/fallback/negative-list",
            json!({"category": "涉法", "title": "", "right_channel": "x".repeat(201)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let codes = field_codes(&p);
    for f in [
        ("category", "unknown"),
        ("title", "required"),
        ("right_channel", "too_long"),
        ("reason", "required"),
    ] {
        assert!(codes.contains(&(f.0.into(), f.1.into())), "{f:?} in {p}");
    }
    let (s, p) = admin
        .post(
            "/api/v1/fallback/negative-list",
            new_entry(app.org_id("dept-mz").await, "部门条目"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_codes(&p),
        [("org_id".to_string(), "not_a_window_level".to_string())]
    );
    let (s, _) = admin
        .patch(
            "/api/v1/fallback/negative-list/987654",
            json!({"version": 1, "active": false, "reason": "无"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = admin
        .patch(
            &format!("/api/v1/fallback/negative-list/{district_entry}"),
            json!({"reason": "缺版本"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("fallback_negative_entries").await, entries);
    assert_eq!(changes(&app).await, before, "no refusal wrote anything");

    // What applies at each street: the district's and its own, not the neighbour's.
    let at_xingfu: Vec<String> =
        reference::active_negative_list(app.store.reader(), &org_path(&app, "xingfu").await)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.title)
            .collect();
    assert_eq!(at_xingfu, ["区级条目", "街道条目"]);
    let at_community: Vec<String> =
        reference::active_negative_list(app.store.reader(), &org_path(&app, "yangguang").await)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.title)
            .collect();
    assert_eq!(
        at_community,
        ["区级条目", "街道条目"],
        "a community inherits its street's"
    );
    let at_hexie: Vec<String> =
        reference::active_negative_list(app.store.reader(), &org_path(&app, "hexie").await)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.title)
            .collect();
    assert_eq!(at_hexie, ["区级条目", "和谐街道条目"]);
}

async fn tags_liaisons_and_experts_follow_their_rules(app: TestApp) {
    let admin = app.login("admin").await;
    let district = app.org_id("district").await;
    let xingfu = app.org_id("xingfu").await;
    // Tags: added per organisation, unique there, renamed and retired, never deleted.
    let (s, t) = admin
        .post(
            "/api/v1/fallback/tags",
            json!({"org_id": district, "name": "历史遗留问题"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (s, dup) = admin
        .post(
            "/api/v1/fallback/tags",
            json!({"org_id": district, "name": " 历史遗留问题 "}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_codes(&dup),
        [("name".to_string(), "duplicate".to_string())]
    );
    let (s, _) = admin
        .post(
            "/api/v1/fallback/tags",
            json!({"org_id": xingfu, "name": "历史遗留问题"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "another organisation may use the name"
    );
    let (s, street_tag) = admin
        .post(
            "/api/v1/fallback/tags",
            json!({"org_id": xingfu, "name": "流程梗阻"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, long) = admin
        .post("/api/v1/fallback/tags", json!({"name": "长".repeat(21)}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{long}");
    let names = |tags: Vec<reference::Tag>| tags.into_iter().map(|t| t.name).collect::<Vec<_>>();
    let xingfu_path = org_path(&app, "xingfu").await;
    assert_eq!(
        names(
            reference::active_tags(app.store.reader(), &xingfu_path)
                .await
                .unwrap()
        ),
        ["历史遗留问题", "流程梗阻"],
        "one per name"
    );
    let tag_path = format!("/api/v1/fallback/tags/{}", street_tag["id"]);
    let (s, renamed) = admin
        .patch(
            &tag_path,
            json!({"version": 1, "name": "流程梗阻（审批环节）"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{renamed}");
    let (s, _) = admin
        .patch(&tag_path, json!({"version": 1, "active": false}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, retired) = admin
        .patch(&tag_path, json!({"version": 2, "active": false}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(retired["active"], false);
    assert_eq!(
        names(
            reference::active_tags(app.store.reader(), &xingfu_path)
                .await
                .unwrap()
        ),
        ["历史遗留问题"]
    );
    let (_, all) = admin
        .get("/api/v1/fallback/tags?include_retired=true")
        .await;
    assert!(all["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["active"] == false));
    let (s, _) = admin
        .get("/api/v1/fallback/tags?include_retired=maybe")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Liaisons: one per department, a handler or approver there, changes audited.
    let mz = app.org_id("dept-mz").await;
    let cg = app.org_id("dept-cg").await;
    let approver = app.login("approver").await.user["id"].as_i64().unwrap();
    let handler = app.login("handler").await.user["id"].as_i64().unwrap();
    let clerk = app.login("clerk").await.user["id"].as_i64().unwrap();
    let (s, l) = admin
        .put(
            &format!("/api/v1/fallback/liaisons/{mz}"),
            json!({"user_id": approver, "phone": "0571-87010001"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["name"], "陈审批");
    for (dept, user, phone, field, code) in [
        (mz, handler, "0571-87010001", "user_id", "other_department"),
        (mz, clerk, "0571-87010001", "user_id", "other_department"),
        (mz, 999_999, "0571-87010001", "user_id", "unknown"),
        (mz, approver, "电话", "phone", "bad_phone"),
        (
            xingfu,
            approver,
            "0571-87010001",
            "department_id",
            "not_department",
        ),
    ] {
        let (s, p) = admin
            .put(
                &format!("/api/v1/fallback/liaisons/{dept}"),
                json!({"user_id": user, "phone": phone}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert!(
            field_codes(&p).contains(&(field.into(), code.into())),
            "{p}"
        );
    }
    let (s, _) = admin
        .put(
            "/api/v1/fallback/liaisons/987654",
            json!({"user_id": approver, "phone": "0571-87010001"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A user at the department without a handler's or approver's role cannot be named.
    let viewer = account(&app, cg, "cg.viewer", "window_clerk").await;
    let viewer_id = viewer.user["id"].as_i64().unwrap();
    let (s, p) = admin
        .put(
            &format!("/api/v1/fallback/liaisons/{cg}"),
            json!({"user_id": viewer_id, "phone": "13800138000"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_codes(&p).contains(&("user_id".into(), "no_role".into())),
        "{p}"
    );
    let (s, _) = admin
        .put(
            &format!("/api/v1/fallback/liaisons/{cg}"),
            json!({"user_id": handler, "phone": "13800138000"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Changing the phone is audited with what it replaced.
    let (s, changed) = admin
        .put(
            &format!("/api/v1/fallback/liaisons/{mz}"),
            json!({"user_id": approver, "phone": "0571-87019999"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(changed["phone"], "0571-87019999");
    app.store.settle_audit().await.unwrap();
    let details: Vec<String> = sqlx::query(
        "SELECT detail FROM audit_events WHERE action = 'fallback.liaison.set' AND entity_id = $1 ORDER BY seq",
    )
    .bind(mz.to_string())
    .fetch_all(app.store.reader())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("detail"))
    .collect();
    assert_eq!(details.len(), 2);
    let last: Value = serde_json::from_str(&details[1]).unwrap();
    assert_eq!(last["before"]["phone"], "0571-87010001");
    assert_eq!(last["after"]["phone"], "0571-87019999");
    let mut conn = app.store.reader().acquire().await.unwrap();
    let l = reference::liaison_of(&mut conn, mz).await.unwrap().unwrap();
    assert_eq!(
        (l.user_id, l.name.as_str(), l.phone.as_str()),
        (approver, "陈审批", "0571-87019999")
    );
    assert!(
        reference::liaison_of(&mut conn, app.org_id("dept-sw").await)
            .await
            .unwrap()
            .is_none()
    );
    drop(conn);

    // Experts: added with everything needed to invite them, retired and brought back.
    let (s, p) = admin
        .post("/api/v1/fallback/experts", json!({"name": "钱律师"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = field_codes(&p).into_iter().map(|f| f.0).collect();
    assert_eq!(fields, ["field", "affiliation", "phone"]);
    let (s, x) = admin
        .post(
            "/api/v1/fallback/experts",
            json!({"org_id": district, "name": "钱律师", "field": "行政法", "affiliation": "示范律师事务所", "phone": "13900139000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{x}");
    let xid = x["id"].as_i64().unwrap();
    let xpath = format!("/api/v1/fallback/experts/{xid}");
    let (s, x2) = admin
        .patch(&xpath, json!({"version": 1, "field": "行政法、行政复议"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (x2["field"].as_str(), x2["name"].as_str()),
        (Some("行政法、行政复议"), Some("钱律师"))
    );
    let (s, _) = admin
        .patch(&xpath, json!({"version": 2, "active": false}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut conn = app.store.reader().acquire().await.unwrap();
    match reference::expert(&mut conn, xid).await {
        Err(StoreError::Invalid(f)) => assert_eq!(
            (f.0[0].field.as_str(), f.0[0].code.as_str()),
            ("expert_id", "retired")
        ),
        other => panic!("a retired expert was offered: {other:?}"),
    }
    drop(conn);
    let officer = app.login("fallback").await;
    let (_, pool) = officer.get("/api/v1/fallback/experts").await;
    assert!(pool["items"].as_array().unwrap().is_empty());
    let (_, pool) = officer
        .get("/api/v1/fallback/experts?include_retired=1")
        .await;
    assert_eq!(pool["items"][0]["name"], "钱律师");
    let (s, _) = admin
        .patch(&xpath, json!({"version": 3, "active": true}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut conn = app.store.reader().acquire().await.unwrap();
    assert_eq!(
        reference::expert(&mut conn, xid).await.unwrap().field,
        "行政法、行政复议"
    );
    drop(conn);

    // Every action and entity recorded here has its Chinese name for the audit page.
    use onewindow_domain::fallback::negative_list::{AUDIT_ACTIONS, AUDIT_ENTITIES};
    app.store.settle_audit().await.unwrap();
    let rows = sqlx::query(
        "SELECT DISTINCT action, entity FROM audit_events WHERE action LIKE 'fallback.%'",
    )
    .fetch_all(app.store.reader())
    .await
    .unwrap();
    assert!(rows.len() >= 5, "tags, liaisons and experts are audited");
    for r in rows {
        let (action, entity): (String, String) = (r.get("action"), r.get("entity"));
        assert!(AUDIT_ACTIONS.iter().any(|(a, _)| *a == action), "{action}");
        assert!(AUDIT_ENTITIES.iter().any(|(e, _)| *e == entity), "{entity}");
    }
}

async fn the_lists_page_edits_by_form_and_keeps_what_was_typed(app: TestApp) {
    let admin = app.login("admin").await;
    let district = app.org_id("district").await;
    let post = |path: &str, form: Vec<(&str, String)>| {
        let mut form = form;
        form.push(("_csrf", admin.csrf.clone()));
        admin.client.post(app.url(path)).form(&form).send()
    };
    // Refused: 422, the errors in Chinese, what was typed kept.
    let res = post(
        "/fallback/lists/negative",
        vec![
            ("org_id", district.to_string()),
            ("category", "petition".into()),
            ("title", "重复信访事项".into()),
            ("right_channel", "".into()),
            ("reason", "".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("请填写办理渠道"), "{html}");
    assert!(html.contains("请填写调整理由"));
    assert!(html.contains("value=\"重复信访事项\""));
    assert!(html.contains("<option value=\"petition\" selected>"));
    // Accepted: back to the list with a notice, the entry there.
    let res = post(
        "/fallback/lists/negative",
        vec![
            ("org_id", district.to_string()),
            ("category", "petition".into()),
            ("title", "重复信访事项".into()),
            ("right_channel", "区信访局".into()),
            ("reason", "信访工作联席会议意见".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = admin
        .client
        .get(app.url("/fallback/lists?done=negative"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("负面清单已更新"));
    assert!(html.contains("重复信访事项"));
    let id: i64 =
        sqlx::query("SELECT id FROM fallback_negative_entries WHERE title = '重复信访事项'")
            .fetch_one(app.store.reader())
            .await
            .unwrap()
            .get("id");
    // The entry page edits at the version read; a stale form says so beside the form.
    let entry = format!("/fallback/lists/negative/{id}");
    let res = post(
        &entry,
        vec![
            ("version", "1".into()),
            ("category", "petition".into()),
            ("title", "重复信访事项".into()),
            ("description", "同一事项已有信访处理意见的".into()),
            ("right_channel", "区信访局（人民来访接待中心）".into()),
            ("reason", "写明接待地点".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post(
        &entry,
        vec![
            ("version", "1".into()),
            ("category", "petition".into()),
            ("title", "旧版本上的修改".into()),
            ("right_channel", "区信访局".into()),
            ("reason", "并发".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("已被他人修改"), "{html}");
    assert!(html.contains("value=\"旧版本上的修改\""));
    // Retire by form; the page shows the history.
    let res = post(
        &format!("{entry}/active"),
        vec![
            ("version", "2".into()),
            ("active", "0".into()),
            ("reason", "并入涉访事项".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = admin
        .client
        .get(app.url(&entry))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("已停用"));
    for words in [
        "第3版",
        "第2版",
        "第1版",
        "并入涉访事项",
        "写明接待地点",
        "信访工作联席会议意见",
    ] {
        assert!(html.contains(words), "{words}");
    }
    // Tags, liaisons and experts by form.
    let res = post(
        "/fallback/lists/tags",
        vec![
            ("org_id", district.to_string()),
            ("name", "政策不明确".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let approver = app.login("approver").await.user["id"].as_i64().unwrap();
    let mz = app.org_id("dept-mz").await;
    let res = post(
        &format!("/fallback/lists/liaisons/{mz}"),
        vec![("user_id", approver.to_string()), ("phone", "12".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("联系电话应为手机号或带区号的办公电话"));
    let res = post(
        &format!("/fallback/lists/liaisons/{mz}"),
        vec![
            ("user_id", approver.to_string()),
            ("phone", "0571-87010001".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post(
        "/fallback/lists/experts",
        vec![
            ("org_id", district.to_string()),
            ("name", "孙规划".into()),
            ("field", "城乡规划".into()),
            ("affiliation", "示范市规划设计研究院".into()),
            ("phone", "13905710002".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = admin
        .client
        .get(app.url("/fallback/lists"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for words in [
        "政策不明确",
        "0571-87010001",
        "孙规划",
        "示范市规划设计研究院",
    ] {
        assert!(html.contains(words), "{words}");
    }
    // A street admin's page offers no edit of the district's entry, and the form refuses.
    let street_admin = account(&app, app.org_id("xingfu").await, "xingfu.admin", "admin").await;
    let html = street_admin
        .client
        .get(app.url(&entry))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("id=\"edit-entry\""));
    let res = street_admin
        .client
        .post(app.url(&format!("{entry}/active")))
        .form(&[
            ("version", "3"),
            ("active", "1"),
            ("reason", "越级"),
            ("_csrf", street_admin.csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
