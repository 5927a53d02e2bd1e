//! The emulated link's timing and its command-line units, as pure functions (no I/O, no clock
//! of their own), so that the tests check the model rather than the machine's speed.

use std::time::{Duration, Instant};

/// The most bytes one read takes off a socket: small enough that the window is used to the
/// byte and the bottleneck interleaves connections finely, large enough to cost little CPU.
pub const CHUNK: usize = 256 * 1024;

/// The delay each way: half the round trip.
pub fn one_way(rtt: Duration) -> Duration {
    rtt / 2
}

/// When bytes read at `now` on a connection accepted at `accepted` start across the link: not
/// before the handshake's round trip (SYN, SYN-ACK) is over. The client's `connect` returned at
/// once on loopback, so its request waits here instead, and its first byte arrives at 1.5 RTT,
/// the answer's at 2 RTT, as on a real link.
pub fn send_at(now: Instant, accepted: Instant, rtt: Duration) -> Instant {
    now.max(accepted + rtt)
}

/// How many bytes to read next, given the window's room (at least 1: the sender waited for it).
pub fn next_read(room: usize) -> usize {
    room.clamp(1, CHUNK)
}

/// A bottleneck shared by all connections in one direction: a first-in first-out link of
/// `rate` bytes/s. A chunk starts across when the link is free and has left after its
/// serialization time; an idle link keeps no credit (a line rate, not a burst allowance).
#[derive(Debug)]
pub struct Bottleneck {
    secs_per_byte: f64,
    free_at: Option<Instant>,
}

impl Bottleneck {
    pub fn new(bytes_per_sec: u64) -> Self {
        assert!(bytes_per_sec > 0, "a bottleneck needs a rate");
        Self {
            secs_per_byte: 1.0 / bytes_per_sec as f64,
            free_at: None,
        }
    }

    /// Reserves the link for `len` bytes offered at `at`; returns when their last byte has left.
    pub fn reserve(&mut self, at: Instant, len: usize) -> Instant {
        let start = match self.free_at {
            Some(free) if free > at => free,
            _ => at,
        };
        let done = start + Duration::from_secs_f64(len as f64 * self.secs_per_byte);
        self.free_at = Some(done);
        done
    }
}

/// Until when a sender whose last chunk leaves the bottleneck at `leaves` holds back its next
/// one, so that the bottleneck's queue stays near `queue` (as TCP's congestion control keeps a
/// router's queue short) rather than growing to every connection's whole window.
pub fn pace_until(leaves: Instant, queue: Duration, now: Instant) -> Option<Instant> {
    leaves.checked_sub(queue).filter(|t| *t > now)
}

/// `4M`, `512K`, `1G`, `65536`: bytes, binary multiples.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("{text:?}: a size is a number with K, M or G")),
            };
            (&t[..i], mult)
        }
        _ => (t, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: a size is a number with K, M or G"))?;
    match n.checked_mul(mult) {
        Some(0) | None => Err(format!("{text:?}: a size must be above 0 and below 2^64")),
        Some(v) => Ok(v),
    }
}

/// `1gbit`, `500mbit`, `100kbit` (decimal bits per second, as links are sold), or `125MB`,
/// `10KB` (decimal bytes per second): the rate in bytes per second.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let err = || format!("{text:?}: a rate is like 1gbit, 500mbit or 125MB (bytes/s)");
    let units: [(&str, f64); 6] = [
        ("gbit", 1e9 / 8.0),
        ("mbit", 1e6 / 8.0),
        ("kbit", 1e3 / 8.0),
        ("gb", 1e9),
        ("mb", 1e6),
        ("kb", 1e3),
    ];
    let (number, per) = units
        .iter()
        .find_map(|(suffix, per)| lower.strip_suffix(suffix).map(|n| (n, *per)))
        .ok_or_else(err)?;
    let n: f64 = number.trim().parse().map_err(|_| err())?;
    let bytes = (n * per).round();
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{text:?}: a rate must be at least 1 byte/s"));
    }
    Ok(bytes as u64)
}

