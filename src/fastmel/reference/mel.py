"""Mel scales and triangular filterbanks (HTK, Slaney, Kaldi)."""

from __future__ import annotations

import warnings

import numpy as np

from ..config import FeatureConfig, MelScale

__all__ = ["hz_to_mel", "mel_to_hz", "band_edges", "filterbank", "band_bins", "EmptyMelBandWarning"]

# Slaney's scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above.
_SLANEY_F_SP = 200.0 / 3.0
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # 15 mels
_SLANEY_LOGSTEP = np.log(6.4) / 27.0


class EmptyMelBandWarning(UserWarning):
    """A mel band covers no FFT bin and is always zero."""


def hz_to_mel(hz: np.ndarray | float, *, scale: MelScale) -> np.ndarray:
    """Frequency in Hz to mels on ``scale``; float64, same shape as ``hz``."""
    hz = np.asarray(hz, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    if scale == "kaldi":
        return 1127.0 * np.log(1.0 + hz / 700.0)
    linear = hz / _SLANEY_F_SP
    log = _SLANEY_MIN_LOG_MEL + np.log(np.maximum(hz, 1e-300) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return np.where(hz >= _SLANEY_MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float, *, scale: MelScale) -> np.ndarray:
    """Mels on ``scale`` to Hz; float64, same shape as ``mel``."""
    mel = np.asarray(mel, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    if scale == "kaldi":
        return 700.0 * np.expm1(mel / 1127.0)
    linear = _SLANEY_F_SP * mel
    log = _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (mel - _SLANEY_MIN_LOG_MEL))
    return np.where(mel >= _SLANEY_MIN_LOG_MEL, log, linear)


def band_edges(config: FeatureConfig) -> np.ndarray:
    """The ``n_mels + 2`` band edges, equally spaced in mel, in Hz.

    Band ``m`` rises from edge ``m`` to its centre ``m + 1`` and falls to ``m + 2``.

    Returns
    -------
    np.ndarray, float64, shape ``[n_mels + 2]``, Hz
    """
    scale = config.mel.scale
    low, high = hz_to_mel(config.fmin_hz, scale=scale), hz_to_mel(config.fmax_hz, scale=scale)
    return mel_to_hz(np.linspace(low, high, config.mel.n_mels + 2), scale=scale)


def filterbank(config: FeatureConfig) -> np.ndarray:
    """The dense mel filterbank.

    Triangles interpolate linearly in Hz (librosa, transformers' default) or,
    with ``triangles_in_mel``, in mel (Kaldi's ``MelBanks``). Slaney
    normalisation divides each triangle by half its width in Hz.

    Returns
    -------
    np.ndarray, float64, shape ``[n_mels, n_fft // 2 + 1]``
        Row ``m`` weights the power spectrum's bins into band ``m``.

    Warns
    -----
    EmptyMelBandWarning
        When a band covers no FFT bin, unless ``mel.allow_empty_bands``.
    """
    mel = config.mel
    n_bins = config.spectrum.n_bins
    bin_hz = np.arange(n_bins) * (config.sample_rate_hz / config.spectrum.n_fft)  # [F]
    edges_hz = band_edges(config)  # [M + 2]
    if mel.triangles_in_mel:
        x = hz_to_mel(bin_hz, scale=mel.scale)  # [F]
        edges = hz_to_mel(edges_hz, scale=mel.scale)  # [M + 2]
    else:
        x, edges = bin_hz, edges_hz
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # [M, 1]
    rising = (x[None, :] - left) / (centre - left)  # [M, F]
    falling = (right - x[None, :]) / (right - centre)  # [M, F]
    weights = np.maximum(0.0, np.minimum(rising, falling))  # [M, F]
    if mel.norm == "slaney":
        weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    empty = np.flatnonzero(~weights.any(axis=1))
    if empty.size and not mel.allow_empty_bands:
        warnings.warn(
            f"mel bands {empty.tolist()} of {mel.n_mels} cover no FFT bin (n_fft={config.spectrum.n_fft}, "
            f"{config.sample_rate_hz} Hz, fmin_hz={mel.fmin_hz}) and will always be zero; "
            "use fewer mel bands, a larger n_fft or a higher fmin_hz",
            EmptyMelBandWarning,
            stacklevel=3,
        )
    return weights


def band_bins(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sparse form of a filterbank: each band's first and past-last bin.

    Parameters
    ----------
    weights : np.ndarray, shape ``[n_mels, n_bins]``

    Returns
    -------
    start, stop : np.ndarray, int64, shape ``[n_mels]``
        Band ``m`` has non-zero weights only in ``start[m]:stop[m]``; an empty
        band has ``start == stop``.
    """
    nonzero = weights != 0  # [M, F]
    has = nonzero.any(axis=1)
    start = np.where(has, nonzero.argmax(axis=1), 0)
    stop = np.where(has, weights.shape[1] - nonzero[:, ::-1].argmax(axis=1), 0)
    return start.astype(np.int64), stop.astype(np.int64)
