//! A scene's bundle on this machine: the main file and every file it uses,
//! placed relative to their deepest common folder, each hashed with
//! blake3. The same rules as the Blender add-on's `bundle.py`: a folder
//! stands for every file under it, a dependency that is not on disk is
//! refused (before anything is uploaded) naming the file.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use protocol::SceneHash;
use protocol::bundle::{Manifest, ManifestFile};

use crate::error::{EXIT_OTHER, EXIT_REFUSED};

/// Why the bundle could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Dependencies that are not on disk.
    #[error("{}", missing_message(.0))]
    Missing(Vec<PathBuf>),
    /// A file that no relative path from the others reaches.
    #[error("{} cannot be placed relative to {}; keep the scene's files on one drive", path.display(), root.display())]
    Unplaceable {
        /// The file.
        path: PathBuf,
        /// The folder of the other files.
        root: PathBuf,
    },
    /// A file could not be read or hashed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl BundleError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            BundleError::Missing(_) | BundleError::Unplaceable { .. } => EXIT_REFUSED,
            BundleError::Read { .. } => EXIT_OTHER,
        }
    }
}

/// What to say about the files `paths` that are not on disk.
fn missing_message(paths: &[PathBuf]) -> String {
    const ADVICE: &str =
        "(Blender: File > External Data > Report Missing Files), then submit again";
    if let [path] = paths {
        return format!(
            "{} is missing: the scene uses it but it is not on disk; relink or remove it {ADVICE}",
            path.display()
        );
    }
    let mut shown: Vec<String> = paths
        .iter()
        .take(10)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > 10 {
        shown.push(format!("and {} more", paths.len() - 10));
    }
    format!(
        "{} files the scene uses are missing: {}; relink or remove them {ADVICE}",
        paths.len(),
        shown.join(", ")
    )
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Where it goes in the bundle (`textures/wood.png`).
    pub path: String,
    /// Where it is read from here.
    pub source: PathBuf,
    /// blake3 of its bytes.
    pub hash: SceneHash,
    /// Its size.
    pub bytes: u64,
}

/// A bundle ready to be described to the coordinator.
#[derive(Debug, Clone)]
pub struct LocalBundle {
    /// The folder every path is relative to.
    pub root: PathBuf,
    /// The main file's path in the bundle.
    pub main: String,
    /// Every file, the main file first.
    pub files: Vec<LocalFile>,
}

impl LocalBundle {
    /// The manifest for `POST /api/v1/bundles`.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            main: self.main.clone(),
            files: self
                .files
                .iter()
                .map(|file| ManifestFile {
                    path: file.path.clone(),
                    hash: file.hash.clone(),
                    bytes: file.bytes,
                })
                .collect(),
        }
    }

    /// All files together, in bytes.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|file| file.bytes).sum()
    }

    /// The file here with the bytes `hash` names.
    pub fn source_of(&self, hash: &SceneHash) -> Option<&LocalFile> {
        self.files.iter().find(|file| file.hash == *hash)
    }
}

/// `path` made absolute (against the working directory) with `.` and `..`
/// resolved by name, as Blender resolves `//` paths: symbolic links are
/// left as they are.
pub fn normalise(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The files of `paths`: a folder stands for every file under it, sorted.
/// Paths that are neither are returned apart.
fn expand(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut missing) = (Vec::new(), Vec::new());
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
        } else if path.is_dir() {
            walk(path, &mut files, &mut missing);
        } else {
            missing.push(path.clone());
        }
    }
    (files, missing)
}

/// Every file under the folder `dir`, in name order; a folder that cannot
/// be listed counts as missing.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, missing: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        missing.push(dir.to_owned());
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, files, missing);
        } else if entry.is_file() {
            files.push(entry);
        }
    }
}

