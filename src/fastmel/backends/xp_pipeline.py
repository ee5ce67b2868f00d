"""The whole feature pipeline for a batch, written once for any array module.

``xp`` is ``numpy`` or ``cupy``. With NumPy it runs (and is tested against
the reference) on every machine; with CuPy it is the GPU backend's fallback
path, and the fused CUDA kernels (``_cuda_kernels``) compute exactly what its
stages compute, stage by stage:

    frame_block   gather frames (padding, snip edges, ragged clips), dither,
                  DC removal, raw energy, pre-emphasis, window, zero-pad to n_fft
    mel_block     rfft, power, mel (dense matmul or the sparse band form), log/log10/dB
    finish        per-clip dynamic-range clamp, MFCC, energy column, pad/trim
                  frames, normalisation
    split         layout and dtype, one array per clip or one stacked array

The batch is flat: clips are concatenated, frames numbered globally (see
``_batch``), so one call handles a ragged batch and padding between clips
never reaches a clip's features. Frames are processed in blocks of
``block_frames`` to bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

from ..config import FeatureConfig
from ..reference.compress import lifter_weights
from ..reference.framing import energy_floor
from ..reference.mel import band_bins, filterbank
from ..reference.windows import frame_window
from ._batch import BatchGeometry, batch_geometry, clip_of_frame, cut_length, device_geometry, sample_index

__all__ = ["XpPlan", "make_xp_plan", "extract_batch", "frame_block", "mel_block", "finish",
           "split_clips", "cast_output", "dct_matrix", "dither_noise", "segment_max", "segment_sum"]

MelMode = Literal["dense", "sparse"]
OutputDtype = Literal["float16", "bfloat16"]


@dataclass
class XpPlan:
    """Everything a config needs on the array module's device, built once.

    Attributes
    ----------
    window : float32 ``[L]``  the window as it multiplies a cut frame
    fb_t : float32 ``[F, M]``  dense filterbank, transposed for ``power @ fb_t``
    band_start : int32 ``[M]``  first bin of each band
    band_ptr : int32 ``[M + 1]``  CSR offsets of each band's weights
    band_weights : float32 ``[nnz]``  weights of bins ``band_start[m] + j``
    band_index, band_dense : int64 / float32 ``[M, W]``  the same, padded to the
        widest band (the gather form the xp path uses)
    dct : float32 ``[M, C]`` or None  DCT-II with the lifter folded in
    noise : dict  dither noise ``[T, L]`` by row count (grown on demand)
    """

    config: FeatureConfig
    xp: Any
    window: Any
    fb_t: Any
    band_start: Any
    band_ptr: Any
    band_weights: Any
    band_index: Any
    band_dense: Any
    dct: Any
    mel_mode: MelMode = "sparse"
    noise: dict[str, Any] = field(default_factory=dict)


def dct_matrix(n_mels: int, n_mfcc: int, *, norm: str | None, lifter: np.ndarray | None) -> np.ndarray:
    """DCT-II as a matrix, ``[M, C]`` float64: ``x @ D == scipy.fft.dct(x, 2, norm)[:, :C] * lifter``."""
    n = np.arange(n_mels)[:, None]  # [M, 1]
    k = np.arange(n_mfcc)[None, :]  # [1, C]
    basis = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels))  # [M, C]
    if norm == "ortho":
        scale = np.full(n_mfcc, np.sqrt(1.0 / (2 * n_mels)))
        scale[0] = np.sqrt(1.0 / (4 * n_mels))
        basis = basis * scale[None, :]
    if lifter is not None:
        basis = basis * lifter[None, :]
    return basis


def make_xp_plan(config: FeatureConfig, xp: Any, *, mel_mode: MelMode = "sparse") -> XpPlan:
    """Window, filterbank (dense and sparse), DCT of ``config`` as float32 ``xp`` arrays."""
    if mel_mode not in ("dense", "sparse"):
        raise ValueError(f"mel_mode={mel_mode!r} is not one of 'dense', 'sparse'")
    weights = filterbank(config)  # [M, F] float64
    start, stop = band_bins(weights)  # [M], [M]
    widths = stop - start
    ptr = np.zeros(widths.shape[0] + 1, dtype=np.int64)
    np.cumsum(widths, out=ptr[1:])
    csr = np.concatenate([weights[m, start[m]:stop[m]] for m in range(weights.shape[0])])  # [nnz]
    wide = max(int(widths.max()), 1)
    j = np.arange(wide)[None, :]  # [1, W]
    index = np.minimum(start[:, None] + j, weights.shape[1] - 1)  # [M, W]
    dense = np.where(j < widths[:, None], np.take_along_axis(weights, index, axis=1), 0.0)  # [M, W]
    dct = None
    if config.mfcc is not None:
        lifter = lifter_weights(config.mfcc) if config.mfcc.lifter > 0 else None
        dct = xp.asarray(dct_matrix(config.mel.n_mels, config.mfcc.n_mfcc, norm=config.mfcc.dct_norm,
                                    lifter=lifter), dtype=xp.float32)
    f32 = xp.float32
    return XpPlan(
        config=config, xp=xp,
        window=xp.asarray(frame_window(config.frame, config.window, config.spectrum), dtype=f32),
        fb_t=xp.asarray(np.ascontiguousarray(weights.T), dtype=f32),
        band_start=xp.asarray(start, dtype=xp.int32), band_ptr=xp.asarray(ptr, dtype=xp.int32),
        band_weights=xp.asarray(csr, dtype=f32),
        band_index=xp.asarray(index, dtype=xp.int64), band_dense=xp.asarray(dense, dtype=f32),
        dct=dct, mel_mode=mel_mode,
    )


def dither_noise(plan: XpPlan, rows: int) -> Any:
    """``dither * default_rng(seed).standard_normal((rows, L))`` as float32, on the device.

    Every clip draws the same stream from the same seed (as the reference
    does per clip), so one table serves the batch: clip frame ``t`` uses row ``t``.
    Cached on the plan and grown when a longer clip arrives.
    """
    cached = plan.noise.get("table")
    if cached is not None and cached.shape[0] >= rows:
        return cached
    frame = plan.config.frame
    rng = np.random.default_rng(frame.dither_seed)
    table = frame.dither * rng.standard_normal((rows, cut_length(plan.config)))  # [T, L] float64
    plan.noise["table"] = plan.xp.asarray(table, dtype=plan.xp.float32)
    return plan.noise["table"]


# --------------------------------------------------------------------------- segment reductions


def segment_max(values: Any, segment: Any, n_segments: int, xp: Any) -> Any:
    """Maximum of ``values`` ``[N]`` per segment id ``[N]``; ``-inf`` for an empty one."""
    out = xp.full(n_segments, -np.inf, dtype=values.dtype)
    if xp.__name__ == "numpy":
        np.maximum.at(out, segment, values)
    else:
        import cupyx

        cupyx.scatter_max(out, segment, values)
    return out


def segment_sum(values: Any, segment: Any, n_segments: int, xp: Any) -> Any:
    """Sum of rows ``values`` ``[N, D]`` per segment id ``[N]``, ``[n_segments, D]``."""
    out = xp.zeros((n_segments,) + values.shape[1:], dtype=values.dtype)
    if xp.__name__ == "numpy":
        np.add.at(out, segment, values)
    else:
        import cupyx

        cupyx.scatter_add(out, segment, values)
    return out


# --------------------------------------------------------------------------- stages


def frame_block(plan: XpPlan, samples: Any, geo: dict[str, Any], g0: int, g1: int) -> tuple[Any, Any]:
    """Frames ``g0:g1`` of the batch, ready for the FFT.

    Parameters
    ----------
    samples : float32 ``[N]``  the flat batch
    geo : dict of int64 arrays (``_batch.device_geometry``)

    Returns
    -------
    frames : float32 ``[g1 - g0, n_fft]``  windowed, zero-padded
    energy : float32 ``[g1 - g0]`` (log frame energy) or None
    """
    xp, config = plan.xp, plan.config
    frame, length, n_fft = config.frame, cut_length(config), config.spectrum.n_fft
    g = xp.arange(g0, g1, dtype=xp.int64)[:, None]  # [G, 1]
    k = xp.arange(length, dtype=xp.int64)[None, :]  # [1, L]
    index, t = sample_index(g, k, geo, config, xp)  # [G, L], [G, 1]
    x = xp.where(index >= 0, samples[xp.maximum(index, 0)], 0).astype(xp.float32)  # [G, L]
    if config.signal.scale != 1.0:
        x *= xp.float32(config.signal.scale)
    if frame.dither > 0:
        x += dither_noise(plan, int(geo["n_computed_max"]))[t[:, 0]]
    if frame.remove_dc_offset:
        x -= x.mean(axis=1, keepdims=True)
    floor = xp.float32(energy_floor(config))
    energy = None
    if config.use_energy and config.raw_energy:
        energy = xp.log(xp.maximum((x * x).sum(axis=1), floor))  # [G]
    if frame.preemphasis > 0:
        c = xp.float32(frame.preemphasis)
        x[:, 1:] -= c * x[:, :-1].copy()
        x[:, 0] -= c * x[:, 0]
    x *= plan.window  # [G, L]
    if config.use_energy and not config.raw_energy:
        energy = xp.log(xp.maximum((x * x).sum(axis=1), floor))
    if length < n_fft:
        x = xp.concatenate([x, xp.zeros((x.shape[0], n_fft - length), dtype=xp.float32)], axis=1)
    return x, energy


def compress_values(energies: Any, config: FeatureConfig, xp: Any) -> Any:
    """``none`` / ``log`` / ``log10`` / ``db`` of mel energies, float32, in place where possible."""
    spec = config.compress
    if spec.kind == "none":
        return energies
    floored = xp.maximum(energies, xp.float32(spec.floor))
    if spec.kind == "log":
        return xp.log(floored)
    if spec.kind == "log10":
        return xp.log10(floored)
    offset = xp.float32(10.0 * np.log10(max(spec.ref, spec.floor)))
    return xp.float32(10.0) * xp.log10(floored) - offset


def mel_block(plan: XpPlan, frames: Any) -> Any:
    """Windowed frames ``[G, n_fft]`` to compressed mel bands ``[G, M]`` float32."""
    xp, config = plan.xp, plan.config
    z = xp.fft.rfft(frames, axis=-1)  # [G, F] complex64
    power = (z.real * z.real + z.imag * z.imag).astype(xp.float32)  # [G, F]
    if config.spectrum.power != 2.0:
        power = xp.sqrt(power) ** xp.float32(config.spectrum.power)
    if plan.mel_mode == "dense":
        energies = power @ plan.fb_t  # [G, M]
    else:
        energies = (power[:, plan.band_index] * plan.band_dense).sum(axis=-1)  # [G, M, W] -> [G, M]
    return compress_values(energies.astype(xp.float32), config, xp)


def finish(plan: XpPlan, feats: Any, energy: Any, geo: dict[str, Any], geometry: BatchGeometry,
           *, clip_max: Any = None) -> Any:
    """Compressed bands of every computed frame to the flat output ``[R, D]`` float32.

    Parameters
    ----------
    feats : float32 ``[G, M]``
    energy : float32 ``[G]`` or None
    clip_max : float32 ``[B]`` or None
        Each clip's maximum of ``feats``, when a kernel already reduced it.

    Returns
    -------
    float32 ``[sum(n_out), D]``: clip ``b``'s rows are ``out_offsets[b]:out_offsets[b + 1]``.
    """
    xp, config = plan.xp, plan.config
    n_clips = geometry.n_clips
    frame_clip = clip_of_frame(xp.arange(geometry.total_frames), geo["frame_offsets"], xp)  # [G]
    dynamic_range = config.compress.dynamic_range
    if dynamic_range is not None:
        if clip_max is None:
            clip_max = segment_max(feats.max(axis=1), frame_clip, n_clips, xp)  # [B]
        feats = xp.maximum(feats, (clip_max - xp.float32(dynamic_range))[frame_clip][:, None])
    if plan.dct is not None:
        feats = feats @ plan.dct  # [G, C]
    if energy is not None:
        column = energy[:, None].astype(xp.float32)
        pieces = (column, feats) if config.energy_position == "first" else (feats, column)
        feats = xp.concatenate(pieces, axis=1)  # [G, D]
    rows = _fit_rows(plan, feats, geo, geometry)  # [R, D]
    return _normalize_rows(plan, rows, geo, geometry)


def _fit_rows(plan: XpPlan, feats: Any, geo: dict[str, Any], geometry: BatchGeometry) -> Any:
    """Pad (``pad_value``) or trim each clip's frames to ``n_out``: ``[G, D] -> [R, D]``."""
    xp = plan.xp
    if np.array_equal(geometry.n_out, geometry.n_computed):
        return feats
    r = xp.arange(geometry.total_rows)  # [R]
    b = clip_of_frame(r, geo["out_offsets"], xp)  # [R]
    t = r - geo["out_offsets"][b]
    present = t < geo["n_computed"][b]
    source = xp.where(present, geo["frame_offsets"][b] + t, 0)
    return xp.where(present[:, None], feats[source], xp.float32(plan.config.output.pad_value))


