"""AST-base inference throughput: fastmel (NumPy / CuPy) vs transformers, same run, same weights.

    python benchmarks/bench_ast_model.py --batch 4 --repeats 3

Random weights (seeded) in the AST-base geometry (12 layers, 768 wide, 1024
frames x 128 bins, 527 classes), saved once with save_pretrained and loaded by
both. Timings alternate between the implementations so that machine load hits
both alike; medians are reported. Also measures, in a fresh subprocess, the
peak host memory of classifying one 10 s clip on the CPU relative to the
weights' size (target <= 2x).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MEMORY_PROBE = r"""
import sys, numpy as np
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
from fastmel import extract
from fastmel.models import AST
base = rss("VmRSS:")
model = AST.from_pretrained(sys.argv[1])
t = np.arange(160000) / 16000
waveform = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # 10 s at 16 kHz
labels = model.classify(extract(waveform, preset="ast", sample_rate=16000), top_k=5)
print(base, rss("VmHWM:"), model.n_parameter_bytes())
"""


def _time(fn, *, sync=lambda: None) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def _row(name: str, seconds: list[float], batch: int, ref: float | None) -> str:
    med = statistics.median(seconds)
    ratio = f"{ref / med:5.2f}x" if ref else "  1.00x"
    return f"| {name:<34} | {med:8.3f} | {batch / med:8.2f} | {ratio} |"


def bench_cpu(model_dir: Path, hf_model, *, batch: int, repeats: int) -> list[str]:
    import torch

    from fastmel.models import AST

    features = np.random.default_rng(0).normal(0, 0.5, (batch, 1024, 128)).astype(np.float32)
    ours = AST.from_pretrained(model_dir)
    x = torch.from_numpy(features)
    with torch.inference_mode():
        runs = {"hf": lambda: hf_model(x), "np": lambda: ours.forward(features)}
        for fn in runs.values():
            fn()  # warm-up
        times = {k: [] for k in runs}
        for _ in range(repeats):
            for k, fn in runs.items():
                times[k].append(_time(fn))
        rel = np.abs(ours.forward(features[:1]) - hf_model(x[:1]).logits.numpy()).max()
    ref = statistics.median(times["hf"])
    return [
        _row("transformers float32 (torch CPU)", times["hf"], batch, None),
        _row("fastmel NumPy float32", times["np"], batch, ref),
        f"(max |logit diff| {rel:.2e}; torch threads {torch.get_num_threads()})",
    ]


def bench_gpu(model_dir: Path, hf_model, *, batch: int, repeats: int) -> list[str]:
    try:
        import cupy
        import torch

        from fastmel.models import AST
        from fastmel.models._array import import_cupy

        import_cupy()
        if not torch.cuda.is_available():
            return ["(GPU present but torch has no CUDA: transformers GPU baseline skipped)"]
    except Exception as exc:  # noqa: BLE001 - report why and go on
        return [f"(no GPU run: {exc})"]
    features = np.random.default_rng(0).normal(0, 0.5, (batch, 1024, 128)).astype(np.float32)
    x_gpu = cupy.asarray(features)
    sync = cupy.cuda.Device().synchronize
    rows = []
    hf_bf16 = hf_model.to("cuda", dtype=torch.bfloat16)
    xt = torch.from_numpy(features).to("cuda", dtype=torch.bfloat16)
    runs = {"transformers bfloat16 (torch CUDA)": lambda: hf_bf16(xt)}
    for dtype in ("float32", "bfloat16"):
        try:
            m = AST.from_pretrained(model_dir, backend="cupy", dtype=dtype)
            runs[f"fastmel CuPy {dtype}"] = (lambda m=m: m.forward(x_gpu))
        except Exception as exc:  # noqa: BLE001
            rows.append(f"(fastmel CuPy {dtype} unavailable: {exc})")
    times = {k: [] for k in runs}
    with torch.inference_mode():
        for fn in runs.values():
            fn()
        for _ in range(repeats):
            for k, fn in runs.items():
                times[k].append(_time(fn, sync=lambda: (torch.cuda.synchronize(), sync())))
    ref = statistics.median(times["transformers bfloat16 (torch CUDA)"])
    rows += [_row(k, v, batch, None if k.startswith("transformers") else ref) for k, v in times.items()]
    rows.append(f"(device: {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()})")
    return rows


def memory_probe(model_dir: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(model_dir)], capture_output=True, text=True, env=env)
    if out.returncode:
        return f"memory probe failed: {out.stderr.strip().splitlines()[-1]}"
    base, peak, weights = map(int, out.stdout.split()[-3:])
    file_size = (model_dir / "model.safetensors").stat().st_size
    return (f"peak RSS classifying one 10 s clip: {peak / 2**20:.0f} MiB total, {(peak - base) / 2**20:.0f} MiB above "
            f"the imports; weights {weights / 2**20:.0f} MiB ({file_size / 2**20:.0f} MiB file): "
            f"{(peak - base) / weights:.2f}x the weights above imports, {peak / weights:.2f}x in total")


def _thread_limit(threads: int | None):
    """Same CPU thread count for torch and for NumPy's BLAS, or a no-op context for None."""
    import contextlib

    import torch

    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    return threadpool_limits(limits=threads, user_api="blas")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="clips per forward (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="timed forwards per implementation (default 3)")
    parser.add_argument("--gpu-batch", type=int, default=64, help="clips per forward on the GPU (default 64)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for both torch (set_num_threads) and NumPy's BLAS (threadpoolctl); "
                             "default: each library's own default")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probe")
    args = parser.parse_args()

    import torch
    import transformers
    from transformers import ASTConfig, ASTForAudioClassification

    torch.manual_seed(0)
    hf_model = ASTForAudioClassification(ASTConfig(num_labels=527)).eval()
    with torch.no_grad():
        for name, p in hf_model.named_parameters():
            p.normal_(0.0, 0.02)
            if "layernorm" in name and name.endswith("weight"):
                p += 1.0
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp)
        hf_model.save_pretrained(model_dir)
        print(f"# AST-base geometry, random weights; batch {args.batch}, {args.repeats} repeats, medians")
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load avg before "
              f"{os.getloadavg()[0]:.2f}; numpy {np.__version__}, torch {torch.__version__}, "
              f"transformers {transformers.__version__}, python {platform.python_version()}")
        print("| implementation                     | median s | clips/s  | vs ref |")
        print("|------------------------------------|----------|----------|--------|")
        with _thread_limit(args.threads):
            for line in bench_cpu(model_dir, hf_model, batch=args.batch, repeats=args.repeats):
                print(line)
        for line in bench_gpu(model_dir, hf_model, batch=args.gpu_batch, repeats=args.repeats):
            print(line)
        print(f"# load avg after {os.getloadavg()[0]:.2f}")
        if not args.no_memory:
            print(memory_probe(model_dir))


if __name__ == "__main__":
    main()
