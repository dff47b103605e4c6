//! Field errors: what failed, where, and why — machine code for the API, Chinese for pages.

use serde::Serialize;

/// One failing field. `field` is the form/JSON field name; `code` is stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// A collection of field errors gathered while checking one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
        });
    }

    /// Records `field` as required when `value` is blank; returns the trimmed value.
    pub fn required<'a>(&mut self, field: &str, label: &str, value: &'a str) -> &'a str {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, "required", format!("请填写{label}"));
        }
        v
    }

    /// Records a length error when `value` has more than `max` characters.
    pub fn max_chars(&mut self, field: &str, label: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, "too_long", format!("{label}不能超过{max}个字"));
        }
    }

    /// Records a field error when `value` breaks `limit` (too long, or a character its
    /// kind of field may not hold); returns whether it passed. The one text rule: every
    /// operation that takes free text calls this with a [`TextLimit`] constant.
    pub fn text(&mut self, field: &str, label: &str, value: &str, limit: TextLimit) -> bool {
        match check_text(field, label, value, limit) {
            Ok(()) => true,
            Err(e) => {
                self.0.push(e);
                false
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing failed, else the errors.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl From<FieldError> for FieldErrors {
    fn from(e: FieldError) -> Self {
        FieldErrors(vec![e])
    }
}

/// Whether a text field is one line (names, numbers, search words) or free text
/// (opinions, reasons), which may keep its line breaks and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    OneLine,
    MultiLine,
}

/// The bound of one kind of text field: at most `max` characters (Unicode scalar values,
/// as a person counts 字) of the characters `kind` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimit {
    pub max: usize,
    pub kind: TextKind,
}

impl TextLimit {
    pub const fn one_line(max: usize) -> TextLimit {
        TextLimit {
            max,
            kind: TextKind::OneLine,
        }
    }

    pub const fn multi_line(max: usize) -> TextLimit {
        TextLimit {
            max,
            kind: TextKind::MultiLine,
        }
    }
}

// Every text field the product takes, by kind. The numbers are the widest a real value
// needs (the longest registered company names are about 50 字) with room to spare; the
// store keeps the same bounds for names as a backstop.

/// A search box (catalog, guide, window). Also what keeps a LIKE pattern far below
/// SQLite's 50,000-byte limit, which a longer query turned into a 500.
pub const SEARCH_QUERY: TextLimit = TextLimit::one_line(100);
/// A person's name: staff display name, agent, anonymous booking.
pub const PERSON_NAME: TextLimit = TextLimit::one_line(40);
/// An applicant: a person's or a company's name.
pub const APPLICANT_NAME: TextLimit = TextLimit::one_line(100);
/// An organisation's name.
pub const ORG_NAME: TextLimit = TextLimit::one_line(60);
/// A login name.
pub const USERNAME: TextLimit = TextLimit::one_line(32);
/// A phone number as typed (spaces and dashes included) before it is parsed.
pub const PHONE: TextLimit = TextLimit::one_line(20);
/// A mail address for sending a result (收件地址, with recipient and phone).
pub const MAIL_ADDRESS: TextLimit = TextLimit::one_line(crate::places::ADDRESS_MAX_CHARS);
/// An identity document or credit code as typed, before it is parsed.
pub const ID_NUMBER: TextLimit = TextLimit::one_line(32);
/// A short reference: case number, tracking number, certificate number, code.
pub const REFERENCE: TextLimit = TextLimit::one_line(64);
/// A short label: a material's name in a list, a window class.
pub const LABEL: TextLimit = TextLimit::one_line(100);
/// What an API key is for.
pub const KEY_NAME: TextLimit = TextLimit::one_line(60);
/// Why a rule was overridden (a credit code accepted despite its check character).
pub const OVERRIDE_REASON: TextLimit = TextLimit::multi_line(500);
/// Opinions, reasons and notes recorded with a case action.
pub const COMMENT: TextLimit = TextLimit::multi_line(2000);

/// Whether `s` says nothing: only whitespace and invisible format characters (zero-width
/// spaces and joiners, the word joiner, soft hyphens, byte-order marks, direction marks).
/// A required text that is blank is missing, however many such characters it holds.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_whitespace()
            || matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}'
                | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    })
}

/// Characters no field may hold: C0/C1 controls (NUL, ESC, DEL…), and the bidirectional
/// overrides and isolates that make a name display as something else.
fn forbidden(c: char, kind: TextKind) -> bool {
    let allowed_in_text = matches!(c, '\n' | '\r' | '\t');
    let spoofing = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let line_break = matches!(c, '\u{2028}' | '\u{2029}');
    match kind {
        TextKind::OneLine => c.is_control() || spoofing || line_break,
        TextKind::MultiLine => (c.is_control() && !allowed_in_text) || spoofing,
    }
}

/// The text rule for one field: at most `limit.max` characters, none that its kind
/// forbids. The message names the field in Chinese; codes are `too_long` and
/// `control_char`. Length is checked first and without scanning past the limit, so a
/// megabyte of input costs no more than the limit.
pub fn check_text(
    field: &str,
    label: &str,
    value: &str,
    limit: TextLimit,
) -> Result<(), FieldError> {
    let error = |code: &str, message: String| FieldError {
        field: field.to_string(),
        code: code.to_string(),
        message,
    };
    if value.chars().nth(limit.max).is_some() {
        return Err(error(
            "too_long",
            format!("{label}不能超过{}个字", limit.max),
        ));
    }
    if value.chars().any(|c| forbidden(c, limit.kind)) {
        let what = match limit.kind {
            TextKind::OneLine => "控制字符或换行",
            TextKind::MultiLine => "控制字符",
        };
        return Err(error("control_char", format!("{label}不能包含{what}")));
    }
    Ok(())
}

