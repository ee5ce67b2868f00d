"""The CuPy backend on a real GPU, against the reference.

Skips itself, saying why, when CuPy or a CUDA device is absent (every CPU
machine): the logic it shares with ``xp_pipeline`` is tested there by
tests/test_xp_pipeline.py; this module checks the CUDA kernels and interop.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from fastmel.backends.device import cuda_unavailable_reason

_REASON = cuda_unavailable_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(_REASON is not None, reason=f"GPU tests skipped: {_REASON}")]

from _xp_parity import assert_parity, make_clips  # noqa: E402
from fastmel.presets import get_preset, preset_names  # noqa: E402
from fastmel.reference.pipeline import extract_clip, make_plan  # noqa: E402

LENGTHS_S = (1.0, 2.3, 0.5, 1.7)


def _backend(**options):
    from fastmel.backends.cupy_ import CupyBackend

    return CupyBackend(**options)


@pytest.mark.parametrize("kernels", ["fused", "xp"])
@pytest.mark.parametrize("name", preset_names())
def test_every_preset_matches_reference(name, kernels):
    config = get_preset(name)
    clips = make_clips(config, LENGTHS_S)
    backend = _backend(kernels=kernels)
    results = backend.extract(backend.prepare(config), clips)
    plan = make_plan(config)
    assert_parity(results, [extract_clip(c, plan) for c in clips], config, what=f"cupy {kernels} {name}")


@pytest.mark.parametrize("name", ["ast", "whisper", "kaldi"])
def test_ragged_and_batched_equal_one_by_one(name):
    import cupy

    config = get_preset(name)
    backend = _backend(block_bytes=1 << 20)  # blocks spanning clips
    prepared = backend.prepare(config)
    clips = make_clips(config, (0.7, 2.1, 1.3), seed=4)
    ragged = backend.extract_any(prepared, [cupy.asarray(c) for c in clips])
    for clip, together in zip(clips, ragged):
        alone = backend.extract_any(prepared, cupy.asarray(clip))
        np.testing.assert_allclose(cupy.asnumpy(together), cupy.asnumpy(alone), atol=1e-6, rtol=0)
    same = np.stack([c[:16000] for c in clips])
    stacked = backend.extract_any(prepared, cupy.asarray(same))
    for b in range(same.shape[0]):
        np.testing.assert_allclose(cupy.asnumpy(stacked[b]),
                                   cupy.asnumpy(backend.extract_any(prepared, cupy.asarray(same[b]))),
                                   atol=1e-6, rtol=0)


def test_torch_cuda_in_torch_cuda_out():
    torch = pytest.importorskip("torch")
    config = get_preset("ast")
    backend = _backend()
    prepared = backend.prepare(config)
    waves = torch.from_numpy(np.stack(make_clips(config, (1.0, 1.0), seed=5))).cuda()
    out = backend.extract_any(prepared, waves)
    assert isinstance(out, torch.Tensor) and out.is_cuda and out.shape == (2, 1024, 128)
    plan = make_plan(config)
    references = [extract_clip(c.cpu().numpy(), plan) for c in waves]
    assert_parity(list(out.cpu().numpy()), references, config, what="torch cuda")
    half = _backend(output_dtype="bfloat16").extract_any(prepared, waves)
    assert half.dtype == torch.bfloat16 and half.is_cuda


def test_training_loop_example_runs():
    pytest.importorskip("torch")
    path = Path(__file__).resolve().parents[1] / "examples" / "gpu_training_loop.py"
    spec = importlib.util.spec_from_file_location("gpu_training_loop", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    losses = module.train(n_steps=2, batch_size=4)
    assert len(losses) == 2 and all(np.isfinite(losses))
