//! Fees (缴费, 一个窗口收费): what an item charges, what a case owes, refunds, and the
//! day's cash-up (日结).
//!
//! - [`Fen`]: money as integer fen (分), never floating point; read from and shown as 元
//!   (`12.50 元`).
//! - [`Charge`]: 不收费, a fixed amount per case (`80.00 元/件`), or an amount per unit
//!   (`20.00 元/本`, `10.00 元/页，每件最高 100.00 元`); [`Charge::due`] for a quantity.
//! - [`Fee`]: an item's fee as the catalog keeps it: the charge, its basis (收费依据), a
//!   note (减免情形 …), and whether the result is handed over only once paid
//!   (先缴费后出件). Catalog versions stored before fees were structured hold free text;
//!   [`Fee::from_legacy_text`] reads it: 「不收费…」 is free, any other text becomes the
//!   amount it names, marked for review ([`Fee::review`]) until an administrator saves
//!   the item again.
//! - [`PayMethod`]: 现金、银行卡、移动支付.
//! - [`Balance`]: a case's due, paid, refunded and outstanding amounts;
//!   [`check_payment`] and [`check_refund`] are the rules for recording money in and out.
//! - [`cash_up`]: the daily cash-up as a pure fold over a day's payments and refunds — per
//!   method, per window and clerk, and for the hall.
//!
//! Everything here is pure; the store sums the rows and the web layer parses the input.

use std::collections::BTreeMap;
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

use crate::cases::CaseState;
use crate::validation::{FieldErrors, TextLimit};

// --- money ------------------------------------------------------------------------------------

/// An amount of money in fen (分, 1/100 元). Integer arithmetic only: a fee, a payment and a
/// day's total are exact.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);
    /// The largest single fee, payment or refund: 1,000,000.00 元 — far above any
    /// administrative fee, and far below where a hall's yearly sum could overflow.
    pub const MAX: Fen = Fen(100_000_000);

    /// The amount in 元 with two decimals, without the unit: `12.50`, `-3.00`.
    pub fn yuan(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Reads an amount of 元 as people type it: `12.5`, `12.50元`, `¥12`, `１２．５０`
    /// (full-width digits), blanks around. At most two decimals; never negative; at most
    /// [`Fen::MAX`].
    pub fn parse_yuan(text: &str) -> Result<Fen, AmountError> {
        let normal: String = text
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
                '．' | '。' => '.',
                c => c,
            })
            .collect();
        let t = normal.trim();
        let t = t.strip_prefix(['¥', '￥']).unwrap_or(t).trim_start();
        let t = t.strip_suffix('元').unwrap_or(t).trim_end();
        if t.is_empty() {
            return Err(AmountError::Empty);
        }
        let (whole, frac) = match t.split_once('.') {
            Some((w, f)) => (w, f),
            None => (t, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(frac)
            || (t.contains('.') && frac.is_empty())
        {
            return Err(AmountError::NotAnAmount(text.trim().to_string()));
        }
        if frac.len() > 2 {
            return Err(AmountError::TooManyDecimals);
        }
        // More than 12 digits cannot be below the maximum and would overflow the parse.
        if whole.len() > 12 {
            return Err(AmountError::TooLarge);
        }
        let yuan: i64 = whole.parse().map_err(|_| AmountError::TooLarge)?;
        let fen: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
        let total = Fen(yuan * 100 + fen);
        if total > Fen::MAX {
            return Err(AmountError::TooLarge);
        }
        Ok(total)
    }

    /// `self × n`, `None` on overflow.
    pub fn checked_mul(self, n: u32) -> Option<Fen> {
        self.0.checked_mul(i64::from(n)).map(Fen)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// The amount in capital numerals as receipts print it (中文大写金额): 「捌拾元整」,
    /// 「壹拾元零伍分」, 「伍角整」, 「壹佰万元整」, 「零元整」. 「整」 follows 元 or 角, never
    /// 分 (《支付结算办法》 附件); a zero between filled places is written once.
    pub fn in_words(self) -> String {
        const DIGITS: [&str; 10] = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"];
        let sign = if self.0 < 0 { "负" } else { "" };
        let abs = self.0.unsigned_abs();
        let (yuan, jiao, fen) = (abs / 100, (abs / 10 % 10) as usize, (abs % 10) as usize);
        let mut s = String::from(sign);
        if yuan > 0 {
            s.push_str(&integer_in_words(yuan));
            s.push('元');
        }
        match (jiao, fen) {
            (0, 0) if yuan == 0 => s.push_str("零元整"),
            (0, 0) => s.push('整'),
            (j, 0) => {
                s.push_str(DIGITS[j]);
                s.push_str("角整");
            }
            (j, f) => {
                if j > 0 {
                    s.push_str(DIGITS[j]);
                    s.push('角');
                } else if yuan > 0 {
                    s.push('零');
                }
                s.push_str(DIGITS[f]);
                s.push('分');
            }
        }
        s
    }
}

/// A positive whole number in capital numerals: 「壹拾」, 「壹佰零伍」, 「壹万零伍」.
fn integer_in_words(n: u64) -> String {
    const DIGITS: [&str; 10] = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"];
    const PLACES: [&str; 4] = ["", "拾", "佰", "仟"];
    const GROUPS: [&str; 5] = ["", "万", "亿", "万亿", "亿亿"];
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push((rest % 10_000) as usize);
        rest /= 10_000;
    }
    let mut out = String::new();
    let mut zero_pending = false;
    for (g, &value) in groups.iter().enumerate().rev() {
        if value == 0 {
            zero_pending = !out.is_empty();
            continue;
        }
        if !out.is_empty() && (zero_pending || value < 1000) {
            out.push('零');
        }
        zero_pending = false;
        let mut gap = false;
        let mut started = false;
        for place in (0..4).rev() {
            let d = value / 10usize.pow(place as u32) % 10;
            if d == 0 {
                gap = started;
                continue;
            }
            if gap {
                out.push('零');
                gap = false;
            }
            out.push_str(DIGITS[d]);
            out.push_str(PLACES[place]);
            started = true;
        }
        out.push_str(GROUPS[g]);
    }
    out
}

/// `12.50 元`.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} 元", self.yuan())
    }
}

impl Add for Fen {
    type Output = Fen;
    fn add(self, rhs: Fen) -> Fen {
        Fen(self.0 + rhs.0)
    }
}

impl AddAssign for Fen {
    fn add_assign(&mut self, rhs: Fen) {
        self.0 += rhs.0;
    }
}

impl Sub for Fen {
    type Output = Fen;
    fn sub(self, rhs: Fen) -> Fen {
        Fen(self.0 - rhs.0)
    }
}

impl Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        iter.fold(Fen::ZERO, Add::add)
    }
}

/// Why a typed amount is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("请填写金额")]
    Empty,
    #[error("金额「{0}」无法识别，请填写元为单位的数字，如 80 或 12.50")]
    NotAnAmount(String),
    #[error("金额最多保留两位小数（精确到分）")]
    TooManyDecimals,
    #[error("金额过大，单笔不能超过 1000000.00 元")]
    TooLarge,
}

impl AmountError {
    pub fn code(&self) -> &'static str {
        match self {
            AmountError::Empty => "required",
            AmountError::NotAnAmount(_) => "not_an_amount",
            AmountError::TooManyDecimals => "too_many_decimals",
            AmountError::TooLarge => "too_large",
        }
    }
}

// --- what an item charges ---------------------------------------------------------------------

/// The unit a fixed fee is counted in: one case (办件).
pub const CASE_UNIT: &str = "件";

/// How an item's fee is computed. The serde form is tagged by `kind`, amounts in fen:
/// `{"kind": "per_unit", "amount_fen": 2000, "unit": "本", "cap_fen": null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Charge {
    /// 不收费.
    Free,
    /// The same amount for every case (按件收费), whatever the quantity.
    Fixed { amount_fen: Fen },
    /// An amount per unit (本、份、页、平方米 …) times the quantity, at most `cap_fen` per
    /// case when there is a cap.
    PerUnit {
        amount_fen: Fen,
        unit: String,
        #[serde(default)]
        cap_fen: Option<Fen>,
    },
}