/// Full-width ASCII (Ａ１２, the ideographic space) to its half-width form. Residents type on
/// phones and with Chinese input methods, which produce full-width digits and letters; a
/// case number or query code typed that way is the same number.
pub fn halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn halfwidth_maps_full_width_ascii_and_the_ideographic_space() {
        assert_eq!(
            super::halfwidth("ＳＬ２０２６\u{3000}ａｂ－１"),
            "SL2026 ab-1"
        );
        assert_eq!(super::halfwidth("办件 A1"), "办件 A1");
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_within_the_limit_passes() {
        assert!(check_text("name", "姓名", "张三", PERSON_NAME).is_ok());
        assert!(check_text("name", "姓名", "", PERSON_NAME).is_ok());
        let forty = "张".repeat(40);
        assert!(check_text("name", "姓名", &forty, PERSON_NAME).is_ok());
        assert!(check_text("reasons", "理由", "第一条\r\n第二条\t说明", COMMENT).is_ok());
    }

    #[test]
    fn too_long_names_the_field_in_chinese() {
        let e = check_text("q", "搜索词", &"a".repeat(101), SEARCH_QUERY).unwrap_err();
        assert_eq!(e.field, "q");
        assert_eq!(e.code, "too_long");
        assert_eq!(e.message, "搜索词不能超过100个字");
        // Characters, not bytes: 41 汉字 is one too many for a name.
        let e = check_text("name", "姓名", &"张".repeat(41), PERSON_NAME).unwrap_err();
        assert_eq!(e.message, "姓名不能超过40个字");
    }

    #[test]
    fn control_characters_are_refused_in_one_line_fields() {
        for bad in [
            "张\0三",
            "张\u{1b}[31m",
            "a\u{7f}",
            "a\nb",
            "a\rb",
            "a\tb",
            "a\u{85}b",
            "\u{202E}gpj.exe",
            "a\u{2028}b",
        ] {
            let e = check_text("name", "姓名", bad, PERSON_NAME).unwrap_err();
            assert_eq!(e.code, "control_char", "{bad:?}");
            assert_eq!(e.message, "姓名不能包含控制字符或换行");
        }
    }

    #[test]
    fn multi_line_fields_keep_line_breaks_but_not_other_controls() {
        assert!(check_text("opinion", "意见", "同意\n\t准予", COMMENT).is_ok());
        let e = check_text("opinion", "意见", "同意\0", COMMENT).unwrap_err();
        assert_eq!(e.code, "control_char");
        assert_eq!(e.message, "意见不能包含控制字符");
        assert!(check_text("opinion", "意见", "\u{202E}", COMMENT).is_err());
    }

    #[test]
    fn field_errors_collect_text_errors() {
        let mut e = FieldErrors::new();
        assert!(e.text("name", "姓名", "张三", PERSON_NAME));
        assert!(!e.text("phone", "手机号码", &"1".repeat(21), PHONE));
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].field, "phone");
        assert_eq!(e.0[0].message, "手机号码不能超过20个字");
    }

    proptest! {
        /// The law: a value passes exactly when it is short enough and every character
        /// is allowed for its kind; a failure always names the field.
        #[test]
        fn check_text_is_length_and_alphabet(value in "\\PC{0,60}|[\\x00-\\x1f\\x7f a-z\u{4e00}-\u{4e10}]{0,60}", max in 0usize..50, multi in any::<bool>()) {
            let limit = if multi { TextLimit::multi_line(max) } else { TextLimit::one_line(max) };
            let short = value.chars().count() <= max;
            let clean = value.chars().all(|c| !forbidden(c, limit.kind));
            match check_text("f", "字段", &value, limit) {
                Ok(()) => prop_assert!(short && clean),
                Err(e) => {
                    prop_assert!(!(short && clean));
                    prop_assert_eq!(e.field, "f");
                    prop_assert_eq!(e.code.as_str(), if short { "control_char" } else { "too_long" });
                }
            }
        }

        /// Names never pass with a NUL anywhere in them.
        #[test]
        fn nul_never_passes_in_a_name(prefix in "[a-z张三]{0,10}", suffix in "[a-z张三]{0,10}") {
            let value = format!("{prefix}\0{suffix}");
            prop_assert!(check_text("name", "姓名", &value, PERSON_NAME).is_err());
        }
    }

    #[test]
    fn required_and_length() {
        let mut e = FieldErrors::new();
        assert_eq!(e.required("name", "名称", "  a "), "a");
        assert!(e.is_empty());
        e.required("name", "名称", "   ");
        e.max_chars("code", "编码", "abcdef", 3);
        let errs = e.into_result().unwrap_err();
        assert_eq!(errs.0.len(), 2);
        assert_eq!(errs.0[0].code, "required");
        assert_eq!(errs.0[1].field, "code");
    }

    #[test]
    fn invisible_characters_are_blank() {
        assert!(super::is_blank(" \u{200B}\u{2060}\u{FEFF}\t"));
        assert!(super::is_blank(""));
        assert!(!super::is_blank("\u{200B}依据"));
    }
}
