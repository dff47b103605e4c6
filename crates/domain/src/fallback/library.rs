//! 案例库 and 政策建议: the pure half. Solved cases are kept anonymised and found by tag and
//! by Chinese keywords; policy suggestions move proposed → under study → adopted / rejected.
//!
//! # Anonymisation ([`anonymise`])
//!
//! Applied to the title, the problem (the case's description) and the solution (its
//! conclusion) before anything is stored in the library. What is removed:
//!
//! 1. The person's name as given on the case: each occurrence becomes the surname + 某
//!    (张三丰 → 张某); a one-character name becomes 某某.
//! 2. The company's name as given: each occurrence becomes 某公司 (a name containing 公司)
//!    or 某单位.
//! 3. Every run of digits (full-width digits count; a single space, hyphen, dash, dot,
//!    slash or bracket between digits joins a run: 139.1234.5678, 0571–8701–0001,
//!    (010)8888-6666) of seven digits or more: an 11-digit run starting with 1 becomes
//!    `[手机号]`; 15 or 18 digits, or 17 digits followed by X, becomes `[身份证号]`; any other
//!    such run (landlines, account and licence numbers) becomes `[号码]`. So no mobile number
//!    and no ID number survives in any spelling of digits (tested by proptest).
//!    A run of seven or more Chinese numerals (一三八〇〇一三八〇〇〇) becomes `[号码]` too.
//! 4. E-mail addresses become `[邮箱]`.
//! 5. House numbers of addresses: the digits before 栋、幢、单元、室、号楼、号院, and
//!    before 号 when it follows a road, street, lane, village or compound (路、街、道、巷、弄、
//!    村、里、院、苑、区) become 某 (幸福路12号3栋2单元501室 → 幸福路某号某栋某单元某室).
//!    Document numbers such as 国办发〔2022〕5号 stay (the 号 follows 〕).
//!
//! Not removed: names the case does not give (an officer writing another person's name
//! into the description); the officer is asked to write descriptions without them.
//!
//! # Search terms ([`term_weights`], [`query_terms`])
//!
//! Text is cut by jieba in search mode (long words and their parts: 加装电梯 gives 加装,
//! 电梯, 加装电梯). Dropped: punctuation and spaces, single characters, pure numbers, the
//! stop words of [`STOP_WORDS`], and the anonymisation placeholders. The weight of a term in
//! an entry is its term frequency, the title counting [`TITLE_BOOST`] times and each tag
//! [`TAG_BOOST`] times. Tags are also kept as exact terms `#tag:<name>` (weight 0) so the
//! tag filter is one index lookup.
//!
//! # Ranking ([`idf_milli`])
//!
//! `score(entry) = Σ over the query's distinct terms t found in the entry of
//! weight(t, entry) × idf(t)`, with `idf(t) = round(1000 × ln(1 + N / df(t)))`, `N` the
//! number of entries in the library and `df(t)` the entries holding `t`. Ties by newest
//! entry first. A term in every entry still counts a little (ln 2); a rare one counts most.

use crate::validation::TextLimit;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

use super::{Outcome, SuggestionState};

/// jieba with its default dictionary, loaded once for the process.
static JIEBA: LazyLock<jieba_rs::Jieba> = LazyLock::new(jieba_rs::Jieba::new);

/// The title counts this many times in an entry's weights.
pub const TITLE_BOOST: i64 = 3;
/// A tag's words count this many times.
pub const TAG_BOOST: i64 = 2;
/// The most distinct terms a query is searched with (the rest are ignored).
pub const MAX_QUERY_TERMS: usize = 24;
/// The prefix of a tag's exact term.
pub const TAG_TERM_PREFIX: &str = "#tag:";

pub const PLACEHOLDER_MOBILE: &str = "[手机号]";
pub const PLACEHOLDER_ID: &str = "[身份证号]";
pub const PLACEHOLDER_NUMBER: &str = "[号码]";
pub const PLACEHOLDER_EMAIL: &str = "[邮箱]";

