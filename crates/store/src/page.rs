//! Keyset pagination shared by every list: `limit` (default 25, at most 200), an opaque
//! signed `cursor`, and a page that says whether more follows.
//!
//! Why keyset and not `OFFSET`: a page is one index range scan starting *after* the last
//! row the caller saw, so page 1,000 costs what page 1 costs whatever the table holds, and
//! rows inserted between two requests neither repeat nor vanish (an offset shifts with
//! every insert before it).
//!
//! A cursor carries the list's name, a fingerprint of the filters it was made under, and
//! the sort key of the last row served; it is signed with the installation's secret
//! (`install_secrets`, shared by every instance). So a cursor taken from another list, or
//! reused with other filters, or made up by hand, is refused with a clear error instead
//! of silently reading from a position that means something else.

pub mod sql;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use onewindow_domain::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Rows per page when the caller does not say.
pub const DEFAULT_LIMIT: i64 = 25;
/// The most rows one request may ask for.
pub const MAX_LIMIT: i64 = 200;
/// Longest cursor accepted (a cursor we issue is far shorter): bounds the work of
/// decoding whatever a caller sends.
pub const MAX_CURSOR_LEN: usize = 512;

/// One part of a sort key: lists sort by integers (ids, times, dates as numbers) and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyPart {
    Int(i64),
    Text(String),
}

impl From<i64> for KeyPart {
    fn from(v: i64) -> Self {
        KeyPart::Int(v)
    }
}

impl From<&str> for KeyPart {
    fn from(v: &str) -> Self {
        KeyPart::Text(v.to_string())
    }
}

impl From<String> for KeyPart {
    fn from(v: String) -> Self {
        KeyPart::Text(v)
    }
}

impl KeyPart {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            KeyPart::Int(v) => Some(*v),
            KeyPart::Text(_) => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            KeyPart::Text(v) => Some(v),
            KeyPart::Int(_) => None,
        }
    }
}

/// The secret cursors are signed with. Loaded once by [`crate::Store`].
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(…)")
    }
}

impl CursorKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        CursorKey(bytes)
    }

    fn mac(&self, payload: &[u8]) -> [u8; 16] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

/// Which list a cursor belongs to and under which filters: a cursor is only valid for the
/// same `list` with the same `filters` (the canonical query string of the filters, e.g.
/// `state=routed&item=MZ-0101`; the order the caller wrote them in does not matter as long
/// as the list builds it the same way each time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListId<'a> {
    pub list: &'static str,
    pub filters: &'a str,
}

impl ListId<'_> {
    fn fingerprint(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.list.as_bytes())
            .chain_update([0u8])
            .chain_update(self.filters.as_bytes())
            .finalize();
        hex::encode(&digest[..8])
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The list's name (readable in a decoded cursor; checked against the fingerprint too).
    l: String,
    /// Fingerprint of list + filters.
    f: String,
    /// The sort key of the last row served.
    k: Vec<KeyPart>,
}

/// Why a `limit` or `cursor` was refused. Field names are the query parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("每页条数须在 1 到 {MAX_LIMIT} 之间")]
    Limit,
    #[error("翻页游标无效（可能被改动过），请从第一页重新查询")]
    Forged,
    #[error("翻页游标属于另一个列表或另一组筛选条件，请从第一页重新查询")]
    OtherList,
}

impl PageError {
    pub fn code(&self) -> &'static str {
        match self {
            PageError::Limit => "invalid_limit",
            PageError::Forged => "invalid_cursor",
            PageError::OtherList => "cursor_mismatch",
        }
    }

    pub fn field(&self) -> &'static str {
        match self {
            PageError::Limit => "limit",
            PageError::Forged | PageError::OtherList => "cursor",
        }
    }

    /// As a field error, for pages and problem+json.
    pub fn into_field_errors(self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.add(self.field(), self.code(), self.to_string());
        errors
    }
}

/// A validated request for one page: how many rows, and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    /// The sort key of the last row of the previous page; `None` for the first page.
    pub after: Option<Vec<KeyPart>>,
}

impl PageRequest {
    pub fn first(limit: i64) -> Self {
        PageRequest { limit, after: None }
    }

    /// Checks `limit` and decodes `cursor` for `list`. An empty cursor is the first page.
    pub fn parse(
        key: &CursorKey,
        list: &ListId<'_>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<PageRequest, PageError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(PageError::Limit);
        }
        let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(decode(key, list, c)?),
        };
        Ok(PageRequest { limit, after })
    }

    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The first key part of `after` as an integer (the common single-id key).
    pub fn after_int(&self, i: usize) -> Option<i64> {
        self.after
            .as_ref()
            .and_then(|k| k.get(i))
            .and_then(KeyPart::as_int)
    }

    pub fn after_text(&self, i: usize) -> Option<&str> {
        self.after
            .as_ref()
            .and_then(|k| k.get(i))
            .and_then(KeyPart::as_text)
    }
}

