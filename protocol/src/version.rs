//! Renderer versions and the version ranges a job may ask for.
//!
//! A version is dotted numbers as the renderer prints it (`3.4.1`,
//! `2024.4.1`, Cinema 4D's older `R26.107`); a range is comma-separated
//! clauses that must all hold: `>=2024.1`, `<2025`, `=3.6.2`, or a bare
//! version, which matches every version it is a prefix of (`4.2` takes
//! `4.2.0` and `4.2.3`, not `4.20`). `*` is any version.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest range text accepted.
const MAX_RANGE_LEN: usize = 100;

/// A version's numeric parts (`R26.107` is `[26, 107]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(Vec<u64>);

impl Version {
    /// Read the numbers of a version as a renderer prints it: an optional
    /// leading `R`/`v`, then dot-separated parts, each read up to its first
    /// non-digit (`4.2.3-LTS` is `4.2.3`). `None` when it has no number.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text
            .strip_prefix(['R', 'r', 'v', 'V'])
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or(text);
        let mut parts = Vec::new();
        for part in text.split('.') {
            let digits: &str = &part[..part
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(part.len())];
            if digits.is_empty() {
                break;
            }
            parts.push(digits.parse().ok()?);
            if digits.len() != part.len() {
                break;
            }
        }
        (!parts.is_empty()).then_some(Self(parts))
    }

    /// Compare as numbers, a missing part counting as 0 (`2024` = `2024.0`).
    fn compare(&self, other: &Self) -> Ordering {
        let len = self.0.len().max(other.0.len());
        (0..len)
            .map(|i| {
                let a = self.0.get(i).copied().unwrap_or(0);
                let b = other.0.get(i).copied().unwrap_or(0);
                a.cmp(&b)
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// Whether `self`'s parts start with all of `prefix`'s.
    fn starts_with(&self, prefix: &Self) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

/// How a clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `>=`.
    AtLeast,
    /// `>`.
    Above,
    /// `<=`.
    AtMost,
    /// `<`.
    Below,
    /// `=`: equal as numbers.
    Exactly,
    /// A bare version: a prefix of the version.
    Prefix,
}

/// One clause of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    op: Op,
    version: Version,
}

impl Clause {
    /// Whether `version` meets the clause.
    fn admits(&self, version: &Version) -> bool {
        let order = version.compare(&self.version);
        match self.op {
            Op::AtLeast => order.is_ge(),
            Op::Above => order.is_gt(),
            Op::AtMost => order.is_le(),
            Op::Below => order.is_lt(),
            Op::Exactly => order.is_eq(),
            Op::Prefix => version.starts_with(&self.version),
        }
    }
}

/// A range text that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0}; a version range is comma-separated clauses such as `>=2024.1, <2025`, `=3.6.2`, \
     or a version prefix such as `4.2`"
)]
pub struct BadVersionRange(String);

/// Versions a job accepts, as the submitter wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    text: String,
    clauses: Vec<Clause>,
}

impl VersionRange {
    /// The range as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a renderer reporting `version` is in the range (a version
    /// with no number is in no range but `*`).
    pub fn admits(&self, version: &str) -> bool {
        if self.clauses.is_empty() {
            return true;
        }
        Version::parse(version).is_some_and(|v| self.clauses.iter().all(|c| c.admits(&v)))
    }
}

impl FromStr for VersionRange {
    type Err = BadVersionRange;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() > MAX_RANGE_LEN || text.chars().any(char::is_control) {
            return Err(BadVersionRange(format!(
                "the range must be at most {MAX_RANGE_LEN} characters without control characters"
            )));
        }
        if text.is_empty() {
            return Err(BadVersionRange("the range is empty".to_owned()));
        }
        if text == "*" {
            return Ok(Self {
                text: text.to_owned(),
                clauses: Vec::new(),
            });
        }
        let clauses =
            text.split(',')
                .map(|clause| {
                    let clause = clause.trim();
                    let (op, rest) = [
                        (">=", Op::AtLeast),
                        ("<=", Op::AtMost),
                        (">", Op::Above),
                        ("<", Op::Below),
                        ("=", Op::Exactly),
                    ]
                    .into_iter()
                    .find_map(|(sign, op)| clause.strip_prefix(sign).map(|rest| (op, rest.trim())))
                    .unwrap_or((Op::Prefix, clause));
                    let valid = !rest.is_empty()
                        && rest.trim_start_matches(['R', 'r']).split('.').all(|part| {
                            !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
                        });
                    match Version::parse(rest) {
                        Some(version) if valid => Ok(Clause { op, version }),
                        _ => Err(BadVersionRange(format!(
                            "{clause:?} is not a comparison with a dotted version"
                        ))),
                    }
                })
                .collect::<Result<_, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            clauses,
        })
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for VersionRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for VersionRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> VersionRange {
        text.parse().unwrap()
    }

    #[test]
    fn reads_versions_as_renderers_print_them() {
        assert_eq!(Version::parse("3.4.1"), Some(Version(vec![3, 4, 1])));
        assert_eq!(Version::parse("R26.107"), Some(Version(vec![26, 107])));
        assert_eq!(Version::parse("4.2.3-LTS"), Some(Version(vec![4, 2, 3])));
        assert_eq!(Version::parse("2024.4"), Some(Version(vec![2024, 4])));
        assert_eq!(Version::parse("unknown"), None);
        assert_eq!(Version::parse(""), None);
    }

    #[test]
    fn bounds_compare_as_numbers() {
        let r = range(">=2024.1, <2025");
        assert!(r.admits("2024.1.0"));
        assert!(r.admits("2024.4.1"));
        assert!(!r.admits("2023.2.1"));
        assert!(!r.admits("2025.0"));
        assert!(range(">3.6").admits("3.10"), "3.10 is above 3.6, not below");
        assert!(range("<=4.2").admits("4.2.0"));
        assert!(!range("<=4.2").admits("4.2.1"));
        assert!(range("=3.6.2").admits("3.6.2"));
        assert!(!range("=3.6.2").admits("3.6.20"));
    }

    #[test]
    fn a_bare_version_is_a_prefix() {
        let r = range("4.2");
        assert!(r.admits("4.2.0"));
        assert!(r.admits("4.2.3"));
        assert!(!r.admits("4.20.1"));
        assert!(!r.admits("4.3"));
        assert!(range("R26").admits("26.107"));
    }

    #[test]
    fn star_is_anything_and_garbage_is_nothing() {
        assert!(range("*").admits("whatever"));
        assert!(!range(">=1").admits("unknown"));
    }

    #[test]
    fn bad_ranges_say_how_to_write_one() {
        for bad in ["", ">=", "four", ">=2024.x", "1..2", ">= 1, ", "~1.2"] {
            let error = bad.parse::<VersionRange>().unwrap_err().to_string();
            assert!(error.contains("version range"), "{bad:?}: {error}");
        }
        assert!("1\n".repeat(60).parse::<VersionRange>().is_err());
    }

    #[test]
    fn round_trips_as_its_text() {
        let r = range(">=2024.1, <2025");
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\">=2024.1, <2025\"");
        assert_eq!(serde_json::from_str::<VersionRange>(&json).unwrap(), r);
        assert!(serde_json::from_str::<VersionRange>("\"nope\"").is_err());
    }
}
