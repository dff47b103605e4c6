//! The material catalogue (材料目录), end to end on SQLite and PostgreSQL: the demo's
//! materials with stable ids, a 一件事 bundle's guide and intake asking for each material
//! once (merged by id, not by wording), who may change a material (the catalog's rule:
//! at the owner; a community or district administrator is not a city administrator),
//! items referring only to materials the catalogue holds, and the item form's picker.

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

on_both_backends!(
    the_catalogue_is_seeded_public_and_paged,
    a_bundle_guide_and_intake_ask_for_each_material_once,
    materials_are_changed_only_at_their_owner_and_audited,
    items_refer_only_to_catalogue_materials,
    the_item_form_picks_from_the_catalogue_and_blank_rows_are_not_required,
    administrators_keep_the_catalogue_on_its_pages,
    an_upgraded_installation_adopts_the_shipped_catalogue,
);

fn field(body: &Value) -> (&str, &str) {
    (
        body["fields"][0]["field"].as_str().unwrap_or(""),
        body["fields"][0]["code"].as_str().unwrap_or(""),
    )
}

async fn page(c: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = c.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Audit events of `action` about `entity_id`, after chaining what is pending.
async fn audited(app: &TestApp, action: &str, entity_id: &str) -> Vec<Value> {
    app.store.settle_audit().await.unwrap();
    sqlx::query("SELECT detail FROM audit_events WHERE action = $1 AND entity_id = $2 ORDER BY seq")
        .bind(action)
        .bind(entity_id)
        .fetch_all(app.store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>("detail")).unwrap())
        .collect()
}

/// An administrator account at the demo organisation `org_code`.
async fn admin_at(app: &TestApp, admin: &Api, org_code: &str, username: &str) -> Api {
    let (s, body) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": app.org_id(org_code).await, "username": username,
                   "display_name": "管理员", "roles": ["admin"],
                   "password": onewindow_store::demo::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    app.login(username).await
}

async fn the_catalogue_is_seeded_public_and_paged(app: TestApp) {
    let anon = Api {
        bearer: None,
        ..app.with_key("")
    };
    let (s, id_card) = anon.get("/api/v1/materials/M-0001").await;
    assert_eq!(s, StatusCode::OK, "{id_card}");
    assert_eq!(id_card["name"], "居民身份证");
    assert_eq!(id_card["kind"], "certificate");
    assert_eq!(
        id_card["owner_name"], "示范市",
        "the city owns the demo catalogue"
    );
    let (s, _) = anon.get("/api/v1/materials/M-NONE").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Paged in id order, every page once.
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/materials?limit=40".to_string());
    while let Some(path) = next {
        let (s, body) = anon.get(&path).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        for m in body["items"].as_array().unwrap() {
            seen.push(m["id"].as_str().unwrap().to_string());
        }
        next = body["next"].as_str().map(String::from);
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "in id order, none twice");
    assert_eq!(seen.len() as i64, app.count("materials").await);
    assert!(seen.len() > 100);

    let (s, forms) = anon.get("/api/v1/materials?kind=表格&limit=200").await;
    assert_eq!(s, StatusCode::OK);
    let forms = forms["items"].as_array().unwrap();
    assert!(!forms.is_empty() && forms.iter().all(|m| m["kind"] == "form"));
    let (s, bad) = anon.get("/api/v1/materials?kind=证件").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&bad), ("kind", "unknown"));

    // Items' material rows carry the ids.
    let (_, item) = anon.get("/api/v1/catalog/items/WJ-0101").await;
    assert_eq!(item["item"]["materials"][0]["material_id"], "M-0001");
}

