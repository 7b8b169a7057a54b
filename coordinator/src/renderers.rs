//! What a job needs of a worker's renderers: the renderer, a build that
//! opens the scene's format, and a version in the job's range. Workers say
//! what they have when they announce themselves; a task is routed, copied
//! for parity and allowed to start only on a worker whose announcement
//! meets its job's requirement.

use protocol::{Renderer, RendererInfo, VersionRange};

/// The renderer a job needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The renderer.
    pub renderer: Renderer,
    /// The scene's format, as its file extension (`c4d`, `orbx`, `blend`).
    pub format: String,
    /// The versions it may render on; `None` for any.
    pub versions: Option<VersionRange>,
}

impl Requirement {
    /// Whether a worker that announced `renderers` can render the job.
    pub fn met_by(&self, renderers: &[RendererInfo]) -> bool {
        renderers
            .iter()
            .any(|r| r.can_render(self.renderer, &self.format, self.versions.as_ref()))
    }

    /// The requirement in words: `cinema4d (.c4d scenes) at versions >=2024`.
    pub fn describe(&self) -> String {
        let mut text = format!("{} (.{} scenes)", self.renderer, self.format);
        if let Some(range) = &self.versions {
            text.push_str(&format!(" at versions {range}"));
        }
        text
    }
}

/// A worker's renderers in words: `blender 3.4.1, octane 2024.1 (.orbx)`.
pub fn describe_all(renderers: &[RendererInfo]) -> String {
    if renderers.is_empty() {
        return "none".to_owned();
    }
    renderers
        .iter()
        .map(|r| {
            if r.formats.is_empty() {
                format!("{} {}", r.renderer, r.version)
            } else {
                format!("{} {} (.{})", r.renderer, r.version, r.formats.join(", ."))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(renderer: Renderer, version: &str, formats: &[&str]) -> RendererInfo {
        RendererInfo {
            renderer,
            version: version.into(),
            formats: formats.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    #[test]
    fn needs_the_renderer_the_format_and_the_version() {
        let c4d = Requirement {
            renderer: Renderer::Cinema4d,
            format: "c4d".into(),
            versions: Some(">=2024".parse().unwrap()),
        };
        assert!(c4d.met_by(&[
            info(Renderer::Blender, "3.4.1", &[]),
            info(Renderer::Cinema4d, "2024.4.1", &[])
        ]));
        assert!(!c4d.met_by(&[info(Renderer::Cinema4d, "2023.2.1", &[])]));
        assert!(!c4d.met_by(&[info(Renderer::Blender, "2024.1", &[])]));
        let octane_blend = Requirement {
            renderer: Renderer::Octane,
            format: "blend".into(),
            versions: None,
        };
        assert!(!octane_blend.met_by(&[info(Renderer::Octane, "2024.1", &[])]));
        assert!(octane_blend.met_by(&[info(Renderer::Octane, "2024.1", &["blend"])]));
        assert_eq!(c4d.describe(), "cinema4d (.c4d scenes) at versions >=2024");
        assert_eq!(
            describe_all(&[
                info(Renderer::Blender, "3.4.1", &[]),
                info(Renderer::Octane, "2024.1", &["blend"])
            ]),
            "blender 3.4.1, octane 2024.1 (.blend)"
        );
    }
}
