//! The case lists: one query (filters read from the query string, keyset pages) behind
//! the window's queues, the department queue and `GET /api/v1/cases`.

use super::*;
use crate::lists::{day_start, parse_day};

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::pages::render_form;
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::cases::{CaseState, Light};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::cases::{self as store_cases, CaseList, Queue, Sort};
use onewindow_store::page::{ListId, Page, PageRequest};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/cases", get(list_api))
}

// ---- lists ----

/// The list cursors of every case list share one name: the filters (queue included) say
/// which list a cursor belongs to.
pub const CASE_LIST: &str = "cases";

/// A case list's query, checked: `GET /api/v1/cases` and the pages that list cases.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub queue: Option<Queue>,
    /// Requested states, in the domain's order, without repeats.
    pub states: Vec<CaseState>,
    pub item: Option<String>,
    pub department: Option<i64>,
    pub intake_org: Option<i64>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub light: Option<Light>,
    /// Only cases that came in by this channel.
    pub channel: Option<onewindow_domain::places::Channel>,
    /// What `q` searches, normalised.
    pub search: Option<Search>,
    pub page: PageParams,
}

/// What the text box of a list searches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// `q` in the form of a case number (`YC` + at least the eight digits of its date):
    /// the case numbers starting with it (upper case, half-width).
    CaseNo { prefix: String, day: NaiveDate },
    /// Anything else: exactly this applicant name (trimmed; a person's or a company's).
    Applicant(String),
}

impl Search {
    fn text(&self) -> &str {
        match self {
            Search::CaseNo { prefix, .. } => prefix,
            Search::Applicant(name) => name,
        }
    }
}

/// Reads `q`: a case-number prefix (which must name at least the date, so that it reads
/// one day's cases, not a year's) or an applicant's exact name.
fn parse_search(raw: &str, errors: &mut FieldErrors) -> Option<Search> {
    if !errors.text("q", "搜索词", raw, validation::SEARCH_QUERY) {
        return None;
    }
    let q = validation::halfwidth(raw).trim().to_string();
    if q.is_empty() {
        return None;
    }
    let upper = q.to_ascii_uppercase();
    if let Some(digits) = upper.strip_prefix("YC") {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let day = (digits.len() >= 8)
                .then(|| NaiveDate::parse_from_str(&digits[..8], "%Y%m%d").ok())
                .flatten();
            return match day {
                Some(day) => Some(Search::CaseNo { prefix: upper, day }),
                None => {
                    errors.add(
                        "q",
                        "case_no_prefix_too_short",
                        "按办件编号查询时请至少输入到受理日期，例如 YC20261123",
                    );
                    None
                }
            };
        }
    }
    Some(Search::Applicant(q))
}

fn parse_org(field: &str, label: &str, raw: &str, errors: &mut FieldErrors) -> Option<i64> {
    let v = raw.trim();
    if v.is_empty() {
        return None;
    }
    match v.parse::<i64>() {
        Ok(id) if id > 0 => Some(id),
        _ => {
            errors.add(field, "invalid", format!("{label}须为机构编号（正整数）"));
            None
        }
    }
}

