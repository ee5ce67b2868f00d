"""Streaming equals offline, for every chunking and every streamable config."""

import numpy as np
import pytest

import fastmel
from fastmel.config import FrameConfig
from fastmel.stream import StreamingExtractor


def _stream(extractor, samples, chunk_sizes, rate):
    parts, i, k = [], 0, 0
    while i < samples.shape[0]:
        size = chunk_sizes[k % len(chunk_sizes)]
        parts.append(extractor.accept(samples[i:i + size], sample_rate=rate))
        i, k = i + size, k + 1
    parts.append(extractor.finish())
    return np.concatenate(parts, axis=extractor.time_axis)


def _configs():
    kaldi = fastmel.get_preset("kaldi")
    yield "kaldi", kaldi
    yield "beats", fastmel.get_preset("beats")
    yield "panns", fastmel.get_preset("panns")
    yield "kaldi-energy", kaldi.replace(use_energy=True, energy_position="last")
    yield "kaldi-no-snip", kaldi.replace(frame=FrameConfig(win_length=400, hop_length=160, snip_edges=False,
                                                           remove_dc_offset=True, preemphasis=0.97))
    yield "kaldi-dither", kaldi.replace(frame=FrameConfig(win_length=400, hop_length=160, dither=1.0,
                                                          dither_seed=7, remove_dc_offset=True))
    librosa = fastmel.get_preset("librosa")
    yield "librosa-no-top-db", librosa.replace(compress=fastmel.CompressConfig(kind="db", floor=1e-10))
    yield "centered-edge", librosa.replace(
        frame=FrameConfig(win_length=1024, hop_length=256, center=True, pad_mode="edge"),
        compress=fastmel.CompressConfig(kind="log"), mfcc=fastmel.MfccConfig(n_mfcc=13, lifter=22))
    yield "whisper-drop-last", fastmel.get_preset("whisper").replace(
        signal=fastmel.SignalConfig(), compress=fastmel.CompressConfig(kind="log10", floor=1e-10))


def _cases():
    for name, config in _configs():
        for seconds in (0.02, 0.3, 2.1):
            n = max(1, int(seconds * config.sample_rate_hz))
            if not config.frame.center and n < config.frame.win_length:
                continue  # offline refuses a clip shorter than one Kaldi window too
            for chunks in ([1], [160], [999, 37], [10**9]):
                if chunks == [1] and n > 5000:
                    continue  # sample-by-sample streaming is covered by the short clips
                yield pytest.param(config, n, chunks, id=f"{name}-{n}-{'+'.join(map(str, chunks))}")


@pytest.mark.parametrize("config, n, chunks", list(_cases()))
def test_stream_equals_offline(config, n, chunks):
    rate = config.sample_rate_hz
    samples = np.random.default_rng(n).standard_normal(n) * 0.1
    offline = fastmel.extract(samples, config=config, sample_rate=rate, backend="reference")
    streamed = _stream(StreamingExtractor(config), samples, chunks, rate)
    assert streamed.shape == offline.shape
    np.testing.assert_allclose(streamed, offline, rtol=0, atol=1e-5)


@pytest.mark.parametrize("preset, field", [("ast", "output.n_frames"), ("whisper", "signal.n_samples"),
                                           ("librosa", "compress.dynamic_range"), ("clap", "signal.n_samples")])
def test_clip_level_configs_are_refused(preset, field):
    with pytest.raises(fastmel.ParameterError, match=rf"this config cannot stream: .*{field}"):
        StreamingExtractor(preset)


def test_stream_errors():
    stream = StreamingExtractor("kaldi")
    with pytest.raises(fastmel.AudioError, match=r"sample_rate=8000 Hz does not match the config's 16000 Hz"):
        stream.accept(np.zeros(10), sample_rate=8000)
    with pytest.raises(fastmel.AudioError, match=r"chunk has 1 non-finite samples"):
        stream.accept(np.array([0.0, np.nan]), sample_rate=16000)
    with pytest.raises(fastmel.AudioError, match=r"the stream is empty"):
        stream.finish()
    stream.reset()
    stream.accept(np.zeros(800), sample_rate=16000)
    stream.finish()
    with pytest.raises(fastmel.AudioError, match=r"the stream has finished; call reset\(\)"):
        stream.accept(np.zeros(10), sample_rate=16000)
