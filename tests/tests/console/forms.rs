//! Create, rotate and revoke through the forms; CSRF; the privilege rule.

use axum::http::StatusCode;
use keygate::record::KeyState;
use time::OffsetDateTime;

use crate::support::{BASE, Console, key_id};

/// The key shown on a creation or rotation page.
fn shown_key(body: &str) -> String {
    let marker = "id=\"new-key\" readonly value=\"";
    let start = body.find(marker).expect("a key on the page") + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn create_rotate_revoke_round_trip() {
    let mut console = Console::new();
    console.signed_in().await;
    let csrf = console.csrf().await;
    let form = console.get("/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains("value=\"items:read\""),
        "declared scopes offered"
    );

    let created = console
        .post(
            "/new",
            &[
                ("csrf", &csrf),
                ("name", "ci-deploy"),
                ("owner", "team-infra"),
                ("scope", "items:read"),
                ("expires_in", "90d"),
                ("rate_limit", "100/min"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.body.contains("it will not be shown again"));
    let key = shown_key(&created.body);
    let admitted = console
        .gate
        .verify(&key)
        .await
        .expect("the shown key works");
    assert_eq!(admitted.owner(), "team-infra");
    assert_eq!(admitted.scopes(), ["items:read"]);
    let id = key_id(&key);
    let page = console.get(&format!("/keys/{id}")).await;
    assert!(
        !page.body.contains(&key),
        "the key page never shows the key"
    );

    let rotated = console
        .post(
            &format!("/keys/{id}/rotate"),
            &[("csrf", &csrf), ("grace", "1h")],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let successor = shown_key(&rotated.body);
    assert!(console.gate.verify(&successor).await.is_ok());
    assert!(
        console.gate.verify(&key).await.is_ok(),
        "inside the grace period"
    );
    let new_id = key_id(&successor);
    let chain = console.get(&format!("/keys/{new_id}")).await;
    assert!(
        chain.body.contains(&format!("href=\"{BASE}/keys/{id}\"")),
        "the chain links the old key: {}",
        chain.body
    );

    let confirm = console.get(&format!("/keys/{new_id}/revoke")).await;
    assert!(confirm.body.contains("Revoking is immediate and final"));
    let revoked = console
        .post(
            &format!("/keys/{new_id}/revoke"),
            &[("csrf", &csrf), ("reason", "compromised")],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(revoked.location(), format!("{BASE}/keys/{new_id}"));
    let refused = console.gate.verify(&successor).await.unwrap_err();
    assert_eq!(refused.code(), "revoked_api_key");
    let page = console.get(&format!("/keys/{new_id}")).await;
    assert!(
        page.body.contains("<code>compromised</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("state-revoked"));
}

#[tokio::test]
async fn a_post_without_the_csrf_token_or_with_another_changes_nothing() {
    let mut console = Console::new();
    console.signed_in().await;
    let victim = console.key("victim", &["items:read"]).await;
    let id = key_id(&victim);
    let before = console.all_keys().await.len();
    for token in [None, Some("0123"), Some("")] {
        let mut fields = vec![("name", "forged"), ("reason", "forged")];
        if let Some(token) = token {
            fields.push(("csrf", token));
        }
        for path in [
            "/new".to_owned(),
            format!("/keys/{id}/revoke"),
            format!("/keys/{id}/rotate"),
            "/sign-out".to_owned(),
        ] {
            let reply = console.post(&path, &fields).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path} {token:?}");
            assert!(reply.body.contains("nothing was changed"), "{}", reply.body);
        }
    }
    assert_eq!(console.all_keys().await.len(), before, "nothing created");
    let record = console.record(&id).await;
    assert_eq!(record.state_at(OffsetDateTime::now_utc()), KeyState::Active);
    assert!(record.rotated_to.is_none());
    assert_eq!(
        console.get("").await.status,
        StatusCode::OK,
        "still signed in"
    );
    // Another session's token is not this session's.
    let mut other = Console::on(
        console.gate.clone(),
        keygate::admin::console::Console::new("admin"),
    );
    other.signed_in().await;
    let foreign = other.csrf().await;
    let reply = console
        .post(&format!("/keys/{id}/revoke"), &[("csrf", &foreign)])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(console.gate.verify(&victim).await.is_ok());
}

#[tokio::test]
async fn a_session_grants_only_what_the_key_that_signed_in_holds() {
    let mut console = Console::new();
    console.signed_in().await; // admin items:read
    let csrf = console.csrf().await;
    let before = console.all_keys().await.len();
    for grants in [
        ("scope", "items:write"),
        ("grants", "items:*"),
        ("grants", "*"),
    ] {
        let reply = console
            .post("/new", &[("csrf", &csrf), ("name", "wider"), grants])
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{grants:?}: {}",
            reply.body
        );
        assert!(reply.body.contains("does not hold"), "{}", reply.body);
    }
    assert_eq!(console.all_keys().await.len(), before);
    // Rotating a key that holds more than the session would mint that much again.
    let writer = console.key("writer", &["items:write"]).await;
    let id = key_id(&writer);
    let reply = console
        .post(&format!("/keys/{id}/rotate"), &[("csrf", &csrf)])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(console.record(&id).await.rotated_to.is_none());
    // Within its own scopes it may.
    let reply = console
        .post(
            "/new",
            &[("csrf", &csrf), ("name", "ok"), ("grants", "items:read")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

/// Nor, signed in with a limited, expiring key, a key calling faster or living longer than it.
#[tokio::test]
async fn a_session_gives_no_looser_limit_or_longer_life_than_the_key_that_signed_in() {
    let mut console = Console::new();
    let parent = console
        .gate
        .create_key(
            keygate::NewKey::new("temp-admin")
                .owner("ops")
                .scopes(["admin"])
                .rate_limit("10/min".parse().unwrap())
                .expires_in(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    let reply = console.sign_in(parent.key.expose()).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let csrf = console.csrf().await;
    let before = console.all_keys().await.len();
    for (fields, said) in [
        (vec![("rate_limit", "1/s")], "limited to 10/min"),
        (vec![("rate_limit", "10/min burst 20")], "limited to 10/min"),
        (
            vec![("rate_limit", "5/min"), ("expires_in", "2h")],
            "cannot live",
        ),
    ] {
        let mut form = vec![("csrf", csrf.as_str()), ("name", "wider")];
        form.extend(fields);
        let reply = console.post("/new", &form).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{form:?}: {}",
            reply.body
        );
        assert!(reply.body.contains(said), "{}", reply.body);
    }
    assert_eq!(console.all_keys().await.len(), before);
    // The form left empty: the key is limited and ends like the key that signed in.
    let reply = console
        .post("/new", &[("csrf", &csrf), ("name", "ok")])
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let made = console
        .all_keys()
        .await
        .into_iter()
        .find(|key| key.name == "ok")
        .unwrap();
    assert!(made.expires_at.unwrap() <= parent.record.expires_at.unwrap());
    assert_eq!(made.rate_limit.unwrap().to_string(), "10/min");
}

#[tokio::test]
async fn bad_input_is_a_4xx_page_and_writes_nothing() {
    let mut console = Console::new();
    console.signed_in().await;
    let csrf = console.csrf().await;
    let before = console.all_keys().await.len();
    let cases: [(&[(&str, &str)], StatusCode); 5] = [
        (&[("name", "")], StatusCode::UNPROCESSABLE_ENTITY),
        (
            &[("name", "x"), ("expires_in", "soon")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &[("name", "x"), ("rate_limit", "lots")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &[("name", "x"), ("grants", "Bad Scope")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &[("name", "x"), ("scope", "admin"), ("owner", "a\u{7}b")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (fields, status) in cases {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &csrf));
        let reply = console.post("/new", &fields).await;
        assert_eq!(reply.status, status, "{fields:?}: {}", reply.body);
    }
    assert_eq!(console.all_keys().await.len(), before);
    for path in ["/keys/nosuchkey/rotate", "/keys/nosuchkey/revoke"] {
        let reply = console.post(path, &[("csrf", &csrf)]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        console.get("/keys/nosuchkey").await.status,
        StatusCode::NOT_FOUND
    );
    let revoked = console.key("gone", &[]).await;
    let id = key_id(&revoked);
    console.gate.revoke_key(&id).await.unwrap();
    let reply = console
        .post(&format!("/keys/{id}/rotate"), &[("csrf", &csrf)])
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    let reply = console
        .post(
            &format!("/keys/{id}/rotate"),
            &[("csrf", &csrf), ("grace", "0s")],
        )
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
}
