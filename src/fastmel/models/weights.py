"""Reading Hugging Face model directories into NumPy: config, weights, key mapping.

A model directory holds ``config.json`` and ``model.safetensors`` (or
``pytorch_model.bin``, read when torch is installed). Parameters come back as
nested dicts shaped like the checkpoint, with the ``encoder.layer.N`` list as
a Python list::

    {"embeddings": {"cls_token": ..., "patch_embeddings": {"projection": {"weight": ...}}},
     "layers": [{"attention": {"q_proj": {"weight": ..., "bias": ...}, ...}, ...}, ...],
     "layernorm": {...}, "classifier": {"layernorm": {...}, "dense": {...}}}

Keys are nested under transformers 5's module names (``layers.N.attention.q_proj``).
Checkpoints in the legacy ViT layout (``encoder.layer.N.attention.attention.query``...),
which the MIT/ast-* hub checkpoints use and transformers 5's save_pretrained still
writes, are renamed on reading; a raw ``state_dict()`` needs no renaming.

safetensors files are read with plain file reads straight into their final
NumPy arrays (see ``read_safetensors`` for why not the safetensors package).
Nothing here touches the network at import time; a hub id is resolved only
when asked, through huggingface_hub's own cache.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from fastmel.errors import ModelError

__all__ = ["resolve_model_dir", "read_config", "read_state_dict", "read_safetensors", "nest_params"]

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
TORCH_FILE = "pytorch_model.bin"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # "owner/name"

# safetensors dtype codes -> NumPy dtypes (little-endian); BF16 is widened to float32.

# transformers 4 names -> transformers 5 names (ViT family conversion), applied in order.
KEY_RENAMES = (
    (re.compile(r"^audio_spectrogram_transformer\."), ""),
    (re.compile(r"^encoder\.layer\.(\d+)\."), r"layers.\1."),
    (re.compile(r"\.attention\.attention\.query\."), ".attention.q_proj."),
    (re.compile(r"\.attention\.attention\.key\."), ".attention.k_proj."),
    (re.compile(r"\.attention\.attention\.value\."), ".attention.v_proj."),
    (re.compile(r"\.attention\.output\.dense\."), ".attention.o_proj."),
    (re.compile(r"\.intermediate\.dense\."), ".mlp.fc1."),
    (re.compile(r"\.output\.dense\."), ".mlp.fc2."),
)


def resolve_model_dir(path_or_id: str | Path) -> Path:
    """Find a model directory: a local path, else a Hugging Face Hub id via its cache.

    Parameters
    ----------
    path_or_id : str or Path
        A directory holding ``config.json`` and weights, or ``"owner/name"``.

    Returns
    -------
    Path
        The directory.

    Raises
    ------
    ModelError
        When neither a directory nor a usable hub id is found, naming what
        was looked for and where.
    """
    path = Path(path_or_id).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelError(f"model path {str(path)!r} is a file; expected a directory holding {CONFIG_FILE}")
    name = str(path_or_id)
    if not HUB_ID.match(name):
        raise ModelError(f"model directory {str(path.resolve())!r} does not exist")
    return _from_hub(name, local=path)


def _from_hub(repo_id: str, *, local: Path) -> Path:
    """Snapshot ``repo_id`` through huggingface_hub (its cache first, then the network)."""
    try:
        from huggingface_hub import constants, snapshot_download
    except ImportError:
        raise ModelError(
            f"no model directory {str(local.resolve())!r}, and {repo_id!r} cannot be looked up "
            "as a Hugging Face Hub id because huggingface_hub is not installed"
        ) from None
    patterns = [CONFIG_FILE, SAFETENSORS_FILE]
    try:
        snapshot = Path(snapshot_download(repo_id, allow_patterns=patterns))
        if not (snapshot / SAFETENSORS_FILE).is_file() and _torch_available():
            snapshot = Path(snapshot_download(repo_id, allow_patterns=[CONFIG_FILE, TORCH_FILE]))
    except Exception as exc:  # offline, unknown repo, gated repo: all reported the same way
        raise ModelError(
            f"model {repo_id!r}: no local directory {str(local.resolve())!r}, and the Hugging Face Hub "
            f"snapshot of {patterns} is neither in the cache {constants.HF_HUB_CACHE!r} nor downloadable "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'})"
        ) from exc
    return snapshot


def read_config(model_dir: Path) -> dict[str, Any]:
    """Read ``config.json`` from a model directory.

    Raises
    ------
    ModelError
        When the file is missing or is not a JSON object.
    """
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"model directory {str(model_dir)!r} has no {CONFIG_FILE} (looked for {str(path)!r})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{str(path)!r} is not readable JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelError(f"{str(path)!r} holds a {type(config).__name__}; expected a JSON object")
    return config


def read_state_dict(model_dir: Path) -> dict[str, np.ndarray]:
    """Read a checkpoint's flat ``{key: array}`` from a model directory.

    Prefers ``model.safetensors``; falls back to ``pytorch_model.bin`` when torch is installed.

    Returns
    -------
    dict of str to numpy.ndarray
        Floating tensors as float32 (float16/bfloat16 widened), keys as stored.

    Raises
    ------
    ModelError
        When no weights file can be read, naming the files looked for.
    """
    model_dir = Path(model_dir)
    safetensors_path = model_dir / SAFETENSORS_FILE
    torch_path = model_dir / TORCH_FILE
    if safetensors_path.is_file():
        return read_safetensors(safetensors_path)
    if torch_path.is_file():
        if not _torch_available():
            raise ModelError(
                f"model directory {str(model_dir)!r} has only {TORCH_FILE}, which needs torch to read; "
                f"install torch or convert it to {SAFETENSORS_FILE}"
            )
        return _read_torch(torch_path)
    raise ModelError(
        f"model directory {str(model_dir)!r} has no weights: expected {SAFETENSORS_FILE} or {TORCH_FILE}"
    )


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read every tensor of a ``.safetensors`` file into NumPy arrays (one copy, no mmap).

    The format is an 8-byte little-endian header length, a JSON header
    (dtype, shape, byte offsets of each tensor), then raw little-endian
    tensors. It is read here with plain file reads straight into the final
    arrays, not with the safetensors package: its reader memory-maps the
    file, and the mapped pages it touches count against the process beside
    the copies, 2.0x the weights at peak where this reader needs 1.45x
    (``benchmarks/bench_ast_model.py`` measures it).

    Returns
    -------
    dict of str to numpy.ndarray
        Floating tensors as float32, others in their stored dtype.

    Raises
    ------
    ModelError
        For a truncated or malformed file, or a dtype NumPy cannot hold.
    """
    tensors: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ModelError(f"{str(path)!r} is not a safetensors file: shorter than its 8-byte header length")
        (header_len,) = struct.unpack("<Q", head)
        try:
            header = json.loads(f.read(header_len))
        except ValueError as exc:
            raise ModelError(f"{str(path)!r} has a malformed safetensors header: {exc}") from exc
        data_start = 8 + header_len
        for key, info in header.items():
            if key == "__metadata__":
                continue
            tensors[key] = _read_tensor(f, path=path, key=key, info=info, data_start=data_start)
    return tensors