/// One page of a list, with the cursor for the next page if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts `rows` (fetched with [`PageRequest::fetch`]) to the page and makes the next
    /// cursor from the last row kept, by `sort_key`.
    pub fn from_rows(
        key: &CursorKey,
        list: &ListId<'_>,
        req: &PageRequest,
        mut rows: Vec<T>,
        sort_key: impl Fn(&T) -> Vec<KeyPart>,
    ) -> Page<T> {
        let limit = usize::try_from(req.limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match (more, rows.last()) {
            (true, Some(last)) => Some(encode(key, list, sort_key(last))),
            _ => None,
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// `payload.mac`, both base64url without padding.
pub fn encode(key: &CursorKey, list: &ListId<'_>, sort_key: Vec<KeyPart>) -> String {
    let payload = Payload {
        l: list.list.to_string(),
        f: list.fingerprint(),
        k: sort_key,
    };
    let json = serde_json::to_vec(&payload).expect("cursor payload serialises");
    let mac = key.mac(&json);
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&json),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

fn decode(key: &CursorKey, list: &ListId<'_>, cursor: &str) -> Result<Vec<KeyPart>, PageError> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(PageError::Forged);
    }
    let (body, mac) = cursor.split_once('.').ok_or(PageError::Forged)?;
    let json = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| PageError::Forged)?;
    let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| PageError::Forged)?;
    if mac.len() != 16 {
        return Err(PageError::Forged);
    }
    // Constant-time comparison through the MAC itself.
    let mut check = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes any key length");
    check.update(&json);
    check
        .verify_truncated_left(&mac)
        .map_err(|_| PageError::Forged)?;
    let payload: Payload = serde_json::from_slice(&json).map_err(|_| PageError::Forged)?;
    if payload.l != list.list || payload.f != list.fingerprint() {
        return Err(PageError::OtherList);
    }
    Ok(payload.k)
}

/// Reads the installation's cursor secret, creating it on first use. Every instance over
/// the same database reads the same secret, so a cursor from one is valid on another.
pub(crate) async fn load_key(conn: &mut sqlx::AnyConnection) -> crate::Result<CursorKey> {
    use rand::RngCore;
    use sqlx::Row;
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    sqlx::query(
        "INSERT INTO install_secrets (name, value) VALUES ('cursor', $1) ON CONFLICT (name) DO NOTHING",
    )
    .bind(hex::encode(fresh))
    .execute(&mut *conn)
    .await?;
    let stored: String = sqlx::query("SELECT value FROM install_secrets WHERE name = 'cursor'")
        .fetch_one(&mut *conn)
        .await?
        .get("value");
    let bytes = hex::decode(stored.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            crate::StoreError::Config("install_secrets.cursor is not 32 hex bytes".into())
        })?;
    Ok(CursorKey::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> CursorKey {
        CursorKey::new([b; 32])
    }

    const CASES: ListId<'static> = ListId {
        list: "cases",
        filters: "state=routed",
    };

    #[test]
    fn a_cursor_round_trips_for_its_own_list() {
        let c = encode(&key(1), &CASES, vec![KeyPart::Int(42), "x".into()]);
        let req = PageRequest::parse(&key(1), &CASES, Some(25), Some(&c)).unwrap();
        assert_eq!(req.after_int(0), Some(42));
        assert_eq!(req.after_text(1), Some("x"));
    }

    #[test]
    fn another_list_or_other_filters_are_refused() {
        let c = encode(&key(1), &CASES, vec![KeyPart::Int(42)]);
        let users = ListId {
            list: "users",
            filters: "state=routed",
        };
        assert_eq!(
            PageRequest::parse(&key(1), &users, None, Some(&c)),
            Err(PageError::OtherList)
        );
        let other_filter = ListId {
            list: "cases",
            filters: "state=issued",
        };
        assert_eq!(
            PageRequest::parse(&key(1), &other_filter, None, Some(&c)),
            Err(PageError::OtherList)
        );
    }

    #[test]
    fn forged_cursors_are_refused() {
        let c = encode(&key(1), &CASES, vec![KeyPart::Int(42)]);
        // Another installation's secret.
        assert_eq!(
            PageRequest::parse(&key(2), &CASES, None, Some(&c)),
            Err(PageError::Forged)
        );
        // An edited payload with the old signature.
        let (_, mac) = c.split_once('.').unwrap();
        let edited = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Payload {
                l: "cases".into(),
                f: CASES.fingerprint(),
                k: vec![KeyPart::Int(1)],
            })
            .unwrap(),
        );
        let forged = format!("{edited}.{mac}");
        for bad in [forged.as_str(), "garbage", "a.b", ".", &"x".repeat(600)] {
            assert_eq!(
                PageRequest::parse(&key(1), &CASES, None, Some(bad)),
                Err(PageError::Forged),
                "{bad}"
            );
        }
    }

    #[test]
    fn limits_are_bounded() {
        for bad in [0, -1, MAX_LIMIT + 1] {
            assert_eq!(
                PageRequest::parse(&key(1), &CASES, Some(bad), None),
                Err(PageError::Limit)
            );
        }
        let req = PageRequest::parse(&key(1), &CASES, None, Some("  ")).unwrap();
        assert_eq!(req, PageRequest::first(DEFAULT_LIMIT));
    }

    #[test]
    fn a_page_knows_whether_more_follows() {
        let req = PageRequest::first(2);
        let page = Page::from_rows(&key(1), &CASES, &req, vec![5, 4, 3], |r| {
            vec![KeyPart::Int(*r)]
        });
        assert_eq!(page.items, vec![5, 4]);
        let next = page.next_cursor.expect("a third row exists");
        let req = PageRequest::parse(&key(1), &CASES, Some(2), Some(&next)).unwrap();
        assert_eq!(req.after_int(0), Some(4));
        let last = Page::from_rows(&key(1), &CASES, &req, vec![3], |r| vec![KeyPart::Int(*r)]);
        assert_eq!(last.next_cursor, None);
    }
}
