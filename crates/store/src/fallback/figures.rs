//! The fallback window's figures, read only from the daily rollup (`fallback_rollup`) —
//! never from the cases; the ledger (台账) of the cases in scope, keyset-paged, with its
//! audited export; the hall screen's counts; and the monthly notice to departments (双回路,
//! the departments' half), bounded by the month.
//!
//! The formulas are `onewindow_domain::fallback::figures`; here are the counters.

use super::cases;
use crate::audit::{self, Change};
use crate::{Result, StoreError};
use chrono::{Datelike, Duration, NaiveDate};
use onewindow_domain::escalation::local_midnight;
use onewindow_domain::fallback::figures::{Counts, Metric};
use onewindow_domain::fallback::{CaseType, Channel, Outcome, ResponseTier, State, TaskState};
use onewindow_domain::org::OrgPath;
use onewindow_domain::ratings::{mask_name, mask_phone};
use onewindow_domain::validation::FieldErrors;
use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::BTreeMap;

/// The longest period a figure or a ledger is read over (a year, leap day included).
pub const MAX_PERIOD_DAYS: i64 = 366;

/// A checked period `[from, to]` (Beijing dates); empty `from` is the first of this month,
/// empty `to` today. A bad date, `from` after `to`, or longer than a year: field errors.
pub fn period(from: &str, to: &str, today: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
    let mut errors = FieldErrors::new();
    let parse = |field: &str, label: &str, v: &str, default: NaiveDate, e: &mut FieldErrors| {
        let v = v.trim();
        if v.is_empty() {
            return Some(default);
        }
        match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) if v.len() == 10 => Some(d),
            _ => {
                e.add(field, "invalid_date", format!("{label}格式应为 YYYY-MM-DD"));
                None
            }
        }
    };
    let first = today.with_day(1).unwrap_or(today);
    let f = parse("from", "起始日期", from, first, &mut errors);
    let t = parse("to", "截止日期", to, today, &mut errors);
    if let (Some(f), Some(t)) = (f, t) {
        if f > t {
            errors.add("from", "after_to", "起始日期不能晚于截止日期");
        } else if (t - f).num_days() >= MAX_PERIOD_DAYS {
            errors.add("from", "too_long", "统计期间最长一年");
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    Ok((f.expect("checked"), t.expect("checked")))
}

/// A checked month `YYYY-MM` as its first and last day; empty is this month.
pub fn month(m: &str, today: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
    let m = m.trim();
    let first = if m.is_empty() {
        today.with_day(1).unwrap_or(today)
    } else {
        (m.len() == 7)
            .then(|| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
            .flatten()
            .ok_or_else(|| StoreError::invalid("month", "invalid_month", "月份格式应为 YYYY-MM"))?
    };
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(|| StoreError::invalid("month", "invalid_month", "月份格式应为 YYYY-MM"))?;
    Ok((first, next - Duration::days(1)))
}

/// The counters of one window organisation over a period.
#[derive(Debug, Clone, Serialize)]
pub struct OrgCounts {
    pub org_id: i64,
    pub org_name: String,
    pub org_code: Option<String>,
    pub counts: Counts,
}

/// A department's refusal reports (否定答复报告) over a period.
#[derive(Debug, Clone, Serialize)]
pub struct DeptRefusals {
    pub department_id: i64,
    pub department_name: String,
    pub refusal_reports: i64,
}

/// The counters of a period inside a scope: the total, per window organisation, and the
/// refusal reports per department (departments inside the scope).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    pub total: Counts,
    pub by_org: Vec<OrgCounts>,
    pub by_dept: Vec<DeptRefusals>,
}

/// The rollup's counters for days `from..=to`, for windows (and departments) inside
/// `scope`. Reads `fallback_rollup` only (its primary key starts with dim, dim_id, day).
pub async fn figures(
    pool: &AnyPool,
    scope: &OrgPath,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Figures> {
    let rows = sqlx::query(
        "SELECT r.dim, r.dim_id, r.metric, MAX(o.name) AS name, MAX(o.code) AS code, \
         CAST(SUM(r.n) AS BIGINT) AS n FROM fallback_rollup r JOIN orgs o ON o.id = r.dim_id \
         WHERE r.day >= $1 AND r.day <= $2 AND o.path >= $3 AND o.path < $4 \
         GROUP BY r.dim, r.dim_id, r.metric ORDER BY r.dim, r.dim_id",
    )
    .bind(from.to_string())
    .bind(to.to_string())
    .bind(scope.as_str())
    .bind(crate::path_upper_bound(scope.as_str()))
    .fetch_all(pool)
    .await?;
    let mut orgs: BTreeMap<i64, OrgCounts> = BTreeMap::new();
    let mut depts: BTreeMap<i64, DeptRefusals> = BTreeMap::new();
    for r in &rows {
        let Some(metric) = Metric::parse(&r.get::<String, _>("metric")) else {
            continue;
        };
        let id: i64 = r.get("dim_id");
        let n: i64 = r.get::<Option<i64>, _>("n").unwrap_or(0);
        let name: String = r.get::<Option<String>, _>("name").unwrap_or_default();
        match r.get::<String, _>("dim").as_str() {
            "org" => orgs
                .entry(id)
                .or_insert_with(|| OrgCounts {
                    org_id: id,
                    org_name: name.clone(),
                    org_code: r.get("code"),
                    counts: Counts::default(),
                })
                .counts
                .add(metric, n),
            "dept" if metric == Metric::RefusalReports => {
                depts
                    .entry(id)
                    .or_insert_with(|| DeptRefusals {
                        department_id: id,
                        department_name: name.clone(),
                        refusal_reports: 0,
                    })
                    .refusal_reports += n;
            }
            _ => {}
        }
    }
    let mut total = Counts::default();
    for o in orgs.values() {
        total.merge(&o.counts);
    }
    let mut by_dept: Vec<DeptRefusals> = depts.into_values().collect();
    by_dept.sort_by(|a, b| {
        b.refusal_reports
            .cmp(&a.refusal_reports)
            .then(a.department_id.cmp(&b.department_id))
    });
    Ok(Figures {
        total,
        by_org: orgs.into_values().collect(),
        by_dept,
    })
}

// ---- the ledger (台账) ---------------------------------------------------------------------

/// Which cases the ledger shows: received in `[from, to]`, optionally in one state, with an
/// id below `before_id` (keyset, newest first).
#[derive(Debug, Clone)]
pub struct LedgerFilter {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub state: Option<State>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// One line of the ledger. The person is masked (张** / 138****8000): the ledger and its
/// exports never carry the full contact.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerRow {
    pub id: i64,
    pub case_no: String,
    pub org_id: i64,
    pub org_name: String,
    pub received_at: i64,
    /// Beijing time, `YYYY-MM-DD HH:MM`.
    pub received: String,
    pub channel: Channel,
    pub case_type: CaseType,
    pub tier: ResponseTier,
    pub state: State,
    pub title: String,
    pub person: String,
    pub phone: String,
    pub owner_name: Option<String>,
    pub tags: Vec<String>,
    pub outcome: Option<Outcome>,
    /// Responded (classified) within 1 hour; `None` while not responded.
    pub responded_on_time: Option<bool>,
    /// Coordination finished within 3 working days; `None` while not finished.
    pub coordinated_on_time: Option<bool>,
    /// 办结 within 7 working days of receipt; `None` while not concluded.
    pub concluded_on_time: Option<bool>,
    pub rounds: i64,
    pub refusal_reports: i64,
    pub extended: bool,
}

/// The most lines one export holds.
pub const EXPORT_LIMIT: usize = 20_000;

fn on_time(done: Option<i64>, due: Option<i64>) -> Option<bool> {
    done.map(|d| due.is_none_or(|due| d <= due))
}

/// A page of the ledger of windows inside `scope` (newest first), through the
/// (org_id, received_at, id) index.
pub async fn ledger(pool: &AnyPool, scope: &OrgPath, f: &LedgerFilter) -> Result<Vec<LedgerRow>> {
    let mut sql = String::from(
        "SELECT c.id, c.case_no, c.org_id, o.name AS org_name, c.received_at, c.channel, \
         c.case_type, c.tier, c.state, c.title, c.person_name, c.person_phone, c.tags, \
         c.outcome, c.responded_at, c.respond_due_at, c.coordinated_at, c.coordinate_due_at, \
         c.concluded_at, c.close_due_at, c.rounds_total, c.extension_state, \
         u.display_name AS owner_name, \
         (SELECT COUNT(*) FROM fallback_tasks t WHERE t.case_id = c.id AND t.state = 'refused') \
         AS refusals FROM fallback_cases c JOIN orgs o ON o.id = c.org_id \
         LEFT JOIN users u ON u.id = c.owner_user_id \
         WHERE o.path >= $1 AND o.path < $2 AND c.received_at >= $3 AND c.received_at < $4",
    );
    let mut n = 4;
    if f.state.is_some() {
        n += 1;
        sql.push_str(&format!(" AND c.state = ${n}"));
    }
    if f.before_id.is_some() {
        n += 1;
        sql.push_str(&format!(" AND c.id < ${n}"));
    }
    sql.push_str(&format!(" ORDER BY c.id DESC LIMIT ${}", n + 1));
    let mut q = sqlx::query(&sql)
        .bind(scope.as_str())
        .bind(crate::path_upper_bound(scope.as_str()))
        .bind(local_midnight(f.from))
        .bind(local_midnight(f.to + Duration::days(1)));
    if let Some(s) = f.state {
        q = q.bind(s.as_str());
    }
    if let Some(b) = f.before_id {
        q = q.bind(b);
    }
    let rows = q.bind(f.limit.clamp(1, 1000)).fetch_all(pool).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let at: i64 = r.get("received_at");
            let text = |c: &str| r.get::<String, _>(c);
            LedgerRow {
                id: r.get("id"),
                case_no: text("case_no"),
                org_id: r.get("org_id"),
                org_name: text("org_name"),
                received_at: at,
                received: crate::clock::to_local(at)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                channel: Channel::parse(&text("channel")).unwrap_or(Channel::Window),
                case_type: CaseType::parse(&text("case_type")).unwrap_or(CaseType::Coordination),
                tier: ResponseTier::parse(&text("tier")).unwrap_or(ResponseTier::Window),
                state: State::parse(&text("state")).unwrap_or(State::Received),
                title: text("title"),
                person: mask_name(&text("person_name")),
                phone: mask_phone(&text("person_phone")),
                owner_name: r.get("owner_name"),
                tags: serde_json::from_str(&text("tags")).unwrap_or_default(),
                outcome: r
                    .get::<Option<String>, _>("outcome")
                    .and_then(|o| Outcome::parse(&o)),
                responded_on_time: on_time(r.get("responded_at"), r.get("respond_due_at")),
                coordinated_on_time: on_time(r.get("coordinated_at"), r.get("coordinate_due_at")),
                concluded_on_time: on_time(r.get("concluded_at"), r.get("close_due_at")),
                rounds: r.get("rounds_total"),
                refusal_reports: r.get("refusals"),
                extended: text("extension_state") == "approved",
            }
        })
        .collect())
}

