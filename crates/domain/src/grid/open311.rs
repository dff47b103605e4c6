//! Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2), pure: the documents the API
//! answers with, rendered as XML (the spec's required format) or JSON (its Spark-convention
//! mapping) from the same structs, and the parameters it takes, parsed and checked. The web
//! crate routes `/open311/v2/…`, checks the API key, and reads and writes through the store.
//!
//! What the spec says and this module keeps:
//! - XML: `<?xml version="1.0" encoding="utf-8"?>`, no namespace, the spec's element names;
//!   an absent optional value is an empty element (`<agency_responsible></agency_responsible>`),
//!   as in the spec's examples.
//! - JSON: a list root (`services`, `service_requests`, `errors`) is a JSON array of its
//!   items; `service_definition` and `discovery` are objects; an absent value is `null`.
//!   Identifiers (`service_code`, `service_request_id`, keys) are strings — the spec's
//!   `"service_code":001` is not valid JSON, and codes are names, not numbers.
//! - Date-times: ISO 8601 per the W3C note with the offset; ours are written in Beijing
//!   time, `+08:00` ([`iso8601_beijing`]). Incoming ones may carry any offset
//!   ([`parse_datetime`]).
//! - `GET requests`: `service_request_id` (a comma list) overrides every other filter;
//!   `service_code` and `status` may be comma lists and repeated; `start_date`/`end_date`
//!   default to the most recent 90 days and may not span more; at most 1000 requests.
//! - Errors: `<errors><error><code>…</code><description>…</description></error></errors>`,
//!   in JSON an array of `{code, description}`; HTTP 404 for what does not exist, 403 for a
//!   missing or wrong `api_key`, 400 otherwise.
//! - The `servicerequestupdates` extension (mySociety's, spoken by FixMyStreet):
//!   `service_request_updates` of `request_update` (`update_id`, `service_request_id`,
//!   `status`, `updated_datetime`, `description`, `media_url`), and the POST answer with
//!   the new `update_id`.

use super::{Attribute, Category, Open311Status};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde_json::{Map, Value};

/// The specification token of the discovery document.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// The most requests one `GET requests` answers, and the longest span of its dates.
pub const MAX_REQUESTS: usize = 1000;
pub const MAX_SPAN_SECS: i64 = 90 * 86_400;
/// The spec's limit of a request's description.
pub const DESCRIPTION_MAX_CHARS: usize = 4000;
const BEIJING: i32 = 8 * 3600;

/// The answer's format, chosen by the resource's extension (`services.xml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// `requests.json` → (`requests`, JSON); no or another extension → `None`.
    pub fn split(resource: &str) -> Option<(&str, Format)> {
        let (stem, ext) = resource.rsplit_once('.')?;
        let f = match ext {
            "xml" => Format::Xml,
            "json" => Format::Json,
            _ => return None,
        };
        (!stem.is_empty()).then_some((stem, f))
    }

    /// The spec's content types.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "text/xml; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
        }
    }
}

/// A document as both formats see it.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Text, or absent (`None`: empty element, JSON null).
    Text(Option<String>),
    Bool(bool),
    /// A number written as is (`37.76`, `1`).
    Number(String),
    Obj(Vec<(&'static str, Node)>),
    /// Repeated elements named `item` inside the parent; a JSON array.
    List(&'static str, Vec<Node>),
}

fn text(s: &str) -> Node {
    Node::Text(Some(s.to_string()))
}

fn opt(s: &Option<String>) -> Node {
    Node::Text(s.clone().filter(|s| !s.is_empty()))
}

fn float(f: f64) -> Node {
    Node::Number(format!("{f}"))
}

/// Escapes text for XML content: `&`, `<`, `>` and both quotes; characters XML 1.0 cannot
/// hold (controls other than tab and line breaks) are dropped rather than written broken.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            c => out.push(c),
        }
    }
    out
}

