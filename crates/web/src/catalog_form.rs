//! The administrator's field-by-field form for one service item (事项编辑表单).
//!
//! Every input is named by the item's JSON path (`name`, `materials[2].copies`,
//! `faq[0].q`), the same names `ServiceItem::validate` gives its errors, so an error is
//! shown beside the field it is about. The form round-trips: an item becomes an
//! [`ItemForm`] of strings to show, a submitted form becomes the same [`ItemForm`] (so a
//! refused save shows exactly what was typed) and [`ItemForm::to_item`] parses it.

use crate::form::FormData;
use onewindow_domain::catalog::{Faq, ItemType, Material, MaterialForm, ServiceItem};
use onewindow_domain::fees::{Charge, Fee, Fen};
use onewindow_domain::validation::{FieldError, FieldErrors};

/// Blank rows offered for adding materials and questions: enough for a typical edit
/// without script; a save shows fresh blank rows again.
const BLANK_MATERIAL_ROWS: usize = 3;
const BLANK_FAQ_ROWS: usize = 2;

/// One material row as shown in the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialInput {
    pub name: String,
    pub form: String,
    pub copies: String,
    pub required: bool,
    pub tolerable: bool,
    pub e_cert: bool,
    pub commitment: bool,
    pub source: String,
    pub note: String,
    /// The material of the catalogue the row asks for (blank: none).
    pub material_id: String,
    /// A row of the item as stored (a hidden input), not one offered for adding: clearing
    /// its name removes it, whatever material it refers to.
    pub stored: bool,
}

impl MaterialInput {
    /// An empty row to add a material in: nothing ticked, so a row left empty says nothing
    /// and a new material is required only if the administrator ticks it.
    fn blank() -> Self {
        MaterialInput {
            name: String::new(),
            form: MaterialForm::Original.as_str().into(),
            copies: "1".into(),
            required: false,
            tolerable: false,
            e_cert: false,
            commitment: false,
            source: String::new(),
            note: String::new(),
            material_id: String::new(),
            stored: false,
        }
    }

    /// A row that is part of the item: it has a name, or — a row offered for adding — a
    /// material of the catalogue (whose name it takes). A stored row whose name was
    /// cleared is removed.
    pub fn is_filled(&self) -> bool {
        !self.name.trim().is_empty() || (!self.stored && !self.material_id.trim().is_empty())
    }
}

/// The item's fields as the form shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemForm {
    pub name: String,
    pub parent_code: String,
    pub variant: String,
    pub item_type: String,
    pub window_class: String,
    pub department_code: String,
    pub legal_basis: String,
    pub conditions: String,
    pub materials: Vec<MaterialInput>,
    pub legal_limit_days: String,
    pub promised_limit_days: String,
    /// The fee: `free`, `fixed` or `per_unit` ([`Charge::kind`]).
    pub fee_kind: String,
    /// 元 as typed: the fixed amount, or the price of one unit.
    pub fee_amount: String,
    pub fee_unit: String,
    /// 元 as typed: the most one case pays for a per-unit fee; blank for no cap.
    pub fee_cap: String,
    pub fee_basis: String,
    pub fee_note: String,
    pub fee_pay_before_issue: bool,
    /// The text an older version held as the fee, while it waits for review; saving
    /// needs `fee_reviewed` ticked.
    pub fee_review: String,
    pub fee_reviewed: bool,
    pub place: String,
    pub hours: String,
    pub online: bool,
    pub visits: String,
    /// One step per line.
    pub steps: String,
    pub faq: Vec<(String, String)>,
    pub consult_phone: String,
    pub complaint_phone: String,
    pub commitment_allowed: bool,
    pub approve_at_window: bool,
    /// Separated by 、 ， or , (a keyword may hold a blank: 「退休人员 档案」).
    pub keywords: String,
    /// The version the form was opened at: a save over a newer version is a conflict, so
    /// a refused save shows it again rather than the newest one (which would overwrite
    /// whatever another administrator saved meanwhile).
    pub version: String,
    /// When the new version takes effect (blank: today).
    pub effective_from: String,
}

