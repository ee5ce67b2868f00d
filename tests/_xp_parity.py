"""Shared parity helpers: test signals and the float32-vs-reference bounds.

The bounds are DESIGN.md's, in natural-log units: max abs 2e-3, 99.9th
percentile 2e-4, mean 2e-5. Outputs in other units are converted first
(log10 and dB by their factor, fixed normalisation by its divisor).
"""

from __future__ import annotations

import math

import numpy as np

from fastmel.config import FeatureConfig

MAX_ABS = 2e-3
P999 = 2e-4
MEAN = 2e-5


def make_clips(config: FeatureConfig, lengths_s: tuple[float, ...], *, seed: int = 0) -> list[np.ndarray]:
    """Seeded clips at ``config.sample_rate_hz``: noise, a chirp plus noise, silence, clipping.

    Each length in seconds gives one clip; the kinds cycle. The chirp's
    noise floor is -20 dB: with a -30 dB floor, 128 Kaldi bands and
    pre-emphasis, float32 framing alone (float64 FFT) already puts the
    99.9th percentile at 3.8e-4, so no float32 pipeline could meet the bound.
    """
    rng = np.random.default_rng(seed)
    rate = config.sample_rate_hz
    clips = []
    for i, seconds in enumerate(lengths_s):
        n = max(1, int(round(seconds * rate)))
        t = np.arange(n) / rate
        kind = i % 4
        if kind == 0:
            x = 0.1 * rng.standard_normal(n)
        elif kind == 1:
            x = 0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.03 * rng.standard_normal(n)
        elif kind == 2:
            x = np.zeros(n)
        else:
            x = np.clip(2.0 * rng.standard_normal(n), -1.0, 1.0)
        clips.append(x.astype(np.float32))
    return clips


def log_unit_factor(config: FeatureConfig) -> float:
    """Multiply an output difference by this to get natural-log units."""
    kind = config.compress.kind
    factor = {"log": 1.0, "log10": math.log(10.0), "db": math.log(10.0) / 10.0, "none": 1.0}[kind]
    norm = config.normalize
    if norm is not None and norm.mode == "fixed":
        factor *= abs(norm.divisor)
    return factor


def error_stats(result: np.ndarray, reference: np.ndarray, config: FeatureConfig) -> dict[str, float]:
    """max abs, 99.9th percentile and mean of ``|result - reference|`` in natural-log units."""
    if result.shape != reference.shape:
        raise AssertionError(f"shape {result.shape} != reference shape {reference.shape}")
    diff = np.abs(result.astype(np.float64) - reference.astype(np.float64)) * log_unit_factor(config)
    return {"max": float(diff.max()), "p999": float(np.percentile(diff, 99.9)), "mean": float(diff.mean())}


def assert_parity(results: list[np.ndarray], references: list[np.ndarray], config: FeatureConfig,
                  *, what: str) -> None:
    """Every clip within the float32 bounds of its reference."""
    for i, (r, ref) in enumerate(zip(results, references)):
        stats = error_stats(np.asarray(r), ref, config)
        assert stats["max"] <= MAX_ABS and stats["p999"] <= P999 and stats["mean"] <= MEAN, (
            f"{what} clip {i}: {stats} exceeds max {MAX_ABS}, p99.9 {P999}, mean {MEAN}")
