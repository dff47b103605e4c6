//! The staff inbox (站内通知: assignments, warnings, escalations, callbacks due) with its
//! unread count in every page header, and the outbox of messages to residents with the
//! sender behind it ([`NoticeSender`]).
//!
//! Scope: a user sees notices addressed to them, and notices to a role they hold at their
//! organisation or below it — nothing else (`store::notices::Viewer`); a notice outside
//! that answers 404 like one that does not exist.

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::lists::{Listed, Pager};
use crate::pages::render;
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_domain::access::Permission;
use onewindow_store::clock::format_local;
use onewindow_store::notices::{self, Notice, OutboxMessage, Viewer};
use onewindow_store::page::ListId;
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(inbox_page))
        .route("/inbox/{id}/read", post(read_form))
        .route("/outbox", get(outbox_page))
        .route("/api/v1/inbox", get(inbox_api))
        .route("/api/v1/inbox/{id}/read", post(read_api))
        .route("/api/v1/outbox", get(outbox_api).post(send_api))
}

fn viewer(p: &Principal) -> Viewer {
    Viewer {
        user_id: p.user.id,
        roles: p.user.roles.clone(),
        org_path: p.user.org_path.clone(),
    }
}

/// Whether a page at `path` shows the header's unread count (pages, not the API, static
/// files or the display's stream).
pub fn shows_unread(path: &str) -> bool {
    !(path.starts_with("/api/") || path.starts_with("/static/") || path.ends_with("/events"))
}

/// The header's count for `p`.
pub async fn unread(state: &AppState, p: &Principal) -> Result<i64, AppError> {
    Ok(notices::unread_count(state.store.reader(), &viewer(p)).await?)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InboxQuery {
    /// `true`: unread notices only.
    pub unread: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One page of the caller's notices, newest first.
pub async fn list(
    state: &AppState,
    p: &Principal,
    q: &InboxQuery,
) -> Result<Listed<Notice>, AppError> {
    let unread_only = match q.unread.as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            let mut e = onewindow_domain::validation::FieldErrors::new();
            e.add("unread", "invalid", "unread 只能为 true 或 false");
            return Err(AppError::Invalid(e));
        }
    };
    let filters = filter_string(&[("unread", if unread_only { "true" } else { "" })]);
    let list = ListId {
        list: "inbox",
        filters: &filters,
    };
    let params = PageParams {
        limit: q.limit.clone(),
        cursor: q.cursor.clone(),
    };
    let req = params.request(state, &list).await?;
    let key = state.store.cursor_key().await?;
    let page = notices::page(
        state.store.reader(),
        key,
        &list,
        &req,
        &viewer(p),
        unread_only,
    )
    .await?;
    Ok(Listed { page, filters, req })
}

/// Marks a notice read (audited); outside the caller's notices: 404.
pub async fn mark_read(state: &AppState, p: &Principal, id: i64) -> Result<Notice, AppError> {
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let n = notices::mark_read(&mut tx, &change, &viewer(p), id).await?;
    tx.commit().await?;
    Ok(n)
}

pub struct NoticeRow {
    pub n: Notice,
    pub created: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    rows: Vec<NoticeRow>,
    pager: Pager,
    unread_only: bool,
}

async fn inbox_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<InboxQuery>,
) -> PageResult {
    let listed = list(&state, &p, &q).await?;
    let pager = Pager::new("/inbox", &listed);
    let unread_only = !listed.filters.is_empty();
    let rows = listed
        .page
        .items
        .into_iter()
        .map(|n| NoticeRow {
            created: format_local(n.created_at),
            n,
        })
        .collect();
    render(&InboxPage {
        chrome: Chrome::new(&state, &ctx, "通知"),
        rows,
        pager,
        unread_only,
    })
}

async fn read_form(
    State(state): State<AppState>,
    PageUser(p, _): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    mark_read(&state, &p, id).await?;
    Ok(Redirect::to("/inbox").into_response())
}

async fn inbox_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<InboxQuery>,
) -> ApiResult<Json<Value>> {
    let listed = list(&state, &p, &q).await?;
    let count = unread(&state, &p).await?;
    let body = ListBody::new(listed.page, "/api/v1/inbox", &listed.filters, &listed.req);
    let mut v = serde_json::to_value(body).map_err(|e| AppError::Internal(e.into()))?;
    v["unread"] = json!(count);
    Ok(Json(v))
}

async fn read_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Notice>> {
    Ok(Json(mark_read(&state, &p, id).await?))
}

// ---- outbox ---------------------------------------------------------------------------

/// What delivers a message to a resident's phone. The default ([`RecordingSender`]) only
/// records it: the outbox page is the record, nothing outside is called.
pub trait NoticeSender: Send + Sync {
    /// The name recorded with each message.
    fn name(&self) -> &'static str;
    /// Delivers one message: `Ok(detail)` when accepted, `Err(detail)` to retry later.
    fn deliver<'a>(
        &'a self,
        phone: &'a str,
        message: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;
}

/// Records the message and marks it sent.
pub struct RecordingSender;

impl NoticeSender for RecordingSender {
    fn name(&self) -> &'static str {
        "record"
    }

    fn deliver<'a>(
        &'a self,
        _phone: &'a str,
        _message: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(async { Ok("已记录（未接短信网关）".to_string()) })
    }
}

/// The hall's SMS gateway (`--sms-webhook-url`, `--sms-webhook-secret`).
#[derive(Clone)]
pub struct SmsWebhook {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for SmsWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        f.debug_struct("SmsWebhook")
            .field("url", &self.url)
            .finish()
    }
}

