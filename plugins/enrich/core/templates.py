"""Templates: log templates mined online from the normalised message bodies.

A template is a normalised body whose varying tokens are replaced by ``<*>``:
``Accepted publickey for alice from <IP> port <NUM> ssh2`` and ``... for bob ...`` are lines
of ``Accepted publickey for <*> from <IP> port <NUM> ssh2``. The normaliser's masks come
first, so ``<IP>``, ``<NUM>``, ... stay typed; mining only generalises what they leave.

The miner is of the Drain family (He et al., 2017): bodies are routed by their token count
and their first ``depth - 2`` tokens through a fixed-depth tree (a token with a digit or a
mask goes down the ``<*>`` branch; a node with ``max_children`` children sends new tokens
there too); in the leaf, the template with the most equal tokens at equal positions (ties:
the most ``<*>``) takes the body if the share of equal tokens reaches ``similarity``, and
becomes ``<*>`` where they differ; otherwise the body starts a new template. Masks stay typed:
a body and a template that differ where both have a whole-token mask (``<NUM>`` against
``<IP>``, ``<HTTP_2XX>`` against ``<HTTP_5XX>``) do not match.

Ids are content-addressed: a template's id is a hash of its text, so every process that mines
a template gives it the same id. When a template generalises, its old id maps to the new one
(``resolve``), so what was said of the old id (a person's label) follows it. Memory is bounded:
past ``max_templates`` templates, the rarest (fewest lines, then longest unseen) are evicted.

This module is the reference; ``enrich_native.TemplateMiner`` does the same natively (the
differential test compares them) and the engine uses it where it is built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

try:  # the native miner (native/): the same templates, faster
    from enrich_native import TemplateMiner as _NativeMiner
except ImportError:  # not built here: the reference below
    _NativeMiner = None

WILDCARD = "<*>"
DEPTH = 4
SIMILARITY = 0.4
MAX_CHILDREN = 100
MAX_TEMPLATES = 50_000
_EDGES = "[](){}\"'`,;:."  # punctuation around a mask: the normaliser's edges
_MONTHS = frozenset(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
)


class Miner(Protocol):
    """What the engine asks of a miner: this module's ``TemplateMiner`` or the native one."""

    @property
    def created(self) -> int: ...
    def __len__(self) -> int: ...
    def add_many(
        self, texts: Sequence[str], counts: Sequence[int] | None = None
    ) -> tuple[list[str], list[str]]: ...
    def resolve(self, tid: str) -> str: ...
    def template(self, tid: str) -> str | None: ...
    def templates(self) -> list[tuple[str, str, int]]: ...
    def snapshot(self) -> list[dict[str, Any]]: ...
    def changes(self) -> list[dict[str, Any]]: ...
    def restore(self, records: Iterable[Any]) -> None: ...


def new_miner(
    depth: int = DEPTH,
    similarity: float = SIMILARITY,
    max_children: int = MAX_CHILDREN,
    max_templates: int = MAX_TEMPLATES,
) -> Miner:
    """A miner with these settings: the native one where it is built."""
    if _NativeMiner is not None:
        miner: Miner = _NativeMiner(depth, similarity, max_children, max_templates)
        return miner
    return TemplateMiner(depth, similarity, max_children, max_templates)


def template_id(text: str) -> str:
    """The id of a template's text: 8 bytes of BLAKE2b, as hex."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _tokens(text: str) -> list[str]:
    """A normalised body's tokens; a lone surrogate (from a JSON ``\\ud800`` escape) is
    replaced as the native miner's UTF-8 conversion replaces it."""
    if not text:
        return []
    if not text.isascii():
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text.split(" ")


def _number(rec: dict[str, Any], key: str) -> int:
    value = rec.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _mask(token: str) -> bool:
    """A whole-token mask of the normaliser, edge punctuation aside: ``<NUM>``, ``(<IP>),``,
    ``[<TS>``; not a token with a mask inside a word (``port=<NUM>``, ``MAC=<NUM>bc<NUM>``)."""
    core = token.strip(_EDGES)
    return (
        len(core) > 2
        and core[0] == "<"
        and core[-1] == ">"
        and core != WILDCARD
        and all("A" <= c <= "Z" or "0" <= c <= "9" or c == "_" for c in core[1:-1])
    )


def _variable(token: str) -> bool:
    return "<" in token or any(c.isdigit() for c in token)


@dataclass
class _Template:
    tokens: list[str]
    id: str
    count: int = 0
    last: int = 0  # the line sequence number it last took: eviction order among equal counts
    first: int = 0  # the one it started at: its place in its leaf, kept across restarts
    written: int = 0  # the line count of its last state record (0: none with this text)


