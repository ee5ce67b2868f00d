"""The reference pipeline: composes the stages of a FeatureConfig, one clip
at a time, vectorised over frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import FeatureConfig, OutputConfig
from ..errors import AudioError
from .compress import compress, dynamic_range_clamp, mfcc, normalize
from .framing import condition_signal, energy_floor, frame_energy, frame_signal, n_frames, process_frames
from .mel import filterbank
from .spectrum import spectrum
from .windows import frame_window

__all__ = [
    "Plan",
    "make_plan",
    "extract_clip",
    "frame_features",
    "clip_features",
    "fit_frames",
    "apply_layout",
    "check_frame_count",
]


@dataclass(frozen=True)
class Plan:
    """What a config needs that is worth computing once: window and filterbank.

    Attributes
    ----------
    config : FeatureConfig
    window : np.ndarray, float64, shape ``[frame_length]``
    filterbank : np.ndarray, float64, shape ``[n_mels, n_fft // 2 + 1]``
    """

    config: FeatureConfig
    window: np.ndarray
    filterbank: np.ndarray


def make_plan(config: FeatureConfig) -> Plan:
    """Build the window and the filterbank of ``config`` (float64)."""
    return Plan(
        config=config,
        window=frame_window(config.frame, config.window, config.spectrum),
        filterbank=filterbank(config),
    )


def check_frame_count(n_samples: int, config: FeatureConfig, *, index: int | None = None) -> int:
    """The clip's frame count, or an AudioError when it yields no frame."""
    count = n_frames(n_samples, config.frame, n_fft=config.spectrum.n_fft)
    if count == 0:
        where = "" if index is None else f" (clip {index})"
        raise AudioError(
            f"a clip of {n_samples} samples{where} yields no frame: Kaldi-style framing "
            f"(snip_edges) needs at least win_length={config.frame.win_length} samples; "
            "pad the clip or use a preset with centered framing"
        )
    return count


def extract_clip(samples: np.ndarray, plan: Plan, *, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Features of one clip, computed in ``dtype``.

    Parameters
    ----------
    samples : np.ndarray, float, shape ``[n]``
        One clip at ``plan.config.sample_rate_hz``, already validated (finite,
        non-empty).
    plan : Plan
    dtype : numpy float dtype
        Precision of the computation (float64: the spec).

    Returns
    -------
    np.ndarray, ``config.output.dtype``, shape per ``config.output.layout``
        ``time_freq``: ``[frames, n_features]``.
    """
    config = plan.config
    x = condition_signal(np.asarray(samples, dtype=dtype), config.signal)  # [n']
    check_frame_count(x.shape[0], config)
    frames = frame_signal(x, config.frame, n_fft=config.spectrum.n_fft)  # [T, L]
    compressed, energy = frame_features(frames, plan, dtype=dtype)  # [T, M], [T] or None
    features = clip_features(compressed, energy, config)  # [T, D]
    features = fit_frames(features, config.output)  # [T', D]
    features = normalize(features, config.normalize)
    return apply_layout(features, config.output)


def frame_features(frames: np.ndarray, plan: Plan, *, dtype: np.dtype | type = np.float64,
                   rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The frame-local stages: per-frame processing, window, spectrum, mel, compression.

    Every output frame depends on its own input frame only, so a stream can
    compute them a block at a time.

    Parameters
    ----------
    frames : np.ndarray, float, shape ``[T, L]``
        Cut frames (``frame_signal``).
    plan : Plan
    dtype : numpy float dtype
    rng : numpy Generator, optional
        Dither noise source (see ``process_frames``).

    Returns
    -------
    compressed : np.ndarray, ``dtype``, shape ``[T, n_mels]``
    energy : np.ndarray, shape ``[T]``, or None
        Kaldi's log frame energy when ``use_energy``.
    """
    config = plan.config
    frames, energy = process_frames(frames, config, rng=rng)  # [T, L], [T] or None
    windowed = frames * plan.window.astype(dtype)  # [T, L]
    if config.use_energy and not config.raw_energy:
        energy = frame_energy(windowed, energy_floor(config))
    power = spectrum(windowed, config.spectrum)  # [T, F]
    energies = power @ plan.filterbank.T.astype(dtype)  # [T, M]
    return compress(energies, config.compress), energy


def clip_features(compressed: np.ndarray, energy: np.ndarray | None, config: FeatureConfig) -> np.ndarray:
    """The clip-level stages: dynamic-range clamp, cepstra, the energy column.

    ``[T, n_mels]`` (and ``[T]``) in, ``[T, n_features]`` out.
    """
    features = dynamic_range_clamp(compressed, config.compress.dynamic_range)
    if config.mfcc is not None:
        features = mfcc(features, config.mfcc)  # [T, C]
    if energy is not None:
        column = energy[:, None].astype(features.dtype)
        pieces = (column, features) if config.energy_position == "first" else (features, column)
        features = np.concatenate(pieces, axis=1)  # [T, D]
    return features


def fit_frames(features: np.ndarray, output: OutputConfig) -> np.ndarray:
    """Pad with ``pad_value`` or trim to ``output.n_frames`` frames, ``[T, D] -> [T', D]``."""
    target = output.n_frames
    if target is None or features.shape[0] == target:
        return features
    if features.shape[0] > target:
        return features[:target]
    pad = np.full((target - features.shape[0], features.shape[1]), output.pad_value, dtype=features.dtype)
    return np.concatenate([features, pad], axis=0)


def apply_layout(features: np.ndarray, output: OutputConfig) -> np.ndarray:
    """``[T, D]`` to the model's layout and dtype (a C-contiguous copy)."""
    if output.layout == "freq_time":
        features = features.T  # [D, T]
    elif output.layout == "channel_time_freq":
        features = features[None]  # [1, T, D]
    return np.ascontiguousarray(features, dtype=output.dtype)
