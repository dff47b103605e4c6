//! The fallback window's figures, ledger, monthly notice and hall screen (issue 12 items
//! 6, 7, 8) on a hand-built set of four cases in a street of its own (so demo data cannot
//! move the numbers), driven through the store's intake and acts with the clock of each
//! act; every rate checked against a value computed by hand.

mod common;

use common::TestApp;
use onewindow_domain::access::Role;
use onewindow_domain::escalation::{local_midnight, MICROS_PER_HOUR};
use onewindow_domain::fallback::figures::Metric;
use onewindow_domain::fallback::{
    Act, Acting, CaseType, Channel, FeedbackWay, IntakeTest, Outcome, RefusalReport, ResponseTier,
    TaskAnswer,
};
use onewindow_domain::org::OrgKind;
use onewindow_domain::ratings::Level;
use onewindow_store::audit::{Change, Who};
use onewindow_store::fallback::cases::{self, NewCase};
use onewindow_store::fallback::rollup::{self, Dim};
use onewindow_store::orgs::{self, NewOrg};
use onewindow_store::users::{self, NewUser};
use onewindow_store::{demo, passwords};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

on_both_backends!(
    figures_ledger_notice_and_screen_on_a_hand_built_set,
    refusals_and_bad_input
);

const PERSON: &str = "张三丰";
const PHONE: &str = "13800138000";

/// Beijing wall time as UTC micros.
fn bj(m: u32, d: u32, h: u32, min: u32) -> i64 {
    local_midnight(chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap())
        + i64::from(h) * MICROS_PER_HOUR
        + i64::from(min) * 60_000_000
}

struct World {
    street: i64,
    dept1: i64,
    dept2: i64,
    officer: i64,
}

fn system(app: &TestApp) -> Change {
    Change {
        backend: app.store.backend(),
        at: app.clock_now(),
        who: Who::system("test"),
    }
}

