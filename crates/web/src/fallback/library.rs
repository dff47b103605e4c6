//! 案例库 and 政策建议: the API and the pages, one operation each shared by both.
//!
//! Scope: an entry and a suggestion belong to the window's organisation. Reading needs
//! `ViewFallback` or `HandleFallback` over it; recording a suggestion needs
//! `HandleFallback` over every case it cites; moving it into study or deciding it needs
//! `DecideFallback` (a supervisor) over its organisation. Outside role or scope: 403.

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::pages::{render, render_form};
use crate::paging::{filter_string, next_link, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::fallback::library::{self as rules, Decision};
use onewindow_domain::fallback::SuggestionState;
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::{check_text, FieldError};
use onewindow_store::clock::format_local;
use onewindow_store::fallback::library::{self as store, CaseRef, LibraryEntry, Suggestion};
use onewindow_store::page::{KeyPart, ListId, Page, PageRequest};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/fallback/library", get(search_api))
        .route("/api/v1/fallback/library/similar", get(similar_api))
        .route("/api/v1/fallback/library/{id}", get(entry_api))
        .route(
            "/api/v1/fallback/suggestions",
            get(suggestions_api).post(create_api),
        )
        .route("/api/v1/fallback/suggestions/{id}", get(suggestion_api))
        .route(
            "/api/v1/fallback/suggestions/{id}/decision",
            post(decide_api),
        )
        .route("/fallback/library", get(library_page))
        .route("/fallback/library/{id}", get(entry_page))
        .route(
            "/fallback/suggestions",
            get(suggestions_page).post(create_form),
        )
        .route("/fallback/suggestions/{id}", get(suggestion_page))
        .route("/fallback/suggestions/{id}/decision", post(decide_form))
}

// ---- operations -------------------------------------------------------------------------------

/// Reading the library or the suggestions of `target`.
fn authorize_read(p: &Principal, target: &OrgPath) -> Result<(), AppError> {
    p.authorize(Permission::ViewFallback, target)
        .or_else(|_| p.authorize(Permission::HandleFallback, target))
}

/// The search's query string, checked.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub tag: String,
    #[serde(flatten)]
    pub page: PageParams,
}

const LIBRARY_LIST: &str = "fallback.library";

fn library_list_filters(q: &SearchQuery) -> String {
    filter_string(&[("q", q.q.trim()), ("tag", q.tag.trim())])
}

