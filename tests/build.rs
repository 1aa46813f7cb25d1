//! Turns the test servers named in the environment into `cfg`s, so a test that needs one is
//! marked `ignored` (with the variable to set) when it is not configured, instead of passing
//! while doing nothing:
//!
//! ```text
//! #[cfg_attr(not(keygate_postgres), ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL")]
//! #[cfg_attr(not(keygate_redis), ignore = "needs Redis: set KEYGATE_TEST_REDIS_URL")]
//! #[cfg_attr(not(keygate_browser), ignore = "needs Chromium: set KEYGATE_TEST_CHROMEDRIVER=/usr/bin/chromedriver")]
//! ```
//!
//! With `KEYGATE_TEST_REQUIRE_SERVICES=1` (as CI runs) every cfg is set whatever the variables
//! say: every test runs, and one whose server is missing fails.

/// Each server: the variable naming it and the cfg set when it is named.
const SERVERS: [(&str, &str); 3] = [
    ("KEYGATE_TEST_POSTGRES_URL", "keygate_postgres"),
    ("KEYGATE_TEST_REDIS_URL", "keygate_redis"),
    ("KEYGATE_TEST_CHROMEDRIVER", "keygate_browser"),
];
const REQUIRE: &str = "KEYGATE_TEST_REQUIRE_SERVICES";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed={REQUIRE}");
    let required = std::env::var(REQUIRE).is_ok_and(|v| v == "1");
    for (variable, cfg) in SERVERS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={variable}");
        let named = std::env::var_os(variable).is_some_and(|v| !v.is_empty());
        if named || required {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
