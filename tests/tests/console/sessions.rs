//! Signing in, the session cookie, and the ways a session ends.

use std::time::Duration;

use axum::http::StatusCode;
use keygate::admin::console::Console as ConsoleRoutes;
use keygate::record::KeyState;
use time::OffsetDateTime;

use crate::support::{BASE, COOKIE, Console, key_id, pause};

#[tokio::test]
async fn signing_in_sets_a_strict_cookie_holding_a_session_key_not_the_pasted_one() {
    let mut console = Console::new();
    let pasted = console.key("alice-admin", &["admin", "items:read"]).await;
    let reply = console.sign_in(&pasted).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.location(), BASE);
    let line = reply
        .set_cookies()
        .into_iter()
        .find(|line| line.starts_with(&format!("{COOKIE}=")))
        .expect("a session cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/admin/console",
    ] {
        assert!(line.contains(attribute), "{attribute} missing: {line}");
    }
    let session = console.session_cookie();
    assert_ne!(session, pasted, "the cookie must not hold the pasted key");
    assert!(!line.contains(&pasted));
    // The session is an ordinary key: same owner and scopes, expiring within 30 minutes, listed.
    let record = console.record(&key_id(&session)).await;
    assert_eq!(record.name, "console session");
    assert_eq!(record.owner, "ops");
    assert_eq!(record.scopes, ["admin", "items:read"]);
    let left = record.expires_at.expect("a session expires") - OffsetDateTime::now_utc();
    assert!(left <= time::Duration::minutes(30) && left > time::Duration::minutes(29));
    assert!(
        console
            .all_keys()
            .await
            .iter()
            .any(|k| k.key_id == record.key_id)
    );
    let page = console.get("").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("alice-admin"),
        "the key list: {}",
        page.body
    );
    assert!(!page.body.contains(&pasted) && !page.body.contains(&session));
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_not_echoed() {
    let mut console = Console::new();
    let real = console.key("alice-admin", &["admin"]).await;
    // One character of the secret changed: the checksum no longer matches.
    let at = real.len() - 10;
    let other = if &real[at..=at] == "A" { "B" } else { "A" };
    let wrong = format!("{}{other}{}", &real[..at], &real[at + 1..]);
    let before = console.all_keys().await.len();
    for key in [wrong.as_str(), "not a key at all"] {
        let reply = console.sign_in(key).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{key}: {}",
            reply.body
        );
        assert!(reply.body.contains("invalid_api_key"), "{}", reply.body);
        assert!(!reply.body.contains(key), "the pasted text came back");
        assert!(!console.cookies.contains_key(COOKIE));
    }
    assert_eq!(
        console.all_keys().await.len(),
        before,
        "no session was minted"
    );
}

#[tokio::test]
async fn a_key_without_the_console_scope_is_refused() {
    let mut console = Console::new();
    let reader = console.key("reader", &["items:read"]).await;
    let reply = console.sign_in(&reader).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        reply.body.contains("does not hold the `admin` scope"),
        "{}",
        reply.body
    );
    assert!(!console.cookies.contains_key(COOKIE));
}

#[tokio::test]
async fn a_sign_in_without_the_form_token_is_refused() {
    let mut console = Console::new();
    let admin = console.key("alice-admin", &["admin"]).await;
    // Another site posting the form: no login cookie, no token.
    let reply = console.post("/sign-in", &[("key", &admin)]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(!console.cookies.contains_key(COOKIE));
    // A token of its own making does not match the cookie the form set.
    console.get("/sign-in").await;
    let reply = console
        .post("/sign-in", &[("key", &admin), ("login", "00")])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!console.cookies.contains_key(COOKIE));
}

#[tokio::test]
async fn without_a_session_every_page_sends_to_the_sign_in_form() {
    let mut console = Console::new();
    for path in ["", "/new", "/audit", "/keys/abc"] {
        let reply = console.get(path).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(reply.location(), format!("{BASE}/sign-in"));
    }
    let reply = console.post("/new", &[("name", "x")]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(console.all_keys().await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn signing_out_revokes_the_session_and_its_cookie_is_refused_after() {
    let mut console = Console::new();
    let pasted = console.signed_in().await;
    let session = console.session_cookie();
    let csrf = console.csrf().await;
    let reply = console.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), format!("{BASE}/sign-in"));
    assert!(
        !console.cookies.contains_key(COOKIE),
        "the cookie is cleared"
    );
    let record = console.record(&key_id(&session)).await;
    assert_eq!(
        record.state_at(OffsetDateTime::now_utc()),
        KeyState::Revoked
    );
    assert_eq!(record.revocation.unwrap().kind, "signed_out");
    // The key that signed in is untouched.
    assert!(console.gate.verify(&pasted).await.is_ok());
    // Replaying the old cookie is refused.
    console.cookies.insert(COOKIE.to_owned(), session);
    let reply = console.get("").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.body.contains("revoked_api_key"), "{}", reply.body);
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let routes = ConsoleRoutes::new("admin").session_lifetime(Duration::from_secs(1));
    let mut console = Console::with(routes);
    console.signed_in().await;
    assert_eq!(console.get("").await.status, StatusCode::OK);
    pause(Duration::from_millis(1500)).await;
    let reply = console.get("").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.body.contains("expired_api_key"), "{}", reply.body);
}

#[tokio::test]
async fn revoking_the_key_that_signed_in_ends_its_sessions() {
    let mut console = Console::new();
    let pasted = console.signed_in().await;
    console.gate.revoke_key(&key_id(&pasted)).await.unwrap();
    let reply = console.get("").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.body.contains("no longer active"), "{}", reply.body);
}

