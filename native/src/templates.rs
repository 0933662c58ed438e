//! `enrich.core.templates.TemplateMiner` natively: the same tree, the same choices, the same
//! ids (BLAKE2b-64 of the template's text), so the two give the same templates line for line
//! (the differential test compares them).

use std::collections::{HashMap, HashSet};

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

const WILDCARD: &str = "<*>";

fn template_id(text: &str) -> String {
    blake2b_hex(text.as_bytes(), 8)
}

/// BLAKE2b of `data` with a `size`-byte digest (1 to 64), as lowercase hex: Python's
/// `hashlib.blake2b(data, digest_size=size).hexdigest()`.
pub(crate) fn blake2b_hex(data: &[u8], size: usize) -> String {
    let mut hasher = Blake2bVar::new(size).expect("a BLAKE2b digest size from 1 to 64");
    hasher.update(data);
    let mut out = vec![0u8; size];
    hasher
        .finalize_variable(&mut out)
        .expect("the output buffer is the size asked for");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * size);
    for d in out {
        hex.push(char::from(HEX[usize::from(d >> 4)]));
        hex.push(char::from(HEX[usize::from(d & 15)]));
    }
    hex
}

/// A whole-token mask of the normaliser, edge punctuation aside (`<NUM>`, `(<IP>),`); not
/// a token with a mask inside a word (`port=<NUM>`).
fn mask(token: &str) -> bool {
    const EDGES: &[char] = &[
        '[', ']', '(', ')', '{', '}', '"', '\'', '`', ',', ';', ':', '.',
    ];
    let core = token.trim_matches(EDGES);
    core.len() > 2
        && core.starts_with('<')
        && core.ends_with('>')
        && core != WILDCARD
        && core[1..core.len() - 1]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A non-negative whole number of a record, else 0 (as the reference's `_number`).
fn number(rec: &Bound<'_, PyDict>, key: &str) -> PyResult<u64> {
    Ok(match rec.get_item(key)? {
        Some(v) if !v.is_instance_of::<pyo3::types::PyBool>() => v.extract::<u64>().unwrap_or(0),
        _ => 0,
    })
}

/// A token that goes down the `<*>` branch: it has a mask or an ASCII digit.
fn variable(token: &str) -> bool {
    token.bytes().any(|c| c == b'<' || c.is_ascii_digit())
}

struct Template {
    tokens: Vec<String>,
    id: String,
    count: u64,
    last: u64,
    /// the line sequence number it started at: its place in its leaf, kept across restarts
    first: u64,
    leaf: usize,
    /// the line count of its last state record (0: none since it took this text)
    written: u64,
}

/// Whether a template's state record is due (see the reference's `_due`): it has none with
/// this text, or its lines grew by a quarter since the last.
fn due(t: &Template) -> bool {
    t.written == 0 || t.count * 4 >= t.written * 5
}

#[derive(Default)]
struct Node {
    children: HashMap<String, usize>,
    templates: Vec<usize>,
}

#[pyclass(module = "enrich_native")]
pub struct TemplateMiner {
    depth: usize,
    similarity: f64,
    max_children: usize,
    max_templates: usize,
    roots: HashMap<usize, usize>,
    nodes: Vec<Node>,
    slots: Vec<Option<Template>>,
    /// bumped when a slot's template is merged away or evicted: a (slot, generation) handle
    /// names one template even after its slot is reused
    gens: Vec<u64>,
    free: Vec<usize>,
    /// within one `add_many`: the last id of each template merged away, by handle
    dead: HashMap<(usize, u64), String>,
    live: HashMap<String, usize>,
    aliases: HashMap<String, String>,
    seq: u64,
    /// templates started, ever
    #[pyo3(get)]
    created: u64,
    /// since the last `changes()`: templates started or taking lines, new aliases, evicted
    touched: HashSet<String>,
    new_aliases: HashSet<String>,
    evicted: HashSet<String>,
}

impl TemplateMiner {
    fn node(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    fn leaf(&mut self, tokens: &[&str], create: bool) -> Option<usize> {
        let mut at = match self.roots.get(&tokens.len()) {
            Some(&n) => n,
            None if create => {
                let n = self.node();
                self.roots.insert(tokens.len(), n);
                n
            }
            None => return None,
        };
        for &token in tokens.iter().take(self.depth - 2) {
            let children = &self.nodes[at].children;
            if !create {
                at = *children.get(token).or_else(|| children.get(WILDCARD))?;
                continue;
            }
            let mut key = if variable(token) { WILDCARD } else { token };
            if key != WILDCARD && !children.contains_key(key) {
                let reserved = usize::from(!children.contains_key(WILDCARD));
                if children.len() + reserved >= self.max_children {
                    key = WILDCARD; // full: the last place is kept for <*>
                }
            }
            at = match self.nodes[at].children.get(key) {
                Some(&n) => n,
                None => {
                    let n = self.node();
                    self.nodes[at].children.insert(key.to_owned(), n);
                    n
                }
            };
        }
        Some(at)
    }

    fn best(&self, leaf: usize, tokens: &[&str]) -> Option<usize> {
        let (mut best, mut best_sim, mut best_params) = (None, -1.0f64, -1i64);
        for &slot in &self.nodes[leaf].templates {
            let t = self.slots[slot]
                .as_ref()
                .expect("a leaf holds live templates");
            let (mut same, mut params, mut typed) = (0usize, 0i64, true);
            for (a, &b) in t.tokens.iter().zip(tokens) {
                if a == WILDCARD {
                    params += 1;
                } else if a == b {
                    same += 1;
                } else if mask(a) && mask(b) {
                    typed = false; // masks stay typed: <HTTP_2XX> and <HTTP_5XX> are not one <*>
                    break;
                }
            }
            if !typed {
                continue;
            }
            let sim = if tokens.is_empty() {
                1.0
            } else {
                same as f64 / tokens.len() as f64
            };
            if sim > best_sim || (sim == best_sim && params > best_params) {
                (best, best_sim, best_params) = (Some(slot), sim, params);
            }
        }
        best.filter(|_| best_sim >= self.similarity)
    }

    /// Mine one text: a handle on its template (a later text may generalise it, or merge it
    /// into another).
    fn add_one(&mut self, text: &str, count: u64) -> (usize, u64) {
        self.seq += 1;
        let tokens: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            text.split(' ').collect()
        };
        let leaf = self.leaf(&tokens, false);
        let hit = leaf.and_then(|l| self.best(l, &tokens).map(|s| (l, s)));
        let slot = match hit {
            None => {
                let tid = template_id(text);
                match self.live.get(&tid) {
                    Some(&slot) => slot,
                    None => {
                        let leaf = self.leaf(&tokens, true).expect("created");
                        let t = Template {
                            tokens: tokens.iter().map(|&t| t.to_owned()).collect(),
                            id: tid.clone(),
                            count: 0,
                            last: 0,
                            first: self.seq,
                            leaf,
                            written: 0,
                        };
                        let slot = self.new_slot(t);
                        self.nodes[leaf].templates.push(slot);
                        self.aliases.remove(&tid); // a text generalised away that comes back
                        self.new_aliases.remove(&tid);
                        self.live.insert(tid, slot);
                        self.created += 1;
                        slot
                    }
                }
            }
            Some((leaf, slot)) => {
                let t = self.slots[slot].as_ref().expect("live");
                let mut changed = false;
                let merged: Vec<String> = t
                    .tokens
                    .iter()
                    .zip(&tokens)
                    .map(|(a, &b)| {
                        if a == b {
                            a.clone()
                        } else {
                            changed |= a != WILDCARD;
                            WILDCARD.to_owned()
                        }
                    })
                    .collect();
                if changed {
                    self.generalise(leaf, slot, merged)
                } else {
                    slot
                }
            }
        };
        let seq = self.seq;
        let t = self.slots[slot].as_mut().expect("live");
        t.count += count;
        t.last = seq;
        self.touched.insert(t.id.clone());
        (slot, self.gens[slot])
    }

    fn generalise(&mut self, leaf: usize, slot: usize, tokens: Vec<String>) -> usize {
        let new = template_id(&tokens.join(" "));
        let old = self.slots[slot].as_ref().expect("live").id.clone();
        self.aliases.insert(old.clone(), new.clone());
        self.new_aliases.insert(old.clone());
        self.touched.remove(&old);
        self.aliases.remove(&new);
        self.new_aliases.remove(&new);
        self.live.remove(&old);
        if let Some(&other) = self.live.get(&new) {
            // the same text exists already: one template
            let t = self.slots[slot].take().expect("live");
            self.dead.insert((slot, self.gens[slot]), old);
            self.gens[slot] += 1;
            self.free.push(slot);
            self.slots[other].as_mut().expect("live").count += t.count;
            self.nodes[leaf].templates.retain(|&s| s != slot);
            return other;
        }
        let t = self.slots[slot].as_mut().expect("live");
        t.tokens = tokens;
        t.id = new.clone();
        t.written = 0;
        self.live.insert(new, slot);
        slot
    }

    fn resolve_id(&self, tid: &str) -> String {
        let mut seen = tid;
        while let Some(next) = self.aliases.get(seen) {
            seen = next;
        }
        seen.to_owned()
    }

    fn evict(&mut self) {
        let keep = (self.max_templates * 9 / 10).max(1);
        let mut order: Vec<usize> = self.live.values().copied().collect();
        if order.len() <= keep {
            return;
        }
        order.sort_by(|&a, &b| {
            let (x, y) = (self.slots[a].as_ref(), self.slots[b].as_ref());
            let (x, y) = (x.expect("live"), y.expect("live"));
            (x.count, x.last, &x.id).cmp(&(y.count, y.last, &y.id))
        });
        let gone = &order[..order.len() - keep];
        let mut leaves: Vec<usize> = Vec::with_capacity(gone.len());
        for &slot in gone {
            let t = self.slots[slot].take().expect("live");
            self.live.remove(&t.id);
            self.touched.remove(&t.id);
            self.evicted.insert(t.id.clone());
            leaves.push(t.leaf);
            self.gens[slot] += 1;
            self.free.push(slot);
        }
        leaves.sort_unstable();
        leaves.dedup();
        for leaf in leaves {
            let slots = &self.slots;
            self.nodes[leaf].templates.retain(|&s| slots[s].is_some());
        }
    }

    fn record<'py>(&self, py: Python<'py>, t: &Template) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", &t.id)?;
        d.set_item("template", t.tokens.join(" "))?;
        d.set_item("count", t.count)?;
        d.set_item("last", t.last)?;
        d.set_item("first", t.first)?;
        Ok(d)
    }

    fn new_slot(&mut self, t: Template) -> usize {
        match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(t);
                s
            }
            None => {
                self.slots.push(Some(t));
                self.gens.push(0);
                self.slots.len() - 1
            }
        }
    }

    fn text(&self, slot: usize) -> String {
        self.slots[slot].as_ref().expect("live").tokens.join(" ")
    }
}

