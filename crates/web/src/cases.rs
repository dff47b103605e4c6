//! Cases at the one window: intake (前台综合受理) with the receipt or one-time notice,
//! the department queue (后台审批), the issuance window (统一出件), and public tracking.

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::pages::render;
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Datelike;
use chrono::NaiveDate;
use onewindow_domain::access::{Permission, Role};
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::cases::{
    self as machine, CaseAction, CaseState, IssueMethod, Light, Performer,
};
use onewindow_domain::catalog::{
    self, AcceptanceKind, IntakeDecision, Material, MaterialCheck, ServiceItem,
};
use onewindow_domain::ids::{mask_id_card, CreditCode, IdCardNumber, MobileNumber};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::cases::{
    self as store_cases, CaseEvent, CaseList, CaseRecord, CaseSummary, MaterialLine, NewCase,
    Queue, Sort,
};
use onewindow_store::clock::{format_local, local_date};
use onewindow_store::page::{ListId, Page, PageRequest};
use onewindow_store::{catalog as store_catalog, settings};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/window", get(window_page))
        .route("/window/intake", get(intake_page).post(intake_form))
        .route("/window/cases", get(intake_list_page))
        .route("/window/issuance", get(issuance_page))
        .route("/dept", get(dept_page))
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/act", post(act_form))
        .route("/cases/{id}/receipt", get(receipt_page))
        .route("/cases/{id}/notice", get(notice_page))
        .route("/track", get(track_page))
        .route("/api/v1/cases", get(list_api).post(intake_api))
        .route("/api/v1/cases/{id}", get(get_api))
        .route("/api/v1/cases/{id}/actions", post(act_api))
        .route("/api/v1/track", get(track_api))
        .route("/api/v1/jobs/deadlines", post(deadlines_api))
}

// ---- operations ----

/// What the window clerk enters at intake.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct IntakeInput {
    #[serde(default)]
    pub item_code: Option<String>,
    #[serde(default)]
    pub bundle_code: Option<String>,
    /// `person` or `company`.
    pub applicant_kind: String,
    pub applicant_name: String,
    pub applicant_id: String,
    pub applicant_phone: String,
    #[serde(default)]
    pub agent_name: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Material name → what was ticked. Absent means missing.
    #[serde(default)]
    pub materials: HashMap<String, MaterialCheck>,
    #[serde(default)]
    pub commitment_signed: bool,
    /// Why a credit code that fails its check character is accepted anyway.
    #[serde(default)]
    pub credit_code_override: Option<String>,
}

/// What is being applied for: one item or a bundle, resolved to current versions.
pub struct Subject {
    pub code: String,
    pub bundle_code: Option<String>,
    pub title: String,
    pub version_id: i64,
    pub department_id: i64,
    pub materials: Vec<Material>,
    pub limit_days: u32,
    pub immediate: bool,
    pub commitment_allowed: bool,
    /// The organisations owning the item(s): a case is taken in only inside all of them.
    pub owners: Vec<onewindow_domain::org::OrgPath>,
}

pub async fn subject(
    state: &AppState,
    item_code: Option<&str>,
    bundle_code: Option<&str>,
) -> Result<Subject, AppError> {
    if let Some(code) = bundle_code.filter(|c| !c.is_empty()) {
        let v = crate::catalog::bundle_view(state, code).await?;
        let lead = v.items.first().ok_or(AppError::NotFound)?;
        return Ok(Subject {
            code: lead.item.code.clone(),
            bundle_code: Some(v.bundle.code.clone()),
            title: v.bundle.name.clone(),
            version_id: lead.version_id,
            department_id: lead.department_id,
            materials: v.materials,
            limit_days: v.limit_days,
            immediate: v.limit_days == 0,
            commitment_allowed: v.items.iter().all(|s| s.item.commitment_allowed),
            owners: v.items.iter().map(|s| s.owner_path.clone()).collect(),
        });
    }
    let code = item_code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AppError::invalid("item_code", "required", "请选择办理事项"))?;
    let s = store_catalog::get_effective(state.store.reader(), code, local_date(state.now()))
        .await
        .map_err(|e| match e {
            onewindow_store::StoreError::NotFound => {
                AppError::invalid("item_code", "not_found", "事项不存在")
            }
            e => e.into(),
        })?;
    Ok(Subject {
        code: s.item.code.clone(),
        bundle_code: None,
        title: s.item.name.clone(),
        version_id: s.version_id,
        department_id: s.department_id,
        limit_days: s.item.promised_limit_days,
        immediate: s.item.is_immediate(),
        commitment_allowed: s.item.commitment_allowed,
        owners: vec![s.owner_path],
        materials: s.item.materials,
    })
}

