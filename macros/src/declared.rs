//! The crate's declared scopes: `[package.metadata.keygate.scopes]` in its `Cargo.toml`.
//!
//! Without a declaration any well-formed scope is accepted. With one, every scope the attribute
//! names must be declared. The expansion includes the file it read, so cargo re-checks the crate
//! when the declaration changes.
//!
//! `KEYGATE_SCOPES_MANIFEST` names a file holding the same table, read for crates whose own
//! `Cargo.toml` declares nothing. It exists for testing the attribute: trybuild builds its cases
//! in a project it generates, whose `Cargo.toml` has no `[package.metadata]`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use keygate_grammar::scope_problem;

use crate::args::Errors;

const FALLBACK_VAR: &str = "KEYGATE_SCOPES_MANIFEST";
const TABLE: &str = "[package.metadata.keygate.scopes]";

/// One declared scope.
pub(crate) struct Scope {
    pub(crate) name: String,
    pub(crate) description: String,
}

/// A declaration read from a file, or why it could not be.
struct Parsed {
    /// `None`: the file declares no scopes.
    result: Result<Option<Vec<Scope>>, Vec<String>>,
}

/// What the attribute (or `declared_scopes!`) knows about the declaration.
pub(crate) struct Declared {
    /// The file the declaration came from, as shown in messages.
    shown: String,
    parsed: Option<Rc<Parsed>>,
    /// Files the expansion must depend on: the crate's `Cargo.toml`, and the fallback file.
    dependencies: Vec<Dependency>,
    /// Whether the fallback variable was consulted, so its changes must rebuild the crate.
    consulted_fallback: bool,
}

enum Dependency {
    OwnManifest,
    File(String),
}

