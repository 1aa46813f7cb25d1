//! What the pages show, how they are served, and that what a key holds is shown as text.

use axum::http::{StatusCode, header};
use keygate::NewKey;
use keygate::record::RevocationReason;
use keygate::scope::Requirement;

use crate::support::{Console, key_id};

#[tokio::test]
async fn every_answer_is_no_store_unframeable_and_scripts_only_its_own() {
    let mut console = Console::new();
    let mut replies = vec![
        console.get("/sign-in").await,
        console.get("/console.css").await,
        console.get("/nowhere").await,
    ];
    console.signed_in().await;
    replies.push(console.get("").await);
    replies.push(console.get("/new").await);
    for reply in replies {
        let header = |name| {
            reply
                .headers
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(header(header::CACHE_CONTROL), "no-store");
        let csp = header(header::CONTENT_SECURITY_POLICY);
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(header(header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(header(header::REFERRER_POLICY), "no-referrer");
        assert!(!reply.body.contains("<script>"), "no inline script");
        assert!(!reply.body.contains(" style="), "no inline style");
    }
}

#[tokio::test]
async fn what_a_key_holds_is_escaped_everywhere_it_is_shown() {
    let mut console = Console::new();
    console.signed_in().await;
    let evil = "<script>alert(1)</script>";
    let created = console
        .gate
        .create_key(
            NewKey::new(evil)
                .owner("\"><img src=x onerror=alert(2)>")
                .metadata("<b>", "<i>x</i>"),
        )
        .await
        .unwrap();
    let id = created.record.key_id.clone();
    console
        .gate
        .revoke_key_with_reason(
            &id,
            RevocationReason::leaked(Some("javascript:alert(3)\"<x>".into()), Some("<c>".into())),
        )
        .await
        .unwrap();
    for path in ["?state=all".to_owned(), format!("/keys/{id}")] {
        let page = console.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains(evil), "{path}: {}", page.body);
        assert!(
            page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
        assert!(!page.body.contains("<img"), "{path}");
        assert!(
            page.body
                .contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"),
            "{path}"
        );
    }
    let page = console.get(&format!("/keys/{id}")).await;
    assert!(!page.body.contains("<i>x</i>") && page.body.contains("&lt;i&gt;x&lt;/i&gt;"));
    assert!(
        !page.body.contains("href=\"javascript"),
        "a reporter's address is never a link"
    );
    assert!(page.body.contains("javascript:alert(3)&quot;&lt;x&gt;"));
    // An owner filter echoed into the form is escaped too.
    let page = console.get("?owner=%22%3E%3Cscript%3E").await;
    assert!(
        page.body.contains("value=\"&quot;&gt;&lt;script&gt;\""),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_list_filters_by_owner_state_and_disuse() {
    let mut console = Console::new();
    console.signed_in().await;
    let make = |name: &'static str, owner: &'static str| NewKey::new(name).owner(owner);
    let gate = console.gate.clone();
    gate.create_key(make("infra-ci", "team-infra"))
        .await
        .unwrap();
    gate.create_key(make("web-ci", "team-web")).await.unwrap();
    let gone = gate.create_key(make("old-ci", "team-infra")).await.unwrap();
    gate.revoke_key(&gone.record.key_id).await.unwrap();

    let infra = console.get("?owner=team-infra").await;
    assert!(infra.body.contains("infra-ci") && !infra.body.contains("web-ci"));
    assert!(!infra.body.contains("old-ci"), "active keys by default");
    let revoked = console.get("?owner=team-infra&state=revoked").await;
    assert!(revoked.body.contains("old-ci") && !revoked.body.contains("infra-ci"));
    let all = console.get("?state=all").await;
    for name in ["infra-ci", "web-ci", "old-ci", "console session"] {
        assert!(all.body.contains(name), "{name}");
    }
    // Just made, so none has gone unused for a day.
    let unused = console.get("?unused_for=1d").await;
    assert!(unused.body.contains("0 key(s)"), "{}", unused.body);
    assert_eq!(
        console.get("?unused_for=soon").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        console.get("?state=gone").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_key_page_charts_its_traffic_and_the_audit_lists_findings() {
    let mut console = Console::new();
    console.signed_in().await;
    let created = console
        .gate
        .create_key(NewKey::new("busy").owner("ops").scopes(["items:read"]))
        .await
        .unwrap();
    let key = created.key.expose();
    for _ in 0..3 {
        console
            .gate
            .verify_for(key, Requirement::all(&["items:read"]))
            .await
            .unwrap();
    }
    console
        .gate
        .verify_for(key, Requirement::all(&["admin"]))
        .await
        .unwrap_err();
    let page = console.get(&format!("/keys/{}", key_id(key))).await;
    assert!(
        page.body.contains("<svg id=\"usage-chart\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("<rect class=\"admitted\""));
    assert!(page.body.contains("<rect class=\"refused\""));
    assert!(page.body.contains("<strong>3</strong> admitted"));
    assert!(page.body.contains("<strong>1</strong> refused"));

    let audit = console.get("/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.body.contains("busy"), "{}", audit.body);
    assert!(
        audit.body.contains("no expiry") || audit.body.contains("expir"),
        "{}",
        audit.body
    );
    assert_eq!(
        console.get("/audit?unused_for=x").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
