//! Personal and company identifiers: parsed newtypes that can only be built valid.
//!
//! Resident ID numbers follow GB 11643-1999, unified social credit codes GB 32100-2015,
//! mobile numbers the mainland `1[3-9]` + 9 digits form. Every rejection carries a stable
//! machine code (for the API) and a Chinese message (for pages and the CLI).

use chrono::{Datelike, NaiveDate};
use std::fmt;

/// Why a value was rejected. `code()` is stable and machine-readable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IdError {
    #[error("长度应为{expected}位，实际为{actual}位")]
    Length { expected: usize, actual: usize },
    #[error("第{position}位字符“{found}”不允许")]
    Charset { position: usize, found: char },
    #[error("地区码{0}不存在（省级代码无效）")]
    Region(String),
    #[error("出生日期{0}不是有效日期")]
    BirthDate(String),
    #[error("出生日期{0}晚于今天")]
    FutureBirthDate(String),
    #[error("号码校验未通过（末位校验码与前面各位不符），请与证件逐位核对，常见是中间某位输错")]
    CheckCharacter { expected: char, found: char },
    #[error("手机号应以1开头、第二位为3至9")]
    MobilePrefix,
}

impl IdError {
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Length { .. } => "length",
            IdError::Charset { .. } => "charset",
            IdError::Region(_) => "region",
            IdError::BirthDate(_) => "birth_date",
            IdError::FutureBirthDate(_) => "future_birth_date",
            IdError::CheckCharacter { .. } => "check_character",
            IdError::MobilePrefix => "mobile_prefix",
        }
    }
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_MAP: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes in use (GB/T 2260), the first two digits of a region code.
/// A full county table changes every year, so only the province level is checked here.
const PROVINCE_CODES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// The GB 11643 check character for the first 17 digits.
pub fn id_card_check_char(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK_MAP[(sum % 11) as usize]
}

/// An 18-digit resident identity card number, normalised (a trailing `x` is stored as `X`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdCardNumber(String);

