"""The models a run leaves: kept per target (checksummed), exported, and used by `raytp predict` — which reproduces
the recorded test F1 on the same split. Bad input: one line, exit 2, nothing written. A tiny real run on local Ray."""

from __future__ import annotations

import json

import pytest
import yaml

from raytp.cli import main
from raytp.rundir import RunDir

TASKS = ["food", "water", "shelter"]
TINY = {
    "data": {"tasks": TASKS, "max_train": 150, "source_max_train": 400, "max_eval": 300, "probe_size": 16},
    "train": {"epochs": 3, "patience": 1, "seeds": 2},
    "backend": {"hash_buckets": 4096},
    "search": {"grid": {"mode": ["multitask", "sequential"]}, "replicate": False},
    "prune": {"top_k": 2, "trials_per_pair": 1},
    "resources": {"workers": 2},
}


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    import contextlib
    import io

    import ray
    if ray.is_initialized():
        ray.shutdown()
    base = tmp_path_factory.mktemp("kept")
    cfg = base / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = base / "run"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["run", "--config", str(cfg), "--out", str(out)]) == 0
    return out, buf.getvalue()


@pytest.fixture(scope="module")
def run_dir(run_output):
    return run_output[0]


def test_run_ends_with_one_summary_table_and_where_things_are(run_output):
    out, text = run_output
    lines = text.splitlines()
    tail = lines[next(i for i, ln in enumerate(lines) if ln.startswith("target ") and "verdict" in ln):]
    assert tail[0].split()[:3] == ["target", "verdict", "source"] and "test gain ± margin" in tail[0]
    rows = tail[2:2 + len(TASKS)]
    assert sorted(r.split()[0] for r in rows) == sorted(TASKS)
    assert all(r.split()[1] in ("co-train", "alone") for r in rows)
    assert f"run directory: {out}" in text and f"page:          {out}/report.html" in text
    assert "sources for target" not in text  # per-target detail is one command away, not printed
    assert (out / "report.html").stat().st_size > 5000


def test_every_target_keeps_the_model_its_verdict_recommends(run_dir):
    from raytp.serving.recommender import Recommender
    run = RunDir(run_dir)
    assert run.verify() == []
    rec = Recommender.from_run_dir(run_dir)
    for t in TASKS:
        meta = run.read_json(f"models/{t}/model.json")
        v = rec.verdict(t)
        assert run.has(f"models/{t}/model.safetensors")
        assert meta["kind"] == ("pair" if v["action"] == "co-train" else "single-task")
        assert meta["source"] == v["source"] and meta["verdict"] == v["text"]
        assert 0.0 <= meta["f1_test"] <= 1.0 and meta["seed"] in (0, 1)
        assert meta["example_epochs"] > 0  # the retraining's deterministic cost (every seed)


def test_export_then_predict_reproduces_the_recorded_test_f1(run_dir, tmp_path, capsys):
    for t in TASKS:
        out = tmp_path / f"model-{t}"
        assert main(["export", "--run", str(run_dir), "--target", t, "--out", str(out)]) == 0
        assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "model.json", "model.safetensors"]
        capsys.readouterr()
        assert main(["predict", "--model", str(out), "--evaluate"]) == 0
        ev = json.loads(capsys.readouterr().out)
        assert ev["f1_test"] == pytest.approx(ev["recorded_f1_test"], abs=1e-9), ev
    model = tmp_path / "model-food"
    assert main(["predict", "--model", str(model), "--text", "we need food and water in the camp"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["target"] == "food" and 0.0 <= row["probability"] <= 1.0 and row["label"] in (0, 1)
    texts = tmp_path / "texts.jsonl"
    texts.write_text('"no food since monday"\n{"text": "the bridge collapsed"}\n\n')
    assert main(["predict", "--model", str(model), "--file", str(texts)]) == 0
    assert [json.loads(x)["text"] for x in capsys.readouterr().out.splitlines()] == ["no food since monday",
                                                                                      "the bridge collapsed"]


def _fails(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_bad_input_is_one_line_exit_2_and_writes_nothing(run_dir, tmp_path, capsys):
    out = tmp_path / "never"
    _fails(capsys, ["export", "--run", str(run_dir), "--target", "pizza", "--out", str(out)], "no kept model")
    assert not out.exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    _fails(capsys, ["export", "--run", str(run_dir), "--target", "food", "--out", str(busy)], "not an empty directory")
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]

    good = tmp_path / "good"
    assert main(["export", "--run", str(run_dir), "--target", "food", "--out", str(good)]) == 0
    capsys.readouterr()
    empty, latin = tmp_path / "empty.jsonl", tmp_path / "latin.jsonl"
    empty.write_text("")
    latin.write_bytes('"caf\xe9"\n'.encode("latin-1"))
    _fails(capsys, ["predict", "--model", str(good), "--file", str(empty)], "no texts")
    _fails(capsys, ["predict", "--model", str(good), "--file", str(latin)], "not UTF-8")
    _fails(capsys, ["predict", "--model", str(good), "--text", "  "], "empty text")
    w = good / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    _fails(capsys, ["predict", "--model", str(good), "--text", "food"], "checksum mismatch")

    # a tampered checkpoint inside the run directory: export refuses it and writes nothing
    weights = run_dir / "models" / "water" / "model.safetensors"
    original = weights.read_bytes()
    try:
        weights.write_bytes(original[:-8] + b"\0" * 8)
        _fails(capsys, ["export", "--run", str(run_dir), "--target", "water", "--out", str(out)], "checksum")
        assert not out.exists()
    finally:
        weights.write_bytes(original)
