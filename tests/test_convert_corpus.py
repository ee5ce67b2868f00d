"""A generated, seeded audio corpus for the convert tests, and checks that it is what it claims.

``make_corpus(root, n_good=...)`` writes a mix of WAV (8-bit unsigned, 16,
24-bit PCM, float), FLAC and OGG/Vorbis at 8 to 48 kHz, mono, stereo and
6-channel, mostly 0.3 to 3 s, a few shorter than one 25 ms window, and a
couple of minute-long clips, in nested folders; plus planted bad files.
It returns ``{"good": [rel paths], "bad": {rel path: what is wrong}, "short": [...]}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import fastmel

# (subtype, extension, soundfile format)
_KINDS = [
    ("PCM_U8", ".wav", "WAV"),
    ("PCM_16", ".wav", "WAV"),
    ("PCM_24", ".wav", "WAV"),
    ("FLOAT", ".wav", "WAV"),
    ("PCM_16", ".flac", "FLAC"),
    ("PCM_24", ".flac", "FLAC"),
    ("VORBIS", ".ogg", "OGG"),
]
_RATES = [8000, 11025, 16000, 22050, 32000, 44100, 48000]
_CHANNELS = [1, 1, 2, 2, 6]


def _signal(rng: np.random.Generator, n: int, channels: int, rate: int) -> np.ndarray:
    t = np.arange(n) / rate
    tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, rate / 4) * t)[:, None]
    return (tone + 0.05 * rng.standard_normal((n, channels))).clip(-0.99, 0.99)  # [n, channels]


def _durations(n_good: int, rng: np.random.Generator, long_s: tuple[float, ...]) -> list[float]:
    durations = list(rng.uniform(0.3, 3.0, size=n_good - 3 - len(long_s)))
    return durations + [0.004, 0.01, 0.02] + list(long_s)  # three shorter than a 25 ms window


def make_corpus(root: Path, *, n_good: int = 120, seed: int = 0, long_s: tuple[float, ...] = (60.0, 95.0),
                bad: bool = True) -> dict:
    """Write the corpus under ``root``; see the module docstring."""
    rng = np.random.default_rng(seed)
    good, short = [], []
    for k, seconds in enumerate(_durations(n_good, rng, long_s)):
        subtype, ext, fmt = _KINDS[k % len(_KINDS)]
        rate = _RATES[k % len(_RATES)] if seconds < 30 else 16000
        channels = _CHANNELS[k % len(_CHANNELS)]
        n = max(1, int(seconds * rate))
        folder = ["", "speech", "music/live", "music/studio"][k % 4]
        rel = f"{folder}/clip{k:03d}{ext.upper() if k % 17 == 5 else ext}".lstrip("/")
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _signal(rng, n, channels, rate), rate, subtype=subtype, format=fmt)
        good.append(rel)
        if seconds < 0.025:
            short.append(rel)
    return {"good": good, "short": short, "bad": _plant_bad(root, rng) if bad else {}}


def _plant_bad(root: Path, rng: np.random.Generator) -> dict[str, str]:
    bad = root / "bad"
    bad.mkdir(exist_ok=True)
    sf.write(bad / "whole.wav", np.zeros(1600, np.float32), 16000, subtype="PCM_16")
    (bad / "truncated_header.wav").write_bytes((bad / "whole.wav").read_bytes()[:20])
    (bad / "whole.wav").unlink()
    (bad / "zero_bytes.wav").write_bytes(b"")
    (bad / "random_bytes.wav").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (bad / "text.flac").write_text("this is not audio\n" * 20)
    (bad / "readme.txt").write_text("not scanned: .txt is not an audio extension\n")
    nan = np.full((4000, 1), 0.1, np.float32)
    nan[100:200] = np.nan
    sf.write(bad / "nan_samples.wav", nan, 16000, subtype="FLOAT")
    return {"bad/truncated_header.wav": "cannot read", "bad/zero_bytes.wav": "cannot read",
            "bad/random_bytes.wav": "cannot read", "bad/text.flac": "cannot read",
            "bad/nan_samples.wav": "non-finite"}


def expected_features(path: Path, *, preset: str, dtype: str = "float32") -> np.ndarray:
    """The oracle: ``fastmel.extract`` on ``fastmel.load`` at the preset's rate."""
    rate = fastmel.get_preset(preset).sample_rate_hz
    samples, sr = fastmel.load(path, sample_rate=rate)
    return np.asarray(fastmel.extract(samples, sample_rate=sr, preset=preset)).astype(dtype)


def item_id(rel: str) -> str:
    return rel.rsplit(".", 1)[0]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- the corpus is what it claims

@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("corpus_check")
    return root, make_corpus(root, n_good=len(_KINDS) * 2 + 4, long_s=())


def test_corpus_good_files_decode_with_their_declared_layout(small_corpus):
    root, corpus = small_corpus
    seen = {(sf.info(root / rel).format, sf.info(root / rel).subtype) for rel in corpus["good"]}
    assert {(fmt, sub) for sub, _, fmt in _KINDS} <= seen
    assert {sf.info(root / rel).channels for rel in corpus["good"]} == {1, 2, 6}


def test_corpus_bad_files_fail_to_load(small_corpus):
    root, corpus = small_corpus
    for rel in corpus["bad"]:
        with pytest.raises(fastmel.AudioError):
            fastmel.load(root / rel)
