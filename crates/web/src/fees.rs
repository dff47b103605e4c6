//! Fees at the one window (缴费, 一个窗口收费): taking a case's fee at the window and
//! printing its receipt, refunds, the payments panel of the case page, the public fee table
//! (收费明细) and the printable daily cash-up (日结) per window, clerk and hall, with the
//! day's fee waivers (减免: category and reason, recorded by the clerk) listed apart from
//! the money.
//!
//! Who does what: the window clerk takes the money (`CollectFees`, the case inside their
//! scope); a supervisor gives it back (`RefundFees`, the payment's hall inside their
//! scope) — the person who took cash is not the one who pays it out again (不相容岗位
//! 分离), so a refund always has a second person and a recorded reason; clerks and
//! supervisors read a hall's cash-up (`ViewCashup`). The rules on amounts are
//! `onewindow_domain::fees`; each write is one transaction with its audit event
//! (`onewindow_store::fees`).

use crate::cases::get_case;
use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::lists::{self, Listed, Pager};
use crate::pages::{render, render_form};
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::fees::{
    self as rules, Charge, Fee, Fen, MethodTotal, PayMethod, PaymentRequest, Totals, WaiverCategory,
};
use onewindow_domain::validation::{FieldError, FieldErrors};
use onewindow_store::cases::{self as store_cases, CaseRecord};
use onewindow_store::clock::{format_local, local_date};
use onewindow_store::fees::{self as store_fees, CaseFees, FeeRow, HallDay, Payment, Waiver};
use onewindow_store::orgs::{self, Org};
use onewindow_store::page::ListId;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/fees", get(fee_table_page))
        .route("/static/fees.css", get(css))
        .route("/cases/{id}/payments", get(pay_page).post(pay_form))
        .route(
            "/cases/{id}/payments/{pid}/refund",
            get(refund_page).post(refund_form),
        )
        .route("/cases/{id}/payments/{pid}/receipt", get(receipt_page))
        .route("/cases/{id}/waivers", post(waive_form))
        .route("/window/cashup", get(cashup_page))
        .route("/api/v1/fees", get(fee_table_api))
        .route(
            "/api/v1/cases/{id}/payments",
            get(payments_api).post(pay_api),
        )
        .route(
            "/api/v1/cases/{id}/payments/{pid}/refunds",
            post(refund_api),
        )
        .route("/api/v1/cases/{id}/waivers", post(waive_api))
        .route("/api/v1/halls/{hall}/cashup", get(cashup_api))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../static/fees.css"),
    )
}

// ---- operations ----

/// A payment as the clerk enters it. `amount` absent: what is outstanding at `quantity`.
#[derive(Debug, Clone)]
pub struct PayInput {
    pub amount: Option<Fen>,
    /// Units the fee is assessed for; absent: 1.
    pub quantity: Option<u32>,
    pub method: PayMethod,
    pub note: String,
}

/// Where a member of staff works with money: the window they are signed in at (its hall
/// and number); else the one hall (an organisation with a queue) inside their own
/// organisation, e.g. a street's 便民服务中心; else their organisation itself (a community
/// station without a queue). Payments are counted in that hall's cash-up.
async fn till(state: &AppState, p: &Principal) -> Result<(i64, Option<(i64, i64)>), AppError> {
    if let Some((window_id, hall_id, number)) =
        store_fees::clerk_window(state.store.reader(), p.user.id).await?
    {
        let hall = orgs::get(state.store.reader(), hall_id).await?;
        if p.user.org_path.contains(&hall.path) {
            return Ok((hall_id, Some((window_id, number))));
        }
    }
    let mut inside = Vec::new();
    for (id, _) in onewindow_store::queue::halls(state.store.reader()).await? {
        let hall = orgs::get(state.store.reader(), id).await?;
        if p.user.org_path.contains(&hall.path) {
            inside.push(id);
        }
    }
    match inside.as_slice() {
        [only] => Ok((*only, None)),
        _ => Ok((p.user.org_id, None)),
    }
}

/// The case, if the caller may take its fee: the clerk's role (403 without it), the case
/// inside their scope (404 outside, like an unknown case).
async fn case_to_charge(
    state: &AppState,
    p: &Principal,
    case_id: i64,
) -> Result<CaseRecord, AppError> {
    p.require(Permission::CollectFees)?;
    let case = store_cases::get(state.store.reader(), case_id).await?;
    may_charge(p, &case)?;
    Ok(case)
}

/// The places that take a case's fee: the one that took it in, and — once the case is
/// accepted — the one that hands the result over, so a 先缴费后出件 result is paid where it
/// is collected instead of sending the applicant back. Elsewhere the case looks unknown.
fn may_charge(p: &Principal, case: &CaseRecord) -> Result<(), AppError> {
    let at_intake = p.authorize_visible(Permission::CollectFees, &case.intake_path);
    let at_handout = onewindow_domain::places::handout_place_sees(case.accepted_on.is_some())
        && p.authorize(Permission::CollectFees, &case.handout_path)
            .is_ok();
    if at_handout {
        Ok(())
    } else {
        at_intake
    }
}

