//! A file's digest as the server gives it (`digestMultibase`: a multibase text of a multihash,
//! as Weaver ≥ 6.12 computes it), and the check of a file read whole against it.
//!
//! Blocks are hashed in order as readers get them; blocks that come ahead of the next one are
//! held (a few) until it comes. A reader that skips around never completes the hash: nothing is
//! checked then (only a file read whole can be).

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use sha2::{Digest as _, Sha256, Sha512};

/// Blocks held ahead of the next one to hash; past this the check is given up.
const MAX_AHEAD: usize = 64;

/// A digest the bytes of a file must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Sha256(Vec<u8>),
    Sha512(Vec<u8>),
}

impl Expected {
    /// Parses `digestMultibase`: any multibase text (`m` base64 as Weaver writes it, `u`, `z`,
    /// `f`, `b`, ...) of a sha2-256 or sha2-512 multihash; a bare 32-byte digest is sha2-256.
    pub fn parse(text: &str) -> Result<Expected, String> {
        let (_, bytes) =
            multibase::decode(text.trim()).map_err(|e| format!("not multibase ({e})"))?;
        match bytes.as_slice() {
            [0x12, 32, d @ ..] if d.len() == 32 => Ok(Expected::Sha256(d.to_vec())),
            [0x13, 64, d @ ..] if d.len() == 64 => Ok(Expected::Sha512(d.to_vec())),
            d if d.len() == 32 => Ok(Expected::Sha256(d.to_vec())),
            [code, ..] => Err(format!(
                "multihash code {code:#x} is not sha2-256 or sha2-512"
            )),
            [] => Err("empty digest".into()),
        }
    }

    /// Checks the bytes `r` gives (a whole file): Ok(None) when they match, Ok(Some(why))
    /// when not.
    pub fn check(&self, mut r: impl std::io::Read) -> Result<Option<String>, String> {
        let mut hasher = match self {
            Expected::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Expected::Sha512(_) => Hasher::Sha512(Sha512::new()),
        };
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let got = hasher.finish();
        let want = match self {
            Expected::Sha256(d) | Expected::Sha512(d) => d,
        };
        Ok((&got != want).then(|| {
            format!(
                "{} of the bytes is {}, the server's digest says {}",
                self.name(),
                hex(&got),
                hex(want)
            )
        }))
    }

    fn name(&self) -> &'static str {
        match self {
            Expected::Sha256(_) => "sha2-256",
            Expected::Sha512(_) => "sha2-512",
        }
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// The verdict once every block has been hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not every block seen yet (or the check was given up).
    Pending,
    Matched,
    /// The bytes are not the ones the server's digest names: the message says so.
    Mismatched(String),
}

struct State {
    hasher: Option<Hasher>,
    next: u64,
    ahead: BTreeMap<u64, Bytes>,
    done: Option<Verdict>,
}

/// The check of one file version against its digest.
pub struct Verifier {
    expected: Expected,
    blocks: u64,
    state: Mutex<State>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A check of a file of `blocks` blocks.
    pub fn new(expected: Expected, blocks: u64) -> Verifier {
        let hasher = match expected {
            Expected::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Expected::Sha512(_) => Hasher::Sha512(Sha512::new()),
        };
        Verifier {
            expected,
            blocks,
            state: Mutex::new(State {
                hasher: Some(hasher),
                next: 0,
                ahead: BTreeMap::new(),
                done: None,
            }),
        }
    }

    /// The digest the file must have.
    pub fn expected(&self) -> &Expected {
        &self.expected
    }

    /// Hashes block `index` (once; a block seen again is ignored) and tells the verdict when
    /// this block completes the file. A verdict is given once: later calls are `Pending`.
    pub fn feed(&self, index: u64, block: &Bytes) -> Verdict {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.done.is_some() || index < st.next {
            return Verdict::Pending;
        }
        if index > st.next {
            if st.ahead.len() >= MAX_AHEAD {
                // Read out of order: this reading cannot check the file.
                st.done = Some(Verdict::Pending);
                st.ahead.clear();
            } else {
                st.ahead.insert(index, block.clone());
            }
            return Verdict::Pending;
        }
        let mut current = Some(block.clone());
        while let Some(b) = current {
            if let Some(h) = st.hasher.as_mut() {
                h.update(&b);
            }
            st.next += 1;
            let next = st.next;
            current = st.ahead.remove(&next);
        }
        if st.next < self.blocks {
            return Verdict::Pending;
        }
        let got = st.hasher.take().map(Hasher::finish).unwrap_or_default();
        let want = match &self.expected {
            Expected::Sha256(d) | Expected::Sha512(d) => d,
        };
        let verdict = if &got == want {
            Verdict::Matched
        } else {
            Verdict::Mismatched(format!(
                "{} of the bytes is {}, the server's digest says {}",
                self.expected.name(),
                hex(&got),
                hex(want)
            ))
        };
        st.done = Some(verdict.clone());
        verdict
    }

