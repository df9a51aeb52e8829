"""The print boundary: text from files (project names, sheet names, file names, cell text)
must not drive the terminal. An ANSI/OSC escape in a project name could repaint a line as
「未发现问题」, set the window title or, with some terminals, write files; a bidi override
could reorder what is shown; a bare CR could overwrite a line.

:func:`clean` makes every such character visible as ``\\uXXXX`` (a form JSON reads back as
the same character, so ``check --json`` stays valid and exact); :func:`guard` installs it
on ``sys.stdout``/``sys.stderr`` for one command (``xlperf.cli.main``), so every print of
every command passes through it.
"""
from __future__ import annotations

import contextlib
import re
import sys

# C0 except TAB and LF, DEL, C1, and the invisible characters that reorder or hide text:
# bidi embeddings/overrides/isolates and marks, zero-width joiners/spaces, BOM, line and
# paragraph separators, soft hyphen, interlinear annotations.
_UNSAFE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
                        "\u2060-\u2069\ufeff\ufff9-\ufffb]")


def clean(text) -> str:
    """``text`` with every control, bidi and invisible formatting character shown as ``\\uXXXX``
    (and a file name's undecodable bytes as in :func:`display_name`)."""
    s = str(text)
    if _SURROGATE_RE.search(s):
        s = display_name(s)
    return _UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", s) if _UNSAFE_RE.search(s) else s


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def display_name(path: str) -> str:
    """A file name fit to show and to write into a report. Python hands over a name whose
    bytes are not UTF-8 (GBK bytes, as ``unzip`` leaves names from Chinese Windows zips) with
    lone surrogates, which no UTF-8 output can hold: its bytes are read as GB18030 when they
    are that, else each undecodable byte is shown as ``\\xNN``."""
    if not _SURROGATE_RE.search(path):
        return path
    raw = path.encode("utf-8", "surrogateescape") if _escaped_only(path) else None
    if raw is not None:
        for codec in ("gb18030",):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                pass
        return raw.decode("utf-8", "backslashreplace")
    return _SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", path)


def _escaped_only(s: str) -> bool:
    """Whether every surrogate in ``s`` is one ``surrogateescape`` made (U+DC80–U+DCFF)."""
    return all("\udc80" <= ch <= "\udcff" for ch in _SURROGATE_RE.findall(s))


class _Guarded:
    """A text stream that passes everything through :func:`clean`."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, s) -> int:
        self._stream.write(clean(s))
        return len(s)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    @property
    def unguarded(self):
        """The stream itself, for text xlperf composes with no file's text in it (the
        progress bar, which must return the cursor with a CR)."""
        return self._stream

    def __getattr__(self, name):            # flush, isatty, encoding, fileno, buffer …
        return getattr(self._stream, name)


@contextlib.contextmanager
def guard():
    """Route ``sys.stdout`` and ``sys.stderr`` through :func:`clean` for the duration."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Guarded(saved[0]), _Guarded(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
