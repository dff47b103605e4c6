//! Roles, permissions and organisation scope: the one place that decides who may do what.
//!
//! Every handler asks [`authorize`] with the actor and the organisation the data belongs
//! to. A grant needs both a role that carries the permission and the target inside the
//! actor's subtree. Capabilities add their permissions to [`Permission`] and the table in
//! [`Permission::granted_to`]; nothing else needs to change.

use crate::org::{OrgKind, OrgPath};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    GuideDesk,
    WindowClerk,
    Approver,
    FallbackOfficer,
    GridWorker,
    DeptHandler,
    /// 接诉即办 dispatcher of a street or district: takes requests in, dispatches them,
    /// reviews 退单, calls back.
    Dispatcher,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Admin,
        Role::Supervisor,
        Role::GuideDesk,
        Role::WindowClerk,
        Role::Approver,
        Role::FallbackOfficer,
        Role::GridWorker,
        Role::DeptHandler,
        Role::Dispatcher,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::GuideDesk => "guide_desk",
            Role::WindowClerk => "window_clerk",
            Role::Approver => "approver",
            Role::FallbackOfficer => "fallback_officer",
            Role::GridWorker => "grid_worker",
            Role::DeptHandler => "dept_handler",
            Role::Dispatcher => "dispatcher",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Supervisor => "督查人员",
            Role::GuideDesk => "导办人员",
            Role::WindowClerk => "综合受理窗口人员",
            Role::Approver => "后台审批人员",
            Role::FallbackOfficer => "办不成事窗口专员",
            Role::GridWorker => "网格员",
            Role::DeptHandler => "部门处置人员",
            Role::Dispatcher => "接诉即办派单员",
        }
    }

    /// The title of this role's workbench (home page).
    pub fn workbench(self) -> &'static str {
        match self {
            Role::Admin => "系统管理工作台",
            Role::Supervisor => "督查监管工作台",
            Role::GuideDesk => "导办服务工作台",
            Role::WindowClerk => "综合受理工作台",
            Role::Approver => "后台审批工作台",
            Role::FallbackOfficer => "办不成事窗口工作台",
            Role::GridWorker => "网格工作台",
            Role::DeptHandler => "部门处置工作台",
            Role::Dispatcher => "接诉即办工作台",
        }
    }
}

/// What an actor wants to do. Grouped by capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the organisation tree within scope.
    ViewOrgs,
    /// Create and rename organisations within scope.
    ManageOrgs,
    /// List staff accounts within scope.
    ViewUsers,
    /// Create, disable, re-role staff and reset passwords within scope.
    ManageUsers,
    /// Read the audit log and verify the chain.
    ViewAudit,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Edit, import and export the service item catalog.
    ManageCatalog,
    /// Load and edit the working-day calendar.
    ManageCalendar,
    /// Take in applications at the window, issue results, finish 即办 items.
    HandleIntake,
    /// Review cases routed to the department: take, approve, reject, return.
    ReviewCases,
    /// Read cases within scope.
    ViewCases,
    /// Issue queue tickets, check in and book appointments for people at the desk.
    IssueTickets,
    /// Open, pause and close a window; call, recall, skip, transfer, finish tickets.
    OperateWindow,
    /// Take a case's fee at the window and print its receipt (缴费).
    CollectFees,
    /// Give a payment back (退费): a supervisor, not the clerk who took the money.
    RefundFees,
    /// Read a hall's payments and its daily cash-up (日结).
    ViewCashup,
    /// Read ratings (raters masked) and their figures within scope.
    ViewRatings,
    /// Enter a rating a resident gave by phone or SMS callback (电话/短信回访).
    EnterRatings,
    /// Answer for the rated unit: verify, rectify, call back; appeal a rating (申诉).
    RectifyRatings,
    /// Decide an appeal (复核): a supervisor over the rated unit.
    DecideAppeals,
    /// Pair a tablet to a window as its rating device (评价器).
    PairRatingDevices,
    /// Read fallback-window cases, the ledger and their figures within scope.
    ViewFallback,
    /// Work fallback-window cases: take in, classify, coordinate, conclude, feed back,
    /// verify, file (首接负责 decides whose case it is: `domain::fallback::may_act`).
    HandleFallback,
    /// Answer the fallback window's tasks for one's department (答复、否定答复报告).
    AnswerFallbackTasks,
    /// Decide a fallback case's extension, raise it to the leading group, decide a policy
    /// suggestion.
    DecideFallback,
    /// Keep the negative list, tags, department liaisons and the expert pool.
    ManageFallbackLists,
    /// Read 接诉即办 requests received within scope: the dispatcher board, figures. (A
    /// department reads those dispatched to it through `HandleComplaints`.)
    ViewComplaints,
    /// Take a request in by phone, at the window or the desk (首接负责 for the record).
    TakeComplaints,
    /// Dispatch (派单), review a 退单, merge a repeat, call back and tell the result.
    DispatchComplaints,
    /// Answer for a department: sign for (签收), ask for re-dispatch (退单), reply.
    HandleComplaints,
    /// Keep the category tree and retrain the department suggestion.
    ManageComplaintCategories,
    /// Read a street's grid events: the dispatcher board with its map, the figures. (A
    /// department reads what it leads or co-handles through `HandleGridEvents`, a reporter
    /// what they reported.)
    ViewGridEvents,
    /// Report a grid event: a grid worker in their grids, the desks for a resident.
    ReportGridEvents,
    /// The street's dispatch of grid events: dispatch, merge a duplicate, close.
    DispatchGridEvents,
    /// Answer for a department: sign for, handle with after-photos, return as not ours.
    HandleGridEvents,
    /// The community route (seed 001 §5.1, 社区直接处置): a community's duty officer or
    /// head takes an event of the community with the enforcement team, skipping the
    /// street's dispatch.
    TakeGridEventsInCommunity,
    /// Keep the event categories (Open311 services), owned by a city or district.
    ManageGridCategories,
}

