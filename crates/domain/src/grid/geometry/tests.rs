//! Grid geometry: points on edges, on vertices, in holes and outside all; the shared-edge
//! tie-break; every import error naming its feature; a property test for convex grids.

use super::*;
use geo::polygon;
use proptest::prelude::*;

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)]
}

fn grid(id: i64, code: &str, p: Polygon<f64>) -> Grid {
    Grid {
        id,
        code: code.into(),
        name: code.into(),
        community_org_id: None,
        area: MultiPolygon::new(vec![p]),
    }
}

/// Two grids side by side sharing the edge x = 115.0, the left one with a hole.
fn street() -> GridIndex {
    let mut left = square(114.99, 30.0, 115.0, 30.01);
    left.interiors_push(LineString::from(vec![
        (114.993, 30.003),
        (114.996, 30.003),
        (114.996, 30.006),
        (114.993, 30.006),
        (114.993, 30.003),
    ]));
    // Loaded in the "wrong" order on purpose: the tie-break must not depend on it.
    GridIndex::new(vec![
        grid(2, "G02", square(115.0, 30.0, 115.01, 30.01)),
        grid(1, "G01", left),
    ])
}

#[test]
fn inside_and_outside() {
    let ix = street();
    assert_eq!(ix.len(), 2);
    assert_eq!(ix.assign(114.991, 30.001), Assignment::Grid(1));
    assert_eq!(ix.assign(115.005, 30.005), Assignment::Grid(2));
    assert_eq!(ix.assign(115.02, 30.005), Assignment::OutsideAll);
    assert_eq!(ix.assign(114.995, 29.99), Assignment::OutsideAll);
    assert_eq!(ix.assign(f64::NAN, 30.005), Assignment::OutsideAll);
}

#[test]
fn an_edge_or_vertex_belongs_to_the_grid() {
    let ix = street();
    // On the outer edge of one grid only.
    assert_eq!(ix.assign(115.01, 30.005), Assignment::Grid(2));
    assert_eq!(ix.assign(114.995, 30.0), Assignment::Grid(1));
    // On an outer vertex of one grid only.
    assert_eq!(ix.assign(115.01, 30.01), Assignment::Grid(2));
    assert_eq!(ix.assign(114.99, 30.0), Assignment::Grid(1));
}

#[test]
fn a_shared_edge_goes_to_the_lowest_code() {
    let ix = street();
    assert_eq!(ix.assign(115.0, 30.005), Assignment::Grid(1));
    // A shared vertex too.
    assert_eq!(ix.assign(115.0, 30.01), Assignment::Grid(1));
    // Codes decide, not ids or loading order.
    let ix = GridIndex::new(vec![
        grid(9, "A1", square(115.0, 30.0, 115.01, 30.01)),
        grid(3, "B1", square(114.99, 30.0, 115.0, 30.01)),
    ]);
    assert_eq!(ix.assign(115.0, 30.005), Assignment::Grid(9));
}

#[test]
fn strictly_inside_wins_over_touching() {
    // Overlapping by mistake: a point inside A and on B's edge is A's, whatever the codes.
    let ix = GridIndex::new(vec![
        grid(1, "A", square(0.0, 0.0, 1.0, 1.0)),
        grid(2, "B", square(0.5, 0.0, 2.0, 1.0)),
    ]);
    assert_eq!(ix.assign(0.5, 0.5), Assignment::Grid(1));
    assert_eq!(ix.assign(1.0, 0.5), Assignment::Grid(2));
    assert_eq!(ix.assign(0.75, 0.5), Assignment::Grid(1));
}

#[test]
fn a_hole_is_outside_its_grid_but_its_edge_is_not() {
    let ix = street();
    assert_eq!(ix.assign(114.9945, 30.0045), Assignment::OutsideAll);
    assert_eq!(ix.assign(114.993, 30.0045), Assignment::Grid(1));
    // A grid filling the hole takes the hole's inside.
    let mut grids = street().grids().to_vec();
    grids.push(grid(3, "G03", square(114.993, 30.003, 114.996, 30.006)));
    let ix = GridIndex::new(grids);
    assert_eq!(ix.assign(114.9945, 30.0045), Assignment::Grid(3));
    // On the hole's edge both touch: the lower code, G01.
    assert_eq!(ix.assign(114.993, 30.0045), Assignment::Grid(1));
}