/// The deepest folder holding every one of `paths`.
fn common_folder<'a>(paths: impl IntoIterator<Item = &'a Path>) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for path in paths {
        let folder = path.parent().unwrap_or(path);
        common = Some(match common {
            None => folder.to_owned(),
            Some(current) => current
                .components()
                .zip(folder.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    common.unwrap_or_default()
}

/// `path` relative to `root`, with `/` between its parts.
fn relative(root: &Path, path: &Path) -> Result<String, BundleError> {
    let unplaceable = || BundleError::Unplaceable {
        path: path.to_owned(),
        root: root.to_owned(),
    };
    let rest = path.strip_prefix(root).map_err(|_| unplaceable())?;
    let parts = rest
        .components()
        .map(|part| match part {
            Component::Normal(name) => name.to_str().ok_or_else(unplaceable),
            _ => Err(unplaceable()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join("/"))
}

/// blake3 and size of the file at `path`.
fn hash_file(path: &Path) -> Result<(SceneHash, u64), BundleError> {
    let read = |source| BundleError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(read)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok((SceneHash::from_blake3(hasher.finalize().as_bytes()), bytes))
}

/// The bundle of the .blend `main` and its `dependencies` (absolute paths
/// of files or folders); `main_source` is the file to send at `main`'s
/// place when it is not `main` itself (a copy with relative paths).
/// Blocking: it reads every file.
pub fn build(
    main: &Path,
    main_source: Option<&Path>,
    dependencies: &[PathBuf],
) -> Result<LocalBundle, BundleError> {
    let main = normalise(main);
    let source = main_source.map_or_else(|| main.clone(), normalise);
    let wanted: Vec<PathBuf> = dependencies.iter().map(|p| normalise(p)).collect();
    let (found, mut missing) = expand(&wanted);
    if !source.is_file() {
        missing.insert(0, source.clone());
    }
    if !missing.is_empty() {
        return Err(BundleError::Missing(missing));
    }
    let mut seen = BTreeSet::from([main.clone()]);
    let others: Vec<PathBuf> = found
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect();
    let root =
        common_folder(std::iter::once(main.as_path()).chain(others.iter().map(PathBuf::as_path)));
    let mut files = Vec::with_capacity(others.len() + 1);
    for (at, from) in std::iter::once((&main, &source)).chain(others.iter().map(|p| (p, p))) {
        let (hash, bytes) = hash_file(from)?;
        files.push(LocalFile {
            path: relative(&root, at)?,
            source: from.clone(),
            hash,
            bytes,
        });
    }
    Ok(LocalBundle {
        root,
        main: files[0].path.clone(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn files_are_placed_under_their_common_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("shots/010/shot.blend"), b"blend");
        write(&root.join("textures/wood.png"), b"wood");
        write(&root.join("caches/smoke/a.vdb"), b"a");
        write(&root.join("caches/smoke/b.vdb"), b"b");
        let bundle = build(
            &root.join("shots/010/shot.blend"),
            None,
            &[
                root.join("shots/010/../../textures/wood.png"),
                root.join("caches/smoke"),
                root.join("textures/wood.png"),
            ],
        )
        .unwrap();
        assert_eq!(bundle.main, "shots/010/shot.blend");
        let paths: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "shots/010/shot.blend",
                "textures/wood.png",
                "caches/smoke/a.vdb",
                "caches/smoke/b.vdb"
            ]
        );
        assert_eq!(bundle.bytes(), 11);
        assert_eq!(
            bundle.files[1].hash.as_str(),
            blake3::hash(b"wood").to_hex().as_str()
        );
    }

    #[test]
    fn the_copy_is_sent_at_the_main_files_place() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("project/a.blend"), b"original");
        write(&dir.path().join("scratch/a.blend"), b"relative copy");
        write(&dir.path().join("project/tex/t.png"), b"t");
        let bundle = build(
            &dir.path().join("project/a.blend"),
            Some(&dir.path().join("scratch/a.blend")),
            &[dir.path().join("project/tex/t.png")],
        )
        .unwrap();
        assert_eq!(bundle.main, "a.blend");
        assert_eq!(bundle.files[0].bytes, b"relative copy".len() as u64);
        assert_eq!(bundle.files[0].source, dir.path().join("scratch/a.blend"));
    }

    #[test]
    fn missing_dependencies_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a.blend"), b"a");
        let gone = dir.path().join("textures/gone.png");
        let error = build(
            &dir.path().join("a.blend"),
            None,
            std::slice::from_ref(&gone),
        )
        .unwrap_err();
        assert!(
            matches!(&error, BundleError::Missing(paths) if paths == std::slice::from_ref(&gone))
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("{} is missing", gone.display()))
        );
        assert_eq!(error.exit_code(), EXIT_REFUSED);
    }
}
