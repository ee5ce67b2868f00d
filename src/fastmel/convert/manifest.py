"""The bookkeeping files of a conversion: ``DEST/fastmel.json`` and ``DEST/manifest.jsonl``.

``fastmel.json`` says how every file in DEST was made: format, dtype, the
preset's name, the full feature configuration (``FeatureConfig.to_dict()``)
and fastmel's version. A run against an existing DEST must ask for the same
format, dtype and configuration, or pass ``overwrite=True``.

``manifest.jsonl`` is append-only, one JSON object per line, written by the
driver process alone. Each line is one item's outcome; when an id appears
more than once (a failure, then a success on a later run), the last line
wins. A line cut short by a crash is ignored when read. Fields:

=================  =======================================================
id                 the item's id (unique)
source             the audio path as the source named it
label              the source's label text, or null
status             ``"ok"`` or ``"failed"``
error              why it failed (``"AudioError: ..."``), null when ok
duration_s         seconds of audio in the source file (null if unreadable)
sample_rate_hz     the source file's sample rate
channels           the source file's channel count
n_frames           feature frames
shape, dtype       the stored array's shape (list) and dtype
file               where it lives, relative to DEST (npy file or shard)
key                the member inside a shard (hdf5 dataset, tar sample key)
offset, nbytes     tar only: byte range of the ``.npy`` member in the shard
file_bytes         size of ``file`` in bytes when it was written
crc32              CRC-32 of the stored ``.npy`` bytes (npy, tar) or array bytes (hdf5)
attempt            1, or 2 for an item retried after its worker died
seconds            wall time the worker spent on the item
worker             ``host:pid`` that converted it
run                id of the run that wrote the line
=================  =======================================================
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

from ..errors import ParameterError

__all__ = ["META_NAME", "MANIFEST_NAME", "ManifestWriter", "read_manifest", "read_meta",
           "write_meta", "check_meta"]

META_NAME = "fastmel.json"
MANIFEST_NAME = "manifest.jsonl"


class ManifestWriter:
    """Appends records to ``DEST/manifest.jsonl``, one line each, flushed at once.

    The file is opened in append mode and each record is written with one
    ``write`` call, so a killed process leaves at worst one torn last line,
    which :func:`read_manifest` skips (and the next writer truncates).
    """

    def __init__(self, dest: str | os.PathLike) -> None:
        self.path = Path(dest) / MANIFEST_NAME
        _drop_torn_tail(self.path)
        self._file = open(self.path, "a", encoding="utf-8")
        self._last_sync = time.monotonic()

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Append ``records`` and flush them to the OS (fsync at most every 5 s)."""
        text = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records)
        if not text:
            return
        self._file.write(text)
        self._file.flush()
        if time.monotonic() - self._last_sync > 5.0:
            os.fsync(self._file.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> "ManifestWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that lacks its newline (a write killed half way)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        f.truncate(data.rfind(b"\n") + 1)


def read_manifest(dest: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """id -> latest record, in order of first appearance; {} when there is none.

    Lines that are not complete JSON objects (a torn tail) are skipped.
    """
    path = Path(dest) / MANIFEST_NAME
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "id" in record:
                records[record["id"]] = record
    return records


def read_meta(dest: str | os.PathLike) -> dict[str, Any] | None:
    """The parsed ``DEST/fastmel.json``, or None when DEST has none."""
    path = Path(dest) / META_NAME
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{str(path)!r} is not valid JSON ({exc}); "
                             "it is not a fastmel conversion, or it was damaged") from exc


def write_meta(dest: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write ``DEST/fastmel.json`` atomically."""
    path = Path(dest) / META_NAME
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def check_meta(existing: dict[str, Any], wanted: dict[str, Any], *, dest: str) -> None:
    """Refuse to add to a DEST made with another format, dtype or configuration.

    Raises
    ------
    ParameterError
        Naming what differs, the old and new values, and the way out
        (``--overwrite`` or another DEST).
    """
    diffs = [f"{key} {existing.get(key)!r} -> {wanted[key]!r}"
             for key in ("format", "dtype", "preset") if existing.get(key) != wanted[key]]
    if existing.get("config") != wanted["config"] and not any(d.startswith("preset") for d in diffs):
        changed = sorted(_changed_keys(existing.get("config") or {}, wanted["config"]))
        diffs.append(f"feature config ({', '.join(changed) or 'all fields'})")
    if diffs:
        raise ParameterError(
            f"DEST {dest!r} holds features made with preset {existing.get('preset')!r}, "
            f"dtype {existing.get('dtype')!r}, format {existing.get('format')!r}; this run differs in "
            f"{'; '.join(diffs)}. Pass --overwrite (overwrite=True) to replace them, or choose another DEST"
        )


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += _changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [prefix.rstrip(".")]
