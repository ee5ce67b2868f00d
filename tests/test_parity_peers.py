"""Parity: fastmel's float64 reference against the real peers, run live.

Peers: transformers' ASTFeatureExtractor, WhisperFeatureExtractor (80 and
128 bands) and ClapFeatureExtractor on their NumPy paths; openai/whisper's
torch.stft log-mel (re-typed below, as ``whisper/audio.py`` has it); librosa
(melspectrogram + power_to_db, mfcc); kaldi-native-fbank (Kaldi's fbank);
the PANNs / HTS-AT torchlibrosa front-end (reproduced with librosa, and
torchlibrosa itself where it is installed).

Tolerance (DESIGN.md, "Numbers that define right"): at least as close as the
peers are to each other (ANCHORS.md measured kaldi-native-fbank vs
torchaudio at max 2e-4 .. 1.2e-3, mean 6e-6), in natural-log units (nepers):
max abs <= 2e-3, mean abs <= 2e-5. Features in other units are converted to
nepers before comparing: dB x ln(10) / 10, log10 x ln(10). A preset's final
normalised output ``(x - mean) / divisor`` is compared after multiplying the
difference back by ``divisor`` (and by the log unit): that is the same
2e-3-nepers bound, i.e. ``2e-3 / divisor`` in normalised units (AST: 2.2e-4,
Whisper: 2e-3 / (4 ln 10) = 2.2e-4). transformers' own extractor tests check
a few normalised values with atol 1e-4; over every value of every frame, and
with float32 rounding of the peers' outputs, the bound above is the
equivalent and it is never looser than 2.2e-4 normalised units.

Float32 peers (kaldi-native-fbank, torch.stft Whisper in float32,
torchlibrosa) carry float32 FFT noise about 60 to 80 dB below each frame's
strongest band (measured: the same torch code in float64 agrees to 1e-7
everywhere, see ``test_whisper_openai_torch_float64``). For them the tolerance
applies to bands within ``FLOAT32_RANGE_DB`` of their frame's strongest band;
below that, the peer must only agree that the band is quiet. Every float64
peer is compared everywhere.

Silence: every value is the log floor in both (Kaldi: ln(float32 eps);
librosa/PANNs/CLAP: -100 dB; Whisper: the dynamic-range clamp makes every
value -1.5 exactly).

Run ``pytest -s`` to see each comparison's measured max / mean (PARITY lines).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import fastmel
from fastmel import (
    CompressConfig,
    FeatureConfig,
    FrameConfig,
    MelConfig,
    MfccConfig,
    OutputConfig,
    SpectrumConfig,
    WindowConfig,
)
from signals import SIGNAL_KINDS

LN10 = float(np.log(10.0))
NEPERS_PER_DB = LN10 / 10.0  # 1 dB of power = 0.2303 nepers
NEPERS_PER_BEL = LN10  # one log10 unit = 2.3026 nepers

# The parity tolerance, natural-log units (nepers). Never loosen these to pass.
MAX_ABS_NEPERS = 2e-3
MEAN_ABS_NEPERS = 2e-5
# Float32 peers: compare bands within this many dB of their frame's strongest
# band; below it float32 FFT noise of the peer dominates (see module docstring).
FLOAT32_RANGE_DB = 60.0
# ... and below it, the peer must still put the band at least this far below the peak.
FLOAT32_QUIET_DB = 50.0


def assert_log_close(actual: np.ndarray, expected: np.ndarray, *, nepers_per_unit: float,
                     where: str, rows: int | None = None, float32_peer: bool = False) -> None:
    """Compare ``[T, F]`` log features (fastmel ``actual``, peer ``expected``).

    ``nepers_per_unit`` converts the features' unit to nepers (1 for ln, ln 10
    for log10, ln 10 / 10 for dB; times the divisor for normalised output).
    ``rows``: the mean is taken over the first ``rows`` frames only (the rest
    is padding, compared by the max alone). ``float32_peer``: compare bands
    within FLOAT32_RANGE_DB of their frame's strongest band (module docstring).
    """
    assert actual.shape == expected.shape, f"{where}: shape {actual.shape} != peer's {expected.shape}"
    assert np.isfinite(expected).all(), f"{where}: the peer returned non-finite values"
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64)) * nepers_per_unit  # [T, F]
    keep = np.ones(diff.shape, dtype=bool)
    if float32_peer:
        level_db = actual.astype(np.float64) * (nepers_per_unit / NEPERS_PER_DB)  # [T, F] dB
        below_db = level_db.max(axis=1, keepdims=True) - level_db  # [T, F] dB under the frame's peak
        keep = below_db <= FLOAT32_RANGE_DB
        peer_db = expected.astype(np.float64) * (nepers_per_unit / NEPERS_PER_DB)
        peer_below = level_db.max(axis=1, keepdims=True) - peer_db
        loud = ~keep & (peer_below < FLOAT32_QUIET_DB)
        assert not loud.any(), (f"{where}: {int(loud.sum())} bands the reference puts more than "
                                f"{FLOAT32_RANGE_DB} dB under their frame's peak are within "
                                f"{FLOAT32_QUIET_DB} dB of it in the peer")
    max_abs = float(diff[keep].max()) if keep.any() else 0.0
    mean_keep = keep if rows is None else keep[:rows]
    mean_abs = float(diff[: rows][mean_keep].mean()) if mean_keep.any() else 0.0
    print(f"PARITY {where}: max {max_abs:.2e} mean {mean_abs:.2e} nepers"
          + (f" ({keep.mean():.1%} of bands compared)" if float32_peer else ""))
    assert max_abs <= MAX_ABS_NEPERS and mean_abs <= MEAN_ABS_NEPERS, (
        f"{where}: max abs {max_abs:.3e} (<= {MAX_ABS_NEPERS}) / mean abs {mean_abs:.3e} "
        f"(<= {MEAN_ABS_NEPERS}) nepers against the peer"
    )


def ours(x: np.ndarray, config: FeatureConfig, sample_rate: int, **kwargs) -> np.ndarray:
    """fastmel's reference backend (the float64 spec), never ``auto``'s fast backend."""
    return fastmel.extract(x, config=config, sample_rate=sample_rate, backend="reference", **kwargs)


# ======================================================================== AST


@pytest.fixture(scope="module")
def ast_extractors(monkeypatch_module):
    from transformers import ASTFeatureExtractor
    from transformers.models.audio_spectrogram_transformer import (
        feature_extraction_audio_spectrogram_transformer as ast_module,
    )

    # The NumPy path (float64 FFT): the one the issue names, and the only one
    # here (torchaudio must not be installed beside this torch). Forced so that
    # a machine with torchaudio still tests the same code.
    monkeypatch_module.setattr(ast_module, "is_speech_available", lambda: False)
    # transformers, too, finds the AST bank's empty band (fastmel's test_invariants checks which).
    with pytest.warns(UserWarning, match="At least one mel filter has all zero values"):
        extractors = ASTFeatureExtractor(), ASTFeatureExtractor(do_normalize=False)
    return extractors


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


AST_DIVISOR = 2 * 4.5689974  # ASTFeatureExtractor.normalize: (x - mean) / (std * 2)
AST_LENGTHS = (400, 16000, 164080, 200000)  # one window; 1 s; exactly 1024 frames; 12.5 s (cut)


@pytest.mark.parametrize("n_samples", AST_LENGTHS)
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_ast_transformers(kind, n_samples, make_signal, ast_extractors, f64):
    x = make_signal(kind, sample_rate=16000, n_samples=n_samples)
    normalised, raw = ast_extractors
    real_frames = min(1024, 1 + (n_samples - 400) // 160)
    config = f64("ast")
    peer_raw = raw(x, sampling_rate=16000, return_tensors="np")["input_values"][0]  # [1024, 128]
    assert_log_close(ours(x, config.replace(normalize=None), 16000), peer_raw, nepers_per_unit=1.0,
                     rows=real_frames, where=f"ast log-fbank {kind} n={n_samples}")
    peer = normalised(x, sampling_rate=16000, return_tensors="np")["input_values"][0]
    assert_log_close(ours(x, config, 16000), peer, nepers_per_unit=AST_DIVISOR,
                     rows=real_frames, where=f"ast normalised {kind} n={n_samples}")
    if kind == "silence":  # ln(float32 eps) everywhere in both, then normalised
        assert np.allclose(peer_raw[:real_frames], np.log(np.finfo(np.float32).eps), rtol=0, atol=1e-6)


@pytest.mark.parametrize("orig_hz", [8000, 22050, 44100, 48000])
def test_ast_transformers_resampled(orig_hz, make_signal, ast_extractors, f64):
    """Audio at another rate: fastmel's resample=True equals resampling first (soxr HQ)."""
    x = make_signal("espeak", sample_rate=orig_hz, n_samples=3 * orig_hz)
    at_16k = fastmel.resample(x, orig_hz=orig_hz, target_hz=16000)
    peer = ast_extractors[0](at_16k, sampling_rate=16000, return_tensors="np")["input_values"][0]
    mine = ours(x, f64("ast"), orig_hz, resample=True)
    assert_log_close(mine, peer, nepers_per_unit=AST_DIVISOR, rows=1 + (at_16k.shape[0] - 400) // 160,
                     where=f"ast normalised espeak from {orig_hz} Hz")


