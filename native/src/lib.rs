//! The per-line hot paths of the engine, each with a Python reference it must agree with.
//!
//! `normalize_many` is `enrich.core.normalize.normalize` for ASCII lines, and `None` for any other
//! line, which the caller normalises in Python. Keeping to ASCII keeps the two exactly equal
//! without re-implementing Python's Unicode tables (`str.split`, `str.isdigit`, `\d` and `\w`
//! on non-ASCII text).
//!
//! `encode_records` is the Python loop of `enrich.engine.output.OutputWriter.encode`: the output values of
//! a batch, byte for byte the same.
//!
//! `tests/unit/test_native.py` compares both with their references.
//!
//! `Terms` (`terms.rs`) is the term counting of scikit-learn's `CountVectorizer.transform`
//! for the model's vectoriser, for ASCII texts.
//!
//! `Parser` (`parser.rs`, `timestamp.rs`) is `enrich.core.parse.LogFormats.parse_record` for a
//! batch; `tests/unit/test_native_parser.py` compares it with its reference. Its `front`
//! (with `json.rs`, a strict JSON reader) is `enrich.engine.front.read_part_reference` from the
//! Kafka values on (decode, parse, normalise, the output's head), on threads without the GIL,
//! keeping what it read in a `FrontBatch` that `encode_front` writes the outputs from;
//! `tests/unit/test_front.py` compares it with its reference.
//!
//! `RuleMatcher` (`rules.rs`) is the first matching rule of RE2's `Set` for ASCII texts.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use regex_automata::meta::{Cache, Regex};
use regex_automata::Input;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Rust's allocations in this module (not Python's, nor librdkafka's): see Cargo.toml
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod json;
mod parser;
mod pool;
mod rules;
mod templates;
mod terms;
mod timestamp;

/// Token shapes, in the reference's order: the first that matches the whole core wins.
/// HEX (between IP and HASH) uses look-ahead in the reference and is checked by hand.
const TS: &str = r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)?|\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d|\d\d:\d\d:\d\d(?:[.,]\d+)?";
const UUID: &str = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const IP: &str = r"\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}";
const HASH: &str = r"SHA256:[A-Za-z0-9+/=]+";
const NUM: &str = r"[+-]?\d+(?:[.,]\d+)?";
const PATH: &str = r"(?:[A-Za-z][\w+.-]*:/)?(?:/[\w.@%+~:-]+){2,}/?";

/// Byte classes as lookup tables: leading and trailing punctuation kept around a mask, and
/// what Python's `str.split()` splits an ASCII string on (`str.isspace`).
const fn table(members: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < members.len() {
        t[members[i] as usize] = true;
        i += 1;
    }
    t
}
const LEAD: [bool; 256] = table(b"[](){}<>\"'`,;");
const TRAIL: [bool; 256] = table(b"[](){}<>\"'`,;:.");
pub(crate) const SPACE: [bool; 256] = table(b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f");
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The shapes as anchored regexes (HEX aside), compiled once; each thread matches with its
/// own caches (`SHAPE_CACHES`), not through the engines' shared pools, whose locks (and cold
/// caches for every new thread: the front starts threads for each part) cost more than the
/// matching of these short tokens.
struct Shapes {
    ts: Regex,
    uuid: Regex,
    ip: Regex,
    hash: Regex,
    num: Regex,
    path: Regex,
}

struct ShapeCaches {
    ts: Cache,
    uuid: Cache,
    ip: Cache,
    hash: Cache,
    num: Cache,
    path: Cache,
}

thread_local! {
    static SHAPE_CACHES: RefCell<Option<ShapeCaches>> = const { RefCell::new(None) };
}

fn shapes() -> &'static Shapes {
    static SHAPES: OnceLock<Shapes> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let anchored =
            |p: &str| Regex::new(&format!(r"\A(?:{p})\z")).expect("token shape compiles");
        Shapes {
            ts: anchored(TS),
            uuid: anchored(UUID),
            ip: anchored(IP),
            hash: anchored(HASH),
            num: anchored(NUM),
            path: anchored(PATH),
        }
    })
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