/// Takes a case's fee at the window: one transaction with the receipt number and the audit
/// event. Returns the payment and the case's fees after it.
pub async fn pay(
    state: &AppState,
    p: &Principal,
    case_id: i64,
    input: &PayInput,
) -> Result<(Payment, CaseFees), AppError> {
    let case = case_to_charge(state, p, case_id).await?;
    let mut e = FieldErrors::new();
    e.text("note", "备注", &input.note, rules::PAYMENT_NOTE);
    e.into_result()?;
    let quantity = input.quantity.unwrap_or(1);
    let amount = match input.amount {
        Some(a) => a,
        None => {
            let fees =
                store_fees::for_case(state.store.reader(), case.id, case.item_version_id).await?;
            let owed = rules::Balance::new(
                &fees.fee,
                quantity,
                fees.balance.paid,
                fees.balance.refunded,
            )
            .with_waived(fees.balance.waived)
            .outstanding();
            let chargeable = (1..=rules::MAX_QUANTITY).contains(&quantity);
            if chargeable && !fees.fee.is_free() && !owed.is_positive() {
                return Err(AppError::invalid(
                    "amount",
                    "nothing_due",
                    "该办件的费用已经缴清，无需再收费",
                ));
            }
            owed.max(Fen::ZERO)
        }
    };
    let (hall_id, window) = till(state, p).await?;
    let now = state.now();
    let new = store_fees::NewPayment {
        case_id: case.id,
        request: PaymentRequest {
            amount,
            quantity,
            method: input.method,
        },
        note: input.note.trim().to_string(),
        clerk_id: p.user.id,
        hall_id,
        window,
        day: local_date(now),
    };
    let mut tx = state.store.begin().await?;
    let done = store_fees::record_payment(&mut tx, &state.change(p.user.who()), &new).await?;
    tx.commit().await?;
    Ok(done)
}

/// A waiver (减免) as the clerk enters it. `amount` absent: all that is outstanding.
#[derive(Debug, Clone)]
pub struct WaiveInput {
    pub amount: Option<Fen>,
    pub category: WaiverCategory,
    pub reason: String,
}

/// Waives (part of) a case's fee, with its category and reason, at the clerk's till (the
/// hall whose cash-up lists it): the same person and scope as taking the fee
/// (`CollectFees`, the case inside the clerk's scope). One transaction with its audit
/// event (`fee.waiver`).
pub async fn waive(
    state: &AppState,
    p: &Principal,
    case_id: i64,
    input: &WaiveInput,
) -> Result<(Waiver, CaseFees), AppError> {
    let case = case_to_charge(state, p, case_id).await?;
    let (hall_id, window) = till(state, p).await?;
    let new = store_fees::NewWaiver {
        case_id: case.id,
        amount: input.amount,
        category: input.category,
        reason: input.reason.clone(),
        clerk_id: p.user.id,
        hall_id,
        window,
        day: local_date(state.now()),
    };
    let mut tx = state.store.begin().await?;
    let done = store_fees::record_waiver(&mut tx, &state.change(p.user.who()), &new).await?;
    tx.commit().await?;
    Ok(done)
}

/// A refund as the supervisor enters it. `amount` absent: all that is left of the payment.
#[derive(Debug, Clone, Default)]
pub struct RefundInput {
    pub amount: Option<Fen>,
    pub reason: String,
}

/// A payment of the case, if the caller may give it back: the supervisor's role (403
/// without it), the payment's hall inside their scope (404 outside, like an unknown one).
async fn payment_to_refund(
    state: &AppState,
    p: &Principal,
    case_id: i64,
    payment_id: i64,
) -> Result<(Payment, Org), AppError> {
    p.require(Permission::RefundFees)?;
    let payment = store_fees::payment(state.store.reader(), payment_id).await?;
    if payment.case_id != case_id {
        return Err(AppError::NotFound);
    }
    let hall = orgs::get(state.store.reader(), payment.hall_id).await?;
    p.authorize_visible(Permission::RefundFees, &hall.path)?;
    Ok((payment, hall))
}

/// Gives (part of) a payment back, with the reason: one transaction with its audit event.
pub async fn refund(
    state: &AppState,
    p: &Principal,
    case_id: i64,
    payment_id: i64,
    input: &RefundInput,
) -> Result<(store_fees::Refund, CaseFees), AppError> {
    let (payment, _) = payment_to_refund(state, p, case_id, payment_id).await?;
    let amount = input
        .amount
        .unwrap_or(payment.amount_fen - payment.refunded_fen);
    let new = store_fees::NewRefund {
        case_id,
        payment_id,
        amount,
        reason: input.reason.clone(),
        clerk_id: p.user.id,
        day: local_date(state.now()),
    };
    let mut tx = state.store.begin().await?;
    let done = store_fees::record_refund(&mut tx, &state.change(p.user.who()), &new).await?;
    tx.commit().await?;
    Ok(done)
}

/// A hall the caller may read the cash-up of: the role (403), the hall inside their scope
/// (404 outside, like an unknown one).
async fn cashup_hall(state: &AppState, p: &Principal, hall_id: i64) -> Result<Org, AppError> {
    p.require(Permission::ViewCashup)?;
    let hall = orgs::get(state.store.reader(), hall_id).await?;
    p.authorize_visible(Permission::ViewCashup, &hall.path)?;
    Ok(hall)
}

