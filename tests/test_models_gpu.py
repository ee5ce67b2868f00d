"""AST on CuPy against transformers on the CPU: float32 parity, float16 / bfloat16 within 2e-2.

Skips itself, saying why, when CuPy or a CUDA device is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from _ast_models import TINY_OWN, TINY_PRESET, random_features, relative_error, save_random_ast, torch_logits
from fastmel.errors import BackendUnavailable
from fastmel.models import AST

cupy = pytest.importorskip("cupy", reason="CuPy is not installed: the GPU backend cannot be tested")
try:
    from fastmel.models._array import import_cupy

    import_cupy()
except BackendUnavailable as exc:
    pytest.skip(f"no usable GPU: {exc}", allow_module_level=True)
pytest.importorskip("transformers", reason="transformers' ASTForAudioClassification is the reference")
pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module", params=["own", "preset"])
def saved(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(f"gpu_{request.param}")
    geometry = TINY_OWN if request.param == "own" else TINY_PRESET
    model = save_random_ast(path, seed=6, std=0.3, **geometry)
    frames, bins = (64, 32) if request.param == "own" else (1024, 128)
    return path, model, random_features(seed=17, batch=3, frames=frames, bins=bins)


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-4), ("float16", 2e-2), ("bfloat16", 2e-2)])
def test_cupy_matches_transformers(saved, dtype, tol):
    path, ref_model, features = saved
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes", reason="bfloat16 on CuPy needs ml_dtypes (and CuPy >= 14)")
    model = AST.from_pretrained(path, preset=None, backend="cupy", dtype=dtype)
    logits = model.forward(cupy.asarray(features))
    assert isinstance(logits, cupy.ndarray) and logits.dtype == np.float32
    assert relative_error(cupy.asnumpy(logits), torch_logits(ref_model, features)) <= tol