/// The mask of the first shape matching the whole core, if any. Each regex runs only when
/// the core has what every match of it has (two leading digits, 36 characters, two
/// slashes...).
fn shape(core: &str) -> Option<&'static str> {
    let bytes = core.as_bytes();
    let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let colons = bytes.iter().filter(|&&c| c == b':').count();
    let slashes = bytes.iter().filter(|&&c| c == b'/').count();
    let signed = matches!(bytes.first(), Some(b'+' | b'-'));
    let s = shapes();
    SHAPE_CACHES.with(|cell| {
        let mut slot = cell.borrow_mut();
        let c = slot.get_or_insert_with(|| ShapeCaches {
            ts: s.ts.create_cache(),
            uuid: s.uuid.create_cache(),
            ip: s.ip.create_cache(),
            hash: s.hash.create_cache(),
            num: s.num.create_cache(),
            path: s.path.create_cache(),
        });
        let input = Input::new(core);
        if digit_at(0) && digit_at(1) && s.ts.is_match_with(&mut c.ts, &input) {
            Some("<TS>")
        } else if bytes.len() == 36 && s.uuid.is_match_with(&mut c.uuid, &input) {
            Some("<UUID>")
        } else if (digit_at(0) || colons >= 2) && s.ip.is_match_with(&mut c.ip, &input) {
            Some("<IP>")
        } else if is_hex(bytes) {
            Some("<HEX>")
        } else if bytes.starts_with(b"SHA256:") && s.hash.is_match_with(&mut c.hash, &input) {
            Some("<HASH>")
        } else if (digit_at(0) || (signed && digit_at(1)))
            && s.num.is_match_with(&mut c.num, &input)
        {
            Some("<NUM>")
        } else if slashes >= 2 && s.path.is_match_with(&mut c.path, &input) {
            Some("<PATH>")
        } else {
            None
        }
    })
}

/// `enrich.core.normalize._mask_token`, appended to `out`.
fn mask_token(token: &str, out: &mut String) {
    let b = token.as_bytes();
    let start = b.iter().position(|&c| !LEAD[c as usize]).unwrap_or(b.len());
    let end = b[start..]
        .iter()
        .rposition(|&c| !TRAIL[c as usize])
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
    let quoted = matches!(pre.as_bytes().last(), Some(b'\'' | b'"'))
        && suf.as_bytes().first() == pre.as_bytes().last();
    let mask = mask.or(quoted.then_some("<STR>"));
    if mask.is_none() && !cb.iter().any(u8::is_ascii_digit) {
        out.push_str(token);
        return;
    }
    out.push_str(pre);
    match mask {
        Some(mask) => out.push_str(mask),
        None => {
            // every run of digits becomes <NUM>: sshd[812]: -> sshd[<NUM>]:
            let mut in_digits = false;
            for &c in cb {
                if !c.is_ascii_digit() {
                    out.push(c as char);
                } else if !in_digits {
                    out.push_str("<NUM>");
                }
                in_digits = c.is_ascii_digit();
            }
        }
    }
    out.push_str(suf);
}

fn is_clock(t: &[u8]) -> bool {
    t.len() == 8
        && t[2] == b':'
        && t[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| t[i].is_ascii_digit())
}

