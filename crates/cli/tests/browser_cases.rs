//! A case from the window to the resident, in headless Chromium: the clerk takes in 最低生活保障
//! with one 容缺 material owed and prints the receipt; the approver takes, approves and
//! readies the result; the clerk cannot hand it over until the owed material arrives, then
//! does; a resident tracks it anonymously. And the one-time notice when nothing is brought.

mod common;

use common::browser::{browser, screenshot_dir, start_driver, Driver};
use common::{Db, TestApp};
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use onewindow_store::demo::DEMO_PASSWORD;
use std::time::Duration;

/// The demo item: 最低生活保障申请, handled by 区民政局 (where `approver` sits).
const ITEM_CODE: &str = "MZ-0101";
const ITEM_NAME: &str = "最低生活保障申请";
/// The one required material of the item that may be owed (可容缺).
const TOLERATED: &str = "家庭成员收入证明";
const APPLICANT_NAME: &str = "张桂芬";
const APPLICANT_ID: &str = "11010519491231002X";
const APPLICANT_PHONE: &str = "13800138000";
/// Accepted on Monday 2026-11-23: 5 working days to bring the owed material (the default
/// `intake.supplement_days`), 20 promised working days to finish.
const SUPPLEMENT_DUE: &str = "2026-11-30";
const DUE: &str = "2026-12-21";

const WAIT: Duration = Duration::from_secs(10);

// ---- the item as the shipped demo catalog describes it ----

struct CatalogMaterial {
    name: String,
    required: bool,
    tolerable: bool,
}

fn item_materials() -> Vec<CatalogMaterial> {
    let catalog: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/data/demo-catalog.json"
    )))
    .expect("demo catalog is JSON");
    let item = catalog["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["code"] == ITEM_CODE)
        .expect("MZ-0101 in the demo catalog");
    assert_eq!(item["name"], ITEM_NAME);
    item["materials"]
        .as_array()
        .expect("materials")
        .iter()
        .map(|m| CatalogMaterial {
            name: m["name"].as_str().unwrap().to_string(),
            required: m["required"].as_bool().unwrap(),
            tolerable: m["tolerable"].as_bool().unwrap(),
        })
        .collect()
}

fn required_materials() -> Vec<String> {
    item_materials()
        .into_iter()
        .filter(|m| m.required)
        .map(|m| m.name)
        .collect()
}

// ---- small page helpers ----

