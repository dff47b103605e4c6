//! Grid geometry: grids as WGS84 polygons (holes and several parts allowed), buildings as
//! points or polygons, the GeoJSON import that checks them, and the assignment of a place
//! to its grid through an R-tree.
//!
//! Coordinates are `(lon, lat)` in degrees, as GeoJSON has them. A street is a few square
//! kilometres, so plane geometry on degrees is exact enough for "which polygon is this point
//! in" — nothing here measures lengths or areas in metres.
//!
//! **Boundaries.** A point on an edge or a vertex of a grid counts as *inside* it: an event
//! on the street that separates two grids belongs to a grid, never to none. When it lies on
//! the shared edge of two grids (or inside two overlapping ones, which the import refuses
//! but an index built by hand may hold), a grid it is strictly inside wins over one it only
//! touches, and among equals the **lowest grid code** wins — deterministic, whatever order
//! the grids were loaded in. A point in a hole is outside that grid (the hole is another
//! grid's, or nobody's); a point on a hole's edge touches the grid and counts as inside.
//!
//! **Index.** [`GridIndex`] keeps an R-tree (`rstar`) of the grids' bounding boxes; a look-up
//! tests the exact polygon (`geo`'s `CoordinatePosition`) only for the few boxes that hold
//! the point, so a street's 500 grids cost a handful of polygon tests per point.

use geo::algorithm::line_intersection::{line_intersection, LineIntersection};
use geo::{
    coordinate_position::CoordPos, Area, BoundingRect, Contains, Coord, CoordinatePosition, Line,
    LineString, MultiPolygon, Point, Polygon, Relate,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;
use serde_json::Value;

/// Most positions one feature may have (a grid is a few dozen; this bounds the O(n²)
/// self-intersection test).
pub const MAX_POSITIONS: usize = 5_000;
/// Most features one import may have.
pub const MAX_FEATURES: usize = 5_000;
/// Longest code and name.
pub const CODE_MAX_CHARS: usize = 32;
pub const NAME_MAX_CHARS: usize = 60;

/// A grid (网格): about 300 households, one full-time and two part-time grid workers.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// The community (社区) organisation the grid belongs to.
    pub community_org_id: Option<i64>,
    /// WGS84 (lon, lat); one part or several, each with its holes.
    pub area: MultiPolygon<f64>,
}

/// A building's shape: a point (its entrance) or its footprint.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Point(Point<f64>),
    Polygon(Polygon<f64>),
}

/// A building (楼栋).
#[derive(Debug, Clone, PartialEq)]
pub struct Building {
    pub code: String,
    pub name: String,
    pub shape: Shape,
    pub households: Option<u32>,
    /// The grid code the file names, if any (else the one its point falls in).
    pub grid_code: Option<String>,
}

impl Building {
    /// The point that decides the building's grid: the point itself, or a point surely
    /// inside the footprint (its first vertex would lie on the edge).
    pub fn anchor(&self) -> Point<f64> {
        match &self.shape {
            Shape::Point(p) => *p,
            Shape::Polygon(poly) => {
                use geo::InteriorPoint;
                poly.interior_point()
                    .unwrap_or_else(|| poly.exterior().0[0].into())
            }
        }
    }
}

/// A grid as read from a file: what [`import_geojson`] checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GridFeature {
    pub code: String,
    pub name: String,
    pub community_org_id: Option<i64>,
    pub households: Option<u32>,
    pub area: MultiPolygon<f64>,
}

/// One problem of one feature: which (index from 0 and code, when it has one), which part
/// (`field`), and why (Chinese).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}：{reason}", self.which())]
pub struct ImportError {
    /// `None`: the file as a whole.
    pub index: Option<usize>,
    pub code: Option<String>,
    pub field: &'static str,
    pub reason: String,
}

impl ImportError {
    fn file(reason: impl Into<String>) -> ImportError {
        ImportError {
            index: None,
            code: None,
            field: "file",
            reason: reason.into(),
        }
    }

    fn which(&self) -> String {
        match (self.index, &self.code) {
            (None, _) => "文件".into(),
            (Some(i), Some(c)) => format!("第{}个要素（编码{c}）", i + 1),
            (Some(i), None) => format!("第{}个要素", i + 1),
        }
    }

    /// `file`, `geometry`, `properties.code`, `properties.name`, …
    pub fn field(&self) -> &'static str {
        self.field
    }
}

