"""What to convert: a folder of audio files, or a manifest naming them.

Supported sources
-----------------
Folder
    Every file below it (recursively, symlinks followed, hidden files and
    folders skipped) whose extension is one soundfile decodes: ``.wav``,
    ``.flac``, ``.ogg``, ``.oga``, ``.opus``, ``.mp3``, ``.aiff``/``.aif``,
    ``.au``, ``.caf``, ``.w64``, ``.rf64`` (headerless ``.raw`` is not, as it
    has no sample rate). An item's id is its path relative to the folder
    without the extension (``speech/a.wav`` -> ``speech/a``); when two files
    differ only by extension both keep it (``speech/a.wav``, ``speech/a.flac``).
CSV or JSONL manifest (``.csv``, ``.tsv``, ``.jsonl``, ``.ndjson``)
    One row per clip with a ``path`` column (also accepted: ``file``,
    ``filename``, ``audio``, ``audio_path``), an optional ``id`` column and an
    optional ``label`` column (also ``labels``). Relative paths are resolved
    against ``audio_root`` when given, else against the manifest's folder.
    Without ids, ids are made from the paths as for a folder.
AudioSet segment CSV (``balanced_train_segments.csv`` and friends)
    Comment lines start with ``#``; the columns are ``YTID, start_seconds,
    end_seconds, positive_labels`` (the header may itself be a comment).
    A ``path`` column, when present, names each file. Otherwise each clip is
    looked up in ``audio_root`` (default: the CSV's folder, searched
    recursively once) as ``{YTID}_{start}.{wav,flac}`` or
    ``Y{YTID}_{start}.{wav,flac}``, with ``start`` as written in the CSV
    (``30.000``), as an integer (``30``) or with one decimal (``30.0``); also
    ``Y{YTID}_{start}_{end}`` with three decimals, the PANNs layout. The id is
    ``{YTID}_{start}``; the labels are kept. A clip with no file is not
    dropped: it is an item whose conversion fails with "no file found".
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError

__all__ = ["Item", "AUDIO_EXTENSIONS", "read_source"]

#: Extensions a folder scan picks up (lower case, with the dot).
AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".aifc",
    ".au", ".snd", ".caf", ".w64", ".rf64",
})
_PATH_COLUMNS = ("path", "file", "filename", "audio", "audio_path")
_LABEL_COLUMNS = ("label", "labels", "positive_labels")
_MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class Item:
    """One clip to convert.

    Parameters
    ----------
    id : str
        Unique within the source; names the output (``{id}.npy`` for npy).
    path : str
        Absolute path of the audio file.
    source : str
        The path as the source wrote it, relative to the folder for a scan
        (kept in the manifest; a resume matches it, so a dataset may move).
    label : str or None
        Free text from the manifest's label column (AudioSet: comma-separated
        label ids).
    """

    id: str
    path: str
    source: str
    label: str | None = None


def read_source(source: str | os.PathLike, *, audio_root: str | os.PathLike | None = None,
                exclude: str | os.PathLike | None = None) -> list[Item]:
    """The items of a folder or a manifest, sorted by id.

    Parameters
    ----------
    source : path
        A folder, or a ``.csv`` / ``.tsv`` / ``.jsonl`` manifest (see the
        module docstring for the layouts).
    audio_root : path, optional
        Folder that relative manifest paths (and AudioSet clips) live in.
    exclude : path, optional
        A folder a scan skips (the conversion's own DEST).

    Returns
    -------
    list of Item, unique ids

    Raises
    ------
    ParameterError
        The source does not exist, is of an unknown kind, lacks a path
        column, or repeats an id.
    """
    src = Path(source).expanduser()
    if src.is_dir():
        items = _scan_folder(src.resolve(), exclude=Path(exclude).resolve() if exclude else None)
    elif src.is_file() and src.suffix.lower() in _MANIFEST_SUFFIXES:
        root = Path(audio_root).expanduser().resolve() if audio_root else src.resolve().parent
        items = _read_manifest(src, root=root)
    elif not src.exists():
        raise ParameterError(f"source {str(src)!r} does not exist; expected a folder or a manifest")
    else:
        raise ParameterError(f"source {str(src)!r} is neither a folder nor a manifest "
                             f"with a suffix in {list(_MANIFEST_SUFFIXES)}")
    _check_unique(items, src)
    return sorted(items, key=lambda item: item.id)


# ---------------------------------------------------------------- folders

def _scan_folder(root: Path, *, exclude: Path | None) -> list[Item]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (exclude is None or here / d != exclude))
        found += [here / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in AUDIO_EXTENSIONS]
    rels = [p.relative_to(root).as_posix() for p in found]
    ids = _ids_from_paths(rels)
    return [Item(id=i, path=str(p), source=rel) for i, p, rel in zip(ids, found, rels)]


def _ids_from_paths(rels: list[str]) -> list[str]:
    stems = [rel.rsplit(".", 1)[0] if "." in Path(rel).name else rel for rel in rels]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    return [stem if counts[stem] == 1 else rel for stem, rel in zip(stems, rels)]


def _check_unique(items: list[Item], src: Path) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ParameterError(f"id {item.id!r} appears more than once in {str(src)!r}; ids must be unique")
        seen.add(item.id)


# ---------------------------------------------------------------- manifests

def _read_manifest(path: Path, *, root: Path) -> list[Item]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = [_json_row(line, path, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    else:
        rows = _csv_rows(text, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    if rows and "ytid" in {k.lower() for k in rows[0]} and not _column(rows[0], _PATH_COLUMNS):
        return _audioset_items(rows, root=root)
    return _path_items(rows, root=root, where=str(path))


def _json_row(line: str, path: Path, lineno: int) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{str(path)!r} line {lineno} is not JSON: {exc}") from exc
    if not isinstance(row, dict):
        raise ParameterError(f"{str(path)!r} line {lineno} is {type(row).__name__}; expected a JSON object")
    return row


def _csv_rows(text: str, *, delimiter: str) -> list[dict]:
    """Rows of a CSV whose header may be a ``#`` comment (AudioSet's layout)."""
    lines = text.splitlines()
    header: list[str] | None = None
    body: list[str] = []
    for line in lines:
        if line.startswith("#"):
            fields = [f.strip() for f in line.lstrip("#").split(delimiter)]
            if header is None and fields and fields[0].lower() == "ytid":
                header = fields
            continue
        if line.strip():
            body.append(line)
    reader = csv.reader(io.StringIO("\n".join(body)), delimiter=delimiter, skipinitialspace=True)
    if header is None:
        header = [h.strip() for h in next(reader, [])]
    return [dict(zip(header, (v.strip() for v in row))) for row in reader if row]


def _column(row: dict, names: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): k for k in row}
    return next((lowered[n] for n in names if n in lowered), None)


