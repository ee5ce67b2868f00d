"""Patch embedding (fastmel.models.patch) against torch's Conv2d, the layer it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from fastmel.errors import ParameterError
from fastmel.models import patch

torch = pytest.importorskip("torch", reason="torch is the reference for the patch convolutions")
TOL = 1e-5  # float32, 256-term dot products of O(1) values


def _conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: tuple[int, int]) -> np.ndarray:
    """torch Conv2d(1, d) of x [b, H, W] -> [b, H_out * W_out, d], row-major over (H_out, W_out)."""
    y = torch.nn.functional.conv2d(torch.from_numpy(x)[:, None], torch.from_numpy(weight), torch.from_numpy(bias),
                                   stride=stride)  # [b, d, H_out, W_out]
    return y.flatten(2).transpose(1, 2).numpy()


def test_ast_patch_grid_is_12_by_101_for_1024_frames_128_bins():
    assert patch.patch_grid(height=128, width=1024, patch_size=16, stride=(10, 10)) == (12, 101)  # 1212 patches


def test_ast_patches_match_transformers_conv():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((2, 1024, 128), dtype=np.float32)  # [b, frames, bins]
    weight = rng.standard_normal((24, 1, 16, 16), dtype=np.float32)
    bias = rng.standard_normal(24, dtype=np.float32)
    patches = patch.ast_patches(features, patch_size=16, frequency_stride=10, time_stride=10)
    assert patches.shape == (2, 1212, 256)
    ours = patch.embed_patches(patches, weight=weight, bias=bias)
    # ASTPatchEmbeddings: input.unsqueeze(1).transpose(2, 3) -> [b, 1, bins, frames]
    ref = _conv(np.ascontiguousarray(features.transpose(0, 2, 1)), weight, bias, (10, 10))
    np.testing.assert_allclose(ours, ref, atol=TOL * np.abs(ref).max(), rtol=0)


def test_beats_patches_match_conv_time_major():
    rng = np.random.default_rng(1)
    features = rng.standard_normal((1, 1024, 128), dtype=np.float32)
    weight = rng.standard_normal((8, 1, 16, 16), dtype=np.float32)
    bias = rng.standard_normal(8, dtype=np.float32)
    patches = patch.beats_patches(features, patch_size=16)
    assert patches.shape == (1, 64 * 8, 256)  # 64 time x 8 frequency patches
    ours = patch.embed_patches(patches, weight=weight, bias=bias)
    ref = _conv(features, weight, bias, (16, 16))  # BEATs: conv on [b, 1, frames, bins]
    np.testing.assert_allclose(ours, ref, atol=TOL * np.abs(ref).max(), rtol=0)


def test_add_tokens_prepends_cls_and_distillation_and_adds_positions():
    rng = np.random.default_rng(2)
    emb = rng.standard_normal((2, 5, 4), dtype=np.float32)
    pos = rng.standard_normal((1, 7, 4), dtype=np.float32)
    cls, dist = np.ones((1, 1, 4), np.float32), np.full((1, 1, 4), 2.0, np.float32)
    out = patch.add_tokens(emb, position_embeddings=pos, cls_token=cls, distillation_token=dist)
    np.testing.assert_array_equal(out[:, 0], np.broadcast_to(1.0 + pos[:, 0], (2, 4)))
    np.testing.assert_array_equal(out[:, 1], np.broadcast_to(2.0 + pos[:, 1], (2, 4)))
    np.testing.assert_array_equal(out[:, 2:], emb + pos[:, 2:])


def test_add_tokens_refuses_wrong_position_count():
    emb = np.zeros((1, 5, 4), np.float32)
    with pytest.raises(ParameterError, match=r"position_embeddings has 6 rows; expected 7 \(5 patches \+ 2"):
        patch.add_tokens(emb, position_embeddings=np.zeros((1, 6, 4), np.float32), cls_token=np.zeros((1, 1, 4)),
                         distillation_token=np.zeros((1, 1, 4)))


def test_patch_grid_refuses_patch_larger_than_input():
    with pytest.raises(ParameterError, match=r"patch_size=16 does not fit a 8 x 100 input"):
        patch.patch_grid(height=8, width=100, patch_size=16, stride=(10, 10))
    with pytest.raises(ParameterError, match=r"patch_size=16 and stride=\(0, 10\) must be integers >= 1"):
        patch.patch_grid(height=128, width=100, patch_size=16, stride=(0, 10))