/// The whole ledger of a filter (every page, up to [`EXPORT_LIMIT`] lines), for an export.
pub async fn ledger_all(
    pool: &AnyPool,
    scope: &OrgPath,
    from: NaiveDate,
    to: NaiveDate,
    state: Option<State>,
) -> Result<Vec<LedgerRow>> {
    let mut out: Vec<LedgerRow> = Vec::new();
    let mut before_id = None;
    loop {
        let page = ledger(
            pool,
            scope,
            &LedgerFilter {
                from,
                to,
                state,
                before_id,
                limit: 1000,
            },
        )
        .await?;
        let full = page.len() == 1000;
        before_id = page.last().map(|r| r.id);
        out.extend(page);
        if !full || out.len() >= EXPORT_LIMIT {
            out.truncate(EXPORT_LIMIT);
            return Ok(out);
        }
    }
}

/// Records an export of the ledger: its format, filter and the lines it held.
#[allow(clippy::too_many_arguments)]
pub async fn record_export(
    conn: &mut AnyConnection,
    change: &Change,
    scope: &OrgPath,
    format: &str,
    from: NaiveDate,
    to: NaiveDate,
    state: Option<State>,
    rows: &[LedgerRow],
) -> Result<()> {
    let detail = serde_json::json!({
        "format": format,
        "scope": scope.as_str(),
        "from": from,
        "to": to,
        "state": state.map(State::as_str),
        "rows": rows.len(),
        "case_nos": rows.iter().take(200).map(|r| r.case_no.as_str()).collect::<Vec<_>>(),
        "personal_data": "masked",
    });
    audit::append(
        conn,
        change,
        "fallback.ledger_export",
        "fallback_ledger",
        format,
        &detail,
    )
    .await
}