# ============================================================= kaldi / BEATs


def knf_fbank(x: np.ndarray, *, sample_rate: int = 16000, n_mels: int = 23, window: str = "povey",
              low_freq: float = 20.0, use_energy: bool = False, raw_energy: bool = True,
              htk_compat: bool = False, snip_edges: bool = True) -> np.ndarray:
    """kaldi-native-fbank's OnlineFbank, dither 0, everything else at Kaldi's defaults.
    Returns ``[frames, n_mels (+1)]`` float32 (ln units)."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = sample_rate
    opts.frame_opts.window_type = window
    opts.frame_opts.snip_edges = snip_edges
    opts.mel_opts.num_bins = n_mels
    opts.mel_opts.low_freq = low_freq
    opts.use_energy = use_energy
    opts.raw_energy = raw_energy
    opts.htk_compat = htk_compat
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(sample_rate, x.astype(np.float32).tolist())
    fbank.input_finished()
    return np.array([fbank.get_frame(i) for i in range(fbank.num_frames_ready)], dtype=np.float32)


def kaldi_config(*, sample_rate: int = 16000, n_mels: int = 23, window: str = "povey",
                 low_freq: float = 20.0, snip_edges: bool = True) -> FeatureConfig:
    """The ``kaldi`` preset generalised to another rate (25 ms / 10 ms as Kaldi
    truncates them, FFT rounded up to a power of two) and window."""
    base = fastmel.get_preset("kaldi")
    win = int(sample_rate * 0.025)  # Kaldi: static_cast<int32>(samp_freq * 0.001 * frame_length_ms)
    hop = int(sample_rate * 0.010)
    n_fft = 1 << (win - 1).bit_length()
    kind = {"hanning": "hann"}.get(window, window)  # Kaldi's "hanning" is the symmetric Hann
    return base.replace(
        sample_rate_hz=sample_rate,
        frame=dataclasses.replace(base.frame, win_length=win, hop_length=hop, snip_edges=snip_edges),
        window=WindowConfig(kind=kind, periodic=False),
        spectrum=SpectrumConfig(n_fft=n_fft),
        mel=dataclasses.replace(base.mel, n_mels=n_mels, fmin_hz=low_freq),
        output=dataclasses.replace(base.output, dtype="float64"),
    )


@pytest.mark.parametrize("n_samples", [400, 48000])  # one window; 3 s
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_kaldi_preset_knf(kind, n_samples, make_signal, f64):
    x = make_signal(kind, sample_rate=16000, n_samples=n_samples)
    mine = ours(x, f64("kaldi"), 16000)
    assert mine.shape == (1 + (n_samples - 400) // 160, 23)
    assert_log_close(mine, knf_fbank(x), nepers_per_unit=1.0, float32_peer=True,
                     where=f"kaldi preset vs knf {kind} n={n_samples}")
    if kind == "silence":
        assert np.array_equal(mine, np.full_like(mine, np.log(np.float64(np.finfo(np.float32).eps))))


@pytest.mark.parametrize("window", ["povey", "hanning", "hamming", "rectangular", "blackman"])
def test_kaldi_80_bins_windows_knf(window, make_signal):
    x = make_signal("espeak", sample_rate=16000, n_samples=48000)
    assert_log_close(ours(x, kaldi_config(n_mels=80, window=window), 16000),
                     knf_fbank(x, n_mels=80, window=window), nepers_per_unit=1.0, float32_peer=True,
                     where=f"kaldi 80 bins {window} vs knf")


@pytest.mark.parametrize("htk_compat", [False, True])
@pytest.mark.parametrize("raw_energy", [True, False])
@pytest.mark.parametrize("kind", ["espeak", "silence", "clipping"])
def test_kaldi_energy_knf(kind, raw_energy, htk_compat, make_signal):
    x = make_signal(kind, sample_rate=16000, n_samples=32000)
    # htk_compat moves the energy to the last column (and, for MFCC, other things fastmel does not do).
    config = kaldi_config().replace(use_energy=True, raw_energy=raw_energy,
                                    energy_position="last" if htk_compat else "first")
    mine = ours(x, config, 16000)
    peer = knf_fbank(x, use_energy=True, raw_energy=raw_energy, htk_compat=htk_compat)
    assert mine.shape == (198, 24)  # 1 + (32000 - 400) // 160 frames, energy + 23 bands
    energy = -1 if htk_compat else 0  # the energy is not a mel band: compare it on its own
    bands = slice(0, 23) if htk_compat else slice(1, 24)
    where = f"kaldi energy raw={raw_energy} htk_compat={htk_compat} {kind}"
    assert_log_close(mine[:, bands], peer[:, bands], nepers_per_unit=1.0, float32_peer=True, where=where)
    assert_log_close(mine[:, [energy]], peer[:, [energy]], nepers_per_unit=1.0, where=where + " energy")


@pytest.mark.parametrize("n_samples", [80, 100, 399, 400, 401, 48037])  # 80: the shortest with a frame
def test_kaldi_no_snip_edges_knf(n_samples, make_signal):
    x = make_signal("espeak", sample_rate=16000, n_samples=48037)[-n_samples:]  # ends in speech
    mine = ours(x, kaldi_config(snip_edges=False), 16000)
    assert mine.shape[0] == (n_samples + 80) // 160
    assert_log_close(mine, knf_fbank(x, snip_edges=False), nepers_per_unit=1.0, float32_peer=True,
                     where=f"kaldi snip_edges=False n={n_samples}")


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 32000, 44100, 48000])
@pytest.mark.parametrize("kind", ["speech_like", "espeak"])
def test_kaldi_sample_rates_knf(kind, sample_rate, make_signal):
    x = make_signal(kind, sample_rate=sample_rate, n_samples=2 * sample_rate)
    n_mels = 23 if sample_rate == 8000 else 40
    assert_log_close(ours(x, kaldi_config(sample_rate=sample_rate, n_mels=n_mels), sample_rate),
                     knf_fbank(x, sample_rate=sample_rate, n_mels=n_mels), nepers_per_unit=1.0,
                     float32_peer=True, where=f"kaldi {n_mels} bins at {sample_rate} Hz {kind}")


BEATS_MEAN, BEATS_DIVISOR = 15.41663, 2 * 6.55582  # BEATs.preprocess: (fbank - 15.41663) / (2 * 6.55582)


@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_beats_knf_128_bins(kind, make_signal, f64):
    """BEATs geometry (waveform x 2**15, Povey, 128 bins) against kaldi-native-fbank.

    kaldi-native-fbank refuses 128 bins from low_freq=20 Hz at n_fft 512
    ("You may have set num_mel_bins too large"): that bank has an empty band
    (band 3), which Kaldi asserts against and torchaudio / BEATs keep. The
    bank is therefore compared here from 30 Hz, the nearest setting above
    20 Hz that it accepts; the 20 Hz bank itself is compared with
    transformers' Kaldi implementation in ``test_beats_transformers_kaldi``.
    """
    x = make_signal(kind, sample_rate=16000, n_samples=48000)
    beats = f64("beats")
    config = beats.replace(mel=dataclasses.replace(beats.mel, fmin_hz=30.0), normalize=None)
    peer = knf_fbank(x * np.float32(2**15), n_mels=128, low_freq=30.0)
    assert_log_close(ours(x, config, 16000), peer, nepers_per_unit=1.0, float32_peer=True,
                     where=f"beats 128 bins @30 Hz vs knf {kind}")


def transformers_kaldi_fbank(x: np.ndarray, *, n_mels: int, window: str) -> np.ndarray:
    """transformers' NumPy Kaldi fbank (``audio_utils.spectrogram``, the machinery
    of ASTFeatureExtractor's NumPy path; float64 FFT) at Kaldi's defaults:
    16 kHz, 25 ms / 10 ms, FFT 512, DC removal, pre-emphasis 0.97, bands from
    20 Hz, ``ln(max(x, float32 eps))``. Returns ``[T, n_mels]``."""
    from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

    with warnings.catch_warnings():
        # 128 bands from 20 Hz have an empty band (test_invariants checks which).
        warnings.filterwarnings("ignore", "At least one mel filter has all zero values", UserWarning)
        filters = mel_filter_bank(num_frequency_bins=257, num_mel_filters=n_mels, min_frequency=20,
                                  max_frequency=8000, sampling_rate=16000, norm=None,
                                  mel_scale="kaldi", triangularize_in_mel_space=True)  # [257, M]
    return spectrogram(x.astype(np.float64), window_function(400, window, periodic=False),
                       frame_length=400, hop_length=160, fft_length=512, power=2.0, center=False,
                       preemphasis=0.97, mel_filters=filters, log_mel="log",
                       mel_floor=float(np.finfo(np.float32).eps), remove_dc_offset=True).T


@pytest.mark.parametrize("n_samples", [400, 48000])
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_kaldi_preset_transformers(kind, n_samples, make_signal, f64):
    """The ``kaldi`` preset in float64 everywhere (kaldi-native-fbank is float32)."""
    x = make_signal(kind, sample_rate=16000, n_samples=n_samples)
    assert_log_close(ours(x, f64("kaldi"), 16000), transformers_kaldi_fbank(x, n_mels=23, window="povey"),
                     nepers_per_unit=1.0, where=f"kaldi preset vs transformers kaldi {kind} n={n_samples}")


@pytest.mark.parametrize("n_samples", [400, 48000])
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_beats_transformers_kaldi(kind, n_samples, make_signal, f64):
    """The exact ``beats`` preset (128 bins from 20 Hz, empty band included)
    against transformers' Kaldi fbank with the Povey window on
    ``waveform * 2**15``, then BEATs' normalisation."""
    x = make_signal(kind, sample_rate=16000, n_samples=n_samples)
    fbank = transformers_kaldi_fbank(x.astype(np.float64) * 2**15, n_mels=128, window="povey")
    peer = (fbank - BEATS_MEAN) / BEATS_DIVISOR
    assert_log_close(ours(x, f64("beats"), 16000), peer, nepers_per_unit=BEATS_DIVISOR,
                     where=f"beats normalised vs transformers kaldi {kind} n={n_samples}")


