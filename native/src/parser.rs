//! The parser stage, natively: `enrich.core.parse.LogFormats.parse_record` for a batch.
//!
//! `Parser(spec_json)` is built from `LogFormats.spec()`; `parse_many(records, years)` gives,
//! per record, its body, the code of the severity it states (0: none, 1-5: DEBUG ..
//! CRITICAL) and its parsed fields as the JSON `encode_json` writes, or `None` for a record
//! left to the Python reference. Records are left to Python where the two might differ:
//! a lone surrogate, a non-ASCII timestamp, level or number (Python's Unicode `strip`,
//! `lower`, `isdigit` and `\d`), a non-ASCII word right before a logfmt "=" (Python's
//! Unicode `\w`), a float or an int beyond 64 bits the output would carry, a date or a
//! format the reference raises on, lines nested more than 64 deep. Everything else gives
//! exactly what Python gives;
//! `tests/unit/test_native_parser.py` compares the two.
//!
//! `front(values, ...)` starts from the Kafka values instead: `decode` (with `json.rs`),
//! `parse_record` and `normalize`, on threads without the GIL, the results kept in a
//! `FrontBatch`; `tests/unit/test_front.py` compares it with `read_part_reference`.
//!
//! The formats' regexes are RE2; they run here on the `regex` crate, with RE2's ASCII
//! meanings of `\d`, `\s`, `\w` and `\b` spelled out (`translate`). A JSON text inside a
//! line or a record (CRI, Docker) is decoded by this module's `decode`, which reads what
//! `enrich.core.records.decode` reads and leaves the rest to Python.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use regex::{CaptureLocations, Regex, RegexSet};
use regex_automata::dfa::onepass;
use regex_automata::nfa::thompson::backtrack::{self, BoundedBacktracker};
use regex_automata::util::captures::Captures;

use crate::json;
use crate::pool::Idle;
use crate::push_json_str;
use regex_automata::{Anchored, Input};

use crate::timestamp::{self, is_digits, py_strip, Kind};

/// A record the native parser leaves to the Python reference.
#[derive(Debug)]
pub(crate) struct Bail;
pub(crate) type R<T> = Result<T, Bail>;

impl From<PyErr> for Bail {
    fn from(_: PyErr) -> Bail {
        Bail
    }
}

impl From<timestamp::Raise> for Bail {
    fn from(_: timestamp::Raise) -> Bail {
        Bail
    }
}

/// FNV-1a: the maps here have short string keys, looked up per line.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Map<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

/// A word-at-a-time hash (the Fx hash's mixing) for long keys: the front's normalised bodies.
#[derive(Default)]
struct Words(u64);

impl Hasher for Words {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

const MAX_DEPTH: u32 = 2;
const LOGFMT_STARTS: [&str; 6] = ["level=", "lvl=", "time=", "ts=", "t=", "msg="];
const PINO: [(i64, &str); 6] = [
    (10, "trace"),
    (20, "debug"),
    (30, "info"),
    (40, "warn"),
    (50, "error"),
    (60, "fatal"),
];
const OTEL: [&str; 6] = ["DEBUG", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
/// A dict with more keys is looked up key by key rather than scanned once.
const SCAN_MAX: usize = 48;

/// A value of the parsed fields (floats are left to Python).
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// The parsed fields: a Python dict's semantics (a key set again keeps its place). The
/// keys are the parser's own strings.
#[derive(Clone, Debug, Default)]
struct Fields<'p>(Vec<(&'p str, Val)>);

impl<'p> Fields<'p> {
    fn set(&mut self, key: &'p str, value: Val) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    fn get(&self, key: &str) -> Option<&Val> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// `{**self, **other}`
    fn merged(&self, other: &Fields<'p>) -> Fields<'p> {
        let mut out = self.clone();
        for (k, v) in &other.0 {
            out.set(k, v.clone());
        }
        out
    }

    /// `encode_json(fields)`: msgspec's compact JSON.
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_str(k, out);
            out.push(b':');
            match v {
                Val::Str(s) => push_json_str(s, out),
                Val::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
                Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            }
        }
        out.push(b'}');
    }
}

/// What the parser found for one record (`enrich.core.parse.Parsed`); `severity` as a code.
struct Parsed<'p> {
    body: String,
    fields: Fields<'p>,
    severity: u8,
}

impl Parsed<'_> {
    fn plain(text: &str) -> Self {
        Parsed {
            body: text.to_owned(),
            fields: Fields::default(),
            severity: 0,
        }
    }
}

#[derive(Clone, Copy)]
struct Level {
    code: u8,
    number: i64,
}

/// The engine that reads a format's groups in one anchored pass, where there is one.
enum Fast {
    /// a one-pass DFA: one scan, no search first
    OnePass(Box<onepass::DFA>),
    /// a bounded backtracker (run from the line's start: no search first either)
    Backtrack(BoundedBacktracker),
}

struct Format {
    name: String,
    /// `\A(?:pattern)`: the anchored match `_captures` runs
    regex: Regex,
    /// the same match in one pass; with `body_tail`, of the pattern without its final
    /// `(?P<body>.*)$` (see `body_prefix`)
    fast: Option<Fast>,
    body_tail: bool,
    /// (group index, name) of the named groups, in index order
    groups: Vec<(usize, String)>,
    /// an unnamed capturing group: `_captures` raises (its names and spans differ in length)
    unnamed: bool,
    kind: Option<Kind>,
    reparse: bool,
    levels: Map<Level>,
}

/// What a format's engine reuses from line to line.
enum FastScratch {
    OnePass(onepass::Cache, Captures),
    Backtrack(backtrack::Cache, Captures),
}

/// What a batch's matches reuse: the engines' caches and capture slots, per format.
#[derive(Default)]
struct Scratch {
    /// the cache of `Parser.first` (its lazy DFA's states): a scratch is kept by the parser
    /// between calls (`Parser.idle`), so the threads `front` starts for each part find it
    /// filled rather than determinising the formats again
    first: Option<regex_automata::meta::Cache>,
    fast: Vec<Option<FastScratch>>,
    locs: Vec<Option<CaptureLocations>>,
    spans: Vec<Option<(usize, usize)>>,
    /// lines parsed within lines (a logfmt msg of a logfmt msg ...) for this record
    nesting: u32,
}

/// Nested lines deeper than this are left to Python (which raises RecursionError some
/// 250 levels down) rather than risk the native stack.
const MAX_NESTING: u32 = 64;

const BODY_TAIL: &str = "(?P<body>.*)$";

/// The pattern without a final top-level `(?P<body>.*)$`. On a line with no "\n" the
/// pattern's match is the prefix's (leftmost-first) match and the body the rest of the
/// line, whatever path the prefix takes: `.*$` matches any rest.
fn body_prefix(pattern: &str) -> Option<&str> {
    let prefix = pattern.strip_suffix(BODY_TAIL)?;
    let cs: Vec<char> = prefix.chars().collect();
    let (mut depth, mut class, mut i) = (0i32, 0i32, 0);
    while i < cs.len() {
        match cs[i] {
            '\\' => i += 1,
            '[' => {
                class += 1;
                if cs.get(i + 1) == Some(&'^') {
                    i += 1;
                }
                if class == 1 && cs.get(i + 1) == Some(&']') {
                    i += 1; // a leading "]" is a literal
                }
            }
            ']' if class > 0 => class -= 1,
            _ if class > 0 => {}
            '(' => depth += 1,
            ')' => depth -= 1,
            '|' if depth == 0 => return None,
            _ => {}
        }
        i += 1;
    }
    (i == cs.len() && depth == 0 && class == 0).then_some(prefix)
}

/// A JSON key as `_lookup` reads it: the flat key, else the dotted path. `slot`, `first`:
/// where a dict's scan puts the values of the flat key and of the path's first part.
struct Key {
    name: String,
    py: Py<PyString>,
    slot: usize,
    /// the dotted path: its first part (and slot), then the rest
    first: Option<(Py<PyString>, usize)>,
    rest: Vec<Py<PyString>>,
    rest_names: Vec<String>,
}

/// A value `_lookup` found, as far as the parser tells them apart.
enum JVal {
    Missing, // absent or null
    Str(String),
    Int(i64),
    BigInt,
    Float(f64),
    Bool(bool),
    Container, // dict or list
}

