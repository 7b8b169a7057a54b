//! Which renderer a scene file is for, and which files of this machine
//! make its bundle: a `.blend` is read with Blender (its dependencies), a
//! Cinema 4D project is the folder `Save Project with Assets` wrote (the
//! `.c4d` and every file beside and under it), an Octane `.orbx` package
//! holds its assets itself.

use std::path::{Path, PathBuf};

use protocol::Renderer;

use crate::error::EXIT_REFUSED;

/// How a scene's files are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SceneKind {
    /// A `.blend`: Blender lists the files it uses.
    Blend,
    /// A `.c4d` saved with its assets: its folder is the project.
    Cinema4dProject,
    /// An `.orbx` package: one self-contained file.
    OrbxPackage,
}

/// Why a scene cannot be sent as asked.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The scene file is not there.
    #[error("the scene {} does not exist", path.display())]
    NoScene {
        /// The path given.
        path: PathBuf,
    },
    /// A file whose extension no renderer of the farm opens.
    #[error("{} is not a scene the farm renders: send a .blend (Blender, OctaneRender for Blender), a .c4d saved with its assets (Cinema 4D) or an .orbx package (Octane)", path.display())]
    UnknownFormat {
        /// The path given.
        path: PathBuf,
    },
    /// A renderer that does not open this format.
    #[error("{renderer} does not open .{ext} scenes; it takes {}", formats(*renderer))]
    WrongRenderer {
        /// The renderer asked for.
        renderer: Renderer,
        /// The scene's extension.
        ext: String,
    },
    /// No frames given for a scene this machine cannot read.
    #[error(
        "farm cannot read the frame range of a .{ext} here: give --frames (1-250, 1-250x5, 1,5,10-12)"
    )]
    NeedsFrames {
        /// The scene's extension.
        ext: &'static str,
    },
}

impl ProjectError {
    /// The exit code for this error: all are bad input.
    pub fn exit_code(&self) -> u8 {
        EXIT_REFUSED
    }
}

/// `.a, .b` of the formats `renderer` opens.
fn formats(renderer: Renderer) -> String {
    let names: Vec<String> = renderer.formats().iter().map(|f| format!(".{f}")).collect();
    names.join(" or ")
}

impl SceneKind {
    /// The kind of the scene at `path`, from its extension (any case).
    pub fn of(path: &Path) -> Result<Self, ProjectError> {
        if !path.is_file() {
            return Err(ProjectError::NoScene {
                path: path.to_owned(),
            });
        }
        let ext = extension(path);
        match ext.as_str() {
            "blend" => Ok(SceneKind::Blend),
            "c4d" => Ok(SceneKind::Cinema4dProject),
            "orbx" => Ok(SceneKind::OrbxPackage),
            _ => Err(ProjectError::UnknownFormat {
                path: path.to_owned(),
            }),
        }
    }

    /// The extension the coordinator sees.
    pub fn ext(self) -> &'static str {
        match self {
            SceneKind::Blend => "blend",
            SceneKind::Cinema4dProject => "c4d",
            SceneKind::OrbxPackage => "orbx",
        }
    }

    /// The renderer of a job of this scene: `asked`, when it opens the
    /// format, else the format's own renderer.
    pub fn renderer(self, asked: Option<Renderer>) -> Result<Renderer, ProjectError> {
        let renderer = asked.unwrap_or(match self {
            SceneKind::Blend => Renderer::Blender,
            SceneKind::Cinema4dProject => Renderer::Cinema4d,
            SceneKind::OrbxPackage => Renderer::Octane,
        });
        if renderer.formats().contains(&self.ext()) {
            Ok(renderer)
        } else {
            Err(ProjectError::WrongRenderer {
                renderer,
                ext: self.ext().into(),
            })
        }
    }

    /// What besides the main file goes into the bundle of a scene of this
    /// kind at `scene` (not a `.blend`: Blender says that).
    pub fn dependencies(self, scene: &Path) -> Vec<PathBuf> {
        match self {
            SceneKind::Cinema4dProject => scene
                .parent()
                .map(|folder| vec![folder.to_owned()])
                .unwrap_or_default(),
            SceneKind::Blend | SceneKind::OrbxPackage => Vec::new(),
        }
    }
}

/// `path`'s extension, lowercase ("" without one).
fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, b"x").unwrap();
        path
    }

    #[test]
    fn the_extension_picks_the_renderer_and_a_wrong_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kind = |name: &str| SceneKind::of(&file(dir.path(), name)).unwrap();
        assert_eq!(kind("a.blend").renderer(None).unwrap(), Renderer::Blender);
        assert_eq!(kind("B.C4D").renderer(None).unwrap(), Renderer::Cinema4d);
        assert_eq!(kind("c.orbx").renderer(None).unwrap(), Renderer::Octane);
        assert_eq!(
            kind("d.blend").renderer(Some(Renderer::Octane)).unwrap(),
            Renderer::Octane,
            "OctaneRender for Blender renders .blend files"
        );
        let wrong = kind("e.orbx")
            .renderer(Some(Renderer::Cinema4d))
            .unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "cinema4d does not open .orbx scenes; it takes .c4d"
        );
        let unknown = SceneKind::of(&file(dir.path(), "f.max")).unwrap_err();
        assert!(unknown.to_string().contains(".orbx package"), "{unknown}");
        let missing = SceneKind::of(&dir.path().join("none.c4d")).unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");
    }

    #[test]
    fn a_cinema4d_project_is_its_folder_and_a_package_is_alone() {
        let dir = tempfile::tempdir().unwrap();
        let c4d = file(dir.path(), "shot.c4d");
        assert_eq!(
            SceneKind::Cinema4dProject.dependencies(&c4d),
            vec![dir.path().to_owned()]
        );
        assert!(SceneKind::OrbxPackage.dependencies(&c4d).is_empty());
    }
}
