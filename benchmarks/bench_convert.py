"""Throughput of ``fastmel convert`` against a plain loop doing the same work.

    python benchmarks/bench_convert.py                    # 2,000 clips of 1-10 s
    python benchmarks/bench_convert.py --clips 500 --workers 2 --formats npy hdf5

The corpus (seeded) mixes 16 kHz / 44.1 kHz / 48 kHz mono and stereo WAV and
FLAC of 1 to 10 s. The baseline splits the same files across the same number
of processes, each running ``load -> Extractor`` in a plain ``for`` loop and
discarding the result; ``convert`` does that plus writing, the manifest and
scheduling. Overhead = convert wall time / baseline wall time - 1
(target <= 15%). Both include starting the worker processes. On a shared
machine wall time is noisy, so CPU seconds (this process plus its reaped
worker processes, user + sys) are reported beside it.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_corpus(root: Path, *, clips: int, seed: int = 0) -> float:
    """Write ``clips`` files; returns their total duration in seconds."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    kinds = [(16000, 1, "WAV", "PCM_16", ".wav"), (44100, 2, "FLAC", "PCM_16", ".flac"),
             (48000, 1, "WAV", "PCM_16", ".wav"), (16000, 1, "FLAC", "PCM_16", ".flac")]
    total = 0.0
    for k in range(clips):
        rate, channels, fmt, subtype, ext = kinds[k % len(kinds)]
        seconds = float(rng.uniform(1.0, 10.0))
        data = (0.1 * rng.standard_normal((int(seconds * rate), channels))).astype(np.float32)
        path = root / f"d{k % 20:02d}" / f"clip{k:05d}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, data, rate, format=fmt, subtype=subtype)
        total += data.shape[0] / rate
    return total


def _plain_loop(paths: list[str], preset: str, save_to: str | None = None) -> int:
    import fastmel

    ex = fastmel.Extractor(preset, num_threads=1)
    for i, path in enumerate(paths):
        samples, sr = fastmel.load(path, sample_rate=ex.sample_rate_hz)
        features = ex(samples, sample_rate=sr)
        if save_to is not None:
            np.save(os.path.join(save_to, f"{os.getpid()}-{i}.npy"), features)
    return len(paths)


def cpu_seconds() -> float:
    """User + sys CPU of this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, *args, **kwargs) -> tuple[float, float]:
    """(wall s, CPU s) of ``fn(*args, **kwargs)``."""
    cpu, start = cpu_seconds(), time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start, cpu_seconds() - cpu


def baseline(paths: list[str], *, preset: str, workers: int, save_to: str | None = None) -> None:
    """The plain loops, ``workers`` processes (spawn), equal shares; ``save_to``: np.save each result there."""
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        shares = [paths[i::workers] for i in range(workers)]
        assert sum(pool.map(_plain_loop, shares, [preset] * workers, [save_to] * workers)) == len(paths)


def run_convert(src: Path, dest: Path, *, fmt: str, preset: str, workers: int) -> None:
    from fastmel.convert import convert

    summary = convert(source=src, dest=dest, preset=preset, format=fmt, workers=workers, quiet=True)
    assert summary.failed == 0 and summary.converted == summary.total, str(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--preset", default="ast")
    parser.add_argument("--formats", nargs="+", default=["npy", "hdf5", "webdataset"])
    parser.add_argument("--workdir", default=None, help="where the corpus and outputs go (default: a temp dir)")
    args = parser.parse_args()

    import fastmel

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_convert_"))
    src = work / "src"
    t0 = time.perf_counter()
    audio_s = make_corpus(src, clips=args.clips)
    print(f"corpus: {args.clips} clips, {audio_s / 3600:.2f} h of audio, made in {time.perf_counter() - t0:.0f} s")
    print(f"fastmel {fastmel.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, workers={args.workers}, "
          f"preset={args.preset}, backend=auto -> {fastmel.Extractor(args.preset).backend_name}, "
          f"load average {os.getloadavg()[0]:.1f}")
    paths = sorted(str(p) for p in src.rglob("*") if p.is_file())
    base = timed(baseline, paths, preset=args.preset, workers=args.workers)
    saves = work / "plain_saves"
    shutil.rmtree(saves, ignore_errors=True)
    saves.mkdir()
    with_saves = timed(baseline, paths, preset=args.preset, workers=args.workers, save_to=str(saves))
    shutil.rmtree(saves, ignore_errors=True)
    rows = [("plain loop (no writes)", base), ("plain loop + np.save each", with_saves)]
    for fmt in args.formats:
        dest = work / f"out_{fmt}"
        shutil.rmtree(dest, ignore_errors=True)
        rows.append((f"convert --format {fmt}", timed(run_convert, src, dest, fmt=fmt, preset=args.preset,
                                                      workers=args.workers)))
    print("\nOverheads: against the plain loop, and (in brackets) against the plain loop that also")
    print("writes each result with np.save, which is the conversion's own I/O, not orchestration.")
    print("\n| run | wall s | files/s | audio h/s | wall overhead | CPU s | CPU overhead |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (wall, cpu) in rows:
        over = "-" if name == rows[0][0] else f"{100 * (wall / base[0] - 1):+.1f}%"
        cpu_over = "-" if name == rows[0][0] else f"{100 * (cpu / base[1] - 1):+.1f}%"
        if name.startswith("convert"):
            over += f" [{100 * (wall / with_saves[0] - 1):+.1f}%]"
            cpu_over += f" [{100 * (cpu / with_saves[1] - 1):+.1f}%]"
        print(f"| {name} | {wall:.1f} | {len(paths) / wall:.1f} | {audio_s / 3600 / wall:.3f} | {over} "
              f"| {cpu:.1f} | {cpu_over} |")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
