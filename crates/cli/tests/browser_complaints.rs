//! 接诉即办 end to end in headless Chromium: a dispatcher takes a call on the phone
//! intake form by keyboard (category typed, duplicates and suggestions checked), dispatches
//! it; the department signs for it and asks for re-dispatch (退单); the dispatcher accepts
//! and re-dispatches; the new department signs and replies; the callback finds the person
//! not satisfied and reopens it; the department replies again; the second callback is
//! satisfied and closes it; the department's rates move on the figures page. A resident
//! reports on a phone-sized page and follows the request. Screenshots of each page.

mod common;

use common::browser::{
    browser, click, login, screenshot_dir, start_driver, text_of, type_into, wait_css,
};
use common::{Db, TestApp};
use fantoccini::{Client, Locator};

on_both_backends!(a_call_goes_round_the_whole_loop_in_the_browser);

/// Waits until the element's text holds `words` (the page after a submit has the same ids
/// as the one before: the old element goes stale meanwhile).
async fn wait_text(c: &Client, css: &str, words: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if t.contains(words) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {words:?}; last {last:?}")
}

async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// Opens the request from a list page by its number.
async fn open(c: &Client, app: &TestApp, list: &str, no: &str) {
    c.goto(&app.url(list)).await.unwrap();
    c.wait()
        .for_element(Locator::LinkText(no))
        .await
        .unwrap_or_else(|e| panic!("{no} on {list}: {e}"))
        .click()
        .await
        .unwrap();
    wait_css(c, "#request-summary").await;
}