// ---- the hall screen (可视化大屏) -----------------------------------------------------------

/// What the hall's public screen shows: no personal data, no names.
#[derive(Debug, Clone, Serialize)]
pub struct Screen {
    pub org_id: i64,
    pub org_name: String,
    /// Open cases by state, in the loop's order.
    pub open: Vec<(State, i64)>,
    /// This month so far, from the rollup.
    pub month: Counts,
    pub month_from: NaiveDate,
    pub month_to: NaiveDate,
    /// Titles of the latest solved cases (the case library's, else the concluded cases').
    pub solved: Vec<String>,
}

/// The screen of the window organisation `code` (and the windows below it); an unknown
/// code is no screen.
pub async fn screen(pool: &AnyPool, code: &str, today: NaiveDate) -> Result<Screen> {
    if code.is_empty() || code.len() > 64 {
        return Err(StoreError::NotFound);
    }
    let org = crate::orgs::find_by_code(pool, code)
        .await?
        .ok_or(StoreError::NotFound)?;
    let counted = cases::counts_by_state(pool, &org.path).await?;
    let open = State::ALL
        .iter()
        .filter(|s| !s.is_final())
        .map(|s| {
            let n = counted
                .iter()
                .find(|(c, _)| c == s)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            (*s, n)
        })
        .collect();
    let month_from = today.with_day(1).unwrap_or(today);
    let month = figures(pool, &org.path, month_from, today).await?.total;
    let upper = crate::path_upper_bound(org.path.as_str());
    let mut solved: Vec<String> = sqlx::query(
        "SELECT l.title FROM fallback_library l JOIN orgs o ON o.id = l.org_id \
         WHERE o.path >= $1 AND o.path < $2 ORDER BY l.solved_at DESC, l.id DESC LIMIT 8",
    )
    .bind(org.path.as_str())
    .bind(&upper)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| r.get("title"))
    .collect();
    if solved.is_empty() {
        solved = sqlx::query(
            "SELECT c.title FROM fallback_cases c JOIN orgs o ON o.id = c.org_id \
             WHERE o.path >= $1 AND o.path < $2 AND c.outcome = 'solved' \
             ORDER BY c.concluded_at DESC, c.id DESC LIMIT 8",
        )
        .bind(org.path.as_str())
        .bind(&upper)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.get("title"))
        .collect();
    }
    Ok(Screen {
        org_id: org.id,
        org_name: org.name,
        open,
        month,
        month_from,
        month_to: today,
        solved,
    })
}

