//! The README's code blocks: every Rust block is compiled by the doctests of this crate
//! (`src/lib.rs` includes the README), and nothing slips past them.

const README: &str = include_str!("../../README.md");

/// Each fenced block of the README: its info string (`rust,no_run`, `sh`) and its lines, with the
/// indentation of the list item it sits in removed.
fn blocks() -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize, Vec<String>)> = None;
    for line in README.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((info.trim().to_owned(), indent, Vec::new()));
                }
            }
            Some((info, block_indent, lines)) => {
                if trimmed == "```" {
                    blocks.push((std::mem::take(info), std::mem::take(lines)));
                    open = None;
                } else {
                    lines.push(line.get(*block_indent..).unwrap_or(trimmed).to_owned());
                }
            }
        }
    }
    assert!(open.is_none(), "a code block of the README is never closed");
    blocks
}

#[test]
fn every_readme_block_names_its_language_and_no_rust_block_is_skipped() {
    let blocks = blocks();
    let rust = blocks
        .iter()
        .filter(|(info, _)| info.starts_with("rust"))
        .count();
    assert!(
        rust >= 10,
        "only {rust} Rust blocks found: is the parser right?"
    );
    for (info, lines) in &blocks {
        let first = lines.first().map_or("", String::as_str);
        // rustdoc compiles a block without a language as Rust.
        assert!(
            !info.is_empty(),
            "a README block has no language (`rust`, `text`, `sh`, `toml`, `json`): {first}"
        );
        if info.starts_with("rust") {
            assert!(
                !info.contains("ignore"),
                "a README Rust block is `{info}`: make it compile (hidden `# ` lines, `no_run`), \
                 or show it as `text`: {first}"
            );
        }
    }
}

#[test]
fn the_readme_testing_example_is_the_test_that_runs() {
    let test = include_str!("readme_testing.rs");
    let shown = blocks()
        .into_iter()
        .find(|(info, lines)| {
            info == "rust"
                && lines
                    .first()
                    .is_some_and(|l| l.starts_with("// tests/items.rs"))
        })
        .map(|(_, lines)| lines.join("\n") + "\n")
        .expect("the README shows the test of \"Testing your own service\"");
    assert_eq!(
        shown, test,
        "README.md's \"Testing your own service\" block and tests/tests/readme_testing.rs differ: \
         copy one onto the other"
    );
}