impl IdCardNumber {
    /// Parses and checks region, birth date (a real date, not after `today`) and check character.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, IdError> {
        let value = raw.trim();
        let chars: Vec<char> = value.chars().collect();
        if chars.len() != 18 {
            return Err(IdError::Length {
                expected: 18,
                actual: chars.len(),
            });
        }
        for (i, c) in chars.iter().enumerate() {
            let ok = c.is_ascii_digit() || (i == 17 && (*c == 'X' || *c == 'x'));
            if !ok {
                return Err(IdError::Charset {
                    position: i + 1,
                    found: *c,
                });
            }
        }
        let normalised = value.to_ascii_uppercase();
        let bytes = normalised.as_bytes();
        let province = &normalised[0..2];
        if !PROVINCE_CODES.contains(&province) {
            return Err(IdError::Region(normalised[0..6].to_string()));
        }
        let birth = &normalised[6..14];
        let date = NaiveDate::parse_from_str(birth, "%Y%m%d")
            .map_err(|_| IdError::BirthDate(birth.to_string()))?;
        if date.year() < 1900 {
            return Err(IdError::BirthDate(birth.to_string()));
        }
        if date > today {
            return Err(IdError::FutureBirthDate(birth.to_string()));
        }
        let mut first17 = [0u8; 17];
        first17.copy_from_slice(&bytes[..17]);
        let expected = id_card_check_char(&first17);
        let found = bytes[17] as char;
        if expected != found {
            return Err(IdError::CheckCharacter { expected, found });
        }
        Ok(IdCardNumber(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("checked at parse")
    }

    /// Odd sequence digit (position 17) means male.
    pub fn is_male(&self) -> bool {
        (self.0.as_bytes()[16] - b'0') % 2 == 1
    }

    /// `110105********1234`: region kept, birth date hidden, last four kept.
    pub fn masked(&self) -> String {
        mask_id_card(&self.0)
    }
}

impl fmt::Display for IdCardNumber {
    /// Displays masked on purpose, so an ID never lands in a log by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Masks any ID-like string: keeps the first six and last four characters.
pub fn mask_id_card(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

const CREDIT_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn credit_value(c: char) -> Option<u32> {
    CREDIT_CHARSET.find(c).map(|i| i as u32)
}

/// The GB 32100 check character for the first 17 characters (all from the charset).
pub fn credit_code_check_char(first17: &str) -> Option<char> {
    let mut sum = 0;
    for (c, w) in first17.chars().zip(CREDIT_WEIGHTS) {
        sum += credit_value(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    CREDIT_CHARSET.chars().nth(check as usize)
}

/// A unified social credit code whose form is right. Whether its check character matched
/// is kept: some real codes fail the check, so a failure is a warning a clerk may override.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode {
    value: String,
    check_mismatch: Option<IdError>,
}

impl CreditCode {
    /// Strict parse: length, charset and check character must all be right.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let code = Self::parse_lenient(raw)?;
        match code.check_mismatch {
            Some(err) => Err(err),
            None => Ok(code),
        }
    }

    /// Lenient parse: length and charset must be right; a check mismatch is kept as a warning.
    pub fn parse_lenient(raw: &str) -> Result<Self, IdError> {
        let value = raw.trim().to_ascii_uppercase();
        let n = value.chars().count();
        if n != 18 {
            return Err(IdError::Length {
                expected: 18,
                actual: n,
            });
        }
        if let Some((i, c)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| credit_value(*c).is_none())
        {
            return Err(IdError::Charset {
                position: i + 1,
                found: c,
            });
        }
        let expected = credit_code_check_char(&value[..17]).expect("charset checked");
        let found = value.chars().nth(17).expect("length checked");
        let check_mismatch =
            (expected != found).then_some(IdError::CheckCharacter { expected, found });
        Ok(CreditCode {
            value,
            check_mismatch,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The check-character warning, if the code failed the GB 32100 check.
    pub fn check_warning(&self) -> Option<&IdError> {
        self.check_mismatch.as_ref()
    }
}

/// A mainland mobile number; only the form is validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MobileNumber(String);

impl MobileNumber {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let value = raw.trim();
        let n = value.chars().count();
        if n != 11 {
            return Err(IdError::Length {
                expected: 11,
                actual: n,
            });
        }
        if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(IdError::Charset {
                position: i + 1,
                found: c,
            });
        }
        let b = value.as_bytes();
        if b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
            return Err(IdError::MobilePrefix);
        }
        Ok(MobileNumber(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Display for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The kinds of identifier the bulk checker knows, by their CLI/API names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierKind {
    IdCard,
    CreditCode,
    Mobile,
}

impl IdentifierKind {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "id-card" => Some(Self::IdCard),
            "credit-code" => Some(Self::CreditCode),
            "mobile" => Some(Self::Mobile),
            _ => None,
        }
    }

    /// Checks one value strictly (a credit-code check mismatch counts as invalid here;
    /// the override with a reason belongs to the clerk's form, not to a bulk check).
    pub fn check(self, value: &str, today: NaiveDate) -> Result<(), IdError> {
        match self {
            Self::IdCard => IdCardNumber::parse(value, today).map(|_| ()),
            Self::CreditCode => CreditCode::parse(value).map(|_| ()),
            Self::Mobile => MobileNumber::parse(value).map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn with_check(first17: &str) -> String {
        let mut a = [0u8; 17];
        a.copy_from_slice(first17.as_bytes());
        format!("{first17}{}", id_card_check_char(&a))
    }

    #[test]
    fn known_valid_id_numbers() {
        // The GB 11643 worked example (check character X) and one ending in a digit.
        assert!(IdCardNumber::parse("11010519491231002X", today()).is_ok());
        assert!(IdCardNumber::parse("440524198001010013", today()).is_ok());
        // Born before 1900: the check character is right but the date is refused.
        assert_eq!(
            IdCardNumber::parse(&with_check("44052418800101001"), today())
                .unwrap_err()
                .code(),
            "birth_date"
        );
    }

    #[test]
    fn lower_case_x_is_stored_upper_case() {
        let id = IdCardNumber::parse("11010519491231002x", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert!(!id.is_male());
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
    }

    #[test]
    fn id_number_rejections_name_the_reason() {
        let cases = [
            ("1101051949123100", "length"),
            ("11010519491231002Y", "charset"),
            ("1101A519491231002X", "charset"),
            ("99010519491231002X", "region"),
            ("110105194913310021", "birth_date"),
            ("110105194902300021", "birth_date"),
            ("110105203001010021", "future_birth_date"),
            ("110105194912310020", "check_character"),
        ];
        for (value, code) in cases {
            let err = IdCardNumber::parse(value, today()).unwrap_err();
            assert_eq!(err.code(), code, "{value}: {err}");
        }
    }

    #[test]
    fn masking_keeps_region_and_last_four() {
        let id = IdCardNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(id.to_string(), "110105********002X");
        assert_eq!(mask_id_card("12345"), "*****");
    }

    #[test]
    fn credit_codes() {
        // A well-formed code: compute the check for a plausible prefix.
        let first17 = "91350100M000100Y4";
        let check = credit_code_check_char(first17).unwrap();
        let valid = format!("{first17}{check}");
        assert!(CreditCode::parse(&valid).is_ok());
        assert!(CreditCode::parse(&valid.to_lowercase()).is_ok());
        // Wrong check char: strict parse fails, lenient keeps a warning.
        let other = CREDIT_CHARSET.chars().find(|c| *c != check).unwrap();
        let wrong = format!("{first17}{other}");
        assert_eq!(
            CreditCode::parse(&wrong).unwrap_err().code(),
            "check_character"
        );
        let lenient = CreditCode::parse_lenient(&wrong).unwrap();
        assert_eq!(lenient.check_warning().unwrap().code(), "check_character");
        // I, O, S, V, Z are not in the charset.
        assert_eq!(
            CreditCode::parse("91350100M000100YI0").unwrap_err().code(),
            "charset"
        );
        assert_eq!(CreditCode::parse("913501").unwrap_err().code(), "length");
    }

    #[test]
    fn credit_check_31_maps_to_zero() {
        // Σ mod 31 == 0 gives 31 − 0 = 31 → '0'. All-zero prefix has sum 0.
        assert_eq!(credit_code_check_char("00000000000000000"), Some('0'));
    }

    #[test]
    fn mobiles() {
        assert!(MobileNumber::parse("13800138000").is_ok());
        assert!(MobileNumber::parse("19912345678").is_ok());
        assert_eq!(
            MobileNumber::parse("12800138000").unwrap_err().code(),
            "mobile_prefix"
        );
        assert_eq!(
            MobileNumber::parse("1380013800").unwrap_err().code(),
            "length"
        );
        assert_eq!(
            MobileNumber::parse("1380013800a").unwrap_err().code(),
            "charset"
        );
        assert_eq!(
            MobileNumber::parse("13800138000").unwrap().masked(),
            "138****8000"
        );
    }

    proptest! {
        #[test]
        fn any_generated_id_with_its_check_char_is_valid(
            province in proptest::sample::select(PROVINCE_CODES.to_vec()),
            county in 0u32..10000,
            days in 0i64..40000,
            seq in 0u32..1000,
        ) {
            let birth = NaiveDate::from_ymd_opt(1920, 1, 1).unwrap() + chrono::Duration::days(days);
            prop_assume!(birth <= today());
            let first17 = format!("{province}{county:04}{}{seq:03}", birth.format("%Y%m%d"));
            let full = with_check(&first17);
            let id = IdCardNumber::parse(&full, today()).unwrap();
            prop_assert_eq!(id.birth_date(), birth);
            prop_assert_eq!(id.is_male(), seq % 2 == 1);
        }

        #[test]
        fn changing_any_single_digit_breaks_the_check(
            county in 0u32..10000, seq in 0u32..1000, pos in 0usize..17, delta in 1u8..10,
        ) {
            let first17 = format!("11{county:04}19800101{seq:03}");
            let full = with_check(&first17);
            let mut bytes = full.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let tampered = String::from_utf8(bytes).unwrap();
            // MOD 11-2 detects every single-digit substitution; some also break region/date.
            prop_assert!(IdCardNumber::parse(&tampered, today()).is_err());
        }

        #[test]
        fn credit_code_with_computed_check_always_parses(s in "[0-9ABCDEFGHJKLMNPQRTUWXY]{17}") {
            let check = credit_code_check_char(&s).unwrap();
            let code = format!("{s}{check}");
            prop_assert!(CreditCode::parse(&code).is_ok());
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,24}") {
            let _ = IdCardNumber::parse(&s, today());
            let _ = CreditCode::parse_lenient(&s);
            let _ = MobileNumber::parse(&s);
        }

        #[test]
        fn valid_mobiles(second in 3u8..10, rest in 0u64..1_000_000_000) {
            let m = format!("1{second}{rest:09}");
            prop_assert!(MobileNumber::parse(&m).is_ok());
        }
    }
}