impl Charge {
    pub fn is_free(&self) -> bool {
        matches!(self, Charge::Free)
    }

    /// The stable name of the kind: `free`, `fixed`, `per_unit` (the JSON `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Charge::Free => "free",
            Charge::Fixed { .. } => "fixed",
            Charge::PerUnit { .. } => "per_unit",
        }
    }

    /// The amount due for `quantity` units: nothing when free, the fixed amount whatever
    /// the quantity, else amount × quantity up to the cap (saturating, never overflowing).
    pub fn due(&self, quantity: u32) -> Fen {
        match self {
            Charge::Free => Fen::ZERO,
            Charge::Fixed { amount_fen } => *amount_fen,
            Charge::PerUnit {
                amount_fen,
                cap_fen,
                ..
            } => {
                let total = amount_fen.checked_mul(quantity).unwrap_or(Fen(i64::MAX));
                match cap_fen {
                    Some(cap) => total.min(*cap),
                    None => total,
                }
            }
        }
    }

    /// What the guide and the fee table show, and what the CSV `fee` column holds:
    /// 「不收费」, 「80.00 元/件」, 「20.00 元/本」, 「10.00 元/页，每件最高 100.00 元」.
    /// [`Charge::parse`] reads it back.
    pub fn label(&self) -> String {
        match self {
            Charge::Free => "不收费".to_string(),
            Charge::Fixed { amount_fen } => format!("{amount_fen}/{CASE_UNIT}"),
            Charge::PerUnit {
                amount_fen,
                unit,
                cap_fen,
            } => match cap_fen {
                Some(cap) => format!("{amount_fen}/{unit}，每件最高 {cap}"),
                None => format!("{amount_fen}/{unit}"),
            },
        }
    }

    /// Reads the notation of [`Charge::label`], as written by hand too: 「不收费」 (or
    /// 「免费」); 「80元」 or 「80元/件」 for a fixed fee; 「20元/本」 per unit; a cap after a
    /// comma, 「10元/页，最高100元」 (「每件最高」 too). Blanks anywhere are ignored.
    pub fn parse(text: &str) -> Result<Charge, ChargeError> {
        let t: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '／' => '/',
                '，' | '；' | ';' => ',',
                c => c,
            })
            .collect();
        if t.is_empty() {
            return Err(ChargeError::Empty);
        }
        if t == "不收费" || t == "免费" {
            return Ok(Charge::Free);
        }
        let bad = || ChargeError::Unreadable(text.trim().to_string());
        let (main, cap) = match t.split_once(',') {
            Some((m, c)) => (m, Some(c)),
            None => (t.as_str(), None),
        };
        let (amount, unit) = match main.split_once('/') {
            Some((a, u)) => (a, Some(u)),
            None => (main, None),
        };
        // An amount must say 元 here, so 「20/本」 is not taken for 20 fen or 20 元 by guess.
        if !amount.ends_with('元') {
            return Err(bad());
        }
        let amount_fen = Fen::parse_yuan(amount).map_err(|_| bad())?;
        let cap_fen = match cap {
            None => None,
            Some(c) => {
                let c = c
                    .strip_prefix("每件最高")
                    .or_else(|| c.strip_prefix("最高"))
                    .ok_or_else(bad)?;
                Some(Fen::parse_yuan(c).map_err(|_| bad())?)
            }
        };
        match unit {
            None | Some(CASE_UNIT) if cap_fen.is_none() => Ok(Charge::Fixed { amount_fen }),
            None | Some(CASE_UNIT) | Some("") => Err(bad()),
            Some(unit) => Ok(Charge::PerUnit {
                amount_fen,
                unit: unit.to_string(),
                cap_fen,
            }),
        }
    }
}

/// Why a fee notation could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    #[error("请填写收费标准，不收费的请填写「不收费」")]
    Empty,
    #[error("收费标准「{0}」无法识别，请写作「不收费」「80元/件」「20元/本」或「10元/页，每件最高100元」")]
    Unreadable(String),
}

impl ChargeError {
    pub fn code(&self) -> &'static str {
        match self {
            ChargeError::Empty => "required",
            ChargeError::Unreadable(_) => "bad_format",
        }
    }
}

/// Longest basis (收费依据: the document's name and number).
pub const FEE_BASIS: TextLimit = TextLimit::one_line(200);
/// Longest note about a fee (减免情形 …).
pub const FEE_NOTE: TextLimit = TextLimit::multi_line(500);
/// Longest unit name (本、份、平方米 …).
pub const FEE_UNIT: TextLimit = TextLimit::one_line(10);
/// Longest refund reason.
pub const REFUND_REASON: TextLimit = TextLimit::multi_line(500);
/// Longest note on a payment (a reference number of a card or mobile payment …).
pub const PAYMENT_NOTE: TextLimit = TextLimit::one_line(100);
/// Most units one payment may be assessed for.
pub const MAX_QUANTITY: u32 = 9999;

/// An item's fee as the catalog keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fee {
    #[serde(flatten)]
    pub charge: Charge,
    /// 收费依据: the document that sets the fee (name and number); required unless free.
    pub basis: String,
    /// Anything else the applicant should know (减免情形、收费方式 …).
    pub note: String,
    /// 先缴费后出件: the result is not handed over until the fee is paid.
    pub pay_before_issue: bool,
    /// The free text an older catalog version held, when it was not simply 「不收费」: the
    /// charge was read from it by guess and must be checked by an administrator
    /// ([`Fee::check_into`] refuses to save it as it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

impl Default for Fee {
    fn default() -> Self {
        Fee::free()
    }
}

impl Fee {
    /// 不收费, nothing else said.
    pub fn free() -> Fee {
        Fee {
            charge: Charge::Free,
            basis: String::new(),
            note: String::new(),
            pay_before_issue: false,
            review: None,
        }
    }

    pub fn is_free(&self) -> bool {
        self.charge.is_free()
    }

    /// The amount due for `quantity` units ([`Charge::due`]).
    pub fn due(&self, quantity: u32) -> Fen {
        self.charge.due(quantity)
    }

    /// Reads the free text older catalog versions stored as the fee. 「不收费」, optionally
    /// followed by an explanation (「不收费（按规定缴纳相关税费）」), is free with the
    /// explanation as the note. Any other text is kept as the note and marked for review;
    /// the charge is the first amount it names (「工本费20元/张」 → 20.00 元/张, 「80元」 →
    /// 80.00 元/件), or a fixed fee of nothing when it names none.
    pub fn from_legacy_text(text: &str) -> Fee {
        let t = text.trim();
        for free in ["不收费", "免费", "无"] {
            if let Some(rest) = t.strip_prefix(free) {
                let note = rest
                    .trim()
                    .trim_start_matches(['（', '(', '：', ':', '，', ','])
                    .trim_end_matches(['）', ')', '。'])
                    .trim();
                return Fee {
                    note: note.to_string(),
                    ..Fee::free()
                };
            }
        }
        Fee {
            charge: guess_charge(t),
            basis: String::new(),
            note: t.to_string(),
            pay_before_issue: false,
            review: Some(t.to_string()),
        }
    }

    /// 「不收费」, or the charge with its note: what a resident reads on one line.
    pub fn summary(&self) -> String {
        let mut s = self.charge.label();
        if !self.note.trim().is_empty() {
            s.push_str(&format!("（{}）", self.note.trim()));
        }
        s
    }

