"""Conversion on Dask: an in-process LocalCluster through the API, and a real
``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1 through
``fastmel convert --scheduler``. Skipped, saying so, without dask.distributed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastmel.cli import main
from fastmel.convert import convert, open_features

from test_convert_corpus import expected_features, item_id, make_corpus

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (fastmel[distributed])")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("dask_corpus")
    return root, make_corpus(root, n_good=24, seed=3, long_s=())


def _check(dest: Path, root: Path, files: dict, preset: str) -> None:
    fs = open_features(dest)
    good = [r for r in files["good"] if r not in files["short"]]
    assert sorted(fs.ids) == sorted(item_id(r) for r in good)
    assert sorted(fs.failed) == sorted(item_id(r) for r in [*files["bad"], *files["short"]])
    for rel in good:
        np.testing.assert_array_equal(fs[item_id(rel)].features, expected_features(root / rel, preset=preset))


def test_local_cluster_client_as_executor(corpus, tmp_path):
    root, files = corpus
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        summary = convert(source=root, dest=tmp_path / "o", preset="kaldi", format="webdataset",
                          shard_size=5, executor=client, quiet=True)
    assert summary.exit_code == 3 and summary.converted == len(files["good"]) - len(files["short"])
    _check(tmp_path / "o", root, files, "kaldi")
    workers = {open_features(tmp_path / "o")[i].meta["worker"] for i in range(len(open_features(tmp_path / "o")))}
    assert len(workers) == 1  # processes=False: threads of this process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_workers(address: str, n: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with distributed.Client(address, timeout="5s") as client:
                client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise


def test_scheduler_and_two_worker_processes_via_cli(corpus, tmp_path):
    root, files = corpus
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [str(Path(sys.executable).with_name("dask"))] if Path(sys.executable).with_name("dask").exists() \
        else [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard", "--no-show"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([*dask, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                           "--host", "127.0.0.1", "--no-dashboard", "--local-directory",
                                           str(tmp_path / "dask-scratch")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_workers(address, 2, timeout_s=90)
        code = main(["convert", str(root), str(tmp_path / "o"), "--scheduler", address, "--format", "hdf5",
                     "--shard-size", "4", "--preset", "beats", "--quiet"])
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    assert code == 3
    _check(tmp_path / "o", root, files, "beats")
    fs = open_features(tmp_path / "o")
    assert len({fs[i].meta["worker"] for i in range(len(fs))}) == 2  # both worker processes took part
