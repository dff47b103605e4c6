//! The service item catalog (事项目录 / 实施清单): items and their handling variants, the
//! materials each needs, 一件事 bundles with one de-duplicated material list and one combined
//! deadline, the rule of intake at the comprehensive window (accept / 容缺 / 告知承诺 / refuse
//! with a complete one-time notice), and a CSV codec for import and export.
//!
//! Everything here is pure: the demo catalog is compiled in, nothing reads files or the clock.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::fees::{Charge, Fee};
use crate::materials::CatalogueMaterial;
use crate::validation::FieldErrors;

// --- item types and window classes ----------------------------------------------------------

/// The kind of government power or service an item is (事项类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    AdministrativeLicense,
    AdministrativePayment,
    AdministrativeConfirmation,
    AdministrativeAdjudication,
    AdministrativeReward,
    OtherPower,
    PublicService,
    Filing,
}

impl ItemType {
    pub const ALL: [ItemType; 8] = [
        ItemType::AdministrativeLicense,
        ItemType::AdministrativePayment,
        ItemType::AdministrativeConfirmation,
        ItemType::AdministrativeAdjudication,
        ItemType::AdministrativeReward,
        ItemType::OtherPower,
        ItemType::PublicService,
        ItemType::Filing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::AdministrativeLicense => "administrative_license",
            ItemType::AdministrativePayment => "administrative_payment",
            ItemType::AdministrativeConfirmation => "administrative_confirmation",
            ItemType::AdministrativeAdjudication => "administrative_adjudication",
            ItemType::AdministrativeReward => "administrative_reward",
            ItemType::OtherPower => "other_power",
            ItemType::PublicService => "public_service",
            ItemType::Filing => "filing",
        }
    }

    /// Accepts the snake_case name or the Chinese label (surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.label() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ItemType::AdministrativeLicense => "行政许可",
            ItemType::AdministrativePayment => "行政给付",
            ItemType::AdministrativeConfirmation => "行政确认",
            ItemType::AdministrativeAdjudication => "行政裁决",
            ItemType::AdministrativeReward => "行政奖励",
            ItemType::OtherPower => "其他行政权力",
            ItemType::PublicService => "公共服务",
            ItemType::Filing => "行政备案",
        }
    }
}

/// The window classes of the hall (十一类服务窗口, plus the reserved 社保卡 and 综合 windows).
pub const WINDOW_CLASSES: [&str; 13] = [
    "社会化退休人员管理",
    "就业服务",
    "社会保险",
    "地税委托代征",
    "计划生育服务",
    "居住证办理",
    "外国人管理服务",
    "残疾人保障",
    "民政救济",
    "住房保障",
    "经济服务",
    "社保卡",
    "综合",
];

// --- materials --------------------------------------------------------------------------------

/// Whether the original, a copy, or both are handed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterialForm {
    Original,
    Copy,
    OriginalAndCopy,
}

impl MaterialForm {
    pub const ALL: [MaterialForm; 3] = [
        MaterialForm::Original,
        MaterialForm::Copy,
        MaterialForm::OriginalAndCopy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MaterialForm::Original => "original",
            MaterialForm::Copy => "copy",
            MaterialForm::OriginalAndCopy => "original_and_copy",
        }
    }

    /// Accepts the snake_case name or the Chinese label (surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s || f.label() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            MaterialForm::Original => "原件",
            MaterialForm::Copy => "复印件",
            MaterialForm::OriginalAndCopy => "原件及复印件",
        }
    }

    /// The stricter of two forms: equal forms stay, anything else needs both.
    pub fn strictest(self, other: MaterialForm) -> MaterialForm {
        if self == other {
            self
        } else {
            MaterialForm::OriginalAndCopy
        }
    }
}

/// One material of an item's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    pub name: String,
    pub form: MaterialForm,
    pub copies: u32,
    /// Must be provided (now or, if tolerable, later).
    pub required: bool,
    /// 容缺: may be missing at acceptance and supplied later. Only meaningful when required.
    pub tolerable: bool,
    /// An electronic certificate (电子证照) can replace it.
    pub e_cert: bool,
    /// May be replaced by the applicant's written commitment (告知承诺).
    pub commitment: bool,
    /// Where it comes from, e.g. 申请人自备 / 民政部门出具.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub note: String,
    /// The material of the catalogue this row asks for (`materials::CatalogueMaterial`):
    /// rows of several items with the same id are one material of a bundle, whatever each
    /// item calls it. Rows stored before the catalogue have none and merge by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material_id: Option<String>,
}

/// A question residents often ask, with its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faq {
    pub q: String,
    pub a: String,
}

// --- service items ------------------------------------------------------------------------

/// One item of the catalog, or a sub-item / handling variant of another (`parent_code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceItem {
    pub code: String,
    pub name: String,
    /// A sub-item / handling variant of another item.
    #[serde(default)]
    pub parent_code: Option<String>,
    /// 新设 / 变更 / 延续 / 注销 / 补领 …
    #[serde(default)]
    pub variant: Option<String>,
    pub item_type: ItemType,
    pub window_class: String,
    pub department_code: String,
    pub legal_basis: String,
    pub conditions: String,
    pub materials: Vec<Material>,
    /// 法定时限 in working days; `None` when the law sets none.
    pub legal_limit_days: Option<u32>,
    /// 承诺时限 in working days; 0 means 即办 (immediate).
    pub promised_limit_days: u32,
    /// The fee (不收费, fixed per case, or per unit), its basis and whether the result waits
    /// for payment (先缴费后出件). Older stored versions hold a text here; they still load
    /// ([`Fee`]'s deserializer), and one that is not 「不收费」 waits for review.
    pub fee: Fee,
    pub place: String,
    pub hours: String,
    pub online: bool,
    /// 到现场次数: how many times the applicant has to come to the hall.
    pub visits: u32,
    pub steps: Vec<String>,
    #[serde(default)]
    pub faq: Vec<Faq>,
    pub consult_phone: String,
    pub complaint_phone: String,
    /// 告知承诺制 applies.
    #[serde(default)]
    pub commitment_allowed: bool,
    /// 即审即办: a clerk holding the department's window grant (首席代表) may approve it at
    /// intake, in the applicant's presence, instead of routing it to the back office.
    #[serde(default)]
    pub approve_at_window: bool,
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// Longest item name, in characters.
pub const MAX_NAME_CHARS: usize = 60;

fn valid_code(code: &str) -> bool {
    (2..=40).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The first clause of `text` that is a catch-all (兜底条款), if any: 「其他条件」、
/// 「其他……规定的条件/情形」、「法律法规规定的其他情形」, or a list that ends in 「等」.
pub fn catch_all_clause(text: &str) -> Option<String> {
    const BREAKS: &[char] = &[
        '。', '；', ';', '，', ',', '：', ':', '！', '!', '？', '?', '\n', '\r',
    ];
    // A 「等」 preceded by one of these is a word (平等、一等…), not the end of a list.
    const NOT_A_LIST_END: &[char] = &[
        '平', '同', '相', '对', '均', '高', '中', '初', '上', '下', '一', '二', '三', '四', '特',
        '次', '优', '劣', '何',
    ];
    for clause in text.split(|c| BREAKS.contains(&c)) {
        let clause = clause.trim();
        if clause.is_empty() {
            continue;
        }
        if let Some(i) = clause.find("其他") {
            let rest = &clause[i + "其他".len()..];
            for tail in ["条件", "情形", "情况"] {
                if let Some(j) = rest.find(tail) {
                    let between = &rest[..j];
                    if between.is_empty() || between.ends_with('的') || between.ends_with("规定")
                    {
                        return Some(clause.to_string());
                    }
                }
            }
        }
        for pat in ["等其他", "等条件", "等情形"] {
            for (k, _) in clause.match_indices(pat) {
                let before = clause[..k].chars().next_back();
                if !before.is_some_and(|c| NOT_A_LIST_END.contains(&c)) {
                    return Some(clause.to_string());
                }
            }
        }
        let end = clause.trim_end_matches([
            '）', ')', '”', '"', '」', '』', '】', ']', ' ', '　', '…', '.',
        ]);
        let mut rev = end.chars().rev();
        if rev.next() == Some('等') {
            match rev.next() {
                Some(c) if NOT_A_LIST_END.contains(&c) => {}
                None => {}
                Some(_) => return Some(clause.to_string()),
            }
        }
    }
    None
}

impl ServiceItem {
    /// 即办件: finished at the window (promised limit 0).
    pub fn is_immediate(&self) -> bool {
        self.promised_limit_days == 0
    }

    /// 「即办」 or 「N个工作日」.
    pub fn promised_label(&self) -> String {
        if self.is_immediate() {
            "即办".to_string()
        } else {
            format!("{}个工作日", self.promised_limit_days)
        }
    }

    /// 「N个工作日」 or 「无」 when the law sets no limit.
    pub fn legal_label(&self) -> String {
        match self.legal_limit_days {
            Some(d) => format!("{d}个工作日"),
            None => "无".to_string(),
        }
    }

    /// The item's own rules (not those that need the rest of the catalog). Field names are the
    /// JSON field names; list entries are `materials[0].name`, `steps[2]` (0-based).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        self.check_into(&mut e, "");
        e.into_result()
    }

    fn check_into(&self, e: &mut FieldErrors, prefix: &str) {
        let f = |name: &str| format!("{prefix}{name}");

        if !e.required(&f("code"), "事项编码", &self.code).is_empty() && !valid_code(&self.code)
        {
            e.add(
                &f("code"),
                "bad_format",
                "事项编码须为2至40位英文字母、数字或短横线",
            );
        }
        if !e.required(&f("name"), "事项名称", &self.name).is_empty() {
            e.max_chars(&f("name"), "事项名称", &self.name, MAX_NAME_CHARS);
        }
        if let Some(p) = &self.parent_code {
            if p.trim().is_empty() {
                e.add(
                    &f("parent_code"),
                    "required",
                    "上级事项编码为空；不是子项时请不填",
                );
            } else if p == &self.code {
                e.add(&f("parent_code"), "self_parent", "事项不能以自身为上级事项");
            } else if !valid_code(p) {
                e.add(
                    &f("parent_code"),
                    "bad_format",
                    "上级事项编码须为2至40位英文字母、数字或短横线",
                );
            }
        }
        if let Some(v) = &self.variant {
            if v.trim().is_empty() {
                e.add(
                    &f("variant"),
                    "required",
                    "办理项为空；不区分办理项时请不填",
                );
            } else {
                e.max_chars(&f("variant"), "办理项", v, 20);
            }
        }
        if !WINDOW_CLASSES.contains(&self.window_class.as_str()) {
            e.add(
                &f("window_class"),
                "unknown_window_class",
                format!("窗口类别须为以下之一：{}", WINDOW_CLASSES.join("、")),
            );
        }
        e.required(&f("department_code"), "实施部门", &self.department_code);
        e.required(&f("legal_basis"), "设定依据", &self.legal_basis);
        if !e
            .required(&f("conditions"), "受理条件", &self.conditions)
            .is_empty()
        {
            if let Some(clause) = catch_all_clause(&self.conditions) {
                e.add(
                    &f("conditions"),
                    "catch_all",
                    format!("受理条件不得含兜底条款，请逐项列明：「{clause}」"),
                );
            }
        }
        if let Some(legal) = self.legal_limit_days {
            if self.promised_limit_days > legal {
                e.add(
                    &f("promised_limit_days"),
                    "exceeds_legal_limit",
                    format!(
                        "承诺时限（{}个工作日）不能超过法定时限（{legal}个工作日）",
                        self.promised_limit_days
                    ),
                );
            }
        }
        self.fee.check_into(e, prefix);
        e.required(&f("place"), "办理地点", &self.place);
        e.required(&f("hours"), "办理时间", &self.hours);

        if self.materials.is_empty() && self.visits > 0 && !self.online {
            e.add(
                &f("materials"),
                "no_materials",
                "需要到现场办理的事项须列明申请材料（确无材料的事项应可网上办理或零跑动）",
            );
        }
        let mut names = HashSet::new();
        for (i, m) in self.materials.iter().enumerate() {
            let mf = |name: &str| format!("{prefix}materials[{i}].{name}");
            let n = e.required(&mf("name"), "材料名称", &m.name);
            if !n.is_empty() {
                e.max_chars(&mf("name"), "材料名称", n, 100);
                if !names.insert(n) {
                    e.add(
                        &mf("name"),
                        "duplicate",
                        format!("材料「{n}」重复，同一事项内材料名称不能相同"),
                    );
                }
            }
            if m.copies == 0 || m.copies > 99 {
                e.add(&mf("copies"), "out_of_range", "份数须在1至99之间");
            }
            if m.tolerable && !m.required {
                e.add(
                    &mf("tolerable"),
                    "tolerable_not_required",
                    "只有必需材料才能设为容缺；非必需材料本来就可以不交",
                );
            }
        }

        if self.steps.is_empty() {
            e.add(&f("steps"), "required", "请填写办理流程");
        }
        for (i, s) in self.steps.iter().enumerate() {
            e.required(&format!("{prefix}steps[{i}]"), "流程步骤", s);
        }
        for (i, q) in self.faq.iter().enumerate() {
            e.required(&format!("{prefix}faq[{i}].q"), "常见问题", &q.q);
            e.required(&format!("{prefix}faq[{i}].a"), "常见问题的答复", &q.a);
        }
        for (i, k) in self.keywords.iter().enumerate() {
            e.required(&format!("{prefix}keywords[{i}]"), "关键词", k);
        }
    }
}

