"""Named feature configurations, each reproducing one model's own front-end.

A preset is data: a :class:`~fastmel.config.FeatureConfig`. Each builder's
docstring cites the code it mirrors; the parity tests run that code.
"""

from __future__ import annotations

from typing import Callable

from .config import (
    FLOAT32_EPS,
    CompressConfig,
    FeatureConfig,
    FrameConfig,
    MelConfig,
    NormalizeConfig,
    OutputConfig,
    SignalConfig,
    SpectrumConfig,
    WindowConfig,
)
from .errors import ParameterError

__all__ = ["get_preset", "preset_names", "describe_preset", "resolve_config"]

# Kaldi framing at 16 kHz: 25 ms windows, 10 ms shift, FFT rounded up to 512.
_KALDI_FRAME = FrameConfig(win_length=400, hop_length=160, center=False, snip_edges=True,
                           remove_dc_offset=True, preemphasis=0.97)


def _kaldi_mel(n_mels: int, *, allow_empty_bands: bool = False) -> MelConfig:
    # Kaldi: low_freq 20 Hz, high_freq 0 (= Nyquist), 1127 ln(1 + f / 700), triangles in mel.
    return MelConfig(n_mels=n_mels, fmin_hz=20.0, fmax_hz=None, scale="kaldi", norm=None,
                     triangles_in_mel=True, allow_empty_bands=allow_empty_bands)


def ast() -> FeatureConfig:
    """AST (Audio Spectrogram Transformer), as transformers' ASTFeatureExtractor.

    Mirrors ``transformers/models/audio_spectrogram_transformer/
    feature_extraction_audio_spectrogram_transformer.py`` (which calls
    ``torchaudio.compliance.kaldi.fbank(waveform, window_type="hanning",
    num_mel_bins=128)``, or the equal NumPy path) and YuanGongND/ast
    ``src/dataloader.py``: Kaldi fbank, 128 bins, symmetric Hann window (not
    Povey), dither 0, 25 ms / 10 ms, no energy, low_freq 20 Hz; zero-padded or
    cut to 1024 frames, then ``(x - (-4.2677393)) / (2 * 4.5689974)``.

    Output: ``[1024, 128]`` float32, time by frequency. The 128-band Kaldi
    bank from 20 Hz at n_fft 512 has a band that covers no FFT bin; it is
    constant ``ln(eps)`` as in the model's own front-end.
    """
    return FeatureConfig(
        sample_rate_hz=16000,
        frame=_KALDI_FRAME,
        window=WindowConfig(kind="hann", periodic=False),
        spectrum=SpectrumConfig(n_fft=512, power=2.0),
        mel=_kaldi_mel(128, allow_empty_bands=True),
        compress=CompressConfig(kind="log", floor=FLOAT32_EPS),
        normalize=NormalizeConfig(mode="fixed", mean=-4.2677393, divisor=2 * 4.5689974),
        output=OutputConfig(n_frames=1024, pad_value=0.0, layout="time_freq"),
    )


def beats() -> FeatureConfig:
    """BEATs, as ``microsoft/unilm`` ``beats/BEATs.py`` ``BEATs.preprocess``.

    ``ta_kaldi.fbank(waveform * 2 ** 15, num_mel_bins=128,
    sample_frequency=16000, frame_length=25, frame_shift=10)`` with
    torchaudio's defaults (Povey window, dither 0, pre-emphasis 0.97, DC
    removal, low_freq 20 Hz), then ``(fbank - 15.41663) / (2 * 6.55582)``.

    Output: ``[frames, 128]`` float32, no padding.
    """
    return FeatureConfig(
        sample_rate_hz=16000,
        signal=SignalConfig(scale=2.0**15),
        frame=_KALDI_FRAME,
        window=WindowConfig(kind="povey", periodic=False),
        spectrum=SpectrumConfig(n_fft=512, power=2.0),
        mel=_kaldi_mel(128, allow_empty_bands=True),
        compress=CompressConfig(kind="log", floor=FLOAT32_EPS),
        normalize=NormalizeConfig(mode="fixed", mean=15.41663, divisor=2 * 6.55582),
        output=OutputConfig(layout="time_freq"),
    )