/// Reads a FeatureCollection's features one by one, so one bad feature does not hide the
/// others' problems.
fn features(text: &str) -> Result<Vec<Value>, Vec<ImportError>> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| vec![ImportError::file(format!("不是有效的JSON：{e}"))])?;
    if v.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(vec![ImportError::file(
            "须为GeoJSON FeatureCollection（\"type\": \"FeatureCollection\"）",
        )]);
    }
    let Some(list) = v.get("features").and_then(Value::as_array) else {
        return Err(vec![ImportError::file("缺少features数组")]);
    };
    if list.is_empty() {
        return Err(vec![ImportError::file("文件中没有要素")]);
    }
    if list.len() > MAX_FEATURES {
        return Err(vec![ImportError::file(format!(
            "一次最多导入{MAX_FEATURES}个要素"
        ))]);
    }
    Ok(list.clone())
}

/// A feature's properties, with the errors of each found while reading them.
struct Props<'a> {
    index: usize,
    code: Option<String>,
    obj: Option<&'a serde_json::Map<String, Value>>,
    errors: Vec<ImportError>,
}

impl<'a> Props<'a> {
    fn new(index: usize, feature: &'a Value) -> Props<'a> {
        let obj = feature.get("properties").and_then(Value::as_object);
        let code = obj
            .and_then(|o| o.get("code"))
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        Props {
            index,
            code,
            obj,
            errors: vec![],
        }
    }

    fn err(&mut self, field: &'static str, reason: impl Into<String>) {
        self.errors.push(ImportError {
            index: Some(self.index),
            code: self.code.clone(),
            field,
            reason: reason.into(),
        });
    }

    fn text(&mut self, key: &str, field: &'static str, label: &str, max: usize) -> String {
        let v = self
            .obj
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        if v.is_empty() {
            self.err(field, format!("缺少{label}（properties.{key}）"));
        } else if v.chars().count() > max || v.chars().any(char::is_control) {
            self.err(field, format!("{label}须为不超过{max}个字的一行文字"));
        }
        v
    }

    fn count(&mut self, key: &str, field: &'static str, label: &str) -> Option<u32> {
        let v = self.obj.and_then(|o| o.get(key))?;
        match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None if v.is_null() => None,
            None => {
                self.err(field, format!("{label}须为非负整数"));
                None
            }
        }
    }

    fn id(&mut self, key: &str, field: &'static str, label: &str) -> Option<i64> {
        let v = self.obj.and_then(|o| o.get(key))?;
        match v.as_i64() {
            Some(n) if n > 0 => Some(n),
            None if v.is_null() => None,
            _ => {
                self.err(field, format!("{label}须为正整数编号"));
                None
            }
        }
    }
}

fn position(p: &[f64]) -> Result<Coord<f64>, String> {
    if p.len() < 2 {
        return Err("坐标须至少有经度和纬度两个数".into());
    }
    let (lon, lat) = (p[0], p[1]);
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(format!("经度{lon}超出范围（-180至180）"));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(format!("纬度{lat}超出范围（-90至90）"));
    }
    Ok(Coord { x: lon, y: lat })
}