/// `enrich.core.normalize.normalize` for one ASCII line.
pub(crate) fn normalize_ascii(text: &str, spans: &mut Vec<(usize, usize)>, out: &mut String) {
    spans.clear();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if SPACE[b[i] as usize] {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !SPACE[b[i] as usize] {
            i += 1;
        }
        spans.push((start, i));
    }
    // ASCII: every index is a char boundary
    let token = |k: usize| &text[spans[k].0..spans[k].1];
    let mut first = 0;
    if spans.len() > 4
        && MONTHS.contains(&token(0))
        && all_digits(token(1).as_bytes())
        && is_clock(token(2).as_bytes())
    {
        first = 4;
    }
    let access_log = text.contains("\" ");
    for k in first..spans.len() {
        let t = token(k);
        let tb = t.as_bytes();
        if k > first {
            out.push(' ');
        }
        if access_log
            && k > first
            && tb.len() == 3
            && all_digits(tb)
            && (b'1'..=b'5').contains(&tb[0])
            && token(k - 1).ends_with('"')
        {
            out.push_str("<HTTP_");
            out.push(tb[0] as char);
            out.push_str("XX>");
        } else {
            mask_token(t, out);
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
    let mut spans = Vec::with_capacity(64);
    for item in texts.iter() {
        // not valid UTF-8 (a lone surrogate) or not ASCII: the caller's Python path
        match item.cast::<PyString>()?.to_str() {
            Ok(text) if text.is_ascii() => {
                buf.clear();
                normalize_ascii(text, &mut spans, &mut buf);
                out.append(PyString::new(py, &buf))?;
            }
            _ => out.append(py.None())?,
        }
    }
    Ok(out)
}

/// A string as msgspec writes it: `"` `\` and control characters escaped (`\b \t \n \f \r`
/// short, others `\u00XX`), everything else (DEL, non-ASCII) as UTF-8.
pub(crate) fn push_json_str(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(text.len() + 2);
    out.push(b'"');
    let b = text.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if !ESCAPE[c as usize] {
            continue;
        }
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => b"",
        };
        out.extend_from_slice(&b[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 0xf) as usize]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// The bytes `push_json_str` escapes: `"`, `\` and the control characters.
const ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

fn push_int(n: i64, out: &mut Vec<u8>) {
    use std::io::Write;
    write!(out, "{n}").expect("writing to a Vec cannot fail");
}

/// Python's `str.split()` whitespace: Unicode White_Space and the separators \x1c-\x1f.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `py_space` of each ASCII byte
const ASCII_SPACE: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = matches!(b, 0x09..=0x0d | 0x1c..=0x20);
        b += 1;
    }
    t
};

/// A template's tokens (split on single spaces; none for an empty template).
fn template_tokens(template: &str) -> Vec<&str> {
    if template.is_empty() {
        Vec::new()
    } else {
        template.split(' ').collect()
    }
}