/// Searches the library within the caller's scope.
pub async fn search(
    state: &AppState,
    p: &Principal,
    q: &SearchQuery,
) -> Result<(Page<LibraryEntry>, PageRequest, String), AppError> {
    authorize_read(p, &p.user.org_path)?;
    let mut errors = onewindow_domain::validation::FieldErrors::new();
    if let Err(e) = check_text("q", "关键词", &q.q, rules::QUERY) {
        errors.0.push(e);
    }
    if let Err(e) = check_text("tag", "标签", &q.tag, onewindow_domain::fallback::TAG) {
        errors.0.push(e);
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let filters = library_list_filters(q);
    let list = ListId {
        list: LIBRARY_LIST,
        filters: &filters,
    };
    let req = q.page.request(state, &list).await?;
    let tag = q.tag.trim();
    let rows = store::search(
        state.store.reader(),
        &p.user.org_path,
        q.q.trim(),
        (!tag.is_empty()).then_some(tag),
        &req,
    )
    .await?;
    let ranked = store::is_ranked(q.q.trim());
    let key = state.store.cursor_key().await?;
    let page = Page::from_rows(key, &list, &req, rows, |e: &LibraryEntry| {
        if ranked {
            vec![KeyPart::Int(e.score.unwrap_or(0)), KeyPart::Int(e.id)]
        } else {
            vec![KeyPart::Int(e.id)]
        }
    });
    Ok((page, req, filters))
}

pub async fn get_entry(state: &AppState, p: &Principal, id: i64) -> Result<LibraryEntry, AppError> {
    let e = store::entry(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    authorize_read(p, &e.org_path)?;
    Ok(e)
}

/// Up to `n` entries like a new problem's text, within the caller's scope.
pub async fn similar(
    state: &AppState,
    p: &Principal,
    text: &str,
    n: i64,
) -> Result<Vec<LibraryEntry>, AppError> {
    authorize_read(p, &p.user.org_path)?;
    check_text("text", "问题描述", text, rules::SIMILAR_TEXT)
        .map_err(|e| AppError::Invalid(onewindow_domain::validation::FieldErrors(vec![e])))?;
    if !(1..=20).contains(&n) {
        return Err(AppError::invalid("n", "out_of_range", "n 应在1到20之间"));
    }
    Ok(store::similar(state.store.reader(), &p.user.org_path, text, n).await?)
}

const SUGGESTION_LIST: &str = "fallback.suggestions";

fn parse_state(s: &str) -> Result<Option<SuggestionState>, AppError> {
    match s.trim() {
        "" => Ok(None),
        v => SuggestionState::parse(v).map(Some).ok_or_else(|| {
            AppError::invalid(
                "state",
                "unknown",
                "状态只能是 proposed、under_study、adopted 或 rejected",
            )
        }),
    }
}

pub async fn list_suggestions(
    state: &AppState,
    p: &Principal,
    st: &str,
    params: &PageParams,
) -> Result<(Page<Suggestion>, PageRequest, String), AppError> {
    authorize_read(p, &p.user.org_path)?;
    let st = parse_state(st)?;
    let filters = filter_string(&[("state", st.map(|s| s.as_str()).unwrap_or(""))]);
    let list = ListId {
        list: SUGGESTION_LIST,
        filters: &filters,
    };
    let req = params.request(state, &list).await?;
    let rows =
        store::suggestions_in_scope(state.store.reader(), &p.user.org_path, st, &req).await?;
    let key = state.store.cursor_key().await?;
    let page = Page::from_rows(key, &list, &req, rows, |s: &Suggestion| {
        vec![KeyPart::Int(s.id)]
    });
    Ok((page, req, filters))
}

pub async fn get_suggestion(
    state: &AppState,
    p: &Principal,
    id: i64,
) -> Result<(Suggestion, Vec<CaseRef>), AppError> {
    let s = store::suggestion(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    authorize_read(p, &s.org_path)?;
    let cases = store::suggestion_cases(state.store.reader(), id).await?;
    Ok((s, cases))
}

/// A suggestion as sent: the cases behind it by id.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewSuggestion {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub case_ids: Vec<i64>,
}

pub async fn create_suggestion(
    state: &AppState,
    p: &Principal,
    input: &NewSuggestion,
) -> Result<Suggestion, AppError> {
    if !p.actor().may(Permission::HandleFallback) {
        return Err(AppError::Forbidden(onewindow_domain::access::Denied::Role));
    }
    if input.case_ids.len() > rules::MAX_SUGGESTION_CASES {
        return Err(AppError::invalid(
            "case_ids",
            "too_many",
            format!("一条建议最多列{}个案件", rules::MAX_SUGGESTION_CASES),
        ));
    }
    let cases = store::case_refs(state.store.reader(), &input.case_ids).await?;
    for c in &cases {
        p.authorize(Permission::HandleFallback, &c.org_path)?;
    }
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let s = store::create_suggestion(
        &mut tx,
        &change,
        &input.title,
        &input.content,
        &input.case_ids,
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

/// A step of a suggestion as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DecisionInput {
    #[serde(default)]
    pub state: String,
    pub version: Option<i64>,
    #[serde(default)]
    pub deciding_body: String,
    #[serde(default)]
    pub decided_on: String,
    #[serde(default)]
    pub note: String,
}

impl DecisionInput {
    fn decision(&self) -> Result<Decision, AppError> {
        let to = parse_state(&self.state)?
            .ok_or_else(|| AppError::invalid("state", "required", "请选择要改为的状态"))?;
        let decided_on = match self.decided_on.trim() {
            "" => None,
            s => Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                AppError::invalid("decided_on", "invalid_date", "日期格式应为 YYYY-MM-DD")
            })?),
        };
        Ok(Decision {
            to,
            deciding_body: self.deciding_body.clone(),
            decided_on,
            note: self.note.clone(),
        })
    }
}

