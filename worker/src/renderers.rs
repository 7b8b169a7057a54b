//! The renderers this machine has: found from the configuration and by
//! probing at start, announced to the coordinator, and chosen per task by
//! the task's renderer and scene format.

use std::path::PathBuf;

use protocol::{Renderer, RendererInfo, TaskMessage};

use crate::config::{RendererInstall, WorkerConfig};
use crate::error::WorkerError;
use crate::probe;

/// How a task is rendered: which program, driven how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Blender, `blender -b`.
    Blender,
    /// OctaneRender for Blender, driven as Blender.
    OctaneBlender,
    /// Cinema 4D's `Commandline -nogui -render`.
    Cinema4d,
    /// Octane Standalone running the farm's Lua batch script.
    OctaneStandalone,
}

/// One renderer found on the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// How it is driven.
    pub engine: Engine,
    /// Its executable.
    pub path: PathBuf,
    /// What the worker announces of it.
    pub info: RendererInfo,
}

/// Every renderer found on the machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installed(Vec<Installation>);

impl Installed {
    /// Find the configured renderers. A renderer configured explicitly must
    /// work; Blender (configured by default) may be missing when another
    /// renderer is configured; no renderer at all is an error.
    pub async fn probe(config: &WorkerConfig) -> Result<Self, WorkerError> {
        let mut found = Vec::new();
        let others = [
            (Engine::Cinema4d, Renderer::Cinema4d, &config.cinema4d),
            (Engine::OctaneStandalone, Renderer::Octane, &config.octane),
            (
                Engine::OctaneBlender,
                Renderer::Octane,
                &config.octane_blender,
            ),
        ];
        for (engine, renderer, install) in others {
            let Some(install) = install else { continue };
            let info =
                probe_one(engine, install)
                    .await
                    .map_err(|reason| WorkerError::RendererProbe {
                        renderer,
                        path: install.path.clone(),
                        reason,
                    })?;
            found.push(Installation {
                engine,
                path: install.path.clone(),
                info,
            });
        }
        match probe::blender(&config.blender).await {
            Ok(info) => found.insert(
                0,
                Installation {
                    engine: Engine::Blender,
                    path: config.blender.clone(),
                    info,
                },
            ),
            Err(reason) if found.is_empty() => {
                return Err(WorkerError::NoRenderer {
                    blender: config.blender.clone(),
                    reason,
                });
            }
            Err(reason) => {
                tracing::info!(blender = %config.blender.display(), %reason,
                    "no Blender; this worker renders only its other renderers");
            }
        }
        Ok(Self(found))
    }

    /// A set of installations as they are (tests, embedding).
    pub fn new(installations: Vec<Installation>) -> Self {
        Self(installations)
    }

    /// What the worker announces.
    pub fn announced(&self) -> Vec<RendererInfo> {
        self.0.iter().map(|i| i.info.clone()).collect()
    }

    /// The renderers whose shared queues the worker reads, each once.
    pub fn renderers(&self) -> Vec<Renderer> {
        let mut renderers: Vec<Renderer> = self.0.iter().map(|i| i.info.renderer).collect();
        renderers.sort();
        renderers.dedup();
        renderers
    }

    /// The installation that renders `task`: its renderer, opening its
    /// scene's format.
    pub fn for_task(&self, task: &TaskMessage) -> Option<&Installation> {
        self.0
            .iter()
            .find(|i| i.info.can_render(task.renderer, &task.scene.ext, None))
    }
}

/// Probe one configured installation.
async fn probe_one(engine: Engine, install: &RendererInstall) -> Result<RendererInfo, String> {
    match engine {
        Engine::Cinema4d => probe::cinema4d(install).await,
        Engine::OctaneStandalone => probe::octane(install).await,
        Engine::OctaneBlender => probe::octane_blender(install).await,
        Engine::Blender => probe::blender(&install.path).await,
    }
}
