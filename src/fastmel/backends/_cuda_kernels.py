"""CUDA C sources of the fused kernels, and lazy builders for them.

Private. Each kernel computes exactly what a stage of ``xp_pipeline`` computes
(its executable specification, tested with NumPy on every machine):

``fm_frames``   = ``xp_pipeline.frame_block``: one thread block per frame; the
                  frame is gathered into shared memory through ``_batch``'s
                  index arithmetic (ragged offsets, padding, snip edges,
                  conditioning), then dither, DC removal, raw energy,
                  pre-emphasis and the window, written zero-padded to
                  ``n_fft`` for cuFFT. Each input sample is read from DRAM
                  about once (frames overlap in L1/L2).
``fm_mel``      = ``xp_pipeline.mel_block`` (+ the fixed part of ``finish``):
                  one block per frame; the ``F`` bins' power goes to shared
                  memory, each thread sums its bands over their bins only
                  (CSR form of the filterbank), compresses, and either writes
                  the final, normalised, laid-out output (``direct=1``) or the
                  compressed bands plus a per-clip atomic maximum for the
                  dynamic-range clamp (``direct=0``).

Kernels are compiled on first use (``cupy.RawModule``); nothing here imports
CuPy at module level.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KERNEL_SOURCE", "COMPRESS_CODES", "LAYOUT_CODES", "ENERGY_CODES", "build_module"]

COMPRESS_CODES = {"none": 0, "log": 1, "log10": 2, "db": 3}
LAYOUT_CODES = {"time_freq": 0, "channel_time_freq": 0, "freq_time": 1}  # memory order
ENERGY_CODES = {"none": 0, "raw": 1, "windowed": 2}

KERNEL_SOURCE = r"""
// ------------------------------------------------------------------ helpers

#define FM_NEG_INF __int_as_float(0xff800000)

// numpy.pad folding of position p into [0, n): mode 0 constant (-1 = zero),
// 1 reflect, 2 edge, 3 symmetric. Same arithmetic as reference.framing.fold_index.
__device__ __forceinline__ long long fm_fold(long long p, long long n, int mode) {
    if (mode == 0) return (p >= 0 && p < n) ? p : -1;
    if (mode == 2) return p < 0 ? 0 : (p >= n ? n - 1 : p);
    long long period = (mode == 1) ? 2 * (n - 1) : 2 * n;
    if (period < 1) period = 1;
    long long m = ((p % period) + period) % period;   // floor modulo, as numpy.mod
    if (m >= n) m = (mode == 1) ? period - m : period - 1 - m;
    return m;
}

// The clip of global frame g: the largest b with offsets[b] <= g (searchsorted).
__device__ __forceinline__ int fm_clip_of(const long long* offsets, int n_clips, long long g) {
    int lo = 0, hi = n_clips - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (offsets[mid] <= g) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// Block-wide sum or max; blockDim.x a multiple of 32; scratch holds 33 floats.
__device__ float fm_block_reduce(float v, float* scratch, bool is_max) {
    for (int o = 16; o > 0; o >>= 1) {
        float other = __shfl_down_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, other) : v + other;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < n_warps ? scratch[lane] : (is_max ? FM_NEG_INF : 0.0f);
        for (int o = 16; o > 0; o >>= 1) {
            float other = __shfl_down_sync(0xffffffffu, v, o);
            v = is_max ? fmaxf(v, other) : v + other;
        }
        if (lane == 0) scratch[32] = v;
    }
    __syncthreads();
    return scratch[32];
}

// Float atomic max through integer ordering (initialise to -inf).
__device__ __forceinline__ void fm_atomic_max(float* address, float v) {
    if (v >= 0.0f) atomicMax((int*)address, __float_as_int(v));
    else atomicMin((unsigned int*)address, __float_as_uint(v));
}

