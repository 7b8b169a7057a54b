//! API identity: bearer tokens, the role each carries, and the tenant or
//! owner it is bound to.
//!
//! A token reads `rf_<id>_<secret>`: `<id>` is 12 hex digits, public, used to
//! list and revoke it; `<secret>` is 64 hex digits (32 bytes from the
//! operating system's CSPRNG). The coordinator stores only the blake3 hash of
//! the whole text and shows the text once, when the token is created.
//!
//! - `submitter`: belongs to a tenant; sees and acts on only that tenant's
//!   jobs, reports, verdicts and the scenes it uploaded.
//! - `provider`: operates workers under an owner name; sees only those
//!   workers and their payouts. It cannot submit jobs.
//! - `admin`: everything, including workers, reinstating, payouts and tokens.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod session;
mod token;

pub use token::{Token, TokenHash, TokenId, token_from_header};

/// Longest tenant name.
const MAX_TENANT_LEN: usize = 64;
/// Longest owner name.
const MAX_OWNER_LEN: usize = 128;
/// Longest token label.
const MAX_LABEL_LEN: usize = 200;
/// Longest lifetime a token may be given, in days.
pub const MAX_EXPIRY_DAYS: u32 = 3650;
/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Why a token or a token request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no API token was sent")]
    Missing,
    /// The header or the token text has the wrong shape.
    #[error("the API token is malformed: {0}")]
    Malformed(&'static str),
    /// Well-formed, but no such token exists.
    #[error("the API token is not known to this coordinator")]
    Unknown,
    /// The token was revoked.
    #[error("API token {0} was revoked")]
    Revoked(TokenId),
    /// The token's expiry has passed.
    #[error("API token {0} has expired")]
    Expired(TokenId),
    /// A tenant or owner name is not acceptable.
    #[error("{0}")]
    BadName(String),
    /// A role was combined with the wrong tenant or owner.
    #[error("{0}")]
    BadGrant(String),
    /// A label is too long or has control characters.
    #[error("the label must be at most {MAX_LABEL_LEN} characters without control characters")]
    BadLabel,
    /// An expiry outside the accepted range.
    #[error("expires_in_days must be 1 to {MAX_EXPIRY_DAYS}, got {0}")]
    BadExpiry(u32),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Submits and watches its tenant's jobs.
    Submitter,
    /// Operates workers; sees their state and payouts.
    Provider,
    /// Runs the farm.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Submitter, Role::Provider, Role::Admin];

    /// The name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Provider => "provider",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| format!("unknown role {text:?}; use submitter, provider or admin"))
    }
}

impl rusqlite::types::FromSql for Role {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: String| rusqlite::types::FromSqlError::Other(e.into()))
    }
}

impl rusqlite::types::ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// Defines a validated name type: a `String` that passed `check`.
macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = AuthError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(text).map_err(AuthError::BadName)?;
                Ok(Self(text.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = AuthError;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }
    };
}

name_type!(
    /// A customer of the farm: its jobs, scenes and reports are its own.
    /// 1 to 64 letters, digits, `.`, `_` or `-`.
    Tenant,
    |text| {
        let ok = (1..=MAX_TENANT_LEN).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        ok.then_some(()).ok_or_else(|| {
            format!(
                "tenant {text:?} must be 1 to {MAX_TENANT_LEN} letters, digits, `.`, `_` or `-`"
            )
        })
    }
);

name_type!(
    /// Who operates workers: the `owner` in a worker's configuration.
    /// 1 to 128 characters, no control characters, no surrounding spaces.
    Owner,
    |text| {
        let ok = (1..=MAX_OWNER_LEN).contains(&text.len())
            && !text.chars().any(char::is_control)
            && text.trim() == text;
        ok.then_some(()).ok_or_else(|| {
            format!(
                "owner {text:?} must be 1 to {MAX_OWNER_LEN} characters, as the workers' `owner` setting, \
                 without control characters or surrounding spaces"
            )
        })
    }
);

/// A role with the tenant or owner it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Grant {
    /// Submits and watches the jobs of one tenant.
    Submitter {
        /// The tenant.
        tenant: Tenant,
    },
    /// Operates the workers of one owner.
    Provider {
        /// The owner.
        owner: Owner,
    },
    /// Everything.
    Admin,
}

