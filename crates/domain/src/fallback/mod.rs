//! 办不成事 fallback window (seed 002, 国办发〔2022〕5号): what the window takes, who owns a
//! case, how it is coordinated, and how it closes — the pure rules. The store keeps the
//! records; the escalation engine times each stage.
//!
//! The closed loop 受理—分类—转办—办结—反馈—核查—备案 is [`State`]; every act is an
//! [`Act`] checked by [`next_state`] (the only place the order is decided). Who may take an
//! act is [`may_act`]: the officer who took the case (首接负责) until a recorded hand-over,
//! a second officer for 核查, a supervisor to approve an extension or the leading group.
//!
//! Time limits (seed §3.2 "1小时响应、3个工作日协调、7个工作日办结") are stages of the
//! engine's kind [`case_kind`]: `accept` (a 12345 hand-over, 24 clock hours), `respond`
//! (1 clock hour from receipt to classification), `coordinate` (3 working days), `handle`
//! (办结: 7 working days counted from receipt, not from the end of coordination — the
//! store starts it anchored at the receipt), then `feedback`, `verify`, `file`.

pub mod figures;
pub mod library;
pub mod negative_list;

use crate::access::Role;
use crate::escalation::{DeadlineRule, KindSpec, StageSpec, Tier};
use crate::validation::TextLimit;
use serde::{Deserialize, Serialize};

words! {
    /// 协调解决类 or 政策建议类 (seed §3.2).
    pub enum CaseType {
        Coordination = ("coordination", "协调解决类"),
        PolicySuggestion = ("policy_suggestion", "政策建议类"),
    }
}

words! {
    /// Where the case came in.
    pub enum Channel {
        Window = ("window", "窗口"),
        Phone = ("phone", "电话"),
        Online = ("online", "网上"),
        /// Handed over by the 12345 hotline: accepted or refused within 24 hours.
        Hotline = ("hotline", "12345转办"),
    }
}

words! {
    /// 分级响应 (seed §5.2): who coordinates.
    pub enum ResponseTier {
        /// Simple cases: the window coordinates the departments itself.
        Window = ("window", "窗口直接协调"),
        /// Complex cross-department cases: 部门联席会议.
        JointMeeting = ("joint_meeting", "联席会议"),
        /// Major cases (several levels of government): 领导小组专题研究.
        LeadingGroup = ("leading_group", "领导小组"),
    }
}

impl ResponseTier {
    /// The tier above, if any.
    pub fn next(self) -> Option<ResponseTier> {
        match self {
            ResponseTier::Window => Some(ResponseTier::JointMeeting),
            ResponseTier::JointMeeting => Some(ResponseTier::LeadingGroup),
            ResponseTier::LeadingGroup => None,
        }
    }
}

words! {
    /// Where a case stands in the closed loop 受理—分类—转办—办结—反馈—核查—备案.
    pub enum State {
        /// A 12345 hand-over waiting to be accepted or refused (24 hours).
        HandedOver = ("handed_over", "待接收"),
        /// Taken in; waiting to be classified and given a tier (respond within 1 hour).
        Received = ("received", "已受理"),
        /// Classified; the departments are being coordinated (转办).
        Coordinating = ("coordinating", "协调中"),
        /// Coordination reached a solution that is being carried out.
        Handling = ("handling", "落实中"),
        /// 办结 with an outcome; the person is to be told.
        Concluded = ("concluded", "已办结"),
        /// The person was told the result (反馈); a second officer is to check it.
        FedBack = ("fed_back", "已反馈"),
        /// Checked by a second officer (核查); to be filed.
        Verified = ("verified", "已核查"),
        /// 备案: the loop is closed.
        Filed = ("filed", "已备案"),
        /// Not taken: on the negative list or not meeting the conditions; the person was
        /// given the reason and the right channel.
        Refused = ("refused", "不予受理"),
        /// A 12345 hand-over sent back to the hotline with a reason.
        Returned = ("returned", "已退回12345"),
    }
}

impl State {
    pub fn is_final(self) -> bool {
        matches!(self, State::Filed | State::Refused | State::Returned)
    }

