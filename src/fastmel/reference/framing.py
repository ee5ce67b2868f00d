"""Framing: signal conditioning, the one definition of the frame count, frame
cutting, and what Kaldi does to a frame before its window."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config import FLOAT32_EPS, FeatureConfig, FrameConfig, SignalConfig

__all__ = [
    "condition_signal",
    "n_frames",
    "frame_offset",
    "edge_mode",
    "fold_index",
    "frame_starts",
    "frame_signal",
    "pad_signal",
    "process_frames",
    "frame_energy",
]

def condition_signal(samples: np.ndarray, config: SignalConfig) -> np.ndarray:
    """Scale, then pad or trim a clip to ``config.n_samples``.

    Parameters
    ----------
    samples : np.ndarray, float, shape ``[n]``
    config : SignalConfig

    Returns
    -------
    np.ndarray, same dtype, shape ``[config.n_samples or n]``
    """
    if config.scale != 1.0:
        samples = samples * samples.dtype.type(config.scale)
    target = config.n_samples
    if target is None or samples.shape[0] == target:
        return samples
    if samples.shape[0] > target:
        return samples[:target]
    if config.pad == "repeat":
        # CLAP's "repeatpad": whole repetitions, then zeros.
        samples = np.tile(samples, target // samples.shape[0])
    return np.pad(samples, (0, target - samples.shape[0]))


def n_frames(n_samples: int, frame: FrameConfig, *, n_fft: int) -> int:
    """The number of frames a clip of ``n_samples`` (after conditioning) yields.

    This is the one definition every backend uses; see :class:`FrameConfig`
    for the conventions. Returns 0 when a Kaldi ``snip_edges`` clip is shorter
    than one window.
    """
    hop = frame.hop_length
    if frame.center:
        count = 1 + n_samples // hop
    elif frame.snip_edges:
        count = 0 if n_samples < frame.win_length else 1 + (n_samples - frame.win_length) // hop
    else:
        count = (n_samples + hop // 2) // hop
    if frame.drop_last_frame:
        count -= 1
    return max(count, 0)


def frame_offset(frame: FrameConfig, *, n_fft: int) -> int:
    """Where frame 0 starts in the (conditioned) signal; negative inside the left padding.

    Frame ``t`` covers samples ``t * hop_length + frame_offset + k`` for
    ``k < frame_length``: centered framing starts ``n_fft // 2`` early; Kaldi
    non-snip framing centres frame ``t`` on ``t * hop + hop // 2``.
    """
    if frame.center:
        return -(n_fft // 2)
    if frame.snip_edges:
        return 0
    return frame.hop_length // 2 - frame.win_length // 2


def edge_mode(frame: FrameConfig) -> str:
    """How samples outside the signal are made: ``numpy.pad``'s mode name.

    Centered framing pads with ``pad_mode``; Kaldi non-snip framing mirrors
    (``symmetric``); snip framing never reads outside (``constant``).
    """
    if frame.center:
        return frame.pad_mode
    return "constant" if frame.snip_edges else "symmetric"


def fold_index(p: Any, n: Any, mode: str, xp: Any = np) -> Any:
    """Fold positions ``p`` into ``[0, n)`` as ``numpy.pad`` would, at any width.

    Parameters
    ----------
    p : int array, any shape
        Positions relative to the signal's first sample.
    n : int array broadcastable to ``p``, >= 1
        Signal lengths.
    mode : {"constant", "reflect", "edge", "symmetric"}
        ``edge_mode`` of a frame config.
    xp : array module (numpy or cupy)

    Returns
    -------
    int array like ``p``: the index in ``[0, n)``, or -1 for a zero (constant mode).
    """
    if mode == "constant":
        return xp.where((p >= 0) & (p < n), p, -1)
    if mode == "edge":
        return xp.clip(p, 0, n - 1)
    if mode == "reflect":  # period 2 (n - 1), the edge sample not repeated
        period = xp.maximum(2 * (n - 1), 1)
        m = xp.mod(p, period)
        return xp.where(m >= n, period - m, m)
    if mode == "symmetric":  # period 2 n, the edge sample repeated (Kaldi's mirror)
        period = 2 * n
        m = xp.mod(p, period)
        return xp.where(m >= n, period - 1 - m, m)
    raise ValueError(f"mode={mode!r} is not one of 'constant', 'reflect', 'edge', 'symmetric'")


def frame_starts(n_samples: int, frame: FrameConfig, *, n_fft: int) -> tuple[np.ndarray, int]:
    """Start of every frame in the padded signal, and the left padding.

    Returns
    -------
    starts : np.ndarray, int64, shape ``[n_frames]``
    left_pad : int
        Samples added before the signal: ``n_fft // 2`` centered, a whole
        window for Kaldi non-snip framing (more than frame 0 reaches), else 0.
    """
    offset = frame_offset(frame, n_fft=n_fft)
    left = -offset if frame.center or frame.snip_edges else frame.win_length
    count = n_frames(n_samples, frame, n_fft=n_fft)
    starts = np.arange(count, dtype=np.int64) * frame.hop_length + (left + offset)  # [T]
    return starts, left


def frame_signal(samples: np.ndarray, frame: FrameConfig, *, n_fft: int) -> np.ndarray:
    """Cut a clip into frames (a copy; the reference favours clarity over memory).

    Parameters
    ----------
    samples : np.ndarray, float, shape ``[n]``
    frame : FrameConfig
    n_fft : int

    Returns
    -------
    np.ndarray, same dtype, shape ``[n_frames, frame_length]``
        ``frame_length`` is ``n_fft`` when centered, else ``win_length``.
    """
    length = n_fft if frame.center else frame.win_length
    padded, starts = pad_signal(samples, frame, n_fft=n_fft)
    index = starts[:, None] + np.arange(length)[None, :]  # [T, L]
    return padded[index]


def pad_signal(samples: np.ndarray, frame: FrameConfig, *, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """The padded signal frames are cut from, and each frame's start in it.

    Returns
    -------
    padded : np.ndarray, same dtype, shape ``[n + padding]``
        Centered framing pads by ``n_fft // 2`` per side with ``pad_mode``;
        Kaldi non-snip framing mirrors a window's worth at each end; snip
        framing returns ``samples`` itself.
    starts : np.ndarray, int64, shape ``[n_frames]``
    """
    starts, left = frame_starts(samples.shape[0], frame, n_fft=n_fft)
    if left == 0:
        return samples, starts
    right = left if frame.center else left + frame.win_length  # the last frames' reach
    padded = np.pad(samples, (left, right), mode=edge_mode(frame))
    return padded, starts


def frame_energy(frames: np.ndarray, floor: float) -> np.ndarray:
    """Kaldi's log frame energy ``ln(max(sum(x ** 2), floor))``, shape ``[T]``."""
    return np.log(np.maximum(np.einsum("tl,tl->t", frames, frames), floor))