impl CaseQuery {
    /// Reads a query string. `forced` is the queue of a page that shows one queue (its
    /// `queue` parameter, if any, is ignored). Every value is checked; all failures are
    /// reported together, each naming its parameter.
    pub fn parse(raw: Option<&str>, forced: Option<Queue>) -> Result<CaseQuery, FieldErrors> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let last = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let mut errors = FieldErrors::new();
        let mut q = CaseQuery {
            page: PageParams {
                limit: Some(last("limit").to_string()).filter(|l| !l.trim().is_empty()),
                cursor: Some(last("cursor").to_string()).filter(|c| !c.trim().is_empty()),
            },
            ..CaseQuery::default()
        };
        q.queue = match forced {
            Some(queue) => Some(queue),
            None => match last("queue").trim() {
                "" => None,
                other => match Queue::parse(other) {
                    Some(queue) => Some(queue),
                    None => {
                        errors.add(
                            "queue",
                            "unknown",
                            "未知队列：可选 department、issuance、intake",
                        );
                        None
                    }
                },
            },
        };
        // `state` may repeat and may list several values separated by commas.
        let mut wanted = Vec::new();
        for v in pairs
            .iter()
            .filter(|(k, _)| k == "state")
            .flat_map(|(_, v)| v.split(','))
        {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match CaseState::parse(v) {
                Some(s) => wanted.push(s),
                None => {
                    errors.add("state", "unknown_state", "未知的办件状态");
                    break;
                }
            }
        }
        q.states = CaseState::ALL
            .into_iter()
            .filter(|s| wanted.contains(s))
            .collect();
        if let Some(allowed) = q.queue.and_then(Queue::states) {
            if q.states.iter().any(|s| !allowed.contains(s)) {
                errors.add("state", "not_in_queue", "所选状态不在该队列中");
            }
        }
        let item = last("item").trim();
        if errors.text("item", "事项编码", item, validation::REFERENCE) && !item.is_empty() {
            q.item = Some(item.to_string());
        }
        q.department = parse_org("department", "部门", last("department"), &mut errors);
        q.intake_org = parse_org("intake_org", "受理机构", last("intake_org"), &mut errors);
        q.from = parse_day("from", "起始日期", last("from"), &mut errors);
        q.to = parse_day("to", "截止日期", last("to"), &mut errors);
        if let (Some(f), Some(t)) = (q.from, q.to) {
            if t < f {
                errors.add("to", "before_from", "截止日期不能早于起始日期");
            }
        }
        q.light = match last("light").trim() {
            "" => None,
            v => match Light::parse(v) {
                Some(l) => Some(l),
                None => {
                    errors.add(
                        "light",
                        "unknown_light",
                        "时限灯须为 red、yellow、green 或 overdue",
                    );
                    None
                }
            },
        };
        q.channel = match last("channel").trim() {
            "" => None,
            v => match onewindow_domain::places::Channel::parse(v) {
                Some(c) => Some(c),
                None => {
                    errors.add(
                        "channel",
                        "unknown_channel",
                        "未知的受理渠道：可选 window、community_station、home_visit、phone_booking、self_service、online",
                    );
                    None
                }
            },
        };
        q.search = parse_search(last("q"), &mut errors);
        errors.into_result().map(|()| q)
    }

    /// The role a list needs, by its `queue` (an unknown queue: the base permission, and
    /// the parse names the parameter).
    pub fn permission(raw: Option<&str>) -> Permission {
        let queue = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .filter(|(k, _)| k == "queue")
            .last()
            .and_then(|(_, v)| Queue::parse(v.trim()));
        match queue {
            Some(Queue::Department) => Permission::ReviewCases,
            Some(Queue::Issuance) => Permission::HandleIntake,
            Some(Queue::Intake) | None => Permission::ViewCases,
        }
    }

    /// The filters as (name, value) pairs, queue first; empty values left out.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                out.push((k, v));
            }
        };
        put("queue", self.queue.map(|q| q.as_str().to_string()));
        put(
            "state",
            Some(
                self.states
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        );
        put("item", self.item.clone());
        put("department", self.department.map(|d| d.to_string()));
        put("intake_org", self.intake_org.map(|d| d.to_string()));
        put("from", self.from.map(|d| d.to_string()));
        put("to", self.to.map(|d| d.to_string()));
        put("light", self.light.map(|l| l.as_str().to_string()));
        put("channel", self.channel.map(|c| c.as_str().to_string()));
        put("q", self.search.as_ref().map(|s| s.text().to_string()));
        out
    }

    /// The canonical filter string a cursor is bound to.
    pub fn filters(&self) -> String {
        let pairs = self.pairs();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        filter_string(&refs)
    }

    /// The filters as a page's URL carries them: without the queue the page itself fixes.
    fn page_filters(&self) -> String {
        let pairs = self.pairs();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(k, _)| *k != "queue")
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        filter_string(&refs)
    }
}