/// `enrich.core.templates.template_params` written as `,"template_params":[...]`: the
/// body's whitespace-separated tokens where the template's (split on single spaces) are
/// `<*>` or a mask, less tokens equal to the template's; a BSD syslog header (4 tokens more
/// than the template, starting `Nov 3 10:00:00`) skipped, a splitting rule's marker
/// (`<RULE_...>`, one token more in the template) ignored; `[]` when they do not line up.
fn push_params(body: &str, want: &[&str], spans: &mut Vec<(usize, usize)>, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"template_params\":[");
    spans.clear();
    let mut start = None;
    if body.is_ascii() {
        for (i, &b) in body.as_bytes().iter().enumerate() {
            match (ASCII_SPACE[b as usize], start) {
                (true, Some(s)) => {
                    spans.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
    } else {
        for (i, c) in body.char_indices() {
            match (py_space(c), start) {
                (true, Some(s)) => {
                    spans.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
    }
    if let Some(s) = start {
        spans.push((s, body.len()));
    }
    let mut want = want;
    let mut tokens: &[(usize, usize)] = spans;
    let token = |k: &(usize, usize)| &body[k.0..k.1];
    if tokens.len() == want.len() + 4
        && MONTHS.contains(&token(&tokens[0]))
        && all_digits(token(&tokens[1]).as_bytes())
        && token(&tokens[2]).len() == 8
        && token(&tokens[2]).as_bytes()[2] == b':'
    {
        tokens = &tokens[4..];
    }
    if want.len() == tokens.len() + 1 && want.last().is_some_and(|w| w.starts_with("<RULE_")) {
        want = &want[..want.len() - 1];
    }
    if !want.is_empty() && tokens.len() == want.len() {
        let mut first = true;
        for (w, k) in want.iter().zip(tokens) {
            let t = token(k);
            if w.contains('<') && *w != t {
                if !first {
                    out.push(b',');
                }
                first = false;
                push_json_str(t, out);
            }
        }
    }
    out.push(b']');
}

/// What `encode_records` reads a record's `Parts` from (besides its head, body and parsed
/// fields): the enrichment's fixed part `statics[sids[i]]`, `confs[inverse[i]]`,
/// `fps[inverse[i] >> 1]` (JSON: the fingerprint, template id and template),
/// `templates[inverse[i] >> 1]` (for its `template_params`), `sources[i]` (the JSON of its
/// source's topic and partition), `offsets[i]`, `stamps[i]`.
struct Tail<'a, 'py> {
    statics: Vec<Bound<'py, PyBytes>>,
    sids: &'a Bound<'py, PyList>,
    confs: &'a Bound<'py, PyList>,
    inverse: &'a Bound<'py, PyList>,
    fps: &'a Bound<'py, PyList>,
    templates: &'a Bound<'py, PyList>,
    sources: &'a Bound<'py, PyList>,
    offsets: &'a Bound<'py, PyList>,
    stamps: &'a Bound<'py, PyList>,
}

impl<'py> Tail<'_, 'py> {
    /// The output value of record `i`: `head`, the enrichment, `parsed`.
    fn value(
        &self,
        i: usize,
        head: &[u8],
        body: &str,
        parsed: &[u8],
        buf: &mut Vec<u8>,
        spans: &mut Vec<(usize, usize)>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let sid: usize = self.sids.get_item(i)?.extract()?;
        let slot: usize = self.inverse.get_item(i)?.extract()?;
        let conf = self.confs.get_item(slot)?.cast_into::<PyBytes>()?;
        let fp = self.fps.get_item(slot >> 1)?.cast_into::<PyBytes>()?;
        let template = self
            .templates
            .get_item(slot >> 1)?
            .cast_into::<PyString>()?;
        let source = self.sources.get_item(i)?.cast_into::<PyBytes>()?;
        let ts = self.stamps.get_item(i)?;
        let tokens = template_tokens(template.to_str()?);
        let parts = Parts {
            head,
            body,
            parsed,
            fixed: self.statics[sid].as_bytes(),
            conf: conf.as_bytes(),
            fp: fp.as_bytes(),
            template: &tokens,
            source: source.as_bytes(),
            offset: self.offsets.get_item(i)?.extract()?,
            stamp: if ts.is_none() {
                None
            } else {
                Some(ts.extract()?)
            },
        };
        buf.clear();
        parts.write(buf, spans);
        Ok(PyBytes::new(self.sids.py(), buf))
    }
}

/// The output values of one partition's batch, as `enrich.engine.output.OutputWriter.encode`
/// builds them in Python (the reference): each record's head (`enrich.engine.front.head_of`:
/// `{"message":<text>,` for a plain line, a strict JSON object's bytes up to its closing brace)
/// followed by the enrichment (`Tail`) and `parsed[i]` (the JSON of what the parser found).
/// `None` where the head is None: the caller builds that record as an object.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn encode_records<'py>(
    py: Python<'py>,
    heads: &Bound<'py, PyList>,
    parsed: &Bound<'py, PyList>,
    statics: &Bound<'py, PyList>,
    sids: &Bound<'py, PyList>,
    confs: &Bound<'py, PyList>,
    inverse: &Bound<'py, PyList>,
    fps: &Bound<'py, PyList>,
    templates: &Bound<'py, PyList>,
    bodies: &Bound<'py, PyList>,
    sources: &Bound<'py, PyList>,
    offsets: &Bound<'py, PyList>,
    stamps: &Bound<'py, PyList>,
) -> PyResult<Bound<'py, PyList>> {
    let tail = Tail {
        statics: statics_of(statics)?,
        sids,
        confs,
        inverse,
        fps,
        templates,
        sources,
        offsets,
        stamps,
    };
    let out = PyList::empty(py);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut spans = Vec::with_capacity(64);
    for (i, head) in heads.iter().enumerate() {
        if head.is_none() {
            out.append(py.None())?;
            continue;
        }
        let head = head.cast::<PyBytes>()?.as_bytes();
        let fields = parsed.get_item(i)?;
        let body = bodies.get_item(i)?;
        let Ok(body) = body.cast::<PyString>()?.to_str() else {
            out.append(py.None())?; // not valid UTF-8 (a lone surrogate): the reference path
            continue;
        };
        let fields = fields.cast::<PyBytes>()?.as_bytes();
        out.append(tail.value(i, head, body, fields, &mut buf, &mut spans)?)?;
    }
    Ok(out)
}

/// One output value's parts, borrowed from the Python objects (kept alive by the caller) and
/// from the front's batch: what both encoders write, `encode_front` without the GIL.
struct Parts<'a> {
    head: &'a [u8],
    body: &'a str,
    parsed: &'a [u8],
    fixed: &'a [u8],
    conf: &'a [u8],
    fp: &'a [u8],
    /// its template's tokens (`template_tokens`)
    template: &'a [&'a str],
    source: &'a [u8],
    offset: i64,
    stamp: Option<i64>,
}

