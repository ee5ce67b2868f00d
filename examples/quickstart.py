"""Quick start: make a small corpus of audio, extract model features from it.

Run:  python examples/quickstart.py [--out DIR]

It writes a few WAV/FLAC files (tones, a chirp, noise, and speech when
espeak-ng is installed), extracts AST, Whisper and PANNs features from them
with the Python API, writes them with the CLI, and, when the converter's
extras are installed, converts the whole folder with ``fastmel convert``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import fastmel


def make_corpus(folder: Path) -> list[Path]:
    """A handful of seeded clips at several rates and formats."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i, (rate, seconds) in enumerate([(16000, 3.0), (44100, 5.0), (22050, 2.5), (48000, 10.0)]):
        t = np.arange(int(rate * seconds)) / rate
        chirp = np.sin(2 * np.pi * (100 + 2000 * t / seconds) * t)
        tone = 0.4 * np.sin(2 * np.pi * 440 * (i + 1) * t)
        clip = 0.3 * chirp + tone + 0.02 * rng.standard_normal(t.size)
        path = folder / (f"clip{i}.flac" if i % 2 else f"clip{i}.wav")
        sf.write(path, clip / np.abs(clip).max() * 0.9, rate)
        paths.append(path)
    if shutil.which("espeak-ng"):
        speech = folder / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(speech), "fastmel turns audio into features, fast."], check=True)
        paths.append(speech)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="fastmel-demo-")))
    args = parser.parse_args()
    paths = make_corpus(args.out / "audio")
    print(f"made {len(paths)} audio files in {args.out / 'audio'}")

    for preset in ("ast", "whisper", "panns"):
        extractor = fastmel.Extractor(preset)  # window, filterbank, kernels built once
        rate = extractor.sample_rate_hz
        clips = [fastmel.load(p, sample_rate=rate)[0] for p in paths]
        start = time.perf_counter()
        extractor(clips[0][: rate], sample_rate=rate)  # the first call compiles Numba kernels (cached on disk)
        warmup = time.perf_counter() - start
        start = time.perf_counter()
        features = extractor(clips, sample_rate=rate)  # a ragged batch: one array per clip
        seconds = time.perf_counter() - start
        audio_seconds = sum(c.size for c in clips) / rate
        print(f"{preset:>8} ({extractor.backend_name}): {[f.shape for f in features][:3]}... "
              f"{audio_seconds / seconds:,.0f}x realtime (first call {warmup:.1f} s)")

    out = args.out / "ast.npz"
    subprocess.run(["fastmel", "extract", *map(str, paths), "--preset", "ast", "-o", str(out)], check=True)
    print(f"fastmel extract wrote {out}: {sorted(np.load(out).files)}")

    dest = args.out / "features"
    summary = fastmel.convert(source=args.out / "audio", dest=dest, preset="ast", format="hdf5", quiet=True)
    store = fastmel.open_features(dest)
    first = store[0]
    print(summary)
    print(f"open_features: {len(store)} clips; {first.id}: {first.features.shape} {first.features.dtype}")


if __name__ == "__main__":
    main()
