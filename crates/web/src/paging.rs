//! The web side of keyset pagination (`onewindow_store::page`): the `limit` and `cursor`
//! query parameters every list takes, the JSON envelope every list answers with, and the
//! 下一页 link pages show. One place, so every list pages the same way.
//!
//! API shape of a list: `{"items": [...], "next_cursor": "…" | null, "next": "/api/v1/…?…&cursor=…" | null}`.
//! `next` repeats the caller's filters and limit, so a client can follow it blindly.

use crate::error::AppError;
use crate::AppState;
use onewindow_store::page::{ListId, Page, PageError, PageRequest};
use serde::{Deserialize, Serialize};

/// The paging parameters of a list's query string. Kept as text so a bad `limit` is our
/// field error (`invalid_limit`), not a generic query rejection.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageParams {
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
}

impl PageParams {
    /// Validates the parameters for `list`.
    pub async fn request(
        &self,
        state: &AppState,
        list: &ListId<'_>,
    ) -> Result<PageRequest, AppError> {
        let limit = match self
            .limit
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            None => None,
            Some(l) => Some(
                l.parse::<i64>()
                    .map_err(|_| AppError::from(PageError::Limit.into_field_errors()))?,
            ),
        };
        let key = state.store.cursor_key().await?;
        PageRequest::parse(key, list, limit, self.cursor.as_deref())
            .map_err(|e| AppError::from(e.into_field_errors()))
    }
}

/// Builds the canonical filter string of a list from its (name, value) pairs, skipping
/// empty values: the same filters give the same string whatever order the caller used.
pub fn filter_string(pairs: &[(&str, &str)]) -> String {
    let mut kept: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (*k, v.trim()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    kept.sort();
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in kept {
        out.append_pair(k, v);
    }
    out.finish()
}

/// The URL of the next page: `path?filters&limit=N&cursor=…`.
pub fn next_link(path: &str, filters: &str, req: &PageRequest, next_cursor: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("limit", &req.limit.to_string());
    q.append_pair("cursor", next_cursor);
    let tail = q.finish();
    if filters.is_empty() {
        format!("{path}?{tail}")
    } else {
        format!("{path}?{filters}&{tail}")
    }
}

/// The JSON envelope of a list.
#[derive(Debug, Serialize)]
pub struct ListBody<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub next: Option<String>,
}

impl<T> ListBody<T> {
    pub fn new(page: Page<T>, path: &str, filters: &str, req: &PageRequest) -> Self {
        let next = page
            .next_cursor
            .as_deref()
            .map(|c| next_link(path, filters, req, c));
        ListBody {
            items: page.items,
            next_cursor: page.next_cursor,
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_canonical_and_skip_empty_values() {
        assert_eq!(
            filter_string(&[("state", "routed"), ("item", ""), ("dept", "5")]),
            filter_string(&[("dept", "5"), ("state", " routed ")]),
        );
        assert_eq!(filter_string(&[("q", "张 三")]), "q=%E5%BC%A0+%E4%B8%89");
    }

    #[test]
    fn next_link_keeps_filters_and_limit() {
        let req = PageRequest::first(10);
        assert_eq!(
            next_link("/api/v1/cases", "state=routed", &req, "abc.def"),
            "/api/v1/cases?state=routed&limit=10&cursor=abc.def"
        );
        assert_eq!(
            next_link("/api/v1/users", "", &req, "a"),
            "/api/v1/users?limit=10&cursor=a"
        );
    }
}
