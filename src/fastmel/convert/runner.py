"""``convert``: a whole dataset into feature files, resumable, on a local
process pool or any ``concurrent.futures.Executor`` (a Dask ``Client`` fits).

How a run goes
--------------
1. ``DEST/fastmel.json`` is checked against this run's format, dtype and
   feature config (a mismatch is refused unless ``overwrite``), leftovers of
   a killed run (temporary files, in-flight markers, shards no record points
   to) are removed.
2. Items whose manifest record says ``ok`` *and* whose file is there with
   the recorded size (and, with ``verify=True``, the recorded CRC-32) are
   skipped. Everything else, failures of earlier runs included, is converted.
3. Items go to the executor in tasks: a few clips each for ``npy``, one
   shard of ``shard_size`` clips each for ``hdf5`` and ``webdataset``. The
   workers write their own outputs; only records come back, and the driver
   appends them to ``DEST/manifest.jsonl`` as they arrive.
4. When a worker dies (killed, out of memory), every task it shared the
   pool with comes back broken. For each, the clip that was in flight (read
   from its in-flight marker) is retried once, alone in the pool; the rest
   of the task is requeued. A clip whose worker dies again is recorded as
   failed. A broken local pool is rebuilt.

Nothing half-written survives: npy files and shards are written under a
temporary name and renamed when complete. Short clips follow the Extractor:
with a snip-edges preset (ast, beats, kaldi) a clip shorter than one window
yields no frame and is a failure with that reason; centered presets pad it.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from ..errors import ParameterError
from .manifest import MANIFEST_NAME, META_NAME, ManifestWriter, check_meta, read_manifest, read_meta, write_meta
from .progress import ConvertSummary, Progress
from .sources import Item, read_source
from .scheduler import Pool, Scheduler
from .task import INFLIGHT_DIR, Task
from .writers import FORMATS, SHARD_DIR, TMP_MARK

__all__ = ["convert", "DTYPES", "DEFAULT_SHARD_SIZE"]

DTYPES = ("float32", "float16")
DEFAULT_SHARD_SIZE = 256  # clips per hdf5 / tar shard: ~128 MB of AST features


def convert(*, source: str | os.PathLike, dest: str | os.PathLike, preset: str | None = "ast",
            config: Any = None, format: Literal["npy", "hdf5", "webdataset"] = "npy",
            dtype: Literal["float32", "float16"] = "float32", executor: Any = None,
            workers: int | None = None, shard_size: int = DEFAULT_SHARD_SIZE, overwrite: bool = False,
            backend: str = "auto", audio_root: str | os.PathLike | None = None, verify: bool = False,
            quiet: bool = False) -> ConvertSummary:
    """Convert every clip of ``source`` into features stored in ``dest``.

    Parameters
    ----------
    source : path
        A folder (scanned recursively) or a CSV / JSONL / AudioSet manifest
        (see :mod:`fastmel.convert.sources`).
    dest : path
        Output folder, created if needed. Must be visible to every worker.
    preset : str or None
        A preset name (``fastmel.preset_names()``); ignored when ``config``
        is given.
    config : FeatureConfig, optional
        A custom configuration instead of a preset.
    format : {"npy", "hdf5", "webdataset"}
    dtype : {"float32", "float16"}
        dtype the features are stored in.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where tasks run; None means a local process pool (spawn) of
        ``workers`` processes.
    workers : int, optional
        Local pool size (default: all cores); with a caller's executor, how
        many tasks it runs at once (default: its own size).
    shard_size : int
        Clips per shard for ``hdf5`` and ``webdataset``.
    overwrite : bool
        Replace a DEST made with another format, dtype or config (its
        recorded files and manifest are deleted first).
    backend : str
        Extractor backend, ``"auto"`` or a name from ``fastmel.backend_names()``.
    audio_root : path, optional
        Folder that relative manifest paths are resolved against.
    verify : bool
        On resume, check each finished item's CRC-32, not only its size.
    quiet : bool
        No progress output.

    Returns
    -------
    ConvertSummary
        Counts, audio hours, wall time; ``exit_code`` is 0 when nothing failed, 3 otherwise.

    Raises
    ------
    ParameterError
        A bad argument, a missing source, or a DEST made differently
        (without ``overwrite``). Bad audio never raises: it is a failed item.
    """
    start = time.monotonic()
    feature_config, preset_name = _resolve_config(preset, config)
    _check_choices(format=format, dtype=dtype, workers=workers, shard_size=shard_size)
    dest_path = Path(dest).expanduser().resolve()
    provenance = _provenance(feature_config, preset_name, dtype)
    _prepare_dest(dest_path, {**provenance, "format": format}, overwrite=overwrite)
    items = read_source(source, audio_root=audio_root, exclude=dest_path)
    todo, skipped = _split_done(items, dest_path, verify=verify)
    _remove_orphans(dest_path)
    plan = _Plan(dest=str(dest_path), fmt=format, dtype=dtype, backend=backend, provenance=provenance,
                 shard_size=shard_size)
    summary = ConvertSummary(total=len(items), skipped=skipped, dest=str(dest_path))
    if todo:
        with Pool(executor, workers) as pool, ManifestWriter(dest_path) as manifest:
            progress = Progress(total=len(todo), quiet=quiet)
            try:
                Scheduler(pool, plan, manifest, progress, summary).run(plan.tasks(todo, pool.slots))
            finally:
                progress.close()
    summary.wall_s = time.monotonic() - start
    return summary


# ---------------------------------------------------------------- arguments and DEST

def _resolve_config(preset: str | None, config: Any) -> tuple[Any, str | None]:
    from ..config import FeatureConfig
    from ..presets import get_preset

    if config is not None:
        if not isinstance(config, FeatureConfig):
            raise ParameterError(f"config={config!r} is not a FeatureConfig")
        return config, None
    if preset is None:
        raise ParameterError("preset=None and config=None; give a preset name or a FeatureConfig")
    return get_preset(preset), preset


def _check_choices(*, format: str, dtype: str, workers: int | None, shard_size: int) -> None:
    if format not in FORMATS:
        raise ParameterError(f"format={format!r} is not one of {list(FORMATS)}")
    if dtype not in DTYPES:
        raise ParameterError(f"dtype={dtype!r} is not one of {list(DTYPES)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParameterError(f"workers={workers!r} is not None or an integer >= 1")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ParameterError(f"shard_size={shard_size!r} is not an integer >= 1")


def _provenance(config: Any, preset: str | None, dtype: str) -> dict[str, Any]:
    from .. import __version__

    return {"fastmel_version": __version__, "preset": preset, "dtype": dtype, "config": config.to_dict()}


def _prepare_dest(dest: Path, meta: dict[str, Any], *, overwrite: bool) -> None:
    """Check or create ``DEST/fastmel.json``; with ``overwrite``, clear an old conversion first."""
    existing = read_meta(dest) if dest.exists() else None
    if existing is not None:
        try:
            check_meta(existing, meta, dest=str(dest))
        except ParameterError:
            if not overwrite:
                raise
            _clear_conversion(dest)
            existing = None
    elif dest.exists() and any(dest.iterdir()) and not overwrite:
        raise ParameterError(f"DEST {str(dest)!r} is not empty and holds no {META_NAME}: it is not a fastmel "
                             "conversion; choose an empty or new folder, or pass --overwrite to write into it")
    dest.mkdir(parents=True, exist_ok=True)
    if existing is None:
        write_meta(dest, {**meta, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def _clear_conversion(dest: Path) -> None:
    """Delete what an earlier conversion recorded: its files, manifest and meta."""
    for record in read_manifest(dest).values():
        if record.get("file"):
            (dest / record["file"]).unlink(missing_ok=True)
    shutil.rmtree(dest / SHARD_DIR, ignore_errors=True)
    shutil.rmtree(dest / ".fastmel", ignore_errors=True)
    for name in (MANIFEST_NAME, META_NAME):
        (dest / name).unlink(missing_ok=True)


def _split_done(items: list[Item], dest: Path, *, verify: bool) -> tuple[list[Item], int]:
    """(items to convert, count already done and intact)."""
    from .reader import stored_crc32

    records = read_manifest(dest)
    sizes: dict[str, int | None] = {}
    todo, skipped = [], 0
    for item in items:
        r = records.get(item.id)
        ok = r is not None and r.get("status") == "ok" and r.get("source") == item.source and r.get("file")
        if ok:
            if r["file"] not in sizes:
                path = dest / r["file"]
                sizes[r["file"]] = path.stat().st_size if path.is_file() else None
            ok = sizes[r["file"]] == r.get("file_bytes")
        if ok and verify:
            ok = stored_crc32(dest, r) == r.get("crc32")
        if ok:
            skipped += 1
        else:
            todo.append(item)
    return todo, skipped


def _remove_orphans(dest: Path) -> None:
    """Temporary files, in-flight markers, and shards no intact record points to."""
    for folder, _, names in os.walk(dest):
        for name in names:
            if TMP_MARK in name:
                (Path(folder) / name).unlink(missing_ok=True)
    shutil.rmtree(dest / INFLIGHT_DIR, ignore_errors=True)
    shards = dest / SHARD_DIR
    if shards.is_dir():
        wanted = {r["file"] for r in read_manifest(dest).values() if r.get("status") == "ok" and r.get("file")}
        for path in shards.iterdir():
            if f"{SHARD_DIR}/{path.name}" not in wanted:
                path.unlink(missing_ok=True)


# ---------------------------------------------------------------- tasks

class _Plan:
    """Turns items into tasks: their size, names and shared settings."""

    def __init__(self, *, dest: str, fmt: str, dtype: str, backend: str, provenance: dict[str, Any],
                 shard_size: int) -> None:
        from ..config import FeatureConfig  # noqa: F401  (fail here, not in every worker)

        self.dest, self.fmt, self.dtype, self.backend = dest, fmt, dtype, backend
        self.provenance, self.shard_size = provenance, shard_size
        self.run = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        self._seq = 0

    def tasks(self, items: list[Item], slots: int) -> list[Task]:
        if self.fmt == "npy":  # small tasks: even load, little lost when a worker dies
            size = max(1, min(32, math.ceil(len(items) / (4 * slots))))
        else:  # shard_size at most; smaller when there are too few items to keep every worker busy
            size = max(1, min(self.shard_size, math.ceil(len(items) / (2 * slots))))
        return [self.task(items[i:i + size]) for i in range(0, len(items), size)]

    def task(self, items: list[Item] | tuple[Item, ...], *, attempt: int = 1) -> Task:
        self._seq += 1
        name = f"{self.run}-{self._seq:06d}"
        return Task(task_id=name, items=tuple(items), attempt=attempt, dest=self.dest, fmt=self.fmt,
                    shard=None if self.fmt == "npy" else name, config=self.provenance["config"],
                    dtype=self.dtype, backend=self.backend, provenance=self.provenance, run=self.run)
