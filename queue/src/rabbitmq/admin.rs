//! Identities on RabbitMQ: one user per worker, made through the management
//! HTTP API, with permissions that let it read only its queues and write
//! only to the exchanges of the queues it may publish to (one exchange per
//! queue, see the module above).

use serde_json::json;

use super::exchange_name;
use crate::{Grant, QueueError};

/// Where the management API is and how the coordinator logs in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Management {
    /// `http://host:15672`.
    pub base: String,
    /// Administrator user.
    pub user: String,
    /// Its password.
    pub password: String,
    /// The virtual host the farm's queues live in.
    pub vhost: String,
}

/// `text` as a regular expression that matches exactly it.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if r"\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A permission regex matching exactly `names` (nothing when empty).
fn exactly(names: impl IntoIterator<Item = String>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| literal(&n)).collect();
    if names.is_empty() {
        "^$".to_owned()
    } else {
        format!("^({})$", names.join("|"))
    }
}

/// Percent-encode a path segment (every byte but unreserved ones).
pub(super) fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Refuse names that would need quoting in a URL or a permission regex.
fn plain(what: &str, value: &str) -> Result<(), QueueError> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(QueueError::Operation(format!(
            "a granted {what} must be letters, digits, '-' or '_'"
        )))
    }
}

impl Management {
    fn client() -> reqwest::Client {
        reqwest::Client::new()
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<(), QueueError> {
        let response = request
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| {
                QueueError::Connection(format!(
                    "RabbitMQ management API at {} ({what}): {e}; is the rabbitmq_management plugin enabled?",
                    self.base
                ))
            })?;
        let status = response.status();
        if status.is_success() || (what == "delete user" && status.as_u16() == 404) {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(QueueError::Operation(format!(
            "RabbitMQ management API refused {what}: {status} {body}"
        )))
    }

    /// Create or replace the user of `grant` with exactly its permissions.
    pub(super) async fn grant(&self, prefix: &str, grant: &Grant) -> Result<(), QueueError> {
        plain("user", &grant.user)?;
        plain("password", &grant.password)?;
        let client = Self::client();
        let user = format!("{}/api/users/{}", self.base, encode(&grant.user));
        self.send(
            client
                .put(&user)
                .json(&json!({"password": grant.password, "tags": ""})),
            "create user",
        )
        .await?;
        let permissions = json!({
            "configure": "^$",
            "write": exactly(grant.publish.iter().map(|q| exchange_name(prefix, q).to_string())),
            "read": exactly(grant.consume.iter().cloned()),
        });
        let url = format!(
            "{}/api/permissions/{}/{}",
            self.base,
            encode(&self.vhost),
            encode(&grant.user)
        );
        self.send(client.put(&url).json(&permissions), "set permissions")
            .await
    }

    /// Delete a user; RabbitMQ closes its connections.
    pub(super) async fn revoke(&self, user: &str) -> Result<(), QueueError> {
        plain("user", user)?;
        let url = format!("{}/api/users/{}", self.base, encode(user));
        self.send(Self::client().delete(&url), "delete user").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_regexes_match_exactly_the_names() {
        assert_eq!(
            exactly(["tasks.blender".to_owned(), "worker.a-1".to_owned()]),
            r"^(tasks\.blender|worker\.a-1)$"
        );
        assert_eq!(exactly(Vec::new()), "^$");
    }

    #[test]
    fn vhosts_are_encoded() {
        assert_eq!(encode("/"), "%2F");
        assert_eq!(encode("farm test"), "farm%20test");
    }

    #[test]
    fn odd_names_are_refused() {
        assert!(plain("user", "w-1_a").is_ok());
        assert!(plain("user", "a/../b").is_err());
        assert!(plain("password", "").is_err());
    }
}
