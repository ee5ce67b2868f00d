"""Shared fixtures. Signal generators live in ``tests/signals.py``."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import pytest

import fastmel
import signals


def float64_output(config: fastmel.FeatureConfig | str) -> fastmel.FeatureConfig:
    """``config`` (or a preset name) with float64 output: the reference's own precision."""
    if isinstance(config, str):
        config = fastmel.get_preset(config)
    return config.replace(output=dataclasses.replace(config.output, dtype="float64"))


@pytest.fixture(scope="session")
def f64() -> Callable[[fastmel.FeatureConfig | str], fastmel.FeatureConfig]:
    """``f64(config_or_preset)``: the config with float64 output."""
    return float64_output


@pytest.fixture(scope="session")
def espeak_speech() -> np.ndarray:
    """espeak-ng speech, ``[n]`` float32 at 22,050 Hz, rendered once per session."""
    speech = signals.render_espeak()
    if speech is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; .ci/run installs it)")
    return speech


@pytest.fixture
def make_signal(request: pytest.FixtureRequest) -> Callable[..., np.ndarray]:
    """``make_signal(kind, sample_rate=, n_samples=, seed=0)``: ``signals.make_signal``
    that renders espeak speech on first use and skips the test when espeak-ng is missing."""

    def make(kind: str, *, sample_rate: int, n_samples: int, seed: int = 0) -> np.ndarray:
        speech = request.getfixturevalue("espeak_speech") if kind == "espeak" else None
        return signals.make_signal(kind, sample_rate=sample_rate, n_samples=n_samples,
                                   seed=seed, speech=speech)

    return make