/// One ring: closed, at least four positions, no repeated consecutive vertex, no edge
/// crossing or touching another edge except its two neighbours at their shared vertex,
/// a non-zero area.
fn ring(positions: &[Vec<f64>], which: &str) -> Result<LineString<f64>, String> {
    if positions.len() < 4 {
        return Err(format!(
            "{which}至少须有4个坐标（首尾相同的闭合环），只有{}个",
            positions.len()
        ));
    }
    let coords = positions
        .iter()
        .map(|p| position(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{which}：{e}"))?;
    if coords.first() != coords.last() {
        return Err(format!("{which}未闭合：首尾坐标须相同"));
    }
    if let Some(k) = coords.windows(2).position(|w| w[0] == w[1]) {
        return Err(format!("{which}第{}个顶点与前一个重复", k + 2));
    }
    let segments: Vec<Line<f64>> = coords.windows(2).map(|w| Line::new(w[0], w[1])).collect();
    let n = segments.len();
    for i in 0..n {
        for j in i + 1..n {
            let adjacent = j == i + 1 || (i == 0 && j == n - 1);
            let Some(x) = line_intersection(segments[i], segments[j]) else {
                continue;
            };
            let ok = adjacent
                && matches!(x, LineIntersection::SinglePoint { intersection, .. }
                    if intersection == (if j == i + 1 { segments[i].end } else { segments[i].start }));
            if !ok {
                return Err(format!(
                    "{which}自相交：第{}条边与第{}条边相交",
                    i + 1,
                    j + 1
                ));
            }
        }
    }
    let ls = LineString::new(coords);
    if Polygon::new(ls.clone(), vec![]).unsigned_area() == 0.0 {
        return Err(format!("{which}面积为零"));
    }
    Ok(ls)
}

fn rings_touch(a: &LineString<f64>, b: &LineString<f64>) -> bool {
    a.lines()
        .any(|la| b.lines().any(|lb| line_intersection(la, lb).is_some()))
}

/// A GeoJSON Polygon's rings: the exterior, then holes that lie inside it, apart from it
/// and from each other (a hole touching the exterior would cut the grid in two).
fn polygon(rings: &[Vec<Vec<f64>>], part: &str) -> Result<Polygon<f64>, String> {
    let Some((outer, holes)) = rings.split_first() else {
        return Err(format!("{part}没有坐标"));
    };
    let exterior = ring(outer, &format!("{part}外环"))?;
    let outer_poly = Polygon::new(exterior.clone(), vec![]);
    let mut interiors: Vec<LineString<f64>> = vec![];
    for (k, h) in holes.iter().enumerate() {
        let which = format!("{part}第{}个内环（洞）", k + 1);
        let hole = ring(h, &which)?;
        if rings_touch(&exterior, &hole) {
            return Err(format!("{which}与外环相交或接触"));
        }
        if !outer_poly.contains(&Point::from(hole.0[0])) {
            return Err(format!("{which}不在外环之内"));
        }
        for (m, other) in interiors.iter().enumerate() {
            let other_poly = Polygon::new(other.clone(), vec![]);
            if rings_touch(other, &hole)
                || other_poly.contains(&Point::from(hole.0[0]))
                || Polygon::new(hole.clone(), vec![]).contains(&Point::from(other.0[0]))
            {
                return Err(format!("{which}与第{}个内环重叠或接触", m + 1));
            }
        }
        interiors.push(hole);
    }
    Ok(Polygon::new(exterior, interiors))
}

/// The geometry of a grid feature: a Polygon or a MultiPolygon whose parts do not overlap.
fn area(feature: &Value) -> Result<MultiPolygon<f64>, (&'static str, String)> {
    let g = feature
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or(("geometry", "缺少几何图形（geometry）".to_string()))?;
    let geometry = geojson::Geometry::from_json_value(g.clone())
        .map_err(|e| ("geometry", format!("几何图形无法读取：{e}")))?;
    let count = |polys: &[Vec<Vec<Vec<f64>>>]| polys.iter().flatten().map(Vec::len).sum::<usize>();
    match geometry.value {
        geojson::Value::Polygon(rings) => {
            if count(std::slice::from_ref(&rings)) > MAX_POSITIONS {
                return Err(("geometry", format!("坐标超过{MAX_POSITIONS}个")));
            }
            let p = polygon(&rings, "").map_err(|e| ("geometry", e))?;
            Ok(MultiPolygon::new(vec![p]))
        }
        geojson::Value::MultiPolygon(parts) => {
            if parts.is_empty() {
                return Err(("geometry", "MultiPolygon没有任何部分".into()));
            }
            if count(&parts) > MAX_POSITIONS {
                return Err(("geometry", format!("坐标超过{MAX_POSITIONS}个")));
            }
            let mut polys: Vec<Polygon<f64>> = vec![];
            for (k, rings) in parts.iter().enumerate() {
                let p = polygon(rings, &format!("第{}部分", k + 1)).map_err(|e| ("geometry", e))?;
                for (m, q) in polys.iter().enumerate() {
                    let im = p.relate(q);
                    if im.is_intersects() && !im.is_touches() {
                        return Err(("geometry", format!("第{}部分与第{}部分重叠", k + 1, m + 1)));
                    }
                }
                polys.push(p);
            }
            Ok(MultiPolygon::new(polys))
        }
        other => Err((
            "geometry",
            format!("网格须为Polygon或MultiPolygon，不能是{}", other.type_name()),
        )),
    }
}

/// Reads grids from a GeoJSON FeatureCollection and checks every feature: a Polygon or
/// MultiPolygon; each ring closed, of at least 4 positions, not self-intersecting; holes
/// inside their exterior and apart; coordinates in WGS84 range; `code` and `name`
/// properties (`households` and `community` optional, non-negative and positive integers);
/// codes unique in the file; and a grid naming a community whose area is in
/// `communities` lies inside it (touching its boundary from inside is inside). All problems
/// of all features are returned, each naming its feature.
pub fn import_geojson(
    text: &str,
    communities: &[(i64, MultiPolygon<f64>)],
) -> Result<Vec<GridFeature>, Vec<ImportError>> {
    let list = features(text)?;
    let mut out = vec![];
    let mut errors = vec![];
    for (i, f) in list.iter().enumerate() {
        let mut p = Props::new(i, f);
        if f.get("type").and_then(Value::as_str) != Some("Feature") {
            p.err("type", "不是Feature");
            errors.append(&mut p.errors);
            continue;
        }
        let code = p.text("code", "properties.code", "网格编码", CODE_MAX_CHARS);
        let name = p.text("name", "properties.name", "网格名称", NAME_MAX_CHARS);
        let households = p.count("households", "properties.households", "户数");
        let community = p.id("community", "properties.community", "所属社区");
        if !code.is_empty() && out.iter().any(|g: &GridFeature| g.code == code) {
            p.err("properties.code", format!("网格编码{code}在文件中重复"));
        }
        match area(f) {
            Err((field, reason)) => p.err(field, reason),
            Ok(area) => {
                if let Some(c) = community {
                    if let Some((_, within)) = communities.iter().find(|(id, _)| *id == c) {
                        if !within.contains(&area) {
                            p.err("geometry", format!("网格超出所属社区（编号{c}）的范围"));
                        }
                    }
                }
                if p.errors.is_empty() {
                    out.push(GridFeature {
                        code,
                        name,
                        community_org_id: community,
                        households,
                        area,
                    });
                }
            }
        }
        errors.append(&mut p.errors);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Reads buildings from a GeoJSON FeatureCollection: each a Point or a Polygon (checked as
/// a grid's rings are), with `code` and `name`, optional `households` and `grid` (a grid
/// code).
pub fn import_buildings(text: &str) -> Result<Vec<Building>, Vec<ImportError>> {
    let list = features(text)?;
    let mut out = vec![];
    let mut errors = vec![];
    for (i, f) in list.iter().enumerate() {
        let mut p = Props::new(i, f);
        let code = p.text("code", "properties.code", "楼栋编码", CODE_MAX_CHARS);
        let name = p.text("name", "properties.name", "楼栋名称", NAME_MAX_CHARS);
        let households = p.count("households", "properties.households", "户数");
        let grid_code = p
            .obj
            .and_then(|o| o.get("grid"))
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let shape = f
            .get("geometry")
            .filter(|g| !g.is_null())
            .ok_or_else(|| "缺少几何图形（geometry）".to_string())
            .and_then(|g| {
                geojson::Geometry::from_json_value(g.clone())
                    .map_err(|e| format!("几何图形无法读取：{e}"))
            })
            .and_then(|g| match g.value {
                geojson::Value::Point(pt) => position(&pt).map(|c| Shape::Point(c.into())),
                geojson::Value::Polygon(rings) => polygon(&rings, "").map(Shape::Polygon),
                other => Err(format!(
                    "楼栋须为Point或Polygon，不能是{}",
                    other.type_name()
                )),
            });
        match shape {
            Err(reason) => p.err("geometry", reason),
            Ok(shape) if p.errors.is_empty() => out.push(Building {
                code,
                name,
                shape,
                households,
                grid_code,
            }),
            Ok(_) => {}
        }
        errors.append(&mut p.errors);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Where a point falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// The grid's id.
    Grid(i64),
    /// In no grid: the event goes to the street, with a warning to its dispatcher.
    OutsideAll,
}

/// Grids indexed for assignment: an R-tree of bounding boxes, the exact test on the few
/// candidates.
pub struct GridIndex {
    grids: Vec<Grid>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl GridIndex {
    pub fn new(grids: Vec<Grid>) -> GridIndex {
        let boxes = grids
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let r = g.area.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        GridIndex {
            grids,
            tree: RTree::bulk_load(boxes),
        }
    }

    pub fn len(&self) -> usize {
        self.grids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grids.is_empty()
    }

    pub fn grids(&self) -> &[Grid] {
        &self.grids
    }

    /// The grid a (lon, lat) point belongs to — see the module's note on boundaries.
    pub fn assign(&self, lon: f64, lat: f64) -> Assignment {
        if !lon.is_finite() || !lat.is_finite() {
            return Assignment::OutsideAll;
        }
        let c = Coord { x: lon, y: lat };
        let mut best: Option<(bool, &Grid)> = None;
        for cand in self.tree.locate_all_at_point(&[lon, lat]) {
            let g = &self.grids[cand.data];
            let inside = match g.area.coordinate_position(&c) {
                CoordPos::Inside => true,
                CoordPos::OnBoundary => false,
                CoordPos::Outside => continue,
            };
            let better = match best {
                None => true,
                Some((b_inside, b)) => {
                    (inside, std::cmp::Reverse(&g.code)) > (b_inside, std::cmp::Reverse(&b.code))
                }
            };
            if better {
                best = Some((inside, g));
            }
        }
        best.map_or(Assignment::OutsideAll, |(_, g)| Assignment::Grid(g.id))
    }
}

#[cfg(test)]
mod tests;