impl Permission {
    pub const ALL: [Permission; 37] = [
        Permission::ViewOrgs,
        Permission::ManageOrgs,
        Permission::ViewUsers,
        Permission::ManageUsers,
        Permission::ViewAudit,
        Permission::ManageApiKeys,
        Permission::ManageCatalog,
        Permission::ManageCalendar,
        Permission::HandleIntake,
        Permission::ReviewCases,
        Permission::ViewCases,
        Permission::IssueTickets,
        Permission::OperateWindow,
        Permission::CollectFees,
        Permission::RefundFees,
        Permission::ViewCashup,
        Permission::ViewRatings,
        Permission::EnterRatings,
        Permission::RectifyRatings,
        Permission::DecideAppeals,
        Permission::PairRatingDevices,
        Permission::ViewFallback,
        Permission::HandleFallback,
        Permission::AnswerFallbackTasks,
        Permission::DecideFallback,
        Permission::ManageFallbackLists,
        Permission::ViewComplaints,
        Permission::TakeComplaints,
        Permission::DispatchComplaints,
        Permission::HandleComplaints,
        Permission::ManageComplaintCategories,
        Permission::ViewGridEvents,
        Permission::ReportGridEvents,
        Permission::DispatchGridEvents,
        Permission::HandleGridEvents,
        Permission::TakeGridEventsInCommunity,
        Permission::ManageGridCategories,
    ];

    /// The permission table. Kept as one match so a review reads it at a glance.
    pub fn granted_to(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::ViewOrgs => &Role::ALL,
            Permission::ManageOrgs => &[Admin],
            Permission::ViewUsers => &[Admin, Supervisor],
            Permission::ManageUsers => &[Admin],
            Permission::ViewAudit => &[Admin, Supervisor],
            Permission::ManageApiKeys => &[Admin],
            Permission::ManageCatalog => &[Admin],
            Permission::ManageCalendar => &[Admin],
            Permission::HandleIntake => &[WindowClerk],
            Permission::ReviewCases => &[Approver],
            Permission::ViewCases => &[Admin, Supervisor, GuideDesk, WindowClerk, Approver],
            Permission::IssueTickets => &[GuideDesk, WindowClerk],
            Permission::OperateWindow => &[WindowClerk],
            Permission::CollectFees => &[WindowClerk],
            Permission::RefundFees => &[Supervisor],
            Permission::ViewCashup => &[WindowClerk, Supervisor],
            Permission::ViewRatings => &[Admin, Supervisor, Approver, WindowClerk],
            Permission::EnterRatings => &[Supervisor, GuideDesk],
            Permission::RectifyRatings => &[Supervisor, Approver],
            Permission::DecideAppeals => &[Supervisor],
            Permission::PairRatingDevices => &[Supervisor],
            Permission::ViewFallback => &[Admin, Supervisor, FallbackOfficer],
            Permission::HandleFallback => &[FallbackOfficer],
            Permission::AnswerFallbackTasks => &[DeptHandler, Approver],
            Permission::DecideFallback => &[Supervisor],
            Permission::ManageFallbackLists => &[Admin],
            Permission::ViewComplaints => &[Admin, Supervisor, Dispatcher],
            Permission::TakeComplaints => &[Dispatcher, GuideDesk, WindowClerk, FallbackOfficer],
            Permission::DispatchComplaints => &[Dispatcher],
            Permission::HandleComplaints => &[DeptHandler, Approver],
            Permission::ManageComplaintCategories => &[Admin],
            Permission::ViewGridEvents => &[Admin, Supervisor, Dispatcher],
            Permission::ReportGridEvents => &[GridWorker, Dispatcher, GuideDesk, WindowClerk],
            Permission::DispatchGridEvents => &[Dispatcher],
            Permission::HandleGridEvents => &[DeptHandler, Approver],
            Permission::TakeGridEventsInCommunity => &[Dispatcher, Supervisor],
            Permission::ManageGridCategories => &[Admin],
        }
    }
}

