//! The web console in a real browser: headless Chromium, driven over WebDriver, against the
//! example service as `cargo run` starts it. A screenshot of each page goes to
//! `target/console-screenshots/`.

mod example;
mod webdriver;

use std::path::PathBuf;

use serde_json::json;

use example::Example;
use webdriver::{Browser, Driver};

const CHROMEDRIVER: &str = "KEYGATE_TEST_CHROMEDRIVER";

/// Where chromedriver is: the variable, else Debian's place for it.
fn chromedriver() -> String {
    std::env::var(CHROMEDRIVER)
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| "/usr/bin/chromedriver".to_owned())
}

/// The Chromium binary, when it is where Debian puts it (else chromedriver looks for it).
fn chromium() -> Option<&'static str> {
    let debian = "/usr/bin/chromium";
    std::path::Path::new(debian).exists().then_some(debian)
}

struct Shots {
    dir: PathBuf,
    taken: usize,
}

impl Shots {
    async fn take(&mut self, browser: &Browser, name: &str) {
        self.taken += 1;
        let path = self.dir.join(format!("{:02}-{name}.png", self.taken));
        browser.screenshot(&path).await;
    }
}

#[tokio::test]
#[cfg_attr(
    not(keygate_browser),
    ignore = "needs Chromium: set KEYGATE_TEST_CHROMEDRIVER=/usr/bin/chromedriver"
)]
async fn a_person_signs_in_creates_uses_revokes_and_signs_out() {
    let driver = Driver::start(&chromedriver()).await;
    let target = example::target_dir();
    let service = Example::start(&target).await;
    let console = format!("{}/admin/console", service.base);
    let mut shots = Shots {
        dir: target.join("console-screenshots"),
        taken: 0,
    };
    std::fs::create_dir_all(&shots.dir).unwrap();
    let browser = Browser::open(&driver, chromium()).await;

    // Not signed in: the console sends the browser to its sign-in form.
    browser.goto(&console).await;
    assert_eq!(browser.url().await, format!("{console}/sign-in"));
    shots.take(&browser, "sign-in").await;
    browser.type_into("#key", &service.admin_key).await;
    browser.follow("form.stack button[type=submit]").await;
    assert_eq!(browser.url().await, console);
    assert!(browser.text("main").await.contains("demo-admin"));
    shots.take(&browser, "keys").await;

    // The cookie holds a session key, not the pasted one, and scripts cannot read it.
    let cookies = browser.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "keygate_console")
        .unwrap_or_else(|| panic!("no session cookie among {cookies:?}"))
        .clone();
    assert_ne!(session["value"], json!(service.admin_key));
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["secure"], true);
    assert_eq!(session["sameSite"], "Strict");
    assert_eq!(browser.execute("return document.cookie").await, "");

    // Create a key and read it from the page.
    browser.follow("header nav a[href$='/new']").await;
    browser.type_into("#name", "browser-ci").await;
    browser.click("input[name=scope][value='items:read']").await;
    browser.follow("form.stack button[type=submit]").await;
    let page = browser.text("main").await;
    assert!(page.contains("it will not be shown again"), "{page}");
    assert!(
        browser.displayed("button[data-copy]").await,
        "scripts on: a copy button"
    );
    let key = browser.property("#new-key", "value").await;
    let key = key.as_str().unwrap().to_owned();
    shots.take(&browser, "created").await;
    for _ in 0..5 {
        assert_eq!(service.items(&key).await.0, 200);
    }

    // Its page: the record, and the usage chart with the traffic just sent.
    browser.follow("main a[href*='/keys/']").await;
    let key_page = browser.url().await;
    assert!(browser.text("main").await.contains("browser-ci"));
    assert!(
        !browser.text("main").await.contains(&key),
        "shown once only"
    );
    assert!(browser.count("svg#usage-chart rect.admitted").await >= 1);
    shots.take(&browser, "key").await;

    // Revoke it from the page, after the confirmation.
    browser.follow(".actions a[href$='/revoke']").await;
    shots.take(&browser, "revoke").await;
    browser.type_into("#reason", "compromised").await;
    browser.follow("button.danger").await;
    assert_eq!(browser.url().await, key_page);
    let page = browser.text("main").await;
    assert!(
        page.contains("revoked") && page.contains("compromised"),
        "{page}"
    );
    assert_eq!(
        service.items(&key).await,
        (401, "revoked_api_key".to_owned())
    );

    // A form stripped of its CSRF token is refused, and the key it aimed at still works.
    browser.goto(&format!("{console}?owner=demo")).await;
    browser.follow("main a").await;
    browser.follow(".actions a[href$='/revoke']").await;
    browser.mark_page().await;
    browser
        .execute("document.querySelector('form.stack input[name=csrf]').remove(); document.querySelector('button.danger').click(); return null")
        .await;
    browser.wait_for_next_page().await;
    assert!(browser.text("main").await.contains("nothing was changed"));
    assert!(browser.text("h1").await.contains("Form refused"));
    assert_eq!(service.items(&service.read_key).await.0, 200);

    // Rotate the write key with an hour's grace: both keys work, the chain links them.
    let write_id = service.write_key.split('_').nth(1).unwrap().to_owned();
    browser
        .goto(&format!("{console}/keys/{write_id}/rotate"))
        .await;
    browser.type_into("#grace", "1h").await;
    browser.follow("form.stack button[type=submit]").await;
    assert!(
        browser
            .text("main")
            .await
            .contains("it will not be shown again")
    );
    let successor = browser.property("#new-key", "value").await;
    let successor = successor.as_str().unwrap().to_owned();
    assert_eq!(service.items(&successor).await.0, 200);
    assert_eq!(
        service.items(&service.write_key).await.0,
        200,
        "inside the grace"
    );
    browser.follow("main a[href*='/keys/']").await;
    let chain = browser.text("main").await;
    assert!(
        chain.contains(&write_id) && chain.contains("(this key)"),
        "{chain}"
    );

    browser.goto(&format!("{console}/audit")).await;
    shots.take(&browser, "audit").await;
    browser.resize(390, 844).await;
    browser.goto(&key_page).await;
    shots.take(&browser, "key-on-a-phone").await;
    browser.resize(1280, 1100).await;

    // Sign out: back to the form, and the old session cookie is refused.
    browser.goto(&console).await;
    browser.follow("header form button").await;
    assert_eq!(browser.url().await, format!("{console}/sign-in"));
    browser
        .add_cookie(json!({
            "name": "keygate_console", "value": session["value"], "path": "/admin/console",
            "httpOnly": true, "secure": true, "sameSite": "Strict",
        }))
        .await;
    browser.goto(&console).await;
    let page = browser.text("main").await;
    assert!(page.contains("revoked_api_key"), "{page}");
    let response = reqwest::Client::new()
        .get(&console)
        .header(
            "Cookie",
            format!("keygate_console={}", session["value"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(service.items(&service.read_key).await.0, 200);
    browser.quit().await;
}
