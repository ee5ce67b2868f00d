"""The throughput harness behind ``fastmel bench``: fastmel's presets on each
backend, its peers and the FFT floor, side by side in one process.

Workload: ``batch`` seeded speech-like clips of ``seconds`` seconds at the
preset's rate (default 32 x 10 s; Whisper presets 30 s), each timed as the
median of ``repeats`` calls after one first call (reported: compile / load
time). Ratios are only meaningful between rows of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["BenchRecord", "run_benchmark", "format_table", "add_parser", "run_bench", "environment"]

PEERS = ("transformers", "librosa", "kaldi-native-fbank", "torchaudio", "fft-floor")


@dataclass
class BenchRecord:
    """One timed row. ``x_realtime`` = audio seconds per wall second."""

    preset: str
    what: str                  # "fastmel/numba", "peer/librosa", "floor/scipy-rfft", ...
    threads: int
    audio_seconds: float
    median_s: float | None = None
    first_call_s: float | None = None
    x_realtime: float | None = None
    hours_per_s: float | None = None
    skipped: str | None = None
    ratios: dict[str, float] = field(default_factory=dict)  # fastmel rows: x_realtime / peer's


def environment() -> dict[str, Any]:
    """Versions and device of this run."""
    info: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                            "processor": platform.processor() or platform.uname().machine,
                            "cpu_count": os.cpu_count()}
    for name in ("fastmel", "numpy", "scipy", "numba", "transformers", "librosa", "kaldi_native_fbank",
                 "torch", "torchaudio"):
        try:
            info[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - a missing peer is just absent
            info[name] = None
    return info


def _clips(preset: str, batch: int, seconds: float) -> list[np.ndarray]:
    from .presets import get_preset

    config = get_preset(preset)
    rate = config.sample_rate_hz
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    out = []
    for _ in range(batch):  # seeded harmonic "voice" plus a little noise
        f0 = rng.uniform(90, 220)
        wave = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.28)) / h for h in range(1, 12))
        wave = 0.2 * wave * (0.6 + 0.4 * np.sin(2 * np.pi * 3.7 * t)) + 0.01 * rng.standard_normal(n)
        out.append(wave.astype(np.float32))
    return out


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


# ----------------------------------------------------------------------------- peers


def _peer_runner(peer: str, preset: str, clips: list[np.ndarray], threads: int) -> Callable[[], Any]:
    """A zero-argument callable running ``peer`` on ``clips``; raises ImportError /
    LookupError (with the reason) when the peer cannot run this preset here."""
    from .presets import get_preset

    config = get_preset(preset)
    rate = config.sample_rate_hz
    if peer == "transformers":
        if preset == "ast":
            from transformers import ASTFeatureExtractor

            fe = ASTFeatureExtractor()
        elif preset in ("whisper", "whisper-128"):
            from transformers import WhisperFeatureExtractor

            fe = WhisperFeatureExtractor(feature_size=config.mel.n_mels)
        else:
            raise LookupError(f"transformers has no extractor for preset {preset!r}")
        return lambda: fe(clips, sampling_rate=rate, return_tensors="np")
    if peer == "librosa":
        if preset != "librosa":
            raise LookupError("librosa peer runs the librosa preset only")
        import librosa

        batch = np.stack(clips)
        return lambda: librosa.power_to_db(librosa.feature.melspectrogram(y=batch, sr=rate))
    if peer == "kaldi-native-fbank":
        if config.frame.center or config.mel.scale != "kaldi":
            raise LookupError(f"kaldi-native-fbank computes Kaldi fbank, not preset {preset!r}")
        import kaldi_native_fbank as knf

        opts = knf.FbankOptions()
        opts.frame_opts.dither = 0.0
        opts.frame_opts.window_type = "hanning" if config.window.kind == "hann" else config.window.kind
        opts.mel_opts.num_bins = config.mel.n_mels
        # kaldi-native-fbank refuses a bank with an empty band (128 bins from 20 Hz, AST's and
        # BEATs'); from 30 Hz it accepts 128 bins, at the same cost per frame.
        opts.mel_opts.low_freq = 30.0 if config.mel.n_mels > 100 else config.mel.fmin_hz

        def run() -> list[np.ndarray]:
            out = []
            for clip in clips:
                fb = knf.OnlineFbank(opts)
                fb.accept_waveform(rate, clip * config.signal.scale)
                fb.input_finished()
                out.append(np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)]))
            return out

        return run
    if peer == "torchaudio":
        import torch
        import torchaudio

        torch.set_num_threads(threads)
        tensors = [torch.from_numpy(c)[None] for c in clips]
        if config.mel.scale == "kaldi":
            kw = dict(num_mel_bins=config.mel.n_mels, sample_frequency=rate, dither=0.0,
                      window_type="hanning" if config.window.kind == "hann" else config.window.kind)
            return lambda: [torchaudio.compliance.kaldi.fbank(t, **kw) for t in tensors]
        mel = torchaudio.transforms.MelSpectrogram(sample_rate=rate, n_fft=config.spectrum.n_fft,
                                                   win_length=config.frame.win_length,
                                                   hop_length=config.frame.hop_length, n_mels=config.mel.n_mels,
                                                   norm="slaney", mel_scale="slaney")
        batch = torch.from_numpy(np.stack(clips))
        return lambda: torch.log10(torch.clamp(mel(batch), min=1e-10))
    raise LookupError(f"unknown peer {peer!r}")


def _fft_floor(preset: str, clips: list[np.ndarray], threads: int) -> dict[str, Callable[[], Any]]:
    """scipy.fft.rfft alone on the preset's frames, pre-framed and pre-windowed
    (whole batch), and pre-padded to n_fft in blocks of 1,024 frames."""
    import scipy.fft

    from .presets import get_preset
    from .reference.framing import frame_signal

    config = get_preset(preset)
    n_fft = config.spectrum.n_fft
    frames = np.concatenate([frame_signal(c, config.frame, n_fft=n_fft) for c in clips]).astype(np.float32)
    padded = np.zeros((frames.shape[0], n_fft), np.float32)
    padded[:, : frames.shape[1]] = frames

    def blocks() -> None:
        for i in range(0, padded.shape[0], 1024):
            scipy.fft.rfft(padded[i:i + 1024], axis=-1, workers=threads)

    return {"floor/scipy-rfft": lambda: scipy.fft.rfft(frames, n=n_fft, axis=-1, workers=threads),
            "floor/scipy-rfft-blocks1024": blocks}


# ----------------------------------------------------------------------------- harness


def run_benchmark(*, presets: Sequence[str] = ("ast",), backends: Sequence[str] = ("numba", "numpy"),
                  batch: int = 32, seconds: float | None = None, threads: Sequence[int] | None = None,
                  peers: Sequence[str] = PEERS, repeats: int = 5) -> list[BenchRecord]:
    """Time every preset on every backend, its peers and the FFT floor.

    Parameters
    ----------
    presets, backends, peers : names; a missing peer or backend becomes a skipped record.
    batch : clips per call. seconds : clip length (None: 30 for Whisper presets, else 10).
    threads : thread counts to run (None: 1 and all cores).
    repeats : timed calls per row (the median is reported) after one first call.

    Returns
    -------
    list of BenchRecord, fastmel rows carrying ``ratios`` to every peer and floor
    row of the same preset and thread count.
    """
    from .extractor import Extractor

    threads = list(threads) if threads else sorted({1, os.cpu_count() or 1})
    records: list[BenchRecord] = []
    for preset in presets:
        length = seconds if seconds is not None else (30.0 if preset.startswith("whisper") else 10.0)
        clips = _clips(preset, batch, length)
        audio = batch * length
        rate = int(Extractor(preset, backend="reference").sample_rate_hz)
        for n_threads in threads:
            rows: list[BenchRecord] = []
            for backend in backends:
                row = BenchRecord(preset, f"fastmel/{backend}", n_threads, audio)
                try:
                    ex = Extractor(preset, backend=backend, num_threads=n_threads)
                    row.first_call_s, row.median_s = _time(lambda: ex(clips, sample_rate=rate), repeats)
                except ImportError as exc:
                    row.skipped = str(exc)
                rows.append(row)
            runners: dict[str, Callable[[], Any]] = {}
            for peer in peers:
                try:
                    if peer == "fft-floor":
                        runners.update(_fft_floor(preset, clips, n_threads))
                    else:
                        runners[f"peer/{peer}"] = _peer_runner(peer, preset, clips, n_threads)
                except (ImportError, LookupError) as exc:
                    if not isinstance(exc, LookupError):
                        rows.append(BenchRecord(preset, f"peer/{peer}", n_threads, audio, skipped=str(exc)))
            for name, fn in runners.items():
                row = BenchRecord(preset, name, n_threads, audio)
                try:
                    row.first_call_s, row.median_s = _time(fn, repeats)
                except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, not fatal
                    row.skipped = f"{type(exc).__name__}: {exc}"
                rows.append(row)
            for row in rows:
                if row.median_s:
                    row.x_realtime = row.audio_seconds / row.median_s
                    row.hours_per_s = row.x_realtime / 3600.0
            for row in rows:
                if row.what.startswith("fastmel/") and row.x_realtime:
                    row.ratios = {o.what: row.x_realtime / o.x_realtime for o in rows
                                  if not o.what.startswith("fastmel/") and o.x_realtime}
            records.extend(rows)
    return records


def format_table(records: Sequence[BenchRecord]) -> str:
    """A plain-text table, one row per record."""
    lines = [f"{'preset':<12} {'what':<30} {'thr':>3} {'median ms':>10} {'x realtime':>11} {'h/s':>7} "
             f"{'first ms':>9}  ratios / skipped"]
    for r in records:
        if r.skipped:
            lines.append(f"{r.preset:<12} {r.what:<30} {r.threads:>3} {'':>10} {'':>11} {'':>7} {'':>9}  "
                         f"skipped: {r.skipped[:90]}")
            continue
        ratios = ", ".join(f"{k.split('/', 1)[1]} {v:.2f}x" for k, v in r.ratios.items())
        lines.append(f"{r.preset:<12} {r.what:<30} {r.threads:>3} {r.median_s * 1e3:>10.1f} {r.x_realtime:>11,.0f} "
                     f"{r.hours_per_s:>7.2f} {r.first_call_s * 1e3:>9.0f}  {ratios}")
    return "\n".join(lines)


def _plot(records: Sequence[BenchRecord], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in records if r.x_realtime]
    labels = [f"{r.preset} {r.what} t{r.threads}" for r in done]
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(done) + 1.5))
    ax.barh(labels, [r.x_realtime for r in done],
            color=["tab:blue" if r.what.startswith("fastmel") else "tab:gray" for r in done])
    ax.set_xlabel("x realtime (audio seconds per wall second)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on an argparse subparsers object."""
    parser = subparsers.add_parser("bench", help="throughput of presets, backends and peers side by side",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", action="append", help="preset name (repeatable; default ast)")
    parser.add_argument("--backend", action="append", help="backend name (repeatable; default numba, numpy)")
    parser.add_argument("--batch", type=int, default=32, help="clips per call (default 32)")
    parser.add_argument("--seconds", type=float, default=None, help="clip length (default 10, Whisper 30)")
    parser.add_argument("--threads", type=int, action="append", help="thread count (repeatable; default 1 and all)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated peers, or 'none' (default {','.join(PEERS)})")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per row (default 5)")
    parser.add_argument("--json", metavar="PATH", help="write records and environment as JSON")
    parser.add_argument("--plot", metavar="PATH.png", help="write a bar chart (needs matplotlib)")
    parser.set_defaults(func=run_bench)
    return parser


def run_bench(args: argparse.Namespace) -> int:
    """Run ``fastmel bench`` from parsed arguments; returns the exit code."""
    peers = () if args.peers in ("", "none") else tuple(p.strip() for p in args.peers.split(","))
    records = run_benchmark(presets=args.preset or ["ast"], backends=args.backend or ["numba", "numpy"],
                            batch=args.batch, seconds=args.seconds, threads=args.threads, peers=peers,
                            repeats=args.repeats)
    env = environment()
    print(" ".join(f"{k}={v}" for k, v in env.items() if v is not None))
    print(format_table(records))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "records": [asdict(r) for r in records]}, fh, indent=2)
    if args.plot:
        _plot(records, args.plot)
    return 0


if __name__ == "__main__":  # python -m fastmel.bench ...
    _parser = argparse.ArgumentParser(prog="fastmel")
    add_parser(_parser.add_subparsers(required=True))
    _args = _parser.parse_args()
    raise SystemExit(_args.func(_args))
