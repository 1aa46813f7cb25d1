//! The builder's refusals and settings, one by one.

use std::time::Duration;

use crate::gate::{KeyError, MAX_LIFETIME};
use crate::{KeyGate, NewKey};

fn refused(builder: super::KeyGateBuilder) -> String {
    builder.try_build().unwrap_err().to_string()
}

#[test]
fn configurations_that_cannot_work_are_refused_at_start_up() {
    for prefix in ["", "_x", "x_", "a b", "a-b"] {
        let error = refused(KeyGate::builder().prefix(prefix));
        assert!(error.contains("prefix"), "{prefix:?}: {error}");
    }
    for name in ["", "a b", "é", "a\u{1}"] {
        let error = refused(KeyGate::builder().query_param(name));
        assert!(error.contains("query parameter"), "{name:?}: {error}");
        let error = refused(KeyGate::builder().cookie(name));
        assert!(error.contains("cookie"), "{name:?}: {error}");
    }
    let error = refused(KeyGate::builder().header("bad header"));
    assert!(error.contains("header name"), "{error}");
    let error = refused(KeyGate::builder().no_header().bearer(false));
    assert!(
        error.contains("every credential source is disabled"),
        "{error}"
    );
    for realm in ["a\"b", "a\\b"] {
        let error = refused(KeyGate::builder().realm(realm));
        assert!(error.contains("realm"), "{realm:?}: {error}");
    }
    let error = refused(KeyGate::builder().pepper(b"").strict_pepper(true));
    assert!(error.contains("pepper is empty"), "{error}");
    let error = refused(KeyGate::builder().realm("a\nb"));
    assert!(error.contains("realm"), "{error}");
}

#[test]
fn strict_pepper_is_refused_without_a_pepper_and_builds_with_one() {
    let error = refused(KeyGate::builder().strict_pepper(true));
    assert!(error.contains("strict_pepper needs a pepper"), "{error}");
    let strict = KeyGate::builder()
        .pepper(b"0123456789abcdef0123456789abcdef")
        .strict_pepper(true)
        .try_build();
    assert!(strict.is_ok(), "{:?}", strict.err());
}

#[test]
fn debug_of_a_builder_shows_the_settings_but_not_the_pepper() {
    let builder = KeyGate::builder()
        .prefix("acme_live")
        .pepper(b"pepper-bytes");
    let printed = format!("{builder:?}");
    assert!(printed.contains("acme_live"), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
    // Neither as text nor as the bytes `Vec<u8>` would print (`112, 101, 112`).
    assert!(!printed.contains("pepper-bytes"), "{printed}");
    assert!(!printed.contains("112, 101, 112"), "{printed}");
}

#[test]
fn each_source_is_reported_as_configured() {
    let bearer_only = KeyGate::builder().no_header().build();
    assert_eq!(bearer_only.header_name(), None);
    assert!(bearer_only.bearer_enabled());
    assert_eq!(bearer_only.query_param(), None);
    assert_eq!(bearer_only.cookie_name(), None);
    let everything = KeyGate::builder()
        .header("X-Key")
        .bearer(false)
        .query_param("key")
        .cookie("session_key")
        .build();
    assert_eq!(everything.header_name().unwrap().as_str(), "x-key");
    assert!(!everything.bearer_enabled());
    assert_eq!(everything.query_param(), Some("key"));
    assert_eq!(everything.cookie_name(), Some("session_key"));
}

#[test]
fn a_query_parameter_or_a_cookie_alone_is_enough() {
    let only = |builder: super::KeyGateBuilder| builder.no_header().bearer(false).try_build();
    let query_only = only(KeyGate::builder().query_param("key")).unwrap();
    assert_eq!(query_only.query_param(), Some("key"));
    assert_eq!(query_only.header_name(), None);
    assert!(!query_only.bearer_enabled());
    assert_eq!(query_only.cookie_name(), None);
    let cookie_only = only(KeyGate::builder().cookie("session_key")).unwrap();
    assert_eq!(cookie_only.cookie_name(), Some("session_key"));
    assert_eq!(cookie_only.query_param(), None);
}

#[tokio::test]
async fn lifetimes_and_grace_periods_past_the_maximum_are_refused() {
    let gate = KeyGate::builder().build();
    let too_long = MAX_LIFETIME + Duration::from_secs(1);
    let created = gate.create_key(NewKey::new("x").expires_in(too_long)).await;
    assert!(matches!(created, Err(KeyError::InvalidDuration(_))));
    let longest = gate
        .create_key(NewKey::new("x").expires_in(MAX_LIFETIME))
        .await;
    let id = longest.unwrap().record.key_id;
    let rotated = gate.rotate_key(&id, too_long).await;
    assert!(matches!(rotated, Err(KeyError::InvalidDuration(_))));
    let expiry = gate.set_key_expiry(&id, Some(too_long)).await;
    assert!(matches!(expiry, Err(KeyError::InvalidDuration(_))));
    let zero = gate
        .create_key(NewKey::new("x").expires_in(Duration::ZERO))
        .await;
    assert!(matches!(zero, Err(KeyError::InvalidDuration(_))));
}
