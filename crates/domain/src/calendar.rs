//! The working-day calendar: holidays, make-up days, and deadlines counted in working days.
//!
//! Promised items (承诺件) and SLA tiers are stated as "N working days from acceptance"
//! (自受理之日起N个工作日). Whether a date is a working day cannot be computed from the date
//! alone: every year the State Council General Office publishes the holiday arrangement
//! (国务院办公厅关于部分节假日安排的通知), which moves weekend days around (调休). So the calendar
//! is *data*: shipped for the years known when the product was built, and loaded by the
//! administrator for later years. A date in a year without data is an error
//! ([`CalendarError::YearNotCovered`](crate::calendar::CalendarError::YearNotCovered)),
//! never a guess — a guessed deadline is a wrong deadline printed on the applicant's receipt
//! and counted against the department.
//!
//! Counting rule (民法典 §201, first day not counted): the day of acceptance is day 0; the
//! deadline is the end of the Nth working day after it. A working day is a Monday–Friday that
//! is not a statutory holiday, or a Saturday/Sunday that is a make-up working day (调休上班).
//!
//! Like the rest of the domain crate this module reads no clock and no files at run time:
//! "today" is always an argument, and the shipped arrangement is compiled in.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The arrangements known at build time, one file per batch of notices: 2020–2023 (for
/// cases a hall brings along when it moves onto the product) and 2024–2026. They live
/// inside the crate (not in the shared data folder beside the repository) so that
/// `include_str!` resolves the same way in every checkout, CI included. Each file names the
/// notices it was checked against. 2027 is not shipped: it was not published when this
/// was built, and the administrator imports it (never a guess).
const SHIPPED_CSV: [&str; 2] = [
    include_str!("../data/cn-holiday-arrangements-2020-2023.csv"),
    include_str!("../data/cn-holiday-arrangements-2024-2026.csv"),
];

/// The CSV header, also written by [`WorkCalendar::to_csv`] so exports can be re-imported.
const CSV_HEADER: &str = "date,kind,festival";

/// The same header in the words of the calendar page (日期,类型,节日), also accepted.
const CSV_HEADER_ZH: [&str; 3] = ["日期", "类型", "节日"];

/// The years a CSV file may name. The present holiday system (the 1999 rules and their
/// revisions) starts around 2000, and nobody publishes arrangements decades ahead: outside
/// this range a year (0, −1, 9999) is a typo, and would otherwise be "covered" for good.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// The statutory festivals every year's notice arranges (全国年节及纪念日放假办法). A year
/// whose rows miss one of them is a partial file, not a notice: loading it would replace
/// the stored year whole and move every deadline in it (issue 8, finding 9).
pub const STATUTORY_FESTIVALS: [&str; 7] = [
    "元旦",
    "春节",
    "清明节",
    "劳动节",
    "端午节",
    "中秋节",
    "国庆节",
];

/// The statutory days off of `year`: 11 until 2024, 13 from 2025 (春节 and 劳动节 one day
/// longer each). Every one of them is a holiday row, so a year has at least this many.
pub fn statutory_days_off(year: i32) -> usize {
    if year >= 2025 {
        13
    } else {
        11
    }
}

/// How a listed date departs from the plain Monday–Friday rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A day off belonging to a statutory holiday period (放假). Weekend days inside the
    /// period are listed too, so the period reads as one block in the admin's calendar.
    Holiday,
    /// A Saturday or Sunday that is a working day (调休上班).
    MakeupWorkday,
}

impl DayKind {
    pub const ALL: [DayKind; 2] = [DayKind::Holiday, DayKind::MakeupWorkday];

    /// The stable spelling used in the CSV file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::MakeupWorkday => "makeup_workday",
        }
    }

    /// Every word a file may use for this kind: the stable spelling first, then the words
    /// of the calendar page and of the notices (放假 / 上班, 调休上班), so an administrator
    /// may type what the page shows. English words are matched ignoring case.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            DayKind::Holiday => &["holiday", "放假", "休息"],
            DayKind::MakeupWorkday => &["makeup_workday", "workday", "上班", "调休上班", "补班"],
        }
    }

    /// The kind a word names (see [`Self::words`]).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.words().iter().any(|w| w.eq_ignore_ascii_case(s)))
    }

    /// The word shown on calendar pages.
    pub fn label(self) -> &'static str {
        match self {
            DayKind::Holiday => "放假",
            DayKind::MakeupWorkday => "调休上班",
        }
    }
}

impl fmt::Display for DayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of a year's arrangement. The festival name is kept so pages can say *why* a day
/// is off (or on), e.g. "10月11日 调休上班（国庆节）".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SpecialDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub festival: String,
}

impl SpecialDay {
    pub fn new(date: NaiveDate, kind: DayKind, festival: impl Into<String>) -> Self {
        Self {
            date,
            kind,
            festival: festival.into(),
        }
    }
}

/// Why the calendar refused. `code()` is stable and machine-readable; the Display text is
/// Chinese, for pages, the CLI and the admin dashboard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A computation needed a date in a year whose arrangement has not been loaded.
    #[error("{0}年的节假日安排尚未导入，无法计算工作日")]
    YearNotCovered(i32),
    /// An imported CSV file is malformed; `line` is 1-based and counts the header.
    #[error("节假日安排文件第{line}行有误：{reason}")]
    BadCsv { line: usize, reason: String },
    /// Rows handed to [`WorkCalendar::with_year`] are inconsistent.
    #[error("{year}年的节假日安排有误：{reason}")]
    BadArrangement { year: i32, reason: String },
    /// An imported year (lines `first`–`last` of the file) does not look like a whole
    /// notice: a festival missing, or fewer days off than the law gives. Refused unless the
    /// administrator says explicitly that the partial year is meant ([`PartialYears::Allow`]).
    #[error("节假日安排文件第{first}–{last}行（{year}年）不像完整的年度安排：{reason}。导入会整体替换该年，请导入国务院办公厅通知的全部日期；确需导入不完整的安排时，请勾选“确认导入不完整的年度安排”")]
    ImplausibleYear {
        year: i32,
        first: usize,
        last: usize,
        reason: String,
    },
    /// An arrangement without a single row: it would mark the year covered while knowing
    /// nothing about it (every real arrangement has at least 元旦).
    #[error("节假日安排中没有任何日期")]
    EmptyArrangement,
    /// A clock pause that resumes before it starts.
    #[error("暂停计时区间有误：恢复日期{until}早于暂停日期{from}")]
    BadPause { from: NaiveDate, until: NaiveDate },
}

impl CalendarError {
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::YearNotCovered(_) => "year_not_covered",
            CalendarError::BadCsv { .. } => "bad_csv",
            CalendarError::BadArrangement { .. } => "bad_arrangement",
            CalendarError::ImplausibleYear { .. } => "implausible_year",
            CalendarError::EmptyArrangement => "empty_arrangement",
            CalendarError::BadPause { .. } => "bad_pause",
        }
    }
}

/// Whether an import may hold a year that does not look like a whole notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialYears {
    /// The default: such a year is refused ([`CalendarError::ImplausibleYear`]).
    Refuse,
    /// The administrator confirmed explicitly that the partial year is meant (it still
    /// replaces the stored year whole); the preview and the audit log say it was partial.
    Allow,
}

/// One year of an import compared with what is stored ([`WorkCalendar::diff`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearDiff {
    pub year: i32,
    /// The year is stored already and the import replaces it whole.
    pub replaces_stored: bool,
    pub added: Vec<SpecialDay>,
    pub removed: Vec<SpecialDay>,
    pub changed: Vec<DayChange>,
    /// Every date whose day changes, from what to what, ascending: what the administrator
    /// reads before confirming.
    pub dates: Vec<DateChange>,
    /// Why the year does not look like a whole notice, when it does not (an import holds
    /// such a year only with [`PartialYears::Allow`]).
    pub partial: Option<String>,
}

impl YearDiff {
    /// True when the import leaves this year exactly as stored.
    pub fn is_unchanged(&self) -> bool {
        self.replaces_stored
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
    }
}

/// A date listed both before and after, with another kind or festival.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayChange {
    pub before: SpecialDay,
    pub after: SpecialDay,
}

/// What a calendar says about one date: its status (`not_loaded`, `workday`, `rest_day`,
/// `holiday`, `makeup_workday`), the words for it, and whether it is a working day
/// (`None`: the year is not loaded, so nobody knows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayStatus {
    pub status: &'static str,
    pub label: String,
    pub workday: Option<bool>,
}

/// One date of a preview: what it is now and what it will be after the import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateChange {
    pub date: NaiveDate,
    /// 星期一 … 星期日.
    pub weekday: &'static str,
    pub before: DayStatus,
    pub after: DayStatus,
    /// What the change does to deadlines, in words: 改为工作日, 改为休息日, 工作日不变…
    pub effect: &'static str,
}

impl DateChange {
    fn new(date: NaiveDate, before: DayStatus, after: DayStatus) -> Self {
        let effect = match (before.workday, after.workday) {
            (None, Some(true)) => "开始计算：工作日",
            (None, _) => "开始计算：休息日",
            (Some(false), Some(true)) => "改为工作日",
            (Some(true), Some(false)) => "改为休息日",
            _ => "是否工作日不变（仅名称变化）",
        };
        Self {
            date,
            weekday: weekday_zh(date.weekday()),
            before,
            after,
            effect,
        }
    }
}

