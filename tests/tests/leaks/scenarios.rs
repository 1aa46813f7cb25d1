//! Reports run on SQLite and PostgreSQL: genuine, mixed, and forged or malformed.

use super::*;

/// A genuine report revokes the key with its reason, tells the hook once, answers with the
/// token's hash and `true_positive`, and the revocation reaches another instance whose cache
/// would keep the key for an hour. The refused key's log event names the reason.
pub async fn genuine_report_revokes(connect: impl AsyncFn() -> SqlStore) {
    let github = Github::start().await;
    let mut service = Service::start(connect().await, &github.url).await;
    let other_instance = KeyGate::builder()
        .prefix(PREFIX)
        .store(
            CachedStore::builder(connect().await)
                .ttl(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let (key, key_id) = service.key("deploy").await;
    let (bystander, bystander_id) = service.key("bystander").await;
    // The other instance hears of the new key (its cache knows every id), then caches it active.
    let started = Instant::now();
    while other_instance.verify(&key).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(5), "never admitted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let (status, _, body) = service
        .report(&github, report(&[(&key, Some(LEAK_URL))]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!([{"token_hash": sha256_hex(&key), "token_type": TOKEN_TYPE, "label": "true_positive"}])
    );

    let record = service.gate.get_key(&key_id).await.unwrap();
    assert!(record.revoked_at.is_some());
    let reason = record.revocation.expect("a reason");
    assert_eq!(reason.kind, "leaked");
    assert_eq!(reason.url.as_deref(), Some(LEAK_URL));
    assert_eq!(reason.source.as_deref(), Some("content"));
    let view = serde_json::to_value(keygate::record::KeyView::from(
        &service.gate.get_key(&key_id).await.unwrap(),
    ))
    .unwrap();
    assert_eq!(view["revocation"]["kind"], "leaked");
    assert_eq!(view["revocation"]["url"], LEAK_URL);

    let leak = tokio::time::timeout(Duration::from_secs(5), service.leaks.recv())
        .await
        .expect("the hook is called")
        .unwrap();
    assert_eq!(leak.key_id, key_id);
    assert_eq!(leak.name, "deploy");
    assert_eq!(leak.owner, "team-deploy");
    assert_eq!(leak.url.as_deref(), Some(LEAK_URL));
    assert_eq!(leak.source.as_deref(), Some("content"));
    assert_eq!(leak.token_type, TOKEN_TYPE);
    assert!(!format!("{leak:?}").contains(&key[key.len() - 49..]));

    // The same report again: still a true positive, the first reason stays, no second call.
    let again = report(&[(&key, Some("https://example.com/elsewhere"))]);
    let (status, _, body) = service.report(&github, again).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["label"], "true_positive");
    let record = service.gate.get_key(&key_id).await.unwrap();
    assert_eq!(record.revocation.unwrap().url.as_deref(), Some(LEAK_URL));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        service.leaks.try_recv().is_err(),
        "the hook was called twice"
    );

    // The revocation reaches the other instance, through its cache.
    let started = Instant::now();
    loop {
        match other_instance.verify(&key).await {
            Err(rejection) if rejection.code() == "revoked_api_key" => break,
            _ => assert!(started.elapsed() < Duration::from_secs(5), "never revoked"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(other_instance.verify(&bystander).await.is_ok());
    service.assert_nothing_revoked(&[&bystander_id]).await;

    // Presented over HTTP, the revoked key is refused, and the event says why.
    let response = service
        .http
        .get(format!("{}/whoami", service.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "revoked_api_key");
    let events = service.logs.lines_with(&key_id);
    assert!(
        events
            .iter()
            .any(|line| line.contains("revoked_api_key") && line.contains("revocation=\"leaked\"")),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|line| line.contains("WARN") && line.contains("secret scanning found exposed")),
        "{events:#?}"
    );
    service.assert_never_logged(&[&key, &bystander]);

    // Reports naming one key, at once (GitHub retrying while the first is handled, or two
    // instances each given one): all true positives, the hook hears once. The revocation is one
    // conditional write, so only the report whose write landed tells the hook.
    let (raced, raced_id) = service.key("raced").await;
    let posts: Vec<_> = (0..6)
        .map(|n| {
            let body = report(&[(&raced, Some(&*format!("https://example.com/{n}")))]);
            let signature = github.sign(&body);
            let request = service
                .http
                .post(format!("{}/security/leaked-keys", service.base))
                .header("content-type", "application/json")
                .header("Github-Public-Key-Identifier", IDENTIFIER)
                .header("Github-Public-Key-Signature", signature)
                .body(body);
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    for post in posts {
        let (status, body) = post.await.unwrap();
        assert_eq!((status, &body[0]["label"]), (200, &json!("true_positive")));
    }
    let heard = tokio::time::timeout(Duration::from_secs(5), service.leaks.recv())
        .await
        .expect("the hook is called")
        .unwrap();
    assert_eq!(heard.key_id, raced_id);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        service.leaks.try_recv().is_err(),
        "the hook heard of one revocation twice"
    );
}

/// One report mixing a live key, a key revoked earlier, the live key again, and tokens that are
/// not keys of this gate: each gets its label, only the live key is revoked, the hook hears once.
pub async fn a_mixed_batch_gets_the_right_labels(connect: impl AsyncFn() -> SqlStore) {
    let github = Github::start().await;
    let mut service = Service::start(connect().await, &github.url).await;
    let (live, live_id) = service.key("live").await;
    let (revoked, revoked_id) = service.key("old").await;
    let (untouched, untouched_id) = service.key("untouched").await;
    service
        .gate
        .revoke_key_with_reason(&revoked_id, RevocationReason::new("rotated_out"))
        .await
        .unwrap();
    // Expired, but an expiry can be moved: a leaked expired key is revoked too.
    let expired = service
        .gate
        .create_key(NewKey::new("expired").expires_in(Duration::from_millis(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (expired, expired_id) = (expired.key.expose().to_owned(), expired.record.key_id);
    let foreign_prefix = KeyGate::builder()
        .prefix("other_live")
        .build()
        .mint_test_key(["items:read"])
        .await;
    let unknown_id = unknown_key(PREFIX).await;
    let wrong_secret = same_id_other_secret(&untouched);
    let mut bad_checksum = untouched.clone();
    bad_checksum.pop();
    bad_checksum.push(if untouched.ends_with('0') { '1' } else { '0' });
    let tokens = [
        (live.as_str(), "true_positive"),
        (revoked.as_str(), "true_positive"),
        (expired.as_str(), "true_positive"),
        (foreign_prefix.as_str(), "false_positive"),
        (unknown_id.as_str(), "false_positive"),
        (wrong_secret.as_str(), "false_positive"),
        (bad_checksum.as_str(), "false_positive"),
        ("ghp_notakeygatekeyatall", "false_positive"),
        (live.as_str(), "true_positive"),
    ];
    let body = report(&tokens.map(|(token, _)| (token, Some(LEAK_URL))));
    let (status, _, feedback) = service.report(&github, body).await;
    assert_eq!(status, 200, "{feedback}");
    let feedback = feedback.as_array().unwrap();
    assert_eq!(feedback.len(), tokens.len());
    for ((token, label), entry) in tokens.iter().zip(feedback) {
        assert_eq!(entry["label"], *label, "{entry}");
        assert_eq!(entry["token_hash"], sha256_hex(token));
        assert_eq!(entry["token_type"], TOKEN_TYPE);
        assert!(!entry.to_string().contains(token));
    }

    assert_eq!(
        service
            .gate
            .get_key(&live_id)
            .await
            .unwrap()
            .revocation
            .unwrap()
            .kind,
        "leaked"
    );
    assert_eq!(
        service
            .gate
            .get_key(&revoked_id)
            .await
            .unwrap()
            .revocation
            .unwrap()
            .kind,
        "rotated_out",
        "an earlier revocation keeps its reason"
    );
    assert_eq!(
        service
            .gate
            .get_key(&expired_id)
            .await
            .unwrap()
            .revocation
            .unwrap()
            .kind,
        "leaked"
    );
    let mut heard = Vec::new();
    for _ in 0..2 {
        let leak = tokio::time::timeout(Duration::from_secs(5), service.leaks.recv())
            .await
            .unwrap()
            .unwrap();
        heard.push(leak.key_id);
    }
    heard.sort();
    let mut expected = vec![live_id.clone(), expired_id.clone()];
    expected.sort();
    assert_eq!(heard, expected, "once for each key this report revoked");
    service.assert_nothing_revoked(&[&untouched_id]).await;
    service.assert_never_logged(&[&live, &revoked, &untouched, &wrong_secret, &unknown_id]);
}

/// Every malformed or forged report is refused with its code, and revokes nothing although it
/// names live keys.
pub async fn forged_and_malformed_reports_revoke_nothing(connect: impl AsyncFn() -> SqlStore) {
    let github = Github::start().await;
    let mut service = Service::start(connect().await, &github.url).await;
    let (key, key_id) = service.key("victim").await;
    let (other, other_id) = service.key("other").await;
    let genuine = report(&[(&key, Some(LEAK_URL))]);
    let signature = github.sign(&genuine);

    // No signature headers at all, or only one of them.
    let got = service.post(genuine.clone(), None, None).await;
    service.assert_refused(got, 400, "missing_signature").await;
    let got = service.post(genuine.clone(), Some(IDENTIFIER), None).await;
    service.assert_refused(got, 400, "missing_signature").await;
    let got = service.post(genuine.clone(), None, Some(&signature)).await;
    service.assert_refused(got, 400, "missing_signature").await;

    // A signature that is not base64, or not DER.
    let got = service
        .post(genuine.clone(), Some(IDENTIFIER), Some("%%%"))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;
    let got = service
        .post(genuine.clone(), Some(IDENTIFIER), Some("bm90IGRlcg=="))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // The body changed after signing: one byte of the URL.
    let mut tampered = genuine.clone();
    let at = tampered.len() - 5;
    tampered[at] ^= 0x01;
    let got = service
        .post(tampered, Some(IDENTIFIER), Some(&signature))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // Signed by another key, under GitHub's identifier.
    let forger = random_signing_key();
    let forged: Signature = forger.sign(&genuine);
    let forged = base64::engine::general_purpose::STANDARD.encode(forged.to_der());
    let got = service
        .post(genuine.clone(), Some(IDENTIFIER), Some(&forged))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // Signed by GitHub's other published key... no: a genuine signature under the other key's
    // identifier does not verify either.
    let got = service
        .post(genuine.clone(), Some("0ld"), Some(&signature))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // A genuine signature replayed on another body.
    let other_body = report(&[(&other, Some(LEAK_URL))]);
    let got = service
        .post(other_body, Some(IDENTIFIER), Some(&signature))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // Over the size bound, although signed.
    let mut huge = genuine.clone();
    huge.pop();
    huge.extend(std::iter::repeat_n(b' ', MAX_BODY_BYTES));
    huge.push(b']');
    let got = service.report(&github, huge).await;
    service.assert_refused(got, 413, "payload_too_large").await;

    // Over the count bound, although signed.
    let many: Vec<(&str, Option<&str>)> =
        std::iter::repeat_n((key.as_str(), None), MAX_TOKENS + 1).collect();
    let got = service.report(&github, report(&many)).await;
    service.assert_refused(got, 413, "too_many_tokens").await;

    // Signed, but not an array of reported tokens.
    let truncated = genuine[..genuine.len() - 1].to_vec();
    let object = serde_json::to_vec(&json!({"token": key, "type": TOKEN_TYPE})).unwrap();
    let wrong_field = serde_json::to_vec(&json!([{"token": 12, "type": TOKEN_TYPE}])).unwrap();
    let no_type = serde_json::to_vec(&json!([{"token": key}])).unwrap();
    for malformed in [truncated, object, wrong_field, no_type, b"".to_vec()] {
        let got = service.report(&github, malformed).await;
        service.assert_refused(got, 400, "invalid_report").await;
    }

    service.assert_nothing_revoked(&[&key_id, &other_id]).await;
    service.assert_never_logged(&[&key, &other]);
    assert_eq!(github.hits(), 1, "the keys were fetched once and kept");
}