impl Grant {
    /// Combine a role with its tenant (submitters) or owner (providers).
    pub fn new(role: Role, tenant: Option<&str>, owner: Option<&str>) -> Result<Self, AuthError> {
        let bad = |message: &str| Err(AuthError::BadGrant(message.to_owned()));
        match (role, tenant, owner) {
            (Role::Submitter, Some(tenant), None) => Ok(Grant::Submitter {
                tenant: tenant.parse()?,
            }),
            (Role::Submitter, _, _) => bad("a submitter token needs a tenant and no owner"),
            (Role::Provider, None, Some(owner)) => Ok(Grant::Provider {
                owner: owner.parse()?,
            }),
            (Role::Provider, _, _) => {
                bad("a provider token needs an owner (its workers' `owner`) and no tenant")
            }
            (Role::Admin, None, None) => Ok(Grant::Admin),
            (Role::Admin, _, _) => bad("an admin token has neither tenant nor owner"),
        }
    }

    /// Its role.
    pub fn role(&self) -> Role {
        match self {
            Grant::Submitter { .. } => Role::Submitter,
            Grant::Provider { .. } => Role::Provider,
            Grant::Admin => Role::Admin,
        }
    }

    /// The tenant of a submitter.
    pub fn tenant(&self) -> Option<&Tenant> {
        match self {
            Grant::Submitter { tenant } => Some(tenant),
            _ => None,
        }
    }

    /// The owner of a provider.
    pub fn owner(&self) -> Option<&Owner> {
        match self {
            Grant::Provider { owner } => Some(owner),
            _ => None,
        }
    }
}

/// Who is calling: the token presented and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's public id.
    pub token_id: TokenId,
    /// Its role and tenant or owner.
    pub grant: Grant,
}

impl Principal {
    /// Its role.
    pub fn role(&self) -> Role {
        self.grant.role()
    }
}

/// A stored token as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Public id.
    pub id: TokenId,
    /// Role, with `tenant` or `owner`.
    #[serde(flatten)]
    pub grant: Grant,
    /// Free text: who or what holds it.
    pub label: String,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Stops working at, ms since the epoch; `None` for never.
    pub expires_ms: Option<i64>,
    /// Revoked at, ms since the epoch.
    pub revoked_ms: Option<i64>,
}

impl TokenInfo {
    /// The caller this token makes at `now_ms`, unless it was revoked or
    /// has expired.
    pub fn principal_at(&self, now_ms: i64) -> Result<Principal, AuthError> {
        if self.revoked_ms.is_some() {
            return Err(AuthError::Revoked(self.id.clone()));
        }
        if self.expires_ms.is_some_and(|expiry| now_ms >= expiry) {
            return Err(AuthError::Expired(self.id.clone()));
        }
        Ok(Principal {
            token_id: self.id.clone(),
            grant: self.grant.clone(),
        })
    }
}

/// A token just created: its text, shown this once, and what is stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedToken {
    /// The token to send as `Authorization: Bearer <token>`.
    pub token: Token,
    /// What the coordinator keeps of it.
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// What a new token is to be: validated from a request or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Role, tenant or owner.
    pub grant: Grant,
    /// Label.
    pub label: String,
    /// Expiry, ms since the epoch.
    pub expires_ms: Option<i64>,
    /// When it was asked for, ms since the epoch: the token's creation
    /// time, the one its expiry counts from.
    pub created_ms: i64,
}

impl TokenRequest {
    /// Validate a request made at `now_ms`.
    pub fn new(
        grant: Grant,
        label: &str,
        expires_in_days: Option<u32>,
        now_ms: i64,
    ) -> Result<Self, AuthError> {
        if label.chars().count() > MAX_LABEL_LEN || label.chars().any(char::is_control) {
            return Err(AuthError::BadLabel);
        }
        let expires_ms = match expires_in_days {
            None => None,
            Some(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
                Some(now_ms + i64::from(days) * DAY_MS)
            }
            Some(days) => return Err(AuthError::BadExpiry(days)),
        };
        Ok(Self {
            grant,
            label: label.to_owned(),
            expires_ms,
            created_ms: now_ms,
        })
    }
}

/// What making sure of the configured admin token found at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// The token was stored now.
    Created,
    /// It was stored before and still works.
    Present,
    /// It was stored before and has since been revoked; it stays revoked.
    Revoked,
}

/// A time as `YYYY-MM-DD HH:MM UTC`, for people reading token lists.
pub fn format_utc(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let minutes = ms.rem_euclid(DAY_MS) / 60_000;
    // Howard Hinnant's days-to-civil conversion.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests;
