"""From mel energies to model input: log compression, dynamic-range clamp,
cepstra, normalisation."""

from __future__ import annotations

import numpy as np
import scipy.fft

from ..config import CompressConfig, MfccConfig, NormalizeConfig

__all__ = ["compress", "dynamic_range_clamp", "mfcc", "lifter_weights", "normalize"]


def compress(energies: np.ndarray, config: CompressConfig) -> np.ndarray:
    """Log compression of mel energies (without the dynamic-range clamp).

    Parameters
    ----------
    energies : np.ndarray, float, shape ``[T, M]``, power units
    config : CompressConfig

    Returns
    -------
    np.ndarray, same dtype, shape ``[T, M]``
        ``none``: the energies; ``log``: nepers; ``log10``: bels; ``db``: decibels
        relative to ``ref``.
    """
    if config.kind == "none":
        return energies
    floored = np.maximum(energies, config.floor)
    if config.kind == "log":
        return np.log(floored)
    if config.kind == "log10":
        return np.log10(floored)
    return 10.0 * np.log10(floored) - 10.0 * np.log10(max(config.ref, config.floor))


def dynamic_range_clamp(features: np.ndarray, dynamic_range: float | None) -> np.ndarray:
    """``max(x, x.max() - dynamic_range)`` over one whole clip (Whisper, top_db)."""
    if dynamic_range is None or features.size == 0:
        return features
    return np.maximum(features, features.max() - dynamic_range)


def lifter_weights(config: MfccConfig) -> np.ndarray:
    """Cepstral lifter ``1 + (L / 2) sin(pi (n + 1) / L)``, shape ``[n_mfcc]``."""
    n = np.arange(1, config.n_mfcc + 1)
    return 1.0 + (config.lifter / 2.0) * np.sin(np.pi * n / config.lifter)


def mfcc(log_mel: np.ndarray, config: MfccConfig) -> np.ndarray:
    """DCT-II of the compressed bands, the first ``n_mfcc`` kept, then liftered.

    Parameters
    ----------
    log_mel : np.ndarray, float, shape ``[T, M]``
    config : MfccConfig

    Returns
    -------
    np.ndarray, same dtype, shape ``[T, n_mfcc]``
    """
    coefficients = scipy.fft.dct(log_mel, type=2, norm=config.dct_norm, axis=-1)[:, : config.n_mfcc]
    if config.lifter > 0:
        coefficients = coefficients * lifter_weights(config)
    return coefficients


def normalize(features: np.ndarray, config: NormalizeConfig | None) -> np.ndarray:
    """Normalise one clip's features, shape ``[T, D]`` in and out.

    ``fixed``: ``(x - mean) / divisor``. ``per_clip``: each feature column to
    zero mean and unit variance over the clip's frames.
    """
    if config is None:
        return features
    if config.mode == "fixed":
        return (features - config.mean) / config.divisor
    mean = features.mean(axis=0, keepdims=True)
    std = features.std(axis=0, keepdims=True)
    return (features - mean) / np.maximum(std, config.eps)
