//! The applicant of a case and their agent (代办人), as the window checks them: the
//! identifiers parsed by their own rules (GB 11643 ID card, GB 32100 credit code, mobile
//! number), stored in full and shown masked; and what the decider may see of them.

use crate::access::Role;
use crate::ids::{mask_id_card, CreditCode, IdCardNumber, MobileNumber};
use crate::validation::{self, FieldErrors};
use chrono::{Datelike, NaiveDate};

/// The applicant and agent fields as typed at the window or sent to the API.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplicantInput<'a> {
    /// `person` or `company`.
    pub kind: &'a str,
    pub name: &'a str,
    /// An ID card number for a person, a unified social credit code for a company.
    pub id: &'a str,
    pub phone: &'a str,
    pub agent_name: Option<&'a str>,
    pub agent_id: Option<&'a str>,
    /// Why the clerk accepts a credit code whose check character does not match (an old
    /// licence checked by hand): without it such a code is refused.
    pub credit_code_override: Option<&'a str>,
}

/// An applicant whose identifiers passed their checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    /// The identifier as stored (normalised: upper case, half width).
    pub id: String,
    /// The identifier as shown on pages and printed documents.
    pub id_masked: String,
    pub agent: Option<Agent>,
    /// The credit code's check warning and the clerk's reason for accepting it anyway,
    /// recorded on the case.
    pub credit_warning: Option<String>,
}

/// The person applying on the applicant's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub id_masked: String,
}

impl Applicant {
    /// Checks the applicant and agent fields, adding each problem to `errors` under its
    /// field's name. `None` when any was added; the identifiers' own parsers are not run
    /// on text that is already too long or malformed, so one field gets one message.
    pub fn check(
        input: &ApplicantInput<'_>,
        today: NaiveDate,
        errors: &mut FieldErrors,
    ) -> Option<Applicant> {
        let before = errors.0.len();
        errors.required("applicant_name", "申请人姓名或单位名称", input.name);
        let texts = [
            (
                "applicant_name",
                "申请人姓名或单位名称",
                Some(input.name),
                validation::APPLICANT_NAME,
            ),
            (
                "applicant_id",
                "证件号码",
                Some(input.id),
                validation::ID_NUMBER,
            ),
            (
                "applicant_phone",
                "手机号码",
                Some(input.phone),
                validation::PHONE,
            ),
            (
                "agent_name",
                "代办人姓名",
                input.agent_name,
                validation::PERSON_NAME,
            ),
            (
                "agent_id",
                "代办人身份证号码",
                input.agent_id,
                validation::ID_NUMBER,
            ),
            (
                "credit_code_override",
                "核实理由",
                input.credit_code_override,
                validation::OVERRIDE_REASON,
            ),
        ];
        let mut texts_ok = true;
        for (field, label, value, limit) in texts {
            texts_ok &= errors.text(field, label, value.unwrap_or(""), limit);
        }
        if !texts_ok {
            return None;
        }
        let mut id = None;
        let mut credit_warning = None;
        match input.kind {
            "person" => match IdCardNumber::parse(input.id, today) {
                Ok(v) => id = Some((v.as_str().to_string(), v.masked())),
                Err(e) => errors.add("applicant_id", e.code(), format!("身份证号码有误：{e}")),
            },
            "company" => match CreditCode::parse_lenient(input.id) {
                Ok(c) => {
                    if let Some(w) = c.check_warning() {
                        match input
                            .credit_code_override
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                        {
                            Some(reason) => {
                                credit_warning = Some(format!("{w}；窗口核实理由：{reason}"))
                            }
                            None => errors.add(
                                "applicant_id",
                                "check_character_warning",
                                format!(
                                    "统一社会信用代码{w}。如已核对营业执照原件无误，请填写核实理由后再提交"
                                ),
                            ),
                        }
                    }
                    id = Some((c.as_str().to_string(), mask_id_card(c.as_str())));
                }
                Err(e) => errors.add(
                    "applicant_id",
                    e.code(),
                    format!("统一社会信用代码有误：{e}"),
                ),
            },
            _ => errors.add(
                "applicant_kind",
                "unknown",
                "请选择申请人类型（个人或单位）",
            ),
        }
        if let Err(e) = MobileNumber::parse(input.phone) {
            errors.add("applicant_phone", e.code(), format!("手机号码有误：{e}"));
        }
        let mut agent = None;
        let named = input
            .agent_name
            .map(str::trim)
            .is_some_and(|n| !n.is_empty());
        let id_given = input.agent_id.map(str::trim).is_some_and(|n| !n.is_empty());
        if id_given && !named {
            // An agent's number without a name would be dropped without a word.
            errors.add(
                "agent_name",
                "required",
                "填写了代办人身份证号码，请同时填写代办人姓名",
            );
        }
        if named {
            match IdCardNumber::parse(input.agent_id.unwrap_or(""), today) {
                Ok(v) => {
                    agent = Some(Agent {
                        id: v.as_str().to_string(),
                        id_masked: v.masked(),
                    })
                }
                Err(e) => errors.add("agent_id", e.code(), format!("代办人身份证号码有误：{e}")),
            }
        }
        if errors.0.len() > before {
            return None;
        }
        let (id, id_masked) = id?;
        Some(Applicant {
            id,
            id_masked,
            agent,
            credit_warning,
        })
    }
}

