//! Fees (缴费): payments taken at the window, refunds and waivers (减免), append-only (the
//! database refuses UPDATE and DELETE on them: triggers of migration 0018); a case's
//! balance; a hall's day for the cash-up (日结); the public fee table read from the catalog.
//!
//! Every write locks the case row first (`FOR UPDATE` on PostgreSQL; SQLite has one
//! writer), as a case transition does, so a payment or refund and an issuance of the same
//! case never interleave: issuance sees every payment committed before it, and a refund
//! cannot slip in between the check and the issue. The rules (how much may be taken or
//! given back) are `onewindow_domain::fees`; every write appends its audit event in the
//! caller's transaction.

use crate::audit::{self, Change};
use crate::page::{CursorKey, ListId, Page, PageRequest, MAX_LIMIT};
use crate::{Result, StoreError};
use chrono::NaiveDate;
use onewindow_domain::cases::CaseState;
use onewindow_domain::catalog::ServiceItem;
use onewindow_domain::fees::{
    self as rules, Balance, CashEntry, CashKind, Fee, Fen, PayMethod, PaymentRequest,
    WaiverCategory,
};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// A payment as recorded, with what was refunded from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub id: i64,
    pub case_id: i64,
    pub case_no: String,
    pub hall_id: i64,
    pub hall_name: String,
    /// The Beijing date it was taken on.
    pub day: NaiveDate,
    pub receipt_no: String,
    pub amount_fen: Fen,
    pub quantity: i64,
    pub method: PayMethod,
    pub note: String,
    pub clerk_id: i64,
    pub clerk_name: String,
    pub window_number: Option<i64>,
    /// UTC microseconds.
    pub at: i64,
    /// The sum of its refunds.
    pub refunded_fen: Fen,
    pub refunds: Vec<Refund>,
}

/// A refund as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    pub id: i64,
    pub payment_id: i64,
    pub receipt_no: String,
    pub case_id: i64,
    pub hall_id: i64,
    pub day: NaiveDate,
    pub amount_fen: Fen,
    /// The method of the payment it gives back.
    pub method: PayMethod,
    pub reason: String,
    pub clerk_id: i64,
    pub clerk_name: String,
    pub at: i64,
}

/// A fee waived (减免) in part or whole, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiver {
    pub id: i64,
    pub case_id: i64,
    pub case_no: String,
    pub hall_id: i64,
    pub day: NaiveDate,
    pub amount_fen: Fen,
    pub category: WaiverCategory,
    pub reason: String,
    pub clerk_id: i64,
    pub clerk_name: String,
    pub window_number: Option<i64>,
    /// UTC microseconds.
    pub at: i64,
}

/// A waiver to record. `amount` absent: all that is outstanding.
#[derive(Debug, Clone)]
pub struct NewWaiver {
    pub case_id: i64,
    pub amount: Option<Fen>,
    pub category: WaiverCategory,
    pub reason: String,
    pub clerk_id: i64,
    pub hall_id: i64,
    pub window: Option<(i64, i64)>,
    pub day: NaiveDate,
}

/// What a case owes and what was paid: its item's fee (as of the version the case was
/// accepted under — for a 一件事 bundle, its lead item's: a bundle charges one fee), its
/// payments in order (with their refunds), its waivers, the balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseFees {
    pub fee: Fee,
    pub payments: Vec<Payment>,
    pub waivers: Vec<Waiver>,
    /// The units the fee is assessed for: the latest payment's, one before any payment.
    pub quantity: u32,
    pub balance: Balance,
    /// What stops issuance (先缴费后出件): `fees::unpaid_before_issue`.
    pub unpaid_before_issue: Fen,
}

/// A payment to record. `hall_id` is where the money is taken (the clerk's window's hall,
/// else the clerk's organisation); `window` its window (id, number) when known.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub case_id: i64,
    pub request: PaymentRequest,
    pub note: String,
    pub clerk_id: i64,
    pub hall_id: i64,
    pub window: Option<(i64, i64)>,
    pub day: NaiveDate,
}

/// A refund to record against one payment of a case.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub case_id: i64,
    pub payment_id: i64,
    pub amount: Fen,
    pub reason: String,
    pub clerk_id: i64,
    pub day: NaiveDate,
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
}