/// A JSON record's data: a decoded dict, or logfmt's pairs.
trait Data {
    fn lookup(&self, key: &Key) -> R<JVal>;
}

fn jval(v: &Bound<'_, PyAny>) -> R<JVal> {
    if v.is_none() {
        Ok(JVal::Missing)
    } else if let Ok(s) = v.cast_exact::<PyString>() {
        Ok(JVal::Str(s.to_str()?.to_owned())) // a lone surrogate: Python's
    } else if v.is_exact_instance_of::<PyBool>() {
        Ok(JVal::Bool(v.is_truthy()?))
    } else if v.is_exact_instance_of::<PyInt>() {
        Ok(v.extract::<i64>().map_or(JVal::BigInt, JVal::Int))
    } else if let Ok(f) = v.cast_exact::<PyFloat>() {
        Ok(JVal::Float(f.value()))
    } else if v.is_exact_instance_of::<PyDict>() || v.is_exact_instance_of::<PyList>() {
        Ok(JVal::Container)
    } else {
        Err(Bail) // a type JSON does not give
    }
}

/// A decoded JSON object. A small one is scanned once, its values put in the slots of the
/// keys the parser reads; a large one is looked up key by key.
struct DictData<'a, 'py> {
    dict: &'a Bound<'py, PyDict>,
    slots: Option<Vec<Option<Bound<'py, PyAny>>>>,
}

impl<'a, 'py> DictData<'a, 'py> {
    fn new(dict: &'a Bound<'py, PyDict>, index: &Map<usize>) -> R<Self> {
        if dict.len() > SCAN_MAX {
            return Ok(DictData { dict, slots: None });
        }
        let mut slots = vec![None; index.len()];
        for (k, v) in dict.iter() {
            let Ok(k) = k.cast_exact::<PyString>() else {
                return Err(Bail); // not a JSON key
            };
            let Ok(k) = k.to_str() else {
                continue; // a lone surrogate: none of the parser's keys
            };
            if let Some(&slot) = index.get(k) {
                slots[slot] = Some(v);
            }
        }
        Ok(DictData {
            dict,
            slots: Some(slots),
        })
    }

    fn get(&self, py_key: &Py<PyString>, slot: usize) -> R<Option<Bound<'py, PyAny>>> {
        Ok(match &self.slots {
            Some(slots) => slots[slot].clone(),
            None => self.dict.get_item(py_key.bind(self.dict.py()))?,
        })
    }
}

impl Data for DictData<'_, '_> {
    fn lookup(&self, key: &Key) -> R<JVal> {
        if let Some(v) = self.get(&key.py, key.slot)? {
            return jval(&v);
        }
        let Some((first, slot)) = &key.first else {
            return Ok(JVal::Missing);
        };
        let Some(mut node) = self.get(first, *slot)? else {
            return Ok(JVal::Missing);
        };
        let py = self.dict.py();
        for part in &key.rest {
            let Ok(dict) = node.cast_exact::<PyDict>() else {
                jval(&node)?; // not a Mapping: a JSON value (else left to Python)
                return Ok(JVal::Missing);
            };
            match dict.get_item(part.bind(py))? {
                Some(v) => node = v,
                None => return Ok(JVal::Missing),
            }
        }
        jval(&node)
    }
}

/// A JSON object's members, as `json::parse` reads them.
type Members<'v> = Vec<(Cow<'v, str>, json::Node<'v>)>;