impl Parts<'_> {
    /// The value: the head, the enrichment (its fixed part, confidence, fingerprint and
    /// template members, `template_params`, source, offset, timestamp), the parsed fields.
    fn write(&self, buf: &mut Vec<u8>, spans: &mut Vec<(usize, usize)>) {
        buf.extend_from_slice(self.head);
        buf.extend_from_slice(self.fixed);
        buf.extend_from_slice(b",\"confidence\":");
        buf.extend_from_slice(self.conf);
        buf.extend_from_slice(b",\"fingerprint\":");
        buf.extend_from_slice(self.fp);
        push_params(self.body, self.template, spans, buf);
        buf.push(b',');
        buf.extend_from_slice(self.source);
        buf.extend_from_slice(b",\"offset\":");
        push_int(self.offset, buf);
        buf.extend_from_slice(b",\"timestamp\":");
        match self.stamp {
            None => buf.extend_from_slice(b"null"),
            Some(ts) => push_int(ts, buf),
        }
        buf.extend_from_slice(b"},\"parsed\":");
        buf.extend_from_slice(self.parsed);
        buf.push(b'}');
    }
}

/// A value the front left to Python: its head, body and parsed fields.
type Held<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyString>,
    Bound<'py, PyBytes>,
);

fn bytes_of<'py>(list: &Bound<'py, PyList>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    list.iter()
        .map(|b| b.cast_into::<PyBytes>().map_err(PyErr::from))
        .collect()
}

