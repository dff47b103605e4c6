//! Fees in headless Chromium: a 先缴费后出件 case waits at the window until the clerk takes
//! the fee; the clerk records the payment from the case page by keyboard and mouse, prints
//! the receipt (amount in capital numerals), then hands the result over; the supervisor
//! prints the day's cash-up.

mod common;

use base64::Engine as _;
use common::browser::{browser, login, screenshot_dir, start_driver, wait_css, Driver};
use common::{Db, TestApp};
use fantoccini::{Client, Locator};
use serde_json::json;

/// 社会保障卡补领: 即办, 20.00 元/张, 先缴费后出件.
const CARD: &str = "RS-0402-01";

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn is_present(c: &Client, css: &str) -> bool {
    !c.find_all(Locator::Css(css)).await.unwrap().is_empty()
}

/// The page as Chromium prints it (A4, print CSS) through WebDriver's Print Page command,
/// kept beside the screenshots. SQLite runs only: the pages are the same on both backends.
async fn print_pdf(driver: &Driver, c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let session = c.session_id().await.unwrap().expect("a session");
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/session/{session}/print", driver.url))
        .json(&json!({ "orientation": "portrait", "page": { "width": 21.0, "height": 29.7 }, "background": false }))
        .send()
        .await
        .expect("print command")
        .json()
        .await
        .expect("print answer");
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(res["value"].as_str().expect("print gives base64"))
        .expect("base64");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    std::fs::write(screenshot_dir().join(format!("{name}.pdf")), pdf).unwrap();
}

