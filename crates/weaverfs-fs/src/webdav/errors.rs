//! Errors of the core as HTTP answers. dav-server only knows a few coarse kinds (its answer
//! to any of ours would be a bare 500), so the adapter keeps the first error of a request
//! here and the gateway answers with its status and its one-line reason.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use dav_server::fs::FsError as DavError;

use crate::error::FsError;

/// The first error the core gave while one request was handled.
#[derive(Clone, Default)]
pub struct Why(Arc<Mutex<Option<FsError>>>);

impl Why {
    /// Keeps `e` (unless an earlier error is kept) and gives dav-server its kind.
    pub fn record(&self, e: FsError) -> DavError {
        let kind = dav_kind(&e);
        match &e {
            FsError::NotFound(_) | FsError::NotDir | FsError::IsDir => tracing::debug!("{e}"),
            _ => tracing::warn!("webdav: {e}"),
        }
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        kind
    }

    pub fn take(&self) -> Option<FsError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

fn dav_kind(e: &FsError) -> DavError {
    match e {
        FsError::NotFound(_) | FsError::NotDir => DavError::NotFound,
        FsError::IsDir => DavError::Forbidden,
        _ => DavError::GeneralFailure,
    }
}

/// The status of an answer that failed with `e`: the origin's failures are a bad gateway
/// (504 when it did not answer in time), whatever the client asked.
pub fn status_of(e: &FsError) -> StatusCode {
    match e {
        FsError::NotFound(_) | FsError::NotDir => StatusCode::NOT_FOUND,
        FsError::IsDir => StatusCode::METHOD_NOT_ALLOWED,
        FsError::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
        // The origin refused the gateway's own credentials: not the client's doing.
        FsError::Denied(_) => StatusCode::BAD_GATEWAY,
        FsError::Stale(_) | FsError::Io(_) | FsError::Unavailable(..) | FsError::BadHandle => {
            StatusCode::BAD_GATEWAY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_is_kept_and_origin_failures_are_gateway_errors() {
        let why = Why::default();
        assert_eq!(
            why.record(FsError::TimedOut("slow".into())),
            DavError::GeneralFailure
        );
        assert_eq!(
            why.record(FsError::NotFound("x".into())),
            DavError::NotFound
        );
        let kept = why.take().unwrap();
        assert_eq!(status_of(&kept), StatusCode::GATEWAY_TIMEOUT);
        assert!(why.take().is_none());
        assert_eq!(
            status_of(&FsError::Denied("401".into())),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status_of(&FsError::Stale("etag".into())),
            StatusCode::BAD_GATEWAY
        );
    }
}
