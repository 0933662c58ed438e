"""Labelling rules from ``include/regex_rules.yaml``: validated, compiled, first match wins.

Each rule has a unique ``name``, exactly one of ``regex`` (RE2 syntax) or ``contains`` (a
literal), an optional ``field`` of a JSON record to match instead of the log text, optional
``flags`` (IGNORECASE, MULTILINE, DOTALL) and a ``label``. ``examples`` / ``counter_examples``
are lines the rule must / must not be the first match for; they are checked at load.

All rules run in one pass per line: RE2's multi-pattern ``Set`` reports every rule that
matches and the lowest rule index wins. RE2 runs in time linear in the line's length, so no
rule and no line can make matching backtrack catastrophically; the price is that RE2 has no
backreferences or lookaround, which loading reports per rule.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import re2
import yaml

from enrich import defaults
from enrich.core import yamlfiles
from enrich.core.labels import DEFAULT_TAXONOMY, Label, Taxonomy
from enrich.core.normalize import template_variants
from enrich.core.records import LogRecord
from enrich.errors import ConfigError

log = logging.getLogger(__name__)

FLAGS = {"IGNORECASE": "i", "MULTILINE": "m", "DOTALL": "s"}
RULE_KEYS = {
    "name",
    "regex",
    "contains",
    "field",
    "flags",
    "label",
    "examples",
    "counter_examples",
    "description",
    "splits_template",
}
try:  # the optional native matcher (native/): same first match on ASCII texts, faster
    from enrich_native import RuleMatcher as _NativeMatcher
except ImportError:
    _NativeMatcher = None
_NON_WORD = re.compile(r"\W")
_MARKER_AT_END = re.compile(r" <RULE_(\w+)>$")
# RE2's default 8 MiB is too small for a DFA over hundreds of patterns.
RE2_MAX_MEM = 256 << 20


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str  # the RE2 pattern, flags folded in
    label: Label
    field: str | None = None
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    # does its decision split lines one normalisation makes alike (True/False from the file;
    # None: found by probing its examples, see ``RuleSet.splitting``)
    splits_template: bool | None = None

    @property
    def marker(self) -> str:
        """The token a line this rule splits off its template carries: ``<RULE_DISK_FULL>``."""
        return f"<RULE_{_NON_WORD.sub('_', self.name).upper()}>"


def re2_options(max_mem: int = RE2_MAX_MEM) -> re2.Options:
    options = re2.Options()
    options.max_mem = max_mem
    return options


def re2_error(err: re2.error) -> str:
    """What RE2 says is wrong with a pattern."""
    return err.args[0].decode() if isinstance(err.args[0], bytes) else str(err)


def _compile_set(patterns: Sequence[str]) -> re2._Set:
    rule_set = re2.Set.SearchSet(re2_options())
    for pattern in patterns:
        rule_set.Add(pattern)
    rule_set.Compile()
    return rule_set


@dataclass
class RuleSet:
    """An ordered, validated list of rules, compiled for one-pass matching."""

    rules: tuple[Rule, ...]
    source: str = "<rules>"
    _sets: dict[str | None, tuple[Any, list[int]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        by_field: dict[str | None, list[int]] = {}
        for i, rule in enumerate(self.rules):
            by_field.setdefault(rule.field, []).append(i)
        for fname, indices in by_field.items():
            self._sets[fname] = (_compile_set([self.rules[i].pattern for i in indices]), indices)

    def __len__(self) -> int:
        return len(self.rules)

    def first_match(self, text: str, fields: Mapping[str, Any] | None = None) -> int:
        """Index of the first rule matching this line (or its fields), or -1."""
        matches = self.all_matches(text, fields)
        return matches[0] if matches else -1

    def all_matches(self, text: str, fields: Mapping[str, Any] | None = None) -> list[int]:
        """The index of every rule matching this line (or its fields), in the file's order:
        the first is the one that labels it, the rest what it hides (the rule report)."""
        found: list[int] = []
        for fname, (rule_set, indices) in self._sets.items():
            if fname is None:
                subject: str | None = text
            else:
                value = fields.get(fname) if fields else None
                subject = None if value is None else str(value)
            if subject is not None:
                found += [indices[h] for h in set_match(rule_set, subject) or ()]
        return sorted(found)

    @property
    def fields_used(self) -> tuple[str, ...]:
        """The fields the rules match besides the text."""
        return tuple(f for f in self._sets if f is not None)

    def match(
        self,
        texts: Sequence[str],
        field_value: Callable[[int, str], Any] | None = None,
        native_first: Sequence[int] | None = None,
    ) -> list[int]:
        """First matching rule index per text (-1 for none). ``field_value(i, name)``: the
        value of field ``name`` for text i (None: it has none), asked only for the fields the
        rules use and only when such a rule could still come first. ``native_first``: what
        ``text_matcher.first(texts)`` gives, where the caller has it already (the engine, from
        ``Front.first_rule``); ``texts[i]`` is then read only where it says -2."""
        text_set, text_indices = self._sets.get(None, (None, []))
        out = []
        native = self.text_matcher
        if native is not None and native_first is None:
            native_first = native.first(texts if isinstance(texts, list) else list(texts))
        if native_first is not None:  # ASCII texts natively, the others (-2) with RE2
            for i, j in enumerate(native_first):
                if j == -2:
                    hits = set_match(text_set, texts[i]) if text_set is not None else []
                    j = min(hits) if hits else -1
                out.append(text_indices[j] if j >= 0 else -1)
        else:
            for text in texts:
                hits = set_match(text_set, text) if text_set is not None else []
                out.append(text_indices[min(hits)] if hits else -1)
        if field_value is None:
            return out
        for fname in self.fields_used:
            rule_set, indices = self._sets[fname]
            first = indices[0]  # no rule of this field can win over an earlier match
            found: dict[str, int] = {}  # a field's values repeat (a level, a unit): each once
            for i, best in enumerate(out):
                if 0 <= best < first:
                    continue
                value = field_value(i, fname)
                if value is None:
                    continue
                text = str(value)
                if text not in found:
                    hits = set_match(rule_set, text)
                    found[text] = indices[min(hits)] if hits else -1
                j = found[text]
                if j >= 0 and (best < 0 or j < best):
                    out[i] = j
        return out

    @cached_property
    def splitting(self) -> tuple[int, ...]:
        """The rules whose decision splits lines one normalisation makes alike, so that the
        lines they label must not share a training key with the rest of their template.

        A rule's ``splits_template`` in the file decides; without it, a rule of the text
        splits when changing one masked value of one of its examples or counter-examples
        (``template_variants``: ``is 97%`` → ``is 50%``) makes it match or not match, and so
        changes the first matching rule to one of another label or to none, as
        ``resource-pressure`` and ``container-crash`` do on purpose (a rule that matches every
        value, as the one the other lines then reach may, does not split). A rule of a field
        splits only when the file says so (the model never sees fields: every line of such a
        rule would be keyed apart).
        """
        flagged: set[int] = set()
        labels = [r.label for r in self.rules]
        for rule in self.rules:
            if rule.field is not None:
                continue
            for text in (*rule.examples, *rule.counter_examples):
                first = self.first_match(text)
                for variant in template_variants(text):
                    other = self.first_match(variant)
                    if other == first:
                        continue
                    if first < 0 or other < 0 or labels[first] != labels[other]:
                        # the earlier decision is the rule whose match the value changed
                        flagged.add(min(i for i in (first, other) if i >= 0))
        return tuple(
            i
            for i, rule in enumerate(self.rules)
            if (rule.splits_template if rule.splits_template is not None else i in flagged)
        )

    @cached_property
    def _split_sets(self) -> dict[str | None, tuple[Any, list[int]]]:
        by_field: dict[str | None, list[int]] = {}
        for i in self.splitting:
            by_field.setdefault(self.rules[i].field, []).append(i)
        return {
            fname: (_compile_set([self.rules[i].pattern for i in indices]), indices)
            for fname, indices in by_field.items()
        }

    @cached_property
    def text_matcher(self) -> Any:
        """The native matcher of the rules of the text (``match``), or None: the engine runs
        it on the bodies its native front keeps (``Front.first_rule``)."""
        return _native_matcher(self, self._sets.get(None))

    @cached_property
    def split_matcher(self) -> Any:
        """The native matcher of the splitting rules of the text, or None: ``split_marks``
        runs it, and the engine's front runs it on each body as it reads it."""
        return _native_matcher(self, self._split_sets.get(None))

    def split_marks(
        self,
        texts: Sequence[str],
        field_value: Callable[[int, str], Any] | None = None,
        native_first: Sequence[int] | None = None,
    ) -> list[str]:
        """Per text, ``" " + marker`` of the first splitting rule that matches it (its text,
        or for a rule of a field that field's value by ``field_value(i, name)``), else ``""``:
        what the engine appends to the normalised body so that the lines a rule splits off
        get their own fingerprint, training key and model input. ``native_first``: what
        ``split_matcher.first(texts)`` gives, where the caller has it already."""
        sets = self._split_sets
        if not sets:
            return [""] * len(texts)
        first: dict[int, int] = {}  # text -> the first splitting rule matching it
        text_set = sets.get(None)
        if text_set is not None:
            rule_set, indices = text_set
            native = self.split_matcher
            if native_first is not None and native is not None:
                got = np.asarray(native_first)
            else:
                got = np.asarray(native.first(texts) if native is not None else [-2] * len(texts))
            for i in np.flatnonzero(got != -1).tolist():
                j = int(got[i])
                if j >= 0:
                    first[i] = indices[j]
                else:  # -2: not ASCII, or no native matcher: RE2
                    hits = set_match(rule_set, texts[i])
                    if hits:
                        first[i] = indices[min(hits)]
        for fname, (rule_set, indices) in sets.items():
            if fname is None or field_value is None:
                continue
            for i in range(len(texts)):
                value = field_value(i, fname)
                if value is None:
                    continue
                hits = set_match(rule_set, str(value))
                if hits and (i not in first or indices[min(hits)] < first[i]):
                    first[i] = indices[min(hits)]
        markers = self._markers
        marks = [""] * len(texts)
        for i, j in first.items():
            marks[i] = markers[j]
        return marks

    @cached_property
    def _markers(self) -> list[str]:
        return [" " + r.marker for r in self.rules]

    def match_records(self, records: Sequence[LogRecord]) -> list[int]:
        """First matching rule index per record (-1 for none), in one pass per record."""
        text_only = list(self._sets) == [None]
        if text_only:
            rule_set, indices = self._sets[None]
            out = []
            for r in records:
                hits = set_match(rule_set, r.text)
                out.append(indices[min(hits)] if hits else -1)
            return out
        return [self.first_match(r.text, r.fields) for r in records]

    def check_examples(self) -> None:
        """Raise ConfigError if a rule's example is not first-matched by it (or a counter is)."""
        for i, rule in enumerate(self.rules):
            for example in rule.examples:
                got = self.first_for_example(rule, example)
                if got != i:
                    who = "no rule" if got < 0 else f"rule {self.rules[got].name!r} first"
                    raise ConfigError(
                        f"{self.source}: rule {rule.name!r}: example {example!r} is matched by "
                        f"{who}; fix the pattern or move the rule"
                    )
            for counter in rule.counter_examples:
                if self.first_for_example(rule, counter) == i:
                    raise ConfigError(
                        f"{self.source}: rule {rule.name!r}: counter-example {counter!r} "
                        "matches it; tighten the pattern"
                    )

    def first_for_example(self, rule: Rule, example: str) -> int:
        """The first match for an example: a body for a rule of the text, a field's value for
        a rule of that field (among the rules of fields: a body rule that matches an empty
        text, such as one for empty lines, does not stand in the way)."""
        if rule.field is None:
            return self.first_match(example)
        best = -1
        for fname, (rule_set, indices) in self._sets.items():
            if fname != rule.field:
                continue
            hits = set_match(rule_set, example)
            if hits:
                best = indices[min(hits)]
        return best