/// The calendar's words for a deadline it cannot compute yet (shown wherever a due date
/// shows: case pages, lists, receipts, tracking).
pub const DEADLINE_PENDING_LABEL: &str = "待定（日历未发布）";

/// A deadline as far as the calendar can tell: a date, or pending until the arrangement of
/// `year` is loaded. Never a guessed date: the resident is accepted, and the date is
/// computed the moment that year is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    Due(NaiveDate),
    Pending { year: i32 },
}

impl Deadline {
    /// A computation's answer: a date, pending on the year it missed, or another error.
    pub fn from_result(result: Result<NaiveDate, CalendarError>) -> Result<Self, CalendarError> {
        match result {
            Ok(date) => Ok(Deadline::Due(date)),
            Err(CalendarError::YearNotCovered(year)) => Ok(Deadline::Pending { year }),
            Err(e) => Err(e),
        }
    }

    pub fn due(self) -> Option<NaiveDate> {
        match self {
            Deadline::Due(d) => Some(d),
            Deadline::Pending { .. } => None,
        }
    }

    pub fn pending_year(self) -> Option<i32> {
        match self {
            Deadline::Due(_) => None,
            Deadline::Pending { year } => Some(year),
        }
    }

    /// What a page shows: the date, or [`DEADLINE_PENDING_LABEL`].
    pub fn text(self) -> String {
        match self {
            Deadline::Due(d) => d.to_string(),
            Deadline::Pending { .. } => DEADLINE_PENDING_LABEL.to_string(),
        }
    }
}

/// The administrator's notice when cases wait for a year's arrangement: `waiting` holds
/// (year, number of cases), as counted by the store. `None` when nothing waits.
pub fn pending_deadlines_notice(waiting: &[(i32, u64)]) -> Option<String> {
    let parts: Vec<String> = waiting
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(year, n)| format!("{n}件办件等待{year}年节假日安排"))
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "{}，承诺办结日期暂为“{DEADLINE_PENDING_LABEL}”。导入该年的安排后，系统会在同一次导入中计算这些办件的办结日期。",
        parts.join("，")
    ))
}

fn year_start(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The holiday arrangements of the covered years, and the deadline arithmetic built on them.
///
/// A year is *covered* when the data has at least one row dated in it; coverage is what
/// separates "an ordinary weekday" from "we do not know yet".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    years: BTreeSet<i32>,
    days: BTreeMap<NaiveDate, SpecialDay>,
}

impl WorkCalendar {
    /// An empty calendar covering no year: every working-day question fails until data is
    /// loaded. Mostly useful for building a calendar year by year with [`Self::with_year`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The arrangements shipped with this build (2020–2026).
    pub fn shipped() -> Self {
        let mut cal = WorkCalendar::new();
        for text in SHIPPED_CSV {
            cal.merge(Self::from_csv(text).expect(
                "the embedded holiday arrangements are validated by the calendar unit tests",
            ));
        }
        cal
    }

