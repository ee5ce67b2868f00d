"""Windowed frames to a power or magnitude spectrum."""

from __future__ import annotations

import numpy as np
import scipy.fft

from ..config import SpectrumConfig

__all__ = ["spectrum"]


def spectrum(windowed: np.ndarray, config: SpectrumConfig) -> np.ndarray:
    """``|rfft(frame, n_fft)| ** power`` of every frame.

    Parameters
    ----------
    windowed : np.ndarray, float, shape ``[T, L]``, ``L <= n_fft``
        Windowed frames; zero-padded at the end to ``n_fft``.
    config : SpectrumConfig

    Returns
    -------
    np.ndarray, same float dtype, shape ``[T, n_fft // 2 + 1]``
    """
    z = scipy.fft.rfft(windowed, n=config.n_fft, axis=-1)  # [T, F]
    power = z.real * z.real + z.imag * z.imag  # [T, F]
    if config.power == 2.0:
        return power
    return np.sqrt(power) ** config.power