/// The header carrying `sha256=<hex HMAC-SHA-256 of the body with the secret>`.
pub const SIGNATURE_HEADER: &str = "x-onewindow-signature";

/// The signature of a webhook body.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `{"phone", "message"}` to the gateway, signed; a 2xx answer is delivery, anything
/// else (or no answer within 10 s) a failure retried with backoff.
pub struct WebhookSender {
    pub hook: SmsWebhook,
    pub client: reqwest::Client,
}

impl NoticeSender for WebhookSender {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn deliver<'a>(
        &'a self,
        phone: &'a str,
        message: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&json!({ "phone": phone, "message": message }))
                .map_err(|e| e.to_string())?;
            let res = self
                .client
                .post(&self.hook.url)
                .timeout(std::time::Duration::from_secs(10))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, sign(&self.hook.secret, &body))
                .body(body)
                .send()
                .await
                .map_err(|e| format!("网关无应答：{e}"))?;
            let status = res.status();
            if status.is_success() {
                Ok(format!("网关已接收（HTTP {}）", status.as_u16()))
            } else {
                Err(format!("网关拒绝（HTTP {}）", status.as_u16()))
            }
        })
    }
}

/// The sender this installation uses: the webhook when configured, else the recorder.
pub fn sender(state: &AppState) -> Box<dyn NoticeSender> {
    match &state.config.sms_webhook {
        Some(hook) => Box::new(WebhookSender {
            hook: hook.clone(),
            client: reqwest::Client::new(),
        }),
        None => Box::new(RecordingSender),
    }
}

/// Queues a message to a resident inside the caller's transaction (a loop's own): it is
/// delivered after commit by [`deliver_outbox`].
pub async fn queue_sms(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    change: &onewindow_store::audit::Change,
    org_id: i64,
    phone: &str,
    message: &str,
) -> Result<i64, AppError> {
    let name = sender(state).name();
    Ok(notices::queue(conn, change, org_id, phone, message, name).await?)
}

/// How long a claimed attempt may take before another sender may try again.
const SEND_LEASE_MICROS: i64 = 5 * 60_000_000;

/// Delivers the messages due now, each attempt recorded; a failure is retried with backoff
/// (`domain::escalation::retry_at`). Safe on several instances: each attempt is claimed by
/// one of them (`store::notices::claim`) before the gateway is called.
pub async fn deliver_outbox(state: &AppState) -> Result<usize, AppError> {
    let s = sender(state);
    let mut sent = 0;
    for m in notices::due(state.store.reader(), state.now(), 100).await? {
        // Claim first (one sender per attempt), then call the gateway outside any
        // transaction, then record what it said.
        let mut tx = state.store.begin().await?;
        let lease = state.now() + SEND_LEASE_MICROS;
        if !notices::claim(&mut tx, m.id, m.attempts, lease).await? {
            continue;
        }
        tx.commit().await?;
        let result = s.deliver(&m.phone, &m.message).await;
        let now = state.now();
        let (ok, detail, retry) = match result {
            Ok(d) => (true, d, None),
            Err(d) => (
                false,
                d,
                onewindow_domain::escalation::retry_at(now, m.attempts + 1),
            ),
        };
        let mut tx = state.store.begin().await?;
        notices::record_attempt(&mut tx, now, m.id, ok, &detail, retry).await?;
        tx.commit().await?;
        sent += usize::from(ok);
    }
    Ok(sent)
}

#[derive(Deserialize)]
struct SendBody {
    phone: String,
    message: String,
}

/// Staff send a message to a resident on behalf of their organisation (recorded, audited).
async fn send_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(b): ApiJson<SendBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    p.require(Permission::ViewCases)?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let id = queue_sms(
        &state,
        &mut tx,
        &change,
        p.user.org_id,
        &b.phone,
        &b.message,
    )
    .await?;
    tx.commit().await?;
    deliver_outbox(&state).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// One page of the outbox of the caller's scope, newest first.
async fn outbox_list(
    state: &AppState,
    p: &Principal,
    params: &PageParams,
) -> Result<Listed<OutboxMessage>, AppError> {
    p.require(Permission::ViewCases)?;
    let list = ListId {
        list: "outbox",
        filters: "",
    };
    let req = params.request(state, &list).await?;
    let key = state.store.cursor_key().await?;
    let page =
        notices::outbox_page(state.store.reader(), key, &list, &req, &p.user.org_path).await?;
    Ok(Listed {
        page,
        filters: String::new(),
        req,
    })
}

async fn outbox_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<ListBody<OutboxMessage>>> {
    let listed = outbox_list(&state, &p, &params).await?;
    Ok(Json(ListBody::new(
        listed.page,
        "/api/v1/outbox",
        &listed.filters,
        &listed.req,
    )))
}

pub struct OutboxRow {
    pub m: OutboxMessage,
    pub created: String,
    pub state_label: &'static str,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    rows: Vec<OutboxRow>,
    pager: Pager,
}

async fn outbox_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(params): Query<PageParams>,
) -> PageResult {
    let listed = outbox_list(&state, &p, &params).await?;
    let pager = Pager::new("/outbox", &listed);
    let rows = listed
        .page
        .items
        .into_iter()
        .map(|m| OutboxRow {
            created: format_local(m.created_at),
            state_label: match m.state.as_str() {
                "sent" => "已发送",
                "failed" => "发送失败",
                _ => "待发送",
            },
            m,
        })
        .collect();
    render(&OutboxPage {
        chrome: Chrome::new(&state, &ctx, "短信记录"),
        rows,
        pager,
    })
}
