//! The audit log viewer and chain verification, for administrators and supervisors.
//! The log is global (one chain), so viewing it needs the permission at the top of the
//! tree: an actor whose organisation is the root of the chain's data.

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::pages::render_form;
use crate::paging::{filter_string, next_link, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::{authorize, Actor, Denied, Permission};
use onewindow_domain::audit::{self as audit_words, AuditEvent};
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::audit::{self, AuditFilter, Verification};
use onewindow_store::clock::format_local;
use onewindow_store::page::{ListId, Page, PageRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(page))
        .route("/api/v1/audit", get(list_api))
        .route("/api/v1/audit/verify", get(verify_api))
}

/// The name the audit log's cursors carry.
pub const AUDIT_LIST: &str = "audit";

/// The audit chain spans every organisation, so reading it needs the permission at the
/// root of the tree: the actor's own organisation is the root.
fn audit_access(actor: &Actor) -> Result<(), Denied> {
    let root = OrgPath::root(actor.org_path.ids().first().copied().unwrap_or(0));
    authorize(actor, Permission::ViewAudit, &root)
}

/// Whether `actor` may read the audit log (the navigation and the workbench ask this).
pub fn may_view(actor: &Actor) -> bool {
    audit_access(actor).is_ok()
}

fn require_audit(p: &Principal) -> Result<(), AppError> {
    Ok(audit_access(&p.actor())?)
}

/// The audit log's query, checked.
#[derive(Debug, Default)]
struct AuditQuery {
    entity: String,
    entity_id: String,
    actor: String,
    action: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    page: PageParams,
    verify: bool,
}

impl AuditQuery {
    fn parse(raw: Option<&str>) -> (AuditQuery, FieldErrors) {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let last = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let mut errors = FieldErrors::new();
        let mut q = AuditQuery {
            entity: last("entity"),
            entity_id: last("entity_id"),
            actor: last("actor"),
            action: last("action"),
            page: PageParams {
                limit: Some(last("limit")).filter(|l| !l.is_empty()),
                cursor: Some(last("cursor")).filter(|c| !c.is_empty()),
            },
            verify: !last("verify").is_empty(),
            ..AuditQuery::default()
        };
        for (field, label, value, limit) in [
            ("entity", "对象类型", &q.entity, validation::REFERENCE),
            ("entity_id", "对象编号", &q.entity_id, validation::REFERENCE),
            ("actor", "操作人", &q.actor, validation::USERNAME),
            ("action", "操作", &q.action, validation::REFERENCE),
        ] {
            errors.text(field, label, value, limit);
        }
        if !q.entity_id.is_empty() && q.entity.is_empty() {
            errors.add(
                "entity_id",
                "requires_entity",
                "按对象编号查询时请同时指定对象类型（entity）",
            );
        }
        q.from = crate::lists::parse_day("from", "起始日期", &last("from"), &mut errors);
        q.to = crate::lists::parse_day("to", "截止日期", &last("to"), &mut errors);
        if let (Some(f), Some(t)) = (q.from, q.to) {
            if t < f {
                errors.add("to", "before_from", "截止日期不能早于起始日期");
            }
        }
        (q, errors)
    }

    fn filters(&self) -> String {
        let (from, to) = (
            self.from.map(|d| d.to_string()).unwrap_or_default(),
            self.to.map(|d| d.to_string()).unwrap_or_default(),
        );
        filter_string(&[
            ("entity", &self.entity),
            ("entity_id", &self.entity_id),
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &from),
            ("to", &to),
        ])
    }

    fn store_filter(&self) -> AuditFilter {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        AuditFilter {
            entity: opt(&self.entity),
            entity_id: opt(&self.entity_id),
            actor: opt(&self.actor),
            action_prefix: opt(&self.action),
            at: (
                self.from.map(crate::lists::day_start),
                self.to
                    .map(|d| crate::lists::day_start(d + chrono::Days::new(1))),
            ),
        }
    }
}