/// Checks the applicant and agent, returning (stored id, masked id).
fn check_people(
    input: &IntakeInput,
    today: NaiveDate,
    errors: &mut FieldErrors,
) -> (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    errors.required(
        "applicant_name",
        "申请人姓名或单位名称",
        &input.applicant_name,
    );
    // Bounded and free of control characters before anything parses or stores them.
    let texts = [
        (
            "applicant_name",
            "申请人姓名或单位名称",
            Some(&input.applicant_name),
            validation::APPLICANT_NAME,
        ),
        (
            "applicant_id",
            "证件号码",
            Some(&input.applicant_id),
            validation::ID_NUMBER,
        ),
        (
            "applicant_phone",
            "手机号码",
            Some(&input.applicant_phone),
            validation::PHONE,
        ),
        (
            "agent_name",
            "代办人姓名",
            input.agent_name.as_ref(),
            validation::PERSON_NAME,
        ),
        (
            "agent_id",
            "代办人身份证号码",
            input.agent_id.as_ref(),
            validation::ID_NUMBER,
        ),
        (
            "credit_code_override",
            "核实理由",
            input.credit_code_override.as_ref(),
            validation::OVERRIDE_REASON,
        ),
    ];
    let mut bad = Vec::new();
    for (field, label, value, limit) in texts {
        if !errors.text(field, label, value.map_or("", |v| v.as_str()), limit) {
            bad.push(field);
        }
    }
    if !bad.is_empty() {
        // The identifiers' own parsers would only repeat the error about the same field.
        return (String::new(), String::new(), None, None, None);
    }
    let (mut id, mut masked) = (String::new(), String::new());
    let mut credit_warning = None;
    match input.applicant_kind.as_str() {
        "person" => match IdCardNumber::parse(&input.applicant_id, today) {
            Ok(v) => {
                masked = v.masked();
                id = v.as_str().to_string();
            }
            Err(e) => errors.add("applicant_id", e.code(), format!("身份证号码有误：{e}")),
        },
        "company" => match CreditCode::parse_lenient(&input.applicant_id) {
            Ok(c) => {
                if let Some(w) = c.check_warning() {
                    match input.credit_code_override.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                        Some(reason) => credit_warning = Some(format!("{w}；窗口核实理由：{reason}")),
                        None => errors.add(
                            "applicant_id",
                            "check_character_warning",
                            format!("统一社会信用代码{w}。如已核对营业执照原件无误，请填写核实理由后再提交"),
                        ),
                    }
                }
                masked = mask_id_card(c.as_str());
                id = c.as_str().to_string();
            }
            Err(e) => errors.add(
                "applicant_id",
                e.code(),
                format!("统一社会信用代码有误：{e}"),
            ),
        },
        _ => errors.add(
            "applicant_kind",
            "unknown",
            "请选择申请人类型（个人或单位）",
        ),
    }
    if let Err(e) = MobileNumber::parse(&input.applicant_phone) {
        errors.add("applicant_phone", e.code(), format!("手机号码有误：{e}"));
    }
    let (mut agent_id, mut agent_masked) = (None, None);
    let agent_name = input
        .agent_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(_name) = agent_name {
        match IdCardNumber::parse(input.agent_id.as_deref().unwrap_or(""), today) {
            Ok(v) => {
                agent_masked = Some(v.masked());
                agent_id = Some(v.as_str().to_string());
            }
            Err(e) => errors.add("agent_id", e.code(), format!("代办人身份证号码有误：{e}")),
        }
    }
    (id, masked, agent_id, agent_masked, credit_warning)
}

