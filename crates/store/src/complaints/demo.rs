//! The demo's 接诉即办 data: the district's category tree with default departments, and
//! 幸福街道's requests over the last weeks in every state — closed after a satisfied
//! callback, reopened after a dissatisfied one, one 退单 accepted and re-dispatched, one
//! refused, repeats merged into their originals, some waiting for dispatch, one overdue —
//! made through the same operations a dispatcher uses, with the clock moved back, so the
//! engine, the chain and the rollup are what they would be. Then the suggestion is
//! trained on them.

use super::categories::{self, CategoryInput};
use super::requests::{self, ActExtra, NewRequest};
use crate::audit::{Change, Who};
use crate::{orgs, users, Result, Store, StoreError};
use onewindow_domain::complaints::{Act, Channel, RequestType, Satisfaction, Urgency};
use std::collections::HashMap;

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

/// The demo tree: code, name, default department (org code), help text.
pub const CATEGORIES: [(&str, &str, &str, &str); 8] = [
    (
        "city.roads",
        "道路设施",
        "dept-cg",
        "道路破损、井盖缺失、人行道砖松动",
    ),
    ("city.lights", "路灯照明", "dept-cg", "路灯不亮、灯杆倾斜"),
    (
        "city.noise",
        "噪音扰民",
        "dept-cg",
        "夜间施工、商铺音响、广场舞噪音",
    ),
    (
        "housing.property",
        "物业管理",
        "dept-zj",
        "物业服务、电梯故障、维修基金",
    ),
    (
        "social.assistance",
        "社会救助",
        "dept-mz",
        "低保、特困、临时救助、养老服务",
    ),
    (
        "market.food",
        "食品安全",
        "dept-sj",
        "过期食品、无证经营、餐饮卫生",
    ),
    (
        "health.clinic",
        "医疗卫生",
        "dept-wj",
        "社区医院、疫苗接种、医疗服务",
    ),
    (
        "hall.service",
        "窗口服务",
        "xingfu-hall",
        "政务服务大厅窗口服务质量、服务态度",
    ),
];

/// Past requests the model learns from: category code and what the person said.
const HISTORY: [(&str, &str); 24] = [
    ("city.roads", "小区门口道路破损坑洼，下雨天积水严重"),
    ("city.roads", "人行道砖块松动，老人走路容易摔倒"),
    ("city.roads", "幸福路井盖缺失，晚上很危险"),
    ("city.roads", "路面塌陷，车辆无法通行"),
    ("city.lights", "路灯不亮，晚上出行不安全"),
    ("city.lights", "小区北门路灯坏了好几天没人修"),
    ("city.lights", "路灯灯杆倾斜，担心倒下砸人"),
    ("city.noise", "夜间施工噪音扰民，影响休息"),
    ("city.noise", "广场舞音响声音太大，噪音扰民"),
    ("city.noise", "楼下商铺音响整天放音乐，很吵"),
    ("housing.property", "电梯经常故障，物业不及时维修"),
    ("housing.property", "物业服务差，垃圾不清运"),
    ("housing.property", "维修基金申请不知道怎么办"),
    ("social.assistance", "咨询低保申请需要什么材料"),
    ("social.assistance", "家里老人失能，想申请养老服务补贴"),
    ("social.assistance", "生活困难，想申请临时救助"),
    ("market.food", "超市卖过期食品"),
    ("market.food", "路边摊无证经营，卫生很差"),
    ("market.food", "餐馆后厨卫生差，吃了拉肚子"),
    ("health.clinic", "社区医院疫苗接种预约不上"),
    ("health.clinic", "社区卫生服务站看病排队太久"),
    ("hall.service", "大厅窗口工作人员态度生硬，不耐烦"),
    ("hall.service", "窗口让我跑了三次还没办成"),
    ("city.lights", "幸福小区东侧路灯全部不亮"),
];

