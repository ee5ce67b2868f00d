"""Reading audio files and changing sample rates.

Decoding is libsndfile's (soundfile): WAV (PCM 8/16/24/32-bit, float),
FLAC, OGG/Vorbis, Opus, and MP3 with libsndfile >= 1.1. Resampling is soxr's
(``HQ`` quality).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import AudioError, AudioFileNotFound, ParameterError

__all__ = ["load", "resample", "audio_info"]


def resample(samples: np.ndarray, *, orig_hz: int, target_hz: int) -> np.ndarray:
    """Resample with soxr (HQ).

    Parameters
    ----------
    samples : np.ndarray, float32 or float64, shape ``[n]`` or ``[channels, n]``
    orig_hz, target_hz : int
        Sample rates in Hz.

    Returns
    -------
    np.ndarray, same dtype, shape ``[round(n * target_hz / orig_hz)]`` (per channel)
    """
    for name, value in (("orig_hz", orig_hz), ("target_hz", target_hz)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ParameterError(f"{name}={value!r} is not a positive integer sample rate in Hz")
    if orig_hz == target_hz:
        return samples
    import soxr

    if samples.ndim == 1:
        return soxr.resample(samples, orig_hz, target_hz, quality="HQ")
    # soxr wants [n, channels]
    return np.ascontiguousarray(soxr.resample(samples.T, orig_hz, target_hz, quality="HQ").T)


def audio_info(path: str | os.PathLike) -> tuple[int, int, float]:
    """``(sample_rate_hz, channels, duration_seconds)`` of a file, without decoding it."""
    import soundfile

    path = _existing(path)
    try:
        info = soundfile.info(str(path))
    except Exception as exc:  # libsndfile raises RuntimeError subclasses
        raise AudioError(f"cannot read {str(path)!r} as audio: {exc}") from exc
    return int(info.samplerate), int(info.channels), float(info.duration)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioFileNotFound(f"audio file {str(path)!r} does not exist")
    if path.is_dir():
        raise AudioError(f"audio path {str(path)!r} is a directory; expected a file")
    return path


def _downmix(data: np.ndarray) -> np.ndarray:
    """The channel average of ``[n, channels]`` samples, ``[n]``.

    Equal to ``data.mean(axis=1)``, summed channel by channel: NumPy's
    reduction over a short inner axis costs more than decoding the file.
    """
    channels = data.shape[1]
    if channels == 1:
        return np.ascontiguousarray(data[:, 0])
    total = data[:, 0].copy()
    for c in range(1, channels):
        total += data[:, c]
    total /= data.dtype.type(channels)
    return total


def load(path: str | os.PathLike, *, sample_rate: int | None = None, mono: bool = True,
         dtype: str = "float32") -> tuple[np.ndarray, int]:
    """Decode an audio file, downmix it and resample it.

    Parameters
    ----------
    path : str or PathLike
    sample_rate : int or None
        Resample to this rate in Hz (soxr HQ); None keeps the file's rate.
    mono : bool
        Average the channels into one.
    dtype : {"float32", "float64"}

    Returns
    -------
    samples : np.ndarray, ``dtype``, in [-1, 1]
        ``[n]`` when ``mono``, else ``[channels, n]``.
    sample_rate : int
        The rate of ``samples`` in Hz.

    Raises
    ------
    AudioFileNotFound
        The path does not exist (also a FileNotFoundError).
    AudioError
        Not decodable, empty, or holding non-finite samples.
    """
    import soundfile

    if dtype not in ("float32", "float64"):
        raise ParameterError(f"dtype={dtype!r} is not one of 'float32', 'float64'")
    path = _existing(path)
    try:
        data, file_rate = soundfile.read(str(path), dtype=dtype, always_2d=True)  # [n, channels]
    except Exception as exc:
        raise AudioError(f"cannot decode {str(path)!r} as audio: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioError(f"audio file {str(path)!r} holds no samples")
    if not np.isfinite(data).all():
        raise AudioError(f"audio file {str(path)!r} holds non-finite (NaN or Inf) samples")
    samples = _downmix(data) if mono else np.ascontiguousarray(data.T)
    if sample_rate is not None:
        samples = resample(samples, orig_hz=int(file_rate), target_hz=sample_rate)
        file_rate = sample_rate
    return samples, int(file_rate)
