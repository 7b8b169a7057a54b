//! Where the coordinator is and which token to send: flags, then the
//! environment (`FARM_URL`, `FARM_TOKEN`, both read by clap), then the
//! config file.

use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::Deserialize;

use crate::args::Global;

/// The coordinator's URL when nothing names one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The coordinator to talk to and the token to send.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Its base URL, without a trailing `/`.
    pub url: String,
    /// The bearer token.
    pub token: String,
}

/// Why the settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file could not be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML with `url` and `token`.
    #[error("the config file {} is not valid: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said.
        reason: String,
    },
    /// The URL does not parse or is not HTTP.
    #[error("{url:?} is not an http:// or https:// URL of a coordinator ({reason})")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// No token anywhere.
    #[error(
        "no API token: pass --token, set FARM_TOKEN, or write `token = \"...\"` in {}",
        path.display()
    )]
    NoToken {
        /// The config file that was looked at.
        path: PathBuf,
    },
}

/// The config file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// The coordinator's URL.
    url: Option<String>,
    /// The API token.
    token: Option<String>,
}

/// `$XDG_CONFIG_HOME/farm/config.toml`, else `~/.config/farm/config.toml`.
pub fn default_config_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_default();
    base.join("farm").join("config.toml")
}

/// Read the config file at `path`; a missing file reads as empty unless
/// `required` (it was named explicitly).
fn read_config(path: &Path, required: bool) -> Result<ConfigFile, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(ConfigFile::default());
        }
        Err(source) => {
            return Err(SettingsError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    toml::from_str(&text).map_err(|e| SettingsError::Parse {
        path: path.to_owned(),
        reason: e.message().to_owned(),
    })
}

/// Check that `url` is an HTTP(S) URL; returns it without a trailing `/`.
fn check_url(url: &str) -> Result<String, SettingsError> {
    let bad = |reason: String| SettingsError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!("scheme {:?}", parsed.scheme())));
    }
    if parsed.host_str().is_none() {
        return Err(bad("no host".to_owned()));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The settings `global` and the config file give.
pub fn resolve(global: &Global) -> Result<Settings, SettingsError> {
    let (path, required) = match &global.config {
        Some(path) => (path.clone(), true),
        None => (default_config_path(), false),
    };
    let file = read_config(&path, required)?;
    let url = global
        .url
        .clone()
        .or(file.url)
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let token = global
        .token
        .clone()
        .or(file.token)
        .filter(|token| !token.trim().is_empty())
        .ok_or(SettingsError::NoToken { path })?;
    Ok(Settings {
        url: check_url(&url)?,
        token: token.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(config: &Path) -> Global {
        Global {
            url: None,
            token: None,
            config: Some(config.to_owned()),
            json: false,
            verbose: false,
        }
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "url = \"http://farm:9000/\"\ntoken = \"from-file\"\n",
        )
        .unwrap();
        let from_file = resolve(&global(&path)).unwrap();
        assert_eq!(from_file.url, "http://farm:9000");
        assert_eq!(from_file.token, "from-file");
        let mut flags = global(&path);
        flags.token = Some("from-flag".into());
        flags.url = Some("https://other".into());
        let from_flags = resolve(&flags).unwrap();
        assert_eq!(
            (from_flags.url.as_str(), from_flags.token.as_str()),
            ("https://other", "from-flag")
        );
    }

    #[test]
    fn a_missing_token_and_a_bad_url_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "url = \"ftp://farm\"\n").unwrap();
        assert!(matches!(
            resolve(&global(&path)),
            Err(SettingsError::NoToken { .. })
        ));
        let mut with_token = global(&path);
        with_token.token = Some("t".into());
        assert!(matches!(
            resolve(&with_token),
            Err(SettingsError::BadUrl { .. })
        ));
        std::fs::write(&path, "tokn = \"typo\"\n").unwrap();
        assert!(matches!(
            resolve(&with_token),
            Err(SettingsError::Parse { .. })
        ));
    }

    #[test]
    fn a_named_config_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let mut named = global(&dir.path().join("absent.toml"));
        named.token = Some("t".into());
        assert!(matches!(resolve(&named), Err(SettingsError::Read { .. })));
    }
}
