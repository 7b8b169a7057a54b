//! Scene bundles: a job's scene as a manifest of files, each addressed by
//! its blake3, at the relative paths the main file uses (textures, linked
//! libraries, caches). Checked before anything is uploaded: a path that
//! could leave the bundle's folder is refused, naming the file.

use std::collections::BTreeMap;

use protocol::SceneHash;

pub use protocol::bundle::{Manifest, ManifestFile};

/// Limits a manifest must stay within.
#[derive(Debug, Clone, Copy)]
pub struct BundleLimits {
    /// Most files in one bundle.
    pub max_files: usize,
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Largest bundle, all files together, in bytes.
    pub max_bundle_bytes: u64,
}

/// Why a manifest is refused. Every message names the file concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// A path that is absolute, climbs out with `..`, or is not a plain
    /// relative path.
    #[error(
        "{path:?} {why}; bundle paths are relative to the main file's folder, like `textures/wood.png`"
    )]
    BadPath {
        /// The path.
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Two files at one path (compared without case: a bundle must unpack
    /// the same on every file system).
    #[error("{path:?} is listed twice")]
    Duplicate {
        /// The path.
        path: String,
    },
    /// A file at a path that another file needs as its folder.
    #[error("{file:?} is a file, but {inside:?} needs it to be a folder")]
    FileAsFolder {
        /// The file.
        file: String,
        /// The file that would be inside it.
        inside: String,
    },
    /// The main file is not one of the files.
    #[error("the main file {main:?} is not one of the bundle's files")]
    MainNotListed {
        /// The main file.
        main: String,
    },
    /// The main file has no plain extension (`.blend`).
    #[error("the main file {main:?} needs a plain extension such as `.blend`")]
    MainExtension {
        /// The main file.
        main: String,
    },
    /// The same hash listed with two sizes.
    #[error("{path:?} has blake3 {hash} but another file with that hash has another size")]
    SizeConflict {
        /// The path.
        path: String,
        /// The hash.
        hash: SceneHash,
    },
    /// No files.
    #[error("the bundle lists no files; list at least the main file")]
    Empty,
    /// Too many files.
    #[error("the bundle lists {count} files; the limit is {limit}")]
    TooManyFiles {
        /// Files listed.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// One file too large.
    #[error("{path:?} is {bytes} bytes; the limit per file is {limit} (`jobs.max_upload_bytes`)")]
    FileTooLarge {
        /// The path.
        path: String,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// All files together too large.
    #[error("the bundle is {bytes} bytes; the limit is {limit} (`jobs.max_bundle_bytes`)")]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
}

/// Check that `path` is a plain relative path that stays inside the
/// bundle (see [`protocol::bundle::path_problem`]).
pub fn check_path(path: &str) -> Result<(), BundleError> {
    match protocol::bundle::path_problem(path) {
        Some(why) => Err(BundleError::BadPath {
            path: path.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

/// A manifest that passed [`check`], in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedManifest {
    /// The bundle's id: blake3 of its canonical JSON.
    pub id: String,
    /// The manifest, files sorted by path.
    pub manifest: Manifest,
    /// All files together, in bytes.
    pub bytes: u64,
}

/// Check a manifest against `limits` and give it its canonical form and id.
pub fn check(manifest: &Manifest, limits: &BundleLimits) -> Result<CheckedManifest, BundleError> {
    if manifest.files.is_empty() {
        return Err(BundleError::Empty);
    }
    if manifest.files.len() > limits.max_files {
        return Err(BundleError::TooManyFiles {
            count: manifest.files.len(),
            limit: limits.max_files,
        });
    }
    let mut seen = std::collections::HashMap::new();
    let mut sizes: BTreeMap<&SceneHash, u64> = BTreeMap::new();
    let mut total = 0u64;
    for file in &manifest.files {
        check_path(&file.path)?;
        if seen
            .insert(file.path.to_lowercase(), file.path.as_str())
            .is_some()
        {
            return Err(BundleError::Duplicate {
                path: file.path.clone(),
            });
        }
        if file.bytes > limits.max_file_bytes {
            return Err(BundleError::FileTooLarge {
                path: file.path.clone(),
                bytes: file.bytes,
                limit: limits.max_file_bytes,
            });
        }
        if *sizes.entry(&file.hash).or_insert(file.bytes) != file.bytes {
            return Err(BundleError::SizeConflict {
                path: file.path.clone(),
                hash: file.hash.clone(),
            });
        }
        total = total.saturating_add(file.bytes);
    }
    for file in &manifest.files {
        let folders = file.path.match_indices('/').map(|(at, _)| &file.path[..at]);
        if let Some(listed) = folders
            .into_iter()
            .find_map(|folder| seen.get(&folder.to_lowercase()))
        {
            return Err(BundleError::FileAsFolder {
                file: (*listed).to_owned(),
                inside: file.path.clone(),
            });
        }
    }
    if total > limits.max_bundle_bytes {
        return Err(BundleError::TooLarge {
            bytes: total,
            limit: limits.max_bundle_bytes,
        });
    }
    if !manifest.files.iter().any(|f| f.path == manifest.main) {
        return Err(BundleError::MainNotListed {
            main: manifest.main.clone(),
        });
    }
    let ext = manifest
        .main
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .unwrap_or_default();
    if !storage::valid_extension(ext) {
        return Err(BundleError::MainExtension {
            main: manifest.main.clone(),
        });
    }
    let mut canonical = manifest.clone();
    canonical.files.sort_by(|a, b| a.path.cmp(&b.path));
    let json = serde_json::to_vec(&canonical).expect("a manifest serialises");
    Ok(CheckedManifest {
        id: blake3::hash(&json).to_hex().to_string(),
        manifest: canonical,
        bytes: total,
    })
}

/// A blob a bundle lacks, with the paths it is at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MissingBlob {
    /// Its blake3.
    pub hash: SceneHash,
    /// Its size in bytes.
    pub bytes: u64,
    /// Where the bundle has it.
    pub paths: Vec<String>,
}

/// The blobs of `manifest` not among `stored` (blob to bytes, for the
/// blobs the tenant uploaded), sorted by hash.
pub fn missing(manifest: &Manifest, stored: &BTreeMap<SceneHash, u64>) -> Vec<MissingBlob> {
    manifest
        .blobs()
        .into_iter()
        .filter(|(hash, _)| !stored.contains_key(hash))
        .map(|(hash, (bytes, paths))| MissingBlob { hash, bytes, paths })
        .collect()
}

/// A file whose manifest entry names another size than its blob's bytes,
/// as the coordinator measured them when the blob was uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeMismatch {
    /// The file's path in the bundle.
    pub path: String,
    /// The size the manifest says.
    pub declared: u64,
    /// The size of the bytes that hash to its blake3.
    pub stored: u64,
}

/// The files of `manifest` whose declared size is not the size of their
/// uploaded blob (`stored`: blob to bytes, for the blobs uploaded so far).
/// A blob's bytes are fixed by its hash, so a manifest that says another
/// size is wrong, and the limits checked on its sizes meant nothing.
pub fn size_mismatches(
    manifest: &Manifest,
    stored: &BTreeMap<SceneHash, u64>,
) -> Vec<SizeMismatch> {
    manifest
        .files
        .iter()
        .filter_map(|file| {
            let bytes = *stored.get(&file.hash)?;
            (bytes != file.bytes).then(|| SizeMismatch {
                path: file.path.clone(),
                declared: file.bytes,
                stored: bytes,
            })
        })
        .collect()
}

/// What to tell the client about `mismatches` (at least one): the first
/// few files with both sizes, and what to do.
pub fn describe_mismatches(mismatches: &[SizeMismatch]) -> String {
    let shown: Vec<String> = mismatches
        .iter()
        .take(5)
        .map(|m| format!("{:?} is {} bytes, not {}", m.path, m.stored, m.declared))
        .collect();
    let more = match mismatches.len().saturating_sub(5) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!(
        "the manifest's sizes are not the files' sizes: {}{more}; describe the bundle again \
         with each file's real size in bytes",
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BundleLimits = BundleLimits {
        max_files: 3,
        max_file_bytes: 100,
        max_bundle_bytes: 150,
    };

    fn file(path: &str, byte: u8, bytes: u64) -> ManifestFile {
        ManifestFile {
            path: path.into(),
            hash: SceneHash::from_blake3(blake3::hash(&[byte]).as_bytes()),
            bytes,
        }
    }

    fn manifest(files: Vec<ManifestFile>) -> Manifest {
        Manifest {
            main: "shot.blend".into(),
            files,
        }
    }

    #[test]
    fn paths_stay_inside_the_bundle() {
        for good in ["shot.blend", "textures/wood.png", "a b/ünï.exr", "..x/y..z"] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x.png",
            "textures/../../x.png",
            "a/./b",
            "a//b",
            "a/",
            "C:/x.png",
            "c:x.png",
            "textures\\wood.png",
            "a\nb",
        ] {
            assert!(
                matches!(check_path(bad), Err(BundleError::BadPath { ref path, .. }) if path == bad),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_manifest_is_checked_and_canonical() {
        let a = manifest(vec![file("tex/b.png", 1, 10), file("shot.blend", 2, 20)]);
        let b = manifest(vec![file("shot.blend", 2, 20), file("tex/b.png", 1, 10)]);
        let (a, b) = (check(&a, &LIMITS).unwrap(), check(&b, &LIMITS).unwrap());
        assert_eq!(a.id, b.id, "the order of files does not matter");
        assert_eq!(a.bytes, 30);
        let changed = manifest(vec![file("tex/b.png", 3, 10), file("shot.blend", 2, 20)]);
        assert_ne!(check(&changed, &LIMITS).unwrap().id, a.id);
    }

    #[test]
    fn missing_blobs_are_those_not_uploaded_with_every_path() {
        let m = manifest(vec![
            file("shot.blend", 1, 20),
            file("tex/a.png", 2, 4),
            file("tex/copy.png", 2, 4),
        ]);
        let uploaded: BTreeMap<SceneHash, u64> = [(file("", 1, 0).hash, 20)].into();
        assert_eq!(
            missing(&m, &uploaded),
            vec![MissingBlob {
                hash: file("", 2, 0).hash,
                bytes: 4,
                paths: vec!["tex/a.png".into(), "tex/copy.png".into()]
            }]
        );
    }

    #[test]
    fn declared_sizes_are_compared_with_the_stored_blobs() {
        let m = manifest(vec![
            file("shot.blend", 1, 20),
            file("tex/a.png", 2, 1),
            file("tex/b.png", 3, 5),
        ]);
        let stored = |pairs: &[(u8, u64)]| -> BTreeMap<SceneHash, u64> {
            pairs
                .iter()
                .map(|(byte, bytes)| (file("", *byte, 0).hash, *bytes))
                .collect()
        };
        assert_eq!(
            size_mismatches(&m, &stored(&[])),
            vec![],
            "nothing uploaded yet"
        );
        assert_eq!(size_mismatches(&m, &stored(&[(1, 20), (3, 5)])), vec![]);
        let found = size_mismatches(&m, &stored(&[(1, 20), (2, 4_000_000)]));
        assert_eq!(
            found,
            vec![SizeMismatch {
                path: "tex/a.png".into(),
                declared: 1,
                stored: 4_000_000
            }]
        );
        let text = describe_mismatches(&found);
        assert!(
            text.contains(r#""tex/a.png" is 4000000 bytes, not 1"#) && text.contains("real size"),
            "{text}"
        );
    }

    #[test]
    fn bad_manifests_name_what_is_wrong() {
        let cases = [
            (manifest(vec![]), "lists no files"),
            (
                manifest(vec![file("shot.blend", 1, 1), file("Shot.blend", 2, 1)]),
                "listed twice",
            ),
            (manifest(vec![file("other.blend", 1, 1)]), "is not one of"),
            (
                manifest(vec![
                    file("shot.blend", 1, 1),
                    file("a", 2, 1),
                    file("b", 3, 1),
                    file("c", 4, 1),
                ]),
                "the limit is 3",
            ),
            (
                manifest(vec![file("shot.blend", 1, 101)]),
                "the limit per file",
            ),
            (
                manifest(vec![file("shot.blend", 1, 100), file("x.png", 2, 100)]),
                "`jobs.max_bundle_bytes`",
            ),
            (
                manifest(vec![file("shot.blend", 1, 10), file("x.png", 1, 11)]),
                "another size",
            ),
            (
                manifest(vec![
                    file("shot.blend", 1, 1),
                    file("Tex", 2, 1),
                    file("tex/a.png", 3, 1),
                ]),
                "\"Tex\" is a file, but \"tex/a.png\" needs it to be a folder",
            ),
        ];
        for (manifest, message) in cases {
            let error = check(&manifest, &LIMITS).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
        }
        let mut noext = manifest(vec![file("shot", 1, 1)]);
        noext.main = "shot".into();
        assert!(matches!(
            check(&noext, &LIMITS),
            Err(BundleError::MainExtension { .. })
        ));
    }
}
