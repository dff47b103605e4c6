//! Intake at the one window (前台综合受理): the window workbench, the intake form and
//! operation, the receipt (受理回执) and the one-time notice (一次性告知书).

use super::lists::{queue_head, queue_page};
use super::*;

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::applicant::{Applicant, ApplicantInput};
use onewindow_domain::cases::{CaseAction, CaseState, IssueMethod};
use onewindow_domain::catalog::{
    self, AcceptanceKind, IntakeDecision, Material, MaterialCheck, ServiceItem,
};
use onewindow_domain::places::{self, Backfill, Channel, Handout, HandoutChoice, PlaceKind};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::cases::{
    self as store_cases, CaseRecord, MaterialLine, NewCase, Queue, WindowFollowUp,
};
use onewindow_store::clock::{format_local, local_date};
use onewindow_store::{catalog as store_catalog, grants, orgs, settings};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/window", get(window_page))
        .route("/window/intake", get(intake_page).post(intake_form))
        .route("/window/cases", get(intake_list_page))
        .route("/cases/{id}/receipt", get(receipt_page))
        .route("/cases/{id}/notice", get(notice_page))
        .route("/api/v1/cases", post(intake_api))
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
    /// 即审即办: the clerk, holding the department's window grant, approves at intake.
    #[serde(default)]
    pub approve_at_window: bool,
    /// The approval opinion (blank reads as "同意").
    #[serde(default)]
    pub window_opinion: Option<String>,
    /// With approval at the window: hand the result over at once, at the window.
    #[serde(default)]
    pub issue_at_once: bool,
    /// The kind of place taking it in; by default the clerk's organisation's own kind
    /// (a community is a 社区服务站). `agency_point` for a 代办点.
    #[serde(default)]
    pub intake_place_kind: Option<PlaceKind>,
    /// How the application came in; by default the place's own counter.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Where the result is handed out: by default picked up where it is taken in.
    #[serde(default)]
    pub handout: HandoutChoice,
    /// 补录: a paper intake taken in during an outage, entered now.
    #[serde(default)]
    pub backfill: Option<BackfillInput>,
    /// Set by the intake form: the channels it may record (not `online`).
    #[serde(skip)]
    pub via_form: bool,
    /// Form fields whose value the form never offers (a tampered select): named as errors.
    #[serde(skip)]
    pub unreadable: Vec<(&'static str, &'static str)>,
}

/// 补录 as entered: the original acceptance time (Beijing, `2026-11-20 10:30`) and why.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct BackfillInput {
    #[serde(default)]
    pub accepted_at: String,
    #[serde(default)]
    pub reason: String,
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
    /// 即审即办 (single items only: a bundle spans departments).
    pub window_approvable: bool,
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
            window_approvable: false,
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
        window_approvable: s.item.approve_at_window,
        owners: vec![s.owner_path],
        materials: s.item.materials,
    })
}

/// The applicant and agent fields of an intake, for the domain's checks.
fn applicant_input(input: &IntakeInput) -> ApplicantInput<'_> {
    ApplicantInput {
        kind: &input.applicant_kind,
        name: &input.applicant_name,
        id: &input.applicant_id,
        phone: &input.applicant_phone,
        agent_name: input.agent_name.as_deref(),
        agent_id: input.agent_id.as_deref(),
        credit_code_override: input.credit_code_override.as_deref(),
    }
}

/// An intake input checked and decided, nothing written yet.
struct Checked {
    today: NaiveDate,
    subject: Subject,
    applicant: Applicant,
    decision: IntakeDecision,
    place_kind: PlaceKind,
    channel: Channel,
    handout: Handout,
    backfill: Option<Backfill>,
}