fn method(s: &str) -> PayMethod {
    PayMethod::parse(s).unwrap_or(PayMethod::Cash)
}

const PAYMENT_SELECT: &str = "SELECT p.id, p.case_id, c.case_no, p.hall_id, h.name AS hall_name, p.day, \
     p.receipt_no, p.amount_fen, p.quantity, p.method, p.note, p.clerk_id, u.display_name AS clerk_name, \
     p.window_number, p.at FROM case_payments p JOIN cases c ON c.id = p.case_id \
     JOIN orgs h ON h.id = p.hall_id JOIN users u ON u.id = p.clerk_id";

const REFUND_SELECT: &str = "SELECT r.id, r.payment_id, p.receipt_no, r.case_id, r.hall_id, r.day, \
     r.amount_fen, p.method, r.reason, r.clerk_id, u.display_name AS clerk_name, r.at \
     FROM case_refunds r JOIN case_payments p ON p.id = r.payment_id JOIN users u ON u.id = r.clerk_id";

fn payment_from_row(r: &AnyRow) -> Payment {
    Payment {
        id: r.get("id"),
        case_id: r.get("case_id"),
        case_no: r.get("case_no"),
        hall_id: r.get("hall_id"),
        hall_name: r.get("hall_name"),
        day: date(&r.get::<String, _>("day")),
        receipt_no: r.get("receipt_no"),
        amount_fen: Fen(r.get("amount_fen")),
        quantity: r.get("quantity"),
        method: method(&r.get::<String, _>("method")),
        note: r.get("note"),
        clerk_id: r.get("clerk_id"),
        clerk_name: r.get("clerk_name"),
        window_number: r.get("window_number"),
        at: r.get("at"),
        refunded_fen: Fen::ZERO,
        refunds: Vec::new(),
    }
}

fn refund_from_row(r: &AnyRow) -> Refund {
    Refund {
        id: r.get("id"),
        payment_id: r.get("payment_id"),
        receipt_no: r.get("receipt_no"),
        case_id: r.get("case_id"),
        hall_id: r.get("hall_id"),
        day: date(&r.get::<String, _>("day")),
        amount_fen: Fen(r.get("amount_fen")),
        method: method(&r.get::<String, _>("method")),
        reason: r.get("reason"),
        clerk_id: r.get("clerk_id"),
        clerk_name: r.get("clerk_name"),
        at: r.get("at"),
    }
}

/// The fee of the item version a case was accepted under.
async fn fee_of_version(conn: &mut AnyConnection, version_id: i64) -> Result<Fee> {
    let item: ServiceItem = crate::catalog::version_body(&mut *conn, version_id).await?;
    Ok(item.fee)
}

/// A case's payments in order, each with its refunds.
async fn payments_of(conn: &mut AnyConnection, case_id: i64) -> Result<Vec<Payment>> {
    let rows = sqlx::query(&format!(
        "{PAYMENT_SELECT} WHERE p.case_id = $1 ORDER BY p.id"
    ))
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut payments: Vec<Payment> = rows.iter().map(payment_from_row).collect();
    let refunds = sqlx::query(&format!(
        "{REFUND_SELECT} WHERE r.case_id = $1 ORDER BY r.id"
    ))
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?;
    for r in refunds.iter().map(refund_from_row) {
        if let Some(p) = payments.iter_mut().find(|p| p.id == r.payment_id) {
            p.refunded_fen += r.amount_fen;
            p.refunds.push(r);
        }
    }
    Ok(payments)
}

const WAIVER_SELECT: &str =
    "SELECT w.id, w.case_id, c.case_no, w.hall_id, w.day, w.amount_fen, w.category, \
     w.reason, w.clerk_id, u.display_name AS clerk_name, w.window_number, w.at \
     FROM case_fee_waivers w JOIN cases c ON c.id = w.case_id JOIN users u ON u.id = w.clerk_id";

fn waiver_from_row(r: &AnyRow) -> Waiver {
    Waiver {
        id: r.get("id"),
        case_id: r.get("case_id"),
        case_no: r.get("case_no"),
        hall_id: r.get("hall_id"),
        day: date(&r.get::<String, _>("day")),
        amount_fen: Fen(r.get("amount_fen")),
        category: WaiverCategory::parse(&r.get::<String, _>("category"))
            .unwrap_or(WaiverCategory::Policy),
        reason: r.get("reason"),
        clerk_id: r.get("clerk_id"),
        clerk_name: r.get("clerk_name"),
        window_number: r.get("window_number"),
        at: r.get("at"),
    }
}

