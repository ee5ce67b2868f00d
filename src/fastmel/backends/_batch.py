"""Where every sample of a batched, ragged, framed batch comes from.

A batch of clips is one flat sample buffer plus per-clip offsets; its frames
are numbered globally ``g = frame_offsets[b] + t``. This module holds that
geometry (host-side, a few integers per clip) and the array-module-generic
index arithmetic that maps frame ``g``, position ``k`` to a source sample, or
to "zero". The CUDA frame kernel (``_cuda_kernels.FRAMES_SOURCE``) does the
same integer arithmetic per thread; :func:`sample_index` is its executable
specification and is tested against ``numpy.pad`` and the reference here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..config import FeatureConfig
from ..reference.framing import edge_mode, fold_index, frame_offset
from ..reference.framing import n_frames as _n_frames
from ..reference.windows import frame_length

__all__ = ["FOLD_MODES", "BatchGeometry", "batch_geometry", "sample_index", "clip_of_frame"]

#: Codes of the ways a position outside ``[0, n)`` is folded back (shared with CUDA).
FOLD_MODES = {"constant": 0, "reflect": 1, "edge": 2, "symmetric": 3}


@dataclass(frozen=True)
class BatchGeometry:
    """Per-clip sizes of one batch, host-side int64 arrays.

    Attributes
    ----------
    n_source : [B]  samples of each clip as given
    source_offsets : [B + 1]  start of each clip in the flat sample buffer
    n_signal : [B]  samples after conditioning (``SignalConfig.n_samples`` or ``n_source``)
    limit : [B]  conditioned positions ``q < limit`` read ``source[q % n_source]``; the
        rest are zeros (CLAP's repeat padding, zero padding, trimming in one rule)
    n_frames : [B]  frames of each clip (the reference's one definition)
    n_computed : [B]  frames actually computed: ``min(n_frames, n_out)`` when no
        whole-clip statistic needs the trimmed frames, else ``n_frames``
    frame_offsets : [B + 1]  start of each clip's computed frames in the global frame axis
    n_out : [B]  output frames per clip (``OutputConfig.n_frames`` or ``n_frames``)
    out_offsets : [B + 1]  start of each clip's rows in the flat output
    """

    n_source: np.ndarray
    source_offsets: np.ndarray
    n_signal: np.ndarray
    limit: np.ndarray
    n_frames: np.ndarray
    n_computed: np.ndarray
    frame_offsets: np.ndarray
    n_out: np.ndarray
    out_offsets: np.ndarray

    @property
    def n_clips(self) -> int:
        return int(self.n_source.shape[0])

    @property
    def total_frames(self) -> int:
        """Frames computed for the whole batch (``G``)."""
        return int(self.frame_offsets[-1])

    @property
    def total_rows(self) -> int:
        """Rows of the flat output (``sum(n_out)``)."""
        return int(self.out_offsets[-1])

    @property
    def uniform_out(self) -> bool:
        """Every clip has the same number of output frames (the output stacks)."""
        return bool(np.all(self.n_out == self.n_out[0]))


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def batch_geometry(lengths: Sequence[int], config: FeatureConfig) -> BatchGeometry:
    """The geometry of clips of ``lengths`` samples under ``config``.

    Raises nothing: callers check beforehand that each clip yields a frame
    (``reference.pipeline.check_frame_count``).
    """
    n_source = np.asarray(lengths, dtype=np.int64)  # [B]
    signal = config.signal
    target = signal.n_samples
    n_signal = n_source.copy() if target is None else np.full_like(n_source, target)
    if target is not None and signal.pad == "repeat":
        limit = np.maximum(n_source, (target // n_source) * n_source)  # whole repetitions
    else:
        limit = n_source.copy()
    counts = np.array([_n_frames(int(n), config.frame, n_fft=config.spectrum.n_fft) for n in n_signal],
                      dtype=np.int64)  # [B]
    n_out = counts if config.output.n_frames is None else np.full_like(counts, config.output.n_frames)
    # Frames past n_out are thrown away unless the dynamic-range clamp looks at them.
    computed = counts if config.compress.dynamic_range is not None else np.minimum(counts, n_out)
    return BatchGeometry(
        n_source=n_source, source_offsets=_offsets(n_source), n_signal=n_signal, limit=limit,
        n_frames=counts, n_computed=computed, frame_offsets=_offsets(computed),
        n_out=n_out, out_offsets=_offsets(n_out),
    )


# --------------------------------------------------------------------------- index arithmetic


def clip_of_frame(g: Any, frame_offsets: Any, xp: Any) -> Any:
    """The clip each global frame ``g`` belongs to (``frame_offsets``: ``[B + 1]``)."""
    return xp.searchsorted(frame_offsets[1:], g, side="right")


def sample_index(g: Any, k: Any, geometry: dict[str, Any], config: FeatureConfig, xp: Any) -> tuple[Any, Any]:
    """Flat source index of frame ``g``, position ``k``, or -1 for a zero sample.

    Parameters
    ----------
    g : int array ``[G, 1]``  global frame numbers
    k : int array ``[1, L]``  positions in the cut frame
    geometry : dict of int64 ``xp`` arrays
        ``source_offsets``, ``n_source``, ``n_signal``, ``limit``, ``frame_offsets``
        (the :class:`BatchGeometry` fields, on the array module's device).

    Returns
    -------
    index : int64 array ``[G, L]``
    t : int64 array ``[G, 1]``  each frame's number within its clip
    """
    b = clip_of_frame(g, geometry["frame_offsets"], xp)  # [G, 1]
    t = g - geometry["frame_offsets"][b]  # [G, 1]
    p = t * config.frame.hop_length + frame_offset(config.frame, n_fft=config.spectrum.n_fft) + k  # [G, L]
    q = fold_index(p, geometry["n_signal"][b], edge_mode(config.frame), xp)  # [G, L]
    n_src = geometry["n_source"][b]
    inside = (q >= 0) & (q < geometry["limit"][b])
    index = xp.where(inside, geometry["source_offsets"][b] + xp.mod(xp.maximum(q, 0), n_src), -1)
    return index, t


def device_geometry(geometry: BatchGeometry, xp: Any) -> dict[str, Any]:
    """The :class:`BatchGeometry` arrays as int64 arrays of ``xp``."""
    names = ("n_source", "source_offsets", "n_signal", "limit", "n_frames", "n_computed",
             "frame_offsets", "n_out", "out_offsets")
    return {name: xp.asarray(getattr(geometry, name), dtype=xp.int64) for name in names}


def cut_length(config: FeatureConfig) -> int:
    """Samples in one cut frame (``n_fft`` centered, else ``win_length``)."""
    return frame_length(config.frame, config.spectrum)