/// Seeds the demo's requests (after [`crate::demo::seed`]); `now` is the demo clock.
pub async fn seed(store: &Store, now: i64) -> Result<()> {
    let cal = onewindow_domain::calendar::WorkCalendar::shipped();
    let limits = requests::limits(store.reader()).await?;
    let mut tx = store.begin().await?;
    let district = orgs::find_by_code(&mut *tx, "district")
        .await?
        .ok_or(StoreError::NotFound)?;
    let street = orgs::find_by_code(&mut *tx, "xingfu")
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut who = HashMap::new();
    for name in ["admin", "dispatcher", "handler", "approver"] {
        let id = users::find_id_by_username(&mut tx, name)
            .await?
            .ok_or(StoreError::NotFound)?;
        who.insert(name, id);
    }
    let change = |at: i64, name: &str| Change {
        backend: store.backend(),
        at,
        who: Who::user(who[name], name),
    };
    let mut category = HashMap::new();
    let mut department = HashMap::new();
    for (code, name, dept, help) in CATEGORIES {
        let d = orgs::find_by_code(&mut *tx, dept)
            .await?
            .ok_or(StoreError::NotFound)?;
        let c = categories::create(
            &mut tx,
            &change(now - 40 * DAY, "admin"),
            &CategoryInput {
                org_id: district.id,
                parent_id: None,
                code: code.into(),
                name: name.into(),
                department_id: Some(d.id),
                help_text: help.into(),
                active: true,
            },
        )
        .await?;
        category.insert(code, c.id);
        department.insert(code, d.id);
    }
    let mut entropy = 0xc0ff_ee00_5eed_u64;
    let mut next_entropy = || {
        entropy = entropy.wrapping_mul(6364136223846793005).wrapping_add(1);
        entropy
    };
    let new = |i: usize, code: &str, text: &str, urgency: Urgency| NewRequest {
        org_id: street.id,
        channel: if i.is_multiple_of(3) {
            Channel::Web
        } else {
            Channel::Phone
        },
        external_id: None,
        request_type: if code == "hall.service" {
            RequestType::ServiceComplaint
        } else if i.is_multiple_of(4) {
            RequestType::Complaint
        } else {
            RequestType::Help
        },
        urgency,
        complex: false,
        category_id: Some(category[code]),
        content: text.into(),
        person_name: ["张大爷", "李阿姨", "王先生", "赵女士"][i % 4].into(),
        person_phone: format!("1390013{:04}", 8100 + i),
        address: format!("幸福小区{}号楼", i % 9 + 1),
        lat: Some(39.9087 + (i as f64) * 0.0004),
        lon: Some(116.3975 + (i as f64) * 0.0003),
        complained_user_id: None,
        complained_window: if code == "hall.service" {
            "综合受理3号窗口".into()
        } else {
            String::new()
        },
    };
    let extra = ActExtra {
        callback_way: Some("phone".into()),
        told: true,
        ..ActExtra::default()
    };
    // History: taken in over the last four weeks, dispatched, signed, replied, called back.
    for (i, (code, text)) in HISTORY.iter().enumerate() {
        let t0 = now - (28 - i as i64) * DAY - 5 * HOUR;
        let r = requests::intake(
            &mut tx,
            &change(t0, "dispatcher"),
            &cal,
            &limits,
            &new(i, code, text, Urgency::Ordinary),
            next_entropy(),
        )
        .await?;
        let dept_user = if department[code] == department["social.assistance"] {
            "approver"
        } else {
            "handler"
        };
        let satisfaction = match i % 6 {
            0 => Satisfaction::Basic,
            5 => Satisfaction::Dissatisfied,
            _ => Satisfaction::Satisfied,
        };
        let lead = department[code];
        // Only departments with a demo account act; others stay dispatched (waiting).
        let acts_by_department = ["dept-cg", "dept-mz"]
            .iter()
            .any(|c| CATEGORIES.iter().any(|k| k.0 == *code && k.2 == *c));
        let mut steps: Vec<(i64, &str, Act)> = vec![(
            t0 + HOUR / 2,
            "dispatcher",
            Act::Dispatch { lead, co: vec![] },
        )];
        if acts_by_department {
            steps.extend([
                (t0 + HOUR, dept_user, Act::Sign),
                (
                    t0 + 2 * DAY,
                    dept_user,
                    Act::Reply {
                        content: "已到现场核实并处理完毕，已与反映人沟通。".into(),
                    },
                ),
                (
                    t0 + 3 * DAY,
                    "dispatcher",
                    Act::Callback {
                        satisfaction,
                        solved: satisfaction.counts_satisfied(),
                    },
                ),
            ]);
        }
        for (at, name, act) in steps {
            requests::act(
                &mut tx,
                &change(at, name),
                &cal,
                &limits,
                r.id,
                None,
                &act,
                &extra,
            )
            .await?;
        }
    }
    // A 退单 accepted and re-dispatched; another refused and back with the department.
    let t0 = now - 3 * DAY;
    let returned = requests::intake(
        &mut tx,
        &change(t0, "dispatcher"),
        &cal,
        &limits,
        &new(
            30,
            "city.roads",
            "小区内部道路破损，物业说归城管，城管说归物业",
            Urgency::Ordinary,
        ),
        next_entropy(),
    )
    .await?;
    let refused = requests::intake(
        &mut tx,
        &change(t0 + HOUR, "dispatcher"),
        &cal,
        &limits,
        &new(
            31,
            "city.noise",
            "工地凌晨还在施工，噪音很大",
            Urgency::Ordinary,
        ),
        next_entropy(),
    )
    .await?;
    let cg = department["city.roads"];
    let zj = department["housing.property"];
    for (id, at, name, act) in [
        (
            returned.id,
            t0 + HOUR,
            "dispatcher",
            Act::Dispatch {
                lead: cg,
                co: vec![],
            },
        ),
        (
            returned.id,
            t0 + 2 * HOUR,
            "handler",
            Act::AskReturn {
                reason: "小区内部道路属物业管理区域，应由住建部门督促物业维修".into(),
            },
        ),
        (
            returned.id,
            t0 + 3 * HOUR,
            "dispatcher",
            Act::DecideReturn {
                accept: true,
                lead: Some(zj),
            },
        ),
        (
            refused.id,
            t0 + 2 * HOUR,
            "dispatcher",
            Act::Dispatch {
                lead: cg,
                co: vec![],
            },
        ),
        (
            refused.id,
            t0 + 3 * HOUR,
            "handler",
            Act::AskReturn {
                reason: "建议由住建部门处理".into(),
            },
        ),
        (
            refused.id,
            t0 + 4 * HOUR,
            "dispatcher",
            Act::DecideReturn {
                accept: false,
                lead: None,
            },
        ),
        (refused.id, t0 + 5 * HOUR, "handler", Act::Sign),
    ] {
        requests::act(
            &mut tx,
            &change(at, name),
            &cal,
            &limits,
            id,
            None,
            &act,
            &extra,
        )
        .await?;
    }
    // Reopened: replied, the person was not satisfied, back with 城管.
    let t0 = now - 2 * DAY;
    let reopened = requests::intake(
        &mut tx,
        &change(t0, "dispatcher"),
        &cal,
        &limits,
        &new(
            32,
            "city.lights",
            "幸福小区南门路灯一直不亮",
            Urgency::Ordinary,
        ),
        next_entropy(),
    )
    .await?;
    for (at, name, act) in [
        (
            t0 + HOUR,
            "dispatcher",
            Act::Dispatch {
                lead: cg,
                co: vec![],
            },
        ),
        (t0 + 2 * HOUR, "handler", Act::Sign),
        (
            t0 + 5 * HOUR,
            "handler",
            Act::Reply {
                content: "已安排检修。".into(),
            },
        ),
        (
            t0 + DAY,
            "dispatcher",
            Act::Callback {
                satisfaction: Satisfaction::Dissatisfied,
                solved: false,
            },
        ),
    ] {
        requests::act(
            &mut tx,
            &change(at, name),
            &cal,
            &limits,
            reopened.id,
            None,
            &act,
            &extra,
        )
        .await?;
    }
    // A repeat: the same person calls again about the same lights; merged.
    let repeat = requests::intake(
        &mut tx,
        &change(now - DAY, "dispatcher"),
        &cal,
        &limits,
        &NewRequest {
            person_phone: format!("1390013{:04}", 8100 + 32),
            ..new(
                33,
                "city.lights",
                "南门路灯还是不亮，上次反映过",
                Urgency::Ordinary,
            )
        },
        next_entropy(),
    )
    .await?;
    requests::act(
        &mut tx,
        &change(now - DAY + HOUR / 4, "dispatcher"),
        &cal,
        &limits,
        repeat.id,
        None,
        &Act::Merge {
            original: reopened.id,
        },
        &extra,
    )
    .await?;
    // Waiting for dispatch: an emergency overdue (taken in three hours ago) and fresh ones.
    for (i, at, code, text, urgency) in [
        (
            34,
            now - 3 * HOUR,
            "city.roads",
            "幸福路井盖被偷，有行人掉进去的危险",
            Urgency::Emergency,
        ),
        (
            35,
            now - HOUR,
            "city.noise",
            "晚上十一点了楼下还在装修",
            Urgency::Ordinary,
        ),
        (
            36,
            now - HOUR / 2,
            "housing.property",
            "小区停水一整天了物业也不说原因",
            Urgency::Utilities,
        ),
    ] {
        requests::intake(
            &mut tx,
            &change(at, "dispatcher"),
            &cal,
            &limits,
            &new(i, code, text, urgency),
            next_entropy(),
        )
        .await?;
    }
    super::suggest::train(&mut tx, now, &[]).await?;
    tx.commit().await?;
    Ok(())
}
