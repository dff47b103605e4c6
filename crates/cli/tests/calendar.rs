//! The calendar import as an administrator meets it (issue 10), through the API and the
//! page, on SQLite and PostgreSQL: it takes the words the page shows (放假 / 上班 and the
//! Chinese header as well as holiday / makeup_workday), refuses a year that is not a whole
//! notice unless the administrator ticks that it is meant, and previews per year which
//! dates change from what to what before anything is replaced. The shipped years 2020–2026
//! are loaded at start; 2027 is not.

mod common;

use common::{Api, TestApp};
use onewindow_store::demo::DEMO_PASSWORD;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

on_both_backends!(
    the_shipped_years_are_2020_to_2026,
    an_import_takes_the_words_the_page_shows,
    a_partial_year_is_refused_unless_the_administrator_confirms_it,
    the_page_asks_for_the_checkbox_and_carries_it_to_the_confirmation,
    the_preview_says_which_dates_change_from_what_to_what,
);

/// Shaped like a notice, NOT the real 2027 arrangement.
const NOTICE_2027: &str = include_str!("data/test-calendar-2027.csv");

/// Audit events other than logins: what was changed.
async fn changes(app: &TestApp) -> i64 {
    app.store.settle_audit().await.unwrap();
    sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE action NOT LIKE 'auth.%'")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("n")
}

async fn calendar(admin: &Api) -> Value {
    admin.get("/api/v1/calendar").await.1
}

fn csrf_of(html: &str) -> String {
    let i = html
        .find("name=\"_csrf\" value=\"")
        .expect("page has a CSRF field")
        + 20;
    html[i..i + 64].to_string()
}

