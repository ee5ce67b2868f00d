"""One unit of work, run in a worker: decode, resample, extract and store a
few clips, and return one small record per clip.

A task is picklable and self-contained (it carries the configuration as a
dict), so any ``concurrent.futures.Executor`` can run it: a local process
pool, or a Dask cluster whose workers see DEST. Only records (a few hundred
bytes each) go back to the driver.

Before each clip the worker writes the clip's id to
``DEST/.fastmel/inflight/{task_id}``; if the worker dies, the driver reads it
to learn which clip was in flight.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .sources import Item
from .writers import open_writer

__all__ = ["Task", "run_task", "inflight_path", "read_inflight", "worker_init"]

INFLIGHT_DIR = ".fastmel/inflight"


@dataclass(frozen=True)
class Task:
    """Clips for one worker call.

    Parameters
    ----------
    task_id : str
        Unique within the run; names the in-flight marker.
    items : tuple of Item
    attempt : int
        1, or 2 when retried after a worker died.
    dest : str
        Absolute output folder, as the workers see it.
    fmt : {"npy", "hdf5", "webdataset"}
    shard : str or None
        The shard's file stem for shard formats.
    config : dict
        ``FeatureConfig.to_dict()``.
    dtype : {"float32", "float16"}
        dtype features are stored in.
    backend : str
        Extractor backend (``"auto"``).
    provenance : dict
        Stored with each shard (see ``writers``).
    run : str
        The run's id, copied into each record.
    """

    task_id: str
    items: tuple[Item, ...]
    attempt: int
    dest: str
    fmt: str
    shard: str | None
    config: dict
    dtype: str
    backend: str
    provenance: dict
    run: str


def inflight_path(dest: str, task_id: str) -> Path:
    return Path(dest) / INFLIGHT_DIR / task_id


def worker_init() -> None:
    """Local pool workers: die with the driver (Linux), so a killed run leaves no orphans."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: orphans finish their clip and exit on the broken pipe
        pass


def run_task(task: Task) -> list[dict[str, Any]]:
    """Convert ``task.items``; one record per item (see ``manifest`` for the fields).

    Never raises for a bad clip: its record says ``status="failed"`` and why.
    """
    from ..config import FeatureConfig
    from ..extractor import Extractor

    extractor = Extractor(FeatureConfig.from_dict(task.config), backend=task.backend, num_threads=1)
    marker_path = inflight_path(task.dest, task.task_id)
    marker_path.parent.mkdir(parents=True, exist_ok=True)
    writer = open_writer(task.fmt, dest=task.dest, shard=task.shard, provenance=task.provenance)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    records = []
    with open(marker_path, "w+b") as marker:  # rewritten in place: ~µs, not a file creation per clip
        try:
            for item in task.items:
                marker.seek(0)
                marker.write(item.id.encode() + b"\n")
                marker.flush()
                records.append(_convert_one(item, extractor, writer, task, worker))
            _seal(writer, records)
        except BaseException:
            writer.abort()
            raise
    marker_path.unlink(missing_ok=True)
    return records


def read_inflight(dest: str, task_id: str) -> str | None:
    """The id a task was converting when its worker died, or None (died before its first clip)."""
    path = inflight_path(dest, task_id)
    try:
        text = path.read_bytes().decode(errors="replace")
    except OSError:
        return None
    path.unlink(missing_ok=True)
    return text.split("\n", 1)[0] if "\n" in text else None


def _convert_one(item: Item, extractor: Any, writer: Any, task: Task, worker: str) -> dict[str, Any]:
    from ..audio import audio_info, load

    start = time.perf_counter()
    record: dict[str, Any] = {"id": item.id, "source": item.source, "label": item.label, "status": "ok",
                              "error": None, "duration_s": None, "sample_rate_hz": None, "channels": None,
                              "attempt": task.attempt, "run": task.run, "worker": worker}
    try:
        rate, channels, duration = audio_info(item.path)
        record.update(duration_s=duration, sample_rate_hz=rate, channels=channels)
        samples, sr = load(item.path, sample_rate=extractor.sample_rate_hz)  # [n] float32
        features = np.asarray(extractor(samples, sample_rate=sr)).astype(task.dtype, copy=False)
        info = {"duration_s": duration, "sample_rate_hz": rate, "channels": channels,
                "shape": list(features.shape), "dtype": str(features.dtype)}
        record.update(shape=list(features.shape), dtype=str(features.dtype),
                      n_frames=extractor.n_frames(samples.shape[0]))
        record.update(writer.add(item, features, info))
    except Exception as exc:  # a bad clip is a record, never a crash
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    record["seconds"] = round(time.perf_counter() - start, 6)
    return record


def _seal(writer: Any, records: list[dict[str, Any]]) -> None:
    """Seal the writer; file sizes into the ok records, or every ok record failed."""
    if not any(r["status"] == "ok" for r in records):
        writer.abort()  # no empty shards
        return
    try:
        sizes = writer.seal()
    except Exception as exc:
        writer.abort()
        for r in records:
            if r["status"] == "ok":
                r.update(status="failed", error=f"could not seal {r.get('file')!r}: {type(exc).__name__}: {exc}")
        return
    for r in records:
        if r["status"] == "ok":
            r["file_bytes"] = sizes[r["id"]]
