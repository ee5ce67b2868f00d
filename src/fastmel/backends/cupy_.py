"""The GPU backend: two fused CUDA kernels around cuFFT, CuPy for the rest.

Per block of frames (any number of clips, ragged, in one launch each)::

    fm_frames   flat samples -> windowed frames [n, n_fft]     (_cuda_kernels)
    cuFFT       frames -> spectrum [n, F] complex64            (cupyx.scipy.fft.rfft, cached plan)
    fm_mel      spectrum -> power -> sparse mel -> log -> output (normalised, laid out)

Whole-clip statistics (Whisper's / librosa's dynamic-range clamp, per-clip
normalisation) and MFCCs take the second route: ``fm_mel`` writes the
compressed bands and a per-clip atomic maximum, then ``xp_pipeline.finish``
runs on CuPy. ``kernels="xp"`` runs the whole ``xp_pipeline`` on CuPy instead
(the fallback, and the specification the kernels are tested against).

Bytes moved, and the memory roofline
------------------------------------
AST, one 10 s clip at 16 kHz (160,000 samples; 998 frames of n_fft 512,
F = 257 bins; output 1024 x 128 float32), DRAM traffic per clip:

=====================================  ==========
read samples (overlapping frames hit L1/L2)  0.64 MB
fm_frames writes frames 998 x 512 x 4        2.04 MB
cuFFT reads frames, writes 998 x 257 x 8     4.09 MB
fm_mel reads spectrum, writes output         2.57 MB
**total**                                    **9.35 MB**
roofline: read samples once, write output    1.16 MB
=====================================  ==========

So this version moves 8.0x the roofline's bytes: at the H200's 4.2 TB/s copy
rate it cannot pass ~450,000 clips/s = **~1,250 h/s** (the roofline is
~10,000 h/s), whatever the kernels' quality; cuFFT's own passes may add more.
That is short of the issue's 2,000 h/s target. Reaching it needs the frames
never to touch DRAM: a single kernel holding each frame in shared memory
through a radix-2 real FFT (n_fft 512/1024/2048 are powers of two; 400 would
keep this path), then power, mel and log — 1.16 MB per clip, the roofline.
A float16 / bfloat16 output adds a cast pass (read 4 + write 2 bytes per
value, +0.79 MB per AST clip). Host input is bounded by the pinned
host-to-device copy instead: 0.64 MB per clip at ~55 GB/s = ~240 h/s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

from ..config import FeatureConfig
from ..errors import AudioError, ParameterError
from ..reference.framing import edge_mode, energy_floor, frame_offset
from ..reference.pipeline import check_frame_count
from . import _cuda_kernels as K
from ._batch import FOLD_MODES, BatchGeometry, batch_geometry, cut_length, device_geometry
from .device import (Placement, PinnedStager, as_bfloat16, cuda_unavailable_reason, placement, require_cupy, to_caller_framework,
                     to_cupy)
from .xp_pipeline import XpPlan, cast_output, dither_noise, extract_batch, finish, make_xp_plan, split_clips

__all__ = ["CupyBackend", "CupyPrepared", "uses_direct_output"]

Kernels = Literal["fused", "xp"]
_THREADS = 128  # per block, a multiple of 32


@dataclass
class CupyPrepared:
    """What one config caches on the device: the xp plan, compiled kernels, FFT plans."""

    config: FeatureConfig
    plan: XpPlan
    module: Any = None
    fft_plans: dict[tuple[int, int], Any] = field(default_factory=dict)
    stager: PinnedStager | None = None


def uses_direct_output(config: FeatureConfig) -> bool:
    """Whether ``fm_mel`` can write the final output (no whole-clip statistic, no DCT)."""
    norm = config.normalize
    return (config.compress.dynamic_range is None and config.mfcc is None
            and (norm is None or norm.mode == "fixed"))


class CupyBackend:
    """Features on a CUDA GPU with CuPy.

    Parameters
    ----------
    num_threads : int or None
        Ignored (accepted for the backend protocol).
    kernels : {"fused", "xp"}
        The fused CUDA kernels, or the array-generic pipeline on CuPy.
    output_dtype : {None, "float16", "bfloat16"}
        Override the config's float32/float64 output on the device path.
    block_bytes : int
        Device memory for one block of frames (bounds memory on long input).
    chunk_bytes : int
        Host input per pinned upload chunk (transfer/compute overlap).
    """

    name = "cupy"

    def __init__(self, *, num_threads: int | None = None, kernels: Kernels = "fused",
                 output_dtype: Literal["float16", "bfloat16"] | None = None,
                 block_bytes: int = 256 << 20, chunk_bytes: int = 64 << 20) -> None:
        if kernels not in ("fused", "xp"):
            raise ParameterError(f"kernels={kernels!r} is not one of 'fused', 'xp'")
        if output_dtype not in (None, "float16", "bfloat16"):
            raise ParameterError(f"output_dtype={output_dtype!r} is not one of None, 'float16', 'bfloat16'")
        self._cupy = require_cupy()
        self.kernels, self.output_dtype = kernels, output_dtype
        self.block_bytes, self.chunk_bytes = int(block_bytes), int(chunk_bytes)

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why this backend cannot run here (cupy-cuda12x missing, no device), or None."""
        return cuda_unavailable_reason()

    def prepare(self, config: FeatureConfig) -> CupyPrepared:
        cupy = self._cupy
        prepared = CupyPrepared(config=config, plan=make_xp_plan(config, cupy))
        if self.kernels == "fused":
            prepared.module = K.build_module(cupy)
        return prepared

    # ------------------------------------------------------------ protocol: host in, host out

    def extract(self, prepared: CupyPrepared, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Validated host clips -> host features, one per clip (the Backend protocol).

        Clips go up in chunks through pinned buffers on a copy stream while the
        previous chunk computes on the compute stream.
        """
        cupy = self._cupy
        if prepared.stager is None:
            prepared.stager = PinnedStager(cupy)
        compute = cupy.cuda.Stream(non_blocking=True)
        pending = []
        for chunk in _chunks(clips, self.chunk_bytes):
            device, copied = prepared.stager.upload(chunk)
            compute.wait_event(copied)
            with compute:
                pending.append((device, self.run(prepared, device, [c.shape[0] for c in chunk], stack=False)))
        compute.synchronize()
        bf16 = self.output_dtype == "bfloat16"
        return [as_bfloat16(r.get(), "numpy") if bf16 else r.get() for _, results in pending for r in results]

    # ------------------------------------------------------------ any input, caller's framework out

    def extract_any(self, prepared: CupyPrepared, audio: Any) -> Any:
        """Features of ``audio`` in the caller's framework and on its device.

        Parameters
        ----------
        audio : ``[samples]``, ``[batch, samples]`` or a list of 1-D clips; NumPy, CuPy,
            torch (CPU or CUDA) or any ``__cuda_array_interface__`` / ``__dlpack__`` array.

        Returns
        -------
        One array, a stacked ``[batch, ...]`` array, or a list, as the input was;
        torch CUDA in -> torch CUDA out (no host round trip).
        """
        cupy = self._cupy
        where = placement(audio)
        stream = _caller_stream(where, cupy)
        with stream:
            samples, lengths, shape = _flat_device_batch(audio, where, cupy)
            for i, n in enumerate(lengths):
                if n == 0:
                    raise AudioError(f"clip {i} is empty (0 samples); expected at least one sample")
                check_frame_count(prepared.config.signal.conditioned_length(n), prepared.config,
                                  index=None if shape == "single" else i)
            out = self.run(prepared, samples, lengths, stack=shape != "ragged")
        stream.synchronize()
        bf16 = self.output_dtype == "bfloat16"
        if shape == "single":
            return to_caller_framework(out[0], where, bfloat16=bf16)
        if shape == "batch":
            return to_caller_framework(out, where, bfloat16=bf16)
        return [to_caller_framework(o, where, bfloat16=bf16) for o in out]

    # ------------------------------------------------------------ the computation

    def run(self, prepared: CupyPrepared, samples: Any, lengths: Sequence[int], *, stack: bool) -> Any:
        """Flat device samples ``[N]`` of clips of ``lengths`` -> device features.

        Returns ``[B, *clip_shape]`` when ``stack``, else a list of ``B`` arrays.
        """
        cupy, config = self._cupy, prepared.config
        samples = cupy.ascontiguousarray(samples, dtype=cupy.float32)
        dtype = self.output_dtype or config.output.dtype
        if self.kernels == "xp":
            _check_finite(cupy.isfinite(samples).all(), samples, lengths, cupy)
            rows, geometry = extract_batch(prepared.plan, samples, lengths, block_bytes=self.block_bytes)
            return split_clips(prepared.plan, rows, geometry, dtype=dtype, stack=stack)
        geometry = batch_geometry(lengths, config)
        flat, direct = self._fused(prepared, samples, geometry)
        if not direct:
            return split_clips(prepared.plan, flat, geometry, dtype=dtype, stack=stack)
        return _split_direct(flat, geometry, config, dtype=dtype, stack=stack, cupy=cupy)

    def _fused(self, prepared: CupyPrepared, samples: Any, geometry: BatchGeometry) -> tuple[Any, bool]:
        cupy, config, plan = self._cupy, prepared.config, prepared.plan
        geo = device_geometry(geometry, cupy)
        n_fft, n_bins, n_mels = config.spectrum.n_fft, config.spectrum.n_bins, config.mel.n_mels
        length, total, n_clips = cut_length(config), geometry.total_frames, geometry.n_clips
        direct = uses_direct_output(config)
        d = config.n_features
        if direct:
            out = cupy.empty(geometry.total_rows * d, dtype=cupy.float32)  # final layout, flat
        else:
            out = cupy.empty((total, n_mels), dtype=cupy.float32)  # [G, M] compressed bands
        energy_all = cupy.empty(total, dtype=cupy.float32) if config.use_energy else None
        clip_max = cupy.full(n_clips, -np.inf, dtype=cupy.float32)
        non_finite = cupy.zeros(1, dtype=cupy.int32)
        noise = dither_noise(plan, int(geometry.n_computed.max())) if config.frame.dither > 0 else clip_max
        step = max(1, self.block_bytes // (4 * n_fft + 8 * n_bins))
        frames = cupy.empty((min(step, total), n_fft), dtype=cupy.float32)
        frames_k = prepared.module.get_function("fm_frames")
        mel_k = prepared.module.get_function("fm_mel")
        frame, norm = config.frame, config.normalize
        energy_mode = 0 if not config.use_energy else (1 if config.raw_energy else 2)
        fixed = norm is not None and norm.mode == "fixed"
        mean, divisor = (norm.mean, norm.divisor) if fixed else (0.0, 1.0)
        pad_norm = (np.float32(config.output.pad_value) - np.float32(mean)) / np.float32(divisor)
        spec = config.compress
        db_offset = 10.0 * np.log10(max(spec.ref, spec.floor))
        i32, i64, f32 = np.int32, np.int64, np.float32
        for g0 in range(0, total, step):
            n = min(step, total - g0)
            energy = energy_all[g0:g0 + n] if energy_all is not None else clip_max
            frames_k((n,), (_THREADS,), (
                samples, geo["source_offsets"], geo["n_source"], geo["limit"], geo["n_signal"],
                geo["frame_offsets"], i32(n_clips), i64(g0), i64(n),
                i32(length), i32(n_fft), i64(frame.hop_length), i64(frame_offset(frame, n_fft=n_fft)),
                i32(FOLD_MODES[edge_mode(frame)]), f32(config.signal.scale),
                noise, i32(frame.dither > 0), i32(frame.remove_dc_offset), f32(frame.preemphasis),
                plan.window, i32(energy_mode), f32(energy_floor(config)),
                frames, energy, non_finite), shared_mem=(length + 33) * 4)
            spectrum = self._rfft(prepared, frames[:n])  # [n, F] complex64
            mel_k((n,), (_THREADS,), (
                spectrum, i64(g0), i64(n), i32(n_bins), f32(config.spectrum.power),
                plan.band_start, plan.band_ptr, plan.band_weights, i32(n_mels),
                i32(K.COMPRESS_CODES[spec.kind]), f32(spec.floor), f32(db_offset),
                geo["frame_offsets"], i32(n_clips), i32(direct), out,
                clip_max, i32(spec.dynamic_range is not None),
                geo["out_offsets"], geo["n_out"], geo["n_computed"], energy,
                i32(config.use_energy), i32(config.energy_position == "first"),
                i32(K.LAYOUT_CODES[config.output.layout]), i32(fixed), f32(mean), f32(divisor),
                f32(pad_norm)), shared_mem=(n_bins + 33) * 4)
        _check_finite(non_finite[0] == 0, samples, list(geometry.n_source), cupy)
        if direct:
            return out, True
        clamp_max = clip_max if spec.dynamic_range is not None else None
        return finish(plan, out, energy_all, geo, geometry, clip_max=clamp_max), False

    def _rfft(self, prepared: CupyPrepared, frames: Any) -> Any:
        """``rfft`` over the last axis with a cuFFT plan cached per shape on ``prepared``."""
        import cupyx.scipy.fft as cufft

        key = frames.shape
        fft_plan = prepared.fft_plans.get(key)
        if fft_plan is None:
            fft_plan = cufft.get_fft_plan(frames, axes=(1,), value_type="R2C")
            prepared.fft_plans[key] = fft_plan
        return cufft.rfft(frames, axis=1, plan=fft_plan)


# --------------------------------------------------------------------------- helpers


def _chunks(clips: Sequence[np.ndarray], chunk_bytes: int) -> list[list[np.ndarray]]:
    chunks: list[list[np.ndarray]] = [[]]
    size = 0
    for clip in clips:
        if chunks[-1] and size + 4 * clip.shape[0] > chunk_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(clip)
        size += 4 * clip.shape[0]
    return chunks


def _caller_stream(where: Placement, cupy: Any) -> Any:
    """torch CUDA input: run on torch's current stream, so ordering needs no sync."""
    if where.framework == "torch" and where.on_device:
        import torch

        return cupy.cuda.ExternalStream(torch.cuda.current_stream(where.device_id).cuda_stream)
    return cupy.cuda.get_current_stream()


def _flat_device_batch(audio: Any, where: Placement, cupy: Any) -> tuple[Any, list[int], str]:
    """Input -> (flat float32 device samples, clip lengths, "single" | "batch" | "ragged").

    A contiguous 2-D device batch is used in place; a list is concatenated once.
    """
    def one(a: Any) -> Any:
        if where.on_device:
            return to_cupy(a, cupy)
        host = a.detach().cpu().numpy() if where.framework == "torch" else np.asarray(a)
        return cupy.asarray(host)

    if isinstance(audio, (list, tuple)):
        clips = [one(a) for a in audio]
        for i, c in enumerate(clips):
            _check_clip_kind(c, f"clip {i}")
        flat = cupy.concatenate([c.astype(cupy.float32, copy=False) for c in clips])
        return flat, [int(c.shape[0]) for c in clips], "ragged"
    array = one(audio)
    _check_clip_kind(array, "audio", ndim=(1, 2))
    if array.ndim == 1:
        return array, [int(array.shape[0])], "single"
    if array.shape[0] == 0:
        raise AudioError(f"audio has shape {array.shape}; expected at least one clip in the batch")
    return array.reshape(-1), [int(array.shape[1])] * int(array.shape[0]), "batch"


def _check_clip_kind(array: Any, what: str, ndim: tuple[int, ...] = (1,)) -> None:
    if array.dtype.kind != "f":
        raise AudioError(f"{what} has dtype {array.dtype}; expected floating-point samples in [-1, 1]")
    if array.ndim not in ndim:
        raise AudioError(f"{what} has shape {tuple(array.shape)}; expected "
                         + ("one 1-D clip" if ndim == (1,) else "[samples] or [batch, samples]"))


def _check_finite(ok: Any, samples: Any, lengths: Sequence[int], cupy: Any) -> None:
    """Raise an AudioError naming the clip when a sample was not finite (one sync)."""
    if bool(ok):
        return
    bad = int(cupy.flatnonzero(~cupy.isfinite(samples))[0])
    offsets = np.cumsum([0, *lengths])
    clip = int(np.searchsorted(offsets[1:], bad, side="right"))
    raise AudioError(f"clip {clip} has non-finite samples (first at sample {bad - offsets[clip]}); "
                     "expected finite samples")


def _split_direct(flat: Any, geometry: BatchGeometry, config: FeatureConfig, *, dtype: str,
                  stack: bool, cupy: Any) -> Any:
    """The direct kernel's flat output (each clip in its final layout) -> arrays."""
    d, layout = config.n_features, config.output.layout

    def shape(t: int) -> tuple[int, ...]:
        return (d, t) if layout == "freq_time" else (1, t, d) if layout == "channel_time_freq" else (t, d)

    if stack:
        t = int(geometry.n_out[0])
        return cast_output(flat.reshape((geometry.n_clips, *shape(t))), dtype, cupy)
    return [cast_output(flat[int(a) * d:int(b) * d].reshape(shape(int(t))), dtype, cupy)
            for a, b, t in zip(geometry.out_offsets[:-1], geometry.out_offsets[1:], geometry.n_out)]
