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

#[cfg(test)]
mod tests {
    use super::*;

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
}
