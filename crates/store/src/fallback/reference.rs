//! The fallback window's reference data: the negative list (负面清单, versioned), problem
//! tags, department liaisons (1+N 联络员) and the expert pool (专家咨询库). The rules are
//! `onewindow_domain::fallback::negative_list`.
//!
//! Every change writes its audit entry in the caller's transaction; a change to the
//! negative list also writes a version row (the entry as it became, with the reason).
//! Nothing here is deleted: entries, tags and experts are retired and may be reactivated.
//! Entries, tags and experts carry an optimistic version (409 when another admin changed
//! the row first).
//!
//! What applies to a window: the data of the window's organisation and of every
//! organisation above it (a district's list applies in its streets) — [`active_negative_list`],
//! [`active_tags`]. The caller authorises the actor against the organisation the data
//! belongs to (`ManageFallbackLists` to change).
//!
//! Reads the case loop uses: [`negative_entry`] (a current entry or a field error on
//! `entry_id`), [`liaison_of`], [`expert`] (a current expert or a field error on
//! `expert_id`), [`active_negative_list`], [`active_tags`].

use crate::audit::Who;
use crate::audit::{self, Change};
use crate::error::optimistic;
use crate::{flag, orgs, path_upper_bound, users, Result, Store, StoreError};
use onewindow_domain::access::Role;
use onewindow_domain::fallback::negative_list::{
    self as rules, Category, EntryText, ExpertText, DEFAULT_ENTRIES, DEFAULT_TAGS,
};
use onewindow_domain::org::{OrgKind, OrgPath};
use onewindow_domain::validation::FieldErrors;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

fn by_of(change: &Change) -> Result<i64> {
    change
        .who
        .user_id
        .ok_or_else(|| StoreError::Config("reference data is changed by a signed-in user".into()))
}

/// The organisations a window at `path` takes reference data from: itself and every
/// ancestor, as `IN ($k, …)` placeholders from `$first`, and the ids to bind.
fn ancestors_in(path: &OrgPath, first: usize) -> (String, Vec<i64>) {
    let ids = path.ids();
    let marks: Vec<String> = (0..ids.len().max(1))
        .map(|i| format!("${}", first + i))
        .collect();
    let ids = if ids.is_empty() { vec![0] } else { ids };
    (format!("({})", marks.join(", ")), ids)
}

/// `WHERE` part for "the organisation lies inside `scope`, or is one of its ancestors":
/// what staff at `scope` read (their own data, their units' data, and what applies to them).
fn visible_where(scope: &OrgPath) -> (String, Vec<String>, Vec<i64>) {
    let (inn, ids) = ancestors_in(scope, 3);
    (
        format!("((o.path >= $1 AND o.path < $2) OR o.id IN {inn})"),
        vec![scope.as_str().to_string(), path_upper_bound(scope.as_str())],
        ids,
    )
}

// ---- the negative list -----------------------------------------------------------------------

/// A negative-list entry, as published and as the window names it in a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NegativeEntry {
    pub id: i64,
    /// The organisation that set it (it applies there and below).
    pub org_id: i64,
    pub org_name: String,
    pub org_path: OrgPath,
    pub category: Category,
    pub category_label: &'static str,
    pub title: String,
    pub description: String,
    /// Where the person should go instead (人民法院、信访部门 …).
    pub right_channel: String,
    pub active: bool,
    pub version: i64,
    pub updated_by: i64,
    pub updated_by_name: String,
    pub updated_at: i64,
}

const ENTRY_SELECT: &str = "SELECT e.id, e.org_id, o.name AS org_name, o.path AS org_path, \
     e.category, e.title, e.description, e.right_channel, e.active, e.version, e.updated_by, \
     u.display_name AS updated_by_name, e.updated_at \
     FROM fallback_negative_entries e JOIN orgs o ON o.id = e.org_id \
     JOIN users u ON u.id = e.updated_by";