/// Who is acting: the roles they hold and the organisation they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub org_path: OrgPath,
    pub roles: Vec<Role>,
}

impl Actor {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn may(&self, permission: Permission) -> bool {
        permission.granted_to().iter().any(|r| self.has_role(*r))
    }
}

/// Why an action was refused. Both map to HTTP 403; the code says which test failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("当前角色无权执行此操作")]
    Role,
    #[error("该数据不属于您所在机构的管辖范围")]
    Scope,
    /// Shared reference data is owned by a city or a district; a street or community
    /// administrator may read it but neither create nor edit it.
    #[error("事项目录、诉求分类等共享基础数据由市、区两级设立和维护，街道、社区管理员只能查看")]
    Level,
}

impl Denied {
    pub fn code(&self) -> &'static str {
        match self {
            Denied::Role => "forbidden_role",
            Denied::Scope => "forbidden_scope",
            Denied::Level => "forbidden_level",
        }
    }
}

/// The single authorisation rule: the actor holds a role granting `permission`, and
/// `target` (the organisation the data belongs to) lies within the actor's subtree.
pub fn authorize(actor: &Actor, permission: Permission, target: &OrgPath) -> Result<(), Denied> {
    if !actor.may(permission) {
        return Err(Denied::Role);
    }
    if !actor.org_path.contains(target) {
        return Err(Denied::Scope);
    }
    Ok(())
}

// ---- window approval grants (即审即办) ------------------------------------------------

/// Why a window approval grant cannot be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    #[error("只有窗口人员才能获得窗口审批授权")]
    NotAWindowClerk,
    #[error("窗口审批授权须指定一个部门")]
    NotADepartment,
}

impl GrantRefusal {
    pub fn code(self) -> &'static str {
        match self {
            GrantRefusal::NotAWindowClerk => "not_a_window_clerk",
            GrantRefusal::NotADepartment => "not_a_department",
        }
    }

    /// The input field the refusal is about.
    pub fn field(self) -> &'static str {
        match self {
            GrantRefusal::NotAWindowClerk => "user",
            GrantRefusal::NotADepartment => "department_id",
        }
    }
}

/// Who may grant whom the power to approve at the window for a department (首席代表 /
/// 派驻审批): an administrator whose scope holds both the clerk and the department
/// ([`authorize`] with [`Permission::ManageUsers`] at each — the caller checks that), to an
/// account holding the window clerk role, for an organisation that is a department. The
/// clerk then approves only items the catalog flags 即审即办 and only for that department.
pub fn check_window_grant(grantee_roles: &[Role], department: OrgKind) -> Result<(), GrantRefusal> {
    if !grantee_roles.contains(&Role::WindowClerk) {
        return Err(GrantRefusal::NotAWindowClerk);
    }
    if department != OrgKind::Department {
        return Err(GrantRefusal::NotADepartment);
    }
    Ok(())
}

// ---- shared reference data -------------------------------------------------------------