def process_frames(frames: np.ndarray, config: FeatureConfig, *,
                   rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Kaldi's per-frame processing before the window, in Kaldi's order:
    dither, DC removal, raw log energy, pre-emphasis.

    Parameters
    ----------
    frames : np.ndarray, float, shape ``[T, L]``
        Not modified.
    config : FeatureConfig
    rng : numpy Generator, optional
        Source of the dither noise; by default a fresh
        ``default_rng(dither_seed)``, whose first ``T * L`` normals fill the
        frames row by row (a stream continues one generator, and so draws the
        same numbers).

    Returns
    -------
    frames : np.ndarray, same dtype, shape ``[T, L]``
    raw_energy : np.ndarray, shape ``[T]``, or None
        Log energy when ``use_energy and raw_energy``.
    """
    frame = config.frame
    out = frames.copy()
    if frame.dither > 0:
        rng = rng if rng is not None else np.random.default_rng(frame.dither_seed)
        out += frame.dither * rng.standard_normal(out.shape)
    if frame.remove_dc_offset:
        out -= out.mean(axis=1, keepdims=True)
    energy = None
    if config.use_energy and config.raw_energy:
        energy = frame_energy(out, energy_floor(config))
    if frame.preemphasis > 0:
        c = frame.preemphasis
        out[:, 1:] -= c * out[:, :-1].copy()
        out[:, 0] -= c * out[:, 0]
    return out, energy


def energy_floor(config: FeatureConfig) -> float:
    """Kaldi's energy floor: ``energy_floor`` if positive, else float32 eps."""
    return config.energy_floor if config.energy_floor > 0 else FLOAT32_EPS