/// A hall's day and its cash-up.
pub struct CashupReport {
    pub hall: Org,
    pub day: NaiveDate,
    pub detail: HallDay,
    pub cashup: rules::Cashup,
}

pub async fn cashup(
    state: &AppState,
    p: &Principal,
    hall_id: i64,
    day: NaiveDate,
) -> Result<CashupReport, AppError> {
    let hall = cashup_hall(state, p, hall_id).await?;
    let detail = store_fees::hall_day(state.store.reader(), hall.id, day).await?;
    let cashup = rules::cash_up(&detail.entries());
    Ok(CashupReport {
        hall,
        day,
        detail,
        cashup,
    })
}

/// The public fee table's filter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeeTableQuery {
    #[serde(default)]
    pub charging: Option<String>,
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One page of the fee table (anyone may read it: the catalog is public).
pub async fn fee_table(state: &AppState, q: &FeeTableQuery) -> Result<Listed<FeeRow>, AppError> {
    let mut e = FieldErrors::new();
    let charging =
        lists::boolean(&mut e, "charging", "只看收费事项", q.charging.as_deref()).unwrap_or(false);
    e.into_result()?;
    let filters = filter_string(&[("charging", if charging { "true" } else { "" })]);
    let list = ListId {
        list: "fee_table",
        filters: &filters,
    };
    let req = lists::request(
        state,
        &PageParams {
            limit: q.limit.clone(),
            cursor: q.cursor.clone(),
        },
        &list,
    )
    .await?;
    let key = state.store.cursor_key().await?;
    let page = store_fees::fee_table_page(state.store.reader(), key, &list, &req, charging).await?;
    Ok(Listed { page, filters, req })
}

// ---- the case page's panel ----

/// One payment as the panel and the receipt show it.
pub struct PaymentRow {
    pub id: i64,
    pub receipt_no: String,
    pub at: String,
    pub amount: String,
    pub method: &'static str,
    pub quantity: String,
    pub clerk: String,
    pub place: String,
    pub refunded: Option<String>,
    /// Whether the viewer may refund it (and something is left to refund).
    pub refundable: bool,
    /// (time, amount, reason, by whom)
    pub refunds: Vec<(String, String, String, String)>,
}

/// The payments panel of the case page (`templates/case_payments.html`).
pub struct CasePanel {
    pub case_id: i64,
    pub fee_label: String,
    pub fee_note: String,
    pub fee_basis: String,
    pub free: bool,
    pub pay_before_issue: bool,
    pub due: String,
    pub paid: String,
    pub refunded: String,
    pub outstanding: String,
    pub settled: bool,
    /// What stops issuance, the case machine's `unpaid_fee` fact.
    unpaid: Fen,
    pub rows: Vec<PaymentRow>,
    pub has_refunds: bool,
    /// The viewer may take the fee now.
    pub may_pay: bool,
    /// The unit of a per-unit fee (the form asks for a quantity).
    pub unit: Option<String>,
    /// What the payment form shows: the defaults, or what was typed when refused.
    pub form: PayForm,
    /// (value, label, checked)
    pub methods: Vec<(&'static str, &'static str, bool)>,
    /// For a 一件事 case: the lead item whose fee is the bundle's only fee.
    pub bundle_lead: Option<String>,
    pub waived: String,
    /// (time, amount, category, reason, by whom)
    pub waivers: Vec<(String, String, &'static str, String, String)>,
    /// The waiver form: categories (value, label, selected), what was typed, its errors.
    pub waiver_categories: Vec<(&'static str, &'static str, bool)>,
    pub waiver_amount: String,
    pub waiver_reason: String,
    pub waiver_errors: Vec<FieldError>,
}

/// The payment form's values and errors.
#[derive(Debug, Clone, Default)]
pub struct PayForm {
    pub amount: String,
    pub quantity: String,
    pub method: String,
    pub note: String,
    pub errors: Vec<FieldError>,
}

impl CasePanel {
    /// The message about a payment form field, if the last payment was refused for it.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.form
            .errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// Fills the form with what was submitted and why it was refused.
    fn with_submitted(mut self, form: &FormData, errors: Vec<FieldError>) -> Self {
        self.form = PayForm {
            amount: form.get("amount").to_string(),
            quantity: form.get("quantity").to_string(),
            method: form.get("method").to_string(),
            note: form.get("note").to_string(),
            errors,
        };
        self.methods = self
            .methods
            .iter()
            .map(|(v, l, _)| (*v, *l, *v == self.form.method))
            .collect();
        self
    }