def _normalize_rows(plan: XpPlan, rows: Any, geo: dict[str, Any], geometry: BatchGeometry) -> Any:
    xp, norm = plan.xp, plan.config.normalize
    if norm is None:
        return rows
    if norm.mode == "fixed":
        return (rows - xp.float32(norm.mean)) / xp.float32(norm.divisor)
    row_clip = clip_of_frame(xp.arange(geometry.total_rows), geo["out_offsets"], xp)  # [R]
    count = xp.asarray(geometry.n_out, dtype=xp.float32)[:, None]  # [B, 1]
    mean = segment_sum(rows, row_clip, geometry.n_clips, xp) / count  # [B, D]
    centred = rows - mean[row_clip]
    std = xp.sqrt(segment_sum(centred * centred, row_clip, geometry.n_clips, xp) / count)  # [B, D]
    return centred / xp.maximum(std, xp.float32(norm.eps))[row_clip]


def cast_output(x: Any, dtype: str, xp: Any) -> Any:
    """float32 features to ``dtype``: float32/float64/float16, or ``bfloat16`` as uint16 bits.

    bfloat16 rounds to nearest, ties to even (as torch's ``.to(torch.bfloat16)``);
    the uint16 result is viewed as bfloat16 by the caller's framework
    (``device.as_bfloat16``).
    """
    if dtype != "bfloat16":
        return x.astype(dtype, copy=False)
    bits = xp.ascontiguousarray(x, dtype=xp.float32).view(xp.uint32)
    rounded = (bits + xp.uint32(0x7FFF) + ((bits >> xp.uint32(16)) & xp.uint32(1))) >> xp.uint32(16)
    return rounded.astype(xp.uint16)


