//! How amounts read for people: sizes, money, times, durations, frame lists.

use crate::views::{Frame, FrameState};

/// `bytes` as `1.2 MiB`.
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `micros` millionths of `currency` as `0.012345 EUR`.
pub fn money(micros: i64, currency: &str) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    format!(
        "{sign}{}.{:06} {currency}",
        micros / 1_000_000,
        micros % 1_000_000
    )
}

/// Milliseconds since the epoch as `2025-01-31 14:05` (UTC).
pub fn time(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000);
    let (days, minute_of_day) = (minutes.div_euclid(1440), minutes.rem_euclid(1440));
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        minute_of_day / 60,
        minute_of_day % 60
    )
}

/// The calendar date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds as `1h 02m`, `3m 05s` or `12.3s`.
pub fn duration(seconds: f64) -> String {
    let whole = seconds.max(0.0).round() as u64;
    if whole >= 3600 {
        format!("{}h {:02}m", whole / 3600, whole % 3600 / 60)
    } else if whole >= 60 {
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        format!("{seconds:.1}s")
    }
}

/// Runs of consecutive frames in one state: `done 1-10, 12  failed 11`.
pub fn frame_runs(frames: &[Frame]) -> Vec<(FrameState, String)> {
    let mut runs: Vec<(FrameState, i32, i32)> = Vec::new();
    for frame in frames {
        match runs.last_mut() {
            Some((state, _, end)) if *state == frame.state && frame.frame == *end + 1 => {
                *end = frame.frame;
            }
            _ => runs.push((frame.state, frame.frame, frame.frame)),
        }
    }
    let mut by_state: Vec<(FrameState, Vec<String>)> = Vec::new();
    for (state, start, end) in runs {
        let text = if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        };
        match by_state.iter_mut().find(|(s, _)| *s == state) {
            Some((_, texts)) => texts.push(text),
            None => by_state.push((state, vec![text])),
        }
    }
    by_state
        .into_iter()
        .map(|(state, texts)| (state, texts.join(", ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_for_people() {
        assert_eq!(bytes(99), "99 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(money(1_234_567, "EUR"), "1.234567 EUR");
        assert_eq!(money(-5, "USD"), "-0.000005 USD");
        assert_eq!(time(0), "1970-01-01 00:00");
        assert_eq!(time(1_738_332_300_000), "2025-01-31 14:05");
        assert_eq!(duration(3.21), "3.2s");
        assert_eq!(duration(185.0), "3m 05s");
        assert_eq!(duration(3720.0), "1h 02m");
    }

    #[test]
    fn frames_are_grouped_in_runs() {
        let frame = |n, state| Frame {
            frame: n,
            state,
            error: None,
            render_seconds: None,
        };
        let frames = [
            frame(1, FrameState::Done),
            frame(2, FrameState::Done),
            frame(3, FrameState::Failed),
            frame(4, FrameState::Done),
            frame(6, FrameState::Done),
        ];
        assert_eq!(
            frame_runs(&frames),
            vec![
                (FrameState::Done, "1-2, 4, 6".to_owned()),
                (FrameState::Failed, "3".to_owned())
            ]
        );
    }
}
