"""Patch embedding for spectrogram transformers: strided views + one matrix product.

Two layouts, both a ``Conv2d(1, d, kernel=p, stride=s)`` written as
"every patch as a row, times the flattened kernel":

- AST (``ASTPatchEmbeddings``): features [batch, frames, bins] are transposed
  to [batch, bins, frames]; overlapping p x p patches with stride
  (frequency_stride, time_stride); tokens ordered frequency-major.
  1024 frames x 128 bins, p=16, stride 10 -> 12 x 101 = 1212 patches.
- BEATs (``BEATs.patch_embedding``): features [batch, frames, bins] as they
  are; non-overlapping p x p patches; tokens ordered time-major.
  1024 frames x 128 bins, p=16 -> 64 x 8 = 512 patches.
"""

from __future__ import annotations

from typing import Any

from fastmel.errors import ParameterError
from fastmel.models._array import get_xp

__all__ = ["patch_grid", "ast_patches", "beats_patches", "embed_patches", "add_tokens"]


def patch_grid(*, height: int, width: int, patch_size: int, stride: tuple[int, int]) -> tuple[int, int]:
    """Number of patches along each axis of a [height, width] image (no padding).

    Returns
    -------
    (n_rows, n_cols) : tuple of int
        ``(height - patch_size) // stride[0] + 1`` and the same for ``width``.

    Raises
    ------
    ParameterError
        When a patch does not fit or a size or stride is below 1.
    """
    if patch_size < 1 or min(stride) < 1:
        raise ParameterError(f"patch_size={patch_size} and stride={stride} must be integers >= 1")
    if patch_size > height or patch_size > width:
        raise ParameterError(
            f"patch_size={patch_size} does not fit a {height} x {width} input; "
            f"expected both sides >= {patch_size}"
        )
    return (height - patch_size) // stride[0] + 1, (width - patch_size) // stride[1] + 1


def _patch_view(x: Any, *, patch_size: int, stride: tuple[int, int]) -> Any:
    """Strided view of every patch: [b, H, W] -> [b, n_rows, n_cols, p, p] (no copy)."""
    xp = get_xp(x)
    b, height, width = x.shape
    n_rows, n_cols = patch_grid(height=height, width=width, patch_size=patch_size, stride=stride)
    sb, sh, sw = x.strides
    return xp.lib.stride_tricks.as_strided(
        x,
        shape=(b, n_rows, n_cols, patch_size, patch_size),  # [b, n_rows, n_cols, p, p]
        strides=(sb, sh * stride[0], sw * stride[1], sh, sw),
    )


def ast_patches(features: Any, *, patch_size: int, frequency_stride: int, time_stride: int) -> Any:
    """AST's overlapping patches, flattened in the conv kernel's (bin, frame) order.

    Parameters
    ----------
    features : array, shape [batch, frames, bins]
    patch_size : int
        Side of the square patch, in bins and frames.
    frequency_stride, time_stride : int
        Hop between patches, in bins and in frames.

    Returns
    -------
    array, shape [batch, n_freq * n_time, patch_size ** 2], dtype of ``features``
        Row ``f * n_time + t`` is the patch at frequency index f, time index t.
    """
    by_bins = features.transpose(0, 2, 1)  # [b, bins, frames] view, as ASTPatchEmbeddings
    view = _patch_view(by_bins, patch_size=patch_size, stride=(frequency_stride, time_stride))
    b, n_freq, n_time = view.shape[:3]  # view: [b, n_freq, n_time, p, p]
    return view.reshape(b, n_freq * n_time, patch_size * patch_size)  # [b, n, p*p] (copy)


def beats_patches(features: Any, *, patch_size: int = 16) -> Any:
    """BEATs' non-overlapping patches, flattened in the conv kernel's (frame, bin) order.

    Parameters
    ----------
    features : array, shape [batch, frames, bins]
    patch_size : int
        Side of the square patch and its stride.

    Returns
    -------
    array, shape [batch, n_time * n_freq, patch_size ** 2], dtype of ``features``
        Row ``t * n_freq + f`` is the patch at time index t, frequency index f.
    """
    view = _patch_view(features, patch_size=patch_size, stride=(patch_size, patch_size))
    b, n_time, n_freq = view.shape[:3]  # view: [b, n_time, n_freq, p, p]
    return view.reshape(b, n_time * n_freq, patch_size * patch_size)  # [b, n, p*p] (copy)


def embed_patches(patches: Any, *, weight: Any, bias: Any) -> Any:
    """Project flattened patches with a conv kernel: the convolution as one matrix product.

    Parameters
    ----------
    patches : array, shape [batch, n, p * p]
    weight : array, shape [d, 1, p, p] (a ``Conv2d(1, d)`` kernel) or [d, p * p]
    bias : array, shape [d]

    Returns
    -------
    array, shape [batch, n, d], dtype of ``patches``
    """
    xp = get_xp(patches)
    b, n, pp = patches.shape
    kernel = weight.reshape(weight.shape[0], pp)  # [d, p*p]
    y = xp.matmul(patches.reshape(b * n, pp), kernel.T)  # [b*n, p*p] @ [p*p, d] -> [b*n, d]
    y += bias
    return y.reshape(b, n, kernel.shape[0])  # [b, n, d]


def add_tokens(
    embeddings: Any, *, position_embeddings: Any, cls_token: Any, distillation_token: Any | None = None
) -> Any:
    """Prepend the class (and distillation) tokens and add position embeddings.

    Parameters
    ----------
    embeddings : array, shape [batch, n, d]
    position_embeddings : array, shape [1, n + n_special, d]
    cls_token : array, shape [1, 1, d]
    distillation_token : array, shape [1, 1, d], optional

    Returns
    -------
    array, shape [batch, n + n_special, d]; n_special is 2 with a distillation token, else 1
    """
    xp = get_xp(embeddings)
    b, n, d = embeddings.shape
    special = [cls_token] if distillation_token is None else [cls_token, distillation_token]
    n_tokens = n + len(special)
    if position_embeddings.shape[-2] != n_tokens:
        raise ParameterError(
            f"position_embeddings has {position_embeddings.shape[-2]} rows; "
            f"expected {n_tokens} ({n} patches + {len(special)} special tokens)"
        )
    out = xp.empty((b, n_tokens, d), dtype=embeddings.dtype)  # [b, n_special + n, d]
    for i, token in enumerate(special):
        out[:, i] = token.reshape(d)
    out[:, len(special) :] = embeddings
    out += position_embeddings.reshape(1, n_tokens, d)
    return out