def split_clips(plan: XpPlan, rows: Any, geometry: BatchGeometry, *, dtype: str | None = None,
                stack: bool = False) -> Any:
    """Flat rows ``[R, D]`` to the config's layout and dtype.

    Returns one stacked array ``[B, *clip_shape]`` when ``stack`` (clips must
    have equal ``n_out``), else a list of ``B`` C-contiguous arrays.
    """
    xp, output = plan.xp, plan.config.output
    dtype = dtype or output.dtype
    d = rows.shape[1]
    if stack:
        if not geometry.uniform_out:
            raise ValueError(f"clips have different frame counts {geometry.n_out.tolist()}; cannot stack")
        batch = rows.reshape(geometry.n_clips, int(geometry.n_out[0]), d)  # [B, T, D]
        if output.layout == "freq_time":
            batch = batch.transpose(0, 2, 1)  # [B, D, T]
        elif output.layout == "channel_time_freq":
            batch = batch[:, None]  # [B, 1, T, D]
        return cast_output(xp.ascontiguousarray(batch), dtype, xp)
    out = []
    for b in range(geometry.n_clips):
        clip = rows[int(geometry.out_offsets[b]):int(geometry.out_offsets[b + 1])]  # [T, D]
        if output.layout == "freq_time":
            clip = clip.T
        elif output.layout == "channel_time_freq":
            clip = clip[None]
        out.append(cast_output(xp.ascontiguousarray(clip), dtype, xp))
    return out


