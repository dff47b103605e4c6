//! What happens to a case after intake: the department queue (后台审批), the case page
//! with the actions the caller may take, and the one `act` operation behind page and API.

use super::lists::queue_page;
use super::*;

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::pages::render_form;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::{Permission, Role};
use onewindow_domain::applicant::DeciderFacts;
use onewindow_domain::cases::{
    self as machine, CaseAction, CaseActionKind, IssueMethod, Performer,
};
use onewindow_domain::catalog::MaterialCheck;
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::cases::{self as store_cases, CaseEvent, CaseRecord, Queue};
use onewindow_store::catalog as store_catalog;
use onewindow_store::clock::{format_local, local_date};
use serde_json::Value;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dept", get(dept_page))
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/act", post(act_form))
        .route("/api/v1/cases/{id}", get(get_api))
        .route("/api/v1/cases/{id}/actions", post(act_api))
}

/// Applies one action as the caller, with the version they saw.
pub async fn act(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: Option<i64>,
    action: &CaseAction,
) -> Result<CaseRecord, AppError> {
    let performer = performer_for(p, action)?;
    let case = store_cases::get(state.store.reader(), id).await?;
    // Each place does its own part: the department decides, the handing-out place issues
    // and closes, the intake place does the rest of the window's work.
    let target = match performer {
        Performer::Staff(Role::Approver) => &case.department_path,
        _ if matches!(action.kind(), CaseActionKind::Issue | CaseActionKind::Close) => {
            &case.handout_path
        }
        _ => &case.intake_path,
    };
    let permission = if matches!(performer, Performer::Staff(Role::Approver)) {
        Permission::ReviewCases
    } else {
        Permission::HandleIntake
    };
    if let Err(e) = p.authorize_visible(permission, target) {
        // A place that sees the case but is not the one to act: refused, not hidden.
        return Err(match e {
            AppError::NotFound if visible(p, &case) => {
                AppError::Forbidden(onewindow_domain::access::Denied::Scope)
            }
            e => e,
        });
    }
    onewindow_domain::places::check_issue(case.handout_method, action)
        .map_err(|e| AppError::invalid(e.field, e.code, e.message))?;
    check_action_text(action)?;
    let cal = state.calendar().await?;
    let change = state.change(p.user.who());
    let today = local_date(state.now());
    let mut tx = state.store.begin().await?;
    // In person at the window: linked to the ticket being served, or a visit (hand-over).
    crate::visits::at_case_action(&mut tx, &change, p, &case, action, today).await?;
    let case = store_cases::transition(
        &mut tx, &change, &cal, today, id, version, performer, action,
    )
    .await?;
    tx.commit().await?;
    Ok(case)
}

/// The text rule for what an action carries: opinions and reasons are free text, numbers
/// and the returned materials one line each.
fn check_action_text(action: &CaseAction) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    match action {
        CaseAction::Approve { opinion } | CaseAction::CompleteAtWindow { opinion } => {
            e.text("opinion", "审批意见", opinion, validation::COMMENT);
        }
        CaseAction::Reject {
            reasons,
            legal_basis,
        } => {
            e.text("reasons", "不予许可的理由", reasons, validation::COMMENT);
            e.text("legal_basis", "法律依据", legal_basis, validation::COMMENT);
        }
        CaseAction::Return { reasons, items } => {
            e.text("reasons", "退回理由", reasons, validation::COMMENT);
            for item in items {
                if !e.text("items", "需补正的材料", item, validation::LABEL) {
                    break;
                }
            }
        }
        CaseAction::Issue {
            tracking_no,
            certificate_no,
            ..
        } => {
            let none = String::new();
            e.text(
                "tracking_no",
                "快递单号",
                tracking_no.as_ref().unwrap_or(&none),
                validation::REFERENCE,
            );
            e.text(
                "certificate_no",
                "电子证照编号",
                certificate_no.as_ref().unwrap_or(&none),
                validation::REFERENCE,
            );
        }
        CaseAction::Withdraw { reason } => {
            e.text("reason", "撤回理由", reason, validation::COMMENT);
        }
        CaseAction::RetractNotice { reason } => {
            e.text("reason", "撤回告知书的原因", reason, validation::COMMENT);
        }
        _ => {}
    }
    e.into_result()
}

