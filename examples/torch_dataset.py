"""Train on precomputed features: ``fastmel.convert.open_features`` as a torch Dataset.

    python examples/torch_dataset.py              # converts a small synthetic corpus first
    python examples/torch_dataset.py feats/       # or any DEST written by `fastmel convert`

Works for every format (npy, hdf5, webdataset): clips are read one at a time,
lazily, in each DataLoader worker. Labels come from the source manifest's
label column (AudioSet: comma-separated label ids).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from fastmel.convert import convert, open_features


class FeatureDataset(Dataset):
    """``(features [frames, bands] float32 tensor, multi-hot labels [n_labels])`` per clip.

    Parameters
    ----------
    dest : path
        A folder written by ``fastmel convert``.
    label_names : list of str, optional
        The label vocabulary; default: every label seen in the manifest, sorted.
    """

    def __init__(self, dest: str | Path, *, label_names: list[str] | None = None) -> None:
        self.features = open_features(dest)
        labels = {i: (self.features.record(i).get("label") or "") for i in self.features.ids}
        seen = sorted({name for text in labels.values() for name in text.split(",") if name})
        self.label_names = label_names if label_names is not None else seen
        self._index = {name: k for k, name in enumerate(self.label_names)}

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        clip = self.features[i]
        x = torch.from_numpy(np.asarray(clip.features, dtype=np.float32))  # float16 on disk -> float32
        y = torch.zeros(len(self.label_names))
        for name in (clip.meta.get("label") or "").split(","):
            if name in self._index:
                y[self._index[name]] = 1.0
        return x, y


def pad_collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack clips of different lengths: ``[batch, max_frames, bands]``, labels, lengths."""
    lengths = torch.tensor([x.shape[0] for x, _ in batch])
    xs = torch.nn.utils.rnn.pad_sequence([x for x, _ in batch], batch_first=True)
    return xs, torch.stack([y for _, y in batch]), lengths


def _demo_dest(root: Path) -> Path:
    """A tiny labelled corpus converted with the BEATs preset (variable-length features)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    rows = ["path,label"]
    for k in range(12):
        sf.write(root / f"clip{k}.wav", 0.1 * rng.standard_normal(int(16000 * (1 + k % 4))), 16000)
        rows.append(f'clip{k}.wav,"{["dog", "cat", "dog,bird"][k % 3]}"')
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    convert(source=root / "train.csv", dest=root / "feats", preset="beats", format="hdf5", quiet=True)
    return root / "feats"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(sys.argv[1]) if len(sys.argv) > 1 else _demo_dest(Path(tmp))
        dataset = FeatureDataset(dest)
        print(dataset.features, "labels:", dataset.label_names)
        loader = DataLoader(dataset, batch_size=4, shuffle=True, num_workers=2, collate_fn=pad_collate)
        for xs, ys, lengths in loader:
            print("batch", tuple(xs.shape), "labels", tuple(ys.shape), "frames", lengths.tolist())


if __name__ == "__main__":
    main()
