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
from ..reference.compress import compress, normalize
from ..reference.framing import (condition_signal, energy_floor, frame_energy, n_frames, pad_signal,
                                 process_frames)
from ..reference.mel import filterbank
from ..reference.pipeline import apply_layout, clip_features, fit_frames
from ..reference.windows import frame_window

__all__ = ["NumpyBackend", "BLOCK_FRAMES"]

#: Frames per vectorised block: ~2 MiB of float64 frames at n_fft 512.
BLOCK_FRAMES = 512


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


def _log_mel(frames: np.ndarray, plan: NumpyPlan,
             rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray | None]:
    """One block: frames ``[B, L]`` float64 -> compressed mel ``[B, M]`` float32 and log energy ``[B]``.

    The reference's per-frame stage (``process_frames``) and compression
    (``compress``), with the power spectrum and mel product in float32.
    """
    config = plan.config
    frames, energy = process_frames(frames, config, rng=rng)  # [B, L], [B] or None
    frames *= plan.window
    if config.use_energy and not config.raw_energy:
        energy = frame_energy(frames, energy_floor(config))
    z = scipy.fft.rfft(frames, n=config.spectrum.n_fft, axis=-1)  # [B, F] complex128
    power = (z.real * z.real + z.imag * z.imag).astype(np.float32)  # [B, F]
    if config.spectrum.power != 2.0:
        power = np.sqrt(power) ** np.float32(config.spectrum.power)
    return compress(power @ plan.filterbank_t, config.compress), energy  # [B, M] float32


def _extract_clip(plan: NumpyPlan, clip: np.ndarray, workers: int) -> np.ndarray:
    config = plan.config
    x = condition_signal(np.asarray(clip, dtype=np.float32), config.signal)
    total = n_frames(x.shape[0], config.frame, n_fft=config.spectrum.n_fft)
    n_keep = total if config.output.n_frames is None else min(total, config.output.n_frames)
    padded, starts = pad_signal(x, config.frame, n_fft=config.spectrum.n_fft)
    windows = sliding_window_view(padded, plan.window.shape[0])  # [n - L + 1, L] view, no copy
    mel = np.empty((n_keep, config.mel.n_mels), np.float32)
    energy = np.empty(n_keep) if config.use_energy else None
    rng = np.random.default_rng(config.frame.dither_seed) if config.frame.dither > 0 else None
    with scipy.fft.set_workers(workers):
        for b0 in range(0, n_keep, BLOCK_FRAMES):
            b1 = min(b0 + BLOCK_FRAMES, n_keep)
            frames = windows[starts[b0:b1]].astype(np.float64)  # [B, L], a copy
            mel[b0:b1], block_energy = _log_mel(frames, plan, rng)
            if energy is not None:
                energy[b0:b1] = block_energy
    features = clip_features(mel, energy, config)  # [T, D] float32
    features = normalize(fit_frames(features, config.output), config.normalize)
    return apply_layout(features, dataclasses.replace(config.output, dtype="float32"))
