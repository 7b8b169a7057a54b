//! What the machine offers: installed renderers with versions, the CPU, the
//! host name.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use protocol::{CpuInfo, Renderer, RendererInfo};
use tokio::process::Command;

/// How long `blender --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Run `blender --version` and return the Blender it found, or why not.
pub async fn blender(blender: &Path) -> Result<RendererInfo, String> {
    let output = Command::new(blender)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, output)
        .await
        .map_err(|_| format!("no answer within {} s", VERSION_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match parse_blender_version(&stdout) {
        Some(version) if output.status.success() => Ok(RendererInfo {
            renderer: Renderer::Blender,
            version,
        }),
        _ => Err(format!(
            "exited with {} and printed no `Blender X.Y.Z` line",
            output.status
        )),
    }
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

    #[tokio::test]
    async fn a_missing_blender_is_reported() {
        let error = blender(Path::new("/nonexistent/blender"))
            .await
            .unwrap_err();
        assert!(!error.is_empty());
    }
}
