//! A scene on this machine: its renderer, what Blender says a .blend
//! uses, and the bundle of files sent for it.

pub mod blender;
pub mod bundle;
pub mod project;
