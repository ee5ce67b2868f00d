"""Online extraction: chunks of samples in, finished frames out, equal to offline.

A frame's features depend only on its own samples, except where a config
looks at the whole clip (padding or trimming the signal or the frames to a
fixed length, a dynamic-range clamp against the clip's maximum, per-clip
normalisation): those configs cannot stream and are refused. Kaldi-style
presets (``kaldi``, ``beats``) and ``panns`` stream; so does any config
without those clip-level stages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import check_clip
from .config import FeatureConfig
from .errors import AudioError, ParameterError
from .presets import get_preset
from .reference.framing import edge_mode, fold_index, frame_offset, n_frames
from .reference.compress import normalize
from .reference.pipeline import apply_layout, clip_features, frame_features, make_plan
from .reference.windows import frame_length

__all__ = ["StreamingExtractor"]


def _refuse_clip_level(config: FeatureConfig) -> None:
    reasons = {
        "signal.n_samples": config.signal.n_samples is not None,
        "output.n_frames": config.output.n_frames is not None,
        "compress.dynamic_range": config.compress.dynamic_range is not None,
        "normalize.mode='per_clip'": config.normalize is not None and config.normalize.mode == "per_clip",
    }
    blocking = [name for name, blocks in reasons.items() if blocks]
    if blocking:
        raise ParameterError(
            f"this config cannot stream: {', '.join(blocking)} look(s) at the whole clip; "
            "set them to None (or use fastmel.extract on the whole clip)"
        )


class StreamingExtractor:
    """Features of a stream of samples, frame by frame, equal to offline extraction.

    Parameters
    ----------
    config : FeatureConfig or str
        A config or preset name without clip-level stages (see the module).
    dtype : numpy float dtype
        Precision of the computation (the reference's float64 by default).

    Examples
    --------
    >>> stream = StreamingExtractor("kaldi")
    >>> parts = [stream.accept(chunk, sample_rate=16000) for chunk in chunks]
    >>> parts.append(stream.finish())
    >>> np.concatenate(parts, axis=stream.time_axis)  # == fastmel.extract(whole, ...)
    """

    def __init__(self, config: FeatureConfig | str, *, dtype: Any = np.float64) -> None:
        self.config = get_preset(config) if isinstance(config, str) else config
        if not isinstance(self.config, FeatureConfig):
            raise ParameterError(f"config={config!r} is not a FeatureConfig or a preset name")
        _refuse_clip_level(self.config)
        self._plan = make_plan(self.config)
        self._dtype = np.dtype(dtype)
        self.reset()

    def reset(self) -> None:
        """Forget the stream; the next chunk starts a new one."""
        self._buffer = np.zeros(0, dtype=self._dtype)  # samples from index self._base on
        self._base = 0
        self._total = 0
        self._next = 0  # index of the next frame to emit
        self._finished = False
        self._rng = np.random.default_rng(self.config.frame.dither_seed)

    @property
    def time_axis(self) -> int:
        """The axis of the output along which chunks concatenate."""
        return 0 if self.config.output.layout == "time_freq" else 1

    # ------------------------------------------------------------ geometry

    def _frame_start(self, t: int | np.ndarray) -> Any:
        """First sample of frame ``t`` in the signal (negative: in the left padding)."""
        frame = self.config.frame
        return t * frame.hop_length + frame_offset(frame, n_fft=self.config.spectrum.n_fft)

    @property
    def _frame_length(self) -> int:
        return frame_length(self.config.frame, self.config.spectrum)

    def _ready_frames(self) -> int:
        """Frames whose samples have all arrived and need no right-edge padding."""
        length = self._frame_length
        if self._total <= length:  # left padding may need more than one reflection
            return 0
        hop = self.config.frame.hop_length
        last_end = self._total - length  # start of the last frame that fits
        offset = self._frame_start(0)
        return max(0, (last_end - offset) // hop + 1)

    # ------------------------------------------------------------ stream

    def accept(self, chunk: Any, *, sample_rate: int) -> np.ndarray:
        """Add samples; return the features of the frames they complete.

        Parameters
        ----------
        chunk : array-like, float, shape ``[n]`` (``n`` may be 0)
        sample_rate : int
            Must equal the config's rate.

        Returns
        -------
        np.ndarray, ``config.output.dtype``, the config's layout with
        ``k >= 0`` frames along :attr:`time_axis`.
        """
        if self._finished:
            raise AudioError("the stream has finished; call reset() to start a new one")
        if sample_rate != self.config.sample_rate_hz:
            raise AudioError(
                f"audio at sample_rate={sample_rate} Hz does not match the config's "
                f"{self.config.sample_rate_hz} Hz"
            )
        chunk = np.asarray(chunk)
        if chunk.size:
            chunk = check_clip(chunk, what="chunk")
            scaled = chunk.astype(self._dtype) * self._dtype.type(self.config.signal.scale)
            self._buffer = np.concatenate([self._buffer, scaled])
            self._total += chunk.shape[0]
        return self._emit(self._ready_frames(), final=False)

    def finish(self) -> np.ndarray:
        """End the stream; return the features of its remaining frames."""
        if self._finished:
            raise AudioError("the stream has already finished; call reset() to start a new one")
        if self._total == 0:
            raise AudioError("the stream is empty (0 samples); expected at least one sample")
        self._finished = True
        count = n_frames(self._total, self.config.frame, n_fft=self.config.spectrum.n_fft)
        return self._emit(count, final=True)

    def _emit(self, upto: int, *, final: bool) -> np.ndarray:
        first = self._next
        if not final:
            # Never emit a frame that the final count might drop (drop_last_frame).
            upto = min(upto, n_frames(self._total, self.config.frame, n_fft=self.config.spectrum.n_fft))
        upto = max(upto, first)
        if upto == first:
            empty = np.zeros((0, self.config.mel.n_mels), self._dtype)
            return self._finish_features(empty, np.zeros(0, self._dtype) if self.config.use_energy else None)
        frames = self._gather(first, upto)
        compressed, energy = frame_features(frames, self._plan, dtype=self._dtype, rng=self._rng)
        self._next = upto
        keep_from = max(0, int(self._frame_start(upto)))  # samples before it are done with
        if keep_from > self._base:
            self._buffer = self._buffer[keep_from - self._base:]
            self._base = keep_from
        return self._finish_features(compressed, energy)

    def _gather(self, first: int, upto: int) -> np.ndarray:
        """Frames ``first:upto`` from the buffer, edges padded as offline framing pads them."""
        frame, n = self.config.frame, self._total
        starts = self._frame_start(np.arange(first, upto))  # [k]
        index = starts[:, None] + np.arange(self._frame_length)[None, :]  # [k, L]
        index = fold_index(index, n, edge_mode(frame))  # [k, L], -1 for a padding zero
        frames = self._buffer[np.maximum(index - self._base, 0)]  # [k, L]; padding zeros set below
        if (index < 0).any():
            frames = np.where(index >= 0, frames, 0.0)
        return frames

    def _finish_features(self, compressed: np.ndarray, energy: np.ndarray | None) -> np.ndarray:
        features = clip_features(compressed, energy, self.config)
        features = normalize(features, self.config.normalize)
        return apply_layout(features, self.config.output)
