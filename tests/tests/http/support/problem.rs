//! Reading rejections: RFC 9457 problem+json bodies and `WWW-Authenticate` challenges.

use reqwest::StatusCode;
use serde_json::Value;

/// The `WWW-Authenticate` challenges of `response`, in order.
pub fn challenges(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Reads a rejection, asserting what every rejection must carry, and that it does not echo
/// `presented`.
pub async fn problem(response: reqwest::Response, status: StatusCode, presented: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(
            challenges(&response),
            [
                r#"ApiKey realm="api", header="x-api-key""#,
                r#"Bearer realm="api""#
            ]
        );
    }
    let body = response.text().await.unwrap();
    if !presented.is_empty() {
        assert!(!body.contains(presented), "the key was echoed: {body}");
    }
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], status.as_u16());
    for field in ["type", "title", "detail", "code"] {
        assert!(problem[field].is_string(), "{field} missing in {problem}");
    }
    problem
}