def split_off(text: str) -> tuple[str, str | None]:
    """A text as the engine keys it → the line, and the splitting rule's marker name
    (``"BATCH_JOB_FAILED"``) if the text ends with one (see ``RuleSet.split_marks``)."""
    found = _MARKER_AT_END.search(text)
    if found is None:
        return text, None
    return text[: found.start()], found.group(1)


def set_match(rule_set: Any, text: str) -> list[int]:
    """``rule_set.Match(text)``, also for a text UTF-8 cannot encode (a lone surrogate from a
    ``\\ud800`` JSON escape): its bytes with the surrogate kept, which no rule's text matches."""
    try:
        return rule_set.Match(text)
    except UnicodeEncodeError:
        return rule_set.Match(text.encode("utf-8", "surrogatepass"))


def _native_matcher(rules: RuleSet, text_set: tuple[Any, list[int]] | None) -> Any:
    """The native matcher of the rules ``text_set`` indexes (one call a batch, ~0.25 µs a line
    where RE2's binding takes ~0.7 µs a call), or None: not built here, no such rules, or a
    pattern it reads otherwise than RE2 (then RE2 does it all)."""
    if _NativeMatcher is None or text_set is None:
        return None
    try:
        return _NativeMatcher([rules.rules[i].pattern for i in text_set[1]])
    except ValueError as err:
        log.debug("native rule matcher not used: %s", err)
        return None


