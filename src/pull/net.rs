//! How the agent tells a link that dropped (wait and try again) from an
//! answer that stands (a refused token, a program gone).

use serde_json::Value;

/// A failure worth waiting out: the link dropped, the hub was busy or down.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transient(pub String);

/// The hub refused the token (401): revoked, or never one.
#[derive(Debug, thiserror::Error)]
#[error("the hub refused the token")]
pub struct TokenRefused;

/// Asked to stop.
#[derive(Debug, thiserror::Error)]
#[error("stopped")]
pub struct Stopped;

/// An answer that stands: not found, gone, not allowed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: the hub answered {status} {detail}")]
pub struct HubSaid {
    pub what: String,
    pub status: u16,
    pub detail: String,
}

/// `r` if it succeeded; otherwise what its status means to the agent.
pub async fn check(r: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    let status = r.status();
    if status.is_success() {
        return Ok(r);
    }
    match status.as_u16() {
        401 => Err(TokenRefused.into()),
        408 | 425 | 429 | 500..=599 => Err(Transient(format!("{what}: the hub answered {status}")).into()),
        code => {
            let problem: Value = r.json().await.unwrap_or_default();
            Err(HubSaid {
                what: what.to_owned(),
                status: code,
                detail: problem["detail"].as_str().unwrap_or("").to_owned(),
            }
            .into())
        }
    }
}

/// Whether waiting may cure `e`: a network error (refused, reset, timed
/// out, cut mid-body) or a busy or failing hub.
pub fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<Transient>()
            || c.downcast_ref::<reqwest::Error>()
                .is_some_and(|e| !e.is_builder() && !e.is_redirect())
    })
}

/// A short reason, for one line: the innermost cause.
pub fn short(e: &anyhow::Error) -> String {
    if let Some(t) = e.downcast_ref::<Transient>() {
        return t.0.clone();
    }
    let root = e.root_cause().to_string();
    let root = root.trim();
    if root.is_empty() {
        e.to_string()
    } else {
        root.to_owned()
    }
}