    /// The fee's rules, errors named `{prefix}fee.…`: an amount above nothing (and at most
    /// [`Fen::MAX`]); a unit for a per-unit fee (not 「件」, which is a fixed fee); a cap
    /// not below one unit; a basis unless free; nothing to pay before issuance when free;
    /// text within its limits; and no fee still waiting for review.
    pub fn check_into(&self, e: &mut FieldErrors, prefix: &str) {
        let f = |name: &str| format!("{prefix}{name}");
        if let Some(text) = &self.review {
            e.add(
                &f("fee"),
                "needs_review",
                format!(
                    "收费标准「{text}」来自旧版本的文字，系统暂按「{}」读入，请核对金额、计费单位和收费依据后保存",
                    self.charge.label()
                ),
            );
            return;
        }
        let amount = |e: &mut FieldErrors, a: Fen, what: &str| {
            if !a.is_positive() {
                e.add(
                    &f("fee.amount_fen"),
                    "not_positive",
                    format!("{what}须大于0；不收费的请选择「不收费」"),
                );
            } else if a > Fen::MAX {
                e.add(
                    &f("fee.amount_fen"),
                    "too_large",
                    format!("{what}不能超过 {}", Fen::MAX),
                );
            }
        };
        match &self.charge {
            Charge::Free => {
                if self.pay_before_issue {
                    e.add(
                        &f("fee.pay_before_issue"),
                        "free_prepay",
                        "不收费的事项无需“先缴费后出件”",
                    );
                }
            }
            Charge::Fixed { amount_fen } => amount(e, *amount_fen, "收费金额"),
            Charge::PerUnit {
                amount_fen,
                unit,
                cap_fen,
            } => {
                amount(e, *amount_fen, "单价");
                let u = e.required(&f("fee.unit"), "计费单位（如 本、份、平方米）", unit);
                if !u.is_empty() && e.text(&f("fee.unit"), "计费单位", u, FEE_UNIT) {
                    if u == CASE_UNIT {
                        e.add(
                            &f("fee.unit"),
                            "case_unit",
                            "按件收费请选择“固定金额”；按单位收费的单位不能是“件”",
                        );
                    } else if u
                        .chars()
                        .any(|c| c.is_ascii_digit() || "/,，;；".contains(c))
                    {
                        e.add(
                            &f("fee.unit"),
                            "bad_format",
                            "计费单位只写单位名称，如 本、份、平方米",
                        );
                    }
                }
                if let Some(cap) = cap_fen {
                    if cap < amount_fen {
                        e.add(
                            &f("fee.cap_fen"),
                            "cap_below_unit",
                            format!("每件最高金额（{cap}）不能低于单价（{amount_fen}）"),
                        );
                    } else if *cap > Fen::MAX {
                        e.add(
                            &f("fee.cap_fen"),
                            "too_large",
                            format!("每件最高金额不能超过 {}", Fen::MAX),
                        );
                    }
                }
            }
        }
        if !self.is_free() {
            e.required(&f("fee.basis"), "收费依据（文件名称及文号）", &self.basis);
        }
        e.text(&f("fee.basis"), "收费依据", &self.basis, FEE_BASIS);
        e.text(&f("fee.note"), "收费说明", &self.note, FEE_NOTE);
    }
}

/// The charge an old free-text fee names: the first 「N元」, per the unit after a slash.
fn guess_charge(text: &str) -> Charge {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
            i += 1;
        }
        let number: String = chars[start..i].iter().collect();
        if chars.get(i) != Some(&'元') {
            continue;
        }
        let Ok(amount_fen) = Fen::parse_yuan(&number) else {
            continue;
        };
        let mut j = i + 1;
        if matches!(chars.get(j), Some('/' | '／')) || chars.get(j) == Some(&'每') {
            j += 1;
            let unit: String = chars[j..]
                .iter()
                .take_while(|c| !c.is_ascii_punctuation() && !"（），、；。 ".contains(**c))
                .take(4)
                .collect();
            if !unit.is_empty() && unit != CASE_UNIT {
                return Charge::PerUnit {
                    amount_fen,
                    unit,
                    cap_fen: None,
                };
            }
        }
        return Charge::Fixed { amount_fen };
    }
    Charge::Fixed {
        amount_fen: Fen::ZERO,
    }
}

/// The structured form, as written since fees were structured.
#[derive(Deserialize)]
struct StructuredFee {
    #[serde(flatten)]
    charge: Charge,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    pay_before_issue: bool,
    #[serde(default)]
    review: Option<String>,
}

/// Reads both forms: the structured object, and the free text older catalog versions
/// stored ([`Fee::from_legacy_text`]), so every stored version still loads.
impl<'de> Deserialize<'de> for Fee {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(text) => Ok(Fee::from_legacy_text(&text)),
            v @ serde_json::Value::Object(_) => {
                let s: StructuredFee = serde_json::from_value(v).map_err(D::Error::custom)?;
                Ok(Fee {
                    charge: s.charge,
                    basis: s.basis,
                    note: s.note,
                    pay_before_issue: s.pay_before_issue,
                    review: s.review,
                })
            }
            other => Err(D::Error::custom(format!(
                "fee must be an object like {{\"kind\": \"free\"}} (or, as older versions stored it, a text), not {other}"
            ))),
        }
    }
}

/// 「80.00 元/件（说明）」: the charge and its note.
impl fmt::Display for Fee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

// --- payments and refunds ---------------------------------------------------------------------

/// How a payment was made at the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayMethod {
    Cash,
    Card,
    Mobile,
}

impl PayMethod {
    pub const ALL: [PayMethod; 3] = [PayMethod::Cash, PayMethod::Card, PayMethod::Mobile];

    pub fn as_str(self) -> &'static str {
        match self {
            PayMethod::Cash => "cash",
            PayMethod::Card => "card",
            PayMethod::Mobile => "mobile",
        }
    }

    /// The stable name or the Chinese label.
    pub fn parse(s: &str) -> Option<PayMethod> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s || m.label() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            PayMethod::Cash => "现金",
            PayMethod::Card => "银行卡",
            PayMethod::Mobile => "移动支付",
        }
    }

    fn index(self) -> usize {
        match self {
            PayMethod::Cash => 0,
            PayMethod::Card => 1,
            PayMethod::Mobile => 2,
        }
    }
}

/// What a case owes and has paid. `due` is the fee for the quantity assessed (the latest
/// payment's, or one unit before any payment); refunds are counted apart from payments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub due: Fen,
    pub paid: Fen,
    pub refunded: Fen,
    /// Waived (减免): no longer owed, and not money received.
    #[serde(default)]
    pub waived: Fen,
}

impl Balance {
    pub fn new(fee: &Fee, quantity: u32, paid: Fen, refunded: Fen) -> Balance {
        Balance {
            due: fee.due(quantity),
            paid,
            refunded,
            waived: Fen::ZERO,
        }
    }

    /// The same balance with `waived` waived.
    pub fn with_waived(self, waived: Fen) -> Balance {
        Balance { waived, ..self }
    }

    /// What the case has kept: paid − refunded. Never negative when every payment and
    /// refund passed [`check_payment`] / [`check_refund`].
    pub fn net_paid(&self) -> Fen {
        self.paid - self.refunded
    }

    /// What is still to pay: due − waived − (paid − refunded). Zero when settled; negative
    /// only if more was kept than is due (after the assessed quantity went down).
    pub fn outstanding(&self) -> Fen {
        self.due - self.waived - self.net_paid()
    }

    pub fn settled(&self) -> bool {
        self.outstanding() <= Fen::ZERO
    }
}

/// What stops issuance: the outstanding amount where the item says 先缴费后出件, else
/// nothing. The case machine's `unpaid_fee_fen` fact.
pub fn unpaid_before_issue(fee: &Fee, balance: &Balance) -> Fen {
    if fee.pay_before_issue && !fee.is_free() {
        balance.outstanding().max(Fen::ZERO)
    } else {
        Fen::ZERO
    }
}