    /// The engine stage the state is timed by, if the case is still being worked on.
    pub fn stage(self) -> Option<&'static str> {
        match self {
            State::HandedOver => Some(STAGE_ACCEPT),
            State::Received => Some(STAGE_RESPOND),
            State::Coordinating => Some(STAGE_COORDINATE),
            State::Handling => Some(STAGE_HANDLE),
            State::Concluded => Some(STAGE_FEEDBACK),
            State::FedBack => Some(STAGE_VERIFY),
            State::Verified => Some(STAGE_FILE),
            State::Filed | State::Refused | State::Returned => None,
        }
    }

    /// The words a resident reads on the progress page (双回路: the person's half).
    pub fn resident_text(self) -> &'static str {
        match self {
            State::HandedOver => "12345热线已将您的问题转到办不成事窗口，窗口将在24小时内接收",
            State::Received => "窗口已受理您反映的问题，专人负责，将尽快研究处理办法",
            State::Coordinating => "窗口正在协调有关部门共同研究解决",
            State::Handling => "有关部门已商定解决办法，正在落实",
            State::Concluded => "问题已办结，工作人员将把结果告诉您",
            State::FedBack | State::Verified => "已向您反馈办理结果，正在复核办理质量",
            State::Filed => "办理完毕，已归档",
            State::Refused => "不属于本窗口受理范围，已告知您原因和可以去办理的渠道",
            State::Returned => "已退回12345热线另行处理",
        }
    }
}

/// The loop's order, one row per step the resident sees (受理—分类—转办—办结—反馈—核查—备案).
pub const LOOP: [(&str, &str); 7] = [
    ("received", "受理"),
    ("classified", "分类"),
    ("coordinated", "转办"),
    ("concluded", "办结"),
    ("fed_back", "反馈"),
    ("verified", "核查"),
    ("filed", "备案"),
];

words! {
    /// 办结 records what came of it (the seed judges by problems solved, 解决率).
    pub enum Outcome {
        Solved = ("solved", "已解决"),
        PartlySolved = ("partly_solved", "部分解决"),
        /// Needs a reason.
        Unsolved = ("unsolved", "未解决"),
        /// The problem becomes a policy suggestion (政策建议).
        ToPolicy = ("to_policy", "转政策建议"),
    }
}

impl Outcome {
    /// Counts as a problem solved in 解决率 (directly or by coordination, seed §3.4).
    pub fn is_solved(self) -> bool {
        matches!(self, Outcome::Solved)
    }
}

words! {
    /// How the person was told the result.
    pub enum FeedbackWay {
        InPerson = ("in_person", "当面告知"),
        Phone = ("phone", "电话告知"),
        Sms = ("sms", "短信告知"),
        Letter = ("letter", "书面告知"),
    }
}

words! {
    /// A department's task in a coordination round.
    pub enum TaskState {
        Sent = ("sent", "待答复"),
        Replied = ("replied", "已答复"),
        /// Refused with a 否定答复报告 (reasons and legal basis), sent to the supervisor.
        Refused = ("refused", "否定答复"),
    }
}

words! {
    /// 政策建议 from proposal to decision.
    pub enum SuggestionState {
        Proposed = ("proposed", "已提出"),
        UnderStudy = ("under_study", "研究中"),
        Adopted = ("adopted", "已采纳"),
        Rejected = ("rejected", "未采纳"),
    }
}

pub const STAGE_ACCEPT: &str = "accept";
pub const STAGE_RESPOND: &str = "respond";
pub const STAGE_COORDINATE: &str = "coordinate";
pub const STAGE_HANDLE: &str = "handle";
pub const STAGE_FEEDBACK: &str = "feedback";
pub const STAGE_VERIFY: &str = "verify";
pub const STAGE_FILE: &str = "file";
/// The engine kind of a fallback case.
pub const KIND: &str = "fallback.case";

/// The limits, from settings (`fallback.*`), defaults from the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// A 12345 hand-over is accepted or refused within this many clock hours (24).
    pub accept_hours: u32,
    /// Respond (classify and start the response) within this many clock hours (1).
    pub respond_hours: u32,
    /// Coordinate within this many working days (3).
    pub coordinate_days: u32,
    /// Close within this many working days of receipt (7) — at the window tier; the joint
    /// meeting and the leading group have their own (local variants: 10 WD, a month),
    /// never shorter than the window's.
    pub close_days: u32,
    pub close_days_joint_meeting: u32,
    pub close_days_leading_group: u32,
    /// Tell the person, check, and file: working days each (2, 3, 3).
    pub feedback_days: u32,
    pub verify_days: u32,
    pub file_days: u32,
    /// Coordination rounds a tier may hold before the next tier must take over (2).
    pub max_rounds_per_tier: u32,
    /// The longest one extension may be, in working days (10).
    pub max_extension_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            accept_hours: 24,
            respond_hours: 1,
            coordinate_days: 3,
            close_days: 7,
            close_days_joint_meeting: 7,
            close_days_leading_group: 7,
            feedback_days: 2,
            verify_days: 3,
            file_days: 3,
            max_rounds_per_tier: 2,
            max_extension_days: 10,
        }
    }
}