fn write_xml(out: &mut String, name: &str, node: &Node) {
    match node {
        Node::List(item, items) => {
            out.push_str(&format!("<{name}>"));
            for i in items {
                write_xml(out, item, i);
            }
            out.push_str(&format!("</{name}>"));
        }
        Node::Obj(fields) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in fields {
                write_xml(out, k, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Node::Text(t) => {
            let t = t.as_deref().map(xml_escape).unwrap_or_default();
            out.push_str(&format!("<{name}>{t}</{name}>"));
        }
        Node::Bool(b) => out.push_str(&format!("<{name}>{b}</{name}>")),
        Node::Number(n) => out.push_str(&format!("<{name}>{n}</{name}>")),
    }
}

fn to_json(node: &Node) -> Value {
    match node {
        Node::Text(None) => Value::Null,
        Node::Text(Some(s)) => Value::String(s.clone()),
        Node::Bool(b) => Value::Bool(*b),
        Node::Number(n) => n
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Node::List(_, items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Obj(fields) => {
            let mut m = Map::new();
            for (k, v) in fields {
                m.insert((*k).to_string(), to_json(v));
            }
            Value::Object(m)
        }
    }
}

fn render(format: Format, root: &str, node: &Node) -> String {
    match format {
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            write_xml(&mut out, root, node);
            out.push('\n');
            out
        }
        Format::Json => to_json(node).to_string(),
    }
}

/// `2024-05-01T08:30:00+08:00`: a UTC instant (seconds) in Beijing time, as every date-time
/// we answer with.
pub fn iso8601_beijing(unix_secs: i64) -> String {
    let tz = FixedOffset::east_opt(BEIJING).expect("+08:00 is a valid offset");
    match tz.timestamp_opt(unix_secs, 0).single() {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        None => String::new(),
    }
}

/// A parameter that could not be taken as given: which one, and why (Chinese, shown to the
/// client's user as the error's description).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("参数{param}：{message}")]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

impl ParamError {
    fn new(param: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            param: param.to_string(),
            message: message.into(),
        }
    }
    pub fn field(&self) -> &str {
        &self.param
    }
    /// As the spec's error (400: the request cannot be fulfilled as asked).
    pub fn to_error(&self) -> Open311Error {
        Open311Error::new(400, self.to_string())
    }
}

/// A W3C date-time with its offset (`Z` or `±hh:mm`), seconds and fractions optional, as
/// UTC seconds. A space where the offset's `+` stood is taken as `+`: an unencoded `+` in
/// a query string arrives as a space. No offset, a date alone, or anything else: an error
/// naming `param`.
pub fn parse_datetime(param: &str, value: &str) -> Result<i64, ParamError> {
    let bad = || {
        ParamError::new(
            param,
            format!("“{value}”不是带时区的ISO 8601日期时间（例如2024-05-01T08:30:00+08:00或2024-05-01T00:30:00Z）"),
        )
    };
    let v = value.trim();
    let mut s = v.to_string();
    if s.ends_with('Z') || s.ends_with('z') {
        s.truncate(s.len() - 1);
        s.push_str("+00:00");
    }
    // `…T08:30:00 08:00`: the `+` decoded to a space.
    if s.len() > 6 && s.as_bytes()[s.len() - 6] == b' ' {
        s.replace_range(s.len() - 6..s.len() - 5, "+");
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(t) = DateTime::parse_from_str(&s, f) {
            return Ok(t.with_timezone(&Utc).timestamp());
        }
    }
    Err(bad())
}

/// One error of the spec's error list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open311Error {
    /// Usually the HTTP status (403, 404, 400).
    pub code: u16,
    pub description: String,
}

impl Open311Error {
    pub fn new(code: u16, description: impl Into<String>) -> Open311Error {
        Open311Error {
            code,
            description: description.into(),
        }
    }
    /// 403: "Missing or Invalid API Key".
    pub fn api_key() -> Open311Error {
        Open311Error::new(
            403,
            "缺少或无效的api_key，无法提交（Missing or invalid api_key）",
        )
    }
    pub fn unknown_service(code: &str) -> Open311Error {
        Open311Error::new(
            404,
            format!("没有编码为“{code}”的服务（service_code not found）"),
        )
    }
    pub fn unknown_request(id: &str) -> Open311Error {
        Open311Error::new(
            404,
            format!("没有编号为“{id}”的服务请求（service_request_id not found）"),
        )
    }
}

/// The HTTP status for a list of errors: the first error's code when it is 403 or 404,
/// else 400 ("basically 400 for any other error").
pub fn http_status(errors: &[Open311Error]) -> u16 {
    errors
        .first()
        .map(|e| e.code)
        .filter(|c| matches!(c, 403 | 404))
        .unwrap_or(400)
}

