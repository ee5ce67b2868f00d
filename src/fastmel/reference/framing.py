"""Framing: signal conditioning, the one definition of the frame count, frame
cutting, and what Kaldi does to a frame before its window."""

from __future__ import annotations

import numpy as np

from ..config import FeatureConfig, FrameConfig, SignalConfig
from .windows import frame_length

__all__ = ["condition_signal", "n_frames", "frame_signal", "process_frames", "frame_energy"]

_NUMPY_PAD = {"constant": "constant", "reflect": "reflect", "edge": "edge"}


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


def frame_starts(n_samples: int, frame: FrameConfig, *, n_fft: int) -> tuple[np.ndarray, int]:
    """Start of every frame in the padded signal, and the left padding.

    Returns
    -------
    starts : np.ndarray, int64, shape ``[n_frames]``
    left_pad : int
        Samples added before the signal (centered or Kaldi non-snip framing).
    """
    count = n_frames(n_samples, frame, n_fft=n_fft)
    hop = frame.hop_length
    starts = np.arange(count, dtype=np.int64) * hop  # [T], in the padded signal
    if frame.center:
        left = n_fft // 2
    elif frame.snip_edges:
        left = 0
    else:
        # Kaldi: frame t is centred on t * hop + hop // 2 of the signal; the
        # edges are mirrored, so pad by a whole window and shift the starts.
        left = frame.win_length
        starts += left + hop // 2 - frame.win_length // 2
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
    n = samples.shape[0]
    length = n_fft if frame.center else frame.win_length
    starts, left = frame_starts(n, frame, n_fft=n_fft)
    if frame.center:
        padded = np.pad(samples, (left, left), mode=_NUMPY_PAD[frame.pad_mode])
    elif frame.snip_edges:
        padded = samples
    else:
        padded = np.pad(samples, (left, left + length), mode="symmetric")  # Kaldi's mirror
    index = starts[:, None] + np.arange(length)[None, :]  # [T, L]
    return padded[index]


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
    from ..config import FLOAT32_EPS

    return config.energy_floor if config.energy_floor > 0 else FLOAT32_EPS


def cut_frame_length(config: FeatureConfig) -> int:
    """Samples in a cut frame for ``config``."""
    return frame_length(config.frame, config.spectrum)
