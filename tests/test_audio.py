"""fastmel.load: formats, downmix, resampling, and its errors."""

import numpy as np
import pytest
import soundfile as sf

import fastmel
from fastmel.audio import audio_info

RATE = 16000


def _tone(n, rate, channels=1):
    t = np.arange(n) / rate
    mono = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    if channels == 1:
        return mono
    return np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1)  # [n, C]


# (format, subtype, extension, tolerance of a decoded sample vs the float original)
FORMATS = [
    ("WAV", "PCM_U8", "wav", 1.0 / 64),
    ("WAV", "PCM_16", "wav", 1.0 / 2**14),
    ("WAV", "PCM_24", "wav", 1.0 / 2**22),
    ("WAV", "PCM_32", "wav", 1e-7),  # float32 output rounds finer than 32-bit PCM steps
    ("WAV", "FLOAT", "wav", 1e-7),
    ("WAV", "DOUBLE", "wav", 1e-7),
    ("FLAC", "PCM_16", "flac", 1.0 / 2**14),
    ("FLAC", "PCM_24", "flac", 1.0 / 2**22),
]


@pytest.mark.parametrize("fmt, subtype, ext, tol", FORMATS)
def test_lossless_formats_decode_exactly(tmp_path, fmt, subtype, ext, tol):
    original = _tone(RATE, RATE)
    path = tmp_path / f"tone.{ext}"
    sf.write(path, original, RATE, format=fmt, subtype=subtype)
    samples, rate = fastmel.load(path)
    assert rate == RATE and samples.dtype == np.float32 and samples.shape == (RATE,)
    assert np.max(np.abs(samples - original)) <= tol


@pytest.mark.parametrize("fmt, subtype, ext", [("OGG", "VORBIS", "ogg"), ("MP3", "MPEG_LAYER_III", "mp3")])
def test_lossy_formats_decode_to_the_same_tone(tmp_path, fmt, subtype, ext):
    if subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) cannot write {fmt}/{subtype}")
    original = _tone(RATE, RATE)
    path = tmp_path / f"tone.{ext}"
    sf.write(path, original, RATE, format=fmt, subtype=subtype)
    samples, rate = fastmel.load(path)
    assert rate == RATE
    # Lossy codecs add delay and padding: compare the tone's level and pitch, not samples.
    assert abs(np.sqrt(np.mean(samples**2)) - 0.5 / np.sqrt(2)) < 0.05
    spectrum = np.abs(np.fft.rfft(samples[: RATE // 2]))
    assert abs(np.argmax(spectrum) * 2 - 440) <= 2


def test_downmix_averages_channels(tmp_path):
    stereo = _tone(RATE, RATE, channels=2)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, RATE, subtype="FLOAT")
    mono, _ = fastmel.load(path)
    np.testing.assert_allclose(mono, stereo.mean(axis=1), atol=1e-7)
    both, _ = fastmel.load(path, mono=False)
    assert both.shape == (2, RATE)
    np.testing.assert_allclose(both, stereo.T, atol=1e-7)


def test_six_channels(tmp_path):
    path = tmp_path / "surround.flac"
    sf.write(path, _tone(RATE, RATE, channels=6), RATE, subtype="PCM_24")
    mono, _ = fastmel.load(path)
    assert mono.shape == (RATE,)
    assert fastmel.load(path, mono=False)[0].shape == (6, RATE)


@pytest.mark.parametrize("orig", [8000, 22050, 32000, 44100, 48000])
def test_resample_on_load_keeps_duration_and_pitch(tmp_path, orig):
    path = tmp_path / "tone.wav"
    sf.write(path, _tone(2 * orig, orig), orig, subtype="FLOAT")
    samples, rate = fastmel.load(path, sample_rate=RATE)
    assert rate == RATE and samples.shape == (2 * RATE,) and samples.dtype == np.float32
    expected = _tone(2 * RATE, RATE)
    # soxr HQ: away from the edges the resampled tone equals the tone at the new rate.
    assert np.max(np.abs(samples[800:-800] - expected[800:-800])) < 2e-3


def test_resample_multichannel_and_identity():
    x = np.random.default_rng(0).standard_normal((2, 4410)).astype(np.float32)
    y = fastmel.resample(x, orig_hz=44100, target_hz=16000)
    assert y.shape == (2, 1600)
    assert fastmel.resample(x, orig_hz=16000, target_hz=16000) is x
    with pytest.raises(fastmel.ParameterError, match=r"target_hz=0 is not a positive integer sample rate in Hz"):
        fastmel.resample(x, orig_hz=16000, target_hz=0)


def test_audio_info(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, _tone(RATE // 2, RATE, channels=2), RATE)
    assert audio_info(path) == (RATE, 2, 0.5)


def test_missing_file_is_a_file_not_found_error(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(fastmel.AudioFileNotFound, match=r"audio file '.*missing.wav' does not exist"):
        fastmel.load(missing)
    with pytest.raises(FileNotFoundError):
        fastmel.load(missing)


@pytest.mark.parametrize(
    "name, content",
    [
        ("empty.wav", b""),
        ("random.wav", np.random.default_rng(1).bytes(4096)),
        ("notes.txt", b"this is not audio\n" * 20),
    ],
)
def test_undecodable_files(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(fastmel.AudioError, match=r"cannot decode '.*' as audio"):
        fastmel.load(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "full.wav"
    sf.write(path, _tone(RATE, RATE), RATE)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(path.read_bytes()[:30])
    with pytest.raises(fastmel.AudioError, match=r"cannot decode '.*truncated.wav' as audio"):
        fastmel.load(truncated)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0), RATE)
    with pytest.raises(fastmel.AudioError, match=r"audio file '.*zero.wav' holds no samples"):
        fastmel.load(path)


def test_nan_samples(tmp_path):
    path = tmp_path / "nan.wav"
    data = _tone(RATE, RATE)
    data[100] = np.nan
    sf.write(path, data, RATE, subtype="FLOAT")
    with pytest.raises(fastmel.AudioError, match=r"holds non-finite \(NaN or Inf\) samples"):
        fastmel.load(path)


def test_directory_is_refused(tmp_path):
    with pytest.raises(fastmel.AudioError, match=r"is a directory; expected a file"):
        fastmel.load(tmp_path)


def test_bad_dtype_argument(tmp_path):
    with pytest.raises(fastmel.ParameterError, match=r"dtype='int16' is not one of 'float32', 'float64'"):
        fastmel.load(tmp_path / "x.wav", dtype="int16")


def test_loaded_audio_extracts_like_the_array(tmp_path):
    path = tmp_path / "tone.wav"
    data = _tone(3 * RATE, RATE)
    sf.write(path, data, RATE, subtype="FLOAT")
    samples, rate = fastmel.load(path)
    np.testing.assert_array_equal(
        fastmel.extract(samples, preset="ast", sample_rate=rate),
        fastmel.extract(data.astype(np.float32), preset="ast", sample_rate=RATE),
    )