proptest! {
    /// A regular polygon around a random centre; points well inside its inscribed circle
    /// are assigned to it, among neighbours that do not reach there.
    #[test]
    fn points_inside_a_convex_grid_are_assigned_to_it(
        cx in 100.0f64..120.0, cy in 20.0f64..40.0, r in 0.001f64..0.05, n in 3usize..12,
        t in 0.0f64..std::f64::consts::TAU, s in 0.0f64..0.9,
    ) {
        let ring: Vec<(f64, f64)> = (0..=n)
            .map(|k| {
                let a = std::f64::consts::TAU * (k % n) as f64 / n as f64;
                (cx + r * a.cos(), cy + r * a.sin())
            })
            .collect();
        let poly = Polygon::new(LineString::from(ring), vec![]);
        let inner = r * (std::f64::consts::PI / n as f64).cos();
        let ix = GridIndex::new(vec![
            grid(5, "G05", poly),
            grid(6, "G06", square(cx + r * 1.01, cy - r, cx + 3.0 * r, cy + r)),
        ]);
        let (x, y) = (cx + s * inner * t.cos(), cy + s * inner * t.sin());
        prop_assert_eq!(ix.assign(x, y), Assignment::Grid(5));
    }
}

fn fc(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

fn feature(props: &str, geometry: &str) -> String {
    format!(r#"{{"type":"Feature","properties":{{{props}}},"geometry":{geometry}}}"#)
}

const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[115,30],[115.01,30],[115.01,30.01],[115,30.01],[115,30]]]}"#;

#[test]
fn a_good_file_imports() {
    let text = fc(&[
        feature(
            r#""code":"G01","name":"东风一网格","households":312,"community":4"#,
            SQUARE,
        ),
        feature(
            r#""code":"G02","name":"东风二网格""#,
            r#"{"type":"MultiPolygon","coordinates":[
                [[[115.01,30],[115.02,30],[115.02,30.01],[115.01,30.01],[115.01,30]],
                 [[115.013,30.003],[115.016,30.003],[115.016,30.006],[115.013,30.003]]],
                [[[115.02,30],[115.03,30],[115.03,30.01],[115.02,30]]]]}"#,
        ),
    ]);
    let community = MultiPolygon::new(vec![square(114.99, 29.99, 115.01, 30.01)]);
    let grids = import_geojson(&text, &[(4, community)]).unwrap();
    assert_eq!(grids.len(), 2);
    assert_eq!(grids[0].code, "G01");
    assert_eq!(grids[0].households, Some(312));
    assert_eq!(grids[0].community_org_id, Some(4));
    assert_eq!(grids[1].area.0.len(), 2);
    assert_eq!(grids[1].area.0[0].interiors().len(), 1);
}

fn errors_of(text: &str) -> Vec<ImportError> {
    import_geojson(text, &[]).unwrap_err()
}

fn one(props: &str, geometry: &str) -> ImportError {
    let e = errors_of(&fc(&[feature(props, geometry)]));
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

const NAMED: &str = r#""code":"G07","name":"七网格""#;

#[test]
fn an_unclosed_ring_is_refused_naming_the_feature() {
    let e = one(
        NAMED,
        r#"{"type":"Polygon","coordinates":[[[115,30],[115.01,30],[115.01,30.01],[115,30.01]]]}"#,
    );
    assert_eq!(
        (e.index, e.code.as_deref(), e.field()),
        (Some(0), Some("G07"), "geometry")
    );
    assert_eq!(
        e.to_string(),
        "第1个要素（编码G07）：外环未闭合：首尾坐标须相同"
    );
}

#[test]
fn too_few_positions_are_refused() {
    let e = one(
        NAMED,
        r#"{"type":"Polygon","coordinates":[[[115,30],[115.01,30],[115,30]]]}"#,
    );
    assert!(e.reason.contains("至少须有4个坐标"), "{}", e.reason);
}

#[test]
fn a_bow_tie_is_refused() {
    // The two diagonals cross at (115.005, 30.005).
    let e = one(
        NAMED,
        r#"{"type":"Polygon","coordinates":[[[115,30],[115.01,30.01],[115.01,30],[115,30.01],[115,30]]]}"#,
    );
    assert!(e.reason.contains("自相交"), "{}", e.reason);
    assert_eq!(e.reason, "外环自相交：第1条边与第3条边相交");
    // A spike that doubles back along itself is refused too.
    let e = one(
        NAMED,
        r#"{"type":"Polygon","coordinates":[[[115,30],[115.01,30],[115.005,30],[115,30.01],[115,30]]]}"#,
    );
    assert!(e.reason.contains("自相交"), "{}", e.reason);
}

#[test]
fn holes_must_lie_apart_inside_the_exterior() {
    let e = one(
        NAMED,
        r#"{"type":"Polygon","coordinates":[[[115,30],[115.01,30],[115.01,30.01],[115,30.01],[115,30]],
            [[115.02,30.02],[115.03,30.02],[115.03,30.03],[115.02,30.02]]]}"#,
    );
    assert_eq!(e.reason, "第1个内环（洞）不在外环之内");
    let e = one(
        NAMED,
        r#"{"type":"Polygon","coordinates":[[[115,30],[115.01,30],[115.01,30.01],[115,30.01],[115,30]],
            [[115,30.002],[115.005,30.002],[115.005,30.006],[115,30.002]]]}"#,
    );
    assert_eq!(e.reason, "第1个内环（洞）与外环相交或接触");
}

