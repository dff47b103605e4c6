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
pub const ACCOUNTS: [DemoAccount; 9] = [
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
        username: "clerk-yangguang",
        role: Role::WindowClerk,
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
        "grid" => "孙网格",
        "handler" => "周处置",
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
    created.push(hall);

    // One hash for all demo accounts: Argon2 is deliberately slow.
    let hash = passwords::hash(DEMO_PASSWORD);
    for account in &ACCOUNTS {
        let org = created
            .iter()
            .find(|o| o.name == account.org)
            .expect("demo org exists");
        users::create(
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
    }
    // The demo catalog (C1): items of every window class and the 一件事 bundles.
    let today = crate::clock::local_date(now);
    crate::catalog::import(
        &mut tx,
        &change,
        &onewindow_domain::catalog::Catalog::demo(),
        today,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
