//! The `#[require_api_key]` attribute of [keygate](https://docs.rs/keygate).
//!
//! Depend on `keygate` and use `keygate::require_api_key`; this crate only parses the attribute,
//! validates it and rewrites the handler. The runtime types it names live in `keygate`.
//!
//! The phases have a module each: `parse` reads the arguments and the item as written, `validate`
//! checks them (collecting every mistake in `errors`), and `expand` writes the handler and what
//! goes beside it. `declared` reads the crate's scope declaration, and `placement` tells a free
//! handler from one in an `impl` block, which the attribute alone cannot see.

mod args;
mod audit;
mod declared;
mod errors;
mod expand;
mod file_cache;
mod parse;
mod placement;
mod state;
mod suggest;
mod validate;

use proc_macro::TokenStream;

/// Requires a valid API key, and optionally scopes, for an async axum handler.
///
/// ```text
/// #[require_api_key]                                          // any valid key
/// #[require_api_key(scopes = "items:read")]                    // one scope
/// #[require_api_key(scopes = ["items:read", "items:write"])]   // all of them
/// #[require_api_key(any_scopes = ["admin", "items:write"])]    // at least one
/// #[require_api_key(scopes = "items:read", state = AppState)]  // check the state at the handler
/// ```
///
/// See the `keygate` crate for the full reference.
#[proc_macro_attribute]
pub fn require_api_key(args: TokenStream, item: TokenStream) -> TokenStream {
    let declared = declared::Declared::load();
    expand::require_api_key(args.into(), item.into(), &declared).into()
}

/// The scopes declared under `[package.metadata.keygate.scopes]` in the calling crate's
/// `Cargo.toml`, as a `&'static [keygate::DeclaredScope]`, in the order written.
///
/// ```text
/// let gate = keygate::KeyGate::builder()
///     .declared_scopes(keygate::declared_scopes!())
///     .build();
/// ```
///
/// A crate without a declaration gets a compile error: there is nothing to hand out.
#[proc_macro]
pub fn declared_scopes(input: TokenStream) -> TokenStream {
    let declared = declared::Declared::load();
    declared::declared_scopes(input.into(), &declared).into()
}
