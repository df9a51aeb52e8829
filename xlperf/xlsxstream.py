"""Big xlsx sheets written as raw sheet XML, streamed: the rows of a table go, deflated, into
a temporary spool as they come; the finished workbook is a small skeleton (styles, sheet
set-up, charts — made by XlsxWriter) with each big sheet's rows spliced into its
``<sheetData>``.

Why: XlsxWriter costs ~4 µs per cell even with ``constant_memory`` (the 指标明细 sheet of a
1,000-form harvest took 3 of its 6 seconds); here a row is one f-string. The cells are
written exactly as XlsxWriter's constant_memory mode writes them (inline strings with its
control-character escapes, numbers as ``%.16G``, NaN/±inf as the error formulas it writes),
so the workbook holds the same values, styles and print set-up. Nothing in here evaluates
or interprets a value: every text is XML-escaped data of an inline string.

The parts are hashed as they are written (:func:`xlperf.marker.seal_digests`), so sealing a
summary needs no second read of it.
"""
from __future__ import annotations

import functools
import hashlib
import math
import re
import struct
import tempfile
import zlib
from typing import Callable, Iterable

__all__ = ["SheetSpool", "ZipWriter", "col_letter", "inline_text"]

_CONTROL_ESCAPED = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_XML = re.compile("[&<>]")
MAX_UTF16 = 32767          # Excel's limit on the characters of one cell (UTF-16 units)


