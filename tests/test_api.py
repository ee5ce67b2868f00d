"""The public API: shapes, layouts, batches, frameworks."""

import numpy as np
import pytest

import fastmel

RATE = 16000


def _noise(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32) * 0.1


@pytest.mark.parametrize("name", fastmel.preset_names())
def test_output_shape_matches_prediction(name):
    extractor = fastmel.Extractor(name, backend="reference")
    rate = extractor.sample_rate_hz
    n = int(3.3 * rate)
    features = extractor(_noise(n), sample_rate=rate)
    assert features.shape == extractor.output_shape(n)
    assert features.dtype == np.float32
    assert features.flags.c_contiguous


@pytest.mark.parametrize(
    "name, shape",
    [
        ("ast", (1024, 128)),
        ("beats", (998, 128)),
        ("whisper", (80, 3000)),
        ("whisper-128", (128, 3000)),
        ("panns", (1001, 64)),
        ("htsat", (1001, 64)),
        ("clap", (1, 1001, 64)),
        ("kaldi", (998, 23)),
        ("librosa", (128, 431)),
    ],
)
def test_preset_shapes_for_ten_seconds(name, shape):
    # The shapes each model's own extractor returns for one 10 s clip.
    assert fastmel.Extractor(name, backend="reference").output_shape(10 * fastmel.get_preset(name).sample_rate_hz) == shape


def test_batch_ragged_and_single_agree():
    extractor = fastmel.Extractor("kaldi")
    clips = [_noise(4000, seed=s) for s in range(3)]
    single = [extractor(c, sample_rate=RATE) for c in clips]
    batch = extractor(np.stack(clips), sample_rate=RATE)
    assert batch.shape == (3, *single[0].shape)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], single[i])
    ragged_clips = [_noise(n, seed=n) for n in (400, 1600, 16000)]
    ragged = extractor(ragged_clips, sample_rate=RATE)
    assert isinstance(ragged, list) and [r.shape[0] for r in ragged] == [1, 8, 98]
    for clip, result in zip(ragged_clips, ragged):
        np.testing.assert_array_equal(result, extractor(clip, sample_rate=RATE))


def test_float64_input_and_output():
    config = fastmel.get_preset("kaldi")
    config = config.replace(output=fastmel.OutputConfig(layout="time_freq", dtype="float64"))
    features = fastmel.extract(_noise(1600).astype(np.float64), config=config, sample_rate=RATE)
    assert features.dtype == np.float64


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    x = _noise(8000)
    tensor = torch.from_numpy(x).requires_grad_(False)
    out = fastmel.extract(tensor, preset="ast", sample_rate=RATE)
    assert isinstance(out, torch.Tensor) and out.shape == (1024, 128)
    np.testing.assert_array_equal(out.numpy(), fastmel.extract(x, preset="ast", sample_rate=RATE))
    batch = fastmel.extract(torch.stack([tensor, tensor]), preset="ast", sample_rate=RATE)
    assert isinstance(batch, torch.Tensor) and batch.shape == (2, 1024, 128)
    ragged = fastmel.extract([tensor, tensor[:4000]], preset="kaldi", sample_rate=RATE)
    assert all(isinstance(r, torch.Tensor) for r in ragged)


def test_lists_of_floats_are_one_clip_each():
    # A list is a ragged batch: a list of Python floats is a list of 0-D clips.
    with pytest.raises(fastmel.AudioError, match=r"clip 0 of type float is not an array of samples"):
        fastmel.extract([0.0, 0.1, 0.2], preset="kaldi", sample_rate=RATE)


def test_float16_input_is_widened():
    x = _noise(1600)
    a = fastmel.extract(x.astype(np.float16), preset="kaldi", sample_rate=RATE)
    b = fastmel.extract(x.astype(np.float16).astype(np.float32), preset="kaldi", sample_rate=RATE)
    np.testing.assert_array_equal(a, b)


def test_extractor_repr_and_geometry():
    extractor = fastmel.Extractor("whisper")
    assert "16000" in repr(extractor)
    assert extractor.n_features == 80
    assert extractor.n_frames(123) == 3000  # Whisper pads every clip to 30 s


def test_ast_padding_is_the_normalised_zero():
    # AST pads with 0 before normalising: padded frames equal (0 + 4.2677393) / (2 * 4.5689974).
    features = fastmel.extract(_noise(16000), preset="ast", sample_rate=RATE)
    np.testing.assert_allclose(features[98:], 4.2677393 / (2 * 4.5689974), rtol=1e-6)


def test_whisper_clamp_limits_the_range():
    features = fastmel.extract(_noise(16000 * 2), preset="whisper", sample_rate=RATE)
    assert features.max() - features.min() <= 2.0 + 1e-6  # 8 bels / 4


def test_librosa_top_db():
    features = fastmel.extract(_noise(22050), preset="librosa", sample_rate=22050)
    assert features.max() - features.min() <= 80.0 + 1e-4


def test_clap_repeat_pads_short_clips():
    x = _noise(48000 * 3)
    features = fastmel.extract(x, preset="clap", sample_rate=48000)
    # Three whole repeats fill 9 s, zeros the last second; the second repeat's frames
    # equal the first's (hop 480 divides 3 s).
    np.testing.assert_allclose(features[0, 110:290], features[0, 410:590], atol=1e-4)
    assert np.all(features[0, -50:] == features[0, -1])


def test_mfcc_config():
    config = fastmel.get_preset("librosa").replace(mfcc=fastmel.MfccConfig(n_mfcc=20))
    features = fastmel.extract(_noise(22050), config=config, sample_rate=22050)
    assert features.shape == (20, 44)


def test_energy_column_position():
    base = fastmel.get_preset("kaldi")
    first = fastmel.extract(_noise(1600), config=base.replace(use_energy=True), sample_rate=RATE)
    last = fastmel.extract(_noise(1600), config=base.replace(use_energy=True, energy_position="last"),
                           sample_rate=RATE)
    np.testing.assert_array_equal(first[:, 0], last[:, -1])
    np.testing.assert_array_equal(first[:, 1:], last[:, :-1])