fn later(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.max(b)))
}

fn earlier(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// A page of a case list: what the caller may see, filtered; the role the queue needs.
pub async fn list_cases(
    state: &AppState,
    p: &Principal,
    q: &CaseQuery,
) -> Result<(Page<ListRow>, PageRequest), AppError> {
    p.require(match q.queue {
        Some(Queue::Department) => Permission::ReviewCases,
        Some(Queue::Issuance) => Permission::HandleIntake,
        Some(Queue::Intake) | None => Permission::ViewCases,
    })?;
    let filters = q.filters();
    let list_id = ListId {
        list: CASE_LIST,
        filters: &filters,
    };
    let req = q.page.request(state, &list_id).await?;
    let lights = Lights::load(state).await?;
    let mut list = CaseList::new(&p.user.org_path, q.queue);
    if !q.states.is_empty() {
        list.states = Some(match list.states {
            Some(queue) => queue.into_iter().filter(|s| q.states.contains(s)).collect(),
            None => q.states.clone(),
        });
    }
    if let Some(light) = q.light {
        // A light belongs to a running clock: the states where it runs, by due date.
        let running = |s: &CaseState| s.clock_running();
        list.states = Some(match list.states {
            Some(states) => states.into_iter().filter(running).collect(),
            None => CaseState::ALL.into_iter().filter(running).collect(),
        });
        list.due = lights.due_range(light)?;
        list.sort = Sort::Due;
    }
    list.item_code = q.item.clone();
    list.department_id = q.department;
    list.intake_org_id = q.intake_org;
    list.channel = q.channel;
    list.created = (
        q.from.map(day_start),
        q.to.map(|d| day_start(d + chrono::Days::new(1))),
    );
    match &q.search {
        Some(Search::CaseNo { prefix, day }) => {
            // The number carries the day it was taken in; a day either side allows for a
            // case numbered just before midnight and written just after (or the reverse).
            list.created.0 = later(list.created.0, day_start(*day - chrono::Days::new(1)));
            list.created.1 = earlier(list.created.1, day_start(*day + chrono::Days::new(2)));
            list.case_no_prefix = Some(prefix.clone());
        }
        Some(Search::Applicant(name)) => list.applicant_name = Some(name.clone()),
        None => {}
    }
    if matches!(list.created, (Some(a), Some(b)) if a >= b) {
        list.states = Some(vec![]);
    }
    let key = state.store.cursor_key().await?;
    let page = store_cases::list(state.store.reader(), key, &list_id, &list, &req).await?;
    Ok((page.map(|c| ListRow::new(c, &lights)), req))
}

/// A case list as a page shows it: 25 rows, the filter form's values, 下一页 and 第一页.
pub struct ListView {
    pub rows: Vec<ListRow>,
    pub next: Option<String>,
    pub first: Option<String>,
    pub errors: Vec<FieldError>,
    /// The filter form: state options (value, label, selected), light options, values.
    pub state_options: Vec<(&'static str, &'static str, bool)>,
    pub light_options: Vec<(&'static str, &'static str, bool)>,
    /// The channel filter's options (value, label, chosen).
    pub channel_options: Vec<(&'static str, &'static str, bool)>,
    pub item: String,
    pub from: String,
    pub to: String,
    pub q: String,
    pub action: &'static str,
}

/// Reads a page's list: on invalid filters, the form with its errors and no rows.
async fn list_view(
    state: &AppState,
    p: &Principal,
    raw: Option<&str>,
    queue: Queue,
    path: &'static str,
) -> Result<ListView, AppError> {
    let raw_pairs: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let echo = |k: &str| raw_pairs.get(k).cloned().unwrap_or_default();
    let allowed: Vec<CaseState> = queue
        .states()
        .map(<[CaseState]>::to_vec)
        .unwrap_or_else(|| CaseState::ALL.to_vec());
    let mut view = ListView {
        rows: vec![],
        next: None,
        first: None,
        errors: vec![],
        state_options: vec![],
        light_options: vec![],
        channel_options: vec![],
        item: echo("item"),
        from: echo("from"),
        to: echo("to"),
        q: echo("q"),
        action: path,
    };
    let parsed = CaseQuery::parse(raw, Some(queue));
    let chosen_states = parsed
        .as_ref()
        .map(|q| q.states.clone())
        .unwrap_or_default();
    let chosen_light = parsed.as_ref().ok().and_then(|q| q.light);
    let chosen_channel = parsed.as_ref().ok().and_then(|q| q.channel);
    view.channel_options = onewindow_domain::places::Channel::ALL
        .iter()
        .map(|c| (c.as_str(), c.label(), chosen_channel == Some(*c)))
        .collect();
    view.state_options = allowed
        .iter()
        .map(|s| (s.as_str(), s.label(), chosen_states.contains(s)))
        .collect();
    view.light_options = Light::ALL
        .iter()
        .map(|l| (l.as_str(), l.label(), chosen_light == Some(*l)))
        .collect();
    let q = match parsed {
        Ok(q) => q,
        Err(e) => {
            view.errors = e.0;
            return Ok(view);
        }
    };
    match list_cases(state, p, &q).await {
        Ok((page, req)) => {
            let filters = q.page_filters();
            view.next = page
                .next_cursor
                .as_deref()
                .map(|c| crate::paging::next_link(path, &filters, &req, c));
            if req.after.is_some() {
                view.first = Some(if filters.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{filters}")
                });
            }
            view.rows = page.items;
        }
        Err(AppError::Invalid(e)) => view.errors = e.0,
        Err(e) => return Err(e),
    }
    Ok(view)
}

