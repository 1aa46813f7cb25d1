//! The `#[require_api_key]` attribute of [keygate](https://docs.rs/keygate).
//!
//! Depend on `keygate` and use `keygate::require_api_key`; this crate only parses the attribute,
//! validates it and rewrites the handler. The runtime types it names live in `keygate`.

mod args;
mod expand;

use proc_macro::TokenStream;

/// Requires a valid API key, and optionally scopes, for an async axum handler.
///
/// ```ignore
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
    expand::require_api_key(args.into(), item.into()).into()
}
