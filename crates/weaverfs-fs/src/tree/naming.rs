//! File names for outputs: extensions from hrefs and media types, safe names for anything a
//! server sends, and unique names within a directory.

use std::collections::HashSet;
use std::sync::Arc;

use crate::api::results::media_essence;

/// The longest file name Linux accepts, in bytes.
const NAME_MAX: usize = 255;

/// The usual extension of a media type, for naming files so desktop tools recognise them.
pub fn extension_for_media_type(media_type: &str) -> Option<&'static str> {
    let essence = media_essence(media_type);
    Some(match essence.as_str() {
        "application/json" => "json",
        "application/geo+json" => "geojson",
        "application/x-netcdf" | "application/netcdf" | "application/x-netcdf4" => "nc",
        "application/x-hdf5" | "application/x-hdf" => "h5",
        "image/tiff" | "image/geotiff" => "tif",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/jp2" => "jp2",
        "image/svg+xml" => "svg",
        "text/plain" => "txt",
        "text/csv" => "csv",
        "text/html" => "html",
        "text/xml" | "application/xml" => "xml",
        "application/x-yaml" | "application/yaml" | "text/yaml" => "yaml",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "application/gzip" | "application/x-gzip" => "gz",
        "application/x-tar" => "tar",
        "application/vnd.google-earth.kml+xml" => "kml",
        "application/x-zarr" => "zarr",
        "application/vnd.apache.parquet" => "parquet",
        _ => return None,
    })
}