#[test]
fn only_polygons_make_grids() {
    let e = one(NAMED, r#"{"type":"Point","coordinates":[115,30]}"#);
    assert_eq!(e.reason, "网格须为Polygon或MultiPolygon，不能是Point");
    let e = one(
        NAMED,
        r#"{"type":"LineString","coordinates":[[115,30],[115.01,30]]}"#,
    );
    assert!(e.reason.contains("LineString"));
    let e = one(NAMED, "null");
    assert_eq!(e.reason, "缺少几何图形（geometry）");
}

#[test]
fn required_properties_are_named() {
    let e = errors_of(&fc(&[feature(r#""name":"无编码""#, SQUARE)]));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].field(), "properties.code");
    assert_eq!(
        e[0].to_string(),
        "第1个要素：缺少网格编码（properties.code）"
    );
    let e = errors_of(&fc(&[feature(r#""code":"G1","households":-3"#, SQUARE)]));
    let f: Vec<&str> = e.iter().map(|e| e.field()).collect();
    assert_eq!(f, ["properties.name", "properties.households"]);
}

#[test]
fn coordinates_out_of_range_are_refused() {
    let e = one(
        NAMED,
        r#"{"type":"Polygon","coordinates":[[[115,30],[195,30],[195,30.01],[115,30.01],[115,30]]]}"#,
    );
    assert_eq!(e.reason, "外环：经度195超出范围（-180至180）");
    let e = one(
        NAMED,
        r#"{"type":"Polygon","coordinates":[[[115,30],[115.01,30],[115.01,91],[115,91],[115,30]]]}"#,
    );
    assert!(e.reason.contains("纬度91超出范围"), "{}", e.reason);
}

#[test]
fn every_feature_s_problems_are_listed_with_their_index() {
    let text = fc(&[
        feature(r#""code":"G01","name":"一""#, SQUARE),
        feature(r#""code":"G01","name":"重复""#, SQUARE),
        feature(
            r#""code":"G03","name":"三""#,
            r#"{"type":"Point","coordinates":[1,2]}"#,
        ),
    ]);
    let e = errors_of(&text);
    let which: Vec<(Option<usize>, Option<&str>)> =
        e.iter().map(|e| (e.index, e.code.as_deref())).collect();
    assert_eq!(which, [(Some(1), Some("G01")), (Some(2), Some("G03"))]);
    assert_eq!(e[0].reason, "网格编码G01在文件中重复");
}

#[test]
fn a_grid_outside_its_community_is_refused() {
    let community = MultiPolygon::new(vec![square(115.0, 30.0, 115.005, 30.01)]);
    let text = fc(&[feature(r#""code":"G01","name":"一","community":4"#, SQUARE)]);
    let e = import_geojson(&text, &[(4, community)]).unwrap_err();
    assert_eq!(e[0].reason, "网格超出所属社区（编号4）的范围");
    // Touching the community's boundary from inside is inside.
    let exact = MultiPolygon::new(vec![square(115.0, 30.0, 115.01, 30.01)]);
    assert!(import_geojson(&text, &[(4, exact)]).is_ok());
}

#[test]
fn the_file_must_be_a_feature_collection() {
    let e = errors_of(SQUARE);
    assert_eq!(e[0].field(), "file");
    assert_eq!(
        e[0].to_string(),
        "文件：须为GeoJSON FeatureCollection（\"type\": \"FeatureCollection\"）"
    );
    assert!(errors_of("{")[0].reason.starts_with("不是有效的JSON"));
    assert_eq!(errors_of(&fc(&[]))[0].reason, "文件中没有要素");
}

#[test]
fn overlapping_parts_are_refused() {
    let e = one(
        NAMED,
        r#"{"type":"MultiPolygon","coordinates":[
            [[[115,30],[115.01,30],[115.01,30.01],[115,30.01],[115,30]]],
            [[[115.005,30],[115.02,30],[115.02,30.01],[115.005,30]]]]}"#,
    );
    assert_eq!(e.reason, "第2部分与第1部分重叠");
}

#[test]
fn buildings_are_points_or_footprints() {
    let text = fc(&[
        feature(
            r#""code":"B1","name":"1号楼","households":48,"grid":"G01""#,
            r#"{"type":"Point","coordinates":[115.002,30.002]}"#,
        ),
        feature(r#""code":"B2","name":"2号楼""#, SQUARE),
    ]);
    let b = import_buildings(&text).unwrap();
    assert_eq!(b[0].grid_code.as_deref(), Some("G01"));
    assert_eq!(b[0].anchor(), Point::new(115.002, 30.002));
    // A footprint's anchor lies inside it, so it never sits on a grid's edge by accident.
    let a = b[1].anchor();
    assert!(square(115.0, 30.0, 115.01, 30.01).contains(&a));
    let e = import_buildings(&fc(&[feature(
        r#""code":"B3","name":"3号楼""#,
        r#"{"type":"LineString","coordinates":[[115,30],[115.01,30]]}"#,
    )]))
    .unwrap_err();
    assert_eq!(e[0].reason, "楼栋须为Point或Polygon，不能是LineString");
}

/// The issue's benchmark, run by hand in release:
/// `cargo test --release -p onewindow-domain grid::geometry::tests::assign_a_million_points -- --ignored --nocapture`.
/// 500 grids (a 25 × 20 layout of squares, each edge cut into 5, so 20 vertices a grid)
/// over about 5 × 4 km; a million points spread over it and a margin outside.
#[test]
#[ignore = "benchmark; run by hand in release"]
fn assign_a_million_points() {
    let cell = 0.002;
    let mut grids = vec![];
    for i in 0..25 {
        for j in 0..20 {
            let (x0, y0) = (115.0 + i as f64 * cell, 30.0 + j as f64 * cell);
            let mut ring = vec![];
            for (ax, ay, bx, by) in [
                (0., 0., 1., 0.),
                (1., 0., 1., 1.),
                (1., 1., 0., 1.),
                (0., 1., 0., 0.),
            ] {
                for k in 0..5 {
                    let t = k as f64 / 5.0;
                    ring.push((
                        x0 + cell * (ax + (bx - ax) * t),
                        y0 + cell * (ay + (by - ay) * t),
                    ));
                }
            }
            ring.push(ring[0]);
            let id = (i * 20 + j) as i64;
            grids.push(grid(
                id,
                &format!("G{id:03}"),
                Polygon::new(LineString::from(ring), vec![]),
            ));
        }
    }
    let ix = GridIndex::new(grids.clone());
    // A fixed linear congruential sequence: the same points every run.
    let mut s: u64 = 42;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let points: Vec<(f64, f64)> = (0..1_000_000)
        .map(|_| (114.999 + next() * 0.052, 29.999 + next() * 0.042))
        .collect();
    let t = std::time::Instant::now();
    let inside = points
        .iter()
        .filter(|(x, y)| ix.assign(*x, *y) != Assignment::OutsideAll)
        .count();
    let indexed = t.elapsed();
    // Without the index: every polygon tested, for a sample of 10,000 points.
    let t = std::time::Instant::now();
    let brute = points[..10_000]
        .iter()
        .filter(|(x, y)| {
            let c = Coord { x: *x, y: *y };
            grids
                .iter()
                .any(|g| g.area.coordinate_position(&c) != CoordPos::Outside)
        })
        .count();
    let linear = t.elapsed() * 100;
    eprintln!(
        "1,000,000 points × 500 grids: R-tree {indexed:?} ({inside} inside); \
         testing every polygon ≈ {linear:?} (from 10,000 points, {brute} inside)"
    );
    assert!(inside > 900_000);
}