async fn a_bundle_guide_and_intake_ask_for_each_material_once(app: TestApp) {
    // 新生儿出生一件事: four items asking for the parents' ID cards four ways and the
    // marriage certificate twice.
    let anon = app.browser();
    let (s, html) = page(&anon, &app, "/guide/bundles/YJS-01").await;
    assert_eq!(s, StatusCode::OK);
    let rows = |needle: &str| html.matches(&format!("<td>{needle}")).count();
    assert_eq!(rows("夫妻双方居民身份证"), 1, "{html}");
    assert_eq!(rows("父母双方居民身份证"), 0);
    assert_eq!(rows("监护人居民身份证"), 0);
    assert_eq!(rows("居民身份证<"), 0);
    assert_eq!(rows("结婚证"), 1);
    assert_eq!(rows("父母结婚证"), 0);
    assert_eq!(rows("出生医学证明"), 1);
    assert!(
        html.contains("亦即：父母双方居民身份证"),
        "the other wordings are named"
    );

    let clerk = app.login("clerk").await;
    let (_, bundle) = clerk.get("/api/v1/catalog/bundles/YJS-01").await;
    let merged = bundle["materials"].as_array().unwrap();
    for id in ["M-0001", "M-0050", "M-0030"] {
        assert_eq!(
            merged.iter().filter(|m| m["material_id"] == id).count(),
            1,
            "{id}: {merged:?}"
        );
    }

    // The intake form shows the one set, and the intake takes it.
    let (s, form) = page(&clerk.client, &app, "/window/intake?bundle=YJS-01").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        form.matches("<td>夫妻双方居民身份证<br>").count(),
        1,
        "{form}"
    );
    assert_eq!(form.matches("<td>结婚证<br>").count(), 1);
    assert!(!form.contains("<td>父母结婚证") && !form.contains("<td>父母双方居民身份证"));
    let ticks: serde_json::Map<String, Value> = merged
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), json!("submitted")))
        .collect();
    let body = |materials: serde_json::Map<String, Value>| {
        json!({
            "bundle_code": "YJS-01",
            "applicant_kind": "person",
            "applicant_name": "王五",
            "applicant_id": "11010519491231002X",
            "applicant_phone": "13800138000",
            "materials": materials,
        })
    };
    // A wording the merged set no longer lists is not one of its materials.
    let mut old = ticks.clone();
    old.insert("父母双方居民身份证".into(), json!("submitted"));
    let before = app.count("cases").await;
    let (s, refused) = clerk.post("/api/v1/cases", body(old)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(field(&refused), ("materials", "unknown_material"));
    assert_eq!(app.count("cases").await, before);
    let (s, case) = clerk.post("/api/v1/cases", body(ticks)).await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(case["state"], "routed", "{case}");
    let lines = case["materials"].as_array().unwrap();
    assert_eq!(lines.len(), merged.len());
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["name"].as_str().unwrap().ends_with("居民身份证"))
            .count(),
        1,
        "{lines:?}"
    );
}

