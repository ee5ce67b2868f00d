"""Kill -9 the converter mid-run, rerun it: the output equals an uninterrupted
run, and nothing recorded as done by the killed run is computed again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastmel.convert import convert, open_features

from test_convert_corpus import make_corpus, read_jsonl


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume_corpus")
    make_corpus(root, n_good=140, seed=7, long_s=(40.0,))
    return root


def _command(src: Path, dest: Path, fmt: str) -> list[str]:
    return [sys.executable, "-m", "fastmel", "convert", str(src), str(dest), "--format", fmt,
            "--shard-size", "8", "--workers", "1", "--quiet"]


def _kill_midway(cmd: list[str], manifest: Path, *, after: int, timeout_s: float = 120.0) -> None:
    proc = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if manifest.exists() and manifest.read_text().count("\n") >= after:
                break
            assert proc.poll() is None, "the converter finished before it could be killed"
            time.sleep(0.01)
        assert proc.poll() is None, "the converter finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.parametrize("fmt", ["npy", "hdf5"])
def test_sigkill_then_rerun_equals_an_uninterrupted_run(corpus, tmp_path, fmt):
    dest = tmp_path / "killed"
    _kill_midway(_command(corpus, dest, fmt), dest / "manifest.jsonl", after=30)
    first = {r["id"] for r in read_jsonl(dest / "manifest.jsonl") if r["status"] == "ok"}
    total = len(open_features(dest).ids) + len(open_features(dest).failed)
    assert 0 < len(first) and total < 145  # really cut short

    rerun = subprocess.run(_command(corpus, dest, fmt), timeout=300)
    assert rerun.returncode == 3  # the planted bad files

    records = read_jsonl(dest / "manifest.jsonl")
    runs = sorted({r["run"] for r in records})
    assert len(runs) == 2
    redone = {r["id"] for r in records if r["run"] == runs[1]} & first
    assert redone == set(), f"{len(redone)} items done before the kill were recomputed"
    ok_lines = [r["id"] for r in records if r["status"] == "ok"]
    assert len(ok_lines) == len(set(ok_lines))  # each clip converted exactly once

    clean = convert(source=corpus, dest=tmp_path / "clean", format=fmt, shard_size=8, quiet=True)
    got, want = open_features(dest), open_features(tmp_path / "clean")
    assert got.ids == want.ids and sorted(got.failed) == sorted(want.failed)
    assert clean.converted == len(want.ids)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.features, b.features, err_msg=a.id)
    assert not list(dest.rglob("*fastmel-tmp*"))
    if fmt == "hdf5":  # no shard that the manifest does not point to
        referenced = {got.record(i)["file"] for i in got.ids}
        assert {f"shards/{p.name}" for p in (dest / "shards").iterdir()} == referenced
