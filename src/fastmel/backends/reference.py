"""The reference as a backend: the float64 NumPy spec, one clip at a time."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..config import FeatureConfig
from ..reference.pipeline import Plan, extract_clip, make_plan

__all__ = ["ReferenceBackend"]


class ReferenceBackend:
    """Computes in float64 with :mod:`fastmel.reference`; slow and exact."""

    name = "reference"

    def __init__(self, *, num_threads: int | None = None) -> None:
        self.num_threads = num_threads  # the reference is single-threaded NumPy

    def prepare(self, config: FeatureConfig) -> Plan:
        return make_plan(config)

    def extract(self, prepared: Plan, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [extract_clip(clip, prepared, dtype=np.float64) for clip in clips]
