//! The material catalogue and fee waivers in headless Chromium, where a person notices: the
//! administrator adds a material to an item by picking it from the catalogue in a blank
//! row (not ticked 必需 until they tick it), a 一件事 guide lists the parents' ID card once,
//! and the clerk waives a fee (减免) on the case page, which the cash-up then lists.

mod common;

use common::browser::{browser, login, start_driver, wait_css};
use common::TestApp;
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

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn an_item_takes_a_material_from_the_catalogue(app: TestApp) {
    let api = app.login("admin").await;
    let (_, before) = api.get("/api/v1/catalog/items/WJ-0101").await;
    let rows = before["item"]["materials"].as_array().unwrap().len();

    let driver = start_driver().await;
    let admin = browser(&driver).await;
    login(&admin, &app, "admin").await;
    wait_css(&admin, "#current-user").await;
    admin
        .goto(&app.url("/admin/catalog/items/WJ-0101"))
        .await
        .unwrap();
    wait_css(&admin, "form.item-form").await;
    // The first blank row: nothing ticked; pick 婚姻状况证明 from the catalogue, no name typed.
    let required = admin
        .find(Locator::Css(&format!("[id='materials[{rows}].required']")))
        .await
        .unwrap();
    assert!(
        !required.is_selected().await.unwrap(),
        "not pre-ticked 必需"
    );
    admin
        .find(Locator::Css(&format!(
            "[id='materials[{rows}].material_id']"
        )))
        .await
        .unwrap()
        .select_by_value("M-0017")
        .await
        .unwrap();
    click(&admin, "form.item-form button[type=submit]").await;
    wait_css(&admin, "[role=status]").await;

    let (_, after) = api.get("/api/v1/catalog/items/WJ-0101").await;
    let materials = after["item"]["materials"].as_array().unwrap();
    assert_eq!(materials.len(), rows + 1, "{materials:?}");
    let added = &materials[rows];
    assert_eq!(added["material_id"], "M-0017");
    assert_eq!(added["name"], "婚姻状况证明", "the catalogue's name");
    assert_eq!(added["required"], false);
    // The stored rows kept their materials.
    assert_eq!(
        materials[0]["material_id"],
        before["item"]["materials"][0]["material_id"]
    );

    // A bundle's guide lists the parents' ID card once.
    admin.goto(&app.url("/guide/bundles/YJS-01")).await.unwrap();
    wait_css(&admin, "table.materials").await;
    let names = admin
        .execute(
            "return Array.from(document.querySelectorAll('table.materials tbody td:nth-child(2)'))\
             .map(td => td.firstChild.textContent.trim())",
            vec![],
        )
        .await
        .unwrap();
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let id_cards: Vec<&&str> = names.iter().filter(|n| n.ends_with("居民身份证")).collect();
    assert_eq!(id_cards, [&"夫妻双方居民身份证"], "{names:?}");
    assert_eq!(names.iter().filter(|n| n.contains("结婚证")).count(), 1);
    let table = text_of(&admin, "table.materials").await;
    assert!(
        table.contains("亦即：父母双方居民身份证、居民身份证、监护人居民身份证"),
        "{table}"
    );
    admin.close().await.unwrap();
}

async fn a_fee_is_waived_on_the_case_page(app: TestApp) {
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

    let driver = start_driver().await;
    let clerk = browser(&driver).await;
    login(&clerk, &app, "clerk").await;
    wait_css(&clerk, "#current-user").await;
    clerk.goto(&app.url(&format!("/cases/{id}"))).await.unwrap();
    wait_css(&clerk, "#waive-form").await;
    // Without a reason: refused, said beside the field, nothing recorded.
    click(&clerk, "#waiver-category-disabled").await;
    click(&clerk, "#do-waive").await;
    wait_css(&clerk, "#form-errors").await;
    assert!(text_of(&clerk, "#waive-form").await.contains("减免原因"));
    clerk
        .find(Locator::Css("#waiver-reason"))
        .await
        .unwrap()
        .send_keys("残疾人证 第110105000012号")
        .await
        .unwrap();
    click(&clerk, "#do-waive").await;
    wait_css(&clerk, "#fee-waived").await;
    assert_eq!(text_of(&clerk, "#fee-waived").await, "20.00 元");
    assert_eq!(text_of(&clerk, "#fee-outstanding").await, "已缴清");
    assert!(text_of(&clerk, "#waiver-list").await.contains("残疾人"));

    clerk.goto(&app.url("/window/cashup")).await.unwrap();
    wait_css(&clerk, "#cashup-waivers").await;
    assert!(text_of(&clerk, "#cashup-waivers")
        .await
        .contains("残疾人证 第110105000012号"));
    assert!(text_of(&clerk, "#cashup-waived")
        .await
        .contains("1笔 20.00 元"));
    clerk.close().await.unwrap();
}

on_both_backends!(
    an_item_takes_a_material_from_the_catalogue,
    a_fee_is_waived_on_the_case_page,
);
