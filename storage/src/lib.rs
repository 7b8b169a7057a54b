//! Object storage for the farm: which backend (local folder or S3), and where
//! everything goes.
//!
//! Layout (see `DESIGN.md`):
//! ```text
//! scenes/<blake3>.<ext>                         uploaded scenes, content-addressed
//! blobs/<blake3>                                files of scene bundles, content-addressed
//! uploads/<job>/<frame>/<nonce>-<replica>.exr   where a worker's grant lets it write a frame
//! renders/<job>/<frame>/<replica>-<nonce>.exr   the coordinator's copy of every upload
//! previews/<job>/<frame>.png                    tone-mapped thumbnails
//! reports/<job>/cost.csv                        per-frame cost report
//! ```

mod config;
mod grant;
pub mod http;
mod keys;
mod serve;
mod transfer;

pub use config::{GrantingStore, StoreConfig, StoreError, open, open_granting};
pub use grant::{Access, GrantError, Grants, LocalGrants, S3Grants};
pub use keys::{
    KeyNonce, PreviewSize, blob_key, heatmap_key, preview_key, render_key, report_key, scene_key,
    upload_key, valid_extension,
};
pub use object_store::{ObjectStore, path::Path as ObjectPath};
pub use transfer::{download_to_file, read_file, upload_file};
