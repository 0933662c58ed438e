//! The per-line hot path of `enrich.features.normalize`, for ASCII lines.
//!
//! `enrich.features.normalize` (Python) is the reference: this module gives the same string
//! for every ASCII line, and `None` for any other line, which the caller normalises in
//! Python. Keeping to ASCII keeps the two exactly equal without re-implementing Python's
//! Unicode tables (`str.split`, `str.isdigit`, `\d` and `\w` on non-ASCII text). The tests
//! in `tests/unit/test_native.py` compare both on generated logs, edge tokens and random
//! strings.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use regex::RegexSet;
use std::sync::OnceLock;

/// Token shapes, in the reference's order: the first that matches the whole core wins.
/// HEX (between IP and HASH) uses look-ahead in the reference and is checked by hand.
const TS: &str = r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)?|\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d|\d\d:\d\d:\d\d(?:[.,]\d+)?";
const UUID: &str = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const IP: &str = r"\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}";
const HASH: &str = r"SHA256:[A-Za-z0-9+/=]+";
const NUM: &str = r"[+-]?\d+(?:[.,]\d+)?";
const PATH: &str = r"(?:[A-Za-z][\w+.-]*:/)?(?:/[\w.@%+~:-]+){2,}/?";

const LEAD: &[u8] = b"[](){}<>\"'`,;";
const TRAIL: &[u8] = b"[](){}<>\"'`,;:.";
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn shapes() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        let anchored = [TS, UUID, IP, HASH, NUM, PATH].map(|p| format!(r"\A(?:{p})\z"));
        RegexSet::new(anchored).expect("token shapes compile")
    })
}

/// Python's `str.isspace` for ASCII: what `str.split()` splits on.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f)
}

fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// Python's `str.isupper` for ASCII: some upper-case letter and no lower-case one.
fn is_upper(s: &[u8]) -> bool {
    s.iter().any(u8::is_ascii_uppercase) && !s.iter().any(u8::is_ascii_lowercase)
}

fn is_hex(core: &[u8]) -> bool {
    if let Some(rest) = core.strip_prefix(b"0x") {
        return !rest.is_empty() && rest.iter().all(u8::is_ascii_hexdigit);
    }
    core.len() >= 6
        && core
            .iter()
            .all(|&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        && core.iter().any(u8::is_ascii_digit)
        && core.iter().any(|&c| (b'a'..=b'f').contains(&c))
}

/// The mask of the first shape matching the whole core, if any.
fn shape(core: &str) -> Option<&'static str> {
    let bytes = core.as_bytes();
    // Without a digit only UUID (needs '-'), IPv6 (':') and PATH ('/') can match.
    if !bytes
        .iter()
        .any(|&c| c.is_ascii_digit() || matches!(c, b'-' | b':' | b'/'))
    {
        return None;
    }
    let hits = shapes().matches(core);
    for (i, name) in ["<TS>", "<UUID>", "<IP>"].iter().enumerate() {
        if hits.matched(i) {
            return Some(name);
        }
    }
    if is_hex(bytes) {
        return Some("<HEX>");
    }
    for (i, name) in ["<HASH>", "<NUM>", "<PATH>"].iter().enumerate() {
        if hits.matched(i + 3) {
            return Some(name);
        }
    }
    None
}

/// `enrich.features._mask_token`, appended to `out`.
fn mask_token(token: &str, out: &mut String) {
    let b = token.as_bytes();
    let start = b.iter().position(|c| !LEAD.contains(c)).unwrap_or(b.len());
    let end = b[start..]
        .iter()
        .rposition(|c| !TRAIL.contains(c))
        .map_or(start, |i| start + i + 1);
    let (pre, core, suf) = (&token[..start], &token[start..end], &token[end..]);
    let cb = core.as_bytes();
    if cb.is_empty() || (pre.ends_with('<') && suf.starts_with('>') && is_upper(cb)) {
        out.push_str(token);
        return;
    }
    let mask = if all_digits(cb) {
        Some("<NUM>")
    } else if cb.iter().all(|&c| c.is_ascii_digit() || c == b'.')
        && cb.iter().any(u8::is_ascii_digit)
    {
        Some(if cb.iter().filter(|&&c| c == b'.').count() == 3 {
            "<IP>"
        } else {
            "<NUM>"
        })
    } else {
        shape(core)
    };
    if let Some(mask) = mask {
        out.push_str(pre);
        out.push_str(mask);
        out.push_str(suf);
        return;
    }
    let last = pre.as_bytes().last().copied();
    if matches!(last, Some(b'\'' | b'"')) && suf.as_bytes().first().copied() == last {
        out.push_str(pre);
        out.push_str("<STR>");
        out.push_str(suf);
        return;
    }
    if cb.iter().any(u8::is_ascii_digit) {
        out.push_str(pre);
        let mut in_digits = false;
        for &c in cb {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push_str("<NUM>");
                }
                in_digits = true;
            } else {
                out.push(c as char);
                in_digits = false;
            }
        }
        out.push_str(suf);
        return;
    }
    out.push_str(token);
}

fn is_clock(t: &[u8]) -> bool {
    t.len() == 8
        && t[2] == b':'
        && t[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| t[i].is_ascii_digit())
}

/// `enrich.features.normalize` for one ASCII line.
fn normalize_ascii(text: &str, out: &mut String) {
    let mut tokens: Vec<&str> = text
        .split(|c: char| is_space(c as u8))
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.len() > 4
        && MONTHS.contains(&tokens[0])
        && all_digits(tokens[1].as_bytes())
        && is_clock(tokens[2].as_bytes())
    {
        tokens.drain(..4);
    }
    let access_log = text.contains("\" ");
    for (j, token) in tokens.iter().enumerate() {
        if j > 0 {
            out.push(' ');
        }
        let t = token.as_bytes();
        if access_log
            && j > 0
            && t.len() == 3
            && all_digits(t)
            && (b'1'..=b'5').contains(&t[0])
            && tokens[j - 1].ends_with('"')
        {
            out.push_str("<HTTP_");
            out.push(t[0] as char);
            out.push_str("XX>");
        } else {
            mask_token(token, out);
        }
    }
}

/// Normalise each text of `texts`; `None` where the text is not ASCII (normalise it in Python).
#[pyfunction]
fn normalize_many<'py>(
    py: Python<'py>,
    texts: &Bound<'py, PyList>,
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let mut buf = String::with_capacity(256);
    for item in texts.iter() {
        // not valid UTF-8 (a lone surrogate) or not ASCII: the caller's Python path
        match item.cast::<PyString>()?.to_str() {
            Ok(text) if text.is_ascii() => {
                buf.clear();
                normalize_ascii(text, &mut buf);
                out.append(PyString::new(py, &buf))?;
            }
            _ => out.append(py.None())?,
        }
    }
    Ok(out)
}

#[pymodule]
fn enrich_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(normalize_many, m)?)?;
    Ok(())
}
