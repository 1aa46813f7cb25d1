//! Testing support for services that use keygate (feature `test-util`).
//!
//! Without the feature, `mint_test_key` still exists, hidden, with a bound no type meets: a call
//! then fails with "`KeyGate::mint_test_key` needs keygate's `test-util` feature" where rustc
//! would otherwise suggest the similarly named `get_key`, which misleads.

use crate::gate::KeyGate;
use crate::record::NewKey;

impl KeyGate {
    /// Mints a real key with `scopes` into this gate's store and returns its text, so a test
    /// exercises a protected handler the way a client would, with no bypass.
    ///
    /// Enable the feature for tests only: `keygate = { …, features = ["test-util"] }` under
    /// `[dev-dependencies]`.
    ///
    /// # Panics
    ///
    /// If a scope is invalid or the store fails: this is for tests.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = keygate::KeyGate::builder().build();
    /// let key = gate.mint_test_key(["items:read"]).await;
    /// assert!(gate.verify(&key).await.unwrap().has_scope("items:read"));
    /// # }
    /// ```
    #[cfg(feature = "test-util")]
    pub async fn mint_test_key<I, S>(&self, scopes: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        mint(self, scopes).await
    }

    /// Needs the `test-util` feature; see the module documentation.
    #[cfg(not(feature = "test-util"))]
    #[doc(hidden)]
    pub async fn mint_test_key<I, S>(&self, scopes: I) -> String
    where
        I: IntoIterator<Item = S> + crate::__private::MintTestKeyNeedsTheTestUtilFeature,
        S: Into<String>,
    {
        mint(self, scopes).await
    }
}

async fn mint<I, S>(gate: &KeyGate, scopes: I) -> String
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    match gate
        .create_key(NewKey::new("test").owner("test").scopes(scopes))
        .await
    {
        Ok(created) => created.key.expose().to_owned(),
        Err(error) => panic!("could not mint a test key: {error}"),
    }
}
