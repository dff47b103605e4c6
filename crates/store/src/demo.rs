//! Demo data for `serve --demo`: a city, district and street with communities, grids,
//! departments, and one account per role. Each capability adds its own seed function
//! here and to [`seed`], which runs once, in one transaction, on an empty database.

use crate::audit::{Change, Who};
use crate::orgs::{self, NewOrg, Org};
use crate::users::{self, NewUser};
use crate::{passwords, Result, Store};
use onewindow_domain::access::Role;
use onewindow_domain::org::OrgKind;

/// Every demo account shares this password, printed at start and shown on the login page.
pub const DEMO_PASSWORD: &str = "onewindow-demo";

/// A demo account as printed for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    pub username: &'static str,
    pub role: Role,
    pub org: &'static str,
}

/// The accounts the demo creates, one per role (plus a community clerk to show scope).
pub const ACCOUNTS: [DemoAccount; 12] = [
    DemoAccount {
        username: "admin",
        role: Role::Admin,
        org: "示范市",
    },
    DemoAccount {
        username: "supervisor",
        role: Role::Supervisor,
        org: "示范区",
    },
    DemoAccount {
        username: "guide",
        role: Role::GuideDesk,
        org: "幸福街道",
    },
    DemoAccount {
        username: "clerk",
        role: Role::WindowClerk,
        org: "幸福街道",
    },
    DemoAccount {
        username: "approver",
        role: Role::Approver,
        org: "区民政局",
    },
    DemoAccount {
        username: "fallback",
        role: Role::FallbackOfficer,
        org: "幸福街道",
    },
    DemoAccount {
        username: "fallback2",
        role: Role::FallbackOfficer,
        org: "幸福街道",
    },
    DemoAccount {
        username: "grid",
        role: Role::GridWorker,
        org: "阳光社区第一网格",
    },
    DemoAccount {
        username: "handler",
        role: Role::DeptHandler,
        org: "区城市管理局",
    },
    DemoAccount {
        username: "dispatcher",
        role: Role::Dispatcher,
        org: "幸福街道",
    },
    DemoAccount {
        username: "clerk-yangguang",
        role: Role::WindowClerk,
        org: "阳光社区",
    },
    // The community's duty officer: takes the community's grid events directly with the
    // enforcement team (社区直接处置), and dispatches nothing of the street's.
    DemoAccount {
        username: "community",
        role: Role::Dispatcher,
        org: "阳光社区",
    },
];

fn display_name(username: &str) -> &'static str {
    match username {
        "admin" => "王管理",
        "supervisor" => "李督查",
        "guide" => "张导办",
        "clerk" => "刘受理",
        "approver" => "陈审批",
        "fallback" => "赵专员",
        "fallback2" => "钱专员",
        "grid" => "孙网格",
        "handler" => "周处置",
        "dispatcher" => "郑派单",
        "community" => "冯值班",
        _ => "吴窗口",
    }
}