def _whisper(n_mels: int) -> FeatureConfig:
    return FeatureConfig(
        sample_rate_hz=16000,
        signal=SignalConfig(n_samples=480_000),  # N_SAMPLES: 30 s at 16 kHz
        frame=FrameConfig(win_length=400, hop_length=160, center=True, pad_mode="reflect",
                          drop_last_frame=True),  # 3000 frames
        window=WindowConfig(kind="hann", periodic=True),
        spectrum=SpectrumConfig(n_fft=400, power=2.0),
        mel=MelConfig(n_mels=n_mels, fmin_hz=0.0, fmax_hz=8000.0, scale="slaney", norm="slaney"),
        compress=CompressConfig(kind="log10", floor=1e-10, dynamic_range=8.0),
        normalize=NormalizeConfig(mode="fixed", mean=-4.0, divisor=4.0),
        output=OutputConfig(layout="freq_time"),
    )


def whisper() -> FeatureConfig:
    """Whisper (80 bands), as ``openai/whisper`` ``whisper/audio.py``
    ``log_mel_spectrogram`` after ``pad_or_trim``, and transformers'
    WhisperFeatureExtractor.

    Pad or trim to 30 s; STFT n_fft 400, hop 160, periodic Hann, centered
    reflect padding, last frame dropped; power 2; librosa's Slaney mel (80
    bands, 0 to 8 kHz); ``log10(max(x, 1e-10))``, ``max(x, x.max() - 8)``,
    ``(x + 4) / 4``.

    Output: ``[80, 3000]`` float32, frequency by time.
    """
    return _whisper(80)


def whisper_128() -> FeatureConfig:
    """Whisper large-v3 (128 bands): :func:`whisper` with ``n_mels=128``.

    Output: ``[128, 3000]`` float32, frequency by time.
    """
    return _whisper(128)


def _torchlibrosa_logmel(sample_rate_hz: int, hop_length: int, *, n_samples: int | None,
                         signal_pad: str, layout: str) -> FeatureConfig:
    return FeatureConfig(
        sample_rate_hz=sample_rate_hz,
        signal=SignalConfig(n_samples=n_samples, pad=signal_pad),
        frame=FrameConfig(win_length=1024, hop_length=hop_length, center=True, pad_mode="reflect"),
        window=WindowConfig(kind="hann", periodic=True),
        spectrum=SpectrumConfig(n_fft=1024, power=2.0),
        mel=MelConfig(n_mels=64, fmin_hz=50.0, fmax_hz=14000.0, scale="slaney", norm="slaney"),
        compress=CompressConfig(kind="db", floor=1e-10, ref=1.0, dynamic_range=None),
        output=OutputConfig(layout=layout),
    )


def panns() -> FeatureConfig:
    """PANNs CNN14, as ``qiuqiangkong/audioset_tagging_cnn`` ``pytorch/models.py``
    ``Cnn14`` (torchlibrosa ``Spectrogram`` + ``LogmelFilterBank``).

    32 kHz; window 1024, hop 320, periodic Hann, centered reflect padding;
    power 2; Slaney mel (64 bands, 50 Hz to 14 kHz); ``power_to_db`` with
    ``ref=1.0``, ``amin=1e-10``, ``top_db=None``.

    Output: ``[frames, 64]`` float32, time by frequency (the model adds its
    channel axis and applies its own batch norm).
    """
    return _torchlibrosa_logmel(32000, 320, n_samples=None, signal_pad="zeros", layout="time_freq")


def htsat() -> FeatureConfig:
    """HTS-AT, as ``RetroCirce/HTS-Audio-Transformer`` ``config.py`` and
    ``model/htsat.py`` (the same torchlibrosa front-end as PANNs).

    32 kHz; clips padded or cut to ``clip_samples = sample_rate * 10``;
    window 1024, hop 320; 64 Slaney mel bands, 50 Hz to 14 kHz; dB with
    ``ref=1.0``, ``amin=1e-10``, ``top_db=None``.

    Output: ``[1001, 64]`` float32, time by frequency.
    """
    return _torchlibrosa_logmel(32000, 320, n_samples=320_000, signal_pad="zeros", layout="time_freq")