    /// The message about a waiver form field (`waiver.amount`, `waiver.reason`, …).
    pub fn waiver_error(&self, field: &str) -> Option<&str> {
        self.waiver_errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// Fills the waiver form with what was submitted and why it was refused.
    fn with_waiver_submitted(mut self, form: &FormData, errors: Vec<FieldError>) -> Self {
        self.waiver_amount = form.get("waiver.amount").to_string();
        self.waiver_reason = form.get("waiver.reason").to_string();
        let chosen = form.get("waiver.category").to_string();
        self.waiver_categories = self
            .waiver_categories
            .iter()
            .map(|(v, l, _)| (*v, *l, *v == chosen))
            .collect();
        self.waiver_errors = errors;
        self
    }

    /// The fee still owed before the result may be handed over (先缴费后出件).
    pub fn unpaid_fee(&self) -> Fen {
        self.unpaid
    }

    pub fn blocks_issue(&self) -> bool {
        self.unpaid.is_positive()
    }

    pub fn unpaid_text(&self) -> String {
        self.unpaid.to_string()
    }
}

fn unit_of(fee: &Fee) -> Option<String> {
    match &fee.charge {
        Charge::PerUnit { unit, .. } => Some(unit.clone()),
        _ => None,
    }
}

fn quantity_text(fee: &Fee, quantity: i64) -> String {
    match unit_of(fee) {
        Some(unit) => format!("{quantity}{unit}"),
        None => format!("{quantity}件"),
    }
}

async fn payment_rows(
    state: &AppState,
    p: &Principal,
    fees: &CaseFees,
) -> Result<Vec<PaymentRow>, AppError> {
    let may_refund_somewhere = p.actor().may(Permission::RefundFees);
    let mut rows = Vec::new();
    for pay in &fees.payments {
        let refundable = may_refund_somewhere
            && pay.refunded_fen < pay.amount_fen
            && match orgs::get(state.store.reader(), pay.hall_id).await {
                Ok(h) => p.authorize(Permission::RefundFees, &h.path).is_ok(),
                Err(_) => false,
            };
        rows.push(PaymentRow {
            id: pay.id,
            receipt_no: pay.receipt_no.clone(),
            at: format_local(pay.at),
            amount: pay.amount_fen.to_string(),
            method: pay.method.label(),
            quantity: quantity_text(&fees.fee, pay.quantity),
            clerk: pay.clerk_name.clone(),
            place: match pay.window_number {
                Some(n) => format!("{} {n}号窗口", pay.hall_name),
                None => pay.hall_name.clone(),
            },
            refunded: pay
                .refunded_fen
                .is_positive()
                .then(|| pay.refunded_fen.to_string()),
            refundable,
            refunds: pay
                .refunds
                .iter()
                .map(|r| {
                    (
                        format_local(r.at),
                        r.amount_fen.to_string(),
                        r.reason.clone(),
                        r.clerk_name.clone(),
                    )
                })
                .collect(),
        });
    }
    Ok(rows)
}

/// The payments panel for the case page: the fee, the balance, the payments with their
/// refunds, and the payment form when the viewer may take the fee now. The case page
/// passes [`CasePanel::unpaid_fee`] on to the case machine, so 出件 is offered only once
/// paid where the item says 先缴费后出件.
pub async fn case_panel(
    state: &AppState,
    p: &Principal,
    case: &CaseRecord,
) -> Result<CasePanel, AppError> {
    let fees = store_fees::for_case(state.store.reader(), case.id, case.item_version_id).await?;
    let b = fees.balance;
    let may_pay = !fees.fee.is_free()
        && rules::payment_allowed(case.state)
        && b.outstanding().is_positive()
        && may_charge(p, case).is_ok();
    Ok(CasePanel {
        case_id: case.id,
        fee_label: fees.fee.charge.label(),
        fee_note: fees.fee.note.clone(),
        fee_basis: fees.fee.basis.clone(),
        free: fees.fee.is_free(),
        pay_before_issue: fees.fee.pay_before_issue,
        due: b.due.to_string(),
        paid: b.paid.to_string(),
        refunded: b.refunded.to_string(),
        outstanding: b.outstanding().max(Fen::ZERO).to_string(),
        settled: b.settled(),
        unpaid: fees.unpaid_before_issue,
        rows: payment_rows(state, p, &fees).await?,
        has_refunds: b.refunded.is_positive(),
        may_pay,
        unit: unit_of(&fees.fee),
        form: PayForm {
            // A per-unit fee is computed from the quantity typed: the amount stays blank.
            amount: match fees.fee.charge {
                Charge::PerUnit { .. } => String::new(),
                _ => b.outstanding().max(Fen::ZERO).yuan(),
            },
            quantity: fees.quantity.to_string(),
            method: PayMethod::Cash.as_str().into(),
            note: String::new(),
            errors: vec![],
        },
        methods: PayMethod::ALL
            .map(|m| (m.as_str(), m.label(), m == PayMethod::Cash))
            .to_vec(),
        bundle_lead: case.bundle_code.as_ref().map(|_| case.item_code.clone()),
        waived: b.waived.to_string(),
        waivers: fees
            .waivers
            .iter()
            .map(|w| {
                (
                    format_local(w.at),
                    w.amount_fen.to_string(),
                    w.category.label(),
                    w.reason.clone(),
                    w.clerk_name.clone(),
                )
            })
            .collect(),
        waiver_categories: WaiverCategory::ALL
            .map(|c| (c.as_str(), c.label(), false))
            .to_vec(),
        waiver_amount: String::new(),
        waiver_reason: String::new(),
        waiver_errors: vec![],
    })
}

// ---- pages ----

#[derive(Template)]
#[template(path = "fees.html")]
struct FeeTablePage {
    chrome: Chrome,
    rows: Vec<FeeTableRow>,
    charging: bool,
    pager: Pager,
    errors: Vec<FieldError>,
}

struct FeeTableRow {
    code: String,
    name: String,
    department: String,
    fee: String,
    note: String,
    basis: String,
    free: bool,
    pay_before_issue: bool,
}

fn fee_table_row(r: FeeRow) -> FeeTableRow {
    FeeTableRow {
        free: r.fee.is_free(),
        fee: r.fee.charge.label(),
        note: r.fee.note.clone(),
        basis: r.fee.basis.clone(),
        pay_before_issue: r.fee.pay_before_issue,
        code: r.code,
        name: r.name,
        department: r.department_name,
    }
}

async fn fee_table_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<FeeTableQuery>,
) -> PageResult {
    let chrome = Chrome::new(&state, &ctx, "收费明细");
    match fee_table(&state, &q).await {
        Ok(listed) => {
            let pager = Pager::new("/fees", &listed);
            render(&FeeTablePage {
                chrome,
                charging: listed.filters.contains("charging"),
                rows: listed.page.items.into_iter().map(fee_table_row).collect(),
                pager,
                errors: vec![],
            })
        }
        Err(AppError::Invalid(f)) => render_form(
            &FeeTablePage {
                chrome,
                rows: vec![],
                charging: false,
                pager: Pager::default(),
                errors: f.0,
            },
            true,
        ),
        Err(e) => Err(e.into()),
    }
}

/// The payment form page: shown from the case page's 收费 button, and again with the
/// errors when a payment was refused (what was typed is kept).
#[derive(Template)]
#[template(path = "case_pay.html")]
struct PayPage {
    chrome: Chrome,
    case: CaseRecord,
    payments: CasePanel,
    errors: Vec<FieldError>,
}

async fn pay_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    case_id: i64,
    form: Option<&FormData>,
    errors: Vec<FieldError>,
) -> PageResult {
    let case = case_to_charge(state, p, case_id).await?;
    let mut payments = case_panel(state, p, &case).await?;
    let refused = !errors.is_empty();
    if let Some(f) = form {
        payments = payments.with_submitted(f, errors.clone());
    }
    render_form(
        &PayPage {
            chrome: Chrome::new(state, ctx, format!("收费 {}", case.case_no)),
            payments,
            case,
            errors,
        },
        refused,
    )
}

