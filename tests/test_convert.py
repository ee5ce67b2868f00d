"""``fastmel convert`` end to end: every format, every planted bad file, reruns, refusals.

The oracle is ``fastmel.extract(fastmel.load(file, sample_rate=preset rate))``:
stored features must equal it exactly (same code, same backend, float32 or
its float16 cast). Rule for clips shorter than one window: snip-edges presets
(ast, beats, kaldi) record them as failed ("yields no frame"); centered
presets (panns, whisper, ...) pad them and convert them.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import fastmel
from fastmel.cli import main
from fastmel.convert import EXIT_FAILED_ITEMS, convert, open_features
from fastmel.errors import ParameterError

from test_convert_corpus import expected_features, item_id, make_corpus, read_jsonl

N_GOOD = 110  # + 5 bad; 3 good clips are shorter than one window


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("corpus")
    return root, make_corpus(root, n_good=N_GOOD)


@pytest.fixture(scope="module")
def npy_run(corpus, tmp_path_factory):
    """The default CLI run: npy, ast, float32, all cores."""
    root, _ = corpus
    dest = tmp_path_factory.mktemp("npy") / "out"
    code = main(["convert", str(root), str(dest), "--quiet"])
    return dest, code


def _check_all(dest: Path, root: Path, corpus: dict, *, preset: str, dtype: str, shorts_fail: bool) -> None:
    fs = open_features(dest)
    good = [r for r in corpus["good"] if not (shorts_fail and r in corpus["short"])]
    assert sorted(fs.ids) == sorted(item_id(r) for r in good)
    for rel in good:
        clip = fs[item_id(rel)]
        want = expected_features(root / rel, preset=preset, dtype=dtype)
        assert clip.features.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(clip.features, want, err_msg=rel)
        assert clip.meta["shape"] == list(want.shape)
    expected_failures = dict(corpus["bad"])
    if shorts_fail:
        expected_failures.update({r: "yields no frame" for r in corpus["short"]})
    assert sorted(fs.failed) == sorted(item_id(r) for r in expected_failures)
    for rel, reason in expected_failures.items():
        assert reason in fs.failed[item_id(rel)]["error"], (rel, fs.failed[item_id(rel)]["error"])


# ---------------------------------------------------------------- formats

def test_npy_cli_converts_every_good_file_and_records_every_bad_one(corpus, npy_run):
    root, files = corpus
    dest, code = npy_run
    assert code == EXIT_FAILED_ITEMS == 3
    _check_all(dest, root, files, preset="ast", dtype="float32", shorts_fail=True)
    assert (dest / "speech" / "clip001.npy").is_file()  # mirrors the source tree
    meta = json.loads((dest / "fastmel.json").read_text())
    assert meta["preset"] == "ast" and meta["format"] == "npy" and meta["fastmel_version"] == fastmel.__version__
    assert fastmel.FeatureConfig.from_dict(meta["config"]) == fastmel.get_preset("ast")
    assert not list(dest.rglob("*fastmel-tmp*"))


def test_npy_manifest_records_have_every_field(corpus, npy_run):
    root, _ = corpus
    dest, _ = npy_run
    records = {r["id"]: r for r in read_jsonl(dest / "manifest.jsonl")}
    ok = records["speech/clip001"]
    for field in ("source", "duration_s", "sample_rate_hz", "channels", "n_frames", "shape", "dtype", "file",
                  "file_bytes", "crc32", "status", "error", "attempt", "worker", "run"):
        assert field in ok, field
    assert ok["status"] == "ok" and ok["error"] is None and ok["file"] == "speech/clip001.npy"
    assert ok["sample_rate_hz"] == 11025 and ok["shape"] == [1024, 128] and ok["dtype"] == "float32"
    assert ok["file_bytes"] == (dest / ok["file"]).stat().st_size


def test_hdf5_float16_shards_with_index_and_attributes(corpus, tmp_path):
    import h5py

    root, files = corpus
    summary = convert(source=root, dest=tmp_path / "h5", preset="beats", format="hdf5", dtype="float16",
                      shard_size=16, workers=2, quiet=True)
    assert summary.exit_code == 3 and summary.failed == len(files["bad"]) + len(files["short"])
    _check_all(tmp_path / "h5", root, files, preset="beats", dtype="float16", shorts_fail=True)
    shards = sorted((tmp_path / "h5" / "shards").glob("*.h5"))
    assert len(shards) == -(-(N_GOOD + len(files["bad"])) // 16)  # every shard holds >= 1 good clip here
    with h5py.File(shards[0], "r") as h5:
        assert h5.attrs["preset"] == "beats" and h5.attrs["dtype"] == "float16"
        assert json.loads(h5.attrs["config"]) == fastmel.get_preset("beats").to_dict()
        ids = [i.decode() for i in h5["index"][()]]
        assert [h5[f"clips/{k:06d}"].attrs["id"] for k in range(len(ids))] == ids


def test_webdataset_tars_read_back_by_the_webdataset_package(corpus, tmp_path):
    import webdataset as wds

    root, files = corpus
    summary = convert(source=root, dest=tmp_path / "wds", preset="panns", format="webdataset",
                      shard_size=32, quiet=True)
    assert summary.failed == len(files["bad"])  # centered preset: short clips are padded, not failed
    _check_all(tmp_path / "wds", root, files, preset="panns", dtype="float32", shorts_fail=False)
    urls = [str(p) for p in sorted((tmp_path / "wds" / "shards").glob("*.tar"))]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode())
    assert len(samples) == len(files["good"])
    by_id = {s["json"]["id"]: s for s in samples}
    rel = files["good"][4]
    np.testing.assert_array_equal(by_id[item_id(rel)]["npy"], expected_features(root / rel, preset="panns"))
    assert by_id[item_id(rel)]["json"]["preset"] == "panns" and "config" in by_id[item_id(rel)]["json"]


def test_reader_indexes_by_position_and_id_and_pickles(npy_run):
    import pickle

    dest, _ = npy_run
    fs = open_features(dest)
    assert fs[0].id == fs.ids[0] and fs[fs.ids[3]].id == fs.ids[3] and fs.ids[3] in fs
    assert fs.config == fastmel.get_preset("ast") and len(list(fs)) == len(fs)
    assert pickle.loads(pickle.dumps(fs))[1].id == fs.ids[1]
    with pytest.raises(KeyError, match="'nope' is not a converted clip"):
        fs["nope"]
    with pytest.raises(ParameterError, match="holds no fastmel.json"):
        open_features(dest / "speech")


# ---------------------------------------------------------------- reruns and refusals

def test_rerun_skips_done_items_and_retries_only_failures(corpus, npy_run):
    root, files = corpus
    dest, _ = npy_run
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*.npy")}
    summary = convert(source=root, dest=dest, quiet=True)
    n_failed = len(files["bad"]) + len(files["short"])
    assert (summary.converted, summary.skipped, summary.failed) == (0, N_GOOD - len(files["short"]), n_failed)
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*.npy")} == before


def test_damaged_outputs_are_redone(corpus, tmp_path):
    root, files = corpus
    dest = tmp_path / "out"
    sub = tmp_path / "src"  # a few files are enough
    sub.mkdir()
    for rel in files["good"][:6]:
        (sub / Path(rel).name).write_bytes((root / rel).read_bytes())
    convert(source=sub, dest=dest, quiet=True, workers=1)
    a, b, c = sorted(dest.glob("*.npy"))[:3]
    a.write_bytes(a.read_bytes()[:-10])              # truncated: size check catches it
    data = bytearray(b.read_bytes())
    data[-1] ^= 0xFF                                  # same size, other bytes: only --verify catches it
    b.write_bytes(bytes(data))
    c.unlink()                                        # missing
    assert convert(source=sub, dest=dest, quiet=True, workers=1).converted == 2
    assert convert(source=sub, dest=dest, quiet=True, workers=1, verify=True).converted == 1
    fs = open_features(dest)
    for clip in fs:
        rel = next(r for r in files["good"][:6] if Path(r).stem == clip.id)
        np.testing.assert_array_equal(clip.features, expected_features(root / rel, preset="ast"))


def test_changed_preset_or_dtype_is_refused_unless_overwrite(corpus, tmp_path, capsys):
    root, files = corpus
    sub = tmp_path / "src"
    sub.mkdir()
    (sub / "a.wav").write_bytes((root / files["good"][2]).read_bytes())
    dest = tmp_path / "out"
    assert main(["convert", str(sub), str(dest), "--quiet"]) == 0
    assert main(["convert", str(sub), str(dest), "--quiet", "--preset", "kaldi", "--dtype", "float16"]) == 2
    err = capsys.readouterr().err
    assert "holds features made with preset 'ast', dtype 'float32', format 'npy'" in err
    assert "dtype 'float32' -> 'float16'" in err and "preset 'ast' -> 'kaldi'" in err and "--overwrite" in err
    assert main(["convert", str(sub), str(dest), "--quiet", "--preset", "kaldi", "--overwrite"]) == 0
    assert open_features(dest)["a"].features.shape[1] == 23
    with pytest.raises(ParameterError, match="is not empty and holds no fastmel.json"):
        convert(source=sub, dest=sub, quiet=True)


def test_bad_arguments_name_the_value(tmp_path):
    with pytest.raises(ParameterError, match=r"format='zarr' is not one of \['npy', 'hdf5', 'webdataset'\]"):
        convert(source=tmp_path, dest=tmp_path / "o", format="zarr")
    with pytest.raises(ParameterError, match=r"dtype='float64' is not one of \['float32', 'float16'\]"):
        convert(source=tmp_path, dest=tmp_path / "o", dtype="float64")
    with pytest.raises(ParameterError, match="source .*nope' does not exist"):
        convert(source=tmp_path / "nope", dest=tmp_path / "o")
    assert main(["convert", str(tmp_path / "nope"), str(tmp_path / "o2"), "--quiet"]) == 2


# ---------------------------------------------------------------- manifests as sources

def test_csv_and_jsonl_manifests_with_ids_and_labels(corpus, tmp_path):
    root, files = corpus
    rels = files["good"][:4]
    (tmp_path / "m.csv").write_text("path,id,label\n" + "".join(f"{r},c{i},lab{i}\n" for i, r in enumerate(rels))
                                    + "missing.wav,gone,x\n")
    lines = [json.dumps({"path": str(root / r), "label": ["a", i]}) for i, r in enumerate(rels)]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    s1 = convert(source=tmp_path / "m.csv", dest=tmp_path / "o1", audio_root=root, quiet=True, workers=1)
    assert (s1.converted, s1.failed) == (4, 1)
    fs = open_features(tmp_path / "o1")
    assert fs["c2"].meta["label"] == "lab2" and "does not exist" in fs.failed["gone"]["error"]
    np.testing.assert_array_equal(fs["c1"].features, expected_features(root / rels[1], preset="ast"))
    s2 = convert(source=tmp_path / "m.jsonl", dest=tmp_path / "o2", quiet=True, workers=1)
    assert s2.converted == 4
    assert json.loads(open_features(tmp_path / "o2")[0].meta["label"])[0] == "a"


def test_audioset_segment_csv_maps_ytid_and_start_to_files(corpus, tmp_path):
    root, files = corpus
    audio = tmp_path / "audio" / "eval"
    audio.mkdir(parents=True)
    wav = next(r for r in files["good"] if r.endswith(".wav") and r not in files["short"])
    flac = next(r for r in files["good"] if r.endswith(".flac") and r not in files["short"])
    (audio / "--PJHxphWEs_30.000.wav").write_bytes((root / wav).read_bytes())
    (audio / "Y-0RWZT-miFs_420.flac").write_bytes((root / flac).read_bytes())
    (tmp_path / "eval_segments.csv").write_text(
        "# Segments csv created Sun Mar  5 10:54:31 2017\n"
        "# num_ytids=3, num_segs=3, num_unique_labels=3, num_positive_labels=4\n"
        "# YTID, start_seconds, end_seconds, positive_labels\n"
        '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"\n'
        '-0RWZT-miFs, 420.000, 430.000, "/m/03v3yw"\n'
        '-1LrH01Ei1w, 0.000, 10.000, "/m/07rwj3x"\n')
    summary = convert(source=tmp_path / "eval_segments.csv", dest=tmp_path / "o", audio_root=tmp_path / "audio",
                      quiet=True, workers=1)
    assert (summary.converted, summary.failed) == (2, 1)
    fs = open_features(tmp_path / "o")
    assert fs["--PJHxphWEs_30.000"].meta["label"] == "/m/09x0r,/t/dd00088"
    np.testing.assert_array_equal(fs["-0RWZT-miFs_420.000"].features, expected_features(root / flac, preset="ast"))
    assert "does not exist" in fs.failed["-1LrH01Ei1w_0.000"]["error"]


# ---------------------------------------------------------------- dead workers

class _KillingExecutor(cf.ThreadPoolExecutor):
    """Runs tasks in threads, but a task reaching an id containing 'kill' dies
    like a killed worker: its in-flight marker names that clip, and its future
    raises BrokenProcessPool (as every task of a broken pool does)."""

    def submit(self, fn, task):
        from concurrent.futures.process import BrokenProcessPool

        from fastmel.convert.task import inflight_path

        def run():
            killer = next((i for i in task.items if "kill" in i.id), None)
            if killer is None:
                return fn(task)
            path = inflight_path(task.dest, task.task_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(killer.id)
            raise BrokenProcessPool("A process in the process pool was terminated abruptly")

        return super().submit(run)


def test_dead_worker_loses_only_its_clip_which_is_retried_once_then_failed(corpus, tmp_path):
    root, files = corpus
    src = tmp_path / "src"
    src.mkdir()
    rels = [r for r in files["good"] if r not in files["short"]][:7]
    for k, rel in enumerate(rels):
        name = f"kill{k}.wav" if k == 3 else f"ok{k}{Path(rel).suffix}"
        (src / name).write_bytes((root / rel).read_bytes())
    with _KillingExecutor(max_workers=2) as ex:
        summary = convert(source=src, dest=tmp_path / "o", executor=ex, quiet=True)
    assert (summary.converted, summary.failed, summary.retried) == (6, 1, 1)
    fs = open_features(tmp_path / "o")
    assert fs.failed["kill3"]["attempt"] == 2 and "worker died twice" in fs.failed["kill3"]["error"]


class _NeverStartsExecutor(cf.ThreadPoolExecutor):
    """Every task dies before its first clip, like workers that cannot start."""

    def submit(self, fn, task):
        from concurrent.futures.process import BrokenProcessPool

        def run():
            raise BrokenProcessPool("A child process terminated abruptly")

        return super().submit(run)


def test_workers_that_cannot_start_stop_the_run_with_a_clear_error(corpus, tmp_path):
    root, files = corpus
    src = tmp_path / "src"
    src.mkdir()
    for rel in files["good"][:5]:
        (src / Path(rel).name).write_bytes((root / rel).read_bytes())
    with _NeverStartsExecutor(max_workers=1) as ex, \
            pytest.raises(fastmel.FastmelError, match="died 3 times in a row before converting a clip"):
        convert(source=src, dest=tmp_path / "o", executor=ex, quiet=True)


def test_a_broken_process_pool_is_rebuilt(corpus, tmp_path):
    root, files = corpus
    src = tmp_path / "src"
    src.mkdir()
    for rel in files["good"][10:14]:
        (src / Path(rel).name).write_bytes((root / rel).read_bytes())
    pool = cf.ProcessPoolExecutor(max_workers=1)
    pid = pool.submit(os.getpid).result()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not pool._broken and time.monotonic() < deadline:  # the pool notices its dead worker
        time.sleep(0.05)
    summary = convert(source=src, dest=tmp_path / "o", executor=pool, quiet=True)
    assert (summary.converted, summary.failed) == (4, 0)


# ---------------------------------------------------------------- progress

def test_progress_prints_plain_lines_off_a_terminal_and_a_summary():
    import io

    from fastmel.convert.progress import ConvertSummary, Progress

    out = io.StringIO()
    progress = Progress(total=2, quiet=False, stream=out, every_s=0.0)
    progress.update([{"status": "ok", "duration_s": 3600.0}, {"status": "failed", "duration_s": None}])
    assert "2/2 files (100%)" in out.getvalue() and "1 failed" in out.getvalue() and "h audio/s" in out.getvalue()
    quiet = io.StringIO()
    Progress(total=2, quiet=True, stream=quiet).update([{"status": "ok", "duration_s": 1.0}])
    assert quiet.getvalue() == ""
    summary = ConvertSummary(total=3, converted=1, skipped=1, failed=1, audio_hours=0.5, wall_s=10.0,
                             failures=[("x", "AudioError: bad")])
    text = str(summary)
    assert "converted 1, skipped (done before) 1, failed 1" in text and "x: AudioError: bad" in text
    assert "0.2 files/s" in text and summary.exit_code == 3
