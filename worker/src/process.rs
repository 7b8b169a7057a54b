//! Running a renderer: its own process group, a minimal environment, output
//! read line by line, and a kill that takes every child with it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// One program run: what to start, with which arguments and which
/// environment beyond the minimal one every renderer gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments, in order.
    pub args: Vec<OsString>,
    /// Extra environment variables (a pinned GPU's `CUDA_VISIBLE_DEVICES`).
    pub env: Vec<(String, String)>,
}

/// A running renderer process (the leader of its own process group).
#[derive(Debug)]
pub struct RenderProcess {
    child: Child,
    group: Option<Pid>,
    lines: mpsc::Receiver<String>,
}

impl RenderProcess {
    /// Start `launch` in `workdir` with only `PATH`, `HOME`, `TMPDIR` and
    /// `LANG` set (`HOME` and `TMPDIR` point into the working directory),
    /// and the launch's own environment (a pinned GPU).
    pub fn spawn(launch: &Launch, workdir: &Path) -> std::io::Result<Self> {
        let mut child = Command::new(&launch.program)
            .args(&launch.args)
            .current_dir(workdir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", workdir)
            .env("TMPDIR", workdir)
            .env("LANG", "C.UTF-8")
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        let (sender, lines) = mpsc::channel(256);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(forward_lines(stdout, sender.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward_lines(stderr, sender));
        }
        Ok(Self {
            child,
            group,
            lines,
        })
    }

    /// The next line of stdout or stderr; `None` once both are closed.
    pub async fn next_line(&mut self) -> Option<String> {
        self.lines.recv().await
    }

    /// Wait for the renderer to exit, then kill whatever it left behind in its group.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        self.kill_group();
        Ok(status)
    }

    /// Kill the whole process group and reap the renderer.
    pub async fn kill(&mut self) -> std::io::Result<ExitStatus> {
        self.kill_group();
        self.child.wait().await
    }

    /// SIGKILL every process in the renderer's group, once.
    fn kill_group(&mut self) {
        if let Some(group) = self.group.take() {
            // ESRCH (nothing left in the group) is the normal case after an exit.
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

impl Drop for RenderProcess {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Send each line of `stream` to `sender` until the stream closes.
async fn forward_lines(stream: impl AsyncRead + Unpin, sender: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buffer);
                let line = line.trim_end_matches(['\n', '\r']).to_owned();
                if sender.send(line).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use protocol::{ExrDepth, Overrides};

    use super::*;
    use crate::blender::command::{FrameSelection, RenderCommand, TaskOutput};

    /// What a stand-in Blender prints as its `CUDA_VISIBLE_DEVICES` (`all`
    /// when unset) when run for a command pinned to `gpu`.
    async fn visible_devices(gpu: Option<&str>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let blender = dir.path().join("blender");
        std::fs::write(
            &blender,
            "#!/bin/sh\necho \"gpus=${CUDA_VISIBLE_DEVICES-all}\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&blender, std::fs::Permissions::from_mode(0o755)).unwrap();
        let command = RenderCommand {
            blender,
            scene: dir.path().join("scene.blend"),
            output: TaskOutput::frames_in(dir.path()).unwrap(),
            frames: FrameSelection::from_frames(&[1]).unwrap(),
            depth: ExrDepth::Half,
            overrides: Overrides::default(),
            threads: None,
            gpu: gpu.map(str::to_owned),
            device: protocol::RenderDevice::Cpu,
            has_gpu: false,
        };
        // A process forked by another test while the script was open for
        // writing keeps it busy for a moment.
        let mut process = loop {
            match RenderProcess::spawn(&command.launch(), dir.path()) {
                Err(error) if error.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                spawned => break spawned.unwrap(),
            }
        };
        let line = process.next_line().await.unwrap();
        assert!(process.wait().await.unwrap().success());
        line
    }

    #[tokio::test]
    async fn blender_sees_only_the_pinned_gpu() {
        let uuid = "GPU-5c6f3a2e-910b-4d1e-a27c-0012abcdefff";
        assert_eq!(visible_devices(Some(uuid)).await, format!("gpus={uuid}"));
        assert_eq!(visible_devices(None).await, "gpus=all");
    }
}