/// The last path segment of a URL, percent-decoded ("" for a directory URL). A segment whose
/// decoded bytes are not UTF-8 is kept as sent (`%FF.bin`), so distinct files keep distinct names.
pub fn href_file_name(href: &str) -> String {
    let path = match url::Url::parse(href) {
        Ok(u) => u.path().to_string(),
        Err(_) => href.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    let last = path.rsplit('/').next().unwrap_or("");
    percent_decode(last)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// A file name's extension, when it looks like one (1 to 10 alphanumerics after the last dot).
fn extension_of(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    let looks_like_one = !stem.is_empty()
        && (1..=10).contains(&ext.len())
        && ext.chars().all(|c| c.is_ascii_alphanumeric());
    looks_like_one.then_some(ext)
}

/// `id` with `ext` appended, unless it already ends with it.
pub fn with_extension(id: &str, ext: Option<&str>) -> String {
    match ext {
        Some(ext)
            if !id
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", ext.to_ascii_lowercase())) =>
        {
            format!("{id}.{ext}")
        }
        _ => id.to_string(),
    }
}

/// The name of an href output: its id plus the extension of the href's file name, else of its
/// media type; the bare id with `plain`.
pub fn href_output_name(id: &str, href: &str, media_type: Option<&str>, plain: bool) -> String {
    if plain {
        return id.to_string();
    }
    let file_name = href_file_name(href);
    let ext = extension_of(&file_name).map(str::to_string).or_else(|| {
        media_type
            .and_then(extension_for_media_type)
            .map(str::to_string)
    });
    with_extension(id, ext.as_deref())
}

/// A name safe to show in a directory: `/`, NUL and control characters become `_`; empty, `.`
/// and `..` get a leading `_`; over 255 bytes is cut on a character boundary, keeping the
/// extension.
pub fn safe_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    if name.is_empty() || name == "." || name == ".." {
        name = format!("_{name}");
    }
    if name.len() > NAME_MAX {
        let ext = extension_of(&name)
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let mut cut = NAME_MAX - ext.len();
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name = format!("{}{ext}", &name[..cut]);
    }
    name
}

/// Whether a listed job id can be asked about as one URL path segment: not empty, `.` or `..`
/// (which URLs resolve away), without `/`, `\\` or control characters (which servers may
/// decode into another path). Others are skipped, with a warning.
pub fn addressable_job_id(id: &str) -> bool {
    let ok = !matches!(id, "" | "." | "..")
        && !id.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if !ok {
        tracing::warn!("job listing: skipped job id {id:?}: it cannot be asked for safely");
    }
    ok
}

/// Hands out names unique within one directory: the second `a.json` becomes `a-2.json`.
#[derive(Debug, Default)]
pub struct UniqueNames {
    taken: HashSet<Arc<str>>,
}

impl UniqueNames {
    /// Names that are already used (like `.job`).
    pub fn reserving(names: &[&str]) -> Self {
        UniqueNames {
            taken: names.iter().map(|n| Arc::from(*n)).collect(),
        }
    }

    /// Like [`UniqueNames::claim`], with a warning naming `place` (the job, the listing) and
    /// the raw value when the name had to be changed to be safe.
    pub fn claim_in(&mut self, wanted: &str, place: &dyn std::fmt::Display) -> String {
        let name = self.claim(wanted);
        if safe_name(wanted) != wanted {
            tracing::warn!("{place}: {wanted:?} is not a safe file name; shown as {name:?}");
        }
        name
    }

    /// Like [`UniqueNames::claim_in`], returning `wanted` itself (no copy) when it is free and
    /// safe: a root of 100,000 job ids keeps one string per id.
    pub fn claim_shared(&mut self, wanted: &Arc<str>, place: &dyn std::fmt::Display) -> Arc<str> {
        if safe_name(wanted) == **wanted && self.taken.insert(wanted.clone()) {
            return wanted.clone();
        }
        self.claim_in(wanted, place).into()
    }

    /// A safe name for `wanted`, with a `-N` suffix (before the extension) if it is taken.
    pub fn claim(&mut self, wanted: &str) -> String {
        let wanted = safe_name(wanted);
        if self.taken.insert(Arc::from(wanted.as_str())) {
            return wanted;
        }
        let (stem, ext) = match extension_of(&wanted) {
            Some(ext) => (&wanted[..wanted.len() - ext.len() - 1], format!(".{ext}")),
            None => (wanted.as_str(), String::new()),
        };
        for n in 2u64.. {
            // Cut the stem, not the suffix, so long names stay distinct within 255 bytes.
            let suffix = format!("-{n}{ext}");
            let mut cut = stem.len().min(NAME_MAX - suffix.len());
            while !stem.is_char_boundary(cut) {
                cut -= 1;
            }
            let candidate = format!("{}{suffix}", &stem[..cut]);
            if self.taken.insert(Arc::from(candidate.as_str())) {
                return candidate;
            }
        }
        unreachable!("u64 names ran out")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extensions_from_href_then_media_type() {
        let h = "https://h/wpsoutputs/j/output_netcdf/out.nc";
        assert_eq!(
            href_output_name("output_netcdf", h, None, false),
            "output_netcdf.nc"
        );
        assert_eq!(
            href_output_name("output_netcdf", h, None, true),
            "output_netcdf"
        );
        assert_eq!(href_output_name("result.nc", h, None, false), "result.nc");
        assert_eq!(
            href_output_name(
                "x",
                "https://h/j/x/data",
                Some("application/x-netcdf"),
                false
            ),
            "x.nc"
        );
        assert_eq!(
            href_output_name(
                "x",
                "https://h/j/x/data",
                Some("application/octet-stream"),
                false
            ),
            "x"
        );
        assert_eq!(
            href_output_name("x", "https://h/a%20b.tif?sig=1", None, false),
            "x.tif"
        );
    }

    #[test]
    fn href_file_names() {
        assert_eq!(href_file_name("https://h/a/b%20c.json"), "b c.json");
        assert_eq!(href_file_name("https://h/a/dir/"), "");
        assert_eq!(href_file_name("s3://bucket/k/f.nc"), "f.nc");
        assert_eq!(href_file_name("https://h/a/%zz%4"), "%zz%4");
    }

    #[test]
    fn hostile_names_are_made_safe() {
        assert_eq!(safe_name("a/b"), "a_b");
        assert_eq!(safe_name(".."), "_..");
        assert_eq!(safe_name("."), "_.");
        assert_eq!(safe_name(""), "_");
        assert_eq!(safe_name("a\0b\nc"), "a_b_c");
        let long = format!("{}.json", "é".repeat(200));
        let s = safe_name(&long);
        assert!(s.len() <= 255 && s.ends_with(".json"), "{s}");
    }

    #[test]
    fn collisions_get_suffixes() {
        let mut names = UniqueNames::reserving(&[".job"]);
        assert_eq!(names.claim("a.json"), "a.json");
        assert_eq!(names.claim("a.json"), "a-2.json");
        assert_eq!(names.claim("a-2.json"), "a-2-2.json");
        assert_eq!(names.claim(".job"), ".job-2");
        assert_eq!(names.claim("plain"), "plain");
        assert_eq!(names.claim("plain"), "plain-2");
    }

    #[test]
    fn long_names_that_collide_stay_distinct() {
        let mut names = UniqueNames::default();
        let a = names.claim(&"x".repeat(300));
        let b = names.claim(&format!("{}y", "x".repeat(300)));
        let c = names.claim(&format!("{}.json", "é".repeat(300)));
        let d = names.claim(&format!("{}.json", "é".repeat(301)));
        assert_ne!(a, b);
        assert_ne!(c, d);
        assert!([&a, &b, &c, &d].iter().all(|n| n.len() <= 255));
        assert!(d.ends_with("-2.json"), "{d}");
    }

    #[test]
    fn media_types_with_parameters() {
        assert_eq!(
            extension_for_media_type("application/json; charset=utf-8"),
            Some("json")
        );
        assert_eq!(extension_for_media_type("IMAGE/PNG"), Some("png"));
        assert_eq!(extension_for_media_type("application/x-unknown"), None);
    }

    proptest! {
        /// Whatever a server sends, names are unique, non-empty, at most 255 bytes, and hold no
        /// `/` or NUL and are not `.` or `..`.
        #[test]
        fn claimed_names_are_always_safe(raws in proptest::collection::vec(".{0,300}", 1..20)) {
            let mut names = UniqueNames::default();
            let mut seen = HashSet::new();
            for raw in &raws {
                let n = names.claim(raw);
                prop_assert!(!n.is_empty() && n.len() <= 255);
                prop_assert!(!n.contains('/') && !n.contains('\0'));
                prop_assert!(n != "." && n != "..");
                prop_assert!(seen.insert(n));
            }
        }

        /// Names from a small hostile alphabet collide often, before and after cleaning (and
        /// long ones after cutting): still unique and safe, and no control characters.
        #[test]
        fn colliding_hostile_names_stay_unique(
            raws in proptest::collection::vec("[a./_\\x00\\x01\\x7f\\né]{0,4}(\\.json)?|[ab]{250,260}(\\.nc)?", 1..40),
        ) {
            let mut names = UniqueNames::reserving(&[".job"]);
            let mut seen = HashSet::from([".job".to_string()]);
            for raw in &raws {
                let n = names.claim(raw);
                prop_assert!(!n.is_empty() && n.len() <= 255, "{n:?}");
                prop_assert!(!n.contains('/') && !n.chars().any(char::is_control), "{n:?}");
                prop_assert!(n != "." && n != "..");
                prop_assert!(seen.insert(n.clone()), "{n:?} twice");
            }
        }

        /// Cleaning is idempotent, and names that are already safe are never changed.
        #[test]
        fn safe_names_are_left_alone(raw in ".{0,300}") {
            let once = safe_name(&raw);
            prop_assert_eq!(safe_name(&once), once.clone());
            let already_safe = !raw.is_empty() && raw != "." && raw != ".." && raw.len() <= 255
                && !raw.chars().any(|c| c == '/' || c.is_control());
            if already_safe {
                prop_assert_eq!(once, raw);
            }
        }
    }

    #[test]
    fn undecodable_hrefs_keep_their_escapes() {
        assert_eq!(href_file_name("https://h/f/%FF%FE.bin"), "%FF%FE.bin");
        assert_eq!(href_file_name("https://h/f/a%2Fb.txt"), "a/b.txt");
        assert_eq!(safe_name(&href_file_name("https://h/f/%00.txt")), "_.txt");
    }

    #[test]
    fn unaddressable_job_ids() {
        for bad in ["", ".", "..", "a/b", "../x", "a\\b", "c\u{1}d"] {
            assert!(!addressable_job_id(bad), "{bad:?}");
        }
        for good in [
            "0d6c1a2e-3b4f-4c5d-8e6f-7a8b9c0d1e01",
            "job 42",
            "über",
            "..x",
            &"j".repeat(300),
        ] {
            assert!(addressable_job_id(good), "{good:?}");
        }
    }
}
