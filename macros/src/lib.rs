//! The `#[require_api_key]` attribute of [keygate](https://docs.rs/keygate).
//!
//! Depend on `keygate` and use `keygate::require_api_key`; this crate only parses the attribute,
//! validates it and rewrites the handler. The runtime types it names live in `keygate`.

mod args;
mod audit;
mod declared;
mod expand;

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
    let input = proc_macro2::TokenStream::from(input);
    if !input.is_empty() {
        return syn::Error::new_spanned(
            input,
            "`declared_scopes!()` takes no arguments: it reads `[package.metadata.keygate.scopes]` from this crate's `Cargo.toml`",
        )
        .to_compile_error()
        .into();
    }
    let declared = declared::Declared::load();
    match declared.expression() {
        Ok(expression) => expression.into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote::quote!({ #error; &[] as &[::keygate::__private::DeclaredScope] }).into()
        }
    }
}
