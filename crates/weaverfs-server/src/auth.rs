//! Optional protection of the built-in server, as Twitcher + Magpie protect Weaver in birdhouse
//! (dossier §7): requests need a bearer token, an HTTP Basic login, or the `auth_tkt` cookie
//! that `POST /magpie/signin` issues. Off by default.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};

use super::state::Shared;

/// Path of the Magpie sign-in endpoint.
pub(crate) const SIGNIN: &str = "/magpie/signin";
/// Magpie's default cookie name.
const COOKIE: &str = "auth_tkt";

/// What the server accepts; any one of the set fields lets a request in. All unset: no check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerAuth {
    /// `Authorization: Bearer <token>`.
    pub bearer: Option<String>,
    /// HTTP Basic `(user, password)`.
    pub basic: Option<(String, String)>,
    /// `(user, password)` that `/magpie/signin` accepts; its ticket then lets requests in.
    pub magpie: Option<(String, String)>,
}

impl ServerAuth {
    fn is_off(&self) -> bool {
        *self == ServerAuth::default()
    }
}

#[derive(Debug, Default)]
pub(crate) struct AuthState {
    required: Mutex<ServerAuth>,
    tickets: Mutex<HashSet<String>>,
    signins: AtomicU64,
}

impl AuthState {
    pub(crate) fn set(&self, required: ServerAuth) {
        *self.required.lock().unwrap_or_else(|e| e.into_inner()) = required;
    }

    fn required(&self) -> ServerAuth {
        self.required
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets every issued ticket, as when Magpie's tickets time out.
    pub(crate) fn expire_tickets(&self) {
        self.tickets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Successful sign-ins so far.
    pub(crate) fn signins(&self) -> u64 {
        self.signins.load(Ordering::SeqCst)
    }

    fn valid_ticket(&self, ticket: &str) -> bool {
        self.tickets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(ticket)
    }
}

fn ticket_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{COOKIE}=")))
        .map(str::to_string)
}

fn basic_of(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Lets a request in if it carries an accepted credential: else 401, or 403 for a ticket that
/// is unknown or expired (Twitcher then sees an anonymous user without permission).
pub(crate) async fn guard(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let required = shared.auth.required();
    if required.is_off() || req.uri().path() == SIGNIN {
        return next.run(req).await;
    }
    let headers = req.headers();
    let bearer_ok = required.bearer.as_ref().is_some_and(|t| {
        headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == format!("Bearer {t}").as_bytes())
    });
    let basic_ok = required.basic.is_some() && basic_of(headers) == required.basic;
    let ticket = ticket_of(headers);
    let ticket_ok = required.magpie.is_some()
        && ticket
            .as_deref()
            .is_some_and(|t| shared.auth.valid_ticket(t));
    if bearer_ok || basic_ok || ticket_ok {
        return next.run(req).await;
    }
    let (status, detail) = if ticket.is_some() {
        (StatusCode::FORBIDDEN, "Access to the service is forbidden.")
    } else {
        (StatusCode::UNAUTHORIZED, "Authentication required.")
    };
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"code": status.as_u16(), "detail": detail}).to_string(),
    )
        .into_response();
    if required.basic.is_some() {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"weaver\""),
        );
    }
    resp
}

/// `POST /magpie/signin` with JSON or form fields `user_name` and `password`.
pub(crate) async fn signin(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let field = |name: &str| -> Option<String> {
        if json_body {
            let v: Value = serde_json::from_slice(&body).ok()?;
            v.get(name)?.as_str().map(str::to_string)
        } else {
            url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        }
    };
    let given = field("user_name").zip(field("password"));
    let required = shared.auth.required().magpie;
    if required.is_none() || given != required {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"code": 401, "detail": "Incorrect credentials."}).to_string(),
        )
            .into_response();
    }
    let n = shared.auth.signins.fetch_add(1, Ordering::SeqCst) + 1;
    // Shaped like Magpie's tickets: quoted, with a userid type suffix.
    let ticket = format!(
        "\"{:016x}{n:08x}!userid_type:int\"",
        (u64::from(std::process::id()) * 0x9e37_79b9) ^ n
    );
    shared
        .auth
        .tickets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(ticket.clone());
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::SET_COOKIE,
                format!("{COOKIE}={ticket}; Path=/; HttpOnly"),
            ),
        ],
        json!({"code": 200, "detail": "Login successful."}).to_string(),
    )
        .into_response()
}
