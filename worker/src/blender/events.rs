//! Turning Blender's output lines into render events: which frame is
//! rendering, and when a frame's file is complete, with its render time.

use std::path::PathBuf;
use std::time::Instant;

use super::output::{OutputLine, RenderBackend, parse_line};

/// What a running render reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderEvent {
    /// The device the settings script chose for Cycles.
    Device {
        /// What it chose.
        backend: RenderBackend,
    },
    /// The output size the scene will render at.
    Size {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Progress within a frame.
    Progress {
        /// The frame.
        frame: i32,
        /// Fraction of its samples done, when known.
        progress: Option<f32>,
    },
    /// A frame's file is written and complete.
    FrameSaved {
        /// The frame.
        frame: i32,
        /// The file.
        path: PathBuf,
        /// Seconds Blender spent on it (its own measure, or wall time between
        /// the frame's first status line and the save when it gives none).
        seconds: f64,
    },
}

/// Follows the output of one render. Blender prints `Saved: '…'` and then
/// ` Time: …` for each frame; the frame is reported once its time is known
/// (or, lacking a time line, when the next save or the end of output comes).
/// The settings script's device line is taken only before the first frame's
/// status line: a scene's names, printed while it renders, could forge one.
#[derive(Debug, Default)]
pub struct FrameTracker {
    /// Whether a frame's status line was seen (rendering started).
    rendering: bool,
    /// The frame of the latest status line and when it was first seen.
    frame: Option<(i32, Instant)>,
    /// A saved frame waiting for its time line.
    saved: Option<(i32, PathBuf, Instant)>,
}

impl FrameTracker {
    /// The event one output line gives, if any.
    pub fn line(&mut self, line: &str) -> Option<RenderEvent> {
        match parse_line(line)? {
            OutputLine::Device { backend } => {
                (!self.rendering).then_some(RenderEvent::Device { backend })
            }
            OutputLine::Size { width, height } => Some(RenderEvent::Size { width, height }),
            OutputLine::Status { frame, progress } => {
                self.rendering = true;
                if self.frame.is_none_or(|(current, _)| current != frame) {
                    self.frame = Some((frame, Instant::now()));
                }
                Some(RenderEvent::Progress { frame, progress })
            }
            OutputLine::Saved { path } => {
                let (frame, started) = self.frame?;
                let pending = self.saved.replace((frame, path, started));
                pending.map(wall_timed)
            }
            OutputLine::FrameTime { seconds } => {
                let (frame, path, _) = self.saved.take()?;
                self.frame = None;
                Some(RenderEvent::FrameSaved {
                    frame,
                    path,
                    seconds,
                })
            }
        }
    }

    /// The output ended: a save still waiting for its time line.
    pub fn finish(&mut self) -> Option<RenderEvent> {
        self.saved.take().map(wall_timed)
    }
}

