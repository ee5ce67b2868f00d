"""Where input lives and what the GPU backend says when it cannot run: the
parts of the GPU path that need no GPU."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import fastmel
from fastmel.backends import available_backends, get_backend
from fastmel.backends.cupy_ import uses_direct_output
from fastmel.backends.device import Placement, is_device_resident, placement, require_cupy
from fastmel.presets import get_preset


def test_numpy_and_lists_are_host_input():
    x = np.zeros(16000, np.float32)
    assert placement(x) == Placement("numpy", False, None)
    assert placement([x, x[:100]]) == Placement("numpy", False, None)
    assert not is_device_resident(x)


def test_torch_cpu_tensor_is_host_input():
    torch = pytest.importorskip("torch")
    assert placement(torch.zeros(10)) == Placement("torch", False, None)
    assert not is_device_resident([torch.zeros(10), torch.zeros(20)])


def test_cuda_dlpack_object_is_device_resident():
    class FakeCuda:  # what a CUDA array exposes, without a GPU
        def __dlpack_device__(self):
            return (2, 1)

    class FakeInterface:
        __cuda_array_interface__ = {"shape": (4,), "typestr": "<f4", "data": (0, False), "version": 3}

    assert placement(FakeCuda()) == Placement("cupy", True, 1)
    assert is_device_resident(FakeInterface())


def test_mixed_host_and_device_batch_is_refused():
    class FakeCuda:
        def __dlpack_device__(self):
            return (2, 0)

    with pytest.raises(fastmel.AudioError, match="different places"):
        placement([np.zeros(4, np.float32), FakeCuda()])
    assert not is_device_resident([np.zeros(4, np.float32), FakeCuda()])


def test_cuda_request_without_cupy_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    with pytest.raises(fastmel.BackendUnavailable, match="cupy-cuda12x"):
        require_cupy()
    with pytest.raises(fastmel.BackendUnavailable, match="pip install cupy-cuda12x"):
        get_backend("cupy")
    ok, reason = available_backends()["cupy"]
    assert not ok and "cupy-cuda12x" in reason


def test_direct_output_only_without_whole_clip_statistics():
    assert uses_direct_output(get_preset("ast"))
    assert uses_direct_output(get_preset("clap"))
    assert not uses_direct_output(get_preset("whisper"))  # dynamic-range clamp
    assert not uses_direct_output(get_preset("librosa"))  # top_db


def test_import_fastmel_without_soundfile_soxr_librosa():
    import subprocess

    code = ("import sys\nfor m in ('soundfile', 'soxr', 'librosa'): sys.modules[m] = None\n"
            "import fastmel, fastmel.backends.cupy_, fastmel.backends.xp_pipeline\nprint('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