def _path_items(rows: list[dict], *, root: Path, where: str) -> list[Item]:
    if not rows:
        return []
    path_col = _column(rows[0], _PATH_COLUMNS)
    if path_col is None:
        raise ParameterError(f"manifest {where!r} has columns {sorted(rows[0])}; expected a path column, "
                             f"one of {list(_PATH_COLUMNS)}")
    id_col, label_col = _column(rows[0], ("id",)), _column(rows[0], _LABEL_COLUMNS)
    sources = [str(row[path_col]) for row in rows]
    ids = [str(row[id_col]) for row in rows] if id_col else _ids_from_paths(sources)
    items = []
    for row, src, item_id in zip(rows, sources, ids):
        label = row.get(label_col) if label_col else None
        items.append(Item(id=item_id, path=str((root / src).resolve()), source=src,
                          label=None if label is None else _label_text(label)))
    return items


def _label_text(label: object) -> str:
    return label if isinstance(label, str) else json.dumps(label)


def _audioset_items(rows: list[dict], *, root: Path) -> list[Item]:
    ytid_col = _column(rows[0], ("ytid",))
    start_col, end_col = _column(rows[0], ("start_seconds",)), _column(rows[0], ("end_seconds",))
    label_col = _column(rows[0], _LABEL_COLUMNS)
    if start_col is None:
        raise ParameterError(f"AudioSet CSV has columns {sorted(rows[0])}; expected start_seconds")
    files = _index_folder(root)
    items = []
    for row in rows:
        ytid, start, end = row[ytid_col], row[start_col], row.get(end_col or "", "")
        names = _audioset_names(ytid, start, end)
        hit = next((files[n] for n in names if n in files), None)
        item_id = f"{ytid}_{_seconds(start, 3)}"
        path = hit if hit is not None else root / f"{names[0]}"
        items.append(Item(id=item_id, path=str(path), source=str(path.relative_to(root)) if hit else names[0],
                          label=row.get(label_col) if label_col else None))
    return items


def _audioset_names(ytid: str, start: str, end: str) -> list[str]:
    starts = list(dict.fromkeys([start, _seconds(start, 0), _seconds(start, 1), _seconds(start, 3)]))
    stems = [f"{prefix}{ytid}_{s}" for prefix in ("", "Y") for s in starts]
    if end:
        stems.append(f"Y{ytid}_{_seconds(start, 3)}_{_seconds(end, 3)}")
    return [f"{stem}{ext}" for stem in stems for ext in (".wav", ".flac")]


def _seconds(text: str, decimals: int) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(round(value))) if decimals == 0 else f"{value:.{decimals}f}"


def _index_folder(root: Path) -> dict[str, Path]:
    """File name -> path for every file below ``root`` (first one wins)."""
    files: dict[str, Path] = {}
    for folder, dirs, names in os.walk(root, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            files.setdefault(name, Path(folder) / name)
    return files
