//! The library's error type.

use std::path::PathBuf;

/// Everything that can go wrong reading or comparing frames.
///
/// Each variant's message says what was wrong; [`FrameDiffError::exit_code`]
/// maps it onto `idiff`'s exit codes for the CLI.
#[derive(Debug, thiserror::Error)]
pub enum FrameDiffError {
    /// The file does not exist.
    #[error("{path}: no such file")]
    NotFound {
        /// The path that was asked for.
        path: PathBuf,
    },
    /// The file exists but could not be read (permissions, I/O error).
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid image: truncated, corrupt, or not an image at all.
    #[error("{path}: corrupt or truncated image: {detail}")]
    Corrupt {
        /// The file being read.
        path: PathBuf,
        /// What the decoder complained about.
        detail: String,
    },
    /// The file is a valid image of a kind this crate does not handle
    /// (deep data, subsampled channels, layers of different sizes, unknown format).
    #[error("{path}: unsupported image: {detail}")]
    Unsupported {
        /// The file being read.
        path: PathBuf,
        /// What is not supported.
        detail: String,
    },
    /// The two images do not have the same width and height.
    #[error("images differ in size: {a_width}x{a_height} vs {b_width}x{b_height}")]
    SizeMismatch {
        /// Width of the first image.
        a_width: u32,
        /// Height of the first image.
        a_height: u32,
        /// Width of the second image.
        b_width: u32,
        /// Height of the second image.
        b_height: u32,
    },
    /// The two images share no channel name, so nothing can be compared.
    #[error("images have no channel in common (first: {a:?}, second: {b:?})")]
    NoCommonChannels {
        /// Channel names of the first image.
        a: Vec<String>,
        /// Channel names of the second image.
        b: Vec<String>,
    },
    /// Writing an output file (the heat map) failed.
    #[error("{path}: cannot write: {detail}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

impl FrameDiffError {
    /// The `idiff` exit code for this error: 3 when the images cannot be
    /// compared because of their shape (size, channels), 4 for file errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::SizeMismatch { .. } | Self::NoCommonChannels { .. } => 3,
            _ => 4,
        }
    }
}
