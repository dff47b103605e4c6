//! Open311 documents written from the spec's text (wiki.open311.org/GeoReport_v2): every
//! document in XML (read back by a real parser: well-formed, escaped, the spec's element
//! names) and JSON (the spec's field names and types), the parameters and their errors.

use super::*;
use crate::grid::{AttributeValue, Datatype};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::json;

/// Every element's path and text, by a real XML parser (which fails on broken XML).
fn read_xml(xml: &str) -> Vec<(String, String)> {
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "the XML declaration with the encoding comes first"
    );
    let mut r = Reader::from_str(xml);
    let mut path: Vec<String> = vec![];
    let mut out = vec![];
    let mut roots = 0;
    loop {
        match r.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                if path.is_empty() {
                    roots += 1;
                }
                path.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                out.push((path.join("/"), String::new()));
            }
            Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                out.push((format!("{}/{name}", path.join("/")), String::new()));
            }
            Event::Text(t) => {
                let text = t.unescape().expect("valid escapes").into_owned();
                if let Some(last) = out.last_mut() {
                    if last.0 == path.join("/") {
                        last.1.push_str(&text);
                    }
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "every element closed");
    assert_eq!(roots, 1, "one root element");
    out
}

fn xml_value<'a>(doc: &'a [(String, String)], path: &str) -> Vec<&'a str> {
    doc.iter()
        .filter(|(p, _)| p == path)
        .map(|(_, t)| t.as_str())
        .collect()
}

fn json_of(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("valid JSON")
}

