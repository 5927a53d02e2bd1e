//! The results, status, listing and directory index parsers against any input: the fuzzing
//! corpus replayed (so CI checks it without nightly Rust), and structured random JSON.

#[path = "../fuzz/check.rs"]
mod check;

use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Every file of `fuzz/corpus/<target>/` through its check; the count, so an empty or missing
/// corpus fails.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{path:?} fails the {target} check");
        n += 1;
    }
    n
}

#[test]
fn corpus_replays_without_failures() {
    for (target, run) in [
        ("results", check::results as fn(&[u8])),
        ("status", check::status),
        ("listing", check::listing),
        ("dir_index", check::dir_index),
    ] {
        assert!(replay(target, run) >= 4, "too small a corpus for {target}");
    }
}

/// A byte-level fuzz loop that needs no nightly: corpus files mutated (bytes flipped, inserted,
/// deleted, spliced with JSON tokens) and run through their check. `PARSER_FUZZ_ITERS` runs it
/// longer (default 2,000 per target); repeatable, from a fixed seed.
#[test]
fn mutated_corpus_never_fails_a_check() {
    let iters: usize = std::env::var("PARSER_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    const TOKENS: [&[u8]; 12] = [
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b",",
        b":",
        b"\"href\"",
        b"\"value\"",
        b"\"outputs\"",
        b"\"%FF/../\\u0000\"",
        b"1e999",
    ];
    let mut seed = 0x5eed_u64;
    let mut rand = move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    for (target, run) in [
        ("results", check::results as fn(&[u8])),
        ("status", check::status),
        ("listing", check::listing),
        ("dir_index", check::dir_index),
    ] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        for _ in 0..iters {
            let mut data = seeds[rand(seeds.len())].clone();
            for _ in 0..1 + rand(8) {
                let at = rand(data.len() + 1);
                match rand(4) {
                    0 if at < data.len() => data[at] ^= 1 << rand(8),
                    1 if at < data.len() => {
                        data.drain(at..(at + rand(16)).min(data.len()));
                    }
                    2 => {
                        let token = TOKENS[rand(TOKENS.len())];
                        data.splice(at..at, token.iter().copied());
                    }
                    _ => data.insert(at, rand(256) as u8),
                }
            }
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(
                result.is_ok(),
                "{target} check fails on {:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }
}

/// Names and strings servers might send: hostile ones more often than chance would.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just(".job".to_string()),
        Just("outputs".to_string()),
        Just("links".to_string()),
        Just("href".to_string()),
        Just("value".to_string()),
        "[a./_\\x00\\x01\\n%é]{0,6}",
        "[a-z]{250,300}(\\.json)?",
        ".{0,20}",
    ]
}

/// Any JSON value, leaning to the keys and shapes the results parser looks at.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(1e308)),
        hostile_string().prop_map(Value::from),
        Just(json!("https://h/wpsoutputs/j/o/f.nc")),
        Just(json!("https://h/wpsoutputs/j/dir/")),
        Just(json!("https://h/j/%FF%2F..%00.txt")),
        Just(json!("base64")),
        Just(json!("application/directory")),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((hostile_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any JSON as results or outputs: no panic, and only safe, unique names.
    #[test]
    fn any_json_results_give_safe_names(doc in json_value()) {
        check::results(doc.to_string().as_bytes());
    }

    /// Any JSON wrapped like `/outputs` or the OLD list form.
    #[test]
    fn any_wrapped_outputs_give_safe_names(inner in json_value(), ids in prop::collection::vec(hostile_string(), 0..6)) {
        check::results(json!({"outputs": inner, "links": []}).to_string().as_bytes());
        let list: Vec<Value> = ids.iter().map(|id| json!({"id": id, "href": format!("https://h/{id}")})).collect();
        check::results(json!({"outputs": list}).to_string().as_bytes());
    }

    /// Any listing page: no panic, root names safe and unique.
    #[test]
    fn any_listing_gives_safe_names(jobs in prop::collection::vec(json_value(), 0..8), total in json_value(), links in json_value()) {
        check::listing(json!({"jobs": jobs, "total": total, "links": links}).to_string().as_bytes());
        let ids: Vec<Value> = jobs.iter().map(|j| json!(j.to_string())).collect();
        check::listing(json!({"jobs": ids}).to_string().as_bytes());
    }

    /// Any status document.
    #[test]
    fn any_status_parses_or_errs(doc in json_value(), id in hostile_string(), status in hostile_string()) {
        check::status(doc.to_string().as_bytes());
        check::status(json!({"jobID": id, "status": status, "finished": doc}).to_string().as_bytes());
    }

    /// Any index page of links.
    #[test]
    fn any_index_gives_safe_names(links in prop::collection::vec(hostile_string(), 0..10)) {
        let html: String = links.iter().map(|l| format!("<a href=\"{l}\">x</a>\n")).collect();
        check::dir_index(html.as_bytes());
        check::dir_index(json!(links).to_string().as_bytes());
    }

    /// Raw bytes, JSON-ish or not, through every parser.
    #[test]
    fn any_bytes_through_every_parser(data in prop::collection::vec(any::<u8>(), 0..512)) {
        check::results(&data);
        check::status(&data);
        check::listing(&data);
        check::dir_index(&data);
    }
}
