"""Seeded random AST checkpoints saved by transformers, for the fastmel.models tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# 1 layer, 32 wide, ast-preset geometry (1024 frames x 128 bins) with 16 x 16 strides: 8 x 64 = 512 patches.
TINY_PRESET = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
                   frequency_stride=16, time_stride=16, num_labels=7)
# 2 layers, 40 wide (head_dim 10: the query scale 10 ** -0.5 is not a power of two), its own small geometry.
TINY_OWN = dict(hidden_size=40, num_hidden_layers=2, num_attention_heads=4, intermediate_size=80,
                max_length=64, num_mel_bins=32, patch_size=8, frequency_stride=5, time_stride=6, num_labels=9)
BASE = dict(num_labels=527)  # AST-base: 12 layers, 768 wide, 1024 frames x 128 bins


def save_random_ast(path: Path, *, seed: int, std: float, safe_serialization: bool = True, **config):
    """Save an ASTForAudioClassification with every parameter ~ N(0, std) (layer norm weights ~ 1 + N(0, std)).

    Returns the torch model (eval mode).
    """
    import torch
    from transformers import ASTConfig, ASTForAudioClassification

    torch.manual_seed(seed)
    labels = {i: f"class {i}" for i in range(config.pop("num_labels"))}
    model = ASTForAudioClassification(ASTConfig(id2label=labels, label2id={v: k for k, v in labels.items()}, **config))
    model.eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(0.0, std)
            if "layernorm" in name and name.endswith("weight"):
                p += 1.0
    model.save_pretrained(path, safe_serialization=safe_serialization)
    return model


def torch_logits(model, features: np.ndarray) -> np.ndarray:
    """transformers' logits for features [batch, frames, bins] float32 -> [batch, n_classes] float32."""
    import torch

    with torch.inference_mode():
        return model(torch.from_numpy(np.ascontiguousarray(features))).logits.numpy()


def random_features(*, seed: int, batch: int, frames: int, bins: int) -> np.ndarray:
    """Seeded features [batch, frames, bins] float32 on the scale of AST's normalised log-mels."""
    return np.random.default_rng(seed).normal(0.0, 0.5, size=(batch, frames, bins)).astype(np.float32)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| relative to the logit scale max |b|."""
    return float(np.abs(a - b).max() / np.abs(b).max())
