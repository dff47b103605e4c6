//! The negative list in headless Chromium: the city administrator adds an entry on the
//! lists page (a refused first try keeps what was typed), then a resident with no account
//! opens the public list, picks their street and finds the entry under its category with
//! the channel to go to; the print view leaves out the controls.

mod common;

use common::browser::{browser, login, screenshot_dir, start_driver, wait_css};
use common::{Db, TestApp};
use fantoccini::{Client, Locator};
use onewindow_store::fallback::reference;

on_both_backends!(an_admin_adds_an_entry_and_a_resident_reads_it_on_the_public_list);

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn an_admin_adds_an_entry_and_a_resident_reads_it_on_the_public_list(app: TestApp) {
    reference::seed_demo(&app.store, app.clock_now())
        .await
        .unwrap();
    let driver = start_driver().await;
    let district = app.org_id("district").await;

    // The administrator finds the page from the navigation: 办不成事, then its sub-navigation.
    let admin = browser(&driver).await;
    login(&admin, &app, "admin").await;
    wait_css(&admin, "#current-user").await;
    click(&admin, "nav a[href='/fallback']").await;
    wait_css(&admin, ".subnav").await;
    click(&admin, ".subnav a[href='/fallback/lists']").await;
    wait_css(&admin, "#new-entry").await;
    click(&admin, &format!("#entry-org option[value='{district}']")).await;
    click(&admin, "#entry-category option[value='against_policy']").await;
    type_into(&admin, "#entry-title", "要求将违法建设登记为合法房产的请求").await;
    type_into(&admin, "#entry-channel", "区综合行政执法局").await;
    // The reason is left out: the form comes back with it named, the rest kept. The
    // browser's own `required` check is lifted so the server's answer is what is tested.
    admin
        .execute(
            "document.getElementById('entry-reason').removeAttribute('required')",
            vec![],
        )
        .await
        .unwrap();
    click(&admin, "#new-entry button[type='submit']").await;
    let errors = wait_css(&admin, "#form-errors").await.text().await.unwrap();
    assert!(errors.contains("请填写调整理由"), "{errors}");
    let kept = admin
        .find(Locator::Css("#entry-title"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(kept, "要求将违法建设登记为合法房产的请求");
    screenshot(&admin, &app, "fallback-lists-refused").await;
    type_into(&admin, "#entry-reason", "区政府专题会议决定列入").await;
    click(&admin, "#new-entry button[type='submit']").await;
    let done = wait_css(&admin, "#done").await.text().await.unwrap();
    assert!(done.contains("负面清单已更新"), "{done}");
    let table = text_of(&admin, "#negative-entries").await;
    assert!(table.contains("要求将违法建设登记为合法房产的请求"));
    screenshot(&admin, &app, "fallback-lists").await;

    // A resident, no account: the public list, for their street.
    let resident = browser(&driver).await;
    resident
        .goto(&app.url("/fallback/negative-list"))
        .await
        .unwrap();
    wait_css(&resident, "#place-form").await;
    click(&resident, "#org option[value='xingfu']").await;
    click(&resident, "#place-form button[type='submit']").await;
    let note = wait_css(&resident, "#place-note")
        .await
        .text()
        .await
        .unwrap();
    assert!(note.contains("幸福街道"), "{note}");
    let policy = text_of(&resident, "#category-against_policy").await;
    assert!(
        policy.contains("要求将违法建设登记为合法房产的请求"),
        "{policy}"
    );
    assert!(policy.contains("区综合行政执法局"));
    let petition = text_of(&resident, "#category-petition").await;
    assert!(
        petition.contains("信访事项") && petition.contains("区信访局"),
        "{petition}"
    );
    let headings: Vec<String> = {
        let mut out = Vec::new();
        for h in resident
            .find_all(Locator::Css(".negative-category h2"))
            .await
            .unwrap()
        {
            out.push(h.text().await.unwrap());
        }
        out
    };
    assert_eq!(
        headings,
        [
            "涉法事项",
            "涉诉事项",
            "涉访事项",
            "违反现行政策的请求",
            "其他明确不予办理的事项"
        ]
    );
    // Printed, the page keeps the list and drops the controls.
    let print_hidden = resident
        .execute(
            "const sheet = [...document.styleSheets].flatMap(s => [...s.cssRules]) \
               .filter(r => r.media && r.media.mediaText.includes('print')) \
               .flatMap(r => [...r.cssRules]).map(r => r.cssText).join(' '); \
             return sheet.includes('.no-print') && document.getElementById('place-form').classList.contains('no-print');",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(print_hidden, serde_json::Value::Bool(true));
    assert!(resident
        .find(Locator::Css("#print-list[data-print]"))
        .await
        .is_ok());
    screenshot(&resident, &app, "fallback-negative-list").await;
    admin.close().await.unwrap();
    resident.close().await.unwrap();
}
