"""Fused Numba kernels of the numba backend (private).

:func:`clip_features` runs, for every block of ``LANES`` frames of one clip
and in one pass over cache-resident data: framing (with the signal's
padding, scale and the conditioning pad done by index arithmetic, never by
copying the clip), dither, DC removal, Kaldi energy, pre-emphasis, window,
the FFT (:mod:`._numba_fft`), power, the sparse mel product, log
compression, an optional DCT (MFCC) and an optional fixed affine
normalisation, written straight into the clip's output array.
A block whose frames all lie inside the clip (no dither, no energy: every
preset's interior) skips the per-frame rows: :func:`_frames_to_lanes` reads
the clip straight into the FFT's lane-minor layout with DC removal,
pre-emphasis, scale and window folded into one expression per sample.
:func:`finish_clip` then does what needs the whole clip: the dynamic-range
clamp, padding frames, and normalisation when it was not fused.

Framing, Kaldi's per-frame steps, the window and the FFT run in float64:
float32 rounding there adds a noise floor that, on narrow-band signals
(a sine sweep through Kaldi's pre-emphasis), moves weak bands by up to
1e-2 nepers, five times the parity bound (benchmarks/README.md has the
measurement). From the power spectrum on everything is float32: power,
the mel sums (a few dozen non-negative terms: relative error < 1e-6),
the log and the output.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._numba_fft import LANES, _nn, complex_fft, real_power

__all__ = ["clip_features", "finish_clip", "PAD_CONSTANT", "PAD_REFLECT", "PAD_EDGE", "PAD_SYMMETRIC"]

PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_SYMMETRIC = 0, 1, 2, 3

#: Float64 elements added between FFT buffers (1,088 bytes: starts spread over 4 KiB).
_STAGGER = 136

_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)


@njit(cache=True, nogil=True)
def _source_index(i, n, mode):
    """Index into a length-``n`` signal of position ``i`` of its padded
    extension (numpy.pad semantics); -1 for a zero."""
    if 0 <= i < n:
        return i
    if mode == PAD_CONSTANT:
        return -1
    if mode == PAD_EDGE:
        return 0 if i < 0 else n - 1
    if mode == PAD_REFLECT:
        if n == 1:
            return 0
        period = 2 * (n - 1)
        i = abs(i) % period
        return i if i < n else period - i
    period = 2 * n  # symmetric
    i = i % period if i >= 0 else (-i - 1) % period
    return i if i < n else period - 1 - i


@njit(cache=True, nogil=True, boundscheck=False)
def _load_frame(x, n_valid, n_total, start, frame_mode, scale, row, length):
    """``row[:length]`` = samples ``start .. start + length`` of the framed
    signal: the clip ``x[:n_valid]`` (scaled), zero-extended to ``n_total``
    samples, extended at both ends by ``frame_mode``. ``start`` may be negative."""
    if start >= 0 and start + length <= n_valid:
        begin = _nn(start)
        for j in range(length):
            row[j] = x[begin + j] * scale
        return
    for j in range(length):
        c = _source_index(start + j, n_total, frame_mode)
        row[j] = x[c] * scale if 0 <= c < n_valid else 0.0


@njit(cache=True, nogil=True, boundscheck=False)
def _condition_frame(row, out, length, window, dither, noise, noise_at, remove_dc, preemph,
                     energy_mode, energy_floor):
    """Kaldi's per-frame processing, then the window: ``row[:length]`` (modified)
    -> ``out[:length]``. Returns the log energy (raw or windowed per
    ``energy_mode``; 0 when off)."""
    if dither > 0.0:
        at = _nn(noise_at)
        for j in range(length):
            row[j] += dither * noise[at + j]
    if remove_dc:
        total = 0.0
        for j in range(length):
            total += row[j]
        mean = total / length
        for j in range(length):
            row[j] -= mean
    energy = 0.0
    if energy_mode == 1:
        for j in range(length):
            energy += row[j] * row[j]
    if preemph > 0.0:
        c = preemph
        out[0] = (row[0] - c * row[0]) * window[0]
        for j in range(1, length):
            out[j] = (row[j] - c * row[j - 1]) * window[j]
    else:
        for j in range(length):
            out[j] = row[j] * window[j]
    if energy_mode == 2:
        for j in range(length):
            energy += out[j] * out[j]
    return math.log(max(energy, energy_floor)) if energy_mode != 0 else 0.0



@njit(cache=True, nogil=True, boundscheck=False, fastmath={"reassoc"})
def _frame_sum(x, begin, length):
    """``sum(x[begin : begin + length])`` in float64 (reassociated: vectorised)."""
    total = 0.0
    for j in range(length):
        total += np.float64(x[begin + j])
    return total


@njit(cache=True, nogil=True, boundscheck=False)
def _frames_to_lanes(x, start0, hop, n_here, length, size, scale, window, scaled_window, remove_dc,
                     preemph, xr, xi, dcw):
    """Frames ``t < n_here`` starting at ``x[start0 + t * hop]`` (all inside the
    clip; no dither, no energy) through DC removal, pre-emphasis and window,
    written as even / odd samples into lane ``t`` of ``xr`` / ``xi``
    ``[size * LANES]``, zeros past the window. Lanes past ``n_here`` repeat the
    last frame. With ``s = scale``, ``d = mean(s * frame)``, ``c = preemph``:
    ``(s x[j] - d - c (s x[j-1] - d)) w[j] = (x[j] - c x[j-1]) s w[j] - (1 - c) d w[j]``
    (``x[-1] := x[0]``, Kaldi's first-sample rule). ``dcw``: ``[LANES]`` scratch."""
    c = preemph
    for t in range(LANES):
        dcw[t] = 0.0
    if remove_dc:
        for t in range(n_here):
            dcw[t] = (1.0 - c) * _frame_sum(x, _nn(start0 + t * hop), length) * scale / length
    last = _nn(start0 + (n_here - 1) * hop)
    for t in range(n_here, LANES):
        dcw[t] = dcw[n_here - 1]
    w0 = scaled_window[0]
    w1 = scaled_window[1]
    for t in range(LANES):
        b = _nn(start0 + t * hop) if t < n_here else last
        e = np.float64(x[b])
        xr[t] = (e - c * e) * w0 - dcw[t] * window[0]
        xi[t] = (np.float64(x[b + 1]) - c * e) * w1 - dcw[t] * window[1]
    half = length // 2
    for i in range(1, half):
        j = 2 * i
        swe = scaled_window[j]; swo = scaled_window[j + 1]; we = window[j]; wo = window[j + 1]
        at = _nn(i * LANES)
        for t in range(LANES):
            b = _nn((start0 + t * hop if t < n_here else last) + j)
            p = np.float64(x[b - 1]); e = np.float64(x[b]); o = np.float64(x[b + 1])
            xr[at + t] = (e - c * p) * swe - dcw[t] * we
            xi[at + t] = (o - c * e) * swo - dcw[t] * wo
    if length % 2 == 1:
        j = length - 1
        at = _nn(half * LANES)
        for t in range(LANES):
            b = _nn((start0 + t * hop if t < n_here else last) + j)
            xr[at + t] = (np.float64(x[b]) - c * np.float64(x[b - 1])) * scaled_window[j] - dcw[t] * window[j]
            xi[at + t] = 0.0
    for i in range(_nn(((length + 1) // 2) * LANES), size * LANES):
        xr[i] = 0.0
        xi[i] = 0.0


@njit(cache=True, nogil=True, boundscheck=False)
def _log_block(vals, mant, mant_bits, count, cs, cb):
    """``vals[:count] = ln(vals[:count]) * cs + cb`` for normal positive float32,
    branch-free so LLVM vectorises it (Cephes logf polynomial, ~1 ulp).
    ``mant`` / ``mant_bits``: float32 scratch and its int32 view."""
    vbits = vals.view(np.int32)
    for i in range(count):
        b = vbits[i]
        mant_bits[i] = (b & 0x007FFFFF) | 0x3F800000   # mantissa in [1, 2)
        vals[i] = np.float32((b >> 23) & 0xFF) - np.float32(127.0)
    for i in range(count):
        m = mant[i]
        e = vals[i]
        big = m > np.float32(1.41421356)
        m = m * np.float32(0.5) if big else m
        e = e + np.float32(1.0) if big else e
        f = m - np.float32(1.0)
        z = f * f
        y = np.float32(7.0376836292e-2)
        y = y * f + np.float32(-1.1514610310e-1)
        y = y * f + np.float32(1.1676998740e-1)
        y = y * f + np.float32(-1.2420140846e-1)
        y = y * f + np.float32(1.4249322787e-1)
        y = y * f + np.float32(-1.6668057665e-1)
        y = y * f + np.float32(2.0000714765e-1)
        y = y * f + np.float32(-2.4999993993e-1)
        y = y * f + np.float32(3.3333331174e-1)
        y = y * f * z
        y += e * _LN2_LO
        y += np.float32(-0.5) * z
        vals[i] = (f + y + e * _LN2_HI) * cs + cb


@njit(cache=True, nogil=True, boundscheck=False)
def _block(x, n_valid, n_total, first_start, hop, frame_mode, scale, t0, n_here,
           window, length, dither, noise, remove_dc, preemph, energy_mode, energy_floor,
           size, real_split, radices, offsets, twr, twi, dre, dim, doffs, post_cos, post_sin,
           power_exp, mel_start, mel_stop, mel_woff, mel_w, log_mode, floor, c_scale, c_bias,
           dct, a_scale, a_bias, mel_col, energy_col, out, st, sd, scaled_window,
           row, frame, xr, xi, yr, yi, pw, melb, mant, mant_bits, accr, acci, acc32, energies):
    """Features of frames ``t0 .. t0 + n_here`` of one clip into ``out``."""
    last_end = first_start + (t0 + n_here - 1) * hop + length
    if (real_split and dither == 0.0 and energy_mode == 0 and 2 <= length <= 2 * size
            and first_start + t0 * hop >= 0 and last_end <= n_valid):
        # energies (unused without energy) hold each lane's DC term meanwhile
        _frames_to_lanes(x, first_start + t0 * hop, hop, n_here, length, size, scale, window,
                         scaled_window, remove_dc, preemph, xr, xi, energies)
        n_load = 0
    else:
        n_load = LANES
    for t in range(n_load):
        if t < n_here:
            _load_frame(x, n_valid, n_total, first_start + (t0 + t) * hop, frame_mode, scale, row, length)
            energies[t] = _condition_frame(row, frame, length, window, dither, noise, t * length,
                                           remove_dc, preemph, energy_mode, energy_floor)
        else:
            for j in range(length):
                frame[j] = 0.0
        if real_split:
            for i in range(size):
                xr[i * LANES + t] = frame[2 * i]
                xi[i * LANES + t] = frame[2 * i + 1]
        else:
            for i in range(size):
                xr[i * LANES + t] = frame[i]
                xi[i * LANES + t] = 0.0
    in_y = complex_fft(xr, xi, yr, yi, size, radices, offsets, twr, twi, dre, dim, doffs, accr, acci)
    zr = yr if in_y else xr
    zi = yi if in_y else xi
    if real_split:
        real_power(zr, zi, size, post_cos, post_sin, pw)
        n_bins = size + 1
    else:
        n_bins = size // 2 + 1
        for i in range(n_bins * LANES):
            pw[i] = zr[i] * zr[i] + zi[i] * zi[i]
    if power_exp != 2.0:
        half_exp = power_exp / 2.0
        for i in range(n_bins * LANES):
            pw[i] = np.float32(np.float64(pw[i]) ** half_exp)
    # sparse mel product: band m touches bins mel_start[m] .. mel_stop[m];
    # four bins per pass over the band's accumulator (same summation order as
    # one bin at a time), the log floor applied as the band is finished
    n_mels = mel_start.shape[0]
    fl = np.float32(floor)
    for m in range(n_mels):
        base = _nn(m * LANES)
        for t in range(LANES):
            melb[base + t] = 0.0
        w_at = mel_woff[m] - mel_start[m]
        k = mel_start[m]
        stop = mel_stop[m]
        while k + 4 <= stop:
            w0 = mel_w[w_at + k]; w1 = mel_w[w_at + k + 1]
            w2 = mel_w[w_at + k + 2]; w3 = mel_w[w_at + k + 3]
            k0 = _nn(k * LANES); k1 = _nn(k0 + LANES); k2 = _nn(k1 + LANES); k3 = _nn(k2 + LANES)
            for t in range(LANES):
                v = melb[base + t]
                v += w0 * pw[k0 + t]
                v += w1 * pw[k1 + t]
                v += w2 * pw[k2 + t]
                v += w3 * pw[k3 + t]
                melb[base + t] = v
            k += 4
        while k < stop:
            w = mel_w[w_at + k]
            kb = _nn(k * LANES)
            for t in range(LANES):
                melb[base + t] += w * pw[kb + t]
            k += 1
        if log_mode != 0:
            for t in range(LANES):
                melb[base + t] = max(melb[base + t], fl)
    count = n_mels * LANES
    if log_mode != 0:
        cs = np.float32(c_scale)
        cb = np.float32(c_bias)
        if log_mode == 1:
            _log_block(melb, mant, mant_bits, count, cs, cb)
        else:
            for i in range(count):
                melb[i] = np.float32(math.log(melb[i])) * cs + cb
    _store(melb, n_mels, dct, a_scale, a_bias, mel_col, energy_col, energies, t0, n_here, out, st, sd, acc32)


@njit(cache=True, nogil=True, boundscheck=False)
def _store(melb, n_mels, dct, a_scale, a_bias, mel_col, energy_col, energies, t0, n_here, out, st, sd, acc):
    """(DCT,) affine, and store one block ``[features, LANES]`` into ``out``."""
    a = np.float32(a_scale)
    b = np.float32(a_bias)
    if dct.shape[0] > 0:
        for c in range(dct.shape[0]):
            for t in range(LANES):
                acc[t] = 0.0
            for m in range(n_mels):
                w = dct[c, m]
                for t in range(LANES):
                    acc[t] += w * melb[m * LANES + t]
            col = (mel_col + c) * sd
            for t in range(n_here):
                out[(t0 + t) * st + col] = acc[t] * a + b
    else:
        for m in range(n_mels):
            col = (mel_col + m) * sd
            for t in range(n_here):
                out[(t0 + t) * st + col] = melb[m * LANES + t] * a + b
    if energy_col >= 0:
        col = energy_col * sd
        for t in range(n_here):
            out[(t0 + t) * st + col] = np.float32(energies[t]) * a + b


@njit(cache=True, parallel=True, boundscheck=False)
def clip_features(x, n_valid, n_total, first_start, hop, frame_mode, scale, n_frames,
                  window, dither, noise, remove_dc, preemph, energy_mode, energy_floor,
                  size, real_split, radices, offsets, twr, twi, dre, dim, doffs, post_cos, post_sin,
                  power_exp, mel_start, mel_stop, mel_woff, mel_w, log_mode, floor, c_scale, c_bias,
                  dct, a_scale, a_bias, mel_col, energy_col, out, st, sd, n_workers):
    """Features of frames ``0 .. n_frames`` of one clip into the flat ``out``
    (frame ``t``, feature ``d`` at ``t * st + d * sd``), in parallel over
    blocks of ``LANES`` frames. ``noise``: ``[n_frames * len(window)]`` dither
    noise or empty."""
    length = window.shape[0]
    n_blocks = (n_frames + LANES - 1) // LANES
    n_fft_pad = max(2 * size, length)
    n_bins = size + 1 if real_split else size // 2 + 1
    n_mels = mel_start.shape[0]
    for w in prange(n_workers):
        row = np.zeros(n_fft_pad, np.float64)
        frame = np.zeros(n_fft_pad, np.float64)  # zeros past the window stay zero
        # the four FFT buffers [size * LANES] in one allocation, their starts
        # 1,088 bytes apart modulo 4 KiB: page-aligned separate buffers make
        # every butterfly's loads and stores 4K-alias (measured 2x slower FFT)
        stride = (size * LANES + 511) // 512 * 512 + _STAGGER
        fft_buf = np.empty(4 * stride, np.float64)
        xr = fft_buf[0:size * LANES]
        xi = fft_buf[stride:stride + size * LANES]
        yr = fft_buf[2 * stride:2 * stride + size * LANES]
        yi = fft_buf[3 * stride:3 * stride + size * LANES]
        pw = np.empty(n_bins * LANES, np.float32)
        melb = np.empty(n_mels * LANES, np.float32)
        mant = np.empty(n_mels * LANES, np.float32)
        mant_bits = mant.view(np.int32)
        accr = np.empty(LANES, np.float64)
        acci = np.empty(LANES, np.float64)
        acc32 = np.empty(LANES, np.float32)
        energies = np.zeros(LANES, np.float64)
        scaled_window = window * scale
        for blk in range(w, n_blocks, n_workers):
            t0 = blk * LANES
            n_here = min(LANES, n_frames - t0)
            noise_block = noise[t0 * length:] if noise.shape[0] > 0 else noise
            _block(x, n_valid, n_total, first_start, hop, frame_mode, scale, t0, n_here,
                   window, length, dither, noise_block, remove_dc, preemph, energy_mode, energy_floor,
                   size, real_split, radices, offsets, twr, twi, dre, dim, doffs, post_cos, post_sin,
                   power_exp, mel_start, mel_stop, mel_woff, mel_w, log_mode, floor, c_scale, c_bias,
                   dct, a_scale, a_bias, mel_col, energy_col, out, st, sd, scaled_window,
                   row, frame, xr, xi, yr, yi, pw, melb, mant, mant_bits, accr, acci, acc32, energies)


@njit(cache=True, nogil=True, boundscheck=False)
def finish_clip(out, st, sd, n_valid_frames, n_out_frames, n_features, mel_col, n_mel_cols,
                clamp, dynamic_range, pad_value, affine, a_scale, a_bias, per_clip, eps):
    """Whole-clip steps on the flat ``out`` in place, in the reference's order:
    clamp the mel columns of the valid frames to ``max - dynamic_range``, fill
    padding frames with ``pad_value``, then the affine normalisation (when not
    fused upstream) or per-clip standardisation of every column."""
    if clamp and n_valid_frames > 0:
        top = -np.inf
        for t in range(n_valid_frames):
            for d in range(mel_col, mel_col + n_mel_cols):
                v = out[t * st + d * sd]
                if v > top:
                    top = v
        low = np.float32(top - dynamic_range)
        for t in range(n_valid_frames):
            for d in range(mel_col, mel_col + n_mel_cols):
                i = t * st + d * sd
                if out[i] < low:
                    out[i] = low
    for t in range(n_valid_frames, n_out_frames):
        for d in range(n_features):
            out[t * st + d * sd] = pad_value
    if affine:
        a = np.float32(a_scale)
        b = np.float32(a_bias)
        for t in range(n_out_frames):
            for d in range(n_features):
                i = t * st + d * sd
                out[i] = out[i] * a + b
    if per_clip and n_out_frames > 0:
        for d in range(n_features):
            total = 0.0
            for t in range(n_out_frames):
                total += out[t * st + d * sd]
            mean = total / n_out_frames
            var = 0.0
            for t in range(n_out_frames):
                diff = out[t * st + d * sd] - mean
                var += diff * diff
            std = max(math.sqrt(var / n_out_frames), eps)
            for t in range(n_out_frames):
                i = t * st + d * sd
                out[i] = np.float32((out[i] - mean) / std)