async fn pay_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    pay_view(&state, &p, &ctx, id, None, vec![]).await
}

/// Reads the payment form: the amount in 元, the quantity, the method (field errors name
/// the inputs).
fn pay_input_from_form(form: &FormData) -> Result<PayInput, AppError> {
    let mut e = FieldErrors::new();
    let amount = match form.get("amount").trim() {
        "" => None,
        text => match Fen::parse_yuan(text) {
            Ok(a) => Some(a),
            Err(err) => {
                e.add("amount", err.code(), err.to_string());
                None
            }
        },
    };
    let quantity = match form.get("quantity").trim() {
        "" => None,
        text => match text.parse::<u32>() {
            Ok(q) => Some(q),
            Err(_) => {
                e.add(
                    "quantity",
                    "not_a_number",
                    format!("数量须为整数，填写的是「{text}」"),
                );
                None
            }
        },
    };
    let method = PayMethod::parse(form.get("method")).unwrap_or_else(|| {
        e.add(
            "method",
            "unknown",
            "请选择缴费方式（现金、银行卡或移动支付）",
        );
        PayMethod::Cash
    });
    e.into_result()?;
    Ok(PayInput {
        amount,
        quantity,
        method,
        note: form.get("note").to_string(),
    })
}

async fn pay_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let attempt = async {
        let input = pay_input_from_form(&form)?;
        pay(&state, &p, id, &input).await
    };
    match attempt.await {
        Ok((payment, _)) => Ok(Redirect::to(&format!(
            "/cases/{id}/payments/{}/receipt?new=1",
            payment.id
        ))
        .into_response()),
        Err(AppError::Invalid(f)) => pay_view(&state, &p, &ctx, id, Some(&form), f.0).await,
        Err(e) => Err(e.into()),
    }
}

/// Reads the waiver form (fields `waiver.amount` in 元, `waiver.category`,
/// `waiver.reason`) and waives; refused, the payment page shows the form again with what
/// was typed and why.
async fn waive_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let attempt = async {
        let mut e = FieldErrors::new();
        let amount = match form.get("waiver.amount").trim() {
            "" => None,
            text => match Fen::parse_yuan(text) {
                Ok(a) => Some(a),
                Err(err) => {
                    e.add("amount", err.code(), err.to_string());
                    None
                }
            },
        };
        let category = WaiverCategory::parse(form.get("waiver.category"));
        if category.is_none() {
            e.add(
                "category",
                "unknown",
                "请选择减免类别（低保对象、特困人员、残疾人或政策减免）",
            );
        }
        e.into_result()?;
        let input = WaiveInput {
            amount,
            category: category.unwrap_or(WaiverCategory::Policy),
            reason: form.get("waiver.reason").to_string(),
        };
        waive(&state, &p, id, &input).await
    };
    match attempt.await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{id}#payments")).into_response()),
        Err(AppError::Invalid(f)) => {
            let errors: Vec<FieldError> =
                f.0.into_iter()
                    .map(|mut e| {
                        e.field = format!("waiver.{}", e.field);
                        e
                    })
                    .collect();
            let case = case_to_charge(&state, &p, id).await?;
            let payments = case_panel(&state, &p, &case)
                .await?
                .with_waiver_submitted(&form, errors.clone());
            render_form(
                &PayPage {
                    chrome: Chrome::new(&state, &ctx, format!("收费 {}", case.case_no)),
                    payments,
                    case,
                    errors,
                },
                true,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "case_refund.html")]