# ===================================================================== Whisper

WHISPER_DIVISOR_NEPERS = 4.0 * NEPERS_PER_BEL  # (log10 + 4) / 4: one unit = 4 bels
WHISPER_LENGTHS = (400, 112000, 480000, 500000)  # one window; 7 s; exactly 30 s; 31.25 s (cut)


@pytest.fixture(scope="module")
def whisper_numpy_path(monkeypatch_module):
    from transformers.models.whisper import feature_extraction_whisper as whisper_module

    # WhisperFeatureExtractor takes its float32 torch path whenever torch is
    # installed; the NumPy path (float64 FFT) is the one the issue names.
    monkeypatch_module.setattr(whisper_module, "is_torch_available", lambda: False)


@pytest.mark.parametrize("n_samples", WHISPER_LENGTHS)
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
@pytest.mark.parametrize("n_mels", [80, 128])
def test_whisper_transformers(n_mels, kind, n_samples, make_signal, whisper_numpy_path, f64):
    from transformers import WhisperFeatureExtractor

    x = make_signal(kind, sample_rate=16000, n_samples=n_samples)
    peer = WhisperFeatureExtractor(feature_size=n_mels)(
        x, sampling_rate=16000, return_tensors="np")["input_features"][0]  # [n_mels, 3000]
    mine = ours(x, f64("whisper" if n_mels == 80 else "whisper-128"), 16000)
    assert mine.shape == peer.shape == (n_mels, 3000)
    assert_log_close(mine.T, peer.T, nepers_per_unit=WHISPER_DIVISOR_NEPERS,
                     where=f"whisper-{n_mels} vs transformers {kind} n={n_samples}")
    if kind == "silence":  # log10(1e-10) = -10 everywhere, clamped to max - 8 = -10, (x + 4) / 4
        assert np.array_equal(mine.astype(np.float32), peer) and (peer == -1.5).all()


