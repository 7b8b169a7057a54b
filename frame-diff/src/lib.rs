//! Compare two renders of the same frame.
