//! The resident's pages: report a request to a street (no account, no CAPTCHA service:
//! limited per address and per phone number), follow it by number and query code, and
//! rate the reply there — the SMS callback link leads to this page.

use super::requests::{
    find_for_person, intake_public, rate_by_person, receiving_orgs, IntakeInput,
};
use crate::chrome::Chrome;
use crate::context::Ctx;
use crate::error::{AppError, PageResult};
use crate::form::FormData;
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Extension, Router};
use onewindow_domain::complaints::{RequestType, Satisfaction, State as ReqState};
use onewindow_domain::validation::FieldError;
use onewindow_store::clock::format_local;
use onewindow_store::complaints::requests::Request;
use serde::Deserialize;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/complaints/report", get(report_page).post(report_form))
        .route("/complaints/track", get(track_page))
        .route("/complaints/track/rating", post(rating_form))
}

/// The request types a resident picks from (a complaint about a hall's staff included).
const PUBLIC_TYPES: [RequestType; 6] = [
    RequestType::Consultation,
    RequestType::Help,
    RequestType::Complaint,
    RequestType::Report,
    RequestType::Suggestion,
    RequestType::ServiceComplaint,
];

#[derive(Template)]
#[template(path = "complaints_report.html")]
struct ReportPage {
    chrome: Chrome,
    errors: Vec<FieldError>,
    form: FormData,
    orgs: Vec<(i64, String)>,
    done: Option<(String, String)>,
}

impl ReportPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    fn is(&self, name: &str, value: &str) -> bool {
        self.form.get(name) == value
    }
    fn is_org(&self, id: &i64) -> bool {
        self.form.get("org") == id.to_string()
    }
    fn types(&self) -> &'static [RequestType] {
        &PUBLIC_TYPES
    }
}

async fn report_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let mut form = FormData::default();
    form.0.push(("request_type".into(), "help".into()));
    render(&ReportPage {
        chrome: Chrome::new(&state, &ctx, "反映诉求"),
        errors: vec![],
        form,
        orgs: receiving_orgs(&state).await?,
        done: None,
    })
}

async fn report_form(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: FormData,
) -> PageResult {
    let orgs = receiving_orgs(&state).await?;
    let ip = crate::auth::client_ip(&state, &headers, peer.as_ref().map(|e| &e.0))
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let phone = form.get("person_phone").trim().to_string();
    let limited = state
        .submit_limits
        .take(&ip, &phone, state.now())
        .map_err(|retry_after_secs| AppError::TooManySubmissions { retry_after_secs });
    let org_id: i64 = form.get("org").trim().parse().unwrap_or(0);
    let input = IntakeInput {
        channel: "web".into(),
        request_type: form.get("request_type").into(),
        urgency: if form.get("urgent") == "1" {
            "emergency".into()
        } else {
            String::new()
        },
        content: form.get("content").into(),
        person_name: form.get("person_name").into(),
        person_phone: form.get("person_phone").into(),
        address: form.get("address").into(),
        complained_window: form.get("complained_window").into(),
        ..IntakeInput::default()
    };
    let result = match limited {
        Ok(()) => intake_public(&state, org_id, &input).await,
        Err(e) => Err(e),
    };
    let page = |errors, done| ReportPage {
        chrome: Chrome::new(&state, &ctx, "反映诉求"),
        errors,
        form: form.clone(),
        orgs: orgs.clone(),
        done,
    };
    match result {
        Ok(r) => render(&page(vec![], Some((r.request_no, r.query_code)))),
        Err(AppError::Invalid(f)) => {
            state.submit_limits.give_back(&ip, &phone);
            render_form(&page(f.0, None), true)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "complaints_track.html")]
struct TrackPage {
    chrome: Chrome,
    no: String,
    code: String,
    found: Option<Request>,
    not_found: bool,
    received: String,
    replied: String,
    errors: Vec<FieldError>,
    rated: bool,
}

impl TrackPage {
    fn may_rate(&self) -> bool {
        self.found
            .as_ref()
            .is_some_and(|r| r.state == ReqState::Replied)
    }
    fn satisfactions(&self) -> &'static [Satisfaction] {
        Satisfaction::ALL
    }
    fn status(&self) -> &'static str {
        self.found.as_ref().map_or("", |r| r.state.public_label())
    }
}

#[derive(Debug, Deserialize, Default)]
struct TrackQuery {
    #[serde(default)]
    no: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    rated: Option<String>,
}

fn track_view(
    state: &AppState,
    ctx: &Ctx,
    no: &str,
    code: &str,
    found: Option<Request>,
    errors: Vec<FieldError>,
) -> TrackPage {
    TrackPage {
        chrome: Chrome::new(state, ctx, "诉求查询"),
        no: no.into(),
        code: code.into(),
        not_found: found.is_none() && !no.trim().is_empty(),
        received: found
            .as_ref()
            .map(|r| format_local(r.received_at))
            .unwrap_or_default(),
        replied: found
            .as_ref()
            .and_then(|r| r.replied_at)
            .map(format_local)
            .unwrap_or_default(),
        found,
        errors,
        rated: false,
    }
}

async fn track_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<TrackQuery>,
) -> PageResult {
    let found = if q.no.trim().is_empty() || q.code.trim().is_empty() {
        None
    } else {
        match find_for_person(&state, &q.no, &q.code).await {
            Ok(r) => Some(r),
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e.into()),
        }
    };
    let mut page = track_view(&state, &ctx, &q.no, &q.code, found, vec![]);
    page.rated = q.rated.is_some();
    let missing = page.not_found;
    render_form(&page, missing)
}

async fn rating_form(State(state): State<AppState>, ctx: Ctx, form: FormData) -> PageResult {
    let (no, code) = (form.get("no").to_string(), form.get("code").to_string());
    let satisfaction = Satisfaction::parse(form.get("satisfaction"));
    let solved = match form.get("solved") {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    };
    let result = match (satisfaction, solved) {
        (Some(s), Some(solved)) => rate_by_person(&state, &no, &code, s, solved).await,
        (None, _) => Err(AppError::invalid(
            "satisfaction",
            "required",
            "请选择您对办理结果的评价",
        )),
        (_, None) => Err(AppError::invalid(
            "solved",
            "required",
            "请选择问题是否已经解决",
        )),
    };
    match result {
        Ok(_) => Ok(axum::response::Redirect::to(&format!(
            "/complaints/track?no={}&code={}&rated=1",
            crate::context::urlencode(&no),
            crate::context::urlencode(&code)
        ))
        .into_response()),
        Err(AppError::Invalid(f)) => {
            let found = find_for_person(&state, &no, &code).await.ok();
            render_form(&track_view(&state, &ctx, &no, &code, found, f.0), true)
        }
        Err(e) => Err(e.into()),
    }
}

use axum::response::IntoResponse;
