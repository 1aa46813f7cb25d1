//! Reading a declaration: the `[package.metadata.keygate.scopes]` table of a TOML file, with the
//! place of every problem in it.

use std::path::Path;
use std::rc::Rc;

use keygate_grammar::{SCOPE_CHARACTERS, scope_problem};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{TABLE, shown};
use crate::file_cache::FileCache;

/// One declared scope.
pub(super) struct Scope {
    pub(super) name: String,
    pub(super) description: String,
}

/// A declaration read from a file, or why it could not be.
pub(super) struct Parsed {
    /// `None`: the file declares no scopes.
    pub(super) result: Result<Option<Vec<Scope>>, Vec<String>>,
}

thread_local! {
    static MANIFESTS: FileCache<Parsed> = const { FileCache::new() };
}

/// Reads and parses `path`; `None` when it cannot be read.
pub(super) fn read(path: &Path) -> Option<Rc<Parsed>> {
    MANIFESTS.with(|manifests| {
        manifests.read(path, |text| Parsed {
            result: parse(text, &shown(path)),
        })
    })
}

/// The scopes declared in a manifest's text, in the order written.
fn parse(text: &str, file: &str) -> Result<Option<Vec<Scope>>, Vec<String>> {
    let document = DeTable::parse(text).map_err(|error| {
        let at = error
            .span()
            .map(|span| format!(":{}", line_column(text, span.start)))
            .unwrap_or_default();
        vec![format!(
            "malformed scope declaration: `{file}{at}` is not valid TOML: {}",
            error.message()
        )]
    })?;
    let mut table = document.get_ref();
    for (depth, key) in ["package", "metadata", "keygate", "scopes"]
        .into_iter()
        .enumerate()
    {
        let Some(value) = entry(table, key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            // Other tools' `package` and `metadata` entries are none of keygate's business.
            _ if depth < 2 => return Ok(None),
            _ => {
                return Err(vec![format!(
                    "malformed scope declaration at `{file}:{}`: `package.metadata.keygate{}` must be a table of scopes and their descriptions, like `{TABLE}` followed by `\"items:read\" = \"Read the item catalogue\"`",
                    line_column(text, value.span().start),
                    if depth == 3 { ".scopes" } else { "" },
                )]);
            }
        }
    }
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    let mut scopes = Vec::new();
    let mut problems = Vec::new();
    for (key, value) in entries {
        let name = key.get_ref().to_string();
        let at = format!("{file}:{}", line_column(text, key.span().start));
        if scope_problem(&name).is_some() {
            problems.push(format!(
                "malformed scope declaration at `{at}`: `{name}` is not a valid scope name; scopes use {SCOPE_CHARACTERS} only"
            ));
            continue;
        }
        match value.get_ref() {
            DeValue::String(description) => scopes.push(Scope {
                name,
                description: description.to_string(),
            }),
            other => {
                // `items.read = "..."` is a dotted key: a table `items` holding `read`.
                let hint = if matches!(other, DeValue::Table(_)) {
                    "; a scope holding `.` must be quoted, like `\"items.read\" = \"...\"`"
                } else {
                    ""
                };
                problems.push(format!(
                    "malformed scope declaration at `{at}`: the description of `{name}` must be a string{hint}"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(Some(scopes))
    } else {
        Err(problems)
    }
}

fn entry<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)
}

/// `line:column`, both from 1, of a byte offset.
fn line_column(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{column}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Result<Option<Vec<String>>, Vec<String>> {
        parse(text, "Cargo.toml").map(|s| s.map(|s| s.into_iter().map(|s| s.name).collect()))
    }

    #[test]
    fn reads_the_declaration_in_file_order() {
        let text = "[package]\nname = \"x\"\n\n[package.metadata.keygate.scopes]\n\"items:write\" = \"Write\"\n\"items:read\" = \"Read\"\nadmin = \"Admin\"\n";
        let expected = ["items:write", "items:read", "admin"]
            .map(String::from)
            .to_vec();
        assert_eq!(names(text), Ok(Some(expected)));
        assert_eq!(names("[package]\nname = \"x\"\n"), Ok(None));
        assert_eq!(names("[package.metadata.other]\na = 1\n"), Ok(None));
    }

    #[test]
    fn reports_malformed_declarations_with_their_place() {
        let problems = |text: &str| names(text).unwrap_err().join("\n");
        let bad_name = problems("[package.metadata.keygate.scopes]\n\"items read\" = \"x\"\n");
        assert!(bad_name.contains("`Cargo.toml:2:1`"), "{bad_name}");
        assert!(bad_name.contains("not a valid scope name"), "{bad_name}");
        let not_table = problems("[package.metadata.keygate]\nscopes = [\"a\"]\n");
        assert!(not_table.contains("must be a table"), "{not_table}");
        let not_string = problems("[package.metadata.keygate.scopes]\nadmin = 1\n");
        assert!(not_string.contains("must be a string"), "{not_string}");
        let dotted = problems("[package.metadata.keygate.scopes]\nitems.read = \"x\"\n");
        assert!(dotted.contains("must be quoted"), "{dotted}");
        let duplicate =
            problems("[package.metadata.keygate.scopes]\nadmin = \"a\"\nadmin = \"b\"\n");
        assert!(duplicate.contains("Cargo.toml:3:1"), "{duplicate}");
        assert!(duplicate.contains("duplicate"), "{duplicate}");
    }
}
