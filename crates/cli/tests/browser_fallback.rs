//! 办不成事 end to end in headless Chromium: a resident sends a problem online; the
//! officer finds it on the workbench, takes it, classifies it and asks two departments at
//! once; a department answers in its inbox and another files a refusal report; the
//! officer concludes, tells the person and a second officer checks; the person follows
//! every step on the progress page, also in large text. Screenshots of each page.

mod common;

use common::browser::{
    browser, click, login, screenshot_dir, start_driver, text_of, type_into, wait_css,
};
use common::{Db, TestApp};
use fantoccini::{Client, Locator};

on_both_backends!(a_problem_goes_round_the_whole_loop_in_the_browser);

async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if app.backend != Db::Sqlite {
        return;
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn a_problem_goes_round_the_whole_loop_in_the_browser(app: TestApp) {
    let driver = start_driver().await;
    // The departments asked below, with their liaisons.
    let admin = app.login("admin").await;
    for (code, username) in [("dept-rs", "rs.liaison"), ("dept-cl", "cl.liaison")] {
        let (s, v) = admin
            .post(
                "/api/v1/users",
                serde_json::json!({"org_id": app.org_id(code).await, "username": username,
                    "display_name": "联络员", "roles": ["dept_handler"], "password": "spring-2026"}),
            )
            .await;
        assert_eq!(s, reqwest::StatusCode::CREATED, "{v}");
        // 1+N: the city admin names each department's liaison.
        let (s, v) = admin
            .put(
                &format!("/api/v1/fallback/liaisons/{}", app.org_id(code).await),
                serde_json::json!({"user_id": v["id"], "phone": "13800138222"}),
            )
            .await;
        assert_eq!(s, reqwest::StatusCode::OK, "{v}");
    }
    // The resident, on a phone-sized window.
    let person = browser(&driver).await;
    person.set_window_size(390, 900).await.unwrap();
    person.goto(&app.url("/fallback/apply")).await.unwrap();
    wait_css(&person, "#intake-form").await;
    type_into(&person, "#title", "残疾人就业补贴申请被两个部门相互推").await;
    type_into(
        &person,
        "#description",
        "人社说补贴归残联审核，残联说资金在人社，三个月没有答复。",
    )
    .await;
    // Submitted without the conditions: told which, what was typed kept.
    click(&person, "#intake-submit").await;
    wait_css(&person, "#form-errors").await;
    assert!(text_of(&person, "#form-errors").await.contains("正常渠道"));
    screenshot(&person, &app, "fallback-apply-errors").await;
    click(&person, "#tried_ordinary").await;
    type_into(&person, "#tried_what", "申请残疾人灵活就业社保补贴").await;
    type_into(&person, "#tried_where", "区人社局、区残联").await;
    click(&person, "#multi_department").await;
    click(&person, "#policy_room").await;
    type_into(&person, "#person_name", "赵德胜").await;
    type_into(&person, "#person_phone", "13800138104").await;
    click(&person, "#intake-submit").await;
    wait_css(&person, "#apply-done").await;
    let done = text_of(&person, "#apply-done").await;
    let case_no = done
        .split("案件编号 ")
        .nth(1)
        .unwrap()
        .split('，')
        .next()
        .unwrap()
        .to_string();
    let code = done
        .split("查询码 ")
        .nth(1)
        .unwrap()
        .split('。')
        .next()
        .unwrap()
        .to_string();
    screenshot(&person, &app, "fallback-apply-done").await;

    // The officer takes it from the workbench.
    let officer = browser(&driver).await;
    login(&officer, &app, "fallback").await;
    officer.goto(&app.url("/fallback")).await.unwrap();
    wait_css(&officer, "#unowned").await;
    screenshot(&officer, &app, "fallback-workbench").await;
    officer
        .find(Locator::LinkText(&case_no))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css(&officer, "#take").await;
    click(&officer, "#take").await;
    wait_css(&officer, "#classify").await;
    assert_eq!(text_of(&officer, "#case-owner").await, "赵专员");
    click(&officer, "#classify").await;
    wait_css(&officer, "#open-round").await;
    for code in ["dept-rs", "dept-cl"] {
        let id = app.org_id(code).await;
        click(
            &officer,
            &format!("input[name='departments'][value='{id}']"),
        )
        .await;
    }
    type_into(&officer, "#request", "请明确补贴的审核和拨付部门").await;
    click(&officer, "#open-round").await;
    wait_css(&officer, "#case-tasks").await;
    screenshot(&officer, &app, "fallback-case-coordinating").await;
    let case_url = officer.current_url().await.unwrap().to_string();

    // A department answers in its inbox; a refusal needs its legal basis.
    let approver = browser(&driver).await;
    login(&approver, &app, "approver").await;
    approver.goto(&app.url("/fallback/tasks")).await.unwrap();
    wait_css(&approver, "h1").await;
    // The demo approver is at 区民政局: neither task is theirs, the page lists none.
    assert!(text_of(&approver, "main")
        .await
        .contains("没有待答复的任务"));
    drop(approver);
    let rs = browser(&driver).await;
    login_as(&rs, &app, "rs.liaison", "spring-2026").await;
    rs.goto(&app.url("/fallback/tasks")).await.unwrap();
    wait_css(&rs, "section.card").await;
    let form = "section.card details form";
    rs.find(Locator::Css("section.card details summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(
        &rs,
        &format!("{form} textarea[name='reasons']"),
        "资格审核属残联职责",
    )
    .await;
    rs.find(Locator::Css(&format!("{form} button")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css(&rs, "#form-errors").await;
    assert!(text_of(&rs, "#form-errors").await.contains("法律政策依据"));
    screenshot(&rs, &app, "fallback-tasks-refusal-error").await;
    rs.find(Locator::Css("section.card details summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(
        &rs,
        &format!("{form} textarea[name='legal_basis']"),
        "《残疾人就业条例》第十九条",
    )
    .await;
    rs.find(Locator::Css(&format!("{form} button")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css(&rs, "#no-tasks").await;
    let cl = browser(&driver).await;
    login_as(&cl, &app, "cl.liaison", "spring-2026").await;
    cl.goto(&app.url("/fallback/tasks")).await.unwrap();
    wait_css(&cl, "section.card").await;
    type_into(
        &cl,
        "section.card textarea[name='reply']",
        "残联负责资格审核，已受理申请",
    )
    .await;
    cl.find(Locator::Css("section.card form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css(&cl, "#no-tasks").await;

    // The officer coordinates, concludes and tells the person.
    officer.goto(&case_url).await.unwrap();
    wait_css(&officer, "#summary").await;
    type_into(&officer, "#summary", "残联审核资格，人社拨付资金").await;
    click(&officer, "#coordinated").await;
    wait_css(&officer, "#conclude").await;
    click(&officer, "input[name='outcome'][value='solved']").await;
    type_into(&officer, "#conclusion", "补贴已审核通过，次月发放").await;
    click(&officer, "#conclude").await;
    wait_css(&officer, "#feedback").await;
    type_into(&officer, "#feedback-text", "电话告知赵德胜补贴次月发放").await;
    click(&officer, "#feedback").await;
    wait_css(&officer, "#verify-waiting").await;
    assert!(
        officer.find(Locator::Css("#verify")).await.is_err(),
        "the owner does not check their own case"
    );
    let second = browser(&driver).await;
    login(&second, &app, "fallback2").await;
    second.goto(&case_url).await.unwrap();
    wait_css(&second, "#verify").await;
    type_into(&second, "#verify-note", "电话回访核实").await;
    click(&second, "input[name='satisfaction'][value='satisfied']").await;
    click(&second, "#verify").await;
    // `#case-events` is on the page before the click too: wait until the verification has
    // landed (its form gone), or the owner may load the case before it is committed.
    for _ in 0..100 {
        if second.find(Locator::Css("#verify")).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    wait_css(&second, "#case-events").await;
    officer.goto(&case_url).await.unwrap();
    wait_css(&officer, "#file").await;
    click(&officer, "#file").await;
    // As above: wait for the filing to land before reading the state.
    for _ in 0..100 {
        if officer.find(Locator::Css("#file")).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    wait_css(&officer, "#case-events").await;
    assert_eq!(text_of(&officer, "#case-state").await, "已备案");
    screenshot(&officer, &app, "fallback-case-filed").await;

    // The person follows every step, in large text too.
    person
        .goto(&app.url(&format!("/fallback/progress?case_no={case_no}&code={code}")))
        .await
        .unwrap();
    wait_css(&person, "#progress-result").await;
    let done_steps = person
        .find_all(Locator::Css("#progress-result .loop-steps li.done"))
        .await
        .unwrap()
        .len();
    assert_eq!(done_steps, 7);
    assert!(!text_of(&person, "main").await.contains("13800138104"));
    screenshot(&person, &app, "fallback-progress").await;
    click(&person, "#large-text-toggle").await;
    wait_css(&person, "html.large-text").await;
    screenshot(&person, &app, "fallback-progress-large").await;
}

async fn login_as(c: &Client, app: &TestApp, username: &str, password: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    wait_css(c, "#username").await;
    type_into(c, "#username", username).await;
    type_into(c, "#password", password).await;
    c.find(Locator::Css("#login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css(c, "#current-user").await;
}
