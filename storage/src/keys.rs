//! Object keys of the storage layout.

use object_store::path::Path;
use protocol::{JobId, SceneHash};

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

/// `blobs/<blake3>`: one file of a scene bundle (a texture, a library),
/// stored once whoever uploads it.
pub fn blob_key(hash: &SceneHash) -> Path {
    Path::from(format!("blobs/{hash}"))
}

/// The unguessable part of a task attempt's keys: 128 random bits in hex,
/// chosen by the coordinator when the attempt starts and told only to the
/// worker holding it (in its grants).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyNonce(String);

impl KeyNonce {
    /// A fresh random nonce.
    pub fn random() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }

    /// A nonce as stored; `None` unless it is 32 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(text.to_owned()))
    }

    /// The nonce's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `uploads/<job>/<frame>/<nonce>-<replica>.exr`: where the worker holding
/// an attempt may write one frame (through a grant).
pub fn upload_key(job: JobId, frame: i32, replica: u32, nonce: &KeyNonce) -> Path {
    Path::from(format!("uploads/{job}/{frame}/{}-{replica}.exr", nonce.0))
}

/// `renders/<job>/<frame>/<replica>-<nonce>.exr`: the coordinator's own
/// copy of an upload, taken when it looks at the result; no worker is ever
/// granted it, so an accepted copy cannot be replaced.
pub fn render_key(job: JobId, frame: i32, replica: u32, nonce: &KeyNonce) -> Path {
    Path::from(format!("renders/{job}/{frame}/{replica}-{}.exr", nonce.0))
}

/// The two previews made of every rendered copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreviewSize {
    /// A thumbnail (longer side 256 pixels at most).
    Thumb,
    /// The full-size preview (longer side capped, for large frames).
    Full,
}

impl PreviewSize {
    /// The size's name in keys and in the API: `thumb` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Thumb => "thumb",
            Self::Full => "full",
        }
    }

    /// The size named `text` (`thumb` or `full`).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Thumb, Self::Full]
            .into_iter()
            .find(|size| size.as_str() == text)
    }
}

/// `previews/<job>/<frame>/<replica>-<thumb|full>.png`: a tone-mapped PNG
/// preview of one rendered copy, made by the coordinator from its own copy.
pub fn preview_key(job: JobId, frame: i32, replica: u32, size: PreviewSize) -> Path {
    Path::from(format!(
        "previews/{job}/{frame}/{replica}-{}.png",
        size.as_str()
    ))
}

/// `previews/<job>/<frame>/heatmap-<a>-<b>.png`: the parity heat map of
/// copies `replica_a` and `replica_b` of a frame (the checker writes the
/// lower replica first).
pub fn heatmap_key(job: JobId, frame: i32, replica_a: u32, replica_b: u32) -> Path {
    Path::from(format!(
        "previews/{job}/{frame}/heatmap-{replica_a}-{replica_b}.png"
    ))
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
        let nonce = KeyNonce::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            render_key(job, -3, 1, &nonce).as_ref(),
            "renders/0190a1b2-0000-7000-8000-000000000001/-3/1-0123456789abcdef0123456789abcdef.exr"
        );
        assert_eq!(
            upload_key(job, -3, 1, &nonce).as_ref(),
            "uploads/0190a1b2-0000-7000-8000-000000000001/-3/0123456789abcdef0123456789abcdef-1.exr"
        );
        assert_eq!(
            preview_key(job, -3, 1, PreviewSize::Thumb).as_ref(),
            "previews/0190a1b2-0000-7000-8000-000000000001/-3/1-thumb.png"
        );
        assert_eq!(
            preview_key(job, 7, 0, PreviewSize::Full).as_ref(),
            "previews/0190a1b2-0000-7000-8000-000000000001/7/0-full.png"
        );
        assert_eq!(
            heatmap_key(job, 7, 0, 2).as_ref(),
            "previews/0190a1b2-0000-7000-8000-000000000001/7/heatmap-0-2.png"
        );
        let hash: SceneHash = "ab".repeat(32).parse().unwrap();
        assert_eq!(
            scene_key(&hash, "blend").as_ref(),
            format!("scenes/{hash}.blend")
        );
    }

    #[test]
    fn nonces_are_random_hex() {
        let (a, b) = (KeyNonce::random(), KeyNonce::random());
        assert_ne!(a, b);
        assert_eq!(KeyNonce::parse(a.as_str()), Some(a));
        for bad in ["", "0123", "../x", &"G".repeat(32), &"a".repeat(33)] {
            assert_eq!(KeyNonce::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn preview_sizes_have_names() {
        for size in [PreviewSize::Thumb, PreviewSize::Full] {
            assert_eq!(PreviewSize::parse(size.as_str()), Some(size));
        }
        for bad in ["", "Thumb", "large", "thumb.png"] {
            assert_eq!(PreviewSize::parse(bad), None, "{bad}");
        }
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
