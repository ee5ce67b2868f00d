"""Input arrays: what a clip may be, validation, and returning results in the
caller's framework (NumPy in, NumPy out; torch in, torch out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from .errors import AudioError

__all__ = ["Batch", "as_batch", "check_clip", "to_caller"]

Shape = Literal["single", "batch", "ragged"]


@dataclass
class Batch:
    """Validated clips and how to give results back.

    Attributes
    ----------
    clips : list of np.ndarray, 1-D, float32 or float64
    shape : {"single", "batch", "ragged"}
        A 1-D array, a 2-D ``[batch, samples]`` array, or a list of 1-D clips.
    framework : {"numpy", "torch"}
    """

    clips: list[np.ndarray]
    shape: Shape
    framework: str


def _framework(obj: Any) -> str:
    return "torch" if type(obj).__module__.split(".")[0] == "torch" else "numpy"


def _to_numpy(obj: Any, *, what: str) -> np.ndarray:
    if isinstance(obj, np.ndarray):
        return obj
    if _framework(obj) == "torch":
        if obj.device.type != "cpu":
            raise AudioError(
                f"{what} is a torch tensor on {obj.device}; this backend runs on the CPU "
                "(move it with .cpu(), or use the GPU backend)"
            )
        return obj.detach().numpy()
    if hasattr(obj, "__array__") or isinstance(obj, (list, tuple)):
        try:
            return np.asarray(obj)
        except (ValueError, TypeError) as exc:
            raise AudioError(f"{what} cannot be read as an array: {exc}") from exc
    if hasattr(obj, "__dlpack__"):
        return np.from_dlpack(obj)
    raise AudioError(f"{what} of type {type(obj).__name__} is not an array of samples")


def check_clip(clip: np.ndarray, *, what: str) -> np.ndarray:
    """A 1-D, non-empty, finite float clip, or an AudioError saying which it is not.

    Returns the clip as float32 or float64 (float16 is widened to float32).
    """
    if clip.dtype.kind != "f":
        raise AudioError(
            f"{what} has dtype {clip.dtype}; expected floating-point samples in [-1, 1] "
            "(convert int16 PCM with x / 32768, or read files with fastmel.load)"
        )
    if clip.ndim != 1:
        raise AudioError(f"{what} has shape {clip.shape}; expected one 1-D clip")
    if clip.shape[0] == 0:
        raise AudioError(f"{what} is empty (0 samples); expected at least one sample")
    if clip.dtype == np.float16:
        clip = clip.astype(np.float32)
    finite = np.isfinite(clip)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise AudioError(
            f"{what} has {int((~finite).sum())} non-finite samples (first: {clip[bad]} at "
            f"sample {bad}); expected finite samples"
        )
    return clip


def as_batch(audio: Any) -> Batch:
    """Read ``audio`` as one clip, a 2-D batch, or a ragged list of clips.

    Parameters
    ----------
    audio : array-like
        ``[samples]`` (one clip), ``[batch, samples]``, or a list/tuple of
        1-D clips of any lengths; NumPy arrays, torch CPU tensors, or
        anything with ``__array__`` / ``__dlpack__``.
    """
    if isinstance(audio, (list, tuple)):
        if len(audio) == 0:
            raise AudioError("audio is an empty list; expected at least one clip")
        clips = [check_clip(_to_numpy(c, what=f"clip {i}"), what=f"clip {i}") for i, c in enumerate(audio)]
        return Batch(clips=clips, shape="ragged", framework=_framework(audio[0]))
    array = _to_numpy(audio, what="audio")
    if array.ndim == 1:
        return Batch(clips=[check_clip(array, what="audio")], shape="single", framework=_framework(audio))
    if array.ndim == 2:
        if array.shape[0] == 0:
            raise AudioError(f"audio has shape {array.shape}; expected at least one clip in the batch")
        clips = [check_clip(row, what=f"clip {i}") for i, row in enumerate(array)]
        return Batch(clips=clips, shape="batch", framework=_framework(audio))
    raise AudioError(
        f"audio has shape {array.shape} ({array.ndim}-D); expected [samples], [batch, samples] "
        "or a list of 1-D clips"
    )


def to_caller(results: Sequence[np.ndarray], batch: Batch) -> Any:
    """Results shaped like the input: one array, a stacked batch, or a list."""
    if batch.shape == "single":
        out: Any = results[0]
    elif batch.shape == "batch":
        out = np.stack(results)
    else:
        out = list(results)
    if batch.framework != "torch":
        return out
    import torch

    if isinstance(out, list):
        return [torch.from_numpy(r) for r in out]
    return torch.from_numpy(out)
