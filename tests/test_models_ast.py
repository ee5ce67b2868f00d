"""AST inference (fastmel.models) against transformers' ASTForAudioClassification on the CPU.

Parity criterion (issue 6): float32 logits, max |fastmel - transformers| <= 1e-4 x max |transformers|.
"""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from _ast_models import BASE, TINY_OWN, TINY_PRESET, random_features, relative_error, save_random_ast, torch_logits
from fastmel.errors import BackendUnavailable, ModelError, ParameterError
from fastmel.models import AST, ASTConfig

pytest.importorskip("transformers", reason="transformers' ASTForAudioClassification is the reference")
LOGIT_TOL = 1e-4  # relative to the logit scale


@pytest.fixture(scope="module")
def tiny_own(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_own")
    return path, save_random_ast(path, seed=0, std=0.3, **TINY_OWN)


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_preset")
    return path, save_random_ast(path, seed=1, std=0.3, **TINY_PRESET)


def test_tiny_own_geometry_matches_transformers(tiny_own):
    path, ref_model = tiny_own
    model = AST.from_pretrained(path, preset=None)
    features = random_features(seed=10, batch=3, frames=64, bins=32)
    ref = torch_logits(ref_model, features)
    logits = model.forward(features)
    assert logits.shape == (3, 9) and logits.dtype == np.float32
    assert relative_error(logits, ref) <= LOGIT_TOL
    single = model.forward(features[1])  # one [frames, bins] clip: same numbers up to BLAS blocking
    np.testing.assert_allclose(single, logits[1], atol=1e-6 * np.abs(logits).max(), rtol=0)


def test_tiny_preset_geometry_matches_transformers(tiny_preset):
    path, ref_model = tiny_preset
    model = AST.from_pretrained(path)  # preset="ast": 1024 frames x 128 bins
    features = random_features(seed=11, batch=2, frames=1024, bins=128)
    assert relative_error(model.forward(features), torch_logits(ref_model, features)) <= LOGIT_TOL


def test_ast_base_geometry_matches_transformers(tmp_path):
    ref_model = save_random_ast(tmp_path, seed=2, std=0.02, **BASE)
    model = AST.from_pretrained(tmp_path)
    assert model.config.n_tokens == 1214 and model.config.n_classes == 527
    features = random_features(seed=12, batch=1, frames=1024, bins=128)
    ref = torch_logits(ref_model, features)
    del ref_model
    assert relative_error(model.forward(features), ref) <= LOGIT_TOL


def test_pytorch_model_bin_matches_transformers(tiny_own, tmp_path):
    torch = pytest.importorskip("torch")
    path, ref_model = tiny_own
    torch.save(ref_model.state_dict(), tmp_path / "pytorch_model.bin")
    shutil.copy(path / "config.json", tmp_path / "config.json")
    features = random_features(seed=13, batch=2, frames=64, bins=32)
    model = AST.from_pretrained(tmp_path, preset=None)
    assert relative_error(model.forward(features), torch_logits(ref_model, features)) <= LOGIT_TOL


def test_both_key_layouts_give_the_same_logits(tiny_own, tmp_path):
    """save_pretrained writes the legacy ViT names (encoder.layer.N.attention.attention.query, as the
    MIT/ast-* hub checkpoints); the module's own state_dict uses layers.N.attention.q_proj."""
    from safetensors.torch import save_file

    path, ref_model = tiny_own
    state = {k: v.contiguous() for k, v in ref_model.state_dict().items()}
    assert "audio_spectrogram_transformer.layers.0.attention.q_proj.weight" in state
    save_file(state, str(tmp_path / "model.safetensors"))
    shutil.copy(path / "config.json", tmp_path / "config.json")
    features = random_features(seed=14, batch=1, frames=64, bins=32)
    np.testing.assert_array_equal(AST.from_pretrained(tmp_path, preset=None).forward(features),
                                  AST.from_pretrained(path, preset=None).forward(features))


def test_end_to_end_from_waveform_matches_transformers_feature_extractor(tiny_preset):
    fastmel = pytest.importorskip("fastmel")
    if not hasattr(fastmel, "extract"):
        pytest.skip("fastmel.extract (the feature front-end) is not importable yet")
    from transformers import ASTFeatureExtractor

    path, ref_model = tiny_preset
    t = np.arange(16000 * 10) / 16000
    rng = np.random.default_rng(4)
    waveform = (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    ours = fastmel.extract(waveform, preset="ast", sample_rate=16000)
    theirs = ASTFeatureExtractor()(waveform, sampling_rate=16000, return_tensors="np")["input_values"]  # [1, 1024, 128]
    feature_diff = np.abs(ours - theirs[0]).max()
    assert feature_diff <= 2e-3  # DESIGN.md: preset vs the model's own extractor
    logits = AST.from_pretrained(path).forward(ours)
    ref = torch_logits(ref_model, theirs.astype(np.float32))[0]
    # features agree to float32 FFT noise; the logits may move by that times the model's gain, no more
    assert relative_error(logits, ref) <= 1e-3


def test_classify_returns_sorted_sigmoid_top_k(tiny_own):
    path, ref_model = tiny_own
    model = AST.from_pretrained(path, preset=None)
    features = random_features(seed=15, batch=2, frames=64, bins=32)
    result = model.classify(features, top_k=3)
    logits = torch_logits(ref_model, features).astype(np.float64)
    for labels, row in zip(result, logits):
        assert [lab.index for lab in labels] == list(np.argsort(-row)[:3])
        assert [lab.name for lab in labels] == [f"class {lab.index}" for lab in labels]
        np.testing.assert_allclose([lab.score for lab in labels], 1 / (1 + np.exp(-np.sort(row)[::-1][:3])), rtol=1e-5)
    with pytest.raises(ParameterError, match=r"top_k=10 is not between 1 and n_classes=9"):
        model.classify(features, top_k=10)


def test_config_round_trips_and_derives_geometry(tiny_own):
    config = ASTConfig.from_dict(json.loads((tiny_own[0] / "config.json").read_text()))
    assert ASTConfig.from_dict(config.to_dict()) == config
    assert config.patch_grid == ((32 - 8) // 5 + 1, (64 - 8) // 6 + 1)
    assert ASTConfig().n_tokens == 12 * 101 + 2


# ---- errors --------------------------------------------------------------------------------------

def test_missing_directory(tmp_path):
    with pytest.raises(ModelError, match=r"model directory '.*nowhere' does not exist"):
        AST.from_pretrained(tmp_path / "nowhere")


def test_file_instead_of_directory(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelError, match=r"is a file; expected a directory holding config.json"):
        AST.from_pretrained(tmp_path / "weights.bin")


def test_missing_config(tmp_path):
    with pytest.raises(ModelError, match=r"has no config.json \(looked for '.*config.json'\)"):
        AST.from_pretrained(tmp_path)


def test_missing_weights(tiny_own, tmp_path):
    shutil.copy(tiny_own[0] / "config.json", tmp_path / "config.json")
    with pytest.raises(ModelError, match=r"has no weights: expected model.safetensors or pytorch_model.bin"):
        AST.from_pretrained(tmp_path, preset=None)


def test_truncated_safetensors(tiny_own, tmp_path):
    shutil.copy(tiny_own[0] / "config.json", tmp_path / "config.json")
    data = (tiny_own[0] / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelError, match=r"is truncated: tensor '.*' ends past the end of the file"):
        AST.from_pretrained(tmp_path, preset=None)


def test_geometry_that_does_not_fit_the_ast_preset(tiny_own):
    with pytest.raises(ModelError, match=r"max_length=64 frames x num_mel_bins=32 bins does not fit the 'ast' "
                                         r"feature preset \(1024 frames x 128 bins\)"):
        AST.from_pretrained(tiny_own[0])


def test_config_geometry_that_disagrees_with_the_weights(tiny_own, tmp_path):
    config = json.loads((tiny_own[0] / "config.json").read_text())
    config["time_stride"] = 8
    (tmp_path / "config.json").write_text(json.dumps(config))
    shutil.copy(tiny_own[0] / "model.safetensors", tmp_path / "model.safetensors")
    with pytest.raises(ModelError, match=r"'embeddings.position_embeddings' has shape \(1, 52, 40\); expected "
                                         r"\(1, 42, 40\): config geometry 32 bins x 64 frames, patch 8, strides 5/8"):
        AST.from_pretrained(tmp_path, preset=None)


def test_invalid_config_values(tiny_own, tmp_path):
    base = json.loads((tiny_own[0] / "config.json").read_text())
    with pytest.raises(ModelError, match=r"hidden_act='relu' is not supported; expected 'gelu'"):
        ASTConfig.from_dict({**base, "hidden_act": "relu"})
    with pytest.raises(ModelError, match=r"model_type='vit' is not an AST"):
        ASTConfig.from_dict({**base, "model_type": "vit"})
    with pytest.raises(ModelError, match=r"hidden_size=40 is not a multiple of num_attention_heads=3"):
        ASTConfig.from_dict({**base, "num_attention_heads": 3})
    with pytest.raises(ModelError, match=r"patch_size=\[8, 4\] is not square"):
        ASTConfig.from_dict({**base, "patch_size": [8, 4]})


def test_missing_parameter(tiny_own):
    from fastmel.models.weights import nest_params, read_state_dict

    state = read_state_dict(tiny_own[0])
    del state["audio_spectrogram_transformer.encoder.layer.1.output.dense.bias"]  # legacy name
    config = ASTConfig.from_dict(json.loads((tiny_own[0] / "config.json").read_text()))
    with pytest.raises(ModelError, match=r"checkpoint has no parameter 'layers.1.mlp.fc2.bias' \(expected shape \(40,\)\)"):
        AST(config, nest_params(state))


def test_wrong_feature_shape(tiny_own):
    model = AST.from_pretrained(tiny_own[0], preset=None)
    with pytest.raises(ParameterError, match=r"features have shape \(2, 63, 32\); this model expects "
                                             r"\[batch, 64 frames, 32 bins\]"):
        model.forward(np.zeros((2, 63, 32), np.float32))


def test_half_dtype_needs_the_gpu(tiny_own):
    with pytest.raises(ParameterError, match=r"dtype='bfloat16' needs backend='cupy'"):
        AST.from_pretrained(tiny_own[0], preset=None, dtype="bfloat16")
    with pytest.raises(ParameterError, match=r"backend='torch' is not one of \('numpy', 'cupy'\)"):
        AST.from_pretrained(tiny_own[0], preset=None, backend="torch")


def test_cupy_backend_without_cupy(tiny_own, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    with pytest.raises(BackendUnavailable, match=r"backend='cupy' needs the 'cupy' package"):
        AST.from_pretrained(tiny_own[0], preset=None, backend="cupy")


# ---- hub ids through huggingface_hub's cache, offline -------------------------------------------

@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    constants = pytest.importorskip("huggingface_hub.constants", reason="hub ids need huggingface_hub")
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)  # so "owner/name" is not a local directory
    return cache


def test_hub_id_offline_and_not_cached(offline_hub):
    with pytest.raises(ModelError, match=r"model 'fastmel-test/no-such-ast': no local directory .* neither in the "
                                         r"cache '.*hub-cache' nor downloadable"):
        AST.from_pretrained("fastmel-test/no-such-ast")


def test_hub_id_from_the_local_cache(offline_hub, tiny_own):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = offline_hub / "models--fastmel-test--tiny-ast"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_own[0], repo / "snapshots" / commit)
    model = AST.from_pretrained("fastmel-test/tiny-ast", preset=None)
    features = random_features(seed=16, batch=1, frames=64, bins=32)
    assert relative_error(model.forward(features), torch_logits(tiny_own[1], features)) <= LOGIT_TOL
