//! The maximum key lifetime through the command line.

use time::{Duration, OffsetDateTime};

use crate::support::{keygate_at, stderr, stdout};
use crate::{json, listed, run};

/// The maximum lifetime, from `--max-lifetime` and from `KEYGATE_MAX_KEY_LIFETIME`.
pub(crate) fn lifetime_scenario(url: &str) {
    let init = run(url, &["init", "--prefix", "demo"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let count = || listed(url, &["keys", "list", "--all", "--json"]).len();
    let created = run(
        url,
        &[
            "--max-lifetime",
            "90d",
            "keys",
            "create",
            "--name",
            "capped",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let id = stdout(&created)
        .lines()
        .next()
        .unwrap()
        .split('_')
        .nth(1)
        .unwrap()
        .to_owned();
    let shown = json(&run(url, &["keys", "show", &id, "--json"]));
    let at = |field: &str| {
        OffsetDateTime::parse(
            shown[field].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let lifetime = at("expires_at") - at("created_at");
    assert!(
        (lifetime - Duration::days(90)).abs() <= Duration::seconds(1),
        "{lifetime}"
    );

    let before = count();
    let policy = [("KEYGATE_MAX_KEY_LIFETIME", "90d")];
    let long = keygate_at(
        url,
        &["keys", "create", "--name", "long", "--expires-in", "400d"],
        &policy,
    );
    assert_eq!(long.status.code(), Some(1));
    let err = stderr(&long);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("a lifetime of 400d") && err.contains("maximum key lifetime of 90d"),
        "{err}"
    );
    assert_eq!(count(), before, "nothing written");

    let cleared = keygate_at(url, &["keys", "set-expiry", &id, "none"], &policy);
    assert_eq!(cleared.status.code(), Some(1));
    assert!(
        stderr(&cleared).contains("must expire"),
        "{}",
        stderr(&cleared)
    );
    let shown_again = json(&run(url, &["keys", "show", &id, "--json"]));
    assert_eq!(
        shown_again["expires_at"], shown["expires_at"],
        "the expiry is kept"
    );

    let bad = run(url, &["--max-lifetime", "soon", "keys", "list"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("--max-lifetime: invalid duration"),
        "{}",
        stderr(&bad)
    );
}