pub async fn decide(
    state: &AppState,
    p: &Principal,
    id: i64,
    input: &DecisionInput,
) -> Result<Suggestion, AppError> {
    let s = store::suggestion(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(Permission::DecideFallback, &s.org_path)?;
    let d = input.decision()?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let out = store::decide_suggestion(&mut tx, &change, id, input.version, &d).await?;
    tx.commit().await?;
    Ok(out)
}

// ---- API --------------------------------------------------------------------------------------

fn entry_json(e: &LibraryEntry) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    v["solved_on"] = json!(onewindow_store::clock::local_date(e.solved_at).to_string());
    v
}

async fn search_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Value>> {
    let (page, req, filters) = search(&state, &p, &q).await?;
    let body = ListBody::new(
        page.map(|e| entry_json(&e)),
        "/api/v1/fallback/library",
        &filters,
        &req,
    );
    Ok(Json(serde_json::to_value(body).unwrap_or_default()))
}

async fn entry_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(entry_json(&get_entry(&state, &p, id).await?)))
}

#[derive(Debug, Deserialize)]
struct SimilarQuery {
    #[serde(default)]
    text: String,
    n: Option<i64>,
}

async fn similar_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<SimilarQuery>,
) -> ApiResult<Json<Value>> {
    let items = similar(&state, &p, &q.text, q.n.unwrap_or(5)).await?;
    let items: Vec<Value> = items.iter().map(entry_json).collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
struct SuggestionsQuery {
    #[serde(default)]
    state: String,
    #[serde(flatten)]
    page: PageParams,
}

async fn suggestions_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<SuggestionsQuery>,
) -> ApiResult<Json<Value>> {
    let (page, req, filters) = list_suggestions(&state, &p, &q.state, &q.page).await?;
    let body = ListBody::new(page, "/api/v1/fallback/suggestions", &filters, &req);
    Ok(Json(serde_json::to_value(body).unwrap_or_default()))
}

async fn suggestion_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let (s, cases) = get_suggestion(&state, &p, id).await?;
    let mut v = serde_json::to_value(&s).unwrap_or_default();
    v["cases"] = json!(cases);
    Ok(Json(v))
}

async fn create_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<NewSuggestion>,
) -> ApiResult<(StatusCode, Json<Suggestion>)> {
    let s = create_suggestion(&state, &p, &input).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

async fn decide_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<DecisionInput>,
) -> ApiResult<Json<Suggestion>> {
    Ok(Json(decide(&state, &p, id, &input).await?))
}

// ---- pages ------------------------------------------------------------------------------------

/// An entry as a result row shows it.
pub struct EntryRow {
    pub e: LibraryEntry,
    pub solved_on: String,
    pub excerpt: String,
}

fn excerpt(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

fn entry_row(e: LibraryEntry) -> EntryRow {
    EntryRow {
        solved_on: onewindow_store::clock::local_date(e.solved_at).to_string(),
        excerpt: excerpt(&e.problem, 120),
        e,
    }
}

fn tag_href(tag: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("tag", tag);
    format!("/fallback/library?{}", q.finish())
}

#[derive(Template)]
#[template(path = "fallback_library.html")]
struct LibraryPage {
    chrome: Chrome,
    q: String,
    tag: String,
    rows: Vec<EntryRow>,
    ranked: bool,
    searched: bool,
    first: Option<String>,
    next: Option<String>,
    errors: Vec<FieldError>,
}

impl LibraryPage {
    fn tag_href(&self, tag: &str) -> String {
        tag_href(tag)
    }
}

async fn library_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<SearchQuery>,
) -> PageResult {
    let searched = !q.q.trim().is_empty() || !q.tag.trim().is_empty();
    let (rows, next, errors, ranked) = match search(&state, &p, &q).await {
        Ok((page, req, filters)) => {
            let next = page
                .next_cursor
                .as_deref()
                .map(|c| next_link("/fallback/library", &filters, &req, c));
            (
                page.items.into_iter().map(entry_row).collect(),
                next,
                vec![],
                store::is_ranked(q.q.trim()),
            )
        }
        Err(AppError::Invalid(f)) => (vec![], None, f.0, false),
        Err(e) => return Err(e.into()),
    };
    let first = q.page.cursor.as_ref().map(|_| {
        let f = library_list_filters(&q);
        if f.is_empty() {
            "/fallback/library".to_string()
        } else {
            format!("/fallback/library?{f}")
        }
    });
    let refused = !errors.is_empty();
    render_form(
        &LibraryPage {
            chrome: Chrome::new(&state, &ctx, "案例库"),
            q: q.q.clone(),
            tag: q.tag.clone(),
            rows,
            ranked,
            searched,
            first,
            next,
            errors,
        },
        refused,
    )
}

