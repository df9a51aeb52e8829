"""Progress lines on stderr (only on a terminal) and the wall time of a command.

Every phase of a long command (reading the register, generating, reading and checking,
writing 汇总.xlsx, writing the report) shows a one-line bar once it has run ``delay``
seconds, so a 20,000-file run is never silent; the final line of a command gives
:func:`elapsed`, the whole wall time since the command started (not one phase's)."""
from __future__ import annotations

import sys
import time

_imported = time.perf_counter()     # the console script imports xlperf.cli, then this, first
_started: float | None = None


def start() -> None:
    """Mark the start of a command (xlperf.cli.main, at each call). The first command of the
    process counts from this module's import: interpreter start-up aside, the user's wait."""
    global _started, _imported
    _started = _imported if _imported is not None else time.perf_counter()
    _imported = None


def finish() -> None:
    global _started
    _started = None


def elapsed(since: float) -> float:
    """Seconds since the command started: since :func:`start` when run by xlperf.cli.main,
    else since ``since`` (a command function called directly)."""
    return time.perf_counter() - (_started if _started is not None else since)


def _stderr():
    """Where a bar goes: stderr past :func:`xlperf.terminal.guard`, which shows a CR as
    ``\\u000d`` (a bar's labels and numbers are xlperf's own; no file's text goes into one)."""
    return getattr(sys.stderr, "unguarded", sys.stderr)


class Progress:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise. With
    ``delay``, nothing is shown for a phase that ends sooner."""

    def __init__(self, total: int | None, enabled: bool | None = None, label: str = "生成", delay: float = 0.0):
        self.total, self.done, self.label, self.delay = total, 0, label, delay
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self._last = 0.0
        self._shown = False

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.start < self.delay:
            return
        if now - self._last >= 0.1 or (self.total and self.done >= self.total):
            self._last = now
            self._shown = True
            rate = self.done / max(now - self.start, 1e-9)
            if self.total:
                frac = min(1.0, self.done / self.total)
                bar = "█" * int(frac * 30) + "·" * (30 - int(frac * 30))
                text = f"\r{self.label} {bar} {self.done}/{self.total} {frac:4.0%}  {rate:,.0f} 个/秒 "
            else:
                text = f"\r{self.label} {self.done} 个  {rate:,.0f} 个/秒 "
            out = _stderr()
            out.write(text)
            out.flush()

    def status(self, text: str) -> None:
        """Show ``text`` after the label now, for a step that cannot report its progress (a
        library call that reads a whole sheet, the final flush to disk); the bar or
        :meth:`close` overwrites or ends the line."""
        if self.enabled:
            out = _stderr()
            out.write(f"\r{self.label} {text} ")
            out.flush()
            self._shown = True

    def close(self) -> None:
        if self.enabled and self._shown:
            out = _stderr()
            out.write(f"  {time.perf_counter() - self.start:.1f} 秒\n")
            out.flush()
            self._shown = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
