"""The fastmel command: extract, presets, info (convert/classify/bench have their own tests)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import fastmel
from fastmel.cli import main


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "tone.wav"
    t = np.arange(44100 * 2) / 44100
    sf.write(path, 0.3 * np.sin(2 * np.pi * 330 * t), 44100)
    return path


def test_extract_to_npz_equals_the_api(wav, tmp_path, capsys):
    out = tmp_path / "feats.npz"
    assert main(["extract", str(wav), "--preset", "ast", "-o", str(out)]) == 0
    assert "(1024, 128) float32" in capsys.readouterr().out
    archive = np.load(out)
    samples, rate = fastmel.load(wav, sample_rate=16000)
    np.testing.assert_array_equal(archive["tone"], fastmel.extract(samples, preset="ast", sample_rate=rate))
    config = fastmel.FeatureConfig.from_dict(json.loads(str(archive["__config__"])))
    assert config == fastmel.get_preset("ast")


def test_extract_to_directory_with_a_config_file(wav, tmp_path):
    config_path = tmp_path / "config.json"
    config = fastmel.get_preset("kaldi").replace(mel=fastmel.MelConfig(n_mels=40, fmin_hz=20.0, scale="kaldi",
                                                                       norm=None, triangles_in_mel=True))
    config_path.write_text(json.dumps(config.to_dict()))
    out = tmp_path / "feats"
    assert main(["extract", str(wav), "--config", str(config_path), "-o", str(out)]) == 0
    assert np.load(out / "tone.npy").shape == (198, 40)
    assert fastmel.FeatureConfig.from_dict(json.loads((out / "config.json").read_text())) == config


def test_extract_reports_bad_files_and_keeps_going(wav, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    out = tmp_path / "feats"
    assert main(["extract", str(bad), str(tmp_path / "missing.wav"), str(wav), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bad.wav: cannot decode" in err and "missing.wav' does not exist" in err
    assert (out / "tone.npy").exists()


def test_presets_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in fastmel.preset_names():
        assert f"\n{name} " in out
    assert main(["presets", "whisper"]) == 0
    assert json.loads(capsys.readouterr().out)["mel"]["n_mels"] == 80


def test_unknown_preset_is_a_usage_error(wav, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["extract", str(wav), "--preset", "nope", "-o", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["fastmel"] == fastmel.__version__
    assert info["backends"]["reference"]["available"] is True


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "fastmel", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"fastmel {fastmel.__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "extract" in capsys.readouterr().out