    /// Parses the `date,kind,festival` format (the shipped file's format, and what
    /// [`Self::to_csv`] writes).
    ///
    /// Lenient where spreadsheets are (a UTF-8 BOM, CRLF line ends, blank lines, `#`
    /// comments, fields wrapped in double quotes), strict where a mistake would shift
    /// deadlines: dates exactly `YYYY-MM-DD` (not `2026-2-3`, not `2026/2/3`: an ambiguous
    /// or mangled cell is refused, not guessed) in a year of [`YEARS`], a make-up working
    /// day on a Saturday or Sunday, each date once, a known kind. Each error names its line.
    pub fn from_csv(text: &str) -> Result<WorkCalendar, CalendarError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut calendar = WorkCalendar::new();
        let mut line_of: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        let mut header_seen = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let bad = |reason: String| CalendarError::BadCsv { line, reason };
            if !header_seen {
                let fields = split_fields(raw);
                if fields != ["date", "kind", "festival"] && fields != CSV_HEADER_ZH {
                    return Err(bad(format!(
                        "表头应为“{CSV_HEADER}”，实际为“{}”",
                        excerpt(raw)
                    )));
                }
                header_seen = true;
                continue;
            }
            let day = parse_row(raw).map_err(bad)?;
            check_day(&day).map_err(bad)?;
            if let Some(&first) = line_of.get(&day.date) {
                return Err(bad(format!("日期{}与第{first}行重复", day.date)));
            }
            line_of.insert(day.date, line);
            calendar.years.insert(day.date.year());
            calendar.days.insert(day.date, day);
        }
        if calendar.days.is_empty() {
            return Err(CalendarError::EmptyArrangement);
        }
        Ok(calendar)
    }

    /// Parses a file an administrator imports: [`Self::from_csv`], and then every year in it
    /// must look like a whole notice — each statutory festival present as a day off, and at
    /// least [`statutory_days_off`] days off — because an import replaces each year whole.
    /// A partial file is refused naming its lines, rather than silently emptying a year,
    /// unless the administrator confirmed explicitly that it is meant
    /// ([`PartialYears::Allow`]; the preview's [`YearDiff::partial`] then says why it is
    /// partial).
    pub fn import_csv(text: &str, partial: PartialYears) -> Result<WorkCalendar, CalendarError> {
        let calendar = Self::from_csv(text)?;
        if partial == PartialYears::Allow {
            return Ok(calendar);
        }
        // Line numbers of each year's rows, for the error (the same walk as `from_csv`).
        let mut lines: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (index, raw) in text.lines().enumerate() {
            if let Ok(day) = parse_row(raw.trim()) {
                let span = lines
                    .entry(day.date.year())
                    .or_insert((index + 1, index + 1));
                span.1 = index + 1;
            }
        }
        for year in calendar.covered_years() {
            if let Err(reason) = calendar.check_whole_notice(year) {
                let (first, last) = lines.get(&year).copied().unwrap_or((1, 1));
                return Err(CalendarError::ImplausibleYear {
                    year,
                    first,
                    last,
                    reason,
                });
            }
        }
        Ok(calendar)
    }

    /// Whether `year`'s rows look like a whole State Council notice (every statutory
    /// festival present as a day off, at least [`statutory_days_off`] days off); the
    /// reason, in Chinese, when not.
    pub fn check_whole_notice(&self, year: i32) -> Result<(), String> {
        let holidays: Vec<&SpecialDay> = self
            .special_days()
            .filter(|d| d.date.year() == year && d.kind == DayKind::Holiday)
            .collect();
        // "中秋节、国庆节" (a combined period, as in 2023) names both festivals.
        let missing: Vec<&str> = STATUTORY_FESTIVALS
            .into_iter()
            .filter(|f| !holidays.iter().any(|d| d.festival.contains(f)))
            .collect();
        if !missing.is_empty() {
            return Err(format!("缺少法定节日{}的放假日期", missing.join("、")));
        }
        let min = statutory_days_off(year);
        if holidays.len() < min {
            return Err(format!("只有{}天放假，少于法定的{min}天", holidays.len()));
        }
        Ok(())
    }

    /// What loading `incoming` would change, year by year, compared with `self` (the
    /// stored calendar): shown to the administrator before an import replaces anything.
    pub fn diff(&self, incoming: &WorkCalendar) -> Vec<YearDiff> {
        incoming
            .covered_years()
            .into_iter()
            .map(|year| {
                let of = |c: &WorkCalendar| -> BTreeMap<NaiveDate, SpecialDay> {
                    c.days
                        .range(year_start(year)..)
                        .take_while(|(date, _)| date.year() == year)
                        .map(|(date, day)| (*date, day.clone()))
                        .collect()
                };
                let (old, new) = (of(self), of(incoming));
                let mut diff = YearDiff {
                    year,
                    replaces_stored: self.covers(year),
                    added: vec![],
                    removed: vec![],
                    changed: vec![],
                    dates: vec![],
                    partial: incoming.check_whole_notice(year).err(),
                };
                for (date, day) in &new {
                    match old.get(date) {
                        None => diff.added.push(day.clone()),
                        Some(before) if before != day => diff.changed.push(DayChange {
                            before: before.clone(),
                            after: day.clone(),
                        }),
                        Some(_) => {}
                    }
                }
                diff.removed = old
                    .iter()
                    .filter(|(date, _)| !new.contains_key(date))
                    .map(|(_, day)| day.clone())
                    .collect();
                // Dates listed before or after, whose day is not the same: from what to what.
                let listed: BTreeSet<NaiveDate> = old.keys().chain(new.keys()).copied().collect();
                diff.dates = listed
                    .into_iter()
                    .filter(|date| !self.covers(year) || old.get(date) != new.get(date))
                    .map(|date| DateChange::new(date, self.status(date), incoming.status(date)))
                    .collect();
                diff
            })
            .collect()
    }

    /// What this calendar says about `date`, in words (see [`DayStatus`]).
    pub fn status(&self, date: NaiveDate) -> DayStatus {
        let (status, label, workday) = match (self.covers(date.year()), self.days.get(&date)) {
            (false, _) => ("not_loaded", "未导入（不计算时限）".to_string(), None),
            (true, Some(d)) => (
                match d.kind {
                    DayKind::Holiday => "holiday",
                    DayKind::MakeupWorkday => "makeup_workday",
                },
                format!("{}（{}）", d.kind.label(), d.festival),
                Some(d.kind == DayKind::MakeupWorkday),
            ),
            (true, None) if is_weekend(date) => {
                ("rest_day", "休息日（周末）".to_string(), Some(false))
            }
            (true, None) => ("workday", "工作日".to_string(), Some(true)),
        };
        DayStatus {
            status,
            label,
            workday,
        }
    }

    /// Writes every row, sorted by date, in the format [`Self::from_csv`] reads, so the
    /// administrator can export, correct in a spreadsheet, and re-import.
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(32 * (self.days.len() + 1));
        out.push_str(CSV_HEADER);
        out.push('\n');
        for day in self.days.values() {
            out.push_str(&format!(
                "{},{},{}\n",
                day.date.format("%Y-%m-%d"),
                day.kind.as_str(),
                day.festival
            ));
        }
        out
    }

    /// Sets one year's arrangement, replacing whatever that year had: the State Council
    /// publishes a year as one notice, so a corrected notice is loaded whole, never patched
    /// row by row. Every day must be dated in `year`, at most once, and pass the same checks
    /// as a CSV row; an empty list is refused because it would mark the year covered.
    pub fn with_year(
        mut self,
        year: i32,
        days: impl IntoIterator<Item = SpecialDay>,
    ) -> Result<WorkCalendar, CalendarError> {
        let bad = |reason: String| CalendarError::BadArrangement { year, reason };
        let mut rows: BTreeMap<NaiveDate, SpecialDay> = BTreeMap::new();
        for day in days {
            if day.date.year() != year {
                return Err(bad(format!("日期{}不在{year}年内", day.date)));
            }
            check_day(&day).map_err(bad)?;
            if rows.contains_key(&day.date) {
                return Err(bad(format!("日期{}重复", day.date)));
            }
            rows.insert(day.date, day);
        }
        if rows.is_empty() {
            return Err(CalendarError::EmptyArrangement);
        }
        self.days.retain(|date, _| date.year() != year);
        self.days.extend(rows);
        self.years.insert(year);
        Ok(self)
    }

    /// Loads every year of `other` into `self`, each replacing the same year wholesale (see
    /// [`Self::with_year`]). Returns the years that were already covered and got replaced, so
    /// the caller can say so in the audit log.
    pub fn merge(&mut self, other: WorkCalendar) -> Vec<i32> {
        let replaced: Vec<i32> = other.years.intersection(&self.years).copied().collect();
        for year in &other.years {
            self.days.retain(|date, _| date.year() != *year);
        }
        self.years.extend(other.years);
        self.days.extend(other.days);
        replaced
    }

    /// The covered years, ascending.
    pub fn covered_years(&self) -> Vec<i32> {
        self.years.iter().copied().collect()
    }

    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    /// The arrangement row for `date`, if it departs from the Monday–Friday rule.
    pub fn special_day(&self, date: NaiveDate) -> Option<&SpecialDay> {
        self.days.get(&date)
    }

    /// Every row, ascending by date.
    pub fn special_days(&self) -> impl Iterator<Item = &SpecialDay> + '_ {
        self.days.values()
    }

    /// Whether `date` is a working day; an error when its year is not covered, because an
    /// ordinary-looking Monday may turn out to be a holiday once the arrangement is out.
    pub fn is_workday(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        if !self.covers(date.year()) {
            return Err(CalendarError::YearNotCovered(date.year()));
        }
        Ok(match self.days.get(&date).map(|d| d.kind) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::MakeupWorkday) => true,
            None => !is_weekend(date),
        })
    }

    /// The deadline of "N working days from `start`": the Nth working day after `start`,
    /// `start` itself not counted (民法典 §201). `n == 0` (即办件) returns `start` and needs no
    /// calendar data. Fails with [`CalendarError::YearNotCovered`] as soon as a day it has to
    /// look at lies in an uncovered year, so a deadline reaching into a year not yet loaded
    /// is refused rather than estimated.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        self.due_date_with_pauses(start, n, &[])
    }

    /// The number of working days in `(from, to]`: the inverse of [`Self::add_working_days`]
    /// (`working_days_between(d, add_working_days(d, n)?) == n`). When `to < from` the result
    /// is the negated count of `(to, from]`, so the function is antisymmetric and additive
    /// (`between(a, b) + between(b, c) == between(a, c)`), which keeps "days left" arithmetic
    /// free of special cases. Every day in the interval must lie in a covered year.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<i64, CalendarError> {
        if to >= from {
            Ok(i64::from(self.count_working_days(from, to, &[])?))
        } else {
            Ok(-i64::from(self.count_working_days(to, from, &[])?))
        }
    }

    /// The deadline of "N working days from `start`" when the clock stopped for a while
    /// (补正、容缺补交: waiting for the applicant does not count against the department).
    ///
    /// Each pause `(from, until)` is the half-open interval of calendar days `[from, until)`:
    /// the clock stops at the start of `from` and runs again from the start of `until`. A
    /// working day inside any pause is not counted; `until` itself counts if it is a working
    /// day. Hence a pause containing k working days (all after `start` and before the
    /// un-paused deadline) moves the deadline by exactly k working days, and a pause over
    /// only weekends or holidays does not move it. Pauses may overlap (a day is paused if
    /// any pause contains it), may lie before `start` (ignored), and may be empty
    /// (`from == until`); `until < from` is [`CalendarError::BadPause`].
    ///
    /// For a pause still running, pass tomorrow as `until` to get the earliest possible
    /// deadline if the applicant answered today. `n == 0` returns `start`.
    pub fn due_date_with_pauses(
        &self,
        start: NaiveDate,
        n: u32,
        pauses: &[(NaiveDate, NaiveDate)],
    ) -> Result<NaiveDate, CalendarError> {
        check_pauses(pauses)?;
        let mut date = start;
        let mut counted = 0;
        while counted < n {
            date = next_day(date)?;
            // Classify before looking at pauses: a day in an uncovered year is an error even
            // when paused, so the answer never depends on data we do not have.
            if self.is_workday(date)? && !is_paused(date, pauses) {
                counted += 1;
            }
        }
        Ok(date)
    }

    /// Working days consumed by `today`: the working days in `(start, today]` outside every
    /// pause (same pause semantics as [`Self::due_date_with_pauses`]). `today` counts in full
    /// even while it is under way, so on the due date this equals `n`; whether a case is
    /// overdue is decided by comparing `today` with the due date, not by this count (a
    /// weekend after a Friday deadline adds no working day but is already late).
    /// Before or on `start` nothing has been consumed: 0.
    pub fn working_days_used(
        &self,
        start: NaiveDate,
        today: NaiveDate,
        pauses: &[(NaiveDate, NaiveDate)],
    ) -> Result<u32, CalendarError> {
        check_pauses(pauses)?;
        if today <= start {
            return Ok(0);
        }
        self.count_working_days(start, today, pauses)
    }

    /// A message for the administrator's dashboard when deadlines are about to become
    /// uncomputable, `None` when all is well.
    ///
    /// From 1 December on, the next year must be loaded: a case accepted in December with a
    /// 20-working-day limit already ends in January, and the State Council usually publishes
    /// the next arrangement in November. If even the year of `today` is missing (the warning
    /// was ignored), that is reported instead, at any time of the year, because deadlines
    /// are failing right now.
    pub fn missing_next_year_warning(&self, today: NaiveDate) -> Option<String> {
        let year = today.year();
        if !self.covers(year) {
            return Some(format!(
                "{year}年的节假日安排尚未导入，当前无法计算办理时限，新受理的承诺件办结日期均为“{DEADLINE_PENDING_LABEL}”。\
                 请系统管理员立即导入国务院办公厅发布的{year}年节假日安排。"
            ));
        }
        let next = year + 1;
        if today.month() == 12 && !self.covers(next) {
            return Some(format!(
                "{next}年的节假日安排尚未导入，截止日期跨入{next}年的办件照常受理，但办结日期只能暂为“{DEADLINE_PENDING_LABEL}”。\
                 请系统管理员在国务院办公厅发布通知后尽快导入{next}年节假日安排。"
            ));
        }
        None
    }

    /// Working days in `(from, to]` outside the pauses; `from <= to`.
    fn count_working_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        pauses: &[(NaiveDate, NaiveDate)],
    ) -> Result<u32, CalendarError> {
        let mut count = 0;
        let mut date = from;
        while date < to {
            date = next_day(date)?;
            if self.is_workday(date)? && !is_paused(date, pauses) {
                count += 1;
            }
        }
        Ok(count)
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn weekday_zh(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "星期一",
        Weekday::Tue => "星期二",
        Weekday::Wed => "星期三",
        Weekday::Thu => "星期四",
        Weekday::Fri => "星期五",
        Weekday::Sat => "星期六",
        Weekday::Sun => "星期日",
    }
}

