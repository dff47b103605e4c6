//! The demo's grid data: 幸福街道's communities and six grids (two per community, a plausible
//! block layout around lon 116.399, lat 39.908) with their buildings, the grid worker in
//! 阳光社区第一网格, a few categories, and about four weeks of events — closed ones (some late,
//! one co-handled) and open ones in every state: reported, dispatched, signed, in progress,
//! handled, confirmed, taken by the community, returned by a department, reopened, a
//! duplicate, one outside every grid, some past their limits — made through the same
//! operations the pages use, with the clock moved back, so the engine, the chain and the
//! rollup are what they would be.

use super::categories;
use super::events::{self, NewEvent};
use super::geometry;
use crate::audit::{Change, Who};
use crate::{orgs, users, Result, Store, StoreError};
use onewindow_domain::escalation::DeadlineRule;
use onewindow_domain::grid::{
    Act, Actor, Category, ReporterKind, Visibility, WorkerRole, DEFAULT_CLOSE, DEFAULT_RESPOND,
};
use serde_json::json;
use std::collections::HashMap;

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

/// The demo's layout: community code, its column west to east; each column holds grid 1
/// (south) and grid 2 (north). 0.006° of longitude ≈ 510 m, 0.004° of latitude ≈ 445 m.
pub const WEST: f64 = 116.390;
pub const SOUTH: f64 = 39.904;
pub const COLUMN: f64 = 0.006;
pub const ROW: f64 = 0.004;
pub const COMMUNITIES: [&str; 3] = ["yangguang", "heping", "dongfeng"];

/// The street's grids as a GeoJSON FeatureCollection (community ids looked up by code).
pub fn grids_geojson(communities: &[(String, i64)]) -> String {
    let mut features = vec![];
    for (i, code) in COMMUNITIES.iter().enumerate() {
        let community = communities
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, id)| *id);
        for n in 0..2 {
            let (w, s) = (WEST + i as f64 * COLUMN, SOUTH + n as f64 * ROW);
            let (e, nn) = (w + COLUMN, s + ROW);
            features.push(json!({
                "type": "Feature",
                "properties": { "code": format!("{code}-g{}", n + 1),
                    "name": format!("{}第{}网格", name_of(code), ["一", "二"][n]),
                    "households": 300 + 10 * (i * 2 + n), "community": community },
                "geometry": { "type": "Polygon",
                    "coordinates": [[[w, s], [e, s], [e, nn], [w, nn], [w, s]]] },
            }));
        }
    }
    json!({ "type": "FeatureCollection", "features": features }).to_string()
}

/// The boundaries of the street's three communities: each its column, both grids' rows.
pub fn communities_geojson() -> String {
    let features: Vec<serde_json::Value> = COMMUNITIES
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let (w, s) = (WEST + i as f64 * COLUMN, SOUTH);
            let (e, n) = (w + COLUMN, s + 2.0 * ROW);
            json!({
                "type": "Feature",
                "properties": { "code": code, "name": name_of(code) },
                "geometry": { "type": "Polygon",
                    "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
            })
        })
        .collect();
    json!({ "type": "FeatureCollection", "features": features }).to_string()
}

/// Six buildings (楼栋) per grid, as points at their entrances in a 3 × 2 block, 44 to 56
/// households each (about the seed's 300 a grid); the grid each falls in is found from its
/// point, not named.
pub fn buildings_geojson() -> String {
    let mut features = vec![];
    for (i, code) in COMMUNITIES.iter().enumerate() {
        for n in 0..2 {
            let (w, s) = (WEST + i as f64 * COLUMN, SOUTH + n as f64 * ROW);
            for k in 0..6 {
                let (col, row) = ((k % 3) as f64, (k / 3) as f64);
                let lon = w + COLUMN * (0.2 + 0.3 * col);
                let lat = s + ROW * (0.3 + 0.4 * row);
                features.push(json!({
                    "type": "Feature",
                    "properties": { "code": format!("{code}-g{}-b{}", n + 1, k + 1),
                        "name": format!("{}{}号楼", name_of(code), n * 6 + k + 1),
                        "households": 44 + (k * 5 + i * 3 + n * 7) % 13 },
                    "geometry": { "type": "Point", "coordinates": [lon, lat] },
                }));
            }
        }
    }
    json!({ "type": "FeatureCollection", "features": features }).to_string()
}

