"""Template mining (``enrich.core.templates``, and ``enrich_native.TemplateMiner`` against it)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

import pytest

from enrich.core.normalize import normalize
from enrich.core.templates import TemplateMiner, template_id, template_params
from enrich.samples import generate

try:
    from enrich_native import TemplateMiner as NativeMiner
except ImportError:  # the native module is optional; its differential tests need it
    NativeMiner = None

needs_native = pytest.mark.skipif(NativeMiner is None, reason="native module not built")

SSH = "Accepted publickey for {} from <IP> port <NUM> ssh2"


def test_two_variants_merge_into_a_wildcard_and_the_old_id_follows() -> None:
    miner = TemplateMiner()
    first = miner.add(SSH.format("alice"))
    assert first == template_id(SSH.format("alice"))
    assert miner.template(first) == SSH.format("alice")
    second = miner.add(SSH.format("bob"), count=3)
    assert second == template_id(SSH.format("<*>"))
    assert miner.resolve(first) == second  # what was said of the first id follows
    assert miner.template(first) == SSH.format("<*>")
    assert miner.templates() == [(second, SSH.format("<*>"), 4)]
    assert miner.add(SSH.format("carol")) == second  # no further change
    assert {"id": first, "replaced_by": second} in miner.snapshot()


def test_a_part_gets_the_templates_as_they_are_once_all_its_bodies_are_mined() -> None:
    ids, texts = TemplateMiner().add_many(
        [SSH.format("alice"), "Connection closed by <IP> port <NUM>", SSH.format("bob")],
        [2, 1, 1],
    )
    assert ids[0] == ids[2] == template_id(SSH.format("<*>"))
    assert texts == [SSH.format("<*>"), "Connection closed by <IP> port <NUM>", SSH.format("<*>")]


def test_lines_unlike_enough_stay_apart() -> None:
    miner = TemplateMiner()
    a = miner.add("disk /dev/sda1 is full")
    b = miner.add("disk quota of alice exceeded by <NUM> blocks")  # another length
    c = miner.add("disk write error on <PATH> retrying now")
    d = miner.add("disk read failure at sector <NUM> of <PATH>")  # 2 of 7 alike: < 0.4
    assert len({a, b, c, d}) == 4
    assert len(miner) == 4


def test_the_prefix_routes_tokens_with_digits_or_masks_down_one_branch() -> None:
    miner = TemplateMiner(depth=4)  # the first two tokens route
    a = miner.add("worker-1 started job <NUM>")
    b = miner.add("worker-2 started job <NUM>")  # "worker-N" has a digit: same branch
    assert a != b
    assert miner.resolve(a) == b
    assert miner.template(b) == "<*> started job <NUM>"
    # a word with no branch of its own is looked for down <*> too
    assert miner.add("scheduler started job <NUM>") == b
    # a word that has its own branch is looked for there only
    d = miner.add("cron finished task <NUM>")
    assert miner.add("cron finished task <NUM> late") != d  # another length
    assert miner.add("cron started job <NUM>") not in (b, d)


def test_masks_stay_typed() -> None:
    miner = TemplateMiner()
    ok = miner.add('<IP> - - [<TS>] "GET /a HTTP/<NUM>.<NUM>" <HTTP_2XX> <NUM>')
    bad = miner.add('<IP> - - [<TS>] "GET /a HTTP/<NUM>.<NUM>" <HTTP_5XX> <NUM>')
    assert ok != bad  # an error and a success of one request are not one template
    assert miner.resolve(ok) == ok
    other = miner.add('<IP> - - [<TS>] "GET /b HTTP/<NUM>.<NUM>" <HTTP_5XX> <NUM>')
    assert miner.resolve(bad) == other
    assert miner.template(other) == '<IP> - - [<TS>] "GET <*> HTTP/<NUM>.<NUM>" <HTTP_5XX> <NUM>'


def test_empty_and_one_token_bodies() -> None:
    miner = TemplateMiner()
    assert miner.add("") == template_id("") == miner.add("")
    assert miner.template(template_id("")) == ""
    x, y = miner.add("restarting"), miner.add("stopping")
    assert x != y  # one token, unequal: similarity 0


def test_eviction_keeps_memory_bounded_and_drops_the_rarest() -> None:
    miner = TemplateMiner(max_templates=10)
    common = f"heartbeat from {'x' * 3} ok"
    miner.add(common, count=100)
    texts = [f"event {w} happened" for w in ("alpha", "beta", "gamma", "delta")] + [
        f"unique{i} line{i} text{i} here{i} now" for i in range(30)
    ]
    for text in texts:
        miner.add(text)
        assert len(miner) <= 10
    # the frequent template survived; the oldest rare ones went first
    assert miner.template(template_id(common)) == common
    assert miner.template(template_id("unique0 line0 text0 here0 now")) is None


def test_params_are_the_lines_values_where_the_template_varies() -> None:
    template = SSH.format("<*>")
    body = "Accepted publickey for bob from 10.0.0.7 port 52144 ssh2"
    assert template_params(body, template) == ["bob", "10.0.0.7", "52144"]
    # a BSD syslog header the normaliser drops, and runs of spaces
    assert template_params("Nov  3 10:00:00 web-01 " + body.replace(" ", "  "), template) == [
        "bob",
        "10.0.0.7",
        "52144",
    ]
    assert template_params("sshd[812]: session opened", "sshd[<NUM>]: session opened") == [
        "sshd[812]:"
    ]
    assert template_params("short", "two tokens") == []
    # a splitting rule's marker ends the template, not the body
    marked = "Task exited with return code <NUM> <RULE_OOM_KILLED>"
    assert template_params("Task exited with return code 137", marked) == ["137"]
    assert template_params("caf\u00e9\u00a0au 42", "caf\u00e9 au <NUM>") == ["42"]
    assert template_params("", "") == []


def test_bad_settings_are_refused() -> None:
    for kwargs, message in (
        ({"depth": 2}, "depth must be 3 or more"),
        ({"similarity": 0.0}, "similarity must be in"),
        ({"max_children": 1}, "max_children must be 2 or more"),
        ({"max_templates": 0}, "max_templates 1 or more"),
    ):
        with pytest.raises(ValueError, match=message):
            TemplateMiner(**kwargs)
        if NativeMiner is not None:
            with pytest.raises(ValueError, match=message):
                NativeMiner(**kwargs)


def _bodies(n: int, seed: int) -> list[str]:
    """Normalised bodies of generated lines, with a share of tokens replaced by random words
    (user, table and host names the masks do not catch)."""
    rng = random.Random(seed)
    words = ["alice", "bob", "orders", "users_pkey", "web", "db-primary", "eu", "cache", "x"]
    out = []
    for sample, _value in generate(n, seed=seed):
        tokens = normalize(sample.text).split(" ")
        if tokens and rng.random() < 0.5:
            tokens[rng.randrange(len(tokens))] = rng.choice(words)
        out.append(" ".join(tokens))
    return out


def _mine(miner: Any, bodies: list[str], part: int) -> list[tuple[list[str], list[str]]]:
    parts = []
    for at in range(0, len(bodies), part):
        chunk = bodies[at : at + part]
        parts.append(miner.add_many(chunk, [1 + (len(t) % 3) for t in chunk]))
    return parts


@needs_native
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"similarity": 0.7},
        {"depth": 3, "max_children": 3},  # the tree full at once: <*> routing
        {"depth": 6, "max_children": 4, "max_templates": 40},  # eviction all along
    ],
)
def test_native_miner_agrees_with_the_reference(settings: dict[str, Any]) -> None:
    odd = ["", "x", "a  b", " lead", "trail ", "bad \ud800 escape", "bad \udfff\ud800 x", "é ü"]
    odd += ["(<IP>), a b", "(<NUM>), a b", "<É> a b", "<*> a b", "<A_1> a b", "<a> a b"]
    bodies = [*_bodies(6_000, seed=17), *odd]
    ref, nat = TemplateMiner(**settings), NativeMiner(**settings)
    assert _mine(nat, bodies, 500) == _mine(ref, bodies, 500)
    assert nat.snapshot() == ref.snapshot()
    assert nat.templates() == ref.templates()
    assert len(nat) == len(ref)
    assert nat.created == ref.created
    for tid, _text, _n in ref.templates()[:50]:
        assert nat.template(tid) == ref.template(tid)


def test_the_same_bodies_give_the_same_templates_in_another_process() -> None:
    """Ids are content hashes and the tree's choices depend on nothing but the input: a
    fresh interpreter (another hash seed) mines the same templates."""
    bodies = _bodies(2_000, seed=5)
    here = TemplateMiner()
    here.add_many(bodies)
    code = (
        "import json, sys\n"
        "from enrich.core.templates import TemplateMiner\n"
        "m = TemplateMiner()\n"
        "m.add_many(json.load(sys.stdin))\n"
        "print(json.dumps(m.snapshot()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(bodies),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert json.loads(out.stdout) == here.snapshot()


def test_records_carry_their_template_and_a_tasks_batches_share_one_miner() -> None:
    from enrich.core.records import RawRecord
    from enrich.core.rules import load_rules
    from enrich.core.templates import new_miner
    from enrich.engine.routing import enrich_batch

    rules = load_rules()
    line = (
        "Nov  3 10:00:0{0} web-01 sshd[81{0}]: Accepted publickey for {1} from 10.0.0.{0} "
        "port 5{0}122 ssh2"
    )
    miner = new_miner()
    first = enrich_batch([RawRecord(line.format(1, "alice").encode())], None, rules, miner=miner)
    rec = first.records()[0]
    assert rec["template"] == "Accepted publickey for alice from <IP> port <NUM> ssh<NUM>"
    assert rec["template_id"] == template_id(rec["template"])
    assert first.counts["new_templates"] == 1
    assert first.counts["templates"] == 1
    later = enrich_batch(
        [RawRecord(line.format(i, u).encode()) for i, u in enumerate(["bob", "carol"], 2)],
        None,
        rules,
        miner=miner,
    )
    recs = later.records()
    assert {r["template"] for r in recs} == {
        "Accepted publickey for <*> from <IP> port <NUM> ssh<NUM>"
    }
    assert later.counts["new_templates"] == 0  # generalised, not new
    assert miner.resolve(rec["template_id"]) == recs[0]["template_id"]
    # a new miner (another task, a restart without the state) starts afresh
    alone = enrich_batch([RawRecord(line.format(2, "bob").encode())], None, rules)
    assert (
        alone.records()[0]["template"] == "Accepted publickey for bob from <IP> port <NUM> ssh<NUM>"
    )


def _apply(state: dict[str, dict[str, Any]], changes: list[dict[str, Any]]) -> None:
    """What a compacted topic keyed by id keeps: the latest record of each id; a tombstone
    (an evicted id) removes it."""
    for rec in changes:
        if rec.get("evicted"):
            state.pop(rec["id"], None)
        else:
            state[rec["id"]] = rec


MINERS = [TemplateMiner] + ([NativeMiner] if NativeMiner is not None else [])


@pytest.mark.parametrize("make", MINERS, ids=lambda m: m.__module__)
@pytest.mark.parametrize("settings", [{}, {"depth": 6, "max_children": 4, "max_templates": 40}])
def test_the_changes_kept_per_id_are_the_state(make: Any, settings: dict[str, Any]) -> None:
    state: dict[str, dict[str, Any]] = {}
    bodies = _bodies(4_000, seed=8)
    miner = make(**settings)
    for at in range(0, len(bodies), 400):
        miner.add_many(bodies[at : at + 400])
        _apply(state, miner.changes())
    assert miner.changes() == []  # nothing new since
    _same_state(state, miner.snapshot())


def _same_state(state: dict[str, dict[str, Any]], snapshot: list[dict[str, Any]]) -> None:
    """The state topic's records are the miner's state: the same ids, aliases and texts;
    each line count in the state within a quarter of the miner's (a record is written on
    each quarter's growth), its last seen no later."""
    assert sorted(state) == sorted(r["id"] for r in snapshot)
    for now in snapshot:
        kept = state[now["id"]]
        if "replaced_by" in now:
            assert kept == now
            continue
        assert {k: kept[k] for k in ("template", "first")} == {
            k: now[k] for k in ("template", "first")
        }
        assert kept["count"] <= now["count"]
        assert 4 * now["count"] < 5 * kept["count"]
        assert kept["last"] <= now["last"]


