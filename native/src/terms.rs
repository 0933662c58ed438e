//! `Terms`: the term counts scikit-learn's `CountVectorizer.transform` makes of ASCII texts, for
//! the model's vectoriser (`enrich.learn.features.text_vectorizer`): lowercase, the token
//! pattern `<\w+>|[^\W\d_]+|[\[\]:=\"/@]`, word n-grams joined by one space, counted against a
//! fitted vocabulary. A non-ASCII text is left to scikit-learn (Python's Unicode `\w` and
//! `str.lower` are not re-implemented here). The TF-IDF weighting itself stays scikit-learn's,
//! so the matrix the classifier sees is the same to the bit; `tests/unit/test_native.py`
//! compares the two.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use std::collections::HashMap;

const PUNCT: &[u8] = b"[]:=\"/@";

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The tokens of a lowercased ASCII text, as byte ranges, in order.
fn tokens(text: &[u8], out: &mut Vec<(usize, usize)>) {
    out.clear();
    let n = text.len();
    let mut i = 0;
    while i < n {
        let c = text[i];
        if c == b'<' {
            let mut j = i + 1;
            while j < n && is_word(text[j]) {
                j += 1;
            }
            if j > i + 1 && j < n && text[j] == b'>' {
                out.push((i, j + 1));
                i = j + 1;
                continue;
            }
            i += 1;
        } else if c.is_ascii_alphabetic() {
            let mut j = i + 1;
            while j < n && text[j].is_ascii_alphabetic() {
                j += 1;
            }
            out.push((i, j));
            i = j;
        } else {
            if PUNCT.contains(&c) {
                out.push((i, i + 1));
            }
            i += 1;
        }
    }
}

#[pyclass(frozen)]
pub struct Terms {
    vocabulary: HashMap<String, i32>,
    min_n: usize,
    max_n: usize,
}

fn as_bytes(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

#[pymethods]
impl Terms {
    /// `vocabulary`: the fitted `vocabulary_` (term → column); `ngram_range`: `(min_n, max_n)`.
    #[new]
    fn new(vocabulary: &Bound<'_, PyDict>, ngram_range: (usize, usize)) -> PyResult<Self> {
        let (min_n, max_n) = ngram_range;
        if min_n < 1 || max_n < min_n {
            return Err(PyValueError::new_err(
                "ngram_range must be 1 <= min_n <= max_n",
            ));
        }
        let mut map = HashMap::with_capacity(vocabulary.len());
        for (term, column) in vocabulary.iter() {
            let column: i64 = column.extract()?;
            let column = i32::try_from(column)
                .map_err(|_| PyValueError::new_err("a vocabulary column does not fit in int32"))?;
            map.insert(term.extract::<String>()?, column);
        }
        Ok(Terms {
            vocabulary: map,
            min_n,
            max_n,
        })
    }

    /// The CSR parts of the texts' term counts: `indptr`, `indices` (sorted within each row)
    /// and `counts`, each as native int32 bytes, and the rows left to scikit-learn (non-ASCII
    /// texts, given as empty rows here).
    fn count<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyList>,
    ) -> PyResult<(
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Vec<usize>,
    )> {
        let mut indptr: Vec<i32> = Vec::with_capacity(texts.len() + 1);
        let mut indices: Vec<i32> = Vec::new();
        let mut counts: Vec<i32> = Vec::new();
        let mut left = Vec::new();
        let mut lower = Vec::new();
        let mut spans = Vec::new();
        let mut gram = String::new();
        let mut row: Vec<i32> = Vec::new();
        indptr.push(0);
        for (r, text) in texts.iter().enumerate() {
            let text = text.cast_into::<PyString>()?;
            let text = text.to_str()?;
            if !text.is_ascii() {
                left.push(r);
                indptr.push(indices.len() as i32);
                continue;
            }
            lower.clear();
            lower.extend(text.bytes().map(|c| c.to_ascii_lowercase()));
            tokens(&lower, &mut spans);
            row.clear();
            for n in self.min_n..=self.max_n {
                if spans.len() < n {
                    break;
                }
                for w in spans.windows(n) {
                    gram.clear();
                    for (k, &(s, e)) in w.iter().enumerate() {
                        if k > 0 {
                            gram.push(' ');
                        }
                        // ASCII: each byte is a char
                        gram.extend(lower[s..e].iter().map(|&c| c as char));
                    }
                    if let Some(&column) = self.vocabulary.get(gram.as_str()) {
                        row.push(column);
                    }
                }
            }
            row.sort_unstable();
            let mut k = 0;
            while k < row.len() {
                let mut m = k + 1;
                while m < row.len() && row[m] == row[k] {
                    m += 1;
                }
                indices.push(row[k]);
                counts.push((m - k) as i32);
                k = m;
            }
            indptr.push(indices.len() as i32);
        }
        Ok((
            PyBytes::new(py, &as_bytes(&indptr)),
            PyBytes::new(py, &as_bytes(&indices)),
            PyBytes::new(py, &as_bytes(&counts)),
            left,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<&str> {
        let mut spans = Vec::new();
        tokens(text.as_bytes(), &mut spans);
        spans.iter().map(|&(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn tokenises_like_the_pattern() {
        assert_eq!(
            toks("user=<ip> [x] <abc <_> <> a1b path:/x@y \"q\""),
            vec![
                "user", "=", "<ip>", "[", "x", "]", "abc", "<_>", "a", "b", "path", ":", "/", "x",
                "@", "y", "\"", "q", "\""
            ]
        );
    }
}
