//! The captures shipped in `samples/` are the project's own: regenerating them gives the same bytes.

#[test]
fn shipped_samples_are_made_by_the_scenario_tooling() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    for (name, data) in rsthound::testkit::scenario::all() {
        let shipped =
            std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("samples/{name}: {e}"));
        assert!(
            shipped == data,
            "samples/{name} differs from rsthound::testkit::scenario; run `cargo run --example scenarios -- samples`"
        );
    }
}