@pytest.mark.parametrize("make", MINERS, ids=lambda m: m.__module__)
def test_a_template_is_written_again_when_its_lines_grew_by_a_quarter(make: Any) -> None:
    """The state topic takes a record of a template when it starts, when it generalises and
    when its lines grow by a quarter, not on every part that sees it: a task start reads it."""
    miner = make()
    miner.add_many(["disk full on <PATH>"], [8])
    assert [(r["template"], r["count"]) for r in miner.changes()] == [("disk full on <PATH>", 8)]
    miner.add_many(["disk full on <PATH>"])  # 9 lines: under 8 + a quarter
    assert miner.changes() == []
    miner.add_many(["disk full on <PATH>"])  # 10: due
    assert [r["count"] for r in miner.changes()] == [10]
    written = []
    for _ in range(250):  # one line a part, as a busy template in many small parts
        miner.add_many(["disk full on <PATH>"])
        written += [r["count"] for r in miner.changes()]
    assert written == [13, 17, 22, 28, 35, 44, 55, 69, 87, 109, 137, 172, 215]
    # a template that generalises is written at once under its new id, whatever its
    # count, and its old id's alias with it
    miner.add_many(["backup of home done"], [100])
    old = miner.changes()[0]["id"]
    miner.add_many(["backup of var done"])
    new, alias = sorted(miner.changes(), key=lambda r: "replaced_by" in r)
    assert (new["id"], new["template"], new["count"]) == (
        miner.resolve(old),
        "backup of <*> done",
        101,
    )
    assert alias == {"id": old, "replaced_by": new["id"]}


