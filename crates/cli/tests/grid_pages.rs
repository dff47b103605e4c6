//! 网格事件's pages without a browser, on both backends: the grid worker's report form
//! (each refused field named beside itself, what was typed kept, a photo of the wrong type
//! refused with the limits named, nothing stored on a refusal; a good report with its photo
//! and extra field in one request, then the event page with the thumbnail), the report pages
//! refused to staff without `ReportGridEvents` (and their navigation entries shown only to
//! holders), `/grid/mine` showing only my own reports with those waiting for my
//! confirmation first, and the handler's form taking the reply and the after-photos at
//! once (a wrong photo refuses the whole handling).

mod common;

use common::grid::*;

use common::{Api, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    the_report_form_names_each_field_and_keeps_the_input,
    a_photo_of_the_wrong_type_is_refused_with_the_limit_named,
    a_report_with_a_photo_lands_on_its_event_page,
    the_report_pages_need_report_grid_events,
    my_reports_show_only_mine_waiting_ones_first,
    the_handling_form_takes_the_reply_and_after_photos_at_once,
    extra_fields_are_inputs_of_their_datatype,
    the_categories_page_edits_at_the_owner_only,
);

/// Imports the demo street's grids and creates 路灯损坏 with this file's extra fields; its id.
async fn setup(app: &TestApp) -> i64 {
    import_demo_grids(app).await;
    lights_category(app, json!([{"code": "pole", "datatype": "string", "required": false,
                    "description": "灯杆编号", "order": 1},
                    {"code": "kind", "datatype": "single_value_list", "required": false,
                    "description": "灯的种类", "order": 2,
                    "values": [{"key": "street", "name": "路灯"}, {"key": "yard", "name": "庭院灯"}]}])).await
}