/// Words too common in a problem description to tell one problem from another.
pub const STOP_WORDS: &[&str] = &[
    "我们",
    "你们",
    "他们",
    "她们",
    "它们",
    "这个",
    "那个",
    "这些",
    "那些",
    "一个",
    "一些",
    "没有",
    "可以",
    "因为",
    "所以",
    "但是",
    "而且",
    "已经",
    "如果",
    "还是",
    "或者",
    "以及",
    "进行",
    "通过",
    "对于",
    "关于",
    "由于",
    "其中",
    "什么",
    "怎么",
    "如何",
    "为什么",
    "就是",
    "还有",
    "需要",
    "要求",
    "情况",
    "问题",
    "表示",
    "相关",
    "有关",
    "目前",
    "现在",
    "之后",
    "以后",
    "之前",
    "以前",
    "不能",
    "不会",
    "无法",
    "能够",
    "一直",
    "多次",
    "反映",
    "办理",
    "群众",
    "本人",
    "自己",
    "同时",
    "然后",
    "并且",
    "这样",
    "那样",
    "其他",
    "以上",
    "以下",
];

/// Free-text limits of the library and of suggestions.
pub const QUERY: TextLimit = TextLimit::one_line(200);
pub const SIMILAR_TEXT: TextLimit = TextLimit::multi_line(4000);
pub const SUGGESTION_TITLE: TextLimit = TextLimit::one_line(100);
pub const SUGGESTION_CONTENT: TextLimit = TextLimit::multi_line(4000);
pub const DECIDING_BODY: TextLimit = TextLimit::one_line(100);
pub const DECISION_NOTE: TextLimit = TextLimit::multi_line(1000);
/// The most cases one suggestion may cite.
pub const MAX_SUGGESTION_CASES: usize = 50;

/// Whether a case with this outcome enters the library.
pub fn enters_library(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Solved | Outcome::PartlySolved)
}

// ---- anonymisation ---------------------------------------------------------------------------

/// The names the case gives, to be taken out of its texts.
#[derive(Debug, Clone, Default)]
pub struct Known<'a> {
    pub person_names: Vec<&'a str>,
    pub company_names: Vec<&'a str>,
}

fn person_alias(name: &str) -> String {
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(_)) => format!("{first}某"),
        _ => "某某".to_string(),
    }
}

fn company_alias(name: &str) -> &'static str {
    if name.contains("公司") {
        "某公司"
    } else {
        "某单位"
    }
}

/// The text with the names given, ID numbers, phone numbers and house numbers removed (see
/// the module's documentation for exactly what).
pub fn anonymise(text: &str, known: &Known<'_>) -> String {
    let mut out = text.to_string();
    let mut names: Vec<(String, String)> = Vec::new();
    for n in &known.person_names {
        let n = n.trim().to_string();
        if !n.is_empty() {
            let alias = person_alias(&n);
            names.push((n, alias));
        }
    }
    for c in &known.company_names {
        let c = c.trim().to_string();
        if !c.is_empty() {
            let alias = company_alias(&c).to_string();
            names.push((c, alias));
        }
    }
    // Longest first, so a company named after the person goes whole.
    names.sort_by_key(|n| std::cmp::Reverse(n.0.chars().count()));
    for (name, alias) in &names {
        out = out.replace(name.as_str(), alias);
    }
    mask_numbers(&mask_chinese_numerals(&mask_emails(&out)))
}

