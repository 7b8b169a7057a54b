//! The coordinator's HTTP API as the command line uses it: JSON in and
//! out, a bearer token on every request, and the API's one error shape
//! (`{"error": {"code", "message"}}`) turned into [`ApiError`].

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{EXIT_OTHER, EXIT_REFUSED, EXIT_UNREACHABLE};
use crate::settings::Settings;

/// Why a request did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The coordinator refused the request (4xx): its message, verbatim.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The API's error code (`bad_frame_spec`, ...).
        code: String,
        /// The API's message.
        message: String,
    },
    /// The coordinator failed (5xx).
    #[error("the coordinator at {url} failed ({status}): {message}")]
    Server {
        /// The coordinator.
        url: String,
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// No answer at all: connection refused, DNS, TLS, timeout.
    #[error("cannot reach the coordinator at {url}: {reason}")]
    Unreachable {
        /// The coordinator.
        url: String,
        /// The innermost cause.
        reason: String,
    },
    /// An answer that is not what the API documents.
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected {
        /// The request's URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// A file to upload could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl ApiError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ApiError::Refused { .. } => EXIT_REFUSED,
            ApiError::Server { .. } | ApiError::Unreachable { .. } => EXIT_UNREACHABLE,
            ApiError::Unexpected { .. } | ApiError::ReadFile { .. } => EXIT_OTHER,
        }
    }
}

/// The innermost cause of `error` ("Connection refused (os error 111)").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A client of one coordinator.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
    verbose: bool,
}

impl Api {
    /// A client for `settings`; `verbose` prints each request on stderr.
    pub fn new(settings: &Settings, verbose: bool) -> Self {
        Self {
            base: settings.url.clone(),
            token: settings.token.clone(),
            http: reqwest::Client::new(),
            verbose,
        }
    }

    /// The coordinator's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full URL of the API path `path` (`/api/v1/jobs`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Send `request`, and read a successful answer's body as text.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<String, ApiError> {
        let request =
            request
                .bearer_auth(&self.token)
                .build()
                .map_err(|e| ApiError::Unexpected {
                    url: self.base.clone(),
                    reason: root_cause(&e),
                })?;
        let (method, url) = (request.method().clone(), request.url().to_string());
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| ApiError::Unreachable {
                url: self.base.clone(),
                reason: root_cause(&e),
            })?;
        let status = response.status();
        if self.verbose {
            eprintln!("{method} {url} -> {status}");
        }
        let body = response.text().await.map_err(|e| ApiError::Unreachable {
            url: self.base.clone(),
            reason: root_cause(&e),
        })?;
        if status.is_success() {
            return Ok(body);
        }
        let (code, message) = error_body(&body).unwrap_or_else(|| {
            let text = body.trim();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("no message").to_owned()
            } else {
                text.chars().take(300).collect()
            };
            (String::new(), message)
        });
        if status.is_server_error() {
            Err(ApiError::Server {
                url: self.base.clone(),
                status: status.as_u16(),
                message,
            })
        } else {
            Err(ApiError::Refused {
                status: status.as_u16(),
                code,
                message,
            })
        }
    }

    /// Send `request` and parse its answer as `T`.
    async fn json<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<T, ApiError> {
        let body = self.send(request).await?;
        serde_json::from_str(&body).map_err(|e| ApiError::Unexpected {
            url: url.to_owned(),
            reason: format!("not the JSON the API documents: {e}"),
        })
    }

    /// `GET path`, as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let url = self.url(path);
        self.json(self.http.get(&url), &url).await
    }

    /// `GET path`, as the API's JSON and as `T` read from it.
    pub async fn get_both<T: DeserializeOwned>(&self, path: &str) -> Result<(Value, T), ApiError> {
        let value: Value = self.get(path).await?;
        let parsed = self.parse(&value, path)?;
        Ok((value, parsed))
    }

    /// `value`, the answer to `path`, read as `T`.
    pub fn parse<T: DeserializeOwned>(&self, value: &Value, path: &str) -> Result<T, ApiError> {
        T::deserialize(value).map_err(|e| ApiError::Unexpected {
            url: self.url(path),
            reason: format!("not the JSON the API documents: {e}"),
        })
    }

    /// `GET path`, as text (`report.csv`).
    pub async fn get_text(&self, path: &str) -> Result<String, ApiError> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        let url = self.url(path);
        self.json(self.http.post(&url).json(body), &url).await
    }

    /// `POST path` without a body (the job controls).
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let url = self.url(path);
        self.json(self.http.post(&url), &url).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        let url = self.url(path);
        self.json(self.http.put(&url).json(body), &url).await
    }

    /// `DELETE path`, whose answer has no body.
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.send(self.http.delete(self.url(path))).await.map(drop)
    }

    /// `PUT path` with the bytes of the file at `file` (`bytes` long) as
    /// the raw body; `sent` is told about each chunk as it goes out.
    pub async fn put_file(
        &self,
        path: &str,
        file: &Path,
        bytes: u64,
        sent: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<Value, ApiError> {
        use futures::StreamExt;
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|source| ApiError::ReadFile {
                path: file.to_owned(),
                source,
            })?;
        let stream = tokio_util::io::ReaderStream::new(opened).inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                sent(chunk.len() as u64);
            }
        });
        let url = self.url(path);
        let request = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, bytes)
            .body(reqwest::Body::wrap_stream(stream));
        self.json(request, &url).await
    }
}

/// The code and message of an API error body.
fn error_body(body: &str) -> Option<(String, String)> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?;
    Some((
        error.get("code")?.as_str()?.to_owned(),
        error.get("message")?.as_str()?.to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_error_shape_is_read() {
        let body = r#"{"error": {"code": "bad_frame_spec", "message": "`5-x`: not a frame"}}"#;
        assert_eq!(
            error_body(body),
            Some(("bad_frame_spec".into(), "`5-x`: not a frame".into()))
        );
        assert_eq!(error_body("<html>bad gateway</html>"), None);
    }

    #[test]
    fn refusals_and_outages_get_their_exit_codes() {
        let refused = ApiError::Refused {
            status: 422,
            code: "bad_frame_spec".into(),
            message: "m".into(),
        };
        let down = ApiError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "Connection refused".into(),
        };
        assert_eq!(refused.exit_code(), EXIT_REFUSED);
        assert_eq!(down.exit_code(), EXIT_UNREACHABLE);
        assert_eq!(refused.to_string(), "m");
    }
}