def _due(t: _Template) -> bool:
    """Whether a template's state record is due: it has none with this text, or its lines
    grew by a quarter since the last. Line counts only rank templates (eviction, the review
    queue), so a count within a quarter will do, and the state topic takes a record a
    template on each quarter's growth, not on every micro-batch that sees it: a task start
    reads that topic, and compaction keeps only what is older than its active segment."""
    return t.written == 0 or t.count * 4 >= t.written * 5


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    templates: list[_Template] = field(default_factory=list)


class TemplateMiner:
    """Mine templates from normalised bodies, one body at a time (``add``) or a part's
    distinct bodies at once (``add_many``)."""

    def __init__(
        self,
        depth: int = DEPTH,
        similarity: float = SIMILARITY,
        max_children: int = MAX_CHILDREN,
        max_templates: int = MAX_TEMPLATES,
    ) -> None:
        if depth < 3:
            raise ValueError("depth must be 3 or more (the root, the length, a token)")
        if not 0.0 < similarity <= 1.0:
            raise ValueError("similarity must be in (0, 1]")
        if max_children < 2 or max_templates < 1:
            raise ValueError("max_children must be 2 or more and max_templates 1 or more")
        self.depth, self.similarity = depth, similarity
        self.max_children, self.max_templates = max_children, max_templates
        self._root: dict[int, _Node] = {}
        self._live: dict[str, _Template] = {}
        self._aliases: dict[str, str] = {}
        self._seq = 0
        self.created = 0  # templates started, ever (new templates: the first drift signal)
        # since the last ``changes()``: templates started or taking lines, new aliases, evicted
        self._touched: set[str] = set()
        self._new_aliases: set[str] = set()
        self._evicted: set[str] = set()

    def __len__(self) -> int:
        return len(self._live)

    def add(self, text: str, count: int = 1) -> str:
        """Mine one normalised body seen ``count`` times: the id of its template now."""
        return self.add_many([text], [count])[0][0]

    def add_many(
        self, texts: Sequence[str], counts: Sequence[int] | None = None
    ) -> tuple[list[str], list[str]]:
        """Mine ``texts`` in order (``counts[i]``: lines of text i): each text's template id
        and text once all are mined (a later text may generalise an earlier one's template).
        Eviction, if the cap is passed, comes after: never of a template just returned."""
        got = [
            self._add(_tokens(t), 1 if counts is None else int(counts[i]))
            for i, t in enumerate(texts)
        ]
        ids = [self.resolve(t.id) for t in got]
        out = [" ".join(self._live[i].tokens) for i in ids]
        if len(self._live) > self.max_templates:
            self._evict()
        return ids, out

    def resolve(self, tid: str) -> str:
        """The current id of a template id (itself, or what it generalised into)."""
        seen = tid
        while seen in self._aliases:
            seen = self._aliases[seen]
        return seen

    def template(self, tid: str) -> str | None:
        """The text of a live template (after ``resolve``), else None."""
        t = self._live.get(self.resolve(tid))
        return None if t is None else " ".join(t.tokens)

    def templates(self) -> list[tuple[str, str, int]]:
        """(id, text, lines) of every live template, most lines first, then by id."""
        rows = [(t.id, " ".join(t.tokens), t.count) for t in self._live.values()]
        return sorted(rows, key=lambda r: (-r[2], r[0]))

    def snapshot(self) -> list[dict[str, Any]]:
        """The state as JSON-ready records: every live template (by last seen, then id),
        then every alias (by id)."""
        live = [
            {
                "id": t.id,
                "template": " ".join(t.tokens),
                "count": t.count,
                "last": t.last,
                "first": t.first,
            }
            for t in sorted(self._live.values(), key=lambda t: (t.last, t.id))
        ]
        return live + [{"id": a, "replaced_by": b} for a, b in sorted(self._aliases.items())]

    def _leaf(self, tokens: list[str], create: bool) -> _Node | None:
        n = len(tokens)
        node = self._root.get(n)
        if node is None:
            if not create:
                return None
            node = self._root[n] = _Node()
        for token in tokens[: self.depth - 2]:
            if not create:
                nxt = node.children.get(token) or node.children.get(WILDCARD)
                if nxt is None:
                    return None
                node = nxt
                continue
            key = WILDCARD if _variable(token) else token
            reserved = WILDCARD not in node.children  # the last place is kept for <*>
            if (
                key != WILDCARD
                and key not in node.children
                and len(node.children) + reserved >= self.max_children
            ):
                key = WILDCARD  # full
            node = node.children.setdefault(key, _Node())
        return node

    def _best(self, leaf: _Node, tokens: list[str]) -> _Template | None:
        best, best_sim, best_params = None, -1.0, -1
        n = len(tokens)
        for t in leaf.templates:
            same = params = 0
            for a, b in zip(t.tokens, tokens, strict=True):
                if a == WILDCARD:
                    params += 1
                elif a == b:
                    same += 1
                elif _mask(a) and _mask(b):
                    break  # masks stay typed: <HTTP_2XX> and <HTTP_5XX> are not one <*>
            else:
                sim = same / n if n else 1.0
                if sim > best_sim or (sim == best_sim and params > best_params):
                    best, best_sim, best_params = t, sim, params
        return best if best is not None and best_sim >= self.similarity else None

    def _add(self, tokens: list[str], count: int) -> _Template:
        self._seq += 1
        leaf = self._leaf(tokens, create=False)
        hit = self._best(leaf, tokens) if leaf is not None else None
        if hit is None or leaf is None:
            tid = template_id(" ".join(tokens))
            hit = self._live.get(tid)
            if hit is None:  # a new template
                leaf = self._leaf(tokens, create=True)
                assert leaf is not None
                hit = _Template(tokens, tid, first=self._seq)
                leaf.templates.append(hit)
                self._live[tid] = hit
                self._aliases.pop(tid, None)  # a text generalised away that comes back
                self._new_aliases.discard(tid)
                self.created += 1
        else:
            merged = [a if a == b else WILDCARD for a, b in zip(hit.tokens, tokens, strict=True)]
            if merged != hit.tokens:
                hit = self._generalise(leaf, hit, merged)
        hit.count += count
        hit.last = self._seq
        self._touched.add(hit.id)
        return hit

    def _generalise(self, leaf: _Node, t: _Template, tokens: list[str]) -> _Template:
        old, new = t.id, template_id(" ".join(tokens))
        self._aliases[old] = new
        self._new_aliases.add(old)
        self._touched.discard(old)
        self._aliases.pop(new, None)
        self._new_aliases.discard(new)
        del self._live[old]
        other = self._live.get(new)
        if other is not None:  # the same text exists already: one template
            other.count += t.count
            leaf.templates.remove(t)
            return other
        t.tokens, t.id, t.written = tokens, new, 0
        self._live[new] = t
        return t

    def changes(self) -> list[dict[str, Any]]:
        """What changed since the last call, as ``snapshot`` records: each template started,
        generalised or grown by a quarter since its last record (``_due``; ``count``: its
        lines so far), each new alias, and ``{"id": .., "evicted": True}`` for each template
        evicted (a tombstone on the state topic). Each sorted by id."""
        due = sorted(
            (t for i in self._touched if (t := self._live.get(i)) is not None and _due(t)),
            key=lambda t: t.id,
        )
        out = [
            {
                "id": t.id,
                "template": " ".join(t.tokens),
                "count": t.count,
                "last": t.last,
                "first": t.first,
            }
            for t in due
        ]
        for t in due:
            t.written = t.count
        out += [
            {"id": a, "replaced_by": self._aliases[a]}
            for a in sorted(self._new_aliases)
            if a in self._aliases
        ]
        out += [{"id": e, "evicted": True} for e in sorted(self._evicted - set(self._live))]
        self._touched, self._new_aliases, self._evicted = set(), set(), set()
        return out

    def restore(self, records: Iterable[Any]) -> None:
        """Take back a state written as ``snapshot``/``changes`` records (on a state topic, the
        latest record of each id): live templates, put in the tree in the order they were
        started (``first``, then id), so each leaf holds them in the order it held them;
        aliases; evicted ids and unknown shapes are skipped. Changes start afresh after it; a
        state over the cap is evicted down as usual."""

        def order(rec: dict[str, Any]) -> tuple[int, str]:
            return (_number(rec, "first"), str(rec.get("id")))

        for rec in sorted((r for r in records if isinstance(r, dict)), key=order):
            tid = rec.get("id")
            if not isinstance(tid, str):
                continue
            if isinstance(rec.get("replaced_by"), str):
                self._aliases[tid] = rec["replaced_by"]
                continue
            text = rec.get("template")
            if not isinstance(text, str) or tid in self._live:
                continue
            tokens = _tokens(text)
            leaf = self._leaf(tokens, create=True)
            assert leaf is not None
            t = _Template(tokens, tid, *(_number(rec, k) for k in ("count", "last", "first")))
            t.written = t.count
            leaf.templates.append(t)
            self._live[tid] = t
            self._seq = max(self._seq, t.last)
        for tid in self._live:
            self._aliases.pop(tid, None)
        if len(self._live) > self.max_templates:
            self._evict()
        self._touched, self._new_aliases, self._evicted = set(), set(), set()

    def _leaves(self) -> Iterable[_Node]:
        stack = list(self._root.values())
        while stack:
            node = stack.pop()
            if node.templates:
                yield node
            stack.extend(node.children.values())

    def _evict(self) -> None:
        """Drop the rarest templates down to 90 % of the cap (fewest lines, then longest
        unseen): an eviction a tenth of the cap at a time keeps its cost per line small."""
        keep = max(1, self.max_templates * 9 // 10)
        order = sorted(self._live.values(), key=lambda t: (t.count, t.last, t.id))
        gone = {id(t) for t in order[: len(order) - keep]}
        for leaf in self._leaves():
            leaf.templates = [t for t in leaf.templates if id(t) not in gone]
        for t in order[: len(order) - keep]:
            del self._live[t.id]
            self._touched.discard(t.id)
            self._evicted.add(t.id)


def template_params(body: str, template: str) -> list[str]:
    """The values of ``body`` at its template's varying tokens: each body token whose
    template token is ``<*>`` or a mask (``<NUM>``, ``port=<NUM>``...) and differs from it,
    in order. The body's tokens are its whitespace-separated words (less a BSD syslog header
    the normaliser drops); a splitting rule's marker ending the template (``<RULE_...>``) is
    ignored; [] when they do not line up with the template's."""
    if not template:
        return []
    tokens = body.split()
    want = template.split(" ")
    if (
        len(tokens) == len(want) + 4
        and tokens[0] in _MONTHS
        and tokens[1].isascii()
        and tokens[1].isdigit()
        and tokens[2].isascii()
        and len(tokens[2]) == 8
        and tokens[2][2] == ":"
    ):
        tokens = tokens[4:]
    if len(want) == len(tokens) + 1 and want[-1].startswith("<RULE_"):
        want = want[:-1]
    if len(tokens) != len(want):
        return []
    return [b for a, b in zip(want, tokens, strict=True) if "<" in a and a != b]


def template_table(records: Iterable[dict[str, Any]], miner: Miner) -> list[dict[str, Any]]:
    """Enriched records grouped by template (ids resolved to what they generalised into),
    most lines first: per template its id, text, line count, first line (``line``) as the
    example and its labels (severity, event type, category, ``labelled_by``) with their line
    counts, most first."""
    groups: dict[str, dict[str, Any]] = {}
    for rec in records:
        tid = miner.resolve(str(rec["template_id"]))
        group = groups.get(tid)
        if group is None:
            group = groups[tid] = {"count": 0, "example": rec.get("line", ""), "labels": {}}
        group["count"] += 1
        label = tuple(rec.get(k) for k in ("severity", "event_type", "category", "labelled_by"))
        group["labels"][label] = group["labels"].get(label, 0) + 1
    rows = []
    for tid, group in groups.items():
        labels = sorted(group["labels"].items(), key=lambda kv: (-kv[1], str(kv[0])))
        rows.append(
            {
                "template_id": tid,
                "template": miner.template(tid),
                "count": group["count"],
                "example": group["example"],
                "labels": [
                    {
                        "severity": s,
                        "event_type": e,
                        "category": c,
                        "labelled_by": by,
                        "count": n,
                    }
                    for (s, e, c, by), n in labels
                ],
            }
        )
    return sorted(rows, key=lambda r: (-r["count"], r["template_id"]))


def grouping_accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """The share of lines whose predicted template groups exactly the lines of their true
    template (the grouping accuracy of log-parsing evaluations): a line counts when the lines
    sharing its predicted template are all, and only, those sharing its true one."""
    if len(predicted) != len(truth):
        raise ValueError("predicted and truth differ in length")
    if not predicted:
        return 1.0
    groups: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    true_sizes: dict[str, int] = {}
    for p, t in zip(predicted, truth, strict=True):
        groups.setdefault(p, set()).add(t)
        sizes[p] = sizes.get(p, 0) + 1
        true_sizes[t] = true_sizes.get(t, 0) + 1
    right = sum(
        sizes[p]
        for p, trues in groups.items()
        if len(trues) == 1 and true_sizes[next(iter(trues))] == sizes[p]
    )
    return right / len(predicted)
