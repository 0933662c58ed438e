"""Normalisation masks variable parts; the pipeline is one artifact that saves and loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enrich.core.labels import Label
from enrich.core.normalize import fingerprint, normalize
from enrich.io.models import load_model, save_model
from enrich.learn.features import LogNormalizer
from enrich.learn.model import make_learner


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # syslog header dropped, pid and IP and port masked
        (
            "Nov  1 10:00:00 web-01 sshd[812]: Failed password for root from 10.0.0.1 port 22 ssh2",
            "sshd[<NUM>]: Failed password for root from <IP> port <NUM> ssh<NUM>",
        ),
        # access log: timestamp, path, sizes masked; the status keeps its class
        (
            '10.1.2.3 - - [01/Nov/2026:10:00:00 +0000] "GET /a/b HTTP/1.1" 503 12 "-" "curl/8"',
            '<IP> - - [<TS> <NUM>] "GET <PATH> HTTP/<NUM>.<NUM>" <HTTP_5XX> <NUM> "<STR>" "<STR>"',
        ),
        ("job 6f1c2a3b-1111-2222-3333-444455556666 at 2026-11-01T10:00:00Z", "job <UUID> at <TS>"),
        ("segfault at 7f3a00 ip 0x00007f3a error 4", "segfault at <HEX> ip <HEX> error <NUM>"),
        ("wrote s3://bucket/key/part and /var/log/app.log", "wrote <PATH> and <PATH>"),
        ("fe80::1:2:3 said hi at 10:00:00.123", "<IP> said hi at <TS>"),
        ("constraint \"orders_pkey\" and 'k1'", "constraint \"<STR>\" and '<STR>'"),
        ("RSA SHA256:abcDEF012+/xyz=", "RSA <HASH>"),
        ("took 3.25 s, -4 retries, (10.0.0.1:8080),", "took <NUM> s, <NUM> retries, (<IP>),"),
        ("", ""),
        ("tabs\tand   spaces", "tabs and spaces"),
    ],
)
def test_normalize_masks_variable_parts(line: str, expected: str) -> None:
    assert normalize(line) == expected
    assert normalize(expected) == expected  # idempotent


def test_lines_of_one_template_share_a_fingerprint() -> None:
    a = normalize("Nov  1 10:00:00 web-01 sshd[1]: Failed password for root from 1.2.3.4 port 5")
    b = normalize("Dec 24 23:59:59 db-07 sshd[99]: Failed password for root from 9.8.7.6 port 6")
    c = normalize("Nov  1 10:00:00 web-01 sshd[1]: Accepted password for root from 1.2.3.4 port 5")
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    assert len(fingerprint(a)) == 32


def test_normalizer_is_a_stateless_sklearn_step() -> None:
    step = LogNormalizer().fit(["x"])
    out = step.transform(np.array(["a 1", "b 2"], dtype=object))
    assert list(out) == ["a <NUM>", "b <NUM>"]


def test_pipeline_is_one_artifact_that_saves_loads_and_predicts_the_same(tmp_path: Path) -> None:
    texts = [
        "Failed password for root",
        "Accepted publickey for bob",
        "Out of memory: kill 1",
        "Failed password for admin",
        "Accepted password for eve",
        "Out of memory: kill 2",
    ]
    auth, security = "Authentication and Authorization", "Connectivity and Security"
    labels = [
        Label("WARNING", auth, security),
        Label("INFO", auth, security),
        Label("CRITICAL", "Performance and Resources", "Hardware Infrastructure"),
    ] * 2
    pipeline = make_learner(texts, labels).estimator
    assert list(pipeline.named_steps) == ["normalize", "tfidf", "clf"]
    save_model(pipeline, tmp_path / "model")

    loaded = load_model(tmp_path / "model")

    probe = np.asarray([*texts, "Failed password for nobody", "something else"], dtype=object)
    np.testing.assert_allclose(loaded.pipeline.predict_proba(probe), pipeline.predict_proba(probe))
    assert loaded.predict(["Out of memory: kill 9"])[0] == [labels[2]]
    assert not list(tmp_path.rglob("*.pkl")), "saved with skops, not pickle"