def col_letter(c: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    s = ""
    c += 1
    while c:
        c, r = divmod(c - 1, 26)
        s = chr(65 + r) + s
    return s


def _utf16_clip(s: str) -> str:
    """``s`` cut to Excel's 32,767 UTF-16 units (as XlsxWriter cuts it)."""
    if len(s) <= MAX_UTF16 // 2 or len(s.encode("utf-16-le")) // 2 <= MAX_UTF16:
        return s
    out, n = [], 0
    for ch in s:
        n += 2 if ord(ch) > 0xFFFF else 1
        if n > MAX_UTF16:
            break
        out.append(ch)
    return "".join(out)


def inline_text(s: str) -> str:
    """The ``<is>`` content of an inline string cell for ``s``: control characters as Excel's
    ``_xHHHH_`` escapes (a literal ``_x0041_`` escaped in turn), XML-escaped, white space at
    either end preserved."""
    s = _utf16_clip(s)
    if "_x" in s:
        s = _CONTROL_ESCAPED.sub(r"_x005F\1", s)
    if _CONTROL.search(s):
        s = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", s)
    if "\ufffe" in s or "\uffff" in s:
        s = s.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    if _XML.search(s):
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if s[:1].isspace() or s[-1:].isspace():
        return f'<t xml:space="preserve">{s}</t>'
    return f"<t>{s}</t>"


def number_cell(ref: str, style: int, value: float) -> str:
    if math.isfinite(value):
        return f'<c r="{ref}" s="{style}"><v>{value:.16G}</v></c>'
    if math.isnan(value):
        return f'<c r="{ref}" s="{style}" t="e"><f>#NUM!</f><v>#NUM!</v></c>'
    return f'<c r="{ref}" s="{style}" t="e"><f>{"1/0" if value > 0 else "-1/0"}</f><v>#DIV/0!</v></c>'


@functools.lru_cache(maxsize=1)
def _fast_zlib():
    """ISA-L's zlib (python-isal, as :func:`xlperf.template.deflate_raw` uses) or zlib where it
    is missing: the spooled rows of a 1,000-form 指标明细 (11.6 MB of XML) deflate at level 1 in
    16 ms instead of 47, inflate back (for the CRC and hash) in 4 ms instead of 10, as plain
    deflate (the part is ~4% larger)."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - a platform without its wheel
        return zlib
    return isal_zlib


class SheetSpool:
    """The ``<row>`` elements of one sheet, deflated into a temporary file as they come."""

    def __init__(self, level: int = 1, buffer: int = 1 << 16):
        self.file = tempfile.TemporaryFile(prefix="xlperf-")
        self._z = (_fast_zlib() if level <= 3 else zlib).compressobj(level, zlib.DEFLATED, -15)
        self._buf: list[str] = []
        self._pending = 0
        self._limit = buffer
        self.rows = 0            # the last row number written (1-based, as in the XML)
        self.size = 0            # uncompressed bytes

    def add(self, xml: str, row: int) -> None:
        self._buf.append(xml)
        self.rows = row
        self._pending += len(xml)
        if self._pending >= self._limit:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            data = "".join(self._buf).encode("utf-8")
            self._buf.clear()
            self._pending = 0
            self.size += len(data)
            self.file.write(self._z.compress(data))

    def finish(self) -> None:
        """End the deflate data on a byte boundary, without a final block (a final block
        follows: the rest of the sheet)."""
        self._flush()
        self.file.write(self._z.flush(zlib.Z_SYNC_FLUSH))
        self.file.flush()

    def compressed(self, chunk: int = 1 << 16) -> Iterable[bytes]:
        self.file.seek(0)
        while True:
            data = self.file.read(chunk)
            if not data:
                return
            yield data

    def plain(self, chunk: int = 1 << 20) -> Iterable[bytes]:
        """The rows, inflated piece by piece (at most ``chunk`` bytes at a time)."""
        d = _fast_zlib().decompressobj(-15)
        for data in self.compressed():
            while data:
                yield d.decompress(data, chunk)
                data = d.unconsumed_tail
        yield d.flush()

    def close(self) -> None:
        self.file.close()


class ZipWriter:
    """A minimal zip writer over a seekable file: deflated entries, fixed 1980-01-01 times,
    each entry's uncompressed content hashed (SHA-256) for :mod:`xlperf.marker`."""

    def __init__(self, fh, level: int = 6):
        self.fh, self.level = fh, level
        self.central = bytearray()
        self.count = 0
        self.digests: dict[str, bytes] = {}

    def _entry(self, name: str, crc: int, csize: int, usize: int, chunks: Iterable[Iterable[bytes]]) -> None:
        if csize > 0xFFFFFFFF or usize > 0xFFFFFFFF:
            raise OverflowError(f"{name}: part too large for a zip without ZIP64")
        raw = name.encode("utf-8")
        offset = self.fh.tell()
        self.fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, 8, 0, 0x21, crc, csize, usize, len(raw), 0)
                      + raw)
        for part in chunks:
            for c in part:
                self.fh.write(c)
        self.central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, 8, 0, 0x21, crc, csize, usize,
                                    len(raw), 0, 0, 0, 0, 0, offset) + raw
        self.count += 1

    def write(self, name: str, data: bytes) -> None:
        z = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        body = z.compress(data) + z.flush()
        self.digests[name] = hashlib.sha256(data).digest()
        self._entry(name, zlib.crc32(data), len(body), len(data), [[body]])

    def write_sheet(self, name: str, head: bytes, spool: SheetSpool, tail: bytes) -> None:
        """A sheet part: ``head`` (up to and including the header row), the spooled rows,
        ``tail`` (from ``</sheetData>``). The spool is read twice — inflated once for the CRC
        and the hash, then copied as it is — so nothing is held in memory."""
        z = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        h_body = z.compress(head) + z.flush(zlib.Z_SYNC_FLUSH)
        z = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        t_body = z.compress(tail) + z.flush()
        sha = hashlib.sha256(head)
        crc32 = _fast_zlib().crc32
        crc = crc32(head)
        for data in spool.plain():
            sha.update(data)
            crc = crc32(data, crc)
        sha.update(tail)
        crc = crc32(tail, crc)
        spool_size = spool.file.seek(0, 2)
        self.digests[name] = sha.digest()
        self._entry(name, crc, len(h_body) + spool_size + len(t_body), len(head) + spool.size + len(tail),
                    [[h_body], spool.compressed(), [t_body]])

    def close(self) -> None:
        start = self.fh.tell()
        self.fh.write(self.central)
        self.fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, self.count, self.count, len(self.central),
                                  start, 0))


def row_writer(columns: list[tuple[str, int | Callable]]) -> Callable:
    """A function ``(row_number, values) -> '<row …>…</row>'`` for columns given as
    (kind, style): kind "n" writes numbers (``float()`` of the value), "s" inline strings;
    style is the XF index, or a function of the value giving it. Empty values (None, "")
    are not written, as XlsxWriter skips them."""
    letters = [col_letter(j) for j in range(len(columns))]
    plan = list(zip(letters, columns))

    def render(r: int, values) -> str:
        out = [f'<row r="{r}">']
        for (letter, (kind, style)), value in zip(plan, values):
            if value is None or value == "":
                continue
            s = style(value) if callable(style) else style
            if kind == "n":
                out.append(number_cell(f"{letter}{r}", s, float(value)))
            else:
                out.append(f'<c r="{letter}{r}" s="{s}" t="inlineStr"><is>{inline_text(value)}</is></c>')
        out.append("</row>")
        return "".join(out)

    return render
