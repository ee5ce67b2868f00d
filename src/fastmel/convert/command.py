"""``fastmel convert SRC DEST``: the command-line face of :func:`fastmel.convert.convert`.

Exit codes
----------
0    every item is converted (by this run or an earlier one)
3    the run finished but some items failed; each is in DEST/manifest.jsonl
     with ``status: "failed"`` and its error, and the summary lists them
2    usage error: bad arguments, missing source, or a DEST made with another
     preset / dtype / format (without --overwrite); nothing was converted
1    the Dask scheduler could not be reached, or another fastmel error
130  interrupted (Ctrl-C); rerun the same command to finish
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import ParameterError
from .progress import EXIT_FAILED_ITEMS

__all__ = ["add_parser", "run_convert", "EXIT_USAGE", "EXIT_FAILED_ITEMS"]

EXIT_USAGE = 2
EXIT_ERROR = 1


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``convert`` on an argparse subparsers object."""
    from ..backends import backend_names
    from ..presets import preset_names
    from .runner import DEFAULT_SHARD_SIZE, DTYPES
    from .writers import FORMATS

    p = subparsers.add_parser(
        "convert", help="a whole dataset into feature files (resumable, parallel)",
        description="Convert every clip of SRC (a folder, or a CSV / JSONL / AudioSet manifest) into features "
                    "in DEST. Rerun the same command after a crash to finish: done items are skipped, "
                    "partial ones redone. Exit codes: 0 all converted, 3 some items failed (see "
                    "DEST/manifest.jsonl), 2 usage error, 130 interrupted.",
    )
    p.add_argument("source", metavar="SRC", help="audio folder (recursive) or manifest (.csv, .tsv, .jsonl)")
    p.add_argument("dest", metavar="DEST", help="output folder (shared by all workers)")
    p.add_argument("--preset", default="ast", choices=preset_names(), help="feature preset (default: ast)")
    p.add_argument("--format", default="npy", choices=FORMATS, help="output format (default: npy)")
    p.add_argument("--dtype", default="float32", choices=DTYPES, help="stored dtype (default: float32)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: all cores); with --scheduler, tasks in flight")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", default=None,
                   help="run on this Dask cluster instead of a local pool (fastmel[distributed])")
    p.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, metavar="CLIPS",
                   help=f"clips per hdf5 / webdataset shard (default: {DEFAULT_SHARD_SIZE})")
    p.add_argument("--backend", default="auto", choices=backend_names(), help="extractor backend (default: auto)")
    p.add_argument("--audio-root", default=None, metavar="DIR",
                   help="folder relative manifest paths are resolved against (default: the manifest's)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a DEST made with another preset, dtype or format")
    p.add_argument("--verify", action="store_true",
                   help="on resume, check each done item's CRC-32 (default: its size)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run_convert)
    return p


def run_convert(args: argparse.Namespace) -> int:
    """Run the conversion ``args`` describe; returns the exit code (see the module docstring)."""
    from .runner import convert

    try:
        client = _connect(args.scheduler) if args.scheduler else None
    except ImportError as exc:
        print(f"fastmel convert: --scheduler needs dask.distributed (pip install 'fastmel[distributed]'): {exc}",
              file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"fastmel convert: cannot reach the Dask scheduler {args.scheduler!r}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        summary = convert(source=args.source, dest=args.dest, preset=args.preset, format=args.format,
                          dtype=args.dtype, executor=client, workers=args.workers, shard_size=args.shard_size,
                          overwrite=args.overwrite, backend=args.backend, audio_root=args.audio_root,
                          verify=args.verify, quiet=args.quiet)
    except ParameterError as exc:
        print(f"fastmel convert: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fastmel convert: interrupted; what finished is recorded, rerun the same command to finish",
              file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()
    if not args.quiet:
        print(summary)
    return summary.exit_code


def _connect(address: str) -> Any:
    from distributed import Client

    return Client(address, timeout="30s")
