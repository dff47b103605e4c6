//! 负面清单: what the fallback window does not take (涉法、涉诉、涉访, requests against current
//! policy, and what the administrator adds), each with the right channel — and the rest of
//! the window's reference data: problem tags, department liaisons (1+N), the expert pool.
//!
//! The list is data, dynamically adjusted (seed §2 "负面清单动态调整"): every change writes a
//! version (the entry as it became, with the reason), entries are retired, never deleted.
//! The rules here are the categories, the text limits and the checks of each input; the
//! store keeps the records and the versions.

use crate::validation::{FieldErrors, TextLimit, PERSON_NAME};
use serde::{Deserialize, Serialize};

words! {
    /// What kind of matter an entry keeps out of the window.
    pub enum Category {
        /// 涉法: already in litigation, arbitration or administrative reconsideration.
        Legal = ("legal", "涉法事项"),
        /// 涉诉: decided or pending before a court (judgments, enforcement).
        Litigation = ("litigation", "涉诉事项"),
        /// 涉访: 信访事项, handled by the petition office under the 信访工作条例.
        Petition = ("petition", "涉访事项"),
        /// Requests against current laws and policy (违反现行政策的请求).
        AgainstPolicy = ("against_policy", "违反现行政策的请求"),
        /// Other matters the administrator names as not to be handled (明确不予办理的).
        Other = ("other", "其他明确不予办理的事项"),
    }
}

impl Category {
    /// Position in the published list (the order of `ALL`).
    pub fn rank(self) -> usize {
        Category::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// An entry's title (what the matter is), one line.
pub const TITLE: TextLimit = TextLimit::one_line(100);
/// What falls under the entry and why the window does not take it.
pub const DESCRIPTION: TextLimit = TextLimit::multi_line(1000);
/// Where the person should go instead (人民法院、信访部门 …), with how to reach it.
pub const RIGHT_CHANNEL: TextLimit = TextLimit::one_line(200);
/// Why the list was changed (kept with the version).
pub const REASON: TextLimit = TextLimit::multi_line(500);
/// A problem tag (历史遗留问题 …): the same bound as a tag on a case.
pub const TAG_NAME: TextLimit = super::TAG;
/// An expert's field (专业领域) and affiliation (工作单位).
pub const EXPERT_FIELD: TextLimit = TextLimit::one_line(60);
pub const AFFILIATION: TextLimit = TextLimit::one_line(100);
/// A work phone as typed: a mobile or an office number (0571-8888 8888, 转分机).
pub const WORK_PHONE: TextLimit = TextLimit::one_line(20);

/// An entry as the administrator writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryText {
    pub category: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub right_channel: String,
}

/// An entry checked: the category parsed, the texts trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub category: Category,
    pub title: String,
    pub description: String,
    pub right_channel: String,
}

/// Checks an entry: a known category, a title and a right channel (a refusal must name
/// where to go), every text within its limit. All failing fields are named.
pub fn check_entry(input: &EntryText) -> Result<Entry, FieldErrors> {
    let mut e = FieldErrors::new();
    let category = Category::parse(input.category.trim());
    if category.is_none() {
        e.add(
            "category",
            "unknown",
            "请选择类别：涉法、涉诉、涉访、违反现行政策的请求或其他明确不予办理的事项",
        );
    }
    if e.text("title", "事项名称", &input.title, TITLE) {
        e.required("title", "事项名称", &input.title);
    }
    e.text("description", "说明", &input.description, DESCRIPTION);
    if e.text(
        "right_channel",
        "办理渠道",
        &input.right_channel,
        RIGHT_CHANNEL,
    ) {
        e.required("right_channel", "办理渠道", &input.right_channel);
    }
    e.into_result()?;
    Ok(Entry {
        category: category.unwrap_or(Category::Other),
        title: input.title.trim().to_string(),
        description: input.description.trim().to_string(),
        right_channel: input.right_channel.trim().to_string(),
    })
}

/// Every change to the list says why (it is kept with the version): required, bounded.
pub fn check_reason(e: &mut FieldErrors, reason: &str) {
    if e.text("reason", "调整理由", reason, REASON) {
        e.required("reason", "调整理由", reason);
    }
}

/// A tag's name: required, one short line.
pub fn check_tag(e: &mut FieldErrors, name: &str) {
    if e.text("name", "标签名称", name, TAG_NAME) {
        e.required("name", "标签名称", name);
    }
}