/// `encode_records` for the values `Parser.front` read, whose heads, bodies and parsed fields
/// are in `batch`: record `i` is the batch's value `rows[i]` (`rows` None: value `i`); a row
/// in `heads` (what Python made for a value the front left to it) takes its head, `fields`
/// and `bodies`. The values are written without the GIL (what they are made of is gathered
/// first, and each becomes a `bytes` after), so that another thread runs Python meanwhile.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn encode_front<'py>(
    py: Python<'py>,
    batch: PyRef<'py, parser::FrontBatch>,
    rows: Option<Vec<usize>>,
    heads: &Bound<'py, PyDict>,
    fields: &Bound<'py, PyDict>,
    statics: &Bound<'py, PyList>,
    sids: Vec<usize>,
    confs: &Bound<'py, PyList>,
    inverse: Vec<usize>,
    fps: &Bound<'py, PyList>,
    templates: &Bound<'py, PyList>,
    bodies: &Bound<'py, PyDict>,
    sources: &Bound<'py, PyList>,
    offsets: Vec<i64>,
    stamps: Vec<Option<i64>>,
) -> PyResult<Bound<'py, PyList>> {
    let n = sids.len();
    if [inverse.len(), sources.len(), offsets.len(), stamps.len()]
        .iter()
        .any(|&len| len != n)
    {
        return Err(PyValueError::new_err(
            "one id, slot, source, offset and stamp a record",
        ));
    }
    // the Python objects the values are made of, held while their bytes are borrowed
    let statics = bytes_of(statics)?;
    let confs = bytes_of(confs)?;
    let fps = bytes_of(fps)?;
    let sources = bytes_of(sources)?;
    let templates: Vec<Bound<'py, PyString>> = templates
        .iter()
        .map(|t| t.cast_into::<PyString>().map_err(PyErr::from))
        .collect::<PyResult<_>>()?;
    // each template's tokens once, not once a line
    let template_texts: Vec<Vec<&str>> = templates
        .iter()
        .map(|t| t.to_str().map(template_tokens))
        .collect::<PyResult<_>>()?;
    // a value the front left to Python, by record: its head, body and parsed fields (None:
    // no head, the object path)
    let mut held: HashMap<usize, Option<Held<'py>>> = HashMap::new();
    if !heads.is_empty() || !fields.is_empty() {
        for i in 0..n {
            let row = rows.as_ref().map_or(i, |r| r[i]);
            if !heads.contains(row)? {
                continue;
            }
            let body = bodies
                .get_item(row)?
                .ok_or_else(|| PyValueError::new_err("a row with a head and no body"))?;
            let parsed = fields
                .get_item(row)?
                .ok_or_else(|| PyValueError::new_err("a row with a head and no fields"))?;
            let own = match heads.get_item(row)?.filter(|h| !h.is_none()) {
                None => None,
                Some(h) => Some((h.cast_into()?, body.cast_into()?, parsed.cast_into()?)),
            };
            held.insert(i, own);
        }
    }
    let mut parts: Vec<Option<Parts<'_>>> = Vec::with_capacity(n);
    for i in 0..n {
        let (head, body, parsed) = match held.get(&i) {
            Some(None) => (None, None, &[][..]),
            // a body that is not valid UTF-8 (a lone surrogate): the reference path
            Some(Some((head, body, parsed))) => {
                (Some(head.as_bytes()), body.to_str().ok(), parsed.as_bytes())
            }
            None => {
                let row = rows.as_ref().map_or(i, |r| r[i]);
                let parsed = batch.fields_of(row).ok_or_else(|| {
                    PyValueError::new_err(format!("value {row} has no parsed fields"))
                })?;
                let body = batch
                    .body_of(row)
                    .ok_or_else(|| PyValueError::new_err(format!("value {row} has no body")))?;
                (batch.head_of(row), Some(body), parsed)
            }
        };
        let (Some(head), Some(body)) = (head, body) else {
            parts.push(None);
            continue;
        };
        let slot = inverse[i];
        parts.push(Some(Parts {
            head,
            body,
            parsed,
            fixed: statics
                .get(sids[i])
                .map(|b| b.as_bytes())
                .ok_or_else(|| PyValueError::new_err("an id past its table"))?,
            conf: confs
                .get(slot)
                .map(|b| b.as_bytes())
                .ok_or_else(|| PyValueError::new_err("a slot past its table"))?,
            fp: fps
                .get(slot >> 1)
                .map(|b| b.as_bytes())
                .ok_or_else(|| PyValueError::new_err("a slot past its table"))?,
            template: template_texts
                .get(slot >> 1)
                .map(Vec::as_slice)
                .ok_or_else(|| PyValueError::new_err("a slot past its table"))?,
            source: sources[i].as_bytes(),
            offset: offsets[i],
            stamp: stamps[i],
        }));
    }
    // room for every value at once (its parts' lengths; the template parameters are at
    // most the body again), so the buffer never grows by copying
    let room: usize = parts
        .iter()
        .flatten()
        .map(|p| {
            p.head.len()
                + 2 * p.body.len()
                + p.parsed.len()
                + p.fixed.len()
                + p.conf.len()
                + p.fp.len()
                + p.source.len()
                + 128
        })
        .sum();
    let mut buf: Vec<u8> = Vec::with_capacity(room);
    let (buf, ends) = py.detach(move || {
        let mut spans = Vec::with_capacity(64);
        let ends: Vec<Option<usize>> = parts
            .iter()
            .map(|p| {
                p.as_ref().map(|p| {
                    p.write(&mut buf, &mut spans);
                    buf.len()
                })
            })
            .collect();
        (buf, ends)
    });
    let out = PyList::empty(py);
    let mut start = 0;
    for end in ends {
        match end {
            None => out.append(py.None())?,
            Some(end) => {
                out.append(PyBytes::new(py, &buf[start..end]))?;
                start = end;
            }
        }
    }
    Ok(out)
}

