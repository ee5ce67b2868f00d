"""Where input lives, and getting it to and from the GPU without copies.

Input may be NumPy, CuPy, a torch tensor (CPU or CUDA), or anything with
``__cuda_array_interface__`` / ``__dlpack__``. Device-resident input is
wrapped as a CuPy array without a copy (``cupy.from_dlpack`` /
``cupy.asarray`` on the CUDA array interface); results go back to the
caller's framework on the caller's device (``torch.from_dlpack``: torch CUDA
in, torch CUDA out). Host input goes up through pinned staging buffers
(:class:`PinnedStager`). CuPy and torch are imported lazily, inside functions.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from ..errors import AudioError, BackendUnavailable

__all__ = ["Placement", "placement", "is_device_resident", "require_cupy", "cuda_unavailable_reason",
           "to_cupy", "to_caller_framework", "as_bfloat16", "PinnedStager", "CUPY_PACKAGE"]

#: What a user installs to get the GPU backend.
CUPY_PACKAGE = "cupy-cuda12x"
_DLPACK_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged

Framework = Literal["numpy", "cupy", "torch"]


@dataclass(frozen=True)
class Placement:
    """The framework an input came in and whether its data is on a CUDA device."""

    framework: Framework
    on_device: bool
    device_id: int | None = None


def _module_root(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def placement(audio: Any) -> Placement:
    """Where ``audio`` (an array, a tensor, or a list of them) lives.

    A list takes its first element's placement; elements that disagree are an
    AudioError (one batch cannot span host and device).
    """
    if isinstance(audio, (list, tuple)):
        if not audio:
            raise AudioError("audio is an empty list; expected at least one clip")
        places = {placement(a) for a in audio}
        if len(places) > 1:
            raise AudioError(f"clips of one batch live in different places: {sorted(map(str, places))}; "
                             "move them to one device first")
        return places.pop()
    root = _module_root(audio)
    if root == "torch":
        dev = audio.device
        return Placement("torch", dev.type == "cuda", dev.index if dev.type == "cuda" else None)
    if root == "cupy":
        return Placement("cupy", True, int(audio.device.id))
    if hasattr(audio, "__cuda_array_interface__"):
        return Placement("cupy", True, None)
    if hasattr(audio, "__dlpack_device__") and not isinstance(audio, np.ndarray):
        kind, index = audio.__dlpack_device__()
        if int(kind) in _DLPACK_CUDA:
            return Placement("cupy", True, int(index))
    return Placement("numpy", False, None)


def is_device_resident(audio: Any) -> bool:
    """True when ``audio`` is already on a CUDA device: ``backend="auto"`` should pick CuPy."""
    try:
        return placement(audio).on_device
    except AudioError:
        return False


def require_cupy() -> Any:
    """The ``cupy`` module, or BackendUnavailable naming the package to install."""
    try:
        return importlib.import_module("cupy")
    except ImportError as exc:
        raise BackendUnavailable(
            f"backend 'cupy' needs the package {CUPY_PACKAGE!r} ({exc}); install it with "
            f"`pip install {CUPY_PACKAGE}` (or fastmel[gpu]) on a machine with a CUDA 12 GPU"
        ) from exc


def cuda_unavailable_reason() -> str | None:
    """Why the CuPy backend cannot run here, or None when it can."""
    try:
        cupy = require_cupy()
    except BackendUnavailable as exc:
        return str(exc)
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError without a driver
        return f"no CUDA device usable by cupy ({exc})"
    return None if count > 0 else "no CUDA device found (cupy.cuda.runtime.getDeviceCount() == 0)"


def to_cupy(obj: Any, cupy: Any) -> Any:
    """A device-resident array as a CuPy array sharing its memory (no copy)."""
    if _module_root(obj) == "cupy":
        return obj
    if _module_root(obj) == "torch":
        return cupy.from_dlpack(obj.detach())
    if hasattr(obj, "__cuda_array_interface__"):
        return cupy.asarray(obj)
    return cupy.from_dlpack(obj)


def as_bfloat16(bits: Any, framework: Framework) -> Any:
    """uint16 bfloat16 bits as the framework's bfloat16 when it has one.

    torch: a ``torch.bfloat16`` view; NumPy: an ``ml_dtypes.bfloat16`` view if
    ml_dtypes is installed; otherwise (CuPy has no bfloat16) the uint16 bits.
    """
    if framework == "torch":
        import torch

        return bits.view(torch.int16).view(torch.bfloat16)
    if framework == "numpy":
        try:
            import ml_dtypes
        except ImportError:
            return bits
        return bits.view(ml_dtypes.bfloat16)
    return bits


def to_caller_framework(array: Any, where: Placement, *, bfloat16: bool = False) -> Any:
    """A CuPy result in the caller's framework and device.

    torch CUDA in -> torch CUDA tensor sharing the memory (``torch.from_dlpack``);
    torch CPU in -> torch CPU tensor; CuPy in -> CuPy; NumPy in -> NumPy.
    """
    if where.framework == "torch":
        import torch

        out = torch.from_dlpack(array) if where.on_device else torch.from_numpy(array.get())
        return as_bfloat16(out, "torch") if bfloat16 else out
    if where.framework == "cupy" and where.on_device:
        return array
    return as_bfloat16(array.get(), "numpy") if bfloat16 else array.get()


class PinnedStager:
    """Host clips to one flat device buffer through two pinned staging buffers.

    ``upload`` fills a pinned buffer on the CPU, then copies it to the device
    asynchronously on ``copy_stream`` and returns the device array and the
    event marking the copy's end; the compute stream waits on that event, so
    chunk ``i`` computes while chunk ``i + 1`` is filled and copied. A slot is
    reused only after its previous copy has finished.
    """

    def __init__(self, cupy: Any, *, n_slots: int = 2) -> None:
        self._cupy = cupy
        self._buffers: list[Any] = [None] * n_slots
        self._events: list[Any] = [None] * n_slots
        self.copy_stream = cupy.cuda.Stream(non_blocking=True)
        self._next = 0

    def _pinned(self, slot: int, n: int) -> np.ndarray:
        buffer = self._buffers[slot]
        if buffer is None or buffer.size < n:
            memory = self._cupy.cuda.alloc_pinned_memory(max(n, 1) * 4)
            buffer = np.frombuffer(memory, dtype=np.float32, count=max(n, 1))
            self._buffers[slot] = buffer
        return buffer[:n]

    def upload(self, clips: Sequence[np.ndarray]) -> tuple[Any, Any]:
        """Clips ``[n_b]`` -> (device float32 ``[sum n_b]``, the copy's event)."""
        cupy = self._cupy
        slot = self._next
        self._next = (slot + 1) % len(self._buffers)
        if self._events[slot] is not None:
            self._events[slot].synchronize()  # the slot's last copy is done
        n = sum(int(c.shape[0]) for c in clips)
        staging = self._pinned(slot, n)
        np.concatenate([np.asarray(c, dtype=np.float32) for c in clips], out=staging)
        with self.copy_stream:
            device = cupy.empty(n, dtype=cupy.float32)
            device.set(staging, stream=self.copy_stream)
            event = self.copy_stream.record()
        self._events[slot] = event
        return device, event