/// A work phone: 7 to 20 characters of digits, spaces, `-`, `+` and `()`, at least 7
/// digits (an office number with its area code, a mobile, an extension after `-`).
pub fn check_work_phone(e: &mut FieldErrors, field: &str, phone: &str) {
    if !e.text(field, "联系电话", phone, WORK_PHONE) {
        return;
    }
    let p = phone.trim();
    if p.is_empty() {
        e.add(field, "required", "请填写联系电话");
        return;
    }
    let allowed = p
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+' | '(' | ')'));
    let digits = p.chars().filter(char::is_ascii_digit).count();
    if !allowed || digits < 7 {
        e.add(
            field,
            "bad_phone",
            "联系电话应为手机号或带区号的办公电话，只能包含数字、空格、“-”、“+”和括号",
        );
    }
}

/// An expert as entered for the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpertText {
    pub name: String,
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub affiliation: String,
    #[serde(default)]
    pub phone: String,
}

/// Checks an expert: a name, a field (what they are consulted on), an affiliation and a
/// phone to invite them by.
pub fn check_expert(input: &ExpertText) -> Result<ExpertText, FieldErrors> {
    let mut e = FieldErrors::new();
    if e.text("name", "专家姓名", &input.name, PERSON_NAME) {
        e.required("name", "专家姓名", &input.name);
    }
    if e.text("field", "专业领域", &input.field, EXPERT_FIELD) {
        e.required("field", "专业领域", &input.field);
    }
    if e.text("affiliation", "工作单位", &input.affiliation, AFFILIATION) {
        e.required("affiliation", "工作单位", &input.affiliation);
    }
    check_work_phone(&mut e, "phone", &input.phone);
    e.into_result()?;
    Ok(ExpertText {
        name: input.name.trim().to_string(),
        field: input.field.trim().to_string(),
        affiliation: input.affiliation.trim().to_string(),
        phone: input.phone.trim().to_string(),
    })
}

/// The default list for a district (seed §2: 涉法、涉诉、涉访事项和违反现行政策的请求不予受理),
/// as (category, title, description, right channel).
pub const DEFAULT_ENTRIES: [(Category, &str, &str, &str); 6] = [
    (
        Category::Legal,
        "已进入诉讼或仲裁程序的事项",
        "当事人已向人民法院起诉、申请劳动人事争议仲裁或商事仲裁，相关程序尚未终结的，窗口不介入，以免干预司法和仲裁。",
        "人民法院或受理案件的仲裁机构（劳动人事争议仲裁院）",
    ),
    (
        Category::Legal,
        "正在行政复议程序中的事项",
        "已申请行政复议、复议机关已受理尚未作出决定的事项，依法由复议机关处理。",
        "受理该复议申请的行政复议机关（区人民政府行政复议办公室）",
    ),
    (
        Category::Litigation,
        "对人民法院生效裁判、执行不服的事项",
        "对法院已作出的判决、裁定或执行行为有异议的，应通过申请再审、执行异议等法定途径解决。",
        "作出裁判或负责执行的人民法院（申请再审、提出执行异议）",
    ),
    (
        Category::Petition,
        "信访事项",
        "已按《信访工作条例》提出、正在办理或已有处理意见的信访事项，由信访部门依规办理，窗口不重复受理。",
        "区信访局（人民来访接待中心），或拨打12345热线转信访部门",
    ),
    (
        Category::AgainstPolicy,
        "违反现行法律法规和政策的请求",
        "要求突破现行法律法规、政策规定办理的请求（如不符合条件的补贴、违法建设的确权），窗口不予受理，并向当事人说明所依据的规定。",
        "可向政策制定部门提出意见建议，或通过12345热线反映",
    ),
    (
        Category::Other,
        "明确不予办理的其他事项",
        "法律法规明确规定不予办理、或已有明确处理结论且无新的事实和理由的事项。",
        "原处理部门；对处理结论不服的，依法申请行政复议或提起行政诉讼",
    ),
];

/// The default problem tags (seed §3.3: 历史遗留问题、政策不明确、部门职责交叉、流程梗阻).
pub const DEFAULT_TAGS: [&str; 6] = [
    "历史遗留问题",
    "政策不明确",
    "部门职责交叉",
    "流程梗阻",
    "材料标准不一",
    "系统数据不通",
];