def openai_log_mel_spectrogram(audio: np.ndarray, n_mels: int, dtype) -> np.ndarray:
    """openai/whisper ``whisper/audio.py``: ``pad_or_trim`` then ``log_mel_spectrogram``,
    with the mel filters that ``mel_filters.npz`` stores (librosa's, float32).
    ``dtype``: torch.float32 as whisper runs it, or torch.float64. Returns ``[n_mels, 3000]``."""
    import librosa
    import torch

    audio = torch.from_numpy(audio).to(dtype)
    audio = torch.nn.functional.pad(audio, (0, max(0, 480000 - audio.shape[-1])))[:480000]  # pad_or_trim
    window = torch.hann_window(400, dtype=dtype)
    stft = torch.stft(audio, 400, 160, window=window, return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    filters = torch.from_numpy(librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels)).to(dtype)
    mel_spec = filters @ magnitudes
    log_spec = torch.clamp(mel_spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    return log_spec.numpy()


@pytest.mark.parametrize("n_samples", [400, 480000])
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
@pytest.mark.parametrize("n_mels", [80, 128])
def test_whisper_openai_torch(n_mels, kind, n_samples, make_signal, f64):
    """openai/whisper's torch code as it runs (float32): float32 peer rules."""
    import torch

    x = make_signal(kind, sample_rate=16000, n_samples=n_samples)
    mine = ours(x, f64("whisper" if n_mels == 80 else "whisper-128"), 16000)
    peer = openai_log_mel_spectrogram(x, n_mels, torch.float32)
    # Values are (log10 + 4) / 4; nepers_per_unit also converts them to dB for the float32 band mask.
    assert_log_close(mine.T, peer.T, nepers_per_unit=WHISPER_DIVISOR_NEPERS, float32_peer=True,
                     where=f"whisper-{n_mels} vs openai torch float32 {kind} n={n_samples}")


@pytest.mark.parametrize("kind", ["sweep", "clipping", "espeak"])
@pytest.mark.parametrize("n_mels", [80, 128])
def test_whisper_openai_torch_float64(n_mels, kind, make_signal, f64):
    """The same torch code in float64 agrees everywhere: the float32 gap above
    is float32 arithmetic, not a different algorithm."""
    import torch

    x = make_signal(kind, sample_rate=16000, n_samples=480000)
    mine = ours(x, f64("whisper" if n_mels == 80 else "whisper-128"), 16000)
    peer = openai_log_mel_spectrogram(x, n_mels, torch.float64)
    assert_log_close(mine.T, peer.T, nepers_per_unit=WHISPER_DIVISOR_NEPERS,
                     where=f"whisper-{n_mels} vs openai torch float64 {kind}")


def test_whisper_resampled_from_8k(make_signal, whisper_numpy_path, f64):
    from transformers import WhisperFeatureExtractor

    x = make_signal("espeak", sample_rate=8000, n_samples=8000 * 5)
    peer = WhisperFeatureExtractor()(fastmel.resample(x, orig_hz=8000, target_hz=16000),
                                     sampling_rate=16000, return_tensors="np")["input_features"][0]
    assert_log_close(ours(x, f64("whisper"), 8000, resample=True).T, peer.T,
                     nepers_per_unit=WHISPER_DIVISOR_NEPERS, where="whisper espeak from 8 kHz")


# ======================================================================== CLAP


@pytest.fixture(scope="module")
def clap_extractor():
    from transformers import ClapFeatureExtractor

    # LAION's rand_trunc checkpoints (e.g. laion/clap-htsat-unfused) ship
    # preprocessor_config.json with frequency_min=50 (the class default is 0).
    return ClapFeatureExtractor(frequency_min=50, truncation="rand_trunc")


# One window; 1 s; 7.3 s (repeat-padded); exactly 10 s. Never longer than
# 10 s: rand_trunc would crop at a random offset.
@pytest.mark.parametrize("n_samples", [1024, 48000, 350400, 480000])
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_clap_transformers(kind, n_samples, make_signal, clap_extractor, f64):
    x = make_signal(kind, sample_rate=48000, n_samples=n_samples)
    peer = clap_extractor(x, sampling_rate=48000, return_tensors="np")["input_features"][0]  # [1, 1001, 64]
    mine = ours(x, f64("clap"), 48000)
    assert mine.shape == peer.shape == (1, 1001, 64)
    assert_log_close(mine[0], peer[0], nepers_per_unit=NEPERS_PER_DB,
                     where=f"clap vs transformers {kind} n={n_samples}")
    if kind == "silence":
        assert (peer == -100.0).all() and np.array_equal(mine, peer.astype(np.float64))


@pytest.mark.parametrize("orig_hz", [16000, 44100])
def test_clap_resampled(orig_hz, make_signal, clap_extractor, f64):
    x = make_signal("espeak", sample_rate=orig_hz, n_samples=4 * orig_hz)
    peer = clap_extractor(fastmel.resample(x, orig_hz=orig_hz, target_hz=48000), sampling_rate=48000,
                          return_tensors="np")["input_features"][0]
    assert_log_close(ours(x, f64("clap"), orig_hz, resample=True)[0], peer[0],
                     nepers_per_unit=NEPERS_PER_DB, where=f"clap espeak from {orig_hz} Hz")


# ===================================================================== librosa


@pytest.mark.filterwarnings("ignore:n_fft=2048 is too large for input signal of length=1:UserWarning")
@pytest.mark.parametrize("n_samples", [1, 2048, 110250])  # one sample; one window; 5 s
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_librosa_preset(kind, n_samples, make_signal, f64):
    import librosa

    x = make_signal(kind, sample_rate=22050, n_samples=n_samples)
    peer = librosa.power_to_db(librosa.feature.melspectrogram(y=x, sr=22050))  # [128, T], every default
    assert_log_close(ours(x, f64("librosa"), 22050).T, peer.T, nepers_per_unit=NEPERS_PER_DB,
                     where=f"librosa preset {kind} n={n_samples}")


@pytest.mark.parametrize("lifter", [0, 22])
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_librosa_mfcc(kind, lifter, make_signal, f64):
    """librosa.feature.mfcc (power_to_db with top_db=80, orthonormal DCT-II,
    20 coefficients). The DCT is orthonormal, so a dB error maps to MFCC
    errors of the same size: compared in dB-equivalent nepers."""
    import librosa

    x = make_signal(kind, sample_rate=22050, n_samples=3 * 22050)
    config = f64("librosa").replace(mfcc=MfccConfig(n_mfcc=20, lifter=float(lifter)))
    peer = librosa.feature.mfcc(y=x, sr=22050, n_mfcc=20, lifter=lifter)  # [20, T]
    assert_log_close(ours(x, config, 22050).T, peer.T, nepers_per_unit=NEPERS_PER_DB,
                     where=f"librosa mfcc lifter={lifter} {kind}")


def librosa_like_config(sample_rate: int, *, n_fft: int, win_length: int, hop_length: int, n_mels: int,
                        htk: bool, fmin: float, fmax: float | None) -> FeatureConfig:
    return FeatureConfig(
        sample_rate_hz=sample_rate,
        frame=FrameConfig(win_length=win_length, hop_length=hop_length, center=True, pad_mode="constant"),
        window=WindowConfig(kind="hann", periodic=True),
        spectrum=SpectrumConfig(n_fft=n_fft, power=2.0),
        mel=MelConfig(n_mels=n_mels, fmin_hz=fmin, fmax_hz=fmax, scale="htk" if htk else "slaney",
                      norm="slaney"),
        compress=CompressConfig(kind="db", floor=1e-10, ref=1.0, dynamic_range=80.0),
        output=OutputConfig(layout="freq_time", dtype="float64"),
    )


@pytest.mark.parametrize("fmin, fmax_fraction", [(0.0, None), (60.0, 0.4)])
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 32000, 44100, 48000])
def test_librosa_rates_htk_fmin_fmax(sample_rate, htk, fmin, fmax_fraction, make_signal):
    import librosa

    n_fft = 512 if sample_rate <= 16000 else 2048
    n_mels = 40 if sample_rate == 8000 else 64
    fmax = None if fmax_fraction is None else fmax_fraction * sample_rate
    config = librosa_like_config(sample_rate, n_fft=n_fft, win_length=n_fft, hop_length=n_fft // 4,
                                 n_mels=n_mels, htk=htk, fmin=fmin, fmax=fmax)
    x = make_signal("espeak", sample_rate=sample_rate, n_samples=2 * sample_rate)
    peer = librosa.power_to_db(librosa.feature.melspectrogram(
        y=x, sr=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels, fmin=fmin, fmax=fmax,
        htk=htk))
    assert_log_close(ours(x, config, sample_rate).T, peer.T, nepers_per_unit=NEPERS_PER_DB,
                     where=f"librosa {sample_rate} Hz htk={htk} fmin={fmin} fmax={fmax}")


