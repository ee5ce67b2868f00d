"""The one-command GPU check: parity, then throughput, a table last.

    python benchmarks/gpu_check.py --out results/gpu        # < 5 minutes on an H100/H200

1. Parity of every preset, CuPy backend (fused kernels and the xp path) vs the
   float64 reference; AST vs torchaudio ``compliance.kaldi.fbank`` and PANNs vs
   torchaudio ``MelSpectrogram`` when torchaudio is importable. Bounds in
   natural-log units: max abs 2e-3, p99.9 2e-4, mean 2e-5.
2. Throughput in hours of audio per second (h/s), 10 s clips at 16 kHz, AST
   geometry, batch sizes 64 / 256 / 1024: fastmel device-resident and from
   host NumPy (pinned staging, results back on the host); torchaudio per-clip
   kaldi.fbank loop and batched MelSpectrogram + log; nnAudio if present; the
   cuFFT floor (rfft alone on pre-framed, pre-padded frames); the pinned
   host-to-device copy rate as h/s of float32 input.

Every timing synchronises the device before reading the clock. Device, sizes
and versions go into ``DIR/gpu_check.json``. Imports nothing of soundfile,
soxr or librosa (the GPU machine may lack them).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import fastmel
from fastmel.backends.cupy_ import CupyBackend
from fastmel.presets import get_preset, preset_names
from fastmel.reference.pipeline import extract_clip, make_plan

RATE = 16000
SECONDS = 10.0
BOUNDS = {"max": 2e-3, "p999": 2e-4, "mean": 2e-5}


def _optional(name: str) -> Any:
    try:
        return __import__(name)
    except Exception:
        return None


def signals(config: Any, lengths_s: tuple[float, ...], seed: int = 0) -> list[np.ndarray]:
    """Seeded noise / chirp / silence / clipped clips (as tests/_xp_parity.py)."""
    rng = np.random.default_rng(seed)
    out = []
    for i, seconds in enumerate(lengths_s):
        n = int(round(seconds * config.sample_rate_hz))
        t = np.arange(n) / config.sample_rate_hz
        kind = i % 4
        x = (0.1 * rng.standard_normal(n) if kind == 0 else
             0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.03 * rng.standard_normal(n) if kind == 1 else
             np.zeros(n) if kind == 2 else np.clip(2.0 * rng.standard_normal(n), -1, 1))
        out.append(x.astype(np.float32))
    return out


def log_factor(config: Any) -> float:
    factor = {"log": 1.0, "log10": math.log(10), "db": math.log(10) / 10, "none": 1.0}[config.compress.kind]
    norm = config.normalize
    return factor * (abs(norm.divisor) if norm is not None and norm.mode == "fixed" else 1.0)


def stats(a: np.ndarray, b: np.ndarray, factor: float) -> dict[str, float]:
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) * factor
    return {"max": float(d.max()), "p999": float(np.percentile(d, 99.9)), "mean": float(d.mean())}


def worst(all_stats: list[dict[str, float]]) -> dict[str, Any]:
    w = {k: max(s[k] for s in all_stats) for k in BOUNDS}
    w["pass"] = all(w[k] <= BOUNDS[k] for k in BOUNDS)
    return w


# --------------------------------------------------------------------------- parity


def parity(torch: Any, torchaudio: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for kernels in ("fused", "xp"):
        backend = CupyBackend(kernels=kernels)
        for name in preset_names():
            config = get_preset(name)
            clips = signals(config, (1.0, 2.3, 0.5, 1.7))
            got = backend.extract(backend.prepare(config), clips)
            plan = make_plan(config)
            results[f"{name} cupy-{kernels} vs reference"] = worst(
                [stats(g, extract_clip(c, plan), log_factor(config)) for g, c in zip(got, clips)])
    if torchaudio is not None:
        results.update(_torchaudio_parity(torch, torchaudio))
    return results


def _torchaudio_parity(torch: Any, torchaudio: Any) -> dict[str, Any]:
    from torchaudio.compliance import kaldi

    out = {}
    config = get_preset("ast").replace(normalize=None, output=fastmel.OutputConfig())
    backend = CupyBackend()
    prepared = backend.prepare(config)
    clips = [c for c in signals(config, (10.0, 10.0, 10.0, 10.0)) if c.any()]
    rows = []
    for c in clips:
        ref = kaldi.fbank(torch.from_numpy(c)[None].cuda(), htk_compat=True, sample_frequency=RATE,
                          use_energy=False, window_type="hanning", num_mel_bins=128, dither=0.0,
                          frame_shift=10).cpu().numpy()
        rows.append(stats(backend.extract(prepared, [c])[0], ref, 1.0))
    out["ast (no norm) cupy vs torchaudio kaldi.fbank"] = worst(rows)
    config = get_preset("panns")
    prepared = backend.prepare(config)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=32000, n_fft=1024, hop_length=320, f_min=50.0, f_max=14000.0, n_mels=64,
        norm="slaney", mel_scale="slaney", center=True, pad_mode="reflect", power=2.0).cuda()
    rows = []
    for c in signals(config, (2.0, 3.0)):
        ref = 10.0 * torch.log10(torch.clamp(mel(torch.from_numpy(c).cuda()), min=1e-10)).T.cpu().numpy()
        rows.append(stats(backend.extract(prepared, [c])[0], ref, log_factor(config)))
    out["panns cupy vs torchaudio MelSpectrogram+dB"] = worst(rows)
    return out


# --------------------------------------------------------------------------- throughput


def timed(fn: Callable[[], Any], sync: Callable[[], None], *, min_s: float = 0.3, max_reps: int = 5) -> float:
    """Median seconds of ``fn`` after one warm-up, synchronising around each call."""
    fn()
    sync()
    times = []
    start_all = time.perf_counter()
    while len(times) < max_reps and (len(times) < 2 or time.perf_counter() - start_all < min_s):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def hours_per_s(n_clips: int, seconds: float) -> float:
    return n_clips * SECONDS / 3600.0 / seconds


def throughput(cupy: Any, torch: Any, torchaudio: Any, nnaudio: Any, batches: list[int]) -> dict[str, Any]:
    sync = cupy.cuda.Device().synchronize
    n = int(SECONDS * RATE)
    config = get_preset("ast")
    rows: dict[str, Any] = {}
    host_all = np.random.default_rng(0).standard_normal((max(batches), n), dtype=np.float32) * 0.1
    fused, xp_path = CupyBackend(), CupyBackend(kernels="xp")
    prep_fused, prep_xp = fused.prepare(config), xp_path.prepare(config)
    for b in batches:
        host = host_all[:b]
        dev = cupy.asarray(host)
        rows[f"fastmel fused, device input, batch {b}"] = hours_per_s(
            b, timed(lambda: fused.extract_any(prep_fused, dev), sync))
        rows[f"fastmel fused bfloat16 out, device, batch {b}"] = hours_per_s(
            b, timed(lambda: CupyBackend(output_dtype="bfloat16").extract_any(prep_fused, dev), sync))
        rows[f"fastmel xp path, device input, batch {b}"] = hours_per_s(
            b, timed(lambda: xp_path.extract_any(prep_xp, dev), sync, max_reps=2))
        clips = list(host)
        rows[f"fastmel fused, host numpy in/out, batch {b}"] = hours_per_s(
            b, timed(lambda: fused.extract(prep_fused, clips), sync))
        frames = cupy.zeros((b * 998, 512), dtype=cupy.float32)
        rows[f"cuFFT floor (rfft of pre-framed), batch {b}"] = hours_per_s(
            b, timed(lambda: cupy.fft.rfft(frames, axis=1), sync))
        del frames
        pinned = np.frombuffer(cupy.cuda.alloc_pinned_memory(host.nbytes), np.float32, host.size)
        pinned[:] = host.ravel()
        target = cupy.empty(host.size, cupy.float32)
        rows[f"pinned host-to-device copy (float32 input), batch {b}"] = hours_per_s(
            b, timed(lambda: target.set(pinned), sync))
        if torch is not None and torchaudio is not None:
            rows.update(_torch_rows(torch, torchaudio, nnaudio, host, b))
        cupy.get_default_memory_pool().free_all_blocks()
    return rows


def _torch_rows(torch: Any, torchaudio: Any, nnaudio: Any, host: np.ndarray, b: int) -> dict[str, float]:
    from torchaudio.compliance import kaldi

    sync = torch.cuda.synchronize
    waves = torch.from_numpy(host).cuda()
    rows = {}
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=RATE, n_fft=512, win_length=400, hop_length=160,
                                               n_mels=128, center=False).cuda()
    rows[f"torchaudio MelSpectrogram + log, device, batch {b}"] = hours_per_s(
        b, timed(lambda: torch.log(mel(waves) + 1e-6), sync))
    if b == 64:  # the per-clip loop is slow: time 16 clips
        def loop() -> None:
            for w in waves[:16]:
                kaldi.fbank(w[None], htk_compat=True, sample_frequency=RATE, use_energy=False,
                            window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)
        rows["torchaudio kaldi.fbank per-clip loop, device"] = hours_per_s(16, timed(loop, sync, max_reps=2))
    if nnaudio is not None:
        from nnAudio import features

        spec = features.MelSpectrogram(sr=RATE, n_fft=512, win_length=400, hop_length=160, n_mels=128,
                                       center=False, verbose=False).cuda()
        rows[f"nnAudio MelSpectrogram, device, batch {b}"] = hours_per_s(b, timed(lambda: spec(waves), sync))
    return rows


# --------------------------------------------------------------------------- main


def environment(cupy: Any, torch: Any, torchaudio: Any, nnaudio: Any) -> dict[str, Any]:
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return {
        "device": name, "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
        "cupy": cupy.__version__, "numpy": np.__version__, "fastmel": fastmel.__version__,
        "torch": getattr(torch, "__version__", None), "torchaudio": getattr(torchaudio, "__version__", None),
        "nnAudio": getattr(nnaudio, "__version__", None) if nnaudio is not None else None,
        "python": sys.version.split()[0], "platform": platform.platform(),
        "clip": {"seconds": SECONDS, "sample_rate_hz": RATE, "preset": "ast"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_check_results"), help="folder for gpu_check.json")
    parser.add_argument("--batches", default="64,256,1024", help="comma-separated batch sizes")
    parser.add_argument("--skip-parity", action="store_true")
    args = parser.parse_args(argv)
    import cupy

    torch, torchaudio, nnaudio = _optional("torch"), _optional("torchaudio"), _optional("nnAudio")
    if torch is not None and not torch.cuda.is_available():
        torch = torchaudio = nnaudio = None
    started = time.perf_counter()
    report: dict[str, Any] = {"environment": environment(cupy, torch, torchaudio, nnaudio), "bounds": BOUNDS}
    if not args.skip_parity:
        report["parity"] = parity(torch, torchaudio)
        print(f"parity done in {time.perf_counter() - started:.0f} s", flush=True)
    report["throughput_hours_per_s"] = throughput(cupy, torch, torchaudio, nnaudio,
                                                  [int(b) for b in args.batches.split(",")])
    report["wall_seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(f"\n{report['environment']['device']}  (cupy {cupy.__version__})")
    for key, value in report.get("parity", {}).items():
        flag = "ok  " if value["pass"] else "FAIL"
        print(f"{flag} {key:55s} max {value['max']:.1e}  p99.9 {value['p999']:.1e}  mean {value['mean']:.1e}")
    print(f"\n{'what':65s} {'h/s':>10s}")
    for key, value in report["throughput_hours_per_s"].items():
        print(f"{key:65s} {value:10.1f}")
    print(f"\nwall {report['wall_seconds']:.0f} s; JSON in {args.out / 'gpu_check.json'}")
    return 0 if all(v["pass"] for v in report.get("parity", {}).values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