/// Whether money may be taken for a case in `state`: once accepted, unless the case ended
/// without a result (不予受理、撤回、容缺逾期终止) or was refused on its merits.
pub fn payment_allowed(state: CaseState) -> bool {
    !matches!(
        state,
        CaseState::Draft
            | CaseState::Refused
            | CaseState::Withdrawn
            | CaseState::Lapsed
            | CaseState::Rejected
    )
}

/// A payment about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub amount: Fen,
    /// The units the fee is assessed for (1 for a fixed fee).
    pub quantity: u32,
    pub method: PayMethod,
}

/// The rule for taking money: the item charges at all, the case is in a state that takes
/// money, the quantity is one for a fixed fee and 1…[`MAX_QUANTITY`] per unit, and the
/// amount is above nothing and at most what is outstanding at that quantity (a window never
/// takes more than is due). Errors are named `amount`, `quantity` and `state`.
pub fn check_payment(
    fee: &Fee,
    state: CaseState,
    paid: Fen,
    refunded: Fen,
    waived: Fen,
    req: &PaymentRequest,
) -> Result<Balance, FieldErrors> {
    let mut e = FieldErrors::new();
    if fee.is_free() {
        e.add("amount", "free_item", "该事项不收费，无需缴费");
        return Err(e);
    }
    if !payment_allowed(state) {
        e.add(
            "state",
            "not_payable",
            format!("办件当前为“{}”，不能收费", state.label()),
        );
        return Err(e);
    }
    match fee.charge {
        Charge::Fixed { .. } if req.quantity != 1 => {
            e.add("quantity", "fixed_fee", "本事项按件收费，数量应为1");
        }
        _ if req.quantity == 0 || req.quantity > MAX_QUANTITY => e.add(
            "quantity",
            "out_of_range",
            format!("数量须在1至{MAX_QUANTITY}之间"),
        ),
        _ => {}
    }
    let after = Balance::new(fee, req.quantity, paid, refunded).with_waived(waived);
    if !e.is_empty() {
        // The amount is judged at a quantity that can be charged.
    } else if !req.amount.is_positive() {
        e.add("amount", "not_positive", "缴费金额须大于0");
    } else if req.amount > after.outstanding() {
        let owed = after.outstanding().max(Fen::ZERO);
        e.add(
            "amount",
            "exceeds_outstanding",
            format!(
                "缴费金额（{}）超过应缴未缴金额（{owed}）：应缴 {}，已缴 {}{}",
                req.amount,
                after.due,
                after.net_paid(),
                if waived.is_positive() {
                    format!("，已减免 {waived}")
                } else {
                    String::new()
                }
            ),
        );
    }
    e.into_result()?;
    Ok(Balance {
        paid: paid + req.amount,
        ..after
    })
}

/// The rule for giving money back: a reason, and an amount above nothing and at most what
/// is left of the payment (its amount less what was already refunded from it) — so a case
/// never keeps less than nothing. Errors are named `amount` and `reason`.
pub fn check_refund(
    payment: Fen,
    refunded_before: Fen,
    amount: Fen,
    reason: &str,
) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    if e.required("reason", "退费原因", reason).is_empty() {
        // reported
    } else {
        e.text("reason", "退费原因", reason, REFUND_REASON);
    }
    let left = payment - refunded_before;
    if !amount.is_positive() {
        e.add("amount", "not_positive", "退费金额须大于0");
    } else if amount > left {
        e.add(
            "amount",
            "exceeds_paid",
            format!(
                "退费金额（{amount}）超过该笔缴费可退金额（{}）：缴费 {payment}，已退 {refunded_before}",
                left.max(Fen::ZERO)
            ),
        );
    }
    e.into_result()
}

/// The receipt number (收据号) of a payment: `JF` + the Beijing date `yyyymmdd` + the hall's
/// daily sequence, four digits (wider past 9999), e.g. `JF202611230007`. Unique within a
/// hall; the hall's name is printed beside it.
pub fn receipt_number(day: NaiveDate, daily_seq: u32) -> String {
    format!("JF{}{daily_seq:04}", day.format("%Y%m%d"))
}

// --- waivers (减免) -----------------------------------------------------------------------------

/// Why a fee is waived (减免类别).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaiverCategory {
    /// 最低生活保障对象 (低保).
    MinimumLiving,
    /// 特困人员.
    Destitute,
    /// 残疾人.
    Disabled,
    /// Another waiver a policy grants (政策减免): the reason names the policy.
    Policy,
}

impl WaiverCategory {
    pub const ALL: [WaiverCategory; 4] = [
        WaiverCategory::MinimumLiving,
        WaiverCategory::Destitute,
        WaiverCategory::Disabled,
        WaiverCategory::Policy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WaiverCategory::MinimumLiving => "minimum_living",
            WaiverCategory::Destitute => "destitute",
            WaiverCategory::Disabled => "disabled",
            WaiverCategory::Policy => "policy",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            WaiverCategory::MinimumLiving => "低保对象",
            WaiverCategory::Destitute => "特困人员",
            WaiverCategory::Disabled => "残疾人",
            WaiverCategory::Policy => "政策减免",
        }
    }

    /// The stable name or the Chinese label.
    pub fn parse(s: &str) -> Option<WaiverCategory> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s || c.label() == s)
    }
}

/// A waiver's reason: which certificate was seen, which policy applies.
pub const WAIVER_REASON: TextLimit = TextLimit::multi_line(500);

/// The rule for waiving a fee: the item charges at all, the case is in a state that takes
/// money, a reason, and an amount above nothing and at most what is outstanding (a waiver
/// never makes the case owe less than nothing). Returns the balance after it. Errors are
/// named `amount`, `reason` and `state`.
pub fn check_waiver(
    fee: &Fee,
    state: CaseState,
    before: &Balance,
    amount: Fen,
    reason: &str,
) -> Result<Balance, FieldErrors> {
    let mut e = FieldErrors::new();
    if fee.is_free() {
        e.add("amount", "free_item", "该事项不收费，无需减免");
        return Err(e);
    }
    if !payment_allowed(state) {
        e.add(
            "state",
            "not_payable",
            format!("办件当前为“{}”，不能减免", state.label()),
        );
        return Err(e);
    }
    if !e.required("reason", "减免原因", reason).is_empty() {
        e.text("reason", "减免原因", reason, WAIVER_REASON);
    }
    let owed = before.outstanding().max(Fen::ZERO);
    if !amount.is_positive() {
        e.add("amount", "not_positive", "减免金额须大于0");
    } else if amount > owed {
        e.add(
            "amount",
            "exceeds_outstanding",
            format!("减免金额（{amount}）超过应缴未缴金额（{owed}）"),
        );
    }
    e.into_result()?;
    Ok(before.with_waived(before.waived + amount))
}

/// The waivers of a day per category, as the cash-up lists them beside the money: they are
/// not in the till. In [`WaiverCategory::ALL`] order, categories without a waiver left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WaiverTotal {
    pub category: WaiverCategory,
    pub count: u32,
    pub amount: Fen,
}

pub fn waiver_totals(waivers: impl IntoIterator<Item = (WaiverCategory, Fen)>) -> Vec<WaiverTotal> {
    let mut by: BTreeMap<WaiverCategory, WaiverTotal> = BTreeMap::new();
    for (category, amount) in waivers {
        let t = by.entry(category).or_insert(WaiverTotal {
            category,
            count: 0,
            amount: Fen::ZERO,
        });
        t.count += 1;
        t.amount += amount;
    }
    by.into_values().collect()
}

// --- the daily cash-up ------------------------------------------------------------------------

/// Money in or out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashKind {
    Payment,
    Refund,
}

/// One payment or refund of the day, as the cash-up counts it. A refund is counted under
/// the method of the payment it returns and under whoever recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashEntry {
    pub kind: CashKind,
    pub method: PayMethod,
    pub amount: Fen,
    pub clerk_id: i64,
    pub clerk_name: String,
    /// The window number, when the money changed hands at a window.
    pub window: Option<i64>,
}

