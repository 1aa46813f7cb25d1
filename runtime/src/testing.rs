//! Testing support for services that use keygate (feature `test-util`).

use crate::gate::KeyGate;
use crate::record::NewKey;

impl KeyGate {
    /// Mints a real key with `scopes` into this gate's store and returns its text, so a test
    /// exercises a protected handler the way a client would, with no bypass.
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
    pub async fn mint_test_key<I, S>(&self, scopes: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        match self
            .create_key(NewKey::new("test").owner("test").scopes(scopes))
            .await
        {
            Ok(created) => created.key.expose().to_owned(),
            Err(error) => panic!("could not mint a test key: {error}"),
        }
    }
}
