//! `RuleMatcher`: the first of a list of rule patterns that matches each ASCII text, in one
//! call for a batch: what `enrich.core.rules.RuleSet.match` asks RE2's `Set` line by line,
//! whose per-call cost in the Python binding (about 0.7 µs, even for one pattern) is most of
//! the rules' time. The patterns are the rules' RE2 patterns; a pattern the `regex` crate
//! reads otherwise or not at all makes the constructor fail, and the caller keeps RE2. Texts
//! are matched as ASCII bytes with Unicode classes off (`\w`, `\d`, `\s`, `\b` and `(?i)`
//! are ASCII, as in RE2 on ASCII text); a non-ASCII text gives -2 and is left to RE2.
//! `tests/unit/test_native_rules.py` compares the two on the rule pack and its examples.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use regex::bytes::{RegexSet, RegexSetBuilder};
use regex_automata::meta::Regex;

#[pyclass(frozen)]
pub struct RuleMatcher {
    set: RegexSet,
    /// the patterns as one alternation: whether any matches, found with the regex crate's
    /// literal prefilters, so that the set (which tracks every pattern over the whole text)
    /// runs only on the texts some pattern matches
    any: Option<Regex>,
}

#[pymethods]
impl RuleMatcher {
    #[new]
    fn new(patterns: Vec<String>) -> PyResult<Self> {
        let set = RegexSetBuilder::new(&patterns)
            .unicode(false)
            .size_limit(256 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let union: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
        let any = regex_automata::meta::Regex::builder()
            .syntax(
                regex_automata::util::syntax::Config::new()
                    .unicode(false)
                    .utf8(false),
            )
            .configure(
                regex_automata::meta::Config::new()
                    .utf8_empty(false)
                    .nfa_size_limit(Some(256 << 20))
                    .hybrid_cache_capacity(64 << 20),
            )
            .build(&union.join("|"))
            .ok();
        Ok(RuleMatcher { set, any })
    }

    /// Per text, the index of the first pattern that matches it, -1 for none, -2 for a text
    /// that is not ASCII (match it with RE2).
    fn first<'py>(&self, py: Python<'py>, texts: &Bound<'py, PyList>) -> PyResult<Vec<i64>> {
        let mut out = Vec::with_capacity(texts.len());
        for item in texts.iter() {
            out.push(match item.cast::<PyString>()?.to_str() {
                Ok(text) => self.first_of(text),
                Err(_) => -2,
            });
        }
        let _ = py;
        Ok(out)
    }
}

impl RuleMatcher {
    /// `first` for one text.
    pub(crate) fn first_of(&self, text: &str) -> i64 {
        if !text.is_ascii() {
            return -2;
        }
        let bytes = text.as_bytes();
        if self.any.as_ref().is_some_and(|any| !any.is_match(bytes)) {
            return -1;
        }
        self.set
            .matches(bytes)
            .iter()
            .next()
            .map_or(-1, |i| i as i64)
    }
}