# safetensors dtype codes -> NumPy dtypes (bfloat16 is read as its uint16 bits).
SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}


def _read_tensor(f: Any, *, path: Path, key: str, info: dict[str, Any], data_start: int) -> np.ndarray:
    """Read one tensor described by a safetensors header entry."""
    code = info.get("dtype")
    if code not in SAFETENSORS_DTYPES:
        raise ModelError(f"{str(path)!r}: tensor {key!r} has dtype {code!r}; expected one of {list(SAFETENSORS_DTYPES)}")
    begin, end = info["data_offsets"]
    array = np.empty(info["shape"], dtype=SAFETENSORS_DTYPES[code])
    if array.nbytes != end - begin:
        raise ModelError(f"{str(path)!r}: tensor {key!r} spans {end - begin} bytes; its shape needs {array.nbytes}")
    f.seek(data_start + begin)
    if f.readinto(memoryview(array.reshape(-1)).cast("B")) != array.nbytes:
        raise ModelError(f"{str(path)!r} is truncated: tensor {key!r} ends past the end of the file")
    if code == "BF16":
        return (array.astype("<u4") << 16).view("<f4")  # bfloat16 is the top half of a float32
    if array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    return array


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _read_torch(path: Path) -> dict[str, np.ndarray]:
    """Read ``pytorch_model.bin`` with torch (tensors only, ``weights_only=True``)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{str(path)!r} cannot be read by torch.load: {exc}") from exc
    out = {}
    for key in list(state):
        tensor = state.pop(key)
        out[key] = tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()
    return out


def nest_params(state_dict: dict[str, np.ndarray]) -> dict[str, Any]:
    """Rename checkpoint keys to transformers 5 names and nest them by their dots.

    ``{"layers.0.mlp.fc1.weight": w}`` becomes ``{"layers": [{"mlp": {"fc1": {"weight": w}}}]}``:
    a level whose keys are all integers 0..n-1 becomes a list. The input dict is emptied
    as it is read, so the arrays are held once.

    Returns
    -------
    dict
        Nested parameters; the arrays themselves are not copied.
    """
    tree: dict[str, Any] = {}
    for key in list(state_dict):
        name = key
        for pattern, replacement in KEY_RENAMES:
            name = pattern.sub(replacement, name)
        node = tree
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = state_dict.pop(key)
    return _lists_from_int_keys(tree)


def _lists_from_int_keys(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = {k: _lists_from_int_keys(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node) and sorted(map(int, node)) == list(range(len(node))):
        return [node[str(i)] for i in range(len(node))]
    return node
