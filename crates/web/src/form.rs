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

/// A JSON body whose rejection (malformed JSON, wrong types, missing fields) is answered
/// as problem+json like every other API error, naming what serde could not read.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = crate::error::ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(crate::error::ApiError(AppError::BadRequest(e.body_text()))),
        }
    }
}