    /// The verdict given, if any.
    pub fn verdict(&self) -> Option<Verdict> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .done
            .clone()
    }
}

/// Checks the bytes `r` gives (a whole file) against `digest` (`digestMultibase`): Ok(None)
/// when they match, Ok(Some(why)) when not; a digest in a form not understood is an error.
pub fn check_whole(digest: &str, r: impl std::io::Read) -> Result<Option<String>, String> {
    Expected::parse(digest)?.check(r)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn weaver_form(data: &[u8]) -> String {
        // What Weaver writes: multibase base64 ('m', no padding) of the sha2-256 multihash.
        let mut mh = vec![0x12, 32];
        mh.extend_from_slice(&Sha256::digest(data));
        format!(
            "m{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(mh)
        )
    }

    #[test]
    fn multibase_forms_parse() {
        let d = Sha256::digest(b"abc").to_vec();
        let mut mh = vec![0x12, 32];
        mh.extend_from_slice(&d);
        assert_eq!(
            Expected::parse(&weaver_form(b"abc")),
            Ok(Expected::Sha256(d.clone()))
        );
        for base in [
            multibase::Base::Base64Url,
            multibase::Base::Base58Btc,
            multibase::Base::Base16Lower,
            multibase::Base::Base32Lower,
            multibase::Base::Base64Pad,
        ] {
            let text = multibase::encode(base, &mh);
            assert_eq!(
                Expected::parse(&text),
                Ok(Expected::Sha256(d.clone())),
                "{text}"
            );
        }
        // A bare sha2-256 digest, and sha2-512.
        let bare = multibase::encode(multibase::Base::Base64, &d);
        assert_eq!(Expected::parse(&bare), Ok(Expected::Sha256(d)));
        let mut mh512 = vec![0x13, 64];
        mh512.extend_from_slice(&Sha512::digest(b"abc"));
        let text = multibase::encode(multibase::Base::Base64, &mh512);
        assert!(matches!(Expected::parse(&text), Ok(Expected::Sha512(_))));
        // Unknown hash functions and junk are errors, not a check that cannot pass.
        let md5 = multibase::encode(multibase::Base::Base64, [0xd5, 16, 1, 2, 3]);
        assert!(Expected::parse(&md5).unwrap_err().contains("0xd5"));
        assert!(Expected::parse("!nope").is_err());
    }

    fn blocks(data: &[u8], size: usize) -> Vec<Bytes> {
        data.chunks(size).map(Bytes::copy_from_slice).collect()
    }

    #[test]
    fn blocks_in_any_near_order_complete_the_check() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let expected = Expected::parse(&weaver_form(&data)).unwrap();
        let bs = blocks(&data, 1000);
        let v = Verifier::new(expected.clone(), bs.len() as u64);
        for i in [1, 0, 3, 2, 2, 4, 6, 5, 7, 9] {
            assert_eq!(v.feed(i, &bs[i as usize]), Verdict::Pending, "block {i}");
        }
        assert_eq!(v.feed(8, &bs[8]), Verdict::Matched);
        assert_eq!(
            v.feed(9, &bs[9]),
            Verdict::Pending,
            "a verdict is given once"
        );
        assert_eq!(v.verdict(), Some(Verdict::Matched));
        // One wrong byte anywhere: mismatched, and the message names both digests.
        let mut bad = bs.clone();
        bad[4] = Bytes::from(vec![0u8; 1000]);
        let v = Verifier::new(expected, bad.len() as u64);
        let last = bad
            .iter()
            .enumerate()
            .map(|(i, b)| v.feed(i as u64, b))
            .last();
        match last {
            Some(Verdict::Mismatched(why)) => assert!(why.contains("sha2-256"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_whole_file_is_checked_at_once() {
        let data = vec![7u8; 3 << 20];
        let right = weaver_form(&data);
        assert_eq!(check_whole(&right, &data[..]), Ok(None));
        let why = check_whole(&right, &data[1..]).unwrap().unwrap();
        assert!(why.contains("the server's digest says"), "{why}");
        assert!(check_whole("?", &data[..]).is_err());
    }

    #[test]
    fn a_reader_that_skips_around_gives_no_verdict() {
        let data = vec![1u8; 100 * 10];
        let bs = blocks(&data, 10);
        let v = Verifier::new(Expected::parse(&weaver_form(&data)).unwrap(), 100);
        for i in (1..100).rev() {
            assert_eq!(v.feed(i, &bs[i as usize]), Verdict::Pending);
        }
        assert_eq!(v.feed(0, &bs[0]), Verdict::Pending);
        assert_eq!(v.verdict(), Some(Verdict::Pending));
    }
}