/// A value as `decode` reads it (the records the native front takes).
enum Decoded<'v> {
    /// a plain line, stripped
    Plain(&'v str),
    /// a strict JSON object (a verbatim record) and its text, stripped ("" if none)
    Record { obj: Members<'v>, text: String },
}

/// A JSON object read natively: the values of the keys the parser reads in their slots
/// (the last one where a key repeats, as in a Python dict).
struct ObjData<'n, 'v> {
    slots: Vec<Option<&'n json::Node<'v>>>,
}

impl<'n, 'v> ObjData<'n, 'v> {
    fn new(obj: &'n Members<'v>, index: &Map<usize>) -> Self {
        let mut slots = vec![None; index.len()];
        for (k, v) in obj {
            if let Some(&slot) = index.get(k.as_ref()) {
                slots[slot] = Some(v);
            }
        }
        ObjData { slots }
    }

    /// `lookup(data, key)`: the flat key, else the dotted path (None where neither is).
    fn node(&self, key: &Key) -> Option<&'n json::Node<'v>> {
        if let Some(v) = self.slots[key.slot] {
            return Some(v);
        }
        let (_, slot) = key.first.as_ref()?;
        let mut node = self.slots[*slot]?;
        for part in &key.rest_names {
            let json::Node::Object(members) = node else {
                return None;
            };
            node = json::get(members, part)?;
        }
        Some(node)
    }
}

impl Data for ObjData<'_, '_> {
    fn lookup(&self, key: &Key) -> R<JVal> {
        Ok(match self.node(key) {
            None | Some(json::Node::Null) => JVal::Missing,
            Some(json::Node::Str(s)) => JVal::Str(s.to_string()),
            Some(json::Node::Int(n)) => JVal::Int(*n),
            Some(json::Node::BigInt) => JVal::BigInt,
            Some(json::Node::Float(f)) => JVal::Float(*f),
            Some(json::Node::Bool(b)) => JVal::Bool(*b),
            Some(json::Node::Array | json::Node::Object(_)) => JVal::Container,
        })
    }
}

/// logfmt's pairs as a dict of strings: a dotted key is found flat or not at all.
struct Pairs(Vec<(String, String)>);

impl Pairs {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl Data for Pairs {
    fn lookup(&self, key: &Key) -> R<JVal> {
        Ok(self
            .get(&key.name)
            .map_or(JVal::Missing, |v| JVal::Str(v.to_owned())))
    }
}
/// An RE2 pattern in the `regex` crate's syntax, with the same meaning: RE2's `\d`, `\s`,
/// `\w` and `\b` are ASCII-only (`\s` without `\v`); RE2 takes `\<`, `\>` and a brace that
/// is no `{n}`, `{n,}` or `{n,m}` literally, and in a character class `[`, `&` and `~`,
/// where the `regex` crate reads word boundaries, repetitions (`{,3}`, `{ 2}`) or nested and
/// combined classes. What the `regex` crate refuses makes the caller parse in Python.
fn translate(pattern: &str) -> Result<String, String> {
    let cs: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '\\' {
            let Some(&n) = cs.get(i + 1) else {
                return Err("trailing backslash".into());
            };
            let spelled = match n {
                'd' => Some("[0-9]"),
                'D' => Some("[^0-9]"),
                's' => Some(r"[\t\n\f\r ]"),
                'S' => Some(r"[^\t\n\f\r ]"),
                'w' => Some("[0-9A-Za-z_]"),
                'W' => Some("[^0-9A-Za-z_]"),
                'b' if !in_class => Some(r"(?-u:\b)"),
                'B' if !in_class => Some(r"(?-u:\B)"),
                _ => None,
            };
            match spelled {
                Some(s) => out.push_str(s),
                None if !in_class && (n == '<' || n == '>') => out.push(n),
                None if matches!(n, 'p' | 'P' | 'x') && cs.get(i + 2) == Some(&'{') => {
                    // \p{Greek}, \x{41}: copied through the brace
                    let end = (i + 3..cs.len())
                        .find(|&k| cs[k] == '}')
                        .ok_or("unclosed \\p{")?;
                    out.extend(&cs[i..=end]);
                    i = end + 1;
                    continue;
                }
                None => {
                    out.push('\\');
                    out.push(n);
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' if i != class_start => in_class = false,
                '[' if cs.get(i + 1) == Some(&':') => {
                    // [:alpha:] and the like: copied through ":]"
                    let end = (i + 2..cs.len().saturating_sub(1))
                        .find(|&k| cs[k] == ':' && cs[k + 1] == ']')
                        .ok_or("unclosed [: in a character class")?;
                    out.extend(&cs[i..end + 2]);
                    i = end + 2;
                    continue;
                }
                '[' | '&' | '~' => out.push('\\'),
                '-' if cs.get(i + 1) == Some(&'-') => {
                    return Err("'--' in a character class".into());
                }
                _ => {}
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '{' {
            // RE2's counted repetitions: {n}, {n,}, {n,m}; any other brace is a literal
            let digits = |k: usize| {
                (k..cs.len())
                    .take_while(|&j| cs[j].is_ascii_digit())
                    .count()
            };
            let n = digits(i + 1);
            let mut k = i + 1 + n;
            if n > 0 && cs.get(k) == Some(&',') {
                k += 1 + digits(k + 1);
            }
            if n > 0 && cs.get(k) == Some(&'}') {
                out.extend(&cs[i..=k]);
                i = k + 1;
            } else {
                out.push_str("\\{");
                i += 1;
            }
            continue;
        }
        if c == '}' {
            out.push_str("\\}");
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
        if c == '[' {
            in_class = true;
            if cs.get(i) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            class_start = i;
        }
    }
    Ok(out)
}

fn spec_err(what: &str) -> PyErr {
    PyValueError::new_err(format!("parser spec: {what}"))
}

fn get<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(key)?
        .ok_or_else(|| spec_err(&format!("missing {key:?}")))
}

#[pyclass(frozen, module = "enrich_native")]
pub struct Parser {
    formats: Vec<Format>,
    set: RegexSet,
    /// the formats (each without its final `(?P<body>.*)$`) as one leftmost-first regex
    /// searched from the line's start, when every match of every format starts there: on a
    /// line with no "\n" its match is the first format that matches (the set's first hit),
    /// found without scanning the whole line for every format
    first: Option<regex_automata::meta::Regex>,
    /// scratches of earlier calls, with their engines' caches, for the next ones
    idle: Idle<Scratch>,
    levels: Map<Level>,
    /// the levels of syslog's severities 0-7 and of pino's 10-60, in `levels`
    syslog: [Option<Level>; 8],
    pino: [Option<Level>; 6],
    group_fields: Map<String>,
    int_fields: Vec<String>,
    json_level_keys: Vec<Key>,
    json_number_keys: Vec<Key>,
    json_fields: Vec<(String, Vec<Key>)>,
    /// the slots of a scanned dict: every key (and first part of a dotted key) read
    key_slots: Map<usize>,
    otel_codes: [u8; 6],
    /// `decode`'s defaults, as `_inner` decodes a JSON text inside a line
    text_keys: Vec<Key>,
    max_bytes: usize,
}

fn read_levels(obj: &Bound<'_, PyAny>, severities: &[String]) -> PyResult<Map<Level>> {
    let mut out = Map::default();
    for (k, v) in obj.cast::<PyDict>()?.iter() {
        let pair = v.cast::<PyList>()?;
        if pair.len() != 2 {
            return Err(spec_err("a level is [severity, number]"));
        }
        let severity: String = pair.get_item(0)?.extract()?;
        let number: i64 = pair.get_item(1)?.extract()?;
        let code = severities
            .iter()
            .position(|s| *s == severity)
            .ok_or_else(|| spec_err(&format!("unknown severity {severity:?}")))?;
        out.insert(
            k.extract()?,
            Level {
                code: code as u8 + 1,
                number,
            },
        );
    }
    Ok(out)
}

fn read_keys(py: Python<'_>, obj: &Bound<'_, PyAny>, slots: &mut Map<usize>) -> PyResult<Vec<Key>> {
    let names: Vec<String> = obj.extract()?;
    let mut slot_of = |name: &str| {
        let next = slots.len();
        *slots.entry(name.to_owned()).or_insert(next)
    };
    Ok(names
        .into_iter()
        .map(|name| {
            let parts: Vec<&str> = name.split('.').collect();
            let (first, rest) = if parts.len() > 1 {
                let first = (PyString::new(py, parts[0]).unbind(), slot_of(parts[0]));
                let rest = parts[1..]
                    .iter()
                    .map(|p| PyString::new(py, p).unbind())
                    .collect();
                (Some(first), rest)
            } else {
                (None, Vec::new())
            };
            let rest_names = parts.iter().skip(1).map(|p| (*p).to_owned()).collect();
            Key {
                py: PyString::new(py, &name).unbind(),
                slot: slot_of(&name),
                first,
                rest,
                rest_names,
                name,
            }
        })
        .collect())
}

/// `written.strip().lower()` of an ASCII level, in `buf` where it fits.
fn level_key<'b>(written: &str, buf: &'b mut [u8; 32], owned: &'b mut String) -> &'b str {
    let s = py_strip(written).as_bytes();
    if s.len() <= buf.len() {
        for (d, c) in buf.iter_mut().zip(s) {
            *d = c.to_ascii_lowercase();
        }
        std::str::from_utf8(&buf[..s.len()]).expect("ASCII")
    } else {
        *owned = py_strip(written).to_ascii_lowercase();
        owned
    }
}

impl Parser {
    fn level(&self, written: &str, fmt: Option<&Format>) -> R<Option<Level>> {
        if !written.is_ascii() {
            return Err(Bail); // Python's Unicode strip() and lower()
        }
        let (mut buf, mut owned) = ([0u8; 32], String::new());
        let key = level_key(written, &mut buf, &mut owned);
        if let Some(l) = fmt.and_then(|f| f.levels.get(key)) {
            return Ok(Some(*l));
        }
        Ok(self.levels.get(key).copied())
    }

    /// `_number_level`
    fn number_level(&self, key: &str, value: i64) -> Option<Level> {
        if key == "SeverityNumber" || key == "severity_number" {
            if !(1..=24).contains(&value) {
                return None;
            }
            return Some(Level {
                code: self.otel_codes[((value - 1) / 4) as usize],
                number: value,
            });
        }
        if key == "level" {
            if let Some(i) = PINO.iter().position(|(n, _)| *n == value) {
                return self.pino[i];
            }
        }
        if (0..=7).contains(&value) {
            return self.syslog[value as usize];
        }
        None
    }

    /// The spans of the groups (by index) of format `i`'s anchored match, in
    /// `scratch.spans`; false if it does not match.
    fn captures(&self, i: usize, text: &str, scratch: &mut Scratch) -> bool {
        let fmt = &self.formats[i];
        if scratch.fast.len() < self.formats.len() {
            scratch.fast.resize_with(self.formats.len(), || None);
            scratch.locs.resize_with(self.formats.len(), || None);
        }
        let spans = &mut scratch.spans;
        spans.clear();
        if !fmt.body_tail || !text.contains('\n') {
            let input = Input::new(text).anchored(Anchored::Yes);
            let caps = match (&fmt.fast, &mut scratch.fast[i]) {
                (Some(Fast::OnePass(dfa)), slot) => {
                    let FastScratch::OnePass(cache, caps) = slot.get_or_insert_with(|| {
                        FastScratch::OnePass(dfa.create_cache(), dfa.create_captures())
                    }) else {
                        unreachable!("a format's scratch is of its engine")
                    };
                    dfa.captures(cache, input, caps);
                    Some(&*caps)
                }
                (Some(Fast::Backtrack(bt)), slot) => {
                    let FastScratch::Backtrack(cache, caps) = slot.get_or_insert_with(|| {
                        FastScratch::Backtrack(bt.create_cache(), bt.create_captures())
                    }) else {
                        unreachable!("a format's scratch is of its engine")
                    };
                    // too long a line for its visited set: the regex below
                    bt.try_search(cache, &input, caps).ok().map(|()| &*caps)
                }
                (None, _) => None,
            };
            if let Some(caps) = caps {
                if !caps.is_match() {
                    return false;
                }
                spans.extend(
                    (0..caps.group_len()).map(|g| caps.get_group(g).map(|s| (s.start, s.end))),
                );
                if fmt.body_tail {
                    let end = spans[0].map_or(0, |(_, e)| e);
                    spans.push(Some((end, text.len())));
                }
                return true;
            }
        }
        let locs = scratch.locs[i].get_or_insert_with(|| fmt.regex.capture_locations());
        if fmt.regex.captures_read(locs, text).is_none() {
            return false;
        }
        spans.extend((0..locs.len()).map(|g| locs.get(g)));
        true
    }

    /// `LogFormats.parse_line`
    fn parse_line<'p>(
        &'p self,
        scratch: &mut Scratch,
        text: &str,
        year: Option<i64>,
        depth: u32,
    ) -> R<Parsed<'p>> {
        if scratch.nesting >= MAX_NESTING {
            return Err(Bail);
        }
        scratch.nesting += 1;
        let parsed = self.parse_line_nested(scratch, text, year, depth);
        scratch.nesting -= 1;
        parsed
    }

    fn parse_line_nested<'p>(
        &'p self,
        scratch: &mut Scratch,
        text: &str,
        year: Option<i64>,
        depth: u32,
    ) -> R<Parsed<'p>> {
        let hit = if self.formats.is_empty() {
            None
        } else {
            match &self.first {
                // a line with no "\n": a pattern's prefix before its `(?P<body>.*)$` matches
                // where the pattern does (see `body_prefix`)
                Some(first) if !text.contains('\n') => {
                    let cache = scratch.first.get_or_insert_with(|| first.create_cache());
                    first
                        .search_half_with(cache, &Input::new(text).anchored(Anchored::Yes))
                        .map(|m| m.pattern().as_usize())
                }
                _ => self.set.matches(text).iter().next(),
            }
        };
        let Some(i) = hit else {
            return Ok(match self.logfmt(scratch, text, year)? {
                Some(p) => p,
                None => Parsed::plain(text),
            });
        };
        let fmt = &self.formats[i];
        if fmt.unnamed {
            return Err(Bail);
        }
        if !self.captures(i, text, scratch) {
            return Ok(Parsed::plain(text));
        }
        let mut fields = Fields::default();
        fields.set("format", Val::Str(fmt.name.clone()));
        let mut body = None;
        for (gi, name) in &fmt.groups {
            let value = scratch
                .spans
                .get(*gi)
                .copied()
                .flatten()
                .map(|(s, e)| &text[s..e]);
            if name == "body" {
                body = value;
                continue;
            }
            let Some(value) = value else { continue };
            if value.is_empty() || (value == "-" && name != "level") {
                continue;
            }
            if name == "timestamp" {
                if !value.is_ascii() {
                    return Err(Bail);
                }
                if let Some(stamp) = timestamp::normalize_timestamp(value, fmt.kind, year)? {
                    fields.set("timestamp", Val::Str(stamp));
                }
                continue;
            }
            let out: &'p str = self.group_fields.get(name.as_str()).unwrap_or(name);
            if self.int_fields.iter().any(|f| f == out) {
                if !value.is_ascii() {
                    return Err(Bail); // str.isdigit() is Unicode
                }
                if is_digits(value) {
                    let n = timestamp::digits_to_i64(value).ok_or(Bail)?;
                    fields.set(out, Val::Int(n));
                    continue;
                }
            }
            fields.set(out, Val::Str(value.to_owned()));
        }
        let mut severity = 0;
        if let Some(written) = fields.get("log.level") {
            let Val::Str(written) = written else {
                return Err(Bail);
            };
            if let Some(level) = self.level(written, Some(fmt))? {
                severity = level.code;
                fields.set("severity_number", Val::Int(level.number));
            } else {
                fields.set("log.level.unknown", Val::Bool(true));
            }
        } else if let Some(Val::Int(pri)) = fields.get("log.syslog.priority") {
            let pri = *pri;
            if let Some(level) = self.syslog[(pri % 8) as usize] {
                severity = level.code;
                fields.set("severity_number", Val::Int(level.number));
                fields.set("log.syslog.facility.code", Val::Int(pri / 8));
            }
        }
        let body = body.unwrap_or(text);
        if fmt.reparse && depth < MAX_DEPTH && !body.is_empty() {
            let inner = self.inner(scratch, body, year, depth + 1)?;
            let mut merged = fields.merged(&inner.fields);
            match inner.fields.get("format") {
                None => {}
                Some(Val::Str(f)) if f.is_empty() => {}
                Some(Val::Str(f)) => merged.set("format", Val::Str(format!("{}/{f}", fmt.name))),
                Some(_) => return Err(Bail),
            }
            if let Some(stamp) = fields.get("timestamp") {
                merged.set("timestamp", stamp.clone());
            }
            return Ok(Parsed {
                body: inner.body,
                fields: merged,
                severity: if inner.severity != 0 {
                    inner.severity
                } else {
                    severity
                },
            });
        }
        Ok(Parsed {
            body: body.to_owned(),
            fields,
            severity,
        })
    }

    /// `LogFormats._inner`: a wrapped line, a JSON record or a line.
    fn inner<'p>(
        &'p self,
        scratch: &mut Scratch,
        text: &str,
        year: Option<i64>,
        depth: u32,
    ) -> R<Parsed<'p>> {
        if text.starts_with('{') {
            // `decode(text)` with its defaults: a record with fields is parsed as a record,
            // anything else (a plain line, a dead letter) as the line it is
            if let Decoded::Record { obj, text: inner } = self.decode(
                text.as_bytes(),
                self.max_bytes,
                &self.text_keys,
                &self.key_slots,
            )? {
                let data = ObjData::new(&obj, &self.key_slots);
                return self.parse_json(scratch, &data, &inner, year, depth);
            }
        }
        self.parse_line(scratch, text, year, depth)
    }

    /// `enrich.core.records.decode(value, max_bytes, text_fields)` for the values it decodes
    /// to a log record: a plain line (its text stripped) or a strict JSON object (verbatim)
    /// and its text. `Bail`: a dead letter, a JSON text that is not a strict JSON object,
    /// or a value the two might read differently (left to Python).
    fn decode<'v>(
        &self,
        value: &'v [u8],
        max_bytes: usize,
        text_keys: &[Key],
        index: &Map<usize>,
    ) -> R<Decoded<'v>> {
        if value.len() > max_bytes {
            return Err(Bail); // a dead letter
        }
        let text = std::str::from_utf8(value).map_err(|_| Bail)?; // a dead letter
        if value.first() == Some(&b'{') {
            match json::parse(text) {
                Ok(json::Node::Object(obj)) => {
                    let found = {
                        let data = ObjData::new(&obj, index);
                        let mut found = None;
                        for key in text_keys {
                            match data.node(key) {
                                None | Some(json::Node::Null) => continue,
                                Some(json::Node::Str(s)) => {
                                    found = Some(s.trim_matches(is_space).to_owned());
                                    break;
                                }
                                Some(_) => return Err(Bail), // a dead letter: not a string
                            }
                        }
                        found
                    };
                    return Ok(Decoded::Record {
                        obj,
                        text: found.unwrap_or_default(),
                    });
                }
                Ok(_) => unreachable!("a JSON text that starts with {{ is an object"),
                Err(json::Fail::Bail) => return Err(Bail),
                Err(json::Fail::Invalid) => {} // the text path decides
            }
        }
        let head = text.trim_start_matches(is_space).as_bytes().first();
        if let Some(b'{' | b'[' | b'"') = head {
            // `json.loads`: a JSON value is a record or a dead letter (Python decides); it
            // also reads NaN and Infinity, which strict JSON does not
            match json::parse(text) {
                Err(json::Fail::Invalid) if !text.contains("NaN") && !text.contains("Infinity") => {
                }
                _ => return Err(Bail),
            }
        }
        Ok(Decoded::Plain(text.trim_matches(is_space)))
    }

    /// `LogFormats._logfmt`
    fn logfmt<'p>(
        &'p self,
        scratch: &mut Scratch,
        text: &str,
        year: Option<i64>,
    ) -> R<Option<Parsed<'p>>> {
        if !text.contains('=')
            || !(LOGFMT_STARTS.iter().any(|s| text.starts_with(s))
                || text.contains(" level=")
                || text.contains(" msg="))
        {
            return Ok(None);
        }
        let pairs = logfmt_pairs(text)?;
        if pairs.get("msg").is_none()
            && pairs.get("message").is_none()
            && pairs.get("level").is_none()
        {
            return Ok(None);
        }
        let body = pairs
            .get("msg")
            .or(pairs.get("message"))
            .unwrap_or("")
            .to_owned();
        let mut out = self.parse_json(scratch, &pairs, &body, year, 0)?;
        out.fields.set("format", Val::Str("logfmt".into()));
        Ok(Some(out))
    }

    /// `LogFormats.parse_record`
    fn parse_record<'p>(
        &'p self,
        py: Python<'_>,
        scratch: &mut Scratch,
        rec: &Bound<'_, PyAny>,
        year: Option<i64>,
        depth: u32,
    ) -> R<Parsed<'p>> {
        let text = rec.getattr(intern!(py, "text"))?;
        let text = text.cast::<PyString>().map_err(|_| Bail)?.to_str()?;
        let data = rec.getattr(intern!(py, "fields"))?;
        if data.is_none() {
            return self.parse_line(scratch, text, year, depth);
        }
        let data = data.cast_exact::<PyDict>().map_err(|_| Bail)?;
        let data = DictData::new(data, &self.key_slots)?;
        self.parse_json(scratch, &data, text, year, depth)
    }

    /// `_json_timestamp`
    fn json_timestamp(&self, value: &JVal) -> R<Option<String>> {
        match value {
            JVal::Int(n) => Ok(timestamp::json_epoch(*n as f64)),
            JVal::Float(f) => Ok(timestamp::json_epoch(*f)),
            JVal::Str(s) => {
                if !s.is_ascii() {
                    return Err(Bail); // isdigit, strip and \d are Unicode
                }
                if is_digits(s) {
                    let n = timestamp::digits_to_i64(s).ok_or(Bail)?;
                    return Ok(timestamp::json_epoch(n as f64));
                }
                // a ValueError (offset) or OverflowError here is not caught by the reference
                match timestamp::from_iso(s)? {
                    None => Ok(None),
                    Some(c) => Ok(Some(timestamp::iso(&c)?)),
                }
            }
            JVal::BigInt => Err(Bail),
            _ => Ok(None),
        }
    }

    /// The JSON half of `LogFormats.parse_record`.
    fn parse_json<'p, D: Data>(
        &'p self,
        scratch: &mut Scratch,
        data: &D,
        text: &str,
        year: Option<i64>,
        depth: u32,
    ) -> R<Parsed<'p>> {
        let mut fields = Fields::default();
        fields.set("format", Val::Str("json".into()));
        for (out, keys) in &self.json_fields {
            let out = out.as_str();
            for key in keys {
                let mut value = data.lookup(key)?;
                if matches!(value, JVal::Missing | JVal::Container) {
                    continue;
                }
                if out == "timestamp" {
                    match self.json_timestamp(&value)? {
                        Some(stamp) => {
                            fields.set(out, Val::Str(stamp));
                            break;
                        }
                        None => continue,
                    }
                } else if out == "log.origin.file.name" {
                    if let JVal::Str(caller) = &value {
                        // zap's and go-kit's caller: "file.go:42"
                        if let Some((file, line)) = caller.rsplit_once(':') {
                            if !line.is_ascii() {
                                return Err(Bail); // str.isdigit() is Unicode
                            }
                            if !file.is_empty() && is_digits(line) {
                                let n = timestamp::digits_to_i64(line).ok_or(Bail)?;
                                fields.set(out, Val::Str(file.to_owned()));
                                fields.set("log.origin.file.line", Val::Int(n));
                                break;
                            }
                        }
                    }
                } else if self.int_fields.iter().any(|f| f == out) {
                    if let JVal::Str(digits) = &value {
                        if !digits.is_ascii() {
                            return Err(Bail);
                        }
                        if is_digits(digits) {
                            value = JVal::Int(timestamp::digits_to_i64(digits).ok_or(Bail)?);
                        }
                    }
                }
                let value = match value {
                    JVal::Str(s) => Val::Str(s),
                    JVal::Int(n) => Val::Int(n),
                    JVal::Bool(b) => Val::Bool(b),
                    _ => return Err(Bail), // a float or a big int in the output
                };
                fields.set(out, value);
                break;
            }
        }
        let mut severity = 0;
        let mut written = None;
        for key in &self.json_level_keys {
            if let JVal::Str(s) = data.lookup(key)? {
                if !s.is_ascii() {
                    return Err(Bail);
                }
                if !py_strip(&s).is_empty() {
                    written = Some(s);
                    break;
                }
            }
        }
        if let Some(written) = written {
            let level = self.level(&written, None)?;
            fields.set("log.level", Val::Str(written));
            if let Some(level) = level {
                severity = level.code;
                fields.set("severity_number", Val::Int(level.number));
            } else {
                fields.set("log.level.unknown", Val::Bool(true));
            }
        } else {
            for key in &self.json_number_keys {
                let n = match data.lookup(key)? {
                    JVal::Str(s) if !s.is_ascii() => return Err(Bail),
                    JVal::Str(s) if is_digits(&s) => timestamp::digits_to_i64(&s).ok_or(Bail)?,
                    JVal::Int(n) => n,
                    JVal::BigInt => return Err(Bail),
                    _ => continue,
                };
                let level = self.number_level(&key.name, n);
                fields.set("log.level", Val::Int(n));
                if let Some(level) = level {
                    severity = level.code;
                    fields.set("severity_number", Val::Int(level.number));
                } else {
                    fields.set("log.level.unknown", Val::Bool(true));
                }
                break;
            }
        }
        // the text is parsed again: a shipper's or a container runtime's record of a line;
        // the record's own keys win over its text's header
        if !text.is_empty() && depth < MAX_DEPTH {
            let inner = self.inner(scratch, text.trim_end_matches('\n'), year, depth + 1)?;
            match inner.fields.get("format") {
                None => {}
                Some(Val::Str(f)) if f.is_empty() => {}
                Some(Val::Str(f)) => {
                    let format = format!("json/{f}");
                    for (k, v) in &inner.fields.0 {
                        if fields.get(k).is_none() {
                            fields.0.push((k, v.clone()));
                        }
                    }
                    fields.set("format", Val::Str(format));
                    return Ok(Parsed {
                        body: inner.body,
                        fields,
                        severity: if severity != 0 {
                            severity
                        } else {
                            inner.severity
                        },
                    });
                }
                Some(_) => return Err(Bail),
            }
        }
        Ok(Parsed {
            body: text.to_owned(),
            fields,
            severity,
        })
    }
}