struct RefundPage {
    chrome: Chrome,
    case: CaseRecord,
    payment: PaymentRow,
    left: String,
    amount: String,
    reason: String,
    errors: Vec<FieldError>,
}

impl RefundPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

async fn refund_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    (case_id, payment_id): (i64, i64),
    form: Option<&FormData>,
    errors: Vec<FieldError>,
) -> PageResult {
    let (payment, _) = payment_to_refund(state, p, case_id, payment_id).await?;
    let case = store_cases::get(state.store.reader(), case_id).await?;
    let fees = store_fees::for_case(state.store.reader(), case.id, case.item_version_id).await?;
    let row = payment_rows(state, p, &fees)
        .await?
        .into_iter()
        .find(|r| r.id == payment_id)
        .ok_or(AppError::NotFound)?;
    let left = payment.amount_fen - payment.refunded_fen;
    let refused = !errors.is_empty();
    render_form(
        &RefundPage {
            chrome: Chrome::new(state, ctx, format!("退费 {}", payment.receipt_no)),
            amount: form.map_or_else(|| left.yuan(), |f| f.get("amount").to_string()),
            reason: form.map_or_else(String::new, |f| f.get("reason").to_string()),
            left: left.to_string(),
            payment: row,
            case,
            errors,
        },
        refused,
    )
}

async fn refund_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path((id, pid)): Path<(i64, i64)>,
) -> PageResult {
    refund_view(&state, &p, &ctx, (id, pid), None, vec![]).await
}

async fn refund_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path((id, pid)): Path<(i64, i64)>,
    form: FormData,
) -> PageResult {
    let attempt = async {
        let amount = match form.get("amount").trim() {
            "" => None,
            text => Some(
                Fen::parse_yuan(text)
                    .map_err(|e| AppError::invalid("amount", e.code(), e.to_string()))?,
            ),
        };
        let input = RefundInput {
            amount,
            reason: form.get("reason").to_string(),
        };
        refund(&state, &p, id, pid, &input).await
    };
    match attempt.await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{id}#payments")).into_response()),
        Err(AppError::Invalid(f)) => {
            refund_view(&state, &p, &ctx, (id, pid), Some(&form), f.0).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "payment_receipt.html")]
struct ReceiptPage {
    chrome: Chrome,
    case: CaseRecord,
    payment: Payment,
    row: PaymentRow,
    fee_label: String,
    amount_in_words: String,
    method: &'static str,
    just_paid: bool,
}

#[derive(Deserialize, Default)]
struct ReceiptQuery {
    #[serde(default)]
    new: Option<String>,
}

/// The printable receipt of one payment (缴费收据): whoever may see the case may print it.
async fn receipt_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path((id, pid)): Path<(i64, i64)>,
    Query(q): Query<ReceiptQuery>,
) -> PageResult {
    let case = get_case(&state, &p, id).await?;
    let fees = store_fees::for_case(state.store.reader(), case.id, case.item_version_id).await?;
    let payment = fees
        .payments
        .iter()
        .find(|x| x.id == pid)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let row = payment_rows(&state, &p, &fees)
        .await?
        .into_iter()
        .find(|r| r.id == pid)
        .ok_or(AppError::NotFound)?;
    render(&ReceiptPage {
        chrome: Chrome::new(&state, &ctx, format!("缴费收据 {}", payment.receipt_no)),
        fee_label: fees.fee.charge.label(),
        amount_in_words: payment.amount_fen.in_words(),
        method: payment.method.label(),
        just_paid: q.new.is_some(),
        row,
        payment,
        case,
    })
}

#[derive(Deserialize, Default)]
struct CashupQuery {
    #[serde(default)]
    day: Option<String>,
    #[serde(default)]
    hall: Option<String>,
}

/// One line of the cash-up as printed.
struct CashupRow {
    place: String,
    clerk: String,
    cells: Vec<String>,
    count: String,
}

fn cashup_cells(t: &Totals) -> (Vec<String>, String) {
    let mut cells = Vec::new();
    for m in PayMethod::ALL {
        let x = t.method(m);
        cells.push(x.received.yuan());
        cells.push(x.refunded.yuan());
    }
    let all = t.all();
    cells.push(all.received.yuan());
    cells.push(all.refunded.yuan());
    cells.push(all.net().yuan());
    (cells, format!("{}笔 / 退{}笔", all.payments, all.refunds))
}