impl Limits {
    /// The close limit of a case coordinated at `tier`, in working days from receipt.
    pub fn close_days_for(&self, tier: ResponseTier) -> u32 {
        match tier {
            ResponseTier::Window => self.close_days,
            ResponseTier::JointMeeting => self.close_days_joint_meeting.max(self.close_days),
            ResponseTier::LeadingGroup => self.close_days_leading_group.max(self.close_days),
        }
    }
}

/// The engine's description of a fallback case: the stages with the limits, and who an
/// overdue case climbs to — the window's supervisors, then the supervisors above.
pub fn case_kind(limits: Limits) -> KindSpec {
    let stage = |name: &str, label: &str, rule| StageSpec {
        name: name.into(),
        label: label.into(),
        rule,
        notice: None,
    };
    KindSpec {
        kind: KIND.into(),
        label: "办不成事".into(),
        stages: vec![
            stage(
                STAGE_ACCEPT,
                "接收",
                DeadlineRule::Hours(limits.accept_hours),
            ),
            stage(
                STAGE_RESPOND,
                "响应",
                DeadlineRule::Hours(limits.respond_hours),
            ),
            stage(
                STAGE_COORDINATE,
                "协调",
                DeadlineRule::WorkingDays(limits.coordinate_days),
            ),
            stage(
                STAGE_HANDLE,
                "办结",
                DeadlineRule::WorkingDays(limits.close_days),
            ),
            stage(
                STAGE_FEEDBACK,
                "反馈",
                DeadlineRule::WorkingDays(limits.feedback_days),
            ),
            stage(
                STAGE_VERIFY,
                "核查",
                DeadlineRule::WorkingDays(limits.verify_days),
            ),
            stage(
                STAGE_FILE,
                "备案",
                DeadlineRule::WorkingDays(limits.file_days),
            ),
        ],
        tiers: vec![
            Tier {
                role: Role::FallbackOfficer,
                up: 0,
            },
            Tier {
                role: Role::Supervisor,
                up: 0,
            },
            Tier {
                role: Role::Supervisor,
                up: 1,
            },
        ],
        warn_permille: None,
    }
}

/// The intake test (seed §3.2, 浙江 DB33/T 2456 "三个条件"), recorded per case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeTest {
    /// 已通过常规渠道办理未果.
    pub tried_ordinary: bool,
    /// What was tried (事项、结果).
    #[serde(default)]
    pub tried_what: String,
    /// Where (窗口、部门、12345).
    #[serde(default)]
    pub tried_where: String,
    /// An existing case or complaint number it follows, if any.
    #[serde(default)]
    pub linked_ref: String,
    /// 涉及多部门职责交叉.
    pub multi_department: bool,
    /// 具备政策解决空间.
    pub policy_room: bool,
}

/// Why a case cannot be taken in as a fallback case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("须已通过常规渠道办理未果，并写明办过什么、在哪里办的")]
    NotTried,
    #[error("协调解决类须涉及多部门职责交叉；单一部门能办的，请引导到该部门")]
    SingleDepartment,
    #[error("须具备政策解决空间；明确不予办理的，请按负面清单不予受理")]
    NoPolicyRoom,
}

impl IntakeError {
    /// The same condition in the words a resident reads on the public form.
    pub fn resident_message(&self) -> &'static str {
        match self {
            IntakeError::NotTried => "请先确认已按正常渠道办理过，并写明办过什么、在哪里办的",
            IntakeError::SingleDepartment => {
                "本窗口受理涉及多个部门的问题；只涉及一个部门的，请直接到该部门办理"
            }
            IntakeError::NoPolicyRoom => {
                "本窗口受理有政策解决空间的问题；政策明确不予办理的，请看负面清单中的办理渠道"
            }
        }
    }

    pub fn field(&self) -> &'static str {
        match self {
            IntakeError::NotTried => "tried_ordinary",
            IntakeError::SingleDepartment => "multi_department",
            IntakeError::NoPolicyRoom => "policy_room",
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::NotTried => "not_tried",
            IntakeError::SingleDepartment => "single_department",
            IntakeError::NoPolicyRoom => "no_policy_room",
        }
    }
}

