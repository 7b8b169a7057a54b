//! Frame specs in Deadline / OpenCue syntax.
//!
//! A spec is a comma-separated list of items; each item is a frame (`7`), a
//! range (`1-100`, inclusive), a range with a step (`1-100x5`), or a reverse
//! range (`100-1`, `100-1x10`). Frames may be negative (`-10--1`). Every frame
//! may appear once; order is kept, because it is the render order.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a frame spec was refused. Each message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameSpecError {
    /// Nothing but blanks and commas.
    #[error("the frame spec is empty; write frames like `1-100`, `1-100x5` or `1,5,10-12`")]
    Empty,
    /// An item is not a frame, range or stepped range.
    #[error("`{item}` is not a frame, a range `A-B` or a stepped range `A-BxN`")]
    BadItem {
        /// The offending item.
        item: String,
    },
    /// A number does not fit a frame number.
    #[error(
        "`{item}` is out of range: frame numbers must lie within ±{}",
        i32::MAX
    )]
    OutOfRange {
        /// The offending item.
        item: String,
    },
    /// `x0` or a negative step.
    #[error("`{item}`: the step after `x` must be a positive whole number")]
    BadStep {
        /// The offending item.
        item: String,
    },
    /// A frame is listed twice.
    #[error("frame {frame} appears more than once; list each frame once")]
    Duplicate {
        /// The repeated frame.
        frame: i32,
    },
    /// More frames than the configured maximum.
    #[error(
        "the spec has more than {max} frames; split the job or raise the coordinator's `max_frames_per_job`"
    )]
    TooMany {
        /// The configured maximum.
        max: usize,
    },
}

/// A parsed, validated list of frames in render order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameSpec {
    text: String,
    frames: Vec<i32>,
}

impl FrameSpec {
    /// Parse `text`, refusing more than `max_frames` frames (before expanding
    /// anything larger, so `1-2000000000` costs nothing).
    pub fn parse(text: &str, max_frames: usize) -> Result<Self, FrameSpecError> {
        let mut frames = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let range = parse_item(item)?;
            if frames.len() as u64 + range.len() > max_frames as u64 {
                return Err(FrameSpecError::TooMany { max: max_frames });
            }
            for frame in range.iter() {
                if !seen.insert(frame) {
                    return Err(FrameSpecError::Duplicate { frame });
                }
                frames.push(frame);
            }
        }
        if frames.is_empty() {
            return Err(FrameSpecError::Empty);
        }
        Ok(Self {
            text: text.trim().to_owned(),
            frames,
        })
    }

    /// The frames, in render order.
    pub fn frames(&self) -> &[i32] {
        &self.frames
    }

    /// The spec as the user wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for FrameSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An inclusive arithmetic range; `step` is negative for reverse ranges.
struct Range {
    start: i64,
    end: i64,
    step: i64,
}

impl Range {
    fn len(&self) -> u64 {
        ((self.end - self.start) / self.step) as u64 + 1
    }

    fn iter(&self) -> impl Iterator<Item = i32> + '_ {
        (0..self.len()).map(|i| (self.start + i as i64 * self.step) as i32)
    }
}

fn parse_item(item: &str) -> Result<Range, FrameSpecError> {
    let bad = || FrameSpecError::BadItem {
        item: item.to_owned(),
    };
    let (body, step) = match item.split_once(['x', 'X', ':']) {
        Some((body, step)) => {
            let step: i64 = step.trim().parse().map_err(|_| FrameSpecError::BadStep {
                item: item.to_owned(),
            })?;
            if step <= 0 || step > i64::from(i32::MAX) {
                return Err(FrameSpecError::BadStep {
                    item: item.to_owned(),
                });
            }
            (body, Some(step))
        }
        None => (item, None),
    };
    // The range dash is the first '-' that is not a leading minus sign.
    let dash = body
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == '-')
        .map(|(i, _)| i);
    let (start, end) = match dash {
        Some(i) => (number(&body[..i], item)?, number(&body[i + 1..], item)?),
        None if step.is_some() => return Err(bad()),
        None => {
            let n = number(body, item)?;
            (n, n)
        }
    };
    let step = step.unwrap_or(1);
    Ok(if end >= start {
        Range {
            start,
            end: end - (end - start) % step,
            step,
        }
    } else {
        Range {
            start,
            end: end + (start - end) % step,
            step: -step,
        }
    })
}