impl Declared {
    /// Reads the declaration for the crate being compiled.
    pub(crate) fn load() -> Declared {
        let mut declared = Declared {
            shown: String::new(),
            parsed: None,
            dependencies: Vec::new(),
            consulted_fallback: false,
        };
        // Not built by cargo: nothing to read.
        let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
            return declared;
        };
        let own = dir.join("Cargo.toml");
        if let Some(parsed) = read(&own) {
            declared.dependencies.push(Dependency::OwnManifest);
            if !matches!(parsed.result, Ok(None)) {
                declared.shown = shown(&own);
                declared.parsed = Some(parsed);
                return declared;
            }
        }
        declared.consulted_fallback = true;
        let Some(fallback) = std::env::var_os(FALLBACK_VAR).filter(|v| !v.is_empty()) else {
            return declared;
        };
        let path = dir.join(fallback);
        declared.shown = shown(&path);
        match (read(&path), path.to_str()) {
            (Some(parsed), Some(utf8)) => {
                declared
                    .dependencies
                    .push(Dependency::File(utf8.to_owned()));
                declared.parsed = Some(parsed);
            }
            _ => {
                declared.parsed = Some(Rc::new(Parsed {
                    result: Err(vec![format!(
                        "cannot read `{}`, named by {FALLBACK_VAR}",
                        declared.shown
                    )]),
                }));
            }
        }
        declared
    }

    /// Items making the build depend on the declaration, so editing it re-checks the crate.
    pub(crate) fn tracking(&self) -> TokenStream {
        let files = self.dependencies.iter().map(|dependency| match dependency {
            Dependency::OwnManifest => quote! {
                const _: &[::core::primitive::u8] = ::core::include_bytes!(::core::concat!(
                    ::core::env!("CARGO_MANIFEST_DIR"),
                    "/Cargo.toml"
                ));
            },
            Dependency::File(path) => quote! {
                const _: &[::core::primitive::u8] = ::core::include_bytes!(#path);
            },
        });
        let variable = self.consulted_fallback.then(|| {
            quote! {
                const _: ::core::option::Option<&::core::primitive::str> =
                    ::core::option_env!(#FALLBACK_VAR);
            }
        });
        quote! { #(#files)* #variable }
    }

    /// The declared scopes, `None` without a declaration, or the declaration's problems.
    fn scopes(&self) -> Result<Option<&[Scope]>, syn::Error> {
        let Some(parsed) = &self.parsed else {
            return Ok(None);
        };
        match &parsed.result {
            Ok(scopes) => Ok(scopes.as_deref()),
            Err(problems) => {
                let mut errors = Errors::default();
                for problem in problems {
                    errors.push(Span::call_site(), problem);
                }
                errors.finish().map(|()| None)
            }
        }
    }

    /// Reports every scope in `list` that the declaration does not hold, on its literal.
    pub(crate) fn check(&self, list: &[LitStr], errors: &mut Errors) {
        if list.is_empty() {
            return;
        }
        let declared = match self.scopes() {
            Ok(Some(declared)) => declared,
            Ok(None) => return,
            Err(error) => return errors.add(error),
        };
        for lit in list {
            let scope = lit.value();
            if declared.iter().any(|d| d.name == scope) {
                continue;
            }
            errors.push(lit.span(), self.undeclared(&scope, declared));
        }
    }

    fn undeclared(&self, scope: &str, declared: &[Scope]) -> String {
        let file = &self.shown;
        if let Some(close) = closest(scope, declared.iter().map(|d| d.name.as_str())) {
            return format!("scope `{scope}` is not declared in `{file}`; did you mean `{close}`?");
        }
        let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
        let listed = if names.is_empty() {
            "it declares no scope".to_owned()
        } else {
            format!("the declared scopes are `{}`", names.join("`, `"))
        };
        format!(
            "scope `{scope}` is not declared in `{file}` ({listed}); declare it under `{TABLE}` with a one-line description"
        )
    }

    /// `declared_scopes!()`: the declaration as a `&'static [keygate::DeclaredScope]`.
    pub(crate) fn expression(&self) -> Result<TokenStream, syn::Error> {
        let Some(scopes) = self.scopes()? else {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "`declared_scopes!()` found no `{TABLE}` table in this crate's `Cargo.toml`; declare the scopes there, like `\"items:read\" = \"Read the item catalogue\"`"
                ),
            ));
        };
        let entries = scopes.iter().map(|Scope { name, description }| {
            quote!(::keygate::__private::DeclaredScope::new(#name, #description))
        });
        let tracking = self.tracking();
        Ok(quote! {{
            #tracking
            const __KEYGATE_DECLARED_SCOPES: &[::keygate::__private::DeclaredScope] = &[#(#entries),*];
            __KEYGATE_DECLARED_SCOPES
        }})
    }
}

/// The file's path as messages show it: relative to the directory cargo runs the compiler in
/// (the workspace root) when inside it, as cargo shows source paths.
fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

thread_local! {
    /// Parsed files by path and content: a crate with many handlers parses its `Cargo.toml`
    /// once, and a long-lived macro server (an IDE's) still sees edits.
    static CACHE: RefCell<Vec<(PathBuf, String, Rc<Parsed>)>> = const { RefCell::new(Vec::new()) };
}

/// Reads and parses `path`; `None` when it cannot be read.
fn read(path: &Path) -> Option<Rc<Parsed>> {
    let text = std::fs::read_to_string(path).ok()?;
    let cached = CACHE.with(|cache| {
        let cache = cache.try_borrow().ok()?;
        cache
            .iter()
            .find(|(p, t, _)| p == path && *t == text)
            .map(|(_, _, parsed)| Rc::clone(parsed))
    });
    if cached.is_some() {
        return cached;
    }
    let parsed = Rc::new(Parsed {
        result: parse(&text, &shown(path)),
    });
    CACHE.with(|cache| {
        if let Ok(mut cache) = cache.try_borrow_mut() {
            cache.retain(|(p, _, _)| p != path);
            cache.push((path.to_path_buf(), text, Rc::clone(&parsed)));
        }
    });
    Some(parsed)
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
                "malformed scope declaration at `{at}`: `{name}` is not a valid scope name; scopes use letters, digits and `:._-` only"
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

/// The candidate closest to `scope`, if it is close enough to be a typo.
fn closest<'a>(scope: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (scope.chars().count() / 4).max(1);
    candidates
        .map(|candidate| (edit_distance(scope, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`: the optimal
/// string alignment distance, so `itmes` is one edit from `items`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two back (for swaps), one back, current.
    let mut two_back: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(two_back[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut two_back, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("itmes:read", "items:read"), 1);
        assert_eq!(edit_distance("items:raed", "items:read"), 1);
        assert_eq!(edit_distance("items:red", "items:read"), 1);
        assert_eq!(edit_distance("admin", "admin"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        let declared = ["items:read", "items:write", "admin"];
        assert_eq!(
            closest("itmes:read", declared.into_iter()),
            Some("items:read")
        );
        assert_eq!(closest("admn", declared.into_iter()), Some("admin"));
        assert_eq!(closest("billing:view", declared.into_iter()), None);
        assert_eq!(closest("items:delete", declared.into_iter()), None);
    }

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
