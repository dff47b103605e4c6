//! Password hashing with Argon2id (memory-hard, OWASP parameters) and the password policy.
//! Hashing costs tens of milliseconds of CPU: callers on the async runtime run it in
//! `spawn_blocking`.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use onewindow_domain::validation::FieldErrors;

fn argon2() -> Argon2<'static> {
    // 19 MiB, 2 passes, 1 lane: OWASP's recommended minimum for Argon2id.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid params")
        .to_string()
}

/// Constant-time check against a stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so response time does not tell
/// an attacker which usernames exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not-a-real-password"))
}

/// The longest password accepted, in characters. Argon2 reads the whole input, so without a
/// bound a 1 MB "password" costs hashing time and memory on every login and change; 128 is
/// far beyond any pass phrase a person types. Checked before anything is hashed.
pub const MAX_CHARS: usize = 128;

/// Whether a password is too long to be hashed at all (login refuses it like a wrong one).
pub fn too_long(password: &str) -> bool {
    // Counting stops at the bound: a 1 MB input is not walked to the end.
    password.chars().nth(MAX_CHARS).is_some()
}

/// Policy: 8 to 128 characters, not only digits, not the username.
pub fn check_policy(field: &str, password: &str, username: &str) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    if too_long(password) {
        e.add(field, "too_long", format!("密码不能超过{MAX_CHARS}位"));
    } else if password.chars().count() < 8 {
        e.add(field, "too_short", "密码至少8位");
    } else if password.chars().all(|c| c.is_ascii_digit()) {
        e.add(field, "too_simple", "密码不能全为数字");
    } else if password.eq_ignore_ascii_case(username) {
        e.add(field, "same_as_username", "密码不能与用户名相同");
    }
    e.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("x", "not a phc string"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("password", "short", "u").is_err());
        assert!(check_policy("password", "12345678", "u").is_err());
        assert!(check_policy("password", "ClerkUser", "clerkuser").is_err());
        assert!(check_policy("password", "window-2026", "clerk").is_ok());
        let longest = "a1".repeat(MAX_CHARS / 2);
        assert!(check_policy("password", &longest, "clerk").is_ok());
        let err = check_policy("password", &format!("{longest}x"), "clerk").unwrap_err();
        assert_eq!(
            (err.0[0].field.as_str(), err.0[0].code.as_str()),
            ("password", "too_long")
        );
        // Characters, not bytes: 128 Chinese characters are allowed.
        assert!(check_policy("password", &"密".repeat(MAX_CHARS), "clerk").is_ok());
        assert!(too_long(&"x".repeat(1 << 20)));
    }
}
