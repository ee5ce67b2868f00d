"""Reading a conversion back: ``open_features(DEST)``, one clip at a time, any format."""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

from ..errors import ParameterError
from .manifest import META_NAME, read_manifest, read_meta

__all__ = ["open_features", "FeatureSet", "Clip", "stored_crc32"]


class Clip(NamedTuple):
    """One converted clip.

    Attributes
    ----------
    id : str
    features : np.ndarray
        The stored array, in the preset's layout and the conversion's dtype
        (AST: ``[1024, 128]``).
    meta : dict
        The clip's manifest record (source, label, duration_s,
        sample_rate_hz, shape, dtype, file, ...).
    """

    id: str
    features: np.ndarray
    meta: dict[str, Any]


def open_features(dest: str | os.PathLike) -> "FeatureSet":
    """The converted clips of ``dest``, read lazily.

    Parameters
    ----------
    dest : path
        A folder written by :func:`fastmel.convert.convert` (any format).

    Returns
    -------
    FeatureSet
        A sequence of :class:`Clip` in id order, also indexable by id.

    Raises
    ------
    ParameterError
        ``dest`` holds no ``fastmel.json``.

    Examples
    --------
    >>> fs = open_features("feats/")
    >>> clip = fs[0]                 # Clip(id, features [1024, 128] float32, meta)
    >>> fs["speech/a"].features.shape
    """
    return FeatureSet(dest)


class FeatureSet(Sequence):
    """Converted clips of one DEST: ``len``, ``fs[i]``, ``fs[id]``, iteration.

    Only clips whose manifest status is ``ok`` are members; ``failed`` holds
    the others' records. Open HDF5 and tar files are cached on this object
    (reopened in a forked DataLoader worker); ``close()`` releases them.

    Attributes
    ----------
    dest : Path
    meta : dict
        ``fastmel.json``: format, dtype, preset, config, fastmel_version.
    ids : list of str
        Member ids, sorted.
    failed : dict
        id -> manifest record of the items that failed.
    """

    def __init__(self, dest: str | os.PathLike) -> None:
        self.dest = Path(dest)
        meta = read_meta(self.dest) if self.dest.is_dir() else None
        if meta is None:
            raise ParameterError(f"{str(self.dest)!r} holds no {META_NAME}; expected a folder written by "
                                 "fastmel convert")
        self.meta = meta
        records = read_manifest(self.dest)
        self._records = {i: r for i, r in records.items() if r.get("status") == "ok"}
        self.failed = {i: r for i, r in records.items() if r.get("status") != "ok"}
        self.ids = sorted(self._records)
        self._handles: dict[str, Any] = {}
        self._pid = os.getpid()

    @property
    def format(self) -> str:
        return self.meta["format"]

    @property
    def config(self) -> Any:
        """The :class:`~fastmel.FeatureConfig` the features were made with."""
        from ..config import FeatureConfig

        return FeatureConfig.from_dict(self.meta["config"])

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._records

    def __getitem__(self, key: int | str) -> Clip:  # type: ignore[override]
        if isinstance(key, str):
            if key not in self._records:
                raise KeyError(f"id {key!r} is not a converted clip of {str(self.dest)!r}")
            item_id = key
        elif isinstance(key, (int, np.integer)):
            item_id = self.ids[key]
        else:
            raise TypeError(f"key={key!r} is not an int index or a str id")
        record = self._records[item_id]
        return Clip(item_id, self._load(record), record)

    def __iter__(self) -> Iterator[Clip]:
        for i in range(len(self)):
            yield self[i]

    def keys(self) -> list[str]:
        return list(self.ids)

    def record(self, item_id: str) -> dict[str, Any]:
        """The manifest record of any item, converted or failed."""
        return self._records.get(item_id) or self.failed[item_id]

    def _load(self, record: dict[str, Any]) -> np.ndarray:
        fmt = self.meta["format"]
        if fmt == "npy":
            return np.load(self.dest / record["file"], allow_pickle=False)
        if fmt == "hdf5":
            return self._handle(record["file"], "hdf5")[record["key"]][()]
        return np.load(io.BytesIO(_read_range(self._handle(record["file"], "tar"), record)), allow_pickle=False)

    def _handle(self, rel: str, kind: str) -> Any:
        if self._pid != os.getpid():  # forked: the parent's handles are not ours
            self._handles, self._pid = {}, os.getpid()
        handle = self._handles.get(rel)
        if handle is None:
            if kind == "hdf5":
                import h5py

                handle = h5py.File(self.dest / rel, "r")
            else:
                handle = open(self.dest / rel, "rb")
            self._handles[rel] = handle
        return handle

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles = {}

    def __enter__(self) -> "FeatureSet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:  # picklable for DataLoader workers (spawn)
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state

    def __repr__(self) -> str:
        return (f"FeatureSet({str(self.dest)!r}, format={self.format!r}, clips={len(self)}, "
                f"failed={len(self.failed)}, preset={self.meta.get('preset')!r}, dtype={self.meta.get('dtype')!r})")


def _read_range(f: Any, record: dict[str, Any]) -> bytes:
    f.seek(record["offset"])
    return f.read(record["nbytes"])


def stored_crc32(dest: Path, record: dict[str, Any]) -> int | None:
    """CRC-32 of a record's stored bytes as the writer hashed them; None when unreadable."""
    path = dest / record["file"]
    try:
        if record.get("offset") is not None:  # tar member
            with open(path, "rb") as f:
                data = _read_range(f, record)
        elif record.get("key"):  # hdf5 dataset
            import h5py

            with h5py.File(path, "r") as h5:
                data = np.ascontiguousarray(h5[record["key"]][()]).tobytes()
        else:
            data = path.read_bytes()
    except (OSError, KeyError, ValueError):
        return None
    return zlib.crc32(data)