/// Data every organisation reads but one organisation owns: who may change it is decided
/// here and nowhere else (ARCHITECTURE.md, "Shared reference data: who may edit it").
///
/// Why a rule of its own: [`authorize`] with the caller's *own* organisation as the target
/// lets an administrator of one community change what the whole city runs on (issue 8,
/// finding 1). Reference data therefore names its owner, and the permission is needed *at
/// the owner*: an actor whose subtree contains the owner, i.e. one at the owner or above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceData<'a> {
    /// A catalog item, owned by a city or a district (`catalog_items.owner_org_id`).
    CatalogItem {
        owner: &'a OrgPath,
    },
    /// 一件事 bundles: a bundle combines items of several owners and is offered at every
    /// hall, so bundles are edited at the root only.
    Bundles,
    /// The working-day calendar: holidays are national, so the root owns it.
    Calendar,
    /// The run-time settings (deadline lights, 容缺 period, queue limits): global, owned by
    /// the root. (A hall's opening hours are the hall's own, authorised at the hall.)
    Settings,
    /// Running the deadline job by hand: it marks cases of the whole installation.
    DeadlineJob,
    /// A 接诉即办 category, owned by a city or a district (`complaint_categories.org_id`);
    /// the suggestion's model is trained over all of them, so retraining is the root's.
    ComplaintCategory {
        owner: &'a OrgPath,
    },
    ComplaintModel,
    /// A grid event category (an Open311 service), owned by a city or a district
    /// (`grid_categories.org_id`): served to every street and every Open311 client.
    GridCategory {
        owner: &'a OrgPath,
    },
}

/// The root of the tree `path` lies in (`/1/4/9/` → `/1/`).
fn tree_root(path: &OrgPath) -> OrgPath {
    path.ids()
        .first()
        .map(|id| OrgPath::root(*id))
        .unwrap_or_else(|| path.clone())
}

/// May `actor` change `data`? The permission (ManageCatalog for the catalog, ManageCalendar
/// for the calendar, settings and the deadline job) at the organisation owning the data.
pub fn authorize_reference_data(actor: &Actor, data: ReferenceData<'_>) -> Result<(), Denied> {
    let root = tree_root(&actor.org_path);
    let (permission, owner) = match data {
        ReferenceData::CatalogItem { owner } => (Permission::ManageCatalog, owner),
        ReferenceData::Bundles => (Permission::ManageCatalog, &root),
        ReferenceData::Calendar | ReferenceData::Settings | ReferenceData::DeadlineJob => {
            (Permission::ManageCalendar, &root)
        }
        ReferenceData::ComplaintCategory { owner } => {
            (Permission::ManageComplaintCategories, owner)
        }
        ReferenceData::ComplaintModel => (Permission::ManageComplaintCategories, &root),
        ReferenceData::GridCategory { owner } => (Permission::ManageGridCategories, owner),
    };
    authorize(actor, permission, owner)
}

/// Which kinds of organisation may own catalog items: cities and districts set up the
/// items (事项) their departments carry out; streets and communities take them in.
pub fn may_own_catalog(kind: OrgKind) -> bool {
    matches!(kind, OrgKind::City | OrgKind::District)
}

/// Who owns a catalog item `actor` creates: the actor's own organisation (of `kind`), which
/// must be a city or district and where the actor must hold ManageCatalog.
pub fn new_catalog_item_owner(actor: &Actor, kind: OrgKind) -> Result<OrgPath, Denied> {
    if !actor.may(Permission::ManageCatalog) {
        return Err(Denied::Role);
    }
    if !may_own_catalog(kind) {
        return Err(Denied::Level);
    }
    Ok(actor.org_path.clone())
}

/// Why a catalog item may not send a case where it would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The responsible department lies outside the organisation owning the item.
    #[error("实施部门不在事项所属机构的辖区内")]
    DepartmentOutsideOwner,
    /// The hall taking the application in lies outside the owner: a district's item
    /// serves that district only.
    #[error("该事项由其他地区设立，本窗口所在机构不在其服务范围内，不能受理")]
    IntakeOutsideOwner,
}

impl RoutingError {
    pub fn code(&self) -> &'static str {
        match self {
            RoutingError::DepartmentOutsideOwner => "department_outside_owner",
            RoutingError::IntakeOutsideOwner => "item_not_served_here",
        }
    }
}