#[pymethods]
impl TemplateMiner {
    #[new]
    #[pyo3(signature = (depth=4, similarity=0.4, max_children=100, max_templates=50_000))]
    fn new(
        depth: usize,
        similarity: f64,
        max_children: usize,
        max_templates: usize,
    ) -> PyResult<Self> {
        if depth < 3 {
            return Err(PyValueError::new_err(
                "depth must be 3 or more (the root, the length, a token)",
            ));
        }
        if !(similarity > 0.0 && similarity <= 1.0) {
            return Err(PyValueError::new_err("similarity must be in (0, 1]"));
        }
        if max_children < 2 || max_templates < 1 {
            return Err(PyValueError::new_err(
                "max_children must be 2 or more and max_templates 1 or more",
            ));
        }
        Ok(Self {
            depth,
            similarity,
            max_children,
            max_templates,
            roots: HashMap::new(),
            nodes: Vec::new(),
            slots: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            dead: HashMap::new(),
            live: HashMap::new(),
            aliases: HashMap::new(),
            seq: 0,
            created: 0,
            touched: HashSet::new(),
            new_aliases: HashSet::new(),
            evicted: HashSet::new(),
        })
    }

    fn __len__(&self) -> usize {
        self.live.len()
    }

    /// Mine `texts` in order (`counts[i]`: lines of text i): each text's template id and text
    /// once all are mined; eviction, if the cap is passed, after.
    #[pyo3(signature = (texts, counts=None))]
    fn add_many(
        &mut self,
        texts: Vec<Bound<'_, PyString>>,
        counts: Option<Vec<u64>>,
    ) -> PyResult<(Vec<String>, Vec<String>)> {
        // a lone surrogate (a JSON "\ud800" escape) is replaced (the reference does the same)
        let texts: Vec<std::borrow::Cow<'_, str>> =
            texts.iter().map(|t| t.to_string_lossy()).collect();
        if counts.as_ref().is_some_and(|c| c.len() != texts.len()) {
            return Err(PyValueError::new_err("counts and texts differ in length"));
        }
        let handles: Vec<(usize, u64)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| self.add_one(t, counts.as_ref().map_or(1, |c| c[i])))
            .collect();
        let mut ids = Vec::with_capacity(handles.len());
        let mut out = Vec::with_capacity(handles.len());
        let dead = std::mem::take(&mut self.dead);
        for handle @ (slot, gen) in handles {
            // a template still in its slot: its id now; one merged away: its last id, which
            // resolves to what it merged into
            let id = if self.gens[slot] == gen {
                self.slots[slot].as_ref().expect("live").id.clone()
            } else {
                self.resolve_id(&dead[&handle])
            };
            let slot = *self.live.get(&id).expect("a resolved id is live");
            out.push(self.text(slot));
            ids.push(id);
        }
        if self.live.len() > self.max_templates {
            self.evict();
        }
        Ok((ids, out))
    }

    fn add(&mut self, text: Bound<'_, PyString>, count: u64) -> PyResult<String> {
        Ok(self.add_many(vec![text], Some(vec![count]))?.0.remove(0))
    }

    fn resolve(&self, tid: &str) -> String {
        self.resolve_id(tid)
    }

    fn template(&self, tid: &str) -> Option<String> {
        self.live.get(&self.resolve_id(tid)).map(|&s| self.text(s))
    }

    /// (id, text, lines) of every live template, most lines first, then by id.
    fn templates(&self) -> Vec<(String, String, u64)> {
        let mut rows: Vec<(String, String, u64)> = self
            .live
            .values()
            .map(|&s| {
                let t = self.slots[s].as_ref().expect("live");
                (t.id.clone(), self.text(s), t.count)
            })
            .collect();
        rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        rows
    }

    /// The state as records: every live template (by last seen, then id), then every alias
    /// (by id).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut live: Vec<&Template> = self
            .live
            .values()
            .map(|&s| self.slots[s].as_ref().expect("live"))
            .collect();
        live.sort_by(|a, b| (a.last, &a.id).cmp(&(b.last, &b.id)));
        let out = PyList::empty(py);
        for t in live {
            out.append(self.record(py, t)?)?;
        }
        let mut aliases: Vec<(&String, &String)> = self.aliases.iter().collect();
        aliases.sort();
        for (a, b) in aliases {
            let d = PyDict::new(py);
            d.set_item("id", a)?;
            d.set_item("replaced_by", b)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// What changed since the last call (see the reference's `changes`: a template taking lines
    /// only once they grew by a quarter), each part sorted by id.
    fn changes<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let mut touched: Vec<(&String, usize)> = self
            .touched
            .iter()
            .filter_map(|i| self.live.get(i).map(|&slot| (i, slot)))
            .filter(|&(_, slot)| due(self.slots[slot].as_ref().expect("live")))
            .collect();
        touched.sort();
        for &(_, slot) in &touched {
            let t = self.slots[slot].as_ref().expect("live");
            out.append(self.record(py, t)?)?;
        }
        let slots: Vec<usize> = touched.iter().map(|&(_, slot)| slot).collect();
        for slot in slots {
            let t = self.slots[slot].as_mut().expect("live");
            t.written = t.count;
        }
        let mut aliases: Vec<&String> = self
            .new_aliases
            .iter()
            .filter(|a| self.aliases.contains_key(*a))
            .collect();
        aliases.sort();
        for a in aliases {
            let d = PyDict::new(py);
            d.set_item("id", a)?;
            d.set_item("replaced_by", &self.aliases[a])?;
            out.append(d)?;
        }
        let mut evicted: Vec<&String> = self
            .evicted
            .iter()
            .filter(|e| !self.live.contains_key(*e))
            .collect();
        evicted.sort();
        for e in evicted {
            let d = PyDict::new(py);
            d.set_item("id", e)?;
            d.set_item("evicted", true)?;
            out.append(d)?;
        }
        self.touched.clear();
        self.new_aliases.clear();
        self.evicted.clear();
        Ok(out)
    }

    /// Take back a state written as `snapshot`/`changes` records (see the reference's
    /// `restore`).
    fn restore(&mut self, records: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut all: Vec<(u64, String, Bound<'_, PyDict>)> = Vec::new();
        for rec in records.try_iter()? {
            let rec = rec?;
            let Ok(rec) = rec.cast_into::<PyDict>() else {
                continue;
            };
            let first = number(&rec, "first")?;
            let id: String = match rec.get_item("id")? {
                Some(v) => v.str()?.to_string_lossy().into_owned(),
                None => "None".to_owned(),
            };
            all.push((first, id, rec));
        }
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for (_, _, rec) in all {
            let rec = &rec;
            let Some(tid) = rec.get_item("id")?.and_then(|v| v.extract::<String>().ok()) else {
                continue;
            };
            if let Some(to) = rec
                .get_item("replaced_by")?
                .and_then(|v| v.extract::<String>().ok())
            {
                self.aliases.insert(tid, to);
                continue;
            }
            let Some(text) = rec.get_item("template")?.and_then(|v| {
                v.cast::<PyString>()
                    .ok()
                    .map(|s| s.to_string_lossy().into_owned())
            }) else {
                continue;
            };
            if self.live.contains_key(&tid) {
                continue;
            }
            let (count, last, first) = (
                number(rec, "count")?,
                number(rec, "last")?,
                number(rec, "first")?,
            );
            let tokens: Vec<&str> = if text.is_empty() {
                Vec::new()
            } else {
                text.split(' ').collect()
            };
            let leaf = self.leaf(&tokens, true).expect("created");
            let t = Template {
                tokens: tokens.iter().map(|&t| t.to_owned()).collect(),
                id: tid.clone(),
                count,
                last,
                first,
                leaf,
                written: count,
            };
            let slot = self.new_slot(t);
            self.nodes[leaf].templates.push(slot);
            self.live.insert(tid, slot);
            self.seq = self.seq.max(last);
        }
        let live: Vec<String> = self.live.keys().cloned().collect();
        for tid in live {
            self.aliases.remove(&tid);
        }
        if self.live.len() > self.max_templates {
            self.evict();
        }
        self.touched.clear();
        self.new_aliases.clear();
        self.evicted.clear();
        Ok(())
    }
}
