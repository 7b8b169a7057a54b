//! A scene on this machine: what Blender says it uses, and the bundle of
//! files sent for it.

pub mod blender;
pub mod bundle;
