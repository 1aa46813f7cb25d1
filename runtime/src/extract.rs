//! The extractors: the guard `#[require_api_key]` injects, and [`ApiKey`].

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

use crate::gate::KeyGate;
use crate::identity::ApiKey;
use crate::reject::Rejection;
use crate::scope::{Requirement, ScopeRequirement};

/// The extractor `#[require_api_key]` injects: admits the request only with a valid key holding
/// the scopes `R` names, before any other extractor runs. Dereferences to the [`ApiKey`].
///
/// You rarely name it: the attribute writes it for you.
pub struct Guard<R> {
    key: ApiKey,
    requirement: PhantomData<fn() -> R>,
}

impl<R> Guard<R> {
    /// The verified identity.
    pub fn into_inner(self) -> ApiKey {
        self.key
    }
}

impl<R> Deref for Guard<R> {
    type Target = ApiKey;
    fn deref(&self) -> &ApiKey {
        &self.key
    }
}

impl<R> fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Guard").field(&self.key).finish()
    }
}

impl<S, R> FromRequestParts<S> for Guard<R>
where
    S: Send + Sync,
    KeyGate: FromRef<S>,
    R: ScopeRequirement,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        let gate = KeyGate::from_ref(state);
        let key = gate.admit(parts, R::requirement()).await?;
        Ok(Guard {
            key,
            requirement: PhantomData,
        })
    }
}

impl<S> FromRequestParts<S> for ApiKey
where
    S: Send + Sync,
    KeyGate: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        KeyGate::from_ref(state)
            .admit(parts, Requirement::NONE)
            .await
    }
}

impl<S> OptionalFromRequestParts<S> for ApiKey
where
    S: Send + Sync,
    KeyGate: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Rejection> {
        KeyGate::from_ref(state).admit_optional(parts).await
    }
}