/// The money of one method: received, refunded, how many of each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MethodTotal {
    pub method: Option<PayMethod>,
    pub received: Fen,
    pub refunded: Fen,
    pub payments: u32,
    pub refunds: u32,
}

impl MethodTotal {
    /// What stays in the till (or on the account): received − refunded.
    pub fn net(&self) -> Fen {
        self.received - self.refunded
    }
}

/// Totals per method, in [`PayMethod::ALL`] order, and over all methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub by_method: [MethodTotal; 3],
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            by_method: PayMethod::ALL.map(|m| MethodTotal {
                method: Some(m),
                ..MethodTotal::default()
            }),
        }
    }
}

impl Totals {
    fn add(&mut self, entry: &CashEntry) {
        let t = &mut self.by_method[entry.method.index()];
        match entry.kind {
            CashKind::Payment => {
                t.received += entry.amount;
                t.payments += 1;
            }
            CashKind::Refund => {
                t.refunded += entry.amount;
                t.refunds += 1;
            }
        }
    }

    pub fn method(&self, m: PayMethod) -> &MethodTotal {
        &self.by_method[m.index()]
    }

    /// All methods together.
    pub fn all(&self) -> MethodTotal {
        self.by_method
            .iter()
            .fold(MethodTotal::default(), |acc, t| MethodTotal {
                method: None,
                received: acc.received + t.received,
                refunded: acc.refunded + t.refunded,
                payments: acc.payments + t.payments,
                refunds: acc.refunds + t.refunds,
            })
    }
}

/// One line of the cash-up: a window and the person who took or gave the money there
/// (`window` is `None` for money recorded away from a window, e.g. a supervisor's refund).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashupLine {
    pub window: Option<i64>,
    pub clerk_id: i64,
    pub clerk_name: String,
    pub totals: Totals,
}

/// The daily cash-up (日结) of a hall: a line per window and clerk, and the hall's totals,
/// which are the sum of the lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cashup {
    pub lines: Vec<CashupLine>,
    pub hall: Totals,
}