async fn dept_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    RawQuery(raw): RawQuery,
) -> PageResult {
    p.require(Permission::ReviewCases)?;
    queue_page(&state, &p, &ctx, raw.as_deref(), Queue::Department, "/dept").await
}

/// An action the current user may take on the case now, for the detail page.
pub struct ActionForm {
    pub name: &'static str,
    pub label: &'static str,
}

fn available_actions(
    p: &Principal,
    case: &CaseRecord,
    today: NaiveDate,
    unpaid_fee: onewindow_domain::fees::Fen,
) -> Vec<ActionForm> {
    let facts = case.facts(today, unpaid_fee);
    let mut kinds: Vec<CaseActionKind> = p
        .user
        .roles
        .iter()
        .flat_map(|r| machine::available(&facts, Performer::Staff(*r)))
        .filter(|k| k.taken_by_hand())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|k| ActionForm {
            name: k.name(),
            label: k.label(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    row: CaseRow,
    events: Vec<(String, CaseEvent)>,
    actions: Vec<ActionForm>,
    kind_label: &'static str,
    notice: Option<String>,
    errors: Vec<FieldError>,
    payments: crate::fees::CasePanel,
    /// The applicant's birth date, age and phone, for the roles that work with them.
    applicant: DeciderFacts,
    /// When, how and where the applicant came (到场记录).
    visits: Vec<crate::visits::VisitLine>,
    /// What the last action did (after its redirect), naming the case.
    done: Option<String>,
    /// Where and how the result reaches the applicant, in words.
    handout: String,
    /// 补录: when the paper intake was taken in.
    backfill_at: Option<String>,
}

async fn case_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: i64,
    notice: Option<String>,
    errors: Vec<FieldError>,
    done: Option<CaseActionKind>,
) -> PageResult {
    let case = get_case(state, p, id).await?;
    let visits = crate::visits::lines(state, case.id).await?;
    let done = done.map(|k| onewindow_domain::confirm::case_done(k, &case.case_no, case.state));
    let lights = Lights::load(state).await?;
    let events = store_cases::events(state.store.reader(), id)
        .await?
        .into_iter()
        .map(|e| (format_local(e.at), e))
        .collect();
    let payments = crate::fees::case_panel(state, p, &case).await?;
    let today = local_date(state.now());
    let actions = available_actions(p, &case, today, payments.unpaid_fee());
    let item = store_catalog::version_body(state.store.reader(), case.item_version_id).await?;
    let applicant = DeciderFacts::for_role(
        &p.user.roles,
        &case.applicant_kind,
        &case.applicant_id,
        &case.applicant_phone,
        &item.conditions,
        today,
    );
    let refused = !errors.is_empty();
    render_form(
        &CasePage {
            handout: handout_text(&case),
            backfill_at: case.backfill_accepted_at.map(format_local),
            chrome: Chrome::new(state, ctx, format!("办件 {}", case.case_no)),
            kind_label: kind_label(case.acceptance_kind),
            row: rows(vec![case], &lights).pop().expect("one row"),
            events,
            actions,
            notice,
            errors,
            payments,
            applicant,
            visits,
            done,
        },
        refused,
    )
}

#[derive(serde::Deserialize, Default)]
struct CasePageQuery {
    /// The action just taken (after its redirect): the page confirms it.
    #[serde(default)]
    done: String,
}

async fn case_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<CasePageQuery>,
) -> PageResult {
    let done = CaseActionKind::parse(&q.done);
    case_view(&state, &p, &ctx, id, None, vec![], done).await
}

