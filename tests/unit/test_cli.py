"""The `enrich` command: rules check, label, evaluate, and --help everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from enrich.cli import build_parser, main

SUBCOMMANDS = [["setup"], ["sample"], ["rules", "check"], ["label"], ["templates"], ["evaluate"]]


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("enrich")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "rules" in out.stdout
    assert "evaluate" in out.stdout


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*argv, "--help"])
    assert exit_info.value.code == 0
    assert "usage: enrich" in capsys.readouterr().out


def test_rules_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check"]) == 0
    out = capsys.readouterr().out
    assert "rules OK" in out
    assert "splitting their template (" in out
    assert "container-crash" in out


def test_rules_check_names_the_bad_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - name: broken-one\n    regex: '(?<=x)y'\n"
        "    label: {severity: INFO, event_type: Heartbeat, category: Datas}\n"
    )
    assert main(["rules", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "rule 'broken-one': bad regex" in err
    assert err.startswith("enrich: error:")


def test_label_writes_json_lines_and_dead_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tmp_path / "in.log"
    lines.write_bytes(
        b"sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2\n"
        b'{"message": "systemd[1]: Started nginx.service.", "host": "web-1"}\n'
        b"\xff\xfe\n"
        b"[1, 2]\n"
        b"something no rule knows\n"
    )
    assert main(["label", str(lines), "--summary"]) == 0
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert [o["labelled_by"] for o in out] == ["rules", "rules", "none"]
    assert out[0]["rule"] == "sshd-auth-failure"
    assert out[1]["host"] == "web-1"
    assert out[1]["severity"] == "INFO"
    assert out[2]["needs_review"] is True
    err = [json.loads(line) for line in captured.err.splitlines()]
    assert [e["reason"] for e in err[:2]] == ["invalid_utf8", "json_not_object"]
    assert [e["line"] for e in err[:2]] == [3, 4]
    assert err[2]["in"] == 5
    assert err[2]["dead_letters"] == 2


def test_label_with_a_saved_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from enrich.core.labels import Label
    from enrich.io.models import save_model
    from enrich.learn.model import make_learner

    a = Label("WARNING", "Security and Anomalies", "Application & Middleware")
    b = Label("INFO", "User Interactions", "Application & Middleware")
    texts = ["risk score high for account", "customer updated address"] * 5
    save_model(make_learner(texts, [a, b] * 5).estimator, tmp_path / "model")
    lines = tmp_path / "in.log"
    lines.write_text("risk score high for account\n")
    assert (
        main(["label", str(lines), "--model", str(tmp_path / "model"), "--threshold", "0.5"]) == 0
    )
    (out,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out["labelled_by"] == "model"
    assert out["severity"] == "WARNING"
    assert out["confidence"] > 0.5


def test_evaluate_writes_curve_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    from enrich.core.records import LogRecord, decode
    from enrich.samples import generate

    data = tmp_path / "logs.csv"
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "severity", "event_type", "category"])
        for sample, value in generate(300, seed=9):
            record = decode(value)
            assert isinstance(record, LogRecord)
            writer.writerow([record.text, sample.severity, sample.event_type, sample.category])
    argv = [
        "evaluate",
        "--data",
        str(data),
        "--text-column",
        "text",
        "--label-column",
        "severity,event_type,category",
        "--strategy",
        "all",
        "--batch-size",
        "5",
        "--max-labels",
        "20",
        "--seeds",
        "2",
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["strategy"] == "all"
    assert summary["seeds"] == [0, 1]
    assert set(summary["mean"]) == {
        "diverse",
        "ranked_batch",
        "uncertainty",
        "margin",
        "entropy",
        "random",
    }
    for rows in summary["mean"].values():
        assert [r["labels"] for r in rows] == [5, 10, 15, 20]
        assert all(0.0 <= r["accuracy_unqueried_mean"] <= 1.0 for r in rows)
    doc = json.loads((tmp_path / "out" / "curve.json").read_text())
    assert doc["rows"] == 300
    assert doc["mean"] == summary["mean"]
    assert set(doc["curves"]["diverse"]) == {"0", "1"}  # every seed's curve is kept
    for name, rows in doc["mean"].items():  # the means and spreads are those of the curves
        for i, row in enumerate(rows):
            a, b = (doc["curves"][name][s][i]["macro_f1"] for s in ("0", "1"))
            assert row["macro_f1_mean"] == pytest.approx((a + b) / 2, abs=1e-4)
            assert row["macro_f1_sd"] == pytest.approx(abs(a - b) / 2, abs=1e-4)
    first = doc["curves"]["random"]["0"][0]
    assert set(first) == {
        "labels",
        "accuracy_unqueried",
        "macro_f1_unqueried",
        "accuracy",
        "macro_f1",
    }
    assert (tmp_path / "out" / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_names_missing_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "x.csv"
    data.write_text("msg,lbl\na,b\n")
    assert (
        main(["evaluate", "--data", str(data), "--text-column", "text", "--label-column", "lbl"])
        == 2
    )
    assert "no column(s) text" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "0"], "--seeds must be at least 1, got 0"),
        (["--max-labels", "10"], "--max-labels 10 leaves no row never queried among 10"),
    ],
)
def test_evaluate_says_which_setting_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    data = tmp_path / "x.csv"
    rows = [f"line {i},{'a' if i % 2 else 'b'}" for i in range(10)]
    data.write_text("text,lbl\n" + "\n".join(rows) + "\n")
    argv = ["evaluate", "--data", str(data), "--text-column", "text", "--label-column", "lbl"]
    assert main([*argv, "--batch-size", "2", "--out", str(tmp_path / "o"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_templates_lists_a_files_templates_with_counts_examples_and_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = ["alice", "bob", "carol", "dave"]
    lines = tmp_path / "in.log"
    lines.write_text(
        "".join(
            f"Nov  3 10:00:0{i} web-01 sshd[81{i}]: Accepted publickey for {u} from "
            f"10.0.0.{i} port 5{i}122 ssh2\n"
            for i, u in enumerate(users)
        )
        + '{"level":"error","msg":"payment db down"}\n'
        + "Nov  3 10:00:09 web-01 sshd[900]: Accepted publickey for erin from 10.0.0.9 port "
        "40022 ssh2\n"
    )
    # small batches: the template generalises across them and the counts still add up
    assert main(["templates", str(lines), "--batch-size", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["count"] for r in rows] == [5, 1]
    ssh = rows[0]
    assert ssh["template"] == "Accepted publickey for <*> from <IP> port <NUM> ssh<NUM>"
    assert ssh["example"].endswith("Accepted publickey for alice from 10.0.0.0 port 50122 ssh2")
    assert [(x["labelled_by"], x["count"]) for x in ssh["labels"]] == [("rules", 5)]
    assert rows[1]["template"] == "payment db down"
    assert rows[1]["labels"][0]["severity"] == "ERROR"  # the level the record states
    assert main(["templates", str(lines), "--json", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_evaluate_reports_the_grouping_of_mined_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sample", "--csv", "--count", "600", "--seed", "5"]) == 0
    data = tmp_path / "s.csv"
    data.write_text(capsys.readouterr().out)
    assert data.read_text().splitlines()[0] == "text,severity,event_type,category,family,template"
    argv = ["evaluate", "--data", str(data), "--text-column", "text"]
    argv += ["--label-column", "severity,event_type,category", "--template-column", "template"]
    argv += ["--max-labels", "20", "--seeds", "1", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    grouping = summary["grouping"]
    assert grouping["lines"] == 600
    assert 0.0 < grouping["grouping_accuracy"] <= 1.0
    assert grouping["templates"] > 0
    assert grouping["true_templates"] > 10
    saved = json.loads((tmp_path / "out" / "curve.json").read_text())
    assert saved["grouping"] == grouping
    assert main([*argv[:-2], "--template-column", "nope", "--out", str(tmp_path / "o2")]) == 2
    assert "no column nope" in capsys.readouterr().err


def test_the_default_strategy_is_never_below_random_on_the_projects_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15, item 4: on the project's evaluation data (the README's: 3,000 generated
    lines, seed 5, batches of 10), over five seeds, the default strategy's mean accuracy and
    macro-F1 on the rows never taught are at least random sampling's at every budget."""
    assert main(["sample", "--csv", "--count", "3000", "--seed", "5"]) == 0
    data = tmp_path / "gen.csv"
    data.write_text(capsys.readouterr().out)
    means = {}
    for strategy in ("diverse", "random"):
        argv = ["evaluate", "--data", str(data), "--text-column", "text"]
        argv += ["--label-column", "severity,event_type,category", "--strategy", strategy]
        argv += ["--max-labels", "100", "--seeds", "5", "--out", str(tmp_path / strategy)]
        assert main(argv) == 0
        means[strategy] = json.loads(capsys.readouterr().out.splitlines()[-1])["mean"][strategy]
    budgets = [r["labels"] for r in means["random"]]
    assert budgets == list(range(10, 101, 10))
    for ours, theirs in zip(means["diverse"], means["random"], strict=True):
        for score in ("accuracy_unqueried_mean", "macro_f1_unqueried_mean"):
            assert ours[score] >= theirs[score], (ours["labels"], score)
    # and clearly above it once a few templates are answered
    at_50 = {r["labels"]: r for r in means["diverse"]}[50]["accuracy_unqueried_mean"]
    assert at_50 >= {r["labels"]: r for r in means["random"]}[50]["accuracy_unqueried_mean"] + 0.05