@pytest.mark.parametrize("kind", ["noise", "speech_like", "espeak"])
def test_librosa_short_window_in_long_fft(kind, make_signal):
    """win_length < n_fft: librosa centres the window in the FFT frame (pad_center)."""
    import librosa

    config = librosa_like_config(16000, n_fft=512, win_length=400, hop_length=160, n_mels=80,
                                 htk=False, fmin=0.0, fmax=8000.0)
    x = make_signal(kind, sample_rate=16000, n_samples=32000)
    peer = librosa.power_to_db(librosa.feature.melspectrogram(
        y=x, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80, fmax=8000.0))
    assert_log_close(ours(x, config, 16000).T, peer.T, nepers_per_unit=NEPERS_PER_DB,
                     where=f"librosa win 400 in n_fft 512 {kind}")


# ============================================================ PANNs / HTS-AT


def torchlibrosa_logmel_by_librosa(x: np.ndarray) -> np.ndarray:
    """What torchlibrosa's ``Spectrogram`` + ``LogmelFilterBank`` compute for
    PANNs CNN14 / HTS-AT (``center=True, pad_mode='reflect'``, periodic Hann,
    power 2, librosa's Slaney mel 64 x 50..14000 Hz, ``power_to_db(ref=1.0,
    amin=1e-10, top_db=None)``), written with librosa. Returns ``[T, 64]``."""
    import librosa

    power = np.abs(librosa.stft(x, n_fft=1024, hop_length=320, win_length=1024, window="hann",
                                center=True, pad_mode="reflect")) ** 2  # [513, T]
    filters = librosa.filters.mel(sr=32000, n_fft=1024, n_mels=64, fmin=50, fmax=14000)  # [64, 513]
    return librosa.power_to_db(filters @ power, ref=1.0, amin=1e-10, top_db=None).T