fn entry_from_row(r: &AnyRow) -> NegativeEntry {
    let category = Category::parse(&r.get::<String, _>("category")).unwrap_or(Category::Other);
    NegativeEntry {
        id: r.get("id"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        category,
        category_label: category.label(),
        title: r.get("title"),
        description: r.get("description"),
        right_channel: r.get("right_channel"),
        active: flag(r, "active"),
        version: r.get("version"),
        updated_by: r.get("updated_by"),
        updated_by_name: r.get("updated_by_name"),
        updated_at: r.get("updated_at"),
    }
}

/// The published order: by category, then the higher organisation first, then oldest.
fn sort_entries(list: &mut [NegativeEntry]) {
    list.sort_by_key(|e| (e.category.rank(), e.org_path.ids().len(), e.id));
}

/// One entry, current or retired (staff pages, the version history).
pub async fn get_negative<'c, E: Executor<'c, Database = Any>>(
    e: E,
    id: i64,
) -> Result<NegativeEntry> {
    sqlx::query(&format!("{ENTRY_SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| entry_from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// The entry a refusal names: it must exist and be current. An unknown id is a field error
/// `unknown` on `entry_id`, a retired one `retired` — never a refusal on a withdrawn rule.
/// (Whether it applies at the window's organisation is the caller's check against
/// `org_path`, or use [`active_negative_list`].)
pub async fn negative_entry(conn: &mut AnyConnection, id: i64) -> Result<NegativeEntry> {
    match get_negative(&mut *conn, id).await {
        Ok(e) if e.active => Ok(e),
        Ok(_) => Err(StoreError::invalid(
            "entry_id",
            "retired",
            "该负面清单条目已停用，请选择现行的负面清单条目",
        )),
        Err(StoreError::NotFound) => Err(StoreError::invalid(
            "entry_id",
            "unknown",
            "负面清单中没有这一条",
        )),
        Err(e) => Err(e),
    }
}

/// The current entries that apply to a window at `org_path`: those of its organisation and
/// of every organisation above it, in the published order.
pub async fn active_negative_list(
    pool: &AnyPool,
    org_path: &OrgPath,
) -> Result<Vec<NegativeEntry>> {
    let (inn, ids) = ancestors_in(org_path, 1);
    let sql = format!("{ENTRY_SELECT} WHERE e.active = 1 AND e.org_id IN {inn}");
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    let mut list: Vec<NegativeEntry> = q
        .fetch_all(pool)
        .await?
        .iter()
        .map(entry_from_row)
        .collect();
    sort_entries(&mut list);
    Ok(list)
}

/// Every current entry of every organisation (the public page without a chosen place).
pub async fn published_negative_list(pool: &AnyPool) -> Result<Vec<NegativeEntry>> {
    let mut list: Vec<NegativeEntry> =
        sqlx::query(&format!("{ENTRY_SELECT} WHERE e.active = 1 LIMIT 2000"))
            .fetch_all(pool)
            .await?
            .iter()
            .map(entry_from_row)
            .collect();
    sort_entries(&mut list);
    Ok(list)
}

/// The entries staff at `scope` read: of organisations inside it and above it, retired
/// ones too when asked.
pub async fn negative_list_visible(
    pool: &AnyPool,
    scope: &OrgPath,
    include_retired: bool,
) -> Result<Vec<NegativeEntry>> {
    let (w, texts, ids) = visible_where(scope);
    let active = if include_retired {
        ""
    } else {
        " AND e.active = 1"
    };
    let sql = format!("{ENTRY_SELECT} WHERE {w}{active} LIMIT 2000");
    let mut q = sqlx::query(&sql);
    for t in &texts {
        q = q.bind(t.as_str());
    }
    for id in ids {
        q = q.bind(id);
    }
    let mut list: Vec<NegativeEntry> = q
        .fetch_all(pool)
        .await?
        .iter()
        .map(entry_from_row)
        .collect();
    sort_entries(&mut list);
    Ok(list)
}

/// One version of an entry: the entry as it became by a change, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NegativeVersion {
    pub version: i64,
    pub snapshot: Value,
    pub reason: String,
    pub changed_by: i64,
    pub changed_by_name: String,
    pub changed_at: i64,
}

/// The versions of an entry, newest first.
pub async fn negative_versions<'c, E: Executor<'c, Database = Any>>(
    e: E,
    entry_id: i64,
) -> Result<Vec<NegativeVersion>> {
    Ok(sqlx::query(
        "SELECT v.version, v.snapshot, v.reason, v.changed_by, u.display_name AS changed_by_name, \
         v.changed_at FROM fallback_negative_versions v JOIN users u ON u.id = v.changed_by \
         WHERE v.entry_id = $1 ORDER BY v.version DESC",
    )
    .bind(entry_id)
    .fetch_all(e)
    .await?
    .iter()
    .map(|r| NegativeVersion {
        version: r.get("version"),
        snapshot: serde_json::from_str(&r.get::<String, _>("snapshot")).unwrap_or(Value::Null),
        reason: r.get("reason"),
        changed_by: r.get("changed_by"),
        changed_by_name: r.get("changed_by_name"),
        changed_at: r.get("changed_at"),
    })
    .collect())
}

fn snapshot(e: &NegativeEntry) -> Value {
    json!({
        "org_id": e.org_id,
        "category": e.category.as_str(),
        "title": e.title,
        "description": e.description,
        "right_channel": e.right_channel,
        "active": e.active,
    })
}

/// Writes the version row of the entry as it now is and its audit entry.
async fn record_version(
    conn: &mut AnyConnection,
    change: &Change,
    action: &str,
    entry: &NegativeEntry,
    reason: &str,
) -> Result<()> {
    let snap = snapshot(entry);
    sqlx::query(
        "INSERT INTO fallback_negative_versions (entry_id, version, snapshot, reason, changed_by, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.id)
    .bind(entry.version)
    .bind(snap.to_string())
    .bind(reason.trim())
    .bind(by_of(change)?)
    .bind(change.at)
    .execute(&mut *conn)
    .await?;
    let mut detail = snap;
    detail["version"] = json!(entry.version);
    detail["reason"] = json!(reason.trim());
    audit::append(
        conn,
        change,
        action,
        "fallback_negative_entry",
        &entry.id.to_string(),
        &detail,
    )
    .await
}

fn checked(text: &EntryText, reason: &str) -> Result<rules::Entry> {
    let mut e = FieldErrors::new();
    let entry = match rules::check_entry(text) {
        Ok(v) => Some(v),
        Err(f) => {
            e.0.extend(f.0);
            None
        }
    };
    rules::check_reason(&mut e, reason);
    e.into_result().map_err(StoreError::Invalid)?;
    entry.ok_or_else(|| StoreError::Invalid(FieldErrors::new()))
}

/// Adds an entry to the list of `org_id` (version 1, with its reason).
pub async fn create_negative(
    conn: &mut AnyConnection,
    change: &Change,
    org_id: i64,
    text: &EntryText,
    reason: &str,
) -> Result<NegativeEntry> {
    let entry = checked(text, reason)?;
    orgs::get(&mut *conn, org_id)
        .await
        .map_err(|_| StoreError::invalid("org_id", "unknown", "没有这个机构"))?;
    let id: i64 = sqlx::query(
        "INSERT INTO fallback_negative_entries (org_id, category, title, description, right_channel, \
         active, version, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, 1, 1, $6, $7) RETURNING id",
    )
    .bind(org_id)
    .bind(entry.category.as_str())
    .bind(&entry.title)
    .bind(&entry.description)
    .bind(&entry.right_channel)
    .bind(by_of(change)?)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    let created = get_negative(&mut *conn, id).await?;
    record_version(conn, change, "fallback.negative.create", &created, reason).await?;
    Ok(created)
}

/// Rewrites an entry read at `version` (409 when it changed since), with the reason.
pub async fn update_negative(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    version: i64,
    text: &EntryText,
    reason: &str,
) -> Result<NegativeEntry> {
    let entry = checked(text, reason)?;
    let changed = sqlx::query(
        "UPDATE fallback_negative_entries SET category = $1, title = $2, description = $3, \
         right_channel = $4, version = version + 1, updated_by = $5, updated_at = $6 \
         WHERE id = $7 AND version = $8",
    )
    .bind(entry.category.as_str())
    .bind(&entry.title)
    .bind(&entry.description)
    .bind(&entry.right_channel)
    .bind(by_of(change)?)
    .bind(change.at)
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    optimistic(changed, "该负面清单条目")?;
    let updated = get_negative(&mut *conn, id).await?;
    record_version(conn, change, "fallback.negative.update", &updated, reason).await?;
    Ok(updated)
}

/// Retires (`active = false`) or reactivates an entry read at `version`, with the reason.
/// Asking for the state it is already in is a field error on `active`.
pub async fn set_negative_active(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    version: i64,
    active: bool,
    reason: &str,
) -> Result<NegativeEntry> {
    let mut e = FieldErrors::new();
    rules::check_reason(&mut e, reason);
    e.into_result().map_err(StoreError::Invalid)?;
    let before = get_negative(&mut *conn, id).await?;
    if before.version != version {
        return Err(StoreError::version_conflict("该负面清单条目"));
    }
    if before.active == active {
        return Err(StoreError::invalid(
            "active",
            "unchanged",
            if active {
                "该条目已在现行清单中"
            } else {
                "该条目已停用"
            },
        ));
    }
    let changed = sqlx::query(
        "UPDATE fallback_negative_entries SET active = $1, version = version + 1, updated_by = $2, \
         updated_at = $3 WHERE id = $4 AND version = $5",
    )
    .bind(i64::from(active))
    .bind(by_of(change)?)
    .bind(change.at)
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    optimistic(changed, "该负面清单条目")?;
    let after = get_negative(&mut *conn, id).await?;
    let action = if active {
        "fallback.negative.reactivate"
    } else {
        "fallback.negative.retire"
    };
    record_version(conn, change, action, &after, reason).await?;
    Ok(after)
}

// ---- tags --------------------------------------------------------------------------------------

/// A problem tag (历史遗留问题 …) of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub org_path: OrgPath,
    pub name: String,
    pub active: bool,
    pub version: i64,
}

const TAG_SELECT: &str = "SELECT t.id, t.org_id, o.name AS org_name, o.path AS org_path, t.name, \
     t.active, t.version FROM fallback_tags t JOIN orgs o ON o.id = t.org_id";

fn tag_from_row(r: &AnyRow) -> Tag {
    Tag {
        id: r.get("id"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        name: r.get("name"),
        active: flag(r, "active"),
        version: r.get("version"),
    }
}

pub async fn get_tag<'c, E: Executor<'c, Database = Any>>(e: E, id: i64) -> Result<Tag> {
    sqlx::query(&format!("{TAG_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| tag_from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// The current tags a window at `org_path` classifies with: its organisation's and those
/// above, one per name (the highest organisation's), in the order they were added.
pub async fn active_tags(pool: &AnyPool, org_path: &OrgPath) -> Result<Vec<Tag>> {
    let (inn, ids) = ancestors_in(org_path, 1);
    let sql = format!("{TAG_SELECT} WHERE t.active = 1 AND t.org_id IN {inn}");
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    let mut tags: Vec<Tag> = q.fetch_all(pool).await?.iter().map(tag_from_row).collect();
    tags.sort_by_key(|t| (t.org_path.ids().len(), t.id));
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| seen.insert(t.name.clone()));
    Ok(tags)
}

/// The tags staff at `scope` read (inside and above it), retired ones too when asked.
pub async fn tags_visible(
    pool: &AnyPool,
    scope: &OrgPath,
    include_retired: bool,
) -> Result<Vec<Tag>> {
    let (w, texts, ids) = visible_where(scope);
    let active = if include_retired {
        ""
    } else {
        " AND t.active = 1"
    };
    let sql = format!("{TAG_SELECT} WHERE {w}{active} ORDER BY o.path, t.id LIMIT 2000");
    let mut q = sqlx::query(&sql);
    for t in &texts {
        q = q.bind(t.as_str());
    }
    for id in ids {
        q = q.bind(id);
    }
    Ok(q.fetch_all(pool).await?.iter().map(tag_from_row).collect())
}

async fn check_tag_name(conn: &mut AnyConnection, org_id: i64, name: &str, id: i64) -> Result<()> {
    let mut e = FieldErrors::new();
    rules::check_tag(&mut e, name);
    e.into_result().map_err(StoreError::Invalid)?;
    let clash = sqlx::query(
        "SELECT active FROM fallback_tags WHERE org_id = $1 AND name = $2 AND id <> $3",
    )
    .bind(org_id)
    .bind(name.trim())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = clash {
        return Err(StoreError::invalid(
            "name",
            "duplicate",
            if flag(&r, "active") {
                "本机构已有同名标签"
            } else {
                "本机构已有同名标签（已停用），请重新启用该标签"
            },
        ));
    }
    Ok(())
}

pub async fn create_tag(
    conn: &mut AnyConnection,
    change: &Change,
    org_id: i64,
    name: &str,
) -> Result<Tag> {
    orgs::get(&mut *conn, org_id)
        .await
        .map_err(|_| StoreError::invalid("org_id", "unknown", "没有这个机构"))?;
    check_tag_name(conn, org_id, name, 0).await?;
    let id: i64 = sqlx::query(
        "INSERT INTO fallback_tags (org_id, name, active, version) VALUES ($1, $2, 1, 1) RETURNING id",
    )
    .bind(org_id)
    .bind(name.trim())
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    audit::append(
        conn,
        change,
        "fallback.tag.create",
        "fallback_tag",
        &id.to_string(),
        &json!({ "org_id": org_id, "name": name.trim() }),
    )
    .await?;
    get_tag(&mut *conn, id).await
}

/// Renames and/or retires or reactivates a tag read at `version`. Cases keep the words
/// they were tagged with.
pub async fn update_tag(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    version: i64,
    name: Option<&str>,
    active: Option<bool>,
) -> Result<Tag> {
    let before = get_tag(&mut *conn, id).await?;
    let name = name.map(str::trim).unwrap_or(&before.name).to_string();
    if name != before.name {
        check_tag_name(conn, before.org_id, &name, id).await?;
    }
    let active = active.unwrap_or(before.active);
    let changed = sqlx::query(
        "UPDATE fallback_tags SET name = $1, active = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(&name)
    .bind(i64::from(active))
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    optimistic(changed, "该标签")?;
    audit::append(
        conn,
        change,
        "fallback.tag.update",
        "fallback_tag",
        &id.to_string(),
        &json!({ "before": { "name": before.name, "active": before.active },
                 "after": { "name": name, "active": active } }),
    )
    .await?;
    get_tag(&mut *conn, id).await
}

// ---- liaisons ------------------------------------------------------------------------------------

/// A department's named liaison for the window's tasks (1+N).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Liaison {
    pub department_id: i64,
    pub department_name: String,
    pub user_id: i64,
    /// The liaison's display name.
    pub name: String,
    pub username: String,
    pub phone: String,
    pub updated_by: i64,
    pub updated_at: i64,
}

const LIAISON_SELECT: &str = "SELECT l.department_id, o.name AS department_name, l.user_id, \
     u.display_name, u.username, l.phone, l.updated_by, l.updated_at \
     FROM fallback_liaisons l JOIN orgs o ON o.id = l.department_id JOIN users u ON u.id = l.user_id";

fn liaison_from_row(r: &AnyRow) -> Liaison {
    Liaison {
        department_id: r.get("department_id"),
        department_name: r.get("department_name"),
        user_id: r.get("user_id"),
        name: r.get("display_name"),
        username: r.get("username"),
        phone: r.get("phone"),
        updated_by: r.get("updated_by"),
        updated_at: r.get("updated_at"),
    }
}

/// The department's liaison, if one is named (a task cannot go to a department without).
pub async fn liaison_of(conn: &mut AnyConnection, department_id: i64) -> Result<Option<Liaison>> {
    Ok(
        sqlx::query(&format!("{LIAISON_SELECT} WHERE l.department_id = $1"))
            .bind(department_id)
            .fetch_optional(conn)
            .await?
            .map(|r| liaison_from_row(&r)),
    )
}

/// The roles a liaison holds one of: they answer the department's tasks.
pub const LIAISON_ROLES: [Role; 2] = [Role::DeptHandler, Role::Approver];

/// Who may be named the liaison of `department`: active users at the department (or its
/// sections) holding a department handler's or approver's role.
pub async fn liaison_candidates(
    conn: &mut AnyConnection,
    department: &OrgPath,
) -> Result<Vec<users::User>> {
    let mut list = users::list_in_scope(conn, department).await?;
    list.retain(|u| u.active && u.roles.iter().any(|r| LIAISON_ROLES.contains(r)));
    Ok(list)
}

/// A department (with code) the window can task, and its liaison if named.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentLiaison {
    pub department_id: i64,
    pub department_name: String,
    pub department_path: OrgPath,
    pub liaison: Option<Liaison>,
}

/// The departments staff at `scope` work with — inside the scope, or attached to an
/// organisation above it (a street's window tasks the district's bureaus) — with their
/// liaisons.
pub async fn liaisons_visible(pool: &AnyPool, scope: &OrgPath) -> Result<Vec<DepartmentLiaison>> {
    let depts = orgs::departments(pool).await?;
    let named: Vec<Liaison> = sqlx::query(&format!("{LIAISON_SELECT} ORDER BY l.department_id"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(liaison_from_row)
        .collect();
    Ok(depts
        .into_iter()
        .filter(|d| {
            // The organisation the department is attached to: "/1/2/10/" → "/1/2/".
            let parent = d
                .path
                .as_str()
                .trim_end_matches('/')
                .rsplit_once('/')
                .map(|(above, _)| format!("{above}/"))
                .unwrap_or_default();
            scope.contains(&d.path) || (parent.len() > 1 && scope.as_str().starts_with(&parent))
        })
        .map(|d| DepartmentLiaison {
            liaison: named.iter().find(|l| l.department_id == d.id).cloned(),
            department_id: d.id,
            department_name: d.name,
            department_path: d.path,
        })
        .collect())
}

/// Names (or changes) the liaison of a department: a user there with a handler's or an
/// approver's role, and a work phone. Audited with the one it replaces.
pub async fn set_liaison(
    conn: &mut AnyConnection,
    change: &Change,
    department_id: i64,
    user_id: i64,
    phone: &str,
) -> Result<Liaison> {
    let dept = orgs::get(&mut *conn, department_id)
        .await
        .map_err(|_| StoreError::invalid("department_id", "unknown", "没有这个部门"))?;
    if dept.kind != OrgKind::Department {
        return Err(StoreError::invalid(
            "department_id",
            "not_department",
            "联络员按部门设置，请选择一个部门",
        ));
    }
    let mut e = FieldErrors::new();
    rules::check_work_phone(&mut e, "phone", phone);
    match users::get(&mut *conn, user_id).await {
        Ok(u) if !dept.path.contains(&u.org_path) => e.add(
            "user_id",
            "other_department",
            format!("联络员须是{}的工作人员", dept.name),
        ),
        Ok(u) if !u.active => e.add("user_id", "inactive", "该账号已停用"),
        Ok(u) if !u.roles.iter().any(|r| LIAISON_ROLES.contains(r)) => e.add(
            "user_id",
            "no_role",
            "联络员须有部门经办人或审批人角色，才能在部门收件箱答复任务",
        ),
        Ok(_) => {}
        Err(StoreError::NotFound) => e.add("user_id", "unknown", "没有这个账号"),
        Err(err) => return Err(err),
    }
    e.into_result().map_err(StoreError::Invalid)?;
    let before = liaison_of(&mut *conn, department_id).await?;
    sqlx::query(
        "INSERT INTO fallback_liaisons (department_id, user_id, phone, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (department_id) DO UPDATE SET \
         user_id = excluded.user_id, phone = excluded.phone, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
    )
    .bind(department_id)
    .bind(user_id)
    .bind(phone.trim())
    .bind(by_of(change)?)
    .bind(change.at)
    .execute(&mut *conn)
    .await?;
    audit::append(
        conn,
        change,
        "fallback.liaison.set",
        "fallback_liaison",
        &department_id.to_string(),
        &json!({
            "before": before.as_ref().map(|l| json!({ "user_id": l.user_id, "phone": l.phone })),
            "after": { "user_id": user_id, "phone": phone.trim() },
        }),
    )
    .await?;
    liaison_of(conn, department_id)
        .await?
        .ok_or(StoreError::NotFound)
}

// ---- experts -------------------------------------------------------------------------------------

/// An expert of the pool (专家咨询库), invited to a case for an opinion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expert {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub org_path: OrgPath,
    pub name: String,
    pub field: String,
    pub affiliation: String,
    pub phone: String,
    pub active: bool,
    pub version: i64,
    pub created_at: i64,
}

const EXPERT_SELECT: &str =
    "SELECT x.id, x.org_id, o.name AS org_name, o.path AS org_path, x.name, \
     x.field, x.affiliation, x.phone, x.active, x.version, x.created_at \
     FROM fallback_experts x JOIN orgs o ON o.id = x.org_id";

fn expert_from_row(r: &AnyRow) -> Expert {
    Expert {
        id: r.get("id"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        name: r.get("name"),
        field: r.get("field"),
        affiliation: r.get("affiliation"),
        phone: r.get("phone"),
        active: flag(r, "active"),
        version: r.get("version"),
        created_at: r.get("created_at"),
    }
}

/// An expert, in the pool or retired (showing an opinion given earlier).
pub async fn get_expert<'c, E: Executor<'c, Database = Any>>(e: E, id: i64) -> Result<Expert> {
    sqlx::query(&format!("{EXPERT_SELECT} WHERE x.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| expert_from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// The expert to invite: in the pool now. Unknown is a field error `unknown` on
/// `expert_id`, retired `retired`.
pub async fn expert(conn: &mut AnyConnection, id: i64) -> Result<Expert> {
    match get_expert(&mut *conn, id).await {
        Ok(x) if x.active => Ok(x),
        Ok(_) => Err(StoreError::invalid(
            "expert_id",
            "retired",
            "该专家已退出专家咨询库",
        )),
        Err(StoreError::NotFound) => Err(StoreError::invalid(
            "expert_id",
            "unknown",
            "专家咨询库中没有这位专家",
        )),
        Err(e) => Err(e),
    }
}

/// The experts staff at `scope` read (pools inside and above it), retired ones too when asked.
pub async fn experts_visible(
    pool: &AnyPool,
    scope: &OrgPath,
    include_retired: bool,
) -> Result<Vec<Expert>> {
    let (w, texts, ids) = visible_where(scope);
    let active = if include_retired {
        ""
    } else {
        " AND x.active = 1"
    };
    let sql = format!("{EXPERT_SELECT} WHERE {w}{active} ORDER BY o.path, x.id LIMIT 2000");
    let mut q = sqlx::query(&sql);
    for t in &texts {
        q = q.bind(t.as_str());
    }
    for id in ids {
        q = q.bind(id);
    }
    Ok(q.fetch_all(pool)
        .await?
        .iter()
        .map(expert_from_row)
        .collect())
}

fn checked_expert(text: &ExpertText) -> Result<ExpertText> {
    rules::check_expert(text).map_err(StoreError::Invalid)
}

pub async fn create_expert(
    conn: &mut AnyConnection,
    change: &Change,
    org_id: i64,
    text: &ExpertText,
) -> Result<Expert> {
    let x = checked_expert(text)?;
    orgs::get(&mut *conn, org_id)
        .await
        .map_err(|_| StoreError::invalid("org_id", "unknown", "没有这个机构"))?;
    let id: i64 = sqlx::query(
        "INSERT INTO fallback_experts (org_id, name, field, affiliation, phone, active, version, created_at) \
         VALUES ($1, $2, $3, $4, $5, 1, 1, $6) RETURNING id",
    )
    .bind(org_id)
    .bind(&x.name)
    .bind(&x.field)
    .bind(&x.affiliation)
    .bind(&x.phone)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    audit::append(
        conn,
        change,
        "fallback.expert.create",
        "fallback_expert",
        &id.to_string(),
        &json!({ "org_id": org_id, "name": x.name, "field": x.field, "affiliation": x.affiliation }),
    )
    .await?;
    get_expert(&mut *conn, id).await
}

/// Edits an expert read at `version`: new details and/or retired or back in the pool.
pub async fn update_expert(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    version: i64,
    text: Option<&ExpertText>,
    active: Option<bool>,
) -> Result<Expert> {
    let before = get_expert(&mut *conn, id).await?;
    let x = match text {
        Some(t) => checked_expert(t)?,
        None => ExpertText {
            name: before.name.clone(),
            field: before.field.clone(),
            affiliation: before.affiliation.clone(),
            phone: before.phone.clone(),
        },
    };
    let active = active.unwrap_or(before.active);
    let changed = sqlx::query(
        "UPDATE fallback_experts SET name = $1, field = $2, affiliation = $3, phone = $4, active = $5, \
         version = version + 1 WHERE id = $6 AND version = $7",
    )
    .bind(&x.name)
    .bind(&x.field)
    .bind(&x.affiliation)
    .bind(&x.phone)
    .bind(i64::from(active))
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    optimistic(changed, "该专家信息")?;
    audit::append(
        conn,
        change,
        "fallback.expert.update",
        "fallback_expert",
        &id.to_string(),
        &json!({ "name": x.name, "field": x.field, "affiliation": x.affiliation,
                 "active_before": before.active, "active": active }),
    )
    .await?;
    get_expert(&mut *conn, id).await
}

// ---- demo -----------------------------------------------------------------------------------------

/// The demo's reference data, once (nothing when the district has a list already): the
/// default negative list and tags at the district (示范区) set by the city administrator,
/// liaisons for 区民政局 (the approver) and 区城市管理局 (the handler), and four experts.
pub async fn seed_demo(store: &Store, now: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    let district = orgs::find_by_code(&mut *tx, "district")
        .await?
        .ok_or(StoreError::NotFound)?;
    let seeded: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM fallback_negative_entries WHERE org_id = $1")
            .bind(district.id)
            .fetch_one(&mut *tx)
            .await?
            .get("n");
    if seeded > 0 {
        return Ok(());
    }
    let admin = users::find_id_by_username(&mut tx, "admin")
        .await?
        .ok_or(StoreError::NotFound)?;
    let change = Change {
        backend: store.backend(),
        at: now,
        who: Who::user(admin, "admin"),
    };
    for (category, title, description, channel) in DEFAULT_ENTRIES {
        let text = EntryText {
            category: category.as_str().into(),
            title: title.into(),
            description: description.into(),
            right_channel: channel.into(),
        };
        create_negative(
            &mut tx,
            &change,
            district.id,
            &text,
            "按《关于设立“办不成事”反映窗口的工作方案》首批发布",
        )
        .await?;
    }
    for name in DEFAULT_TAGS {
        create_tag(&mut tx, &change, district.id, name).await?;
    }
    for (dept, user, phone) in [
        ("dept-mz", "approver", "0571-87010001"),
        ("dept-cg", "handler", "0571-87010008"),
    ] {
        let (Some(d), Some(u)) = (
            orgs::find_by_code(&mut *tx, dept).await?,
            users::find_id_by_username(&mut tx, user).await?,
        ) else {
            continue;
        };
        set_liaison(&mut tx, &change, d.id, u, phone).await?;
    }
    for (name, field, affiliation, phone) in [
        (
            "钱立法",
            "行政法、政府信息公开",
            "示范市律师协会",
            "13905710001",
        ),
        (
            "孙规划",
            "城乡规划与不动产登记",
            "示范市规划设计研究院",
            "13905710002",
        ),
        (
            "郑社保",
            "社会保障政策",
            "示范大学公共管理学院",
            "13905710003",
        ),
        (
            "冯老区",
            "基层治理、历史遗留问题",
            "示范区人大常委会（退休）",
            "13905710004",
        ),
    ] {
        let text = ExpertText {
            name: name.into(),
            field: field.into(),
            affiliation: affiliation.into(),
            phone: phone.into(),
        };
        create_expert(&mut tx, &change, district.id, &text).await?;
    }
    tx.commit().await
}
