//! Who may call the admin routes, and what they may grant: refusals as the attribute gives them,
//! `scope_not_held`, and bad input that writes nothing.

use keygate::NewKey;
use keygate::record::KeyFilter;
use keygate::reject::PROBLEM_TYPES;
use reqwest::Method;
use serde_json::{Value, json};

use crate::Service;

/// Status, `WWW-Authenticate` challenges, content type and body of a response.
async fn parts(response: reqwest::Response) -> (u16, Vec<String>, String, Value) {
    let status = response.status().as_u16();
    let headers = response.headers();
    let challenges = headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let content_type = headers["content-type"].to_str().unwrap().to_owned();
    (
        status,
        challenges,
        content_type,
        response.json().await.unwrap(),
    )
}

#[tokio::test]
async fn without_a_key_or_the_scope_the_answer_is_the_attributes() {
    let service = Service::start().await;
    let reader = service
        .gate
        .create_key(NewKey::new("reader").scopes(["reports:read"]))
        .await
        .unwrap();
    let reader = reader.key.expose();
    let made_up = format!("acme_{}_{}", "0".repeat(12), "0".repeat(49));
    let cases: [(Option<&str>, u16, &str); 3] = [
        (None, 401, "missing_api_key"),
        (Some(&made_up), 401, "invalid_api_key"),
        (Some(reader), 403, "insufficient_scope"),
    ];
    let routes = [
        (Method::POST, "/manage/keys", Some(r#"{"name":"x"}"#)),
        (Method::GET, "/manage/keys", None),
        (Method::GET, "/manage/keys/audit", None),
        (Method::POST, "/manage/keys/abc/rotate", Some("not json")),
        (Method::DELETE, "/manage/keys/abc", None),
        (
            Method::PUT,
            "/manage/keys/abc/rate_limit",
            Some(r#"{"rate_limit":"1/s"}"#),
        ),
        (Method::GET, "/manage/keys/abc/usage?since=nonsense", None),
    ];
    for (key, status, code) in cases {
        // The attribute's answer for `admin`, with the admin routes' scope in its place.
        let guarded = service.send(Method::GET, "/guarded", key, None).await;
        let (_, attribute_challenges, attribute_type, mut attribute) = parts(guarded).await;
        if code == "insufficient_scope" {
            attribute["required_scopes"] = json!(["keys:admin"]);
            attribute["detail"] = json!("The API key lacks a required scope: keys:admin.");
        }
        for (method, path, body) in &routes {
            let response = service.send(method.clone(), path, key, *body).await;
            let (got, challenges, content_type, problem) = parts(response).await;
            // Checked before the body, the query or the key id is read.
            assert_eq!(got, status, "{method} {path} with {code}: {problem}");
            assert_eq!(problem, attribute, "{method} {path}");
            assert_eq!(problem["code"], code);
            assert_eq!(problem["type"], format!("{PROBLEM_TYPES}#{code}"));
            assert_eq!(challenges, attribute_challenges, "{method} {path}");
            assert_eq!(content_type, attribute_type);
        }
    }
    assert_eq!(
        service
            .gate
            .list_keys(&KeyFilter::default())
            .await
            .unwrap()
            .len(),
        2,
        "nothing was written"
    );
}

#[tokio::test]
async fn a_key_never_grants_beyond_itself() {
    let service = Service::start().await;
    // The admin key holds `keys:admin reports:read`.
    for scopes in [json!(["reports:write"]), json!(["reports:*"]), json!(["*"])] {
        let body = json!({"name": "wide", "scopes": scopes}).to_string();
        let (status, problem) = service
            .admin(Method::POST, "/manage/keys", Some(&body))
            .await;
        assert_eq!(status, 403, "{scopes}: {problem}");
        assert_eq!(problem["code"], "scope_not_held");
        assert_eq!(problem["type"], format!("{PROBLEM_TYPES}#scope_not_held"));
        let first = scopes[0].as_str().unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(first),
            "{problem}"
        );
    }
    let body = r#"{"name":"narrow","scopes":["reports:read","keys:admin"]}"#;
    let (status, _) = service
        .admin(Method::POST, "/manage/keys", Some(body))
        .await;
    assert_eq!(status, 201, "what the caller holds it may grant");

    // Rotating a key that holds more than the caller would mint a successor holding it too.
    let writer = service
        .gate
        .create_key(NewKey::new("writer").scopes(["reports:write"]))
        .await
        .unwrap();
    let id = &writer.record.key_id;
    let (status, problem) = service
        .admin(Method::POST, &format!("/manage/keys/{id}/rotate"), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("scope_not_held"))
    );
    let all = service.gate.list_keys(&KeyFilter::default()).await.unwrap();
    assert_eq!(
        all.len(),
        3,
        "the admin key, `narrow` and `writer`: nothing else"
    );
    assert!(all.iter().all(|r| r.rotated_to.is_none()));
}

#[tokio::test]
async fn bad_input_is_named_by_its_code_and_writes_nothing() {
    let service = Service::start().await;
    let cases = [
        (
            Method::POST,
            "/manage/keys",
            Some("{"),
            400,
            "malformed_request",
        ),
        (
            Method::POST,
            "/manage/keys",
            Some(r#"{"name":"x","colour":"red"}"#),
            422,
            "malformed_request",
        ),
        (
            Method::POST,
            "/manage/keys",
            Some(r#"{"name":" "}"#),
            422,
            "invalid_name",
        ),
        (
            Method::POST,
            "/manage/keys",
            Some(r#"{"name":"x","scopes":["billing:read"]}"#),
            422,
            "invalid_scope",
        ),
        (
            Method::POST,
            "/manage/keys",
            Some(r#"{"name":"x","expires_in":"090d"}"#),
            422,
            "invalid_duration",
        ),
        (
            Method::POST,
            "/manage/keys",
            Some(r#"{"name":"x","rate_limit":"100/min  burst 5"}"#),
            422,
            "invalid_rate_limit",
        ),
        (
            Method::GET,
            "/manage/keys?unused_for=0d",
            None,
            422,
            "invalid_duration",
        ),
        (
            Method::GET,
            "/manage/keys/audit?colour=red",
            None,
            400,
            "malformed_request",
        ),
        (
            Method::DELETE,
            "/manage/keys/nosuchkey000",
            None,
            404,
            "key_not_found",
        ),
        (
            Method::POST,
            "/manage/keys/nosuchkey000/rotate",
            None,
            404,
            "key_not_found",
        ),
        (
            Method::GET,
            "/manage/keys/nosuchkey000/usage",
            None,
            404,
            "key_not_found",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let response = service
            .send(method.clone(), path, Some(&service.admin), body)
            .await;
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let got = response.status().as_u16();
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {body:?}: {problem}"
        );
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["type"], format!("{PROBLEM_TYPES}#{code}"));
        assert_eq!(problem["status"], status);
    }
    assert_eq!(
        service
            .gate
            .list_keys(&KeyFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A limited, expiring key minting or changing keys: none may call faster than it or outlive
/// it, its own limit included.
#[tokio::test]
async fn a_key_never_gives_a_looser_limit_or_a_longer_life_than_its_own() {
    let started = Service::start().await;
    let service = &started;
    let caller = service
        .gate
        .create_key(
            NewKey::new("temp-admin")
                .scopes(["keys:admin", "reports:read"])
                .rate_limit("100/min".parse().unwrap())
                .expires_in(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    let (caller_id, caller_key) = (&caller.record.key_id, caller.key.expose());
    let send = |method, path: String, body: Value| {
        let body = body.to_string();
        async move {
            let response = service
                .send(method, &path, Some(caller_key), Some(&body))
                .await;
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let keys = || async { service.gate.list_keys(&KeyFilter::default()).await.unwrap() };
    let before = keys().await.len();

    for (body, code) in [
        (
            json!({"name": "fast", "rate_limit": "200/min"}),
            "rate_limit_not_held",
        ),
        (
            json!({"name": "bursty", "rate_limit": "100/min burst 300"}),
            "rate_limit_not_held",
        ),
        (
            json!({"name": "long", "rate_limit": "5/min", "expires_in": "2h"}),
            "lifetime_not_held",
        ),
    ] {
        let (status, problem) = send(Method::POST, "/manage/keys".into(), body.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some(code)),
            "{body}"
        );
    }
    let own = format!("/manage/keys/{caller_id}/rate_limit");
    let (status, problem) = send(Method::PUT, own.clone(), json!({"rate_limit": null})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("rate_limit_not_held"))
    );
    let never_expires = service
        .gate
        .create_key(NewKey::new("old").rate_limit("1/min".parse().unwrap()))
        .await
        .unwrap();
    let rotate = format!("/manage/keys/{}/rotate", never_expires.record.key_id);
    let (status, problem) = send(Method::POST, rotate, json!({})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("lifetime_not_held"))
    );
    assert_eq!(
        keys().await.len(),
        before + 1,
        "only `old`, made here: nothing written"
    );
    assert!(keys().await.iter().all(|key| key.rotated_to.is_none()));

    // Within its own bounds it may: a tighter limit, and without `expires_in` the key ends with
    // the caller.
    let (status, created) = send(
        Method::POST,
        "/manage/keys".into(),
        json!({"name": "narrow", "rate_limit": "5/min"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let made = service
        .gate
        .get_key(created["record"]["key_id"].as_str().unwrap())
        .await
        .unwrap();
    let ends = made.expires_at.expect("it expires");
    assert!(
        ends <= caller.record.expires_at.unwrap(),
        "{ends} outlives the caller"
    );
    // Asked for no limit of its own, a key is limited like the caller.
    let (status, created) = send(
        Method::POST,
        "/manage/keys".into(),
        json!({"name": "plain"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["record"]["rate_limit"], "100/min", "{created}");

    // A key with an expiry whose successor would outlive the caller: not rotated by it; the
    // caller renewing itself: rotated.
    let long = service
        .gate
        .create_key(
            NewKey::new("long")
                .rate_limit("1/min".parse().unwrap())
                .expires_in(std::time::Duration::from_secs(30 * 86_400)),
        )
        .await
        .unwrap();
    let rotate = format!("/manage/keys/{}/rotate", long.record.key_id);
    let (status, problem) = send(Method::POST, rotate, json!({})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("lifetime_not_held"))
    );
    let renew = format!("/manage/keys/{caller_id}/rotate");
    let (status, renewed) = send(Method::POST, renew, json!({"grace": "1m"})).await;
    assert_eq!(status, 201, "{renewed}");
    let (status, _) = send(Method::PUT, own, json!({"rate_limit": "1/min"})).await;
    assert_eq!(status, 200, "tightening its own limit is fine");
}