/// Python's `str.isspace` (what `re`'s `\s` matches in a `str` pattern): ASCII's and
/// Unicode's White_Space characters, the same set for every Unicode version since 6.3.
fn is_space(c: char) -> bool {
    if c.is_ascii() {
        return timestamp::PYSPACE[c as usize];
    }
    matches!(
        c,
        '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// `{k: _unquote(v) for k, v in _LOGFMT_PAIR.findall(text)}`, where `_LOGFMT_PAIR` is
/// `([\w.@-]+)=("(?:[^"\\]|\\.)*"|\S*)`. Python's `\w` is Unicode: a word with a non-ASCII
/// letter right before a "=" is left to Python (elsewhere it cannot change the pairs).
fn logfmt_pairs(text: &str) -> R<Pairs> {
    let b = text.as_bytes();
    let n = b.len();
    let is_key = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'@' | b'-');
    let mut pairs = Pairs(Vec::new());
    let mut i = 0;
    while i < n {
        if b[i].is_ascii() && !is_key(b[i]) {
            i += 1;
            continue;
        }
        // a run of key characters, and of non-ASCII ones that may be (\w) or not: it
        // matches only if "=" follows it, from its start
        let start = i;
        let mut unicode = false;
        while i < n {
            if b[i].is_ascii() {
                if !is_key(b[i]) {
                    break;
                }
                i += 1;
            } else {
                let c = text[i..].chars().next().expect("a char boundary");
                if is_space(c) {
                    break;
                }
                unicode = true;
                i += c.len_utf8();
            }
        }
        if i == start {
            i += text[i..].chars().next().map_or(1, char::len_utf8); // a Unicode space
            continue;
        }
        if i >= n || b[i] != b'=' {
            continue;
        }
        if unicode {
            return Err(Bail);
        }
        let key = &text[start..i];
        let v = i + 1;
        let mut end = None;
        if v < n && b[v] == b'"' {
            let mut k = v + 1;
            while k < n {
                match b[k] {
                    b'"' => {
                        end = Some(k + 1);
                        break;
                    }
                    b'\\' if k + 1 < n && b[k + 1] != b'\n' => {
                        k += 1;
                        k += text[k..].chars().next().map_or(1, char::len_utf8);
                    }
                    b'\\' => break,
                    _ => k += 1,
                }
            }
        }
        let end = end.unwrap_or_else(|| {
            text[v..]
                .char_indices()
                .find(|&(_, c)| is_space(c))
                .map_or(n, |(k, _)| v + k)
        });
        let value = unquote(&text[v..end])?;
        match pairs.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => pairs.0.push((key.to_owned(), value)),
        }
        i = end;
    }
    Ok(pairs)
}