#[tokio::test]
async fn an_ordinary_key_in_the_cookie_is_not_a_session() {
    let mut console = Console::new();
    let admin = console.key("alice-admin", &["admin"]).await;
    console.cookies.insert(COOKIE.to_owned(), admin);
    let reply = console.get("").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.body.contains("does not hold a console session"));
}

#[tokio::test]
async fn a_session_ends_no_later_than_the_key_that_signed_in() {
    let mut console = Console::new();
    let short = console
        .gate
        .create_key(
            keygate::NewKey::new("short")
                .owner("ops")
                .scopes(["admin"])
                .expires_in(Duration::from_secs(120)),
        )
        .await
        .unwrap();
    console.sign_in(short.key.expose()).await;
    let session = console.record(&key_id(&console.session_cookie())).await;
    assert!(session.expires_at.unwrap() <= short.record.expires_at.unwrap());
}

#[tokio::test]
async fn plain_http_is_refused_when_the_gate_requires_https() {
    let gate = keygate::KeyGate::builder()
        .prefix("demo")
        .require_https(keygate::https::RequireHttps::new())
        .build();
    let mut console = Console::on(gate, ConsoleRoutes::new("admin"));
    let admin = console.key("alice-admin", &["admin"]).await;
    let form = console.get("/sign-in").await;
    assert_eq!(
        form.status,
        StatusCode::FORBIDDEN,
        "no form to paste a key into"
    );
    assert!(!form.body.contains("<input"), "{}", form.body);
    let reply = console
        .post("/sign-in", &[("key", &admin), ("login", "x")])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("HTTPS only"), "{}", reply.body);
    // The key was not looked up, so its usage history counts nothing.
    let day_ago = OffsetDateTime::now_utc() - time::Duration::days(1);
    let usage = console.gate.usage(&key_id(&admin), day_ago).await.unwrap();
    assert!(usage.is_empty(), "{usage:?}");
}

#[tokio::test]
async fn a_session_over_its_rate_limit_waits_rather_than_ends() {
    let gate = keygate::KeyGate::builder()
        .prefix("demo")
        .default_rate_limit("3/min".parse().unwrap())
        .build();
    let mut console = Console::on(gate, ConsoleRoutes::new("admin"));
    console.signed_in().await;
    for _ in 0..3 {
        assert_eq!(console.get("").await.status, StatusCode::OK);
    }
    let reply = console.get("").await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert!(reply.body.contains("rate_limited"), "{}", reply.body);
    assert!(console.cookies.contains_key(COOKIE), "the session is kept");
    let session = console.record(&key_id(&console.session_cookie())).await;
    assert_eq!(
        session.state_at(OffsetDateTime::now_utc()),
        KeyState::Active
    );
}

/// A session key is the console's alone. Its text sits in the browser, and the key that signed
/// in is checked only by the console: as an API key it would outlive that key's revocation, and
/// signing in with it would open a session that outlives it too.
#[tokio::test]
async fn a_session_key_works_only_in_the_console() {
    let mut console = Console::new();
    let pasted = console.signed_in().await;
    let session = console.session_cookie();
    let admin = keygate::scope::Requirement::all(&["admin"]);
    assert!(console.gate.verify_for(&pasted, admin).await.is_ok());
    let refused = console.gate.verify_for(&session, admin).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_api_key");

    let mut elsewhere = Console::on(console.gate.clone(), ConsoleRoutes::new("admin"));
    let reply = elsewhere.sign_in(&session).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert!(!elsewhere.cookies.contains_key(COOKIE));

    // In the console it is the session it was.
    assert_eq!(console.get("").await.status, StatusCode::OK);
    // And once the key that signed in is revoked, it is nothing anywhere.
    console.gate.revoke_key(&key_id(&pasted)).await.unwrap();
    assert_eq!(console.get("").await.status, StatusCode::UNAUTHORIZED);
    assert!(console.gate.verify_for(&session, admin).await.is_err());
}

#[tokio::test]
async fn taking_a_scope_from_the_key_that_signed_in_ends_its_sessions() {
    let mut console = Console::new();
    let pasted = console.signed_in().await;
    console
        .gate
        .set_key_scopes(&key_id(&pasted), ["admin"])
        .await
        .unwrap();
    let reply = console.get("").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.body.contains("no longer holds every scope"),
        "{}",
        reply.body
    );
}

/// Only the console mints sessions: a key cannot be made to pass for one.
#[tokio::test]
async fn no_key_can_be_made_to_pass_for_a_session() {
    let console = Console::new();
    let parent = console.key("alice-admin", &["admin"]).await;
    let forged = keygate::NewKey::new("console session")
        .owner("ops")
        .scopes(["admin"])
        .metadata("console_session_of", key_id(&parent));
    let refused = console.gate.create_key(forged).await.unwrap_err();
    assert!(refused.to_string().contains("reserved"), "{refused}");
}

/// Rotating a session key (it is listed with the keys) mints an ordinary key, not a session
/// that would outlive the session's lifetime, credited to the key that signed in.
#[tokio::test]
async fn rotating_a_session_mints_no_session() {
    let mut console = Console::new();
    console.signed_in().await;
    let session = key_id(&console.session_cookie());
    let successor = console
        .gate
        .rotate_key(&session, Duration::ZERO)
        .await
        .unwrap();
    assert!(
        successor.record.metadata.is_empty(),
        "{:?}",
        successor.record.metadata
    );
    console
        .cookies
        .insert(COOKIE.to_owned(), successor.key.expose().to_owned());
    let reply = console.get("").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.body.contains("does not hold a console session"),
        "{}",
        reply.body
    );
}