/// The first page of a queue, and the link to its next page on the queue's own page.
pub(super) async fn queue_head(
    state: &AppState,
    p: &Principal,
    queue: Queue,
    path: &str,
) -> Result<(Vec<ListRow>, Option<String>), AppError> {
    let q = CaseQuery {
        queue: Some(queue),
        ..CaseQuery::default()
    };
    let (page, req) = list_cases(state, p, &q).await?;
    let next = page
        .next_cursor
        .as_deref()
        .map(|c| crate::paging::next_link(path, "", &req, c));
    Ok((page.items, next))
}

#[derive(Template)]
#[template(path = "case_list.html")]
struct CaseListPage {
    chrome: Chrome,
    heading: &'static str,
    lead: &'static str,
    show_dates: bool,
    list: ListView,
}

/// A queue's own page: 25 rows, filters, 下一页.
pub(super) async fn queue_page(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    raw: Option<&str>,
    queue: Queue,
    path: &'static str,
) -> PageResult {
    let list = list_view(state, p, raw, queue, path).await?;
    let (heading, lead) = match queue {
        Queue::Intake => (
            "受理记录",
            "本窗口（含下级机构）受理的全部办件，最新的在前。",
        ),
        Queue::Issuance => (
            "待出件 / 待即办",
            "办理结果已出、等待交付的办件，先到先办。",
        ),
        Queue::Department => (
            "后台审批",
            "分派到本部门的办件，按承诺办结日期排序。红黄绿灯按剩余工作日显示。",
        ),
    };
    let refused = !list.errors.is_empty();
    render_form(
        &CaseListPage {
            chrome: Chrome::new(state, ctx, heading),
            heading,
            lead,
            show_dates: queue == Queue::Intake,
            list,
        },
        refused,
    )
}

/// `GET /api/v1/cases`: one page of the cases the caller may see.
async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ListBody<ListRow>>> {
    // The queue's role first: without it the answer is 403 whatever the filters say.
    p.require(CaseQuery::permission(raw.as_deref()))?;
    let q = CaseQuery::parse(raw.as_deref(), None)?;
    let (page, req) = list_cases(&state, &p, &q).await?;
    Ok(Json(ListBody::new(
        page,
        "/api/v1/cases",
        &q.filters(),
        &req,
    )))
}
