"""Invariants of the reference (and of every installed CPU backend where the
invariant is about the public API): batching, frame counts, filterbank
geometry, scales, windows, empty mel bands, dither, config round trips."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
import scipy.signal

import fastmel
from fastmel import FeatureConfig, FrameConfig, MelConfig, SpectrumConfig, WindowConfig
from fastmel.reference.framing import frame_signal, n_frames
from fastmel.reference.mel import EmptyMelBandWarning, band_edges, filterbank, hz_to_mel, mel_to_hz
from fastmel.reference.windows import window

PRESETS = fastmel.preset_names()
# Backends that run here (CuPy has its own GPU suite); the reference always.
CPU_BACKENDS = [name for name, (ok, _) in fastmel.available_backends().items() if ok and name != "cupy"]
# The one empty band a model's own front-end has: Kaldi's 128 bands from 20 Hz
# at n_fft 512 (16 kHz) leave band 3 between two FFT bins (AST, BEATs).
PRESET_EMPTY_BANDS = {"ast": [3], "beats": [3]}


def clip_lengths(config: FeatureConfig) -> list[int]:
    """Ragged lengths for ``config``: one window, a little more, about 1.3 s, 2 s."""
    win = config.frame.win_length
    rate = config.sample_rate_hz
    return [win, win + 37, int(1.3 * rate) + 11, 2 * rate]


def clips_for(config: FeatureConfig, lengths: list[int]) -> list[np.ndarray]:
    rng = np.random.default_rng(1234)
    return [(0.2 * rng.standard_normal(n)).astype(np.float32) for n in lengths]


# ============================================================ batching


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("preset", PRESETS)
def test_batched_equals_one_by_one(preset, backend):
    ex = fastmel.Extractor(preset, backend=backend)
    rate = ex.sample_rate_hz
    batch = np.stack(clips_for(ex.config, [rate] * 3))  # [3, rate]
    together = ex(batch, sample_rate=rate)
    assert together.shape == (3, *ex.output_shape(rate))
    for i, clip in enumerate(batch):
        np.testing.assert_array_equal(together[i], ex(clip, sample_rate=rate), err_msg=f"clip {i}")


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("preset", PRESETS)
def test_ragged_equals_one_by_one(preset, backend):
    ex = fastmel.Extractor(preset, backend=backend)
    rate = ex.sample_rate_hz
    lengths = clip_lengths(ex.config)
    clips = clips_for(ex.config, lengths)
    results = ex(clips, sample_rate=rate)
    assert isinstance(results, list) and len(results) == len(clips)
    for n, clip, result in zip(lengths, clips, results):
        assert result.shape == ex.output_shape(n)
        np.testing.assert_array_equal(result, ex(clip, sample_rate=rate), err_msg=f"clip of {n} samples")


# ======================================================== frame counts


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("preset", PRESETS)
def test_frame_count_of_every_output(preset, backend):
    ex = fastmel.Extractor(preset, backend=backend)
    config = ex.config
    rate = ex.sample_rate_hz
    # (frame axis, feature axis) of one clip's output in each layout
    frame_axis, feature_axis = {"time_freq": (0, 1), "freq_time": (1, 0),
                                "channel_time_freq": (1, 2)}[config.output.layout]
    for n in clip_lengths(config) + [config.frame.win_length + config.frame.hop_length]:
        out = ex(clips_for(config, [n])[0], sample_rate=rate)
        conditioned = config.signal.n_samples or n
        expected = config.output.n_frames or n_frames(conditioned, config.frame, n_fft=config.spectrum.n_fft)
        assert out.shape[frame_axis] == expected == ex.n_frames(n), f"{n} samples"
        assert out.shape == ex.output_shape(n)
        assert out.shape[feature_axis] == ex.n_features


FRAMINGS = {
    "center-constant": FrameConfig(win_length=400, hop_length=160, center=True, pad_mode="constant"),
    "center-reflect": FrameConfig(win_length=400, hop_length=160, center=True, pad_mode="reflect"),
    "center-edge": FrameConfig(win_length=300, hop_length=128, center=True, pad_mode="edge"),
    "center-drop-last": FrameConfig(win_length=400, hop_length=160, center=True, pad_mode="reflect",
                                    drop_last_frame=True),
    "kaldi-snip": FrameConfig(win_length=400, hop_length=160, snip_edges=True),
    "kaldi-no-snip": FrameConfig(win_length=400, hop_length=160, snip_edges=False),
    "kaldi-no-snip-odd-hop": FrameConfig(win_length=401, hop_length=161, snip_edges=False),
}


@pytest.mark.parametrize("name", FRAMINGS)
def test_frame_signal_count_is_n_frames(name):
    frame = FRAMINGS[name]
    for n in (300, 399, 400, 401, 559, 560, 561, 1000, 16000, 16001):
        x = np.arange(n, dtype=np.float64)
        count = n_frames(n, frame, n_fft=512)
        assert frame_signal(x, frame, n_fft=512).shape == (count, 512 if frame.center else frame.win_length)


@pytest.mark.filterwarnings("ignore:n_fft=512 is too large for input signal:UserWarning")
@pytest.mark.parametrize("n", [400, 401, 559, 560, 16000, 16123])
def test_frame_counts_match_librosa_and_kaldi(n):
    """The one frame-count function against the peers' own counts."""
    import kaldi_native_fbank as knf
    import librosa

    x = np.zeros(n, dtype=np.float32)
    centered = FRAMINGS["center-constant"]
    assert librosa.stft(x, n_fft=512, hop_length=160, win_length=400).shape[1] == n_frames(
        n, centered, n_fft=512)
    for snip in (True, False):
        opts = knf.FbankOptions()
        opts.frame_opts.dither = 0.0
        opts.frame_opts.snip_edges = snip
        fbank = knf.OnlineFbank(opts)
        fbank.accept_waveform(16000, x.tolist())
        fbank.input_finished()
        frame = FRAMINGS["kaldi-snip" if snip else "kaldi-no-snip"]
        assert fbank.num_frames_ready == n_frames(n, frame, n_fft=512), f"snip_edges={snip}"