#[derive(Template)]
#[template(path = "fallback_library_entry.html")]
struct EntryPage {
    chrome: Chrome,
    row: EntryRow,
}

impl EntryPage {
    fn tag_href(&self, tag: &str) -> String {
        tag_href(tag)
    }
}

async fn entry_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    let e = get_entry(&state, &p, id).await?;
    render(&EntryPage {
        chrome: Chrome::new(&state, &ctx, format!("案例：{}", e.title)),
        row: entry_row(e),
    })
}

/// A suggestion as the list shows it.
pub struct SuggestionRow {
    pub s: Suggestion,
    pub proposed_at: String,
}

#[derive(Template)]
#[template(path = "fallback_suggestions.html")]
struct SuggestionsPage {
    chrome: Chrome,
    state: String,
    states: Vec<(&'static str, &'static str)>,
    rows: Vec<SuggestionRow>,
    first: Option<String>,
    next: Option<String>,
    may_propose: bool,
    errors: Vec<FieldError>,
    form: FormData,
}

impl SuggestionsPage {
    fn is_state(&self, code: &str) -> bool {
        self.state == code
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

#[derive(Debug, Deserialize)]
struct SuggestionsPageQuery {
    #[serde(default)]
    state: String,
    #[serde(flatten)]
    page: PageParams,
}

async fn suggestions_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    q: &SuggestionsPageQuery,
    form: FormData,
    mut errors: Vec<FieldError>,
) -> PageResult {
    let (rows, next) = match list_suggestions(state, p, &q.state, &q.page).await {
        Ok((page, req, filters)) => {
            let next = page
                .next_cursor
                .as_deref()
                .map(|c| next_link("/fallback/suggestions", &filters, &req, c));
            let rows = page
                .items
                .into_iter()
                .map(|s| SuggestionRow {
                    proposed_at: format_local(s.proposed_at),
                    s,
                })
                .collect();
            (rows, next)
        }
        Err(AppError::Invalid(f)) => {
            errors.extend(f.0);
            (vec![], None)
        }
        Err(e) => return Err(e.into()),
    };
    let first = q.page.cursor.as_ref().map(|_| match q.state.trim() {
        "" => "/fallback/suggestions".to_string(),
        s => format!("/fallback/suggestions?{}", filter_string(&[("state", s)])),
    });
    let refused = !errors.is_empty();
    render_form(
        &SuggestionsPage {
            chrome: Chrome::new(state, ctx, "政策建议"),
            state: q.state.trim().to_string(),
            states: SuggestionState::ALL
                .iter()
                .map(|s| (s.as_str(), s.label()))
                .collect(),
            rows,
            first,
            next,
            may_propose: p.actor().may(Permission::HandleFallback),
            errors,
            form,
        },
        refused,
    )
}

async fn suggestions_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<SuggestionsPageQuery>,
) -> PageResult {
    suggestions_view(&state, &p, &ctx, &q, FormData::default(), vec![]).await
}

