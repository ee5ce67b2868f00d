"""Classify an audio file with an AST model: fastmel features + fastmel's NumPy AST, no PyTorch.

    python examples/classify_file.py sound.wav --model MIT/ast-finetuned-audioset-10-10-0.4593

``--model`` is a Hugging Face model directory (config.json + model.safetensors) or a hub id
(needs huggingface_hub; downloaded once into its cache).
"""

from __future__ import annotations

import argparse

import numpy as np

from fastmel import extract, load
from fastmel.models import AST


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--model", default="MIT/ast-finetuned-audioset-10-10-0.4593")
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args()

    model = AST.from_pretrained(args.model)  # refuses models that do not take the "ast" preset
    waveform, rate = load(args.file, sample_rate=16000)  # [n_samples] float32, mono
    clip = waveform[: 10 * rate]  # AST sees 10.24 s; `fastmel classify` windows longer files
    features = extract(clip, preset="ast", sample_rate=rate)  # [1024 frames, 128 bins] float32
    for label in model.classify(features[np.newaxis], top_k=args.top_k)[0]:
        print(f"{label.score:.3f}  {label.name}")


if __name__ == "__main__":
    main()