/// A case's waivers in order.
async fn waivers_of(conn: &mut AnyConnection, case_id: i64) -> Result<Vec<Waiver>> {
    let rows = sqlx::query(&format!(
        "{WAIVER_SELECT} WHERE w.case_id = $1 ORDER BY w.id"
    ))
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(waiver_from_row).collect())
}

fn case_fees(fee: Fee, payments: Vec<Payment>, waivers: Vec<Waiver>) -> CaseFees {
    let quantity = payments
        .last()
        .and_then(|p| u32::try_from(p.quantity).ok())
        .unwrap_or(1);
    let paid: Fen = payments.iter().map(|p| p.amount_fen).sum();
    let refunded: Fen = payments.iter().map(|p| p.refunded_fen).sum();
    let waived: Fen = waivers.iter().map(|w| w.amount_fen).sum();
    let balance = Balance::new(&fee, quantity, paid, refunded).with_waived(waived);
    CaseFees {
        unpaid_before_issue: rules::unpaid_before_issue(&fee, &balance),
        fee,
        payments,
        waivers,
        quantity,
        balance,
    }
}

/// A case's fees read in the caller's connection.
async fn read_case_fees(conn: &mut AnyConnection, fee: Fee, case_id: i64) -> Result<CaseFees> {
    let payments = payments_of(&mut *conn, case_id).await?;
    let waivers = waivers_of(&mut *conn, case_id).await?;
    Ok(case_fees(fee, payments, waivers))
}

/// What a case owes and has paid (the case page's panel, the API).
pub async fn for_case(pool: &AnyPool, case_id: i64, item_version_id: i64) -> Result<CaseFees> {
    let mut conn = pool.acquire().await?;
    let fee = fee_of_version(&mut conn, item_version_id).await?;
    read_case_fees(&mut conn, fee, case_id).await
}

/// The fee still unpaid where the item says 先缴费后出件 — the case machine's
/// `unpaid_fee` fact — read in the caller's transaction, after the case row is locked.
/// Items that do not wait for payment cost one read of the version.
pub async fn unpaid_before_issue(
    conn: &mut AnyConnection,
    case_id: i64,
    item_version_id: i64,
) -> Result<Fen> {
    let fee = fee_of_version(&mut *conn, item_version_id).await?;
    if !fee.pay_before_issue || fee.is_free() {
        return Ok(Fen::ZERO);
    }
    Ok(read_case_fees(&mut *conn, fee, case_id)
        .await?
        .unpaid_before_issue)
}

/// [`unpaid_before_issue`] for a case being opened: nothing is paid yet.
pub async fn unpaid_at_intake(conn: &mut AnyConnection, item_version_id: i64) -> Result<Fen> {
    let fee = fee_of_version(&mut *conn, item_version_id).await?;
    if !fee.pay_before_issue || fee.is_free() {
        return Ok(Fen::ZERO);
    }
    Ok(case_fees(fee, Vec::new(), Vec::new()).unpaid_before_issue)
}

