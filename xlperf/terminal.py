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
    """``text`` with every control, bidi and invisible formatting character shown as ``\\uXXXX``."""
    s = str(text)
    return _UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", s) if _UNSAFE_RE.search(s) else s


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
