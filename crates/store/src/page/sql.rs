//! A query text with its bound values, built piece by piece: lists add a condition per
//! filter given and a keyset condition per cursor, so their SQL varies with the request.
//! Each `?` in a piece becomes the next `$n`, bound to the matching value.

use super::KeyPart;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    args: Vec<KeyPart>,
}

impl Sql {
    pub fn new(base: &str) -> Self {
        Sql {
            text: base.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends `piece`, binding one value per `?` in it, in order.
    ///
    /// # Panics
    /// When the number of `?` and of values differ: a programming error in the caller.
    pub fn push(&mut self, piece: &str, args: impl IntoIterator<Item = KeyPart>) -> &mut Self {
        let args: Vec<KeyPart> = args.into_iter().collect();
        let mut given = args.into_iter();
        for (i, part) in piece.split('?').enumerate() {
            if i > 0 {
                given
                    .next()
                    .map(|a| self.args.push(a))
                    .expect("a value for every ? in the SQL piece");
                self.text.push_str(&format!("${}", self.args.len()));
            }
            self.text.push_str(part);
        }
        assert!(
            given.next().is_none(),
            "a ? for every value of the SQL piece"
        );
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The query, with every value bound.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                KeyPart::Int(v) => q.bind(*v),
                KeyPart::Text(v) => q.bind(v.as_str()),
            };
        }
        q
    }
}

/// A `LIKE` pattern matching values that start with `prefix`, with `\` as the escape
/// character (write `LIKE ? ESCAPE '\'`), so `%` and `_` typed by a user match themselves.
pub fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_number_their_placeholders_in_order() {
        let mut s = Sql::new("SELECT * FROM t WHERE a = ?x");
        // The base is raw text: a `?` there is not a placeholder.
        s.push(" AND b >= ? AND b < ?", [KeyPart::Int(1), KeyPart::Int(2)])
            .push(" AND c = ?", ["z".into()]);
        assert_eq!(
            s.text(),
            "SELECT * FROM t WHERE a = ?x AND b >= $1 AND b < $2 AND c = $3"
        );
    }

    #[test]
    #[should_panic(expected = "a value for every ?")]
    fn a_missing_value_is_a_bug() {
        Sql::new("").push("a = ? AND b = ?", [KeyPart::Int(1)]);
    }

    #[test]
    fn prefixes_escape_the_wildcards() {
        assert_eq!(like_prefix("张"), "张%");
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
