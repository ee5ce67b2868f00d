"""The public extractor: a config, a backend, and what they cache."""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import as_batch, to_caller
from .audio import resample as _resample
from .backends import get_backend, resolve_backend_name
from .backends.device import is_device_resident
from .config import FeatureConfig
from .errors import AudioError, ParameterError
from .presets import get_preset, resolve_config
from .reference.framing import n_frames
from .reference.pipeline import check_frame_count

__all__ = ["Extractor", "extract"]


class Extractor:
    """Features of one configuration, with its window, filterbank and kernels
    built once and reused.

    Parameters
    ----------
    config : FeatureConfig or str
        A configuration, or a preset name (``fastmel.preset_names()``).
    backend : str
        ``"auto"`` (the fastest installed for the input), or a name from
        ``fastmel.backend_names()``.
    num_threads : int or None
        Threads a CPU backend may use; None means all cores.

    Examples
    --------
    >>> ex = Extractor("ast")
    >>> ex(np.zeros(16000, np.float32), sample_rate=16000).shape
    (1024, 128)
    """

    def __init__(self, config: FeatureConfig | str, *, backend: str = "auto",
                 num_threads: int | None = None) -> None:
        if isinstance(config, str):
            config = get_preset(config)
        self.config = resolve_config(preset=None, config=config)
        if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, int)
                                        or num_threads < 1):
            raise ParameterError(f"num_threads={num_threads!r} is not None or an integer >= 1")
        self.backend_name = resolve_backend_name(backend)
        self._auto = backend == "auto"
        self._num_threads = num_threads
        self._backend = get_backend(self.backend_name, num_threads=num_threads)
        self._prepared = self._backend.prepare(self.config)
        self._gpu: tuple[Any, Any] | None = None  # (backend, prepared), built on first device input

    def __repr__(self) -> str:
        return f"Extractor(sample_rate_hz={self.config.sample_rate_hz}, backend={self.backend_name!r})"

    # ------------------------------------------------------------ geometry

    @property
    def sample_rate_hz(self) -> int:
        """The rate in Hz that input must have."""
        return self.config.sample_rate_hz

    @property
    def n_features(self) -> int:
        """Size of the feature axis (mel bands, MFCCs, plus energy)."""
        return self.config.n_features

    def n_frames(self, n_samples: int) -> int:
        """Frames of the output for a clip of ``n_samples`` at ``sample_rate_hz``."""
        if self.config.output.n_frames is not None:
            return self.config.output.n_frames
        length = self.config.signal.conditioned_length(n_samples)
        return n_frames(length, self.config.frame, n_fft=self.config.spectrum.n_fft)

    def output_shape(self, n_samples: int) -> tuple[int, ...]:
        """Shape of one clip's features, in the config's layout."""
        t, d = self.n_frames(n_samples), self.n_features
        layout = self.config.output.layout
        return (d, t) if layout == "freq_time" else (1, t, d) if layout == "channel_time_freq" else (t, d)

    # ------------------------------------------------------------ compute

    def __call__(self, audio: Any, *, sample_rate: int, resample: bool = False) -> Any:
        """Features of one clip, a batch, or a ragged list of clips.

        Parameters
        ----------
        audio : array-like, float
            ``[samples]`` one clip; ``[batch, samples]`` a batch; or a list
            of 1-D clips of any lengths. Samples in [-1, 1]. NumPy arrays or
            torch CPU tensors (results come back as the same kind).
        sample_rate : int
            The rate of ``audio`` in Hz.
        resample : bool
            Resample (soxr HQ) when ``sample_rate`` differs from the config's
            rate; without it a mismatch is an AudioError.

        Returns
        -------
        array or list of arrays, ``config.output.dtype``
            One clip: ``output_shape(n)``; a batch: ``[batch, *output_shape(n)]``;
            a list: one array per clip, each equal to extracting it alone.

        Raises
        ------
        AudioError
            Empty, non-finite, non-float, wrongly shaped audio, a clip too short
            for one frame, or a sample-rate mismatch.
        """
        if self.backend_name == "cupy" or (self._auto and is_device_resident(audio)):
            return self._on_device(audio, sample_rate=sample_rate)
        batch = as_batch(audio)
        clips = [self._at_rate(c, sample_rate, resample) for c in batch.clips]
        for i, clip in enumerate(clips):
            check_frame_count(self.config.signal.conditioned_length(clip.shape[0]), self.config,
                              index=i if batch.shape != "single" else None)
        results = self._backend.extract(self._prepared, clips)
        dtype = np.dtype(self.config.output.dtype)
        results = [r if r.dtype == dtype else r.astype(dtype) for r in results]
        return to_caller(results, batch)

    def _on_device(self, audio: Any, *, sample_rate: int) -> Any:
        """The GPU path: input stays where it is, results come back in its framework."""
        if sample_rate != self.config.sample_rate_hz:
            raise AudioError(
                f"audio at sample_rate={sample_rate} Hz does not match the config's "
                f"{self.config.sample_rate_hz} Hz; the GPU path does not resample: resample on "
                f"the host first (fastmel.load(path, sample_rate={self.config.sample_rate_hz}))")
        if self.backend_name == "cupy":
            backend, prepared = self._backend, self._prepared
        else:
            if self._gpu is None:
                gpu = get_backend("cupy", num_threads=self._num_threads)
                self._gpu = (gpu, gpu.prepare(self.config))
            backend, prepared = self._gpu
        return backend.extract_any(prepared, audio)

    def _at_rate(self, clip: np.ndarray, sample_rate: int, resample: bool) -> np.ndarray:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise ParameterError(f"sample_rate={sample_rate!r} is not a positive integer in Hz")
        target = self.config.sample_rate_hz
        if sample_rate == target:
            return clip
        if not resample:
            raise AudioError(
                f"audio at sample_rate={sample_rate} Hz does not match the config's {target} Hz; "
                f"pass resample=True, or load it with fastmel.load(path, sample_rate={target})"
            )
        return _resample(clip, orig_hz=int(sample_rate), target_hz=target)


def extract(audio: Any, *, sample_rate: int, preset: str | None = None,
            config: FeatureConfig | None = None, backend: str = "auto",
            resample: bool = False, num_threads: int | None = None) -> Any:
    """Features of one clip, a batch, or a ragged list of clips.

    A one-shot :class:`Extractor`; build an Extractor to reuse its window,
    filterbank and kernels across calls.

    Parameters
    ----------
    audio : array-like, float
        ``[samples]``, ``[batch, samples]``, or a list of 1-D clips, in [-1, 1].
    sample_rate : int
        Rate of ``audio`` in Hz.
    preset : str, optional
        A preset name (``fastmel.preset_names()``). Exactly one of ``preset``
        and ``config``.
    config : FeatureConfig, optional
    backend : str
        ``"auto"`` or a backend name.
    resample : bool
        Resample to the config's rate instead of refusing a mismatch.
    num_threads : int or None
        CPU threads; None means all cores.

    Returns
    -------
    array or list of arrays
        See :meth:`Extractor.__call__`.

    Examples
    --------
    >>> feats = fastmel.extract(wave, preset="ast", sample_rate=16000)  # [1024, 128]
    """
    cfg = resolve_config(preset=preset, config=config)
    return Extractor(cfg, backend=backend, num_threads=num_threads)(
        audio, sample_rate=sample_rate, resample=resample)