/// The audit actions the reference data records, with their Chinese names — for
/// `crate::audit::ACTIONS` (the audit page names every action).
pub const AUDIT_ACTIONS: [(&str, &str); 9] = [
    ("fallback.negative.create", "新增负面清单条目"),
    ("fallback.negative.update", "修改负面清单条目"),
    ("fallback.negative.retire", "停用负面清单条目"),
    ("fallback.negative.reactivate", "恢复负面清单条目"),
    ("fallback.tag.create", "新增问题标签"),
    ("fallback.tag.update", "修改问题标签"),
    ("fallback.liaison.set", "设置部门联络员"),
    ("fallback.expert.create", "新增咨询专家"),
    ("fallback.expert.update", "修改咨询专家"),
];

/// The audited entities, with their Chinese names — for `crate::audit::ENTITIES`.
pub const AUDIT_ENTITIES: [(&str, &str); 4] = [
    ("fallback_negative_entry", "负面清单条目"),
    ("fallback_tag", "问题标签"),
    ("fallback_liaison", "部门联络员"),
    ("fallback_expert", "咨询专家"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn text(category: &str, title: &str, channel: &str) -> EntryText {
        EntryText {
            category: category.into(),
            title: title.into(),
            description: String::new(),
            right_channel: channel.into(),
        }
    }

    #[test]
    fn categories_parse_back_and_keep_their_order() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(*c));
        }
        assert_eq!(Category::parse("涉法"), None);
        assert_eq!(Category::Legal.rank(), 0);
        assert_eq!(Category::Other.rank(), Category::ALL.len() - 1);
        assert_eq!(Category::Petition.label(), "涉访事项");
    }

    #[test]
    fn an_entry_needs_a_category_a_title_and_a_channel() {
        let ok = check_entry(&text("petition", "  信访事项 ", "区信访局")).unwrap();
        assert_eq!(ok.category, Category::Petition);
        assert_eq!(ok.title, "信访事项");
        let err = check_entry(&text("nonsense", " ", "")).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["category", "title", "right_channel"]);
        assert!(err.0.iter().all(|f| !f.message.is_empty()));
    }

    #[test]
    fn texts_are_bounded_and_one_line_where_they_should_be() {
        let long = "长".repeat(TITLE.max + 1);
        let err = check_entry(&text("legal", &long, "人民法院")).unwrap_err();
        assert_eq!(err.0[0].field, "title");
        assert_eq!(err.0[0].code, "too_long");
        let err = check_entry(&text("legal", "诉讼\n事项", "人民法院")).unwrap_err();
        assert_eq!(err.0[0].code, "control_char");
        let mut e = FieldErrors::new();
        check_reason(&mut e, "");
        check_reason(&mut e, &"理".repeat(REASON.max + 1));
        assert_eq!(e.0[0].code, "required");
        assert_eq!(e.0[1].code, "too_long");
    }

    #[test]
    fn work_phones_are_mobiles_or_office_numbers() {
        for good in ["13800138000", "0571-88886666", "(0571) 8888 6666-123"] {
            let mut e = FieldErrors::new();
            check_work_phone(&mut e, "phone", good);
            assert!(e.is_empty(), "{good}");
        }
        for (bad, code) in [
            ("", "required"),
            ("12345", "bad_phone"),
            ("电话110", "bad_phone"),
        ] {
            let mut e = FieldErrors::new();
            check_work_phone(&mut e, "phone", bad);
            assert_eq!(e.0[0].code, code, "{bad}");
        }
    }

    #[test]
    fn an_expert_needs_everything_to_be_invited() {
        let err = check_expert(&ExpertText::default()).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "field", "affiliation", "phone"]);
        let ok = check_expert(&ExpertText {
            name: " 钱律师 ".into(),
            field: "行政法".into(),
            affiliation: "示范律师事务所".into(),
            phone: "13900139000".into(),
        })
        .unwrap();
        assert_eq!(ok.name, "钱律师");
    }

    #[test]
    fn the_defaults_pass_their_own_rules() {
        for (c, title, description, channel) in DEFAULT_ENTRIES {
            let t = EntryText {
                category: c.as_str().into(),
                title: title.into(),
                description: description.into(),
                right_channel: channel.into(),
            };
            assert!(check_entry(&t).is_ok(), "{title}");
        }
        // Each of the seed's categories is covered by at least one entry.
        for c in Category::ALL {
            assert!(DEFAULT_ENTRIES.iter().any(|e| e.0 == *c), "{c:?}");
        }
        for t in DEFAULT_TAGS {
            let mut e = FieldErrors::new();
            check_tag(&mut e, t);
            assert!(e.is_empty(), "{t}");
        }
    }
}
