//! Timestamps as Weaver prints them (Python `isoformat()` in UTC).
//!
//! Times are kept as microseconds since the Unix epoch so that job documents
//! (ISO-8601) and the file host (`Last-Modified`, ETag mtime) agree exactly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
pub(crate) type Micros = i64;

const MICROS_PER_SEC: i64 = 1_000_000;

/// Builds a UTC timestamp from calendar fields.
pub(crate) const fn utc(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> Micros {
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + (h as i64) * 3600 + (mi as i64) * 60 + s as i64;
    secs * MICROS_PER_SEC + us as i64
}

pub(crate) fn now() -> Micros {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_micros() as Micros
}

pub(crate) fn secs(t: Micros) -> i64 {
    t.div_euclid(MICROS_PER_SEC)
}

pub(crate) fn system_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

/// `2026-11-01T10:00:00+00:00`, or with `.123000` when there are
/// microseconds, exactly like Python's `datetime.isoformat()`.
pub(crate) fn iso8601(t: Micros) -> String {
    let s = secs(t);
    let us = t.rem_euclid(MICROS_PER_SEC);
    let (y, mo, d) = civil_from_days(s.div_euclid(86_400));
    let sod = s.rem_euclid(86_400);
    let (h, mi, se) = (sod / 3600, sod % 3600 / 60, sod % 60);
    let frac = if us == 0 {
        String::new()
    } else {
        format!(".{us:06}")
    };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}{frac}+00:00")
}

/// `2026-11-01 10:00:00`, the form used inside Weaver log lines.
pub(crate) fn log_stamp(t: Micros) -> String {
    let iso = iso8601(t - t.rem_euclid(MICROS_PER_SEC));
    iso[..19].replacen('T', " ", 1)
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python_isoformat() {
        assert_eq!(
            iso8601(utc(2026, 11, 1, 10, 0, 0, 0)),
            "2026-11-01T10:00:00+00:00"
        );
        assert_eq!(
            iso8601(utc(2024, 2, 29, 23, 59, 59, 123_000)),
            "2024-02-29T23:59:59.123000+00:00"
        );
        assert_eq!(iso8601(0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn agrees_with_httpdate() {
        let t = utc(2026, 11, 1, 10, 0, 0, 0);
        let http = httpdate::fmt_http_date(system_time(secs(t)));
        assert_eq!(http, "Sun, 01 Nov 2026 10:00:00 GMT");
    }

    #[test]
    fn log_stamp_drops_fraction() {
        let t = utc(2026, 11, 2, 8, 0, 5, 512_000);
        assert_eq!(log_stamp(t), "2026-11-02 08:00:05");
    }
}