fn number(text: &str, item: &str) -> Result<i64, FrameSpecError> {
    let text = text.trim();
    let valid = {
        let digits = text.strip_prefix('-').unwrap_or(text);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if !valid {
        return Err(FrameSpecError::BadItem {
            item: item.to_owned(),
        });
    }
    match text.parse::<i64>() {
        Ok(n) if n.abs() <= i64::from(i32::MAX) => Ok(n),
        _ => Err(FrameSpecError::OutOfRange {
            item: item.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(spec: &str) -> Vec<i32> {
        FrameSpec::parse(spec, 1_000_000).unwrap().frames().to_vec()
    }

    fn err(spec: &str) -> FrameSpecError {
        FrameSpec::parse(spec, 1000).unwrap_err()
    }

    #[test]
    fn parses_the_deadline_forms() {
        assert_eq!(frames("1-5"), vec![1, 2, 3, 4, 5]);
        assert_eq!(frames("1-10x5"), vec![1, 6]);
        assert_eq!(frames("1,5,10-12"), vec![1, 5, 10, 11, 12]);
        assert_eq!(frames("5-1"), vec![5, 4, 3, 2, 1]);
        assert_eq!(frames("100-1x40"), vec![100, 60, 20]);
        assert_eq!(frames("7"), vec![7]);
        assert_eq!(frames(" 1 - 3 , 9 "), vec![1, 2, 3, 9]);
        assert_eq!(frames("-3--1"), vec![-3, -2, -1]);
        assert_eq!(frames("-2-1"), vec![-2, -1, 0, 1]);
        assert_eq!(frames("1-100x5").len(), 20);
        assert_eq!(frames("1-9:4"), vec![1, 5, 9]);
    }

    #[test]
    fn refuses_every_bad_form() {
        assert_eq!(err(""), FrameSpecError::Empty);
        assert_eq!(err(" , ,"), FrameSpecError::Empty);
        assert!(matches!(err("a-b"), FrameSpecError::BadItem { .. }));
        assert!(matches!(err("1-"), FrameSpecError::BadItem { .. }));
        assert!(matches!(err("1--"), FrameSpecError::BadItem { .. }));
        assert!(matches!(err("1.5"), FrameSpecError::BadItem { .. }));
        assert!(matches!(err("1-2-3"), FrameSpecError::BadItem { .. }));
        assert!(matches!(err("5x2"), FrameSpecError::BadItem { .. }));
        assert!(matches!(err("1-10x0"), FrameSpecError::BadStep { .. }));
        assert!(matches!(err("1-10x-2"), FrameSpecError::BadStep { .. }));
        assert!(matches!(err("1-10xz"), FrameSpecError::BadStep { .. }));
        assert!(matches!(
            err("99999999999"),
            FrameSpecError::OutOfRange { .. }
        ));
        assert_eq!(err("1-5,3"), FrameSpecError::Duplicate { frame: 3 });
        assert_eq!(err("1-2000000000"), FrameSpecError::TooMany { max: 1000 });
        assert_eq!(err("1-600,601-1200"), FrameSpecError::TooMany { max: 1000 });
    }

    #[test]
    fn errors_say_what_to_write() {
        let message = err("").to_string();
        assert!(message.contains("1-100"), "{message}");
    }

    proptest! {
        #[test]
        fn ranges_expand_to_every_stepped_frame(start in -5000i32..5000, len in 0i32..500, step in 1i32..50) {
            let end = start + len;
            let forward = frames(&format!("{start}-{end}x{step}"));
            let expected: Vec<i32> = (start..=end).step_by(step as usize).collect();
            prop_assert_eq!(&forward, &expected);
            let reverse = frames(&format!("{end}-{start}x{step}"));
            let expected: Vec<i32> = (start..=end).rev().step_by(step as usize).collect();
            prop_assert_eq!(reverse, expected);
        }

        #[test]
        fn lists_keep_order_and_refuse_duplicates(list in proptest::collection::vec(-1000i32..1000, 1..50)) {
            let text = list.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
            let unique: std::collections::HashSet<_> = list.iter().collect();
            match FrameSpec::parse(&text, 1000) {
                Ok(spec) => prop_assert_eq!(spec.frames(), &list[..]),
                Err(FrameSpecError::Duplicate { frame }) => {
                    prop_assert!(unique.len() < list.len());
                    prop_assert!(list.contains(&frame));
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }

        #[test]
        fn never_panics_and_never_exceeds_the_limit(text in "[-0-9x,: ]{0,40}", max in 1usize..200) {
            if let Ok(spec) = FrameSpec::parse(&text, max) {
                prop_assert!(!spec.frames().is_empty());
                prop_assert!(spec.frames().len() <= max);
            }
        }
    }
}