fn keys(v: &serde_json::Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn sorted(mut v: Vec<&'static str>) -> Vec<&'static str> {
    v.sort_unstable();
    v
}

fn category() -> Category {
    let mut c = Category::new("light", "路灯不亮 <夜间> & \"其他\"");
    c.group = "市政设施".into();
    c.keywords = "路灯,照明".into();
    c.help = "请写明灯杆编号".into();
    c.attributes = vec![
        Attribute {
            code: "kind".into(),
            datatype: Datatype::SingleValueList,
            required: true,
            variable: true,
            description: "故障类型".into(),
            datatype_description: String::new(),
            values: vec![
                AttributeValue {
                    key: "dark".into(),
                    name: "不亮".into(),
                },
                AttributeValue {
                    key: "blink".into(),
                    name: "闪烁 & 忽明忽暗".into(),
                },
            ],
            order: 2,
        },
        Attribute {
            code: "pole".into(),
            datatype: Datatype::String,
            required: false,
            variable: true,
            description: "灯杆编号".into(),
            datatype_description: "灯杆上的喷涂编号".into(),
            values: vec![],
            order: 1,
        },
    ];
    c
}

#[test]
fn the_format_comes_from_the_extension() {
    assert_eq!(
        Format::split("services.xml"),
        Some(("services", Format::Xml))
    );
    assert_eq!(
        Format::split("requests.json"),
        Some(("requests", Format::Json))
    );
    assert_eq!(
        Format::split("light.01.json"),
        Some(("light.01", Format::Json))
    );
    assert_eq!(Format::split("services"), None);
    assert_eq!(Format::split("services.html"), None);
    assert_eq!(Format::split(".xml"), None);
    assert_eq!(Format::Xml.content_type(), "text/xml; charset=utf-8");
    assert_eq!(
        Format::Json.content_type(),
        "application/json; charset=utf-8"
    );
}

#[test]
fn dates_are_beijing_time_with_the_offset() {
    assert_eq!(iso8601_beijing(0), "1970-01-01T08:00:00+08:00");
    // 2024-05-01T00:30:00Z
    assert_eq!(iso8601_beijing(1_714_523_400), "2024-05-01T08:30:00+08:00");
    assert_eq!(
        parse_datetime("start_date", "2024-05-01T08:30:00+08:00"),
        Ok(1_714_523_400)
    );
    assert_eq!(
        parse_datetime("start_date", "2024-05-01T00:30:00Z"),
        Ok(1_714_523_400)
    );
    assert_eq!(
        parse_datetime("start_date", "2024-04-30T19:30:00-05:00"),
        Ok(1_714_523_400)
    );
    assert_eq!(
        parse_datetime("start_date", "2024-05-01T08:30+08:00"),
        Ok(1_714_523_400)
    );
    assert_eq!(
        parse_datetime("start_date", "2024-05-01T08:30:00.250+08:00"),
        Ok(1_714_523_400)
    );
    // An unencoded + arrives as a space.
    assert_eq!(
        parse_datetime("start_date", "2024-05-01T08:30:00 08:00"),
        Ok(1_714_523_400)
    );
    for bad in [
        "2024-05-01T08:30:00",
        "2024-05-01",
        "yesterday",
        "",
        "2024-13-01T00:00:00Z",
    ] {
        let e = parse_datetime("end_date", bad).unwrap_err();
        assert_eq!(e.field(), "end_date", "{bad}");
        assert!(e.to_string().starts_with("参数end_date："), "{e}");
    }
    // Round trip.
    let t = 1_700_000_000;
    assert_eq!(parse_datetime("x", &iso8601_beijing(t)), Ok(t));
}

#[test]
fn escaping_keeps_xml_well_formed() {
    assert_eq!(
        xml_escape(r#"<a href="x">&'"#),
        "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
    );
    assert_eq!(xml_escape("a\u{0}b\u{1B}c\nd"), "abc\nd");
}

#[test]
fn discovery_has_every_field() {
    let d = Discovery {
        changeset: "2024-05-01T08:30:00+08:00".into(),
        contact: "街道网格中心 0714-1234567".into(),
        key_service: "向街道网格中心申请API密钥".into(),
        endpoints: vec![Endpoint {
            url: "https://onewindow.example/open311/v2".into(),
            changeset: "2024-05-01T08:30:00+08:00".into(),
            production: true,
        }],
    };
    let x = read_xml(&render_discovery(Format::Xml, &d));
    assert_eq!(
        xml_value(&x, "discovery/changeset"),
        ["2024-05-01T08:30:00+08:00"]
    );
    assert_eq!(
        xml_value(&x, "discovery/endpoints/endpoint/specification"),
        [SPECIFICATION]
    );
    assert_eq!(
        xml_value(&x, "discovery/endpoints/endpoint/type"),
        ["production"]
    );
    assert_eq!(
        xml_value(&x, "discovery/endpoints/endpoint/formats/format"),
        ["text/xml", "application/json"]
    );
    let j = json_of(&render_discovery(Format::Json, &d));
    assert_eq!(
        keys(&j),
        ["changeset", "contact", "endpoints", "key_service"]
    );
    let e = &j["endpoints"][0];
    assert_eq!(
        keys(e),
        sorted(vec!["specification", "url", "changeset", "type", "formats"])
    );
    assert_eq!(e["formats"], json!(["text/xml", "application/json"]));
}

#[test]
fn services_list_in_both_formats() {
    let plain = Category::new("litter", "乱扔垃圾");
    let cats = [category(), plain];
    let x = read_xml(&render_services(Format::Xml, &cats));
    assert_eq!(
        xml_value(&x, "services/service/service_code"),
        ["light", "litter"]
    );
    // Escaped on the way out, the same text on the way back in.
    assert_eq!(
        xml_value(&x, "services/service/service_name")[0],
        "路灯不亮 <夜间> & \"其他\""
    );
    assert_eq!(
        xml_value(&x, "services/service/metadata"),
        ["true", "false"]
    );
    assert_eq!(
        xml_value(&x, "services/service/type"),
        ["realtime", "realtime"]
    );
    assert_eq!(xml_value(&x, "services/service/group"), ["市政设施", ""]);
    let j = json_of(&render_services(Format::Json, &cats));
    let list = j.as_array().expect("the services root is an array");
    assert_eq!(list.len(), 2);
    assert_eq!(
        keys(&list[0]),
        sorted(vec![
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group"
        ])
    );
    assert_eq!(list[0]["metadata"], json!(true));
    assert_eq!(list[0]["service_code"], json!("light"));
    assert_eq!(list[1]["description"], json!(null));
    assert_eq!(list[1]["keywords"], json!(null));
}

#[test]
fn a_service_definition_lists_its_attributes_in_order() {
    let c = category();
    let raw = render_service_definition(Format::Xml, &c);
    let x = read_xml(&raw);
    let a = "service_definition/attributes/attribute";
    assert_eq!(xml_value(&x, "service_definition/service_code"), ["light"]);
    assert_eq!(xml_value(&x, &format!("{a}/code")), ["pole", "kind"]);
    assert_eq!(xml_value(&x, &format!("{a}/order")), ["1", "2"]);
    assert_eq!(
        xml_value(&x, &format!("{a}/datatype")),
        ["string", "singlevaluelist"]
    );
    assert_eq!(xml_value(&x, &format!("{a}/variable")), ["true", "true"]);
    assert_eq!(xml_value(&x, &format!("{a}/required")), ["false", "true"]);
    assert_eq!(
        xml_value(&x, &format!("{a}/datatype_description")),
        ["灯杆上的喷涂编号", ""]
    );
    assert_eq!(
        xml_value(&x, &format!("{a}/values/value/key")),
        ["dark", "blink"]
    );
    assert_eq!(
        xml_value(&x, &format!("{a}/values/value/name")),
        ["不亮", "闪烁 & 忽明忽暗"]
    );
    assert!(raw.contains("闪烁 &amp; 忽明忽暗"));
    let j = json_of(&render_service_definition(Format::Json, &c));
    assert_eq!(keys(&j), ["attributes", "service_code"]);
    let attr = &j["attributes"][1];
    assert_eq!(
        keys(attr),
        sorted(vec![
            "variable",
            "code",
            "datatype",
            "required",
            "datatype_description",
            "order",
            "description",
            "values"
        ])
    );
    assert_eq!(attr["order"], json!(2));
    assert_eq!(attr["required"], json!(true));
    assert_eq!(attr["datatype_description"], json!(null));
    assert_eq!(attr["values"][0], json!({"key": "dark", "name": "不亮"}));
}

fn request() -> ServiceRequest {
    ServiceRequest {
        service_request_id: "638344".into(),
        status: Open311Status::Closed,
        status_notes: Some("重复已合并".into()),
        service_name: "路灯不亮".into(),
        service_code: "light".into(),
        description: Some("东风路<3号>灯杆 & 附近".into()),
        agency_responsible: Some("街道城管科".into()),
        service_notice: None,
        requested_at: 1_714_523_400,
        updated_at: 1_714_527_000,
        expected_at: Some(1_714_780_800),
        address: Some("东风路3号".into()),
        address_id: None,
        zipcode: None,
        lat: Some(30.0912),
        long: Some(114.9614),
        media_url: Some("https://onewindow.example/photos/1.jpg?a=1&b=2".into()),
    }
}

const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

#[test]
fn requests_carry_every_field_of_the_spec() {
    let mut open = request();
    open.service_request_id = "638349".into();
    open.status = Open311Status::Open;
    open.status_notes = None;
    open.expected_at = None;
    open.lat = None;
    open.long = None;
    let list = [request(), open];
    let raw = render_requests(Format::Xml, &list);
    let x = read_xml(&raw);
    let r = "service_requests/request";
    for f in REQUEST_FIELDS {
        assert_eq!(xml_value(&x, &format!("{r}/{f}")).len(), 2, "{f} in both");
    }
    assert_eq!(xml_value(&x, &format!("{r}/status")), ["closed", "open"]);
    assert_eq!(
        xml_value(&x, &format!("{r}/requested_datetime")),
        ["2024-05-01T08:30:00+08:00"; 2]
    );
    assert_eq!(
        xml_value(&x, &format!("{r}/expected_datetime")),
        ["2024-05-04T08:00:00+08:00", ""]
    );
    assert_eq!(
        xml_value(&x, &format!("{r}/description"))[0],
        "东风路<3号>灯杆 & 附近"
    );
    assert_eq!(
        xml_value(&x, &format!("{r}/media_url"))[0],
        "https://onewindow.example/photos/1.jpg?a=1&b=2"
    );
    assert_eq!(xml_value(&x, &format!("{r}/lat")), ["30.0912", ""]);

    let j = json_of(&render_requests(Format::Json, &list));
    let items = j.as_array().unwrap();
    assert_eq!(keys(&items[0]), sorted(REQUEST_FIELDS.to_vec()));
    assert_eq!(items[0]["service_request_id"], json!("638344"));
    assert_eq!(items[0]["lat"], json!(30.0912));
    assert_eq!(items[0]["long"], json!(114.9614));
    assert_eq!(items[0]["service_notice"], json!(null));
    assert_eq!(items[1]["lat"], json!(null));
    assert_eq!(items[1]["expected_datetime"], json!(null));
    assert_eq!(
        items[0]["updated_datetime"],
        json!("2024-05-01T09:30:00+08:00")
    );
    // An empty list is an empty root, and an empty array.
    assert_eq!(read_xml(&render_requests(Format::Xml, &[])).len(), 1);
    assert_eq!(json_of(&render_requests(Format::Json, &[])), json!([]));
}

#[test]
fn a_post_answers_with_the_id_or_a_token_never_both() {
    let x = read_xml(&render_created(
        Format::Xml,
        &Created::Id("293944".into()),
        Some("将在3天内办结"),
        None,
    ));
    let r = "service_requests/request";
    assert_eq!(
        xml_value(&x, &format!("{r}/service_request_id")),
        ["293944"]
    );
    assert!(xml_value(&x, &format!("{r}/token")).is_empty());
    assert_eq!(
        xml_value(&x, &format!("{r}/service_notice")),
        ["将在3天内办结"]
    );
    let j = json_of(&render_created(
        Format::Json,
        &Created::Token("t-1".into()),
        None,
        Some("u9"),
    ));
    assert_eq!(
        j,
        json!([{"token": "t-1", "service_notice": null, "account_id": "u9"}])
    );
}

#[test]
fn updates_in_the_extension_s_shape() {
    let u = RequestUpdate {
        update_id: "77".into(),
        service_request_id: "638344".into(),
        status: Open311Status::Closed,
        updated_at: 1_714_527_000,
        description: Some("已更换灯泡 <LED>".into()),
        media_url: None,
    };
    let x = read_xml(&render_updates(Format::Xml, std::slice::from_ref(&u)));
    let r = "service_request_updates/request_update";
    for (f, v) in [
        ("update_id", "77"),
        ("service_request_id", "638344"),
        ("status", "closed"),
        ("updated_datetime", "2024-05-01T09:30:00+08:00"),
        ("description", "已更换灯泡 <LED>"),
        ("media_url", ""),
    ] {
        assert_eq!(xml_value(&x, &format!("{r}/{f}")), [v], "{f}");
    }
    let j = json_of(&render_updates(Format::Json, &[u]));
    assert_eq!(
        keys(&j[0]),
        sorted(vec![
            "update_id",
            "service_request_id",
            "status",
            "updated_datetime",
            "description",
            "media_url"
        ])
    );
    let x = read_xml(&render_update_created(Format::Xml, "78"));
    assert_eq!(xml_value(&x, &format!("{r}/update_id")), ["78"]);
    assert_eq!(
        json_of(&render_update_created(Format::Json, "78")),
        json!([{"update_id": "78"}])
    );
}

#[test]
fn errors_in_the_spec_s_format_and_status() {
    let errs = [Open311Error::api_key()];
    let x = read_xml(&render_errors(Format::Xml, &errs));
    assert_eq!(xml_value(&x, "errors/error/code"), ["403"]);
    assert!(xml_value(&x, "errors/error/description")[0].contains("api_key"));
    let j = json_of(&render_errors(Format::Json, &errs));
    assert_eq!(j[0]["code"], json!(403));
    assert_eq!(keys(&j[0]), ["code", "description"]);
    assert_eq!(http_status(&errs), 403);
    assert_eq!(http_status(&[Open311Error::unknown_service("nope")]), 404);
    assert_eq!(http_status(&[Open311Error::unknown_request("9")]), 404);
    let bad = parse_datetime("start_date", "soon").unwrap_err().to_error();
    assert_eq!(bad.code, 400);
    assert_eq!(http_status(&[bad.clone(), Open311Error::api_key()]), 400);
    let x = read_xml(&render_errors(Format::Xml, &[bad]));
    assert!(xml_value(&x, "errors/error/description")[0].contains("start_date"));
    // Several errors: an array of several.
    let many = [
        Open311Error::new(400, "a <b>"),
        Open311Error::new(400, "c & d"),
    ];
    let x = read_xml(&render_errors(Format::Xml, &many));
    assert_eq!(
        xml_value(&x, "errors/error/description"),
        ["a <b>", "c & d"]
    );
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn request_filters_follow_the_spec() {
    let f = RequestFilter::parse(&params(&[
        ("service_code", "light, litter"),
        ("service_code", "noise"),
        ("status", "open,closed"),
        ("status", "OPEN"),
        ("start_date", "2024-05-01T00:00:00Z"),
        ("end_date", "2024-05-31T00:00:00+08:00"),
        ("jurisdiction_id", ""),
    ]))
    .unwrap();
    assert_eq!(f.service_codes, ["light", "litter", "noise"]);
    assert_eq!(f.statuses, [Open311Status::Open, Open311Status::Closed]);
    assert_eq!(f.start, Some(1_714_521_600));
    assert_eq!(
        f.window(2_000_000_000),
        Some((1_714_521_600, 1_717_084_800))
    );
    // Ids override everything else, even filters that would be errors.
    let f = RequestFilter::parse(&params(&[
        ("service_request_id", "12,13, ,14"),
        ("status", "pending"),
    ]))
    .unwrap();
    assert_eq!(f.ids, ["12", "13", "14"]);
    assert!(f.statuses.is_empty() && f.start.is_none());
    assert_eq!(f.window(2_000_000_000), None);
    // Empty parameters count as absent; no dates means the last 90 days.
    let f = RequestFilter::parse(&params(&[("status", ""), ("start_date", " ")])).unwrap();
    assert_eq!(f, RequestFilter::default());
    assert_eq!(f.window(100 * 86_400), Some((10 * 86_400, 100 * 86_400)));
    let only_end = RequestFilter {
        end: Some(100 * 86_400),
        ..RequestFilter::default()
    };
    assert_eq!(only_end.window(0), Some((10 * 86_400, 100 * 86_400)));
    let only_start = RequestFilter {
        start: Some(0),
        ..RequestFilter::default()
    };
    assert_eq!(only_start.window(30 * 86_400), Some((0, 30 * 86_400)));
}

#[test]
fn bad_filters_name_their_parameter() {
    let e = RequestFilter::parse(&params(&[
        ("status", "pending"),
        ("start_date", "2024-05-01"),
        ("end_date", "2024-06-01T00:00:00Z"),
    ]))
    .unwrap_err();
    let f: Vec<&str> = e.iter().map(ParamError::field).collect();
    assert_eq!(f, ["status", "start_date"]);
    let e = RequestFilter::parse(&params(&[
        ("start_date", "2024-06-01T00:00:00Z"),
        ("end_date", "2024-05-01T00:00:00Z"),
    ]))
    .unwrap_err();
    assert_eq!(e[0].to_string(), "参数start_date：开始时间不能晚于结束时间");
    let e = RequestFilter::parse(&params(&[
        ("start_date", "2024-01-01T00:00:00Z"),
        ("end_date", "2024-05-01T00:00:00Z"),
    ]))
    .unwrap_err();
    assert_eq!(e[0].field(), "end_date");
    assert!(e[0].message.contains("90天"));
    let ids = (0..=MAX_REQUESTS)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let e = RequestFilter::parse(&params(&[("service_request_id", &ids)])).unwrap_err();
    assert_eq!(e[0].field(), "service_request_id");
}

#[test]
fn a_posted_request_is_parsed_from_the_form() {
    let p = parse_post_request(&params(&[
        ("api_key", "xyz"),
        ("service_code", "light"),
        ("lat", "30.0912"),
        ("long", "114.9614"),
        ("address_string", "东风路3号"),
        ("description", "灯不亮"),
        ("attribute[kind]", "dark"),
        ("attribute[tags][]", "a"),
        ("attribute[tags][]", "b"),
        ("email", "a@example.org"),
    ]))
    .unwrap();
    assert_eq!(p.service_code, "light");
    assert_eq!(p.location.point, Some((114.9614, 30.0912)));
    assert_eq!(p.location.address_string.as_deref(), Some("东风路3号"));
    assert_eq!(
        p.attributes,
        params(&[("kind", "dark"), ("tags", "a"), ("tags", "b")])
    );
    assert_eq!(p.email.as_deref(), Some("a@example.org"));
    // An address alone is a location too.
    assert!(parse_post_request(&params(&[("service_code", "x"), ("address_id", "A7")])).is_ok());
}

#[test]
fn a_bad_post_names_every_problem() {
    let e = parse_post_request(&params(&[("description", "x")])).unwrap_err();
    let f: Vec<&str> = e.iter().map(ParamError::field).collect();
    assert_eq!(f, ["service_code", "lat"]);
    assert!(e[1].message.contains("address_string"));
    let e = parse_post_request(&params(&[
        ("service_code", "x"),
        ("lat", "91"),
        ("long", "114"),
        ("attribute[]", "v"),
    ]))
    .unwrap_err();
    let f: Vec<&str> = e.iter().map(ParamError::field).collect();
    assert_eq!(f, ["lat", "attribute[]"]);
    let e = parse_post_request(&params(&[("service_code", "x"), ("lat", "30")])).unwrap_err();
    assert_eq!(e[0].to_string(), "参数long：lat和long须同时提供");
    let long = "字".repeat(DESCRIPTION_MAX_CHARS + 1);
    let e = parse_post_request(&params(&[
        ("service_code", "x"),
        ("address_id", "1"),
        ("description", &long),
    ]))
    .unwrap_err();
    assert_eq!(e[0].field(), "description");
}

#[test]
fn a_posted_update_is_parsed_and_checked() {
    let u = parse_post_update(&params(&[
        ("service_request_id", "638344"),
        ("update_id", "c-9"),
        ("status", "CLOSED"),
        ("updated_datetime", "2024-05-01T09:30:00+08:00"),
        ("description", "已修复"),
    ]))
    .unwrap();
    assert_eq!(u.status, Open311Status::Closed);
    assert_eq!(u.updated_at, 1_714_527_000);
    assert_eq!(u.update_id.as_deref(), Some("c-9"));
    let e = parse_post_update(&params(&[("status", "fixed"), ("updated_datetime", "now")]))
        .unwrap_err();
    let f: Vec<&str> = e.iter().map(ParamError::field).collect();
    assert_eq!(
        f,
        [
            "service_request_id",
            "description",
            "status",
            "updated_datetime"
        ]
    );
    assert_eq!(
        parse_updates_window(&params(&[("start_date", "2024-05-01T00:00:00Z")])),
        Ok((Some(1_714_521_600), None))
    );
    assert_eq!(
        parse_updates_window(&params(&[("end_date", "x")])).unwrap_err()[0].field(),
        "end_date"
    );
}
