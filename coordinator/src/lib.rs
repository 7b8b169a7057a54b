//! The render farm coordinator.
