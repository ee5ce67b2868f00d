"""``fastmel classify`` and ``fastmel evaluate``: audio files to AST labels and scores.

``add_parser(subparsers)`` registers both subcommands on an argparse
``add_subparsers()`` object; each sets ``func`` to a ``run_*`` function that
takes the parsed Namespace and returns an exit code (0 ok, 1 some files
failed, 2 the model or manifest could not be used).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fastmel.errors import FastmelError, ParameterError

__all__ = ["add_parser", "run_classify", "run_evaluate", "clip_scores"]

SAMPLE_RATE = 16000  # Hz, the ast preset's input rate
WINDOW_S = 10.0  # seconds per classified window (AST sees 1024 frames = 10.24 s)
MIN_TAIL_S = 1.0  # a last partial window shorter than this is dropped when full windows exist


def add_parser(subparsers: Any) -> None:
    """Register ``classify`` and ``evaluate`` on an ``argparse`` subparsers object."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, help="Hugging Face AST directory (config.json + model.safetensors) or hub id")
    common.add_argument("--backend", choices=("numpy", "cupy"), default="numpy", help="array backend (default numpy)")
    common.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="weights and activations; half types need --backend cupy")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    classify = subparsers.add_parser("classify", parents=[common], help="top labels of audio files with an AST model",
                                     description=f"Top labels with sigmoid scores; files longer than {WINDOW_S:g} s "
                                                 "are classified per window and overall (max over windows).")
    classify.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    classify.add_argument("--top-k", type=int, default=5, help="labels per file or window (default 5)")
    classify.set_defaults(func=run_classify)

    evaluate = subparsers.add_parser("evaluate", parents=[common], help="mAP or accuracy of an AST model on a manifest",
                                     description="AudioSet segment CSV (YTID, start_seconds, end_seconds, "
                                                 "positive_labels, path) -> mAP; path,label CSV -> accuracy.")
    evaluate.add_argument("--manifest", required=True, type=Path, help="labels CSV; relative paths are from its folder")
    evaluate.add_argument("--class-labels", type=Path, default=None,
                          help="AudioSet class_labels_indices.csv (index,mid,display_name) to map label ids")
    evaluate.set_defaults(func=run_evaluate)


def _load_model(args: argparse.Namespace) -> Any:
    from fastmel.models.ast import AST

    return AST.from_pretrained(args.model, backend=args.backend, dtype=args.dtype, preset="ast")