/// 测试街道 (code `ceshi`) with two offices (departments) and a fallback officer
/// `ceshi-officer`; 另一区 with a supervisor `other-sup`.
async fn world(app: &TestApp) -> World {
    let district = app.org_id("district").await;
    let city = app.org_id("city").await;
    let hash = passwords::hash(demo::DEMO_PASSWORD);
    let change = system(app);
    let mut tx = app.store.begin().await.unwrap();
    let add = |parent, kind, name: &str, code: &str| NewOrg {
        parent_id: Some(parent),
        kind,
        name: name.into(),
        code: Some(code.into()),
    };
    let street = orgs::create(
        &mut tx,
        &change,
        &add(district, OrgKind::Street, "测试街道", "ceshi"),
    )
    .await
    .unwrap();
    let dept1 = orgs::create(
        &mut tx,
        &change,
        &add(street.id, OrgKind::Department, "测试街道城建科", "ceshi-cj"),
    )
    .await
    .unwrap();
    let dept2 = orgs::create(
        &mut tx,
        &change,
        &add(street.id, OrgKind::Department, "测试街道社保科", "ceshi-sb"),
    )
    .await
    .unwrap();
    let other = orgs::create(
        &mut tx,
        &change,
        &add(city, OrgKind::District, "另一区", "other"),
    )
    .await
    .unwrap();
    let officer = users::create(
        &mut tx,
        &change,
        &NewUser {
            org_id: street.id,
            username: "ceshi-officer".into(),
            display_name: "钱专员".into(),
            roles: vec![Role::FallbackOfficer],
        },
        &hash,
    )
    .await
    .unwrap();
    users::create(
        &mut tx,
        &change,
        &NewUser {
            org_id: other.id,
            username: "other-sup".into(),
            display_name: "孙督查".into(),
            roles: vec![Role::Supervisor],
        },
        &hash,
    )
    .await
    .unwrap();
    // Each department answers through its named liaison (1+N); the tags are the street's.
    for (dept, name) in [
        (dept1.id, "ceshi-cj-liaison"),
        (dept2.id, "ceshi-sb-liaison"),
    ] {
        let liaison = users::create(
            &mut tx,
            &change,
            &NewUser {
                org_id: dept,
                username: name.into(),
                display_name: "联络员".into(),
                roles: vec![Role::DeptHandler],
            },
            &hash,
        )
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO fallback_liaisons (department_id, user_id, phone, updated_by, updated_at) \
             VALUES ($1, $2, '13800000000', $2, 0)",
        )
        .bind(dept)
        .bind(liaison.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for tag in onewindow_domain::fallback::negative_list::DEFAULT_TAGS {
        sqlx::query("INSERT INTO fallback_tags (org_id, name) VALUES ($1, $2)")
            .bind(street.id)
            .bind(tag)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    World {
        street: street.id,
        dept1: dept1.id,
        dept2: dept2.id,
        officer: officer.id,
    }
}

struct Driver<'a> {
    app: &'a TestApp,
    w: &'a World,
}

impl Driver<'_> {
    fn change(&self, at: i64) -> Change {
        Change {
            backend: self.app.store.backend(),
            at,
            who: Who::user(self.w.officer, "ceshi-officer"),
        }
    }

    async fn intake(&self, title: &str, at: i64, entropy: u64) -> i64 {
        let cal = self.app.state.calendar().await.unwrap();
        let limits = cases::limits(self.app.store.reader()).await.unwrap();
        let mut tx = self.app.store.begin().await.unwrap();
        let c = cases::intake(
            &mut tx,
            &self.change(at),
            &cal,
            limits,
            &NewCase {
                org_id: self.w.street,
                channel: Channel::Window,
                case_type: CaseType::Coordination,
                external_id: None,
                title: title.into(),
                description: "多个部门之间来回跑，问题一直没有解决".into(),
                person_name: PERSON.into(),
                person_phone: PHONE.into(),
                company_name: String::new(),
                test: IntakeTest {
                    tried_ordinary: true,
                    tried_what: "办理不动产登记".into(),
                    tried_where: "区不动产登记中心窗口".into(),
                    linked_ref: String::new(),
                    multi_department: true,
                    policy_room: true,
                },
            },
            Some(self.w.officer),
            entropy,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        c.id
    }

    async fn act(&self, id: i64, at: i64, act: Act) {
        let cal = self.app.state.calendar().await.unwrap();
        let limits = cases::limits(self.app.store.reader()).await.unwrap();
        let who = Acting {
            user_id: self.w.officer,
            officer: true,
            supervisor: false,
        };
        let mut tx = self.app.store.begin().await.unwrap();
        cases::act(&mut tx, &self.change(at), &cal, limits, id, None, who, &act)
            .await
            .unwrap_or_else(|e| panic!("{act:?}: {e:?}"));
        tx.commit().await.unwrap();
    }

    async fn classify(&self, id: i64, at: i64, tag: &[&str], tier: ResponseTier) {
        self.act(
            id,
            at,
            Act::Classify {
                case_type: CaseType::Coordination,
                tags: tag.iter().map(|t| t.to_string()).collect(),
                tier,
            },
        )
        .await;
    }

    async fn round(&self, id: i64, at: i64, departments: &[i64]) {
        self.act(
            id,
            at,
            Act::OpenRound {
                departments: departments.to_vec(),
                request: "请研究解决办法".into(),
            },
        )
        .await;
    }

    /// Answers the case's open task of `dept`.
    async fn answer(&self, id: i64, dept: i64, at: i64, answer: TaskAnswer) {
        let tasks = cases::tasks_of_case(self.app.store.reader(), id)
            .await
            .unwrap();
        let task = tasks
            .iter()
            .find(|t| t.department_id == dept && t.reply.is_none() && t.refusal_reasons.is_none())
            .expect("an open task");
        let mut tx = self.app.store.begin().await.unwrap();
        cases::answer_task(&mut tx, &self.change(at), task.id, None, &answer)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn reply(&self, id: i64, dept: i64, at: i64) {
        self.answer(
            id,
            dept,
            at,
            TaskAnswer::Reply {
                reply: "已研究，按程序办理".into(),
            },
        )
        .await;
    }

    async fn coordinated(&self, id: i64, at: i64) {
        self.act(
            id,
            at,
            Act::Coordinated {
                summary: "各部门已商定办法".into(),
            },
        )
        .await;
    }

    async fn conclude(&self, id: i64, at: i64, outcome: Outcome) {
        self.act(
            id,
            at,
            Act::Conclude {
                outcome,
                conclusion: "已办结".into(),
                reason: "政策暂不支持".into(),
            },
        )
        .await;
    }

    /// Tells the person, who then rates online.
    async fn feedback(&self, id: i64, at: i64, level: Level) {
        self.act(
            id,
            at,
            Act::Feedback {
                way: FeedbackWay::Phone,
                text: "已电话告知办理结果".into(),
            },
        )
        .await;
        let mut tx = self.app.store.begin().await.unwrap();
        cases::rate_by_person(&mut tx, &self.change(at), id, level)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

/// Four cases taken in on Monday 2026-11-23 at 09:00:
///
/// | case | response          | tier          | rounds | coordinated       | 办结                      | rated  |
/// |------|-------------------|---------------|--------|-------------------|---------------------------|--------|
/// | A    | 09:30 on time     | window        | 1      | Tue on time       | Wed 11-25 solved, on time | 满意   |
/// | B    | 11:00 late        | joint meeting | 2      | Tue on time       | Thu 11-26 partly, on time | 不满意 |
/// | C    | 09:45 on time     | window        | 1      | Fri 11-27 late    | Thu 12-03 unsolved, late  | —      |
/// | D    | 09:20 on time     | window        | 0      | —                 | —                         | —      |
///
/// B's second department refuses its first task with a report. Expected: response 3/4 =
/// 75.0%, coordination 2/3 = 66.7%, close 2/3 = 66.7%, 解决率 1/3 = 33.3% (部分解决 1,
/// 未解决 1, 转政策建议 0), complex days 3 (B: Mon→Thu = 3 working days) → 3.0, rounds
/// 4/3 = 1.3, satisfaction 1/2 = 50.0%, refusal reports 1 (社保科); suggestions (counters
/// written by the library) 1 adopted of 2 decided = 50.0%.
async fn build(app: &TestApp, w: &World) -> [i64; 4] {
    let d = Driver { app, w };
    let a = d
        .intake("老旧小区加装电梯审批难", bj(11, 23, 9, 0), 1)
        .await;
    let b = d
        .intake("历史遗留房屋无法办理产权证", bj(11, 23, 9, 0), 2)
        .await;
    let c = d
        .intake("个体户社保补缴无人受理", bj(11, 23, 9, 0), 3)
        .await;
    let dd = d
        .intake("小区道路归属不清无法维修", bj(11, 23, 9, 0), 4)
        .await;

    d.classify(
        a,
        bj(11, 23, 9, 30),
        &["历史遗留问题"],
        ResponseTier::Window,
    )
    .await;
    d.classify(
        b,
        bj(11, 23, 11, 0),
        &["部门职责交叉", "历史遗留问题"],
        ResponseTier::JointMeeting,
    )
    .await;
    d.classify(c, bj(11, 23, 9, 45), &["政策不明确"], ResponseTier::Window)
        .await;
    d.classify(dd, bj(11, 23, 9, 20), &["流程梗阻"], ResponseTier::Window)
        .await;

    // A: one round, solved.
    d.round(a, bj(11, 23, 10, 0), &[w.dept1]).await;
    d.reply(a, w.dept1, bj(11, 23, 15, 0)).await;
    d.coordinated(a, bj(11, 24, 10, 0)).await;
    d.conclude(a, bj(11, 25, 10, 0), Outcome::Solved).await;
    d.feedback(a, bj(11, 25, 15, 0), Level::Satisfied).await;

    // B: two rounds at the joint meeting, a refusal report in the first.
    d.round(b, bj(11, 23, 11, 30), &[w.dept1, w.dept2]).await;
    d.reply(b, w.dept1, bj(11, 23, 16, 0)).await;
    d.answer(
        b,
        w.dept2,
        bj(11, 23, 16, 30),
        TaskAnswer::Refuse {
            report: RefusalReport {
                reasons: "不属于本科室职责".into(),
                legal_basis: "《社会保险法》第八条".into(),
            },
        },
    )
    .await;
    d.round(b, bj(11, 24, 9, 0), &[w.dept2]).await;
    d.reply(b, w.dept2, bj(11, 24, 9, 30)).await;
    d.coordinated(b, bj(11, 24, 15, 0)).await;
    d.conclude(b, bj(11, 26, 10, 0), Outcome::PartlySolved)
        .await;
    d.feedback(b, bj(11, 26, 15, 0), Level::Dissatisfied).await;

    // C: coordination late, concluded after the close limit, unsolved.
    d.round(c, bj(11, 23, 10, 0), &[w.dept1]).await;
    d.reply(c, w.dept1, bj(11, 23, 14, 0)).await;
    d.coordinated(c, bj(11, 27, 10, 0)).await;
    d.conclude(c, bj(12, 3, 10, 0), Outcome::Unsolved).await;

    // Policy suggestions are decided by the library (another part); its counters only.
    let mut tx = app.store.begin().await.unwrap();
    rollup::bump(
        &mut tx,
        Dim::Org(w.street),
        "2026-11-27",
        Metric::SuggestionsDecided,
        2,
    )
    .await
    .unwrap();
    rollup::bump(
        &mut tx,
        Dim::Org(w.street),
        "2026-11-27",
        Metric::SuggestionsAdopted,
        1,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    [a, b, c, dd]
}

async fn body(api: &common::Api, path: &str) -> (StatusCode, String, Vec<u8>) {
    let res = api
        .client
        .get(format!("{}{}", api.base, path))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, res.bytes().await.unwrap().to_vec())
}

async fn figures_ledger_notice_and_screen_on_a_hand_built_set(app: TestApp) {
    let w = world(&app).await;
    let [a, b, c, d] = build(&app, &w).await;
    app.clock.set(bj(12, 3, 12, 0));
    let officer = app.login("ceshi-officer").await;

    // ---- figures: the officer's scope is exactly the test street.
    let (s, f) = officer
        .get("/api/v1/fallback/figures?from=2026-11-01&to=2026-12-31")
        .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let t = &f["total"];
    assert_eq!(t["received"], 4, "{t}");
    assert_eq!(t["respond_rate"]["text"], "75.0%", "{t}");
    assert_eq!(t["respond_rate"]["numerator"], 3);
    assert_eq!(t["respond_rate"]["denominator"], 4);
    assert_eq!(t["respond_rate"]["rate"], 0.75);
    assert_eq!(t["coordinate_rate"]["text"], "66.7%", "{t}");
    assert_eq!(t["close_rate"]["text"], "66.7%", "{t}");
    assert_eq!(t["solve_rate"]["text"], "33.3%", "{t}");
    assert_eq!(t["concluded"], 3);
    let outcome = |o: &str| {
        t["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["outcome"] == o)
            .unwrap()["cases"]
            .clone()
    };
    assert_eq!(outcome("solved"), 1);
    assert_eq!(outcome("partly_solved"), 1);
    assert_eq!(outcome("unsolved"), 1);
    assert_eq!(outcome("to_policy"), 0);
    assert_eq!(t["complex_days"]["text"], "3.0", "{t}");
    assert_eq!(t["complex_days"]["target"], "≤ 10");
    assert_eq!(t["complex_days"]["met"], true);
    assert_eq!(t["rounds_per_case"]["text"], "1.3", "{t}");
    assert_eq!(t["rounds_per_case"]["met"], true);
    assert_eq!(t["adoption_rate"]["text"], "50.0%", "{t}");
    assert_eq!(t["adoption_met"], false);
    assert_eq!(t["satisfaction"]["text"], "50.0%", "{t}");
    assert_eq!(f["by_org"].as_array().unwrap().len(), 1);
    assert_eq!(f["by_org"][0]["org_code"], "ceshi");
    let refusals = f["refusal_reports_by_department"].as_array().unwrap();
    assert_eq!(refusals.len(), 1, "{f}");
    assert_eq!(refusals[0]["department_id"], w.dept2);
    assert_eq!(refusals[0]["refusal_reports"], 1);

    // A period bounds the counters: November alone has not seen C's 办结.
    let (_, nov) = officer
        .get("/api/v1/fallback/figures?from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(nov["total"]["close_rate"]["text"], "100.0%", "{nov}");
    assert_eq!(nov["total"]["solve_rate"]["text"], "50.0%");
    // The city admin sees the street as one of the windows below it.
    let admin = app.login(demo::ACCOUNTS[0].username).await;
    let (_, all) = admin
        .get("/api/v1/fallback/figures?from=2026-11-01&to=2026-12-31")
        .await;
    let line = all["by_org"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["org_code"] == "ceshi")
        .expect("the street's line")
        .clone();
    assert_eq!(line["respond_rate"]["text"], "75.0%");
    assert_eq!(line["rounds_per_case"]["text"], "1.3");
    // One window organisation of the scope, by its code.
    let (s, one) = admin
        .get("/api/v1/fallback/figures?org=ceshi&from=2026-11-01&to=2026-12-31")
        .await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(one["total"]["received"], 4);
    assert_eq!(one["total"]["solve_rate"]["text"], "33.3%");
    let (_, l) = admin
        .get("/api/v1/fallback/ledger?org=ceshi&from=2026-11-01&to=2026-12-31&limit=2")
        .await;
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
    assert!(l["next"].as_str().unwrap().contains("org=ceshi"), "{l}");

    // The page shows the figures and the seed's targets.
    let (s, _, html) = body(&officer, "/fallback/figures?from=2026-11-01&to=2026-12-31").await;
    assert_eq!(s, StatusCode::OK);
    let html = String::from_utf8(html).unwrap();
    for text in [
        "75.0%",
        "66.7%",
        "33.3%",
        "≤ 10",
        "≤ 2",
        "≥ 60%",
        "测试街道社保科",
    ] {
        assert!(html.contains(text), "{text} missing");
    }

    // ---- the ledger: keyset pages, newest first, masked.
    let (s, l) = officer
        .get("/api/v1/fallback/ledger?from=2026-11-01&to=2026-12-31&limit=3")
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    let items = l["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], d);
    assert_eq!(items[2]["id"], b);
    let next = l["next"].as_str().expect("a next page").to_string();
    let (_, l2) = officer.get(&next).await;
    assert_eq!(l2["items"].as_array().unwrap().len(), 1);
    assert_eq!(l2["items"][0]["id"], a);
    assert!(l2["next"].is_null());
    let row_b = &items[2];
    assert_eq!(row_b["responded_on_time"], false);
    assert_eq!(row_b["coordinated_on_time"], true);
    assert_eq!(row_b["concluded_on_time"], true);
    assert_eq!(row_b["rounds"], 2);
    assert_eq!(row_b["refusal_reports"], 1);
    assert_eq!(row_b["tier"], "joint_meeting");
    assert_eq!(row_b["outcome"], "partly_solved");
    assert_eq!(row_b["person"], "张**");
    assert_eq!(row_b["phone"], "138****8000");
    assert_eq!(items[1]["id"], c);
    assert_eq!(items[1]["concluded_on_time"], false);
    assert_eq!(items[0]["concluded_on_time"], Value::Null);
    let text = l.to_string();
    assert!(!text.contains(PERSON) && !text.contains(PHONE), "{text}");
    // Filtered by state.
    let (_, open) = officer
        .get("/api/v1/fallback/ledger?from=2026-11-01&to=2026-12-31&state=coordinating")
        .await;
    let ids: Vec<&Value> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, vec![&Value::from(d)]);
    // The page carries the export links.
    let (s, _, page) = body(&officer, "/fallback/ledger?from=2026-11-01&to=2026-12-31").await;
    assert_eq!(s, StatusCode::OK);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("/api/v1/fallback/ledger.csv?"), "{page}");
    assert!(page.contains("/api/v1/fallback/ledger.xlsx?"));
    assert!(!page.contains(PERSON) && !page.contains(PHONE));

    // ---- CSV: UTF-8 with BOM, parsed back; audited.
    let exports = || async {
        app.store.settle_audit().await.unwrap();
        sqlx::query(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'fallback.ledger_export'",
        )
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get::<i64, _>("n")
    };
    assert_eq!(exports().await, 0);
    let (s, ct, csv) = body(
        &officer,
        "/api/v1/fallback/ledger.csv?from=2026-11-01&to=2026-12-31",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert_eq!(&csv[..3], b"\xEF\xBB\xBF", "a BOM first");
    let csv = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<Vec<&str>> = csv
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert_eq!(lines[0][0], "案件编号");
    let col = |name: &str| lines[0].iter().position(|h| *h == name).unwrap();
    let line_b = lines
        .iter()
        .find(|l| l[col("id")] == b.to_string())
        .unwrap();
    assert_eq!(line_b[col("响应层级")], "联席会议");
    assert_eq!(line_b[col("1小时响应")], "超时");
    assert_eq!(line_b[col("7个工作日办结")], "按时");
    assert_eq!(line_b[col("协调轮次")], "2");
    assert_eq!(line_b[col("否定答复")], "1");
    assert_eq!(line_b[col("办理结果")], "部分解决");
    assert_eq!(line_b[col("反映人")], "张**");
    assert_eq!(line_b[col("联系电话")], "138****8000");
    assert!(!csv.contains(PERSON) && !csv.contains(PHONE));
    assert_eq!(exports().await, 1);

    // ---- XLSX: a non-empty zip; audited.
    let (s, ct, xlsx) = body(
        &officer,
        "/api/v1/fallback/ledger.xlsx?from=2026-11-01&to=2026-12-31",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    assert!(xlsx.len() > 1000);
    assert_eq!(&xlsx[..4], b"PK\x03\x04", "a zip");
    assert!(
        xlsx.windows(4).any(|w| w == b"PK\x05\x06"),
        "the zip's central directory"
    );
    assert_eq!(exports().await, 2);
    let detail: String = sqlx::query(
        "SELECT detail FROM audit_events WHERE action = 'fallback.ledger_export' ORDER BY seq DESC",
    )
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("detail");
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["format"], "xlsx");
    assert_eq!(detail["rows"], 4);

    // ---- the monthly notice: the month's tags, and per department its tasks and refusals.
    let (s, n) = officer.get("/api/v1/fallback/notice?month=2026-11").await;
    assert_eq!(s, StatusCode::OK, "{n}");
    assert_eq!(n["cases"], 4);
    assert_eq!(n["tags"][0]["tag"], "历史遗留问题");
    assert_eq!(n["tags"][0]["cases"], 2);
    assert_eq!(n["tags"].as_array().unwrap().len(), 4);
    let dept = |id: i64| {
        n["departments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["department_id"] == id)
            .unwrap()
            .clone()
    };
    let d1 = dept(w.dept1);
    assert_eq!(d1["tasks"], 3);
    assert_eq!(d1["replied"], 3);
    assert_eq!(d1["refused"], 0);
    let d2 = dept(w.dept2);
    assert_eq!(d2["tasks"], 2);
    assert_eq!(d2["refused"], 1);
    assert_eq!(d2["replied"], 1);
    let d2_tags: Vec<&str> = d2["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    assert_eq!(d2_tags, vec!["历史遗留问题", "部门职责交叉"]);
    // December's notice has no tasks and no cases received.
    let (_, dec) = officer.get("/api/v1/fallback/notice?month=2026-12").await;
    assert_eq!(dec["cases"], 0);
    assert!(dec["departments"].as_array().unwrap().is_empty());
    let (s, _, page) = body(&officer, "/fallback/notice?month=2026-11").await;
    assert_eq!(s, StatusCode::OK);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("id=\"fallback-notice\"") && page.contains("2026年11月"));
    let css = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../web/static/app.css"
    ))
    .unwrap();
    assert!(
        css.contains(".fallback-notice h1"),
        "the notice prints as a document"
    );
    assert!(page.contains("测试街道社保科"));

    // ---- the public screen, on the last day of November: no login, no personal data.
    app.clock.set(bj(11, 30, 10, 0));
    let anon = app.browser();
    let res = anon
        .get(app.url("/fallback/screen/ceshi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("http-equiv=\"refresh\" content=\"60\""));
    assert!(html.contains("测试街道"));
    assert!(
        !html.contains(PERSON) && !html.contains(PHONE),
        "personal data on the screen"
    );
    assert!(
        !html.contains("张**") && !html.contains("钱专员"),
        "names on the screen"
    );
    assert!(
        html.contains("老旧小区加装电梯审批难"),
        "the solved case's title"
    );
    assert!(
        !html.contains("个体户社保补缴无人受理"),
        "only solved cases are listed"
    );
    assert!(html.contains("id=\"open-total\">4<"), "{html}");
    assert!(html.contains("id=\"screen-respond\">75.0%<"));
    assert!(html.contains("id=\"screen-close\">100.0%<"));
    assert!(html.contains("id=\"screen-solve\">50.0%<"));
    let res = anon
        .get(app.url("/fallback/screen/no-such-org"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let _ = c;
}

async fn refusals_and_bad_input(app: TestApp) {
    let w = world(&app).await;
    build(&app, &w).await;
    app.clock.set(bj(12, 3, 12, 0));
    let period = "from=2026-11-01&to=2026-12-31";

    // A window clerk has no ViewFallback: 403 everywhere, nothing exported.
    let clerk = app.login("clerk").await;
    for path in [
        "/api/v1/fallback/figures",
        "/api/v1/fallback/ledger",
        "/api/v1/fallback/ledger.csv",
        "/api/v1/fallback/ledger.xlsx",
        "/api/v1/fallback/notice",
    ] {
        let (s, _) = clerk.get(&format!("{path}?{period}")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    for page in ["/fallback/figures", "/fallback/ledger", "/fallback/notice"] {
        let (s, _, _) = body(&clerk, page).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{page}");
    }
    app.store.settle_audit().await.unwrap();
    let exported: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'fallback.ledger_export'",
    )
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("n");
    assert_eq!(exported, 0);

    // A supervisor of another district sees none of it.
    let other = app.login("other-sup").await;
    let (s, f) = other
        .get(&format!("/api/v1/fallback/figures?{period}"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f["total"]["received"], 0, "{f}");
    assert!(f["by_org"].as_array().unwrap().is_empty());
    assert!(f["refusal_reports_by_department"]
        .as_array()
        .unwrap()
        .is_empty());
    let (_, l) = other
        .get(&format!("/api/v1/fallback/ledger?{period}"))
        .await;
    assert!(l["items"].as_array().unwrap().is_empty(), "{l}");
    let (_, _, csv) = body(&other, &format!("/api/v1/fallback/ledger.csv?{period}")).await;
    assert_eq!(
        String::from_utf8(csv).unwrap().lines().count(),
        1,
        "the header only"
    );
    let (_, n) = other.get("/api/v1/fallback/notice?month=2026-11").await;
    assert_eq!(n["cases"], 0);
    // Naming a window outside the scope is refused.
    for path in [
        "/api/v1/fallback/figures?org=ceshi",
        "/api/v1/fallback/ledger?org=ceshi",
        "/api/v1/fallback/ledger.csv?org=ceshi",
    ] {
        let (s, _) = other.get(path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }

    // Bad input: field errors, never a 500.
    let officer = app.login("ceshi-officer").await;
    for (path, field, code) in [
        (
            "/api/v1/fallback/figures?from=2026-13-01",
            "from",
            "invalid_date",
        ),
        ("/api/v1/fallback/figures?to=junk", "to", "invalid_date"),
        (
            "/api/v1/fallback/figures?from=2026-12-01&to=2026-11-01",
            "from",
            "after_to",
        ),
        (
            "/api/v1/fallback/figures?from=2025-01-01&to=2026-11-01",
            "from",
            "too_long",
        ),
        ("/api/v1/fallback/ledger?state=nope", "state", "unknown"),
        ("/api/v1/fallback/ledger?limit=0", "limit", "out_of_range"),
        ("/api/v1/fallback/ledger?before=x", "before", "invalid"),
        ("/api/v1/fallback/figures?org=nope", "org", "unknown"),
        ("/api/v1/fallback/ledger.csv?from=x", "from", "invalid_date"),
        (
            "/api/v1/fallback/notice?month=2026-13",
            "month",
            "invalid_month",
        ),
        (
            "/api/v1/fallback/notice?month=2026-11-01-and-much-more-text-here",
            "month",
            "too_long",
        ),
    ] {
        let (s, e) = officer.get(path).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {e}");
        assert_eq!(e["fields"][0]["field"], field, "{path}: {e}");
        assert_eq!(e["fields"][0]["code"], code, "{path}: {e}");
    }
    // A page with a bad period shows the errors over the default period (422).
    let (s, _, page) = body(&officer, "/fallback/figures?from=2026-12-01&to=2026-11-01").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8(page)
        .unwrap()
        .contains("起始日期不能晚于截止日期"));
    let (s, _, _) = body(&officer, "/fallback/notice?month=junk").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}
