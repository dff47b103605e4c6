//! The fallback window's demo: cases of 幸福街道's window at every stage of the loop —
//! one filed after a solved coordination, one waiting for feedback after a joint meeting,
//! one being coordinated with a department's refusal report and overdue, one just taken
//! in at the window, a 12345 hand-over waiting to be accepted, and an online case nobody
//! has taken yet. Built through the same operations a request uses, with the demo
//! clock moved back, so the engine, the chain and the rollup are what they would be.

use super::cases::{self, NewCase};
use crate::audit::{Change, Who};
use crate::{orgs, users, Result, Store, StoreError};
use onewindow_domain::fallback::{
    Act, Acting, CaseType, Channel, FeedbackWay, IntakeTest, Outcome, RefusalReport, ResponseTier,
    TaskAnswer,
};
use onewindow_domain::ratings::Level;

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

struct Person {
    title: &'static str,
    description: &'static str,
    name: &'static str,
    phone: &'static str,
    company: &'static str,
    tried_what: &'static str,
    tried_where: &'static str,
}

const PEOPLE: [Person; 6] = [
    Person {
        title: "老旧小区加装电梯审批卡在规划和消防之间",
        description: "幸福小区3号楼12户居民申请加装电梯，规划部门要求先有消防意见，消防部门要求先有规划许可，居民跑了四趟没有结果。",
        name: "张建国",
        phone: "13800138101",
        company: "",
        tried_what: "向区住建局窗口申请加装电梯审批",
        tried_where: "区住建局、区消防救援大队",
    },
    Person {
        title: "企业跨区迁移税务登记两边互相要求先办",
        description: "公司从外区迁入本街道，迁出地税务要求先在迁入地登记，迁入地要求先办结迁出，公司无法开票。",
        name: "王晓明",
        phone: "13800138102",
        company: "幸福科技有限公司",
        tried_what: "办理跨区迁移税务登记",
        tried_where: "两区税务局办税服务厅",
    },
    Person {
        title: "历史遗留房屋无法办理不动产证",
        description: "九十年代单位分配的房改房，原单位已注销，缺少原始购房档案，登记中心要求补齐材料才能办证。",
        name: "李桂芳",
        phone: "13800138103",
        company: "",
        tried_what: "申请不动产首次登记",
        tried_where: "区不动产登记中心",
    },
    Person {
        title: "残疾人就业补贴申请被两个部门相互推",
        description: "申请灵活就业的残疾人补贴，人社说补贴归残联审核，残联说资金在人社，申请三个月没有答复。",
        name: "赵德胜",
        phone: "13800138104",
        company: "",
        tried_what: "申请残疾人灵活就业社保补贴",
        tried_where: "区人社局窗口、区残联",
    },
    Person {
        title: "小区门口占道经营整治后又反复",
        description: "幸福路小区门口早市占道，城管整治后市场监管说不归其管，摊位又回来了，居民出行困难。",
        name: "孙秀英",
        phone: "13800138105",
        company: "",
        tried_what: "拨打12345反映占道经营",
        tried_where: "12345热线、区城管局",
    },
    Person {
        title: "个体户注销时社保欠费无法查清",
        description: "个体户申请注销，市场监管要求先结清社保，社保系统显示有欠费但说不清来源。",
        name: "周立新",
        phone: "13800138106",
        company: "周记小吃店",
        tried_what: "办理个体工商户注销",
        tried_where: "区市场监管局窗口",
    },
];

fn new_case(org_id: i64, p: &Person, channel: Channel, external_id: Option<&str>) -> NewCase {
    NewCase {
        org_id,
        channel,
        case_type: CaseType::Coordination,
        external_id: external_id.map(str::to_string),
        title: p.title.into(),
        description: p.description.into(),
        person_name: p.name.into(),
        person_phone: p.phone.into(),
        company_name: p.company.into(),
        test: IntakeTest {
            tried_ordinary: true,
            tried_what: p.tried_what.into(),
            tried_where: p.tried_where.into(),
            linked_ref: String::new(),
            multi_department: true,
            policy_room: true,
        },
    }
}