@pytest.mark.parametrize("make", MINERS, ids=lambda m: m.__module__)
def test_a_restarted_miner_goes_on_as_the_first_would(make: Any) -> None:
    """The state topic's records, in any order, give a miner that mines the next lines as
    the miner that wrote them does: the same ids, the same templates."""
    bodies = _bodies(6_000, seed=23)
    first = make()
    state: dict[str, dict[str, Any]] = {}
    for at in range(0, 3_000, 500):
        first.add_many(bodies[at : at + 500])
        _apply(state, first.changes())
    records = list(state.values())
    random.Random(4).shuffle(records)  # partitions read in any order
    again = make()
    again.restore(records)
    started = first.created
    _same_state({r["id"]: r for r in again.snapshot()}, first.snapshot())
    assert again.changes() == []
    for at in range(3_000, 6_000, 500):
        assert again.add_many(bodies[at : at + 500]) == first.add_many(bodies[at : at + 500])

    def texts(miner: Any) -> list[tuple[str, str | None, str | None]]:
        return sorted((r["id"], r.get("template"), r.get("replaced_by")) for r in miner.snapshot())

    assert texts(again) == texts(first)
    assert again.created == first.created - started > 0  # new templates since the restart


@needs_native
def test_native_restore_and_changes_agree_with_the_reference() -> None:
    bodies = _bodies(3_000, seed=31)
    ref, nat = TemplateMiner(max_templates=200), NativeMiner(max_templates=200)
    for at in range(0, 1_500, 300):
        assert nat.add_many(bodies[at : at + 300]) == ref.add_many(bodies[at : at + 300])
        assert nat.changes() == ref.changes()
    odd = [
        {"id": "x1", "template": "odd <*> one", "count": True, "last": -3, "first": 2.5},
        {"id": 7, "template": "id not a string"},
        {"id": "x2", "template": None},
        {"id": "x3", "replaced_by": "x1"},
        {"id": "x4", "evicted": True},
        "not a record",
    ]
    records = ref.snapshot() + odd
    r2, n2 = TemplateMiner(max_templates=200), NativeMiner(max_templates=200)
    r2.restore(records)
    n2.restore(records)
    assert n2.snapshot() == r2.snapshot()
    for at in range(1_500, 3_000, 300):
        assert n2.add_many(bodies[at : at + 300]) == r2.add_many(bodies[at : at + 300])
        assert n2.changes() == r2.changes()


def test_grouping_accuracy_counts_lines_whose_group_is_exactly_their_templates() -> None:
    from enrich.core.templates import grouping_accuracy

    truth = ["a", "a", "b", "b", "c"]
    assert grouping_accuracy(["1", "1", "2", "2", "3"], truth) == 1.0
    assert grouping_accuracy(["x", "x", "y", "y", "y"], truth) == 0.4  # b and c merged
    assert grouping_accuracy(["1", "2", "3", "3", "4"], truth) == 0.6  # a split in two
    assert grouping_accuracy([], []) == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        grouping_accuracy(["1"], [])


def test_generated_lines_know_their_template() -> None:
    samples = [s for s, _v in generate(300, seed=4)]
    assert all(s.template.startswith(f"{s.family}/") for s in samples)
    assert len({s.template for s in samples}) > 20