/// What the person deciding a case may see of the applicant beyond the masked identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeciderFacts {
    /// The birth date read from the ID card and the age on the given day — shown when the
    /// item's conditions depend on age (高龄津贴 at 80), which the masked number hides.
    pub birth: Option<(NaiveDate, u32)>,
    /// The mobile number, to roles that tell the applicant to collect the result.
    pub phone: Option<String>,
}

impl DeciderFacts {
    /// The facts `role` may see of a person applicant with the stored `id` and `phone`,
    /// for an item whose conditions read `conditions`, on `today`.
    pub fn for_role(
        roles: &[Role],
        applicant_kind: &str,
        id: &str,
        phone: &str,
        conditions: &str,
        today: NaiveDate,
    ) -> DeciderFacts {
        let deciding = roles.iter().any(|r| sees_applicant_contact(*r));
        if !deciding {
            return DeciderFacts::default();
        }
        let birth = (applicant_kind == "person" && conditions_use_age(conditions))
            .then(|| IdCardNumber::parse(id, today).ok())
            .flatten()
            .map(|card| {
                let born = card.birth_date();
                (born, age_on(born, today))
            });
        DeciderFacts {
            birth,
            phone: (!phone.trim().is_empty()).then(|| phone.trim().to_string()),
        }
    }
}

/// Whether a role works with the applicant directly on a case — takes it in, decides it or
/// hands the result over — and so may see the applicant's phone and, where the conditions
/// need it, the birth date. A guide, a supervisor or a grid worker sees the masked identity.
pub fn sees_applicant_contact(role: Role) -> bool {
    matches!(
        role,
        Role::WindowClerk | Role::Approver | Role::FallbackOfficer
    )
}

/// Whether an item's conditions (受理条件) turn on the applicant's age.
pub fn conditions_use_age(conditions: &str) -> bool {
    [
        "周岁",
        "年龄",
        "岁以上",
        "岁及以上",
        "岁以下",
        "高龄",
        "老年人",
    ]
    .iter()
    .any(|w| conditions.contains(w))
}