/// Whether the three conditions hold. A 政策建议类 case needs ordinary channels tried and
/// room for a policy solution; several departments' duties are not required of it.
pub fn check_intake(case_type: CaseType, test: &IntakeTest) -> Result<(), Vec<IntakeError>> {
    let mut errors = Vec::new();
    if !test.tried_ordinary
        || crate::validation::is_blank(&test.tried_what)
        || crate::validation::is_blank(&test.tried_where)
    {
        errors.push(IntakeError::NotTried);
    }
    if case_type == CaseType::Coordination && !test.multi_department {
        errors.push(IntakeError::SingleDepartment);
    }
    if !test.policy_room {
        errors.push(IntakeError::NoPolicyRoom);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A 否定答复报告: a department's refusal must say why and on what legal basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalReport {
    pub reasons: String,
    pub legal_basis: String,
}

/// A department's answer to its task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "answer")]
pub enum TaskAnswer {
    /// What the department did or will do.
    Reply { reply: String },
    /// Refused, with the report.
    Refuse {
        #[serde(flatten)]
        report: RefusalReport,
    },
}

/// Why a department's answer cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("该任务已经答复")]
    AlreadyAnswered,
    #[error("请填写答复内容")]
    NoReply,
    #[error("否定答复须写明理由")]
    NoReasons,
    #[error("否定答复须写明法律政策依据")]
    NoLegalBasis,
}

impl AnswerError {
    pub fn field(&self) -> &'static str {
        match self {
            AnswerError::AlreadyAnswered => "answer",
            AnswerError::NoReply => "reply",
            AnswerError::NoReasons => "reasons",
            AnswerError::NoLegalBasis => "legal_basis",
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            AnswerError::AlreadyAnswered => "already_answered",
            AnswerError::NoReply => "required",
            AnswerError::NoReasons => "required",
            AnswerError::NoLegalBasis => "required",
        }
    }
}

/// The task's state after `answer`, or why not.
pub fn answer_task(state: TaskState, answer: &TaskAnswer) -> Result<TaskState, AnswerError> {
    if state != TaskState::Sent {
        return Err(AnswerError::AlreadyAnswered);
    }
    match answer {
        TaskAnswer::Reply { reply } if crate::validation::is_blank(reply) => {
            Err(AnswerError::NoReply)
        }
        TaskAnswer::Reply { .. } => Ok(TaskState::Replied),
        TaskAnswer::Refuse { report } if crate::validation::is_blank(&report.reasons) => {
            Err(AnswerError::NoReasons)
        }
        TaskAnswer::Refuse { report } if crate::validation::is_blank(&report.legal_basis) => {
            Err(AnswerError::NoLegalBasis)
        }
        TaskAnswer::Refuse { .. } => Ok(TaskState::Refused),
    }
}

/// An act on a case. The store records each as an event with its detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "act")]
pub enum Act {
    /// An officer accepts a 12345 hand-over (and owns it from then on).
    Accept,
    /// Sent back to 12345 with a reason.
    Return { reason: String },
    /// An officer takes an online case nobody owns yet (首接).
    Take,
    /// Not taken: the negative-list entry (or none: the conditions are not met), the
    /// reason and the right channel.
    Refuse {
        entry_id: Option<i64>,
        reason: String,
        right_channel: String,
    },
    /// Hands the case to another officer of the window, with a reason.
    HandOver { to_user_id: i64, reason: String },
    /// 分类: the type, tags and tier; this is the response.
    Classify {
        case_type: CaseType,
        tags: Vec<String>,
        tier: ResponseTier,
    },
    /// Opens a coordination round: tasks to several departments at once.
    OpenRound {
        departments: Vec<i64>,
        request: String,
    },
    /// Moves the case to the next tier (joint meeting, leading group), with a reason.
    RaiseTier { reason: String },
    /// Coordination reached a solution being carried out.
    Coordinated { summary: String },
    /// Asks for one extension of the close limit (complex cases).
    AskExtension { days: u32, reason: String },
    /// A supervisor approves or refuses the extension asked.
    DecideExtension { approve: bool, note: String },
    /// 办结 with the outcome.
    Conclude {
        outcome: Outcome,
        conclusion: String,
        #[serde(default)]
        reason: String,
    },
    /// The person was told (反馈).
    Feedback { way: FeedbackWay, text: String },
    /// 核查 by a second officer, who calls the person back: their satisfaction, if they gave
    /// one (never entered by the owner — the unit does not rate itself).
    Verify {
        note: String,
        #[serde(default)]
        satisfaction: Option<crate::ratings::Level>,
    },
    /// 备案.
    File,
}

