//! Writes the project's scenario captures (see `rsthound::testkit::scenario`) into a directory:
//! `cargo run --example scenarios -- samples/`.

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "samples".to_string());
    std::fs::create_dir_all(&dir)?;
    for (name, data) in rsthound::testkit::scenario::all() {
        let path = std::path::Path::new(&dir).join(name);
        std::fs::write(&path, data)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
