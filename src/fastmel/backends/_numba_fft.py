"""A batched mixed-radix FFT for Numba, vectorised across frames.

Private to :mod:`fastmel.backends.numba_`. The transform works on
``LANES`` frames at once in a split-complex, lane-minor layout: element
``k`` of frame ``t`` lives at ``re[k * LANES + t]`` / ``im[k * LANES + t]``,
so every butterfly is a contiguous loop of ``LANES`` values that LLVM turns
into AVX2 code. The functions are dtype-generic; the backend runs them in
float64 (float32 rounding in the FFT alone breaks the parity bounds on
narrow-band signals: see benchmarks/README.md). ``LANES`` is a module constant so that Numba
compiles it as a literal (known trip count, no runtime alias checks) and
the on-disk cache stays valid.

A real ``n_fft``-point frame (``n_fft`` even) is transformed as an
``n_fft / 2``-point complex sequence ``z[n] = x[2n] + i x[2n + 1]``
(Stockham autosort, radix 4, 2, then 3 and 5 with their own butterflies
and any other odd radix by its DFT matrix), and the power
spectrum of the real frame is recovered from ``Z`` in :func:`real_power`.
Odd ``n_fft`` uses a full ``n_fft``-point complex transform.

Measured against scipy.fft.rfft (pocketfft) in benchmarks/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["LANES", "FftPlan", "make_fft_plan", "complex_fft", "real_power"]

#: Frames transformed together; 32 float32 lanes = four AVX2 registers.
LANES = 32


@dataclass(frozen=True)
class FftPlan:
    """Tables of one transform size (float64).

    Attributes
    ----------
    n_fft : int
    size : int
        Length of the complex transform: ``n_fft // 2`` (even) or ``n_fft`` (odd).
    real_split : bool
        Whether the real-input split trick is used (``n_fft`` even).
    radices : int64 ``[S]``; offsets : int64 ``[S]``
        Stage radices and each stage's offset into ``tw_re`` / ``tw_im``.
    tw_re, tw_im : float64 ``[sum(size_s)]``
        Stage twiddles ``exp(-2 pi i j k / n_s)``, ``[j * p + k]`` per stage.
    dft_re, dft_im : float64; dft_offsets : int64 ``[S]``
        ``p x p`` DFT matrices of the odd-radix stages.
    post_cos, post_sin : float64 ``[size + 1]``
        ``exp(-2 pi i k / n_fft)`` for the real split.
    """

    n_fft: int
    size: int
    real_split: bool
    radices: np.ndarray
    offsets: np.ndarray
    tw_re: np.ndarray
    tw_im: np.ndarray
    dft_re: np.ndarray
    dft_im: np.ndarray
    dft_offsets: np.ndarray
    post_cos: np.ndarray
    post_sin: np.ndarray


def _radices(n: int) -> list[int]:
    out = []
    for p in (4, 2):
        while n % p == 0:
            out.append(p)
            n //= p
    p = 3
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 2
    return out or [1]


def make_fft_plan(n_fft: int) -> FftPlan:
    """Twiddle tables for an ``n_fft``-point real FFT (any ``n_fft >= 2``)."""
    real_split = n_fft % 2 == 0
    size = n_fft // 2 if real_split else n_fft
    radices = _radices(size)
    tw_re, tw_im, offsets, dft_re, dft_im, dft_offsets = [], [], [], [], [], []
    n = size
    for p in radices:
        m = n // p
        offsets.append(len(tw_re))
        j, k = np.meshgrid(np.arange(m), np.arange(p), indexing="ij")  # [m, p]
        angle = -2.0 * np.pi * (j * k).ravel() / n
        tw_re.extend(np.cos(angle))
        tw_im.extend(np.sin(angle))
        dft_offsets.append(len(dft_re))
        if p not in (1, 2, 3, 4, 5):
            r, q = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
            angle = -2.0 * np.pi * ((r * q) % p).ravel() / p
            dft_re.extend(np.cos(angle))
            dft_im.extend(np.sin(angle))
        n = m
    k = np.arange(size + 1)
    angle = -2.0 * np.pi * k / n_fft
    f64 = np.float64
    return FftPlan(
        n_fft=n_fft, size=size, real_split=real_split,
        radices=np.array(radices, np.int64), offsets=np.array(offsets, np.int64),
        tw_re=np.array(tw_re, f64), tw_im=np.array(tw_im, f64),
        dft_re=np.array(dft_re + [0.0], f64), dft_im=np.array(dft_im + [0.0], f64),
        dft_offsets=np.array(dft_offsets, np.int64),
        post_cos=np.cos(angle), post_sin=np.sin(angle),
    )


@njit(cache=True, inline="always")
def _nn(index):
    """``index`` (>= 0) masked so LLVM can prove it non-negative: Numba's
    negative-index wraparound then folds away and the lane loops vectorise."""
    return index & 0x7FFFFFFFFFFFFFFF


# ----------------------------------------------------------------------------- stages
# Each stage reads (xr, xi) and writes (yr, yi); n: current length; s: stride.
# Stockham DIF: y[q + s (p j + k)] = W_n^(j k) * sum_r x[q + s (j + r m)] W_p^(r k).


@njit(cache=True, boundscheck=False, nogil=True)
def _stage4(xr, xi, yr, yi, n, s, twr, twi, off):  # [size * LANES] x4, in and out
    m = n // 4
    for j in range(m):
        o = off + 4 * j
        w1r = twr[o + 1]; w1i = twi[o + 1]; w2r = twr[o + 2]; w2i = twi[o + 2]
        w3r = twr[o + 3]; w3i = twi[o + 3]
        for q in range(s):
            ia = _nn((q + s * j) * LANES); ib = _nn(ia + s * m * LANES)
            ic = _nn(ib + s * m * LANES); id_ = _nn(ic + s * m * LANES)
            o0 = _nn((q + s * 4 * j) * LANES); o1 = _nn(o0 + s * LANES)
            o2 = _nn(o1 + s * LANES); o3 = _nn(o2 + s * LANES)
            for t in range(LANES):
                ar = xr[ia + t]; ai = xi[ia + t]; br = xr[ib + t]; bi = xi[ib + t]
                cr = xr[ic + t]; ci = xi[ic + t]; dr = xr[id_ + t]; di = xi[id_ + t]
                apcr = ar + cr; apci = ai + ci; amcr = ar - cr; amci = ai - ci
                bpdr = br + dr; bpdi = bi + di; bmdr = br - dr; bmdi = bi - di
                yr[o0 + t] = apcr + bpdr; yi[o0 + t] = apci + bpdi
                ur = amcr + bmdi; ui = amci - bmdr  # (a - c) - i (b - d)
                yr[o1 + t] = ur * w1r - ui * w1i; yi[o1 + t] = ur * w1i + ui * w1r
                ur = apcr - bpdr; ui = apci - bpdi
                yr[o2 + t] = ur * w2r - ui * w2i; yi[o2 + t] = ur * w2i + ui * w2r
                ur = amcr - bmdi; ui = amci + bmdr  # (a - c) + i (b - d)
                yr[o3 + t] = ur * w3r - ui * w3i; yi[o3 + t] = ur * w3i + ui * w3r


@njit(cache=True, boundscheck=False, nogil=True)
def _stage2(xr, xi, yr, yi, n, s, twr, twi, off):
    m = n // 2
    for j in range(m):
        wr = twr[off + 2 * j + 1]; wi = twi[off + 2 * j + 1]
        for q in range(s):
            ia = _nn((q + s * j) * LANES); ib = _nn(ia + s * m * LANES)
            o0 = _nn((q + s * 2 * j) * LANES); o1 = _nn(o0 + s * LANES)
            for t in range(LANES):
                ar = xr[ia + t]; ai = xi[ia + t]; br = xr[ib + t]; bi = xi[ib + t]
                yr[o0 + t] = ar + br; yi[o0 + t] = ai + bi
                ur = ar - br; ui = ai - bi
                yr[o1 + t] = ur * wr - ui * wi; yi[o1 + t] = ur * wi + ui * wr


_C5_1 = float(np.cos(2 * np.pi / 5)); _C5_2 = float(np.cos(4 * np.pi / 5))
_S5_1 = float(np.sin(2 * np.pi / 5)); _S5_2 = float(np.sin(4 * np.pi / 5))
_S3 = float(np.sin(2 * np.pi / 3))


@njit(cache=True, boundscheck=False, nogil=True)
def _stage5(xr, xi, yr, yi, n, s, twr, twi, off):
    """Radix 5 with the symmetric butterfly: ``b = a1 + a4, a2 + a3``,
    ``d = a1 - a4, a2 - a3``; ``y1, y4 = a0 + c1 b1 + c2 b2 -/+ i (s1 d1 + s2 d2)``,
    ``y2, y3 = a0 + c2 b1 + c1 b2 -/+ i (s2 d1 - s1 d2)``."""
    m = n // 5
    c1 = _C5_1; c2 = _C5_2; s1 = _S5_1; s2 = _S5_2
    for j in range(m):
        o = off + 5 * j
        w1r = twr[o + 1]; w1i = twi[o + 1]; w2r = twr[o + 2]; w2i = twi[o + 2]
        w3r = twr[o + 3]; w3i = twi[o + 3]; w4r = twr[o + 4]; w4i = twi[o + 4]
        for q in range(s):
            i0 = _nn((q + s * j) * LANES); i1 = _nn(i0 + s * m * LANES); i2 = _nn(i1 + s * m * LANES)
            i3 = _nn(i2 + s * m * LANES); i4 = _nn(i3 + s * m * LANES)
            o0 = _nn((q + s * 5 * j) * LANES); o1 = _nn(o0 + s * LANES); o2 = _nn(o1 + s * LANES)
            o3 = _nn(o2 + s * LANES); o4 = _nn(o3 + s * LANES)
            for t in range(LANES):
                a0r = xr[i0 + t]; a0i = xi[i0 + t]
                b1r = xr[i1 + t] + xr[i4 + t]; b1i = xi[i1 + t] + xi[i4 + t]
                d1r = xr[i1 + t] - xr[i4 + t]; d1i = xi[i1 + t] - xi[i4 + t]
                b2r = xr[i2 + t] + xr[i3 + t]; b2i = xi[i2 + t] + xi[i3 + t]
                d2r = xr[i2 + t] - xr[i3 + t]; d2i = xi[i2 + t] - xi[i3 + t]
                yr[o0 + t] = a0r + b1r + b2r; yi[o0 + t] = a0i + b1i + b2i
                t1r = a0r + c1 * b1r + c2 * b2r; t1i = a0i + c1 * b1i + c2 * b2i
                t2r = a0r + c2 * b1r + c1 * b2r; t2i = a0i + c2 * b1i + c1 * b2i
                u1r = s1 * d1r + s2 * d2r; u1i = s1 * d1i + s2 * d2i
                u2r = s2 * d1r - s1 * d2r; u2i = s2 * d1i - s1 * d2i
                vr = t1r + u1i; vi = t1i - u1r  # y1 = t1 - i u1
                yr[o1 + t] = vr * w1r - vi * w1i; yi[o1 + t] = vr * w1i + vi * w1r
                vr = t2r + u2i; vi = t2i - u2r  # y2 = t2 - i u2
                yr[o2 + t] = vr * w2r - vi * w2i; yi[o2 + t] = vr * w2i + vi * w2r
                vr = t2r - u2i; vi = t2i + u2r  # y3 = t2 + i u2
                yr[o3 + t] = vr * w3r - vi * w3i; yi[o3 + t] = vr * w3i + vi * w3r
                vr = t1r - u1i; vi = t1i + u1r  # y4 = t1 + i u1
                yr[o4 + t] = vr * w4r - vi * w4i; yi[o4 + t] = vr * w4i + vi * w4r


@njit(cache=True, boundscheck=False, nogil=True)
def _stage3(xr, xi, yr, yi, n, s, twr, twi, off):
    """Radix 3: ``y1, y2 = a0 - (a1 + a2) / 2 -/+ i sin(2 pi / 3) (a1 - a2)``."""
    m = n // 3
    s3 = _S3
    for j in range(m):
        o = off + 3 * j
        w1r = twr[o + 1]; w1i = twi[o + 1]; w2r = twr[o + 2]; w2i = twi[o + 2]
        for q in range(s):
            i0 = _nn((q + s * j) * LANES); i1 = _nn(i0 + s * m * LANES); i2 = _nn(i1 + s * m * LANES)
            o0 = _nn((q + s * 3 * j) * LANES); o1 = _nn(o0 + s * LANES); o2 = _nn(o1 + s * LANES)
            for t in range(LANES):
                a0r = xr[i0 + t]; a0i = xi[i0 + t]
                br = xr[i1 + t] + xr[i2 + t]; bi = xi[i1 + t] + xi[i2 + t]
                dr = (xr[i1 + t] - xr[i2 + t]) * s3; di = (xi[i1 + t] - xi[i2 + t]) * s3
                yr[o0 + t] = a0r + br; yi[o0 + t] = a0i + bi
                tr = a0r - 0.5 * br; ti = a0i - 0.5 * bi
                vr = tr + di; vi = ti - dr  # y1 = t - i d
                yr[o1 + t] = vr * w1r - vi * w1i; yi[o1 + t] = vr * w1i + vi * w1r
                vr = tr - di; vi = ti + dr  # y2 = t + i d
                yr[o2 + t] = vr * w2r - vi * w2i; yi[o2 + t] = vr * w2i + vi * w2r


@njit(cache=True, boundscheck=False, nogil=True)
def _stage_odd(xr, xi, yr, yi, n, s, p, twr, twi, off, dr_, di_, doff, accr, acci):
    m = n // p
    for j in range(m):
        for q in range(s):
            for k in range(p):
                for t in range(LANES):
                    accr[t] = 0.0
                    acci[t] = 0.0
                for r in range(p):
                    cr = dr_[doff + r * p + k]; ci = di_[doff + r * p + k]
                    ii = _nn((q + s * (j + r * m)) * LANES)
                    for t in range(LANES):
                        vr = xr[ii + t]; vi = xi[ii + t]
                        accr[t] += vr * cr - vi * ci
                        acci[t] += vr * ci + vi * cr
                wr = twr[off + p * j + k]; wi = twi[off + p * j + k]
                oo = _nn((q + s * (p * j + k)) * LANES)
                for t in range(LANES):
                    yr[oo + t] = accr[t] * wr - acci[t] * wi
                    yi[oo + t] = accr[t] * wi + acci[t] * wr


@njit(cache=True, boundscheck=False, nogil=True)
def complex_fft(xr, xi, yr, yi, size, radices, offsets, twr, twi, dr_, di_, doffs, accr, acci):
    """Forward DFT of ``LANES`` sequences of ``size`` points; ping-pongs between
    the x and y buffers. Returns True when the result is in (yr, yi)."""
    n = size
    s = 1
    in_y = False
    for i in range(radices.shape[0]):
        p = radices[i]
        if p == 1:
            break
        if in_y:
            ar, ai, br, bi = yr, yi, xr, xi
        else:
            ar, ai, br, bi = xr, xi, yr, yi
        if p == 4:
            _stage4(ar, ai, br, bi, n, s, twr, twi, offsets[i])
        elif p == 2:
            _stage2(ar, ai, br, bi, n, s, twr, twi, offsets[i])
        elif p == 5:
            _stage5(ar, ai, br, bi, n, s, twr, twi, offsets[i])
        elif p == 3:
            _stage3(ar, ai, br, bi, n, s, twr, twi, offsets[i])
        else:
            _stage_odd(ar, ai, br, bi, n, s, p, twr, twi, offsets[i], dr_, di_, doffs[i], accr, acci)
        n //= p
        s *= p
        in_y = not in_y
    return in_y


@njit(cache=True, boundscheck=False, nogil=True)
def real_power(zr, zi, size, post_cos, post_sin, power_out):
    """``|X[k]|^2`` for ``k = 0 .. size`` of the real frames whose even/odd
    samples were transformed as ``Z`` (``[size * LANES]`` each) ->
    ``power_out`` ``[(size + 1) * LANES]`` (float32 or float64)."""
    half = 0.5
    for t in range(LANES):
        a = zr[t] + zi[t]
        b = zr[t] - zi[t]
        power_out[t] = a * a
        power_out[size * LANES + t] = b * b
    for k in range(1, size // 2 + 1):
        kk = size - k
        wr = post_cos[k]; wi = post_sin[k]; vr = post_cos[kk]; vi = post_sin[kk]
        ik = _nn(k * LANES); ikk = _nn(kk * LANES)
        for t in range(LANES):
            ar = zr[ik + t]; ai = zi[ik + t]; br = zr[ikk + t]; bi = -zi[ikk + t]
            fer = half * (ar + br); fei = half * (ai + bi)      # even part
            for_ = half * (ai - bi); foi = half * (br - ar)     # odd part: (a - b) / 2i
            xr_ = fer + wr * for_ - wi * foi
            xi_ = fei + wr * foi + wi * for_
            power_out[ik + t] = xr_ * xr_ + xi_ * xi_
            xr2 = fer + vr * for_ + vi * foi                    # X[size - k] from conj parts
            xi2 = -fei + vi * for_ - vr * foi
            power_out[ikk + t] = xr2 * xr2 + xi2 * xi2