/// The case row, locked for the rest of the transaction: (case number, state, version id).
async fn lock_case(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
) -> Result<(String, CaseState, i64)> {
    let row = sqlx::query(&format!(
        "SELECT case_no, state, item_version_id FROM cases WHERE id = $1{}",
        change.backend.for_update()
    ))
    .bind(case_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let state = CaseState::parse(&row.get::<String, _>("state")).unwrap_or(CaseState::Draft);
    Ok((row.get("case_no"), state, row.get("item_version_id")))
}

/// Records a payment: checks it against the case's fee and balance
/// ([`rules::check_payment`]), gives it the hall's next receipt number of the day, and
/// audits it (`fee.payment`). Returns the payment and the case's fees after it.
pub async fn record_payment(
    conn: &mut AnyConnection,
    change: &Change,
    new: &NewPayment,
) -> Result<(Payment, CaseFees)> {
    let (case_no, state, version_id) = lock_case(&mut *conn, change, new.case_id).await?;
    let fee = fee_of_version(&mut *conn, version_id).await?;
    let before = read_case_fees(&mut *conn, fee.clone(), new.case_id).await?;
    rules::check_payment(
        &fee,
        state,
        before.balance.paid,
        before.balance.refunded,
        before.balance.waived,
        &new.request,
    )
    .map_err(StoreError::Invalid)?;
    let seq: i64 = sqlx::query(
        "INSERT INTO payment_counters (hall_id, day, seq) VALUES ($1, $2, 1) \
         ON CONFLICT (hall_id, day) DO UPDATE SET seq = payment_counters.seq + 1 RETURNING seq",
    )
    .bind(new.hall_id)
    .bind(new.day.to_string())
    .fetch_one(&mut *conn)
    .await?
    .get("seq");
    let receipt_no = rules::receipt_number(new.day, u32::try_from(seq).unwrap_or(u32::MAX));
    let id: i64 = sqlx::query(
        "INSERT INTO case_payments (case_id, hall_id, day, seq, receipt_no, amount_fen, quantity, method, note, \
         clerk_id, window_id, window_number, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(new.case_id)
    .bind(new.hall_id)
    .bind(new.day.to_string())
    .bind(seq)
    .bind(&receipt_no)
    .bind(new.request.amount.0)
    .bind(i64::from(new.request.quantity))
    .bind(new.request.method.as_str())
    .bind(&new.note)
    .bind(new.clerk_id)
    .bind(new.window.map(|w| w.0))
    .bind(new.window.map(|w| w.1))
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    let after = read_case_fees(&mut *conn, fee, new.case_id).await?;
    let payment = after
        .payments
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .ok_or(StoreError::NotFound)?;
    audit::append(
        conn,
        change,
        "fee.payment",
        "case",
        &case_no,
        &json!({
            "payment_id": id,
            "receipt_no": receipt_no,
            "hall_id": new.hall_id,
            "window_number": new.window.map(|w| w.1),
            "amount_fen": new.request.amount,
            "quantity": new.request.quantity,
            "method": new.request.method,
            "note": new.note,
            "balance": { "due_fen": after.balance.due, "paid_fen": after.balance.paid,
                         "refunded_fen": after.balance.refunded, "outstanding_fen": after.balance.outstanding() },
        }),
    )
    .await?;
    Ok((payment, after))
}

/// Records a refund of (part of) one payment of the case: a reason, and no more than is
/// left of that payment ([`rules::check_refund`]); audited (`fee.refund`). The refund is
/// counted in the cash-up of the payment's hall on `new.day`.
pub async fn record_refund(
    conn: &mut AnyConnection,
    change: &Change,
    new: &NewRefund,
) -> Result<(Refund, CaseFees)> {
    let (case_no, _, version_id) = lock_case(&mut *conn, change, new.case_id).await?;
    let payments = payments_of(&mut *conn, new.case_id).await?;
    let payment = payments
        .iter()
        .find(|p| p.id == new.payment_id)
        .ok_or(StoreError::NotFound)?;
    rules::check_refund(
        payment.amount_fen,
        payment.refunded_fen,
        new.amount,
        &new.reason,
    )
    .map_err(StoreError::Invalid)?;
    let id: i64 = sqlx::query(
        "INSERT INTO case_refunds (payment_id, case_id, hall_id, day, amount_fen, reason, clerk_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(payment.id)
    .bind(new.case_id)
    .bind(payment.hall_id)
    .bind(new.day.to_string())
    .bind(new.amount.0)
    .bind(new.reason.trim())
    .bind(new.clerk_id)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    let receipt_no = payment.receipt_no.clone();
    let fee = fee_of_version(&mut *conn, version_id).await?;
    let after = read_case_fees(&mut *conn, fee, new.case_id).await?;
    let refund = after
        .payments
        .iter()
        .flat_map(|p| &p.refunds)
        .find(|r| r.id == id)
        .cloned()
        .ok_or(StoreError::NotFound)?;
    audit::append(
        conn,
        change,
        "fee.refund",
        "case",
        &case_no,
        &json!({
            "refund_id": id,
            "payment_id": new.payment_id,
            "receipt_no": receipt_no,
            "amount_fen": new.amount,
            "reason": new.reason.trim(),
            "balance": { "due_fen": after.balance.due, "paid_fen": after.balance.paid,
                         "refunded_fen": after.balance.refunded, "outstanding_fen": after.balance.outstanding() },
        }),
    )
    .await?;
    Ok((refund, after))
}

/// Records a waiver (减免): a category and a reason, and no more than is outstanding
/// ([`rules::check_waiver`]); `amount` absent waives all that is outstanding. Audited
/// (`fee.waiver`); listed in the cash-up of `new.hall_id` on `new.day`, apart from the money.
pub async fn record_waiver(
    conn: &mut AnyConnection,
    change: &Change,
    new: &NewWaiver,
) -> Result<(Waiver, CaseFees)> {
    let (case_no, state, version_id) = lock_case(&mut *conn, change, new.case_id).await?;
    let fee = fee_of_version(&mut *conn, version_id).await?;
    let before = read_case_fees(&mut *conn, fee.clone(), new.case_id).await?;
    let amount = new
        .amount
        .unwrap_or_else(|| before.balance.outstanding().max(Fen::ZERO));
    rules::check_waiver(&fee, state, &before.balance, amount, &new.reason)
        .map_err(StoreError::Invalid)?;
    let id: i64 = sqlx::query(
        "INSERT INTO case_fee_waivers (case_id, hall_id, day, amount_fen, category, reason, clerk_id, window_number, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(new.case_id)
    .bind(new.hall_id)
    .bind(new.day.to_string())
    .bind(amount.0)
    .bind(new.category.as_str())
    .bind(new.reason.trim())
    .bind(new.clerk_id)
    .bind(new.window.map(|w| w.1))
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    let after = read_case_fees(&mut *conn, fee, new.case_id).await?;
    let waiver = after
        .waivers
        .iter()
        .find(|w| w.id == id)
        .cloned()
        .ok_or(StoreError::NotFound)?;
    audit::append(
        conn,
        change,
        "fee.waiver",
        "case",
        &case_no,
        &json!({
            "waiver_id": id,
            "hall_id": new.hall_id,
            "window_number": new.window.map(|w| w.1),
            "amount_fen": amount,
            "category": new.category,
            "reason": new.reason.trim(),
            "balance": { "due_fen": after.balance.due, "paid_fen": after.balance.paid,
                         "refunded_fen": after.balance.refunded, "waived_fen": after.balance.waived,
                         "outstanding_fen": after.balance.outstanding() },
        }),
    )
    .await?;
    Ok((waiver, after))
}

/// One payment by id.
pub async fn payment(pool: &AnyPool, id: i64) -> Result<Payment> {
    let mut conn = pool.acquire().await?;
    let case_id: i64 = sqlx::query("SELECT case_id FROM case_payments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?
        .get("case_id");
    payments_of(&mut conn, case_id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or(StoreError::NotFound)
}

/// A hall's day: every payment taken and every refund given, in order. The cash-up is
/// the domain's fold over them ([`entries`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HallDay {
    pub payments: Vec<Payment>,
    pub refunds: Vec<Refund>,
    /// Fees waived that day: not money, listed beside it.
    pub waivers: Vec<Waiver>,
}

impl HallDay {
    /// The day as the cash-up counts it: payments under their clerk and window, refunds
    /// under whoever gave them, away from a window, with the payment's method.
    pub fn entries(&self) -> Vec<CashEntry> {
        let payments = self.payments.iter().map(|p| CashEntry {
            kind: CashKind::Payment,
            method: p.method,
            amount: p.amount_fen,
            clerk_id: p.clerk_id,
            clerk_name: p.clerk_name.clone(),
            window: p.window_number,
        });
        let refunds = self.refunds.iter().map(|r| CashEntry {
            kind: CashKind::Refund,
            method: r.method,
            amount: r.amount_fen,
            clerk_id: r.clerk_id,
            clerk_name: r.clerk_name.clone(),
            window: None,
        });
        payments.chain(refunds).collect()
    }

    /// The day's waivers per category (`fees::waiver_totals`).
    pub fn waiver_totals(&self) -> Vec<rules::WaiverTotal> {
        rules::waiver_totals(self.waivers.iter().map(|w| (w.category, w.amount_fen)))
    }
}

/// A hall's payments and refunds of one Beijing date (indexes `case_payments (hall_id,
/// day, seq)` and `case_refunds_hall_day`): the whole day, since a cash-up that left rows
/// out would not add up.
pub async fn hall_day(pool: &AnyPool, hall_id: i64, day: NaiveDate) -> Result<HallDay> {
    Ok(HallDay {
        payments: of_hall_day(
            pool,
            PAYMENT_SELECT,
            "p",
            "seq",
            hall_id,
            day,
            payment_from_row,
        )
        .await?,
        refunds: of_hall_day(
            pool,
            REFUND_SELECT,
            "r",
            "id",
            hall_id,
            day,
            refund_from_row,
        )
        .await?,
        waivers: of_hall_day(
            pool,
            WAIVER_SELECT,
            "w",
            "id",
            hall_id,
            day,
            waiver_from_row,
        )
        .await?,
    })
}

/// The rows of one money table (`select` aliased `alias`) for a hall and day, in `order`.
async fn of_hall_day<T>(
    pool: &AnyPool,
    select: &str,
    alias: &str,
    order: &str,
    hall_id: i64,
    day: NaiveDate,
    from_row: fn(&AnyRow) -> T,
) -> Result<Vec<T>> {
    Ok(sqlx::query(&format!(
        "{select} WHERE {alias}.hall_id = $1 AND {alias}.day = $2 ORDER BY {alias}.{order}"
    ))
    .bind(hall_id)
    .bind(day.to_string())
    .fetch_all(pool)
    .await?
    .iter()
    .map(from_row)
    .collect())
}

/// The window a clerk is signed in at now (open or paused), as (window id, hall, number).
pub async fn clerk_window(pool: &AnyPool, clerk_id: i64) -> Result<Option<(i64, i64, i64)>> {
    Ok(sqlx::query(
        "SELECT id, hall_id, number FROM service_windows WHERE clerk_id = $1 AND state <> 'closed' \
         ORDER BY updated_at DESC, id LIMIT 1",
    )
    .bind(clerk_id)
    .fetch_optional(pool)
    .await?
    .map(|r| (r.get("id"), r.get("hall_id"), r.get("number"))))
}

/// A line of the public fee table (收费明细).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeRow {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub department_name: String,
    pub fee: Fee,
}

/// One page of the fee table: active items' current fees in code order, all of them or
/// only those that charge. A walk of the code index from the cursor on, in batches, the
/// `charging` filter checked on the items walked (most items charge nothing, so a page of
/// charging items may walk the whole catalog — a few thousand items at most).
pub async fn fee_table_page(
    pool: &AnyPool,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    charging_only: bool,
) -> Result<Page<FeeRow>> {
    let want = usize::try_from(req.fetch()).unwrap_or(1);
    let mut after = req.after_text(0).map(String::from);
    let mut rows: Vec<FeeRow> = Vec::new();
    loop {
        let batch = sqlx::query(
            "SELECT i.code, i.name, i.parent_code, o.name AS department_name, v.body \
             FROM catalog_items i JOIN catalog_item_versions v ON v.item_id = i.id AND v.version = i.current_version \
             JOIN orgs o ON o.id = i.department_id \
             WHERE i.active = 1 AND i.code > $1 ORDER BY i.code LIMIT $2",
        )
        .bind(after.clone().unwrap_or_default())
        .bind(MAX_LIMIT)
        .fetch_all(pool)
        .await?;
        for r in &batch {
            let item: ServiceItem =
                serde_json::from_str(&r.get::<String, _>("body")).map_err(|e| {
                    StoreError::Config(format!("stored catalog item is not valid JSON: {e}"))
                })?;
            if charging_only && item.fee.is_free() {
                continue;
            }
            rows.push(FeeRow {
                code: r.get("code"),
                name: r.get("name"),
                parent_code: r.get("parent_code"),
                department_name: r.get("department_name"),
                fee: item.fee,
            });
            if rows.len() >= want {
                break;
            }
        }
        if rows.len() >= want || batch.len() < MAX_LIMIT as usize {
            break;
        }
        after = batch.last().map(|r| r.get("code"));
    }
    Ok(Page::from_rows(key, list, req, rows, |r| {
        vec![r.code.as_str().into()]
    }))
}
