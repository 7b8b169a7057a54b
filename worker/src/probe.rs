//! What the machine offers: installed renderers with versions, the CPU, the
//! host name.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use protocol::{CpuInfo, Renderer, RendererInfo};

use crate::config::RendererInstall;
use tokio::process::Command;

/// How long `blender --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Run `program args` and return what it printed on stdout and stderr, or
/// why it could not be run.
async fn version_output(program: &Path, args: &[&str]) -> Result<(bool, String), String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, output)
        .await
        .map_err(|_| format!("no answer within {} s", VERSION_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

/// Run `blender --version` and return the Blender it found, or why not.
pub async fn blender(blender: &Path) -> Result<RendererInfo, String> {
    let (success, text) = version_output(blender, &["--version"]).await?;
    match parse_blender_version(&text) {
        Some(version) if success => Ok(RendererInfo {
            renderer: Renderer::Blender,
            version,
            formats: Vec::new(),
        }),
        _ => Err("it printed no `Blender X.Y.Z` line".to_owned()),
    }
}

/// Cinema 4D's `Commandline` at `install`: the configured version, else
/// the one `Commandline -nogui -version` prints (`Cinema 4D 2024.4.1`).
pub async fn cinema4d(install: &RendererInstall) -> Result<RendererInfo, String> {
    let version = match &install.version {
        Some(version) => version.clone(),
        None => {
            let (_, text) = version_output(&install.path, &["-nogui", "-version"]).await?;
            parse_named_version(&text, &["Cinema 4D", "CINEMA 4D"]).ok_or_else(|| {
                "it printed no `Cinema 4D <version>` line; set `version` in [cinema4d]".to_owned()
            })?
        }
    };
    Ok(RendererInfo {
        renderer: Renderer::Cinema4d,
        version,
        formats: Vec::new(),
    })
}

/// Octane Standalone at `install`: the configured version, else the one
/// `octane --version` prints (`octane  version: 2024.1.2`).
pub async fn octane(install: &RendererInstall) -> Result<RendererInfo, String> {
    let version = match &install.version {
        Some(version) => version.clone(),
        None => {
            let (_, text) = version_output(&install.path, &["--version"]).await?;
            parse_named_version(&text, &["version:", "OctaneRender"]).ok_or_else(|| {
                "it printed no `version: <version>` line; set `version` in [octane]".to_owned()
            })?
        }
    };
    Ok(RendererInfo {
        renderer: Renderer::Octane,
        version,
        formats: vec!["orbx".to_owned()],
    })
}

/// OctaneRender for Blender at `install`: a Blender build whose
/// `--version` says `Blender X.Y.Z`; its Octane version is the configured
/// one, else the `OctaneRender <version>` it prints, else its Blender's.
pub async fn octane_blender(install: &RendererInstall) -> Result<RendererInfo, String> {
    let (success, text) = version_output(&install.path, &["--version"]).await?;
    let blender = parse_blender_version(&text)
        .filter(|_| success)
        .ok_or_else(|| "it printed no `Blender X.Y.Z` line".to_owned())?;
    let version = install
        .version
        .clone()
        .or_else(|| parse_named_version(&text, &["OctaneRender", "Octane"]))
        .unwrap_or(blender);
    Ok(RendererInfo {
        renderer: Renderer::Octane,
        version,
        formats: vec!["blend".to_owned()],
    })
}

/// The first dotted version that follows one of `markers` on a line of
/// `text` (`Cinema 4D R26.107` gives `R26.107`).
pub fn parse_named_version(text: &str, markers: &[&str]) -> Option<String> {
    text.lines().find_map(|line| {
        markers.iter().find_map(|marker| {
            let (_, rest) = line.split_once(marker)?;
            let word = rest.split_whitespace().next()?;
            let word = word.trim_end_matches([',', ')', ';']);
            protocol::Version::parse(word)
                .filter(|_| word.contains('.') || word.starts_with(['R', 'r']))
                .map(|_| word.to_owned())
        })
    })
}

/// The version from `blender --version` output (`Blender 3.4.1` gives `3.4.1`).
pub fn parse_blender_version(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let version = line
            .trim()
            .strip_prefix("Blender ")?
            .split_whitespace()
            .next()?;
        version
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| version.to_owned())
    })
}

/// The CPU model and logical core count.
pub fn cpu() -> CpuInfo {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let mut info = parse_cpuinfo(&text);
    if info.cores == 0 {
        info.cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    }
    info
}

/// Model name and processor count from `/proc/cpuinfo` text.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let field = |line: &str, name: &str| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    };
    CpuInfo {
        model: text
            .lines()
            .find_map(|line| field(line, "model name"))
            .unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
        cores: text
            .lines()
            .filter(|line| field(line, "processor").is_some())
            .count() as u32,
    }
}

/// The machine's host name (`unknown` if the OS will not say).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blender_versions() {
        assert_eq!(
            parse_blender_version("Blender 3.4.1\n"),
            Some("3.4.1".into())
        );
        assert_eq!(
            parse_blender_version("Blender 4.2.3 LTS\n\tbuild date: 2024-10-15\n"),
            Some("4.2.3".into())
        );
        assert_eq!(
            parse_blender_version("Color management: using fallback mode\nBlender 3.6.0\n"),
            Some("3.6.0".into())
        );
        assert_eq!(parse_blender_version("Blender quit\n"), None);
        assert_eq!(parse_blender_version(""), None);
    }

    #[test]
    fn reads_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\n\
                    processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n";
        assert_eq!(
            parse_cpuinfo(text),
            CpuInfo {
                model: "Intel(R) Xeon(R) Processor".into(),
                cores: 2
            }
        );
    }

    #[test]
    fn the_local_cpu_has_cores() {
        assert!(cpu().cores >= 1);
        assert!(!hostname().is_empty());
    }

    #[test]
    fn reads_other_renderers_versions() {
        let c4d = ["Cinema 4D", "CINEMA 4D"];
        assert_eq!(
            parse_named_version("Cinema 4D 2024.4.1 (Build 2024_4_1)\n", &c4d),
            Some("2024.4.1".into())
        );
        assert_eq!(
            parse_named_version("Loading...\nCINEMA 4D R26.107\n", &c4d),
            Some("R26.107".into())
        );
        assert_eq!(parse_named_version("Cinema 4D starting\n", &c4d), None);
        assert_eq!(
            parse_named_version("\noctane  version: 2024.1.2\n\n", &["version:"]),
            Some("2024.1.2".into())
        );
    }

    #[tokio::test]
    async fn a_configured_version_is_not_probed() {
        let install = RendererInstall {
            path: "/nonexistent/Commandline".into(),
            version: Some("2024.4.1".into()),
        };
        assert_eq!(cinema4d(&install).await.unwrap().version, "2024.4.1");
        assert!(
            octane(&RendererInstall::at("/nonexistent/octane"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_missing_blender_is_reported() {
        let error = blender(Path::new("/nonexistent/blender"))
            .await
            .unwrap_err();
        assert!(!error.is_empty());
    }
}