impl Act {
    pub fn name(&self) -> &'static str {
        match self {
            Act::Accept => "accept",
            Act::Return { .. } => "return",
            Act::Take => "take",
            Act::Refuse { .. } => "refuse",
            Act::HandOver { .. } => "hand_over",
            Act::Classify { .. } => "classify",
            Act::OpenRound { .. } => "open_round",
            Act::RaiseTier { .. } => "raise_tier",
            Act::Coordinated { .. } => "coordinated",
            Act::AskExtension { .. } => "ask_extension",
            Act::DecideExtension { .. } => "decide_extension",
            Act::Conclude { .. } => "conclude",
            Act::Feedback { .. } => "feedback",
            Act::Verify { .. } => "verify",
            Act::File => "file",
        }
    }

    /// The words of the act on the case's chain (and in the audit log).
    pub fn label(&self) -> &'static str {
        act_label(self.name()).unwrap_or("")
    }

    /// Refuses lists longer than a case may hold, before anything else reads them.
    pub fn check_sizes(&self) -> Result<(), ActError> {
        let too_many = ActError::TooMany(MAX_DEPARTMENTS, MAX_TAGS);
        match self {
            Act::OpenRound { departments, .. } if departments.len() > MAX_DEPARTMENTS => {
                Err(too_many)
            }
            Act::Classify { tags, .. } if tags.len() > MAX_TAGS => Err(too_many),
            _ => Ok(()),
        }
    }

    /// The free texts of the act, with field and label, for the length checks.
    pub fn texts(&self) -> Vec<(&'static str, &'static str, &str, TextLimit)> {
        match self {
            Act::Return { reason } | Act::RaiseTier { reason } => {
                vec![("reason", "理由", reason, REASON)]
            }
            Act::HandOver { reason, .. } => vec![("reason", "移交理由", reason, REASON)],
            Act::Refuse {
                reason,
                right_channel,
                ..
            } => vec![
                ("reason", "不予受理理由", reason, REASON),
                ("right_channel", "办理渠道", right_channel, CHANNEL_TEXT),
            ],
            Act::OpenRound { request, .. } => vec![("request", "协调事项", request, NOTE)],
            Act::Coordinated { summary } => vec![("summary", "协调结果", summary, NOTE)],
            Act::AskExtension { reason, .. } => vec![("reason", "延期理由", reason, REASON)],
            Act::DecideExtension { note, .. } => vec![("note", "审批意见", note, REASON)],
            Act::Conclude {
                conclusion, reason, ..
            } => vec![
                ("conclusion", "办结情况", conclusion, NOTE),
                ("reason", "未解决原因", reason, REASON),
            ],
            Act::Feedback { text, .. } => vec![("text", "反馈内容", text, NOTE)],
            Act::Verify { note, .. } => vec![("note", "核查意见", note, NOTE)],
            Act::Classify { tags, .. } => tags
                .iter()
                .map(|t| ("tags", "标签", t.as_str(), TAG))
                .collect(),
            Act::Accept | Act::Take | Act::File => vec![],
        }
    }
}

/// Each act's name and its words.
const ACT_WORDS: [(&str, &str); 15] = [
    ("accept", "接收12345转办"),
    ("return", "退回12345"),
    ("take", "首接认领"),
    ("refuse", "不予受理"),
    ("hand_over", "移交其他专员"),
    ("classify", "分类定级"),
    ("open_round", "发起部门协调"),
    ("raise_tier", "提级协调"),
    ("coordinated", "协调完成"),
    ("ask_extension", "申请延期"),
    ("decide_extension", "审批延期"),
    ("conclude", "办结"),
    ("feedback", "反馈结果"),
    ("verify", "核查"),
    ("file", "备案"),
];

fn act_label(name: &str) -> Option<&'static str> {
    ACT_WORDS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// The audit actions of a case besides its acts (`fallback.<act>`).
const CASE_AUDIT_ACTIONS: [(&str, &str); 9] = [
    ("fallback.rated", "反映人评价办理结果"),
    ("fallback.intake", "办不成事受理登记"),
    ("fallback.task_replied", "部门答复协调任务"),
    ("fallback.task_refused", "部门作出否定答复报告"),
    ("fallback.meeting", "记录联席会议"),
    ("fallback.expert_invited", "邀请专家咨询"),
    ("fallback.expert_opinion", "记录专家意见"),
    ("fallback.library.index", "收入案例库"),
    ("fallback.suggestion.create", "提出政策建议"),
];

/// The Chinese name of an audit action of the fallback window (`fallback.…`), if it is one.
pub fn audit_action_label(action: &str) -> Option<&'static str> {
    CASE_AUDIT_ACTIONS
        .iter()
        .chain(negative_list::AUDIT_ACTIONS.iter())
        .chain(library::AUDIT_ACTIONS.iter())
        .find(|(a, _)| *a == action)
        .map(|(_, l)| *l)
        .or_else(|| action.strip_prefix("fallback.").and_then(act_label))
}