/// `<errors>…</errors>` / `[{"code":…,"description":…}]`.
pub fn render_errors(format: Format, errors: &[Open311Error]) -> String {
    let items = errors
        .iter()
        .map(|e| {
            Node::Obj(vec![
                ("code", Node::Number(e.code.to_string())),
                ("description", text(&e.description)),
            ])
        })
        .collect();
    render(format, "errors", &Node::List("error", items))
}

/// One endpoint of the discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub changeset: String,
    /// `production` or `test`.
    pub production: bool,
}

/// The service discovery document (`discovery.xml`/`.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Sortable: when the services or their definitions last changed.
    pub changeset: String,
    pub contact: String,
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

pub fn render_discovery(format: Format, d: &Discovery) -> String {
    let endpoints = d
        .endpoints
        .iter()
        .map(|e| {
            Node::Obj(vec![
                ("specification", text(SPECIFICATION)),
                ("url", text(&e.url)),
                ("changeset", text(&e.changeset)),
                (
                    "type",
                    text(if e.production { "production" } else { "test" }),
                ),
                (
                    "formats",
                    Node::List("format", vec![text("text/xml"), text("application/json")]),
                ),
            ])
        })
        .collect();
    let node = Node::Obj(vec![
        ("changeset", text(&d.changeset)),
        ("contact", text(&d.contact)),
        ("key_service", text(&d.key_service)),
        ("endpoints", Node::List("endpoint", endpoints)),
    ]);
    render(format, "discovery", &node)
}

fn service_node(c: &Category) -> Node {
    Node::Obj(vec![
        ("service_code", text(&c.code)),
        ("service_name", text(&c.name)),
        ("description", opt(&Some(c.help.clone()))),
        // true: the client must read the definition before posting.
        ("metadata", Node::Bool(!c.attributes.is_empty())),
        // Every request gets its id at once.
        ("type", text("realtime")),
        ("keywords", opt(&Some(c.keywords.clone()))),
        ("group", opt(&Some(c.group.clone()))),
    ])
}

/// `GET services`: the categories as services.
pub fn render_services(format: Format, categories: &[Category]) -> String {
    let items = categories.iter().map(service_node).collect();
    render(format, "services", &Node::List("service", items))
}

fn attribute_node(a: &Attribute) -> Node {
    let values = a
        .values
        .iter()
        .map(|v| Node::Obj(vec![("key", text(&v.key)), ("name", text(&v.name))]))
        .collect();
    Node::Obj(vec![
        ("variable", Node::Bool(a.variable)),
        ("code", text(&a.code)),
        ("datatype", text(a.datatype.as_str())),
        ("required", Node::Bool(a.required)),
        (
            "datatype_description",
            opt(&Some(a.datatype_description.clone())),
        ),
        ("order", Node::Number(a.order.to_string())),
        ("description", text(&a.description)),
        ("values", Node::List("value", values)),
    ])
}

/// `GET services/{code}`: the category's extra fields as attributes, in their order.
pub fn render_service_definition(format: Format, c: &Category) -> String {
    let attrs = c
        .ordered_attributes()
        .into_iter()
        .map(attribute_node)
        .collect();
    let node = Node::Obj(vec![
        ("service_code", text(&c.code)),
        ("attributes", Node::List("attribute", attrs)),
    ]);
    render(format, "service_definition", &node)
}

/// A service request as `GET requests` shows it. Times in UTC seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequest {
    pub service_request_id: String,
    pub status: Open311Status,
    /// Our richer words (e.g. 处置中), and why it was closed.
    pub status_notes: Option<String>,
    pub service_name: String,
    pub service_code: String,
    pub description: Option<String>,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub requested_at: i64,
    pub updated_at: i64,
    /// The close limit's due time.
    pub expected_at: Option<i64>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    /// WGS84.
    pub lat: Option<f64>,
    pub long: Option<f64>,
    /// The public (GPS-free) copy of the first photo.
    pub media_url: Option<String>,
}

