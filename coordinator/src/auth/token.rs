//! The token itself: `rf_<id>_<secret>`, its public id, and the hash the
//! coordinator stores instead of it.

use std::fmt;
use std::str::FromStr;

use rand::TryRngCore;
use serde::{Deserialize, Serialize};

use super::AuthError;

/// What every token starts with.
const PREFIX: &str = "rf_";
/// Random bytes in a token's public id.
const ID_BYTES: usize = 6;
/// Random bytes in a token's secret.
const SECRET_BYTES: usize = 32;
/// The public id of a token: 12 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenId(String);

impl TokenId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TokenId {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if is_hex(text, ID_BYTES) {
            Ok(Self(text.to_owned()))
        } else {
            Err(AuthError::Malformed(
                "a token id is 12 lowercase hex digits (the part after `rf_`)",
            ))
        }
    }
}

impl TryFrom<String> for TokenId {
    type Error = AuthError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<TokenId> for String {
    fn from(id: TokenId) -> String {
        id.0
    }
}

/// The blake3 hash of a token's text, as 64 hex digits: all the
/// coordinator keeps of a token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A whole token, secret included. `Debug` shows only its id; the text is
/// reached through [`Token::expose`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Token(String);

impl Token {
    /// A new random token.
    pub fn generate() -> Result<Self, AuthError> {
        let mut bytes = [0u8; ID_BYTES + SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| AuthError::Random(e.to_string()))?;
        let (id, secret) = bytes.split_at(ID_BYTES);
        Ok(Self(format!("{PREFIX}{}_{}", hex(id), hex(secret))))
    }

    /// Check the shape of a token's text.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or(AuthError::Malformed("API tokens start with `rf_`"))?;
        let (id, secret) = rest
            .split_once('_')
            .ok_or(AuthError::Malformed("API tokens read `rf_<id>_<secret>`"))?;
        id.parse::<TokenId>()?;
        if !is_hex(secret, SECRET_BYTES) {
            return Err(AuthError::Malformed(
                "the secret after the id is 64 lowercase hex digits; was the token cut off?",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Its public id.
    pub fn id(&self) -> TokenId {
        let id = &self.0[PREFIX.len()..PREFIX.len() + 2 * ID_BYTES];
        TokenId(id.to_owned())
    }

    /// The hash stored for it.
    pub fn hash(&self) -> TokenHash {
        TokenHash(blake3::hash(self.0.as_bytes()).to_hex().to_string())
    }

    /// The whole text, secret included: show it to its holder only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({PREFIX}{}_…)", self.id())
    }
}

impl FromStr for Token {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Token::parse(text)
    }
}

impl TryFrom<String> for Token {
    type Error = AuthError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Token::parse(&text)
    }
}

impl From<Token> for String {
    fn from(token: Token) -> String {
        token.0
    }
}

/// The token in an `Authorization` header's value (`Bearer rf_…`).
pub fn token_from_header(value: Option<&str>) -> Result<Token, AuthError> {
    let value = value.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed(
        "the Authorization header reads `Bearer <token>`",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed(
            "the Authorization header must use the Bearer scheme: `Bearer <token>`",
        ));
    }
    Token::parse(token.trim())
}

/// Lowercase hex of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// Whether `text` is `bytes` bytes in lowercase hex.
pub(super) fn is_hex(text: &str, bytes: usize) -> bool {
    text.len() == 2 * bytes && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