/// Age in whole years on `day` (a birthday counts on the day; 29 February on 1 March in
/// common years).
pub fn age_on(born: NaiveDate, day: NaiveDate) -> u32 {
    let mut years = day.year() - born.year();
    if (day.month(), day.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn person<'a>(id: &'a str, phone: &'a str) -> ApplicantInput<'a> {
        ApplicantInput {
            kind: "person",
            name: "赵六",
            id,
            phone,
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_person_is_stored_in_full_and_shown_masked() {
        let mut errors = FieldErrors::new();
        let a = Applicant::check(
            &person("11010519491231002x", "13800138000"),
            day("2026-12-01"),
            &mut errors,
        )
        .expect("valid");
        assert!(errors.0.is_empty());
        assert_eq!(a.id, "11010519491231002X");
        assert_eq!(a.id_masked, "110105********002X");
        assert_eq!(a.agent, None);
    }

    #[test]
    fn each_bad_field_is_named_once() {
        let mut errors = FieldErrors::new();
        let a = Applicant::check(
            &person("110105194912310021", "12345"),
            day("2026-12-01"),
            &mut errors,
        );
        assert!(a.is_none());
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["applicant_id", "applicant_phone"]);
    }

    #[test]
    fn an_overlong_id_is_refused_by_length_before_it_is_parsed() {
        let mut errors = FieldErrors::new();
        let long = "1".repeat(40);
        assert!(Applicant::check(
            &person(&long, "13800138000"),
            day("2026-12-01"),
            &mut errors
        )
        .is_none());
        assert_eq!(errors.0.len(), 1, "{errors:?}");
        assert_eq!(errors.0[0].field, "applicant_id");
    }

    #[test]
    fn an_agent_needs_a_valid_id_card() {
        let mut errors = FieldErrors::new();
        let input = ApplicantInput {
            agent_name: Some("钱七"),
            agent_id: Some("123"),
            ..person("11010519491231002X", "13800138000")
        };
        assert!(Applicant::check(&input, day("2026-12-01"), &mut errors).is_none());
        assert_eq!(errors.0[0].field, "agent_id");
    }

    #[test]
    fn an_agent_number_without_a_name_is_named() {
        let mut errors = FieldErrors::new();
        let input = ApplicantInput {
            agent_id: Some("11010519491231002X"),
            ..person("11010519491231002X", "13800138000")
        };
        assert!(Applicant::check(&input, day("2026-12-01"), &mut errors).is_none());
        assert_eq!(errors.0[0].field, "agent_name");
    }

    #[test]
    fn an_unknown_kind_is_named() {
        let mut errors = FieldErrors::new();
        let input = ApplicantInput {
            kind: "robot",
            ..person("11010519491231002X", "13800138000")
        };
        assert!(Applicant::check(&input, day("2026-12-01"), &mut errors).is_none());
        assert_eq!(errors.0[0].field, "applicant_kind");
    }

    #[test]
    fn age_counts_whole_years_from_the_birthday() {
        assert_eq!(age_on(day("1946-12-02"), day("2026-12-01")), 79);
        assert_eq!(age_on(day("1946-12-02"), day("2026-12-02")), 80);
        assert_eq!(age_on(day("2000-02-29"), day("2026-02-28")), 25);
        assert_eq!(age_on(day("2000-02-29"), day("2026-03-01")), 26);
    }

    #[test]
    fn the_decider_sees_the_age_only_where_conditions_use_it() {
        let today = day("2026-12-01");
        let id = "11010519491231002X";
        let aged = DeciderFacts::for_role(
            &[Role::Approver],
            "person",
            id,
            "13800138000",
            "年满80周岁的本区户籍老年人",
            today,
        );
        assert_eq!(aged.birth, Some((day("1949-12-31"), 76)));
        assert_eq!(aged.phone.as_deref(), Some("13800138000"));
        let other = DeciderFacts::for_role(
            &[Role::Approver],
            "person",
            id,
            "13800138000",
            "持有效证件",
            today,
        );
        assert_eq!(other.birth, None);
        let guide = DeciderFacts::for_role(
            &[Role::GuideDesk, Role::Supervisor],
            "person",
            id,
            "13800138000",
            "年满80周岁",
            today,
        );
        assert_eq!(
            guide,
            DeciderFacts::default(),
            "a guide and a supervisor see the masked identity only"
        );
    }
}