async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn a_fee_is_paid_at_the_window_and_its_receipt_printed(app: TestApp) {
    // Taken in and finished at the window through the API; the fee is taken on the page.
    let api = app.login("clerk").await;
    let (_, case) = api
        .post(
            "/api/v1/cases",
            json!({"item_code": CARD, "applicant_kind": "person", "applicant_name": "赵六",
                   "applicant_id": "11010519491231002X", "applicant_phone": "13800138000",
                   "materials": {"居民身份证": "submitted"}}),
        )
        .await;
    let id = case["id"].as_i64().expect("a case");
    let (_, case) = api
        .post(
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "complete_at_window", "opinion": "当场制卡", "version": case["version"]}),
        )
        .await;
    assert_eq!(case["state"], "result_ready", "{case}");

    let driver = start_driver().await;
    let clerk = browser(&driver).await;
    login(&clerk, &app, "clerk").await;
    wait_css(&clerk, "#current-user").await;
    clerk.goto(&app.url(&format!("/cases/{id}"))).await.unwrap();
    wait_css(&clerk, "#payments").await;
    assert!(text_of(&clerk, "#fee-blocks-issue")
        .await
        .contains("20.00 元"));
    assert!(
        !is_present(&clerk, "#do-issue").await,
        "出件 waits for the fee"
    );
    assert_eq!(text_of(&clerk, "#fee-outstanding").await, "20.00 元");
    screenshot(&clerk, &app, "fee-case-unpaid").await;

    // Mobile payment, the quantity kept at one card, the amount left blank (all that is owed).
    clerk
        .find(Locator::Css("#pay-method-mobile"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    clerk
        .find(Locator::Css("#pay-note"))
        .await
        .unwrap()
        .send_keys("微信 4200001234")
        .await
        .unwrap();
    clerk
        .find(Locator::Css("#do-pay"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css(&clerk, "#payment-receipt").await;
    assert_eq!(text_of(&clerk, "#receipt-no").await, "JF202611230001");
    assert_eq!(text_of(&clerk, "#receipt-words").await, "人民币贰拾元整");
    assert_eq!(text_of(&clerk, "#receipt-amount").await, "¥20.00");
    assert!(text_of(&clerk, "#paid-notice").await.contains("20.00 元"));
    assert!(text_of(&clerk, "#payment-receipt")
        .await
        .contains("移动支付"));
    screenshot(&clerk, &app, "fee-receipt").await;
    print_pdf(&driver, &clerk, &app, "fee-receipt").await;
    // The print button is wired (a data-print attribute, no inline script).
    assert!(is_present(&clerk, "#print-receipt[data-print]").await);

    // Back on the case: paid, so the result can be handed over.
    clerk.goto(&app.url(&format!("/cases/{id}"))).await.unwrap();
    wait_css(&clerk, "#payment-list").await;
    assert_eq!(text_of(&clerk, "#fee-outstanding").await, "已缴清");
    assert!(!is_present(&clerk, "#fee-blocks-issue").await);
    clerk
        .find(Locator::Css("#do-issue"))
        .await
        .expect("出件 offered once paid")
        .click()
        .await
        .unwrap();
    let state = clerk
        .wait()
        .for_element(Locator::XPath(
            "//*[@id='case-state'][normalize-space()='已出件']",
        ))
        .await;
    assert!(state.is_ok(), "issued after payment");

    // The supervisor prints the day's cash-up of the hall.
    let hall = app.org_id("xingfu-hall").await;
    let sup = browser(&driver).await;
    login(&sup, &app, "supervisor").await;
    wait_css(&sup, "#current-user").await;
    sup.goto(&app.url(&format!("/window/cashup?hall={hall}&day=2026-11-23")))
        .await
        .unwrap();
    wait_css(&sup, "#cashup").await;
    assert_eq!(
        text_of(&sup, "#cashup-methods dd[data-method='移动支付']").await,
        "20.00 元"
    );
    assert!(text_of(&sup, "#cashup-payments")
        .await
        .contains("JF202611230001"));
    assert!(text_of(&sup, "#cashup-total").await.contains("20.00"));
    screenshot(&sup, &app, "fee-cashup").await;
    print_pdf(&driver, &sup, &app, "fee-cashup").await;
    clerk.close().await.unwrap();
    sup.close().await.unwrap();
}

/// 居住证补领: 10 working days, 20.00 元/张, 先缴费后出件.
const PERMIT: &str = "GA-0104";

async fn approved_at_the_window_paid_and_handed_over_in_one_visit(app: TestApp) {
    // The hall's police representative (首席代表) approves 居住证补领 at the window: the
    // catalog flags the item for it and the clerk holds the department's grant.
    let admin = app.login("admin").await;
    let (_, item) = admin.get(&format!("/api/v1/catalog/items/{PERMIT}")).await;
    let mut flagged = item["item"].clone();
    flagged["approve_at_window"] = json!(true);
    let (s, report) = admin
        .put(
            &format!("/api/v1/catalog/items/{PERMIT}"),
            json!({"item": flagged, "version": item["version"]}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{report}");
    let clerk_id = app.login("clerk").await.user["id"].clone();
    let police = app.org_id("dept-ga").await;
    let (s, grant) = admin
        .put(
            &format!("/api/v1/users/{clerk_id}/window-grants/{police}"),
            json!({}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{grant}");
    let required: Vec<String> = flagged["materials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["required"] == true)
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();

    // At the window: taken in, approved and the receipt printed, in one sitting.
    let driver = start_driver().await;
    let clerk = browser(&driver).await;
    login(&clerk, &app, "clerk").await;
    wait_css(&clerk, "#current-user").await;
    clerk
        .goto(&app.url(&format!("/window/intake?item={PERMIT}")))
        .await
        .unwrap();
    wait_css(&clerk, "#intake-form").await;
    click(&clerk, "input[name=applicant_kind][value=person]").await;
    fill(&clerk, "#applicant_name", "孙八").await;
    fill(&clerk, "#applicant_id", "11010519491231002X").await;
    fill(&clerk, "#applicant_phone", "13800138000").await;
    for name in &required {
        click(&clerk, &format!("input[aria-label='{name} 已提交']")).await;
    }
    click(&clerk, "#approve_at_window").await;
    fill(&clerk, "#window_opinion", "证件核验无误，同意补领").await;
    click(&clerk, "#intake-submit").await;
    let decision = wait_css(&clerk, "#intake-decision")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        decision.contains("当场审批") || decision.contains("受理"),
        "{decision}"
    );
    click(&clerk, "#intake-confirm").await;
    wait_css(&clerk, "#receipt").await;
    let url = clerk.current_url().await.unwrap();
    let id: i64 = url
        .path()
        .trim_start_matches("/cases/")
        .trim_end_matches("/receipt")
        .parse()
        .expect("the receipt of the new case");

    // The fee, then the result handed over: the case page offers 出件 only once paid.
    clerk.goto(&app.url(&format!("/cases/{id}"))).await.unwrap();
    wait_css(&clerk, "#payments").await;
    assert_eq!(text_of(&clerk, "#case-state").await, "待出件");
    assert_eq!(text_of(&clerk, "#fee-outstanding").await, "20.00 元");
    assert!(
        !is_present(&clerk, "#do-issue").await,
        "出件 waits for the fee"
    );
    click(&clerk, "#pay-method-cash").await;
    click(&clerk, "#do-pay").await;
    wait_css(&clerk, "#payment-receipt").await;
    assert_eq!(text_of(&clerk, "#receipt-amount").await, "¥20.00");
    assert_eq!(text_of(&clerk, "#receipt-words").await, "人民币贰拾元整");
    print_pdf(&driver, &clerk, &app, "window-approval-fee-receipt").await;
    clerk.goto(&app.url(&format!("/cases/{id}"))).await.unwrap();
    wait_css(&clerk, "#payment-list").await;
    click(&clerk, "#do-issue").await;
    let issued = clerk
        .wait()
        .for_element(Locator::XPath(
            "//*[@id='case-state'][normalize-space()='已出件']",
        ))
        .await;
    assert!(issued.is_ok(), "handed over once paid");
    // One visit: taken in, approved, paid and handed over without coming back.
    let visits = clerk
        .find_all(Locator::Css("#case-visits tbody tr"))
        .await
        .unwrap();
    assert_eq!(visits.len(), 1, "one trip to the hall");
    screenshot(&clerk, &app, "window-approval-issued").await;

    // What the page did is what was recorded: approved at the window, by the clerk.
    let api = app.login("clerk").await;
    let (_, case) = api.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(case["state"], "issued", "{case}");
    let actions: Vec<&str> = case["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"approve_at_window"), "{actions:?}");
    assert!(!actions.contains(&"route"), "never sent to the department");
    clerk.close().await.unwrap();
}

async fn click(c: &Client, css: &str) {
    wait_css(c, css).await.click().await.unwrap();
}

async fn fill(c: &Client, css: &str, value: &str) {
    let field = wait_css(c, css).await;
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

on_both_backends!(
    a_fee_is_paid_at_the_window_and_its_receipt_printed,
    approved_at_the_window_paid_and_handed_over_in_one_visit
);
