//! `Range: bytes=...` evaluation, following nginx's static module.
//!
//! Only single ranges are honoured; a multi-range request gets the whole
//! body (nginx would answer `multipart/byteranges`, which clients of this
//! server never ask for). A syntactically broken range set is answered
//! with 416, as nginx does, rather than ignored.

/// What to send for a GET/HEAD given its `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeOutcome {
    /// 200 with the whole representation.
    Full,
    /// 206 with bytes `start..=end` (inclusive, as in `Content-Range`).
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Evaluates a `Range` header value against a representation of `size` bytes.
pub(crate) fn evaluate(header: &str, size: u64) -> RangeOutcome {
    let header = header.trim();
    let Some(unit) = header.get(..6) else {
        return RangeOutcome::Full;
    };
    // Unknown range units are ignored (RFC 9110 §14.2), not rejected.
    if !unit.eq_ignore_ascii_case("bytes=") {
        return RangeOutcome::Full;
    }
    let set = &header[6..];
    if set.contains(',') {
        return RangeOutcome::Full;
    }
    match parse_spec(set.trim()) {
        Some(spec) => resolve(spec, size),
        None => RangeOutcome::Unsatisfiable,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `a-b` or `a-` (end `None`).
    From { start: u64, end: Option<u64> },
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return Some(Spec::Suffix(number(last)?));
    }
    let start = number(first)?;
    let end = if last.is_empty() {
        None
    } else {
        Some(number(last)?)
    };
    Some(Spec::From { start, end })
}

/// A non-empty run of ASCII digits that fits in u64 (signs and overflow are
/// malformed, which `str::parse` alone would partly accept).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn resolve(spec: Spec, size: u64) -> RangeOutcome {
    if size == 0 {
        return RangeOutcome::Unsatisfiable;
    }
    match spec {
        Spec::Suffix(0) => RangeOutcome::Unsatisfiable,
        // A suffix longer than the file means the whole file, still as 206.
        Spec::Suffix(n) => RangeOutcome::Partial {
            start: size.saturating_sub(n),
            end: size - 1,
        },
        Spec::From { start, end } => {
            let end = end.unwrap_or(u64::MAX);
            if start >= size || end < start {
                RangeOutcome::Unsatisfiable
            } else {
                RangeOutcome::Partial {
                    start,
                    end: end.min(size - 1),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RangeOutcome::{Full, Partial, Unsatisfiable};
    use super::*;

    fn p(start: u64, end: u64) -> RangeOutcome {
        Partial { start, end }
    }

    #[test]
    fn closed_open_and_suffix_forms() {
        assert_eq!(evaluate("bytes=0-99", 1000), p(0, 99));
        assert_eq!(evaluate("bytes=10-10", 1000), p(10, 10));
        assert_eq!(evaluate("bytes=500-", 1000), p(500, 999));
        assert_eq!(evaluate("bytes=-100", 1000), p(900, 999));
        assert_eq!(evaluate("Bytes= 5 - 6 ", 1000), p(5, 6));
    }

    #[test]
    fn end_past_size_is_clamped() {
        assert_eq!(evaluate("bytes=900-5000", 1000), p(900, 999));
        assert_eq!(evaluate("bytes=0-18446744073709551615", 10), p(0, 9));
    }

    #[test]
    fn suffix_larger_than_file_is_whole_file() {
        assert_eq!(evaluate("bytes=-5000", 1000), p(0, 999));
    }

    #[test]
    fn start_beyond_end_is_unsatisfiable() {
        assert_eq!(evaluate("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(evaluate("bytes=2000-3000", 1000), Unsatisfiable);
        assert_eq!(evaluate("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(evaluate("bytes=0-", 0), Unsatisfiable);
        assert_eq!(evaluate("bytes=-1", 0), Unsatisfiable);
    }

    #[test]
    fn malformed_specs_are_unsatisfiable() {
        for bad in [
            "bytes=",
            "bytes=-",
            "bytes=abc",
            "bytes=5",
            "bytes=9-3",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=1-x",
            "bytes=99999999999999999999-",
        ] {
            assert_eq!(evaluate(bad, 1000), Unsatisfiable, "{bad}");
        }
    }

    #[test]
    fn other_units_and_multiple_ranges_get_the_whole_body() {
        assert_eq!(evaluate("items=0-5", 1000), Full);
        assert_eq!(evaluate("byt", 1000), Full);
        assert_eq!(evaluate("bytes=0-1,5-6", 1000), Full);
    }
}
