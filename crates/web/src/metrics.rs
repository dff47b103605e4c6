//! Prometheus metrics: request count and latency histogram per method, route and status.
//! Every label comes from a closed set — the standard methods (others are `other`),
//! axum's matched route patterns (`/api/v1/users/{id}`; no match is `unmatched`) and
//! the status code — so no request can add series of its own choosing.
//!
//! `/metrics` itself answers only to the configured bearer token, or, with none
//! configured, only to loopback clients (a scraper on the same host or a tunnel).

use crate::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_secs: f64,
    /// Cumulative counts per bucket, as Prometheus expects.
    buckets: [u64; BUCKETS.len()],
}

#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mut map = self.series.lock().expect("metrics lock");
        let s = map
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        s.count += 1;
        s.sum_secs += secs;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let map = self.series.lock().expect("metrics lock").clone();
        let mut out = String::new();
        out.push_str(
            "# HELP onewindow_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE onewindow_http_requests_total counter\n");
        for ((m, r, st), s) in &map {
            let _ = writeln!(
                out,
                "onewindow_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{st}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP onewindow_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE onewindow_http_request_duration_seconds histogram\n");
        for ((m, r, st), s) in &map {
            let labels = format!("method=\"{m}\",route=\"{r}\",status=\"{st}\"");
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "onewindow_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "onewindow_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "onewindow_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_secs
            );
            let _ = writeln!(
                out,
                "onewindow_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

/// The method label: one of the standard methods, else `other` (an extension method of
/// any length would otherwise become a permanent series).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    // The route pattern, never the path itself: `/static/…` and unknown paths would
    // otherwise grow the label set with every URL a scanner tries.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let res = next.run(req).await;
    state.metrics.observe(
        method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether this caller may read `/metrics`: the bearer token when one is configured
/// (from anywhere), else a loopback peer. Behind a reverse proxy on the same host every
/// peer is loopback, so such deployments set a token.
pub fn may_scrape(token: Option<&str>, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    match token {
        Some(expected) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), expected.as_bytes())),
        None => peer.is_some_and(|p| p.ip().is_loopback()),
    }
}

/// `GET /metrics`: the text exposition, or 403 to anyone else (an operator whose scraper
/// is refused should see why, not wonder whether the endpoint exists).
pub async fn scrape(State(state): State<AppState>, parts: axum::http::request::Parts) -> Response {
    // Absent when the router is served without connect info: then nobody is loopback.
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a);
    if !may_scrape(state.config.metrics_token.as_deref(), &parts.headers, peer) {
        let why = if state.config.metrics_token.is_some() {
            "metrics: send Authorization: Bearer <--metrics-token>\n"
        } else {
            "metrics: loopback clients only (or set --metrics-token)\n"
        };
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("GET", "/healthz", 200, 0.003);
        m.observe("GET", "/healthz", 200, 0.2);
        let text = m.render();
        assert!(text.contains(
            "onewindow_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains("route=\"/healthz\",status=\"200\",le=\"0.005\"} 1"));
        assert!(text.contains("route=\"/healthz\",status=\"200\",le=\"0.25\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes("X".repeat(8000).as_bytes()).unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&Method::CONNECT), "other");
    }

    #[test]
    fn scraping_needs_the_token_or_loopback() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "10.0.0.7:5000".parse().unwrap();
        let none = HeaderMap::new();
        assert!(may_scrape(None, &none, Some(local)));
        assert!(may_scrape(None, &none, Some("[::1]:1".parse().unwrap())));
        assert!(!may_scrape(None, &none, Some(remote)));
        assert!(!may_scrape(None, &none, None));
        let mut with = HeaderMap::new();
        with.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(may_scrape(Some("s3cret"), &with, Some(remote)));
        assert!(
            !may_scrape(Some("s3cret"), &none, Some(local)),
            "a token binds loopback too"
        );
        assert!(!may_scrape(Some("other"), &with, Some(local)));
    }
}