#[derive(Template)]
#[template(path = "cashup.html")]
struct CashupPage {
    chrome: Chrome,
    hall_name: String,
    day: String,
    halls: Vec<(i64, String, bool)>,
    lines: Vec<CashupRow>,
    total: CashupRow,
    methods: Vec<(&'static str, String)>,
    payments: Vec<(String, String, String, String, String, String, String)>,
    refunds: Vec<(String, String, String, String, String, String)>,
    /// (time, case number, amount, category, reason, clerk)
    waivers: Vec<(String, String, String, &'static str, String, String)>,
    /// (category, count, amount)
    waiver_totals: Vec<(&'static str, u32, String)>,
    printed_at: String,
    errors: Vec<FieldError>,
}

/// The halls the caller may read: the organisations with a queue inside their scope, and
/// their own organisation.
async fn my_halls(state: &AppState, p: &Principal) -> Result<Vec<(i64, String)>, AppError> {
    let mut out = vec![(p.user.org_id, p.user.org_name.clone())];
    for (id, name) in onewindow_store::queue::halls(state.store.reader()).await? {
        if id == p.user.org_id {
            continue;
        }
        let hall = orgs::get(state.store.reader(), id).await?;
        if p.authorize(Permission::ViewCashup, &hall.path).is_ok() {
            out.push((id, name));
        }
    }
    Ok(out)
}

async fn cashup_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<CashupQuery>,
) -> PageResult {
    p.require(Permission::ViewCashup)?;
    let mut e = FieldErrors::new();
    let day = lists::date(&mut e, "day", "日期", q.day.as_deref());
    let hall = lists::id(&mut e, "hall", "大厅", q.hall.as_deref());
    let today = local_date(state.now());
    let day = day.unwrap_or(today);
    let hall = match hall {
        Some(h) => h,
        None => till(&state, &p).await?.0,
    };
    let errors = e.0;
    let report = cashup(&state, &p, hall, day).await?;
    let (cells, count) = cashup_cells(&report.cashup.hall);
    let total = CashupRow {
        place: "合计".into(),
        clerk: String::new(),
        cells,
        count,
    };
    let lines = report
        .cashup
        .lines
        .iter()
        .map(|l| {
            let (cells, count) = cashup_cells(&l.totals);
            CashupRow {
                place: match l.window {
                    Some(n) => format!("{n}号窗口"),
                    None => "未在窗口（如退费）".into(),
                },
                clerk: l.clerk_name.clone(),
                cells,
                count,
            }
        })
        .collect();
    let methods = PayMethod::ALL
        .iter()
        .map(|m| (m.label(), report.cashup.hall.method(*m).net().to_string()))
        .collect();
    let payments = report
        .detail
        .payments
        .iter()
        .map(|x| {
            (
                x.receipt_no.clone(),
                format_local(x.at),
                x.case_no.clone(),
                x.amount_fen.yuan(),
                x.method.label().to_string(),
                x.clerk_name.clone(),
                x.window_number
                    .map(|n| format!("{n}号"))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let refunds = report
        .detail
        .refunds
        .iter()
        .map(|r| {
            (
                r.receipt_no.clone(),
                format_local(r.at),
                r.amount_fen.yuan(),
                r.method.label().to_string(),
                r.reason.clone(),
                r.clerk_name.clone(),
            )
        })
        .collect();
    let waivers = report
        .detail
        .waivers
        .iter()
        .map(|w| {
            (
                format_local(w.at),
                w.case_no.clone(),
                w.amount_fen.yuan(),
                w.category.label(),
                w.reason.clone(),
                w.clerk_name.clone(),
            )
        })
        .collect();
    let waiver_totals = report
        .detail
        .waiver_totals()
        .iter()
        .map(|t| (t.category.label(), t.count, t.amount.to_string()))
        .collect();
    let mut halls: Vec<(i64, String, bool)> = my_halls(&state, &p)
        .await?
        .into_iter()
        .map(|(id, name)| (id, name, id == report.hall.id))
        .collect();
    if !halls.iter().any(|h| h.2) {
        halls.push((report.hall.id, report.hall.name.clone(), true));
    }
    let refused = !errors.is_empty();
    render_form(
        &CashupPage {
            chrome: Chrome::new(
                &state,
                &ctx,
                format!("{} 收费日结 {}", report.hall.name, report.day),
            ),
            hall_name: report.hall.name.clone(),
            day: report.day.to_string(),
            halls,
            lines,
            total,
            methods,
            payments,
            refunds,
            waivers,
            waiver_totals,
            printed_at: format_local(state.now()),
            errors,
        },
        refused,
    )
}

// ---- API ----

fn balance_json(fees: &CaseFees) -> Value {
    let b = fees.balance;
    json!({
        "due_fen": b.due,
        "paid_fen": b.paid,
        "refunded_fen": b.refunded,
        "waived_fen": b.waived,
        "outstanding_fen": b.outstanding(),
        "settled": b.settled(),
        "unpaid_before_issue_fen": fees.unpaid_before_issue,
        "quantity": fees.quantity,
    })
}

fn fee_json(fee: &Fee) -> Value {
    let mut v = serde_json::to_value(fee).expect("fees serialise");
    v["label"] = json!(fee.charge.label());
    v
}

fn payment_json(p: &Payment) -> Value {
    let mut v = serde_json::to_value(p).expect("payments serialise");
    v["method_label"] = json!(p.method.label());
    v["amount_in_words"] = json!(p.amount_fen.in_words());
    v
}

fn case_fees_json(fees: &CaseFees) -> Value {
    json!({
        "fee": fee_json(&fees.fee),
        "balance": balance_json(fees),
        "payments": fees.payments.iter().map(payment_json).collect::<Vec<_>>(),
        "waivers": fees.waivers.iter().map(waiver_json).collect::<Vec<_>>(),
    })
}

fn waiver_json(w: &Waiver) -> Value {
    let mut v = serde_json::to_value(w).expect("waivers serialise");
    v["category_label"] = json!(w.category.label());
    v
}

/// API field names: amounts are integers of fen there (`amount_fen`).
fn api_fields(e: AppError) -> AppError {
    match e {
        AppError::Invalid(mut f) => {
            for err in &mut f.0 {
                if err.field == "amount" {
                    err.field = "amount_fen".into();
                }
            }
            AppError::Invalid(f)
        }
        other => other,
    }
}

async fn payments_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let case = get_case(&state, &p, id).await?;
    let fees = store_fees::for_case(state.store.reader(), case.id, case.item_version_id).await?;
    let mut v = case_fees_json(&fees);
    v["case_id"] = json!(case.id);
    v["case_no"] = json!(case.case_no);
    Ok(Json(v))
}

#[derive(Deserialize)]
struct PayBody {
    #[serde(default)]
    amount_fen: Option<i64>,
    #[serde(default)]
    quantity: Option<u32>,
    method: PayMethod,
    #[serde(default)]
    note: Option<String>,
}

async fn pay_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<PayBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = PayInput {
        amount: b.amount_fen.map(Fen),
        quantity: b.quantity,
        method: b.method,
        note: b.note.unwrap_or_default(),
    };
    let (payment, fees) = pay(&state, &p, id, &input).await.map_err(api_fields)?;
    let mut v = case_fees_json(&fees);
    v["payment"] = payment_json(&payment);
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Deserialize)]
struct RefundBody {
    #[serde(default)]
    amount_fen: Option<i64>,
    reason: String,
}

async fn refund_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path((id, pid)): Path<(i64, i64)>,
    ApiJson(b): ApiJson<RefundBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = RefundInput {
        amount: b.amount_fen.map(Fen),
        reason: b.reason,
    };
    let (r, fees) = refund(&state, &p, id, pid, &input)
        .await
        .map_err(api_fields)?;
    let mut v = case_fees_json(&fees);
    v["refund"] = serde_json::to_value(&r).expect("refunds serialise");
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Deserialize)]
struct WaiveBody {
    #[serde(default)]
    amount_fen: Option<i64>,
    category: WaiverCategory,
    reason: String,
}

