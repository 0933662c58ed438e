"""Text normalisation: the masks that make lines of one template look alike.

Variable parts of a log line (timestamps, UUIDs, IPs, hex, hashes, paths, quoted values,
numbers) are masked with placeholder tokens such as ``<IP>``, so that lines of one template
look alike to the vectoriser and to the review queue's de-duplication (the fingerprint is a
hash of the normalised text). HTTP status codes keep their class (``<HTTP_5XX>``): it is the
signal that separates an error line from a success line of one access-log template.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable

# Shapes a whole token (edge punctuation stripped) is masked by: one anchored alternation,
# tried in this order; the name of the group that matched is the mask.
_SHAPES = (
    # 2026-11-01, 2026-11-01T10:00:00.123Z; 01/Nov/2026:10:00:00; 10:00:00.123
    (
        "TS",
        r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)?"
        r"|\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d|\d\d:\d\d:\d\d(?:[.,]\d+)?",
    ),
    ("UUID", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    ("IP", r"\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}"),
    ("HEX", r"0x[0-9a-fA-F]+|(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{6,}"),
    ("HASH", r"SHA256:[A-Za-z0-9+/=]+"),
    ("NUM", r"[+-]?\d+(?:[.,]\d+)?"),
    ("PATH", r"(?:[A-Za-z][\w+.-]*:/)?(?:/[\w.@%+~:-]+){2,}/?"),  # /var/log/x, s3://b/k
)
_SHAPE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _SHAPES))
_MASK = {name: f"<{name}>" for name, _ in _SHAPES}
# Leading and trailing punctuation stays around the mask: "[<TS>", "(<IP>),".
_LEAD = "[](){}<>\"'`,;"
_TRAIL = "[](){}<>\"'`,;:."
_DIGITS = re.compile(r"\d+")
_QUOTES = "'\""
_MONTHS = frozenset(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
)
_CLOCK = re.compile(r"\d\d:\d\d:\d\d")
try:  # the optional native normaliser (native/): same results, ~10x faster
    from enrich_native import fingerprints as _native_fingerprints
    from enrich_native import normalize_many as _native_normalize_many
except ImportError:  # not built here: the Python code below does all of it
    _native_normalize_many = None
    _native_fingerprints = None

_CACHE_LIMIT = 20_000  # tokens; a full cache is emptied, so memory stays bounded
_token_cache: dict[str, str] = {}


def _mask_token(token: str) -> str:
    rest = token.lstrip(_LEAD)
    core = rest.rstrip(_TRAIL)
    pre, suf = token[: len(token) - len(rest)], rest[len(core) :]
    if not core or (pre.endswith("<") and suf.startswith(">") and core.isupper()):
        return token  # empty, or already a mask such as <HTTP_5XX>
    if core.isdigit():
        return pre + "<NUM>" + suf
    if core.replace(".", "").isdigit():  # fast path for the commonest unique tokens
        return pre + ("<IP>" if core.count(".") == 3 else "<NUM>") + suf
    match = _SHAPE.fullmatch(core)
    if match is not None:
        return pre + _MASK[match.lastgroup or "NUM"] + suf
    if pre and pre[-1] in _QUOTES and suf[:1] == pre[-1]:
        return pre + "<STR>" + suf  # a quoted value: "users_pkey", 'abc'
    if any(c.isdigit() for c in core):
        return pre + _DIGITS.sub("<NUM>", core) + suf  # sshd[812]: → sshd[<NUM>]:
    return token


def normalize(text: str) -> str:
    """Mask the variable parts of one line; deterministic and idempotent.

    Works token by token (whitespace-separated), with a bounded cache of token masks: log
    streams repeat their tokens, so most tokens cost one dict lookup. A BSD syslog header
    (``Nov  1 10:00:00 web-01``) is dropped: the time and host are not the message. A 3-digit
    number right after a quoted request (``"GET / HTTP/1.1" 503``) becomes its HTTP class
    ``<HTTP_5XX>``.
    """
    tokens = text.split()
    if (
        len(tokens) > 4
        and tokens[0] in _MONTHS
        and tokens[1].isdigit()
        and _CLOCK.fullmatch(tokens[2])
    ):
        tokens = tokens[4:]
    get = _token_cache.get
    out = [get(token) or _cached_mask(token) for token in tokens]
    if '" ' in text:  # an access log's status code follows the quoted request
        for j in range(1, len(tokens)):
            token = tokens[j]
            if (
                len(token) == 3
                and token.isdigit()
                and token[0] in "12345"
                and tokens[j - 1].endswith('"')
            ):
                out[j] = f"<HTTP_{token[0]}XX>"
    return " ".join(out)


def _cached_mask(token: str) -> str:
    masked = _mask_token(token)
    if len(_token_cache) >= _CACHE_LIMIT:
        _token_cache.clear()
    _token_cache[token] = masked
    return masked


def normalize_many(texts: Iterable[str]) -> list[str]:
    """``normalize`` of each text: by the native normaliser when it is installed (ASCII lines;
    it gives ``None`` for the others, which take the Python path), else in Python."""
    texts = texts if isinstance(texts, list) else list(texts)
    if _native_normalize_many is None:
        return [normalize(t) for t in texts]
    out: list[str | None] = _native_normalize_many(texts)
    if None in out:
        return [normalize(t) if n is None else n for n, t in zip(out, texts, strict=True)]
    return out  # type: ignore[return-value]  # no None left


def fingerprint(normalized: str) -> str:
    """Stable 16-byte hex id of a normalised line: the key of labels and review items."""
    return hashlib.blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def fingerprints(normalized: list[str]) -> tuple[list[str], list[bytes]]:
    """``fingerprint`` of each text, and each as JSON (``b'"<hex>"'``): natively where the
    native module is built (hashed without the GIL), else with ``hashlib``."""
    if _native_fingerprints is not None:
        plain, quoted = _native_fingerprints(normalized)
        return plain, quoted
    plain = [fingerprint(t) for t in normalized]
    return plain, [b'"%s"' % fp.encode() for fp in plain]


# Values a number is replaced by when looking for lines of one template that a rule tells
# apart: zero, small, the edges of a percentage, exit and signal codes, large.
_PROBE_NUMBERS = ("0", "1", "2", "10", "50", "99", "100", "137")
_PROBE_QUOTED = ("x", "users_pkey")
_PROBE_PATHS = ("/srv/app/data", "/api/v1/items")
# a number keeps its first digit and length in these (an HTTP status keeps its class:
# 401, 403, 429 and 404 are one ``<HTTP_4XX>``)
_PROBE_TAILS: dict[int, tuple[str, ...]] = defaultdict(
    tuple, {2: ("0", "9"), 3: ("00", "01", "03", "04", "29", "99"), 4: ("000", "999")}
)


def template_variants(text: str) -> list[str]:
    """Lines that normalise as ``text`` does but differ from it in one masked value: each
    number of the line replaced by a few others, each quoted value by another. What a rule
    must label alike if the model is to learn one label per normalised line.

    Only values are varied: a number masked as ``<NUM>`` and not part of a name (the 4 of
    ``ext4``, the 1 of ``sda1`` stay), a path, a quoted value masked as ``<STR>``; addresses,
    hex ids and timestamps are left as they are."""
    target = normalize(text)
    tokens = text.split(" ")
    out: list[str] = []
    for j, token in enumerate(tokens):
        mask = _mask_token(token)
        choices: list[str] = []
        if "<NUM>" in mask:
            for run in _DIGITS.finditer(token):
                if run.start() and token[run.start() - 1].isalpha():
                    continue  # a name: ext4, sda1, KB5099999
                digits = run.group()
                values = [*_PROBE_NUMBERS, *(digits[0] + x for x in _PROBE_TAILS[len(digits)])]
                choices += [
                    token[: run.start()] + value + token[run.end() :]
                    for value in dict.fromkeys(values)
                    if value != digits
                ]
        elif "<PATH>" in mask:
            rest = token.lstrip(_LEAD)
            core = rest.rstrip(_TRAIL)
            pre, suf = token[: len(token) - len(rest)], rest[len(core) :]
            choices += [pre + value + suf for value in _PROBE_PATHS if value != core]
        elif "<STR>" in mask:
            rest = token.lstrip(_LEAD)
            core = rest.rstrip(_TRAIL)
            pre, suf = token[: len(token) - len(rest)], rest[len(core) :]
            if not any(q in core for q in _QUOTES):
                choices += [pre + value + suf for value in _PROBE_QUOTED if value != core]
        for choice in choices:
            variant = " ".join([*tokens[:j], choice, *tokens[j + 1 :]])
            if normalize(variant) == target:
                out.append(variant)
    return out