/// The Chinese name of a record kind the fallback window audits.
pub fn audit_entity_label(entity: &str) -> Option<&'static str> {
    [
        ("fallback_case", "办不成事案件"),
        ("fallback_task", "协调任务"),
        ("fallback_suggestion", "政策建议"),
    ]
    .iter()
    .chain(negative_list::AUDIT_ENTITIES.iter())
    .find(|(e, _)| *e == entity)
    .map(|(_, l)| *l)
}

/// What the rules need to know about a case beside its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub state: State,
    pub tier: ResponseTier,
    pub owner_user_id: Option<i64>,
    /// Rounds held at the current tier.
    pub rounds_in_tier: u32,
    /// Tasks of any round not yet answered.
    pub open_tasks: u32,
    /// An extension was asked (and not yet decided), or given.
    pub extension: ExtensionState,
}

words! {
    /// Where the one extension a case may have stands.
    pub enum ExtensionState {
        None = ("none", "未申请"),
        Asked = ("asked", "待审批"),
        Approved = ("approved", "已批准"),
        Refused = ("refused", "未批准"),
    }
}

/// Why an act is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActError {
    #[error("案件当前为“{0}”，不能进行这一步")]
    WrongState(&'static str),
    #[error("请填写{1}")]
    Required(&'static str, &'static str),
    #[error("本层级已协调{0}次，跨部门协调控制在{0}次以内，请提级到{1}")]
    TooManyRounds(u32, &'static str),
    #[error("已是最高层级（领导小组）")]
    TopTier,
    #[error("请选择至少一个协调部门")]
    NoDepartments,
    #[error("还有{0}个部门任务未答复，案件只能整体办结")]
    OpenTasks(u32),
    #[error("每个案件只能延期一次")]
    ExtensionUsed,
    #[error("窗口直接协调的简单案件不能延期；复杂案件提级到联席会议后可申请延期一次")]
    ExtensionSimple,
    #[error("已经记录过满意度")]
    AlreadyRated,
    #[error("请选择满意度")]
    NoLevel,
    #[error("协调部门最多{0}个，标签最多{1}个")]
    TooMany(usize, usize),
    #[error("没有待审批的延期申请")]
    NoExtensionAsked,
    #[error("延期天数须在1到{0}个工作日之间")]
    ExtensionDays(u32),
    #[error("只能移交给本窗口的其他专员")]
    HandOverToSelf,
}

impl ActError {
    pub fn field(&self) -> &'static str {
        match self {
            ActError::Required(field, _) => field,
            ActError::TooManyRounds(..) | ActError::TopTier => "tier",
            ActError::NoDepartments => "departments",
            ActError::OpenTasks(_) => "tasks",
            ActError::ExtensionDays(_) => "days",
            ActError::HandOverToSelf => "to_user_id",
            ActError::WrongState(_)
            | ActError::ExtensionUsed
            | ActError::NoExtensionAsked
            | ActError::ExtensionSimple
            | ActError::AlreadyRated => "act",
            ActError::NoLevel => "satisfaction",
            ActError::TooMany(..) => "departments",
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            ActError::WrongState(_) => "wrong_state",
            ActError::Required(..) => "required",
            ActError::TooManyRounds(..) => "too_many_rounds",
            ActError::TopTier => "top_tier",
            ActError::NoDepartments => "no_departments",
            ActError::OpenTasks(_) => "open_tasks",
            ActError::ExtensionUsed => "extension_used",
            ActError::NoExtensionAsked => "no_extension_asked",
            ActError::ExtensionDays(_) => "extension_days",
            ActError::HandOverToSelf => "hand_over_to_self",
            ActError::ExtensionSimple => "extension_simple",
            ActError::AlreadyRated => "already_rated",
            ActError::NoLevel => "required",
            ActError::TooMany(..) => "too_many",
        }
    }
    /// A conflict with the case's state (409) rather than bad input (422).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            ActError::WrongState(_)
                | ActError::OpenTasks(_)
                | ActError::ExtensionUsed
                | ActError::NoExtensionAsked
                | ActError::TooManyRounds(..)
                | ActError::TopTier
                | ActError::ExtensionSimple
                | ActError::AlreadyRated
        )
    }
}

fn required(value: &str, field: &'static str, label: &'static str) -> Result<(), ActError> {
    if crate::validation::is_blank(value) {
        Err(ActError::Required(field, label))
    } else {
        Ok(())
    }
}

