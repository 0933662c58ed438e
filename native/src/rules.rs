//! `RuleMatcher`: the first of a list of rule patterns that matches each ASCII text, in one
//! call for a batch: what `enrich.core.rules.RuleSet.match` asks RE2's `Set` line by line,
//! whose per-call cost in the Python binding (about 0.7 µs, even for one pattern) is most of
//! the rules' time. The patterns are the rules' RE2 patterns; a pattern the `regex` crate
//! reads otherwise or not at all makes the constructor fail, and the caller keeps RE2. Texts
//! are matched as ASCII bytes with Unicode classes off (`\w`, `\d`, `\s`, `\b` and `(?i)`
//! are ASCII, as in RE2 on ASCII text); a non-ASCII text gives -2 and is left to RE2.
//! `tests/unit/test_native_rules.py` compares the two on the rule pack and its examples.
//!
//! The engines' caches (their lazy DFAs' states) are kept here (`crate::pool::Idle`), one
//! set per caller matching at once, and taken for a whole call (`Caches`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::prefilter::Prefilter;
use regex_automata::{Input, MatchKind, PatternSet};

use crate::pool::Idle;

#[pyclass(frozen)]
pub struct RuleMatcher {
    /// every pattern, all matches reported (which patterns match a text)
    set: Regex,
    /// the patterns as one alternation: whether any matches, found with the regex crate's
    /// literal prefilter, so that the set (which tracks every pattern over the whole text)
    /// runs only on the texts some pattern matches; None when the patterns have no fast
    /// literal prefilter (see `new`)
    any: Option<Regex>,
    idle: Idle<Caches>,
}

/// One thread's caches of the matcher's engines, taken for a run of texts.
pub(crate) struct Caches {
    set: meta::Cache,
    any: Option<meta::Cache>,
    found: PatternSet,
}

/// Whether every match of one of `patterns` starts with one of a few literals that a fast
/// (vectorised) scan finds: the literal prefilter the regex crate would run first.
fn has_fast_prefilter(patterns: &[String]) -> bool {
    let Ok(hirs) = regex_automata::util::syntax::parse_many_with(patterns, &syntax()) else {
        return false;
    };
    Prefilter::from_hirs_prefix(MatchKind::LeftmostFirst, &hirs).is_some_and(|p| p.is_fast())
}

fn syntax() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false)
}

#[pymethods]
impl RuleMatcher {
    #[new]
    fn new(patterns: Vec<String>) -> PyResult<Self> {
        let set = Regex::builder()
            .syntax(syntax())
            .configure(
                meta::Config::new()
                    .match_kind(MatchKind::All)
                    .which_captures(WhichCaptures::None)
                    .utf8_empty(false)
                    .nfa_size_limit(Some(256 << 20))
                    .hybrid_cache_capacity(64 << 20),
            )
            .build_many(&patterns)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        // the "any" pass pays only where a fast literal scan rejects most texts; a set whose
        // patterns do not all start with literals has none, and the pass is then a second
        // full scan of every text with a lazy DFA of its own to warm (measured with the
        // default rules: 0.63 -> 0.37 µs a text warm, 6.2 -> 4.0 µs cold, without it)
        let any = if has_fast_prefilter(&patterns) {
            Self::union(&patterns)
        } else {
            None
        };
        Ok(RuleMatcher {
            set,
            any,
            idle: Idle::new(),
        })
    }

    /// Whether the `any` pass is used (the patterns' union has a fast literal prefilter).
    #[getter]
    fn prefiltered(&self) -> bool {
        self.any.is_some()
    }

    /// Per text, the index of the first pattern that matches it, -1 for none, -2 for a text
    /// that is not ASCII (match it with RE2).
    fn first<'py>(&self, texts: &Bound<'py, PyList>) -> PyResult<Vec<i64>> {
        let mut out = Vec::with_capacity(texts.len());
        let mut caches = self.take();
        for item in texts.iter() {
            out.push(match item.cast::<PyString>()?.to_str() {
                Ok(text) => self.first_with(&mut caches, text),
                Err(_) => -2,
            });
        }
        self.give(caches);
        Ok(out)
    }
}

impl RuleMatcher {
    /// The patterns as one leftmost-first alternation (None if it does not build).
    fn union(patterns: &[String]) -> Option<Regex> {
        let union: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
        Regex::builder()
            .syntax(syntax())
            .configure(
                meta::Config::new()
                    .which_captures(WhichCaptures::None)
                    .utf8_empty(false)
                    .nfa_size_limit(Some(256 << 20))
                    .hybrid_cache_capacity(64 << 20),
            )
            .build(&union.join("|"))
            .ok()
    }

    /// Caches for this thread's run of texts: one left by an earlier run, or new ones.
    pub(crate) fn take(&self) -> Caches {
        self.idle.take(|| Caches {
            set: self.set.create_cache(),
            any: self.any.as_ref().map(Regex::create_cache),
            found: PatternSet::new(self.set.pattern_len()),
        })
    }

    /// Give back what `take` gave, for the next run.
    pub(crate) fn give(&self, caches: Caches) {
        self.idle.give(caches);
    }

    /// `first` for one text.
    pub(crate) fn first_with(&self, caches: &mut Caches, text: &str) -> i64 {
        if !text.is_ascii() {
            return -2;
        }
        let input = Input::new(text.as_bytes());
        if let (Some(any), Some(cache)) = (&self.any, caches.any.as_mut()) {
            if !any.is_match_with(cache, &input) {
                return -1;
            }
        }
        caches.found.clear();
        self.set
            .which_overlapping_matches_with(&mut caches.set, &input, &mut caches.found);
        caches
            .found
            .iter()
            .next()
            .map_or(-1, |i| i.as_usize() as i64)
    }
}