/// The following day. Only the last representable date has none; no year that far out can
/// be covered, so reporting it as uncovered is accurate.
fn next_day(date: NaiveDate) -> Result<NaiveDate, CalendarError> {
    date.succ_opt()
        .ok_or(CalendarError::YearNotCovered(date.year().saturating_add(1)))
}

fn is_paused(date: NaiveDate, pauses: &[(NaiveDate, NaiveDate)]) -> bool {
    pauses
        .iter()
        .any(|&(from, until)| from <= date && date < until)
}

fn check_pauses(pauses: &[(NaiveDate, NaiveDate)]) -> Result<(), CalendarError> {
    match pauses.iter().find(|(from, until)| until < from) {
        Some(&(from, until)) => Err(CalendarError::BadPause { from, until }),
        None => Ok(()),
    }
}

/// Splits a CSV line on commas, trimming each field and one pair of surrounding double
/// quotes (spreadsheets quote text cells on export).
fn split_fields(line: &str) -> Vec<&str> {
    line.split(',')
        .map(|field| {
            let field = field.trim();
            field
                .strip_prefix('"')
                .and_then(|f| f.strip_suffix('"'))
                .unwrap_or(field)
                .trim()
        })
        .collect()
}

fn parse_row(line: &str) -> Result<SpecialDay, String> {
    let fields = split_fields(line);
    let [date, kind, festival] = fields[..] else {
        return Err(format!(
            "应有3列（date,kind,festival），实际为{}列",
            fields.len()
        ));
    };
    let date = parse_iso_date(date)?;
    let kind = DayKind::parse(kind).ok_or_else(|| {
        format!(
            "类型“{}”未知，应为{}（放假日）或{}（调休上班的周末）",
            excerpt(kind),
            DayKind::Holiday.words().join("、"),
            DayKind::MakeupWorkday.words().join("、"),
        )
    })?;
    if festival.chars().count() > FESTIVAL_MAX_CHARS {
        return Err(format!(
            "节日名称“{}”过长，不能超过{FESTIVAL_MAX_CHARS}个字",
            excerpt(festival)
        ));
    }
    Ok(SpecialDay::new(date, kind, festival))
}

/// The longest festival name a row may carry (the longest real one, 中秋节、国庆节, is 7).
pub const FESTIVAL_MAX_CHARS: usize = 20;

/// What an error quotes of a value the importer typed: the start of it, so a garbled
/// megabyte line does not come back as a megabyte message.
fn excerpt(text: &str) -> String {
    const SHOWN: usize = 40;
    if text.chars().count() <= SHOWN {
        text.to_string()
    } else {
        text.chars().take(SHOWN).chain("…".chars()).collect()
    }
}

/// A date written exactly `YYYY-MM-DD` (ISO 8601, zero-padded) in a year of [`YEARS`].
/// chrono's `%Y-%m-%d` alone would take `2026-2-3` and `+2026-02-03`.
fn parse_iso_date(text: &str) -> Result<NaiveDate, String> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    let date = if shape {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
    } else {
        None
    };
    let date = date.ok_or_else(|| {
        format!(
            "日期“{}”无效，应为YYYY-MM-DD格式（如2026-02-03，月、日补足两位）的真实日期；\
             在电子表格中请先把日期列设为文本或“yyyy-mm-dd”格式",
            excerpt(text)
        )
    })?;
    if !YEARS.contains(&date.year()) {
        return Err(format!(
            "日期“{text}”的年份{}超出可导入的范围（{}–{}年）",
            date.year(),
            YEARS.start(),
            YEARS.end()
        ));
    }
    Ok(date)
}