// --- bundles and the catalog --------------------------------------------------------------------

/// A 一件事 bundle: several items (usually handling variants) applied for as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub code: String,
    pub name: String,
    pub description: String,
    pub item_codes: Vec<String>,
    /// The bundle's own combined deadline; `None` = the largest of its items'.
    #[serde(default)]
    pub promised_limit_days: Option<u32>,
}

/// The whole catalog: items (with variants) and bundles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub items: Vec<ServiceItem>,
    #[serde(default)]
    pub bundles: Vec<Bundle>,
    /// Materials of the material catalogue the file brings (saved before its items, which
    /// may refer to them or to materials already stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub materials: Vec<CatalogueMaterial>,
}

/// The shipped demo catalog, as JSON.
pub const DEMO_CATALOG_JSON: &str = include_str!("../data/demo-catalog.json");

impl Catalog {
    /// The demo catalog shipped with the product (a street-level service hall).
    pub fn demo() -> Catalog {
        serde_json::from_str(DEMO_CATALOG_JSON).unwrap_or_else(|e| {
            panic!("crates/domain/data/demo-catalog.json is not a valid catalog: {e}")
        })
    }

    /// Every item valid (field names prefixed with the item code, e.g. `SB-001.fee`), item and
    /// bundle codes unique, parents exist and form no cycle, bundles name ≥2 existing items.
    /// Bundle errors are prefixed with the bundle code (`YJS-01.item_codes`).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let mut by_code: HashMap<&str, &ServiceItem> = HashMap::new();
        for item in &self.items {
            let prefix = format!("{}.", item.code);
            item.check_into(&mut e, &prefix);
            if by_code.insert(item.code.as_str(), item).is_some() {
                e.add(
                    &format!("{prefix}code"),
                    "duplicate",
                    format!("事项编码「{}」重复", item.code),
                );
            }
        }
        for item in &self.items {
            let Some(parent) = &item.parent_code else {
                continue;
            };
            if parent == &item.code || parent.trim().is_empty() {
                continue; // reported by the item's own rules
            }
            let field = format!("{}.parent_code", item.code);
            if !by_code.contains_key(parent.as_str()) {
                e.add(
                    &field,
                    "unknown_parent",
                    format!("上级事项「{parent}」不在目录中"),
                );
                continue;
            }
            // Walk up; a chain longer than the catalog means a cycle.
            let mut cur = parent.as_str();
            for _ in 0..=self.items.len() {
                match by_code.get(cur).and_then(|i| i.parent_code.as_deref()) {
                    Some(next) if next == item.code => {
                        e.add(&field, "parent_cycle", "上级事项关系不能形成循环");
                        break;
                    }
                    Some(next) => cur = next,
                    None => break,
                }
            }
        }

        let mut material_ids = HashSet::new();
        for (i, m) in self.materials.iter().enumerate() {
            let prefix = format!("materials[{i}].");
            m.check_into(&mut e, &prefix);
            if !material_ids.insert(m.id.as_str()) {
                e.add(
                    &format!("{prefix}id"),
                    "duplicate",
                    format!("材料编码「{}」重复", m.id),
                );
            }
        }

        let mut bundle_codes = HashSet::new();
        for b in &self.bundles {
            let f = |name: &str| format!("{}.{name}", b.code);
            if e.required(&f("code"), "一件事编码", &b.code).is_empty() {
                // reported
            } else if !valid_code(&b.code) {
                e.add(
                    &f("code"),
                    "bad_format",
                    "一件事编码须为2至40位英文字母、数字或短横线",
                );
            } else if !bundle_codes.insert(b.code.as_str()) || by_code.contains_key(b.code.as_str())
            {
                e.add(
                    &f("code"),
                    "duplicate",
                    format!("编码「{}」已被使用", b.code),
                );
            }
            if !e.required(&f("name"), "一件事名称", &b.name).is_empty() {
                e.max_chars(&f("name"), "一件事名称", &b.name, MAX_NAME_CHARS);
            }
            if b.item_codes.len() < 2 {
                e.add(&f("item_codes"), "too_few_items", "一件事至少包含两个事项");
            }
            let mut seen = HashSet::new();
            for c in &b.item_codes {
                if !by_code.contains_key(c.as_str()) {
                    e.add(
                        &f("item_codes"),
                        "unknown_item",
                        format!("事项「{c}」不在目录中"),
                    );
                } else if !seen.insert(c.as_str()) {
                    e.add(
                        &f("item_codes"),
                        "duplicate",
                        format!("事项「{c}」重复列入"),
                    );
                }
            }
        }
        e.into_result()
    }

    pub fn item(&self, code: &str) -> Option<&ServiceItem> {
        self.items.iter().find(|i| i.code == code)
    }

    pub fn bundle(&self, code: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|b| b.code == code)
    }

    /// The sub-items / handling variants of `code`, in catalog order.
    pub fn variants(&self, code: &str) -> Vec<&ServiceItem> {
        self.items
            .iter()
            .filter(|i| i.parent_code.as_deref() == Some(code))
            .collect()
    }

    /// A bundle's items in the bundle's order (unknown codes skipped).
    pub fn bundle_items(&self, bundle: &Bundle) -> Vec<&ServiceItem> {
        bundle
            .item_codes
            .iter()
            .filter_map(|c| self.item(c))
            .collect()
    }

    /// The bundles that include `code`.
    pub fn bundles_with(&self, code: &str) -> Vec<&Bundle> {
        self.bundles
            .iter()
            .filter(|b| b.item_codes.iter().any(|c| c == code))
            .collect()
    }

    /// Keyword search as residents type it: every blank-separated term must occur in the code,
    /// name, variant, window class or a keyword (or a keyword must occur in the term).
    /// Best first: name hits before keyword-only hits; catalog order otherwise.
    pub fn search(&self, query: &str) -> Vec<&ServiceItem> {
        let terms: Vec<&str> = query.split_whitespace().collect();
        if terms.is_empty() {
            return Vec::new();
        }
        let mut hits: Vec<(u32, usize, &ServiceItem)> = Vec::new();
        for (pos, item) in self.items.iter().enumerate() {
            let mut score = 0;
            let all = terms.iter().all(|t| {
                let s = if item.code.eq_ignore_ascii_case(t) {
                    8
                } else if item.name.contains(t) {
                    4
                } else if item.keywords.iter().any(|k| k.contains(t)) {
                    2
                } else if item.variant.as_deref().is_some_and(|v| v.contains(t))
                    || item.window_class.contains(t)
                    || item
                        .keywords
                        .iter()
                        .any(|k| !k.trim().is_empty() && t.contains(k.as_str()))
                {
                    1
                } else {
                    0
                };
                score += s;
                s > 0
            });
            if all {
                hits.push((score, pos, item));
            }
        }
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        hits.into_iter().map(|(_, _, i)| i).collect()
    }
}

