//! Where a handler sits: a free function, or one in an `impl` block or a trait.
//!
//! An attribute is handed its item alone, not what surrounds it, so it cannot see an enclosing
//! `impl` block. The handler's source file can: it is parsed (once per content), and the handlers
//! in it with this one's signature say where it sits.

use std::path::PathBuf;

use quote::ToTokens;
use syn::visit::{self, Visit};
use syn::{Attribute, ImplItemFn, ItemFn, Signature, TraitItemFn};

use crate::file_cache::FileCache;
use crate::parse::is_attribute;

/// Where a function is defined.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// In a module or a block: where a handler goes.
    Free,
    /// In an `impl` block.
    Impl,
    /// In a trait, with a default body.
    Trait,
}

thread_local! {
    static FILES: FileCache<Vec<Handler>> = const { FileCache::new() };
}

/// Where `function` sits, or `None` when its source cannot tell: it was not read from a file (it
/// came from a macro, or an IDE expands it), or handlers with the same signature sit in different
/// places there.
pub(crate) fn of(function: &ItemFn) -> Option<Placement> {
    let file = source_file(function)?;
    let handlers = FILES.with(|files| files.read(&file, handlers_in))?;
    let signature = function.sig.to_token_stream().to_string();
    let mut placements = handlers
        .iter()
        .filter(|handler| handler.signature == signature)
        .map(|handler| handler.placement);
    let first = placements.next()?;
    placements.all(|other| other == first).then_some(first)
}

fn source_file(function: &ItemFn) -> Option<PathBuf> {
    // Only the compiler's spans know their file; outside a macro expansion (in unit tests) there
    // is no compiler to ask.
    if !proc_macro::is_available() {
        return None;
    }
    function.sig.ident.span().unwrap().local_file()
}

/// A function carrying `#[require_api_key]` in a source file.
struct Handler {
    placement: Placement,
    /// The signature as tokens print, to tell handlers apart.
    signature: String,
}

fn handlers_in(text: &str) -> Vec<Handler> {
    let mut finder = Finder(Vec::new());
    if let Ok(file) = syn::parse_file(text) {
        finder.visit_file(&file);
    }
    finder.0
}

struct Finder(Vec<Handler>);

impl Finder {
    fn record(&mut self, placement: Placement, attrs: &[Attribute], sig: &Signature) {
        if attrs
            .iter()
            .any(|attr| is_attribute(attr, "require_api_key"))
        {
            self.0.push(Handler {
                placement,
                signature: sig.to_token_stream().to_string(),
            });
        }
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_item_fn(&mut self, function: &'ast ItemFn) {
        self.record(Placement::Free, &function.attrs, &function.sig);
        visit::visit_item_fn(self, function);
    }

    fn visit_impl_item_fn(&mut self, function: &'ast ImplItemFn) {
        self.record(Placement::Impl, &function.attrs, &function.sig);
        visit::visit_impl_item_fn(self, function);
    }

    fn visit_trait_item_fn(&mut self, function: &'ast TraitItemFn) {
        self.record(Placement::Trait, &function.attrs, &function.sig);
        visit::visit_trait_item_fn(self, function);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placements(text: &str) -> Vec<(Placement, String)> {
        handlers_in(text)
            .into_iter()
            .map(|handler| (handler.placement, handler.signature))
            .collect()
    }

    #[test]
    fn finds_each_handler_where_it_sits() {
        let text = r#"
            #[require_api_key]
            async fn free() {}

            impl Items {
                #[keygate::require_api_key(scopes = "items:read")]
                async fn associated(id: u64) {}

                fn setup() {
                    #[require_api_key]
                    async fn nested() {}
                }
            }

            trait Api {
                #[require_api_key]
                async fn defaulted() {}
            }

            async fn unprotected() {}
        "#;
        let found = placements(text);
        let at = |placement| {
            found
                .iter()
                .filter(|(p, _)| *p == placement)
                .map(|(_, signature)| signature.replace(' ', ""))
                .collect::<Vec<_>>()
        };
        assert_eq!(at(Placement::Free), ["asyncfnfree()", "asyncfnnested()"]);
        assert_eq!(at(Placement::Impl), ["asyncfnassociated(id:u64)"]);
        assert_eq!(at(Placement::Trait), ["asyncfndefaulted()"]);
    }

    #[test]
    fn a_file_that_does_not_parse_tells_nothing() {
        assert!(placements("impl {").is_empty());
    }
}
