//! The crate's layering, checked from its source text: the engine stays pure (it imports no
//! source, sink, command or sys module), sinks do not reach into sources, sources do not
//! render, and all `unsafe` lives in `sys/`. A new import across a line fails here with the
//! file and line that made it.

use std::path::{Path, PathBuf};

/// Module paths a layer must not name, by the folder it lives in.
const RULES: &[(&str, &[&str])] = &[
    (
        "src/engine",
        &[
            "crate::source",
            "crate::sink",
            "crate::command",
            "crate::cli",
            "crate::sys",
        ],
    ),
    (
        "src/model",
        &[
            "crate::source",
            "crate::sink",
            "crate::command",
            "crate::engine",
            "crate::sys",
        ],
    ),
    (
        "src/sink",
        &["crate::source", "crate::command", "crate::cli"],
    ),
    (
        "src/source",
        &["crate::sink", "crate::command", "crate::cli"],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of `text` that name `module` as a path (`use crate::sink::…`, `crate::sink::x()`),
/// outside comments.
fn naming(text: &str, module: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let code = l.split("//").next().unwrap_or("");
            code.match_indices(module).any(|(i, _)| {
                let after = code[i + module.len()..].chars().next();
                matches!(
                    after,
                    Some(':') | Some(';') | Some(',') | Some('}') | Some(' ') | None
                )
            })
        })
        .map(|(n, l)| (n + 1, l.trim().to_string()))
        .collect()
}

/// Every violation of [`RULES`] under `root`, as `file:line: text (names module)`.
fn violations(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for (dir, banned) in RULES {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for module in *banned {
                for (line, code) in naming(&text, module) {
                    found.push(format!(
                        "{}:{line}: {code}  ({dir} must not use {module})",
                        file.strip_prefix(root).unwrap().display()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn layers_import_only_downwards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = violations(root);
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

#[test]
fn unsafe_code_lives_in_sys_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(root).unwrap();
        if rel.starts_with("src/sys") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, l) in text.lines().enumerate() {
            let code = l.split("//").next().unwrap_or("");
            if code.contains("unsafe ")
                || code.contains("unsafe{")
                || code.contains("allow(unsafe_code)")
            {
                found.push(format!("{}:{}: {}", rel.display(), n + 1, l.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "unsafe outside src/sys:\n{}",
        found.join("\n")
    );
}

/// The checker itself: an engine file that imports a sink, and a sink that imports a source,
/// are both caught; a comment that mentions one is not.
#[test]
fn the_checker_catches_a_forbidden_import() {
    let dir = std::env::temp_dir().join(format!("rsthound-arch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["src/engine", "src/model", "src/sink", "src/source"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(
        dir.join("src/engine/bad.rs"),
        "// crate::sink is fine in a comment\nuse crate::sink::text::TextSink;\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/sink/bad.rs"), "use crate::source::capture;\n").unwrap();
    std::fs::write(dir.join("src/source/ok.rs"), "use crate::engine::decode;\n").unwrap();
    let found = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("src/engine/bad.rs:2:"), "{found:#?}");
    assert!(found[1].starts_with("src/sink/bad.rs:1:"), "{found:#?}");
}