fn request_node(r: &ServiceRequest) -> Node {
    let num = |v: Option<f64>| v.map(float).unwrap_or(Node::Text(None));
    Node::Obj(vec![
        ("service_request_id", text(&r.service_request_id)),
        ("status", text(r.status.as_str())),
        ("status_notes", opt(&r.status_notes)),
        ("service_name", text(&r.service_name)),
        ("service_code", text(&r.service_code)),
        ("description", opt(&r.description)),
        ("agency_responsible", opt(&r.agency_responsible)),
        ("service_notice", opt(&r.service_notice)),
        ("requested_datetime", text(&iso8601_beijing(r.requested_at))),
        ("updated_datetime", text(&iso8601_beijing(r.updated_at))),
        (
            "expected_datetime",
            Node::Text(r.expected_at.map(iso8601_beijing)),
        ),
        ("address", opt(&r.address)),
        ("address_id", opt(&r.address_id)),
        ("zipcode", opt(&r.zipcode)),
        ("lat", num(r.lat)),
        ("long", num(r.long)),
        ("media_url", opt(&r.media_url)),
    ])
}

/// `GET requests` and `GET requests/{id}` (the latter a list of one, as the spec has it).
pub fn render_requests(format: Format, requests: &[ServiceRequest]) -> String {
    let items = requests.iter().map(request_node).collect();
    render(format, "service_requests", &Node::List("request", items))
}

/// What `POST requests` created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// `realtime`: the id at once (ours always are).
    Id(String),
    /// `batch`: a token to ask for the id later.
    Token(String),
}

/// The `POST requests` answer: the id (or token — never both, as the spec says), and the
/// notice of what will happen (e.g. the close limit).
pub fn render_created(
    format: Format,
    created: &Created,
    service_notice: Option<&str>,
    account_id: Option<&str>,
) -> String {
    let mut fields = match created {
        Created::Id(id) => vec![("service_request_id", text(id))],
        Created::Token(t) => vec![("token", text(t))],
    };
    fields.push((
        "service_notice",
        Node::Text(service_notice.map(String::from)),
    ));
    fields.push(("account_id", Node::Text(account_id.map(String::from))));
    render(
        format,
        "service_requests",
        &Node::List("request", vec![Node::Obj(fields)]),
    )
}

/// One status change, as the `servicerequestupdates` extension lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUpdate {
    pub update_id: String,
    pub service_request_id: String,
    pub status: Open311Status,
    pub updated_at: i64,
    pub description: Option<String>,
    pub media_url: Option<String>,
}

/// `GET servicerequestupdates`.
pub fn render_updates(format: Format, updates: &[RequestUpdate]) -> String {
    let items = updates
        .iter()
        .map(|u| {
            Node::Obj(vec![
                ("update_id", text(&u.update_id)),
                ("service_request_id", text(&u.service_request_id)),
                ("status", text(u.status.as_str())),
                ("updated_datetime", text(&iso8601_beijing(u.updated_at))),
                ("description", opt(&u.description)),
                ("media_url", opt(&u.media_url)),
            ])
        })
        .collect();
    render(
        format,
        "service_request_updates",
        &Node::List("request_update", items),
    )
}

/// `POST servicerequestupdates`: the id given to the update.
pub fn render_update_created(format: Format, update_id: &str) -> String {
    render(
        format,
        "service_request_updates",
        &Node::List(
            "request_update",
            vec![Node::Obj(vec![("update_id", text(update_id))])],
        ),
    )
}

/// Query or form parameters as they came, in order (a name may repeat).
pub type Params = [(String, String)];

/// The values of `name`: every occurrence, each split at commas, trimmed, empty ones
/// dropped ("a null parameter should be treated as equivalent to a non-declared one").
fn list(params: &Params, name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

/// The last non-empty value of `name`.
fn single<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

/// The filters of `GET requests`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestFilter {
    /// When given, every other filter is ignored (the spec: "This overrides all other
    /// arguments").
    pub ids: Vec<String>,
    pub service_codes: Vec<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Empty: both.
    pub statuses: Vec<Open311Status>,
}