impl ItemForm {
    pub fn from_item(item: &ServiceItem, version: i64) -> Self {
        let mut materials: Vec<MaterialInput> = item
            .materials
            .iter()
            .map(|m| MaterialInput {
                name: m.name.clone(),
                form: m.form.as_str().into(),
                copies: m.copies.to_string(),
                required: m.required,
                tolerable: m.tolerable,
                e_cert: m.e_cert,
                commitment: m.commitment,
                source: m.source.clone(),
                note: m.note.clone(),
                material_id: m.material_id.clone().unwrap_or_default(),
                stored: true,
            })
            .collect();
        materials.extend(std::iter::repeat_n(
            MaterialInput::blank(),
            BLANK_MATERIAL_ROWS,
        ));
        let mut faq: Vec<(String, String)> = item
            .faq
            .iter()
            .map(|f| (f.q.clone(), f.a.clone()))
            .collect();
        faq.extend(std::iter::repeat_n(
            (String::new(), String::new()),
            BLANK_FAQ_ROWS,
        ));
        ItemForm {
            name: item.name.clone(),
            parent_code: item.parent_code.clone().unwrap_or_default(),
            variant: item.variant.clone().unwrap_or_default(),
            item_type: item.item_type.as_str().into(),
            window_class: item.window_class.clone(),
            department_code: item.department_code.clone(),
            legal_basis: item.legal_basis.clone(),
            conditions: item.conditions.clone(),
            materials,
            legal_limit_days: item
                .legal_limit_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            promised_limit_days: item.promised_limit_days.to_string(),
            fee_kind: item.fee.charge.kind().into(),
            fee_amount: match &item.fee.charge {
                Charge::Free => String::new(),
                Charge::Fixed { amount_fen } | Charge::PerUnit { amount_fen, .. } => {
                    amount_fen.yuan()
                }
            },
            fee_unit: match &item.fee.charge {
                Charge::PerUnit { unit, .. } => unit.clone(),
                _ => String::new(),
            },
            fee_cap: match &item.fee.charge {
                Charge::PerUnit {
                    cap_fen: Some(cap), ..
                } => cap.yuan(),
                _ => String::new(),
            },
            fee_basis: item.fee.basis.clone(),
            fee_note: item.fee.note.clone(),
            fee_pay_before_issue: item.fee.pay_before_issue,
            fee_review: item.fee.review.clone().unwrap_or_default(),
            fee_reviewed: false,
            place: item.place.clone(),
            hours: item.hours.clone(),
            online: item.online,
            visits: item.visits.to_string(),
            steps: item.steps.join("\n"),
            faq,
            consult_phone: item.consult_phone.clone(),
            complaint_phone: item.complaint_phone.clone(),
            commitment_allowed: item.commitment_allowed,
            approve_at_window: item.approve_at_window,
            keywords: item.keywords.join("、"),
            version: version.to_string(),
            effective_from: String::new(),
        }
    }

    /// What was submitted, as typed (rows are read until the first index not present).
    pub fn from_form(form: &FormData) -> Self {
        // Browsers send line breaks in text areas as CRLF; the item keeps LF, so saving an
        // untouched item is not a change.
        let text = |name: &str| form.get(name).replace("\r\n", "\n");
        let mut materials = Vec::new();
        while form.has(&format!("materials[{}].name", materials.len())) {
            let f = |field: &str| format!("materials[{}].{field}", materials.len());
            materials.push(MaterialInput {
                name: text(&f("name")),
                form: text(&f("form")),
                copies: text(&f("copies")),
                required: form.checked(&f("required")),
                tolerable: form.checked(&f("tolerable")),
                e_cert: form.checked(&f("e_cert")),
                commitment: form.checked(&f("commitment")),
                source: text(&f("source")),
                note: text(&f("note")),
                material_id: text(&f("material_id")),
                stored: form.checked(&f("stored")),
            });
        }
        let mut faq = Vec::new();
        while form.has(&format!("faq[{}].q", faq.len())) {
            let i = faq.len();
            faq.push((text(&format!("faq[{i}].q")), text(&format!("faq[{i}].a"))));
        }
        ItemForm {
            name: text("name"),
            parent_code: text("parent_code"),
            variant: text("variant"),
            item_type: text("item_type"),
            window_class: text("window_class"),
            department_code: text("department_code"),
            legal_basis: text("legal_basis"),
            conditions: text("conditions"),
            materials,
            legal_limit_days: text("legal_limit_days"),
            promised_limit_days: text("promised_limit_days"),
            fee_kind: text("fee.kind"),
            fee_amount: text("fee.amount"),
            fee_unit: text("fee.unit"),
            fee_cap: text("fee.cap"),
            fee_basis: text("fee.basis"),
            fee_note: text("fee.note"),
            fee_pay_before_issue: form.checked("fee.pay_before_issue"),
            fee_review: text("fee.review"),
            fee_reviewed: form.checked("fee.reviewed"),
            place: text("place"),
            hours: text("hours"),
            online: form.checked("online"),
            visits: text("visits"),
            steps: text("steps"),
            faq,
            consult_phone: text("consult_phone"),
            complaint_phone: text("complaint_phone"),
            commitment_allowed: form.checked("commitment_allowed"),
            approve_at_window: form.checked("approve_at_window"),
            keywords: text("keywords"),
            version: text("version"),
            effective_from: text("effective_from"),
        }
    }

