"""Transformer layers (fastmel.models.layers) against torch's functional ops and a naive attention."""

from __future__ import annotations

import numpy as np
import pytest

from fastmel.models import layers

torch = pytest.importorskip("torch", reason="torch is the reference for the layer functions")
F32_TOL = np.finfo(np.float32).resolution * 10  # 1e-5


def test_layer_norm_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(3, 5, 48)).astype(np.float32)
    w, b = rng.standard_normal(48, dtype=np.float32), rng.standard_normal(48, dtype=np.float32)
    ours = layers.layer_norm(x, weight=w, bias=b, eps=1e-12)
    ref = torch.nn.functional.layer_norm(torch.from_numpy(x), (48,), torch.from_numpy(w), torch.from_numpy(b), 1e-12)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref.numpy(), atol=F32_TOL * 10, rtol=0)


def test_gelu_is_exact_erf_gelu():
    x = np.linspace(-8, 8, 10001, dtype=np.float32)
    ref = torch.nn.functional.gelu(torch.from_numpy(x), approximate="none").numpy()
    np.testing.assert_allclose(layers.gelu(x), ref, atol=F32_TOL, rtol=F32_TOL)


def test_softmax_matches_torch_and_survives_large_inputs():
    x = np.random.default_rng(1).normal(0, 30, size=(4, 50)).astype(np.float32)
    ref = torch.softmax(torch.from_numpy(x), dim=-1).numpy()
    np.testing.assert_allclose(layers.softmax(x), ref, atol=F32_TOL, rtol=0)


def _naive_attention(x, wq, wk, wv, wo, bo, n_heads):  # x [n, d], weights [d, d] -> [n, d]
    n, d = x.shape
    dh = d // n_heads
    out = np.zeros((n, d))
    for h in range(n_heads):
        cols = slice(h * dh, (h + 1) * dh)
        q, k, v = x @ wq[cols].T, x @ wk[cols].T, x @ wv[cols].T  # [n, dh]
        s = q @ k.T / np.sqrt(dh)  # [n, n]
        p = np.exp(s - s.max(axis=1, keepdims=True))
        out[:, cols] = (p / p.sum(axis=1, keepdims=True)) @ v
    return out @ wo.T + bo


@pytest.mark.parametrize("heads_per_step", [None, 1, 3])
def test_attention_matches_naive_reference(heads_per_step):
    rng = np.random.default_rng(2)
    n, d, heads = 17, 24, 6
    x = rng.standard_normal((2, n, d)).astype(np.float32)
    wq, wk, wv, wo = (rng.normal(0, 0.3, size=(d, d)).astype(np.float32) for _ in range(4))
    bo = rng.standard_normal(d).astype(np.float32)
    scale = np.float32((d // heads) ** -0.5)
    out = layers.attention(x, qkv_weight=np.concatenate([wq * scale, wk, wv]), qkv_bias=None, out_weight=wo,
                           out_bias=bo, n_heads=heads, heads_per_step=heads_per_step)
    ref = np.stack([_naive_attention(c.astype(np.float64), wq, wk, wv, wo, bo, heads) for c in x])
    np.testing.assert_allclose(out, ref, atol=1e-5 * np.abs(ref).max(), rtol=0)
    first = layers.attention(x, qkv_weight=np.concatenate([wq * scale, wk, wv]), qkv_bias=None, out_weight=wo,
                             out_bias=bo, n_heads=heads, n_queries=2, heads_per_step=heads_per_step)
    np.testing.assert_allclose(first, out[:, :2], atol=1e-6 * np.abs(ref).max(), rtol=0)


def test_mlp_matches_torch_across_row_blocks():
    rng = np.random.default_rng(3)
    m, d, d_ff = layers.MLP_ROWS + 37, 16, 40  # one full block and a partial one
    x = rng.standard_normal((m, d)).astype(np.float32)
    w1, b1 = rng.normal(0, 0.3, (d_ff, d)).astype(np.float32), rng.standard_normal(d_ff).astype(np.float32)
    w2, b2 = rng.normal(0, 0.3, (d, d_ff)).astype(np.float32), rng.standard_normal(d).astype(np.float32)
    ours = layers.mlp(x, fc1_weight=w1, fc1_bias=b1, fc2_weight=w2, fc2_bias=b2)
    t = torch.from_numpy
    ref = torch.nn.functional.linear(torch.nn.functional.gelu(torch.nn.functional.linear(t(x), t(w1), t(b1))), t(w2), t(b2))
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-5 * ref.abs().max().item(), rtol=0)