async fn materials_are_changed_only_at_their_owner_and_audited(app: TestApp) {
    let admin = app.login("admin").await;
    let district = admin_at(&app, &admin, "district", "district.admin").await;
    let community = admin_at(&app, &admin, "yangguang", "yg.admin").await;
    let clerk = app.login("clerk").await;
    let new = json!({"material": {"id": "M-9001", "name": "居住证明", "description": "社区出具", "kind": "proof"}});
    let before = app.count("materials").await;

    // Refusals first: they write nothing.
    let (s, body) = clerk.put("/api/v1/materials/M-9001", new.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = community.put("/api/v1/materials/M-9001", new.clone()).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a community may not own materials: {body}"
    );
    let (_, id_card) = admin.get("/api/v1/materials/M-0001").await;
    let (s, body) = district
        .put(
            "/api/v1/materials/M-0001",
            json!({"material": {"id": "M-0001", "name": "身份证", "kind": "certificate"}, "version": id_card["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the city's material: {body}");
    let (s, body) = admin
        .put(
            "/api/v1/materials/M-9002",
            json!({"material": {"id": "M-9001", "name": "x", "kind": "proof"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&body), ("material.id", "id_mismatch"));
    let (s, body) = admin
        .put(
            "/api/v1/materials/M-9001",
            json!({"material": {"id": "M-9001", "name": " ", "kind": "proof"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&body), ("material.name", "required"));
    let (s, body) = admin
        .put(
            "/api/v1/materials/M-9001",
            json!({"material": {"id": "M-9001", "name": "证".repeat(101), "kind": "proof"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&body).0, "material.name");
    let (s, body) = admin
        .put(
            "/api/v1/materials/M-9001",
            json!({"material": {"id": "M-9001", "name": "x", "kind": "photo"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        app.count("materials").await,
        before,
        "refusals write nothing"
    );
    assert!(audited(&app, "catalog.material_create", "M-9001")
        .await
        .is_empty());

    // The district administrator creates one: the district owns it.
    let (s, created) = district.put("/api/v1/materials/M-9001", new.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["owner_name"], "示范区");
    assert_eq!(created["version"], 1);
    let events = audited(&app, "catalog.material_create", "M-9001").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["after"]["name"], "居住证明");
    // Its owner and the city above may change it; a community administrator may not.
    let change = |name: &str, version: &Value| json!({"material": {"id": "M-9001", "name": name, "description": "社区出具", "kind": "proof"}, "version": version});
    let (s, _) = community
        .put("/api/v1/materials/M-9001", change("x", &json!(1)))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, changed) = admin
        .put(
            "/api/v1/materials/M-9001",
            change("居住证明（社区）", &json!(1)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["owner_name"], "示范区", "an edit keeps the owner");
    let events = audited(&app, "catalog.material_update", "M-9001").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["before"]["name"], "居住证明");
    assert_eq!(events[0]["after"]["name"], "居住证明（社区）");
    // A stale version is a conflict and changes nothing.
    let (s, body) = district
        .put(
            "/api/v1/materials/M-9001",
            change("居住证明（旧）", &json!(1)),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "version_conflict");
    let (_, now) = admin.get("/api/v1/materials/M-9001").await;
    assert_eq!(now["name"], "居住证明（社区）");
    // Saving the same content again writes nothing.
    let (s, same) = district
        .put(
            "/api/v1/materials/M-9001",
            change("居住证明（社区）", &json!(2)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(same["version"], 2);
    assert_eq!(
        audited(&app, "catalog.material_update", "M-9001")
            .await
            .len(),
        1
    );
}

async fn items_refer_only_to_catalogue_materials(app: TestApp) {
    let admin = app.login("admin").await;
    let (_, stored) = admin.get("/api/v1/catalog/items/MZ-0101").await;
    let mut item = stored["item"].clone();
    item["materials"][0]["material_id"] = json!("M-NONE");
    let (s, body) = admin
        .put(
            "/api/v1/catalog/items/MZ-0101",
            json!({"item": item, "version": stored["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        field(&body),
        ("materials[0].material_id", "unknown_material")
    );
    let (_, after) = admin.get("/api/v1/catalog/items/MZ-0101").await;
    assert_eq!(after["version"], stored["version"], "nothing saved");

    // An import may bring its materials along with the items that use them.
    item["materials"][0]["material_id"] = json!("M-9100");
    let (s, report) = admin
        .post(
            "/api/v1/catalog/import",
            json!({"items": [item], "materials": [{"id": "M-9100", "name": "居民身份证（新版）", "kind": "certificate"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["materials"], 1);
    let (_, after) = admin.get("/api/v1/catalog/items/MZ-0101").await;
    assert_eq!(after["item"]["materials"][0]["material_id"], "M-9100");
    let (s, _) = admin.get("/api/v1/materials/M-9100").await;
    assert_eq!(s, StatusCode::OK);
    // A community administrator's import of materials is refused whole.
    let community = admin_at(&app, &admin, "yangguang", "yg.admin").await;
    let before = app.count("materials").await;
    let (s, _) = community
        .post(
            "/api/v1/catalog/import",
            json!({"items": [], "materials": [{"id": "M-9101", "name": "x", "kind": "other"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("materials").await, before);
    // The export carries the catalogue.
    let (s, export) = admin.get("/api/v1/catalog/export").await;
    assert_eq!(s, StatusCode::OK);
    assert!(export["materials"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "M-0001"));
}

async fn the_item_form_picks_from_the_catalogue_and_blank_rows_are_not_required(app: TestApp) {
    let admin = app.login("admin").await;
    let (_, stored) = admin.get("/api/v1/catalog/items/WJ-0101").await;
    let rows = stored["item"]["materials"].as_array().unwrap().len();
    let (s, html) = page(&admin.client, &app, "/admin/catalog/items/WJ-0101").await;
    assert_eq!(s, StatusCode::OK);
    // Each row has the picker, the stored rows with their material selected.
    assert!(html.contains("name=\"materials[0].material_id\""));
    assert!(
        html.contains("<option value=\"M-0001\" selected>"),
        "{html}"
    );
    assert!(html.contains("M-0050 结婚证（证照）"));
    // The blank rows offered for adding are not ticked 必需.
    for i in rows..rows + 3 {
        let input = format!("name=\"materials[{i}].required\" value=\"1\"");
        let at = html.find(&input).unwrap_or_else(|| panic!("row {i}"));
        let rest = &html[at + input.len()..];
        assert!(!rest.starts_with(" checked"), "row {i} is pre-ticked");
        assert!(html.contains(&format!("name=\"materials[{i}].material_id\"")));
    }
}

/// Posts a page form as `api`'s session (its CSRF token in `_csrf`).
async fn post_form(
    app: &TestApp,
    api: &Api,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut fields: Vec<(&str, &str)> = fields.to_vec();
    fields.push(("_csrf", api.csrf.as_str()));
    let res = api
        .client
        .post(app.url(path))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let text = res.text().await.unwrap();
    (status, location.unwrap_or(text))
}

async fn administrators_keep_the_catalogue_on_its_pages(app: TestApp) {
    let admin = app.login("admin").await;
    let district = admin_at(&app, &admin, "district", "district.admin").await;
    let community = admin_at(&app, &admin, "yangguang", "yg.admin").await;
    let clerk = app.login("clerk").await;

    let (s, html) = page(&admin.client, &app, "/admin/materials").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("href=\"/admin/materials\""),
        "in the navigation"
    );
    assert!(html.contains("data-id=\"M-0001\"") && html.contains("居民身份证"));
    assert!(html.contains("id=\"page-next\""), "paged");
    let (s, html) = page(&admin.client, &app, "/admin/materials?kind=form&limit=200").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("《生育服务登记表》") && !html.contains("data-id=\"M-0001\""));
    let (s, html) = page(&admin.client, &app, "/admin/materials?kind=photo").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("材料类型应为以下之一"));
    let (s, _) = page(&clerk.client, &app, "/admin/materials").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A community administrator reads the city's materials but changes none.
    let (s, html) = page(&community.client, &app, "/admin/materials/M-0001").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"material-readonly\"") && !html.contains("id=\"material-form\""));
    let (s, _) = page(&community.client, &app, "/admin/materials/new").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post_form(
        &app,
        &community,
        "/admin/materials/M-0001",
        &[
            ("name", "身份证"),
            ("kind", "certificate"),
            ("version", "1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post_form(
        &app,
        &district,
        "/admin/materials/M-0001",
        &[
            ("name", "身份证"),
            ("kind", "certificate"),
            ("version", "1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the district is not the city");
    let (_, id_card) = admin.get("/api/v1/materials/M-0001").await;
    assert_eq!(id_card["name"], "居民身份证");

    // The district administrator adds one: errors beside the field, what was typed kept.
    let (s, html) = page(&district.client, &app, "/admin/materials/new").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"material-form\""));
    let (s, html) = post_form(
        &app,
        &district,
        "/admin/materials",
        &[
            ("id", "M-9200"),
            ("name", " "),
            ("kind", "proof"),
            ("description", "街道出具"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("role=\"alert\"") && html.contains("材料名称") && html.contains("街道出具")
    );
    let (s, html) = post_form(
        &app,
        &district,
        "/admin/materials",
        &[
            ("id", "M-9200"),
            ("name", "居住证明"),
            ("description", "街道出具"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "no kind chosen");
    assert!(html.contains("请选择材料类型"));
    let (s, location) = post_form(
        &app,
        &district,
        "/admin/materials",
        &[
            ("id", "M-9200"),
            ("name", "居住证明"),
            ("kind", "proof"),
            ("description", "街道出具"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{location}");
    assert_eq!(location, "/admin/materials/M-9200?saved=1");
    let (_, html) = page(&district.client, &app, &location).await;
    assert!(html.contains("id=\"material-saved\"") && html.contains("示范区"));
    let (s, html) = post_form(
        &app,
        &district,
        "/admin/materials",
        &[("id", "M-9200"), ("name", "又一个"), ("kind", "proof")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("已存在"));
    // Edited with the version it was read at; a stale one keeps what was typed.
    let (s, _) = post_form(
        &app,
        &district,
        "/admin/materials/M-9200",
        &[
            ("name", "居住证明（街道）"),
            ("kind", "proof"),
            ("version", "1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, html) = post_form(
        &app,
        &district,
        "/admin/materials/M-9200",
        &[("name", "旧名称"), ("kind", "proof"), ("version", "1")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("已被他人修改") && html.contains("旧名称"));
    let (_, m) = admin.get("/api/v1/materials/M-9200").await;
    assert_eq!(
        (m["name"].as_str(), m["version"].as_i64()),
        (Some("居住证明（街道）"), Some(2))
    );
    assert_eq!(
        audited(&app, "catalog.material_update", "M-9200")
            .await
            .len(),
        1
    );
}

/// Makes the database look like one whose catalog was imported before the material
/// catalogue existed: no materials, no ids in the item versions.
async fn strip_material_ids(app: &TestApp) {
    let rows = sqlx::query("SELECT id, body FROM catalog_item_versions")
        .fetch_all(app.store.reader())
        .await
        .unwrap();
    let mut tx = app.store.begin().await.unwrap();
    for r in &rows {
        let mut body: Value = serde_json::from_str(&r.get::<String, _>("body")).unwrap();
        for m in body["materials"].as_array_mut().unwrap() {
            m.as_object_mut().unwrap().remove("material_id");
        }
        sqlx::query("UPDATE catalog_item_versions SET body = $1 WHERE id = $2")
            .bind(body.to_string())
            .bind(r.get::<i64, _>("id"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM materials")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn an_upgraded_installation_adopts_the_shipped_catalogue(app: TestApp) {
    strip_material_ids(&app).await;
    let admin = app.login("admin").await;
    let (_, old) = admin.get("/api/v1/catalog/bundles/YJS-01").await;
    let names = |b: &Value| -> Vec<String> {
        b["materials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        names(&old).contains(&"父母双方居民身份证".to_string()),
        "without ids the rows merge by name only"
    );
    let (_, before) = admin.get("/api/v1/catalog/items/WJ-0101").await;

    onewindow_store::materials::adopt_shipped(&app.store, app.clock_now())
        .await
        .unwrap();
    let shipped = onewindow_domain::catalog::Catalog::demo();
    assert_eq!(app.count("materials").await, shipped.materials.len() as i64);
    let (_, id_card) = admin.get("/api/v1/materials/M-0001").await;
    assert_eq!(
        id_card["owner_name"], "示范市",
        "the root owns what was shipped"
    );
    let (_, after) = admin.get("/api/v1/catalog/items/WJ-0101").await;
    assert_eq!(
        after["version"].as_i64(),
        before["version"].as_i64().map(|v| v + 1),
        "a new version; the one cases were accepted under stays"
    );
    assert_eq!(after["item"]["materials"][0]["material_id"], "M-0001");
    let events = audited(&app, "catalog.item_version", "WJ-0101").await;
    assert_eq!(events.len(), 1);
    let (_, merged) = admin.get("/api/v1/catalog/bundles/YJS-01").await;
    let merged = names(&merged);
    assert!(
        !merged.contains(&"父母双方居民身份证".to_string()),
        "{merged:?}"
    );
    assert!(merged.contains(&"夫妻双方居民身份证".to_string()));

    // Once only: a catalogue that holds anything is left alone.
    let versions = app.count("catalog_item_versions").await;
    onewindow_store::materials::adopt_shipped(&app.store, app.clock_now())
        .await
        .unwrap();
    assert_eq!(app.count("catalog_item_versions").await, versions);
}
