//! Handling one report: signature, body, then each token.

use super::*;

impl Receiver {
    pub(super) async fn handle(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Vec<Feedback>, Refusal> {
        let (Some(identifier), Some(signature)) = (
            header_text(headers, IDENTIFIER_HEADER),
            header_text(headers, SIGNATURE_HEADER),
        ) else {
            return Err(Refusal::MissingSignature);
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .ok()
            .and_then(|der| Signature::from_der(&der).ok())
            .ok_or(Refusal::InvalidSignature)?;
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => return Err(Refusal::PayloadTooLarge),
            Err(_) => return Err(Refusal::InvalidReport),
        };
        let key = self
            .keys
            .get(identifier)
            .await
            .map_err(|error| match error {
                KeyLookupError::Unknown => {
                    tracing::warn!(
                        target: "keygate",
                        key_identifier = ?identifier,
                        "a secret scanning report names an unknown signing key"
                    );
                    Refusal::UnknownSigningKey
                }
                KeyLookupError::NotYet => {
                    tracing::warn!(
                        target: "keygate",
                        key_identifier = ?identifier,
                        "a secret scanning report names a signing key the keys document lacked \
                         when it was fetched less than a minute ago; asked to send it again later"
                    );
                    Refusal::SigningKeysUnavailable
                }
                KeyLookupError::Unavailable(error) => {
                    tracing::error!(
                        target: "keygate",
                        %error,
                        "could not fetch the secret scanning signing keys"
                    );
                    Refusal::SigningKeysUnavailable
                }
            })?;
        // The raw bytes, exactly as received: nothing in the body is trusted before this.
        key.verify(&body, &signature)
            .map_err(|_| Refusal::InvalidSignature)?;
        let reported: Vec<ReportedToken> =
            serde_json::from_slice(&body).map_err(|_| Refusal::InvalidReport)?;
        if reported.len() > MAX_TOKENS {
            return Err(Refusal::TooManyTokens);
        }
        let mut feedback = Vec::with_capacity(reported.len());
        for token in &reported {
            let label = self.judge(token).await?;
            feedback.push(Feedback::new(token, label));
        }
        Ok(feedback)
    }

    /// Whether `reported` is a key of this gate; if it is and still unrevoked, revokes it and
    /// tells the hook.
    async fn judge(&self, reported: &ReportedToken) -> Result<Label, Refusal> {
        let inner = &self.gate.inner;
        let Ok(parsed) = key_format::parse(&inner.prefix, &reported.token) else {
            return Ok(Label::FalsePositive);
        };
        let key_id = parsed.key_id;
        let record = match inner.store.fetch(key_id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(Label::FalsePositive),
            Err(error) => {
                tracing::error!(target: "keygate", key_id, %error, "key store failed");
                return Err(Refusal::KeyStoreUnavailable);
            }
        };
        match inner.hasher.matches(&record.hash, parsed.secret) {
            Some(true) => {}
            Some(false) => return Ok(Label::FalsePositive),
            None => {
                tracing::error!(
                    target: "keygate",
                    key_id,
                    "the key's hash is peppered but this KeyGate has no pepper"
                );
                return Err(Refusal::KeyStoreUnavailable);
            }
        }
        if record.revoked_at.is_some() {
            tracing::info!(
                target: "keygate",
                key_id,
                source = ?reported.source,
                "secret scanning reported a key that is already revoked"
            );
            return Ok(Label::TruePositive);
        }
        let at = OffsetDateTime::now_utc();
        let reason = RevocationReason::leaked(reported.url.clone(), reported.source.clone());
        let change = KeyChange::Revoke {
            at,
            reason: Some(reason.clone()),
        };
        match inner.store.update(key_id, change).await {
            Ok(ChangeOutcome::Applied) => {}
            // Revoked since it was read (by another report naming it, or a person), or deleted:
            // the token was real, and whoever revoked it first told the hook, or had no need to.
            Ok(_) => return Ok(Label::TruePositive),
            Err(error) => {
                tracing::error!(target: "keygate", key_id, %error, "key store failed");
                return Err(Refusal::KeyStoreUnavailable);
            }
        }
        tracing::warn!(
            target: "keygate",
            key_id,
            owner = ?record.owner,
            source = ?reason.source,
            revocation = RevocationReason::LEAKED,
            "revoked a key that secret scanning found exposed"
        );
        if let Some(hook) = &self.on_leak {
            let leak = LeakedKey {
                key_id: key_id.to_owned(),
                name: record.name.clone(),
                owner: record.owner.clone(),
                url: reason.url,
                source: reason.source,
                token_type: reported.token_type.clone(),
                revoked_at: at,
            };
            tokio::spawn(hook(leak));
        }
        Ok(Label::TruePositive)
    }
}
