//! Form bodies as name/value pairs, so repeated fields (role checkboxes) survive parsing.

use crate::error::AppError;
use axum::extract::{FromRequest, Request};

/// A parsed `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        FormData(form_urlencoded_pairs(body).into_iter().collect())
    }

    /// The first value of `name`, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Whether `name` was sent at all (even empty): how repeated rows are counted.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "1" | "on" | "true")
    }

    /// Parses an integer field, naming the field when it is not one.
    pub fn int(&self, name: &str, label: &str) -> Result<i64, AppError> {
        self.get(name)
            .trim()
            .parse()
            .map_err(|_| AppError::invalid(name, "not_a_number", format!("{label}无效")))
    }
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = crate::error::PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(e.to_string()))?;
        Ok(FormData::parse(&bytes))
    }
}

/// A JSON body whose rejection is answered as problem+json like every other API error:
/// not JSON at all (no `application/json` content type) → 415 `unsupported_media_type`;
/// malformed JSON → 400 `bad_request`; well-formed but the wrong shape (a missing field,
/// a wrong type, an unknown enum value) → 422 `validation_failed` naming the field by its
/// JSON path, so a client learns which field to fix, as with any other field error.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    // HTTP-level refusals (415, 413) are answered plainly and made problem+json by
    // `error::api_problems`, like every other rejection.
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_content_type);
        if !json {
            return Err((
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`",
            )
                .into_response());
        }
        let limit = req.extensions().get::<crate::limits::BodyLimit>().copied();
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            // A chunked body cut off by `limits::body_limit`: 413 like a declared one.
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(crate::error::ApiError(AppError::PayloadTooLarge {
                    limit: limit.map_or(0, |l| l.0),
                })
                .into_response())
            }
            Err(e) => return Err(e.into_response()),
        };
        json_body(&bytes)
            .map(ApiJson)
            .map_err(|e| crate::error::ApiError(e).into_response())
    }
}

/// `application/json` or any `application/…+json`, parameters (charset) ignored — what
/// axum's `Json` accepts.
fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body, telling malformed JSON (400) from a body of the wrong shape (422,
/// with the failing field).
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if !inner.is_data() {
            return AppError::BadRequest(format!("JSON 格式有误：{inner}"));
        }
        let text = inner.to_string();
        let path = e.path().to_string();
        // serde reports a missing field at its parent: name the field itself.
        let field = match text.strip_prefix("missing field `") {
            None if path == "." => tag_field(bytes, &text).unwrap_or(path),
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or_default();
                if path == "." {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                }
            }
            None => path,
        };
        let (code, message) = if text.starts_with("missing field") {
            ("required", format!("缺少字段 {field}"))
        } else {
            (
                "invalid",
                format!("字段 {field} 的值无效：{}", in_words(&text)),
            )
        };
        AppError::invalid(&field, code, message)
    })?;
    // Trailing bytes after the value are malformed JSON, not a shape error.
    de.end()
        .map_err(|e| AppError::BadRequest(format!("JSON 格式有误：{e}")))?;
    Ok(value)
}

/// serde's reason in the product's words: an unknown choice with the choices, or the kind
/// of value expected; anything else as serde put it.
fn in_words(text: &str) -> String {
    // serde_json appends the position; the field is named already.
    let text = match text.rfind(" at line ") {
        Some(i) if text[i..].contains(" column ") => &text[..i],
        _ => text,
    };
    let kind = |expected: &str| -> Option<&'static str> {
        let e = expected.trim();
        Some(match e {
            "u8" | "u16" | "u32" | "u64" | "usize" => "非负整数",
            "i8" | "i16" | "i32" | "i64" | "isize" => "整数",
            "f32" | "f64" => "数字",
            "a string" | "a borrowed string" => "文字",
            "a boolean" => "true或false",
            "a sequence" => "数组",
            _ if e.starts_with("struct ") || e == "a map" => "对象",
            _ => return None,
        })
    };
    let ticks = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    if let Some(rest) = text.strip_prefix("unknown variant `") {
        let given = rest.split('`').next().unwrap_or_default();
        let choices = ticks(rest.split_once("expected").map_or("", |(_, e)| e));
        return if choices.is_empty() {
            format!("未知的取值“{given}”")
        } else {
            format!("未知的取值“{given}”，可选：{}", choices.join("、"))
        };
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if let Some(k) = rest.rsplit_once(", expected ").and_then(|(_, e)| kind(e)) {
                return format!("应为{k}");
            }
        }
    }
    text.to_string()
}

/// The field an internally tagged enum's unknown tag came in (serde reports it at the
/// object, as `unknown variant `fly``): the top-level key whose string value is that name,
/// e.g. `action` of a case action.
fn tag_field(bytes: &[u8], text: &str) -> Option<String> {
    let name = text.strip_prefix("unknown variant `")?.split('`').next()?;
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    value
        .as_object()?
        .iter()
        .find(|(_, v)| v.as_str() == Some(name))
        .map(|(k, _)| k.clone())
}

/// Largest multipart body accepted (a catalog export of a whole city is well under this).
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;

/// One field of a multipart body as text, read from the buffered bytes.
pub async fn multipart_field(
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
    name: &str,
) -> Option<String> {
    let mut parts = multipart_parts(headers, body).await.ok()?;
    parts
        .remove(name)
        .map(|p| String::from_utf8_lossy(&p.bytes).into_owned())
}

/// One part of a multipart body: its bytes and, for a file, the file's name.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub file_name: Option<String>,
    pub bytes: axum::body::Bytes,
}

/// Every part of a buffered multipart body by field name (the first of repeated names).
///
/// Parsed with `multer` over bytes already read (and bounded by `MAX_UPLOAD_BYTES`) by
/// the caller, so no second size limit applies here.
pub async fn multipart_parts(
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<std::collections::HashMap<String, Part>, AppError> {
    let bad = || AppError::BadRequest("上传内容无法读取".into());
    let boundary = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(bad)?;
    let stream = tokio_stream::once(Ok::<_, std::convert::Infallible>(body));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = std::collections::HashMap::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|_| bad())?;
        parts.entry(name).or_insert(Part { file_name, bytes });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        count: u32,
        unit: Unit,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Unit {
        Hours,
        CalendarDays,
    }

    fn message(body: &str) -> String {
        match json_body::<Shape>(body.as_bytes()) {
            Err(AppError::Invalid(f)) => format!("{}: {}", f.0[0].field, f.0[0].message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_wrong_value_is_told_in_words_naming_the_field() {
        assert_eq!(
            message(r#"{"count": 1, "unit": "fortnights"}"#),
            "unit: 字段 unit 的值无效：未知的取值“fortnights”，可选：hours、calendar_days"
        );
        assert_eq!(
            message(r#"{"count": -1, "unit": "hours"}"#),
            "count: 字段 count 的值无效：应为非负整数"
        );
        assert_eq!(
            message(r#"{"count": "many", "unit": "hours"}"#),
            "count: 字段 count 的值无效：应为非负整数"
        );
        assert_eq!(message(r#"{"unit": "hours"}"#), "count: 缺少字段 count");
    }
}