/// E-mail addresses (local@domain.tld) become [`PLACEHOLDER_EMAIL`].
fn mask_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(narrow).collect();
    let local = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-');
    let domain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let mut start = out.chars().count();
            let kept: Vec<char> = out.chars().collect();
            while start > 0 && local(kept[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && domain(chars[end]) {
                end += 1;
            }
            let host: String = chars[i + 1..end].iter().collect();
            let host = host.trim_end_matches('.');
            if start < kept.len() && host.contains('.') && !host.starts_with('.') {
                out = kept[..start].iter().collect();
                out.push_str(PLACEHOLDER_EMAIL);
                i = i + 1 + host.chars().count();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Runs of seven or more Chinese numerals (a number read out) become [`PLACEHOLDER_NUMBER`].
fn mask_chinese_numerals(text: &str) -> String {
    let numeral = |c: char| "〇零一二三四五六七八九幺".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && numeral(chars[j]) {
            j += 1;
        }
        if j - i >= 7 {
            out.push_str(PLACEHOLDER_NUMBER);
            i = j;
        } else if j > i {
            out.extend(&chars[i..j]);
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

const HOUSE_AFTER: &[&str] = &["号楼", "号院", "栋", "幢", "单元", "室"];
const ROAD_BEFORE: &[char] = &['路', '街', '道', '巷', '弄', '村', '里', '院', '苑', '区'];

/// Full-width digits, X, hyphen and space read as their ASCII forms (the rest is kept).
fn narrow(c: char) -> char {
    match c {
        '０'..='９' | 'Ｘ' | 'ｘ' | '－' | '．' | '／' | '＠' => {
            char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
        }
        '\u{3000}' => ' ',
        c => c,
    }
}

fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(narrow).collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A run of digits, single spaces or hyphens joining digit groups.
        let start = i;
        let mut digits = 0usize;
        let mut first = None;
        let mut j = i;
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                first.get_or_insert(c);
                digits += 1;
                j += 1;
            } else if matches!(
                c,
                ' ' | '-' | '.' | '/' | '–' | '—' | '(' | ')' | '（' | '）'
            ) && chars.get(j + 1).is_some_and(|n| n.is_ascii_digit())
                && j > start
            {
                j += 1;
            } else {
                break;
            }
        }
        let x_check = digits == 17 && chars.get(j).is_some_and(|c| matches!(c, 'X' | 'x'));
        if digits >= 7 {
            let end = if x_check { j + 1 } else { j };
            let mask = if digits == 11 && first == Some('1') {
                PLACEHOLDER_MOBILE
            } else if digits == 15 || digits == 18 || x_check {
                PLACEHOLDER_ID
            } else {
                PLACEHOLDER_NUMBER
            };
            out.push_str(mask);
            i = end;
            continue;
        }
        let rest: String = chars[j..chars.len().min(j + 2)].iter().collect();
        let house = HOUSE_AFTER.iter().any(|h| rest.starts_with(h))
            || (rest.starts_with('号')
                && start > 0
                && ROAD_BEFORE.contains(&chars[start - 1])
                && !rest.starts_with("号文"));
        if house {
            out.push('某');
        } else {
            out.extend(&chars[start..j]);
        }
        i = j;
    }
    out
}

// ---- search terms ----------------------------------------------------------------------------

fn strip_placeholders(text: &str) -> String {
    [
        PLACEHOLDER_MOBILE,
        PLACEHOLDER_ID,
        PLACEHOLDER_NUMBER,
        PLACEHOLDER_EMAIL,
    ]
    .iter()
    .fold(text.to_string(), |t, p| t.replace(p, " "))
}

/// The meaningful words of `text`, in order, repeated as often as they occur.
pub fn tokens(text: &str) -> Vec<String> {
    let text = strip_placeholders(&crate::validation::halfwidth(text));
    JIEBA
        .cut_for_search(&text, true)
        .into_iter()
        .filter_map(|t| keep(t.word))
        .collect()
}

fn keep(word: &str) -> Option<String> {
    let w = word.trim().to_lowercase();
    if w.chars().count() < 2 {
        return None;
    }
    if !w.chars().all(char::is_alphanumeric) {
        return None;
    }
    if w.chars().all(|c| c.is_ascii_digit()) || w.contains('某') {
        return None;
    }
    if STOP_WORDS.contains(&w.as_str()) {
        return None;
    }
    Some(w)
}

/// The exact term that marks an entry's tag.
pub fn tag_term(tag: &str) -> String {
    format!("{TAG_TERM_PREFIX}{}", tag.trim())
}

/// An entry's terms with their weights (term frequency: the title [`TITLE_BOOST`] times, a
/// tag's words [`TAG_BOOST`] times), plus each tag's exact term with weight 0.
pub fn term_weights(
    title: &str,
    problem: &str,
    solution: &str,
    tags: &[String],
) -> Vec<(String, i64)> {
    let mut w: BTreeMap<String, i64> = BTreeMap::new();
    let mut add = |text: &str, times: i64| {
        for t in tokens(text) {
            *w.entry(t).or_default() += times;
        }
    };
    add(title, TITLE_BOOST);
    add(problem, 1);
    add(solution, 1);
    for tag in tags {
        add(tag, TAG_BOOST);
    }
    for tag in tags {
        w.entry(tag_term(tag)).or_insert(0);
    }
    w.into_iter().collect()
}

/// The distinct terms a query is searched with, in the order they first occur, at most
/// [`MAX_QUERY_TERMS`].
pub fn query_terms(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokens(q) {
        if !out.contains(&t) {
            out.push(t);
            if out.len() == MAX_QUERY_TERMS {
                break;
            }
        }
    }
    out
}

/// `round(1000 × ln(1 + N / df))`: how much one occurrence of a term counts in the score;
/// `n` entries in the library, `df` of them holding the term (at least 1, see the module).
pub fn idf_milli(n: i64, df: i64) -> i64 {
    let n = n.max(1) as f64;
    let df = df.max(1) as f64;
    (1000.0 * (1.0 + n / df).ln()).round() as i64
}

// ---- policy suggestions ----------------------------------------------------------------------

/// A step of a suggestion: into study, or the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub to: SuggestionState,
    /// 决定机关 (adopted / rejected); the body studying it (under study, optional).
    #[serde(default)]
    pub deciding_body: String,
    /// The date of the decision (adopted / rejected).
    pub decided_on: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub note: String,
}

