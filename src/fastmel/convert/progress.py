"""What a person watching a conversion sees: a progress bar, then a summary."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Progress", "ConvertSummary", "EXIT_OK", "EXIT_FAILED_ITEMS"]

EXIT_OK = 0            # every item converted (now or on an earlier run)
EXIT_FAILED_ITEMS = 3  # the run finished, some items failed (see the manifest)


@dataclass
class ConvertSummary:
    """The outcome of one :func:`fastmel.convert.convert` call.

    Attributes
    ----------
    total : int
        Items in the source.
    converted : int
        Items converted by this run.
    skipped : int
        Items already converted by an earlier run (checked, not redone).
    failed : int
        Items that failed in this run (their errors are in the manifest).
    audio_hours : float
        Hours of audio converted by this run.
    wall_s : float
        Wall time of this run in seconds.
    retried : int
        Items retried after a worker died.
    dest : str
    failures : list of (id, error)
        The first 20 failures, for the summary.
    """

    total: int = 0
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    audio_hours: float = 0.0
    wall_s: float = 0.0
    retried: int = 0
    dest: str = ""
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def files_per_s(self) -> float:
        return (self.converted + self.failed) / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def hours_per_s(self) -> float:
        return self.audio_hours / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 3 (``EXIT_FAILED_ITEMS``) otherwise."""
        return EXIT_OK if self.failed == 0 else EXIT_FAILED_ITEMS

    def __str__(self) -> str:
        lines = [
            f"fastmel convert: {self.total} items -> {self.dest}",
            f"  converted {self.converted}, skipped (done before) {self.skipped}, failed {self.failed}"
            + (f", retried after a worker died {self.retried}" if self.retried else ""),
            f"  audio {self.audio_hours:.3f} h in {self.wall_s:.1f} s: "
            f"{self.files_per_s:.1f} files/s, {self.hours_per_s * 3600:.1f} s of audio/s "
            f"({self.hours_per_s:.4f} h/s)",
        ]
        if self.failures:
            lines.append("  failures (all in manifest.jsonl, status=failed):")
            lines += [f"    {i}: {e}" for i, e in self.failures]
            if self.failed > len(self.failures):
                lines.append(f"    ... and {self.failed - len(self.failures)} more")
        return "\n".join(lines)


class Progress:
    """A tqdm bar on a terminal, a plain line every ``every_s`` seconds otherwise,
    nothing when ``quiet``.

    Parameters
    ----------
    total : int
        Items this run will process.
    quiet : bool
    stream : text stream
        Where to draw (stderr).
    every_s : float
        Seconds between plain lines.
    """

    def __init__(self, *, total: int, quiet: bool, stream: TextIO | None = None, every_s: float = 10.0) -> None:
        self.total, self.quiet, self.every_s = total, quiet, every_s
        self.stream = stream if stream is not None else sys.stderr
        self.done = self.failed = 0
        self.audio_s = 0.0
        self.start = time.monotonic()
        self._last_line = self.start
        self._bar = None
        if not quiet and total and _is_tty(self.stream):
            from tqdm import tqdm  # optional extra: fastmel[convert]

            self._bar = tqdm(total=total, unit="file", file=self.stream, dynamic_ncols=True, smoothing=0.05)

    def update(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            self.done += 1
            self.failed += r["status"] != "ok"
            self.audio_s += (r.get("duration_s") or 0.0) if r["status"] == "ok" else 0.0
        if self.quiet:
            return
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate_h = self.audio_s / 3600 / elapsed
        if self._bar is not None:
            self._bar.update(len(records))
            self._bar.set_postfix_str(f"{rate_h:.3f} h audio/s, {self.failed} failed", refresh=False)
        elif time.monotonic() - self._last_line >= self.every_s or self.done == self.total:
            self._last_line = time.monotonic()
            rate = self.done / elapsed
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(f"fastmel convert: {self.done}/{self.total} files ({100 * self.done / self.total:.0f}%), "
                  f"{rate:.1f} files/s, {rate_h:.4f} h audio/s, {self.failed} failed, ETA {_clock(eta)}",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
