"""The ``fastmel`` command: extract | convert | classify | evaluate | bench | presets | info.

Each subcommand lives beside the code it drives and registers itself with
``add_parser(subparsers)``; this module only assembles them. Exit codes:
0 success, 1 a fastmel error (printed, no traceback), 2 usage errors
(argparse), and what a subcommand documents (``convert``: 3 when some items
failed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Sequence

from .errors import FastmelError

__all__ = ["main", "build_parser"]

# Subcommands defined in their own modules, each with ``add_parser(subparsers)``.
_PLUGGED = (
    "fastmel.convert.command",
    "fastmel.models.command",
    "fastmel.bench",
)


# --------------------------------------------------------------------------- extract


def _add_extract(subparsers: argparse._SubParsersAction) -> None:
    from .backends import backend_names
    from .presets import preset_names

    p = subparsers.add_parser(
        "extract", help="features of audio files into .npy / .npz",
        description="Decode each FILE, resample it to the preset's rate, and write its features.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, OGG, MP3)")
    p.add_argument("--preset", default="ast", choices=preset_names(), help="feature preset (default: ast)")
    p.add_argument("--config", metavar="JSON", help="a FeatureConfig as JSON (FeatureConfig.to_dict); replaces --preset")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="a .npz file (all files in one archive) or a directory (one .npy per file)")
    p.add_argument("--backend", default="auto", choices=backend_names())
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    p.set_defaults(func=_run_extract)


def _run_extract(args: argparse.Namespace) -> int:
    import numpy as np

    from .audio import load
    from .config import FeatureConfig
    from .extractor import Extractor

    if args.config:
        config = FeatureConfig.from_dict(json.loads(Path(args.config).read_text()))
    else:
        from .presets import get_preset

        config = get_preset(args.preset)
    extractor = Extractor(config, backend=args.backend, num_threads=args.threads)
    out = Path(args.output)
    failures = 0
    results: dict[str, np.ndarray] = {}
    for name in args.files:
        try:
            samples, rate = load(name, sample_rate=config.sample_rate_hz)
            features = extractor(samples, sample_rate=rate)
        except FastmelError as exc:
            print(f"fastmel extract: {name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        key = Path(name).stem
        if key in results:
            key = str(Path(name).with_suffix("")).replace(os.sep, "__")
        results[key] = features
        print(f"{name}: {features.shape} {features.dtype}")
    if results:
        if out.suffix == ".npz":
            out.parent.mkdir(parents=True, exist_ok=True)
            np.savez(out, **results, __config__=np.array(json.dumps(config.to_dict())))
        else:
            out.mkdir(parents=True, exist_ok=True)
            for key, features in results.items():
                np.save(out / f"{key}.npy", features)
            (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        print(f"wrote {len(results)} feature arrays to {out}")
    return 0 if failures == 0 else 1


# --------------------------------------------------------------------------- presets / info


def _add_presets(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("presets", help="list the presets and their parameters")
    p.add_argument("name", nargs="?", help="show one preset's full configuration as JSON")
    p.set_defaults(func=_run_presets)


def _run_presets(args: argparse.Namespace) -> int:
    from .extractor import Extractor
    from .presets import describe_preset, get_preset, preset_names

    if args.name:
        print(json.dumps(get_preset(args.name).to_dict(), indent=2))
        return 0
    header = f"{'preset':<12} {'rate':>6} {'win':>5} {'hop':>4} {'fft':>5} {'mels':>4} {'scale':<7} {'compress':<8} {'shape (10 s)':<16} mirrors"
    print(header)
    print("-" * len(header))
    for name in preset_names():
        c = get_preset(name)
        shape = Extractor(c, backend="reference").output_shape(10 * c.sample_rate_hz)
        print(f"{name:<12} {c.sample_rate_hz:>6} {c.frame.win_length:>5} {c.frame.hop_length:>4} "
              f"{c.spectrum.n_fft:>5} {c.mel.n_mels:>4} {c.mel.scale:<7} {c.compress.kind:<8} "
              f"{str(list(shape)):<16} {describe_preset(name)[:60]}")
    return 0


def _add_info(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="versions and available backends")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_run_info)


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "not installed"


def _run_info(args: argparse.Namespace) -> int:
    from . import __version__
    from .backends import available_backends

    packages = ["numpy", "scipy", "soundfile", "soxr", "numba", "cupy-cuda12x", "cupy-cuda13x",
                "torch", "h5py", "webdataset", "dask", "safetensors", "tqdm"]
    info = {
        "fastmel": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": {name: _version(name) for name in packages},
        "backends": {name: {"available": ok, "reason": why} for name, (ok, why) in available_backends().items()},
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"fastmel {info['fastmel']}  python {info['python']}  {info['platform']}  {info['cpu_count']} CPUs")
    print("packages:")
    for name, ver in info["packages"].items():
        print(f"  {name:<14} {ver}")
    print("backends:")
    for name, entry in info["backends"].items():
        print(f"  {name:<10} {'yes' if entry['available'] else 'no ':<4} {'' if entry['available'] else entry['reason']}")
    return 0


# --------------------------------------------------------------------------- assembly


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every installed subcommand."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="fastmel", description="Exact log-mel / filterbank features for audio models, fast.")
    parser.add_argument("--version", action="version", version=f"fastmel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_extract(subparsers)
    for module_name in _PLUGGED:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # an optional part whose dependencies are missing
        module.add_parser(subparsers)
    _add_presets(subparsers)
    _add_info(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FastmelError as exc:
        print(f"fastmel {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fastmel {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
