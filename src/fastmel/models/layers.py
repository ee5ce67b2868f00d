"""Transformer building blocks as pure array functions (NumPy or CuPy).

Written in the style of picoGPT and whisper's ``model.py``: parameters are
plain arrays, shapes are in the comments, and every function works on the
array namespace of its input (``get_xp``). Weights follow torch's ``nn.Linear``
layout, ``[d_out, d_in]``, so checkpoint arrays are used as they are stored.

Precision: activations and weights share one dtype (float32 on the CPU;
float32, float16 or bfloat16 on the GPU); layer norm statistics, GELU and the
softmax are always computed in float32, then cast back.
"""

from __future__ import annotations

import math
from typing import Any

from fastmel.models._array import erf, get_xp

__all__ = ["linear", "layer_norm", "gelu", "softmax", "attention", "mlp"]

SQRT_HALF = 1.0 / math.sqrt(2.0)  # GELU(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt 2))
MLP_ROWS = 256  # rows per MLP block: a [256, 3072] float32 block (3 MiB) stays in cache


def linear(x: Any, *, weight: Any, bias: Any | None, out: Any = None) -> Any:
    """Affine map ``x @ weight.T + bias``.

    Parameters
    ----------
    x : array, shape [m, d_in]
    weight : array, shape [d_out, d_in], dtype of ``x``
    bias : array, shape [d_out], or None
    out : array, shape [m, d_out], optional
        Where to write the result.

    Returns
    -------
    array, shape [m, d_out], dtype of ``x``
    """
    xp = get_xp(x)
    y = xp.matmul(x, weight.T, out=out)  # [m, d_in] @ [d_in, d_out] -> [m, d_out]
    if bias is not None:
        y += bias
    return y


def layer_norm(x: Any, *, weight: Any, bias: Any, eps: float) -> Any:
    """Layer normalisation over the last axis, statistics in float32.

    Parameters
    ----------
    x : array, shape [..., d]
    weight, bias : array, shape [d], float32
    eps : float
        Added to the variance, as in ``torch.nn.LayerNorm``.

    Returns
    -------
    array, shape [..., d], dtype of ``x``
    """
    xp = get_xp(x)
    y = x.astype(xp.float32, copy=True)  # [..., d] float32 working copy
    y -= y.mean(axis=-1, keepdims=True)  # [..., d] - [..., 1]
    var = xp.mean(xp.square(y), axis=-1, keepdims=True)  # [..., 1]
    var += eps
    y *= 1.0 / xp.sqrt(var)  # [..., d] * [..., 1]
    y *= weight
    y += bias
    return y.astype(x.dtype, copy=False)


def gelu(x: Any) -> Any:
    """Exact GELU, ``x/2 * (1 + erf(x / sqrt 2))``, computed in float32.

    Parameters
    ----------
    x : array, any shape, float32 / float16 / bfloat16

    Returns
    -------
    array, shape and dtype of ``x``
    """
    xp = get_xp(x)
    y = x.astype(xp.float32, copy=True)
    _gelu_(y, scratch=xp.empty_like(y))
    return y.astype(x.dtype, copy=False)


def _gelu_(x: Any, *, scratch: Any) -> None:
    """GELU in place on a float32 array; ``scratch`` has its shape and dtype."""
    xp = get_xp(x)
    xp.multiply(x, SQRT_HALF, out=scratch)  # x / sqrt 2
    erf(scratch, out=scratch)
    scratch *= 0.5
    scratch += 0.5  # Phi(x) = (1 + erf(x / sqrt 2)) / 2
    x *= scratch


def softmax(x: Any, *, axis: int = -1) -> Any:
    """Softmax along ``axis``, computed in float32.

    Parameters
    ----------
    x : array, any shape

    Returns
    -------
    array, shape of ``x``, float32
    """
    xp = get_xp(x)
    y = x.astype(xp.float32, copy=True)
    y /= _exp_shifted_(y, axis=axis)
    return y


def _exp_shifted_(x: Any, *, axis: int = -1) -> Any:
    """In place ``x <- exp(x - max x)`` on float32; returns the sums (keepdims) along ``axis``."""
    xp = get_xp(x)
    x -= x.max(axis=axis, keepdims=True)
    xp.exp(x, out=x)
    return x.sum(axis=axis, keepdims=True)