impl RequestFilter {
    /// Parses and checks the query: known statuses, dates with offsets, start not after end,
    /// a span of at most 90 days, at most [`MAX_REQUESTS`] ids. Every problem is returned.
    pub fn parse(params: &Params) -> Result<RequestFilter, Vec<ParamError>> {
        let mut errors = vec![];
        let ids = list(params, "service_request_id");
        if !ids.is_empty() {
            if ids.len() > MAX_REQUESTS {
                errors.push(ParamError::new(
                    "service_request_id",
                    format!("一次最多查询{MAX_REQUESTS}个编号"),
                ));
            }
            return match errors.is_empty() {
                true => Ok(RequestFilter {
                    ids,
                    ..RequestFilter::default()
                }),
                false => Err(errors),
            };
        }
        let mut statuses = vec![];
        for s in list(params, "status") {
            match super::Open311Status::parse(&s.to_ascii_lowercase()) {
                Some(st) if !statuses.contains(&st) => statuses.push(st),
                Some(_) => {}
                None => errors.push(ParamError::new(
                    "status",
                    format!("“{s}”不是有效的状态，只能是open或closed"),
                )),
            }
        }
        let mut date = |name: &str| match single(params, name) {
            None => None,
            Some(v) => match parse_datetime(name, v) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        let start = date("start_date");
        let end = date("end_date");
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                errors.push(ParamError::new("start_date", "开始时间不能晚于结束时间"));
            } else if e - s > MAX_SPAN_SECS {
                errors.push(ParamError::new("end_date", "查询时间范围不能超过90天"));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RequestFilter {
            ids,
            service_codes: list(params, "service_code"),
            start,
            end,
            statuses,
        })
    }

    /// The requested-time window to search, `[from, to]` in UTC seconds: the dates given,
    /// or 90 days before the end given / after the start given, or the most recent 90 days.
    /// `None` when ids were asked for (no window applies).
    pub fn window(&self, now: i64) -> Option<(i64, i64)> {
        if !self.ids.is_empty() {
            return None;
        }
        Some(match (self.start, self.end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, (s + MAX_SPAN_SECS).min(now.max(s))),
            (None, Some(e)) => (e - MAX_SPAN_SECS, e),
            (None, None) => (now - MAX_SPAN_SECS, now),
        })
    }
}

/// Where a posted request is: "One of lat & long or address_string or address_id".
#[derive(Debug, Clone, PartialEq)]
pub struct PostedLocation {
    /// WGS84 (lon, lat).
    pub point: Option<(f64, f64)>,
    pub address_string: Option<String>,
    pub address_id: Option<String>,
}

/// A `POST requests` form, parsed; the attributes still to be checked against the
/// category with [`super::validate_attributes`].
#[derive(Debug, Clone, PartialEq)]
pub struct PostedRequest {
    pub service_code: String,
    pub location: PostedLocation,
    /// `attribute[code]=v` and `attribute[code][]=v`, as (code, value) pairs.
    pub attributes: Vec<(String, String)>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub media_url: Option<String>,
}

fn coordinate(params: &Params, name: &str, range: f64) -> Result<Option<f64>, ParamError> {
    match single(params, name) {
        None => Ok(None),
        Some(v) => match v.parse::<f64>() {
            Ok(f) if f.is_finite() && f.abs() <= range => Ok(Some(f)),
            _ => Err(ParamError::new(
                name,
                format!("“{v}”不是有效的WGS84坐标（-{range}至{range}）"),
            )),
        },
    }
}