/// Builds an action from a form or JSON body's fields.
fn action_from(name: &str, get: impl Fn(&str) -> String) -> Result<CaseAction, AppError> {
    let opt = |k: &str| Some(get(k)).filter(|v| !v.trim().is_empty());
    let list = |k: &str| {
        get(k)
            .split(['\n', '、', ',', '，'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    };
    use CaseActionKind as K;
    let kind = CaseActionKind::parse(name)
        .ok_or_else(|| AppError::invalid("action", "unknown", format!("未知操作{name}")))?;
    Ok(match kind {
        K::Take => CaseAction::Take,
        K::Approve => CaseAction::Approve {
            opinion: get("opinion"),
        },
        K::Reject => CaseAction::Reject {
            reasons: get("reasons"),
            legal_basis: get("legal_basis"),
        },
        K::Return => CaseAction::Return {
            reasons: get("reasons"),
            items: list("items"),
        },
        K::Resubmit => CaseAction::Resubmit,
        K::SupplementReceived => CaseAction::SupplementReceived,
        K::CompleteAtWindow => CaseAction::CompleteAtWindow {
            opinion: get("opinion"),
        },
        K::ResultReady => CaseAction::ResultReady,
        K::Issue => CaseAction::Issue {
            method: match get("method").as_str() {
                "" => IssueMethod::Window,
                other => IssueMethod::parse(other).ok_or_else(|| {
                    AppError::invalid("method", "unknown", format!("未知出件方式{other}"))
                })?,
            },
            tracking_no: opt("tracking_no"),
            certificate_no: opt("certificate_no"),
        },
        K::Close => CaseAction::Close,
        K::Withdraw => CaseAction::Withdraw {
            reason: get("reason"),
        },
        K::RetractNotice => CaseAction::RetractNotice {
            reason: get("reason"),
        },
        K::Accept | K::Refuse | K::Route | K::ApproveAtWindow | K::Lapse => {
            return Err(AppError::invalid(
                "action",
                "not_a_manual_action",
                format!("“{}”不能在此操作", kind.label()),
            ))
        }
    })
}

async fn act_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let attempt = async {
        let action = action_from(form.get("action"), |k| form.get(k).to_string())?;
        act(&state, &p, id, Some(form.int("version", "版本")?), &action).await
    };
    match attempt.await {
        // The page after the redirect says what happened (办结 and every other action).
        Ok(_) => Ok(Redirect::to(&format!(
            "/cases/{id}?done={}",
            CaseActionKind::parse(form.get("action"))
                .map(CaseActionKind::name)
                .unwrap_or("")
        ))
        .into_response()),
        Err(AppError::Invalid(f)) => case_view(&state, &p, &ctx, id, None, f.0, None).await,
        Err(AppError::Conflict { message, .. }) => {
            let mut res = case_view(&state, &p, &ctx, id, Some(message), vec![], None).await?;
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

async fn get_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let case = get_case(&state, &p, id).await?;
    let events = store_cases::events(state.store.reader(), id).await?;
    let mut body = case_json(&case, Some(&events));
    if let Value::Object(visits) = crate::visits::json(&state, case.id).await? {
        body.as_object_mut()
            .expect("a case is an object")
            .extend(visits);
    }
    Ok(Json(body))
}

/// `POST /api/v1/cases/{id}/actions`: the domain's action as JSON, with the version read.
#[derive(serde::Deserialize)]
struct ActionRequest {
    version: Option<i64>,
    #[serde(flatten)]
    action: CaseAction,
}

async fn act_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ActionRequest>,
) -> ApiResult<Json<Value>> {
    by_hand(&body.action)?;
    let Some(version) = body.version else {
        return Err(
            AppError::invalid("version", "required", "请提供读取时的版本号 version").into(),
        );
    };
    let case = act(&state, &p, id, Some(version), &body.action).await?;
    Ok(Json(case_json(&case, None)))
}

/// Refuses the actions no one takes by hand (the domain says which).
fn by_hand(action: &CaseAction) -> Result<(), AppError> {
    let kind = action.kind();
    if kind.taken_by_hand() {
        Ok(())
    } else {
        Err(AppError::invalid(
            "action",
            "not_a_manual_action",
            format!("“{}”不能在此操作", kind.label()),
        ))
    }
}
