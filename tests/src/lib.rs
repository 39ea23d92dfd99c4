//! Cross-crate integration tests of Springboard; see the files under tests/.