def attention(
    x: Any,
    *,
    qkv_weight: Any,
    qkv_bias: Any | None,
    out_weight: Any,
    out_bias: Any,
    n_heads: int,
    n_queries: int | None = None,
    heads_per_step: int | None = None,
) -> Any:
    """Multi-head self-attention, softmax in float32.

    The query rows of ``qkv_weight`` (and ``qkv_bias``) must already be scaled
    by ``head_dim ** -0.5`` (``AST`` does this once when it loads weights).

    Parameters
    ----------
    x : array, shape [batch, n, d]
    qkv_weight : array, shape [3 * d, d]
        Query, key and value projections stacked in that order.
    qkv_bias : array, shape [3 * d], or None
    out_weight : array, shape [d, d]
    out_bias : array, shape [d]
    n_heads : int
        Heads; ``d`` must be a multiple of it.
    n_queries : int, optional
        Attend from the first ``n_queries`` tokens only (keys and values still
        use all ``n``); None means all tokens.
    heads_per_step : int, optional
        Heads whose [batch, heads, n_queries, n] float32 scores are held at once;
        None means all. One head of a 1214-token clip is 5.9 MB, small enough
        for the allocator to recycle instead of mapping fresh pages each time.

    Returns
    -------
    array, shape [batch, n_queries or n, d], dtype of ``x``
    """
    xp = get_xp(x)
    batch, n, d = x.shape
    head_dim = d // n_heads
    n_q = n if n_queries is None else n_queries
    step = n_heads if heads_per_step is None else heads_per_step
    qkv = linear(x.reshape(batch * n, d), weight=qkv_weight, bias=qkv_bias)  # [b*n, 3d]
    qkv = qkv.reshape(batch, n, 3, n_heads, head_dim)  # [b, n, 3, h, dh]
    context = xp.empty((batch, n_q, n_heads, head_dim), dtype=x.dtype)  # [b, n_q, h, dh]
    scores = xp.empty((batch, min(step, n_heads), n_q, n), dtype=x.dtype)  # [b, s, n_q, n]
    for start in range(0, n_heads, step):
        heads = slice(start, min(start + step, n_heads))
        s = scores[:, : heads.stop - heads.start]  # [b, s, n_q, n]
        q = qkv[:, :n_q, 0, heads].transpose(0, 2, 1, 3)  # [b, s, n_q, dh]
        k = qkv[:, :, 1, heads].transpose(0, 2, 3, 1)  # [b, s, dh, n]
        v = qkv[:, :, 2, heads].transpose(0, 2, 1, 3)  # [b, s, n, dh]
        xp.matmul(q, k, out=s)  # [b, s, n_q, n]
        weights = s.astype(xp.float32, copy=False)  # [b, s, n_q, n], float32 for the softmax
        row_sums = _exp_shifted_(weights)  # [b, s, n_q, 1]
        ctx = context[:, :, heads].transpose(0, 2, 1, 3)  # [b, s, n_q, dh] view into context
        xp.matmul(weights.astype(x.dtype, copy=False), v, out=ctx)  # [b, s, n_q, n] @ [b, s, n, dh]
        ctx /= row_sums.astype(x.dtype, copy=False)  # normalise the [.., dh] rows, not the [.., n] ones
    context = context.reshape(batch * n_q, d)  # [b*n_q, h*dh]
    y = linear(context, weight=out_weight, bias=out_bias)  # [b*n_q, d]
    return y.reshape(batch, n_q, d)


def mlp(x: Any, *, fc1_weight: Any, fc1_bias: Any, fc2_weight: Any, fc2_bias: Any) -> Any:
    """Two-layer perceptron with exact GELU, in row blocks that stay in cache.

    Parameters
    ----------
    x : array, shape [m, d]
    fc1_weight : array, shape [d_ff, d]
    fc1_bias : array, shape [d_ff]
    fc2_weight : array, shape [d, d_ff]
    fc2_bias : array, shape [d]

    Returns
    -------
    array, shape [m, d], dtype of ``x``
    """
    xp = get_xp(x)
    m, d = x.shape
    out = xp.empty((m, fc2_weight.shape[0]), dtype=x.dtype)  # [m, d]
    rows = MLP_ROWS if xp.__name__ == "numpy" else m
    hidden = xp.empty((min(rows, m), fc1_weight.shape[0]), dtype=x.dtype)  # [rows, d_ff]
    scratch = xp.empty(hidden.shape, dtype=xp.float32)  # [rows, d_ff]
    for start in range(0, m, rows):
        block = slice(start, min(start + rows, m))
        r = block.stop - block.start
        h = linear(x[block], weight=fc1_weight, bias=fc1_bias, out=hidden[:r])  # [r, d_ff]
        if h.dtype == xp.float32:
            _gelu_(h, scratch=scratch[:r])
        else:
            h[...] = gelu(h)
        linear(h, weight=fc2_weight, bias=fc2_bias, out=out[block])  # [r, d]
    return out