/// One de-duplicated material list for several items applied for together (一套材料). Rows
/// are the same material when they name the same material of the catalogue
/// (`material_id`), whatever each item calls it — the ID card that one item asks for as
/// 居民身份证 and another as 父母双方居民身份证 is asked for once; rows without an id (stored
/// before the catalogue) are the same when their names are (ignoring surrounding blanks).
/// The merged entry: the first row's name, the other names it was asked for under added to
/// its note (「亦即：…」), form = the strictest (OriginalAndCopy > Original/Copy; Original +
/// Copy combine to OriginalAndCopy), copies = max, required = any required, tolerable = all
/// that require it are tolerable, e_cert = all allow it, commitment = all allow it, source =
/// the first non-blank, notes = the distinct non-blank ones joined by 「；」. Order: first
/// appearance.
pub fn merge_materials<'a>(items: impl IntoIterator<Item = &'a ServiceItem>) -> Vec<Material> {
    let mut out: Vec<Material> = Vec::new();
    // Per entry: the other names it was asked for under.
    let mut aliases: Vec<Vec<String>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in items {
        for m in &item.materials {
            let name = m.name.trim().to_string();
            let key = match &m.material_id {
                Some(id) => format!("id:{id}"),
                None => format!("name:{name}"),
            };
            match index.get(&key) {
                None => {
                    index.insert(key, out.len());
                    let mut first = m.clone();
                    first.name = name;
                    first.tolerable = m.required && m.tolerable;
                    out.push(first);
                    aliases.push(Vec::new());
                }
                Some(&i) => {
                    let o = &mut out[i];
                    if name != o.name && !aliases[i].contains(&name) {
                        aliases[i].push(name);
                    }
                    o.form = o.form.strictest(m.form);
                    o.copies = o.copies.max(m.copies);
                    if m.required {
                        o.tolerable = if o.required {
                            o.tolerable && m.tolerable
                        } else {
                            m.tolerable
                        };
                        o.required = true;
                    }
                    o.e_cert &= m.e_cert;
                    o.commitment &= m.commitment;
                    if o.source.trim().is_empty() {
                        o.source = m.source.clone();
                    }
                    let note = m.note.trim();
                    if !note.is_empty() && !o.note.split('；').any(|n| n == note) {
                        if !o.note.is_empty() {
                            o.note.push('；');
                        }
                        o.note.push_str(note);
                    }
                }
            }
        }
    }
    for (o, names) in out.iter_mut().zip(aliases) {
        if !names.is_empty() {
            if !o.note.is_empty() {
                o.note.push('；');
            }
            o.note.push_str(&format!("亦即：{}", names.join("、")));
        }
    }
    out
}

/// A bundle's combined deadline: its own promised limit if set, else the largest promised limit
/// of its items (0 = 即办 when all are immediate or there are none).
pub fn bundle_limit_days(bundle: &Bundle, items: &[&ServiceItem]) -> u32 {
    bundle.promised_limit_days.unwrap_or_else(|| {
        items
            .iter()
            .map(|i| i.promised_limit_days)
            .max()
            .unwrap_or(0)
    })
}

// --- intake -------------------------------------------------------------------------------------

/// What the clerk ticked for one material at the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterialCheck {
    Submitted,
    ElectronicCert,
    Missing,
}

impl MaterialCheck {
    pub const ALL: [MaterialCheck; 3] = [
        MaterialCheck::Submitted,
        MaterialCheck::ElectronicCert,
        MaterialCheck::Missing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MaterialCheck::Submitted => "submitted",
            MaterialCheck::ElectronicCert => "electronic_cert",
            MaterialCheck::Missing => "missing",
        }
    }

    /// Accepts the snake_case name (also the short `e_cert`) or the Chinese label.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s == "e_cert" {
            return Some(MaterialCheck::ElectronicCert);
        }
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s || c.label() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            MaterialCheck::Submitted => "已提交",
            MaterialCheck::ElectronicCert => "电子证照",
            MaterialCheck::Missing => "缺",
        }
    }
}

/// How a case was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceptanceKind {
    /// All required materials present (正常受理).
    Normal,
    /// Non-core materials missing, to be supplied later (容缺受理).
    Tolerance,
    /// Some materials replaced by the applicant's written commitment (告知承诺).
    Commitment,
}

impl AcceptanceKind {
    pub const ALL: [AcceptanceKind; 3] = [
        AcceptanceKind::Normal,
        AcceptanceKind::Tolerance,
        AcceptanceKind::Commitment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AcceptanceKind::Normal => "normal",
            AcceptanceKind::Tolerance => "tolerance",
            AcceptanceKind::Commitment => "commitment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AcceptanceKind::Normal => "正常受理",
            AcceptanceKind::Tolerance => "容缺受理",
            AcceptanceKind::Commitment => "告知承诺",
        }
    }
}

/// The outcome of checking an application's materials at the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum IntakeDecision {
    Accept {
        kind: AcceptanceKind,
        /// Tolerable materials still owed; empty unless `kind` is Tolerance.
        to_supplement: Vec<String>,
        /// Materials replaced by the signed commitment.
        by_commitment: Vec<String>,
    },
    Refuse {
        /// EVERY required material not provided — never a partial list (一次性告知).
        missing: Vec<String>,
    },
}

impl IntakeDecision {
    /// What the decision will do, in the words shown to the clerk before confirming it.
    pub fn summary(&self) -> String {
        match self {
            IntakeDecision::Accept {
                kind: AcceptanceKind::Tolerance,
                to_supplement,
                ..
            } => format!("将容缺受理，申请人须后补：{}", to_supplement.join("、")),
            IntakeDecision::Accept {
                kind: AcceptanceKind::Commitment,
                by_commitment,
                ..
            } => format!("将告知承诺受理，以承诺代替：{}", by_commitment.join("、")),
            IntakeDecision::Accept { .. } => "材料齐全，将予以受理".to_string(),
            IntakeDecision::Refuse { missing } => format!(
                "材料不齐，将出具一次性告知书（不受理），需补齐：{}",
                missing.join("、")
            ),
        }
    }

    /// A stable key of the decision: a confirmation is valid for exactly the decision the
    /// clerk saw (ticking another box afterwards asks again).
    pub fn key(&self) -> String {
        match self {
            IntakeDecision::Accept {
                kind,
                to_supplement,
                by_commitment,
            } => format!(
                "accept:{kind:?}:{}:{}",
                to_supplement.join("|"),
                by_commitment.join("|")
            ),
            IntakeDecision::Refuse { missing } => format!("refuse:{}", missing.join("|")),
        }
    }

    pub fn is_accept(&self) -> bool {
        matches!(self, IntakeDecision::Accept { .. })
    }
}

/// Whether the clerk's tick provides `m`: submitted, or an electronic certificate where the
/// material allows one.
pub fn provided(m: &Material, check: MaterialCheck) -> bool {
    match check {
        MaterialCheck::Submitted => true,
        MaterialCheck::ElectronicCert => m.e_cert,
        MaterialCheck::Missing => false,
    }
}

/// The rule of intake. `check(name)` is what the clerk ticked (absent = Missing). An
/// ElectronicCert tick counts only if the material allows e_cert (otherwise it is Missing).
/// If `commitment_signed` and `commitment_allowed` (the item, or every item of a bundle, allows
/// 告知承诺), missing materials with commitment=true are covered by the commitment.
/// Remaining missing required materials: none → Accept(Normal, or Commitment if anything was
/// covered); all tolerable → Accept(Tolerance, to_supplement = those); otherwise Refuse with ALL
/// missing required materials (tolerable ones included) in material order. Optional
/// (required=false) materials never block.
pub fn decide_intake(
    materials: &[Material],
    check: impl Fn(&str) -> MaterialCheck,
    commitment_allowed: bool,
    commitment_signed: bool,
) -> IntakeDecision {
    let commitment = commitment_allowed && commitment_signed;
    let mut missing: Vec<&Material> = Vec::new();
    let mut by_commitment = Vec::new();
    for m in materials {
        if !m.required || provided(m, check(&m.name)) {
            continue;
        }
        if commitment && m.commitment {
            by_commitment.push(m.name.clone());
        } else {
            missing.push(m);
        }
    }
    if missing.is_empty() {
        let kind = if by_commitment.is_empty() {
            AcceptanceKind::Normal
        } else {
            AcceptanceKind::Commitment
        };
        IntakeDecision::Accept {
            kind,
            to_supplement: Vec::new(),
            by_commitment,
        }
    } else if missing.iter().all(|m| m.tolerable) {
        IntakeDecision::Accept {
            kind: AcceptanceKind::Tolerance,
            to_supplement: missing.iter().map(|m| m.name.clone()).collect(),
            by_commitment,
        }
    } else {
        IntakeDecision::Refuse {
            missing: missing.iter().map(|m| m.name.clone()).collect(),
        }
    }
}

// --- CSV ------------------------------------------------------------------------------------

/// A CSV import failure: the physical line where the record starts (the header is line 1), the
/// column (or `materials[2].copies` inside a list cell, 0-based), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("第{line}行 {field}：{reason}")]
pub struct CsvError {
    pub line: usize,
    pub field: String,
    pub reason: String,
}

impl CsvError {
    pub fn code(&self) -> &'static str {
        "bad_csv"
    }

    fn new(line: usize, field: impl Into<String>, reason: impl Into<String>) -> Self {
        CsvError {
            line,
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The CSV columns: the exported header name and the Chinese name also accepted on import.
pub const CSV_COLUMNS: [(&str, &str); 27] = [
    ("code", "事项编码"),
    ("name", "事项名称"),
    ("parent_code", "上级事项编码"),
    ("variant", "办理项"),
    ("item_type", "事项类型"),
    ("window_class", "窗口类别"),
    ("department_code", "实施部门"),
    ("legal_basis", "设定依据"),
    ("conditions", "受理条件"),
    ("materials", "申请材料"),
    ("legal_limit_days", "法定时限"),
    ("promised_limit_days", "承诺时限"),
    ("fee", "收费标准"),
    ("fee_basis", "收费依据"),
    ("fee_note", "收费说明"),
    ("fee_pay_before_issue", "先缴费后出件"),
    ("place", "办理地点"),
    ("hours", "办理时间"),
    ("online", "网上办理"),
    ("visits", "到现场次数"),
    ("steps", "办理流程"),
    ("faq", "常见问题"),
    ("consult_phone", "咨询电话"),
    ("complaint_phone", "投诉电话"),
    ("commitment_allowed", "告知承诺"),
    ("approve_at_window", "即审即办"),
    ("keywords", "关键词"),
];

/// Columns that may be left out of an imported file (they take their defaults): files
/// written before fees were structured have no `fee_…` columns.
const CSV_OPTIONAL: [&str; 9] = [
    "parent_code",
    "variant",
    "faq",
    "commitment_allowed",
    "approve_at_window",
    "keywords",
    "fee_basis",
    "fee_note",
    "fee_pay_before_issue",
];

const LIST_SEPS: [char; 2] = [';', '；'];
const PART_SEPS: [char; 2] = ['|', '｜'];

fn escape_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' || LIST_SEPS.contains(&c) || PART_SEPS.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits on unescaped separators, keeping escapes in the pieces.
fn split_escaped(s: &str, seps: &[char]) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.last_mut().unwrap().push(c);
            if let Some(n) = chars.next() {
                out.last_mut().unwrap().push(n);
            }
        } else if seps.contains(&c) {
            out.push(String::new());
        } else {
            out.last_mut().unwrap().push(c);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().unwrap_or('\\'));
        } else {
            out.push(c);
        }
    }
    out
}

