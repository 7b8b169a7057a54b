//! The render farm worker.
