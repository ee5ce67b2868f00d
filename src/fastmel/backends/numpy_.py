"""The NumPy backend: the reference's stages, vectorised over blocks of frames.

The fallback when Numba is missing. Frames come from a strided view of the
padded clip, ``BLOCK_FRAMES`` at a time (never all frames of a long clip at
once); the window and FFT run in float64 (float32 rounding there breaks the
parity bounds on narrow-band signals), the power spectrum, mel product
(dense float32 matmul), log and everything after run in float32.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from ..config import FeatureConfig
from ..reference.compress import dynamic_range_clamp, mfcc, normalize
from ..reference.framing import condition_signal, energy_floor, frame_starts, n_frames
from ..reference.mel import filterbank
from ..reference.pipeline import apply_layout, fit_frames
from ..reference.windows import frame_window

__all__ = ["NumpyBackend", "BLOCK_FRAMES"]

#: Frames per vectorised block: ~2 MiB of float64 frames at n_fft 512.
BLOCK_FRAMES = 512
_NUMPY_PAD = {"constant": "constant", "reflect": "reflect", "edge": "edge"}


@dataclasses.dataclass(frozen=True)
class NumpyPlan:
    """Window (float64 ``[frame_length]``) and transposed filterbank
    (float32 ``[n_bins, n_mels]``) of one config."""

    config: FeatureConfig
    window: np.ndarray
    filterbank_t: np.ndarray


class NumpyBackend:
    """Vectorised NumPy + scipy.fft; ``num_threads`` goes to scipy.fft's ``workers``."""

    name = "numpy"

    def __init__(self, *, num_threads: int | None = None) -> None:
        self.num_threads = num_threads

    @staticmethod
    def unavailable_reason() -> str | None:
        return None  # numpy and scipy are hard dependencies

    def prepare(self, config: FeatureConfig) -> NumpyPlan:
        return NumpyPlan(
            config=config,
            window=frame_window(config.frame, config.window, config.spectrum),
            filterbank_t=np.ascontiguousarray(filterbank(config).T, dtype=np.float32),
        )

    def extract(self, prepared: NumpyPlan, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
        workers = self.num_threads if self.num_threads is not None else -1
        return [_extract_clip(prepared, clip, workers) for clip in clips]


def _padded(x: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """The padded signal frames are cut from, and the frame starts in it."""
    frame, n_fft = config.frame, config.spectrum.n_fft
    starts, left = frame_starts(x.shape[0], frame, n_fft=n_fft)
    if frame.center:
        x = np.pad(x, (left, left), mode=_NUMPY_PAD[frame.pad_mode])
    elif not frame.snip_edges:
        x = np.pad(x, (left, left + frame.win_length), mode="symmetric")
    return x, starts


def _log_mel(frames: np.ndarray, plan: NumpyPlan, energy_out: np.ndarray | None,
             noise: np.ndarray | None) -> np.ndarray:
    """One block: frames ``[B, L]`` float64 (a copy we may modify) -> compressed mel ``[B, M]`` float32."""
    config = plan.config
    frame = config.frame
    if noise is not None:
        frames += frame.dither * noise
    if frame.remove_dc_offset:
        frames -= frames.mean(axis=1, keepdims=True)
    floor = energy_floor(config)
    if energy_out is not None and config.raw_energy:
        energy_out[:] = np.log(np.maximum(np.einsum("tl,tl->t", frames, frames), floor))
    if frame.preemphasis > 0:
        c = frame.preemphasis
        frames[:, 1:] -= c * frames[:, :-1]  # numpy buffers overlapping operands
        frames[:, 0] *= 1.0 - c
    frames *= plan.window
    if energy_out is not None and not config.raw_energy:
        energy_out[:] = np.log(np.maximum(np.einsum("tl,tl->t", frames, frames), floor))
    z = scipy.fft.rfft(frames, n=config.spectrum.n_fft, axis=-1)  # [B, F] complex128
    power = (z.real * z.real + z.imag * z.imag).astype(np.float32)  # [B, F]
    if config.spectrum.power != 2.0:
        power = np.sqrt(power) ** np.float32(config.spectrum.power)
    energies = power @ plan.filterbank_t  # [B, M] float32
    return _compress(energies, config)


def _compress(energies: np.ndarray, config: FeatureConfig) -> np.ndarray:
    c = config.compress
    if c.kind == "none":
        return energies
    np.maximum(energies, np.float32(c.floor), out=energies)
    if c.kind == "log":
        return np.log(energies, out=energies)
    np.log10(energies, out=energies)
    if c.kind == "db":
        energies *= np.float32(10.0)
        energies -= np.float32(10.0 * np.log10(max(c.ref, c.floor)))
    return energies


def _extract_clip(plan: NumpyPlan, clip: np.ndarray, workers: int) -> np.ndarray:
    config = plan.config
    x = condition_signal(np.asarray(clip, dtype=np.float32), config.signal)
    total = n_frames(x.shape[0], config.frame, n_fft=config.spectrum.n_fft)
    n_keep = total if config.output.n_frames is None else min(total, config.output.n_frames)
    padded, starts = _padded(x, config)
    length = plan.window.shape[0]
    windows = sliding_window_view(padded, length)  # [n - L + 1, L] view, no copy
    mel = np.empty((n_keep, config.mel.n_mels), np.float32)
    energy = np.empty(n_keep, np.float32) if config.use_energy else None
    rng = np.random.default_rng(config.frame.dither_seed) if config.frame.dither > 0 else None
    with scipy.fft.set_workers(workers):
        for b0 in range(0, n_keep, BLOCK_FRAMES):
            idx = starts[b0:min(b0 + BLOCK_FRAMES, n_keep)]
            frames = windows[idx].astype(np.float64)  # [B, L]
            noise = rng.standard_normal(frames.shape) if rng is not None else None
            e_block = np.empty(len(idx)) if energy is not None else None
            mel[b0:b0 + len(idx)] = _log_mel(frames, plan, e_block, noise)
            if energy is not None:
                energy[b0:b0 + len(idx)] = e_block
    features = dynamic_range_clamp(mel, config.compress.dynamic_range)
    if config.mfcc is not None:
        features = mfcc(features, config.mfcc).astype(np.float32)
    if energy is not None:
        column = energy[:, None]
        pieces = (column, features) if config.energy_position == "first" else (features, column)
        features = np.concatenate(pieces, axis=1)
    features = fit_frames(features, config.output)
    if config.normalize is not None and config.normalize.mode == "fixed":
        norm = config.normalize
        features = (features - np.float32(norm.mean)) / np.float32(norm.divisor)
    else:
        features = normalize(features, config.normalize).astype(np.float32)
    return apply_layout(features, dataclasses.replace(config.output, dtype="float32"))