def clap() -> FeatureConfig:
    """CLAP (LAION, ``rand_trunc`` checkpoints such as clap-htsat-unfused), as
    transformers' ClapFeatureExtractor with the checkpoint's
    ``frequency_min=50`` and ``truncation="rand_trunc"``, ``padding="repeatpad"``.

    48 kHz; a short clip is repeated whole, then zero-padded, to 10 s (a
    longer one is cut to its first 10 s, where ``rand_trunc`` picks a random
    10 s); window 1024, hop 480, periodic Hann, centered reflect padding;
    64 Slaney mel bands, 50 Hz to 14 kHz; ``10 log10(max(x, 1e-10))``.

    Output: ``[1, 1001, 64]`` float32 (channel, time, frequency).
    """
    return _torchlibrosa_logmel(48000, 480, n_samples=480_000, signal_pad="repeat",
                                layout="channel_time_freq")


def kaldi() -> FeatureConfig:
    """Kaldi ``compute-fbank-feats`` defaults (``src/feat/feature-fbank.h``,
    ``feature-window.h``, ``mel-computations.h``), with dither 0.

    16 kHz, 25 ms / 10 ms, Povey window, pre-emphasis 0.97, DC removal,
    snip_edges, FFT 512, 23 bands from 20 Hz to Nyquist, ``ln(max(x, eps))``.

    Output: ``[frames, 23]`` float32.
    """
    return FeatureConfig(
        sample_rate_hz=16000,
        frame=_KALDI_FRAME,
        window=WindowConfig(kind="povey", periodic=False),
        spectrum=SpectrumConfig(n_fft=512, power=2.0),
        mel=_kaldi_mel(23),
        compress=CompressConfig(kind="log", floor=FLOAT32_EPS),
        output=OutputConfig(layout="time_freq"),
    )


def librosa() -> FeatureConfig:
    """``librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050))``
    with every default (``librosa/feature/spectral.py``, ``librosa/filters.py``).

    22.05 kHz; n_fft 2048, hop 512, periodic Hann, centered constant (zero)
    padding; power 2; 128 Slaney bands, Slaney norm, 0 to Nyquist;
    ``power_to_db(ref=1.0, amin=1e-10, top_db=80)``.

    Output: ``[128, frames]`` float32, frequency by time.
    """
    return FeatureConfig(
        sample_rate_hz=22050,
        frame=FrameConfig(win_length=2048, hop_length=512, center=True, pad_mode="constant"),
        window=WindowConfig(kind="hann", periodic=True),
        spectrum=SpectrumConfig(n_fft=2048, power=2.0),
        mel=MelConfig(n_mels=128, fmin_hz=0.0, fmax_hz=None, scale="slaney", norm="slaney"),
        compress=CompressConfig(kind="db", floor=1e-10, ref=1.0, dynamic_range=80.0),
        output=OutputConfig(layout="freq_time"),
    )


_PRESETS: dict[str, Callable[[], FeatureConfig]] = {
    "ast": ast,
    "beats": beats,
    "whisper": whisper,
    "whisper-128": whisper_128,
    "panns": panns,
    "htsat": htsat,
    "clap": clap,
    "kaldi": kaldi,
    "librosa": librosa,
}


def preset_names() -> list[str]:
    """The names :func:`get_preset` accepts."""
    return list(_PRESETS)


def get_preset(name: str) -> FeatureConfig:
    """The :class:`FeatureConfig` of preset ``name``.

    Raises
    ------
    ParameterError
        When ``name`` is not a preset; the message lists the valid ones.
    """
    try:
        return _PRESETS[name]()
    except (KeyError, TypeError):
        raise ParameterError(
            f"preset={name!r} is not one of {', '.join(repr(n) for n in _PRESETS)}"
        ) from None


def describe_preset(name: str) -> str:
    """The first line of the preset's docstring (what it mirrors)."""
    get_preset(name)
    doc = _PRESETS[name].__doc__ or ""
    return " ".join(doc.strip().split("\n\n")[0].replace("``", "").split())


def resolve_config(*, preset: str | None, config: FeatureConfig | None) -> FeatureConfig:
    """Exactly one of ``preset`` (a name) and ``config``, as a FeatureConfig."""
    if (preset is None) == (config is None):
        raise ParameterError(
            f"pass exactly one of preset= and config= (got preset={preset!r}, "
            f"config={'a FeatureConfig' if config is not None else None})"
        )
    if config is not None:
        if not isinstance(config, FeatureConfig):
            raise ParameterError(f"config={config!r} is not a fastmel.FeatureConfig")
        return config
    return get_preset(preset)
