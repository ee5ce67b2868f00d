"""``classify`` and ``evaluate`` subcommands, driven through argparse on a tiny saved model."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from _ast_models import TINY_PRESET, save_random_ast
from fastmel.models.command import add_parser

pytest.importorskip("transformers", reason="the tiny model is written by transformers")
sf = pytest.importorskip("soundfile")
fastmel = pytest.importorskip("fastmel")
if not hasattr(fastmel, "extract"):
    pytest.skip("fastmel.extract / fastmel.load (the feature front-end) are not importable yet", allow_module_level=True)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli_model")
    save_random_ast(path, seed=5, std=0.3, **TINY_PRESET)
    return path


def _wav(path, seconds: float, seed: int):
    rng = np.random.default_rng(seed)
    sf.write(path, (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
    return path


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="fastmel")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_classify_prints_top_k(model_dir, tmp_path, capsys):
    wav = _wav(tmp_path / "a.wav", 3.0, seed=0)
    assert _run("classify", str(wav), "--model", str(model_dir), "--top-k", "3") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(wav) and len(lines) == 4
    scores = [float(line.split()[0]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_classify_json_windows_long_files(model_dir, tmp_path, capsys):
    short, long = _wav(tmp_path / "short.wav", 2.0, seed=1), _wav(tmp_path / "long.wav", 25.0, seed=2)
    assert _run("classify", str(short), str(long), "--model", str(model_dir), "--top-k", "2", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert "windows" not in out[0] and len(out[0]["labels"]) == 2
    spans = [(w["start_s"], w["end_s"]) for w in out[1]["windows"]]
    assert spans == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    best_per_window = {lab["index"]: lab["score"] for w in out[1]["windows"] for lab in w["labels"]}
    top = out[1]["labels"][0]
    assert top["score"] == pytest.approx(max(best_per_window.values()), abs=1e-6)  # overall = max over windows


def test_classify_records_a_bad_file_and_goes_on(model_dir, tmp_path, capsys):
    wav = _wav(tmp_path / "ok.wav", 1.0, seed=3)
    assert _run("classify", str(tmp_path / "missing.wav"), str(wav), "--model", str(model_dir), "--json") == 1
    out = json.loads(capsys.readouterr().out)
    assert "error" in out[0] and "missing.wav" in out[0]["file"] and "labels" in out[1]


def test_classify_reports_an_unusable_model(tmp_path, capsys):
    wav = _wav(tmp_path / "ok.wav", 1.0, seed=3)
    assert _run("classify", str(wav), "--model", str(tmp_path / "no-model")) == 2
    assert "does not exist" in capsys.readouterr().err


def test_evaluate_audioset_manifest_reports_map(model_dir, tmp_path, capsys):
    for i in range(4):
        _wav(tmp_path / f"seg{i}.wav", 1.5, seed=10 + i)
    (tmp_path / "class_labels_indices.csv").write_text(
        "index,mid,display_name\n" + "".join(f'{i},/m/{i:03d},"class {i}"\n' for i in range(7)))
    (tmp_path / "segments.csv").write_text(
        "# Segments csv created Sun Mar  5 10:54:31 2017\n"
        "# YTID, start_seconds, end_seconds, positive_labels, path\n"
        + "".join(f'id{i}, 0.000, 10.000, "/m/{i % 3:03d},/m/006", seg{i}.wav\n' for i in range(4)))
    code = _run("evaluate", "--model", str(model_dir), "--manifest", str(tmp_path / "segments.csv"),
                "--class-labels", str(tmp_path / "class_labels_indices.csv"), "--json")
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["metric"] == "mAP" and report["clips"] == 4 and 0 <= report["value"] <= 1


def test_evaluate_path_label_manifest_reports_accuracy(model_dir, tmp_path, capsys):
    for i in range(3):
        _wav(tmp_path / f"c{i}.wav", 1.0, seed=20 + i)
    (tmp_path / "labels.csv").write_text("path,label\n" + "".join(f"c{i}.wav,class {i}\n" for i in range(3))
                                         + "c0.wav,not a class\n")
    code = _run("evaluate", "--model", str(model_dir), "--manifest", str(tmp_path / "labels.csv"))
    captured = capsys.readouterr()
    assert code == 1  # one row has an unknown label: recorded, the rest scored
    assert captured.out.startswith("accuracy ") and "over 3 clips (1 failed)" in captured.out
    assert "labels ['not a class'] are not in the model's labels" in captured.err