/// Front-desk intake: validates, decides (accept / 容缺 / refuse) by the catalog's rules
/// and opens the case, all in one transaction.
pub async fn intake(
    state: &AppState,
    p: &Principal,
    input: &IntakeInput,
) -> Result<CaseRecord, AppError> {
    p.require(Permission::HandleIntake)?;
    let now = state.now();
    let today = local_date(now);
    let subject = subject(
        state,
        input.item_code.as_deref(),
        input.bundle_code.as_deref(),
    )
    .await?;
    let mut errors = FieldErrors::new();
    // A district's item serves its district: a hall outside the owner's tree may not take
    // it in (the store checks the same rule again when it writes the case).
    if subject.owners.iter().any(|o| !o.contains(&p.user.org_path)) {
        let e = onewindow_domain::access::RoutingError::IntakeOutsideOwner;
        let field = match subject.bundle_code {
            Some(_) => "bundle_code",
            None => "item_code",
        };
        errors.add(field, e.code(), e.to_string());
    }
    let (applicant_id, applicant_masked, agent_id, agent_masked, credit_warning) =
        check_people(input, today, &mut errors);
    let unknown: Vec<&String> = input
        .materials
        .keys()
        .filter(|k| !subject.materials.iter().any(|m| &m.name == *k))
        .collect();
    if let Some(k) = unknown.first() {
        errors.add(
            "materials",
            "unknown_material",
            format!("“{k}”不在本事项的材料清单中"),
        );
    }
    errors.into_result()?;
    let check = |name: &str| {
        input
            .materials
            .get(name)
            .copied()
            .unwrap_or(MaterialCheck::Missing)
    };
    let decision = catalog::decide_intake(
        &subject.materials,
        check,
        subject.commitment_allowed,
        input.commitment_signed,
    );
    let cal = state.calendar().await?;
    let action = match &decision {
        IntakeDecision::Accept { kind, .. } => {
            let supplement_due = if *kind == AcceptanceKind::Tolerance {
                let days =
                    settings::get_int(state.store.reader(), "intake.supplement_days").await? as u32;
                Some(
                    cal.add_working_days(today, days)
                        .map_err(|e| AppError::invalid("calendar", e.code(), e.to_string()))?,
                )
            } else {
                None
            };
            CaseAction::Accept {
                kind: *kind,
                supplement_due,
            }
        }
        IntakeDecision::Refuse { missing } => CaseAction::Refuse {
            missing: missing.clone(),
        },
    };
    let materials = subject
        .materials
        .iter()
        .map(|m| MaterialLine::ticked(m, check(&m.name)))
        .collect();
    let new = NewCase {
        item_code: subject.code.clone(),
        item_version_id: subject.version_id,
        bundle_code: subject.bundle_code.clone(),
        title: subject.title.clone(),
        department_id: subject.department_id,
        intake_org_id: p.user.org_id,
        immediate: subject.immediate,
        limit_days: subject.limit_days,
        applicant_kind: input.applicant_kind.clone(),
        applicant_name: input.applicant_name.trim().to_string(),
        applicant_id,
        applicant_id_masked: applicant_masked,
        applicant_phone: input.applicant_phone.trim().to_string(),
        agent_name: input
            .agent_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from),
        agent_id,
        agent_id_masked: agent_masked,
        materials,
        creator_id: p.user.id,
    };
    let change = state.change(p.user.who());
    let entropy = rand::thread_rng().next_u64();
    let mut tx = state.store.begin().await?;
    let case = store_cases::intake(&mut tx, &change, &cal, today, &new, &action, entropy).await?;
    if let Some(w) = credit_warning {
        onewindow_store::audit::append(
            &mut tx,
            &change,
            "case.credit_code_override",
            "case",
            &case.case_no,
            &json!({ "warning": w }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(case)
}

/// The role this user acts in for an action, or why they may not.
fn performer_for(p: &Principal, action: &CaseAction) -> Result<Performer, AppError> {
    p.user
        .roles
        .iter()
        .map(|r| Performer::Staff(*r))
        .find(|perf| machine::allowed_performers(action).contains(perf))
        .ok_or(AppError::Forbidden(onewindow_domain::access::Denied::Role))
}

/// Reads a case the caller may see: clerks and supervisors by the hall, approvers by the
/// department the case is routed to.
pub async fn get_case(state: &AppState, p: &Principal, id: i64) -> Result<CaseRecord, AppError> {
    p.require(Permission::ViewCases)?;
    let case = store_cases::get(state.store.reader(), id).await?;
    let in_scope = p
        .authorize(Permission::ViewCases, &case.intake_path)
        .is_ok()
        || p.authorize(Permission::ViewCases, &case.department_path)
            .is_ok();
    if !in_scope {
        // Looks exactly like an unknown id: the caller learns nothing about other halls.
        return Err(AppError::NotFound);
    }
    Ok(case)
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
    let target = match performer {
        Performer::Staff(Role::Approver) => &case.department_path,
        _ => &case.intake_path,
    };
    let permission = if matches!(performer, Performer::Staff(Role::Approver)) {
        Permission::ReviewCases
    } else {
        Permission::HandleIntake
    };
    p.authorize_visible(permission, target)?;
    check_action_text(action)?;
    let cal = state.calendar().await?;
    let mut tx = state.store.begin().await?;
    let case = store_cases::transition(
        &mut tx,
        &state.change(p.user.who()),
        &cal,
        local_date(state.now()),
        id,
        version,
        performer,
        action,
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
        _ => {}
    }
    e.into_result()
}

/// Public tracking by case number and query code; a wrong code looks like no case.
pub async fn track(
    state: &AppState,
    case_no: &str,
    code: &str,
) -> Result<(CaseRecord, Vec<CaseEvent>), AppError> {
    // Residents type on phones and Chinese input methods: full-width digits, spaces,
    // dashes and lower case are all accepted.
    let case_no = halfwidth(case_no).trim().to_ascii_uppercase();
    if machine::parse_case_number(&case_no).is_none() {
        return Err(AppError::NotFound);
    }
    let given = machine::normalize_query_code(&halfwidth(code)).ok_or(AppError::NotFound)?;
    let case = store_cases::by_number(state.store.reader(), &case_no)
        .await
        .map_err(|_| AppError::NotFound)?;
    if given.len() != case.query_code.len()
        || !given
            .bytes()
            .zip(case.query_code.bytes())
            .fold(true, |ok, (a, b)| ok & (a == b))
    {
        return Err(AppError::NotFound);
    }
    let events = store_cases::events(state.store.reader(), case.id).await?;
    Ok((case, events))
}

/// Full-width ASCII (Ａ１２, the ideographic space) to its half-width form.
fn halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// Deadline lights for listing, by the thresholds in settings.
pub struct Lights {
    cal: Arc<WorkCalendar>,
    today: NaiveDate,
    yellow: u32,
    red: u32,
}

impl Lights {
    pub async fn load(state: &AppState) -> Result<Lights, AppError> {
        Ok(Lights {
            cal: state.calendar().await?,
            today: local_date(state.now()),
            yellow: settings::get_int(state.store.reader(), "deadline.yellow_days").await? as u32,
            red: settings::get_int(state.store.reader(), "deadline.red_days").await? as u32,
        })
    }

    /// The light and working days left, for a case whose clock is running.
    pub fn of(&self, case: &CaseRecord) -> Option<(Light, i64)> {
        self.of_state(case.state, case.due_date)
    }

    /// The light of a case in `state` due on `due`: only while its clock runs (the same
    /// states the light filter of the lists reads).
    pub fn of_state(&self, state: CaseState, due: Option<NaiveDate>) -> Option<(Light, i64)> {
        let due = due?;
        if !state.clock_running() {
            return None;
        }
        // Overdue is a matter of dates alone, even where the calendar has no data yet.
        if self.today > due {
            return Some((Light::Overdue, 0));
        }
        let light = machine::light(&self.cal, self.today, due, self.yellow, self.red).ok()?;
        let left = self.cal.working_days_between(self.today, due).ok()?;
        Some((light, left))
    }

    /// The due dates that show `light` today, as the domain defines them.
    fn due_range(&self, light: Light) -> Result<(Option<NaiveDate>, Option<NaiveDate>), AppError> {
        machine::light_due_range(&self.cal, self.today, light, self.yellow, self.red)
            .map_err(|e| AppError::invalid("light", e.code(), e.to_string()))
    }
}

/// A case as the detail page shows it.
#[derive(Serialize)]
pub struct CaseRow {
    pub case: CaseRecord,
    pub state_label: &'static str,
    pub light: Option<&'static str>,
    pub light_label: Option<&'static str>,
    pub days_left: Option<i64>,
}

fn rows(cases: Vec<CaseRecord>, lights: &Lights) -> Vec<CaseRow> {
    cases
        .into_iter()
        .map(|c| {
            let l = lights.of(&c);
            CaseRow {
                state_label: c.state.label(),
                light: l.map(|(l, _)| l.as_str()),
                light_label: l.map(|(l, _)| l.label()),
                days_left: l.map(|(_, d)| d),
                case: c,
            }
        })
        .collect()
}

/// A row of a case list (API and pages): the compact case, its state's name and its light.
#[derive(Debug, Serialize)]
pub struct ListRow {
    #[serde(flatten)]
    pub case: CaseSummary,
    pub state_label: &'static str,
    pub light: Option<&'static str>,
    pub light_label: Option<&'static str>,
    pub days_left: Option<i64>,
}

impl ListRow {
    fn new(case: CaseSummary, lights: &Lights) -> ListRow {
        let l = lights.of_state(case.state, case.due_date);
        ListRow {
            state_label: case.state.label(),
            light: l.map(|(l, _)| l.as_str()),
            light_label: l.map(|(l, _)| l.label()),
            days_left: l.map(|(_, d)| d),
            case,
        }
    }
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
    let q = halfwidth(raw).trim().to_string();
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

/// A Beijing date `YYYY-MM-DD` (exactly that form, years 2000–2100).
pub(crate) fn parse_day(
    field: &str,
    label: &str,
    raw: &str,
    errors: &mut FieldErrors,
) -> Option<NaiveDate> {
    let v = raw.trim();
    if v.is_empty() {
        return None;
    }
    let ok = v.len() == 10
        && v.as_bytes()[4] == b'-'
        && v.as_bytes()[7] == b'-'
        && v.bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    match NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .filter(|d| ok && (2000..=2100).contains(&d.year()))
    {
        Some(d) => Some(d),
        None => {
            errors.add(
                field,
                "invalid_date",
                format!("{label}须为 YYYY-MM-DD 格式的日期，例如 2026-11-23"),
            );
            None
        }
    }
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

/// The first moment (UTC microseconds) of a Beijing date.
pub(crate) fn day_start(d: NaiveDate) -> i64 {
    use chrono::TimeZone;
    onewindow_store::clock::china()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("a fixed offset has one midnight")
        .timestamp_micros()
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

// ---- pages ----

#[derive(Template)]
#[template(path = "window.html")]
struct WindowPage {
    chrome: Chrome,
    issuance: Vec<ListRow>,
    issuance_next: Option<String>,
    recent: Vec<ListRow>,
    recent_next: Option<String>,
    q: String,
    items: Vec<store_catalog::ItemSummary>,
    bundles: Vec<catalog::Bundle>,
}

#[derive(Deserialize, Default)]
struct WindowQuery {
    #[serde(default)]
    q: String,
}

/// The first page of a queue, and the link to its next page on the queue's own page.
async fn queue_head(
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

async fn window_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<WindowQuery>,
) -> PageResult {
    p.require(Permission::HandleIntake)?;
    let (issuance, issuance_next) =
        queue_head(&state, &p, Queue::Issuance, "/window/issuance").await?;
    let (recent, recent_next) = queue_head(&state, &p, Queue::Intake, "/window/cases").await?;
    let items = if q.q.trim().is_empty() {
        vec![]
    } else {
        let query = crate::catalog::SearchQuery {
            q: q.q.clone(),
            class: String::new(),
        };
        crate::catalog::search(&state, &query).await?
    };
    let bundles = store_catalog::bundles(state.store.reader()).await?;
    render(&WindowPage {
        chrome: Chrome::new(&state, &ctx, "综合受理"),
        issuance,
        issuance_next,
        recent,
        recent_next,
        q: q.q,
        items,
        bundles,
    })
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
async fn queue_page(
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
    let status = if list.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&CaseListPage {
        chrome: Chrome::new(state, ctx, heading),
        heading,
        lead,
        show_dates: queue == Queue::Intake,
        list,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn intake_list_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    RawQuery(raw): RawQuery,
) -> PageResult {
    p.require(Permission::HandleIntake)?;
    queue_page(
        &state,
        &p,
        &ctx,
        raw.as_deref(),
        Queue::Intake,
        "/window/cases",
    )
    .await
}

async fn issuance_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    RawQuery(raw): RawQuery,
) -> PageResult {
    p.require(Permission::HandleIntake)?;
    queue_page(
        &state,
        &p,
        &ctx,
        raw.as_deref(),
        Queue::Issuance,
        "/window/issuance",
    )
    .await
}

pub struct MaterialInput {
    pub m: Material,
    pub form: &'static str,
    pub checked: &'static str,
}

#[derive(Template)]
#[template(path = "intake.html")]
struct IntakePage {
    chrome: Chrome,
    item_code: String,
    bundle_code: String,
    title: String,
    limit_days: u32,
    immediate: bool,
    commitment_allowed: bool,
    materials: Vec<MaterialInput>,
    errors: Vec<FieldError>,
    form: FormData,
}

#[derive(Deserialize, Default)]
struct IntakeQuery {
    #[serde(default)]
    item: String,
    #[serde(default)]
    bundle: String,
}

async fn intake_view(
    state: &AppState,
    ctx: &Ctx,
    item: &str,
    bundle: &str,
    errors: Vec<FieldError>,
    form: FormData,
) -> PageResult {
    let s = subject(state, Some(item), Some(bundle)).await?;
    let materials = s
        .materials
        .iter()
        .map(|m| {
            let checked = match form.get(&format!("m:{}", m.name)) {
                "e_cert" => "e_cert",
                "missing" => "missing",
                "submitted" => "submitted",
                _ => "",
            };
            MaterialInput {
                form: m.form.label(),
                checked,
                m: m.clone(),
            }
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&IntakePage {
        chrome: Chrome::new(state, ctx, format!("受理：{}", s.title)),
        item_code: if s.bundle_code.is_some() {
            String::new()
        } else {
            s.code.clone()
        },
        bundle_code: s.bundle_code.clone().unwrap_or_default(),
        title: s.title,
        limit_days: s.limit_days,
        immediate: s.immediate,
        commitment_allowed: s.commitment_allowed,
        materials,
        errors,
        form,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn intake_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<IntakeQuery>,
) -> PageResult {
    p.require(Permission::HandleIntake)?;
    intake_view(
        &state,
        &ctx,
        &q.item,
        &q.bundle,
        vec![],
        FormData::default(),
    )
    .await
}

fn input_from_form(form: &FormData) -> IntakeInput {
    let mut materials = HashMap::new();
    for (k, v) in &form.0 {
        if let Some(name) = k.strip_prefix("m:") {
            let check = match v.as_str() {
                "submitted" => MaterialCheck::Submitted,
                "e_cert" => MaterialCheck::ElectronicCert,
                _ => MaterialCheck::Missing,
            };
            materials.insert(name.to_string(), check);
        }
    }
    let opt = |k: &str| Some(form.get(k).to_string()).filter(|v| !v.trim().is_empty());
    IntakeInput {
        item_code: opt("item_code"),
        bundle_code: opt("bundle_code"),
        applicant_kind: form.get("applicant_kind").to_string(),
        applicant_name: form.get("applicant_name").to_string(),
        applicant_id: form.get("applicant_id").to_string(),
        applicant_phone: form.get("applicant_phone").to_string(),
        agent_name: opt("agent_name"),
        agent_id: opt("agent_id"),
        materials,
        commitment_signed: form.checked("commitment_signed"),
        credit_code_override: opt("credit_code_override"),
    }
}

async fn intake_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let input = input_from_form(&form);
    match intake(&state, &p, &input).await {
        Ok(case) if case.state == CaseState::Refused => {
            Ok(Redirect::to(&format!("/cases/{}/notice", case.id)).into_response())
        }
        Ok(case) => Ok(Redirect::to(&format!("/cases/{}/receipt", case.id)).into_response()),
        Err(AppError::Invalid(f)) => {
            intake_view(
                &state,
                &ctx,
                input.item_code.as_deref().unwrap_or(""),
                input.bundle_code.as_deref().unwrap_or(""),
                f.0,
                form,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
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

fn available_actions(p: &Principal, case: &CaseRecord, today: NaiveDate) -> Vec<ActionForm> {
    let facts = machine::CaseFacts {
        state: case.state,
        immediate: case.immediate,
        supplement_pending: case.supplement_pending,
        supplement_due: case.supplement_due,
        today,
    };
    // Representative actions with valid payloads: only state and role decide visibility.
    let candidates: Vec<(&'static str, CaseAction)> = vec![
        ("take", CaseAction::Take),
        (
            "approve",
            CaseAction::Approve {
                opinion: "同意".into(),
            },
        ),
        (
            "reject",
            CaseAction::Reject {
                reasons: "x".into(),
                legal_basis: "x".into(),
            },
        ),
        (
            "return",
            CaseAction::Return {
                reasons: "x".into(),
                items: vec![],
            },
        ),
        ("resubmit", CaseAction::Resubmit),
        ("supplement_received", CaseAction::SupplementReceived),
        (
            "complete_at_window",
            CaseAction::CompleteAtWindow {
                opinion: "同意".into(),
            },
        ),
        ("result_ready", CaseAction::ResultReady),
        (
            "issue",
            CaseAction::Issue {
                method: IssueMethod::Window,
                tracking_no: None,
                certificate_no: None,
            },
        ),
        ("close", CaseAction::Close),
        ("withdraw", CaseAction::Withdraw { reason: "x".into() }),
    ];
    candidates
        .into_iter()
        .filter(|(_, a)| {
            performer_for(p, a).is_ok_and(|perf| machine::apply(&facts, perf, a).is_ok())
        })
        .map(|(name, a)| ActionForm {
            name,
            label: a.label(),
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
}

fn kind_label(k: Option<AcceptanceKind>) -> &'static str {
    match k {
        Some(AcceptanceKind::Normal) => "一般受理",
        Some(AcceptanceKind::Tolerance) => "容缺受理",
        Some(AcceptanceKind::Commitment) => "告知承诺受理",
        None => "",
    }
}

async fn case_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: i64,
    notice: Option<String>,
    errors: Vec<FieldError>,
) -> PageResult {
    let case = get_case(state, p, id).await?;
    let lights = Lights::load(state).await?;
    let events = store_cases::events(state.store.reader(), id)
        .await?
        .into_iter()
        .map(|e| (format_local(e.at), e))
        .collect();
    let actions = available_actions(p, &case, local_date(state.now()));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&CasePage {
        chrome: Chrome::new(state, ctx, format!("办件 {}", case.case_no)),
        kind_label: kind_label(case.acceptance_kind),
        row: rows(vec![case], &lights).pop().expect("one row"),
        events,
        actions,
        notice,
        errors,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn case_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    case_view(&state, &p, &ctx, id, None, vec![]).await
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
    Ok(match name {
        "take" => CaseAction::Take,
        "approve" => CaseAction::Approve {
            opinion: get("opinion"),
        },
        "reject" => CaseAction::Reject {
            reasons: get("reasons"),
            legal_basis: get("legal_basis"),
        },
        "return" => CaseAction::Return {
            reasons: get("reasons"),
            items: list("items"),
        },
        "resubmit" => CaseAction::Resubmit,
        "supplement_received" => CaseAction::SupplementReceived,
        "complete_at_window" => CaseAction::CompleteAtWindow {
            opinion: get("opinion"),
        },
        "result_ready" => CaseAction::ResultReady,
        "issue" => CaseAction::Issue {
            method: match get("method").as_str() {
                "mail" => IssueMethod::Mail,
                "electronic" => IssueMethod::Electronic,
                "window" | "" => IssueMethod::Window,
                other => {
                    return Err(AppError::invalid(
                        "method",
                        "unknown",
                        format!("未知出件方式{other}"),
                    ))
                }
            },
            tracking_no: opt("tracking_no"),
            certificate_no: opt("certificate_no"),
        },
        "close" => CaseAction::Close,
        "withdraw" => CaseAction::Withdraw {
            reason: get("reason"),
        },
        other => {
            return Err(AppError::invalid(
                "action",
                "unknown",
                format!("未知操作{other}"),
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
        Ok(case) => {
            if case.state == CaseState::ResultReady || case.state == CaseState::Issued {
                return Ok(Redirect::to(&format!("/cases/{id}")).into_response());
            }
            Ok(Redirect::to(&format!("/cases/{id}")).into_response())
        }
        Err(AppError::Invalid(f)) => case_view(&state, &p, &ctx, id, None, f.0).await,
        Err(AppError::Conflict { message, .. }) => {
            let mut res = case_view(&state, &p, &ctx, id, Some(message), vec![]).await?;
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    chrome: Chrome,
    case: CaseRecord,
    kind_label: &'static str,
    accepted_at: String,
    clerk: String,
}

async fn receipt_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    let case = get_case(&state, &p, id).await?;
    if case.accepted_on.is_none() {
        return Err(AppError::Conflict {
            code: "not_accepted",
            message: "该办件未受理，没有受理回执".into(),
        }
        .into());
    }
    render(&ReceiptPage {
        chrome: Chrome::new(&state, &ctx, "受理回执"),
        kind_label: kind_label(case.acceptance_kind),
        accepted_at: format_local(case.created_at),
        clerk: case.creator_name.clone(),
        case,
    })
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    chrome: Chrome,
    case: CaseRecord,
    item: ServiceItem,
    at: String,
    /// Each missing material with how to bring it (原件1份, source, note).
    missing: Vec<(String, String)>,
}

async fn notice_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    let case = get_case(&state, &p, id).await?;
    if case.state != CaseState::Refused {
        return Err(AppError::Conflict {
            code: "not_refused",
            message: "该办件已受理，没有一次性告知书".into(),
        }
        .into());
    }
    let item = store_catalog::version_body(state.store.reader(), case.item_version_id).await?;
    // How to bring each missing material (原件1份; source; note). A bundle's list spans
    // several items; materials the lead item does not know are listed by name alone.
    let missing = case
        .missing
        .iter()
        .map(|name| {
            let how = item
                .materials
                .iter()
                .find(|m| &m.name == name)
                .map(|m| {
                    let mut parts = vec![format!("{}{}份", m.form.label(), m.copies)];
                    parts.extend(
                        [m.source.clone(), m.note.clone()]
                            .into_iter()
                            .filter(|s| !s.is_empty()),
                    );
                    parts.join("；")
                })
                .unwrap_or_default();
            (name.clone(), how)
        })
        .collect();
    render(&NoticePage {
        chrome: Chrome::new(&state, &ctx, "一次性告知书"),
        at: format_local(case.created_at),
        case,
        item,
        missing,
    })
}

#[derive(Deserialize, Default)]
struct TrackQuery {
    #[serde(default)]
    case_no: String,
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackPage {
    chrome: Chrome,
    case_no: String,
    code: String,
    found: Option<(CaseRecord, String)>,
    events: Vec<(String, CaseEvent)>,
    not_found: bool,
}

async fn track_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<TrackQuery>,
) -> PageResult {
    let mut page = TrackPage {
        chrome: Chrome::new(&state, &ctx, "办件查询"),
        case_no: q.case_no.clone(),
        code: q.code.clone(),
        found: None,
        events: vec![],
        not_found: false,
    };
    if !q.case_no.is_empty() {
        match track(&state, &q.case_no, &q.code).await {
            Ok((case, events)) => {
                let awaited = awaited_text(&case);
                page.events = events
                    .into_iter()
                    .map(|e| (format_local(e.at), e))
                    .collect();
                page.found = Some((case, awaited));
            }
            Err(AppError::NotFound) => page.not_found = true,
            Err(e) => return Err(e.into()),
        }
    }
    render(&page)
}

/// What the resident must do now, in plain words.
pub fn awaited_text(case: &CaseRecord) -> String {
    let owed: Vec<&str> = case
        .materials
        .iter()
        .filter(|m| m.required && m.tolerable && m.check == MaterialCheck::Missing)
        .map(|m| m.name.as_str())
        .collect();
    let due = case
        .supplement_due
        .map(|d| d.to_string())
        .unwrap_or_default();
    match case.state {
        CaseState::Refused => format!(
            "请按一次性告知书补齐以下材料后重新申请：{}。",
            case.missing.join("、")
        ),
        CaseState::Returned => format!(
            "请补正以下内容后到窗口提交：{}。",
            if case.missing.is_empty() {
                "见退回通知".to_string()
            } else {
                case.missing.join("、")
            }
        ),
        // Owed 容缺 materials come first: without them the result is not handed over.
        _ if case.supplement_pending && !case.state.is_terminal() => format!(
            "请于{due}前把{}送到受理窗口{}。",
            if owed.is_empty() {
                "容缺材料".to_string()
            } else {
                owed.join("、")
            },
            if case.state == CaseState::ResultReady {
                "，补齐后即可领取办理结果"
            } else {
                ""
            }
        ),
        CaseState::ResultReady => "办理结果已出，请携带身份证件和受理回执到窗口领取。".into(),
        CaseState::Issued | CaseState::Closed => "已办结，办理结果已交付，无需再做什么。".into(),
        CaseState::Withdrawn | CaseState::Lapsed => "本次申请已终止。如需办理，请重新申请。".into(),
        _ => "暂不需要您做什么，请耐心等待。".into(),
    }
}

// ---- API ----

async fn intake_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<IntakeInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let case = intake(&state, &p, &input).await?;
    Ok((StatusCode::CREATED, Json(case_json(&case, None))))
}

/// A case as the API shows it; `awaited` for public tracking.
pub fn case_json(case: &CaseRecord, events: Option<&[CaseEvent]>) -> Value {
    let mut v = serde_json::to_value(case).expect("case serialises");
    v["state_label"] = json!(case.state.label());
    v["resident_text"] = json!(case.state.resident_text());
    v["awaited"] = json!(awaited_text(case));
    if let Some(ev) = events {
        v["events"] = json!(ev);
    }
    v
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

async fn get_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let case = get_case(&state, &p, id).await?;
    let events = store_cases::events(state.store.reader(), id).await?;
    Ok(Json(case_json(&case, Some(&events))))
}

async fn act_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let name = body
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let get = |k: &str| match body.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    let action = action_from(&name, get)?;
    let version = body.get("version").and_then(Value::as_i64);
    if version.is_none() {
        return Err(
            AppError::invalid("version", "required", "请提供读取时的版本号 version").into(),
        );
    }
    let case = act(&state, &p, id, version, &action).await?;
    Ok(Json(case_json(&case, None)))
}

async fn track_api(
    State(state): State<AppState>,
    Query(q): Query<TrackQuery>,
) -> ApiResult<Json<Value>> {
    let (case, events) = track(&state, &q.case_no, &q.code).await?;
    Ok(Json(json!({
        "case_no": case.case_no,
        "title": case.title,
        "state": case.state,
        "state_label": case.state.label(),
        "resident_text": case.state.resident_text(),
        "awaited": awaited_text(&case),
        "accepted_on": case.accepted_on,
        "due_date": case.due_date,
        "events": events.iter().map(|e| json!({ "at": e.at, "action": e.action, "to_state": e.to_state, "note": e.note })).collect::<Vec<_>>(),
    })))
}

/// Runs the deadline job once at the app's clock (also run every minute by `serve`).
async fn deadlines_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<store_cases::DeadlineRun>> {
    // The job marks cases of the whole installation: run by hand only at the root.
    onewindow_domain::access::authorize_reference_data(
        &p.actor(),
        onewindow_domain::access::ReferenceData::DeadlineJob,
    )?;
    crate::queue::mark_no_shows(&state).await?;
    Ok(Json(run_deadline_job(&state).await?))
}

pub async fn run_deadline_job(state: &AppState) -> Result<store_cases::DeadlineRun, AppError> {
    let cal = state.calendar().await?;
    let change = state.change(onewindow_store::audit::Who::system("deadline-job"));
    Ok(store_cases::run_deadlines(&state.store, &change, &cal, local_date(change.at)).await?)
}
