//! What the grid tests share: the demo street's grids imported through the API, the 路灯损坏
//! category with the extra fields a test needs, a point inside a grid, and the photo with
//! GPS tags with the test that finds them.

use super::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A real JPEG with EXIF GPS tags and an XMP packet.
pub const GPS_JPEG: &[u8] = include_bytes!("../../../domain/src/grid/fixtures/gps.jpg");

/// Lon/lat inside 阳光社区第一网格 of the demo layout.
pub const IN_G1: (f64, f64) = (116.3918, 39.9056);

pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The GPS IFD pointer tag 0x8825 as a little- or big-endian IFD entry writes it.
pub fn has_gps_tag(b: &[u8]) -> bool {
    contains_bytes(b, &[0x25, 0x88, 0x04, 0x00]) || contains_bytes(b, &[0x88, 0x25, 0x00, 0x04])
}

/// Imports 幸福街道's six demo grids as the city's administrator.
pub async fn import_demo_grids(app: &TestApp) {
    let admin = app.login("admin").await;
    let mut communities = vec![];
    for c in onewindow_store::grid::demo::COMMUNITIES {
        communities.push((c.to_string(), app.org_id(c).await));
    }
    let geojson: Value =
        serde_json::from_str(&onewindow_store::grid::demo::grids_geojson(&communities)).unwrap();
    let street = app.org_id("xingfu").await;
    let (s, v) = admin
        .post(
            "/api/v1/grid/grids",
            json!({"street_id": street, "geojson": geojson}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 6);
}

/// Creates the category 路灯损坏 (1 and 3 calendar days, 区城市管理局) with `attributes`;
/// its id.
pub async fn lights_category(app: &TestApp, attributes: Value) -> i64 {
    let admin = app.login("admin").await;
    let cg = app.org_id("dept-cg").await;
    let (s, v) = admin
        .post(
            "/api/v1/grid/categories",
            json!({
                "code": "lights", "name": "路灯损坏", "group": "市容环境",
                "default_department": cg,
                "respond": {"unit": "calendar_days", "amount": 1},
                "close": {"unit": "calendar_days", "amount": 3},
                "help": "路灯不亮、灯杆倾斜",
                "attributes": attributes,
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}