async fn wait_css(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

/// Waits until the element with this id shows exactly `text` (whitespace-trimmed): the way
/// to wait for a page reached by a form post that lands on the same URL.
async fn wait_id_text(c: &Client, id: &str, text: &str) -> Element {
    let xpath = format!("//*[@id='{id}'][normalize-space()='{text}']");
    match c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let now = match c.find(Locator::Id(id)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => "(absent)".into(),
            };
            panic!("waiting for #{id} to read {text:?} (now {now:?}): {e}")
        }
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn fill(c: &Client, css: &str, value: &str) {
    let field = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

async fn is_present(c: &Client, css: &str) -> bool {
    !c.find_all(Locator::Css(css)).await.unwrap().is_empty()
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

/// The case id from a path `/cases/{id}/…`.
fn case_id_from(path: &str) -> i64 {
    path.strip_prefix("/cases/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a case page: {path}"))
}

async fn login(c: &Client, app: &TestApp, username: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "#username", username).await;
    fill(c, "#password", DEMO_PASSWORD).await;
    click(c, "#login-submit").await;
    wait_css(c, "h1.workbench-title").await;
}

/// A PNG of the whole page (the window is stretched to the page's height for the shot).
/// SQLite runs only: the pages are the same on both backends.
async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let height = c
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(1000)
        .clamp(600, 6000);
    c.set_window_size(1280, height as u32 + 140).await.unwrap();
    let png = c.screenshot().await.unwrap();
    c.set_window_size(1280, 1000).await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// The page as Chromium prints it (A4, print CSS), through the WebDriver "Print Page"
/// command. fantoccini 0.21 has no call for it, so it goes to chromedriver directly.
async fn print_pdf(driver: &Driver, c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let session = c.session_id().await.unwrap().expect("a session");
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/session/{session}/print", driver.url))
        .json(&serde_json::json!({
            "orientation": "portrait",
            "page": { "width": 21.0, "height": 29.7 },
            "background": false
        }))
        .send()
        .await
        .expect("print command")
        .json()
        .await
        .expect("print answer");
    let pdf = base64_decode(res["value"].as_str().expect("print gives base64"));
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    std::fs::write(screenshot_dir().join(format!("{name}.pdf")), pdf).unwrap();
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |b: u8| -> u32 {
        match b {
            b'A'..=b'Z' => (b - b'A') as u32,
            b'a'..=b'z' => (b - b'a' + 26) as u32,
            b'0'..=b'9' => (b - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {b}"),
        }
    };
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= value(*b) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// From the clerk's /window: search the item and open its intake form, filled in for a
/// person; materials are left as they come (all 缺).
async fn start_intake(c: &Client, app: &TestApp) {
    c.goto(&app.url("/window")).await.unwrap();
    fill(c, "#q", "最低生活保障").await;
    click(c, "form.search-form button[type=submit]").await;
    let link = wait_css(
        c,
        &format!("#intake-items a[href='/window/intake?item={ITEM_CODE}']"),
    )
    .await;
    assert_eq!(link.text().await.unwrap(), ITEM_NAME);
    link.click().await.unwrap();
    wait_css(c, "#intake-form").await;
    assert!(text_of(c, "h1").await.contains(ITEM_NAME));
    click(c, "input[name=applicant_kind][value=person]").await;
    fill(c, "#applicant_name", APPLICANT_NAME).await;
    fill(c, "#applicant_id", APPLICANT_ID).await;
    fill(c, "#applicant_phone", APPLICANT_PHONE).await;
}

// ---- the tests ----

async fn tolerance_case_from_window_to_resident(app: TestApp) {
    let materials = item_materials();
    let owed = materials
        .iter()
        .find(|m| m.name == TOLERATED)
        .expect("the tolerable material is in the catalog");
    assert!(owed.required && owed.tolerable);
    assert_eq!(
        materials
            .iter()
            .filter(|m| m.required && m.tolerable)
            .count(),
        1,
        "exactly one tolerable material: owing it alone gives 容缺受理"
    );
    let driver = start_driver().await;

    // 1. The clerk takes the application in, everything but the income proof brought.
    let clerk = browser(&driver).await;
    login(&clerk, &app, "clerk").await;
    start_intake(&clerk, &app).await;
    for m in materials
        .iter()
        .filter(|m| m.required && m.name != TOLERATED)
    {
        click(&clerk, &format!("input[aria-label='{} 已提交']", m.name)).await;
    }
    for m in &materials {
        let (value, label) = if m.required && m.name != TOLERATED {
            ("submitted", "已提交")
        } else {
            ("missing", "缺")
        };
        let radio = clerk
            .find(Locator::Css(&format!(
                "input[aria-label='{} {label}']",
                m.name
            )))
            .await
            .unwrap();
        assert!(radio.is_selected().await.unwrap(), "{} {label}", m.name);
        assert_eq!(radio.attr("value").await.unwrap().as_deref(), Some(value));
    }
    screenshot(&clerk, &app, "case-intake-form").await;
    click(&clerk, "#intake-submit").await;
    // The decision is shown first and confirmed by the clerk.
    let decision = wait_css(&clerk, "#intake-decision")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        decision.contains("容缺受理") && decision.contains(TOLERATED),
        "{decision}"
    );
    click(&clerk, "#intake-confirm").await;

    let receipt = wait_css(&clerk, "#receipt").await;
    let receipt_path = path(&clerk).await;
    let id = case_id_from(&receipt_path);
    assert_eq!(receipt_path, format!("/cases/{id}/receipt"));
    let receipt_text = receipt.text().await.unwrap();
    assert!(receipt_text.contains("受理回执"), "{receipt_text}");
    assert!(receipt_text.contains("容缺受理"), "{receipt_text}");
    assert!(receipt_text.contains(ITEM_NAME), "{receipt_text}");
    assert!(receipt_text.contains(APPLICANT_NAME), "{receipt_text}");
    assert!(
        receipt_text.contains("110105********002X"),
        "the ID number is shown masked: {receipt_text}"
    );
    assert!(
        !clerk.source().await.unwrap().contains(APPLICANT_ID),
        "the full ID number is not on the page"
    );
    let supplement = text_of(&clerk, "#receipt-supplement").await;
    assert!(supplement.contains(SUPPLEMENT_DUE), "{supplement}");
    let owed_items = clerk
        .find_all(Locator::Css("#receipt-supplement li"))
        .await
        .unwrap();
    assert_eq!(owed_items.len(), 1, "{supplement}");
    assert_eq!(owed_items[0].text().await.unwrap(), TOLERATED);
    let due = text_of(&clerk, "#receipt-due").await;
    assert_eq!(due, format!("{DUE}（20个工作日）"));
    let case_no = text_of(&clerk, "#receipt .doc-no")
        .await
        .strip_prefix("编号：")
        .expect("编号：…")
        .to_string();
    assert!(case_no.starts_with("YC20261123"), "{case_no}");
    let query_code = text_of(&clerk, "#query-code").await;
    assert_eq!(query_code.len(), 6, "{query_code}");
    // The full tracking address with this case filled in, and the materials received.
    let track = text_of(&clerk, "#receipt-track-url").await;
    assert_eq!(
        track,
        format!("{}/track?case_no={case_no}&code={query_code}", app.url("")),
        "a bare /track is no use on paper"
    );
    // The QR code beside it, read back from the rendered page, holds the same address.
    let qr = clerk
        .find(Locator::Css("#receipt-qr svg"))
        .await
        .expect("a QR code on the receipt");
    let png = qr.screenshot().await.unwrap();
    assert_eq!(
        decode_qr(&png),
        track,
        "the QR code holds the printed address"
    );
    let received = text_of(&clerk, "#receipt-materials").await;
    assert!(
        !received.contains(TOLERATED),
        "the owed material was not received: {received}"
    );
    assert!(!received.is_empty());
    // What the page shows is what was stored.
    let stored = onewindow_store::cases::get(app.store.reader(), id)
        .await
        .unwrap();
    assert_eq!(stored.case_no, case_no);
    assert_eq!(stored.query_code, query_code);
    assert!(stored.supplement_pending);
    assert_eq!(stored.supplement_due.unwrap().to_string(), SUPPLEMENT_DUE);
    assert_eq!(stored.due_date.unwrap().to_string(), DUE);
    screenshot(&clerk, &app, "case-receipt").await;
    print_pdf(&driver, &clerk, &app, "case-receipt").await;

    // 2. The approver (another device) finds it in the department queue and works it through.
    let approver = browser(&driver).await;
    login(&approver, &app, "approver").await;
    approver.goto(&app.url("/dept")).await.unwrap();
    let row = format!("tr[data-case-no='{case_no}']");
    let row_text = wait_css(&approver, &row).await.text().await.unwrap();
    assert!(row_text.contains("待补容缺材料"), "{row_text}");
    click(&approver, &format!("{row} a")).await;
    wait_id_text(&approver, "case-state", "已分办").await;
    assert_eq!(path(&approver).await, format!("/cases/{id}"));
    click(&approver, "#do-take").await;
    wait_id_text(&approver, "case-state", "审查中").await;
    click(&approver, "#do-approve").await;
    wait_id_text(&approver, "case-state", "审批通过").await;
    click(&approver, "#do-result_ready").await;
    wait_id_text(&approver, "case-state", "待出件").await;
    approver.close().await.unwrap();

    // 3. Back at the window: the result may not be handed over while the material is owed.
    clerk.goto(&app.url("/window")).await.unwrap();
    click(&clerk, &format!("{row} a")).await;
    wait_id_text(&clerk, "case-state", "待出件").await;
    let owed_line = format!("//main//ul/li[normalize-space()='{TOLERATED}：缺']");
    assert!(
        !clerk
            .find_all(Locator::XPath(&owed_line))
            .await
            .unwrap()
            .is_empty(),
        "the case page names the owed material"
    );
    assert!(is_present(&clerk, "#do-supplement_received").await);
    assert!(
        !is_present(&clerk, "#do-issue").await,
        "出件 is not offered while the 容缺 material is owed"
    );
    // A stale page or a hand-made request still asks for 出件: the server refuses it with
    // 422. Post it as the page's own form would (session, CSRF token, version).
    let attempt = clerk
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const f = document.querySelector('form[data-action="supplement_received"]');
               f.querySelector('input[name=action]').value = 'issue';
               const method = document.createElement('input');
               method.type = 'hidden'; method.name = 'method'; method.value = 'window';
               f.appendChild(method);
               // Not f.action: the form's field named "action" shadows that property.
               fetch(f.getAttribute('action'), { method: 'POST', body: new URLSearchParams(new FormData(f)) })
                 .then(async r => done([r.status, await r.text()]));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(attempt[0], 422, "issue while owed");
    assert!(
        attempt[1].as_str().unwrap().contains("容缺材料尚未补齐"),
        "the refusal says why"
    );
    // And in the browser itself: the form (now asking for 出件) is submitted for real.
    clerk
        .execute(
            "document.querySelector('form[data-action=\"supplement_received\"]').submit()",
            vec![],
        )
        .await
        .unwrap();
    let errors = wait_css(&clerk, "#form-errors li[data-field=supplement_pending]").await;
    let message = errors.text().await.unwrap();
    assert!(message.contains("容缺材料尚未补齐"), "{message}");
    assert_eq!(text_of(&clerk, "#case-state").await, "待出件");
    screenshot(&clerk, &app, "case-issue-refused").await;
    // The owed material arrives; then 出件 at the window.
    click(&clerk, "#do-supplement_received").await;
    wait_css(&clerk, "#do-issue").await;
    assert_eq!(path(&clerk).await, format!("/cases/{id}"));
    assert!(!is_present(&clerk, "#form-errors").await);
    assert_eq!(text_of(&clerk, "#case-state").await, "待出件");
    click(
        &clerk,
        "form[data-action=issue] input[name=method][value=window]",
    )
    .await;
    click(&clerk, "#do-issue").await;
    wait_id_text(&clerk, "case-state", "已出件").await;
    let timeline = clerk
        .find_all(Locator::Css("ol.timeline li"))
        .await
        .unwrap();
    assert!(timeline.len() >= 8, "{} events", timeline.len());
    let checklist = text_of(&clerk, "#case-materials").await;
    assert!(
        checklist.contains(&format!("{TOLERATED}：已提交")),
        "the owed material shows as brought: {checklist}"
    );
    let mut who = Vec::new();
    for li in &timeline {
        who.push(
            li.find(Locator::Css(".muted"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    assert!(
        who.iter().any(|w| w.contains("陈审批")) && who.iter().all(|w| !w.contains("approver")),
        "staff read people's names, not login names: {who:?}"
    );
    screenshot(&clerk, &app, "case-issued").await;
    clerk.close().await.unwrap();

    // 4. A resident, not logged in, tracks the case with the receipt in hand.
    let resident = browser(&driver).await;
    resident.goto(&app.url("/track")).await.unwrap();
    fill(&resident, "#case_no", &case_no).await;
    fill(&resident, "#code", &query_code).await;
    click(&resident, "#track-submit").await;
    wait_id_text(&resident, "track-state", "已交付").await;
    assert!(!is_present(&resident, "#track-error").await);
    let history = resident
        .find_all(Locator::Css("#track-result .timeline li"))
        .await
        .unwrap();
    assert!(history.len() >= 7, "{} events", history.len());
    let awaited = text_of(&resident, "#track-awaited").await;
    assert!(!awaited.is_empty());
    let steps = text_of(&resident, "#track-events").await;
    for jargon in ["分办", "领办", "出证"] {
        assert!(!steps.contains(jargon), "{jargon} in {steps}");
    }
    assert!(steps.contains("申请已送到负责审批的部门"), "{steps}");
    let source = resident.source().await.unwrap();
    assert!(
        !source.contains(APPLICANT_ID) && !source.contains(APPLICANT_PHONE),
        "no identifiers on the public page"
    );
    screenshot(&resident, &app, "case-track").await;
    // A wrong code finds nothing, and says so.
    let wrong: String = query_code
        .chars()
        .enumerate()
        .map(|(i, ch)| match (i, ch) {
            (0, '2') => '3',
            (0, _) => '2',
            (_, ch) => ch,
        })
        .collect();
    resident.goto(&app.url("/track")).await.unwrap();
    fill(&resident, "#case_no", &case_no).await;
    fill(&resident, "#code", &wrong).await;
    click(&resident, "#track-submit").await;
    let error = wait_css(&resident, "#track-error").await;
    assert!(error.text().await.unwrap().contains("没有找到该办件"));
    assert!(!is_present(&resident, "#track-result").await);
    screenshot(&resident, &app, "case-track-wrong-code").await;
    resident.close().await.unwrap();
}

async fn nothing_brought_gives_the_one_time_notice(app: TestApp) {
    let driver = start_driver().await;
    let clerk = browser(&driver).await;
    login(&clerk, &app, "clerk").await;
    start_intake(&clerk, &app).await;
    // Enter in a field (what an ID-card reader sends) only shows what would happen.
    let cases_before = app.count("cases").await;
    clerk
        .find(Locator::Css("#applicant_phone"))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    let decision = wait_css(&clerk, "#intake-decision")
        .await
        .text()
        .await
        .unwrap();
    assert!(decision.contains("一次性告知书"), "{decision}");
    assert_eq!(
        app.count("cases").await,
        cases_before,
        "nothing recorded yet"
    );
    // Enter again still does not confirm: the default button only checks again.
    clerk
        .find(Locator::Css("#applicant_phone"))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    wait_css(&clerk, "#intake-preview").await;
    assert_eq!(app.count("cases").await, cases_before);
    screenshot(&clerk, &app, "case-intake-preview").await;
    click(&clerk, "#intake-confirm").await;

    let notice = wait_css(&clerk, "#notice").await;
    let notice_path = path(&clerk).await;
    let id = case_id_from(&notice_path);
    assert_eq!(notice_path, format!("/cases/{id}/notice"));
    assert!(notice.text().await.unwrap().contains("一次性告知书"));
    assert!(
        !text_of(&clerk, "#notice-clerk").await.is_empty(),
        "经办人 is printed"
    );
    assert_eq!(text_of(&clerk, "#notice-query-code").await.len(), 6);
    let mut listed = Vec::new();
    for li in clerk
        .find_all(Locator::Css("#notice-missing li"))
        .await
        .unwrap()
    {
        let name = li
            .find(Locator::Css("strong"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = li.text().await.unwrap();
        // Each material with how to bring it: 原件1份 and where it comes from.
        assert!(line.starts_with(&format!("{name}（原件1份；")), "{line}");
        listed.push(name);
    }
    assert_eq!(
        listed,
        required_materials(),
        "every required material, tolerable ones included, in catalog order"
    );
    assert!(!is_present(&clerk, "#receipt").await);
    let stored = onewindow_store::cases::get(app.store.reader(), id)
        .await
        .unwrap();
    assert_eq!(stored.state.label(), "一次性告知（未受理）");
    assert!(stored.accepted_on.is_none());
    screenshot(&clerk, &app, "case-notice").await;
    print_pdf(&driver, &clerk, &app, "case-notice").await;
    clerk.close().await.unwrap();
}

/// The administrator edits an item field by field: a refused save names each problem
/// beside its field and keeps what was typed; the saved version is what residents read.
async fn admin_edits_an_item_field_by_field(app: TestApp) {
    let driver = start_driver().await;
    let admin = browser(&driver).await;
    login(&admin, &app, "admin").await;
    admin.goto(&app.url("/admin/catalog")).await.unwrap();
    wait_css(&admin, "input[type=file]#file").await;
    screenshot(&admin, &app, "catalog-admin").await;
    admin
        .goto(&app.url(&format!("/admin/catalog/items/{ITEM_CODE}")))
        .await
        .unwrap();
    wait_css(&admin, "form.item-form").await;
    screenshot(&admin, &app, "catalog-edit").await;

    let before = onewindow_store::catalog::get(app.store.reader(), ITEM_CODE)
        .await
        .unwrap()
        .item;
    let blank_row = item_materials().len();
    // A fixed fee without its amount: refused beside the amount field.
    admin
        .find(Locator::Css("[id='fee.kind']"))
        .await
        .unwrap()
        .select_by_value("fixed")
        .await
        .unwrap();
    fill(&admin, "[id='fee.amount']", "").await;
    fill(&admin, "[id='materials[0].copies']", "两").await;
    fill(
        &admin,
        &format!("[id='materials[{blank_row}].name']"),
        "村（居）委会证明",
    )
    .await;
    // A blank row comes unticked: the administrator says it is required.
    click(&admin, &format!("[id='materials[{blank_row}].required']")).await;
    click(&admin, "form.item-form button[type=submit]").await;
    wait_css(&admin, "#form-errors").await;
    let fee_error = text_of(&admin, ".field-invalid:has([id='fee.amount']) .field-error").await;
    assert!(fee_error.contains("金额"), "{fee_error}");
    let row_error = text_of(&admin, "tr.row-invalid .field-error").await;
    assert!(row_error.contains("「两」"), "{row_error}");
    let kept = admin
        .find(Locator::Css(&format!("[id='materials[{blank_row}].name']")))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        kept.as_deref(),
        Some("村（居）委会证明"),
        "what was typed is kept"
    );
    screenshot(&admin, &app, "catalog-edit-errors").await;

    admin
        .find(Locator::Css("[id='fee.kind']"))
        .await
        .unwrap()
        .select_by_value("free")
        .await
        .unwrap();
    fill(&admin, "[id='materials[0].copies']", "2").await;
    click(&admin, "form.item-form button[type=submit]").await;
    assert!(wait_css(&admin, "#saved")
        .await
        .text()
        .await
        .unwrap()
        .contains("第2版"));
    // Through the real page and back: exactly the two changes, nothing else lost or altered.
    let mut expected = before.clone();
    expected.materials[0].copies = 2;
    expected
        .materials
        .push(onewindow_domain::catalog::Material {
            name: "村（居）委会证明".into(),
            form: onewindow_domain::catalog::MaterialForm::Original,
            copies: 1,
            required: true,
            tolerable: false,
            e_cert: false,
            commitment: false,
            source: String::new(),
            note: String::new(),
            material_id: None,
        });
    let after = onewindow_store::catalog::get(app.store.reader(), ITEM_CODE)
        .await
        .unwrap()
        .item;
    assert_eq!(after, expected);

    admin
        .goto(&app.url(&format!("/guide/items/{ITEM_CODE}")))
        .await
        .unwrap();
    let guide = wait_css(&admin, "main").await.text().await.unwrap();
    assert!(
        guide.contains("村（居）委会证明"),
        "the new version is the guide residents read"
    );
    admin.close().await.unwrap();
}

on_both_backends!(
    tolerance_case_from_window_to_resident,
    nothing_brought_gives_the_one_time_notice,
    admin_edits_an_item_field_by_field
);

/// The text of the one QR code in a PNG screenshot.
fn decode_qr(png: &[u8]) -> String {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a PNG screenshot")
        .to_luma8();
    let (w, h) = img.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("a readable QR code").1
}
