//! The HTTPS requirement's rules, one by one.

use super::cidr::Cidr;
use super::*;
use axum::http::Request;

fn parts(peer: Option<&str>, headers: &[(&str, &str)], tls: bool) -> Parts {
    let mut request = Request::builder();
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (mut parts, ()) = request.body(()).unwrap().into_parts();
    if let Some(peer) = peer {
        let peer: SocketAddr = peer.parse().unwrap();
        parts.extensions.insert(ConnectInfo(peer));
    }
    if tls {
        parts.extensions.insert(Tls);
    }
    parts
}

#[test]
fn blocks_parse_and_match_whole_prefixes() {
    let block = Cidr::parse("10.1.0.0/16").unwrap();
    assert!(block.contains("10.1.255.3".parse().unwrap()));
    assert!(!block.contains("10.2.0.1".parse().unwrap()));
    assert!(!block.contains("::ffff:10.2.0.1".parse().unwrap()));
    let one = Cidr::parse("192.0.2.7").unwrap();
    assert!(one.contains("192.0.2.7".parse().unwrap()));
    assert!(!one.contains("192.0.2.8".parse().unwrap()));
    assert!(
        Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap())
    );
    let v6 = Cidr::parse("fd00::/8").unwrap();
    assert!(v6.contains("fd12::1".parse().unwrap()));
    assert!(!v6.contains("fe80::1".parse().unwrap()));
    for bad in [
        "",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/+8",
        "10.0.0/8",
        "proxy",
        "10.0.0.0/",
    ] {
        assert_eq!(Cidr::parse(bad), None, "{bad}");
    }
}

#[test]
fn tls_counts_whoever_the_peer() {
    let policy = RequireHttps::new();
    assert_eq!(policy.check(&parts(None, &[], true)), Ok(()));
    assert_eq!(
        policy.check(&parts(Some("203.0.113.9:443"), &[], true)),
        Ok(())
    );
}

#[test]
fn plain_http_is_refused_unless_exempt() {
    let policy = RequireHttps::new();
    let ip = "203.0.113.9".parse().unwrap();
    assert_eq!(
        policy.check(&parts(Some("203.0.113.9:5000"), &[], false)),
        Err(Plain::Direct(ip))
    );
    assert_eq!(
        policy.check(&parts(None, &[], false)),
        Err(Plain::UnknownPeer)
    );
    let local = parts(Some("127.0.0.1:5000"), &[], false);
    assert!(
        policy.check(&local).is_err(),
        "loopback not exempt by default"
    );
    let exempt = RequireHttps::new().exempt_loopback(true);
    assert_eq!(exempt.check(&local), Ok(()));
    assert_eq!(exempt.check(&parts(Some("[::1]:5000"), &[], false)), Ok(()));
    assert!(
        exempt
            .check(&parts(Some("10.0.0.1:5000"), &[], false))
            .is_err()
    );
}

#[test]
fn forwarding_headers_count_only_from_trusted_proxies() {
    let policy = RequireHttps::new().trust_proxy("10.0.0.0/8");
    let https = [("x-forwarded-proto", "https")];
    assert_eq!(
        policy.check(&parts(Some("10.9.8.7:1"), &https, false)),
        Ok(())
    );
    // IPv4-mapped IPv6 peers are the same addresses.
    assert_eq!(
        policy.check(&parts(Some("[::ffff:10.9.8.7]:1"), &https, false)),
        Ok(())
    );
    // Forged by anyone else: ignored.
    assert!(
        policy
            .check(&parts(Some("203.0.113.9:1"), &https, false))
            .is_err()
    );
    let trusted = Some("10.0.0.1:1");
    for (headers, admitted) in [
        (&[("forwarded", "for=192.0.2.1;proto=https")][..], true),
        (&[("forwarded", "for=192.0.2.1;Proto=\"HTTPS\"")][..], true),
        // Every proxy on the way must say HTTPS: behind a chain, an earlier hop in clear (a CDN
        // reached over plain HTTP, in front of a load balancer reached over HTTPS) exposed the
        // key, whatever the nearest proxy saw.
        (&[("forwarded", "proto=https, proto=http")][..], false),
        (&[("forwarded", "proto=http, proto=https")][..], false),
        (
            &[(
                "forwarded",
                "for=203.0.113.9;proto=http, for=198.51.100.4;proto=https",
            )][..],
            false,
        ),
        (
            &[(
                "forwarded",
                "for=203.0.113.9;proto=https, for=198.51.100.4;proto=https",
            )][..],
            true,
        ),
        // An earlier element that names no protocol claims nothing; the last one must say
        // HTTPS, and an element naming the protocol twice does not.
        (
            &[("forwarded", "for=1.2.3.4"), ("forwarded", "proto=https")][..],
            true,
        ),
        (&[("forwarded", "proto=https, for=1.2.3.4")][..], false),
        (
            &[("forwarded", "for=1.2.3.4, proto=http, proto=https")][..],
            false,
        ),
        (&[("forwarded", "proto=https;proto=http")][..], false),
        (&[("forwarded", "proto=https;proto=https")][..], false),
        // Separators inside quoted strings separate nothing.
        (
            &[("forwarded", r#"proto=http;host="a, proto=https""#)][..],
            false,
        ),
        (
            &[("forwarded", r#"host="x;proto=https";proto=http"#)][..],
            false,
        ),
        (
            &[("forwarded", r#"host="x\";proto=http";proto=https"#)][..],
            true,
        ),
        (
            &[("forwarded", r#"for="[2001:db8::1]:443";proto=https"#)][..],
            true,
        ),
        (&[("x-forwarded-proto", "http")][..], false),
        (&[("x-forwarded-proto", "https, http")][..], false),
        (&[("x-forwarded-proto", "http, https")][..], false),
        (&[("x-forwarded-proto", "https, https")][..], true),
        (
            &[("x-forwarded-proto", "https"), ("forwarded", "proto=http")][..],
            false,
        ),
        (
            &[("x-forwarded-proto", "https"), ("forwarded", "proto=https")][..],
            true,
        ),
        // Several lines are one list.
        (
            &[("forwarded", "proto=https"), ("forwarded", "proto=http")][..],
            false,
        ),
        (
            &[
                ("x-forwarded-proto", "http"),
                ("x-forwarded-proto", "https"),
            ][..],
            false,
        ),
        (
            &[
                ("forwarded", "proto=https"),
                ("forwarded", "for=10.0.0.2;proto=https"),
            ][..],
            true,
        ),
        (&[("x-forwarded-proto", "https,")][..], false),
        // A value that is not text names no protocol.
        (
            &[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-proto", "htt\u{e9}s"),
            ][..],
            false,
        ),
        // Agreement ignores case and quotes; a `Forwarded` without `proto` does not agree.
        (
            &[
                ("x-forwarded-proto", "HTTPS"),
                ("forwarded", "proto=\"https\""),
            ][..],
            true,
        ),
        (
            &[("forwarded", "for=1.2.3.4"), ("x-forwarded-proto", "https")][..],
            false,
        ),
        (&[][..], false),
    ] {
        assert_eq!(
            policy.check(&parts(trusted, headers, false)).is_ok(),
            admitted,
            "{headers:?}"
        );
    }
}

#[test]
fn bad_proxy_entries_are_kept_for_the_builder_to_refuse() {
    let policy = RequireHttps::new()
        .trust_proxy("10.0.0.0/8")
        .trust_proxy("proxy.local");
    assert_eq!(policy.invalid, ["proxy.local"]);
}