extern "C" {

// ------------------------------------------------------------------ kernel 1
// grid: one block per frame of the block [g0, g0 + n_rows); shared: (L + 33) floats.
// frames: [n_rows, n_fft] float32; energy: [n_rows] (energy_mode != 0).
__global__ void fm_frames(
    const float* __restrict__ samples,          // [N] flat batch
    const long long* __restrict__ source_offsets, const long long* __restrict__ n_source,
    const long long* __restrict__ limit, const long long* __restrict__ n_signal,
    const long long* __restrict__ frame_offsets, int n_clips,
    long long g0, long long n_rows,
    int L, int n_fft, long long hop, long long shift, int fold_mode, float scale,
    const float* __restrict__ noise, int has_noise,   // [T_max, L], dither already applied
    int remove_dc, float preemphasis,
    const float* __restrict__ window,           // [L]
    int energy_mode, float energy_floor,
    float* __restrict__ frames, float* __restrict__ energy,
    int* __restrict__ non_finite)               // set to 1 when a read sample is not finite
{
    extern __shared__ float shared[];
    float* x = shared;              // [L]
    float* scratch = shared + L;    // [33]
    long long row = blockIdx.x;
    if (row >= n_rows) return;
    long long g = g0 + row;
    int b = fm_clip_of(frame_offsets, n_clips, g);
    long long t = g - frame_offsets[b];
    long long base = t * hop + shift;
    long long n_sig = n_signal[b], lim = limit[b], n_src = n_source[b], off = source_offsets[b];

    for (int k = threadIdx.x; k < L; k += blockDim.x) {
        long long q = fm_fold(base + k, n_sig, fold_mode);
        float v = 0.0f;
        if (q >= 0 && q < lim) {
            v = samples[off + q % n_src];
            if (!isfinite(v)) *non_finite = 1;
            v *= scale;
        }
        if (has_noise) v += noise[t * L + k];
        x[k] = v;
    }
    __syncthreads();

    if (remove_dc) {
        float s = 0.0f;
        for (int k = threadIdx.x; k < L; k += blockDim.x) s += x[k];
        float mean = fm_block_reduce(s, scratch, false) / (float)L;
        for (int k = threadIdx.x; k < L; k += blockDim.x) x[k] -= mean;
        __syncthreads();
    }
    if (energy_mode == 1) {
        float s = 0.0f;
        for (int k = threadIdx.x; k < L; k += blockDim.x) s += x[k] * x[k];
        s = fm_block_reduce(s, scratch, false);
        if (threadIdx.x == 0) energy[row] = logf(fmaxf(s, energy_floor));
    }
    float e2 = 0.0f;
    float* out = frames + row * (long long)n_fft;
    for (int k = threadIdx.x; k < L; k += blockDim.x) {
        float v = x[k];
        if (preemphasis != 0.0f) v -= preemphasis * (k > 0 ? x[k - 1] : x[0]);
        v *= window[k];
        e2 += v * v;
        out[k] = v;
    }
    for (int k = L + threadIdx.x; k < n_fft; k += blockDim.x) out[k] = 0.0f;
    if (energy_mode == 2) {
        float s = fm_block_reduce(e2, scratch, false);
        if (threadIdx.x == 0) energy[row] = logf(fmaxf(s, energy_floor));
    }
}

// ------------------------------------------------------------------ kernel 2
// grid: one block per frame; shared: (F + 33) floats.
// direct = 1: write the final output (fixed normalisation, energy column,
//   layout, pad rows) into out (float32, the whole batch's output).
// direct = 0: write compressed bands to out[g * M + m] and the clip maxima.
__global__ void fm_mel(
    const float2* __restrict__ spectrum,        // [n_rows, F] complex64
    long long g0, long long n_rows, int F, float power_exp,
    const int* __restrict__ band_start, const int* __restrict__ band_ptr,
    const float* __restrict__ band_weights, int M,
    int compress_kind, float floor_value, float db_offset,
    const long long* __restrict__ frame_offsets, int n_clips,
    int direct, float* __restrict__ out,
    float* __restrict__ clip_max, int want_max,
    // direct mode only:
    const long long* __restrict__ out_offsets, const long long* __restrict__ n_out,
    const long long* __restrict__ n_computed,
    const float* __restrict__ energy,           // [n_rows] or dummy
    int use_energy, int energy_first, int layout,
    int normalize, float norm_mean, float norm_divisor, float pad_norm)
{
    extern __shared__ float shared[];
    float* power = shared;          // [F]
    float* scratch = shared + F;    // [33]
    long long row = blockIdx.x;
    if (row >= n_rows) return;
    long long g = g0 + row;
    const float2* z = spectrum + row * (long long)F;
    for (int f = threadIdx.x; f < F; f += blockDim.x) {
        float2 c = z[f];
        float p = c.x * c.x + c.y * c.y;
        if (power_exp != 2.0f) p = powf(sqrtf(p), power_exp);
        power[f] = p;
    }
    __syncthreads();

    int b = fm_clip_of(frame_offsets, n_clips, g);
    long long t = g - frame_offsets[b];
    int D = M + use_energy;
    long long T = direct ? n_out[b] : 0;
    long long r = direct ? out_offsets[b] + t : g;
    float local_max = FM_NEG_INF;
    for (int m = threadIdx.x; m < M; m += blockDim.x) {
        float acc = 0.0f;
        int start = band_start[m], j0 = band_ptr[m], j1 = band_ptr[m + 1];
        for (int j = j0; j < j1; ++j) acc += band_weights[j] * power[start + (j - j0)];
        float v = acc;
        if (compress_kind == 1) v = logf(fmaxf(acc, floor_value));
        else if (compress_kind == 2) v = log10f(fmaxf(acc, floor_value));
        else if (compress_kind == 3) v = 10.0f * log10f(fmaxf(acc, floor_value)) - db_offset;
        if (!direct) {
            out[g * M + m] = v;
            local_max = fmaxf(local_max, v);
            continue;
        }
        if (normalize) v = (v - norm_mean) / norm_divisor;
        int col = m + (use_energy && energy_first ? 1 : 0);
        long long index = layout == 0 ? r * D + col : out_offsets[b] * D + col * T + t;
        out[index] = v;
    }
    if (!direct) {
        if (want_max) {
            float v = fm_block_reduce(local_max, scratch, true);
            if (threadIdx.x == 0) fm_atomic_max(clip_max + b, v);
        }
        return;
    }
    if (use_energy && threadIdx.x == 0) {
        float v = energy[row];
        if (normalize) v = (v - norm_mean) / norm_divisor;
        int col = energy_first ? 0 : M;
        out[layout == 0 ? r * D + col : out_offsets[b] * D + col * T + t] = v;
    }
    // The clip's last computed frame also writes the clip's pad rows.
    if (t == n_computed[b] - 1) {
        long long n_pad = (T - 1 - t) * D;
        for (long long i = threadIdx.x; i < n_pad; i += blockDim.x) {
            long long tt = t + 1 + i / D;
            int col = (int)(i % D);
            out[layout == 0 ? (out_offsets[b] + tt) * D + col : out_offsets[b] * D + col * T + tt] = pad_norm;
        }
    }
}

}  // extern "C"
"""


def build_module(cupy: Any) -> Any:
    """Compile :data:`KERNEL_SOURCE` (once per process, cached by CuPy on disk)."""
    return cupy.RawModule(code=KERNEL_SOURCE, options=("-std=c++14",))
