"""pytest-benchmark suite: each preset on each installed backend, its peers and
the FFT floor, on the harness's workload (fastmel.bench).

    pytest benchmarks/test_bench_frontends.py --benchmark-only --benchmark-group-by=param:preset

Compare rows of one run only (ANCHORS.md). Peers that are not installed skip
with the reason.
"""

from __future__ import annotations

import os

import pytest

import fastmel
from fastmel import bench

PRESETS = ("ast", "whisper", "librosa", "kaldi", "panns")
BACKENDS = [b for b, (ok, _) in fastmel.available_backends().items() if ok and b != "reference"]
THREADS = sorted({1, os.cpu_count() or 1})
BATCH = int(os.environ.get("FASTMEL_BENCH_BATCH", "32"))


def _seconds(preset: str) -> float:
    return 30.0 if preset.startswith("whisper") else 10.0


@pytest.fixture(scope="module", params=PRESETS)
def workload(request):
    preset = request.param
    return preset, bench._clips(preset, BATCH, _seconds(preset))


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_fastmel(benchmark, workload, backend, threads):
    preset, clips = workload
    ex = fastmel.Extractor(preset, backend=backend, num_threads=threads)
    ex(clips[:1], sample_rate=ex.sample_rate_hz)  # compile / load the kernels
    benchmark.extra_info.update(preset=preset, audio_seconds=len(clips) * _seconds(preset))
    benchmark(ex, clips, sample_rate=ex.sample_rate_hz)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("peer", [p for p in bench.PEERS if p != "fft-floor"])
def test_peer(benchmark, workload, peer, threads):
    preset, clips = workload
    try:
        run = bench._peer_runner(peer, preset, clips, threads)
    except (ImportError, LookupError) as exc:
        pytest.skip(f"{peer} on {preset}: {exc}")
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - e.g. kaldi-native-fbank refusing 128 bins
        pytest.skip(f"{peer} on {preset} fails: {exc}")
    benchmark.extra_info.update(preset=preset, audio_seconds=len(clips) * _seconds(preset))
    benchmark(run)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("floor", ["floor/scipy-rfft", "floor/scipy-rfft-blocks1024"])
def test_fft_floor(benchmark, workload, floor, threads):
    preset, clips = workload
    run = bench._fft_floor(preset, clips, threads)[floor]
    benchmark.extra_info.update(preset=preset, audio_seconds=len(clips) * _seconds(preset))
    benchmark(run)