/// The state after `act`, or why not. The only place the loop's order is decided.
pub fn next_state(facts: &CaseFacts, act: &Act, limits: &Limits) -> Result<State, ActError> {
    use State as S;
    let wrong = || ActError::WrongState(facts.state.label());
    let working = !facts.state.is_final()
        && !matches!(
            facts.state,
            S::HandedOver | S::Concluded | S::FedBack | S::Verified
        );
    match act {
        Act::Accept => (facts.state == S::HandedOver)
            .then_some(S::Received)
            .ok_or_else(wrong),
        Act::Return { reason } => {
            if facts.state != S::HandedOver {
                return Err(wrong());
            }
            required(reason, "reason", "退回理由")?;
            Ok(S::Returned)
        }
        Act::Take => (facts.state == S::Received && facts.owner_user_id.is_none())
            .then_some(S::Received)
            .ok_or_else(wrong),
        Act::Refuse {
            reason,
            right_channel,
            ..
        } => {
            if !matches!(facts.state, S::HandedOver | S::Received) {
                return Err(wrong());
            }
            required(reason, "reason", "不予受理理由")?;
            required(right_channel, "right_channel", "可以办理的渠道")?;
            Ok(S::Refused)
        }
        Act::HandOver { reason, .. } => {
            if facts.state.is_final() {
                return Err(wrong());
            }
            required(reason, "reason", "移交理由")?;
            Ok(facts.state)
        }
        Act::Classify { .. } => (facts.state == S::Received)
            .then_some(S::Coordinating)
            .ok_or_else(wrong),
        Act::OpenRound {
            departments,
            request,
        } => {
            if facts.state != S::Coordinating {
                return Err(wrong());
            }
            if departments.is_empty() {
                return Err(ActError::NoDepartments);
            }
            required(request, "request", "协调事项")?;
            if facts.rounds_in_tier >= limits.max_rounds_per_tier {
                let next = facts.tier.next().ok_or(ActError::TopTier)?;
                return Err(ActError::TooManyRounds(
                    limits.max_rounds_per_tier,
                    next.label(),
                ));
            }
            Ok(S::Coordinating)
        }
        Act::RaiseTier { reason } => {
            if facts.state != S::Coordinating {
                return Err(wrong());
            }
            facts.tier.next().ok_or(ActError::TopTier)?;
            required(reason, "reason", "提级理由")?;
            Ok(S::Coordinating)
        }
        Act::Coordinated { summary } => {
            if facts.state != S::Coordinating {
                return Err(wrong());
            }
            required(summary, "summary", "协调结果")?;
            if facts.open_tasks > 0 {
                return Err(ActError::OpenTasks(facts.open_tasks));
            }
            Ok(S::Handling)
        }
        Act::AskExtension { days, reason } => {
            if !working || facts.state == S::Received {
                return Err(wrong());
            }
            if facts.extension != ExtensionState::None {
                return Err(ActError::ExtensionUsed);
            }
            if facts.tier == ResponseTier::Window {
                return Err(ActError::ExtensionSimple);
            }
            if *days == 0 || *days > limits.max_extension_days {
                return Err(ActError::ExtensionDays(limits.max_extension_days));
            }
            required(reason, "reason", "延期理由")?;
            Ok(facts.state)
        }
        Act::DecideExtension { .. } => {
            if facts.extension != ExtensionState::Asked {
                return Err(ActError::NoExtensionAsked);
            }
            Ok(facts.state)
        }
        Act::Conclude {
            outcome,
            conclusion,
            reason,
        } => {
            if !matches!(facts.state, S::Coordinating | S::Handling) {
                return Err(wrong());
            }
            if facts.open_tasks > 0 {
                return Err(ActError::OpenTasks(facts.open_tasks));
            }
            required(conclusion, "conclusion", "办结情况")?;
            if *outcome == Outcome::Unsolved {
                required(reason, "reason", "未解决的原因")?;
            }
            Ok(S::Concluded)
        }
        Act::Feedback { text, .. } => {
            if facts.state != S::Concluded {
                return Err(wrong());
            }
            required(text, "text", "反馈内容")?;
            Ok(S::FedBack)
        }
        Act::Verify { note, .. } => {
            if facts.state != S::FedBack {
                return Err(wrong());
            }
            required(note, "note", "核查意见")?;
            Ok(S::Verified)
        }
        Act::File => (facts.state == S::Verified)
            .then_some(S::Filed)
            .ok_or_else(wrong),
    }
}