/// The checks every row passes, whether it comes from a CSV file or from the admin form.
fn check_day(day: &SpecialDay) -> Result<(), String> {
    if day.festival.trim().is_empty() {
        return Err(format!("日期{}缺少节日名称", day.date));
    }
    if day.festival.contains([',', '"', '\n', '\r']) {
        return Err(format!(
            "节日名称“{}”不能包含逗号、引号或换行",
            day.festival
        ));
    }
    // A make-up working day on a weekday changes nothing and almost always means a typo
    // in the date (or a holiday entered with the wrong kind) — both would shift deadlines.
    if day.kind == DayKind::MakeupWorkday && !is_weekend(day.date) {
        return Err(format!(
            "{}是{}，调休上班日只能是星期六或星期日",
            day.date,
            weekday_zh(day.date.weekday())
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_quote_only_the_start_of_a_long_value() {
        let long = "x".repeat(100_000);
        for csv in [
            long.clone(),
            format!("{CSV_HEADER}\n{long},holiday,元旦"),
            format!("{CSV_HEADER}\n2026-01-01,{long},元旦"),
            format!("{CSV_HEADER}\n2026-01-01,holiday,{long}"),
        ] {
            let e = WorkCalendar::from_csv(&csv).unwrap_err().to_string();
            assert!(e.chars().count() < 300, "{}", &e[..200]);
        }
        let e = WorkCalendar::from_csv(&format!(
            "{CSV_HEADER}\n2026-01-01,holiday,{}",
            "节".repeat(21)
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("不能超过20个字"), "{e}");
    }

    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn cal() -> WorkCalendar {
        WorkCalendar::shipped()
    }

    // --- shipped data -------------------------------------------------------------------

    #[test]
    fn shipped_data_covers_2020_to_2026_and_round_trips() {
        let c = cal();
        assert_eq!(c.covered_years(), (2020..=2026).collect::<Vec<_>>());
        assert_eq!(WorkCalendar::from_csv(&c.to_csv()).unwrap(), c);
        for year in 2020..=2026 {
            let new_year = c.special_day(d(year, 1, 1)).unwrap();
            assert_eq!(new_year.kind, DayKind::Holiday);
            assert_eq!(new_year.festival, "元旦");
        }
    }

    #[test]
    fn weekdays_weekends_holidays_and_makeup_days() {
        let c = cal();
        assert!(c.is_workday(d(2025, 9, 26)).unwrap()); // Friday
        assert!(!c.is_workday(d(2025, 9, 27)).unwrap()); // plain Saturday
        assert!(c.is_workday(d(2025, 9, 28)).unwrap()); // Sunday, 调休上班
        assert!(!c.is_workday(d(2025, 10, 6)).unwrap()); // Monday, 中秋节
        assert!(c.is_workday(d(2025, 10, 11)).unwrap()); // Saturday, 调休上班
        assert!(c.is_workday(d(2026, 1, 4)).unwrap()); // Sunday, 元旦调休
        assert_eq!(c.special_day(d(2025, 10, 6)).unwrap().festival, "中秋节");
        assert_eq!(c.special_day(d(2025, 10, 9)), None);
    }

    // --- deadlines on the real arrangements ---------------------------------------------

    #[test]
    fn national_day_and_mid_autumn_2025() {
        // Fri 09-26 accepted; Sun 09-28 is a make-up day (1), 09-29 (2), 09-30 (3),
        // 10-01..10-08 off, 10-09 (4), 10-10 (5); Sat 10-11 is a make-up day (6).
        let c = cal();
        let start = d(2025, 9, 26);
        assert_eq!(c.add_working_days(start, 1).unwrap(), d(2025, 9, 28));
        assert_eq!(c.add_working_days(start, 3).unwrap(), d(2025, 9, 30));
        assert_eq!(c.add_working_days(start, 4).unwrap(), d(2025, 10, 9));
        assert_eq!(c.add_working_days(start, 5).unwrap(), d(2025, 10, 10));
        assert_eq!(c.add_working_days(start, 6).unwrap(), d(2025, 10, 11));
        assert_eq!(c.add_working_days(start, 7).unwrap(), d(2025, 10, 13));
        assert_eq!(c.working_days_between(start, d(2025, 10, 10)).unwrap(), 5);
    }

    #[test]
    fn spring_festival_2026() {
        // Thu 02-12 accepted: 02-13 Fri (1), 02-14 Sat make-up (2), 02-15..02-23 off,
        // 02-24 Tue (3), 02-25 (4), 02-26 (5), 02-27 (6), 02-28 Sat make-up (7), 03-02 (8).
        let c = cal();
        let start = d(2026, 2, 12);
        assert_eq!(c.add_working_days(start, 1).unwrap(), d(2026, 2, 13));
        assert_eq!(c.add_working_days(start, 2).unwrap(), d(2026, 2, 14));
        assert_eq!(c.add_working_days(start, 3).unwrap(), d(2026, 2, 24));
        assert_eq!(c.add_working_days(start, 7).unwrap(), d(2026, 2, 28));
        assert_eq!(c.add_working_days(start, 8).unwrap(), d(2026, 3, 2));
    }

    #[test]
    fn spring_festival_2025() {
        // Fri 01-24 accepted: Sun 01-26 make-up (1), 01-27 Mon (2), 01-28..02-04 off,
        // 02-05 Wed (3); Sat 02-08 make-up follows 02-05..02-07 (3..5) as (6).
        let c = cal();
        let start = d(2025, 1, 24);
        assert_eq!(c.add_working_days(start, 1).unwrap(), d(2025, 1, 26));
        assert_eq!(c.add_working_days(start, 2).unwrap(), d(2025, 1, 27));
        assert_eq!(c.add_working_days(start, 3).unwrap(), d(2025, 2, 5));
        assert_eq!(c.add_working_days(start, 6).unwrap(), d(2025, 2, 8));
    }

    #[test]
    fn across_new_year_2026() {
        // 2026-01-01 (Thu) to 01-03 off, Sun 01-04 is a make-up working day.
        let c = cal();
        assert_eq!(
            c.add_working_days(d(2025, 12, 31), 1).unwrap(),
            d(2026, 1, 4)
        );
        assert_eq!(
            c.add_working_days(d(2025, 12, 31), 2).unwrap(),
            d(2026, 1, 5)
        );
        assert_eq!(
            c.add_working_days(d(2025, 12, 30), 2).unwrap(),
            d(2026, 1, 4)
        );
        assert_eq!(
            c.working_days_between(d(2025, 12, 31), d(2026, 1, 5))
                .unwrap(),
            2
        );
    }

    #[test]
    fn zero_days_is_the_acceptance_day_itself() {
        let c = cal();
        // Even on a holiday, and even in a year without data: nothing is counted.
        assert_eq!(
            c.add_working_days(d(2025, 10, 1), 0).unwrap(),
            d(2025, 10, 1)
        );
        assert_eq!(c.add_working_days(d(2030, 5, 6), 0).unwrap(), d(2030, 5, 6));
        assert_eq!(
            c.working_days_between(d(2025, 10, 1), d(2025, 10, 1))
                .unwrap(),
            0
        );
    }

    #[test]
    fn between_is_antisymmetric_and_counts_the_end_not_the_start() {
        let c = cal();
        // (Sat 10-04, Thu 10-09]: only 10-09 is a working day.
        assert_eq!(
            c.working_days_between(d(2025, 10, 4), d(2025, 10, 9))
                .unwrap(),
            1
        );
        assert_eq!(
            c.working_days_between(d(2025, 10, 9), d(2025, 10, 4))
                .unwrap(),
            -1
        );
        // A whole ordinary week, Mon to Mon: Tue..Fri plus the following Monday.
        assert_eq!(
            c.working_days_between(d(2025, 3, 3), d(2025, 3, 10))
                .unwrap(),
            5
        );
    }

    // --- clock pauses -------------------------------------------------------------------

    #[test]
    fn pause_on_working_days_pushes_the_deadline_by_that_many_working_days() {
        let c = cal();
        let start = d(2025, 3, 3); // Monday, an ordinary week
        assert_eq!(c.add_working_days(start, 5).unwrap(), d(2025, 3, 10));
        // [Wed 03-05, Fri 03-07) pauses Wed and Thu: two working days.
        let pause = [(d(2025, 3, 5), d(2025, 3, 7))];
        let due = c.due_date_with_pauses(start, 5, &pause).unwrap();
        assert_eq!(due, d(2025, 3, 12));
        assert_eq!(due, c.add_working_days(start, 7).unwrap());
        assert_eq!(c.working_days_used(start, due, &pause).unwrap(), 5);
        // Half-open: the resume day counts. [03-05, 03-06) pauses one day only.
        let one = [(d(2025, 3, 5), d(2025, 3, 6))];
        assert_eq!(
            c.due_date_with_pauses(start, 5, &one).unwrap(),
            d(2025, 3, 11)
        );
    }

    #[test]
    fn pauses_over_non_working_days_change_nothing() {
        let c = cal();
        let start = d(2025, 3, 3);
        let due = c.add_working_days(start, 5).unwrap();
        let weekend = [(d(2025, 3, 8), d(2025, 3, 10))];
        let empty = [(d(2025, 3, 5), d(2025, 3, 5))];
        let before_start = [(d(2025, 2, 20), d(2025, 3, 4))]; // ends on 03-04: 03-04 counts
        assert_eq!(c.due_date_with_pauses(start, 5, &weekend).unwrap(), due);
        assert_eq!(c.due_date_with_pauses(start, 5, &empty).unwrap(), due);
        assert_eq!(
            c.due_date_with_pauses(start, 5, &before_start).unwrap(),
            due
        );
    }

    #[test]
    fn pause_across_a_holiday_only_skips_its_working_days() {
        // Accepted Fri 2025-09-26, 5 working days, waiting for the applicant
        // [09-29, 10-09): Sun 09-28 (1) counts, 09-29 and 09-30 are paused (the holiday in
        // between was never counted), 10-09 (2), 10-10 (3), Sat 10-11 make-up (4), 10-13 (5).
        let c = cal();
        let start = d(2025, 9, 26);
        let pause = [(d(2025, 9, 29), d(2025, 10, 9))];
        let due = c.due_date_with_pauses(start, 5, &pause).unwrap();
        assert_eq!(due, d(2025, 10, 13));
        assert_eq!(due, c.add_working_days(start, 7).unwrap());
        assert_eq!(
            c.working_days_used(start, d(2025, 10, 8), &pause).unwrap(),
            1
        );
        assert_eq!(
            c.working_days_used(start, d(2025, 10, 10), &pause).unwrap(),
            3
        );
    }

    #[test]
    fn overlapping_pauses_count_each_day_once() {
        let c = cal();
        let start = d(2025, 3, 3);
        let pauses = [
            (d(2025, 3, 4), d(2025, 3, 6)),
            (d(2025, 3, 5), d(2025, 3, 7)),
        ];
        // Tue, Wed, Thu paused once each: three working days.
        assert_eq!(
            c.due_date_with_pauses(start, 5, &pauses).unwrap(),
            c.add_working_days(start, 8).unwrap()
        );
    }

    #[test]
    fn working_days_used_before_start_is_zero_and_bad_pauses_are_refused() {
        let c = cal();
        assert_eq!(
            c.working_days_used(d(2025, 3, 3), d(2025, 3, 1), &[])
                .unwrap(),
            0
        );
        assert_eq!(
            c.working_days_used(d(2025, 3, 3), d(2025, 3, 3), &[])
                .unwrap(),
            0
        );
        assert_eq!(
            c.working_days_used(d(2025, 3, 3), d(2025, 3, 4), &[])
                .unwrap(),
            1
        );
        let backwards = [(d(2025, 3, 7), d(2025, 3, 5))];
        let err = c
            .due_date_with_pauses(d(2025, 3, 3), 5, &backwards)
            .unwrap_err();
        assert_eq!(err.code(), "bad_pause");
        assert_eq!(
            err,
            CalendarError::BadPause {
                from: d(2025, 3, 7),
                until: d(2025, 3, 5)
            }
        );
        assert!(c
            .working_days_used(d(2025, 3, 3), d(2025, 3, 9), &backwards)
            .is_err());
    }

    // --- uncovered years ----------------------------------------------------------------

    #[test]
    fn a_year_without_data_is_an_error_never_a_guess() {
        let c = cal();
        let err = c.is_workday(d(2027, 3, 1)).unwrap_err();
        assert_eq!(err, CalendarError::YearNotCovered(2027));
        assert_eq!(err.code(), "year_not_covered");
        assert_eq!(
            err.to_string(),
            "2027年的节假日安排尚未导入，无法计算工作日"
        );
        assert_eq!(
            c.is_workday(d(2019, 6, 3)),
            Err(CalendarError::YearNotCovered(2019))
        );
    }

    #[test]
    fn a_span_from_late_2026_into_2027_is_an_error() {
        let c = cal();
        let start = d(2026, 12, 25); // Friday: 12-28 (1) .. 12-31 (4), then 2027
        assert_eq!(c.add_working_days(start, 4).unwrap(), d(2026, 12, 31));
        assert_eq!(
            c.add_working_days(start, 5),
            Err(CalendarError::YearNotCovered(2027))
        );
        assert_eq!(
            c.working_days_between(start, d(2027, 1, 5)),
            Err(CalendarError::YearNotCovered(2027))
        );
        assert_eq!(
            c.working_days_used(start, d(2027, 1, 5), &[]),
            Err(CalendarError::YearNotCovered(2027))
        );
        // A pause does not hide the missing data either.
        let pause = [(d(2026, 12, 28), d(2027, 2, 1))];
        assert_eq!(
            c.due_date_with_pauses(start, 1, &pause),
            Err(CalendarError::YearNotCovered(2027))
        );
    }

    #[test]
    fn loading_the_next_year_makes_the_span_computable() {
        // Test data only, not the real 2027 arrangement.
        let c = cal()
            .with_year(
                2027,
                [
                    SpecialDay::new(d(2027, 1, 1), DayKind::Holiday, "元旦"),
                    SpecialDay::new(d(2027, 1, 2), DayKind::Holiday, "元旦"),
                    SpecialDay::new(d(2027, 1, 3), DayKind::Holiday, "元旦"),
                ],
            )
            .unwrap();
        assert_eq!(c.covered_years(), (2020..=2027).collect::<Vec<_>>());
        // 2026-12-25 Fri: 12-28..12-31 (1..4), 2027-01-01 Fri off, 01-04 Mon (5).
        assert_eq!(
            c.add_working_days(d(2026, 12, 25), 5).unwrap(),
            d(2027, 1, 4)
        );
    }

    #[test]
    fn with_year_replaces_the_year_and_checks_rows() {
        let c = cal()
            .with_year(
                2026,
                [SpecialDay::new(d(2026, 1, 1), DayKind::Holiday, "元旦")],
            )
            .unwrap();
        // The 2026 Spring Festival rows are gone: the corrected notice replaced the year.
        assert!(c.is_workday(d(2026, 2, 16)).unwrap());
        assert!(c.special_day(d(2025, 10, 1)).is_some());

        let wrong_year = cal()
            .with_year(
                2027,
                [SpecialDay::new(d(2026, 1, 1), DayKind::Holiday, "元旦")],
            )
            .unwrap_err();
        assert_eq!(wrong_year.code(), "bad_arrangement");
        let weekday_makeup = cal()
            .with_year(
                2027,
                [SpecialDay::new(
                    d(2027, 1, 4),
                    DayKind::MakeupWorkday,
                    "元旦",
                )],
            )
            .unwrap_err();
        assert_eq!(
            weekday_makeup.to_string(),
            "2027年的节假日安排有误：2027-01-04是星期一，调休上班日只能是星期六或星期日"
        );
        let duplicate = cal()
            .with_year(
                2027,
                [
                    SpecialDay::new(d(2027, 1, 1), DayKind::Holiday, "元旦"),
                    SpecialDay::new(d(2027, 1, 1), DayKind::Holiday, "元旦"),
                ],
            )
            .unwrap_err();
        assert_eq!(duplicate.code(), "bad_arrangement");
        assert_eq!(
            cal().with_year(2027, []).unwrap_err(),
            CalendarError::EmptyArrangement
        );
    }

    #[test]
    fn merge_adds_years_and_replaces_existing_ones_whole() {
        let mut c = cal();
        let update = WorkCalendar::from_csv(
            "date,kind,festival\n2026-01-01,holiday,元旦\n2027-01-01,holiday,元旦\n",
        )
        .unwrap();
        assert_eq!(c.merge(update), vec![2026]);
        assert_eq!(c.covered_years(), (2020..=2027).collect::<Vec<_>>());
        assert!(c.is_workday(d(2026, 2, 16)).unwrap());
        assert!(!c.is_workday(d(2027, 1, 1)).unwrap());
        assert!(!c.is_workday(d(2024, 10, 1)).unwrap());
    }

    #[test]
    fn dashboard_warning_from_december_when_next_year_is_missing() {
        let c = cal();
        assert_eq!(c.missing_next_year_warning(d(2026, 11, 30)), None);
        let warning = c.missing_next_year_warning(d(2026, 12, 1)).unwrap();
        assert!(warning.contains("2027年的节假日安排尚未导入"), "{warning}");
        assert!(c.missing_next_year_warning(d(2026, 12, 31)).is_some());
        assert_eq!(c.missing_next_year_warning(d(2025, 12, 15)), None); // 2026 shipped
        let current = c.missing_next_year_warning(d(2027, 3, 1)).unwrap();
        assert!(current.contains("2027年"), "{current}");

        let loaded = c
            .with_year(
                2027,
                [SpecialDay::new(d(2027, 1, 1), DayKind::Holiday, "元旦")],
            )
            .unwrap();
        assert_eq!(loaded.missing_next_year_warning(d(2026, 12, 1)), None);
    }

    // --- CSV import ---------------------------------------------------------------------

    fn csv_err(text: &str) -> (usize, String) {
        match WorkCalendar::from_csv(text).unwrap_err() {
            CalendarError::BadCsv { line, reason } => (line, reason),
            other => panic!("expected BadCsv, got {other:?}"),
        }
    }

    #[test]
    fn csv_errors_name_the_line() {
        let (line, reason) =
            csv_err("date,kind,festival\n2025-01-01,holiday,元旦\n2025-13-01,holiday,元旦\n");
        assert_eq!(line, 3);
        assert!(reason.contains("2025-13-01"), "{reason}");

        let (line, reason) = csv_err("date,kind,festival\n2025-01-01,day_off,元旦\n");
        assert_eq!(line, 2);
        assert!(reason.contains("day_off"), "{reason}");

        // 2025-10-09 is a Thursday.
        let (line, reason) = csv_err(
            "date,kind,festival\n2025-10-01,holiday,国庆节\n2025-10-09,makeup_workday,国庆节\n",
        );
        assert_eq!(line, 3);
        assert!(reason.contains("星期四"), "{reason}");

        let (line, reason) =
            csv_err("date,kind,festival\n2025-01-01,holiday,元旦\n\n2025-01-01,holiday,元旦\n");
        assert_eq!(line, 4);
        assert!(reason.contains("第2行重复"), "{reason}");

        let (line, _) = csv_err("datum,art,fest\n2025-01-01,holiday,元旦\n");
        assert_eq!(line, 1);
        let (line, reason) = csv_err("date,kind,festival\n2025-01-01,holiday\n");
        assert_eq!((line, reason.contains("2列")), (2, true));
        let (line, _) = csv_err("date,kind,festival\n2025-01-01,holiday,\n");
        assert_eq!(line, 2);

        let err =
            WorkCalendar::from_csv("date,kind,festival\n2025-02-30,holiday,春节\n").unwrap_err();
        assert_eq!(err.code(), "bad_csv");
        assert!(
            err.to_string().starts_with("节假日安排文件第2行有误："),
            "{err}"
        );
        assert_eq!(
            WorkCalendar::from_csv("date,kind,festival\n").unwrap_err(),
            CalendarError::EmptyArrangement
        );
        assert_eq!(
            WorkCalendar::from_csv("").unwrap_err().code(),
            "empty_arrangement"
        );
    }

    #[test]
    fn csv_accepts_what_spreadsheets_write() {
        let text = "\u{feff}date,kind,festival\r\n# 2027 test data\r\n\"2027-01-01\",\"holiday\",\"元旦\"\r\n\r\n 2027-02-07 , makeup_workday , 春节 \r\n";
        let c = WorkCalendar::from_csv(text).unwrap();
        assert_eq!(c.covered_years(), vec![2027]);
        assert_eq!(
            c.to_csv(),
            "date,kind,festival\n2027-01-01,holiday,元旦\n2027-02-07,makeup_workday,春节\n"
        );
    }

    // --- import validation and preview -------------------------------------------------

    /// Shaped like a notice (every festival, 28 days off); test data, not the real 2027.
    const NOTICE_2027: &str = include_str!("../../cli/tests/data/test-calendar-2027.csv");

    #[test]
    fn years_out_of_range_and_unpadded_dates_are_refused_naming_the_line() {
        for (row, needle) in [
            ("0000-01-01,holiday,元旦", "年份0"),
            ("-001-01-01,holiday,元旦", "YYYY-MM-DD"),
            ("-1-01-01,holiday,元旦", "YYYY-MM-DD"),
            ("9999-01-01,holiday,元旦", "年份9999"),
            ("1999-12-31,holiday,元旦", "2000–2100"),
            ("2026-2-3,holiday,春节", "2026-2-3"),
            ("2026/02/03,holiday,春节", "YYYY-MM-DD"),
            ("+2026-02-03,holiday,春节", "YYYY-MM-DD"),
            ("2026-02-3 ,holiday,春节", "YYYY-MM-DD"),
        ] {
            let (line, reason) = csv_err(&format!(
                "date,kind,festival\n2026-01-01,holiday,元旦\n{row}\n"
            ));
            assert_eq!(line, 3, "{row}");
            assert!(reason.contains(needle), "{row}: {reason}");
        }
        assert!(WorkCalendar::from_csv("date,kind,festival\n2100-01-01,holiday,元旦\n").is_ok());
        assert!(WorkCalendar::from_csv("date,kind,festival\n2000-01-01,holiday,元旦\n").is_ok());
    }

    #[test]
    fn an_import_must_look_like_a_whole_notice() {
        // The shipped years and the test notice pass.
        let mut shipped = WorkCalendar::new();
        for text in SHIPPED_CSV {
            shipped.merge(WorkCalendar::import_csv(text, PartialYears::Refuse).unwrap());
        }
        assert_eq!(shipped, cal());
        assert_eq!(
            WorkCalendar::import_csv(NOTICE_2027, PartialYears::Refuse)
                .unwrap()
                .covered_years(),
            vec![2027]
        );
        // The one-line file would have replaced 2026 whole: refused, naming it.
        let err = WorkCalendar::import_csv(
            "date,kind,festival\n2026-01-01,holiday,元旦\n",
            PartialYears::Refuse,
        )
        .unwrap_err();
        assert_eq!(err.code(), "implausible_year");
        let text = err.to_string();
        assert!(text.contains("第2–2行（2026年）"), "{text}");
        assert!(text.contains("春节") && text.contains("国庆节"), "{text}");
        // Every festival present but too few days off (2026 gives 13).
        let thin: String = STATUTORY_FESTIVALS
            .iter()
            .zip(1..)
            .map(|(f, day)| format!("2026-03-{day:02},holiday,{f}\n"))
            .collect();
        let err =
            WorkCalendar::import_csv(&format!("date,kind,festival\n{thin}"), PartialYears::Refuse)
                .unwrap_err();
        assert!(err.to_string().contains("少于法定的13天"), "{err}");
        // A missing festival in one year of several names that year's lines.
        let without_duanwu: String = NOTICE_2027
            .lines()
            .filter(|l| !l.contains("端午节"))
            .collect::<Vec<_>>()
            .join("\n");
        let both = format!(
            "{}{}",
            without_duanwu,
            &SHIPPED_CSV[1][SHIPPED_CSV[1].find('\n').unwrap()..]
        );
        let err = WorkCalendar::import_csv(&both, PartialYears::Refuse).unwrap_err();
        match &err {
            CalendarError::ImplausibleYear { year, first, .. } => {
                assert_eq!((*year, *first), (2027, 3));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("端午节"), "{err}");
        // A combined period names both festivals (as in 2023: "中秋节、国庆节").
        let combined = NOTICE_2027.replace(",中秋节", ",中秋节、国庆节").replace(
            "2027-10-01,holiday,国庆节",
            "2027-10-01,holiday,中秋节、国庆节",
        );
        assert!(WorkCalendar::import_csv(&combined, PartialYears::Refuse).is_ok());
    }

    #[test]
    fn the_preview_lists_days_added_removed_and_changed_per_year() {
        let stored = cal();
        let mut edited: String = SHIPPED_CSV[1]
            .lines()
            .filter(|l| l.starts_with("date") || l.starts_with("2026"))
            .filter(|l| !l.starts_with("2026-10-10"))
            .map(|l| {
                if l.starts_with("2026-01-01") {
                    "2026-01-01,holiday,元旦节".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        edited.push_str("\n2026-12-31,holiday,元旦\n");
        let incoming = WorkCalendar::import_csv(
            &format!(
                "{edited}{}",
                NOTICE_2027.split_once("festival\n").unwrap().1
            ),
            PartialYears::Refuse,
        )
        .unwrap();
        let diff = stored.diff(&incoming);
        assert_eq!(
            diff.iter().map(|d| d.year).collect::<Vec<_>>(),
            vec![2026, 2027]
        );
        let y2026 = &diff[0];
        assert!(y2026.replaces_stored && !y2026.is_unchanged());
        assert_eq!(
            y2026.added,
            vec![SpecialDay::new(d(2026, 12, 31), DayKind::Holiday, "元旦")]
        );
        assert_eq!(
            y2026.removed.iter().map(|d| d.date).collect::<Vec<_>>(),
            vec![d(2026, 10, 10)]
        );
        assert_eq!(y2026.changed.len(), 1);
        assert_eq!(y2026.changed[0].before.festival, "元旦");
        assert_eq!(y2026.changed[0].after.festival, "元旦节");
        let y2027 = &diff[1];
        assert!(!y2027.replaces_stored);
        assert_eq!(y2027.added.len(), 34);
        assert!(y2027.removed.is_empty() && y2027.changed.is_empty());
        // Re-importing what is stored changes nothing.
        assert!(stored.diff(&stored).iter().all(YearDiff::is_unchanged));
    }

    #[test]
    fn the_preview_says_per_date_what_changes_from_what_to_what() {
        let stored = cal();
        // 2026 without the 10-10 make-up day, with 12-31 off and 01-01 renamed.
        let edited: String = SHIPPED_CSV[1]
            .lines()
            .filter(|l| l.starts_with("date") || l.starts_with("2026"))
            .filter(|l| !l.starts_with("2026-10-10"))
            .map(|l| l.replace("2026-01-01,holiday,元旦", "2026-01-01,holiday,元旦节"))
            .chain(["2026-12-31,holiday,元旦".to_string()])
            .collect::<Vec<_>>()
            .join("\n");
        let incoming = WorkCalendar::import_csv(&edited, PartialYears::Refuse).unwrap();
        let diff = stored.diff(&incoming);
        let dates: Vec<(NaiveDate, &str, &str, &str, &str)> = diff[0]
            .dates
            .iter()
            .map(|c| {
                (
                    c.date,
                    c.weekday,
                    c.before.label.as_str(),
                    c.after.label.as_str(),
                    c.effect,
                )
            })
            .collect();
        assert_eq!(
            dates,
            vec![
                (
                    d(2026, 1, 1),
                    "星期四",
                    "放假（元旦）",
                    "放假（元旦节）",
                    "是否工作日不变（仅名称变化）"
                ),
                (
                    d(2026, 10, 10),
                    "星期六",
                    "调休上班（国庆节）",
                    "休息日（周末）",
                    "改为休息日"
                ),
                (
                    d(2026, 12, 31),
                    "星期四",
                    "工作日",
                    "放假（元旦）",
                    "改为休息日"
                ),
            ]
        );
        assert_eq!(diff[0].partial, None);
        // A new year: every listed date starts being counted.
        let new_year = WorkCalendar::import_csv(NOTICE_2027, PartialYears::Refuse).unwrap();
        let diff = stored.diff(&new_year);
        assert_eq!(diff[0].dates.len(), 34);
        let first = &diff[0].dates[0];
        assert_eq!(first.before.status, "not_loaded");
        assert_eq!(first.before.workday, None);
        assert_eq!(first.after.label, "放假（元旦）");
        assert_eq!(first.effect, "开始计算：休息日");
        let makeup = diff[0]
            .dates
            .iter()
            .find(|c| c.date == d(2027, 2, 14))
            .unwrap();
        assert_eq!(makeup.effect, "开始计算：工作日");
        // The same file again changes no date.
        assert!(stored.diff(&stored).iter().all(|y| y.dates.is_empty()));
    }

    #[test]
    fn a_partial_year_needs_explicit_permission_and_the_preview_says_why() {
        let one_line = "date,kind,festival\n2027-01-01,holiday,元旦\n";
        let err = WorkCalendar::import_csv(one_line, PartialYears::Refuse).unwrap_err();
        assert_eq!(err.code(), "implausible_year");
        assert!(
            err.to_string().contains("确认导入不完整的年度安排"),
            "{err}"
        );
        let allowed = WorkCalendar::import_csv(one_line, PartialYears::Allow).unwrap();
        assert_eq!(allowed.covered_years(), vec![2027]);
        let diff = cal().diff(&allowed);
        let reason = diff[0].partial.as_deref().unwrap();
        assert!(
            reason.contains("春节") && reason.contains("国庆节"),
            "{reason}"
        );
        // Rows are still checked strictly when partial years are allowed.
        assert_eq!(
            WorkCalendar::import_csv(
                "date,kind,festival\n2027-1-1,holiday,元旦\n",
                PartialYears::Allow
            )
            .unwrap_err()
            .code(),
            "bad_csv"
        );
    }

    #[test]
    fn an_import_takes_the_words_the_page_shows() {
        let text = "日期,类型,节日\n2027-01-01,放假,元旦\n2027-01-02,休息,元旦\n\
                    2027-02-06,上班,春节\n2027-02-07,调休上班,春节\n2027-02-13,补班,春节\n\
                    2027-02-14,workday,春节\n2027-02-20,Makeup_Workday,春节\n2027-02-21,HOLIDAY,春节\n";
        let c = WorkCalendar::from_csv(text).unwrap();
        let kinds: Vec<DayKind> = c.special_days().map(|d| d.kind).collect();
        use DayKind::{Holiday as H, MakeupWorkday as M};
        assert_eq!(kinds, vec![H, H, M, M, M, M, M, H]);
        // Stored and exported in the stable spelling.
        assert!(c.to_csv().contains("2027-02-06,makeup_workday,春节"));
        // Still a weekend only, whatever the word.
        let (line, reason) = csv_err("date,kind,festival\n2027-02-08,上班,春节\n");
        assert_eq!(line, 2);
        assert!(reason.contains("星期一"), "{reason}");
        // An unknown word lists the accepted ones.
        let (_, reason) = csv_err("date,kind,festival\n2027-02-08,加班,春节\n");
        assert!(
            reason.contains("加班") && reason.contains("放假") && reason.contains("上班"),
            "{reason}"
        );
    }

    #[test]
    fn deadlines_pending_on_a_missing_year_are_named_never_guessed() {
        let c = cal();
        // 25 working days from 2026-12-01 reach into 2027, which is not shipped.
        let pending = Deadline::from_result(c.add_working_days(d(2026, 12, 1), 25)).unwrap();
        assert_eq!(pending, Deadline::Pending { year: 2027 });
        assert_eq!((pending.due(), pending.pending_year()), (None, Some(2027)));
        assert_eq!(pending.text(), "待定（日历未发布）");
        let due = Deadline::from_result(c.add_working_days(d(2026, 11, 23), 25)).unwrap();
        assert_eq!(due, Deadline::Due(d(2026, 12, 28)));
        assert_eq!(due.text(), "2026-12-28");
        // Other errors stay errors.
        let bad = c.due_date_with_pauses(d(2026, 3, 2), 5, &[(d(2026, 3, 5), d(2026, 3, 4))]);
        assert_eq!(Deadline::from_result(bad).unwrap_err().code(), "bad_pause");

        assert_eq!(pending_deadlines_notice(&[]), None);
        assert_eq!(pending_deadlines_notice(&[(2027, 0)]), None);
        let notice = pending_deadlines_notice(&[(2027, 3)]).unwrap();
        assert!(
            notice.starts_with("3件办件等待2027年节假日安排")
                && notice.contains("待定（日历未发布）"),
            "{notice}"
        );
    }

    // --- the shipped 2020–2023 arrangements, date by date against the notices -----------

    #[test]
    fn known_dates_of_2020_to_2023() {
        let c = cal();
        let workday = |y, m, day| c.is_workday(d(y, m, day)).unwrap();
        // 2020 (国办发明电〔2019〕16号, extended by 国办发明电〔2020〕1号).
        assert!(workday(2020, 1, 19), "Sunday make-up day before 春节");
        assert!(!workday(2020, 1, 24) && !workday(2020, 1, 30));
        assert!(!workday(2020, 1, 31), "a Friday off by the extension");
        assert!(
            !workday(2020, 2, 1),
            "the make-up Saturday fell away with the extension"
        );
        assert_eq!(c.special_day(d(2020, 2, 1)).unwrap().kind, DayKind::Holiday);
        assert!(workday(2020, 2, 3), "back to work on Monday 3 February");
        assert!(!workday(2020, 6, 26) && workday(2020, 6, 28));
        assert!(!workday(2020, 10, 8) && workday(2020, 10, 10) && workday(2020, 9, 27));
        // 2021 (国办发明电〔2020〕27号).
        assert!(workday(2021, 2, 7), "Sunday make-up day before 春节");
        assert!(workday(2021, 2, 20) && !workday(2021, 2, 17));
        assert!(workday(2021, 9, 18) && !workday(2021, 9, 21));
        assert!(workday(2021, 9, 26) && workday(2021, 10, 9) && !workday(2021, 10, 7));
        // 2022 (国办发明电〔2021〕11号).
        assert!(workday(2022, 1, 29) && workday(2022, 1, 30) && !workday(2022, 1, 31));
        assert!(workday(2022, 4, 2) && !workday(2022, 4, 5));
        assert!(!workday(2022, 6, 3) && !workday(2022, 9, 12));
        assert!(workday(2022, 10, 8), "Saturday make-up day after 国庆节");
        assert!(workday(2022, 10, 9) && !workday(2022, 10, 7));
        // 2023 (国办发明电〔2022〕16号): 元旦 starts on 2022-12-31.
        assert_eq!(c.special_day(d(2022, 12, 31)).unwrap().festival, "元旦");
        assert!(!workday(2023, 1, 2) && workday(2023, 1, 28) && workday(2023, 1, 29));
        assert!(!workday(2023, 4, 5), "清明节, one day");
        assert!(workday(2023, 4, 6) && workday(2023, 4, 23) && workday(2023, 5, 6));
        assert!(!workday(2023, 6, 23) && workday(2023, 6, 25));
        assert_eq!(
            c.special_day(d(2023, 10, 2)).unwrap().festival,
            "中秋节、国庆节"
        );
        assert!(!workday(2023, 9, 29) && !workday(2023, 10, 6));
        assert!(workday(2023, 10, 7) && workday(2023, 10, 8));
    }

    #[test]
    fn working_days_of_each_year_2020_to_2023() {
        // By hand from each notice: weekdays of the year, minus the holidays falling on
        // weekdays, plus the make-up weekend days.
        // 2020: 262 − 19 + 6 (the extension took 01-31 and the 02-01 make-up day: 251 before).
        // 2021: 261 − 18 + 7.  2022: 260 − 18 + 7.  2023: 260 − 18 + 7.
        let c = cal();
        for (year, expected) in [(2020, 249), (2021, 250), (2022, 249), (2023, 249)] {
            assert_eq!(
                c.working_days_between(d(year - 1, 12, 31), d(year, 12, 31))
                    .unwrap(),
                expected,
                "{year}"
            );
        }
        // A deadline across the extended Spring Festival: accepted Thursday 2020-01-23,
        // one working day is Monday 02-03.
        assert_eq!(
            c.add_working_days(d(2020, 1, 23), 1).unwrap(),
            d(2020, 2, 3)
        );
        // 2021: accepted Friday 02-05, 3 working days: Sun 02-07 (1), 02-08 (2), 02-09 (3).
        assert_eq!(c.add_working_days(d(2021, 2, 5), 3).unwrap(), d(2021, 2, 9));
        // 2022: 国庆 — accepted Thursday 09-29: 09-30 (1), Sat 10-08 (2), Sun 10-09 (3).
        assert_eq!(
            c.add_working_days(d(2022, 9, 29), 3).unwrap(),
            d(2022, 10, 9)
        );
        // 2023: across the 元旦 that began in 2022: Friday 2022-12-30 + 1 = 2023-01-03.
        assert_eq!(
            c.add_working_days(d(2022, 12, 30), 1).unwrap(),
            d(2023, 1, 3)
        );
    }

    #[test]
    fn each_shipped_year_passes_the_whole_notice_check() {
        for text in SHIPPED_CSV {
            let c = WorkCalendar::import_csv(text, PartialYears::Refuse).unwrap();
            for year in c.covered_years() {
                assert_eq!(c.check_whole_notice(year), Ok(()), "{year}");
            }
        }
        let c = cal();
        assert!((2020..=2026).all(|y| c.check_whole_notice(y).is_ok()));
        // 2027 is not shipped: it was not published, and it is not invented.
        assert!(!c.covers(2027));
    }

    // --- properties ---------------------------------------------------------------------

    fn covered_date(offset: i64) -> NaiveDate {
        d(2024, 1, 1) + chrono::Duration::days(offset)
    }

    /// Any valid calendar: distinct dates in importable years, make-up days on weekends,
    /// festival names without separators.
    fn any_calendar() -> impl Strategy<Value = WorkCalendar> {
        let day = (
            *YEARS.start()..=*YEARS.end(),
            0u32..365,
            any::<bool>(),
            "[\\p{Han}A-Za-z0-9（）、·]{1,8}",
        );
        proptest::collection::vec(day, 1..60).prop_map(|rows| {
            let mut by_year: BTreeMap<i32, BTreeMap<NaiveDate, SpecialDay>> = BTreeMap::new();
            for (year, ordinal, makeup, festival) in rows {
                let Some(date) = NaiveDate::from_yo_opt(year, ordinal + 1) else {
                    continue;
                };
                let kind = if makeup && is_weekend(date) {
                    DayKind::MakeupWorkday
                } else {
                    DayKind::Holiday
                };
                by_year
                    .entry(year)
                    .or_default()
                    .insert(date, SpecialDay::new(date, kind, festival));
            }
            by_year
                .into_iter()
                .fold(WorkCalendar::new(), |c, (year, days)| {
                    c.with_year(year, days.into_values()).unwrap()
                })
        })
    }

    proptest! {
        #[test]
        fn any_valid_calendar_round_trips_through_its_csv(c in any_calendar()) {
            prop_assert_eq!(WorkCalendar::from_csv(&c.to_csv()).unwrap(), c);
        }

        #[test]
        fn add_then_between_is_identity(offset in 0i64..1096, n in 0u32..60) {
            let c = cal();
            let start = covered_date(offset);
            match (c.add_working_days(start, n), c.add_working_days(start, n + 1)) {
                (Ok(due), Ok(next)) => {
                    prop_assert_eq!(c.working_days_between(start, due).unwrap(), i64::from(n));
                    prop_assert_eq!(c.working_days_between(due, start).unwrap(), -i64::from(n));
                    if n > 0 {
                        prop_assert!(c.is_workday(due).unwrap());
                        prop_assert!(due > start);
                    }
                    prop_assert!(next > due);
                    prop_assert_eq!(c.working_days_between(due, next).unwrap(), 1);
                }
                // The only acceptable failure: running past the last shipped year.
                (_, Err(e)) | (Err(e), _) => {
                    prop_assert_eq!(e, CalendarError::YearNotCovered(2027));
                    prop_assert!(start.year() == 2026 && start.month() >= 9);
                }
            }
        }

        #[test]
        fn a_pause_inside_the_term_adds_exactly_its_working_days(
            offset in 0i64..1000,
            n in 1u32..40,
            pause_start in 1i64..40,
            pause_len in 0i64..20,
        ) {
            let c = cal();
            let start = covered_date(offset);
            let plain = c.add_working_days(start, n);
            prop_assume!(plain.is_ok());
            let plain = plain.unwrap();
            let from = start + chrono::Duration::days(pause_start);
            let until = from + chrono::Duration::days(pause_len);
            // Keep the pause within (start, plain deadline].
            prop_assume!(until <= plain + chrono::Duration::days(1));
            let pause = [(from, until)];
            let paused_working_days = c
                .working_days_between(from - chrono::Duration::days(1), until - chrono::Duration::days(1))
                .unwrap();
            let k = u32::try_from(paused_working_days).unwrap();
            match c.add_working_days(start, n + k) {
                Ok(expected) => {
                    let due = c.due_date_with_pauses(start, n, &pause).unwrap();
                    prop_assert_eq!(due, expected);
                    prop_assert!(c.is_workday(due).unwrap());
                    prop_assert!(!(from <= due && due < until));
                    prop_assert_eq!(c.working_days_used(start, due, &pause).unwrap(), n);
                }
                Err(e) => prop_assert_eq!(e, CalendarError::YearNotCovered(2027)),
            }
        }
    }
}