/// `_unquote`: a quoted value is read as a JSON string (`json.loads`), else kept without
/// its quotes.
fn unquote(v: &str) -> R<String> {
    let b = v.as_bytes();
    if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
        return Ok(match json_string(&v[1..v.len() - 1])? {
            Some(s) => s,
            None => v[1..v.len() - 1].to_owned(),
        });
    }
    Ok(v.to_owned())
}

/// The contents of a JSON string as CPython's `json` (strict) reads them: None where it
/// raises; `Bail` for a lone surrogate, which a Rust string cannot hold.
pub(crate) fn json_string(inner: &str) -> R<Option<String>> {
    let b = inner.as_bytes();
    let mut out = String::with_capacity(b.len());
    let hex4 = |i: usize| -> Option<u32> {
        let h = b.get(i..i + 4)?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut i = 0;
    let mut run = 0; // start of the bytes copied as they are
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | 0x00..=0x1f => return Ok(None), // extra data; a control character
            b'\\' => {
                out.push_str(&inner[run..i]);
                let Some(&e) = b.get(i + 1) else {
                    return Ok(None);
                };
                i += 2;
                let ch = match e {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let Some(u) = hex4(i) else {
                            return Ok(None);
                        };
                        i += 4;
                        if (0xd800..0xdc00).contains(&u) {
                            let low = (b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u'))
                                .then(|| hex4(i + 2))
                                .flatten()
                                .filter(|l| (0xdc00..0xe000).contains(l));
                            let Some(low) = low else {
                                return Err(Bail); // a lone surrogate
                            };
                            i += 6;
                            char::from_u32(0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00))
                                .ok_or(Bail)?
                        } else {
                            char::from_u32(u).ok_or(Bail)? // a lone low surrogate
                        }
                    }
                    _ => return Ok(None),
                };
                out.push(ch);
                run = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&inner[run..]);
    Ok(Some(out))
}