/// A list cell: non-blank entries, trimmed.
fn parse_list(cell: &str) -> Vec<Vec<String>> {
    split_escaped(cell, &LIST_SEPS)
        .into_iter()
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            split_escaped(&e, &PART_SEPS)
                .iter()
                .map(|p| unescape(p.trim()).trim().to_string())
                .collect()
        })
        .collect()
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

fn parse_flag(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "是" => Some(true),
        "0" | "false" | "no" | "n" | "否" | "" => Some(false),
        _ => None,
    }
}

fn csv_cell(out: &mut String, s: &str) {
    let quote = s.contains([',', '"', '\n', '\r'])
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace);
    if quote {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Exports items as CSV (RFC 4180: `,` between cells, `"` quoting with `""` inside, CRLF
/// between records, UTF-8 without BOM; a BOM is skipped on import). A header row of the names
/// in [`CSV_COLUMNS`], then one row per item:
///
/// - `item_type`: snake_case (`public_service`); the Chinese label (公共服务) is accepted too.
/// - `fee`: the notation of [`Charge::label`] — 「不收费」, 「80.00 元/件」, 「20.00 元/本」,
///   「10.00 元/页，每件最高 100.00 元」 (「80元」, 「20元/本」 accepted); `fee_basis` and
///   `fee_note` as text, `fee_pay_before_issue` a flag (先缴费后出件).
/// - `legal_limit_days`: a number, or empty for none; `promised_limit_days`: a number (0 = 即办;
///   「即办」 is accepted). `parent_code`, `variant`: empty for none.
/// - Flags (`online`, `commitment_allowed`, `approve_at_window`, and inside materials): `1`/`0`
///   (`true`/`false`/`是`/`否` accepted; empty = 0).
/// - List cells — `materials`, `steps`, `faq`, `keywords` — hold entries separated by `;`, the
///   fields of one entry separated by `|` (full-width `；` and `｜` are accepted as the same
///   separators). Inside a field, `\` escapes the next character, so `\;` `\|` `\；` `\｜` `\\`
///   are literal. Entries and fields are trimmed on import; blank entries are dropped.
/// - `materials`: `name|form|copies|required|tolerable|e_cert|commitment|source|note|material_id`
///   with form `original` / `copy` / `original_and_copy` (or 原件 / 复印件 / 原件及复印件);
///   `source`, `note` and the material catalogue's id may be left off. Example: `居民身份证|original|1|1|0|1|0|申请人自备`.
/// - `steps`, `keywords`: one entry per step / keyword. `faq`: entries `question|answer`.
///
/// Import takes the columns in any order, by the English or the Chinese header name;
/// `parent_code`, `variant`, `faq`, `commitment_allowed`, `keywords` and the `fee_…` columns
/// may be missing.
pub fn items_to_csv(items: &[ServiceItem]) -> String {
    let mut out = String::new();
    let header: Vec<&str> = CSV_COLUMNS.iter().map(|(n, _)| *n).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for item in items {
        let materials: Vec<String> = item
            .materials
            .iter()
            .map(|m| {
                let mut parts = vec![
                    escape_part(m.name.trim()),
                    m.form.as_str().to_string(),
                    m.copies.to_string(),
                    flag(m.required).to_string(),
                    flag(m.tolerable).to_string(),
                    flag(m.e_cert).to_string(),
                    flag(m.commitment).to_string(),
                ];
                let id = m.material_id.as_deref().unwrap_or("");
                if !m.source.trim().is_empty() || !m.note.trim().is_empty() || !id.is_empty() {
                    parts.push(escape_part(m.source.trim()));
                }
                if !m.note.trim().is_empty() || !id.is_empty() {
                    parts.push(escape_part(m.note.trim()));
                }
                if !id.is_empty() {
                    parts.push(escape_part(id));
                }
                parts.join("|")
            })
            .collect();
        let list = |v: &[String]| {
            v.iter()
                .map(|s| escape_part(s.trim()))
                .collect::<Vec<_>>()
                .join(";")
        };
        let faq: Vec<String> = item
            .faq
            .iter()
            .map(|f| format!("{}|{}", escape_part(f.q.trim()), escape_part(f.a.trim())))
            .collect();
        let cells: [String; 27] = [
            item.code.clone(),
            item.name.clone(),
            item.parent_code.clone().unwrap_or_default(),
            item.variant.clone().unwrap_or_default(),
            item.item_type.as_str().to_string(),
            item.window_class.clone(),
            item.department_code.clone(),
            item.legal_basis.clone(),
            item.conditions.clone(),
            materials.join(";"),
            item.legal_limit_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            item.promised_limit_days.to_string(),
            item.fee.charge.label(),
            item.fee.basis.clone(),
            item.fee.note.clone(),
            flag(item.fee.pay_before_issue).to_string(),
            item.place.clone(),
            item.hours.clone(),
            flag(item.online).to_string(),
            item.visits.to_string(),
            list(&item.steps),
            faq.join(";"),
            item.consult_phone.clone(),
            item.complaint_phone.clone(),
            flag(item.commitment_allowed).to_string(),
            flag(item.approve_at_window).to_string(),
            list(&item.keywords),
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_cell(&mut out, c);
        }
        out.push_str("\r\n");
    }
    out
}

/// Splits CSV text into records, each with the physical line it starts on (1-based).
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false; // inside quotes
        let mut was_quoted = false; // this field was quoted (closing quote seen)
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err(CsvError::new(
                        start,
                        format!("第{}列", fields.len() + 1),
                        "引号没有闭合",
                    ));
                }
                fields.push(std::mem::take(&mut field));
                break;
            };
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => {
                        quoted = false;
                        was_quoted = true;
                    }
                    '\n' => {
                        line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                '\r' | '\n' => {
                    if c == '\r' && chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                '"' if field.is_empty() && !was_quoted => quoted = true,
                _ if was_quoted => {
                    return Err(CsvError::new(
                        start,
                        format!("第{}列", fields.len() + 1),
                        "引号后只能紧跟逗号或换行",
                    ));
                }
                _ => field.push(c),
            }
        }
        if !(fields.len() == 1 && fields[0].trim().is_empty()) {
            records.push((start, fields));
        }
    }
    Ok(records)
}

