//! The material catalogue (材料目录): every document a resident may be asked for — the ID
//! card, the household register, a marriage certificate, an application form — once, with a
//! stable id. Catalog items' material lists refer to these ids (`Material::material_id`),
//! so a 一件事 bundle's items that each ask for "the ID card" in their own words ask for
//! the same material, and the bundle's guide and intake show it once
//! (`catalog::merge_materials` merges by id: 一套材料).
//!
//! A material is reference data owned like a catalog item (a city or a district; editing
//! it needs the catalog permission at the owner: `access::authorize_reference_data` with
//! `ReferenceData::CatalogItem`). Every item may refer to every material.

use serde::{Deserialize, Serialize};

use crate::catalog::ServiceItem;
use crate::validation::{FieldErrors, TextLimit};

/// What kind of document a material is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterialKind {
    /// 证照: an identity document, licence or certificate issued to the holder.
    Certificate,
    /// 表格: a form or application the applicant fills in.
    Form,
    /// 证明: a proof, statement or report issued by someone else for this purpose.
    Proof,
    /// 合同协议: a contract, agreement or power of attorney.
    Contract,
    /// 其他: photos, account details, files.
    Other,
}

impl MaterialKind {
    pub const ALL: [MaterialKind; 5] = [
        MaterialKind::Certificate,
        MaterialKind::Form,
        MaterialKind::Proof,
        MaterialKind::Contract,
        MaterialKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MaterialKind::Certificate => "certificate",
            MaterialKind::Form => "form",
            MaterialKind::Proof => "proof",
            MaterialKind::Contract => "contract",
            MaterialKind::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MaterialKind::Certificate => "证照",
            MaterialKind::Form => "表格",
            MaterialKind::Proof => "证明",
            MaterialKind::Contract => "合同协议",
            MaterialKind::Other => "其他",
        }
    }

    /// The stable name or the Chinese label (surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<MaterialKind> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label() == s)
    }
}

/// A material's name: as long as a material name of an item.
pub const NAME: TextLimit = TextLimit::one_line(100);
/// What the material is and where one gets it.
pub const DESCRIPTION: TextLimit = TextLimit::multi_line(500);

/// One material of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueMaterial {
    /// Stable: items refer to it; never reused for another document.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kind: MaterialKind,
}

/// A material id: 2 to 40 ASCII letters, digits or hyphens (like an item code).
pub fn valid_id(id: &str) -> bool {
    (2..=40).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl CatalogueMaterial {
    /// The material's own rules; fields are named `id`, `name`, `description` after
    /// `prefix`.
    pub fn check_into(&self, e: &mut FieldErrors, prefix: &str) {
        let f = |n: &str| format!("{prefix}{n}");
        if !e.required(&f("id"), "材料编码", &self.id).is_empty() && !valid_id(&self.id) {
            e.add(
                &f("id"),
                "bad_format",
                "材料编码须为2至40位英文字母、数字或短横线",
            );
        }
        if !e.required(&f("name"), "材料名称", &self.name).is_empty() {
            e.text(&f("name"), "材料名称", &self.name, NAME);
        }
        e.text(
            &f("description"),
            "材料说明",
            &self.description,
            DESCRIPTION,
        );
    }

    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        self.check_into(&mut e, "");
        e.into_result()
    }
}

/// An item's material rows that refer to no material of `known` (the field
/// `materials[i].material_id`), for the save to refuse.
pub fn unknown_references(item: &ServiceItem, known: impl Fn(&str) -> bool) -> FieldErrors {
    let mut e = FieldErrors::new();
    for (i, m) in item.materials.iter().enumerate() {
        if let Some(id) = &m.material_id {
            if !known(id) {
                e.add(
                    &format!("materials[{i}].material_id"),
                    "unknown_material",
                    format!("材料编码「{id}」不在材料目录中"),
                );
            }
        }
    }
    e
}

/// Fills the name of material rows that were given only a catalogue id (the item form's
/// picker) with the catalogue's name; rows with a name keep their wording.
pub fn fill_names(item: &mut ServiceItem, name_of: impl Fn(&str) -> Option<String>) {
    for m in &mut item.materials {
        if m.name.trim().is_empty() {
            if let Some(name) = m.material_id.as_deref().and_then(&name_of) {
                m.name = name;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn id_card() -> CatalogueMaterial {
        CatalogueMaterial {
            id: "M-0001".into(),
            name: "居民身份证".into(),
            description: String::new(),
            kind: MaterialKind::Certificate,
        }
    }

    #[test]
    fn kinds_parse_both_spellings() {
        for k in MaterialKind::ALL {
            assert_eq!(MaterialKind::parse(k.as_str()), Some(k));
            assert_eq!(MaterialKind::parse(&format!(" {} ", k.label())), Some(k));
        }
        assert_eq!(MaterialKind::parse("证件"), None);
    }

    #[test]
    fn material_rules_name_the_field() {
        assert!(id_card().validate().is_ok());
        let fields = |m: &CatalogueMaterial| -> Vec<(String, String)> {
            m.validate()
                .unwrap_err()
                .0
                .into_iter()
                .map(|e| (e.field, e.code))
                .collect()
        };
        let mut m = id_card();
        m.id = "身份证".into();
        assert_eq!(fields(&m), [("id".into(), "bad_format".into())]);
        m = id_card();
        m.name = " ".into();
        assert_eq!(fields(&m), [("name".into(), "required".into())]);
        m = id_card();
        m.name = "证".repeat(101);
        assert_eq!(fields(&m)[0].0, "name");
        m = id_card();
        m.description = "说".repeat(501);
        assert_eq!(fields(&m)[0].0, "description");
    }

    #[test]
    fn references_are_checked_and_names_filled() {
        let mut item = Catalog::demo().items.remove(0);
        item.materials[0].material_id = Some("M-NONE".into());
        let e = unknown_references(&item, |id| id != "M-NONE");
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].field, "materials[0].material_id");
        assert!(unknown_references(&item, |_| true).is_empty());

        item.materials[0].name = String::new();
        item.materials[0].material_id = Some("M-0001".into());
        let wording = item.materials[1].name.clone();
        fill_names(&mut item, |id| {
            (id == "M-0001").then(|| "居民身份证".into())
        });
        assert_eq!(item.materials[0].name, "居民身份证");
        assert_eq!(item.materials[1].name, wording, "a wording is kept");
    }

    #[test]
    fn every_demo_material_row_refers_to_the_demo_catalogue() {
        let c = Catalog::demo();
        assert!(c.materials.len() > 50, "{}", c.materials.len());
        let mut ids = std::collections::HashSet::new();
        for m in &c.materials {
            assert!(m.validate().is_ok(), "{m:?}");
            assert!(ids.insert(m.id.as_str()), "{} twice", m.id);
        }
        for item in &c.items {
            for m in &item.materials {
                let id = m.material_id.as_deref().expect("every demo row has an id");
                assert!(ids.contains(id), "{}: {id}", item.code);
            }
        }
        let kinds: std::collections::HashSet<_> = c.materials.iter().map(|m| m.kind).collect();
        assert_eq!(kinds.len(), MaterialKind::ALL.len(), "every kind is shown");
    }
}