# ================================================== filterbank geometry


def _variants() -> dict[str, FeatureConfig]:
    """Every preset, plus htk / slaney / kaldi banks at several rates and sizes."""
    configs = {name: fastmel.get_preset(name) for name in PRESETS}
    base = fastmel.get_preset("librosa")
    for rate, n_fft, n_mels in ((8000, 256, 40), (16000, 512, 80), (22050, 2048, 128), (44100, 2048, 128),
                                (48000, 1024, 64)):
        for scale, norm, in_mel in (("htk", None, False), ("htk", "slaney", False),
                                    ("slaney", "slaney", False), ("slaney", None, False),
                                    ("kaldi", None, True), ("kaldi", None, False)):
            mel = MelConfig(n_mels=n_mels, fmin_hz=30.0, fmax_hz=None, scale=scale, norm=norm,
                            triangles_in_mel=in_mel)
            configs[f"{scale}-{norm}-{'mel' if in_mel else 'hz'}-{rate}-{n_fft}-{n_mels}"] = base.replace(
                sample_rate_hz=rate, frame=dataclasses.replace(base.frame, win_length=n_fft),
                spectrum=SpectrumConfig(n_fft=n_fft), mel=mel)
    return configs


FILTERBANK_VARIANTS = _variants()


@pytest.mark.parametrize("name", FILTERBANK_VARIANTS)
def test_every_mel_filter_peaks_within_one_bin_of_its_centre(name):
    config = FILTERBANK_VARIANTS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyMelBandWarning)  # none of these may have an empty band
        weights = filterbank(config)  # [M, F]
    bin_hz = config.sample_rate_hz / config.spectrum.n_fft
    centres_hz = band_edges(config)[1:-1]  # [M]
    empty = np.flatnonzero(~weights.any(axis=1)).tolist()
    assert empty == PRESET_EMPTY_BANDS.get(name, [])
    for m in np.flatnonzero(weights.any(axis=1)):
        peak_hz = np.argmax(weights[m]) * bin_hz
        assert abs(peak_hz - centres_hz[m]) <= bin_hz, (
            f"band {m}: peak at {peak_hz:.2f} Hz, centre {centres_hz[m]:.2f} Hz, bin {bin_hz:.2f} Hz")
    assert (weights >= 0).all()


@pytest.mark.parametrize("scale", ["htk", "slaney", "kaldi"])
def test_mel_round_trip(scale):
    hz = np.concatenate([np.linspace(0.0, 24000.0, 4801), [999.999, 1000.0, 1000.001]])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz, scale=scale), scale=scale), hz, rtol=1e-12, atol=1e-9)
    mels = np.linspace(0.0, float(hz_to_mel(24000.0, scale=scale)), 1001)
    np.testing.assert_allclose(hz_to_mel(mel_to_hz(mels, scale=scale), scale=scale), mels,
                               rtol=1e-12, atol=1e-9)
    assert np.all(np.diff(hz_to_mel(hz[:4801], scale=scale)) > 0)


def test_mel_scales_match_peers():
    import librosa
    from transformers.audio_utils import hertz_to_mel

    hz = np.linspace(0.0, 24000.0, 2401)
    np.testing.assert_allclose(hz_to_mel(hz, scale="htk"), librosa.hz_to_mel(hz, htk=True), rtol=1e-12)
    np.testing.assert_allclose(hz_to_mel(hz, scale="slaney"), librosa.hz_to_mel(hz, htk=False), rtol=1e-12)
    np.testing.assert_allclose(hz_to_mel(hz, scale="kaldi"), hertz_to_mel(hz, mel_scale="kaldi"), rtol=1e-12)
    np.testing.assert_allclose(hz_to_mel(hz, scale="kaldi"), 1127.0 * np.log1p(hz / 700.0), rtol=1e-12)


# ============================================================ windows


@pytest.mark.parametrize("length", [1, 2, 7, 400, 401, 1024])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("kind", ["hann", "hamming", "blackman"])
def test_windows_equal_scipy(kind, periodic, length):
    ours = window(WindowConfig(kind=kind, periodic=periodic), length=length)
    theirs = scipy.signal.get_window(kind, length, fftbins=periodic)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


