"""Configuration: validation messages, derived values, dict round trip."""

import json

import pytest

import fastmel
from fastmel.config import (
    CompressConfig,
    FeatureConfig,
    FrameConfig,
    MelConfig,
    MfccConfig,
    NormalizeConfig,
    OutputConfig,
    SignalConfig,
    SpectrumConfig,
    WindowConfig,
)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: FrameConfig(hop_length=0), r"FrameConfig.hop_length=0 is not an integer >= 1"),
        (lambda: FrameConfig(win_length=2.5), r"FrameConfig.win_length=2.5 is not an integer >= 1"),
        (lambda: FrameConfig(pad_mode="wrap"), r"FrameConfig.pad_mode='wrap' is not one of 'constant', 'reflect', 'edge'"),
        (lambda: FrameConfig(preemphasis=1.5), r"FrameConfig.preemphasis=1.5 is not <= 1.0"),
        (lambda: FrameConfig(dither=-1.0), r"FrameConfig.dither=-1.0 is not >= 0.0"),
        (lambda: WindowConfig(kind="kaiser"), r"WindowConfig.kind='kaiser' is not one of 'hann', 'hamming', 'povey'"),
        (lambda: SpectrumConfig(n_fft=1), r"SpectrumConfig.n_fft=1 is not an integer >= 2"),
        (lambda: SpectrumConfig(power=0), r"SpectrumConfig.power=0 is not > 0.0"),
        (lambda: MelConfig(n_mels=0), r"MelConfig.n_mels=0 is not an integer >= 1"),
        (lambda: MelConfig(scale="bark"), r"MelConfig.scale='bark' is not one of 'htk', 'slaney', 'kaldi'"),
        (lambda: MelConfig(norm="l2"), r"MelConfig.norm='l2' is not one of 'slaney'"),
        (lambda: CompressConfig(kind="ln"), r"CompressConfig.kind='ln' is not one of 'none', 'log', 'log10', 'db'"),
        (lambda: CompressConfig(floor=0.0), r"CompressConfig.floor=0.0 is not > 0.0"),
        (lambda: CompressConfig(floor=float("nan")), r"CompressConfig.floor=nan is not a finite number"),
        (lambda: NormalizeConfig(divisor=0.0), r"NormalizeConfig.divisor=0 is not a non-zero number"),
        (lambda: OutputConfig(layout="tf"), r"OutputConfig.layout='tf' is not one of 'time_freq', 'freq_time', 'channel_time_freq'"),
        (lambda: OutputConfig(dtype="float16"), r"OutputConfig.dtype='float16' is not one of 'float32', 'float64'"),
        (lambda: SignalConfig(pad="mirror"), r"SignalConfig.pad='mirror' is not one of 'zeros', 'repeat'"),
        (lambda: MfccConfig(n_mfcc=0), r"MfccConfig.n_mfcc=0 is not an integer >= 1"),
        (lambda: FeatureConfig(sample_rate_hz=0), r"FeatureConfig.sample_rate_hz=0 is not an integer >= 1"),
        (lambda: FeatureConfig(frame=FrameConfig(win_length=1024), spectrum=SpectrumConfig(n_fft=512)),
         r"SpectrumConfig.n_fft=512 is not >= FrameConfig.win_length=1024"),
        (lambda: FeatureConfig(mel=MelConfig(fmin_hz=100.0, fmax_hz=50.0)),
         r"fmin_hz=100.0 and fmax_hz=50.0 \(resolved to 50.0\) are not 0 <= fmin < fmax <= Nyquist=8000.0"),
        (lambda: FeatureConfig(mel=MelConfig(fmax_hz=9000.0)), r"are not 0 <= fmin < fmax <= Nyquist=8000.0"),
        (lambda: FeatureConfig(mel=MelConfig(n_mels=10), mfcc=MfccConfig(n_mfcc=13)),
         r"MfccConfig.n_mfcc=13 is not <= MelConfig.n_mels=10"),
        (lambda: FeatureConfig(frame="fast"), r"FeatureConfig.frame='fast' is not a FrameConfig"),
    ],
)
def test_invalid_values_are_named(build, message):
    with pytest.raises(fastmel.ParameterError, match=message):
        build()


def test_parameter_error_is_a_value_error():
    with pytest.raises(ValueError):
        FrameConfig(hop_length=-3)


def test_configs_are_frozen():
    config = fastmel.get_preset("ast")
    with pytest.raises(AttributeError):
        config.sample_rate_hz = 8000  # type: ignore[misc]


@pytest.mark.parametrize("name", fastmel.preset_names())
def test_dict_round_trip_through_json(name):
    config = fastmel.get_preset(name)
    text = json.dumps(config.to_dict())
    assert FeatureConfig.from_dict(json.loads(text)) == config


def test_from_dict_refuses_unknown_keys():
    data = fastmel.get_preset("kaldi").to_dict()
    data["frame"]["hop_ms"] = 10
    with pytest.raises(fastmel.ParameterError, match=r"FeatureConfig.frame has unknown keys \['hop_ms'\]"):
        FeatureConfig.from_dict(data)


def test_from_dict_refuses_non_dict_stage():
    data = fastmel.get_preset("kaldi").to_dict()
    data["mel"] = 23
    with pytest.raises(fastmel.ParameterError, match=r"FeatureConfig.mel=23 is not a dict"):
        FeatureConfig.from_dict(data)


def test_kaldi_negative_fmax_is_offset_from_nyquist():
    config = FeatureConfig(mel=MelConfig(fmax_hz=-400.0))
    assert config.fmax_hz == 7600.0
    assert FeatureConfig(mel=MelConfig(fmax_hz=None)).fmax_hz == 8000.0


def test_derived_quantities():
    config = fastmel.get_preset("ast")
    assert config.n_features == 128
    assert config.hop_seconds == pytest.approx(0.01)
    assert config.spectrum.n_bins == 257
    energy = config.replace(use_energy=True)
    assert energy.n_features == 129


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(fastmel.ParameterError, match=r"preset='asr' is not one of 'ast', 'beats', 'whisper'"):
        fastmel.get_preset("asr")


def test_extract_needs_exactly_one_of_preset_and_config():
    with pytest.raises(fastmel.ParameterError, match=r"pass exactly one of preset= and config="):
        fastmel.extract([0.0] * 400, sample_rate=16000)
    with pytest.raises(fastmel.ParameterError, match=r"pass exactly one of preset= and config="):
        fastmel.extract([0.0] * 400, sample_rate=16000, preset="ast", config=fastmel.get_preset("ast"))