/// The three places, the channel and the 补录 of an intake, checked by the domain's rules
/// (`domain::places`); failures go into `errors`, each naming its field.
async fn check_places(
    state: &AppState,
    p: &Principal,
    input: &IntakeInput,
    subject: &Subject,
    errors: &mut FieldErrors,
) -> Result<Option<(PlaceKind, Channel, Handout, Option<Backfill>)>, AppError> {
    for (field, message) in &input.unreadable {
        errors.add(field, "unknown", *message);
    }
    let org = orgs::get(state.store.reader(), p.user.org_id).await?;
    let kind = places::intake_place(input.intake_place_kind, org.kind)
        .map_err(|e| errors.add(e.field, e.code, e.message))
        .ok();
    let channel = kind.and_then(|k| {
        places::intake_channel(input.channel, k)
            .map_err(|e| errors.add(e.field, e.code, e.message))
            .ok()
    });
    if input.via_form && channel == Some(Channel::Online) {
        errors.add(
            "channel",
            "online_not_at_window",
            "网上申请由网上渠道提交，窗口受理请选择实际的受理渠道",
        );
    }
    let chosen = match input.handout.place_org_id {
        Some(id) => match orgs::get(state.store.reader(), id).await {
            Ok(o) => Some(o),
            Err(onewindow_store::StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    if let Some(place) = &chosen {
        // A district's item is handed out in its district, as it is taken in there.
        if subject.owners.iter().any(|o| !o.contains(&place.path)) {
            errors.add(
                "handout_place",
                "item_not_handed_out_here",
                format!("“{}”不在该事项的办理范围内，不能在此领取", place.name),
            );
        }
    }
    errors.text(
        "handout_address",
        "邮寄地址",
        input.handout.address.as_deref().unwrap_or(""),
        validation::MAIL_ADDRESS,
    );
    let handout = places::check_handout(
        &input.handout,
        chosen.as_ref().map(|o| (o.id, o.kind, o.name.as_str())),
        p.user.org_id,
    )
    .map_err(|e| errors.add(e.field, e.code, e.message))
    .ok();
    if input.issue_at_once
        && handout
            .as_ref()
            .is_some_and(|h| h.method != IssueMethod::Window || h.org_id != p.user.org_id)
    {
        errors.add(
            "issue_at_once",
            "handout_elsewhere",
            "当场出件须选择在本窗口领取；申请人选择了其他领取方式或地点",
        );
    }
    let mut backfill = None;
    if let Some(b) = &input.backfill {
        if errors.text(
            "backfill_reason",
            "补录原因",
            &b.reason,
            validation::OVERRIDE_REASON,
        ) {
            match places::check_backfill(
                &b.accepted_at,
                &b.reason,
                state.now(),
                validation::OVERRIDE_REASON.max,
            ) {
                Ok(v) => backfill = Some(v),
                Err(e) => errors.add(e.field, e.code, e.message),
            }
        }
        if input.approve_at_window {
            errors.add(
                "approve_at_window",
                "not_with_backfill",
                "补录的办件不能当场审批：请补录后按常规分办到部门",
            );
        }
    }
    Ok(match (kind, channel, handout) {
        (Some(k), Some(c), Some(h)) => Some((k, c, h, backfill)),
        _ => None,
    })
}

/// Validates the input and decides it by the catalog's rules (accept / 容缺 / one-time
/// notice), writing nothing: what [`preview`] shows and [`intake`] then does.
async fn check(state: &AppState, p: &Principal, input: &IntakeInput) -> Result<Checked, AppError> {
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
    let applicant = Applicant::check(&applicant_input(input), today, &mut errors);
    if input.approve_at_window {
        if !subject.window_approvable {
            errors.add(
                "approve_at_window",
                "not_window_approvable",
                "该事项未列入即审即办清单，须分办到部门审批",
            );
        }
        errors.text(
            "window_opinion",
            "审批意见",
            input.window_opinion.as_deref().unwrap_or(""),
            validation::COMMENT,
        );
    } else if input.issue_at_once {
        errors.add(
            "issue_at_once",
            "needs_window_approval",
            "只有窗口当场审批的办件才能当场出件",
        );
    }
    let placed = check_places(state, p, input, &subject, &mut errors).await?;
    let unknown: Vec<&String> = input
        .materials
        .keys()
        .filter(|k| !subject.materials.iter().any(|m| &m.name == *k))
        .collect();
    if let Some(k) = unknown.first() {
        errors.add(
            "materials",
            "unknown_material",
            format!(
                "“{}”不在本事项的材料清单中",
                k.chars().take(validation::LABEL.max).collect::<String>()
            ),
        );
    }
    errors.into_result()?;
    let applicant = applicant.expect("no field error, so the applicant passed its checks");
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
    // Every failed place check added its error above, so this is always there.
    let (place_kind, channel, handout, backfill) = placed
        .ok_or_else(|| AppError::invalid("handout", "invalid", "请核对受理地点、渠道和领取方式"))?;
    if backfill.is_some() && !decision.is_accept() {
        return Err(AppError::invalid(
            "backfill_accepted_at",
            "backfill_not_accepted",
            "补录只适用于已经受理的纸质办件：按所勾选的材料本次将出具一次性告知书",
        ));
    }
    Ok(Checked {
        place_kind,
        channel,
        handout,
        backfill,
        today,
        subject,
        applicant,
        decision,
    })
}

/// The decision intake would make, for the clerk to confirm before anything is recorded
/// (an ID-card reader's Enter must not issue a one-time notice by itself).
pub async fn preview(
    state: &AppState,
    p: &Principal,
    input: &IntakeInput,
) -> Result<IntakeDecision, AppError> {
    Ok(check(state, p, input).await?.decision)
}

/// Front-desk intake: validates, decides (accept / 容缺 / refuse) by the catalog's rules
/// and opens the case, all in one transaction.
pub async fn intake(
    state: &AppState,
    p: &Principal,
    input: &IntakeInput,
) -> Result<CaseRecord, AppError> {
    let Checked {
        today,
        subject,
        applicant,
        decision,
        place_kind,
        channel,
        handout,
        backfill,
    } = check(state, p, input).await?;
    let check = |name: &str| {
        input
            .materials
            .get(name)
            .copied()
            .unwrap_or(MaterialCheck::Missing)
    };
    let cal = state.calendar().await?;
    let action = match &decision {
        IntakeDecision::Accept { kind, .. } => {
            let supplement_due = if *kind == AcceptanceKind::Tolerance {
                let days =
                    settings::get_int(state.store.reader(), "intake.supplement_days").await? as u32;
                // From the acceptance (a 补录's original day), but never already past.
                let from = backfill.as_ref().map_or(today, |b| b.accepted_on);
                Some(
                    cal.add_working_days(from, days)
                        .map_err(|e| AppError::invalid("calendar", e.code(), e.to_string()))?
                        .max(today),
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
    let at_window = input.approve_at_window.then(|| WindowFollowUp {
        opinion: input
            .window_opinion
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .unwrap_or("同意")
            .to_string(),
        issue: input.issue_at_once.then_some(CaseAction::Issue {
            method: IssueMethod::Window,
            tracking_no: None,
            certificate_no: None,
        }),
    });
    let new = NewCase {
        item_code: subject.code.clone(),
        item_version_id: subject.version_id,
        bundle_code: subject.bundle_code.clone(),
        title: subject.title.clone(),
        department_id: subject.department_id,
        intake_org_id: p.user.org_id,
        immediate: subject.immediate,
        window_approvable: subject.window_approvable,
        at_window,
        limit_days: subject.limit_days,
        applicant_kind: input.applicant_kind.clone(),
        applicant_name: input.applicant_name.trim().to_string(),
        applicant_id: applicant.id,
        applicant_id_masked: applicant.id_masked,
        applicant_phone: input.applicant_phone.trim().to_string(),
        agent_name: input
            .agent_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from),
        agent_id: applicant.agent.as_ref().map(|a| a.id.clone()),
        agent_id_masked: applicant.agent.map(|a| a.id_masked),
        materials,
        creator_id: p.user.id,
        intake_place_kind: place_kind,
        channel,
        handout,
        backfill,
    };
    let change = state.change(p.user.who());
    let entropy = rand::thread_rng().next_u64();
    let mut tx = state.store.begin().await?;
    // Read in the intake's own transaction: a grant revoked a moment ago no longer counts.
    if new.at_window.is_some() && !grants::holds(&mut tx, p.user.id, subject.department_id).await? {
        return Err(AppError::invalid(
            "approve_at_window",
            "no_window_grant",
            "您没有该事项所属部门的窗口审批授权，请按常规分办到部门审批",
        ));
    }
    let case = store_cases::intake(&mut tx, &change, &cal, today, &new, &action, entropy).await?;
    // The applicant is at the window: linked to the ticket being served, else a visit.
    crate::visits::at_intake(&mut tx, &change, p, &case, today).await?;
    if let Some(w) = applicant.credit_warning {
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
    /// 即审即办 offered: the item is listed and this clerk holds the department's grant.
    window_approval: bool,
    /// The decision the clerk is asked to confirm: (what it will do, its key, a notice?).
    preview: Option<(String, String, bool)>,
    /// The kinds of place this clerk's organisation can take in as (value, label, chosen);
    /// shown when there is a choice.
    place_kinds: Vec<(&'static str, &'static str, bool)>,
    /// The channels the form may record here (value, label, chosen).
    channels: Vec<(&'static str, &'static str, bool)>,
    /// Handout methods (value, label, chosen).
    handout_methods: Vec<(&'static str, &'static str, bool)>,
    /// The halls and stations the result can be picked up at (id, name, chosen).
    handout_places: Vec<(i64, String, bool)>,
    /// How far back a 补录 may go, in days.
    backfill_days: i64,
    /// The clerk's organisation: where the application is taken in.
    intake_org_name: String,
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
    /// A case whose one-time notice was retracted: its applicant is filled in again, so
    /// the clerk takes the application in anew without retyping it.
    again: Option<i64>,
}

async fn intake_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    (item, bundle): (&str, &str),
    errors: Vec<FieldError>,
    form: FormData,
    preview: Option<&IntakeDecision>,
) -> PageResult {
    let s = subject(state, Some(item), Some(bundle)).await?;
    let window_approval = s.window_approvable && {
        let mut conn = state.store.reader().acquire().await?;
        grants::holds(&mut conn, p.user.id, s.department_id).await?
    };
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
    let org = orgs::get(state.store.reader(), p.user.org_id).await?;
    let chosen_kind = PlaceKind::parse(form.get("intake_place_kind"))
        .filter(|k| k.possible_at(org.kind))
        .unwrap_or_else(|| PlaceKind::default_for(org.kind));
    let place_kinds: Vec<_> = PlaceKind::ALL
        .into_iter()
        .filter(|k| k.possible_at(org.kind))
        .map(|k| (k.as_str(), k.label(), k == chosen_kind))
        .collect();
    let chosen_channel =
        Channel::parse(form.get("channel")).unwrap_or_else(|| Channel::default_for(chosen_kind));
    let channels = Channel::ALL
        .into_iter()
        .filter(|c| c.on_intake_form())
        .map(|c| (c.as_str(), c.label(), c == chosen_channel))
        .collect();
    let chosen_method = IssueMethod::parse(form.get("handout_method")).unwrap_or_default();
    let handout_methods = IssueMethod::ALL
        .into_iter()
        .map(|m| (m.as_str(), m.label(), m == chosen_method))
        .collect();
    // The halls and stations inside every owner of the item (the deepest owner first).
    let within = s
        .owners
        .iter()
        .max_by_key(|o| o.ids().len())
        .cloned()
        .unwrap_or_else(|| p.user.org_path.clone());
    let chosen_place = form
        .get("handout_place")
        .parse::<i64>()
        .unwrap_or(p.user.org_id);
    let handout_places = onewindow_store::places::handout_places(state.store.reader(), &within)
        .await?
        .into_iter()
        .filter(|pl| s.owners.iter().all(|o| o.contains(&pl.path)))
        .map(|pl| {
            let label = format!("{}（{}）", pl.name, PlaceKind::default_for(pl.kind).label());
            (pl.id, label, pl.id == chosen_place)
        })
        .collect();
    let refused = !errors.is_empty();
    render_form(
        &IntakePage {
            place_kinds,
            channels,
            handout_methods,
            handout_places,
            backfill_days: places::BACKFILL_MAX_DAYS,
            intake_org_name: p.user.org_name.clone(),
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
            window_approval,
            preview: preview.map(|d| (d.summary(), d.key(), !d.is_accept())),
            materials,
            errors,
            form,
        },
        refused,
    )
}

async fn intake_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<IntakeQuery>,
) -> PageResult {
    p.require(Permission::HandleIntake)?;
    let mut form = FormData::default();
    if let Some(id) = q.again {
        let old = get_case(&state, &p, id).await?;
        // Only the place that took it in takes it in again: the form shows the applicant's
        // identifiers in full.
        if p.authorize(Permission::HandleIntake, &old.intake_path)
            .is_err()
        {
            return Err(AppError::NotFound.into());
        }
        if old.state != CaseState::NoticeRetracted {
            return Err(AppError::Conflict {
                code: "notice_not_retracted",
                message: "只有撤回了一次性告知书的办件才能据此重新受理".into(),
            }
            .into());
        }
        form.0.extend([
            ("applicant_kind".into(), old.applicant_kind),
            ("applicant_name".into(), old.applicant_name),
            ("applicant_id".into(), old.applicant_id),
            ("applicant_phone".into(), old.applicant_phone),
        ]);
    }
    intake_view(&state, &p, &ctx, (&q.item, &q.bundle), vec![], form, None).await
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
    let mut unreadable = Vec::new();
    let intake_place_kind = match form.get("intake_place_kind").trim() {
        "" => None,
        v => PlaceKind::parse(v).or_else(|| {
            unreadable.push(("intake_place_kind", "未知的受理地点类型"));
            None
        }),
    };
    let channel = match form.get("channel").trim() {
        "" => None,
        v => Channel::parse(v).or_else(|| {
            unreadable.push(("channel", "未知的受理渠道"));
            None
        }),
    };
    let method = match form.get("handout_method").trim() {
        "" => None,
        v => IssueMethod::parse(v).or_else(|| {
            unreadable.push(("handout_method", "未知的领取方式"));
            None
        }),
    };
    // A pick-up place only counts for a pick-up; the address only for mail (the form keeps
    // both inputs on the page whichever is chosen).
    let pickup = method.unwrap_or_default() == IssueMethod::Window;
    let place_org_id = match form.get("handout_place").trim() {
        "" => None,
        _ if !pickup => None,
        v => v.parse::<i64>().ok().or_else(|| {
            unreadable.push(("handout_place", "未知的领取地点"));
            None
        }),
    };
    let backfill = (!form.get("backfill_accepted_at").trim().is_empty()
        || !form.get("backfill_reason").trim().is_empty())
    .then(|| BackfillInput {
        accepted_at: form.get("backfill_accepted_at").to_string(),
        reason: form.get("backfill_reason").to_string(),
    });
    IntakeInput {
        intake_place_kind,
        channel,
        handout: HandoutChoice {
            method,
            place_org_id,
            address: opt("handout_address").filter(|_| method == Some(IssueMethod::Mail)),
        },
        backfill,
        via_form: true,
        unreadable,
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
        approve_at_window: form.checked("approve_at_window"),
        window_opinion: opt("window_opinion"),
        issue_at_once: form.checked("issue_at_once"),
    }
}

async fn intake_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let input = input_from_form(&form);
    // The decision is shown before it is made: a post without the confirmation of exactly
    // this decision (Enter from a card reader, a changed tick) shows it and records nothing.
    let outcome = match preview(&state, &p, &input).await {
        Ok(d) if form.get("confirmed") != d.key() => Err(Some(d)),
        Ok(_) => Ok(intake(&state, &p, &input).await),
        Err(e) => Ok(Err(e)),
    };
    let result = match outcome {
        Err(decision) => {
            return intake_view(
                &state,
                &p,
                &ctx,
                (
                    input.item_code.as_deref().unwrap_or(""),
                    input.bundle_code.as_deref().unwrap_or(""),
                ),
                vec![],
                form,
                decision.as_ref(),
            )
            .await
        }
        Ok(r) => r,
    };
    match result {
        Ok(case) if case.state == CaseState::Refused => {
            Ok(Redirect::to(&format!("/cases/{}/notice", case.id)).into_response())
        }
        Ok(case) => Ok(Redirect::to(&format!("/cases/{}/receipt", case.id)).into_response()),
        Err(AppError::Invalid(f)) => {
            intake_view(
                &state,
                &p,
                &ctx,
                (
                    input.item_code.as_deref().unwrap_or(""),
                    input.bundle_code.as_deref().unwrap_or(""),
                ),
                f.0,
                form,
                None,
            )
            .await
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
    /// The tracking page with this case's number and code filled in.
    track_url: String,
    /// The same address as a QR code (inline SVG), for a phone's camera.
    track_qr: String,
    /// The short address of the rating page (好差评) once the case is finished.
    rating_url: String,
    /// Where and how the result reaches the applicant, in words.
    handout: String,
    /// When it was entered (for a 补录, later than `accepted_at`).
    entered_at: String,
}

async fn receipt_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
) -> PageResult {
    let case = get_case(&state, &p, id).await?;
    if case.accepted_on.is_none() {
        return Err(AppError::Conflict {
            code: "not_accepted",
            message: "该办件未受理，没有受理回执".into(),
        }
        .into());
    }
    let track_url = track_url(&state, &headers, &case);
    render(&ReceiptPage {
        chrome: Chrome::new(&state, &ctx, "受理回执"),
        kind_label: kind_label(case.acceptance_kind),
        // A 补录 was accepted when the paper was taken in, not when it was entered.
        accepted_at: format_local(case.backfill_accepted_at.unwrap_or(case.created_at)),
        clerk: case.creator_name.clone(),
        track_qr: crate::qr::svg(&track_url, "扫码查看办理进度").unwrap_or_default(),
        track_url,
        rating_url: rating_url(&state, &headers, &case),
        handout: handout_text(&case),
        entered_at: format_local(case.created_at),
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
    clerk: String,
    track_url: String,
}

async fn notice_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
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
        clerk: case.creator_name.clone(),
        track_url: track_url(&state, &headers, &case),
        at: format_local(case.created_at),
        case,
        item,
        missing,
    })
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

/// The full address of the case's tracking page, as printed for the applicant: the
/// configured public address (`--public-url`), else the address this request came to.
fn track_url(state: &AppState, headers: &axum::http::HeaderMap, case: &CaseRecord) -> String {
    format!(
        "{}/track?case_no={}&code={}",
        public_base(state, headers),
        case.case_no,
        case.query_code
    )
}

/// The short address of the case's rating page (好差评), printed on the receipt.
pub(crate) fn rating_url(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    case: &CaseRecord,
) -> String {
    format!("{}/pj/{}", public_base(state, headers), case.case_no)
}

/// Where residents reach the product: the configured public address (`--public-url`),
/// else the address this request came to.
pub(crate) fn public_base(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if state.config.secure_cookies {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    })
}
