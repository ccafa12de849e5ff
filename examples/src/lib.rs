//! Runnable examples live in `examples/`.

/// The Rust snippets of the repository's README, compiled and run as
/// doctests so that they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
