//! The crate's declared scopes: `[package.metadata.keygate.scopes]` in its `Cargo.toml`.
//!
//! Without a declaration any well-formed scope is accepted. With one, every scope the attribute
//! names must be declared. The expansion includes the file it read, so cargo re-checks the crate
//! when the declaration changes.
//!
//! `KEYGATE_SCOPES_MANIFEST` names a file holding the same table, read for crates whose own
//! `Cargo.toml` declares nothing. It exists for testing the attribute: trybuild builds its cases
//! in a project it generates, whose `Cargo.toml` has no `[package.metadata]`.

mod check;
mod manifest;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::errors::Errors;
use manifest::{Parsed, Scope};

const FALLBACK_VAR: &str = "KEYGATE_SCOPES_MANIFEST";
const TABLE: &str = "[package.metadata.keygate.scopes]";

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
        if let Some(parsed) = manifest::read(&own) {
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
        match (manifest::read(&path), path.to_str()) {
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
    fn scopes(&self) -> Result<Option<&[Scope]>, Malformed> {
        let Some(parsed) = &self.parsed else {
            return Ok(None);
        };
        match &parsed.result {
            Ok(scopes) => Ok(scopes.as_deref()),
            Err(problems) => {
                if !first_report(&self.shown, problems) {
                    return Err(Malformed(None));
                }
                let mut errors = Errors::default();
                for problem in problems {
                    errors.push(Span::call_site(), problem);
                }
                Err(Malformed(errors.finish().err()))
            }
        }
    }

    /// `declared_scopes!()`: the declaration as a `&'static [keygate::DeclaredScope]`.
    fn expression(&self) -> Result<TokenStream, syn::Error> {
        let scopes = match self.scopes() {
            Ok(scopes) => scopes,
            Err(Malformed(Some(error))) => return Err(error),
            Err(Malformed(None)) => return Ok(empty_list()),
        };
        let Some(scopes) = scopes else {
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

/// `declared_scopes!(input)`: the declaration, or an empty list beside the error so the code
/// around it still type-checks.
pub(crate) fn declared_scopes(input: TokenStream, declared: &Declared) -> TokenStream {
    if !input.is_empty() {
        return syn::Error::new_spanned(
            input,
            "`declared_scopes!()` takes no arguments: it reads `[package.metadata.keygate.scopes]` from this crate's `Cargo.toml`",
        )
        .to_compile_error();
    }
    match declared.expression() {
        Ok(expression) => expression,
        Err(error) => {
            let error = error.to_compile_error();
            let empty = empty_list();
            quote!({ #error; #empty })
        }
    }
}

fn empty_list() -> TokenStream {
    quote!(&[] as &[::keygate::__private::DeclaredScope])
}

/// A malformed declaration: its problems, or `None` when they were reported already.
pub(crate) struct Malformed(Option<syn::Error>);

/// Whether a malformed declaration's problems are to be reported here. A crate with five
/// handlers expands the attribute five times, and the same problems at five attributes say
/// nothing more than at one: within one compilation, only the first expansion to meet them
/// reports them. The compiler runs the macro in one process per crate, named on its command line
/// (`--crate-name`); a process serving an IDE expands crates again and again, and reports every
/// time, so an edited file never loses its error there.
fn first_report(file: &str, problems: &[String]) -> bool {
    static REPORTED: Mutex<Vec<(String, Vec<String>)>> = Mutex::new(Vec::new());
    if !std::env::args_os().any(|arg| arg == "--crate-name") {
        return true;
    }
    let Ok(mut reported) = REPORTED.lock() else {
        return true;
    };
    if reported
        .iter()
        .any(|(f, p)| f == file && p.as_slice() == problems)
    {
        return false;
    }
    reported.push((file.to_owned(), problems.to_vec()));
    true
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
