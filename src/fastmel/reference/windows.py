"""Analysis windows, periodic or symmetric, and their placement in a frame."""

from __future__ import annotations

import numpy as np

from ..config import FrameConfig, SpectrumConfig, WindowConfig

__all__ = ["window", "frame_window", "frame_length"]


def window(config: WindowConfig, *, length: int) -> np.ndarray:
    """The window of ``config.kind``.

    Parameters
    ----------
    config : WindowConfig
    length : int
        Number of samples ``N`` (the frame's ``win_length``).

    Returns
    -------
    np.ndarray, float64, shape ``[length]``
        Symmetric windows use ``N - 1`` in the cosine's denominator (Kaldi,
        numpy.hanning); periodic ones use ``N`` (scipy's ``fftbins=True``,
        torch.hann_window).
    """
    if config.kind == "rectangular" or length == 1:
        return np.ones(length)
    denominator = length if config.periodic else length - 1
    phase = 2.0 * np.pi * np.arange(length) / denominator  # [N]
    if config.kind == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if config.kind == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    if config.kind == "povey":
        return (0.5 - 0.5 * np.cos(phase)) ** 0.85
    # Kaldi's generalised Blackman; 0.42 gives the classic one.
    a = config.blackman_coeff
    return a - 0.5 * np.cos(phase) + (0.5 - a) * np.cos(2.0 * phase)


def frame_length(frame: FrameConfig, spectrum: SpectrumConfig) -> int:
    """Samples in one cut frame: ``n_fft`` when centered, else ``win_length``."""
    return spectrum.n_fft if frame.center else frame.win_length


def frame_window(frame: FrameConfig, window_config: WindowConfig,
                 spectrum: SpectrumConfig) -> np.ndarray:
    """The window as it multiplies one cut frame.

    Returns
    -------
    np.ndarray, float64, shape ``[frame_length(frame, spectrum)]``
        Centered framing puts the ``win_length`` window in the middle of the
        ``n_fft`` frame (librosa's ``pad_center``); Kaldi framing uses it as is.
    """
    w = window(window_config, length=frame.win_length)  # [win]
    if not frame.center:
        return w
    n_fft = spectrum.n_fft
    left = (n_fft - frame.win_length) // 2
    return np.pad(w, (left, n_fft - frame.win_length - left))  # [n_fft]