/// `127.0.0.1:9000=127.0.0.1:8080`: where to listen, and the origin it stands in front of.
pub fn parse_route(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((listen, upstream)) if !listen.is_empty() && !upstream.is_empty() => {
            Ok((listen.to_owned(), upstream.to_owned()))
        }
        _ => Err(format!(
            "{text:?}: a route is LISTEN=UPSTREAM, e.g. 127.0.0.1:9000=127.0.0.1:8080"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_new_connection_sends_nothing_before_one_round_trip() {
        let t0 = Instant::now();
        assert_eq!(send_at(t0, t0, ms(100)), t0 + ms(100));
        assert_eq!(send_at(t0 + ms(30), t0, ms(100)), t0 + ms(100));
        assert_eq!(send_at(t0 + ms(250), t0, ms(100)), t0 + ms(250));
        // With the one-way delay, the request arrives at 1.5 RTT and the answer at 2 RTT.
        let request_arrives = send_at(t0, t0, ms(100)) + one_way(ms(100));
        assert_eq!(request_arrives + one_way(ms(100)), t0 + ms(200));
    }

    #[test]
    fn reads_take_the_window_room_up_to_a_chunk() {
        assert_eq!(next_read(1), 1);
        assert_eq!(next_read(4096), 4096);
        assert_eq!(next_read(64 << 20), CHUNK);
    }

    #[test]
    fn the_bottleneck_serializes_chunks_at_its_rate() {
        let t0 = Instant::now();
        let mut link = Bottleneck::new(1_000_000); // 1 MB/s: 1000 bytes per ms
        assert_eq!(link.reserve(t0, 1000), t0 + ms(1));
        // Offered while the link is busy: it waits its turn, whichever connection it is from.
        assert_eq!(link.reserve(t0, 1000), t0 + ms(2));
        assert_eq!(link.reserve(t0 + ms(1), 3000), t0 + ms(5));
    }

    #[test]
    fn an_idle_bottleneck_keeps_no_credit() {
        let t0 = Instant::now();
        let mut link = Bottleneck::new(1_000_000);
        link.reserve(t0, 1000);
        // Idle for a second: the next chunk still takes its full serialization time.
        assert_eq!(link.reserve(t0 + ms(1000), 2000), t0 + ms(1002));
    }

    #[test]
    fn senders_wait_only_while_the_queue_is_longer_than_allowed() {
        let t0 = Instant::now();
        assert_eq!(pace_until(t0 + ms(5), ms(10), t0), None);
        assert_eq!(pace_until(t0 + ms(25), ms(10), t0), Some(t0 + ms(15)));
        assert_eq!(pace_until(t0 + ms(25), ms(10), t0 + ms(20)), None);
    }

    #[test]
    fn sizes_are_binary_multiples() {
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert!(parse_size("0").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn rates_are_decimal_bits_or_bytes_per_second() {
        assert_eq!(parse_rate("1gbit"), Ok(125_000_000));
        assert_eq!(parse_rate("1Gbit"), Ok(125_000_000));
        assert_eq!(parse_rate("500mbit"), Ok(62_500_000));
        assert_eq!(parse_rate("0.5gbit"), Ok(62_500_000));
        assert_eq!(parse_rate("125MB"), Ok(125_000_000));
        assert_eq!(parse_rate("8kbit"), Ok(1000));
        assert!(parse_rate("0mbit").is_err());
        assert!(parse_rate("1000").is_err());
        assert!(parse_rate("fastmbit").is_err());
    }

    #[test]
    fn routes_are_listen_equals_upstream() {
        assert_eq!(
            parse_route("127.0.0.1:0=127.0.0.1:8080"),
            Ok(("127.0.0.1:0".into(), "127.0.0.1:8080".into()))
        );
        assert!(parse_route("127.0.0.1:8080").is_err());
        assert!(parse_route("=127.0.0.1:8080").is_err());
    }
}
