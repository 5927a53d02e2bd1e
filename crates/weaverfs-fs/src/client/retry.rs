//! When and how long to wait before trying a request again.
//!
//! Only idempotent reads (GET, HEAD) go through here, each attempt whole: a range read is one
//! attempt including its body and the checks of its Content-Range and length. Transient
//! failures ([`FsError::is_transient`]: network errors, timeouts, 429 and 5xx, truncated or
//! mislabelled bodies) are retried with exponential backoff and full jitter, waiting at least
//! what `Retry-After` asks (capped); everything else (404, 403, a file that changed) is final.
//! The attempts together never take longer than `max_time`.

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{FsError, Result};

/// The retry policy of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Bound on all attempts and waits of one request together.
    pub max_time: Duration,
    /// The first backoff ceiling; it doubles at each retry.
    pub base_delay: Duration,
    /// The largest backoff ceiling, and the largest `Retry-After` honoured.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 4,
            max_time: Duration::from_secs(30),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails for good, or the retries or the time run out.
    /// `what` names the request in logs and in the error of a request that ran out of time.
    pub async fn run<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run_counted(what, attempt, || {}).await
    }

    /// [`RetryPolicy::run`], calling `on_retry` before each retry (for the mount's stats).
    pub async fn run_counted<T, F, Fut>(
        &self,
        what: &str,
        mut attempt: F,
        on_retry: impl Fn(),
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let start = Instant::now();
        let deadline = start + self.max_time;
        let mut retry = 0u32;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let error = match tokio::time::timeout(left, attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => e,
                Err(_) => {
                    return Err(FsError::TimedOut(format!(
                        "{what}: no answer within {:?} ({retry} retries)",
                        self.max_time
                    )))
                }
            };
            if !error.is_transient() || retry >= self.retries {
                return Err(error);
            }
            let wait = self.delay(retry, retry_after_of(&error));
            if Instant::now() + wait >= deadline {
                tracing::debug!("{what}: no time left for another try after {wait:?}");
                return Err(error);
            }
            retry += 1;
            on_retry();
            tracing::info!("{what}: {error}; retry {retry} in {wait:?}");
            tokio::time::sleep(wait).await;
        }
    }

    /// The wait before retry number `retry + 1`: full jitter over an exponential ceiling, but
    /// at least the server's `Retry-After` (capped at `max_delay`).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let jittered = ceiling.mul_f64(random_fraction());
        let asked = retry_after.unwrap_or_default().min(self.max_delay);
        jittered.max(asked)
    }
}

fn retry_after_of(e: &FsError) -> Option<Duration> {
    match e {
        FsError::Unavailable(_, after) => *after,
        _ => None,
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// A number in [0, 1): jitter needs no quality, only to differ between callers.
fn random_fraction() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let bits = std::collections::hash_map::RandomState::new().hash_one(n);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn quick(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            max_time: Duration::from_secs(5),
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
        }
    }

    #[test]
    fn delays_grow_and_stay_capped() {
        let p = RetryPolicy::default();
        for retry in 0..40 {
            let ceiling = (p.base_delay * 2u32.saturating_pow(retry)).min(p.max_delay);
            for _ in 0..20 {
                assert!(p.delay(retry, None) <= ceiling);
            }
        }
        // Full jitter: waits spread over the whole range, not just near the ceiling.
        let waits: Vec<Duration> = (0..200).map(|_| p.delay(3, None)).collect();
        assert!(waits.iter().any(|w| *w < Duration::from_millis(400)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(1200)));
    }

    #[test]
    fn retry_after_is_a_floor_within_the_cap() {
        let p = RetryPolicy::default();
        assert!(p.delay(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        assert_eq!(p.delay(0, Some(Duration::from_secs(3600))), p.max_delay);
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let r = quick(4)
            .run("test", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(FsError::unavailable("reset")),
                    1 => Err(FsError::TimedOut("slow".into())),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn retries_are_bounded_in_count() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = quick(2)
            .run("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(FsError::unavailable("503"))
            })
            .await;
        assert!(matches!(r, Err(FsError::Unavailable(..))));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn final_errors_are_not_retried() {
        for e in [
            FsError::NotFound("404".into()),
            FsError::Stale("new etag".into()),
            FsError::Denied("403".into()),
            FsError::Io("400".into()),
        ] {
            let calls = AtomicU32::new(0);
            let r: Result<()> = quick(4)
                .run("test", || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let e = e.clone();
                    async move { Err(e) }
                })
                .await;
            assert_eq!(r.unwrap_err().errno(), e.errno());
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{e}");
        }
    }

    #[tokio::test]
    async fn total_time_is_bounded() {
        let p = RetryPolicy {
            retries: 100,
            max_time: Duration::from_millis(300),
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(10),
        };
        let start = Instant::now();
        // An attempt that hangs is cut at the deadline.
        let r: Result<()> = p.run("test", std::future::pending).await;
        assert!(matches!(r, Err(FsError::TimedOut(_))));
        // A Retry-After beyond the deadline ends the retries at once.
        let r: Result<()> = p
            .run("test", || async {
                Err(FsError::Unavailable(
                    "429".into(),
                    Some(Duration::from_secs(60)),
                ))
            })
            .await;
        assert!(matches!(r, Err(FsError::Unavailable(..))));
        assert!(start.elapsed() < Duration::from_millis(900));
    }
}