    /// The item the form describes, or what cannot be read (numbers, choices). The item's
    /// own rules are checked afterwards by `ServiceItem::validate` when it is saved.
    ///
    /// A material or question row whose name (question) is blank is not part of the item:
    /// that is how a row is removed, and why blank rows can be offered for adding.
    pub fn to_item(&self, code: &str) -> Result<ServiceItem, FieldErrors> {
        let mut e = FieldErrors::new();
        let item_type = ItemType::parse(&self.item_type).unwrap_or_else(|| {
            e.add("item_type", "unknown", "请选择事项类型");
            ItemType::PublicService
        });
        let mut materials = Vec::new();
        for (i, m) in self.materials.iter().enumerate() {
            if !m.is_filled() {
                continue;
            }
            let form = MaterialForm::parse(&m.form).unwrap_or_else(|| {
                e.add(
                    &format!("materials[{i}].form"),
                    "unknown",
                    format!(
                        "请选择材料「{}」的形式（原件、复印件或原件及复印件）",
                        m.name.trim()
                    ),
                );
                MaterialForm::Original
            });
            let copies = count(
                &mut e,
                &format!("materials[{i}].copies"),
                &format!("材料「{}」的份数", m.name.trim()),
                &m.copies,
            )
            .unwrap_or(1);
            materials.push(Material {
                name: m.name.trim().to_string(),
                form,
                copies,
                required: m.required,
                tolerable: m.tolerable,
                e_cert: m.e_cert,
                commitment: m.commitment,
                source: m.source.trim().to_string(),
                note: m.note.trim().to_string(),
                material_id: Some(m.material_id.trim())
                    .filter(|id| !id.is_empty())
                    .map(String::from),
            });
        }
        let legal_limit_days = if self.legal_limit_days.trim().is_empty() {
            None
        } else {
            count(
                &mut e,
                "legal_limit_days",
                "法定时限",
                &self.legal_limit_days,
            )
        };
        let promised_limit_days = count(
            &mut e,
            "promised_limit_days",
            "承诺时限",
            &self.promised_limit_days,
        )
        .unwrap_or(0);
        let visits = count(&mut e, "visits", "到现场次数", &self.visits).unwrap_or(0);
        let faq = self
            .faq
            .iter()
            .enumerate()
            .filter(|(_, (q, _))| !q.trim().is_empty())
            .map(|(i, (q, a))| {
                if a.trim().is_empty() {
                    e.add(
                        &format!("faq[{i}].a"),
                        "required",
                        format!("请填写问题「{}」的答复", q.trim()),
                    );
                }
                Faq {
                    q: q.trim().to_string(),
                    a: a.trim().to_string(),
                }
            })
            .collect();
        let fee = self.fee(&mut e);
        let optional = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let item = ServiceItem {
            code: code.to_string(),
            name: self.name.trim().to_string(),
            parent_code: optional(&self.parent_code),
            variant: optional(&self.variant),
            item_type,
            window_class: self.window_class.trim().to_string(),
            department_code: self.department_code.trim().to_string(),
            legal_basis: self.legal_basis.trim().to_string(),
            conditions: self.conditions.trim().to_string(),
            materials,
            legal_limit_days,
            promised_limit_days,
            fee,
            place: self.place.trim().to_string(),
            hours: self.hours.trim().to_string(),
            online: self.online,
            visits,
            steps: self
                .steps
                .lines()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            faq,
            consult_phone: self.consult_phone.trim().to_string(),
            complaint_phone: self.complaint_phone.trim().to_string(),
            commitment_allowed: self.commitment_allowed,
            approve_at_window: self.approve_at_window,
            keywords: self
                .keywords
                .split(['、', '，', ',', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        };
        if e.is_empty() {
            return Ok(item);
        }
        // Refused anyway: name every problem at once, the item's own rules included, so
        // the administrator does not fix one field only to be told of the next.
        if let Err(rules) = item.validate() {
            for err in self.errors_in_form_terms(code, rules.0) {
                if !e.0.iter().any(|known| known.field == err.field) {
                    e.0.push(err);
                }
            }
        }
        Err(e)
    }

    /// The fee the form describes; amounts that cannot be read are named (`fee.amount`,
    /// `fee.cap`) and count as nothing, which the item's own rules then refuse too.
    fn fee(&self, e: &mut FieldErrors) -> Fee {
        let yuan =
            |e: &mut FieldErrors, field: &str, label: &str, text: &str| match Fen::parse_yuan(text)
            {
                Ok(a) => a,
                Err(err) => {
                    let message = match &err {
                        onewindow_domain::fees::AmountError::Empty => format!("请填写{label}"),
                        other => format!("{label}：{other}"),
                    };
                    e.add(field, err.code(), message);
                    Fen::ZERO
                }
            };
        let charge = match self.fee_kind.trim() {
            "free" => Charge::Free,
            "fixed" => Charge::Fixed {
                amount_fen: yuan(e, "fee.amount", "收费金额", &self.fee_amount),
            },
            "per_unit" => Charge::PerUnit {
                amount_fen: yuan(e, "fee.amount", "单价", &self.fee_amount),
                unit: self.fee_unit.trim().to_string(),
                cap_fen: match self.fee_cap.trim() {
                    "" => None,
                    cap => Some(yuan(e, "fee.cap", "每件最高金额", cap)),
                },
            },
            _ => {
                e.add(
                    "fee.kind",
                    "unknown",
                    "请选择收费方式（不收费、按件固定收费或按单位收费）",
                );
                Charge::Free
            }
        };
        let review = self.fee_review.trim();
        Fee {
            charge,
            basis: self.fee_basis.trim().to_string(),
            note: self.fee_note.trim().to_string(),
            pay_before_issue: self.fee_pay_before_issue,
            // An old text waits for review until the administrator says it was checked.
            review: (!review.is_empty() && !self.fee_reviewed).then(|| review.to_string()),
        }
    }

    /// The choices of the fee's kind, and whether each is selected.
    pub fn fee_kinds(&self) -> Vec<(&'static str, &'static str, bool)> {
        [
            ("free", "不收费"),
            ("fixed", "按件固定收费"),
            ("per_unit", "按单位收费（本、份、平方米…）"),
        ]
        .into_iter()
        .map(|(v, l)| (v, l, self.fee_kind == v))
        .collect()
    }

    /// Errors about the item (`materials[i]` counts the item's materials, blank rows left
    /// out; catalog checks prefix fields with the item code) renamed to the form's inputs,
    /// so each is shown beside the row the administrator typed it in.
    pub fn errors_in_form_terms(&self, code: &str, errors: Vec<FieldError>) -> Vec<FieldError> {
        let material_rows: Vec<usize> = (0..self.materials.len())
            .filter(|&i| self.materials[i].is_filled())
            .collect();
        let faq_rows: Vec<usize> = (0..self.faq.len())
            .filter(|&i| !self.faq[i].0.trim().is_empty())
            .collect();
        let code_prefix = format!("{code}.");
        errors
            .into_iter()
            .map(|mut err| {
                if let Some(rest) = err.field.strip_prefix(&code_prefix) {
                    err.field = rest.to_string();
                }
                // Amounts are fen in the item, 元 in the form.
                match err.field.as_str() {
                    "fee.amount_fen" => err.field = "fee.amount".into(),
                    "fee.cap_fen" => err.field = "fee.cap".into(),
                    _ => {}
                }
                for (list, rows) in [("materials", &material_rows), ("faq", &faq_rows)] {
                    let Some(rest) = err
                        .field
                        .strip_prefix(list)
                        .and_then(|r| r.strip_prefix('['))
                    else {
                        continue;
                    };
                    let Some((index, tail)) = rest.split_once(']') else {
                        continue;
                    };
                    if let Some(row) = index.parse::<usize>().ok().and_then(|i| rows.get(i)) {
                        err.field = format!("{list}[{row}]{tail}");
                    }
                }
                err
            })
            .collect()
    }
}

/// A whole number of days, copies or visits: digits only (full-width digits as typed on a
/// Chinese keyboard too). Ranges are the item's rules (`ServiceItem::validate`); 999 only
/// keeps absurd input out.
fn count(e: &mut FieldErrors, field: &str, label: &str, value: &str) -> Option<u32> {
    let digits: String = value
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            c => c,
        })
        .collect();
    match digits.parse::<u32>() {
        Ok(n) if n <= 999 => Some(n),
        _ if digits.is_empty() => {
            e.add(field, "required", format!("请填写{label}"));
            None
        }
        _ => {
            e.add(
                field,
                "not_a_number",
                format!("{label}须为整数（如 1、15），填写的是「{}」", value.trim()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onewindow_domain::catalog::Catalog;

    fn demo_items() -> Vec<ServiceItem> {
        let catalog: Catalog =
            serde_json::from_str(include_str!("../../domain/data/demo-catalog.json")).unwrap();
        catalog.items
    }

    /// What a browser would send for the form as shown.
    fn submitted(f: &ItemForm) -> FormData {
        let mut pairs: Vec<(String, String)> = vec![];
        let mut put = |k: String, v: &str| pairs.push((k, v.to_string()));
        put("name".into(), &f.name);
        put("parent_code".into(), &f.parent_code);
        put("variant".into(), &f.variant);
        put("item_type".into(), &f.item_type);
        put("window_class".into(), &f.window_class);
        put("department_code".into(), &f.department_code);
        put("legal_basis".into(), &f.legal_basis);
        put("conditions".into(), &f.conditions);
        for (i, m) in f.materials.iter().enumerate() {
            put(format!("materials[{i}].name"), &m.name);
            put(format!("materials[{i}].form"), &m.form);
            put(format!("materials[{i}].copies"), &m.copies);
            for (field, on) in [
                ("required", m.required),
                ("tolerable", m.tolerable),
                ("e_cert", m.e_cert),
                ("commitment", m.commitment),
            ] {
                if on {
                    put(format!("materials[{i}].{field}"), "1");
                }
            }
            put(format!("materials[{i}].source"), &m.source);
            put(format!("materials[{i}].note"), &m.note);
            put(format!("materials[{i}].material_id"), &m.material_id);
            if m.stored {
                put(format!("materials[{i}].stored"), "1");
            }
        }
        put("legal_limit_days".into(), &f.legal_limit_days);
        put("promised_limit_days".into(), &f.promised_limit_days);
        put("fee.kind".into(), &f.fee_kind);
        put("fee.amount".into(), &f.fee_amount);
        put("fee.unit".into(), &f.fee_unit);
        put("fee.cap".into(), &f.fee_cap);
        put("fee.basis".into(), &f.fee_basis);
        put("fee.note".into(), &f.fee_note);
        if f.fee_pay_before_issue {
            put("fee.pay_before_issue".into(), "1");
        }
        if !f.fee_review.is_empty() {
            put("fee.review".into(), &f.fee_review);
        }
        if f.fee_reviewed {
            put("fee.reviewed".into(), "1");
        }
        put("place".into(), &f.place);
        put("hours".into(), &f.hours);
        if f.online {
            put("online".into(), "1");
        }
        put("visits".into(), &f.visits);
        put("steps".into(), &f.steps);
        for (i, (q, a)) in f.faq.iter().enumerate() {
            put(format!("faq[{i}].q"), q);
            put(format!("faq[{i}].a"), a);
        }
        put("consult_phone".into(), &f.consult_phone);
        put("complaint_phone".into(), &f.complaint_phone);
        if f.commitment_allowed {
            put("commitment_allowed".into(), "1");
        }
        if f.approve_at_window {
            put("approve_at_window".into(), "1");
        }
        put("keywords".into(), &f.keywords);
        put("version".into(), &f.version);
        put("effective_from".into(), &f.effective_from);
        FormData(pairs)
    }

    #[test]
    fn every_demo_item_survives_the_form_unchanged() {
        for item in demo_items() {
            let shown = ItemForm::from_item(&item, 1);
            let back = ItemForm::from_form(&submitted(&shown));
            assert_eq!(
                back, shown,
                "{}: the form reads back what it showed",
                item.code
            );
            assert_eq!(back.to_item(&item.code).unwrap(), item, "{}", item.code);
        }
    }

    #[test]
    fn blank_rows_add_nothing_and_a_cleared_name_removes_a_material() {
        let item = demo_items().remove(0);
        let mut form = ItemForm::from_item(&item, 1);
        let removed = form.materials[0].name.clone();
        form.materials[0].name = "  ".into();
        let last = form.materials.len() - 1;
        form.materials[last].name = "户口簿".into();
        let edited = form.to_item(&item.code).unwrap();
        assert!(edited.materials.iter().all(|m| m.name != removed));
        assert_eq!(edited.materials.len(), item.materials.len());
        assert_eq!(edited.materials.last().unwrap().name, "户口簿");
    }

    #[test]
    fn unreadable_numbers_and_choices_name_their_field() {
        let item = demo_items().remove(0);
        let mut form = ItemForm::from_item(&item, 1);
        form.promised_limit_days = "五".into();
        form.visits = String::new();
        form.materials[0].copies = "-1".into();
        form.materials[0].form = "扫描件".into();
        form.faq = vec![("可以代办吗？".into(), " ".into())];
        form.fee_kind = "fixed".into();
        form.fee_amount = String::new();
        form.fee_basis = String::new();
        let errors = form.to_item(&item.code).unwrap_err().0;
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "materials[0].form",
                "materials[0].copies",
                "promised_limit_days",
                "visits",
                "faq[0].a",
                "fee.amount",
                "fee.basis"
            ]
        );
        assert_eq!(errors[5].message, "请填写收费金额");
        assert!(
            errors[6].message.contains("收费依据"),
            "the item's own rules are reported in the same answer"
        );
        assert!(
            errors[2].message.contains("「五」"),
            "{}",
            errors[2].message
        );
    }

    #[test]
    fn blank_material_rows_are_not_ticked() {
        let item = demo_items().remove(0);
        let form = ItemForm::from_item(&item, 1);
        let blank: Vec<&MaterialInput> = form.materials[item.materials.len()..].iter().collect();
        assert_eq!(blank.len(), BLANK_MATERIAL_ROWS);
        assert!(blank
            .iter()
            .all(|m| !m.required && !m.tolerable && !m.e_cert && !m.commitment));
        // A name typed in a blank row adds an optional material unless 必需 is ticked.
        let mut form = form;
        let row = item.materials.len();
        form.materials[row].name = "户口簿".into();
        let added = form.to_item(&item.code).unwrap();
        assert!(!added.materials.last().unwrap().required);
    }

    #[test]
    fn a_blank_row_given_a_catalogue_material_adds_it_unrequired() {
        let item = demo_items().remove(0);
        let mut form = ItemForm::from_item(&item, 1);
        let row = item.materials.len();
        form.materials[row].material_id = "M-0050".into();
        let back = ItemForm::from_form(&submitted(&form));
        let mut added = back.to_item(&item.code).unwrap();
        assert_eq!(added.materials.len(), item.materials.len() + 1);
        let new = added.materials.last().unwrap();
        assert_eq!(new.material_id.as_deref(), Some("M-0050"));
        assert!(new.name.is_empty() && !new.required);
        onewindow_domain::materials::fill_names(&mut added, |id| {
            (id == "M-0050").then(|| "结婚证".to_string())
        });
        assert_eq!(added.materials.last().unwrap().name, "结婚证");
        // A stored row whose name is cleared goes, though it names a material.
        let mut form = ItemForm::from_item(&item, 1);
        assert!(!form.materials[0].material_id.is_empty());
        form.materials[0].name.clear();
        let back = ItemForm::from_form(&submitted(&form));
        assert_eq!(
            back.to_item(&item.code).unwrap().materials.len(),
            item.materials.len() - 1
        );
    }

    #[test]
    fn fees_are_edited_as_kind_amount_unit_and_cap() {
        let mut item = demo_items().remove(0);
        let mut form = ItemForm::from_item(&item, 1);
        assert_eq!(
            (form.fee_kind.as_str(), form.fee_amount.as_str()),
            ("free", "")
        );
        form.fee_kind = "per_unit".into();
        form.fee_amount = "１０".into();
        form.fee_unit = " 页 ".into();
        form.fee_cap = "100元".into();
        form.fee_basis = "收费文件".into();
        form.fee_pay_before_issue = true;
        let edited = form.to_item(&item.code).unwrap();
        assert_eq!(edited.fee.charge.label(), "10.00 元/页，每件最高 100.00 元");
        assert!(edited.fee.pay_before_issue);
        edited.validate().unwrap();
        // And back: the form shows what it saved.
        let shown = ItemForm::from_item(&edited, 2);
        assert_eq!(
            (
                shown.fee_amount.as_str(),
                shown.fee_unit.as_str(),
                shown.fee_cap.as_str()
            ),
            ("10.00", "页", "100.00")
        );
        // Amounts that are not 元 are named by their input; the item's cap rule too.
        form.fee_amount = "十元".into();
        form.fee_cap = "1.234".into();
        let errors = form.to_item(&item.code).unwrap_err().0;
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["fee.amount", "fee.cap"]);
        form.fee_amount = "20".into();
        form.fee_cap = "10".into();
        let edited = form.to_item(&item.code).unwrap();
        let shown = form.errors_in_form_terms(&item.code, edited.validate().unwrap_err().0);
        assert_eq!(shown[0].field, "fee.cap");
        // An old text fee waits until the administrator ticks that it was checked.
        item.fee = Fee::from_legacy_text("工本费20元/张");
        let mut form = ItemForm::from_item(&item, 1);
        assert_eq!(form.fee_review, "工本费20元/张");
        let back = ItemForm::from_form(&submitted(&form));
        assert_eq!(back, form);
        let unchecked = form.to_item(&item.code).unwrap();
        assert_eq!(unchecked.validate().unwrap_err().0[0].field, "fee");
        form.fee_reviewed = true;
        form.fee_basis = "收费文件".into();
        let checked = form.to_item(&item.code).unwrap();
        assert!(checked.fee.review.is_none());
        checked.validate().unwrap();
        assert_eq!(checked.fee.charge.label(), "20.00 元/张");
    }

    #[test]
    fn full_width_digits_and_chinese_separators_are_understood() {
        let item = demo_items().remove(0);
        let mut form = ItemForm::from_item(&item, 1);
        form.promised_limit_days = "１５".into();
        form.legal_limit_days = "２０".into();
        form.keywords = "社保，补卡、 挂失,退休人员 档案".into();
        let edited = form.to_item(&item.code).unwrap();
        assert_eq!(edited.promised_limit_days, 15);
        assert_eq!(edited.legal_limit_days, Some(20));
        assert_eq!(edited.keywords, ["社保", "补卡", "挂失", "退休人员 档案"]);
    }

    #[test]
    fn an_items_rule_is_shown_beside_the_row_it_was_typed_in() {
        let item = demo_items().remove(0);
        let mut form = ItemForm::from_item(&item, 1);
        // Row 0 removed (name cleared), row 2 given an impossible number of copies, and
        // the second question left without an answer after the first was removed.
        form.materials[0].name.clear();
        form.materials[2].copies = "0".into();
        form.faq = vec![
            (String::new(), "旧答复".into()),
            ("可以代办吗？".into(), "可以".into()),
        ];
        let edited = form.to_item(&item.code).unwrap();
        let rules = edited.validate().unwrap_err().0;
        assert_eq!(
            rules[0].field, "materials[1].copies",
            "the item's own index"
        );
        let shown = form.errors_in_form_terms(&item.code, rules);
        assert_eq!(shown[0].field, "materials[2].copies", "the form's row");
        let catalog_level = vec![FieldError {
            field: format!("{}.department_code", item.code),
            code: "unknown_department".into(),
            message: "x".into(),
        }];
        assert_eq!(
            form.errors_in_form_terms(&item.code, catalog_level)[0].field,
            "department_code"
        );
    }

    #[test]
    fn line_breaks_from_a_browser_do_not_make_a_new_version() {
        let item = demo_items().remove(0);
        let shown = ItemForm::from_item(&item, 1);
        let pairs = vec![
            ("name".to_string(), shown.name.clone()),
            ("steps".to_string(), shown.steps.replace('\n', "\r\n")),
        ];
        let back = ItemForm::from_form(&FormData(pairs));
        assert_eq!(back.steps, shown.steps);
    }
}
