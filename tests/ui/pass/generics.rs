// A generic handler with a where clause; the state check is skipped, axum checks the bound.
use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
    greeting: String,
}

trait Greeting {
    fn greeting(&self) -> String;
}

impl Greeting for AppState {
    fn greeting(&self) -> String {
        self.greeting.clone()
    }
}

#[require_api_key(scopes = "greet")]
async fn greet<S>(State(state): State<S>) -> String
where
    S: Greeting + Clone + Send + Sync + 'static,
    KeyGate: FromRef<S>,
{
    state.greeting()
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/greet", get(greet::<AppState>))
        .with_state(state)
}

fn main() {
    let _ = app;
}