@pytest.mark.parametrize("length", [2, 400, 401])
def test_povey_and_rectangular_windows(length):
    hann = scipy.signal.get_window("hann", length, fftbins=False)
    np.testing.assert_allclose(window(WindowConfig(kind="povey", periodic=False), length=length),
                               hann**0.85, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(window(WindowConfig(kind="rectangular"), length=length), np.ones(length))


# ==================================================== empty mel bands


def test_ast_empty_band_matches_transformers():
    """AST's 128-band Kaldi bank: the same matrix as transformers' NumPy path,
    empty band included."""
    from transformers.audio_utils import mel_filter_bank

    with pytest.warns(UserWarning, match="all zero values"):
        theirs = mel_filter_bank(num_frequency_bins=257, num_mel_filters=128, min_frequency=20,
                                 max_frequency=8000, sampling_rate=16000, norm=None, mel_scale="kaldi",
                                 triangularize_in_mel_space=True).T  # [128, 257]
    ours = filterbank(fastmel.get_preset("ast"))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert np.flatnonzero(~ours.any(axis=1)).tolist() == np.flatnonzero(~theirs.any(axis=1)).tolist() == [3]


@pytest.mark.parametrize("n_mels", [23, 80, 128])
@pytest.mark.parametrize("low_freq", [0.0, 10.0, 20.0, 30.0, 50.0, 60.0])
def test_empty_bands_match_kaldi_native_fbank(n_mels, low_freq):
    """kaldi-native-fbank refuses exactly the banks that have an empty band;
    where it accepts one, its weights equal ours (to float32 mel arithmetic:
    Kaldi computes mels in float32, ~1e-4 mel on ~2800 mel, over bands ~20 mel wide)."""
    import kaldi_native_fbank as knf

    kaldi = fastmel.get_preset("kaldi")
    config = kaldi.replace(mel=dataclasses.replace(kaldi.mel, n_mels=n_mels, fmin_hz=low_freq,
                                                   allow_empty_bands=True))
    ours = filterbank(config)  # [M, 257]
    empty = np.flatnonzero(~ours.any(axis=1))
    frame_opts = knf.FrameExtractionOptions()
    frame_opts.dither = 0.0
    mel_opts = knf.MelBanksOptions()
    mel_opts.num_bins = n_mels
    mel_opts.low_freq = low_freq
    try:
        theirs = np.array(knf.MelBanks(mel_opts, frame_opts, 1.0).get_matrix())
    except Exception as exc:  # Kaldi's "You may have set num_mel_bins too large."
        assert "num_mel_bins too large" in str(exc)
        assert empty.size > 0, f"kaldi-native-fbank refused a bank without empty bands: {exc}"
        return
    assert empty.size == 0
    np.testing.assert_allclose(ours, theirs[:, : ours.shape[1]], rtol=0, atol=5e-5)


def test_user_config_with_empty_band_warns():
    kaldi = fastmel.get_preset("kaldi")
    config = kaldi.replace(mel=dataclasses.replace(kaldi.mel, n_mels=128))  # AST's bank, not marked
    with pytest.warns(EmptyMelBandWarning, match=r"mel bands \[3\] of 128 cover no FFT bin"):
        fastmel.Extractor(config, backend="reference")
    too_many = kaldi.replace(mel=dataclasses.replace(kaldi.mel, n_mels=200))
    with pytest.warns(EmptyMelBandWarning, match="cover no FFT bin"):
        filterbank(too_many)


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_do_not_warn(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastmel.Extractor(preset, backend="reference")
        filterbank(fastmel.get_preset(preset))


# ============================================================== dither


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_dither_is_seeded(backend):
    kaldi = fastmel.get_preset("kaldi")
    x = np.zeros(16000, dtype=np.float32)  # silence: without dither every value is ln(eps)

    def run(dither: float, seed: int) -> np.ndarray:
        config = kaldi.replace(frame=dataclasses.replace(kaldi.frame, dither=dither, dither_seed=seed))
        return fastmel.extract(x, config=config, sample_rate=16000, backend=backend)

    first, again, other = run(1e-2, 7), run(1e-2, 7), run(1e-2, 8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert (first > np.log(np.finfo(np.float32).eps)).all()  # the noise lifts every band off the floor
    plain = run(0.0, 7)
    np.testing.assert_array_equal(plain, run(0.0, 8))
    np.testing.assert_array_equal(plain, np.full_like(plain, np.log(np.finfo(np.float32).eps)))


# ========================================================= config dicts


@pytest.mark.parametrize("preset", PRESETS)
def test_config_dict_round_trip(preset):
    config = fastmel.get_preset(preset)
    variants = [config, config.replace(mfcc=fastmel.MfccConfig(n_mfcc=13, lifter=22.0), normalize=None),
                config.replace(use_energy=True, energy_position="last")]
    for variant in variants:
        text = json.dumps(variant.to_dict())
        back = FeatureConfig.from_dict(json.loads(text))
        assert back == variant
        assert json.dumps(back.to_dict()) == text