/// Seeds the demo if the database has no organisations yet. Returns whether it seeded.
pub async fn seed(store: &Store, now: i64) -> Result<bool> {
    let mut tx = store.begin().await?;
    if orgs::count(&mut *tx).await? > 0 {
        return Ok(false);
    }
    let change = Change {
        backend: store.backend(),
        at: now,
        who: Who::system("demo"),
    };
    let mut created: Vec<Org> = Vec::new();
    let add = |parent: Option<i64>, kind: OrgKind, name: &str, code: &str| NewOrg {
        parent_id: parent,
        kind,
        name: name.to_string(),
        code: Some(code.to_string()),
    };
    let city = orgs::create(
        &mut tx,
        &change,
        &add(None, OrgKind::City, "示范市", "city"),
    )
    .await?;
    let district = orgs::create(
        &mut tx,
        &change,
        &add(Some(city.id), OrgKind::District, "示范区", "district"),
    )
    .await?;
    let street = orgs::create(
        &mut tx,
        &change,
        &add(Some(district.id), OrgKind::Street, "幸福街道", "xingfu"),
    )
    .await?;
    created.extend([city, district.clone(), street.clone()]);
    for (code, name) in [
        ("yangguang", "阳光社区"),
        ("heping", "和平社区"),
        ("dongfeng", "东风社区"),
    ] {
        let community = orgs::create(
            &mut tx,
            &change,
            &add(Some(street.id), OrgKind::Community, name, code),
        )
        .await?;
        for (n, label) in [(1, "第一网格"), (2, "第二网格")] {
            let grid = orgs::create(
                &mut tx,
                &change,
                &add(
                    Some(community.id),
                    OrgKind::Grid,
                    &format!("{name}{label}"),
                    &format!("{code}-g{n}"),
                ),
            )
            .await?;
            created.push(grid);
        }
        created.push(community);
    }
    let departments = [
        ("mz", "区民政局"),
        ("rs", "区人力资源和社会保障局"),
        ("yb", "区医疗保障局"),
        ("sj", "区市场监督管理局"),
        ("sw", "区税务局"),
        ("ga", "区公安分局"),
        ("zj", "区住房和城乡建设局"),
        ("cg", "区城市管理局"),
        ("wj", "区卫生健康委员会"),
        ("cl", "区残疾人联合会"),
    ];
    for (code, name) in departments {
        let d = orgs::create(
            &mut tx,
            &change,
            &add(
                Some(district.id),
                OrgKind::Department,
                name,
                &format!("dept-{code}"),
            ),
        )
        .await?;
        created.push(d);
    }
    let hall = orgs::create(
        &mut tx,
        &change,
        &add(
            Some(street.id),
            OrgKind::Department,
            "幸福街道便民服务中心",
            "xingfu-hall",
        ),
    )
    .await?;
    created.push(hall.clone());

    // One hash for all demo accounts: Argon2 is deliberately slow.
    let hash = passwords::hash(DEMO_PASSWORD);
    let mut accounts = Vec::new();
    for account in &ACCOUNTS {
        let org = created
            .iter()
            .find(|o| o.name == account.org)
            .expect("demo org exists");
        let created_user = users::create(
            &mut tx,
            &change,
            &NewUser {
                org_id: org.id,
                username: account.username.to_string(),
                display_name: display_name(account.username).to_string(),
                roles: vec![account.role],
            },
            &hash,
        )
        .await?;
        accounts.push((account.username, created_user.id));
    }
    // The demo catalog (C1): items of every window class and the 一件事 bundles.
    // The city owns it: the demo's departments are the district's, inside the city.
    let today = crate::clock::local_date(now);
    let city = created
        .iter()
        .find(|o| o.kind == OrgKind::City)
        .expect("demo city")
        .clone();
    crate::catalog::import(
        &mut tx,
        &change,
        &onewindow_domain::catalog::Catalog::demo(),
        today,
        &city,
    )
    .await?;
    // 即审即办: the street hall's clerk approves at the window for civil affairs and human
    // resources (the items the catalog flags for it).
    let clerk = accounts
        .iter()
        .find(|(name, _)| *name == "clerk")
        .map(|(_, id)| *id)
        .expect("demo clerk");
    for code in ["dept-mz", "dept-rs"] {
        let dept = created
            .iter()
            .find(|o| o.code.as_deref() == Some(code))
            .expect("demo department");
        crate::grants::grant(&mut tx, &change, (clerk, "clerk"), (dept.id, &dept.name)).await?;
    }
    // The hall's queue (C3): classes, windows and a few weeks of ticket history.
    seed_queue(&mut tx, &change, hall.id, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The demo hall's business classes (prefix, name) and windows (number, name, classes).
pub const QUEUE_CLASSES: [(&str, &str); 6] = [
    ("A", "社会保险与社保卡"),
    ("B", "就业与退休服务"),
    ("C", "民政救济与残疾人保障"),
    ("D", "居住证与计划生育"),
    ("E", "经济服务与税务代征"),
    ("F", "综合受理"),
];

const WINDOWS: [(i64, &str, &[&str]); 8] = [
    (1, "社保窗口", &["A"]),
    (2, "社保窗口", &["A", "F"]),
    (3, "就业窗口", &["B"]),
    (4, "民政窗口", &["C"]),
    (5, "民政窗口", &["C", "D"]),
    (6, "居住证窗口", &["D"]),
    (7, "经济服务窗口", &["E"]),
    (8, "综合窗口（办不成事）", &["A", "B", "C", "D", "E", "F"]),
];

async fn seed_queue(
    conn: &mut sqlx::AnyConnection,
    change: &crate::audit::Change,
    hall_id: i64,
    now: i64,
) -> Result<()> {
    use rand::{Rng, SeedableRng};
    for (code, name) in QUEUE_CLASSES {
        sqlx::query(
            "INSERT INTO queue_classes (hall_id, code, name, slot_capacity) VALUES ($1, $2, $3, 4)",
        )
        .bind(hall_id)
        .bind(code)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    }
    for (number, name, classes) in WINDOWS {
        sqlx::query("INSERT INTO service_windows (hall_id, number, name, classes, state, updated_at) VALUES ($1, $2, $3, $4, 'closed', $5)")
            .bind(hall_id)
            .bind(number)
            .bind(name)
            .bind(serde_json::to_string(classes).expect("list serialises"))
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    // Three weeks of history on working days, so waiting-time figures mean something:
    // Monday is the busiest day; arrivals peak mid-morning and over the lunch break.
    let cal = onewindow_domain::calendar::WorkCalendar::shipped();
    let today = crate::clock::local_date(now);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut total = 0u32;
    for back in 1..=28 {
        let day = today - chrono::Duration::days(back);
        if !cal.is_workday(day).unwrap_or(false) {
            continue;
        }
        let monday = chrono::Datelike::weekday(&day) == chrono::Weekday::Mon;
        let arrivals = if monday { 190 } else { 130 } + rng.gen_range(0..30);
        // Minutes after 09:00 at which people arrive, shaped by two peaks.
        let mut minutes: Vec<i64> = (0..arrivals)
            .map(|_| match rng.gen_range(0..10) {
                0..=4 => rng.gen_range(0..150),   // 09:00–11:30 morning peak
                5..=6 => rng.gen_range(180..270), // 12:00–13:30 lunch-break peak
                _ => rng.gen_range(270..480),     // afternoon until 17:00
            })
            .collect();
        minutes.sort_unstable();
        let mut seqs = std::collections::HashMap::new();
        let day_start = chrono::NaiveDateTime::new(
            day,
            chrono::NaiveTime::from_hms_opt(1, 0, 0).expect("valid"),
        )
        .and_utc()
        .timestamp_micros(); // 09:00 Beijing = 01:00 UTC
        for m in minutes {
            let (code, _) = QUEUE_CLASSES[[0, 0, 0, 1, 2, 2, 3, 3, 4, 5][rng.gen_range(0..10)]];
            let seq = seqs.entry(code).or_insert(0);
            *seq += 1;
            let issued = day_start + m * 60_000_000 + rng.gen_range(0..60) * 1_000_000;
            // Busier at peaks: longer waits then.
            let peak = (m < 150) || (180..270).contains(&m);
            let wait = rng.gen_range(
                3..if peak {
                    if monday {
                        45
                    } else {
                        32
                    }
                } else {
                    18
                },
            ) * 60_000_000;
            let handling = rng.gen_range(4..16) * 60_000_000;
            let priority = rng.gen_range(0..10) == 0;
            let number = WINDOWS
                .iter()
                .find(|w| w.2.contains(&code))
                .map(|w| w.0)
                .expect("a window serves each class");
            sqlx::query(
                "INSERT INTO tickets (hall_id, class_code, day, seq, number, priority, priority_reason, source, state, order_key, issued_at, called_at, served_at, finished_at, window_number) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'desk', 'done', $8, $8, $9, $10, $11, $12)",
            )
            .bind(hall_id)
            .bind(code)
            .bind(day.to_string())
            .bind(*seq as i64)
            .bind(onewindow_domain::queue::ticket_number(code, *seq))
            .bind(i64::from(priority))
            .bind(priority.then_some("elderly"))
            .bind(issued)
            .bind(issued + wait)
            .bind(issued + wait + 30_000_000)
            .bind(issued + wait + 30_000_000 + handling)
            .bind(number)
            .execute(&mut *conn)
            .await?;
            total += 1;
        }
    }
    crate::audit::append(
        conn,
        change,
        "queue.demo_history",
        "hall",
        &hall_id.to_string(),
        &serde_json::json!({ "tickets": total }),
    )
    .await?;
    Ok(())
}

/// Example cases for `serve --demo` and `onewindow demo` (not the test kit's seed, so
/// tests start from the bare demo): three 高龄津贴 applications of the street hall showing
/// visits per case and 一次办结 — one approved at the window and handed over in the same
/// trip, one taken in a week ago and mailed, one taken in a week ago and picked up today
/// (two visits). Runs once, right after [`seed`] created the demo.
pub async fn seed_cases(store: &Store, now: i64) -> Result<()> {
    use crate::cases::{self, NewCase, WindowFollowUp};
    use crate::visits::{self, NewVisit};
    use onewindow_domain::cases::{CaseAction, IssueMethod, MaterialLine, Performer};
    use onewindow_domain::catalog::{AcceptanceKind, MaterialCheck};
    use onewindow_domain::visits::VisitKind;
    let cal = onewindow_domain::calendar::WorkCalendar::shipped();
    let mut tx = store.begin().await?;
    let mut people = Vec::new();
    for name in ["clerk", "approver"] {
        let id = users::find_id_by_username(&mut tx, name)
            .await?
            .ok_or(crate::StoreError::NotFound)?;
        people.push(users::get(&mut tx, id).await?);
    }
    let approver = people.pop().expect("two");
    let clerk = people.pop().expect("two");
    let item = crate::catalog::get(&mut *tx, "MZ-0104").await?;
    let change_at = |at: i64, who: &crate::users::User| Change {
        backend: store.backend(),
        at,
        who: Who::user(who.id, &who.username),
    };
    let new = |at_window: Option<WindowFollowUp>, name: &str| NewCase {
        item_code: item.item.code.clone(),
        item_version_id: item.version_id,
        bundle_code: None,
        title: item.item.name.clone(),
        department_id: item.department_id,
        intake_org_id: clerk.org_id,
        immediate: item.item.is_immediate(),
        window_approvable: item.item.approve_at_window,
        at_window,
        limit_days: item.item.promised_limit_days,
        applicant_kind: "person".into(),
        applicant_name: name.into(),
        applicant_id: "11010519491231002X".into(),
        applicant_id_masked: "110105********002X".into(),
        applicant_phone: "13800138000".into(),
        agent_name: None,
        agent_id: None,
        agent_id_masked: None,
        materials: item
            .item
            .materials
            .iter()
            .map(|m| MaterialLine::ticked(m, MaterialCheck::Submitted))
            .collect(),
        creator_id: clerk.id,
        intake_place_kind: onewindow_domain::places::PlaceKind::Hall,
        channel: onewindow_domain::places::Channel::Window,
        handout: onewindow_domain::places::Handout {
            method: IssueMethod::Window,
            org_id: clerk.org_id,
            address: None,
        },
        backfill: None,
    };
    let accept = CaseAction::Accept {
        kind: AcceptanceKind::Normal,
        supplement_due: None,
    };
    let window_visit = |kind, day| NewVisit {
        kind,
        day,
        ticket_id: None,
        appointment_id: None,
        org_id: clerk.org_id,
        window_number: None,
    };
    let today = crate::clock::local_date(now);
    let week_ago_at = now - 7 * 86_400_000_000;
    let week_ago = crate::clock::local_date(week_ago_at);
    // 1. 即审即办, handed over in the same trip: one visit.
    let at_once = WindowFollowUp {
        opinion: "年龄核验无误，同意".into(),
        issue: Some(CaseAction::Issue {
            method: IssueMethod::Window,
            tracking_no: None,
            certificate_no: None,
        }),
    };
    let c = change_at(now, &clerk);
    let one = cases::intake(
        &mut tx,
        &c,
        &cal,
        today,
        &new(Some(at_once), "王大爷"),
        &accept,
        1,
    )
    .await?;
    visits::record(
        &mut tx,
        &c,
        one.id,
        &one.case_no,
        &window_visit(VisitKind::Intake, today),
    )
    .await?;
    // 2 and 3: taken in a week ago, decided by the department.
    let mut decided = Vec::new();
    for (name, entropy) in [("李奶奶", 2), ("赵大爷", 3)] {
        let c = change_at(week_ago_at, &clerk);
        let case = cases::intake(
            &mut tx,
            &c,
            &cal,
            week_ago,
            &new(None, name),
            &accept,
            entropy,
        )
        .await?;
        visits::record(
            &mut tx,
            &c,
            case.id,
            &case.case_no,
            &window_visit(VisitKind::Intake, week_ago),
        )
        .await?;
        let c = change_at(week_ago_at + 3_600_000_000, &approver);
        for action in [
            CaseAction::Take,
            CaseAction::Approve {
                opinion: "同意".into(),
            },
            CaseAction::ResultReady,
        ] {
            cases::transition(
                &mut tx,
                &c,
                &cal,
                week_ago,
                case.id,
                None,
                Performer::Staff(Role::Approver),
                &action,
            )
            .await?;
        }
        decided.push(case);
    }
    // 2. Mailed today: still one visit.
    let c = change_at(now, &clerk);
    let mail = CaseAction::Issue {
        method: IssueMethod::Mail,
        tracking_no: Some("SF1000000001".into()),
        certificate_no: None,
    };
    cases::transition(
        &mut tx,
        &c,
        &cal,
        today,
        decided[0].id,
        None,
        Performer::Staff(Role::WindowClerk),
        &mail,
    )
    .await?;
    // 3. Picked up at the window today: the second visit.
    let pick_up = CaseAction::Issue {
        method: IssueMethod::Window,
        tracking_no: None,
        certificate_no: None,
    };
    visits::record(
        &mut tx,
        &c,
        decided[1].id,
        &decided[1].case_no,
        &window_visit(VisitKind::Issuance, today),
    )
    .await?;
    cases::transition(
        &mut tx,
        &c,
        &cal,
        today,
        decided[1].id,
        None,
        Performer::Staff(Role::WindowClerk),
        &pick_up,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A demo case at the station: item, applicant, id number, channel, handout, and for a
/// 补录 how many days back the paper was taken in.
type DemoStationCase = (
    &'static str,
    &'static str,
    &'static str,
    onewindow_domain::places::Channel,
    onewindow_domain::cases::IssueMethod,
    Option<i64>,
);

/// Cases taken in at the 阳光社区 station (通收通办), for `serve --demo` and `demo`: one
/// whose result is back at the station waiting for its clerk to hand it over, one taken in
/// on a home visit and to be mailed, and one 补录 — a paper intake from an outage three
/// days ago, entered with its original acceptance time. Not part of [`seed`], so tests
/// start from a hall without cases. Returns the case numbers.
pub async fn seed_station_cases(store: &Store, now: i64) -> Result<Vec<String>> {
    use crate::cases::{self, MaterialLine, NewCase};
    use onewindow_domain::cases::{CaseAction, IssueMethod, Performer};
    use onewindow_domain::catalog::{AcceptanceKind, MaterialCheck};
    use onewindow_domain::ids::IdCardNumber;
    use onewindow_domain::places::{Backfill, Channel, Handout, PlaceKind};

    let today = crate::clock::local_date(now);
    let cal = onewindow_domain::calendar::WorkCalendar::shipped();
    let mut tx = store.begin().await?;
    let station = orgs::find_by_code(&mut *tx, "yangguang")
        .await?
        .ok_or(crate::StoreError::NotFound)?;
    let clerk_id = users::find_id_by_username(&mut tx, "clerk-yangguang")
        .await?
        .ok_or(crate::StoreError::NotFound)?;
    let approver_id = users::find_id_by_username(&mut tx, "approver")
        .await?
        .ok_or(crate::StoreError::NotFound)?;
    let by_clerk = Change {
        backend: store.backend(),
        at: now,
        who: Who::user(clerk_id, "clerk-yangguang"),
    };
    let by_approver = Change {
        who: Who::user(approver_id, "approver"),
        ..by_clerk.clone()
    };
    // (item, applicant, id number, channel, handout, 补录 days back)
    let plan: [DemoStationCase; 3] = [
        (
            "MZ-0103",
            "赵桂英",
            "11010519580315101X",
            Channel::CommunityStation,
            IssueMethod::Window,
            None,
        ),
        (
            "MZ-0104",
            "钱德明",
            "110105194207081014",
            Channel::HomeVisit,
            IssueMethod::Mail,
            None,
        ),
        (
            "MZ-0101",
            "孙丽华",
            "110105198506122128",
            Channel::CommunityStation,
            IssueMethod::Window,
            Some(3),
        ),
    ];
    let mut numbers = Vec::new();
    for (n, (code, name, id, channel, method, back)) in plan.into_iter().enumerate() {
        let item = crate::catalog::get_effective(&mut *tx, code, today).await?;
        let id = IdCardNumber::parse(id, today)
            .map_err(|e| crate::StoreError::invalid("applicant_id", e.code(), e.to_string()))?;
        let backfill = back.map(|days| {
            // Mid-morning, `days` calendar days ago: the paper form's time.
            let at = now - days * 86_400_000_000 - 3_600_000_000;
            Backfill {
                accepted_at: at,
                accepted_on: crate::clock::local_date(at),
                reason: "系统升级停机期间纸质受理".to_string(),
            }
        });
        let new = NewCase {
            item_code: item.item.code.clone(),
            item_version_id: item.version_id,
            bundle_code: None,
            title: item.item.name.clone(),
            department_id: item.department_id,
            intake_org_id: station.id,
            immediate: item.item.is_immediate(),
            window_approvable: item.item.approve_at_window,
            at_window: None,
            limit_days: item.item.promised_limit_days,
            applicant_kind: "person".into(),
            applicant_name: name.into(),
            applicant_id: id.as_str().to_string(),
            applicant_id_masked: id.masked(),
            applicant_phone: "13800138000".into(),
            agent_name: None,
            agent_id: None,
            agent_id_masked: None,
            materials: item
                .item
                .materials
                .iter()
                .map(|m| {
                    let check = if m.required {
                        MaterialCheck::Submitted
                    } else {
                        MaterialCheck::Missing
                    };
                    MaterialLine::ticked(m, check)
                })
                .collect(),
            creator_id: clerk_id,
            intake_place_kind: PlaceKind::CommunityStation,
            channel,
            handout: Handout {
                method,
                org_id: station.id,
                address: (method == IssueMethod::Mail)
                    .then(|| "示范区幸福街道阳光社区3栋2单元501 钱德明 13800138000".to_string()),
            },
            backfill,
        };
        let accept = CaseAction::Accept {
            kind: AcceptanceKind::Normal,
            supplement_due: None,
        };
        let case = cases::intake(
            &mut tx,
            &by_clerk,
            &cal,
            today,
            &new,
            &accept,
            0x5eed_0000 + n as u64,
        )
        .await?;
        if n == 0 {
            // Decided by the department; the result is back at the station to hand over.
            for action in [
                CaseAction::Take,
                CaseAction::Approve {
                    opinion: "同意".into(),
                },
                CaseAction::ResultReady,
            ] {
                cases::transition(
                    &mut tx,
                    &by_approver,
                    &cal,
                    today,
                    case.id,
                    None,
                    Performer::Staff(Role::Approver),
                    &action,
                )
                .await?;
            }
        }
        numbers.push(case.case_no);
    }
    tx.commit().await?;
    Ok(numbers)
}

/// Example fees for `serve --demo` and `onewindow demo`, after [`seed_cases`]: two
/// 社会保障卡补领 applications (即办, 20.00 元/张, 先缴费后出件) taken in at the street hall
/// today — one paid in cash at the window, one whose fee was waived (减免) for a disabled
/// applicant — so the case pages, the payments panel and the day's cash-up (日结) show a
/// payment beside a waiver. The demo catalog's 一件事 bundles show the material catalogue.
pub async fn seed_fee_examples(store: &Store, now: i64) -> Result<()> {
    use crate::cases::{self, NewCase};
    use crate::fees::{self, NewPayment, NewWaiver};
    use onewindow_domain::cases::{CaseAction, MaterialLine};
    use onewindow_domain::catalog::{AcceptanceKind, MaterialCheck};
    use onewindow_domain::fees::{PayMethod, PaymentRequest, WaiverCategory};
    let cal = onewindow_domain::calendar::WorkCalendar::shipped();
    let mut tx = store.begin().await?;
    let clerk_id = users::find_id_by_username(&mut tx, "clerk")
        .await?
        .ok_or(crate::StoreError::NotFound)?;
    let clerk = users::get(&mut tx, clerk_id).await?;
    let hall = orgs::find_by_code(&mut *tx, "xingfu-hall")
        .await?
        .ok_or(crate::StoreError::NotFound)?;
    let item = crate::catalog::get(&mut *tx, "RS-0402-01").await?;
    let change = Change {
        backend: store.backend(),
        at: now,
        who: Who::user(clerk.id, &clerk.username),
    };
    let today = crate::clock::local_date(now);
    let accept = CaseAction::Accept {
        kind: AcceptanceKind::Normal,
        supplement_due: None,
    };
    let mut taken = Vec::new();
    for (name, entropy) in [("周阿姨", 11), ("孙大伯", 12)] {
        let new = NewCase {
            item_code: item.item.code.clone(),
            item_version_id: item.version_id,
            bundle_code: None,
            title: item.item.name.clone(),
            department_id: item.department_id,
            intake_org_id: clerk.org_id,
            immediate: item.item.is_immediate(),
            window_approvable: item.item.approve_at_window,
            at_window: None,
            limit_days: item.item.promised_limit_days,
            applicant_kind: "person".into(),
            applicant_name: name.into(),
            applicant_id: "11010519491231002X".into(),
            applicant_id_masked: "110105********002X".into(),
            applicant_phone: "13800138000".into(),
            agent_name: None,
            agent_id: None,
            agent_id_masked: None,
            materials: item
                .item
                .materials
                .iter()
                .map(|m| MaterialLine::ticked(m, MaterialCheck::Submitted))
                .collect(),
            creator_id: clerk.id,
            intake_place_kind: onewindow_domain::places::PlaceKind::Hall,
            channel: onewindow_domain::places::Channel::Window,
            handout: onewindow_domain::places::Handout {
                method: onewindow_domain::cases::IssueMethod::Window,
                org_id: clerk.org_id,
                address: None,
            },
            backfill: None,
        };
        taken.push(cases::intake(&mut tx, &change, &cal, today, &new, &accept, entropy).await?);
    }
    fees::record_payment(
        &mut tx,
        &change,
        &NewPayment {
            case_id: taken[0].id,
            request: PaymentRequest {
                amount: item.item.fee.due(1),
                quantity: 1,
                method: PayMethod::Cash,
            },
            note: String::new(),
            clerk_id: clerk.id,
            hall_id: hall.id,
            window: None,
            day: today,
        },
    )
    .await?;
    fees::record_waiver(
        &mut tx,
        &change,
        &NewWaiver {
            case_id: taken[1].id,
            amount: None,
            category: WaiverCategory::Disabled,
            reason: "查验残疾人证，免收补卡工本费".into(),
            clerk_id: clerk.id,
            hall_id: hall.id,
            window: None,
            day: today,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// 好差评 over the demo's last three weeks at the 幸福街道 hall: three rated visits a day,
/// mostly good; five bad ones at every stage of their rectification (closed with a
/// callback, waiting for the callback, being put right by a deadline, waiting to be
/// verified, and one appealed with the appeal waiting for the supervisor); and the demo's
/// finished cases rated online. The visits are history: tickets of past days, finished by
/// the demo clerk at the hall's windows. Not part of [`seed`], like the cases.
pub async fn seed_ratings(store: &Store, now: i64) -> Result<()> {
    use crate::ratings::{self, NewRating, SubjectRef};
    use onewindow_domain::ratings::{CallbackWay, Channel, Level, RectificationStep, Remedy};
    use sqlx::Row;
    const DAY: i64 = 86_400_000_000;
    let cal = onewindow_domain::calendar::WorkCalendar::shipped();
    let settings = ratings::settings(store.reader()).await?;
    let mut tx = store.begin().await?;
    let hall = orgs::find_by_code(&mut *tx, "xingfu-hall")
        .await?
        .ok_or(crate::StoreError::NotFound)?;
    let mut ids = Vec::new();
    for name in ["clerk", "supervisor"] {
        ids.push(
            users::find_id_by_username(&mut tx, name)
                .await?
                .ok_or(crate::StoreError::NotFound)?,
        );
    }
    let (clerk, supervisor) = (ids[0], ids[1]);
    let windows = crate::queue::windows(&mut *tx, hall.id).await?;
    let at = |t: i64, id: i64, name: &str| Change {
        backend: store.backend(),
        at: t,
        who: Who::user(id, name),
    };
    // Which (day back, slot) gives which level; the bad ones carry their stage.
    let bad: [(i64, Level); 5] = [
        (18, Level::Dissatisfied),
        (12, Level::VeryDissatisfied),
        (8, Level::Dissatisfied),
        (3, Level::VeryDissatisfied),
        (15, Level::Dissatisfied),
    ];
    let mut bad_ratings = Vec::new();
    for back in (1..=20).rev() {
        let finished_day = now - back * DAY;
        for slot in 0..3i64 {
            let w = &windows[(slot as usize + back as usize) % windows.len().max(1)];
            let finished = crate::clock::local_date(finished_day)
                .and_hms_opt(9 + slot as u32 * 2, 20, 0)
                .map(|t| t.and_utc().timestamp_micros() - 8 * 3_600_000_000)
                .unwrap_or(finished_day);
            let day = crate::clock::local_date(finished).to_string();
            let class = w.classes.first().cloned().unwrap_or_else(|| "A".into());
            let seq = 900 + slot;
            let id: i64 = sqlx::query(
                "INSERT INTO tickets (hall_id, class_code, day, seq, number, source, state, \
                 order_key, issued_at, called_at, served_at, finished_at, window_id, window_number, \
                 finished_by) VALUES ($1, $2, $3, $4, $5, 'desk', 'done', $6, $6, $7, $7, $8, $9, $10, $11) \
                 RETURNING id",
            )
            .bind(hall.id)
            .bind(&class)
            .bind(&day)
            .bind(seq)
            .bind(format!("{class}{seq:03}"))
            .bind(finished - 30 * 60_000_000)
            .bind(finished - 15 * 60_000_000)
            .bind(finished)
            .bind(w.id)
            .bind(w.number)
            .bind(clerk)
            .fetch_one(&mut *tx)
            .await?
            .get("id");
            let level = match bad.iter().find(|(b, _)| *b == back) {
                Some((_, l)) if slot == 1 => *l,
                _ if (back + slot) % 7 == 0 => Level::Basic,
                _ if (back + slot) % 3 == 0 => Level::Satisfied,
                _ => Level::VerySatisfied,
            };
            let rating = ratings::rate(
                &mut tx,
                &at(finished + 60_000_000, clerk, "rating-device"),
                &cal,
                &settings,
                &NewRating {
                    subject: SubjectRef::Ticket(id),
                    level,
                    scores: vec![("attitude".into(), level.stars())],
                    tags: if level.is_bad() {
                        vec!["long_wait".into()]
                    } else {
                        vec!["warm".into()]
                    },
                    comment: if level.is_bad() {
                        "排队等了很久，窗口解释不清楚".into()
                    } else {
                        String::new()
                    },
                    channel: Channel::WindowDevice,
                    entered_by: None,
                },
            )
            .await?;
            if level.is_bad() {
                bad_ratings.push((back, rating.id, finished));
            }
        }
    }
    for (back, rating_id, finished) in bad_ratings {
        let Some(rect) = ratings::rectification_of_rating(&mut *tx, rating_id).await? else {
            continue;
        };
        let by = |days: i64| at(finished + days * DAY, supervisor, "supervisor");
        let verify = |remedy| RectificationStep::Verify {
            founded: true,
            evidence: "调取窗口录像核实，高峰时段等候超过40分钟，情况属实".into(),
            remedy: Some(remedy),
        };
        match back {
            // Closed: put right at once, the rater (anonymous at the device) not reachable.
            18 => {
                ratings::take_step(&mut tx, &by(1), &cal, rect, None, &verify(Remedy::AtOnce))
                    .await?;
                ratings::take_step(
                    &mut tx,
                    &by(2),
                    &cal,
                    rect,
                    None,
                    &RectificationStep::CalledBack {
                        way: CallbackWay::NoContact,
                        rater_level: None,
                        note: "窗口评价器匿名评价，无联系方式".into(),
                    },
                )
                .await?;
            }
            // Waiting for the callback.
            12 => {
                ratings::take_step(&mut tx, &by(1), &cal, rect, None, &verify(Remedy::AtOnce))
                    .await?;
            }
            // Being put right by a deadline.
            8 => {
                ratings::take_step(
                    &mut tx,
                    &by(1),
                    &cal,
                    rect,
                    None,
                    &verify(Remedy::ByDeadline),
                )
                .await?;
            }
            // Explained (a policy limit), waiting for the callback.
            15 => {
                ratings::take_step(
                    &mut tx,
                    &by(1),
                    &cal,
                    rect,
                    None,
                    &verify(Remedy::Explanation),
                )
                .await?;
            }
            // 3 days back: still to be verified.
            _ => {}
        }
    }
    // The demo's finished cases, rated online by their applicants: the first 不满意 and
    // appealed by the department that decided it, waiting for the district's supervisor.
    let approver = users::find_id_by_username(&mut tx, "approver")
        .await?
        .ok_or(crate::StoreError::NotFound)?;
    let finished: Vec<i64> =
        sqlx::query("SELECT id FROM cases WHERE state IN ($1, $2) ORDER BY id")
            .bind(onewindow_domain::cases::CaseState::Issued.as_str())
            .bind(onewindow_domain::cases::CaseState::Closed.as_str())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.get("id"))
            .collect();
    for (n, case_id) in finished.into_iter().enumerate() {
        let level = match n {
            0 => Level::Dissatisfied,
            n if n % 2 == 1 => Level::Satisfied,
            _ => Level::VerySatisfied,
        };
        let rating = ratings::rate(
            &mut tx,
            &Change {
                backend: store.backend(),
                at: now,
                who: Who::system("rater"),
            },
            &cal,
            &settings,
            &NewRating {
                subject: SubjectRef::Case(case_id),
                level,
                scores: vec![("efficiency".into(), level.stars())],
                tags: vec![],
                comment: if level.is_bad() {
                    "要求补交的材料事先没有告知".into()
                } else {
                    String::new()
                },
                channel: Channel::Online,
                entered_by: None,
            },
        )
        .await?;
        if n == 0 {
            ratings::file_appeal(
                &mut tx,
                &at(now, approver, "approver"),
                rating.id,
                "受理时已出具一次性告知书，申请人签字确认，附告知书扫描件",
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
