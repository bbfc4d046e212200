//! Every section reference in the code resolves in `docs/spec-references.md`: a `§` is always
//! written `sessions §N` or `admin §N`, and N is a row of that page's tables.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The references the key states a rule for: `sessions 2.4`, `admin 3.10`, ...
fn key() -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/spec-references.md")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" | ").next())
        .filter_map(|cell| cell.split_once(" §"))
        .map(|(spec, n)| format!("{spec} {}", n.split(' ').next().unwrap_or(n)))
        .collect()
}

/// Files that may cite: sources, tests, templates, scripts and the documentation.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "fixtures" && name != "target" && !name.starts_with('.') {
                files(&path, out);
            }
        } else if [".rs", ".html", ".md", ".sh", ".py", ".sql", ".toml"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            out.push(path);
        }
    }
}

/// The references in `text`: `(spec word before the §, number)`.
fn references(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('§') {
        let before = text[..i].trim_end();
        let word: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let after = &text[i + '§'.len_utf8()..];
        let number: String = after
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        out.push((word, number.trim_end_matches('.').to_owned()));
    }
    out
}

#[test]
fn every_section_reference_resolves() {
    let key = key();
    assert!(
        key.contains("sessions 2.4") && key.contains("admin 3.10"),
        "{key:?}"
    );
    let mut paths = Vec::new();
    for dir in [
        "src",
        "tests",
        "templates",
        "docs",
        "bench",
        "scripts",
        "migrations",
    ] {
        let dir = Path::new(ROOT).join(dir);
        if dir.exists() {
            files(&dir, &mut paths);
        }
    }
    paths.push(Path::new(ROOT).join("README.md"));
    let mut bad = Vec::new();
    let mut seen = 0;
    for path in paths {
        if path.ends_with("docs/spec-references.md") || path.ends_with("it/spec_references.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        // A `§` without a number speaks of the notation itself.
        for (word, number) in references(&text).into_iter().filter(|(_, n)| !n.is_empty()) {
            seen += 1;
            let cited = format!("{word} {number}");
            if !key.contains(&cited) {
                bad.push(format!("{}: \"{word} §{number}\"", path.display()));
            }
        }
    }
    assert!(
        seen > 100,
        "only {seen} references found: is the scan looking in the right place?"
    );
    assert!(
        bad.is_empty(),
        "references that do not resolve in docs/spec-references.md (write `sessions §N` or \
         `admin §N`, and give N a row there):\n{}",
        bad.join("\n")
    );
}

#[test]
fn a_bare_or_unknown_reference_is_caught() {
    let key = key();
    let refs = references("as in sessions §2.4, §3.10 and admin §99.1.");
    assert_eq!(refs[0], ("sessions".into(), "2.4".into()));
    assert!(key.contains(&format!("{} {}", refs[0].0, refs[0].1)));
    assert_eq!(refs[1], ("".into(), "3.10".into()));
    assert!(!key.contains(&format!("{} {}", refs[1].0, refs[1].1)));
    assert!(!key.contains(&format!("{} {}", refs[2].0, refs[2].1)));
}