/// One page of the log: the root's permission, then the filters, then the page.
async fn list_events(
    state: &AppState,
    p: &Principal,
    q: &AuditQuery,
    errors: FieldErrors,
) -> Result<(Page<AuditEvent>, PageRequest), AppError> {
    require_audit(p)?;
    // PostgreSQL chains events just after commit: chain what is pending so the list is whole.
    state.store.settle_audit().await?;
    errors.into_result()?;
    let filters = q.filters();
    let id = ListId {
        list: AUDIT_LIST,
        filters: &filters,
    };
    let req = q.page.request(state, &id).await?;
    let key = state.store.cursor_key().await?;
    let page = audit::list(state.store.reader(), key, &id, &q.store_filter(), &req).await?;
    Ok((page, req))
}

/// One line of an event's detail, readable: what changed from what to what, or a fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeLine {
    pub label: String,
    /// The value before the change, where the event records one.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Longest rendering of one value, in characters; the whole record stays under 原始记录.
const VALUE_CHARS: usize = 160;

/// An event's detail as lines: a `before`/`after` pair as `key: old → new` for the keys
/// that changed (a record created: its fields; removed: what it held), a `from`/`to` pair
/// as the state it moved between, and any other key as a fact. Keys and stored codes in
/// Chinese where the domain names them (`domain::audit`); anything else as recorded.
pub fn describe(entity: &str, detail: &str) -> Vec<ChangeLine> {
    use serde_json::Value;
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(detail) else {
        return vec![];
    };
    let label = |key: &str| {
        audit_words::detail_key_label(entity, key)
            .map(str::to_string)
            .unwrap_or_else(|| key.to_string())
    };
    let show = |key: &str, v: &Value| render_value(entity, key, v);
    let mut lines = Vec::new();
    let before = map.get("before").and_then(Value::as_object);
    let after = map.get("after").and_then(Value::as_object);
    let mut keys: Vec<&String> = after.into_iter().flat_map(|a| a.keys()).collect();
    for k in before.into_iter().flat_map(|b| b.keys()) {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.sort_by_key(|k| audit_words::detail_key_rank(k));
    for k in keys {
        let (old, new) = (before.and_then(|b| b.get(k)), after.and_then(|a| a.get(k)));
        if before.is_some() && after.is_some() && old == new {
            continue;
        }
        lines.push(ChangeLine {
            label: label(k),
            before: old.map(|v| show(k, v)),
            after: new.map(|v| show(k, v)),
        });
    }
    // A record that was not an object (a scalar `after`) is still a fact.
    for k in ["before", "after"] {
        if let Some(v) = map.get(k).filter(|v| !v.is_object()) {
            lines.push(ChangeLine {
                label: label(k),
                before: None,
                after: Some(show(k, v)),
            });
        }
    }
    if map.contains_key("from") || map.contains_key("to") {
        lines.push(ChangeLine {
            label: "状态".into(),
            before: map.get("from").map(|v| show("from", v)),
            after: map.get("to").map(|v| show("to", v)),
        });
    }
    let mut facts: Vec<(&String, &Value)> = map.iter().collect();
    facts.sort_by_key(|(k, _)| audit_words::detail_key_rank(k));
    for (k, v) in facts {
        if ["before", "after", "from", "to"].contains(&k.as_str()) {
            continue;
        }
        lines.push(ChangeLine {
            label: label(k),
            before: None,
            after: Some(show(k, v)),
        });
    }
    lines
}

/// One value in words: 是/否 for flags, Beijing time for timestamps, the domain's word for
/// a stored code, lists joined with 、, records by their name (or their fields).
fn render_value(entity: &str, key: &str, v: &serde_json::Value) -> String {
    use serde_json::Value;
    let text = match v {
        Value::Null => "（空）".to_string(),
        Value::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        Value::Number(n) => match n.as_i64() {
            // Microsecond timestamps (`locked_until`, `…_at`): after 2001 in microseconds.
            Some(t)
                if (key.ends_with("_until") || key.ends_with("_at"))
                    && t > 1_000_000_000_000_000 =>
            {
                format_local(t)
            }
            _ => n.to_string(),
        },
        Value::String(s) if s.is_empty() => "（空）".to_string(),
        Value::String(s) => audit_words::value_label(entity, key, s)
            .map(str::to_string)
            .unwrap_or_else(|| s.clone()),
        Value::Array(items) if items.is_empty() => "（无）".to_string(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Object(o) => o
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| render_value(entity, key, i)),
                other => render_value(entity, key, other),
            })
            .collect::<Vec<_>>()
            .join("、"),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| {
                let name = audit_words::detail_key_label(entity, k).unwrap_or(k);
                let value = match v {
                    Value::Object(_) | Value::Array(_) => v.to_string(),
                    _ => render_value(entity, k, v),
                };
                format!("{name}：{value}")
            })
            .collect::<Vec<_>>()
            .join("；"),
    };
    if text.chars().count() > VALUE_CHARS {
        let mut cut: String = text.chars().take(VALUE_CHARS).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

pub struct EventRow {
    pub event: AuditEvent,
    pub at: String,
    /// The action and the record's kind in Chinese (the code itself when unknown).
    pub action: String,
    pub entity: String,
    pub changes: Vec<ChangeLine>,
}

impl EventRow {
    fn new(e: AuditEvent) -> EventRow {
        EventRow {
            at: format_local(e.at),
            action: audit_words::action_label(&e.action)
                .map(str::to_string)
                .unwrap_or_else(|| e.action.clone()),
            entity: audit_words::entity_label(&e.entity)
                .map(str::to_string)
                .unwrap_or_else(|| e.entity.clone()),
            changes: describe(&e.entity, &e.detail),
            event: e,
        }
    }
}

/// One choice of a filter's list: value, words, whether chosen.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The action filter's choices: each group (`case.`: every case action) and each action,
/// plus what the query asked for if it is neither (so the form shows what it filters by).
fn action_choices(chosen: &str) -> Vec<Choice> {
    let mut out = Vec::new();
    for (group, group_label) in audit_words::ACTION_GROUPS {
        let value = format!("{group}.");
        out.push(Choice {
            selected: chosen == value,
            label: format!("{group_label}（全部操作）"),
            value,
        });
        for (action, label) in audit_words::ACTIONS
            .iter()
            .filter(|(a, _)| a.split_once('.').is_some_and(|(g, _)| g == *group))
        {
            out.push(Choice {
                value: action.to_string(),
                label: format!("{group_label} · {label}"),
                selected: chosen == *action,
            });
        }
    }
    if !chosen.is_empty() && !out.iter().any(|c| c.selected) {
        out.push(Choice {
            value: chosen.to_string(),
            label: chosen.to_string(),
            selected: true,
        });
    }
    out
}

fn entity_choices(chosen: &str) -> Vec<Choice> {
    let mut out: Vec<Choice> = audit_words::ENTITIES
        .iter()
        .map(|(e, l)| Choice {
            value: e.to_string(),
            label: l.to_string(),
            selected: chosen == *e,
        })
        .collect();
    if !chosen.is_empty() && !out.iter().any(|c| c.selected) {
        out.push(Choice {
            value: chosen.to_string(),
            label: chosen.to_string(),
            selected: true,
        });
    }
    out
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<EventRow>,
    verification: Option<Verification>,
    broken_text: Option<String>,
    errors: Vec<FieldError>,
    entities: Vec<Choice>,
    actions: Vec<Choice>,
    entity_id: String,
    actor: String,
    from: String,
    to: String,
    /// Whether any filter is set (the page then offers to clear them).
    filtered: bool,
    first: Option<String>,
    next: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    RawQuery(raw): RawQuery,
) -> PageResult {
    require_audit(&p)?;
    let (q, errors) = AuditQuery::parse(raw.as_deref());
    // The form shows back what was typed, even when it was refused.
    let echo = |k: &str| {
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (mut rows, mut first, mut next, mut field_errors) = (vec![], None, None, vec![]);
    match list_events(&state, &p, &q, errors).await {
        Ok((page, req)) => {
            let filters = q.filters();
            next = page
                .next_cursor
                .as_deref()
                .map(|c| next_link("/admin/audit", &filters, &req, c));
            if req.after.is_some() {
                first = Some(if filters.is_empty() {
                    "/admin/audit".to_string()
                } else {
                    format!("/admin/audit?{filters}")
                });
            }
            rows = page.items.into_iter().map(EventRow::new).collect();
        }
        Err(AppError::Invalid(f)) => field_errors = f.0,
        Err(e) => return Err(e.into()),
    }
    let verification = if q.verify {
        Some(audit::verify(&state.store).await?)
    } else {
        None
    };
    let broken_text = verification
        .as_ref()
        .and_then(|v| v.broken.as_ref())
        .map(|b| b.label());
    let refused = !field_errors.is_empty();
    render_form(
        &AuditPage {
            chrome: Chrome::new(&state, &ctx, "审计日志"),
            rows,
            verification,
            broken_text,
            errors: field_errors,
            entities: entity_choices(echo("entity").trim()),
            actions: action_choices(echo("action").trim()),
            entity_id: echo("entity_id"),
            actor: echo("actor"),
            filtered: ["entity", "entity_id", "actor", "action", "from", "to"]
                .iter()
                .any(|k| !echo(k).trim().is_empty()),
            from: echo("from"),
            to: echo("to"),
            first,
            next,
        },
        refused,
    )
}

/// `GET /api/v1/audit`: one page of events, newest first.
async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ListBody<AuditEvent>>> {
    let (q, errors) = AuditQuery::parse(raw.as_deref());
    let (page, req) = list_events(&state, &p, &q, errors).await?;
    Ok(Json(ListBody::new(
        page,
        "/api/v1/audit",
        &q.filters(),
        &req,
    )))
}

async fn verify_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<Verification>> {
    require_audit(&p)?;
    Ok(Json(audit::verify(&state.store).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(label: &str, before: Option<&str>, after: Option<&str>) -> ChangeLine {
        ChangeLine {
            label: label.into(),
            before: before.map(Into::into),
            after: after.map(Into::into),
        }
    }

    #[test]
    fn an_update_shows_only_what_changed_in_words() {
        let detail = r#"{"before":{"id":7,"display_name":"张三","active":true,"roles":["window_clerk"],"version":1},
                        "after":{"id":7,"display_name":"张三丰","active":false,"roles":["window_clerk","guide_desk"],"version":2}}"#;
        assert_eq!(
            describe("user", detail),
            vec![
                line("姓名", Some("张三"), Some("张三丰")),
                line("启用", Some("是"), Some("否")),
                line(
                    "角色",
                    Some("综合受理窗口人员"),
                    Some("综合受理窗口人员、导办人员")
                ),
                line("版本", Some("1"), Some("2")),
            ]
        );
    }

    #[test]
    fn a_creation_lists_its_fields_and_a_transition_its_states() {
        let created = describe("org", r#"{"after":{"name":"幸福街道","kind":"street"}}"#);
        assert_eq!(
            created,
            vec![
                line("名称", None, Some("幸福街道")),
                line("类型", None, Some("街道"))
            ]
        );
        let moved = describe(
            "case",
            r#"{"from":"routed","to":"in_review","action":"","version":3}"#,
        );
        assert_eq!(moved[0], line("状态", Some("已分办"), Some("审查中")));
        assert!(moved.contains(&line("说明", None, Some("（空）"))));
        assert!(moved.contains(&line("版本", None, Some("3"))));
    }

    #[test]
    fn records_in_lists_go_by_name_and_long_values_are_cut() {
        let long = "很".repeat(400);
        let detail = format!(
            r#"{{"after":{{"materials":[{{"name":"身份证","copies":1}},{{"name":"户口簿"}}],"conditions":"{long}"}}}}"#
        );
        let lines = describe("catalog_item", &detail);
        assert_eq!(lines[0].label, "受理条件");
        assert!(lines[0].after.as_ref().unwrap().ends_with('…'));
        assert_eq!(
            lines[0].after.as_ref().unwrap().chars().count(),
            VALUE_CHARS + 1
        );
        assert_eq!(lines[1], line("申请材料", None, Some("身份证、户口簿")));
    }

    #[test]
    fn unknown_keys_and_bad_json_are_shown_as_recorded() {
        assert_eq!(
            describe("x", r#"{"new_thing":"a"}"#),
            vec![line("new_thing", None, Some("a"))]
        );
        assert!(describe("x", "not json").is_empty());
    }

    #[test]
    fn the_action_filter_offers_groups_and_keeps_an_unknown_choice() {
        let c = action_choices("case.");
        assert!(c
            .iter()
            .any(|c| c.selected && c.label == "办件（全部操作）"));
        let c = action_choices("ticket.call");
        assert!(c.iter().any(|c| c.selected && c.label == "排队叫号 · 叫号"));
        let c = action_choices("future.thing");
        assert!(c
            .last()
            .is_some_and(|c| c.selected && c.value == "future.thing"));
    }
}