/// Parses CSV written by [`items_to_csv`] (or by hand in a spreadsheet, see there for the
/// encoding). Checks the encoding only; run [`ServiceItem::validate`] / [`Catalog::validate`]
/// for the catalog's rules.
pub fn items_from_csv(text: &str) -> Result<Vec<ServiceItem>, CsvError> {
    let records = csv_records(text)?;
    let Some(((hline, header), rows)) = records.split_first() else {
        return Err(CsvError::new(1, "表头", "文件为空，缺少表头行"));
    };
    // column name → position in the file
    let mut pos: HashMap<&str, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let h = h.trim();
        if h.is_empty() {
            continue;
        }
        let Some((name, _)) = CSV_COLUMNS.iter().find(|(n, zh)| *n == h || *zh == h) else {
            return Err(CsvError::new(*hline, h, "未知的列名"));
        };
        if pos.insert(name, i).is_some() {
            return Err(CsvError::new(*hline, *name, "列名重复"));
        }
    }
    for (name, _) in CSV_COLUMNS {
        if !pos.contains_key(name) && !CSV_OPTIONAL.contains(&name) {
            return Err(CsvError::new(*hline, name, "缺少此列"));
        }
    }

    let mut items = Vec::with_capacity(rows.len());
    for (line, row) in rows {
        let line = *line;
        if let Some((i, _)) = row
            .iter()
            .enumerate()
            .find(|(i, c)| *i >= header.len() && !c.trim().is_empty())
        {
            return Err(CsvError::new(
                line,
                format!("第{}列", i + 1),
                format!("本行比表头多出内容（表头共{}列）", header.len()),
            ));
        }
        let cell = |name: &str| -> &str {
            pos.get(name)
                .and_then(|&i| row.get(i))
                .map(String::as_str)
                .unwrap_or("")
        };
        let err = |field: &str, reason: String| CsvError::new(line, field, reason);
        let number = |name: &str, label: &str| -> Result<u32, CsvError> {
            let v = cell(name).trim();
            v.parse::<u32>()
                .map_err(|_| err(name, format!("{label}须为非负整数，而不是「{v}」")))
        };
        let boolean = |name: &str| -> Result<bool, CsvError> {
            let v = cell(name);
            parse_flag(v).ok_or_else(|| err(name, format!("须为1或0，而不是「{}」", v.trim())))
        };
        let optional = |name: &str| -> Option<String> {
            let v = cell(name);
            (!v.trim().is_empty()).then(|| v.to_string())
        };

        let type_cell = cell("item_type");
        let item_type = ItemType::parse(type_cell).ok_or_else(|| {
            err(
                "item_type",
                format!(
                    "未知的事项类型「{}」，可用：{}",
                    type_cell.trim(),
                    ItemType::ALL.map(|t| t.as_str()).join("、")
                ),
            )
        })?;
        let legal_limit_days = match cell("legal_limit_days").trim() {
            "" | "无" | "-" => None,
            _ => Some(number("legal_limit_days", "法定时限")?),
        };
        let promised_limit_days = match cell("promised_limit_days").trim() {
            "即办" => 0,
            _ => number("promised_limit_days", "承诺时限")?,
        };

        let mut materials = Vec::new();
        for (i, parts) in parse_list(cell("materials")).into_iter().enumerate() {
            let f = |name: &str| format!("materials[{i}].{name}");
            let ord = i + 1;
            if !(7..=10).contains(&parts.len()) {
                return Err(err(
                    &f("name"),
                    format!(
                        "第{ord}项材料应为「名称|形式|份数|必需|容缺|电子证照|告知承诺|来源|备注|材料编码」（来源、备注、材料编码可省略），实际有{}段",
                        parts.len()
                    ),
                ));
            }
            let form = MaterialForm::parse(&parts[1]).ok_or_else(|| {
                err(
                    &f("form"),
                    format!(
                        "第{ord}项材料的形式「{}」无效，可用 original、copy、original_and_copy",
                        parts[1]
                    ),
                )
            })?;
            let copies = parts[2].parse::<u32>().map_err(|_| {
                err(
                    &f("copies"),
                    format!("第{ord}项材料的份数「{}」不是非负整数", parts[2]),
                )
            })?;
            let mut flags = [false; 4];
            for (k, name) in ["required", "tolerable", "e_cert", "commitment"]
                .iter()
                .enumerate()
            {
                flags[k] = parse_flag(&parts[3 + k]).ok_or_else(|| {
                    err(
                        &f(name),
                        format!("第{ord}项材料的{name}须为1或0，而不是「{}」", parts[3 + k]),
                    )
                })?;
            }
            materials.push(Material {
                name: parts[0].clone(),
                form,
                copies,
                required: flags[0],
                tolerable: flags[1],
                e_cert: flags[2],
                commitment: flags[3],
                source: parts.get(7).cloned().unwrap_or_default(),
                note: parts.get(8).cloned().unwrap_or_default(),
                material_id: parts.get(9).filter(|id| !id.is_empty()).cloned(),
            });
        }

        let single = |name: &str| -> Result<Vec<String>, CsvError> {
            parse_list(cell(name))
                .into_iter()
                .enumerate()
                .map(|(i, parts)| {
                    if parts.len() == 1 {
                        Ok(parts.into_iter().next().unwrap())
                    } else {
                        Err(err(
                            &format!("{name}[{i}]"),
                            format!("第{}项含未转义的「|」，请写作「\\|」", i + 1),
                        ))
                    }
                })
                .collect()
        };
        let steps = single("steps")?;
        let keywords = single("keywords")?;
        let mut faq = Vec::new();
        for (i, parts) in parse_list(cell("faq")).into_iter().enumerate() {
            let [q, a]: [String; 2] = parts.try_into().map_err(|p: Vec<String>| {
                err(
                    &format!("faq[{i}]"),
                    format!("第{}条问答应为「问题|答复」，实际有{}段", i + 1, p.len()),
                )
            })?;
            faq.push(Faq { q, a });
        }

        let charge = Charge::parse(cell("fee")).map_err(|e| err("fee", e.to_string()))?;
        let fee = Fee {
            charge,
            basis: cell("fee_basis").to_string(),
            note: cell("fee_note").to_string(),
            pay_before_issue: boolean("fee_pay_before_issue")?,
            review: None,
        };
        items.push(ServiceItem {
            code: cell("code").trim().to_string(),
            name: cell("name").to_string(),
            parent_code: optional("parent_code").map(|s| s.trim().to_string()),
            variant: optional("variant"),
            item_type,
            window_class: cell("window_class").trim().to_string(),
            department_code: cell("department_code").trim().to_string(),
            legal_basis: cell("legal_basis").to_string(),
            conditions: cell("conditions").to_string(),
            materials,
            legal_limit_days,
            promised_limit_days,
            fee,
            place: cell("place").to_string(),
            hours: cell("hours").to_string(),
            online: boolean("online")?,
            visits: number("visits", "到现场次数")?,
            steps,
            faq,
            consult_phone: cell("consult_phone").to_string(),
            complaint_phone: cell("complaint_phone").to_string(),
            commitment_allowed: boolean("commitment_allowed")?,
            approve_at_window: boolean("approve_at_window")?,
            keywords,
        });
    }
    Ok(items)
}