/// Folds a day's payments and refunds of one hall into its cash-up. Lines are ordered by
/// window number (money away from a window last), then by clerk.
pub fn cash_up<'a>(entries: impl IntoIterator<Item = &'a CashEntry>) -> Cashup {
    // Key: (no window sorts last, window, clerk).
    let mut lines: BTreeMap<(bool, i64, i64), CashupLine> = BTreeMap::new();
    let mut hall = Totals::default();
    for entry in entries {
        hall.add(entry);
        let key = (
            entry.window.is_none(),
            entry.window.unwrap_or(0),
            entry.clerk_id,
        );
        lines
            .entry(key)
            .or_insert_with(|| CashupLine {
                window: entry.window,
                clerk_id: entry.clerk_id,
                clerk_name: entry.clerk_name.clone(),
                totals: Totals::default(),
            })
            .totals
            .add(entry);
    }
    Cashup {
        lines: lines.into_values().collect(),
        hall,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixed(yuan: i64) -> Fee {
        Fee {
            charge: Charge::Fixed {
                amount_fen: Fen(yuan * 100),
            },
            basis: "发改价格规〔2016〕2559号".into(),
            note: String::new(),
            pay_before_issue: true,
            review: None,
        }
    }

    fn per_unit(fen: i64, unit: &str, cap: Option<i64>) -> Fee {
        Fee {
            charge: Charge::PerUnit {
                amount_fen: Fen(fen),
                unit: unit.into(),
                cap_fen: cap.map(Fen),
            },
            basis: "依据".into(),
            note: String::new(),
            pay_before_issue: false,
            review: None,
        }
    }

    fn errors(r: Result<(), FieldErrors>) -> Vec<(String, String)> {
        r.err()
            .map(|e| e.0.into_iter().map(|e| (e.field, e.code)).collect())
            .unwrap_or_default()
    }

    fn fee_errors(fee: &Fee) -> Vec<(String, String)> {
        let mut e = FieldErrors::new();
        fee.check_into(&mut e, "");
        errors(e.into_result())
    }

    #[test]
    fn waivers_need_a_reason_and_stay_within_what_is_owed() {
        let fee = fixed(80);
        let before = Balance::new(&fee, 1, Fen(3000), Fen::ZERO);
        assert_eq!(before.outstanding(), Fen(5000));
        let after =
            check_waiver(&fee, CaseState::Routed, &before, Fen(5000), "低保证 No.1").unwrap();
        assert_eq!(after.waived, Fen(5000));
        assert_eq!(after.outstanding(), Fen::ZERO);
        assert!(after.settled());
        assert_eq!(unpaid_before_issue(&fee, &after), Fen::ZERO);
        let code = |r: Result<Balance, FieldErrors>| {
            r.unwrap_err()
                .0
                .into_iter()
                .map(|e| (e.field, e.code))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            code(check_waiver(
                &fee,
                CaseState::Routed,
                &before,
                Fen(5001),
                "原因"
            )),
            [("amount".to_string(), "exceeds_outstanding".to_string())]
        );
        assert_eq!(
            code(check_waiver(
                &fee,
                CaseState::Routed,
                &before,
                Fen(100),
                " "
            )),
            [("reason".to_string(), "required".to_string())]
        );
        assert_eq!(
            code(check_waiver(
                &fee,
                CaseState::Routed,
                &before,
                Fen(0),
                "原因"
            ))[0]
                .1,
            "not_positive"
        );
        assert_eq!(
            code(check_waiver(
                &fee,
                CaseState::Refused,
                &before,
                Fen(100),
                "原因"
            ))[0]
                .0,
            "state"
        );
        assert_eq!(
            code(check_waiver(
                &Fee::free(),
                CaseState::Routed,
                &before,
                Fen(100),
                "原因"
            ))[0]
                .1,
            "free_item"
        );
        assert_eq!(
            code(check_waiver(
                &fee,
                CaseState::Routed,
                &before,
                Fen(100),
                &"因".repeat(501)
            ))[0]
                .0,
            "reason"
        );
        // After a waiver, a payment is judged against what is left.
        let req = PaymentRequest {
            amount: Fen(1),
            quantity: 1,
            method: PayMethod::Cash,
        };
        assert!(check_payment(
            &fee,
            CaseState::Routed,
            Fen(3000),
            Fen::ZERO,
            Fen(5000),
            &req
        )
        .is_err());
        assert!(check_payment(
            &fee,
            CaseState::Routed,
            Fen(3000),
            Fen::ZERO,
            Fen(4999),
            &req
        )
        .is_ok());
    }

    #[test]
    fn waiver_categories_and_totals() {
        for c in WaiverCategory::ALL {
            assert_eq!(WaiverCategory::parse(c.as_str()), Some(c));
            assert_eq!(WaiverCategory::parse(c.label()), Some(c));
        }
        assert_eq!(WaiverCategory::parse("免费"), None);
        let t = waiver_totals([
            (WaiverCategory::Disabled, Fen(2000)),
            (WaiverCategory::MinimumLiving, Fen(500)),
            (WaiverCategory::Disabled, Fen(1000)),
        ]);
        assert_eq!(
            t,
            [
                WaiverTotal {
                    category: WaiverCategory::MinimumLiving,
                    count: 1,
                    amount: Fen(500)
                },
                WaiverTotal {
                    category: WaiverCategory::Disabled,
                    count: 2,
                    amount: Fen(3000)
                },
            ]
        );
        assert!(waiver_totals([]).is_empty());
    }

    #[test]
    fn yuan_are_shown_with_two_decimals() {
        assert_eq!(Fen(1250).to_string(), "12.50 元");
        assert_eq!(Fen(8000).yuan(), "80.00");
        assert_eq!(Fen(5).yuan(), "0.05");
        assert_eq!(Fen(0).to_string(), "0.00 元");
        assert_eq!(Fen(-300).yuan(), "-3.00");
        assert_eq!(Fen(-5).yuan(), "-0.05");
    }

    #[test]
    fn amounts_in_capital_numerals() {
        for (fen, words) in [
            (0, "零元整"),
            (8000, "捌拾元整"),
            (2000, "贰拾元整"),
            (1000, "壹拾元整"),
            (1005, "壹拾元零伍分"),
            (1050, "壹拾元伍角整"),
            (1055, "壹拾元伍角伍分"),
            (50, "伍角整"),
            (5, "伍分"),
            (10_500, "壹佰零伍元整"),
            (100_100, "壹仟零壹元整"),
            (1_000_500, "壹万零伍元整"),
            (1_010_000, "壹万零壹佰元整"),
            (10_000_000, "壹拾万元整"),
            (100_000_000, "壹佰万元整"),
            (123_456_789, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
            (10_000_000_000, "壹亿元整"),
            (10_000_010_000, "壹亿零壹佰元整"),
            (-300, "负叁元整"),
        ] {
            assert_eq!(Fen(fen).in_words(), words, "{fen}");
        }
    }

    #[test]
    fn yuan_are_read_as_people_type_them() {
        for (text, fen) in [
            ("12.5", 1250),
            ("12.50", 1250),
            ("12.50元", 1250),
            (" 12.50 元 ", 1250),
            ("¥80", 8000),
            ("￥ 0.05", 5),
            ("１２．５０", 1250),
            ("80。5", 8050),
            ("0", 0),
            ("1000000", 100_000_000),
        ] {
            assert_eq!(Fen::parse_yuan(text), Ok(Fen(fen)), "{text}");
        }
        assert_eq!(Fen::parse_yuan("  "), Err(AmountError::Empty));
        assert_eq!(Fen::parse_yuan("元"), Err(AmountError::Empty));
        assert_eq!(Fen::parse_yuan("1.234"), Err(AmountError::TooManyDecimals));
        assert_eq!(Fen::parse_yuan("1000000.01"), Err(AmountError::TooLarge));
        assert_eq!(
            Fen::parse_yuan("99999999999999999999"),
            Err(AmountError::TooLarge)
        );
        for bad in ["-1", "1,000", "十元", "1.", ".5", "1.2.3", "1e3", "12 50"] {
            assert!(
                matches!(Fen::parse_yuan(bad), Err(AmountError::NotAnAmount(_))),
                "{bad}"
            );
        }
        assert_eq!(AmountError::TooManyDecimals.code(), "too_many_decimals");
    }

    #[test]
    fn due_for_a_quantity() {
        assert_eq!(Fee::free().due(5), Fen::ZERO);
        assert_eq!(fixed(80).due(1), Fen(8000));
        assert_eq!(fixed(80).due(3), Fen(8000), "a fixed fee is per case");
        let book = per_unit(2000, "本", None);
        assert_eq!(book.due(1), Fen(2000));
        assert_eq!(book.due(3), Fen(6000));
        assert_eq!(book.due(0), Fen::ZERO);
        let capped = per_unit(1000, "页", Some(3500));
        assert_eq!(capped.due(3), Fen(3000));
        assert_eq!(capped.due(4), Fen(3500));
        assert_eq!(capped.due(100), Fen(3500));
        let huge = per_unit(i64::MAX / 2, "份", None);
        assert_eq!(
            huge.due(u32::MAX),
            Fen(i64::MAX),
            "saturates, never overflows"
        );
    }

    #[test]
    fn the_notation_round_trips_and_reads_hand_writing() {
        for fee in [
            Charge::Free,
            Charge::Fixed {
                amount_fen: Fen(8000),
            },
            Charge::PerUnit {
                amount_fen: Fen(2050),
                unit: "本".into(),
                cap_fen: None,
            },
            Charge::PerUnit {
                amount_fen: Fen(1000),
                unit: "平方米".into(),
                cap_fen: Some(Fen(100_000)),
            },
        ] {
            assert_eq!(
                Charge::parse(&fee.label()),
                Ok(fee.clone()),
                "{}",
                fee.label()
            );
        }
        assert_eq!(
            Charge::Fixed {
                amount_fen: Fen(8000)
            }
            .label(),
            "80.00 元/件"
        );
        assert_eq!(
            Charge::PerUnit {
                amount_fen: Fen(1000),
                unit: "页".into(),
                cap_fen: Some(Fen(10000))
            }
            .label(),
            "10.00 元/页，每件最高 100.00 元"
        );
        assert_eq!(Charge::parse("免费"), Ok(Charge::Free));
        assert_eq!(
            Charge::parse("80元"),
            Ok(Charge::Fixed {
                amount_fen: Fen(8000)
            })
        );
        assert_eq!(
            Charge::parse(" 20 元 ／ 本 "),
            Ok(Charge::PerUnit {
                amount_fen: Fen(2000),
                unit: "本".into(),
                cap_fen: None
            })
        );
        assert_eq!(
            Charge::parse("10元/页；最高100元"),
            Ok(Charge::PerUnit {
                amount_fen: Fen(1000),
                unit: "页".into(),
                cap_fen: Some(Fen(10000))
            })
        );
        assert_eq!(Charge::parse(""), Err(ChargeError::Empty));
        for bad in [
            "工本费20元/张（首次申领免费）",
            "20/本",
            "二十元",
            "80元/件，最高100元",
            "10元/页，上限100元",
            "10元/",
        ] {
            assert!(
                matches!(Charge::parse(bad), Err(ChargeError::Unreadable(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn fee_rules_name_their_field() {
        assert!(fee_errors(&Fee::free()).is_empty());
        assert!(fee_errors(&fixed(80)).is_empty());
        assert!(fee_errors(&per_unit(2000, "本", Some(10000))).is_empty());
        let mut f = Fee::free();
        f.pay_before_issue = true;
        assert_eq!(
            fee_errors(&f),
            [("fee.pay_before_issue".into(), "free_prepay".into())]
        );
        let mut f = fixed(0);
        f.basis = String::new();
        assert_eq!(
            fee_errors(&f),
            [
                ("fee.amount_fen".into(), "not_positive".into()),
                ("fee.basis".into(), "required".into())
            ]
        );
        let f = Fee {
            charge: Charge::Fixed {
                amount_fen: Fen(Fen::MAX.0 + 1),
            },
            ..fixed(1)
        };
        assert_eq!(
            fee_errors(&f),
            [("fee.amount_fen".into(), "too_large".into())]
        );
        assert_eq!(
            fee_errors(&per_unit(2000, " ", None)),
            [("fee.unit".into(), "required".into())]
        );
        assert_eq!(
            fee_errors(&per_unit(2000, "件", None)),
            [("fee.unit".into(), "case_unit".into())]
        );
        assert_eq!(
            fee_errors(&per_unit(2000, "10本", None)),
            [("fee.unit".into(), "bad_format".into())]
        );
        assert_eq!(
            fee_errors(&per_unit(2000, "本本本本本本本本本本本", None)),
            [("fee.unit".into(), "too_long".into())]
        );
        assert_eq!(
            fee_errors(&per_unit(2000, "本", Some(1999))),
            [("fee.cap_fen".into(), "cap_below_unit".into())]
        );
        let mut f = fixed(80);
        f.basis = "依".repeat(201);
        f.note = "说".repeat(501);
        assert_eq!(
            fee_errors(&f),
            [
                ("fee.basis".into(), "too_long".into()),
                ("fee.note".into(), "too_long".into())
            ]
        );
        let mut e = FieldErrors::new();
        fixed(0).check_into(&mut e, "RS-0101.");
        assert_eq!(e.0[0].field, "RS-0101.fee.amount_fen");
    }

    #[test]
    fn json_is_structured_and_old_text_still_loads() {
        let f = per_unit(2000, "本", None);
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "per_unit", "amount_fen": 2000, "unit": "本", "cap_fen": null,
                "basis": "依据", "note": "", "pay_before_issue": false})
        );
        assert_eq!(serde_json::from_value::<Fee>(json).unwrap(), f);
        let free: Fee = serde_json::from_str(r#"{"kind": "free"}"#).unwrap();
        assert_eq!(free, Fee::free());
        for fee in [Fee::free(), fixed(80), per_unit(1, "份", Some(5))] {
            let text = serde_json::to_string(&fee).unwrap();
            assert_eq!(serde_json::from_str::<Fee>(&text).unwrap(), fee);
        }
        // Old versions: a text.
        let old: Fee = serde_json::from_str(r#""不收费""#).unwrap();
        assert_eq!(old, Fee::free());
        let old: Fee = serde_json::from_str(r#""不收费（按规定缴纳相关税费）""#).unwrap();
        assert!(old.is_free() && old.review.is_none());
        assert_eq!(old.note, "按规定缴纳相关税费");
        let old: Fee = serde_json::from_str(r#""工本费20元/张（首次申领免费）""#).unwrap();
        assert_eq!(
            old.charge,
            Charge::PerUnit {
                amount_fen: Fen(2000),
                unit: "张".into(),
                cap_fen: None
            }
        );
        assert_eq!(old.review.as_deref(), Some("工本费20元/张（首次申领免费）"));
        assert_eq!(old.note, "工本费20元/张（首次申领免费）");
        assert_eq!(fee_errors(&old), [("fee".into(), "needs_review".into())]);
        // The review mark survives a round trip until an administrator saves the item.
        let again: Fee = serde_json::from_str(&serde_json::to_string(&old).unwrap()).unwrap();
        assert_eq!(again, old);
        assert_eq!(
            Fee::from_legacy_text("每件收取登记费80元").charge,
            Charge::Fixed {
                amount_fen: Fen(8000)
            }
        );
        assert_eq!(
            Fee::from_legacy_text("80元/件").charge,
            Charge::Fixed {
                amount_fen: Fen(8000)
            }
        );
        assert_eq!(
            Fee::from_legacy_text("按规定收取").charge,
            Charge::Fixed {
                amount_fen: Fen::ZERO
            }
        );
        // Anything else is an error naming the fee, not a silent default.
        assert!(serde_json::from_str::<Fee>("42").is_err());
        let e = serde_json::from_str::<Fee>(r#"{"kind": "fixd", "amount_fen": 1}"#).unwrap_err();
        assert!(e.to_string().contains("fixd"), "{e}");
    }

    #[test]
    fn summary_and_display() {
        assert_eq!(Fee::free().to_string(), "不收费");
        let mut f = per_unit(2000, "张", None);
        f.note = "首次申领免费".into();
        assert_eq!(f.to_string(), "20.00 元/张（首次申领免费）");
    }

    #[test]
    fn payments_never_take_more_than_is_owed() {
        let fee = fixed(80);
        let req = |amount: i64, quantity: u32| PaymentRequest {
            amount: Fen(amount),
            quantity,
            method: PayMethod::Cash,
        };
        let b = check_payment(
            &fee,
            CaseState::Routed,
            Fen::ZERO,
            Fen::ZERO,
            Fen::ZERO,
            &req(8000, 1),
        )
        .unwrap();
        assert_eq!(
            (b.due, b.paid, b.outstanding()),
            (Fen(8000), Fen(8000), Fen(0))
        );
        assert!(b.settled());
        // In two parts.
        let b = check_payment(
            &fee,
            CaseState::Routed,
            Fen::ZERO,
            Fen::ZERO,
            Fen::ZERO,
            &req(3000, 1),
        )
        .unwrap();
        assert_eq!(b.outstanding(), Fen(5000));
        let fields = |r: Result<Balance, FieldErrors>| errors(r.map(|_| ()));
        assert_eq!(
            fields(check_payment(
                &fee,
                CaseState::Routed,
                Fen(3000),
                Fen::ZERO,
                Fen::ZERO,
                &req(5001, 1)
            )),
            [("amount".into(), "exceeds_outstanding".into())]
        );
        // A refund makes room again.
        assert!(check_payment(
            &fee,
            CaseState::Routed,
            Fen(8000),
            Fen(8000),
            Fen::ZERO,
            &req(8000, 1)
        )
        .is_ok());
        assert_eq!(
            fields(check_payment(
                &fee,
                CaseState::Routed,
                Fen::ZERO,
                Fen::ZERO,
                Fen::ZERO,
                &req(0, 1)
            )),
            [("amount".into(), "not_positive".into())]
        );
        assert_eq!(
            fields(check_payment(
                &fee,
                CaseState::Routed,
                Fen::ZERO,
                Fen::ZERO,
                Fen::ZERO,
                &req(100, 2)
            )),
            [("quantity".into(), "fixed_fee".into())]
        );
        assert_eq!(
            fields(check_payment(
                &Fee::free(),
                CaseState::Routed,
                Fen::ZERO,
                Fen::ZERO,
                Fen::ZERO,
                &req(1, 1)
            )),
            [("amount".into(), "free_item".into())]
        );
        for state in [
            CaseState::Draft,
            CaseState::Refused,
            CaseState::Withdrawn,
            CaseState::Lapsed,
            CaseState::Rejected,
        ] {
            assert_eq!(
                fields(check_payment(
                    &fee,
                    state,
                    Fen::ZERO,
                    Fen::ZERO,
                    Fen::ZERO,
                    &req(8000, 1)
                )),
                [("state".into(), "not_payable".into())]
            );
        }
        for state in [
            CaseState::Accepted,
            CaseState::ResultReady,
            CaseState::Issued,
            CaseState::Closed,
        ] {
            assert!(payment_allowed(state), "{state:?}");
        }
        // Per unit: the quantity sets what is due.
        let book = per_unit(2000, "本", None);
        let b = check_payment(
            &book,
            CaseState::Accepted,
            Fen::ZERO,
            Fen::ZERO,
            Fen::ZERO,
            &req(6000, 3),
        )
        .unwrap();
        assert_eq!((b.due, b.outstanding()), (Fen(6000), Fen(0)));
        assert_eq!(
            fields(check_payment(
                &book,
                CaseState::Accepted,
                Fen::ZERO,
                Fen::ZERO,
                Fen::ZERO,
                &req(6000, 2)
            )),
            [("amount".into(), "exceeds_outstanding".into())]
        );
        assert_eq!(
            fields(check_payment(
                &book,
                CaseState::Accepted,
                Fen::ZERO,
                Fen::ZERO,
                Fen::ZERO,
                &req(1, 0)
            )),
            [("quantity".into(), "out_of_range".into())]
        );
    }

    #[test]
    fn refunds_need_a_reason_and_never_exceed_the_payment() {
        assert!(check_refund(Fen(8000), Fen::ZERO, Fen(8000), "重复缴费").is_ok());
        assert!(check_refund(Fen(8000), Fen(3000), Fen(5000), "多收").is_ok());
        assert_eq!(
            errors(check_refund(Fen(8000), Fen(3000), Fen(5001), "多收")),
            [("amount".into(), "exceeds_paid".into())]
        );
        assert_eq!(
            errors(check_refund(Fen(8000), Fen::ZERO, Fen(100), "  ")),
            [("reason".into(), "required".into())]
        );
        assert_eq!(
            errors(check_refund(Fen(8000), Fen::ZERO, Fen(0), "x")),
            [("amount".into(), "not_positive".into())]
        );
        assert_eq!(
            errors(check_refund(
                Fen(8000),
                Fen::ZERO,
                Fen(1),
                &"因".repeat(501)
            )),
            [("reason".into(), "too_long".into())]
        );
    }

    #[test]
    fn issuance_waits_only_where_the_item_says_so() {
        let fee = fixed(80);
        let unpaid = Balance::new(&fee, 1, Fen::ZERO, Fen::ZERO);
        assert_eq!(unpaid_before_issue(&fee, &unpaid), Fen(8000));
        let part = Balance::new(&fee, 1, Fen(5000), Fen::ZERO);
        assert_eq!(unpaid_before_issue(&fee, &part), Fen(3000));
        let paid = Balance::new(&fee, 1, Fen(8000), Fen::ZERO);
        assert_eq!(unpaid_before_issue(&fee, &paid), Fen::ZERO);
        let refunded = Balance::new(&fee, 1, Fen(8000), Fen(8000));
        assert_eq!(unpaid_before_issue(&fee, &refunded), Fen(8000));
        let later = Fee {
            pay_before_issue: false,
            ..fee
        };
        assert_eq!(unpaid_before_issue(&later, &unpaid), Fen::ZERO);
        assert_eq!(
            unpaid_before_issue(&Fee::free(), &Balance::default()),
            Fen::ZERO
        );
    }

    #[test]
    fn receipt_numbers() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(receipt_number(d, 7), "JF202611230007");
        assert_eq!(receipt_number(d, 12345), "JF2026112312345");
    }

    fn entry(
        kind: CashKind,
        method: PayMethod,
        fen: i64,
        clerk: i64,
        window: Option<i64>,
    ) -> CashEntry {
        CashEntry {
            kind,
            method,
            amount: Fen(fen),
            clerk_id: clerk,
            clerk_name: format!("clerk{clerk}"),
            window,
        }
    }

    #[test]
    fn cash_up_per_method_window_and_hall() {
        use CashKind::*;
        use PayMethod::*;
        let day = [
            entry(Payment, Cash, 8000, 1, Some(2)),
            entry(Payment, Mobile, 2000, 1, Some(2)),
            entry(Payment, Cash, 4000, 2, Some(1)),
            entry(Refund, Cash, 4000, 9, None),
            entry(Payment, Card, 1500, 2, Some(1)),
        ];
        let c = cash_up(&day);
        assert_eq!(c.lines.len(), 3);
        assert_eq!(
            c.lines
                .iter()
                .map(|l| (l.window, l.clerk_id))
                .collect::<Vec<_>>(),
            [(Some(1), 2), (Some(2), 1), (None, 9)]
        );
        let w2 = &c.lines[1].totals;
        assert_eq!(w2.method(Cash).received, Fen(8000));
        assert_eq!(w2.method(Mobile).received, Fen(2000));
        assert_eq!(w2.all().net(), Fen(10000));
        assert_eq!(c.lines[2].totals.method(Cash).refunded, Fen(4000));
        assert_eq!(c.lines[2].totals.all().net(), Fen(-4000));
        assert_eq!(c.hall.method(Cash).received, Fen(12000));
        assert_eq!(c.hall.method(Cash).net(), Fen(8000));
        assert_eq!(c.hall.method(Card).payments, 1);
        let all = c.hall.all();
        assert_eq!(
            (all.received, all.refunded, all.net()),
            (Fen(15500), Fen(4000), Fen(11500))
        );
        assert_eq!((all.payments, all.refunds), (4, 1));
        assert_eq!(cash_up(&[]), Cashup::default());
    }

    #[test]
    fn pay_methods_parse_both_spellings() {
        for m in PayMethod::ALL {
            assert_eq!(PayMethod::parse(m.as_str()), Some(m));
            assert_eq!(PayMethod::parse(m.label()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!(PayMethod::parse("支票"), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Pay { fen: i64, quantity: u32 },
        Refund { payment: usize, fen: i64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0i64..12_000, 0u32..5).prop_map(|(fen, quantity)| Op::Pay { fen, quantity }),
            (0usize..8, 0i64..12_000).prop_map(|(payment, fen)| Op::Refund { payment, fen }),
        ]
    }

    fn any_fee() -> impl Strategy<Value = Fee> {
        prop_oneof![
            (1i64..10_000).prop_map(|fen| Fee {
                charge: Charge::Fixed {
                    amount_fen: Fen(fen)
                },
                ..fixed(1)
            }),
            (1i64..5_000, proptest::option::of(5_000i64..20_000))
                .prop_map(|(fen, cap)| per_unit(fen, "本", cap)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The balance law: whatever payments and refunds are attempted, the accepted ones
        /// keep paid − refunded ≥ 0 (and each payment's refunds within it), the outstanding
        /// amount is always due − (paid − refunded), and a payment never takes more than was
        /// outstanding at the quantity it was assessed for.
        #[test]
        fn balance_law(fee in any_fee(), ops in proptest::collection::vec(op(), 0..24)) {
            let mut payments: Vec<(Fen, Fen)> = Vec::new(); // (amount, refunded)
            let mut quantity = 1u32;
            for op in ops {
                let paid: Fen = payments.iter().map(|p| p.0).sum();
                let refunded: Fen = payments.iter().map(|p| p.1).sum();
                match op {
                    Op::Pay { fen, quantity: q } => {
                        let req = PaymentRequest { amount: Fen(fen), quantity: q, method: PayMethod::Cash };
                        if let Ok(b) = check_payment(&fee, CaseState::Routed, paid, refunded, Fen::ZERO, &req) {
                            prop_assert!(Fen(fen) <= fee.due(q) - (paid - refunded));
                            prop_assert_eq!(b.paid, paid + Fen(fen));
                            prop_assert!(b.outstanding() >= Fen::ZERO);
                            payments.push((Fen(fen), Fen::ZERO));
                            quantity = q;
                        }
                    }
                    Op::Refund { payment, fen } => {
                        if let Some(p) = payments.get_mut(payment) {
                            if check_refund(p.0, p.1, Fen(fen), "原因").is_ok() {
                                p.1 += Fen(fen);
                            }
                        }
                    }
                }
                let paid: Fen = payments.iter().map(|p| p.0).sum();
                let refunded: Fen = payments.iter().map(|p| p.1).sum();
                let b = Balance::new(&fee, quantity, paid, refunded);
                prop_assert!(b.net_paid() >= Fen::ZERO);
                prop_assert!(payments.iter().all(|p| p.1 <= p.0));
                prop_assert_eq!(b.outstanding(), b.due - (b.paid - b.refunded));
                prop_assert_eq!(b.settled(), b.outstanding() <= Fen::ZERO);
            }
        }

        /// The cash-up's hall totals are the sum of its lines, method by method, and of the
        /// entries themselves.
        #[test]
        fn cash_up_sums(entries in proptest::collection::vec(
            (any::<bool>(), 0usize..3, 1i64..100_000, 1i64..4, proptest::option::of(1i64..4)), 0..40)
        ) {
            let entries: Vec<CashEntry> = entries
                .into_iter()
                .map(|(refund, m, fen, clerk, window)| entry(
                    if refund { CashKind::Refund } else { CashKind::Payment },
                    PayMethod::ALL[m], fen, clerk, window))
                .collect();
            let c = cash_up(&entries);
            for m in PayMethod::ALL {
                let received: Fen = entries.iter().filter(|e| e.method == m && e.kind == CashKind::Payment).map(|e| e.amount).sum();
                let refunded: Fen = entries.iter().filter(|e| e.method == m && e.kind == CashKind::Refund).map(|e| e.amount).sum();
                prop_assert_eq!(c.hall.method(m).received, received);
                prop_assert_eq!(c.hall.method(m).refunded, refunded);
                let lines: Fen = c.lines.iter().map(|l| l.totals.method(m).net()).sum();
                prop_assert_eq!(lines, c.hall.method(m).net());
            }
            let count: u32 = c.lines.iter().map(|l| l.totals.all().payments + l.totals.all().refunds).sum();
            prop_assert_eq!(count as usize, entries.len());
        }

        /// Any amount shown as 元 reads back as itself.
        #[test]
        fn yuan_round_trip(fen in 0i64..=Fen::MAX.0) {
            prop_assert_eq!(Fen::parse_yuan(&Fen(fen).yuan()), Ok(Fen(fen)));
            prop_assert_eq!(Fen::parse_yuan(&Fen(fen).to_string()), Ok(Fen(fen)));
        }
    }
}