async fn a_call_goes_round_the_whole_loop_in_the_browser(app: TestApp) {
    let driver = start_driver().await;
    let admin = app.login("admin").await;
    let cg = app.org_id("dept-cg").await;
    let mz = app.org_id("dept-mz").await;
    let (s, v) = admin
        .post(
            "/api/v1/complaints/categories",
            serde_json::json!({"code": "city.lights", "name": "路灯照明", "department_id": cg,
                "help_text": "路灯不亮、灯杆倾斜"}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{v}");

    // The dispatcher, keyboard only: Tab from field to field, the category by its code.
    let d = browser(&driver).await;
    login(&d, &app, "dispatcher").await;
    d.goto(&app.url("/complaints/new")).await.unwrap();
    wait_css(&d, "#intake-form").await;
    type_into(&d, "#person_phone", "13900139700\t张大爷\t").await;
    type_into(&d, "#content", "养老驿站门口的路灯不亮，老人晚上出门不安全").await;
    type_into(&d, "#category", "city.lights").await;
    type_into(&d, "#address", "幸福小区南门").await;
    click(&d, "#check-submit").await;
    wait_css(&d, "#check-result").await;
    assert!(text_of(&d, "#check-result").await.contains("没有同一号码"));
    screenshot(&d, &app, "complaints-intake-check").await;
    click(&d, "#intake-submit").await;
    wait_css(&d, "#intake-done").await;
    let no = text_of(&d, "#intake-done")
        .await
        .split("诉求编号 ")
        .nth(1)
        .unwrap()
        .split('，')
        .next()
        .unwrap()
        .to_string();
    assert!(no.starts_with("SQ"), "{no}");
    screenshot(&d, &app, "complaints-request-new").await;
    click(&d, &format!("#lead option[value='{cg}']")).await;
    click(&d, "#dispatch-submit").await;
    wait_text(&d, "#request-state", "已派单").await;

    // 区城市管理局 signs for it, then asks for re-dispatch with its reason.
    let h = browser(&driver).await;
    login(&h, &app, "handler").await;
    h.goto(&app.url("/complaints/inbox")).await.unwrap();
    wait_css(&h, "#to-sign").await;
    screenshot(&h, &app, "complaints-inbox").await;
    open(&h, &app, "/complaints/inbox", &no).await;
    click(&h, "#sign-submit").await;
    wait_text(&h, "#request-state", "已签收").await;
    click(&h, "#ask-return summary").await;
    type_into(
        &h,
        "#reason",
        "驿站门前照明属民政养老设施，建议由区民政局办理",
    )
    .await;
    click(&h, "#ask-return-submit").await;
    wait_text(&h, "#request-state", "退单待审").await;

    // The dispatcher accepts and re-dispatches to 区民政局.
    open(&d, &app, "/complaints", &no).await;
    assert!(text_of(&d, "#return-reason").await.contains("民政"));
    click(&d, &format!("#relead option[value='{mz}']")).await;
    click(&d, "#accept-return").await;
    wait_text(&d, "#request-lead", "区民政局").await;

    // 区民政局 signs and replies.
    let a = browser(&driver).await;
    login(&a, &app, "approver").await;
    open(&a, &app, "/complaints/inbox", &no).await;
    click(&a, "#sign-submit").await;
    wait_text(&a, "#request-state", "已签收").await;
    type_into(&a, "#content", "已更换灯泡").await;
    click(&a, "#reply-submit").await;
    wait_text(&a, "#request-state", "已答复").await;

    // Callback: not satisfied, not solved — reopened to the same department.
    open(&d, &app, "/complaints", &no).await;
    click(&d, "#satisfaction-dissatisfied").await;
    click(&d, "#solved-no").await;
    screenshot(&d, &app, "complaints-callback").await;
    click(&d, "#callback-submit").await;
    wait_text(&d, "#request-state", "已重办1次").await;

    open(&a, &app, "/complaints/inbox", &no).await;
    type_into(&a, "#content", "已更换整条线路，夜间复查正常").await;
    click(&a, "#reply-submit").await;
    wait_text(&a, "#request-state", "已答复").await;

    open(&d, &app, "/complaints", &no).await;
    click(&d, "#satisfaction-satisfied").await;
    click(&d, "#solved-yes").await;
    click(&d, "#callback-submit").await;
    wait_text(&d, "#request-state", "已办结").await;
    let chain = text_of(&d, "#chain").await;
    for step in [
        "派单到区城市管理局",
        "申请退单",
        "同意退单，改派区民政局",
        "回访（电话）：不满意",
        "回访（电话）：满意",
    ] {
        assert!(chain.contains(step), "{step}: {chain}");
    }
    screenshot(&d, &app, "complaints-request-closed").await;

    // The department's rates moved: one callback of two satisfied.
    let s = browser(&driver).await;
    login(&s, &app, "supervisor").await;
    s.goto(&app.url("/complaints/figures")).await.unwrap();
    wait_css(&s, &format!("#rates-{mz}")).await;
    let row = text_of(&s, &format!("#rates-{mz}")).await;
    assert!(row.contains("50.0%") && row.contains("100.0%"), "{row}");
    screenshot(&s, &app, "complaints-figures").await;

    // A resident on a phone reports and follows the request.
    let p = browser(&driver).await;
    p.set_window_size(390, 900).await.unwrap();
    p.goto(&app.url("/complaints/report")).await.unwrap();
    wait_css(&p, "#report-form").await;
    click(&p, "#report-submit").await;
    wait_text(&p, "#form-errors", "请填写诉求内容").await;
    let street = app.org_id("xingfu").await;
    click(&p, &format!("#org option[value='{street}']")).await;
    type_into(&p, "#content", "楼道灯坏了一个月").await;
    type_into(&p, "#person_name", "钱奶奶").await;
    type_into(&p, "#person_phone", "13900139701").await;
    click(&p, "#report-submit").await;
    wait_css(&p, "#report-done").await;
    screenshot(&p, &app, "complaints-report-done").await;
    let done = text_of(&p, "#report-done").await;
    let code = done
        .split("查询码 ")
        .nth(1)
        .unwrap()
        .split('。')
        .next()
        .unwrap()
        .to_string();
    let mine = done
        .split("诉求编号 ")
        .nth(1)
        .unwrap()
        .split('，')
        .next()
        .unwrap()
        .to_string();
    p.goto(&app.url(&format!("/complaints/track?no={mine}&code={code}")))
        .await
        .unwrap();
    wait_css(&p, "#track-status").await;
    assert_eq!(
        text_of(&p, "#track-status").await,
        "已受理，正在分派到承办部门"
    );
    screenshot(&p, &app, "complaints-track").await;

    // The board shows the new one waiting for dispatch.
    d.goto(&app.url("/complaints")).await.unwrap();
    wait_css(&d, "#to-dispatch").await;
    d.find(Locator::LinkText(&mine)).await.unwrap();
    screenshot(&d, &app, "complaints-board").await;
}