/// A one-time notice text (一次性告知) listing every missing material, for printing.
pub fn one_time_notice(item_names: &[&str], missing: &[String]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "您申请办理的「{}」尚缺以下材料，请一次性补齐后再来办理：",
        item_names.join("、")
    );
    for (i, m) in missing.iter().enumerate() {
        let _ = write!(s, "\n{}. {m}", i + 1);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mat(name: &str) -> Material {
        Material {
            name: name.to_string(),
            form: MaterialForm::Original,
            copies: 1,
            required: true,
            tolerable: false,
            e_cert: false,
            commitment: false,
            source: String::new(),
            note: String::new(),
            material_id: None,
        }
    }

    fn sample() -> ServiceItem {
        ServiceItem {
            code: "MZ-9001".into(),
            name: "测试救助申请".into(),
            parent_code: None,
            variant: None,
            item_type: ItemType::AdministrativePayment,
            window_class: "民政救济".into(),
            department_code: "dept-mz".into(),
            legal_basis: "《社会救助暂行办法》第十一条".into(),
            conditions: "本区户籍，家庭人均收入低于最低生活保障标准。".into(),
            materials: vec![
                Material {
                    e_cert: true,
                    ..mat("居民身份证")
                },
                Material {
                    tolerable: true,
                    ..mat("收入证明")
                },
            ],
            legal_limit_days: Some(20),
            promised_limit_days: 5,
            fee: Fee::free(),
            place: "幸福街道便民服务中心 综合受理窗口".into(),
            hours: "周一至周五 9:00-17:00".into(),
            online: false,
            visits: 1,
            steps: vec!["受理".into(), "审核".into(), "办结".into()],
            faq: vec![],
            consult_phone: "66012301".into(),
            complaint_phone: "12345".into(),
            commitment_allowed: false,
            approve_at_window: false,
            keywords: vec!["救助".into()],
        }
    }

    /// The item fails with exactly an error on `field` with `code` among its errors.
    fn fails(item: &ServiceItem, field: &str, code: &str) {
        let errs = item.validate().expect_err("should be rejected");
        assert!(
            errs.0.iter().any(|e| e.field == field && e.code == code),
            "expected {field}/{code}, got {:?}",
            errs.0
        );
    }

    #[test]
    fn sample_is_valid() {
        sample().validate().unwrap();
        assert!(!sample().is_immediate());
        assert_eq!(sample().promised_label(), "5个工作日");
        assert_eq!(sample().legal_label(), "20个工作日");
    }

    #[test]
    fn item_type_and_form_parse_both_spellings() {
        for t in ItemType::ALL {
            assert_eq!(ItemType::parse(t.as_str()), Some(t));
            assert_eq!(ItemType::parse(t.label()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!(ItemType::parse("行政备案"), Some(ItemType::Filing));
        assert_eq!(ItemType::parse("许可"), None);
        for f in MaterialForm::ALL {
            assert_eq!(MaterialForm::parse(f.as_str()), Some(f));
            assert_eq!(MaterialForm::parse(f.label()), Some(f));
        }
        for c in MaterialCheck::ALL {
            assert_eq!(MaterialCheck::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert_eq!(
            MaterialCheck::parse("e_cert"),
            Some(MaterialCheck::ElectronicCert)
        );
        for k in AcceptanceKind::ALL {
            assert_eq!(AcceptanceKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(WINDOW_CLASSES.len(), 13);
    }

    #[test]
    fn code_name_window_department() {
        for bad in ["A", "MZ 001", "民政-01", "MZ_001", &"A".repeat(41)] {
            let mut i = sample();
            i.code = bad.to_string();
            fails(&i, "code", "bad_format");
        }
        let mut i = sample();
        i.code = " ".into();
        fails(&i, "code", "required");
        let mut i = sample();
        i.name = "".into();
        fails(&i, "name", "required");
        let mut i = sample();
        i.name = "办".repeat(61);
        fails(&i, "name", "too_long");
        i.name = "办".repeat(60);
        i.validate().unwrap();
        let mut i = sample();
        i.window_class = "民政".into();
        fails(&i, "window_class", "unknown_window_class");
        let mut i = sample();
        i.department_code = "".into();
        fails(&i, "department_code", "required");
        let mut i = sample();
        i.legal_basis = " ".into();
        fails(&i, "legal_basis", "required");
    }

    #[test]
    fn parent_and_variant() {
        let mut i = sample();
        i.parent_code = Some(i.code.clone());
        fails(&i, "parent_code", "self_parent");
        i.parent_code = Some("".into());
        fails(&i, "parent_code", "required");
        i.parent_code = Some("MZ-9000".into());
        i.variant = Some(" ".into());
        fails(&i, "variant", "required");
        i.variant = Some("补领".into());
        i.validate().unwrap();
    }

    #[test]
    fn fee_limits_place_hours_steps() {
        let mut i = sample();
        i.fee.charge = Charge::Fixed {
            amount_fen: crate::fees::Fen::ZERO,
        };
        fails(&i, "fee.amount_fen", "not_positive");
        fails(&i, "fee.basis", "required");
        i.fee = Fee::from_legacy_text("工本费20元/张");
        fails(&i, "fee", "needs_review");
        let mut i = sample();
        i.legal_limit_days = Some(3);
        fails(&i, "promised_limit_days", "exceeds_legal_limit");
        i.legal_limit_days = None;
        i.promised_limit_days = 60;
        i.validate().unwrap();
        i.legal_limit_days = Some(60);
        i.validate().unwrap();
        let mut i = sample();
        i.place = "".into();
        i.hours = "".into();
        fails(&i, "place", "required");
        fails(&i, "hours", "required");
        let mut i = sample();
        i.steps.clear();
        fails(&i, "steps", "required");
        let mut i = sample();
        i.steps[1] = " ".into();
        fails(&i, "steps[1]", "required");
        let mut i = sample();
        i.faq.push(Faq {
            q: "问".into(),
            a: "".into(),
        });
        fails(&i, "faq[0].a", "required");
    }

    #[test]
    fn conditions_required_and_no_catch_all() {
        let mut i = sample();
        i.conditions = "".into();
        fails(&i, "conditions", "required");
        for bad in [
            "本区户籍；符合其他条件。",
            "本区户籍，法律、法规规定的其他条件",
            "本区户籍；其他法律法规规定的条件",
            "年满60周岁；法律法规规定的其他情形",
            "持有身份证、户口簿等",
            "持有身份证、户口簿等。",
            "因火灾、车祸等情形导致困难",
            "符合规定（如低保、特困等）",
            "本区户籍\n其他符合规定条件",
        ] {
            i.conditions = bad.into();
            fails(&i, "conditions", "catch_all");
        }
        for good in [
            "本区户籍，共同生活的其他家庭成员人均收入低于低保标准且符合财产条件。",
            "男女平等；同等条件下优先",
            "残疾等级为一级、二级",
            "获得三等功",
            "因就业、出国（境）或其他正当事由需要开具证明。",
            "年满60周岁的老年人",
        ] {
            i.conditions = good.into();
            assert!(i.validate().is_ok(), "{good}: {:?}", catch_all_clause(good));
        }
    }

    #[test]
    fn material_rules() {
        let mut i = sample();
        i.materials[0].tolerable = true;
        i.materials[0].required = false;
        fails(&i, "materials[0].tolerable", "tolerable_not_required");
        let mut i = sample();
        i.materials.push(mat("居民身份证"));
        fails(&i, "materials[2].name", "duplicate");
        let mut i = sample();
        i.materials[1].name = " ".into();
        fails(&i, "materials[1].name", "required");
        let mut i = sample();
        i.materials[1].copies = 0;
        fails(&i, "materials[1].copies", "out_of_range");
        // No materials: only when nothing has to be brought to the hall.
        let mut i = sample();
        i.materials.clear();
        fails(&i, "materials", "no_materials");
        i.visits = 0;
        i.validate().unwrap();
        i.visits = 1;
        i.online = true;
        i.validate().unwrap();
    }

    fn two_items() -> Catalog {
        let a = sample();
        let mut b = sample();
        b.code = "MZ-9002".into();
        b.name = "另一事项".into();
        Catalog {
            items: vec![a, b],
            bundles: vec![],
            materials: vec![],
        }
    }

    fn catalog_fails(c: &Catalog, field: &str, code: &str) {
        let errs = c.validate().expect_err("should be rejected");
        assert!(
            errs.0.iter().any(|e| e.field == field && e.code == code),
            "expected {field}/{code}, got {:?}",
            errs.0
        );
    }

    #[test]
    fn catalog_rules() {
        let c = two_items();
        c.validate().unwrap();
        assert_eq!(c.item("MZ-9002").unwrap().name, "另一事项");
        assert!(c.item("nope").is_none());

        let mut c = two_items();
        c.items[1].fee.charge = Charge::Fixed {
            amount_fen: crate::fees::Fen(8000),
        };
        catalog_fails(&c, "MZ-9002.fee.basis", "required");

        let mut c = two_items();
        c.items[1].code = "MZ-9001".into();
        catalog_fails(&c, "MZ-9001.code", "duplicate");

        let mut c = two_items();
        c.items[1].parent_code = Some("MZ-0000".into());
        catalog_fails(&c, "MZ-9002.parent_code", "unknown_parent");
        c.items[1].parent_code = Some("MZ-9001".into());
        c.validate().unwrap();
        assert_eq!(c.variants("MZ-9001").len(), 1);
        c.items[0].parent_code = Some("MZ-9002".into());
        catalog_fails(&c, "MZ-9002.parent_code", "parent_cycle");

        let mut c = two_items();
        let b = Bundle {
            code: "YJS-99".into(),
            name: "测试一件事".into(),
            description: String::new(),
            item_codes: vec!["MZ-9001".into(), "MZ-9002".into()],
            promised_limit_days: None,
        };
        c.bundles.push(b.clone());
        c.validate().unwrap();
        assert_eq!(c.bundle_items(&b).len(), 2);
        assert_eq!(c.bundles_with("MZ-9002").len(), 1);
        c.bundles[0].item_codes = vec!["MZ-9001".into()];
        catalog_fails(&c, "YJS-99.item_codes", "too_few_items");
        c.bundles[0].item_codes = vec!["MZ-9001".into(), "XX-1".into()];
        catalog_fails(&c, "YJS-99.item_codes", "unknown_item");
        c.bundles[0].item_codes = vec!["MZ-9001".into(), "MZ-9001".into()];
        catalog_fails(&c, "YJS-99.item_codes", "duplicate");
        c.bundles[0].item_codes = vec!["MZ-9001".into(), "MZ-9002".into()];
        c.bundles.push(b);
        catalog_fails(&c, "YJS-99.code", "duplicate");
    }

    #[test]
    fn demo_catalog_is_valid_and_rich() {
        let c = Catalog::demo();
        if let Err(e) = c.validate() {
            panic!("demo catalog invalid: {:?}", e.0);
        }
        assert!(c.items.len() >= 55, "{} items", c.items.len());
        for class in WINDOW_CLASSES {
            let n = c.items.iter().filter(|i| i.window_class == class).count();
            let min = match class {
                "社会保险" | "就业服务" | "民政救济" | "社保卡" | "综合" => 5,
                _ => 2,
            };
            assert!(n >= min, "{class}: {n} items");
        }
        let tolerable = c
            .items
            .iter()
            .filter(|i| i.materials.iter().any(|m| m.tolerable))
            .count();
        assert!(tolerable >= 15, "{tolerable}");
        assert!(c.items.iter().filter(|i| i.is_immediate()).count() >= 5);
        let commitment = c
            .items
            .iter()
            .filter(|i| i.commitment_allowed && i.materials.iter().any(|m| m.commitment))
            .count();
        assert!(commitment >= 5, "{commitment}");
        for t in ItemType::ALL {
            assert!(c.items.iter().any(|i| i.item_type == t), "{t:?} unused");
        }
        const DEPTS: [(&str, &str); 10] = [
            ("dept-mz", "MZ"),
            ("dept-rs", "RS"),
            ("dept-yb", "YB"),
            ("dept-sj", "SJ"),
            ("dept-sw", "SW"),
            ("dept-ga", "GA"),
            ("dept-zj", "ZJ"),
            ("dept-cg", "CG"),
            ("dept-wj", "WJ"),
            ("dept-cl", "CL"),
        ];
        for i in &c.items {
            let (_, prefix) = DEPTS
                .iter()
                .find(|(d, _)| *d == i.department_code)
                .unwrap_or_else(|| panic!("{}: unknown department {}", i.code, i.department_code));
            assert!(i.code.starts_with(&format!("{prefix}-")), "{}", i.code);
            assert!(
                (3..=5).contains(&i.steps.len()),
                "{}: {} steps",
                i.code,
                i.steps.len()
            );
            match &i.parent_code {
                Some(p) => {
                    assert!(i.code.starts_with(&format!("{p}-")), "{}", i.code);
                    assert!(i.variant.is_some(), "{}", i.code);
                }
                None => assert!(i.variant.is_none(), "{}", i.code),
            }
        }
        for name in [
            "新生儿出生一件事",
            "个体工商户开办一件事",
            "退休一件事",
            "残疾人服务一件事",
        ] {
            let b = c.bundles.iter().find(|b| b.name == name).unwrap();
            let items = c.bundle_items(b);
            assert_eq!(items.len(), b.item_codes.len());
            assert!(!merge_materials(items.iter().copied()).is_empty());
        }
        assert_eq!(c.variants("RS-0402").len(), 2);
        assert_eq!(c.variants("SJ-0101").len(), 3);
        // Most items are free, as in reality; a few charge, fixed per case and per unit,
        // and those charging hand the result over once paid.
        let charging: Vec<&ServiceItem> = c.items.iter().filter(|i| !i.fee.is_free()).collect();
        assert!((2..=6).contains(&charging.len()), "{}", charging.len());
        assert!(charging
            .iter()
            .all(|i| i.fee.pay_before_issue && i.fee.review.is_none()));
        assert!(charging
            .iter()
            .any(|i| matches!(i.fee.charge, Charge::Fixed { .. })));
        assert!(charging
            .iter()
            .any(|i| matches!(i.fee.charge, Charge::PerUnit { .. }) && i.is_immediate()));
        // Round trip through JSON.
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Catalog>(&json).unwrap(), c);
    }

    #[test]
    fn search_finds_what_residents_type() {
        let c = Catalog::demo();
        let codes =
            |q: &str| -> Vec<String> { c.search(q).into_iter().map(|i| i.code.clone()).collect() };
        assert!(codes("社保卡 丢了").contains(&"RS-0402-01".to_string()));
        assert!(codes("社保卡 丢了").contains(&"RS-0403".to_string()));
        assert_eq!(codes("低保")[0], "MZ-0101");
        assert_eq!(codes("rs-0101")[0], "RS-0101");
        assert!(codes("   ").is_empty());
        assert!(codes("不存在的事项xyz").is_empty());
    }

    fn item_with(code: &str, materials: Vec<Material>, promised: u32) -> ServiceItem {
        ServiceItem {
            code: code.into(),
            materials,
            promised_limit_days: promised,
            ..sample()
        }
    }

    #[test]
    fn merge_materials_dedups_and_takes_the_strictest() {
        let a = item_with(
            "A-1",
            vec![
                Material {
                    e_cert: true,
                    commitment: true,
                    source: String::new(),
                    ..mat("居民身份证")
                },
                Material {
                    tolerable: true,
                    form: MaterialForm::Copy,
                    copies: 2,
                    ..mat("收入证明")
                },
                Material {
                    required: false,
                    note: "甲".into(),
                    ..mat("照片")
                },
            ],
            3,
        );
        let b = item_with(
            "B-1",
            vec![
                Material {
                    form: MaterialForm::Copy,
                    e_cert: true,
                    source: "申请人自备".into(),
                    ..mat(" 居民身份证 ")
                },
                Material {
                    form: MaterialForm::Copy,
                    copies: 1,
                    tolerable: false,
                    ..mat("收入证明")
                },
                Material {
                    tolerable: true,
                    note: "乙".into(),
                    ..mat("照片")
                },
                mat("户口簿"),
            ],
            7,
        );
        let merged = merge_materials([&a, &b]);
        let names: Vec<&str> = merged.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["居民身份证", "收入证明", "照片", "户口簿"]);
        let id = &merged[0];
        assert_eq!(id.form, MaterialForm::OriginalAndCopy);
        assert!(id.e_cert, "both allow e-cert");
        assert!(!id.commitment, "only one allows commitment");
        assert_eq!(id.source, "申请人自备");
        let income = &merged[1];
        assert_eq!(income.form, MaterialForm::Copy);
        assert_eq!(income.copies, 2);
        assert!(
            income.required && !income.tolerable,
            "b requires it non-tolerably"
        );
        let photo = &merged[2];
        assert!(photo.required, "any required");
        assert!(photo.tolerable, "the only item requiring it tolerates it");
        assert_eq!(photo.note, "甲；乙");
        // Alone, and in reverse order.
        assert_eq!(merge_materials([&a]), a.materials);
        let rev = merge_materials([&b, &a]);
        assert_eq!(rev[0].name, "居民身份证");
        assert_eq!(rev[0].form, MaterialForm::OriginalAndCopy);
        assert!(rev[2].tolerable && rev[2].required);
        assert!(merge_materials(std::iter::empty()).is_empty());
    }

    #[test]
    fn merge_materials_by_catalogue_id_not_by_wording() {
        let with_id = |name: &str, id: &str| Material {
            material_id: Some(id.into()),
            ..mat(name)
        };
        let a = item_with(
            "A-1",
            vec![
                with_id("夫妻双方居民身份证", "M-ID"),
                with_id("结婚证", "M-JH"),
            ],
            3,
        );
        let b = item_with(
            "B-1",
            vec![
                with_id("父母双方居民身份证", "M-ID"),
                with_id("父母结婚证", "M-JH"),
                // Same wording, another material: not merged.
                with_id("结婚证", "M-OTHER"),
            ],
            3,
        );
        let c = item_with("C-1", vec![with_id("监护人居民身份证", "M-ID")], 3);
        let merged = merge_materials([&a, &b, &c]);
        let names: Vec<&str> = merged.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["夫妻双方居民身份证", "结婚证", "结婚证"]);
        assert_eq!(merged[0].material_id.as_deref(), Some("M-ID"));
        assert_eq!(merged[0].note, "亦即：父母双方居民身份证、监护人居民身份证");
        assert_eq!(merged[1].note, "亦即：父母结婚证");
        assert_eq!(merged[2].material_id.as_deref(), Some("M-OTHER"));
        // Rows without an id (stored before the catalogue) still merge by name.
        let old = item_with("D-1", vec![mat("照片")], 1);
        let old2 = item_with("E-1", vec![mat(" 照片 ")], 1);
        assert_eq!(merge_materials([&old, &old2]).len(), 1);
    }

    #[test]
    fn demo_bundles_ask_for_each_material_once() {
        let c = Catalog::demo();
        let newborn = c.bundle("YJS-01").unwrap();
        let items = c.bundle_items(newborn);
        let merged = merge_materials(items.iter().copied());
        let id_cards: Vec<&str> = merged
            .iter()
            .filter(|m| m.name.ends_with("居民身份证"))
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(id_cards, ["夫妻双方居民身份证"], "{merged:?}");
        assert_eq!(
            merged.iter().filter(|m| m.name.contains("结婚证")).count(),
            1
        );
        for b in &c.bundles {
            let merged = merge_materials(c.bundle_items(b).iter().copied());
            let mut ids = HashSet::new();
            for m in &merged {
                assert!(ids.insert(m.material_id.clone()), "{}: {}", b.code, m.name);
            }
        }
    }

    #[test]
    fn bundle_limit() {
        let a = item_with("A-1", vec![mat("x")], 3);
        let b = item_with("B-1", vec![mat("x")], 7);
        let mut bundle = Bundle {
            code: "YJS-1".into(),
            name: "n".into(),
            description: String::new(),
            item_codes: vec!["A-1".into(), "B-1".into()],
            promised_limit_days: None,
        };
        assert_eq!(bundle_limit_days(&bundle, &[&a, &b]), 7);
        assert_eq!(bundle_limit_days(&bundle, &[]), 0);
        bundle.promised_limit_days = Some(5);
        assert_eq!(bundle_limit_days(&bundle, &[&a, &b]), 5);
        bundle.promised_limit_days = Some(0);
        assert_eq!(bundle_limit_days(&bundle, &[&a, &b]), 0);
    }

    /// 身份证 (e-cert), 收入证明 (tolerable), 住所证明 (commitment), 户口簿 (tolerable, e-cert),
    /// 照片 (optional).
    fn intake_materials() -> Vec<Material> {
        vec![
            Material {
                e_cert: true,
                ..mat("身份证")
            },
            Material {
                tolerable: true,
                ..mat("收入证明")
            },
            Material {
                commitment: true,
                ..mat("住所证明")
            },
            Material {
                tolerable: true,
                e_cert: true,
                ..mat("户口簿")
            },
            Material {
                required: false,
                ..mat("照片")
            },
        ]
    }

    fn ticks<'a>(list: &'a [(&'static str, MaterialCheck)]) -> impl Fn(&str) -> MaterialCheck + 'a {
        move |name| {
            list.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| *c)
                .unwrap_or(MaterialCheck::Missing)
        }
    }

    fn accept(kind: AcceptanceKind, sup: &[&str], by: &[&str]) -> IntakeDecision {
        IntakeDecision::Accept {
            kind,
            to_supplement: sup.iter().map(|s| s.to_string()).collect(),
            by_commitment: by.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn refuse(missing: &[&str]) -> IntakeDecision {
        IntakeDecision::Refuse {
            missing: missing.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn intake_truth_table() {
        use MaterialCheck::*;
        let ms = intake_materials();
        let all = [
            ("身份证", Submitted),
            ("收入证明", Submitted),
            ("住所证明", Submitted),
            ("户口簿", Submitted),
        ];
        // All present (optional photo missing) → normal.
        assert_eq!(
            decide_intake(&ms, ticks(&all), true, true),
            accept(AcceptanceKind::Normal, &[], &[])
        );
        // Only tolerable ones missing → 容缺 with exactly those.
        let t = [("身份证", Submitted), ("住所证明", Submitted)];
        assert_eq!(
            decide_intake(&ms, ticks(&t), false, false),
            accept(AcceptanceKind::Tolerance, &["收入证明", "户口簿"], &[])
        );
        // A non-tolerable one missing → refuse listing EVERY missing required material.
        let t = [("住所证明", Submitted)];
        assert_eq!(
            decide_intake(&ms, ticks(&t), false, false),
            refuse(&["身份证", "收入证明", "户口簿"])
        );
        // Nothing ticked, no commitment → all four required, in material order.
        assert_eq!(
            decide_intake(&ms, ticks(&[]), true, false),
            refuse(&["身份证", "收入证明", "住所证明", "户口簿"])
        );
        // Nothing ticked, commitment signed and allowed → the commitment one is covered.
        assert_eq!(
            decide_intake(&ms, ticks(&[]), true, true),
            refuse(&["身份证", "收入证明", "户口簿"])
        );
        // E-cert tick honoured where allowed…
        let t = [
            ("身份证", ElectronicCert),
            ("收入证明", Submitted),
            ("住所证明", Submitted),
            ("户口簿", ElectronicCert),
        ];
        assert_eq!(
            decide_intake(&ms, ticks(&t), false, false),
            accept(AcceptanceKind::Normal, &[], &[])
        );
        // …and counts as missing where not allowed.
        let t = [
            ("身份证", Submitted),
            ("收入证明", Submitted),
            ("住所证明", ElectronicCert),
            ("户口簿", Submitted),
        ];
        assert_eq!(
            decide_intake(&ms, ticks(&t), false, false),
            refuse(&["住所证明"])
        );
        // Commitment covers the commitment material only when allowed AND signed.
        let t = [
            ("身份证", Submitted),
            ("收入证明", Submitted),
            ("户口簿", Submitted),
        ];
        assert_eq!(
            decide_intake(&ms, ticks(&t), true, true),
            accept(AcceptanceKind::Commitment, &[], &["住所证明"])
        );
        assert_eq!(
            decide_intake(&ms, ticks(&t), false, true),
            refuse(&["住所证明"])
        );
        assert_eq!(
            decide_intake(&ms, ticks(&t), true, false),
            refuse(&["住所证明"])
        );
        // Commitment and 容缺 together: the kind is 容缺, the commitment is still recorded.
        let t = [("身份证", Submitted), ("户口簿", Submitted)];
        assert_eq!(
            decide_intake(&ms, ticks(&t), true, true),
            accept(AcceptanceKind::Tolerance, &["收入证明"], &["住所证明"])
        );
        // Optional materials never block, whatever is ticked.
        let only_optional = vec![Material {
            required: false,
            ..mat("照片")
        }];
        assert_eq!(
            decide_intake(&only_optional, ticks(&[]), false, false),
            accept(AcceptanceKind::Normal, &[], &[])
        );
        assert_eq!(
            decide_intake(&[], ticks(&[]), false, false),
            accept(AcceptanceKind::Normal, &[], &[])
        );
    }

    #[test]
    fn intake_on_demo_items() {
        use MaterialCheck::*;
        let c = Catalog::demo();
        // 低保: the income certificate is tolerable.
        let dibao = c.item("MZ-0101").unwrap();
        let d = decide_intake(
            &dibao.materials,
            |n| {
                if n == "家庭成员收入证明" {
                    Missing
                } else {
                    Submitted
                }
            },
            dibao.commitment_allowed,
            false,
        );
        assert_eq!(
            d,
            accept(AcceptanceKind::Tolerance, &["家庭成员收入证明"], &[])
        );
        // A bundle's merged list: nothing ticked → refusal naming every required material.
        let b = c.bundle("YJS-01").unwrap();
        let items = c.bundle_items(b);
        let merged = merge_materials(items.iter().copied());
        let required: Vec<String> = merged
            .iter()
            .filter(|m| m.required)
            .map(|m| m.name.clone())
            .collect();
        assert_eq!(
            decide_intake(&merged, |_| Missing, false, false),
            IntakeDecision::Refuse { missing: required }
        );
        let notice = one_time_notice(&[&b.name], &["出生医学证明".to_string()]);
        assert!(notice.contains("新生儿出生一件事") && notice.contains("1. 出生医学证明"));
    }

    #[test]
    fn csv_round_trips_the_demo_catalog() {
        let c = Catalog::demo();
        let csv = items_to_csv(&c.items);
        assert!(csv.starts_with("code,name,parent_code,"));
        assert_eq!(items_from_csv(&csv).unwrap(), c.items);
        // With a BOM and LF line endings, as spreadsheets save it.
        let bom = format!("\u{feff}{}", csv.replace("\r\n", "\n"));
        assert_eq!(items_from_csv(&bom).unwrap(), c.items);
        assert_eq!(items_from_csv(&items_to_csv(&[])).unwrap(), vec![]);
    }

    #[test]
    fn csv_escapes_separators_and_quotes() {
        let mut i = sample();
        i.name = "名称,含\"引号\"".into();
        i.conditions = "第一行\n第二行；含分号".into();
        i.materials[0].name = "证明a|b;c\\d；e｜f".into();
        i.materials[0].source = "来源|x".into();
        i.materials[1].note = "备注;y".into();
        i.steps = vec!["步骤;一".into(), "步骤|二".into(), "步骤\\三".into()];
        i.faq = vec![Faq {
            q: "问;|".into(),
            a: "答，\"好\"".into(),
        }];
        i.keywords = vec!["社保卡 丢了".into(), "补办；补卡".into()];
        i.parent_code = Some("MZ-9000".into());
        i.variant = Some("补领".into());
        i.legal_limit_days = None;
        i.place = " 前后有空格 ".into();
        let csv = items_to_csv(std::slice::from_ref(&i));
        assert_eq!(items_from_csv(&csv).unwrap(), vec![i]);
    }

    #[test]
    fn csv_accepts_chinese_headers_and_hand_written_cells() {
        let header: Vec<&str> = CSV_COLUMNS
            .iter()
            .filter(|(n, _)| !CSV_OPTIONAL.contains(n))
            .map(|(_, zh)| *zh)
            .collect();
        let row = [
            "MZ-9001",
            "测试",
            "行政给付",
            "民政救济",
            "dept-mz",
            "依据",
            "条件",
            "居民身份证|原件|1|是|否|是|否；收入证明|copy|2|1|1|0|0|申请人自备|可后补",
            "",
            "即办",
            "不收费",
            "地点",
            "时间",
            "是",
            "1",
            "受理；审核；办结",
            "",
            "12345",
        ];
        let text = format!("{}\n{}\n\n", header.join(","), row.join(","));
        let items = items_from_csv(&text).unwrap();
        assert_eq!(items.len(), 1);
        let i = &items[0];
        assert_eq!(i.item_type, ItemType::AdministrativePayment);
        assert_eq!(i.legal_limit_days, None);
        assert!(i.is_immediate() && i.online && !i.commitment_allowed);
        assert_eq!(i.steps, ["受理", "审核", "办结"]);
        assert_eq!(i.materials.len(), 2);
        assert!(i.materials[0].e_cert && i.materials[0].required);
        assert_eq!(i.materials[1].form, MaterialForm::Copy);
        assert_eq!(i.materials[1].copies, 2);
        assert!(i.materials[1].tolerable);
        assert_eq!(i.materials[1].note, "可后补");
        assert!(i.keywords.is_empty() && i.faq.is_empty() && i.parent_code.is_none());
        // A file from before fees were structured has no fee_… columns: 「不收费」 reads.
        assert_eq!(i.fee, Fee::free());
        // With them, a per-unit fee with its basis.
        let text = format!(
            "{},收费依据,先缴费后出件\n{},文号,是\n",
            header.join(","),
            row.join(",")
                .replace(",不收费,", ",\"10元/页，最高100元\",")
        );
        let fee = &items_from_csv(&text).unwrap()[0].fee;
        assert_eq!(fee.charge.label(), "10.00 元/页，每件最高 100.00 元");
        assert!(fee.pay_before_issue && fee.basis == "文号");
    }

    /// The CSV of the demo's first three items with one cell of one record replaced (record 0
    /// is the header).
    fn csv_with(row: usize, column: &str, value: &str) -> String {
        csv_with_all(&[(row, column, value)])
    }

    fn csv_with_all(changes: &[(usize, &str, &str)]) -> String {
        let items = &Catalog::demo().items[..3];
        let csv = items_to_csv(items);
        let mut records = csv_records(&csv).unwrap();
        for (row, column, value) in changes {
            let col = CSV_COLUMNS.iter().position(|(n, _)| n == column).unwrap();
            records[*row].1[col] = value.to_string();
        }
        let mut out = String::new();
        for (_, r) in records {
            let cells: Vec<String> = r
                .iter()
                .map(|c| {
                    let mut s = String::new();
                    csv_cell(&mut s, c);
                    s
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    fn csv_fails(text: &str, line: usize, field: &str) -> CsvError {
        let e = items_from_csv(text).expect_err("should fail");
        assert_eq!((e.line, e.field.as_str()), (line, field), "{e}");
        assert_eq!(e.code(), "bad_csv");
        e
    }

    #[test]
    fn csv_errors_name_line_and_field() {
        let e = csv_fails(&csv_with(2, "visits", "两次"), 3, "visits");
        assert!(e.to_string().starts_with("第3行 visits："), "{e}");
        csv_fails(
            &csv_with(1, "promised_limit_days", "-1"),
            2,
            "promised_limit_days",
        );
        csv_fails(&csv_with(1, "legal_limit_days", "x"), 2, "legal_limit_days");
        csv_fails(&csv_with(3, "item_type", "许可"), 4, "item_type");
        csv_fails(&csv_with(1, "online", "maybe"), 2, "online");
        let e = csv_fails(&csv_with(1, "fee", "工本费20元/张"), 2, "fee");
        assert!(e.reason.contains("20元/本"), "{e}");
        csv_fails(
            &csv_with(1, "fee_pay_before_issue", "要"),
            2,
            "fee_pay_before_issue",
        );
        csv_fails(
            &csv_with(2, "materials", "身份证|original|1"),
            3,
            "materials[0].name",
        );
        csv_fails(
            &csv_with(2, "materials", "a|original|1|1|0|0|0;b|paper|1|1|0|0|0"),
            3,
            "materials[1].form",
        );
        csv_fails(
            &csv_with(2, "materials", "a|copy|x|1|0|0|0"),
            3,
            "materials[0].copies",
        );
        csv_fails(
            &csv_with(2, "materials", "a|copy|1|1|0|2|0"),
            3,
            "materials[0].e_cert",
        );
        csv_fails(&csv_with(1, "faq", "只有问题"), 2, "faq[0]");
        csv_fails(&csv_with(1, "steps", "a;b|c"), 2, "steps[1]");
        // Multi-line cells: the line is where the record starts. Row 1 spans lines 2–4, so
        // row 2 starts on line 5.
        let bad = csv_with_all(&[(1, "conditions", "一\n二\n三"), (2, "item_type", "nope")]);
        csv_fails(&bad, 5, "item_type");
        // Header problems.
        csv_fails("", 1, "表头");
        csv_fails("code,name,bogus\n", 1, "bogus");
        csv_fails("code,code\n", 1, "code");
        csv_fails("code,name\n", 1, "item_type");
        // Structure.
        let unterminated = format!("{}\"abc", items_to_csv(&[]));
        csv_fails(&unterminated, 2, "第1列");
        let stray = format!("{}\"abc\"x,", items_to_csv(&[]));
        csv_fails(&stray, 2, "第1列");
        let mut lines: Vec<String> = csv_with(1, "code", "RS-0101")
            .lines()
            .map(String::from)
            .collect();
        lines[2].push_str(",多余");
        csv_fails(
            &lines.join(
                "
",
            ),
            3,
            "第28列",
        );
        // Trailing empty cells are fine (spreadsheets add them).
        lines[2] = lines[2].replace(",多余", ",,");
        assert_eq!(items_from_csv(&lines.join("\n")).unwrap().len(), 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// For random ticks over a demo item's materials: a refusal lists exactly the required
        /// materials neither submitted, nor validly e-certified, nor covered by a commitment;
        /// an acceptance never leaves a non-tolerable required material missing.
        #[test]
        fn intake_lists_exactly_what_is_missing(
            idx in 0usize..1000,
            picks in proptest::collection::vec(0u8..3, 12),
            allowed in any::<bool>(),
            signed in any::<bool>(),
        ) {
            let c = Catalog::demo();
            let item = &c.items[idx % c.items.len()];
            let ms = &item.materials;
            let tick = |name: &str| {
                let i = ms.iter().position(|m| m.name == name).unwrap();
                match picks[i % picks.len()] {
                    0 => MaterialCheck::Submitted,
                    1 => MaterialCheck::ElectronicCert,
                    _ => MaterialCheck::Missing,
                }
            };
            let covered = |m: &Material| allowed && signed && m.commitment;
            let unprovided: Vec<&Material> = ms
                .iter()
                .filter(|m| m.required && !provided(m, tick(&m.name)))
                .collect();
            let expected: Vec<String> = unprovided
                .iter()
                .filter(|m| !covered(m))
                .map(|m| m.name.clone())
                .collect();
            match decide_intake(ms, tick, allowed, signed) {
                IntakeDecision::Refuse { missing } => {
                    prop_assert_eq!(&missing, &expected);
                    prop_assert!(unprovided.iter().any(|m| !m.tolerable && !covered(m)));
                }
                IntakeDecision::Accept { kind, to_supplement, by_commitment } => {
                    prop_assert!(unprovided.iter().all(|m| m.tolerable || covered(m)));
                    prop_assert_eq!(&to_supplement, &expected);
                    let by: Vec<String> = unprovided
                        .iter()
                        .filter(|m| covered(m))
                        .map(|m| m.name.clone())
                        .collect();
                    prop_assert_eq!(&by_commitment, &by);
                    let want = if !expected.is_empty() {
                        AcceptanceKind::Tolerance
                    } else if !by.is_empty() {
                        AcceptanceKind::Commitment
                    } else {
                        AcceptanceKind::Normal
                    };
                    prop_assert_eq!(kind, want);
                }
            }
        }

        /// Free text with every separator, quote and line break survives export and import.
        #[test]
        fn csv_round_trips_any_text(
            idx in 0usize..1000,
            texts in proptest::collection::vec("[a-z中文 ,;|\\\\\"\n\r；｜，、]{0,12}", 8),
        ) {
            let c = Catalog::demo();
            let mut item = c.items[idx % c.items.len()].clone();
            let nonblank = |s: &str| {
                let t = s.trim();
                if t.is_empty() { "x".to_string() } else { t.to_string() }
            };
            item.name = texts[0].clone();
            item.conditions = texts[1].clone();
            item.legal_basis = texts[2].clone();
            item.steps = vec![nonblank(&texts[3]), nonblank(&texts[4])];
            if let Some(m) = item.materials.first_mut() {
                m.name = nonblank(&texts[5]);
                m.note = texts[6].trim().to_string();
            }
            item.faq = vec![Faq { q: nonblank(&texts[6]), a: nonblank(&texts[7]) }];
            item.keywords = vec![nonblank(&texts[7])];
            let csv = items_to_csv(std::slice::from_ref(&item));
            prop_assert_eq!(items_from_csv(&csv).unwrap(), vec![item]);
        }
    }
}