/// A record's year: None, or an int that fits (else the record is left to Python).
fn year_of(y: &Bound<'_, PyAny>) -> R<Option<i64>> {
    if y.is_none() {
        return Ok(None);
    }
    if !y.is_exact_instance_of::<PyInt>() {
        return Err(Bail);
    }
    Ok(Some(y.extract::<i64>()?))
}

/// The engine for a format's pattern (`fast`: it, or its prefix before the body) that
/// reads its groups without a search first.
fn fast_engine(fast: &str) -> Option<Fast> {
    if let Ok(dfa) = onepass::DFA::new(fast) {
        return Some(Fast::OnePass(Box::new(dfa)));
    }
    BoundedBacktracker::new(fast).ok().map(Fast::Backtrack)
}

/// What `Parser.front` read, kept on this side: each value's body, parsed fields' JSON and
/// output head, by the value's index (`None` for a value left to Python, and for the head of
/// a value of kind 3). `encode_front` writes the output values from it.
#[pyclass(frozen)]
pub struct FrontBatch {
    arenas: Vec<Arena>,
    /// values per arena (the last may have fewer)
    per: usize,
    n: usize,
}

impl FrontBatch {
    fn out(&self, row: usize) -> Option<(&Arena, &FrontOut)> {
        if row >= self.n {
            return None;
        }
        let arena = &self.arenas[row / self.per];
        arena.outs[row % self.per].as_ref().map(|o| (arena, o))
    }

    /// The head of the output value of `row` (None: left to Python, or of kind 3).
    pub(crate) fn head_of(&self, row: usize) -> Option<&[u8]> {
        let (arena, o) = self.out(row)?;
        (o.kind != 3).then(|| &arena.bytes[o.head.0..o.head.1])
    }

    pub(crate) fn body_of(&self, row: usize) -> Option<&str> {
        let (arena, o) = self.out(row)?;
        Some(arena.str(o.body))
    }

    pub(crate) fn fields_of(&self, row: usize) -> Option<&[u8]> {
        let (arena, o) = self.out(row)?;
        Some(&arena.bytes[o.fields.0..o.fields.1])
    }
}

#[pymethods]
impl FrontBatch {
    fn __len__(&self) -> usize {
        self.n
    }

    fn body<'py>(&self, py: Python<'py>, row: usize) -> Option<Bound<'py, PyString>> {
        let (arena, o) = self.out(row)?;
        Some(PyString::new(py, arena.str(o.body)))
    }

    fn fields<'py>(&self, py: Python<'py>, row: usize) -> Option<Bound<'py, PyBytes>> {
        self.fields_of(row).map(|b| PyBytes::new(py, b))
    }

    fn head<'py>(&self, py: Python<'py>, row: usize) -> Option<Bound<'py, PyBytes>> {
        self.head_of(row).map(|b| PyBytes::new(py, b))
    }

    /// `matcher.first([body of row])` for each of `rows`, without the GIL and without a
    /// Python string a body: -2 for a value left to Python (the caller matches its body).
    fn first_rule(
        &self,
        py: Python<'_>,
        matcher: PyRef<'_, crate::rules::RuleMatcher>,
        rows: Vec<usize>,
    ) -> Vec<i64> {
        let matcher = &*matcher;
        py.detach(|| {
            let mut caches = matcher.take();
            let out = rows
                .iter()
                .map(|&row| {
                    self.body_of(row)
                        .map_or(-2, |body| matcher.first_with(&mut caches, body))
                })
                .collect();
            matcher.give(caches);
            out
        })
    }
}

/// Parts smaller than this are not split between threads.
const FRONT_MIN_PER_THREAD: usize = 2048;

/// What `front` reads its values with.
struct FrontCtx<'a> {
    data: &'a [u8],
    max_bytes: usize,
    text_keys: &'a [Key],
    index: &'a Map<usize>,
    reserved: &'a [String],
    /// the splitting rules' matcher: each ASCII body's first one is found here too
    split: Option<&'a crate::rules::RuleMatcher>,
}

/// What `front` found for one value (None: left to Python); the ranges are in its
/// thread's `Arena`.
struct FrontOut {
    kind: u8,
    code: u8,
    body: (usize, usize),
    fields: (usize, usize),
    head: (usize, usize),
    /// the normalised body's index in its arena's `distinct`, where it is ASCII (else -1)
    norm: i32,
    /// the first splitting rule matching the body (`RuleMatcher.first`)
    split: i64,
}

/// A thread's results: every body, fields' JSON, head and normalised body, one after the
/// other (one buffer rather than four allocations a value).
struct Arena {
    bytes: Vec<u8>,
    outs: Vec<Option<FrontOut>>,
    /// the distinct normalised bodies of this arena's values, in order of first appearance
    distinct: Vec<(usize, usize)>,
}

impl Arena {
    fn str(&self, (start, end): (usize, usize)) -> &str {
        std::str::from_utf8(&self.bytes[start..end]).expect("the arena holds UTF-8 text here")
    }
}

impl Parser {
    /// A scratch left by an earlier call (its engines' caches filled), or a new one.
    fn take_scratch(&self) -> Scratch {
        self.idle.take(Scratch::default)
    }

    /// Give back what `take_scratch` gave, for the next call.
    fn give_scratch(&self, mut scratch: Scratch) {
        scratch.nesting = 0;
        self.idle.give(scratch);
    }