fn name_of(code: &str) -> &'static str {
    match code {
        "yangguang" => "阳光社区",
        "heping" => "和平社区",
        _ => "东风社区",
    }
}

/// Demo categories: code, name, group, default department (org code), help, public.
pub const CATEGORIES: [(&str, &str, &str, &str, &str); 5] = [
    (
        "lights",
        "路灯损坏",
        "市容环境",
        "dept-cg",
        "路灯不亮、灯杆倾斜：请拍下灯杆编号",
    ),
    (
        "building",
        "违法建设",
        "城市管理",
        "dept-cg",
        "私搭乱建、违规加层、圈占绿地",
    ),
    (
        "firelane",
        "消防通道堵塞",
        "安全隐患",
        "dept-cg",
        "车辆或杂物占用消防通道",
    ),
    (
        "garbage",
        "垃圾堆放",
        "市容环境",
        "dept-cg",
        "垃圾满溢、建筑垃圾乱倒",
    ),
    (
        "dispute",
        "邻里纠纷",
        "矛盾调解",
        "dept-mz",
        "噪音、漏水、占用公共空间引起的纠纷",
    ),
];

/// Seeds the demo's grid data (after [`crate::demo::seed`]); `now` is the demo clock.
pub async fn seed(store: &Store, now: i64) -> Result<()> {
    let cal = onewindow_domain::calendar::WorkCalendar::shipped();
    let mut tx = store.begin().await?;
    let street = orgs::find_by_code(&mut *tx, "xingfu")
        .await?
        .ok_or(StoreError::NotFound)?;
    // Categories are shared reference data, owned by the district (as 接诉即办's are).
    let district = orgs::find_by_code(&mut *tx, "district")
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut who = HashMap::new();
    for name in [
        "admin",
        "dispatcher",
        "handler",
        "grid",
        "community",
        "approver",
    ] {
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
    let mut communities = vec![];
    for code in COMMUNITIES {
        let c = orgs::find_by_code(&mut *tx, code)
            .await?
            .ok_or(StoreError::NotFound)?;
        communities.push((code.to_string(), c.id));
    }
    let t0 = now - 20 * DAY;
    geometry::import_communities(
        &mut tx,
        &change(t0, "admin"),
        street.id,
        &communities_geojson(),
    )
    .await?;
    geometry::import(
        &mut tx,
        &change(t0, "admin"),
        street.id,
        &grids_geojson(&communities),
    )
    .await?;
    geometry::import_buildings(
        &mut tx,
        &change(t0, "admin"),
        street.id,
        &buildings_geojson(),
    )
    .await?;
    let grids = sqlx::query("SELECT id, code FROM grid_areas ORDER BY code")
        .fetch_all(&mut *tx)
        .await?;
    use sqlx::Row;
    let grid_id = |code: &str| {
        grids
            .iter()
            .find(|r| r.get::<String, _>("code") == code)
            .map(|r| r.get::<i64, _>("id"))
    };
    if let Some(g) = grid_id("yangguang-g1") {
        geometry::add_worker(
            &mut tx,
            &change(t0, "admin"),
            g,
            who["grid"],
            WorkerRole::FullTime,
        )
        .await?;
    }
    let mut category = HashMap::new();
    let mut department = HashMap::new();
    for (code, name, group, dept, help) in CATEGORIES {
        let d = orgs::find_by_code(&mut *tx, dept)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut c = Category::new(code, name);
        c.group = group.into();
        c.help = help.into();
        c.default_department = Some(d.id);
        c.respond = DEFAULT_RESPOND;
        c.close = if code == "building" {
            DeadlineRule::WorkingDays(5)
        } else {
            DEFAULT_CLOSE
        };
        let saved = categories::save(&mut tx, &change(t0, "admin"), district.id, None, &c).await?;
        category.insert(code, saved.id);
        department.insert(code, d.id);
    }
    let mz = orgs::find_by_code(&mut *tx, "dept-mz")
        .await?
        .ok_or(StoreError::NotFound)?
        .id;
    // (category, description, address, offset east/north in grid cells, days ago, how far it
    // got). The last weeks' events first: closed, some late, one with a co-handler; then the
    // open ones in every state, some past their limits.
    type Planned<'a> = (&'a str, &'a str, &'a str, (f64, f64), i64, &'a str);
    let mut plan: Vec<Planned> = vec![
        (
            "lights",
            "阳光小区3号楼前路灯不亮",
            "阳光小区3号楼",
            (0.3, 0.4),
            9,
            "closed",
        ),
        (
            "garbage",
            "和平里菜市场门口垃圾满溢",
            "和平里菜市场",
            (1.5, 0.5),
            7,
            "closed",
        ),
        (
            "firelane",
            "东风小区消防通道被私家车占用",
            "东风小区2号门",
            (2.4, 1.3),
            5,
            "dispatched",
        ),
        (
            "building",
            "阳光小区顶楼违规加盖彩钢房",
            "阳光小区8号楼顶",
            (0.6, 1.6),
            4,
            "in_progress",
        ),
        (
            "lights",
            "和平路路灯灯杆倾斜",
            "和平路与幸福大街路口",
            (1.2, 1.4),
            3,
            "handled",
        ),
        (
            "garbage",
            "阳光社区北门建筑垃圾乱倒",
            "阳光社区北门",
            (0.5, 1.2),
            2,
            "signed",
        ),
        (
            "lights",
            "阳光小区3号楼前路灯又不亮了",
            "阳光小区3号楼",
            (0.3, 0.41),
            1,
            "duplicate",
        ),
        (
            "dispute",
            "楼上漏水引起邻里纠纷",
            "和平里5号楼",
            (1.7, 0.2),
            1,
            "reported",
        ),
        (
            "garbage",
            "东风路口垃圾桶损坏",
            "东风路与幸福大街路口",
            (2.6, 0.7),
            0,
            "reported",
        ),
        (
            "lights",
            "街道边界外公园路灯不亮",
            "幸福公园东门（街道边界外）",
            (3.4, 0.5),
            0,
            "reported",
        ),
        (
            "garbage",
            "阳光小区南门外堆放废旧家具",
            "阳光小区南门",
            (0.2, 0.2),
            2,
            "community",
        ),
        (
            "lights",
            "和平里2号楼楼道灯不亮",
            "和平里2号楼",
            (1.3, 0.3),
            3,
            "confirmed",
        ),
        (
            "firelane",
            "东风小区消防通道堆放杂物",
            "东风小区6号楼",
            (2.5, 1.6),
            2,
            "returned",
        ),
        (
            "garbage",
            "和平路绿地垃圾未清运",
            "和平路绿地",
            (1.6, 1.7),
            4,
            "reopened",
        ),
        (
            "building",
            "东风小区一层违规扩建",
            "东风小区12号楼",
            (2.2, 0.4),
            8,
            "co_closed",
        ),
    ];
    let older = [
        ("lights", "路灯不亮", "阳光小区"),
        ("garbage", "垃圾满溢", "和平里"),
        ("firelane", "消防通道被占用", "东风小区"),
        ("garbage", "建筑垃圾乱倒", "阳光社区"),
        ("lights", "路灯闪烁", "和平路"),
    ];
    let older_text: Vec<(String, String)> = (0..14)
        .map(|k| {
            let (_, what, place) = older[k % older.len()];
            (
                format!("{place}{}号楼附近{what}", k + 1),
                format!("{place}{}号楼", k + 1),
            )
        })
        .collect();
    for (k, (text, address)) in older_text.iter().enumerate() {
        let (code, ..) = older[k % older.len()];
        let (col, row) = ((k % 3) as f64, ((k / 3) % 2) as f64);
        // Every fourth closed after its limit, every fifth signed late.
        let until = match k {
            k if k % 4 == 3 => "closed_late",
            k if k % 5 == 4 => "responded_late",
            _ => "closed",
        };
        plan.push((
            code,
            text,
            address,
            (col + 0.15 + 0.05 * (k % 4) as f64, row + 0.7),
            10 + k as i64,
            until,
        ));
    }
    let mut first = None;
    for (i, (code, text, address, (dx, dy), days, until)) in plan.iter().enumerate() {
        let at = now - days * DAY - (9 - (i as i64 % 9)) * HOUR;
        let reporter = if i % 3 == 2 { "dispatcher" } else { "grid" };
        let point = (WEST + dx * COLUMN, SOUTH + dy * ROW);
        let r = events::report(
            &mut tx,
            &change(at, reporter),
            &cal,
            &NewEvent {
                category_id: category[code],
                description: (*text).into(),
                point: Some(point),
                address: format!("幸福街道{address}"),
                attributes: vec![],
                reporter: if reporter == "grid" {
                    ReporterKind::GridWorker
                } else {
                    ReporterKind::Resident
                },
                reporter_user_id: (reporter == "grid").then_some(who["grid"]),
                reporter_client: (reporter != "grid").then(|| "居民来电".to_string()),
                reporter_contact: String::new(),
                visibility: if *code == "dispute" {
                    Visibility::Private
                } else {
                    Visibility::Public
                },
                fallback_street: Some(street.id),
                photos: vec![],
            },
        )
        .await?;
        let id = r.event.id;
        if i == 0 {
            first = Some(id);
        }
        let confirmer = if reporter == "grid" {
            (Actor::Reporter, "grid")
        } else {
            (Actor::StreetDispatcher, "dispatcher")
        };
        let steps: Vec<(Act, Actor, &str, i64)> = match *until {
            "duplicate" => vec![(
                Act::RejectDuplicate {
                    original: first.unwrap_or(id),
                },
                Actor::StreetDispatcher,
                "dispatcher",
                HOUR,
            )],
            "reported" => vec![],
            // The community takes it with the enforcement team (社区直接处置).
            "community" => vec![(
                Act::CommunityTakes {
                    enforcement: true,
                    note: "联系综合执法队当日清运".into(),
                },
                Actor::Community,
                "community",
                2 * HOUR,
            )],
            // Sent to 民政局, who return it as not theirs: back to the street.
            "returned" => vec![
                (
                    Act::Dispatch {
                        department: mz,
                        co: vec![],
                    },
                    Actor::StreetDispatcher,
                    "dispatcher",
                    HOUR,
                ),
                (
                    Act::NotOurs {
                        reason: "消防通道属城管和消防职责，请改派".into(),
                    },
                    Actor::LeadHandler,
                    "approver",
                    5 * HOUR,
                ),
            ],
            _ => {
                let late = *until == "responded_late";
                let co = if *until == "co_closed" {
                    vec![mz]
                } else {
                    vec![]
                };
                let mut s = vec![
                    (
                        Act::Dispatch {
                            department: department[code],
                            co,
                        },
                        Actor::StreetDispatcher,
                        "dispatcher",
                        HOUR,
                    ),
                    (
                        Act::Sign,
                        Actor::LeadHandler,
                        "handler",
                        if late { 30 * HOUR } else { 3 * HOUR },
                    ),
                    (
                        Act::Start,
                        Actor::LeadHandler,
                        "handler",
                        if late { 31 * HOUR } else { 4 * HOUR },
                    ),
                    (
                        Act::Handle {
                            reply: "已到现场处置完毕".into(),
                            after_photos: 1,
                        },
                        Actor::LeadHandler,
                        "handler",
                        20 * HOUR,
                    ),
                    (Act::Confirm, confirmer.0, confirmer.1, 26 * HOUR),
                    (Act::Close, Actor::StreetDispatcher, "dispatcher", 27 * HOUR),
                ];
                if *until == "closed_late" {
                    // Confirmed and closed on the fifth day: past the 3-day limit.
                    s[4].3 = 100 * HOUR;
                    s[5].3 = 101 * HOUR;
                }
                if *until == "reopened" {
                    // The worker finds it not done: back to the department, in progress.
                    s.truncate(4);
                    s.push((
                        Act::Reopen {
                            reason: "绿地东侧仍有垃圾未清".into(),
                        },
                        confirmer.0,
                        confirmer.1,
                        24 * HOUR,
                    ));
                }
                let keep = match *until {
                    "dispatched" => 1,
                    "signed" => 2,
                    "in_progress" => 3,
                    "handled" => 4,
                    "confirmed" => 5,
                    _ => s.len(),
                };
                s.truncate(keep);
                s
            }
        };
        for (act, actor, name, after) in steps {
            let photos = if matches!(act, Act::Handle { .. }) {
                vec![events::NewPhoto {
                    bytes: TINY_PNG.to_vec(),
                    declared: "image/png".into(),
                }]
            } else {
                vec![]
            };
            events::act(
                &mut tx,
                &change(at + after, name),
                &cal,
                id,
                None,
                &[actor],
                &act,
                &photos,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A 1×1 PNG: the demo's after-photo.
pub const TINY_PNG: [u8; 67] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
