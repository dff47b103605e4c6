//! The organisation tree: city → district → street → community → grid, with departments
//! attachable under any level above grid. Scope is a materialised path (`/1/4/9/`), so
//! "is B inside A's subtree" is a prefix test that needs no recursion and no I/O.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    City,
    District,
    Street,
    Community,
    Grid,
    Department,
}

impl OrgKind {
    pub const ALL: [OrgKind; 6] = [
        OrgKind::City,
        OrgKind::District,
        OrgKind::Street,
        OrgKind::Community,
        OrgKind::Grid,
        OrgKind::Department,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::City => "city",
            OrgKind::District => "district",
            OrgKind::Street => "street",
            OrgKind::Community => "community",
            OrgKind::Grid => "grid",
            OrgKind::Department => "department",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgKind::City => "市",
            OrgKind::District => "区",
            OrgKind::Street => "街道",
            OrgKind::Community => "社区",
            OrgKind::Grid => "网格",
            OrgKind::Department => "部门",
        }
    }

    /// Which kinds may sit directly under `self`. `None` as parent means a root: only a city.
    pub fn may_contain(parent: Option<OrgKind>, child: OrgKind) -> bool {
        use OrgKind::*;
        match (parent, child) {
            (None, City) => true,
            (None, _) => false,
            (Some(City), District) => true,
            (Some(District), Street) => true,
            (Some(Street), Community) => true,
            (Some(Community), Grid) => true,
            // Departments at every level above grid; a department may have sections.
            (Some(City | District | Street | Community | Department), Department) => true,
            _ => false,
        }
    }
}

/// A materialised path such as `/1/4/9/`: the ids from the root down to the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgPath(String);

impl OrgPath {
    pub fn root(id: i64) -> Self {
        OrgPath(format!("/{id}/"))
    }

    pub fn child(&self, id: i64) -> Self {
        OrgPath(format!("{}{id}/", self.0))
    }

    pub fn from_stored(s: String) -> Self {
        OrgPath(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path of the organisation directly above; none for a root.
    pub fn parent(&self) -> Option<OrgPath> {
        let ids = self.ids();
        let (_, up) = ids.split_last()?;
        let (first, rest) = up.split_first()?;
        Some(
            rest.iter()
                .fold(OrgPath::root(*first), |p, id| p.child(*id)),
        )
    }

    /// True when `other` is this organisation or lies anywhere below it.
    pub fn contains(&self, other: &OrgPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// Ids from the root down to this organisation.
    pub fn ids(&self) -> Vec<i64> {
        self.0
            .split('/')
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_s_parent_is_the_path_one_level_up() {
        let street = OrgPath::root(1).child(4).child(9);
        assert_eq!(street.parent(), Some(OrgPath::root(1).child(4)));
        assert_eq!(OrgPath::root(1).child(4).parent(), Some(OrgPath::root(1)));
        assert_eq!(OrgPath::root(1).parent(), None);
    }

    #[test]
    fn tree_shape_rules() {
        use OrgKind::*;
        assert!(OrgKind::may_contain(None, City));
        assert!(!OrgKind::may_contain(None, Street));
        assert!(OrgKind::may_contain(Some(City), District));
        assert!(!OrgKind::may_contain(Some(City), Street));
        assert!(OrgKind::may_contain(Some(Street), Community));
        assert!(OrgKind::may_contain(Some(Community), Grid));
        assert!(!OrgKind::may_contain(Some(Grid), Grid));
        assert!(!OrgKind::may_contain(Some(Grid), Department));
        for parent in [City, District, Street, Community, Department] {
            assert!(OrgKind::may_contain(Some(parent), Department));
        }
        assert!(!OrgKind::may_contain(Some(Department), Community));
    }

    #[test]
    fn path_containment_is_by_whole_segments() {
        let city = OrgPath::root(1);
        let street = city.child(4).child(9);
        let other = city.child(41);
        assert!(city.contains(&street));
        assert!(street.contains(&street));
        assert!(!street.contains(&city));
        // `/1/4/` must not contain `/1/41/`.
        assert!(!city.child(4).contains(&other));
        assert_eq!(street.ids(), vec![1, 4, 9]);
    }

    #[test]
    fn kinds_round_trip() {
        for k in OrgKind::ALL {
            assert_eq!(OrgKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(OrgKind::parse("planet"), None);
    }
}
