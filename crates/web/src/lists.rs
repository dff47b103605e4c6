//! What every list's handlers share beyond `paging`: reading its filters from the query
//! string — each one checked, a refusal a 422 field error naming the parameter — and the
//! 下一页 / 第一页 links of a list page.

use crate::error::AppError;
use crate::paging::{next_link, PageParams};
use crate::AppState;
use chrono::Datelike;
use chrono::NaiveDate;
use onewindow_domain::validation::{self, FieldErrors, TextLimit};
use onewindow_store::page::{ListId, Page, PageRequest};

/// A filter's value as typed: trimmed, `None` when absent or empty, refused (recorded in
/// `e`) when it breaks `limit`.
pub fn text(
    e: &mut FieldErrors,
    field: &str,
    label: &str,
    value: Option<&str>,
    limit: TextLimit,
) -> Option<String> {
    let v = value.map(str::trim).filter(|v| !v.is_empty())?;
    e.text(field, label, v, limit).then(|| v.to_string())
}

/// An id filter: a positive integer.
pub fn id(e: &mut FieldErrors, field: &str, label: &str, value: Option<&str>) -> Option<i64> {
    let v = text(e, field, label, value, validation::REFERENCE)?;
    match v.parse::<i64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            e.add(field, "invalid", format!("{label}应为正整数编号"));
            None
        }
    }
}

/// A yes/no filter: `true` or `false` (also `1` / `0`).
pub fn boolean(e: &mut FieldErrors, field: &str, label: &str, value: Option<&str>) -> Option<bool> {
    let v = text(e, field, label, value, validation::REFERENCE)?;
    match v.as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => {
            e.add(field, "invalid", format!("{label}应为 true 或 false"));
            None
        }
    }
}

/// A date filter, exactly `YYYY-MM-DD`.
pub fn date(
    e: &mut FieldErrors,
    field: &str,
    label: &str,
    value: Option<&str>,
) -> Option<NaiveDate> {
    let v = text(e, field, label, value, validation::REFERENCE)?;
    match NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
        Ok(d) if v.len() == 10 => Some(d),
        _ => {
            e.add(
                field,
                "invalid_date",
                format!("{label}应为 YYYY-MM-DD 格式的日期"),
            );
            None
        }
    }
}

/// A filter taking one of a fixed set of values (`parse` says which), e.g. a state.
pub fn one_of<T>(
    e: &mut FieldErrors,
    field: &str,
    label: &str,
    value: Option<&str>,
    allowed: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let v = text(e, field, label, value, validation::REFERENCE)?;
    let parsed = parse(&v);
    if parsed.is_none() {
        e.add(field, "unknown", format!("{label}应为以下之一：{allowed}"));
    }
    parsed
}

/// One page of a list with what is needed to link onwards: the canonical filters it was
/// read under and the validated page request.
#[derive(Debug)]
pub struct Listed<T> {
    pub page: Page<T>,
    pub filters: String,
    pub req: PageRequest,
}

/// Validates `limit` and `cursor` for `list` (after its filters were checked: a cursor is
/// only meaningful for valid filters). Callers hand the same `ListId` to the store, so a
/// cursor is checked against exactly the list it is made for.
pub async fn request(
    state: &AppState,
    params: &PageParams,
    list: &ListId<'_>,
) -> Result<PageRequest, AppError> {
    params.request(state, list).await
}

/// The 下一页 / 第一页 links of a list page (`None` where there is nowhere to go).
#[derive(Debug, Clone, Default)]
pub struct Pager {
    pub next: Option<String>,
    pub first: Option<String>,
}

impl Pager {
    /// Links for `path` (a page's own path) showing `listed`: the next page with the same
    /// filters and limit, and — on any page but the first — the first page.
    pub fn new<T>(path: &str, listed: &Listed<T>) -> Pager {
        let next = listed
            .page
            .next_cursor
            .as_deref()
            .map(|c| next_link(path, &listed.filters, &listed.req, c));
        let first = listed.req.after.is_some().then(|| {
            if listed.filters.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", listed.filters)
            }
        });
        Pager { next, first }
    }
}

/// A Beijing date `YYYY-MM-DD` (exactly that form, years 2000–2100).
pub fn parse_day(
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

/// The first moment (UTC microseconds) of a Beijing date.
pub fn day_start(d: NaiveDate) -> i64 {
    use chrono::TimeZone;
    onewindow_store::clock::china()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("a fixed offset has one midnight")
        .timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_and_name_their_field() {
        let mut e = FieldErrors::new();
        assert_eq!(id(&mut e, "org", "机构", Some(" 12 ")), Some(12));
        assert_eq!(id(&mut e, "org", "机构", Some("")), None);
        assert_eq!(
            boolean(&mut e, "active", "状态", Some("false")),
            Some(false)
        );
        assert_eq!(
            date(&mut e, "date", "日期", Some("2026-11-23")),
            NaiveDate::from_ymd_opt(2026, 11, 23)
        );
        assert!(e.is_empty());
        id(&mut e, "org", "机构", Some("x1"));
        id(&mut e, "user", "账号", Some("-3"));
        boolean(&mut e, "active", "状态", Some("yes"));
        date(&mut e, "date", "日期", Some("2026-1-3"));
        one_of(&mut e, "state", "状态", Some("gone"), "a、b", |s| {
            (s == "a").then_some(())
        });
        text(
            &mut e,
            "q",
            "搜索词",
            Some(&"长".repeat(101)),
            validation::SEARCH_QUERY,
        );
        let got: Vec<(&str, &str)> =
            e.0.iter()
                .map(|f| (f.field.as_str(), f.code.as_str()))
                .collect();
        assert_eq!(
            got,
            vec![
                ("org", "invalid"),
                ("user", "invalid"),
                ("active", "invalid"),
                ("date", "invalid_date"),
                ("state", "unknown"),
                ("q", "too_long"),
            ]
        );
    }

    #[test]
    fn the_pager_links_onwards_and_back_to_the_start() {
        let listed = Listed {
            page: Page {
                items: vec![1],
                next_cursor: Some("c".into()),
            },
            filters: "role=admin".into(),
            req: PageRequest::first(25),
        };
        let p = Pager::new("/admin/users", &listed);
        assert_eq!(
            p.next.as_deref(),
            Some("/admin/users?role=admin&limit=25&cursor=c")
        );
        assert_eq!(p.first, None, "the first page has no 第一页 link");
        let later = Listed {
            req: PageRequest {
                limit: 25,
                after: Some(vec![]),
            },
            page: Page {
                items: vec![2],
                next_cursor: None,
            },
            ..listed
        };
        let p = Pager::new("/admin/users", &later);
        assert_eq!(p.next, None);
        assert_eq!(p.first.as_deref(), Some("/admin/users?role=admin"));
    }
}