/// Parses `POST requests`: `service_code` required; a location (`lat` and `long` both, or
/// `address_string`, or `address_id`); coordinates in range; the description within 4,000
/// characters; attributes collected by code. Every problem is returned.
pub fn parse_post_request(params: &Params) -> Result<PostedRequest, Vec<ParamError>> {
    let mut errors = vec![];
    let service_code = single(params, "service_code")
        .unwrap_or_default()
        .to_string();
    if service_code.is_empty() {
        errors.push(ParamError::new("service_code", "请提供service_code"));
    }
    let lat = coordinate(params, "lat", 90.0)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let long = coordinate(params, "long", 180.0)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let owned = |n: &str| single(params, n).map(String::from);
    let point = match (lat, long) {
        (Some(la), Some(lo)) => Some((lo, la)),
        // The other one missing (not merely invalid: that was said already).
        (Some(_), None) if single(params, "long").is_none() => {
            errors.push(ParamError::new("long", "lat和long须同时提供"));
            None
        }
        (None, Some(_)) if single(params, "lat").is_none() => {
            errors.push(ParamError::new("lat", "lat和long须同时提供"));
            None
        }
        (Some(_), None) | (None, Some(_)) => None,
        (None, None) => None,
    };
    let location = PostedLocation {
        point,
        address_string: owned("address_string"),
        address_id: owned("address_id"),
    };
    let has_coordinates_param = single(params, "lat").is_some() || single(params, "long").is_some();
    if location.point.is_none()
        && location.address_string.is_none()
        && location.address_id.is_none()
        && !has_coordinates_param
    {
        errors.push(ParamError::new(
            "lat",
            "请提供位置：lat和long，或address_string，或address_id",
        ));
    }
    let description = owned("description");
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > DESCRIPTION_MAX_CHARS)
    {
        errors.push(ParamError::new(
            "description",
            format!("描述不能超过{DESCRIPTION_MAX_CHARS}个字"),
        ));
    }
    let mut attributes = vec![];
    for (k, v) in params {
        if let Some(rest) = k.strip_prefix("attribute[") {
            let code = rest
                .strip_suffix("][]")
                .or_else(|| rest.strip_suffix(']'))
                .filter(|c| !c.is_empty() && !c.contains(['[', ']']));
            match code {
                Some(c) => attributes.push((c.to_string(), v.clone())),
                None => errors.push(ParamError::new(k, "附加字段须写作attribute[编码]")),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PostedRequest {
        service_code,
        location,
        attributes,
        description,
        email: owned("email"),
        device_id: owned("device_id"),
        account_id: owned("account_id"),
        first_name: owned("first_name"),
        last_name: owned("last_name"),
        phone: owned("phone"),
        media_url: owned("media_url"),
    })
}

/// A `POST servicerequestupdates` form, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedUpdate {
    pub service_request_id: String,
    /// The client's own id of the update, if it sent one.
    pub update_id: Option<String>,
    pub status: Open311Status,
    pub updated_at: i64,
    pub description: String,
    pub media_url: Option<String>,
}

/// Parses `POST servicerequestupdates`: the request's id, `status` (`open`/`closed`, any
/// case — FixMyStreet sends `OPEN`), `updated_datetime`, and `description` required.
pub fn parse_post_update(params: &Params) -> Result<PostedUpdate, Vec<ParamError>> {
    let mut errors = vec![];
    let mut need = |name: &str, label: &str| match single(params, name) {
        Some(v) => v.to_string(),
        None => {
            errors.push(ParamError::new(name, format!("请提供{label}")));
            String::new()
        }
    };
    let service_request_id = need("service_request_id", "service_request_id");
    let status_text = need("status", "status（open或closed）");
    let updated = need("updated_datetime", "updated_datetime");
    let description = need("description", "description（更新内容）");
    let status = match Open311Status::parse(&status_text.to_ascii_lowercase()) {
        Some(s) => s,
        None => {
            if !status_text.is_empty() {
                errors.push(ParamError::new(
                    "status",
                    format!("“{status_text}”不是有效的状态，只能是open或closed"),
                ));
            }
            Open311Status::Open
        }
    };
    let updated_at = if updated.is_empty() {
        0
    } else {
        parse_datetime("updated_datetime", &updated)
            .map_err(|e| errors.push(e))
            .unwrap_or(0)
    };
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        errors.push(ParamError::new(
            "description",
            format!("更新内容不能超过{DESCRIPTION_MAX_CHARS}个字"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PostedUpdate {
        service_request_id,
        update_id: single(params, "update_id").map(String::from),
        status,
        updated_at,
        description,
        media_url: single(params, "media_url").map(String::from),
    })
}

/// The `GET servicerequestupdates` window: `start_date` and `end_date`, both optional.
pub fn parse_updates_window(
    params: &Params,
) -> Result<(Option<i64>, Option<i64>), Vec<ParamError>> {
    let mut errors = vec![];
    let mut date = |name: &str| {
        single(params, name).and_then(|v| parse_datetime(name, v).map_err(|e| errors.push(e)).ok())
    };
    let (s, e) = (date("start_date"), date("end_date"));
    if let (Some(s), Some(e)) = (s, e) {
        if s > e {
            errors.push(ParamError::new("start_date", "开始时间不能晚于结束时间"));
        }
    }
    if errors.is_empty() {
        Ok((s, e))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;
