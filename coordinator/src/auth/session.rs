//! Browser sessions for the web UI. A person signs in with an API token
//! (typed in, or through a one-time sign-in link made for it); the browser
//! then holds only a random session secret in an `HttpOnly`,
//! `SameSite=Strict` cookie, and every request that changes something must
//! also carry the session's CSRF token in `X-CSRF-Token`. A session acts
//! exactly as its token: revoke the token and its sessions stop working.

use std::fmt;

use rand::TryRngCore;

use super::AuthError;
use super::token::{hex, is_hex};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "farm_session";
/// The header that carries a session's CSRF token on requests that change
/// something.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
/// How long a sign-in link works (once).
pub const SIGN_IN_TTL_MS: i64 = 10 * 60 * 1000;

/// Random bytes in a secret.
const SECRET_BYTES: usize = 32;

/// A random secret: a session cookie, a CSRF token or a sign-in code.
/// `Debug` hides it; the database keeps only its hash (CSRF tokens, which
/// are worthless without the cookie, are kept as they are).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A new random secret.
    pub fn generate() -> Result<Self, AuthError> {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| AuthError::Random(e.to_string()))?;
        Ok(Self(hex(&bytes)))
    }

    /// A secret as a browser sent it back: 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        is_hex(text, SECRET_BYTES).then(|| Self(text.to_owned()))
    }

    /// blake3 of the secret, as 64 hex digits: what the database keeps.
    pub fn hash(&self) -> String {
        blake3::hash(self.0.as_bytes()).to_hex().to_string()
    }

    /// The secret itself: for its holder only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `text` is this secret, compared in constant time.
    pub fn matches(&self, text: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), text.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The value of the cookie named `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_parse_hash_and_compare() {
        let secret = Secret::generate().unwrap();
        assert_ne!(secret, Secret::generate().unwrap());
        assert_eq!(Secret::parse(secret.expose()), Some(secret.clone()));
        assert!(Secret::parse("short").is_none());
        assert!(Secret::parse(&secret.expose().to_uppercase()).is_none());
        assert!(secret.matches(secret.expose()));
        assert!(!secret.matches(&secret.expose()[1..]));
        assert_eq!(secret.hash().len(), 64);
        assert_eq!(format!("{secret:?}"), "Secret(…)");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = "theme=dark; farm_session=abc; other=1";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(header, "missing"), None);
        assert_eq!(cookie("farm_session_x=1", SESSION_COOKIE), None);
    }
}