def _parse_rule(raw: Any, position: int, taxonomy: Taxonomy) -> Rule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"rule #{position}: expected a mapping with name, regex/contains, label")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"rule #{position}: missing key 'name' (a non-empty string)")
    where = f"rule {name!r}"
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    has_regex, has_contains = "regex" in raw, "contains" in raw
    if has_regex == has_contains:
        raise ConfigError(f"{where}: needs exactly one of 'regex' or 'contains'")
    body = raw["regex"] if has_regex else raw["contains"]
    if not isinstance(body, str) or (has_contains and body == ""):
        raise ConfigError(f"{where}: {'regex' if has_regex else 'contains'} must be a string")
    flags = raw.get("flags", [])
    if isinstance(flags, str):
        flags = [flags]
    if not isinstance(flags, list) or any(f not in FLAGS for f in flags):
        raise ConfigError(f"{where}: flags must be a list of {', '.join(FLAGS)}, got {flags!r}")
    fname = raw.get("field")
    if fname is not None and not (isinstance(fname, str) and fname):
        raise ConfigError(f"{where}: field must be a field name")
    pattern = body if has_regex else re2.escape(body)
    if flags:
        pattern = f"(?{''.join(sorted(FLAGS[f] for f in flags))}){pattern}"
    try:
        re2.compile(pattern, re2_options())
    except re2.error as err:
        raise ConfigError(
            f"{where}: bad regex {body!r}: {re2_error(err)} (rules use RE2 syntax: no "
            "backreferences or lookaround)"
        ) from None
    if "label" not in raw:
        raise ConfigError(f"{where}: missing key 'label'")
    label = taxonomy.label(raw["label"], where=where)
    examples = _strings(raw.get("examples", []), where, "examples")
    counters = _strings(raw.get("counter_examples", []), where, "counter_examples")
    splits = raw.get("splits_template")
    if splits is not None and not isinstance(splits, bool):
        raise ConfigError(f"{where}: splits_template must be true or false, got {splits!r}")
    return Rule(name, pattern, label, fname, examples, counters, splits)


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def parse_rules(
    data: Any, taxonomy: Taxonomy = DEFAULT_TAXONOMY, source: str = "<rules>"
) -> RuleSet:
    """Validate a parsed rules document; raise ConfigError naming the rule and the reason."""
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise ConfigError(f"{source}: expected a mapping with a 'rules' list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for position, raw in enumerate(data["rules"], start=1):
        try:
            rule = _parse_rule(raw, position, taxonomy)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None
        if rule.name in seen:
            raise ConfigError(f"{source}: rule {rule.name!r}: duplicate name (rule #{position})")
        seen.add(rule.name)
        rules.append(rule)
    rule_set = RuleSet(tuple(rules), source)
    rule_set.check_examples()
    return rule_set


def load_rules(path: str | Path | None = None, taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> RuleSet:
    """Load and validate a rules file (default ``include/regex_rules.yaml``)."""
    path = Path(path) if path else defaults.RULES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read rules file {path}: {err.strerror}") from None
    try:
        data = yamlfiles.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"rules file {path} is not valid YAML: {err}") from None
    return parse_rules(data, taxonomy, source=str(path))


class RulesCache:
    """Keeps the compiled rules of one file and reloads them when the file changes.

    ``get()`` stats the file and recompiles only when its modification time or size moved;
    an invalid new version raises ConfigError (the caller's run stops before consuming).
    """

    def __init__(self, path: str | Path | None = None, taxonomy: Taxonomy = DEFAULT_TAXONOMY):
        self.path = Path(path) if path else defaults.RULES_FILE
        self.taxonomy = taxonomy
        self._stamp: tuple[int, int] | None = None
        self._rules: RuleSet | None = None

    def get(self) -> RuleSet:
        try:
            st = os.stat(self.path)
        except OSError as err:
            raise ConfigError(f"cannot read rules file {self.path}: {err.strerror}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        if self._rules is None or stamp != self._stamp:
            self._rules = load_rules(self.path, self.taxonomy)
            if self._stamp is not None:
                log.info("rules file %s changed: reloaded %d rules", self.path, len(self._rules))
            self._stamp = stamp
        return self._rules
