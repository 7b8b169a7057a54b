//! Object keys of the storage layout.

use object_store::path::Path;
use protocol::{JobId, SceneHash, WorkerId};

/// Whether `ext` is a safe scene file extension: 1 to 12 lowercase letters or digits.
pub fn valid_extension(ext: &str) -> bool {
    (1..=12).contains(&ext.len())
        && ext
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `scenes/<blake3>.<ext>`. `ext` must pass [`valid_extension`].
pub fn scene_key(hash: &SceneHash, ext: &str) -> Path {
    debug_assert!(valid_extension(ext));
    Path::from(format!("scenes/{hash}.{ext}"))
}

/// `renders/<job>/<frame>/<replica>-<worker>.exr`.
pub fn render_key(job: JobId, frame: i32, replica: u32, worker: WorkerId) -> Path {
    Path::from(format!("renders/{job}/{frame}/{replica}-{worker}.exr"))
}

/// `previews/<job>/<frame>.png`.
pub fn preview_key(job: JobId, frame: i32) -> Path {
    Path::from(format!("previews/{job}/{frame}.png"))
}

/// `reports/<job>/cost.csv`.
pub fn report_key(job: JobId) -> Path {
    Path::from(format!("reports/{job}/cost.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_layout() {
        let job: JobId = "0190a1b2-0000-7000-8000-000000000001".parse().unwrap();
        let worker: WorkerId = "0190a1b2-0000-7000-8000-000000000002".parse().unwrap();
        assert_eq!(
            render_key(job, -3, 1, worker).as_ref(),
            "renders/0190a1b2-0000-7000-8000-000000000001/-3/1-0190a1b2-0000-7000-8000-000000000002.exr"
        );
        let hash: SceneHash = "ab".repeat(32).parse().unwrap();
        assert_eq!(
            scene_key(&hash, "blend").as_ref(),
            format!("scenes/{hash}.blend")
        );
    }

    #[test]
    fn extensions_are_plain_words() {
        assert!(valid_extension("blend"));
        assert!(valid_extension("c4d"));
        for bad in ["", "../x", "BLEND", "a.b", "blend/../x", "thirteenchars"] {
            assert!(!valid_extension(bad), "{bad}");
        }
    }
}