async fn waive_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<WaiveBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = WaiveInput {
        amount: b.amount_fen.map(Fen),
        category: b.category,
        reason: b.reason,
    };
    let (w, fees) = waive(&state, &p, id, &input).await.map_err(api_fields)?;
    let mut v = case_fees_json(&fees);
    v["waiver"] = waiver_json(&w);
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Deserialize, Default)]
struct CashupApiQuery {
    #[serde(default)]
    day: Option<String>,
}

fn totals_json(t: &Totals) -> Value {
    let one = |m: &MethodTotal| {
        json!({
            "received_fen": m.received,
            "refunded_fen": m.refunded,
            "net_fen": m.net(),
            "payments": m.payments,
            "refunds": m.refunds,
        })
    };
    let mut v = json!({ "all": one(&t.all()) });
    for m in PayMethod::ALL {
        v[m.as_str()] = one(t.method(m));
    }
    v
}

async fn cashup_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(hall): Path<i64>,
    Query(q): Query<CashupApiQuery>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::ViewCashup)?;
    let mut e = FieldErrors::new();
    let day = lists::date(&mut e, "day", "日期", q.day.as_deref());
    e.into_result()?;
    let day = day.unwrap_or_else(|| local_date(state.now()));
    let r = cashup(&state, &p, hall, day).await?;
    Ok(Json(json!({
        "hall_id": r.hall.id,
        "hall_name": r.hall.name,
        "day": r.day,
        "hall": totals_json(&r.cashup.hall),
        "lines": r.cashup.lines.iter().map(|l| json!({
            "window_number": l.window,
            "clerk_id": l.clerk_id,
            "clerk_name": l.clerk_name,
            "totals": totals_json(&l.totals),
        })).collect::<Vec<_>>(),
        "payments": r.detail.payments.iter().map(payment_json).collect::<Vec<_>>(),
        "refunds": r.detail.refunds,
        "waivers": r.detail.waivers.iter().map(waiver_json).collect::<Vec<_>>(),
        "waived": r.detail.waiver_totals().iter().map(|t| json!({
            "category": t.category,
            "category_label": t.category.label(),
            "count": t.count,
            "amount_fen": t.amount,
        })).collect::<Vec<_>>(),
    })))
}

async fn fee_table_api(
    State(state): State<AppState>,
    Query(q): Query<FeeTableQuery>,
) -> ApiResult<Json<ListBody<Value>>> {
    let listed = fee_table(&state, &q).await?;
    let page = listed.page.map(|r| {
        json!({
            "code": r.code,
            "name": r.name,
            "parent_code": r.parent_code,
            "department_name": r.department_name,
            "fee": fee_json(&r.fee),
        })
    });
    Ok(Json(ListBody::new(
        page,
        "/api/v1/fees",
        &listed.filters,
        &listed.req,
    )))
}