/// Seeds the demo's fallback cases (after [`crate::demo::seed`]); `now` is the demo clock.
pub async fn seed(store: &Store, now: i64) -> Result<()> {
    // The negative list, tags, liaisons and experts first: the cases use them.
    super::reference::seed_demo(store, now).await?;
    let cal = onewindow_domain::calendar::WorkCalendar::shipped();
    let limits = cases::limits(store.reader()).await?;
    let mut tx = store.begin().await?;
    let street = orgs::find_by_code(&mut *tx, "xingfu")
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut id_of = std::collections::HashMap::new();
    for name in ["fallback", "fallback2", "supervisor", "approver", "handler"] {
        let id = users::find_id_by_username(&mut tx, name)
            .await?
            .ok_or(StoreError::NotFound)?;
        id_of.insert(name, id);
    }
    let mut dept = std::collections::HashMap::new();
    for code in [
        "dept-mz", "dept-rs", "dept-cg", "dept-zj", "dept-sj", "dept-cl",
    ] {
        let d = orgs::find_by_code(&mut *tx, code)
            .await?
            .ok_or(StoreError::NotFound)?;
        dept.insert(code, d.id);
    }
    let change = |at: i64, name: &str| Change {
        backend: store.backend(),
        at,
        who: Who::user(id_of[name], name),
    };
    let officer = |name: &str| Acting {
        user_id: id_of[name],
        officer: true,
        supervisor: false,
    };
    let zhao = officer("fallback");
    // The demo's liaisons: 区民政局's approver, 区城市管理局's handler.
    let mz = dept["dept-mz"];
    let liaison_at = |at: i64, d: i64| change(at, if d == mz { "approver" } else { "handler" });
    let mut entropy = 0x5eed_fa11_bacc_u64;
    let mut next_entropy = || {
        entropy = entropy.wrapping_mul(6364136223846793005).wrapping_add(1);
        entropy
    };

    // 1. Filed: taken in nine days ago, coordinated by the window, solved, told, checked.
    let t0 = now - 9 * DAY;
    let c = cases::intake(
        &mut tx,
        &change(t0, "fallback"),
        &cal,
        limits,
        &new_case(street.id, &PEOPLE[0], Channel::Window, None),
        Some(zhao.user_id),
        next_entropy(),
    )
    .await?;
    let acts: [(i64, Act); 2] = [
        (
            t0 + HOUR / 3,
            Act::Classify {
                case_type: CaseType::Coordination,
                tags: vec!["部门职责交叉".into(), "流程梗阻".into()],
                tier: ResponseTier::Window,
            },
        ),
        (
            t0 + HOUR / 2,
            Act::OpenRound {
                departments: vec![dept["dept-mz"], dept["dept-cg"]],
                request: "请明确加装电梯规划与消防意见的办理顺序，并在两个工作日内会签".into(),
            },
        ),
    ];
    for (at, act) in acts {
        cases::act(
            &mut tx,
            &change(at, "fallback"),
            &cal,
            limits,
            c.id,
            None,
            zhao,
            &act,
        )
        .await?;
    }
    answer_all(
        &mut tx,
        &|d| liaison_at(t0 + DAY, d),
        c.id,
        "同意先出具消防意见，规划据此审批",
    )
    .await?;
    let tail: [(i64, &str, Act); 5] = [
        (
            t0 + 2 * DAY,
            "fallback",
            Act::Coordinated {
                summary: "消防先行出具书面意见，规划许可随后办理，住建指导施工".into(),
            },
        ),
        (
            t0 + 5 * DAY,
            "fallback",
            Act::Conclude {
                outcome: Outcome::Solved,
                conclusion: "已取得规划许可，电梯开工".into(),
                reason: String::new(),
            },
        ),
        (
            t0 + 5 * DAY + HOUR,
            "fallback",
            Act::Feedback {
                way: FeedbackWay::Phone,
                text: "电话告知张建国：规划许可已办结，电梯已开工".into(),
            },
        ),
        (
            t0 + 6 * DAY,
            "fallback2",
            Act::Verify {
                note: "回访居民核实，电梯已开工，问题已解决".into(),
                satisfaction: Some(Level::Satisfied),
            },
        ),
        (t0 + 6 * DAY + HOUR, "fallback", Act::File),
    ];
    for (at, who, act) in tail {
        cases::act(
            &mut tx,
            &change(at, who),
            &cal,
            limits,
            c.id,
            None,
            officer(who),
            &act,
        )
        .await?;
    }

    // 2. Concluded after a joint meeting (partly solved), waiting to tell the person.
    let t1 = now - 6 * DAY;
    let c = cases::intake(
        &mut tx,
        &change(t1, "fallback"),
        &cal,
        limits,
        &new_case(street.id, &PEOPLE[2], Channel::Window, None),
        Some(zhao.user_id),
        next_entropy(),
    )
    .await?;
    for (at, act) in [
        (
            t1 + HOUR / 2,
            Act::Classify {
                case_type: CaseType::Coordination,
                tags: vec!["历史遗留问题".into()],
                tier: ResponseTier::JointMeeting,
            },
        ),
        (
            t1 + HOUR,
            Act::OpenRound {
                departments: vec![dept["dept-mz"], dept["dept-cg"]],
                request: "请提供原单位房改档案线索及历史遗留房屋办证政策依据".into(),
            },
        ),
    ] {
        cases::act(
            &mut tx,
            &change(at, "fallback"),
            &cal,
            limits,
            c.id,
            None,
            zhao,
            &act,
        )
        .await?;
    }
    answer_all(
        &mut tx,
        &|d| liaison_at(t1 + DAY, d),
        c.id,
        "已查到部分房改档案，可按历史遗留政策容缺办理",
    )
    .await?;
    cases::record_meeting(
        &mut tx,
        &change(t1 + 2 * DAY, "fallback"),
        c.id,
        zhao,
        crate::clock::local_date(t1 + 2 * DAY),
        &[dept["dept-mz"], dept["dept-cg"]],
        "联席会议议定：按历史遗留房屋政策容缺受理，缺失材料以原单位主管部门证明替代。",
        &[cases::Decision {
            text: "出具原单位主管部门证明".into(),
            owner_org_id: dept["dept-mz"],
            due_on: crate::clock::local_date(t1 + 4 * DAY),
            owner_org_name: String::new(),
        }],
    )
    .await?;
    for (at, act) in [
        (
            t1 + 2 * DAY + HOUR,
            Act::Coordinated {
                summary: "联席会议议定容缺办理".into(),
            },
        ),
        (
            t1 + 4 * DAY,
            Act::Conclude {
                outcome: Outcome::PartlySolved,
                conclusion: "已受理登记，产权面积争议部分仍需原单位上级确认".into(),
                reason: String::new(),
            },
        ),
    ] {
        cases::act(
            &mut tx,
            &change(at, "fallback"),
            &cal,
            limits,
            c.id,
            None,
            zhao,
            &act,
        )
        .await?;
    }

    // 3. Being coordinated, overdue, with a department's refusal report.
    let t2 = now - 5 * DAY;
    let c = cases::intake(
        &mut tx,
        &change(t2, "fallback"),
        &cal,
        limits,
        &new_case(street.id, &PEOPLE[3], Channel::Phone, None),
        Some(zhao.user_id),
        next_entropy(),
    )
    .await?;
    for (at, act) in [
        (
            t2 + HOUR / 4,
            Act::Classify {
                case_type: CaseType::Coordination,
                tags: vec!["部门职责交叉".into(), "政策不明确".into()],
                tier: ResponseTier::Window,
            },
        ),
        (
            t2 + HOUR / 2,
            Act::OpenRound {
                departments: vec![dept["dept-mz"], dept["dept-cg"]],
                request: "请明确残疾人灵活就业社保补贴的审核和拨付部门".into(),
            },
        ),
    ] {
        cases::act(
            &mut tx,
            &change(at, "fallback"),
            &cal,
            limits,
            c.id,
            None,
            zhao,
            &act,
        )
        .await?;
    }
    let tasks = cases::tasks_of_case_in(&mut tx, c.id).await?;
    if let Some(t) = tasks.iter().find(|t| t.1 == dept["dept-cg"]) {
        cases::answer_task(
            &mut tx,
            &change(t2 + DAY, "handler"),
            t.0,
            None,
            &TaskAnswer::Refuse {
                report: RefusalReport {
                    reasons: "残疾人就业补贴的审核和拨付不属于城市管理职责".into(),
                    legal_basis: "《城市管理执法办法》第八条；区城市管理局职能配置规定".into(),
                },
            },
        )
        .await?;
    }

    // 4. Just taken in at the window, to be classified within the hour.
    cases::intake(
        &mut tx,
        &change(now - HOUR / 4, "fallback"),
        &cal,
        limits,
        &new_case(street.id, &PEOPLE[5], Channel::Window, None),
        Some(zhao.user_id),
        next_entropy(),
    )
    .await?;
    // 5. A 12345 hand-over waiting to be accepted.
    cases::intake(
        &mut tx,
        &change(now - 3 * HOUR, "fallback"),
        &cal,
        limits,
        &new_case(
            street.id,
            &PEOPLE[4],
            Channel::Hotline,
            Some("12345-2026-118204"),
        ),
        None,
        next_entropy(),
    )
    .await?;
    // 6. An online case nobody has taken yet.
    let online = Change {
        backend: store.backend(),
        at: now - HOUR / 2,
        who: Who::system("online"),
    };
    cases::intake(
        &mut tx,
        &online,
        &cal,
        limits,
        &new_case(street.id, &PEOPLE[1], Channel::Online, None),
        None,
        next_entropy(),
    )
    .await?;

    // 7. The library's solved cases, filed over the last weeks through the whole loop, and
    // the policy suggestions behind them.
    let mut filed = vec![];
    for (i, d) in super::library::DEMO_CASES.iter().enumerate() {
        let t = now - (30 - 4 * i as i64) * DAY;
        let new = NewCase {
            org_id: street.id,
            channel: Channel::Window,
            case_type: if d.outcome == Outcome::ToPolicy {
                CaseType::PolicySuggestion
            } else {
                CaseType::Coordination
            },
            external_id: None,
            title: d.title.into(),
            description: d.description.into(),
            person_name: d.person_name.into(),
            person_phone: d.person_phone.into(),
            company_name: d.company_name.into(),
            test: IntakeTest {
                tried_ordinary: true,
                tried_what: "按常规渠道申请办理".into(),
                tried_where: "有关部门窗口".into(),
                linked_ref: String::new(),
                multi_department: true,
                policy_room: true,
            },
        };
        let c = cases::intake(
            &mut tx,
            &change(t, "fallback"),
            &cal,
            limits,
            &new,
            Some(zhao.user_id),
            next_entropy(),
        )
        .await?;
        let steps: [(i64, &str, Act); 6] = [
            (
                t + HOUR / 3,
                "fallback",
                Act::Classify {
                    case_type: new.case_type,
                    tags: d.tags.iter().map(|t| t.to_string()).collect(),
                    tier: ResponseTier::Window,
                },
            ),
            (
                t + DAY,
                "fallback",
                Act::Coordinated {
                    summary: d.conclusion.into(),
                },
            ),
            (
                t + 2 * DAY,
                "fallback",
                Act::Conclude {
                    outcome: d.outcome,
                    conclusion: d.conclusion.into(),
                    reason: if d.outcome == Outcome::Unsolved {
                        "现行政策无解决空间".into()
                    } else {
                        String::new()
                    },
                },
            ),
            (
                t + 2 * DAY + HOUR,
                "fallback",
                Act::Feedback {
                    way: FeedbackWay::Phone,
                    text: "电话告知办理结果".into(),
                },
            ),
            (
                t + 3 * DAY,
                "fallback2",
                Act::Verify {
                    note: "回访核实".into(),
                    satisfaction: Some(Level::Satisfied),
                },
            ),
            (t + 3 * DAY + HOUR, "fallback", Act::File),
        ];
        for (at, who, act) in steps {
            cases::act(
                &mut tx,
                &change(at, who),
                &cal,
                limits,
                c.id,
                None,
                officer(who),
                &act,
            )
            .await?;
        }
        filed.push(c.id);
    }
    super::library::seed_demo(
        &mut tx,
        &change(now - DAY, "fallback"),
        &change(now - HOUR, "supervisor"),
        &filed,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Answers every open task of a case with `reply`, each by its department's liaison.
async fn answer_all(
    conn: &mut sqlx::AnyConnection,
    liaison: &dyn Fn(i64) -> Change,
    case_id: i64,
    reply: &str,
) -> Result<()> {
    for (task, dept) in cases::tasks_of_case_in(conn, case_id).await? {
        cases::answer_task(
            conn,
            &liaison(dept),
            task,
            None,
            &TaskAnswer::Reply {
                reply: reply.into(),
            },
        )
        .await?;
    }
    Ok(())
}