/// The routing rule of a catalog item: a case taken in at `intake` for an item owned by
/// `owner` goes to `department`. Both must lie inside the owner's subtree, so a case never
/// leaves the tree of the organisation that set the item up — whoever edited the item.
pub fn check_item_routing(
    owner: &OrgPath,
    department: &OrgPath,
    intake: &OrgPath,
) -> Result<(), RoutingError> {
    if !owner.contains(department) {
        return Err(RoutingError::DepartmentOutsideOwner);
    }
    if !owner.contains(intake) {
        return Err(RoutingError::IntakeOutsideOwner);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn window_grants_go_to_clerks_for_departments() {
        use super::*;
        assert_eq!(
            check_window_grant(&[Role::WindowClerk], OrgKind::Department),
            Ok(())
        );
        assert_eq!(
            check_window_grant(&[Role::Approver], OrgKind::Department),
            Err(GrantRefusal::NotAWindowClerk)
        );
        assert_eq!(
            check_window_grant(&[Role::WindowClerk], OrgKind::Street),
            Err(GrantRefusal::NotADepartment)
        );
    }

    use super::*;

    fn actor(path: &OrgPath, roles: &[Role]) -> Actor {
        Actor {
            user_id: 1,
            org_path: path.clone(),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn permission_table_role_by_role() {
        use Permission::*;
        use Role::*;
        let here = OrgPath::root(1).child(2);
        // (role, permission, allowed) for every pair: the table written out.
        let expected: &[(Role, &[Permission])] = &[
            (
                Admin,
                &[
                    ViewOrgs,
                    ManageOrgs,
                    ViewUsers,
                    ManageUsers,
                    ViewAudit,
                    ManageApiKeys,
                    ManageCatalog,
                    ManageCalendar,
                    ViewCases,
                    ViewRatings,
                    ViewFallback,
                    ManageFallbackLists,
                    ViewComplaints,
                    ManageComplaintCategories,
                    ViewGridEvents,
                    ManageGridCategories,
                ],
            ),
            (
                Supervisor,
                &[
                    ViewOrgs,
                    ViewUsers,
                    ViewAudit,
                    ViewCases,
                    RefundFees,
                    ViewCashup,
                    ViewRatings,
                    EnterRatings,
                    RectifyRatings,
                    DecideAppeals,
                    PairRatingDevices,
                    ViewFallback,
                    DecideFallback,
                    ViewComplaints,
                    ViewGridEvents,
                    TakeGridEventsInCommunity,
                ],
            ),
            (
                GuideDesk,
                &[
                    ViewOrgs,
                    ViewCases,
                    IssueTickets,
                    EnterRatings,
                    TakeComplaints,
                    ReportGridEvents,
                ],
            ),
            (
                WindowClerk,
                &[
                    ViewOrgs,
                    HandleIntake,
                    ViewCases,
                    IssueTickets,
                    OperateWindow,
                    CollectFees,
                    ViewCashup,
                    ViewRatings,
                    TakeComplaints,
                    ReportGridEvents,
                ],
            ),
            (
                Approver,
                &[
                    ViewOrgs,
                    ReviewCases,
                    ViewCases,
                    ViewRatings,
                    RectifyRatings,
                    AnswerFallbackTasks,
                    HandleComplaints,
                    HandleGridEvents,
                ],
            ),
            (
                FallbackOfficer,
                &[ViewOrgs, ViewFallback, HandleFallback, TakeComplaints],
            ),
            (GridWorker, &[ViewOrgs, ReportGridEvents]),
            (
                DeptHandler,
                &[
                    ViewOrgs,
                    AnswerFallbackTasks,
                    HandleComplaints,
                    HandleGridEvents,
                ],
            ),
            (
                Dispatcher,
                &[
                    ViewOrgs,
                    ViewComplaints,
                    TakeComplaints,
                    DispatchComplaints,
                    ViewGridEvents,
                    ReportGridEvents,
                    DispatchGridEvents,
                    TakeGridEventsInCommunity,
                ],
            ),
        ];
        for (role, allowed) in expected {
            for p in Permission::ALL {
                let result = authorize(&actor(&here, &[*role]), p, &here);
                if allowed.contains(&p) {
                    assert_eq!(result, Ok(()), "{role:?} should have {p:?}");
                } else {
                    assert_eq!(result, Err(Denied::Role), "{role:?} must not have {p:?}");
                }
            }
        }
    }

    #[test]
    fn scope_refuses_siblings_and_parents() {
        let street = OrgPath::root(1).child(2).child(3);
        let community_a = street.child(10);
        let community_b = street.child(11);
        let admin_a = actor(&community_a, &[Role::Admin]);
        assert_eq!(
            authorize(&admin_a, Permission::ManageUsers, &community_a),
            Ok(())
        );
        assert_eq!(
            authorize(&admin_a, Permission::ManageUsers, &community_a.child(99)),
            Ok(())
        );
        assert_eq!(
            authorize(&admin_a, Permission::ManageUsers, &community_b),
            Err(Denied::Scope)
        );
        assert_eq!(
            authorize(&admin_a, Permission::ManageUsers, &street),
            Err(Denied::Scope)
        );
        let street_admin = actor(&street, &[Role::Admin]);
        assert_eq!(
            authorize(&street_admin, Permission::ManageUsers, &community_b),
            Ok(())
        );
    }

    #[test]
    fn role_is_checked_before_scope() {
        let a = OrgPath::root(1).child(2);
        let b = OrgPath::root(1).child(3);
        let clerk = actor(&a, &[Role::WindowClerk]);
        assert_eq!(
            authorize(&clerk, Permission::ManageUsers, &b),
            Err(Denied::Role)
        );
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert!(!r.label().is_empty() && !r.workbench().is_empty());
        }
    }

    #[test]
    fn reference_data_needs_the_permission_at_its_owner() {
        let city = OrgPath::root(1);
        let district = city.child(2);
        let other_district = city.child(5);
        let street = district.child(3);
        let community = street.child(4);
        let admin = |p: &OrgPath| actor(p, &[Role::Admin]);
        let city_item = ReferenceData::CatalogItem { owner: &city };
        let district_item = ReferenceData::CatalogItem { owner: &district };
        // The city administrator may change everything.
        for data in [
            city_item,
            district_item,
            ReferenceData::Bundles,
            ReferenceData::Calendar,
            ReferenceData::Settings,
            ReferenceData::DeadlineJob,
        ] {
            assert_eq!(authorize_reference_data(&admin(&city), data), Ok(()));
        }
        // A district administrator: the district's items, nothing owned by the city.
        let d = admin(&district);
        assert_eq!(authorize_reference_data(&d, district_item), Ok(()));
        for data in [
            city_item,
            ReferenceData::CatalogItem {
                owner: &other_district,
            },
            ReferenceData::Bundles,
            ReferenceData::Calendar,
            ReferenceData::Settings,
            ReferenceData::DeadlineJob,
        ] {
            assert_eq!(authorize_reference_data(&d, data), Err(Denied::Scope));
        }
        // Street and community administrators: nothing at all (the issue's attacker).
        for below in [&street, &community] {
            for data in [
                city_item,
                district_item,
                ReferenceData::Bundles,
                ReferenceData::Calendar,
                ReferenceData::Settings,
                ReferenceData::DeadlineJob,
            ] {
                assert_eq!(
                    authorize_reference_data(&admin(below), data),
                    Err(Denied::Scope)
                );
            }
        }
        // The role still comes first: a city clerk is refused for the role.
        let clerk = actor(&city, &[Role::WindowClerk]);
        assert_eq!(
            authorize_reference_data(&clerk, ReferenceData::Calendar),
            Err(Denied::Role)
        );
    }

    #[test]
    fn only_cities_and_districts_own_catalog_items() {
        let district = OrgPath::root(1).child(2);
        let admin = actor(&district, &[Role::Admin]);
        assert_eq!(
            new_catalog_item_owner(&admin, OrgKind::District),
            Ok(district.clone())
        );
        assert_eq!(
            new_catalog_item_owner(&admin, OrgKind::City),
            Ok(district.clone())
        );
        for kind in [
            OrgKind::Street,
            OrgKind::Community,
            OrgKind::Grid,
            OrgKind::Department,
        ] {
            assert!(!may_own_catalog(kind));
            assert_eq!(new_catalog_item_owner(&admin, kind), Err(Denied::Level));
        }
        let clerk = actor(&district, &[Role::WindowClerk]);
        assert_eq!(
            new_catalog_item_owner(&clerk, OrgKind::District),
            Err(Denied::Role)
        );
    }

    #[test]
    fn a_case_never_leaves_the_item_owners_tree() {
        let city = OrgPath::root(1);
        let district = city.child(2);
        let street = district.child(3);
        let community_a = street.child(10);
        let community_b = street.child(11);
        let dept = district.child(20);
        let community_dept = community_a.child(30);
        let other_district = city.child(5);
        assert_eq!(check_item_routing(&district, &dept, &community_b), Ok(()));
        assert_eq!(
            check_item_routing(&city, &community_dept, &other_district),
            Ok(())
        );
        // A district's item may not name another district's department, nor be taken in
        // outside the district.
        assert_eq!(
            check_item_routing(&district, &other_district.child(40), &community_b),
            Err(RoutingError::DepartmentOutsideOwner)
        );
        assert_eq!(
            check_item_routing(&district, &dept, &other_district),
            Err(RoutingError::IntakeOutsideOwner)
        );
        assert_eq!(
            check_item_routing(&community_a, &community_dept, &community_b),
            Err(RoutingError::IntakeOutsideOwner)
        );
    }
}
