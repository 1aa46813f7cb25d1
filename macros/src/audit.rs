//! Registering the handler for `keygate::protected_handlers()`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;
use syn::ext::IdentExt;

/// An `inventory` registration of the handler `function`, whose requirement is `marker`'s.
pub(crate) fn registration(marker: &Ident, function: &Ident) -> TokenStream {
    let name = function.unraw().to_string();
    quote! {
        ::keygate::__private::inventory::submit! {
            ::keygate::__private::ProtectedHandler {
                name: #name,
                module_path: ::core::module_path!(),
                scopes: <#marker as ::keygate::__private::ScopeRequirement>::SCOPES,
                mode: <#marker as ::keygate::__private::ScopeRequirement>::MODE,
            }
        }
    }
}