/// The case numbers typed into the form (separated by commas, spaces or new lines), as ids.
async fn case_ids_from_numbers(state: &AppState, text: &str) -> Result<Vec<i64>, AppError> {
    let mut ids = Vec::new();
    let text = onewindow_domain::validation::halfwidth(text);
    let numbers: Vec<String> = text
        .split(|c: char| c == ',' || c == '、' || c == '，' || c.is_whitespace())
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .collect();
    if numbers.len() > rules::MAX_SUGGESTION_CASES {
        return Err(AppError::invalid(
            "case_nos",
            "too_many",
            format!("一条建议最多列{}个案件", rules::MAX_SUGGESTION_CASES),
        ));
    }
    for no in numbers {
        let found = if onewindow_domain::fallback::is_case_number(&no) {
            store::case_ref_by_number(state.store.reader(), &no).await?
        } else {
            None
        };
        match found {
            Some(c) => ids.push(c.id),
            None => {
                return Err(AppError::invalid(
                    "case_nos",
                    "unknown",
                    format!("没有编号为{no}的办不成事案件"),
                ))
            }
        }
    }
    Ok(ids)
}

async fn create_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let q = SuggestionsPageQuery {
        state: String::new(),
        page: PageParams::default(),
    };
    let result = async {
        let case_ids = case_ids_from_numbers(&state, form.get("case_nos")).await?;
        let input = NewSuggestion {
            title: form.get("title").to_string(),
            content: form.get("content").to_string(),
            case_ids,
        };
        create_suggestion(&state, &p, &input).await
    }
    .await;
    match result {
        Ok(s) => Ok(Redirect::to(&format!("/fallback/suggestions/{}", s.id)).into_response()),
        Err(AppError::Invalid(f)) => suggestions_view(&state, &p, &ctx, &q, form, f.0).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "fallback_suggestion.html")]
struct SuggestionPage {
    chrome: Chrome,
    s: Suggestion,
    proposed_at: String,
    cases: Vec<CaseRef>,
    /// The states it may move to, if the caller may move it.
    next_states: Vec<(&'static str, &'static str)>,
    today: String,
    errors: Vec<FieldError>,
    form: FormData,
    conflict: Option<String>,
}

impl SuggestionPage {
    /// Whether the step `code` is preselected: the one sent back, or the only one.
    fn chosen(&self, code: &str) -> bool {
        self.form.get("state") == code || self.next_states.len() == 1
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

async fn suggestion_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: i64,
    form: FormData,
    errors: Vec<FieldError>,
    conflict: Option<String>,
) -> PageResult {
    let (s, cases) = get_suggestion(state, p, id).await?;
    let next_states = if p.authorize(Permission::DecideFallback, &s.org_path).is_ok() {
        s.state
            .next_states()
            .iter()
            .map(|n| (n.as_str(), n.label()))
            .collect()
    } else {
        vec![]
    };
    let refused = !errors.is_empty() || conflict.is_some();
    render_form(
        &SuggestionPage {
            chrome: Chrome::new(state, ctx, format!("政策建议：{}", s.title)),
            proposed_at: format_local(s.proposed_at),
            s,
            cases,
            next_states,
            today: onewindow_store::clock::local_date(state.now()).to_string(),
            errors,
            form,
            conflict,
        },
        refused,
    )
}

async fn suggestion_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    suggestion_view(&state, &p, &ctx, id, FormData::default(), vec![], None).await
}

async fn decide_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let input = DecisionInput {
        state: form.get("state").to_string(),
        version: form.get("version").trim().parse().ok(),
        deciding_body: form.get("deciding_body").to_string(),
        decided_on: form.get("decided_on").to_string(),
        note: form.get("note").to_string(),
    };
    match decide(&state, &p, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/fallback/suggestions/{id}")).into_response()),
        Err(AppError::Invalid(f)) => suggestion_view(&state, &p, &ctx, id, form, f.0, None).await,
        Err(AppError::Conflict { message, .. }) => {
            suggestion_view(
                &state,
                &p,
                &ctx,
                id,
                FormData::default(),
                vec![],
                Some(message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
