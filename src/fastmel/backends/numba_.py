"""The Numba backend: fused CPU kernels, parallel over frame blocks.

Per clip, one parallel kernel (:func:`._numba_kernels.clip_features`) turns
blocks of 32 frames into finished features without leaving cache: framing,
Kaldi's per-frame steps, window, a batched FFT vectorised across the 32
frames (:mod:`._numba_fft`), power, a sparse mel product, log compression,
DCT and fixed normalisation. A second, cheap pass
(:func:`._numba_kernels.finish_clip`) does what needs the whole clip
(dynamic-range clamp, padding frames, per-clip statistics). No clip is ever
framed into a ``[frames, n_fft]`` array: memory is the input, the output and
a few kilobytes of scratch per thread, for any length.

Kernels are compiled on first use and cached on disk (``cache=True``), so a
second process loads them instead of compiling.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.fft

from ..config import FeatureConfig
from ..reference.compress import lifter_weights
from ..reference.framing import condition_signal, edge_mode, energy_floor, frame_offset, n_frames
from ..reference.mel import band_bins, filterbank
from ..reference.windows import frame_window
from . import _numba_kernels as _k
from ._numba_fft import FftPlan, make_fft_plan

__all__ = ["NumbaBackend", "NumbaPlan"]

_PAD_MODES = {"constant": _k.PAD_CONSTANT, "reflect": _k.PAD_REFLECT, "edge": _k.PAD_EDGE,
              "symmetric": _k.PAD_SYMMETRIC}
_SMALLEST_NORMAL32 = float(np.finfo(np.float32).tiny)
#: Frames per kernel call when dither noise must be generated (bounds its memory).
DITHER_CHUNK_FRAMES = 2048


@dataclass(frozen=True)
class NumbaPlan:
    """Everything the kernels need for one FeatureConfig, built once.

    Attributes
    ----------
    config : FeatureConfig
    fft : FftPlan
    window : float64 ``[frame_length]``
    mel_start, mel_stop : int64 ``[n_mels]``; mel_offsets : int64 ``[n_mels]``
    mel_weights : float32 ``[sum(stop - start)]``
        The filterbank in sparse form: band ``m``'s weights for bins
        ``start[m]:stop[m]`` at ``mel_weights[mel_offsets[m]:]``.
    dct : float32 ``[n_mfcc, n_mels]`` (liftered), or ``[0, 0]`` without MFCC
    """

    config: FeatureConfig
    fft: FftPlan
    window: np.ndarray
    mel_start: np.ndarray
    mel_stop: np.ndarray
    mel_offsets: np.ndarray
    mel_weights: np.ndarray
    dct: np.ndarray


def _dct_matrix(config: FeatureConfig) -> np.ndarray:
    """``[n_mfcc, n_mels]`` float32: ``mfcc = dct @ log_mel`` (lifter included)."""
    if config.mfcc is None:
        return np.zeros((0, 0), np.float32)
    n_mels = config.mel.n_mels
    basis = scipy.fft.dct(np.eye(n_mels), type=2, norm=config.mfcc.dct_norm, axis=-1)  # [M, M]
    matrix = basis.T[: config.mfcc.n_mfcc]  # [C, M]
    if config.mfcc.lifter > 0:
        matrix = matrix * lifter_weights(config.mfcc)[:, None]
    return np.ascontiguousarray(matrix, dtype=np.float32)


def make_numba_plan(config: FeatureConfig) -> NumbaPlan:
    """Window, sparse filterbank, FFT and DCT tables of ``config``."""
    weights = filterbank(config)  # [M, F] float64
    start, stop = band_bins(weights)
    offsets = np.concatenate([[0], np.cumsum(stop - start)[:-1]]).astype(np.int64)
    flat = np.concatenate([weights[m, start[m]:stop[m]] for m in range(weights.shape[0])] + [np.zeros(1)])
    return NumbaPlan(
        config=config,
        fft=make_fft_plan(config.spectrum.n_fft),
        window=frame_window(config.frame, config.window, config.spectrum),
        mel_start=start, mel_stop=stop, mel_offsets=offsets,
        mel_weights=flat.astype(np.float32),
        dct=_dct_matrix(config),
    )


class NumbaBackend:
    """Fused Numba kernels in float32, parallel over blocks of frames.

    Parameters
    ----------
    num_threads : int or None
        Threads per call (None: Numba's default, all cores). Set for the
        duration of each call and restored afterwards.
    """

    name = "numba"

    def __init__(self, *, num_threads: int | None = None) -> None:
        self.num_threads = num_threads

    @staticmethod
    def unavailable_reason() -> str | None:
        """None when Numba can run here, else why not."""
        try:
            import numba  # noqa: F401
        except ImportError as exc:  # pragma: no cover - the module import already needs it
            return f"needs 'numba' ({exc}); pip install numba"
        return None

    def prepare(self, config: FeatureConfig) -> NumbaPlan:
        return make_numba_plan(config)

    def extract(self, prepared: NumbaPlan, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
        import numba

        previous = numba.get_num_threads()
        threads = previous if self.num_threads is None else min(self.num_threads, numba.config.NUMBA_NUM_THREADS)
        numba.set_num_threads(threads)
        try:
            results = [_extract_clip(prepared, clip, threads) for clip in clips]
        finally:
            numba.set_num_threads(previous)
        dtype = np.dtype(prepared.config.output.dtype)
        return [r if r.dtype == dtype else r.astype(dtype) for r in results]


# ----------------------------------------------------------------------------- one clip


@dataclass(frozen=True)
class _Signal:
    x: np.ndarray       # float32 [>= n_valid], unscaled
    n_valid: int        # samples of x that are real
    n_total: int        # conditioned length (zeros past n_valid)


def _conditioned(clip: np.ndarray, config: FeatureConfig) -> _Signal:
    """The clip as the kernels read it: conditioning by index arithmetic where
    possible, a copy only for ``repeat`` padding or a non-float32 clip."""
    x = np.ascontiguousarray(clip, dtype=np.float32)
    target = config.signal.n_samples
    n = x.shape[0]
    if target is None:
        return _Signal(x, n, n)
    if n >= target:
        return _Signal(x, target, target)
    if config.signal.pad == "zeros":
        return _Signal(x, n, target)
    tiled = condition_signal(x, dataclasses.replace(config.signal, scale=1.0))
    return _Signal(np.ascontiguousarray(tiled), target, target)


def _frame_origin(config: FeatureConfig) -> tuple[int, int]:
    """Start of frame 0 relative to the conditioned signal, and the edge mode (kernel code)."""
    frame = config.frame
    return frame_offset(frame, n_fft=config.spectrum.n_fft), _PAD_MODES[edge_mode(frame)]


def _compression(config: FeatureConfig) -> tuple[int, float, float]:
    """(log mode, scale, bias) of ``scale * ln(max(x, floor)) + bias``."""
    c = config.compress
    if c.kind == "none":
        return 0, 1.0, 0.0
    mode = 1 if c.floor >= _SMALLEST_NORMAL32 else 2
    if c.kind == "log":
        return mode, 1.0, 0.0
    if c.kind == "log10":
        return mode, 1.0 / math.log(10.0), 0.0
    return mode, 10.0 / math.log(10.0), -10.0 * math.log10(max(c.ref, c.floor))


def _extract_clip(plan: NumbaPlan, clip: np.ndarray, threads: int) -> np.ndarray:
    config = plan.config
    signal = _conditioned(clip, config)
    total = n_frames(signal.n_total, config.frame, n_fft=config.spectrum.n_fft)
    n_out = config.output.n_frames if config.output.n_frames is not None else total
    n_comp = min(total, n_out)
    n_feat = config.n_features
    out = np.empty(n_out * n_feat, np.float32)
    layout = config.output.layout
    st, sd = (1, n_out) if layout == "freq_time" else (n_feat, 1)

    norm = config.normalize
    clamp = config.compress.dynamic_range is not None
    fixed = norm is not None and norm.mode == "fixed"
    fuse_affine = fixed and not clamp
    a_scale, a_bias = (1.0 / norm.divisor, -norm.mean / norm.divisor) if fixed else (1.0, 0.0)
    n_base = config.mfcc.n_mfcc if config.mfcc is not None else config.mel.n_mels
    energy_first = config.use_energy and config.energy_position == "first"
    mel_col = 1 if energy_first else 0
    energy_col = (0 if energy_first else n_base) if config.use_energy else -1

    if config.mfcc is not None and clamp:
        _mfcc_after_clamp(plan, signal, n_comp, out, st, sd, mel_col, threads)
    else:
        _run_kernel(plan, signal, n_comp, out, st, sd, plan.dct, mel_col, energy_col,
                    (a_scale, a_bias) if fuse_affine else (1.0, 0.0), threads)
    pad_value = config.output.pad_value
    if fuse_affine:
        pad_value = pad_value * a_scale + a_bias
    _k.finish_clip(out, st, sd, n_comp, n_out, n_feat, mel_col, config.mel.n_mels if config.mfcc is None else 0,
                   clamp and config.mfcc is None, float(config.compress.dynamic_range or 0.0),
                   np.float32(pad_value), fixed and not fuse_affine, a_scale, a_bias,
                   norm is not None and norm.mode == "per_clip", float(norm.eps) if norm is not None else 1.0)
    if layout == "freq_time":
        return out.reshape(n_feat, n_out)
    if layout == "channel_time_freq":
        return out.reshape(1, n_out, n_feat)
    return out.reshape(n_out, n_feat)


def _run_kernel(plan: NumbaPlan, signal: _Signal, n_comp: int, out: np.ndarray, st: int, sd: int,
                dct: np.ndarray, mel_col: int, energy_col: int, affine: tuple[float, float],
                threads: int) -> None:
    """Frames ``0 .. n_comp`` into ``out``; in chunks when dither noise is needed."""
    config = plan.config
    frame = config.frame
    first, mode = _frame_origin(config)
    log_mode, c_scale, c_bias = _compression(config)
    energy_mode = (1 if config.raw_energy else 2) if config.use_energy else 0
    f = plan.fft
    length = plan.window.shape[0]
    scale = float(config.signal.scale)
    if frame.dither > 0:
        rng = np.random.default_rng(frame.dither_seed)
        chunk = DITHER_CHUNK_FRAMES
    else:
        rng, chunk = None, max(n_comp, 1)
    no_noise = np.zeros(0, np.float64)
    for c0 in range(0, n_comp, chunk):
        count = min(chunk, n_comp - c0)
        noise = no_noise if rng is None else rng.standard_normal(count * length)  # == reference's [T, L] rows
        _k.clip_features(
            signal.x, signal.n_valid, signal.n_total, first + c0 * frame.hop_length, frame.hop_length,
            mode, scale, count, plan.window, float(frame.dither), noise, frame.remove_dc_offset,
            float(frame.preemphasis), energy_mode, energy_floor(config),
            f.size, f.real_split, f.radices, f.offsets, f.tw_re, f.tw_im, f.dft_re, f.dft_im,
            f.dft_offsets, f.post_cos, f.post_sin, float(config.spectrum.power),
            plan.mel_start, plan.mel_stop, plan.mel_offsets, plan.mel_weights,
            log_mode, float(config.compress.floor), c_scale, c_bias,
            dct, affine[0], affine[1], mel_col, energy_col, out[c0 * st:], st, sd, threads,
        )


def _mfcc_after_clamp(plan: NumbaPlan, signal: _Signal, n_comp: int, out: np.ndarray, st: int, sd: int,
                      mel_col: int, threads: int) -> None:
    """MFCC with a dynamic-range clamp: the clamp needs the whole clip's
    maximum before the DCT, so log-mel goes to a scratch array first."""
    n_mels = plan.config.mel.n_mels
    log_mel = np.empty(n_comp * n_mels, np.float32)
    _run_kernel(plan, signal, n_comp, log_mel, n_mels, 1, np.zeros((0, 0), np.float32), 0, -1,
                (1.0, 0.0), threads)
    log_mel = log_mel.reshape(n_comp, n_mels)
    if n_comp:
        np.maximum(log_mel, log_mel.max() - np.float32(plan.config.compress.dynamic_range), out=log_mel)
    cepstra = log_mel @ plan.dct.T  # [T, C]
    view = np.lib.stride_tricks.as_strided(out, shape=(n_comp, cepstra.shape[1]),
                                           strides=(st * 4, sd * 4))
    view[:] = cepstra