# --------------------------------------------------------------------------- driver


def block_size(config: FeatureConfig, budget_bytes: int) -> int:
    """Frames per block so that the block's working set stays under ``budget_bytes``.

    The xp path holds about ``n_fft`` floats of frames, ``n_fft + 2`` of
    spectrum, the int64 index and the mel gather per frame: ~32 bytes per FFT point.
    """
    per_frame = 32 * config.spectrum.n_fft + 8 * config.mel.n_mels * 8
    return max(1, budget_bytes // per_frame)


def extract_batch(plan: XpPlan, samples: Any, lengths: Sequence[int], *,
                  block_bytes: int = 256 << 20) -> tuple[Any, BatchGeometry]:
    """Features of a flat batch: ``samples`` ``[N]`` float32 holding clips of ``lengths``.

    Returns
    -------
    rows : float32 ``[sum(n_out), D]``  (see :func:`finish`; :func:`split_clips` lays it out)
    geometry : BatchGeometry
    """
    xp, config = plan.xp, plan.config
    geometry = batch_geometry(lengths, config)
    geo = device_geometry(geometry, xp)
    geo["n_computed_max"] = int(geometry.n_computed.max())
    total = geometry.total_frames
    feats = xp.empty((total, config.mel.n_mels), dtype=xp.float32)  # [G, M]
    energy = xp.empty(total, dtype=xp.float32) if config.use_energy else None  # [G]
    step = block_size(config, block_bytes)
    for g0 in range(0, total, step):
        g1 = min(total, g0 + step)
        frames, block_energy = frame_block(plan, samples, geo, g0, g1)
        feats[g0:g1] = mel_block(plan, frames)
        if energy is not None:
            energy[g0:g1] = block_energy
    return finish(plan, feats, energy, geo, geometry), geometry


def concat_clips(clips: Sequence[np.ndarray], xp: Any) -> Any:
    """Clips ``[n_b]`` to one flat float32 ``xp`` buffer ``[sum n_b]``."""
    flat = np.concatenate([np.asarray(c, dtype=np.float32) for c in clips])
    return xp.asarray(flat)
