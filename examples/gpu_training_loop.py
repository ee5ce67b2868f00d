"""AST features computed on the GPU inside a PyTorch training loop.

The DataLoader yields raw waveforms (cheap to load, collate and pin); the
training step moves them to the GPU and fastmel's CuPy backend turns them
into AST's [1024, 128] log-mel features there, on torch's current stream,
returned as a torch CUDA tensor with no host round trip.

    python examples/gpu_training_loop.py          # needs torch, cupy-cuda12x, a CUDA GPU
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from fastmel.backends.cupy_ import CupyBackend
from fastmel.presets import get_preset

SAMPLE_RATE = 16000
N_CLASSES = 10


class RandomWaves(Dataset):
    """Seeded stand-in for an audio dataset: (waveform float32 [n], label)."""

    def __init__(self, n_items: int = 64, seconds: float = 10.0) -> None:
        self.n_items, self.n_samples = n_items, int(seconds * SAMPLE_RATE)

    def __len__(self) -> int:
        return self.n_items

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng(i)
        return torch.from_numpy(0.1 * rng.standard_normal(self.n_samples, dtype=np.float32)), i % N_CLASSES


class TinyAstHead(torch.nn.Module):
    """A toy model over AST features: [B, 1024, 128] -> [B, classes]."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(128, 64)
        self.out = torch.nn.Linear(64, N_CLASSES)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:  # [B, T, 128] -> [B, classes]
        return self.out(torch.relu(self.proj(feats)).mean(dim=1))


class GpuFrontEnd:
    """fastmel AST features on the GPU: torch CUDA waveforms in, torch CUDA features out."""

    def __init__(self, preset: str = "ast") -> None:
        self.backend = CupyBackend()
        self.prepared = self.backend.prepare(get_preset(preset))

    def __call__(self, waves: torch.Tensor) -> torch.Tensor:  # [B, n] cuda -> [B, 1024, 128] cuda
        return self.backend.extract_any(self.prepared, waves)


def training_step(model: torch.nn.Module, front: GpuFrontEnd, optimizer: torch.optim.Optimizer,
                  waves: torch.Tensor, labels: torch.Tensor) -> float:
    """One step: waveforms (already on the GPU) -> features -> loss -> update."""
    feats = front(waves)  # [B, 1024, 128] torch.float32, cuda
    loss = torch.nn.functional.cross_entropy(model(feats), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def train(n_steps: int = 4, batch_size: int = 16) -> list[float]:
    """A few steps of training; returns the losses."""
    device = torch.device("cuda")
    torch.manual_seed(0)
    loader = DataLoader(RandomWaves(n_steps * batch_size), batch_size=batch_size, pin_memory=True)
    model = TinyAstHead().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    front = GpuFrontEnd("ast")
    losses = []
    for waves, labels in loader:
        waves = waves.to(device, non_blocking=True)  # [B, n] float32
        losses.append(training_step(model, front, optimizer, waves, labels.to(device)))
    return losses


if __name__ == "__main__":
    for step, loss in enumerate(train()):
        print(f"step {step}: loss {loss:.4f}")
