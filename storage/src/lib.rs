//! Object storage for the farm: which backend (local folder or S3), and where
//! everything goes.
//!
//! Layout (see `DESIGN.md`):
//! ```text
//! scenes/<blake3>.<ext>                         uploaded scenes, content-addressed
//! renders/<job>/<frame>/<replica>-<worker>.exr  every rendered frame, every replica
//! previews/<job>/<frame>.png                    tone-mapped thumbnails
//! reports/<job>/cost.csv                        per-frame cost report
//! ```

mod config;
mod keys;
mod transfer;

pub use config::{StoreConfig, StoreError, open};
pub use keys::{preview_key, render_key, report_key, scene_key, valid_extension};
pub use object_store::{ObjectStore, path::Path as ObjectPath};
pub use transfer::{download_to_file, read_file, upload_file};