/// A saved frame timed by the wall clock since its first status line.
fn wall_timed((frame, path, started): (i32, PathBuf, Instant)) -> RenderEvent {
    RenderEvent::FrameSaved {
        frame,
        path,
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two frames of `-f 4,9` on samples/sample.blend (Blender 3.4.1), trimmed.
    const CAPTURED: &str = "\
Blender 3.4.1
Read blend: /work/task/scene.blend
FARM-DEVICE: CPU
RENDERFARM_SIZE 160 90
Fra:4 Mem:10.03M (Peak 11.26M) | Time:00:00.00 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Synchronizing object | Lamp
Fra:4 Mem:10.80M (Peak 11.26M) | Time:00:00.09 | Mem:1.08M, Peak:1.08M | Scene, ViewLayer | Sample 0/16
Fra:4 Mem:11.25M (Peak 11.69M) | Time:00:00.45 | Mem:1.30M, Peak:1.30M | Scene, ViewLayer | Sample 16/16
Fra:4 Mem:11.25M (Peak 11.69M) | Time:00:00.45 | Mem:1.30M, Peak:1.30M | Scene, ViewLayer | Finished
Saved: '/work/task/out/frame_000004.exr'
 Time: 00:00.46 (Saving: 00:00.00)

Fra:9 Mem:10.81M (Peak 11.69M) | Time:00:00.00 | Mem:1.08M, Peak:1.08M | Scene, ViewLayer | Sample 0/16
Fra:9 Mem:11.25M (Peak 11.69M) | Time:00:00.34 | Mem:1.30M, Peak:1.30M | Scene, ViewLayer | Sample 16/16
Saved: '/work/task/out/frame_000009.exr'
 Time: 00:00.35 (Saving: 00:00.00)

Blender quit";

    fn saved(events: &[RenderEvent]) -> Vec<(i32, String, f64)> {
        events
            .iter()
            .filter_map(|event| match event {
                RenderEvent::FrameSaved {
                    frame,
                    path,
                    seconds,
                } => Some((*frame, path.display().to_string(), *seconds)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn frames_are_reported_with_blenders_own_time() {
        let mut tracker = FrameTracker::default();
        let events: Vec<RenderEvent> = CAPTURED.lines().filter_map(|l| tracker.line(l)).collect();
        assert_eq!(
            events[..2],
            [
                RenderEvent::Device {
                    backend: RenderBackend::Cpu
                },
                RenderEvent::Size {
                    width: 160,
                    height: 90
                }
            ]
        );
        assert_eq!(
            saved(&events),
            [
                (4, "/work/task/out/frame_000004.exr".to_owned(), 0.46),
                (9, "/work/task/out/frame_000009.exr".to_owned(), 0.35),
            ]
        );
        assert!(events.contains(&RenderEvent::Progress {
            frame: 9,
            progress: Some(1.0)
        }));
        assert_eq!(tracker.finish(), None);
    }

    #[test]
    fn a_save_without_a_time_line_is_still_reported() {
        let mut tracker = FrameTracker::default();
        let lines = [
            "Fra:1 Mem:1M | Scene, ViewLayer | Sample 1/1",
            "Saved: '/out/frame_000001.exr'",
            "Fra:2 Mem:1M | Scene, ViewLayer | Sample 1/1",
            "Saved: '/out/frame_000002.exr'",
        ];
        let events: Vec<RenderEvent> = lines.iter().filter_map(|l| tracker.line(l)).collect();
        assert_eq!(
            saved(&events).len(),
            1,
            "frame 1 is reported when frame 2 is saved"
        );
        assert_eq!(saved(&events)[0].0, 1);
        let last = tracker.finish().unwrap();
        assert!(matches!(last, RenderEvent::FrameSaved { frame: 2, .. }));
    }

    #[test]
    fn device_lines_count_only_before_rendering_starts() {
        let mut tracker = FrameTracker::default();
        let lines = [
            "FARM-DEVICE: CPU",
            "FARM-DEVICE: CUDA",
            "Fra:1 Mem:1M | Scene, ViewLayer | Synchronizing object | x",
            "FARM-DEVICE: OPTIX",
        ];
        let devices: Vec<RenderEvent> = lines
            .iter()
            .filter_map(|l| tracker.line(l))
            .filter(|event| matches!(event, RenderEvent::Device { .. }))
            .collect();
        assert_eq!(
            devices,
            [
                RenderEvent::Device {
                    backend: RenderBackend::Cpu
                },
                RenderEvent::Device {
                    backend: RenderBackend::Cuda
                }
            ]
        );
    }

    #[test]
    fn a_save_before_any_frame_is_ignored() {
        let mut tracker = FrameTracker::default();
        assert_eq!(tracker.line("Saved: '/out/frame_000001.exr'"), None);
        assert_eq!(tracker.line(" Time: 00:00.10 (Saving: 00:00.00)"), None);
        assert_eq!(tracker.finish(), None);
    }
}
