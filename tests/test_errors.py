"""Bad input gets a clear fastmel error that names the value, never a wrong answer."""

import numpy as np
import pytest

import fastmel

RATE = 16000


def _noise(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32) * 0.1


@pytest.mark.parametrize(
    "audio, message",
    [
        (np.zeros(0, np.float32), r"audio is empty \(0 samples\); expected at least one sample"),
        (np.array([0.0, np.nan, 1.0], np.float32), r"audio has 1 non-finite samples \(first: nan at sample 1\)"),
        (np.array([0.0, 0.0, np.inf]), r"audio has 1 non-finite samples \(first: inf at sample 2\)"),
        ((np.ones(800) * 1000).astype(np.int16), r"audio has dtype int16; expected floating-point samples"),
        (np.zeros((2, 3, 400), np.float32), r"audio has shape \(2, 3, 400\) \(3-D\); expected \[samples\], \[batch, samples\]"),
        (np.zeros((0, 400), np.float32), r"audio has shape \(0, 400\); expected at least one clip"),
        (np.zeros(400, np.complex64), r"audio has dtype complex64; expected floating-point samples"),
        ([], r"audio is an empty list; expected at least one clip"),
        ([np.zeros(800, np.float32), np.zeros((2, 800), np.float32)], r"clip 1 has shape \(2, 800\); expected one 1-D clip"),
        ([np.zeros(800, np.float32), np.full(800, np.nan, np.float32)], r"clip 1 has 800 non-finite samples"),
        ("not audio", r"audio of type str is not an array of samples"),
        (object(), r"audio of type object is not an array of samples"),
    ],
)
def test_bad_arrays(audio, message):
    with pytest.raises(fastmel.AudioError, match=message):
        fastmel.extract(audio, preset="kaldi", sample_rate=RATE)


def test_audio_error_is_a_value_error():
    with pytest.raises(ValueError):
        fastmel.extract(np.zeros(0, np.float32), preset="kaldi", sample_rate=RATE)


def test_clip_shorter_than_one_kaldi_window_is_refused():
    # Kaldi framing (snip_edges) yields no frame for fewer than win_length samples.
    with pytest.raises(fastmel.AudioError, match=r"a clip of 399 samples yields no frame: .*win_length=400"):
        fastmel.extract(_noise(399), preset="ast", sample_rate=RATE)
    assert fastmel.extract(_noise(400), preset="kaldi", sample_rate=RATE).shape == (1, 23)


def test_short_clip_in_a_batch_names_its_index():
    with pytest.raises(fastmel.AudioError, match=r"a clip of 100 samples \(clip 1\) yields no frame"):
        fastmel.extract([_noise(1600), _noise(100)], preset="kaldi", sample_rate=RATE)


@pytest.mark.parametrize("preset", ["whisper", "librosa", "panns", "clap"])
def test_centered_presets_accept_a_single_sample(preset):
    rate = fastmel.get_preset(preset).sample_rate_hz
    features = fastmel.extract(np.array([0.5], np.float32), preset=preset, sample_rate=rate)
    assert np.isfinite(features).all()


def test_sample_rate_mismatch_is_refused_unless_resampling():
    with pytest.raises(fastmel.AudioError, match=r"audio at sample_rate=44100 Hz does not match the config's 16000 Hz; pass resample=True"):
        fastmel.extract(_noise(44100), preset="ast", sample_rate=44100)
    features = fastmel.extract(_noise(44100), preset="kaldi", sample_rate=44100, resample=True)
    assert features.shape == (98, 23)  # 1 s at 16 kHz


@pytest.mark.parametrize("rate", [0, -16000, 16000.5, True, "16000"])
def test_bad_sample_rate(rate):
    with pytest.raises(fastmel.ParameterError, match=r"sample_rate=.* is not a positive integer in Hz"):
        fastmel.extract(_noise(1600), preset="kaldi", sample_rate=rate)


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(fastmel.ParameterError, match=r"backend='tpu' is not one of 'auto', .*'reference'"):
        fastmel.extract(_noise(1600), preset="kaldi", sample_rate=RATE, backend="tpu")


def test_bad_num_threads():
    with pytest.raises(fastmel.ParameterError, match=r"num_threads=0 is not None or an integer >= 1"):
        fastmel.Extractor("kaldi", num_threads=0)


def test_unknown_preset_via_extractor():
    with pytest.raises(fastmel.ParameterError, match=r"preset='whisper-256' is not one of"):
        fastmel.Extractor("whisper-256")
