//! Small pieces of pages: times, estimates and progress bars.

use maud::{Markup, html};

use crate::model::JobSummary;

/// `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`.
pub fn ago(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86400),
    }
}

/// `42 s`, `3 min`, `2 h 5 min`.
pub fn duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as i64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// Time left for `job` at the rate its frames were rendered so far: `—`
/// before the first frame and once it ended.
pub fn eta(job: &JobSummary, now: i64) -> String {
    let done = job.progress.done;
    let left = job
        .frame_count
        .saturating_sub(done + job.progress.failed + job.progress.cancelled);
    if job.state.is_final() || done == 0 || left == 0 {
        return "—".into();
    }
    let per_frame = (now - job.created_ms).max(0) as f64 / 1000.0 / done as f64;
    duration(per_frame * left as f64)
}

/// A bar of `total` frames: verified, rendered (not yet verified) and
/// failed parts, with the numbers for screen readers.
pub fn progress_bar(total: u64, done: u64, verified: u64, failed: u64) -> Markup {
    let share = |n: u64| {
        if total == 0 {
            0.0
        } else {
            100.0 * n as f64 / total as f64
        }
    };
    let verified = verified.min(done);
    html! {
        div class="bar" role="img" aria-label={ (done) " of " (total) " rendered, " (verified) " verified, " (failed) " failed" } {
            span class="verified" style={ "width:" (format!("{:.2}", share(verified))) "%" } {}
            span class="rendered" style={ "width:" (format!("{:.2}", share(done - verified))) "%" } {}
            span class="failed" style={ "width:" (format!("{:.2}", share(failed))) "%" } {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_for_people() {
        assert_eq!(ago(12_500), "12 s ago");
        assert_eq!(ago(5 * 60_000), "5 min ago");
        assert_eq!(ago(3 * 3_600_000), "3 h ago");
        assert_eq!(duration(7_500.0), "2 h 5 min");
    }

    #[test]
    fn the_bar_splits_verified_rendered_and_failed() {
        let bar = progress_bar(10, 6, 2, 1).into_string();
        assert!(bar.contains("width:20.00%"), "{bar}");
        assert!(bar.contains("width:40.00%"), "{bar}");
        assert!(bar.contains("width:10.00%"), "{bar}");
        assert!(bar.contains("6 of 10 rendered"), "{bar}");
    }
}
