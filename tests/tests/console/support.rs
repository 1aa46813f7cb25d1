//! A console nested at `/admin/console` on a gate of its own, and a browser-like client that
//! keeps cookies the way a browser does (by name, dropped at `Max-Age=0`).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use keygate::admin::console::Console as ConsoleRoutes;
use keygate::record::{KeyFilter, KeyRecord};
use keygate::scope::DeclaredScope;
use keygate::{KeyGate, MemoryStore, NewKey};
use tower::ServiceExt;

pub static SCOPES: &[DeclaredScope] = keygate::declared_scopes!();

pub const BASE: &str = "/admin/console";
pub const COOKIE: &str = "keygate_console";

/// One answer: status, headers and the page.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Every `Set-Cookie` line.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of the hidden field `name` in the page.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

/// The console and its gate, with a cookie jar.
pub struct Console {
    pub gate: KeyGate,
    app: Router,
    pub cookies: BTreeMap<String, String>,
}

impl Console {
    pub fn new() -> Console {
        Console::with(ConsoleRoutes::new("admin"))
    }

    pub fn with(routes: ConsoleRoutes) -> Console {
        let gate = KeyGate::builder()
            .prefix("demo")
            .store(MemoryStore::new())
            .declared_scopes(SCOPES)
            .build();
        Console::on(gate, routes)
    }

    pub fn on(gate: KeyGate, routes: ConsoleRoutes) -> Console {
        let app = Router::new()
            .nest(BASE, routes.router())
            .with_state(gate.clone());
        Console {
            gate,
            app,
            cookies: BTreeMap::new(),
        }
    }

    /// A key of `owner` with `scopes`; its text.
    pub async fn key(&self, name: &str, scopes: &[&str]) -> String {
        let created = self
            .gate
            .create_key(
                NewKey::new(name)
                    .owner("ops")
                    .scopes(scopes.iter().copied()),
            )
            .await
            .unwrap();
        created.key.expose().to_owned()
    }

    pub async fn send(&mut self, request: Request<Body>) -> Reply {
        let mut request = request;
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request
                .headers_mut()
                .insert(header::COOKIE, jar.join("; ").parse().unwrap());
        }
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let reply = Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        };
        for line in reply.set_cookies() {
            let (pair, attributes) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let request = Request::get(format!("{BASE}{path}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect();
        let request = Request::post(format!("{BASE}{path}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.join("&")))
            .unwrap();
        self.send(request).await
    }

    /// Signs in with `key` through the sign-in form, as a browser would.
    pub async fn sign_in(&mut self, key: &str) -> Reply {
        let form = self.get("/sign-in").await;
        let login = form.field("login");
        self.post("/sign-in", &[("key", key), ("login", &login)])
            .await
    }

    /// Signs in with a fresh `admin items:read` key; returns that key.
    pub async fn signed_in(&mut self) -> String {
        let key = self.key("console-user", &["admin", "items:read"]).await;
        let reply = self.sign_in(&key).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        key
    }

    /// The CSRF token the key list's forms carry.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.field("csrf")
    }

    pub async fn record(&self, key_id: &str) -> KeyRecord {
        self.gate.get_key(key_id).await.unwrap()
    }

    pub async fn all_keys(&self) -> Vec<KeyRecord> {
        self.gate.list_keys(&KeyFilter::default()).await.unwrap()
    }

    /// The session key the cookie holds.
    pub fn session_cookie(&self) -> String {
        self.cookies.get(COOKIE).cloned().expect("a session cookie")
    }
}

/// The key id of a key's text (`demo_<id>_<secret>`).
pub fn key_id(key: &str) -> String {
    key.split('_').nth(1).unwrap().to_owned()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn pause(time: Duration) {
    tokio::time::sleep(time).await;
}