def clip_scores(model: Any, path: str | Path) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Sigmoid scores of each window of an audio file.

    Returns
    -------
    scores : numpy.ndarray, shape [n_windows, n_classes], float64 in [0, 1]
    spans : list of (start_s, end_s), one per window, in seconds
    """
    from fastmel import extract, load
    from fastmel.models._array import to_numpy

    waveform, _ = load(path, sample_rate=SAMPLE_RATE)  # [n_samples] float32
    window = int(WINDOW_S * SAMPLE_RATE)  # 160000 samples
    starts = list(range(0, max(len(waveform), 1), window))
    if len(starts) > 1 and len(waveform) - starts[-1] < MIN_TAIL_S * SAMPLE_RATE:
        starts.pop()
    clips = [waveform[s : s + window] for s in starts]
    features = np.stack(extract(clips, preset="ast", sample_rate=SAMPLE_RATE))  # [w, 1024, 128]
    logits = to_numpy(model.forward(features)).astype(np.float64)  # [w, n_classes]
    spans = [(s / SAMPLE_RATE, (s + len(c)) / SAMPLE_RATE) for s, c in zip(starts, clips)]
    return 1.0 / (1.0 + np.exp(-logits)), spans


def _labels_json(labels: list[Any]) -> list[dict[str, Any]]:
    return [{"index": lab.index, "name": lab.name, "score": round(lab.score, 6)} for lab in labels]


def run_classify(args: argparse.Namespace) -> int:
    """Print the top-k labels of each file (and of each window of a long file)."""
    from fastmel.models.ast import top_labels

    if args.top_k < 1:
        print(f"fastmel classify: --top-k={args.top_k} is not an integer >= 1", file=sys.stderr)
        return 2
    try:
        model = _load_model(args)
    except (FastmelError, ImportError) as exc:
        print(f"fastmel classify: {exc}", file=sys.stderr)
        return 2
    k = min(args.top_k, model.config.n_classes)
    results, failed = [], 0
    for path in args.files:
        try:
            scores, spans = clip_scores(model, path)
        except (FastmelError, OSError) as exc:  # a bad file is recorded, the rest still run
            failed += 1
            results.append({"file": str(path), "error": str(exc)})
            print(f"fastmel classify: {path}: {exc}", file=sys.stderr)
            continue
        labels = model.config.labels
        result = {"file": str(path), "labels": _labels_json(top_labels(scores.max(axis=0), labels=labels, top_k=k))}
        if len(spans) > 1:
            result["windows"] = [{"start_s": a, "end_s": b, "labels": _labels_json(top_labels(row, labels=labels, top_k=k))}
                                 for (a, b), row in zip(spans, scores)]
        results.append(result)
        if not args.json:
            _print_result(result)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


def _print_result(result: dict[str, Any]) -> None:
    windows = result.get("windows", [])
    print(result["file"] + (f"  (max over {len(windows)} windows of {WINDOW_S:g} s)" if windows else ""))
    for lab in result["labels"]:
        print(f"  {lab['score']:.3f}  {lab['name']}")
    for w in windows:
        print(f"  [{w['start_s']:7.2f} s - {w['end_s']:7.2f} s]")
        for lab in w["labels"]:
            print(f"    {lab['score']:.3f}  {lab['name']}")


def read_manifest(path: Path) -> tuple[str, list[tuple[Path, list[str]]]]:
    """Read a labels CSV: ``("audioset", rows)`` or ``("single", rows)``; rows are (audio path, label tokens).

    Raises
    ------
    ParameterError
        When the file is missing or has neither layout's columns.
    """
    if not path.is_file():
        raise ParameterError(f"manifest {str(path)!r} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    body = []
    for line in lines:
        stripped = line.lstrip("# ").strip()
        if line.startswith("#") and not stripped.startswith("YTID"):
            continue  # AudioSet's "# Segments csv created ..." preamble
        body.append(stripped if line.startswith("#") else line)
    rows = list(csv.DictReader(body, skipinitialspace=True))
    columns = set(rows[0]) if rows else set()
    if {"positive_labels", "path"} <= columns:
        kind, label_column = "audioset", "positive_labels"
    elif {"path", "label"} <= columns:
        kind, label_column = "single", "label"
    else:
        raise ParameterError(
            f"manifest {str(path)!r} has columns {sorted(columns)}; expected YTID, start_seconds, end_seconds, "
            "positive_labels, path (AudioSet) or path, label"
        )
    folder = path.parent
    out = [(folder / row["path"], [t.strip() for t in row[label_column].split(",") if t.strip()]) for row in rows]
    return kind, out


def _label_index(model: Any, class_labels: Path | None) -> dict[str, int]:
    """Label token -> class index: AudioSet mids (with --class-labels), names, and index numbers."""
    names = model.config.labels
    index = {name: i for i, name in enumerate(names)}
    index.update({str(i): i for i in range(len(names))})
    if class_labels is not None:
        with open(class_labels, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                index[row["mid"]] = int(row["index"])
    return index


def run_evaluate(args: argparse.Namespace) -> int:
    """Run a labelled manifest through features and model; print mAP (AudioSet) or accuracy."""
    from tqdm import tqdm

    from fastmel.metrics import accuracy, mean_average_precision

    try:
        kind, rows = read_manifest(args.manifest)
        model = _load_model(args)
        to_index = _label_index(model, args.class_labels)
    except (FastmelError, ImportError, OSError, KeyError, ValueError) as exc:
        print(f"fastmel evaluate: {exc}", file=sys.stderr)
        return 2
    n_classes = model.config.n_classes
    targets, scores, errors = [], [], []
    for audio, tokens in tqdm(rows, desc="evaluate", unit="clip", file=sys.stderr):
        unknown = [t for t in tokens if t not in to_index]
        if unknown or not tokens:
            errors.append((str(audio), f"labels {unknown or tokens} are not in the model's labels"
                                       + ("" if args.class_labels else " (pass --class-labels to map AudioSet ids)")))
            continue
        try:
            clip, _ = clip_scores(model, audio)
        except (FastmelError, OSError) as exc:
            errors.append((str(audio), str(exc)))
            continue
        target = np.zeros(n_classes, dtype=np.int8)
        target[[to_index[t] for t in tokens]] = 1
        targets.append(target)
        scores.append(clip.max(axis=0))  # [n_classes], max over windows
    for audio, message in errors:
        print(f"fastmel evaluate: {audio}: {message}", file=sys.stderr)
    if not scores:
        print("fastmel evaluate: no clip could be scored", file=sys.stderr)
        return 1
    if kind == "audioset":
        name, value = "mAP", mean_average_precision(targets=np.stack(targets), scores=np.stack(scores))
    else:
        name, value = "accuracy", accuracy(targets=np.stack(targets).argmax(axis=1), predictions=np.stack(scores))
    report = {"metric": name, "value": value, "clips": len(scores), "failed": len(errors)}
    print(json.dumps(report) if args.json else f"{name} {value:.4f} over {len(scores)} clips ({len(errors)} failed)")
    return 1 if errors else 0