/// Why a suggestion cannot take the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuggestionError {
    #[error("建议当前为“{0}”，不能改为“{1}”")]
    WrongState(&'static str, &'static str),
    #[error("请填写决定机关")]
    NoBody,
    #[error("请填写决定日期")]
    NoDate,
    #[error("决定日期不能晚于今天")]
    FutureDate,
    #[error("决定日期不能早于建议提出日期")]
    BeforeProposed,
    #[error("请填写决定说明（采纳的措施或未采纳的理由）")]
    NoNote,
}

impl SuggestionError {
    pub fn field(&self) -> &'static str {
        match self {
            SuggestionError::WrongState(..) => "state",
            SuggestionError::NoBody => "deciding_body",
            SuggestionError::NoDate
            | SuggestionError::FutureDate
            | SuggestionError::BeforeProposed => "decided_on",
            SuggestionError::NoNote => "note",
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            SuggestionError::WrongState(..) => "wrong_state",
            SuggestionError::NoBody | SuggestionError::NoDate | SuggestionError::NoNote => {
                "required"
            }
            SuggestionError::FutureDate => "future_date",
            SuggestionError::BeforeProposed => "before_proposed",
        }
    }
    /// A conflict with the suggestion's state (409) rather than bad input (422).
    pub fn is_conflict(&self) -> bool {
        matches!(self, SuggestionError::WrongState(..))
    }
}

impl SuggestionState {
    pub fn is_decided(self) -> bool {
        matches!(self, SuggestionState::Adopted | SuggestionState::Rejected)
    }

    /// The states a suggestion in `self` may move to.
    pub fn next_states(self) -> &'static [SuggestionState] {
        match self {
            SuggestionState::Proposed => &[SuggestionState::UnderStudy],
            SuggestionState::UnderStudy => &[SuggestionState::Adopted, SuggestionState::Rejected],
            SuggestionState::Adopted | SuggestionState::Rejected => &[],
        }
    }
}

