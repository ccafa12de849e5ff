//! The testing guide shows the application test as it is.

/// `docs/testing.md` embeds `tests/application.rs` whole, as its complete
/// example: an edit to one must be made to the other.
#[test]
fn the_testing_guide_shows_the_application_test_verbatim() {
    let guide = include_str!("../../docs/testing.md");
    let test = include_str!("application.rs");
    let shown = guide
        .split_once("```rs\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(block, _)| block);
    assert_eq!(
        shown,
        Some(test),
        "docs/testing.md must show kite-sim/tests/application.rs verbatim"
    );
}
