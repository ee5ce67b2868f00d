"""Backends: one protocol, chosen by argument (``backend="auto"``), never by a global.

A backend turns validated clips into features for a FeatureConfig. Each is
registered here by name with the package it needs; ``auto`` picks the
fastest one installed for where the input lives.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, Sequence

import numpy as np

from ..config import FeatureConfig
from ..errors import BackendUnavailable, ParameterError

__all__ = ["Backend", "get_backend", "backend_names", "available_backends", "resolve_backend_name"]


class Backend(Protocol):
    """What every backend provides.

    ``prepare`` builds whatever the backend caches per config (window,
    filterbank, compiled kernels); ``extract`` computes the features of a
    list of clips, each a 1-D float array at ``config.sample_rate_hz`` that
    has already been validated (finite, non-empty, long enough).
    """

    name: str

    def prepare(self, config: FeatureConfig) -> Any: ...

    def extract(self, prepared: Any, clips: Sequence[np.ndarray]) -> list[np.ndarray]: ...


# name -> (module, class name, the package a user installs to get it)
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "reference": ("fastmel.backends.reference", "ReferenceBackend", "numpy"),
    "numpy": ("fastmel.backends.numpy_", "NumpyBackend", "numpy"),
    "numba": ("fastmel.backends.numba_", "NumbaBackend", "numba"),
    "cupy": ("fastmel.backends.cupy_", "CupyBackend", "cupy-cuda12x"),
}
# ``auto`` tries these in order on the CPU.
_AUTO_CPU: tuple[str, ...] = ("numba", "numpy", "reference")


def backend_names() -> list[str]:
    """Every registered backend name, plus ``auto``."""
    return ["auto", *_REGISTRY]


def resolve_backend_name(name: str) -> str:
    """The concrete backend ``name`` stands for (``auto`` resolved)."""
    if name == "auto":
        status = available_backends()
        return next((c for c in _AUTO_CPU if status[c][0]), "reference")
    if name not in _REGISTRY:
        raise ParameterError(
            f"backend={name!r} is not one of {', '.join(repr(n) for n in backend_names())}"
        )
    return name


def get_backend(name: str = "auto", **options: Any) -> Backend:
    """An instance of backend ``name``.

    Raises
    ------
    ParameterError
        ``name`` is not a backend (the message lists them).
    BackendUnavailable
        Its package is missing or its device is absent (the message names it).
    """
    resolved = resolve_backend_name(name)
    module_name, class_name, package = _REGISTRY[resolved]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(
            f"backend {resolved!r} needs the package {package!r} ({exc}); install it with "
            f"`pip install {package}`"
        ) from exc
    cls = getattr(module, class_name)
    reason = _unavailable_reason(cls)
    if reason is not None:
        raise BackendUnavailable(f"backend {resolved!r} cannot run here: {reason}")
    return cls(**options)


def available_backends() -> dict[str, tuple[bool, str]]:
    """For every backend: whether it can run here, and why not if it cannot."""
    status: dict[str, tuple[bool, str]] = {}
    for name, (module_name, class_name, package) in _REGISTRY.items():
        try:
            reason = _unavailable_reason(getattr(importlib.import_module(module_name), class_name))
        except ImportError as exc:
            reason = f"needs {package!r}: {exc}"
        status[name] = (reason is None, reason or "available")
    return status


def _unavailable_reason(cls: type) -> str | None:
    """Why backend class ``cls`` cannot run here (its optional ``unavailable_reason()``), or None."""
    check = getattr(cls, "unavailable_reason", None)
    return check() if check is not None else None