async fn page(api: &Api, app: &TestApp, path: &str) -> String {
    api.client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn post_form(api: &Api, app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, String) {
    let csrf = csrf_of(&page(api, app, "/admin/calendar").await);
    let mut fields = vec![("_csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let res = api
        .client
        .post(app.url("/admin/calendar"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn the_shipped_years_are_2020_to_2026(app: TestApp) {
    let admin = app.login("admin").await;
    let cal = calendar(&admin).await;
    assert_eq!(
        cal["years"],
        json!([2020, 2021, 2022, 2023, 2024, 2025, 2026])
    );
    // 2020's Spring Festival as extended: Thursday 01-23 + 1 working day = Monday 02-03.
    let (_, due) = admin.get("/api/v1/calendar/due?date=2020-01-23&n=1").await;
    assert_eq!(due["due"], "2020-02-03");
    // 2021-02-07 (a Sunday) is a make-up working day.
    let (_, due) = admin.get("/api/v1/calendar/due?date=2021-02-06&n=1").await;
    assert_eq!(due["due"], "2021-02-07");
    let (s, p) = admin.get("/api/v1/calendar/due?date=2019-12-30&n=1").await;
    assert_eq!(
        (s, p["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("year_not_covered")),
        "a year without data stays an error"
    );
}

/// The test notice written the way the page describes it: Chinese header, 放假 and 上班.
fn in_page_words() -> String {
    NOTICE_2027
        .replace("date,kind,festival", "日期,类型,节日")
        .replace(",holiday,", ",放假,")
        .replace(",makeup_workday,", ",上班,")
}

async fn an_import_takes_the_words_the_page_shows(app: TestApp) {
    let admin = app.login("admin").await;
    let csv = in_page_words();
    assert!(!csv.contains("holiday") && !csv.contains("makeup_workday"));
    let (s, preview) = admin
        .post_text("/api/v1/calendar/import", "text/csv", &csv)
        .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["diff"][0]["added"].as_array().unwrap().len(), 34);
    let (s, done) = admin
        .post_text("/api/v1/calendar/import?confirm=true", "text/csv", &csv)
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    // Stored in the stable spelling: exactly what the notice in English words gives.
    let cal = calendar(&admin).await;
    let of_2027: Vec<&Value> = cal["days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["date"].as_str().unwrap().starts_with("2027"))
        .collect();
    assert_eq!(of_2027.len(), 34);
    assert!(of_2027
        .iter()
        .any(|d| d["date"] == "2027-02-14" && d["kind"] == "makeup_workday"));
    assert!(of_2027
        .iter()
        .any(|d| d["date"] == "2027-02-05" && d["kind"] == "holiday"));
    let (_, again) = admin
        .post_text("/api/v1/calendar/import", "text/csv", NOTICE_2027)
        .await;
    assert!(
        again["diff"][0]["dates"].as_array().unwrap().is_empty(),
        "the English spelling of the same notice changes nothing: {again}"
    );
    // The page, too.
    let (s, html) = post_form(&admin, &app, &[("csv", csv.as_str())]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("与已导入的安排完全相同"), "{html}");
    // A word that is neither is refused naming the line and the accepted words.
    let (s, p) = admin
        .post_text(
            "/api/v1/calendar/import",
            "text/csv",
            "日期,类型,节日\n2028-01-01,加班,元旦\n",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let message = p["fields"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("第2行") && message.contains("放假") && message.contains("上班"),
        "{message}"
    );
}

async fn a_partial_year_is_refused_unless_the_administrator_confirms_it(app: TestApp) {
    let admin = app.login("admin").await;
    let partial = "date,kind,festival\n2027-01-01,holiday,元旦\n2027-01-02,holiday,元旦\n";
    let head = changes(&app).await;
    let before = calendar(&admin).await;
    for confirm in ["", "?confirm=true"] {
        let (s, p) = admin
            .post_text(
                &format!("/api/v1/calendar/import{confirm}"),
                "text/csv",
                partial,
            )
            .await;
        assert_eq!(
            (s, p["fields"][0]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("implausible_year")),
            "{p}"
        );
        assert!(
            p["fields"][0]["message"]
                .as_str()
                .unwrap()
                .contains("确认导入不完整的年度安排"),
            "the refusal says how to confirm: {p}"
        );
    }
    assert_eq!(changes(&app).await, head);
    assert_eq!(calendar(&admin).await, before);

    // Confirmed explicitly: the preview says why the year is partial and writes nothing.
    let (s, preview) = admin
        .post_text(
            "/api/v1/calendar/import?allow_partial=true",
            "text/csv",
            partial,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    let reason = preview["diff"][0]["partial"].as_str().unwrap();
    assert!(reason.contains("春节"), "{reason}");
    assert_eq!(changes(&app).await, head);

    // Only an administrator at the root may, checkbox or not.
    let city = app.login("admin").await;
    let (s, _) = city
        .post(
            "/api/v1/users",
            json!({"org_id": app.org_id("xingfu").await, "username": "xf.admin", "display_name": "街道管理",
                   "roles": ["admin"], "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let head = changes(&app).await;
    let street = app.login("xf.admin").await;
    let (s, _) = street
        .post_text(
            "/api/v1/calendar/import?allow_partial=true&confirm=true",
            "text/csv",
            partial,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(changes(&app).await, head);

    let (s, done) = admin
        .post_text(
            "/api/v1/calendar/import?allow_partial=true&confirm=true",
            "text/csv",
            partial,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["years"], json!([2027]));
    assert!(calendar(&admin).await["years"]
        .as_array()
        .unwrap()
        .contains(&json!(2027)));
    // The audit log records the year as partial, with the reason.
    app.store.settle_audit().await.unwrap();
    let detail: String = sqlx::query(
        "SELECT detail FROM audit_events WHERE action = 'calendar.load_year' AND entity_id = '2027'",
    )
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("detail");
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert!(
        detail["partial"].as_str().unwrap().contains("春节"),
        "{detail}"
    );
    // A whole notice carries no such mark.
    let (s, _) = admin
        .post_text(
            "/api/v1/calendar/import?confirm=true",
            "text/csv",
            NOTICE_2027,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.store.settle_audit().await.unwrap();
    let last: String = sqlx::query(
        "SELECT detail FROM audit_events WHERE action = 'calendar.load_year' AND entity_id = '2027' ORDER BY seq DESC",
    )
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("detail");
    assert_eq!(
        serde_json::from_str::<Value>(&last).unwrap()["partial"],
        Value::Null
    );
}

async fn the_page_asks_for_the_checkbox_and_carries_it_to_the_confirmation(app: TestApp) {
    let admin = app.login("admin").await;
    let partial = "date,kind,festival\n2027-01-01,holiday,元旦\n";
    let head = changes(&app).await;
    let form = page(&admin, &app, "/admin/calendar").await;
    assert!(
        form.contains("name=\"allow_partial\"") && form.contains("确认导入不完整的年度安排"),
        "{form}"
    );
    // Without the checkbox: refused on the page, naming the lines and the way out.
    let (s, html) = post_form(&admin, &app, &[("csv", partial)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("第2–2行（2027年）") && !html.contains("calendar-confirm"),
        "{html}"
    );
    // With it: a preview that says the year is partial; the confirmation carries the tick.
    let (s, html) = post_form(&admin, &app, &[("csv", partial), ("allow_partial", "1")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("id=\"preview-partial-2027\"")
            && html.contains("<input type=\"hidden\" name=\"allow_partial\" value=\"1\">"),
        "{html}"
    );
    assert_eq!(changes(&app).await, head, "the preview writes nothing");
    let revision = {
        let i = html.find("name=\"revision\" value=\"").unwrap() + 23;
        html[i..].split('"').next().unwrap().to_string()
    };
    // Confirming without the tick (an edited form) is refused: the rule holds at write time.
    let (s, _) = post_form(
        &admin,
        &app,
        &[("csv", partial), ("confirm", "1"), ("revision", &revision)],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(changes(&app).await, head);
    let (s, html) = post_form(
        &admin,
        &app,
        &[
            ("csv", partial),
            ("confirm", "1"),
            ("revision", &revision),
            ("allow_partial", "1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("已导入2027年的节假日安排"), "{html}");
}

async fn the_preview_says_which_dates_change_from_what_to_what(app: TestApp) {
    let admin = app.login("admin").await;
    let cal = calendar(&admin).await;
    // 2026 as stored, without the 10-10 make-up Saturday and with 12-31 off.
    let mut csv = String::from("date,kind,festival\n");
    for d in cal["days"].as_array().unwrap() {
        let date = d["date"].as_str().unwrap();
        if date.starts_with("2026") && date != "2026-10-10" {
            csv.push_str(&format!(
                "{date},{},{}\n",
                d["kind"].as_str().unwrap(),
                d["festival"].as_str().unwrap()
            ));
        }
    }
    csv.push_str("2026-12-31,放假,元旦\n");
    let (s, preview) = admin
        .post_text("/api/v1/calendar/import", "text/csv", &csv)
        .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(
        preview["diff"][0]["dates"],
        json!([
            {"date": "2026-10-10", "weekday": "星期六",
             "before": {"status": "makeup_workday", "label": "调休上班（国庆节）", "workday": true},
             "after": {"status": "rest_day", "label": "休息日（周末）", "workday": false},
             "effect": "改为休息日"},
            {"date": "2026-12-31", "weekday": "星期四",
             "before": {"status": "workday", "label": "工作日", "workday": true},
             "after": {"status": "holiday", "label": "放假（元旦）", "workday": false},
             "effect": "改为休息日"},
        ])
    );
    // The page shows the same, date by date, in one table per year.
    let (s, html) = post_form(&admin, &app, &[("csv", csv.as_str())]).await;
    assert_eq!(s, StatusCode::OK);
    let at = html
        .find("id=\"preview-2026\"")
        .expect("a section for 2026");
    let section = &html[at..];
    let row = |date: &str| {
        let i = section.find(&format!("<td>{date}</td>")).unwrap();
        section[i..i + section[i..].find("</tr>").unwrap()].to_string()
    };
    let r = row("2026-10-10");
    assert!(
        r.contains("星期六")
            && r.contains("调休上班（国庆节）")
            && r.contains("休息日（周末）")
            && r.contains("改为休息日"),
        "{r}"
    );
    let r = row("2026-12-31");
    assert!(
        r.contains("工作日") && r.contains("放假（元旦）") && r.contains("改为休息日"),
        "{r}"
    );
    assert!(section.contains("共2个日期发生变化"), "{section}");
    // A new year: each listed date goes from 未导入 to its kind.
    let (s, html) = post_form(&admin, &app, &[("csv", NOTICE_2027)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("<td>2027-02-14</td><td>星期日</td><td>未导入（不计算时限）</td><td>调休上班（春节）</td><td>开始计算：工作日</td>"),
        "{html}"
    );
}
