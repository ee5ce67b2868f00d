"""The array-module-generic pipeline (the CuPy backend's fallback and the
specification of its CUDA kernels), run with NumPy against the reference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from _xp_parity import assert_parity, make_clips
from fastmel.backends._batch import batch_geometry
from fastmel.reference.framing import fold_index
from fastmel.backends.xp_pipeline import (
    cast_output, concat_clips, extract_batch, make_xp_plan, split_clips,
)
from fastmel.config import MfccConfig, NormalizeConfig, OutputConfig
from fastmel.presets import get_preset, preset_names
from fastmel.reference.pipeline import extract_clip, make_plan

LENGTHS_S = (1.0, 2.3, 0.5, 1.7)  # ragged: noise, chirp, silence, clipped


def _run(config, clips, *, mel_mode="sparse", block_bytes=4 << 20):
    plan = make_xp_plan(config, np, mel_mode=mel_mode)
    rows, geometry = extract_batch(plan, concat_clips(clips, np), [c.shape[0] for c in clips],
                                   block_bytes=block_bytes)
    return split_clips(plan, rows, geometry)


def _reference(config, clips):
    plan = make_plan(config)
    return [extract_clip(c, plan) for c in clips]


@pytest.mark.parametrize("mel_mode", ["sparse", "dense"])
@pytest.mark.parametrize("name", preset_names())
def test_every_preset_matches_reference(name, mel_mode):
    config = get_preset(name)
    clips = make_clips(config, LENGTHS_S)
    assert_parity(_run(config, clips, mel_mode=mel_mode), _reference(config, clips), config,
                  what=f"xp/numpy {name} {mel_mode}")


def _variant(name, **changes):
    config = get_preset(name)
    frame = dict(changes.pop("frame", {}))
    if frame:
        changes["frame"] = dataclasses.replace(config.frame, **frame)
    return config.replace(**changes)


VARIANTS = {
    "dither": _variant("kaldi", frame={"dither": 1e-3, "dither_seed": 7}),
    "energy_raw_first": _variant("kaldi", use_energy=True),
    "energy_windowed_last": _variant("kaldi", use_energy=True, raw_energy=False, energy_position="last"),
    "kaldi_no_snip": _variant("kaldi", frame={"snip_edges": False}),
    "edge_pad_magnitude": _variant("librosa", frame={"pad_mode": "edge"},
                                   spectrum=dataclasses.replace(get_preset("librosa").spectrum, power=1.0)),
    "mfcc_lifter": _variant("kaldi", mfcc=MfccConfig(n_mfcc=13, lifter=22.0)),
    "per_clip_norm_fixed_frames": _variant(
        "kaldi", normalize=NormalizeConfig(mode="per_clip"), output=OutputConfig(n_frames=150, pad_value=-3.0)),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_match_reference(variant):
    config = VARIANTS[variant]
    clips = make_clips(config, LENGTHS_S, seed=1)
    results = _run(config, clips)
    references = _reference(config, clips)
    if config.mfcc is not None or (config.normalize is not None and config.normalize.mode == "per_clip"):
        # Not log units: compare on the output scale with the same bounds.
        for i, (r, ref) in enumerate(zip(results, references)):
            np.testing.assert_allclose(r, ref, atol=2e-3, rtol=0, err_msg=f"{variant} clip {i}")
    else:
        assert_parity(results, references, config, what=variant)


def test_ragged_batch_equals_one_by_one_and_blocks_do_not_matter():
    config = get_preset("whisper")  # dynamic-range clamp: a per-clip reduction
    clips = make_clips(config, (0.7, 3.1, 1.2), seed=2)
    together = _run(config, clips, block_bytes=1 << 20)  # many blocks spanning clips
    alone = [_run(config, [c])[0] for c in clips]
    for a, b in zip(together, alone):
        np.testing.assert_array_equal(a, b)


def test_stacked_batch_layout():
    config = get_preset("clap")
    clips = make_clips(config, (0.4, 0.4), seed=3)
    plan = make_xp_plan(config, np)
    rows, geometry = extract_batch(plan, concat_clips(clips, np), [c.shape[0] for c in clips])
    stacked = split_clips(plan, rows, geometry, stack=True)
    assert stacked.shape == (2, 1, 1001, 64)
    for b, clip in enumerate(split_clips(plan, rows, geometry)):
        np.testing.assert_array_equal(stacked[b], clip)


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "edge", "constant"])
def test_fold_index_matches_numpy_pad_at_any_width(mode):
    for n in range(1, 7):
        x = np.arange(1.0, n + 1)
        for left, right in ((0, 0), (1, 2), (5, 13), (20, 3)):
            p = np.arange(-left, n + right)
            index = fold_index(p, n, mode, np)
            got = np.where(index >= 0, x[np.maximum(index, 0)], 0.0)
            np_mode = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}[mode]
            np.testing.assert_array_equal(got, np.pad(x, (left, right), mode=np_mode), err_msg=f"n={n}")


def test_geometry_skips_frames_that_are_trimmed_unless_clamped():
    ast = get_preset("ast")
    geometry = batch_geometry([16000 * 12, 16000], ast)  # 1198 frames -> 1024 kept; 98 -> padded
    assert geometry.n_frames.tolist() == [1198, 98]
    assert geometry.n_computed.tolist() == [1024, 98]
    assert geometry.out_offsets.tolist() == [0, 1024, 2048]
    whisper = get_preset("whisper").replace(output=OutputConfig(n_frames=10, layout="freq_time"))
    assert batch_geometry([480_000], whisper).n_computed.tolist() == [3000]


def test_bfloat16_rounds_to_nearest_even():
    x = np.array([1.0, 1.00390625, 1.01171875, -2.5, 3.140625], dtype=np.float32)
    bits = cast_output(x, "bfloat16", np)
    assert bits.dtype == np.uint16
    back = (bits.astype(np.uint32) << 16).view(np.float32)
    # 1 + 2^-8 is a tie -> even (1.0); 1 + 3 * 2^-8 is a tie -> even (1 + 2^-6)
    np.testing.assert_array_equal(back, [1.0, 1.0, 1.015625, -2.5, 3.140625])
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(back, torch.from_numpy(x).to(torch.bfloat16).float().numpy())
