//! Small charts drawn on the server as inline SVG: no script, no library,
//! readable by screen readers through their titles.

use maud::{Markup, html};

/// Chart size in SVG units (it scales to its box).
const WIDTH: f64 = 640.0;
/// Chart height.
const HEIGHT: f64 = 180.0;
/// Room for the axis labels.
const MARGIN: f64 = 28.0;

/// Bars of `values` (one per frame, labelled by `labels`) with the running
/// total drawn as a line on its own scale.
pub fn bars_with_cumulative(title: &str, labels: &[i32], values: &[f64], unit: &str) -> Markup {
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let total: f64 = values.iter().sum();
    let n = values.len().max(1) as f64;
    let step = (WIDTH - MARGIN) / n;
    let y = |v: f64, top: f64| {
        if top > 0.0 {
            HEIGHT - MARGIN - (HEIGHT - 2.0 * MARGIN) * v / top
        } else {
            HEIGHT - MARGIN
        }
    };
    let mut running = 0.0;
    let line: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            running += v;
            format!(
                "{:.1},{:.1}",
                MARGIN + step * (i as f64 + 0.5),
                y(running, total)
            )
        })
        .collect();
    html! {
        figure class="chart" {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-labelledby="t-cost" {
                title id="t-cost" { (title) ": " (values.len()) " frames, " (format!("{total:.6}")) " " (unit) " in all" }
                line class="axis" x1=(MARGIN) y1=(HEIGHT - MARGIN) x2=(WIDTH) y2=(HEIGHT - MARGIN) {}
                @for (i, v) in values.iter().enumerate() {
                    rect class="bar-cost" x=(format!("{:.1}", MARGIN + step * i as f64))
                        y=(format!("{:.1}", y(*v, max))) width=(format!("{:.2}", (step * 0.8).max(0.5)))
                        height=(format!("{:.1}", HEIGHT - MARGIN - y(*v, max))) {
                        title { "frame " (labels.get(i).copied().unwrap_or_default()) ": " (format!("{v:.6}")) " " (unit) }
                    }
                }
                polyline class="cumulative" points=(line.join(" ")) {}
                text x="2" y="14" { "max " (format!("{max:.6}")) }
                text x=(WIDTH - 4.0) y="14" text-anchor="end" { "cumulative " (format!("{total:.6}")) " " (unit) }
            }
            figcaption { (title) " — bars: each frame; line: the running total" }
        }
    }
}

/// A histogram of `values` in `bins` equal bins.
pub fn histogram(title: &str, values: &[f64], bins: usize, unit: &str) -> Markup {
    let (min, max) = values.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    });
    let min = if min.is_finite() { min } else { 0.0 };
    let width = ((max - min) / bins as f64).max(f64::EPSILON);
    let mut counts = vec![0usize; bins];
    for v in values {
        let bin = (((v - min) / width) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = (WIDTH - MARGIN) / bins as f64;
    html! {
        figure class="chart" {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-labelledby="t-hist" {
                title id="t-hist" { (title) " from " (format!("{min:.2}")) " to " (format!("{max:.2}")) " " (unit) }
                line class="axis" x1=(MARGIN) y1=(HEIGHT - MARGIN) x2=(WIDTH) y2=(HEIGHT - MARGIN) {}
                @for (i, count) in counts.iter().enumerate() {
                    @let h = (HEIGHT - 2.0 * MARGIN) * *count as f64 / top;
                    rect class="bar-time" x=(format!("{:.1}", MARGIN + step * i as f64 + 1.0))
                        y=(format!("{:.1}", HEIGHT - MARGIN - h)) width=(format!("{:.1}", step - 2.0))
                        height=(format!("{h:.1}")) {
                        title { (count) " frame(s) from " (format!("{:.2}", min + width * i as f64)) " " (unit) }
                    }
                }
                text x=(MARGIN) y=(HEIGHT - 8.0) { (format!("{min:.2}")) " " (unit) }
                text x=(WIDTH - 4.0) y=(HEIGHT - 8.0) text-anchor="end" { (format!("{max:.2}")) " " (unit) }
            }
            figcaption { (title) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_every_value_once() {
        let svg = histogram("render time", &[1.0, 1.1, 2.0, 3.0], 2, "s").into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("2 frame(s) from 1.00 s"), "{svg}");
        assert!(svg.contains("2 frame(s) from 2.00 s"), "{svg}");
        let empty = histogram("render time", &[], 4, "s").into_string();
        assert_eq!(empty.matches("<rect").count(), 4);
    }

    #[test]
    fn the_running_total_ends_at_the_sum() {
        let svg = bars_with_cumulative("cost", &[1, 2], &[1.0, 3.0], "USD").into_string();
        assert!(svg.contains("cumulative 4.000000 USD"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
    }
}
