"""Where features go: one writer protocol, three formats.

``npy``
    One ``DEST/{id}.npy`` per clip, mirroring the source tree. Each file is
    written under a temporary name and renamed into place. An .npy file has
    no slot for attributes: ``DEST/fastmel.json`` and the manifest say how
    it was made.
``hdf5``
    One ``DEST/shards/{name}.h5`` per task (a shard of ``shard_size`` clips),
    one dataset per clip (``/clips/000000``, ... with attributes ``id``,
    ``source``, ``label``), a ``/index`` dataset of the ids in order, and the
    provenance (fastmel version, preset, dtype, config JSON) as root attributes.
``webdataset``
    One ``DEST/shards/{name}.tar`` per task, uncompressed, each sample a
    ``{key}.npy`` (the features) and a ``{key}.json`` (id, source, label,
    duration, sample rate, shape, dtype and the provenance); readable by
    ``webdataset.WebDataset``. The key is the id with characters other than
    letters, digits, ``_``, ``-`` and ``/`` replaced by ``_``.

A shard is built under a temporary name and renamed when complete, so a
shard that exists is whole. Writers run in the worker processes.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
import zlib
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ..errors import ParameterError
from .sources import Item

__all__ = ["Format", "FORMATS", "Writer", "open_writer", "safe_relpath", "SHARD_DIR", "TMP_MARK"]

Format = Literal["npy", "hdf5", "webdataset"]
FORMATS: tuple[str, ...] = ("npy", "hdf5", "webdataset")
SHARD_DIR = "shards"
TMP_MARK = ".fastmel-tmp"  # every temporary file's name contains this


class Writer(Protocol):
    """Stores one task's clips.

    ``add`` stores one clip and returns where it lives (manifest fields
    ``file``, ``key``, ``offset``, ``nbytes``, ``crc32``, ``file_bytes``);
    ``seal`` makes everything added durable and visible and returns the
    final ``file_bytes`` of each added id; ``abort`` removes what is not
    sealed.
    """

    def add(self, item: Item, features: np.ndarray, info: dict[str, Any]) -> dict[str, Any]: ...

    def seal(self) -> dict[str, int]: ...

    def abort(self) -> None: ...


def open_writer(fmt: str, *, dest: str, shard: str | None, provenance: dict[str, Any]) -> Writer:
    """A writer of ``fmt`` into ``dest``.

    Parameters
    ----------
    fmt : {"npy", "hdf5", "webdataset"}
    dest : str
        The conversion's output folder.
    shard : str or None
        The shard's file stem (shard formats only).
    provenance : dict
        ``fastmel_version``, ``preset``, ``dtype``, ``config`` (dict), stored
        in each shard.
    """
    if fmt == "npy":
        return NpyWriter(dest)
    if shard is None:
        raise ParameterError(f"format {fmt!r} needs a shard name; got shard=None")
    if fmt == "hdf5":
        return Hdf5Writer(dest, shard, provenance)
    if fmt == "webdataset":
        return TarWriter(dest, shard, provenance)
    raise ParameterError(f"format={fmt!r} is not one of {list(FORMATS)}")


def safe_relpath(item_id: str) -> str:
    """A relative POSIX path for an id: no leading ``/``, no ``..`` or empty parts."""
    parts = [p if p not in ("", ".", "..") else "_" for p in item_id.replace("\\", "/").strip("/").split("/")]
    return "/".join(parts) or "_"


def npy_bytes(features: np.ndarray) -> bytes:
    """The ``.npy`` serialisation of ``features`` (``np.save``'s bytes)."""
    buf = io.BytesIO()
    np.save(buf, features, allow_pickle=False)
    return buf.getvalue()


def npy_header(features: np.ndarray) -> bytes:
    """The ``.npy`` header (format 1.0 or later, as ``np.save`` writes) of a C-contiguous array."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(features)) \
        if _fits_v1(features) else np.lib.format.write_array_header_2_0(
            buf, np.lib.format.header_data_from_array_1_0(features))
    return buf.getvalue()


def _fits_v1(features: np.ndarray) -> bool:
    return len(repr(np.lib.format.header_data_from_array_1_0(features))) < 65000


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{TMP_MARK}-{os.getpid()}")


class NpyWriter:
    """``DEST/{id}.npy``, each written to a temporary name and renamed."""

    def __init__(self, dest: str) -> None:
        self.dest = Path(dest)
        self._sizes: dict[str, int] = {}

    def add(self, item: Item, features: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        rel = safe_relpath(item.id) + ".npy"
        path = self.dest / rel
        features = np.ascontiguousarray(features)
        header = npy_header(features)
        body = memoryview(features).cast("B")  # no copy of the features
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_name(path)
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(body)
        os.replace(tmp, path)
        size = len(header) + body.nbytes
        self._sizes[item.id] = size
        return {"file": rel, "key": None, "offset": None, "nbytes": size,
                "crc32": zlib.crc32(body, zlib.crc32(header)), "file_bytes": size}

    def seal(self) -> dict[str, int]:
        return dict(self._sizes)

    def abort(self) -> None:
        pass  # each file is complete or absent


class Hdf5Writer:
    """One HDF5 shard: ``/clips/NNNNNN`` datasets, ``/index``, provenance attributes."""

    def __init__(self, dest: str, shard: str, provenance: dict[str, Any]) -> None:
        import h5py  # optional extra: fastmel[convert]

        self.rel = f"{SHARD_DIR}/{shard}.h5"
        self.path = Path(dest) / self.rel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _tmp_name(self.path)
        self._file = h5py.File(self._tmp, "w")
        for key, value in _flat_provenance(provenance).items():
            self._file.attrs[key] = value
        self._clips = self._file.create_group("clips")
        self._ids: list[str] = []

    def add(self, item: Item, features: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        key = f"clips/{len(self._ids):06d}"
        ds = self._clips.create_dataset(key.split("/")[1], data=features)
        ds.attrs["id"] = item.id
        ds.attrs["source"] = item.source
        if item.label is not None:
            ds.attrs["label"] = item.label
        self._ids.append(item.id)
        data = np.ascontiguousarray(features).tobytes()
        return {"file": self.rel, "key": key, "offset": None, "nbytes": len(data),
                "crc32": zlib.crc32(data), "file_bytes": None}

    def seal(self) -> dict[str, int]:
        import h5py

        self._file.create_dataset("index", data=np.array(self._ids, dtype=object), dtype=h5py.string_dtype())
        self._file.close()
        os.replace(self._tmp, self.path)
        size = self.path.stat().st_size
        return {i: size for i in self._ids}

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            self._tmp.unlink(missing_ok=True)


_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-/]")


class TarWriter:
    """One WebDataset tar shard: ``{key}.npy`` + ``{key}.json`` per sample."""

    def __init__(self, dest: str, shard: str, provenance: dict[str, Any]) -> None:
        self.rel = f"{SHARD_DIR}/{shard}.tar"
        self.path = Path(dest) / self.rel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _tmp_name(self.path)
        self._tar = tarfile.open(self._tmp, "w", format=tarfile.GNU_FORMAT)
        self._provenance = provenance
        self._keys: set[str] = set()
        self._ids: list[str] = []

    def _key(self, item_id: str) -> str:
        key = _KEY_UNSAFE.sub("_", safe_relpath(item_id))
        while key in self._keys:
            key += "_"
        self._keys.add(key)
        return key

    def _member(self, name: str, data: bytes) -> int:
        """Append a member; returns the offset of its data in the tar."""
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
        header = info.tobuf(self._tar.format, self._tar.encoding, self._tar.errors)
        start = self._tar.offset
        self._tar.addfile(info, io.BytesIO(data))
        return start + len(header)

    def add(self, item: Item, features: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        key = self._key(item.id)
        data = npy_bytes(features)
        offset = self._member(f"{key}.npy", data)
        meta = {"id": item.id, "source": item.source, "label": item.label, **info, **self._provenance}
        self._member(f"{key}.json", json.dumps(meta, sort_keys=True).encode())
        self._ids.append(item.id)
        return {"file": self.rel, "key": key, "offset": offset, "nbytes": len(data),
                "crc32": zlib.crc32(data), "file_bytes": None}

    def seal(self) -> dict[str, int]:
        self._tar.close()
        os.replace(self._tmp, self.path)
        size = self.path.stat().st_size
        return {i: size for i in self._ids}

    def abort(self) -> None:
        try:
            self._tar.close()
        finally:
            self._tmp.unlink(missing_ok=True)


def _flat_provenance(provenance: dict[str, Any]) -> dict[str, str]:
    """HDF5 attributes: strings, the config as JSON."""
    return {k: (json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else str(v))
            for k, v in provenance.items()}