/// Checks a step: proposed → under study → adopted / rejected, nothing else; a decision
/// names the deciding body, its date (not after `today`, not before `proposed_on`) and a
/// note. Returns the state after the step.
pub fn decide(
    from: SuggestionState,
    d: &Decision,
    proposed_on: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> Result<SuggestionState, SuggestionError> {
    if !from.next_states().contains(&d.to) {
        return Err(SuggestionError::WrongState(from.label(), d.to.label()));
    }
    if d.to.is_decided() {
        if d.deciding_body.trim().is_empty() {
            return Err(SuggestionError::NoBody);
        }
        let on = d.decided_on.ok_or(SuggestionError::NoDate)?;
        if on > today {
            return Err(SuggestionError::FutureDate);
        }
        if on < proposed_on {
            return Err(SuggestionError::BeforeProposed);
        }
        if d.note.trim().is_empty() {
            return Err(SuggestionError::NoNote);
        }
    }
    Ok(d.to)
}

/// The audit actions of the library and suggestions with their Chinese names.
pub const AUDIT_ACTIONS: [(&str, &str); 1] = [("fallback.suggestion.decide", "决定政策建议")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_emails_and_spoken_numbers_are_removed() {
        let known = Known {
            person_names: vec!["刘小英"],
            company_names: vec![],
        };
        let out = anonymise(
            "刘小英电话139.1234.5678，单位0571–8701–0001，座机(010)8888-6666，邮箱lxy@qq.com，\
             手机一三八〇〇一三八〇〇〇，住3号楼",
            &known,
        );
        for gone in [
            "139",
            "1234",
            "8701",
            "8888",
            "lxy",
            "qq.com",
            "一三八",
            "刘小英",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(
            out.contains(PLACEHOLDER_EMAIL) && out.contains("某号楼"),
            "{out}"
        );
        // A short number and a decimal stay.
        let kept = anonymise("第3次协调，面积85.5平方米，一二三楼", &known);
        assert_eq!(kept, "第3次协调，面积85.5平方米，一二三楼");
    }
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn known() -> Known<'static> {
        Known {
            person_names: vec!["张三丰"],
            company_names: vec!["示范市幸福商贸有限公司"],
        }
    }

    #[test]
    fn names_ids_phones_and_house_numbers_are_removed() {
        let t = "张三丰（身份证11010519491231002X，电话138 0013 8000）住幸福路12号3栋2单元501室，\
                 是示范市幸福商贸有限公司法人，依据国办发〔2022〕5号，座机62345678，2023年起多次反映。";
        let a = anonymise(t, &known());
        assert_eq!(
            a,
            "张某（身份证[身份证号]，电话[手机号]）住幸福路某号某栋某单元某室，\
             是某公司法人，依据国办发〔2022〕5号，座机[号码]，2023年起多次反映。"
        );
    }

    #[test]
    fn fullwidth_digits_and_hyphens_do_not_hide_a_number() {
        let a = anonymise(
            "联系１３８００１３８０００或138-0013-8000",
            &Known::default(),
        );
        assert_eq!(a, "联系[手机号]或[手机号]");
        let a = anonymise("证号110105194912310021", &Known::default());
        assert_eq!(a, "证号[身份证号]");
    }

    #[test]
    fn a_one_character_name_and_an_unnamed_company() {
        let k = Known {
            person_names: vec!["明", ""],
            company_names: vec!["幸福小学"],
        };
        assert_eq!(anonymise("明在幸福小学", &k), "某某在某单位");
    }

    #[test]
    fn tokens_drop_stop_words_punctuation_single_characters_and_numbers() {
        let t = tokens("我们小区的老旧小区加装电梯问题，2023年一直没有解决！");
        assert!(t.contains(&"加装".to_string()), "{t:?}");
        assert!(t.contains(&"电梯".to_string()), "{t:?}");
        assert!(
            t.contains(&"老旧小区".to_string()) || t.contains(&"小区".to_string()),
            "{t:?}"
        );
        for dropped in ["我们", "的", "问题", "，", "！", "2023", "一直", "没有"] {
            assert!(!t.contains(&dropped.to_string()), "{dropped} in {t:?}");
        }
        assert!(t.iter().all(|w| w.chars().count() >= 2));
    }

    #[test]
    fn placeholders_are_not_terms() {
        let t = tokens("电话[手机号]证件[身份证号]");
        assert!(
            !t.iter().any(|w| w.contains("手机") || w.contains("身份证")),
            "{t:?}"
        );
    }

    #[test]
    fn weights_are_term_frequencies_with_title_and_tags_boosted() {
        let w: BTreeMap<String, i64> = term_weights(
            "加装电梯",
            "电梯加装需要业主同意，电梯",
            "协调电梯公司",
            &["历史遗留问题".to_string()],
        )
        .into_iter()
        .collect();
        // Title 3× + problem 2 + solution 1.
        assert_eq!(w.get("电梯"), Some(&6), "{w:?}");
        assert_eq!(w.get("#tag:历史遗留问题"), Some(&0));
        assert!(w.get("历史").copied().unwrap_or(0) >= TAG_BOOST, "{w:?}");
    }

    #[test]
    fn query_terms_are_distinct_and_bounded() {
        let q = query_terms("电梯 电梯 加装电梯");
        assert_eq!(q.iter().filter(|t| *t == "电梯").count(), 1);
        let long = "电梯加装税务登记房产证".repeat(50);
        assert!(query_terms(&long).len() <= MAX_QUERY_TERMS);
        assert!(query_terms("，。！？的了").is_empty());
    }

    #[test]
    fn idf_favours_rare_terms() {
        assert_eq!(idf_milli(10, 10), 693); // ln 2
        assert!(idf_milli(100, 1) > idf_milli(100, 10));
        assert_eq!(idf_milli(0, 0), 693);
    }

    fn d(to: SuggestionState, body: &str, on: Option<NaiveDate>, note: &str) -> Decision {
        Decision {
            to,
            deciding_body: body.into(),
            decided_on: on,
            note: note.into(),
        }
    }

    #[test]
    fn suggestions_move_proposed_study_decided_only() {
        use SuggestionState as S;
        let p = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let on = Some(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(
            decide(S::Proposed, &d(S::UnderStudy, "", None, ""), p, today),
            Ok(S::UnderStudy)
        );
        assert!(matches!(
            decide(S::Proposed, &d(S::Adopted, "区政府", on, "采纳"), p, today),
            Err(SuggestionError::WrongState(..))
        ));
        assert_eq!(
            decide(
                S::UnderStudy,
                &d(S::Adopted, "区政府常务会议", on, "出台办法"),
                p,
                today
            ),
            Ok(S::Adopted)
        );
        assert_eq!(
            decide(S::UnderStudy, &d(S::Rejected, "", on, "x"), p, today),
            Err(SuggestionError::NoBody)
        );
        assert_eq!(
            decide(
                S::UnderStudy,
                &d(S::Rejected, "区政府", None, "x"),
                p,
                today
            ),
            Err(SuggestionError::NoDate)
        );
        assert_eq!(
            decide(
                S::UnderStudy,
                &d(S::Rejected, "区政府", Some(today.succ_opt().unwrap()), "x"),
                p,
                today
            ),
            Err(SuggestionError::FutureDate)
        );
        assert_eq!(
            decide(
                S::UnderStudy,
                &d(S::Rejected, "区政府", Some(p.pred_opt().unwrap()), "x"),
                p,
                today
            ),
            Err(SuggestionError::BeforeProposed)
        );
        assert_eq!(
            decide(S::UnderStudy, &d(S::Rejected, "区政府", on, " "), p, today),
            Err(SuggestionError::NoNote)
        );
        for done in [S::Adopted, S::Rejected] {
            for to in SuggestionState::ALL {
                assert!(decide(done, &d(*to, "区政府", on, "x"), p, today).is_err());
            }
        }
    }

    #[test]
    fn only_solved_and_partly_solved_enter_the_library() {
        let entered: Vec<_> = Outcome::ALL
            .iter()
            .filter(|o| enters_library(**o))
            .collect();
        assert_eq!(entered, vec![&Outcome::Solved, &Outcome::PartlySolved]);
    }

    fn digits_only(s: &str) -> String {
        s.chars().filter(|c| c.is_ascii_digit()).collect()
    }

    /// No run of 11 or more digits (with or without separators) and no 17 digits + X.
    fn no_long_number(s: &str) {
        let chars: Vec<char> = s.chars().collect();
        let mut run = 0;
        for (i, c) in chars.iter().enumerate() {
            if c.is_ascii_digit() {
                run += 1;
                assert!(run < 11, "a long number survived in {s:?}");
            } else if matches!(c, ' ' | '-') && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
            {
            } else {
                run = 0;
            }
        }
    }

    proptest! {
        #[test]
        fn no_mobile_or_id_survives(
            before in "[\\PC]{0,20}",
            mobile in "1[3-9][0-9]{9}",
            id in "[1-9][0-9]{16}[0-9Xx]",
            after in "[\\PC]{0,20}",
            sep in prop::sample::select(vec!["", " ", "-"]),
            wide in any::<bool>(),
        ) {
            let spaced: String = mobile
                .chars()
                .enumerate()
                .map(|(i, c)| if i == 3 || i == 7 { format!("{sep}{c}") } else { c.to_string() })
                .collect();
            let mut text = format!("{before}{spaced}，{id}{after}");
            if wide {
                text = text
                    .chars()
                    .map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c })
                    .collect();
            }
            let out = anonymise(&text, &Known::default());
            prop_assert!(!digits_only(&out).contains(&mobile), "{out}");
            prop_assert!(!out.contains(&id), "{out}");
            prop_assert!(!out.contains(&id[..17]), "{out}");
            no_long_number(&out);
        }

        #[test]
        fn anonymising_never_panics_and_keeps_short_text(s in "[\\PC]{0,80}") {
            let out = anonymise(&s, &known());
            no_long_number(&out);
        }
    }
}
