//! Listing a directory output from its host's index: an HTML page of links (nginx autoindex,
//! Apache) or a JSON array of URLs, as Weaver itself reads them. Only direct children of the
//! directory are kept; sort links, parents and other hosts are dropped.

use url::Url;

/// One entry of a directory index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub url: Url,
    pub is_dir: bool,
}

/// Parses an index page (HTML or JSON) served at `dir` (a URL ending with `/`).
pub fn parse_index(dir: &Url, body: &str) -> Vec<IndexEntry> {
    let links: Vec<String> = match serde_json::from_str::<Vec<String>>(body) {
        Ok(urls) => urls,
        Err(_) => html_links(body),
    };
    let mut seen = std::collections::HashSet::new();
    links
        .iter()
        .filter_map(|link| child_of(dir, link))
        .filter(|e| seen.insert(e.name.clone()))
        .collect()
}

/// The values of `href` attributes in the page.
fn html_links(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut links = Vec::new();
    let mut pos = 0;
    while let Some(found) = lower[pos..].find("href=") {
        let start = pos + found + 5;
        let rest = &html[start..];
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
            _ => rest
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        links.push(value.replace("&amp;", "&"));
        pos = start;
    }
    links
}

fn child_of(dir: &Url, link: &str) -> Option<IndexEntry> {
    let url = dir.join(link).ok()?;
    if url.query().is_some() || url.origin() != dir.origin() {
        return None;
    }
    let rest = url.path().strip_prefix(dir.path())?;
    let is_dir = rest.ends_with('/');
    let segment = rest.trim_end_matches('/');
    if segment.is_empty() || segment.contains('/') {
        return None;
    }
    let name = super::naming::href_file_name(&format!("{}{segment}", dir.as_str()));
    Some(IndexEntry { name, url, is_dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Url {
        Url::parse("http://h/wpsoutputs/j/output_dir/").unwrap()
    }

    #[test]
    fn nginx_autoindex() {
        let html = r#"<html><head><title>Index of /wpsoutputs/j/output_dir/</title></head>
<body><h1>Index of /wpsoutputs/j/output_dir/</h1><hr><pre><a href="../">../</a>
<a href="sub/">sub/</a>                                               01-Nov-2026 10:00       -
<a href="x.txt">x.txt</a>                                             01-Nov-2026 10:00      12
<a href="y%20z.txt">y z.txt</a>                                       01-Nov-2026 10:00      12
</pre><hr></body></html>"#;
        let es = parse_index(&dir(), html);
        let names: Vec<_> = es.iter().map(|e| (e.name.as_str(), e.is_dir)).collect();
        assert_eq!(
            names,
            vec![("sub", true), ("x.txt", false), ("y z.txt", false)]
        );
        assert_eq!(es[1].url.as_str(), "http://h/wpsoutputs/j/output_dir/x.txt");
    }

    #[test]
    fn apache_sort_links_and_escapes_are_dropped() {
        let html = r#"<a href="?C=N;O=D">Name</a><a HREF='/wpsoutputs/j/'>Parent</a>
            <a href="http://evil/x">x</a><a href="a/b/c.txt">deep</a><a href=ok.nc>ok</a>"#;
        let es = parse_index(&dir(), html);
        assert_eq!(es.len(), 1);
        assert_eq!(es[0].name, "ok.nc");
    }

    #[test]
    fn json_list_of_urls() {
        let body = r#"["http://h/wpsoutputs/j/output_dir/a.nc", "http://h/wpsoutputs/j/output_dir/d/", "http://h/other/b.nc"]"#;
        let es = parse_index(&dir(), body);
        assert_eq!(es.len(), 2);
        assert!(es[1].is_dir);
    }
}