/// Posts a multipart form to a page as `api`'s session (its CSRF token as `_csrf`).
async fn post_multipart(
    api: &Api,
    path: &str,
    fields: &[(&str, String)],
    photos: &[(&[u8], &str, &str)],
) -> (StatusCode, String, String) {
    let mut form = Form::new().text("_csrf", api.csrf.clone());
    for (k, v) in fields {
        form = form.text(k.to_string(), v.clone());
    }
    for (bytes, name, mime) in photos {
        form = form.part(
            "photos",
            Part::bytes(bytes.to_vec())
                .file_name(name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
    }
    let res = api
        .client
        .post(format!("{}{path}", api.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

/// The text of the element with `id` (up to its closing tag), or "".
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let Some(start) = html.find(&format!("id=\"{id}\"")) else {
        return "";
    };
    let rest = &html[start..];
    let open = rest.find('>').map_or(0, |i| i + 1);
    let end = rest[open..].find("</").map_or(rest.len(), |i| open + i);
    &rest[open..end]
}

async fn the_report_form_names_each_field_and_keeps_the_input(app: TestApp) {
    let category = setup(&app).await;
    let grid = app.login("grid").await;
    let page = grid.get_text("/grid/report").await;
    assert!(page.contains("id=\"report-form\""), "{page}");
    assert!(page.contains("enctype=\"multipart/form-data\""));
    assert!(page.contains("capture=\"environment\""));
    assert!(page.contains("accept=\"image/jpeg,image/png,image/webp\""));
    assert!(page.contains("路灯不亮、灯杆倾斜"), "the category's help");
    assert!(page.contains("data-lon0="), "the map's projection");
    assert_eq!(page.matches("<polygon").count(), 6, "the street's grids");
    assert!(page.contains(&format!("name=\"attr.{category}.pole\"")));
    assert!(page.contains(&format!("<select id=\"attr.{category}.kind\"")));
    assert!(page.len() < 12_000, "a small page: {} bytes", page.len());

    // No category: named beside the category, the description kept.
    let (s, _, html) = post_multipart(
        &grid,
        "/grid/report",
        &[
            ("description", "3号楼前路灯不亮<夜里>".into()),
            ("address", "阳光小区3号楼".into()),
        ],
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        by_id(&html, "category_id-error").contains("请选择事件类别"),
        "{html}"
    );
    assert!(
        html.contains("3号楼前路灯不亮&lt;夜里&gt;</textarea>"),
        "kept"
    );
    assert!(html.contains("value=\"阳光小区3号楼\""), "kept");
    assert!(!html.contains("请重新选择照片"), "no photo was sent");

    // An empty description and no place: both named, the category and the extra field kept.
    let (s, _, html) = post_multipart(
        &grid,
        "/grid/report",
        &[
            ("category_id", category.to_string()),
            ("description", "  ".into()),
            (&format!("attr.{category}.pole"), "YG-017".into()),
            (&format!("attr.{category}.kind"), "yard".into()),
        ],
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        by_id(&html, "description-error").contains("请填写事件描述"),
        "{html}"
    );
    assert!(
        by_id(&html, "lon-error").contains("请在地图上选点，或填写地址"),
        "{html}"
    );
    assert!(
        html.contains(&format!("value=\"{category}\" checked")),
        "{html}"
    );
    assert!(html.contains("value=\"YG-017\""));
    assert!(html.contains("<option value=\"yard\" selected>"));
    assert!(html.contains("id=\"form-errors\""), "the summary too");

    // A coordinate that is not a number, and only one of the two.
    let (s, _, html) = post_multipart(
        &grid,
        "/grid/report",
        &[
            ("category_id", category.to_string()),
            ("description", "路灯不亮".into()),
            ("lon", "东经116".into()),
            ("lat", "39.9".into()),
        ],
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(by_id(&html, "lon-error").contains("经度须为数字"), "{html}");
    assert!(html.contains("value=\"东经116\""), "kept");
    let (s, _, html) = post_multipart(
        &grid,
        "/grid/report",
        &[
            ("category_id", category.to_string()),
            ("description", "路灯不亮".into()),
            ("lat", "39.9".into()),
        ],
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        by_id(&html, "lon-error").contains("请同时填写经度和纬度"),
        "{html}"
    );
    // An extra field's bad value is named beside it.
    let (s, _, html) = post_multipart(
        &grid,
        "/grid/report",
        &[
            ("category_id", category.to_string()),
            ("description", "路灯不亮".into()),
            ("address", "阳光小区3号楼".into()),
            (&format!("attr.{category}.kind"), "nope".into()),
        ],
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("data-field=\"attribute[kind]\""), "{html}");
    assert_eq!(app.count("grid_events").await, 0, "nothing stored");
}

async fn a_photo_of_the_wrong_type_is_refused_with_the_limit_named(app: TestApp) {
    let category = setup(&app).await;
    let grid = app.login("grid").await;
    let fields = [
        ("category_id", category.to_string()),
        ("description", "路灯不亮".into()),
        ("lon", IN_G1.0.to_string()),
        ("lat", IN_G1.1.to_string()),
    ];
    let (s, _, html) = post_multipart(
        &grid,
        "/grid/report",
        &fields,
        &[(b"GIF89a not a photo", "lamp.gif", "image/gif")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    let error = by_id(&html, "photos-error");
    assert!(
        error.contains("只能上传JPEG、PNG或WebP格式的照片"),
        "{html}"
    );
    assert!(
        error.contains("每张不超过10 MB"),
        "the limit named: {error}"
    );
    assert!(html.contains("请重新选择照片"));
    assert!(html.contains("路灯不亮</textarea>"), "kept");
    assert!(
        html.contains(&format!("value=\"{}\"", IN_G1.0)),
        "the place kept"
    );
    // The second of two photos wrong: the whole report refused, that photo named.
    let (s, _, html) = post_multipart(
        &grid,
        "/grid/report",
        &fields,
        &[
            (GPS_JPEG, "a.jpg", "image/jpeg"),
            (b"%PDF-1.4", "b.jpg", "image/jpeg"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(by_id(&html, "photos-error").contains("第2张照片"), "{html}");
    assert_eq!(app.count("grid_events").await, 0);
    assert_eq!(app.count("grid_event_photos").await, 0);
}

async fn a_report_with_a_photo_lands_on_its_event_page(app: TestApp) {
    let category = setup(&app).await;
    let grid = app.login("grid").await;
    let (s, location, html) = post_multipart(
        &grid,
        "/grid/report",
        &[
            ("category_id", category.to_string()),
            ("description", "3号楼前路灯不亮".into()),
            ("lon", IN_G1.0.to_string()),
            ("lat", IN_G1.1.to_string()),
            ("address", "阳光小区3号楼".into()),
            (&format!("attr.{category}.pole"), "YG-017".into()),
            (&format!("attr.{category}.kind"), "street".into()),
        ],
        &[(GPS_JPEG, "lamp.jpg", "image/jpeg")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{html}");
    let id: i64 = location
        .strip_prefix("/grid/events/")
        .and_then(|r| r.strip_suffix("?reported=1"))
        .unwrap_or_else(|| panic!("{location}"))
        .parse()
        .unwrap();
    let (s, v) = grid.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["event"]["grid_name"], "阳光社区第一网格");
    assert_eq!(v["event"]["reporter_kind"], "grid_worker");
    assert_eq!(v["event"]["visibility"], "public");
    let attrs = v["event"]["attributes"].to_string();
    assert!(
        attrs.contains("YG-017") && attrs.contains("street"),
        "{attrs}"
    );
    assert_eq!(v["photos"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["photos"][0]["phase"], "report");
    assert_eq!(
        v["chain"][0]["detail"]["photos"], 1,
        "in the report's entry"
    );
    let photo = v["photos"][0]["id"].as_i64().unwrap();
    let page = grid.get_text(&location).await;
    assert!(page.contains("id=\"reported-notice\""), "{page}");
    assert!(
        page.contains("<dt>灯杆编号</dt><dd class=\"grid-answer\">YG-017</dd>")
            && page.contains("<dt>灯的种类</dt><dd class=\"grid-answer\">路灯</dd>"),
        "the extra fields in words: {page}"
    );
    assert!(page.len() < 12_000, "a small page: {} bytes", page.len());
    assert!(page.contains(&format!(
        "<a href=\"/api/v1/grid/photos/{photo}\" data-photo=\"{photo}\"><img src=\"/api/v1/grid/photos/{photo}\""
    )));
    // The thumbnail's address answers the session with an image.
    let res = grid
        .client
        .get(app.url(&format!("/api/v1/grid/photos/{photo}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
}

async fn the_report_pages_need_report_grid_events(app: TestApp) {
    setup(&app).await;
    let handler = app.login("handler").await;
    for path in ["/grid/report", "/grid/mine"] {
        let res = handler.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _, _) = post_multipart(
        &handler,
        "/grid/report",
        &[("description", "x".into())],
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let home = handler.get_text("/home").await;
    assert!(!home.contains("href=\"/grid/report\""), "no link offered");
    for user in ["grid", "dispatcher", "clerk"] {
        let api = app.login(user).await;
        let home = api.get_text("/home").await;
        assert!(home.contains("href=\"/grid/report\""), "{user}");
        // 我的上报 is a grid worker's: a desk reports for a resident, who is the reporter.
        assert_eq!(
            home.contains("href=\"/grid/mine\""),
            user == "grid",
            "{user}"
        );
        api.get_text("/grid/report").await;
        api.get_text("/grid/mine").await;
    }
    // Staff who are not grid workers report for a resident.
    let clerk = app.login("clerk").await;
    assert!(clerk
        .get_text("/grid/report")
        .await
        .contains("id=\"reporter_name\""));
    assert!(!app
        .login("grid")
        .await
        .get_text("/grid/report")
        .await
        .contains("id=\"reporter_name\""));
}

async fn report(api: &Api, category: i64, text: &str) -> i64 {
    let (s, v) = api
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": text,
                   "lon": IN_G1.0, "lat": IN_G1.1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["event"]["id"].as_i64().unwrap()
}

async fn act(api: &Api, id: i64, body: Value) {
    let (s, v) = api
        .post(&format!("/api/v1/grid/events/{id}/acts"), body.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{body} → {v}");
}

/// Dispatches, signs and starts event `id` through the API: it is then in progress.
async fn to_in_progress(app: &TestApp, id: i64) -> Api {
    let dispatcher = app.login("dispatcher").await;
    let handler = app.login("handler").await;
    let cg = app.org_id("dept-cg").await;
    act(
        &dispatcher,
        id,
        json!({"act": "dispatch", "department": cg, "co": []}),
    )
    .await;
    act(&handler, id, json!({"act": "sign"})).await;
    act(&handler, id, json!({"act": "start"})).await;
    handler
}

async fn my_reports_show_only_mine_waiting_ones_first(app: TestApp) {
    let category = setup(&app).await;
    let admin = app.login("admin").await;
    let g1 = app.org_id("yangguang-g1").await;
    let (s, v) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": g1, "username": "grid2", "display_name": "周网格",
                   "roles": ["grid_worker"], "password": "spring-2026"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let grid = app.login("grid").await;
    let grid2 = app.login_with("grid2", "spring-2026").await.unwrap();
    let first = report(&grid, category, "孙网格上报的第一件").await;
    let second = report(&grid, category, "孙网格上报的第二件").await;
    let other = report(&grid2, category, "周网格上报的").await;
    // The first is handled: waiting for my confirmation.
    let handler = to_in_progress(&app, first).await;
    let res = handler
        .client
        .post(app.url(&format!("/api/v1/grid/events/{first}/photos?phase=after")))
        .header("x-csrf-token", &handler.csrf)
        .header("content-type", "image/jpeg")
        .body(GPS_JPEG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    act(
        &handler,
        first,
        json!({"act": "handle", "reply": "已更换灯泡", "after_photos": 0}),
    )
    .await;

    let mine = grid.get_text("/grid/mine").await;
    assert!(mine.len() < 8_000, "a small page: {} bytes", mine.len());
    let waiting = &mine[mine.find("id=\"waiting\"").unwrap()..mine.find("id=\"others\"").unwrap()];
    assert!(
        waiting.contains(&format!("data-event=\"{first}\"")),
        "{mine}"
    );
    assert!(
        waiting.contains("已处置待确认"),
        "the public status: {waiting}"
    );
    assert!(!waiting.contains(&format!("data-event=\"{second}\"")));
    let all = &mine[mine.find("id=\"others\"").unwrap()..];
    assert!(all.contains(&format!("href=\"/grid/events/{second}\"")));
    assert!(all.contains("已上报"));
    assert!(
        !mine.contains(&format!("data-event=\"{other}\"")),
        "not mine"
    );
    assert!(!mine.contains("周网格上报的"));
    let mine2 = grid2.get_text("/grid/mine").await;
    assert!(mine2.contains(&format!("data-event=\"{other}\"")));
    for id in [first, second] {
        assert!(!mine2.contains(&format!("data-event=\"{id}\"")), "{mine2}");
    }
    // The waiting event's page offers me the confirmation and the reopening.
    let page = grid.get_text(&format!("/grid/events/{first}")).await;
    assert!(
        page.contains("id=\"confirm-submit\"") && page.contains("id=\"reopen-submit\""),
        "{page}"
    );
    assert!(
        page.contains("id=\"after-photos\""),
        "the after-photo shown"
    );
}

async fn the_handling_form_takes_the_reply_and_after_photos_at_once(app: TestApp) {
    let category = setup(&app).await;
    let grid = app.login("grid").await;
    let id = report(&grid, category, "路灯不亮").await;
    let handler = to_in_progress(&app, id).await;
    let page = handler.get_text(&format!("/grid/events/{id}")).await;
    assert!(page.contains("id=\"act-handle\""), "{page}");
    assert!(page.contains("enctype=\"multipart/form-data\""));
    assert!(page.contains("id=\"after-photos-input\""));
    let (_, v) = handler.get(&format!("/api/v1/grid/events/{id}")).await;
    let version = v["event"]["version"].to_string();
    let path = format!("/grid/events/{id}/act");
    // No photo: refused, named.
    let (s, _, html) = post_multipart(
        &handler,
        &path,
        &[
            ("act", "handle".into()),
            ("version", version.clone()),
            ("reply", "已更换灯泡".into()),
        ],
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(by_id(&html, "act-error").contains("照片"), "{html}");
    // A wrong photo: refused with the limit named, nothing stored.
    let (s, _, html) = post_multipart(
        &handler,
        &path,
        &[
            ("act", "handle".into()),
            ("version", version.clone()),
            ("reply", "已更换灯泡".into()),
        ],
        &[(b"not an image", "after.jpg", "image/jpeg")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    let error = by_id(&html, "act-error");
    assert!(error.contains("每张不超过10 MB"), "{error}");
    assert_eq!(app.count("grid_event_photos").await, 0);
    // The reply and the photo in one request.
    let (s, location, html) = post_multipart(
        &handler,
        &path,
        &[
            ("act", "handle".into()),
            ("version", version),
            ("reply", "已更换灯泡".into()),
        ],
        &[(GPS_JPEG, "after.jpg", "image/jpeg")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{html}");
    assert_eq!(location, format!("/grid/events/{id}"));
    let (_, v) = handler.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(v["event"]["state"], "handled", "{v}");
    assert_eq!(v["event"]["reply"], "已更换灯泡");
    assert_eq!(v["photos"].as_array().unwrap().len(), 1);
    assert_eq!(v["photos"][0]["phase"], "after");
    let page = handler.get_text(&format!("/grid/events/{id}")).await;
    assert!(page.contains("alt=\"处置后照片1\""), "{page}");
}

async fn extra_fields_are_inputs_of_their_datatype(app: TestApp) {
    setup(&app).await;
    let admin = app.login("admin").await;
    let (s, v) = admin
        .post(
            "/api/v1/grid/categories",
            json!({
                "code": "fire_lane", "name": "消防通道堵塞", "default_department": null,
                "respond": {"unit": "hours", "amount": 2},
                "close": {"unit": "calendar_days", "amount": 1},
                "help": "楼道、消防通道被车辆或杂物占用",
                "attributes": [
                    {"code": "seen", "datatype": "datetime", "required": true,
                     "description": "发现时间", "order": 1},
                    {"code": "cars", "datatype": "number", "required": false,
                     "description": "占道车辆数", "order": 2},
                    {"code": "detail", "datatype": "text", "required": false,
                     "description": "现场情况", "order": 3},
                    {"code": "what", "datatype": "multi_value_list", "required": false,
                     "description": "占用物", "order": 4,
                     "values": [{"key": "car", "name": "车辆"}, {"key": "junk", "name": "杂物"},
                                {"key": "stall", "name": "摊位"}]},
                    {"code": "tip", "datatype": "string", "required": false, "variable": false,
                     "description": "请勿与占道人员争执", "order": 5}
                ]
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let cat = v["id"].as_i64().unwrap();
    let grid = app.login("grid").await;
    let page = grid.get_text("/grid/report").await;
    assert!(page.contains(&format!("name=\"attr.{cat}.seen\" type=\"datetime-local\"")));
    assert!(page.contains("发现时间（必填）"));
    assert!(page.contains(&format!("name=\"attr.{cat}.cars\" inputmode=\"decimal\"")));
    assert!(page.contains(&format!("<textarea id=\"attr.{cat}.detail\"")));
    assert_eq!(
        page.matches(&format!("type=\"checkbox\" name=\"attr.{cat}.what\""))
            .count(),
        3
    );
    assert!(page.contains("请勿与占道人员争执"), "a line to read");
    assert!(
        !page.contains(&format!("name=\"attr.{cat}.tip\"")),
        "asking nothing"
    );
    let base = [
        ("category_id", cat.to_string()),
        ("description", "5号楼消防通道被占".into()),
        ("address", "阳光小区5号楼".into()),
    ];
    // A number that is not one, and the required date-time missing: both beside their fields.
    let cars = format!("attr.{cat}.cars");
    let mut fields = base.to_vec();
    fields.push((&cars, "三辆".into()));
    let (s, _, html) = post_multipart(&grid, "/grid/report", &fields, &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("data-field=\"attribute[cars]\""), "{html}");
    assert!(html.contains("data-field=\"attribute[seen]\""), "{html}");
    assert!(html.contains("请填写发现时间"), "{html}");
    assert!(html.contains("value=\"三辆\""), "kept");
    // The browser's local date-time is read as +08:00; the list keeps both choices.
    let mut fields = base.to_vec();
    let seen = format!("attr.{cat}.seen");
    let what = format!("attr.{cat}.what");
    fields.push((&seen, "2026-12-03T09:30".into()));
    fields.push((&what, "car".into()));
    fields.push((&what, "junk".into()));
    let (s, location, html) = post_multipart(&grid, "/grid/report", &fields, &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{html}");
    let id = location
        .strip_prefix("/grid/events/")
        .and_then(|r| r.strip_suffix("?reported=1"))
        .unwrap()
        .to_string();
    let (_, v) = grid.get(&format!("/api/v1/grid/events/{id}")).await;
    let attrs = v["event"]["attributes"].to_string();
    assert!(attrs.contains("2026-12-03T09:30"), "{attrs}");
    assert!(
        attrs.contains("\"car\"") && attrs.contains("\"junk\""),
        "{attrs}"
    );
    let page = grid.get_text(&location).await;
    assert!(
        page.contains("<dd class=\"grid-answer\">车辆、杂物</dd>"),
        "{page}"
    );
}

/// Posts a form to a page as `api` (session and CSRF token): status and body.
async fn post_page_form(api: &Api, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let mut fields: Vec<(&str, &str)> = vec![("_csrf", api.csrf.as_str())];
    fields.extend_from_slice(form);
    let res = api
        .client
        .post(format!("{}{}", api.base, path))
        .form(&fields)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap_or_default())
}

async fn the_categories_page_edits_at_the_owner_only(app: TestApp) {
    let id = setup(&app).await;
    let admin = app.login("admin").await;
    let page = admin.get_text("/grid/categories").await;
    assert!(
        page.contains("路灯损坏") && page.contains("id=\"new-category\""),
        "{page}"
    );
    assert!(
        page.contains(&format!("action=\"/grid/categories/{id}\"")),
        "{page}"
    );
    // A refused new category: each error beside its field, what was typed kept, nothing saved.
    let before = app.count("grid_categories").await;
    let (s, body) = post_page_form(
        &admin,
        "/grid/categories",
        &[
            ("code", "potholes"),
            ("name", "道路坑洼"),
            ("respond_amount", "0"),
            ("respond_unit", "hours"),
            ("close_amount", "3"),
            ("close_unit", "calendar_days"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("响应时限须为正整数"), "{body}");
    assert!(
        body.contains("value=\"potholes\"") && body.contains("value=\"道路坑洼\""),
        "{body}"
    );
    assert_eq!(app.count("grid_categories").await, before);
    // Accepted: listed with its limits in words.
    let (s, body) = post_page_form(
        &admin,
        "/grid/categories",
        &[
            ("code", "potholes"),
            ("name", "道路坑洼"),
            ("respond_amount", "4"),
            ("respond_unit", "hours"),
            ("close_amount", "2"),
            ("close_unit", "working_days"),
            ("help", "拍下坑洼位置"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let page = admin.get_text("/grid/categories").await;
    assert!(
        page.contains("道路坑洼") && page.contains("4小时") && page.contains("2个工作日"),
        "{page}"
    );
    // A street administrator reads the list, is offered no form, and is refused a post.
    let (s, v) = admin
        .post("/api/v1/users", json!({"username": "admin-street", "display_name": "卫管理",
            "org_id": app.org_id("xingfu").await, "roles": ["admin"], "password": "admin-street-pass-1"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let street_admin = app
        .login_with("admin-street", "admin-street-pass-1")
        .await
        .unwrap();
    let page = street_admin.get_text("/grid/categories").await;
    assert!(
        page.contains("道路坑洼")
            && !page.contains("<form method=\"post\" action=\"/grid/categories"),
        "{page}"
    );
    let (s, _) = post_page_form(
        &street_admin,
        "/grid/categories",
        &[
            ("code", "street-own"),
            ("name", "街道自建"),
            ("respond_amount", "1"),
            ("close_amount", "3"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post_page_form(
        &street_admin,
        &format!("/grid/categories/{id}"),
        &[
            ("version", "1"),
            ("name", "改名"),
            ("respond_amount", "1"),
            ("close_amount", "3"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