    /// `front`'s work for consecutive values, without the GIL.
    fn front_range(
        &self,
        ctx: &FrontCtx<'_>,
        inputs: &[Option<(usize, usize, Option<i64>)>],
    ) -> Arena {
        let mut scratch = self.take_scratch();
        let mut spans = Vec::with_capacity(64);
        let mut norm = String::with_capacity(256);
        let mut bytes: Vec<u8> = Vec::with_capacity(inputs.len() * 256);
        let mut outs = Vec::with_capacity(inputs.len());
        let mut distinct: Vec<(usize, usize)> = Vec::new();
        let mut seen: HashMap<String, i32, BuildHasherDefault<Words>> = HashMap::default();
        let mut split_caches = ctx.split.map(crate::rules::RuleMatcher::take);
        for input in inputs {
            let Some((start, len, year)) = *input else {
                outs.push(None);
                continue;
            };
            scratch.nesting = 0;
            let value = &ctx.data[start..start + len];
            let mark = bytes.len();
            let Ok((kind, p)) = self.front_one(ctx, value, year, &mut scratch, &mut bytes) else {
                bytes.truncate(mark);
                outs.push(None);
                continue;
            };
            let head = (mark, bytes.len());
            let body = (bytes.len(), bytes.len() + p.body.len());
            bytes.extend_from_slice(p.body.as_bytes());
            let f0 = bytes.len();
            p.fields.encode(&mut bytes);
            let fields = (f0, bytes.len());
            let norm_at = if p.body.is_ascii() {
                norm.clear();
                crate::normalize_ascii(&p.body, &mut spans, &mut norm);
                match seen.get(norm.as_str()) {
                    Some(&at) => at,
                    None => {
                        let at = distinct.len() as i32;
                        let n0 = bytes.len();
                        bytes.extend_from_slice(norm.as_bytes());
                        distinct.push((n0, bytes.len()));
                        seen.insert(norm.clone(), at);
                        at
                    }
                }
            } else {
                -1
            };
            let split = match (ctx.split, split_caches.as_mut()) {
                (Some(m), Some(c)) => m.first_with(c, &p.body),
                _ => -2,
            };

            outs.push(Some(FrontOut {
                kind,
                code: p.severity,
                body,
                fields,
                head,
                norm: norm_at,
                split,
            }));
        }
        if let (Some(m), Some(c)) = (ctx.split, split_caches) {
            m.give(c);
        }
        self.give_scratch(scratch);
        Arena {
            bytes,
            outs,
            distinct,
        }
    }

    /// One value: its kind (1 a line, 2 a JSON object, 3 one with a reserved key), what
    /// the parser found, and the head of its output value (left empty for kind 3).
    fn front_one<'p>(
        &'p self,
        ctx: &FrontCtx<'_>,
        value: &[u8],
        year: Option<i64>,
        scratch: &mut Scratch,
        head: &mut Vec<u8>,
    ) -> R<(u8, Parsed<'p>)> {
        match self.decode(value, ctx.max_bytes, ctx.text_keys, ctx.index)? {
            Decoded::Plain(text) => {
                let parsed = self.parse_line(scratch, text, year, 0)?;
                head.reserve(text.len() + 16);
                head.extend_from_slice(b"{\"message\":");
                push_json_str(text, head);
                head.push(b',');
                Ok((1, parsed))
            }
            Decoded::Record { obj, text } => {
                let parsed = {
                    let data = ObjData::new(&obj, ctx.index);
                    self.parse_json(scratch, &data, &text, year, 0)?
                };
                if obj.iter().any(|(k, _)| ctx.reserved.iter().any(|r| r == k)) {
                    return Ok((3, parsed));
                }
                let end = value
                    .iter()
                    .rposition(|&c| !crate::SPACE[c as usize])
                    .unwrap_or(0);
                head.extend_from_slice(&value[..end]); // up to its closing brace
                if !obj.is_empty() {
                    head.push(b',');
                }
                Ok((2, parsed))
            }
        }
    }
}