/// Whether the person may rate the handling themselves (online, with number and code):
/// once told the result, and only once — a satisfaction recorded at 核查 stands too.
pub fn may_rate(state: State, already: bool) -> Result<(), ActError> {
    if already {
        return Err(ActError::AlreadyRated);
    }
    match state {
        State::FedBack | State::Verified | State::Filed => Ok(()),
        s => Err(ActError::WrongState(s.label())),
    }
}

/// Who is acting on a case, as the rules see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acting {
    pub user_id: i64,
    /// Holds the fallback-officer role at (or above) the case's window.
    pub officer: bool,
    /// Holds the supervisor role over the case's window.
    pub supervisor: bool,
}

/// Why someone may not take an act (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotYours {
    #[error("首接负责：该案件由{0}负责，请由负责人办理或先办理移交")]
    NotOwner(String),
    #[error("只有办不成事窗口专员可以进行这一步")]
    NotOfficer,
    #[error("核查须由负责人以外的另一位专员进行")]
    OwnCase,
    #[error("延期和提级到领导小组须由主管领导审批")]
    NotSupervisor,
}

impl NotYours {
    pub fn code(&self) -> &'static str {
        match self {
            NotYours::NotOwner(_) => "not_owner",
            NotYours::NotOfficer => "not_officer",
            NotYours::OwnCase => "own_case",
            NotYours::NotSupervisor => "not_supervisor",
        }
    }
}

/// Whether `who` may take `act` on a case owned by `owner_user_id` (owner's name for the
/// message). First-contact ownership: everything between receipt and filing is the owner's,
/// except 核查 (a second officer, never the owner), the decision on an extension, and
/// raising a case to the leading group (a supervisor). Accepting a hand-over and taking an
/// unowned online case are open to any officer of the window; a supervisor may hand a case
/// over (when the owner is away).
pub fn may_act(
    act: &Act,
    who: Acting,
    owner_user_id: Option<i64>,
    owner_name: &str,
    tier: ResponseTier,
) -> Result<(), NotYours> {
    let is_owner = owner_user_id == Some(who.user_id);
    match act {
        Act::Accept | Act::Take => who.officer.then_some(()).ok_or(NotYours::NotOfficer),
        Act::Return { .. } | Act::Refuse { .. } if owner_user_id.is_none() => {
            who.officer.then_some(()).ok_or(NotYours::NotOfficer)
        }
        Act::Verify { .. } => match (who.officer || who.supervisor, is_owner) {
            (false, _) => Err(NotYours::NotOfficer),
            (true, true) => Err(NotYours::OwnCase),
            (true, false) => Ok(()),
        },
        Act::DecideExtension { .. } => who.supervisor.then_some(()).ok_or(NotYours::NotSupervisor),
        Act::RaiseTier { .. } if tier.next() == Some(ResponseTier::LeadingGroup) => {
            who.supervisor.then_some(()).ok_or(NotYours::NotSupervisor)
        }
        Act::HandOver { .. } if who.supervisor => Ok(()),
        _ if !who.officer => Err(NotYours::NotOfficer),
        _ if is_owner => Ok(()),
        _ => Err(NotYours::NotOwner(owner_name.to_string())),
    }
}

/// Free-text limits.
pub const TITLE: TextLimit = TextLimit::one_line(100);
pub const DESCRIPTION: TextLimit = TextLimit::multi_line(4000);
pub const NOTE: TextLimit = TextLimit::multi_line(2000);
pub const REASON: TextLimit = TextLimit::multi_line(500);
pub const CHANNEL_TEXT: TextLimit = TextLimit::one_line(200);
pub const TAG: TextLimit = TextLimit::one_line(20);
pub const SHORT: TextLimit = TextLimit::one_line(100);
/// At most this many tags on a case, departments in a round.
pub const MAX_TAGS: usize = 8;
pub const MAX_DEPARTMENTS: usize = 12;

/// The case number: BB + date + a six-digit daily sequence (办不成事).
pub fn case_number(date: chrono::NaiveDate, daily_seq: u32) -> String {
    format!("BB{}{daily_seq:06}", date.format("%Y%m%d"))
}

/// Whether `s` looks like a fallback case number (the lookup limiter keys on those only).
pub fn is_case_number(s: &str) -> bool {
    let s = s.trim().to_ascii_uppercase();
    s.strip_prefix("BB").is_some_and(|rest| {
        rest.len() == 14
            && rest.bytes().all(|b| b.is_ascii_digit())
            && chrono::NaiveDate::parse_from_str(&rest[..8], "%Y%m%d").is_ok()
    })
}

#[cfg(test)]
mod tests;