// ---- the monthly notice to departments (双回路) ---------------------------------------------

/// A tag with the cases of the month that carry it.
#[derive(Debug, Clone, Serialize)]
pub struct TagCount {
    pub tag: String,
    pub cases: i64,
}

/// A department's month: the tasks it got, how it answered, and the tags of their cases.
#[derive(Debug, Clone, Serialize)]
pub struct DeptMonth {
    pub department_id: i64,
    pub department_name: String,
    pub tasks: i64,
    pub replied: i64,
    pub refused: i64,
    pub waiting: i64,
    pub tags: Vec<TagCount>,
}

/// The monthly notice: recurring problem areas (the tags of the month's cases) and each
/// department's tasks, refusals and tags.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub cases: i64,
    pub tags: Vec<TagCount>,
    pub departments: Vec<DeptMonth>,
}

fn sorted_tags(m: BTreeMap<String, i64>) -> Vec<TagCount> {
    let mut v: Vec<TagCount> = m
        .into_iter()
        .map(|(tag, cases)| TagCount { tag, cases })
        .collect();
    v.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.tag.cmp(&b.tag)));
    v
}

/// The notice of the month `[from, to]` for the windows inside `scope`: cases received in
/// the month (the (org_id, received_at) index) and tasks sent in it.
pub async fn notice(
    pool: &AnyPool,
    scope: &OrgPath,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Notice> {
    let start = local_midnight(from);
    let end = local_midnight(to + Duration::days(1));
    let upper = crate::path_upper_bound(scope.as_str());
    let case_rows = sqlx::query(
        "SELECT c.tags FROM fallback_cases c JOIN orgs o ON o.id = c.org_id \
         WHERE o.path >= $1 AND o.path < $2 AND c.received_at >= $3 AND c.received_at < $4 \
         AND c.state NOT IN ('refused', 'returned')",
    )
    .bind(scope.as_str())
    .bind(&upper)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    let mut tags: BTreeMap<String, i64> = BTreeMap::new();
    for r in &case_rows {
        let t: Vec<String> = serde_json::from_str(&r.get::<String, _>("tags")).unwrap_or_default();
        for tag in t {
            *tags.entry(tag).or_insert(0) += 1;
        }
    }
    let task_rows = sqlx::query(
        "SELECT t.department_id, d.name, t.state, c.tags FROM fallback_tasks t \
         JOIN fallback_cases c ON c.id = t.case_id JOIN orgs o ON o.id = c.org_id \
         JOIN orgs d ON d.id = t.department_id \
         WHERE o.path >= $1 AND o.path < $2 AND t.sent_at >= $3 AND t.sent_at < $4 \
         ORDER BY t.department_id, t.id",
    )
    .bind(scope.as_str())
    .bind(&upper)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    let mut depts: BTreeMap<i64, (DeptMonth, BTreeMap<String, i64>)> = BTreeMap::new();
    for r in &task_rows {
        let id: i64 = r.get("department_id");
        let (d, dt) = depts.entry(id).or_insert_with(|| {
            (
                DeptMonth {
                    department_id: id,
                    department_name: r.get("name"),
                    tasks: 0,
                    replied: 0,
                    refused: 0,
                    waiting: 0,
                    tags: vec![],
                },
                BTreeMap::new(),
            )
        });
        d.tasks += 1;
        match TaskState::parse(&r.get::<String, _>("state")) {
            Some(TaskState::Replied) => d.replied += 1,
            Some(TaskState::Refused) => d.refused += 1,
            _ => d.waiting += 1,
        }
        let t: Vec<String> = serde_json::from_str(&r.get::<String, _>("tags")).unwrap_or_default();
        for tag in t {
            *dt.entry(tag).or_insert(0) += 1;
        }
    }
    let mut departments: Vec<DeptMonth> = depts
        .into_values()
        .map(|(mut d, t)| {
            d.tags = sorted_tags(t);
            d
        })
        .collect();
    departments.sort_by(|a, b| {
        b.tasks
            .cmp(&a.tasks)
            .then(a.department_id.cmp(&b.department_id))
    });
    Ok(Notice {
        from,
        to,
        cases: case_rows.len() as i64,
        tags: sorted_tags(tags),
        departments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_is_checked() {
        let today = d("2026-11-23");
        assert_eq!(period("", "", today).unwrap(), (d("2026-11-01"), today));
        assert_eq!(
            period("2026-01-01", "2026-03-31", today).unwrap(),
            (d("2026-01-01"), d("2026-03-31"))
        );
        let field = |r: Result<(NaiveDate, NaiveDate)>| match r {
            Err(StoreError::Invalid(e)) => (e.0[0].field.clone(), e.0[0].code.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(period("2026-13-01", "", today)),
            ("from".into(), "invalid_date".into())
        );
        assert_eq!(
            field(period("", "x", today)),
            ("to".into(), "invalid_date".into())
        );
        assert_eq!(
            field(period("2026-11-20", "2026-11-01", today)),
            ("from".into(), "after_to".into())
        );
        assert_eq!(
            field(period("2025-01-01", "2026-11-01", today)),
            ("from".into(), "too_long".into())
        );
    }

    #[test]
    fn a_month_is_its_first_and_last_day() {
        let today = d("2026-11-23");
        assert_eq!(
            month("", today).unwrap(),
            (d("2026-11-01"), d("2026-11-30"))
        );
        assert_eq!(
            month("2026-12", today).unwrap(),
            (d("2026-12-01"), d("2026-12-31"))
        );
        assert_eq!(
            month("2028-02", today).unwrap(),
            (d("2028-02-01"), d("2028-02-29"))
        );
        assert!(month("2026-13", today).is_err());
        assert!(month("2026-1", today).is_err());
        assert!(month("junk", today).is_err());
    }
}
