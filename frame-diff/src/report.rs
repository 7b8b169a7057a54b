//! The human-readable report, in `idiff`'s layout and number format.

use std::fmt::Write;

use crate::compare::Comparison;
use crate::idiff::{ErrorStats, IdiffThresholds};

/// Formats like C++ `std::cout << double` (`%g`, 6 significant digits).
pub fn format_g(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-5..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (5 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

fn percent(v: f64) -> String {
    // idiff prints percentages with 3 significant digits.
    let s = format!("{v:.2e}");
    let parsed: f64 = s.parse().unwrap_or(v);
    format_g(parsed)
}

/// The lines `idiff` prints for one set of statistics.
pub fn idiff_lines(stats: &ErrorStats, t: &IdiffThresholds) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  Mean error = {}", format_g(stats.mean_error));
    let _ = writeln!(out, "  RMS error = {}", format_g(stats.rms_error));
    let _ = writeln!(out, "  Peak SNR = {}", format_g(stats.psnr));
    let _ = write!(out, "  Max error  = {}", format_g(stats.max_error));
    if let Some(at) = &stats.max_at {
        let _ = write!(out, " @ ({}, {}, {})", at.x, at.y, at.channel);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {} pixels ({}%) over {}",
        stats.warn_pixels,
        percent(stats.warn_percent),
        format_g(t.warn as f64)
    );
    let _ = writeln!(
        out,
        "  {} pixels ({}%) over {}",
        stats.fail_pixels,
        percent(stats.fail_percent),
        format_g(t.fail as f64)
    );
    out
}

/// The full human report: idiff's block, then tiles, FLIP, noise and the verdict.
pub fn human(c: &Comparison, a: &str, b: &str, t: &IdiffThresholds, verbose: bool) -> String {
    let mut out = format!("Comparing \"{a}\" and \"{b}\"\n");
    let _ = writeln!(
        out,
        "  {} x {}, {} channels compared: {}",
        c.width,
        c.height,
        c.channels.len(),
        c.channels.join(", ")
    );
    if !c.only_in_a.is_empty() || !c.only_in_b.is_empty() {
        let _ = writeln!(
            out,
            "  Only in the first: {:?}; only in the second: {:?}",
            c.only_in_a, c.only_in_b
        );
    }
    let _ = writeln!(
        out,
        "  Pixel hash {} vs {}",
        &c.pixel_hash_a[..16],
        &c.pixel_hash_b[..16]
    );
    if let Some(overall) = c
        .overall
        .as_ref()
        .filter(|_| verbose || c.idiff_status as i32 != 0)
    {
        out.push_str(&idiff_lines(overall, t));
    }
    if verbose {
        for ch in &c.per_channel {
            let s = &ch.stats;
            let _ = writeln!(
                out,
                "    {}: mean {} rms {} psnr {} max {}",
                ch.name,
                format_g(s.mean_error),
                format_g(s.rms_error),
                format_g(s.psnr),
                format_g(s.max_error)
            );
        }
    }
    if let (Some(bias), Some(err)) = (c.worst_bias_tile(), c.worst_error_tile()) {
        let _ = writeln!(
            out,
            "  Tiles {0}x{0}: worst bias {1} ({2}) at ({3}, {4}); worst mean error {5} at ({6}, {7})",
            c.tile_size,
            format_g(bias.bias),
            bias.bias_channel,
            bias.x,
            bias.y,
            format_g(err.mean_error),
            err.x,
            err.y
        );
    }
    if let Some(f) = &c.flip {
        let _ = writeln!(
            out,
            "  HDR-FLIP mean {} (worst tile {} at ({}, {})), {} exposures from {} to {}",
            format_g(f.mean),
            format_g(f.worst_tile_mean),
            f.worst_tile.0,
            f.worst_tile.1,
            f.plan.exposures,
            format_g(f.plan.start_exposure as f64),
            format_g(f.plan.stop_exposure as f64)
        );
    }
    if let Some(n) = &c.noise {
        let _ = writeln!(
            out,
            "  Noise level {} vs {} (ratio {})",
            format_g(n.a),
            format_g(n.b),
            format_g(n.ratio)
        );
    }
    let _ = writeln!(
        out,
        "Verdict: {}",
        serde_json::to_value(c.verdict)
            .unwrap_or_default()
            .as_str()
            .unwrap_or("?")
    );
    for r in &c.reasons {
        let _ = writeln!(out, "  - {}", r.message);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format_g;

    #[test]
    fn formats_like_iostream() {
        assert_eq!(format_g(0.0328015123), "0.0328015");
        assert_eq!(format_g(37.83149), "37.8315");
        assert_eq!(format_g(1e-6), "1e-06");
        assert_eq!(format_g(1.31758), "1.31758");
        assert_eq!(format_g(123456789.0), "1.23457e+08");
        assert_eq!(format_g(f64::INFINITY), "inf");
        assert_eq!(format_g(2.0), "2");
    }
}