/// `enrich.core.normalize.fingerprint` of each text (BLAKE2b-128 of its UTF-8, as hex), and
/// each as the output writes it (`"<hex>"`): hashed without the GIL. A text with a lone
/// surrogate (from a JSON escape) is hashed as Python's `surrogatepass` encodes it.
#[pyfunction]
fn fingerprints<'py>(
    py: Python<'py>,
    texts: &Bound<'py, PyList>,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
    let held: Vec<Bound<'py, PyString>> = texts
        .iter()
        .map(|t| t.cast_into::<PyString>().map_err(PyErr::from))
        .collect::<PyResult<_>>()?;
    let mut raw: Vec<Option<Bound<'py, PyBytes>>> = Vec::with_capacity(held.len());
    for t in &held {
        raw.push(if t.to_str().is_ok() {
            None
        } else {
            Some(
                t.call_method1("encode", ("utf-8", "surrogatepass"))?
                    .cast_into::<PyBytes>()?,
            )
        });
    }
    let bytes: Vec<&[u8]> = held
        .iter()
        .zip(&raw)
        .map(|(t, r)| match r {
            Some(b) => Ok(b.as_bytes()),
            None => t.to_str().map(str::as_bytes),
        })
        .collect::<PyResult<_>>()?;
    let hexes: Vec<String> = py.detach(|| {
        bytes
            .iter()
            .map(|b| templates::blake2b_hex(b, 16))
            .collect()
    });
    let plain = PyList::empty(py);
    let quoted = PyList::empty(py);
    let mut json = Vec::with_capacity(34);
    for hex in &hexes {
        plain.append(PyString::new(py, hex))?;
        json.clear();
        json.push(b'"');
        json.extend_from_slice(hex.as_bytes());
        json.push(b'"');
        quoted.append(PyBytes::new(py, &json))?;
    }
    Ok((plain, quoted))
}

fn statics_of<'py>(statics: &Bound<'py, PyList>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    statics
        .iter()
        .map(|s| s.cast_into::<PyBytes>().map_err(PyErr::from))
        .collect()
}

#[pymodule]
fn enrich_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(normalize_many, m)?)?;
    m.add_function(wrap_pyfunction!(encode_records, m)?)?;
    m.add_function(wrap_pyfunction!(encode_front, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprints, m)?)?;
    m.add_class::<parser::FrontBatch>()?;
    m.add_class::<parser::Parser>()?;
    m.add_class::<terms::Terms>()?;
    m.add_class::<rules::RuleMatcher>()?;
    m.add_class::<templates::TemplateMiner>()?;
    Ok(())
}