def htsat_input(x: np.ndarray) -> np.ndarray:
    """HTS-AT's clip: zero-padded or cut to ``clip_samples = 32000 * 10``."""
    return np.pad(x, (0, max(0, 320000 - x.shape[0])))[:320000]


@pytest.mark.parametrize("n_samples", [1024, 32000, 320000, 400000])  # one window .. 12.5 s
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
@pytest.mark.parametrize("preset", ["panns", "htsat"])
def test_panns_htsat_librosa(preset, kind, n_samples, make_signal, f64):
    x = make_signal(kind, sample_rate=32000, n_samples=n_samples)
    clip = x if preset == "panns" else htsat_input(x)
    peer = torchlibrosa_logmel_by_librosa(clip)
    mine = ours(x, f64(preset), 32000)
    assert_log_close(mine, peer, nepers_per_unit=NEPERS_PER_DB,
                     where=f"{preset} vs librosa {kind} n={n_samples}")
    if kind == "silence":
        assert (mine == -100.0).all()


@pytest.mark.parametrize("kind", SIGNAL_KINDS)
@pytest.mark.parametrize("preset", ["panns", "htsat"])
def test_panns_htsat_torchlibrosa(preset, kind, make_signal, f64):
    """torchlibrosa itself (float32 conv1d DFT): float32 peer rules."""
    pytest.importorskip("torchlibrosa", reason="torchlibrosa is not installed (pip install torchlibrosa)")
    import torch
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram

    spectrogram = Spectrogram(n_fft=1024, hop_length=320, win_length=1024, window="hann", center=True,
                              pad_mode="reflect", freeze_parameters=True)
    logmel = LogmelFilterBank(sr=32000, n_fft=1024, n_mels=64, fmin=50, fmax=14000, ref=1.0,
                              amin=1e-10, top_db=None, freeze_parameters=True)
    x = make_signal(kind, sample_rate=32000, n_samples=160000)
    clip = x if preset == "panns" else htsat_input(x)
    with torch.no_grad():
        peer = logmel(spectrogram(torch.from_numpy(clip)[None]))[0, 0].numpy()  # [T, 64]
    assert_log_close(ours(x, f64(preset), 32000), peer, nepers_per_unit=NEPERS_PER_DB, float32_peer=True,
                     where=f"{preset} vs torchlibrosa {kind}")


# ======================================================================== long


@pytest.mark.slow
def test_kaldi_three_minutes_knf(make_signal, f64):
    x = make_signal("espeak", sample_rate=16000, n_samples=16000 * 180)
    mine = ours(x, f64("kaldi"), 16000)
    assert mine.shape == (17998, 23)
    assert_log_close(mine, knf_fbank(x), nepers_per_unit=1.0, float32_peer=True,
                     where="kaldi preset vs knf, 3 min espeak")


@pytest.mark.slow
def test_librosa_preset_four_minutes(make_signal, f64):
    import librosa

    x = make_signal("speech_like", sample_rate=22050, n_samples=22050 * 240, seed=7)
    peer = librosa.power_to_db(librosa.feature.melspectrogram(y=x, sr=22050))
    assert_log_close(ours(x, f64("librosa"), 22050).T, peer.T, nepers_per_unit=NEPERS_PER_DB,
                     where="librosa preset, 4 min speech_like")
