"""Array-namespace helpers shared by the model kernels: NumPy on the CPU, CuPy on the GPU.

CuPy is imported lazily, only when a caller asks for the GPU or passes a CuPy
array, so importing fastmel.models never needs it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, Literal

import numpy as np

from fastmel.errors import BackendUnavailable, ParameterError

__all__ = ["Backend", "DType", "get_xp", "import_cupy", "erf", "resolve_dtype", "to_numpy"]

Backend = Literal["numpy", "cupy"]
DType = Literal["float32", "float16", "bfloat16"]
BACKENDS = ("numpy", "cupy")
DTYPES = ("float32", "float16", "bfloat16")


def import_cupy() -> ModuleType:
    """Import CuPy and check that a GPU is visible.

    Raises
    ------
    BackendUnavailable
        When CuPy is not installed or no CUDA device is present.
    """
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailable(
            "backend='cupy' needs the 'cupy' package (pip install cupy-cuda12x); it is not installed"
        ) from exc
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when the driver is absent
        raise BackendUnavailable(f"backend='cupy': CuPy found no usable CUDA device ({exc})") from exc
    if n_devices < 1:
        raise BackendUnavailable("backend='cupy': CuPy found 0 CUDA devices, expected at least 1")
    return cupy


def get_xp(array: Any) -> ModuleType:
    """Return the array namespace of ``array``: ``cupy`` for a CuPy array, else ``numpy``.

    Never imports CuPy: an array can only be a CuPy array if CuPy is already imported.
    """
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return np


def erf(x: Any, *, out: Any = None) -> Any:
    """Elementwise error function in the namespace of ``x`` (float32 in, float32 out)."""
    if get_xp(x) is np:
        from scipy.special import erf as _erf
    else:
        from cupyx.scipy.special import erf as _erf
    return _erf(x, out=out)


def resolve_dtype(*, backend: str, dtype: str) -> Any:
    """Map a dtype name to the array dtype for ``backend``.

    float16 and bfloat16 are GPU-only; bfloat16 needs CuPy >= 14 with ``ml_dtypes``.

    Raises
    ------
    ParameterError
        For an unknown backend or dtype, or a half dtype on the NumPy backend.
    BackendUnavailable
        For bfloat16 when ``ml_dtypes`` is missing.
    """
    if backend not in BACKENDS:
        raise ParameterError(f"backend={backend!r} is not one of {BACKENDS}")
    if dtype not in DTYPES:
        raise ParameterError(f"dtype={dtype!r} is not one of {DTYPES}")
    if backend == "numpy" and dtype != "float32":
        raise ParameterError(
            f"dtype={dtype!r} needs backend='cupy'; the NumPy backend runs float32 only"
        )
    if dtype == "bfloat16":
        try:
            import ml_dtypes
        except ImportError as exc:
            raise BackendUnavailable(
                "dtype='bfloat16' needs the 'ml_dtypes' package and CuPy >= 14; ml_dtypes is not installed"
            ) from exc
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


def to_numpy(array: Any) -> np.ndarray:
    """Copy a CuPy array to the host; return a NumPy array unchanged."""
    if get_xp(array) is np:
        return np.asarray(array)
    return array.get()