#[pymethods]
impl Parser {
    /// Build from `LogFormats.spec()`. ValueError names a format whose regex the `regex`
    /// crate does not take (the caller then parses in Python).
    #[new]
    fn new(py: Python<'_>, spec: &str) -> PyResult<Self> {
        let spec = py.import("json")?.call_method1("loads", (spec,))?;
        let spec = spec.cast::<PyDict>()?;
        let severities: Vec<String> = get(spec, "severities")?.extract()?;
        let levels = read_levels(&get(spec, "levels")?, &severities)?;
        let mut formats = Vec::new();
        let mut patterns = Vec::new();
        let mut heads = Vec::new(); // each pattern without its final `(?P<body>.*)$`
        for raw in get(spec, "formats")?.cast::<PyList>()?.iter() {
            let raw = raw.cast::<PyDict>()?;
            let name: String = get(raw, "name")?.extract()?;
            let pattern: String = get(raw, "regex")?.extract()?;
            let bad = |detail: String| {
                PyValueError::new_err(format!(
                    "format {name:?}: the native parser cannot compile its regex: {detail}"
                ))
            };
            let rust = translate(&pattern).map_err(bad)?;
            let regex = Regex::new(&format!(r"\A(?:{rust})")).map_err(|e| bad(e.to_string()))?;
            let groups: Vec<(usize, String)> = regex
                .capture_names()
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (i, n.to_owned())))
                .collect();
            let unnamed = groups.len() + 1 != regex.captures_len();
            let (fast, body_tail) = match body_prefix(&rust) {
                Some(prefix) => (prefix, true),
                None => (rust.as_str(), false),
            };
            let kind = match get(raw, "timestamp")?.extract::<Option<String>>()? {
                None => None,
                Some(k) => Some(
                    Kind::from_name(&k)
                        .ok_or_else(|| spec_err(&format!("unknown timestamp kind {k:?}")))?,
                ),
            };
            formats.push(Format {
                levels: read_levels(&get(raw, "levels")?, &severities)?,
                reparse: get(raw, "reparse")?.extract()?,
                fast: fast_engine(fast),
                name,
                regex,
                body_tail,
                groups,
                unnamed,
                kind,
            });
            heads.push(body_prefix(&rust).unwrap_or(&rust).to_owned());
            patterns.push(rust);
        }
        let anchored = patterns.iter().all(|p| {
            regex_syntax::parse(p).is_ok_and(|hir| {
                hir.properties()
                    .look_set_prefix()
                    .contains(regex_syntax::hir::Look::Start)
            })
        });
        let first = if anchored && !patterns.is_empty() {
            regex_automata::meta::Regex::builder()
                .configure(
                    regex_automata::meta::Config::new().hybrid_cache_capacity(16 * (1 << 20)),
                )
                .build_many(&heads)
                .ok()
        } else {
            None
        };
        let set = RegexSet::new(&patterns).map_err(|e| {
            PyValueError::new_err(format!("the native parser cannot compile the formats: {e}"))
        })?;
        let mut key_slots = Map::default();
        let mut json_fields = Vec::new();
        for (out, keys) in get(spec, "json_fields")?.cast::<PyDict>()?.iter() {
            json_fields.push((out.extract()?, read_keys(py, &keys, &mut key_slots)?));
        }
        let json_level_keys = read_keys(py, &get(spec, "json_level_keys")?, &mut key_slots)?;
        let json_number_keys = read_keys(py, &get(spec, "json_number_keys")?, &mut key_slots)?;
        let text_keys = read_keys(py, &get(spec, "text_fields")?, &mut key_slots)?;
        let max_bytes: usize = get(spec, "max_value_bytes")?.extract()?;
        let code = |name: &str| -> PyResult<u8> {
            let i = severities
                .iter()
                .position(|s| s == name)
                .ok_or_else(|| spec_err(&format!("no severity {name}")))?;
            Ok(i as u8 + 1)
        };
        let mut otel_codes = [0u8; 6];
        for (slot, name) in otel_codes.iter_mut().zip(OTEL) {
            *slot = code(name)?;
        }
        let syslog = std::array::from_fn(|i| levels.get(&i.to_string()).copied());
        let pino = std::array::from_fn(|i| levels.get(PINO[i].1).copied());
        Ok(Parser {
            formats,
            set,
            first,
            idle: Idle::new(),
            levels,
            syslog,
            pino,
            group_fields: get(spec, "group_fields")?
                .extract::<HashMap<String, String>>()?
                .into_iter()
                .collect(),
            int_fields: get(spec, "int_fields")?.extract()?,
            json_level_keys,
            json_number_keys,
            json_fields,
            key_slots,
            otel_codes,
            text_keys,
            max_bytes,
        })
    }

    /// The engine's front for one part of a batch, from the Kafka values: for each value
    /// what `decode(value, max_bytes, text_fields)`, `parse_record(record, years[i])` and
    /// `normalize(body)` give, without a Python object per value in between. The values are
    /// read on `threads` threads without the GIL; the result does not depend on how many.
    ///
    /// Returns `(batch, kinds, codes, norms, splits, distinct)`. `batch`: a `FrontBatch`
    /// with each value's body, parsed fields (the JSON `encode_json` writes) and output head
    /// (`OutputWriter.encode`'s head: `{"message":<text>,` for a line, the object up to its
    /// closing brace for a JSON object). One byte a value: `kinds` 0 for a value left to
    /// Python (a dead letter, or one the two might read differently), 1 a plain line, 2 a
    /// strict JSON object, 3 one with a key of `reserved` (no head: the writer builds it as
    /// an object); `codes` the severity the line states (0 none, 1-5 DEBUG .. CRITICAL).
    /// One little-endian i32 a value: `norms` the index in `distinct` of its normalised
    /// body (-1 where it is not ASCII, normalised in Python, or of kind 0); `splits` what
    /// `split.first([body])` gives (the splitting rules' `RuleMatcher`; -2 without one, for
    /// kind 0 and for a body that is not ASCII).
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    #[pyo3(signature = (values, years, max_bytes, text_fields, reserved, threads=1, split=None))]
    fn front<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyList>,
        years: &Bound<'py, PyList>,
        max_bytes: usize,
        text_fields: &Bound<'py, PyAny>,
        reserved: Vec<String>,
        threads: usize,
        split: Option<PyRef<'py, crate::rules::RuleMatcher>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if years.len() != values.len() {
            return Err(PyValueError::new_err("as many years as values, please"));
        }
        let mut index = self.key_slots.clone();
        let text_keys = read_keys(py, text_fields, &mut index)?;
        // the values' bytes in one buffer (the work below runs without the GIL), and their
        // years; None: left to Python
        let mut data: Vec<u8> = Vec::new();
        let mut inputs: Vec<Option<(usize, usize, Option<i64>)>> = Vec::with_capacity(values.len());
        for (value, year) in values.iter().zip(years.iter()) {
            let Ok(bytes) = value.cast_exact::<PyBytes>() else {
                inputs.push(None);
                continue;
            };
            let Ok(year) = year_of(&year) else {
                inputs.push(None);
                continue;
            };
            let bytes = bytes.as_bytes();
            inputs.push(Some((data.len(), bytes.len(), year)));
            data.extend_from_slice(bytes);
        }
        let ctx = FrontCtx {
            data: &data,
            max_bytes,
            text_keys: &text_keys,
            index: &index,
            reserved: &reserved,
            split: split.as_deref(),
        };
        let arenas: Vec<Arena> = py.detach(|| {
            let threads = threads
                .clamp(1, 16)
                .min(inputs.len() / FRONT_MIN_PER_THREAD)
                .max(1);
            if threads == 1 {
                return vec![self.front_range(&ctx, &inputs)];
            }
            let per = inputs.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let parts: Vec<_> = inputs
                    .chunks(per)
                    .map(|part| scope.spawn(|| self.front_range(&ctx, part)))
                    .collect();
                parts
                    .into_iter()
                    .map(|h| h.join().expect("a front thread panicked"))
                    .collect()
            })
        });
        // the columns: one byte or one i32 a value; the distinct normalised bodies of all
        // arenas, in order of first appearance
        let n = inputs.len();
        let (mut kinds, mut codes) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut norms, mut splits) = (Vec::with_capacity(n * 4), Vec::with_capacity(n * 4));
        let distinct = PyList::empty(py);
        let mut seen: HashMap<&str, i32, BuildHasherDefault<Words>> = HashMap::default();
        for arena in &arenas {
            let mut table = Vec::with_capacity(arena.distinct.len());
            for &range in &arena.distinct {
                let text = arena.str(range);
                let at = match seen.get(text) {
                    Some(&at) => at,
                    None => {
                        let at = seen.len() as i32;
                        seen.insert(text, at);
                        distinct.append(PyString::new(py, text))?;
                        at
                    }
                };
                table.push(at);
            }
            for out in &arena.outs {
                let (kind, code, norm, split) = match out {
                    None => (0u8, 0u8, -1i32, -2i32),
                    Some(o) => (
                        o.kind,
                        o.code,
                        if o.norm < 0 {
                            -1
                        } else {
                            table[o.norm as usize]
                        },
                        o.split as i32,
                    ),
                };
                kinds.push(kind);
                codes.push(code);
                norms.extend_from_slice(&norm.to_le_bytes());
                splits.extend_from_slice(&split.to_le_bytes());
            }
        }
        let per = arenas.first().map_or(0, |a| a.outs.len());
        let batch = Bound::new(py, FrontBatch { arenas, per, n })?;
        PyTuple::new(
            py,
            [
                batch.into_any(),
                PyBytes::new(py, &kinds).into_any(),
                PyBytes::new(py, &codes).into_any(),
                PyBytes::new(py, &norms).into_any(),
                PyBytes::new(py, &splits).into_any(),
                distinct.into_any(),
            ],
        )
    }

    /// `parse_record(records[i], years[i])` of each record, as three lists: bodies (None:
    /// left to Python), severity codes, the parsed fields' JSON (bytes).
    fn parse_many<'py>(
        &self,
        py: Python<'py>,
        records: &Bound<'py, PyAny>,
        years: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>, Bound<'py, PyList>)> {
        let bodies = PyList::empty(py);
        let codes = PyList::empty(py);
        let fields = PyList::empty(py);
        let mut buf = Vec::with_capacity(512);
        let mut scratch = self.take_scratch();
        let mut years = years.try_iter()?;
        for rec in records.try_iter()? {
            let rec = rec?;
            let year = years
                .next()
                .ok_or_else(|| PyValueError::new_err("fewer years than records"))??;
            scratch.nesting = 0;
            let parsed =
                year_of(&year).and_then(|y| self.parse_record(py, &mut scratch, &rec, y, 0));
            match parsed {
                Ok(p) => {
                    buf.clear();
                    p.fields.encode(&mut buf);
                    bodies.append(PyString::new(py, &p.body))?;
                    codes.append(p.severity)?;
                    fields.append(PyBytes::new(py, &buf))?;
                }
                Err(Bail) => {
                    bodies.append(py.None())?;
                    codes.append(0)?;
                    fields.append(py.None())?;
                }
            }
        }
        self.give_scratch(scratch);
        if years.next().is_some() {
            return Err(PyValueError::new_err("more years than records"));
        }
        Ok((bodies, codes, fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_re2() {
        assert_eq!(
            translate(r"^\d+\s\w").unwrap(),
            r"^[0-9]+[\t\n\f\r ][0-9A-Za-z_]"
        );
        assert_eq!(translate(r"[^\s:]").unwrap(), r"[^[\t\n\f\r ]:]");
        assert_eq!(translate(r"[]a[&]").unwrap(), r"[]a\[\&]");
        assert_eq!(translate(r"[[:alpha:]-]\\d").unwrap(), r"[[:alpha:]-]\\d");
        assert!(translate(r"[a--]").is_err());
        assert_eq!(translate(r"a{2}b{3,}c{4,5}").unwrap(), r"a{2}b{3,}c{4,5}");
        assert_eq!(
            translate(r"a{,3}b{ 2}c{x}{").unwrap(),
            r"a\{,3\}b\{ 2\}c\{x\}\{"
        );
        assert_eq!(
            translate(r"\<x\>[\<]\p{Greek}\x{41}").unwrap(),
            r"<x>[\<]\p{Greek}\x{41}"
        );
        assert_eq!(translate(r"\b{start}").unwrap(), r"(?-u:\b)\{start\}");
    }

    #[test]
    fn body_prefixes() {
        assert_eq!(
            body_prefix(r"^(?P<a>\S+) (?P<body>.*)$"),
            Some(r"^(?P<a>\S+) ")
        );
        assert_eq!(body_prefix(r"^a|b(?P<body>.*)$"), None);
        assert_eq!(body_prefix(r"^(a|b)[|(](?P<body>.*)$"), Some(r"^(a|b)[|(]"));
        assert_eq!(body_prefix(r"^a\(?P<body>.*)$"), None);
        assert_eq!(
            body_prefix(r"^[]|][^[0-9]|](?P<body>.*)$"),
            Some(r"^[]|][^[0-9]|]")
        );
    }

    #[test]
    fn logfmt() {
        let p = logfmt_pairs(r#"level=info msg="a \"b\" \u00e9 é" k=v k=w x="y"#).unwrap();
        assert_eq!(p.get("msg"), Some("a \"b\" é é"));
        assert_eq!(p.get("k"), Some("w"));
        assert_eq!(p.get("x"), Some("\"y"));
    }
}
