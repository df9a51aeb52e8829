"""The rows of an .xlsx worksheet, read as a stream: the sheet part is inflated piece by piece
from the zip, cut at row ends into pieces of a few megabytes, and each piece is read by
python-calamine as a small workbook of its own (the original styles and shared strings, that
piece of the sheet). So a 200,000-row sheet costs one piece's cells at a time, not the whole
range (calamine holds every cell of a sheet it reads: 120 MB for a 20,000-project register's
绩效指标), and every value is exactly the one calamine gives for the whole sheet (text, float,
bool, date/time, "" for an empty or error cell).

Beside the values, :class:`SheetRows` gives the cells of the current piece that have a percent
format and the formula cells' texts — what :class:`~xlperf.safezip.Container` finds (it is run
on each piece). For one column, :meth:`SheetRows.column` reads only that column's cells (a
regular expression picks them out; calamine reads what it picked).

Used for the register, an admin's own file: the checks of :mod:`xlperf.safezip` for untrusted
files are not made, but a sheet that would not fit in memory (a zip bomb, a row of a gigabyte)
is refused with :class:`SheetError`, never a ``MemoryError``."""
from __future__ import annotations

import io
import re
import sys
from array import array
import zipfile
import zlib

from .safezip import Container, Refused, _stored_zip
from .xlsxstream import col_letter

MAX_PART = 4 << 30          # uncompressed bytes of one sheet part
MAX_RATIO = 1000            # its compression ratio, checked above RATIO_FLOOR
RATIO_FLOOR = 64 << 20
MAX_SMALL = 256 << 20       # uncompressed bytes of workbook, styles, shared strings (held in memory)
MAX_ROW = 64 << 20          # bytes of one <row> element
PIECE = 1 << 20          # bytes of sheet XML given to calamine at a time (~10 MB of cells)
_INFLATE = 1 << 20
_SHEET = "S"                # the one sheet of a piece's workbook

_P = rb"(?:[A-Za-z_][\w.\-]*:)?"
_SHEET_DATA_RE = re.compile(rb"<(" + _P + rb")sheetData(?=[\s/>])[^>]*?(/?)>")
_ROOT_RE = re.compile(rb"<(" + _P + rb"worksheet)(?=[\s/>])")
_DIMENSION_RE = re.compile(rb"<" + _P + rb"dimension(?=[\s/>])[^>]*>")
_DIMENSION_LAST_RE = re.compile(rb"""ref\s*=\s*["'](?:[A-Za-z$]*[0-9$]*:)?[A-Za-z$]*([0-9]+)""")
_ROW_RE = re.compile(rb"<" + _P + rb"row(?=[\s/>])([^>]*)>")
_ROW_WITHOUT_R_RE = re.compile(rb"<" + _P + rb"""row(?![^>]*\sr\s*=)(?=[\s/>])""")
_ROW_NUMBER_RE = re.compile(rb"""\sr\s*=\s*["']\s*([0-9]+)""")

_WORKBOOK = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">%s'
             b'<sheets><sheet name="' + _SHEET.encode() + b'" sheetId="1" r:id="rId1"/></sheets></workbook>')
_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
         b'Target="worksheets/sheet1.xml"/>%s</Relationships>')
_ROOT_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
              b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
              b'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          b'<Default Extension="xml" ContentType="application/xml"/>'
          b'<Override PartName="/xl/workbook.xml" '
          b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          b'<Override PartName="/xl/worksheets/sheet1.xml" '
          b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_PART_RELS = {"styles": b"styles.xml", "sharedStrings": b"sharedStrings.xml"}


class SheetError(Exception):
    """The workbook cannot be read. ``message`` is Chinese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _unreadable(exc) -> SheetError:
    return SheetError(f"无法作为 Excel 工作簿打开：{getattr(exc, 'message', exc)}")


class XlsxBook:
    """An .xlsx opened for :meth:`rows`: its workbook, relationships, styles and shared strings
    are read once (as bytes); a sheet part only while its rows are iterated."""

    def __init__(self, path):
        try:
            self.zip = zipfile.ZipFile(path)
            small = {n: self._read(n) for n in self.zip.namelist()
                     if n.endswith((".rels", "workbook.xml"))}
            self.container = Container("xlsx", b"", small)
            self.sheets = self.container.sheet_parts
            wb_part = self.container.workbook_part
            workbook = small.get(wb_part)
            if workbook is None:
                raise SheetError("无法作为 Excel 工作簿打开：缺少 workbook.xml。")
            date1904 = re.search(rb"""<(?:[A-Za-z_][\w.\-]*:)?workbookPr\s[^>]*date1904\s*=\s*["'](?:1|true)""", workbook)
            base = wb_part.rsplit("/", 1)[0] + "/" if "/" in wb_part else ""
            rels = small.get(f"{base}_rels/{wb_part.rsplit('/', 1)[-1]}.rels", b"")
            self.parts: dict[str, bytes] = {"[Content_Types].xml": _TYPES, "_rels/.rels": _ROOT_RELS,
                                            "xl/workbook.xml": _WORKBOOK % (b'<workbookPr date1904="1"/>' if date1904 else b"")}
            links = []
            for kind, name in _PART_RELS.items():
                part = self._related(rels, kind, base)
                if part is not None:
                    self.parts["xl/" + name.decode()] = self._read(part)
                    links.append(b'<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/'
                                 b'2006/relationships/%s" Target="%s"/>' % (len(links) + 2, kind.encode(), name))
            self.parts["xl/_rels/workbook.xml.rels"] = _RELS % b"".join(links)
            self.strings = self.parts.get("xl/sharedStrings.xml", b"")
            spans = _string_spans(self.strings) if self.strings else None
            self.string_head, self.string_starts, self.string_ends = spans or (None, None, None)
            self.crcs = {n: zlib.crc32(b) for n, b in self.parts.items()}
            styles = self.parts.get("xl/styles.xml")
            self.container.parts["xl/styles.xml"] = styles if styles is not None else b""
            self.percent_styles = self.container._percent_styles if styles else frozenset()
        except SheetError:
            self.close()
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, zlib.error, Refused,
                RuntimeError, NotImplementedError, KeyError) as exc:
            self.close()
            raise _unreadable(exc) from None

    @property
    def names(self) -> list[str]:
        return list(self.sheets)

    def _related(self, rels: bytes, kind: str, base: str) -> str | None:
        """The part the workbook's relationship of this type points at (else the usual name)."""
        m = re.search(rb"<" + _P + rb"""Relationship\s[^>]*?Type\s*=\s*["'][^"']*/""" + kind.encode()
                      + rb"""["'][^>]*>""", rels)
        target = re.search(rb"""Target\s*=\s*["']([^"']*)["']""", m.group(0)) if m else None
        names = self.zip.NameToInfo
        if target:
            t = target.group(1).decode("utf-8", "replace")
            part = t.lstrip("/") if t.startswith("/") else base + t
            if part in names:
                return part
        part = base + _PART_RELS[kind].decode()
        return part if part in names else None

    def _check(self, name: str, limit: int) -> zipfile.ZipInfo:
        info = self.zip.getinfo(name)
        if info.file_size > limit or (info.file_size > RATIO_FLOOR
                                      and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
            raise SheetError(f"工作簿的「{name}」解压后 {info.file_size:,} 字节，过大或压缩比异常（疑似损坏或压缩炸弹），未读取。")
        return info

    def _read(self, name: str) -> bytes:
        return self.zip.read(self._check(name, MAX_SMALL))

    def close(self) -> None:
        z = getattr(self, "zip", None)
        if z is not None:
            z.close()
            self.zip = None

    def rows(self, sheet: str) -> "SheetRows":
        return SheetRows(self, sheet)


_SI_PLAIN_RE = re.compile(rb'<si>(?:<t>([^<]*)</t>|<t xml:space="preserve">([^<]*)</t>)</si>')
_NUMBER_RE = re.compile(rb"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
_SI_ITEM_RE = re.compile(rb"<" + _P + rb"si(?:\s[^>]*)?(?:/>|>.*?</" + _P + rb"si>)", re.S)
_SI_ANY_RE = re.compile(rb"<" + _P + rb"si[\s/>]")
_SST_START_RE = re.compile(rb"<(" + _P + rb")sst(?=[\s/>])[^>]*>")
_SST_REF_RE = re.compile(rb't="s"[^<>]*><v>([0-9]{1,9})</v>')
_DIGITS_RE = re.compile(rb">\s*([0-9]{1,9})\s*<")


def _string_spans(xml: bytes):
    """(the table's start and end tags, where each ``<si>`` element starts and ends in ``xml``),
    or None when the table is not one calamine would read item by item the same way. Offsets,
    not 40,000 small objects: a forked worker would copy every page their counts touch."""
    m = _SST_START_RE.search(xml)
    if m is None or b"CDATA" in xml or b"<!--" in xml:
        return None
    starts, ends = array("q"), array("q")
    for item in _SI_ITEM_RE.finditer(xml, m.end()):
        starts.append(item.start())
        ends.append(item.end())
    if len(starts) != len(_SI_ANY_RE.findall(xml, m.end())):
        return None
    return (xml[:m.end()], b"</" + m.group(1) + b"sst>"), starts, ends


def _plain_string(book: "XlsxBook", i: int) -> str | None:
    """Shared string ``i`` when it reads the same whatever the reader (one ``<t>`` of text,
    nothing to unescape, decode or trim), else None."""
    if book.string_starts is None or i >= len(book.string_starts):
        return None
    m = _SI_PLAIN_RE.fullmatch(book.strings, book.string_starts[i], book.string_ends[i])
    if m is None:
        return None
    a, b = m.groups()
    text = a if a is not None else b
    if not text or b"&" in text or b"_x" in text or b"\r" in text or (
            a is not None and (text[:1].isspace() or text[-1:].isspace())):
        return None
    return text.decode("utf-8", "replace")


def _piece_strings(book: XlsxBook, piece: bytes) -> bytes:
    """The shared strings table for one piece: every string a cell of the piece refers to (or,
    where a string cell is not written ``t="s"…><v>n</v>``, every number written as a text node:
    a superset), the others left empty so the indices stay — calamine parses the strings of
    the piece, not the whole table (40,000 strings for each 1 MB piece of a 20,000-project register)."""
    (head, tail), starts, ends, xml = book.string_head, book.string_starts, book.string_ends, book.strings
    n = len(starts)
    out = [b"<" + tail[2:-4] + b"si/>"] * n        # (tail is </sst> with the table's prefix)
    refs = _SST_REF_RE.findall(piece)
    if len(refs) != piece.count(b't="s"'):      # a string cell written otherwise: every number may be one
        refs = _DIGITS_RE.findall(piece)
    for i in set(map(int, refs)):
        if i < n:
            out[i] = xml[starts[i]:ends[i]]
    return head + b"".join(out) + tail


class SheetRows:
    """Iterating gives each row of a sheet from row 1, as a list of the values from column A
    (``""`` for an empty cell; an empty row is ``[]``). While a row is looked at,
    :attr:`percent` holds the 0-based (row, column) of percent-formatted cells and
    :attr:`formulas` the formula texts of the cells of its piece of the sheet (keys as
    :class:`~xlperf.safezip.Container` gives them). :attr:`last_row`: the last row the sheet
    declares (``<dimension>``), or None."""

    def __init__(self, book: XlsxBook, sheet: str):
        part = book.sheets.get(sheet)
        if part is None or part not in book.zip.NameToInfo:
            raise SheetError(f"无法作为 Excel 工作簿打开：找不到工作表「{sheet}」的内容。")
        self.book, self.sheet, self.part = book, sheet, part
        self.info = book._check(part, MAX_PART)
        self.percent: frozenset = frozenset()
        self.formulas: dict = {}
        self.last_row: int | None = None
        self._head = self._tail = b""

    # ---------------------------------------------------------------- the XML, piece by piece

    def _chunks(self):
        try:
            with self.book.zip.open(self.info) as f:
                while True:
                    data = f.read(_INFLATE)
                    if not data:
                        return
                    yield data
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError, RuntimeError) as exc:
            raise SheetError(f"工作表「{self.sheet}」已损坏，无法读取：{exc}") from None

    def _pieces(self, size: int | None = None):
        """The rows of ``<sheetData>`` in pieces of about ``size`` bytes that end where a row
        ends; :attr:`_head` / :attr:`_tail` make a piece a worksheet of its own."""
        size = size or PIECE
        buf, started, end_tag, row_end = b"", False, b"", b""
        for data in self._chunks():
            buf += data
            if not started:
                m = _SHEET_DATA_RE.search(buf)
                if m is None:
                    if len(buf) > MAX_ROW:
                        raise SheetError(f"工作表「{self.sheet}」的结构异常（找不到 sheetData），无法读取。")
                    continue
                head = buf[:m.start()]
                dim = _DIMENSION_RE.search(head)
                if dim:
                    last = _DIMENSION_LAST_RE.search(dim.group(0))
                    self.last_row = int(last.group(1)) if last else None
                    head = head[:dim.start()] + head[dim.end():]     # calamine would size the range by it
                root = _ROOT_RE.search(head)
                prefix = m.group(1)
                self._head = head + b"<" + prefix + b"sheetData>"
                self._tail = b"</" + prefix + b"sheetData></" + (root.group(1) if root else b"worksheet") + b">"
                if m.group(2):
                    return
                end_tag, row_end = b"</" + prefix + b"sheetData>", b"</" + prefix + b"row>"
                buf, started = buf[m.end():], True
            stop = buf.find(end_tag)
            if stop >= 0:
                buf = buf[:stop]
            while len(buf) >= size:
                cut = buf.rfind(row_end, 0, size)
                if cut < 0:
                    cut = buf.find(row_end, size)
                if cut < 0:
                    if len(buf) > MAX_ROW:
                        raise SheetError(f"工作表「{self.sheet}」的一行超过 {MAX_ROW >> 20} MB，无法读取。")
                    break
                cut += len(row_end)
                yield buf[:cut]
                buf = buf[cut:]
            if stop >= 0:
                break
        if started and buf.strip():
            yield buf

    def _numbered(self, pieces):
        """Pieces whose rows all say their number (``r=``): a row without one is the row after
        the previous, as calamine counts — which a piece read on its own could not know."""
        last = 0
        for piece in pieces:
            if _rows_without_number(piece):
                def number(m):
                    nonlocal last
                    r = _ROW_NUMBER_RE.search(m.group(1))
                    if r:
                        last = int(r.group(1))
                        return m.group(0)
                    last += 1
                    return m.group(0)[:-1].rstrip(b"/") + b' r="%d"' % last + (b"/>" if m.group(0).endswith(b"/>")
                                                                              else b">")
                piece = _ROW_RE.sub(number, piece)
            else:
                last = _last_row_number(piece, last)
            held = [piece]
            piece = None
            yield held.pop()        # (not kept in this frame while the piece is read)

    def _workbook(self, piece: bytes):
        """calamine's sheet for one piece, and the Container that finds its percent and formula cells."""
        from python_calamine import CalamineWorkbook

        book = self.book
        xml = self._head + piece + self._tail
        parts = dict(book.parts)
        parts["xl/worksheets/sheet1.xml"] = xml
        crcs = dict(book.crcs)
        crcs["xl/worksheets/sheet1.xml"] = zlib.crc32(xml)
        if book.string_starts is not None and len(book.strings) > len(piece):   # a large table
            strings = _piece_strings(book, piece)
            parts["xl/sharedStrings.xml"], crcs["xl/sharedStrings.xml"] = strings, zlib.crc32(strings)
        data = _stored_zip(parts, crcs)
        if data is None:
            raise SheetError(f"工作表「{self.sheet}」的一段超过 4 GB，无法读取。")
        try:
            wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
            sheet = wb.get_sheet_by_name(_SHEET)
        except Exception as exc:  # noqa: BLE001 - calamine raises its own kinds for a broken sheet
            raise SheetError(f"工作表「{self.sheet}」无法读取：{exc}") from None
        return wb, sheet, xml

    def _marks(self, xml: bytes) -> None:
        c = self.book.container
        c.parts[self.part] = xml
        try:
            self.percent = c.percent_cells(self.sheet) if self.book.percent_styles else frozenset()
            # (a byte search first: the Container's own test is a regular expression with prefixes)
            self.formulas = c.formula_cells(self.sheet) if b"<f" in xml or b":f" in xml else {}
        finally:
            c.parts.pop(self.part, None)

    def _read(self, piece: bytes):
        """(0-based row number, values from column A) of the rows of one piece."""
        wb, sheet, xml = self._workbook(piece)
        try:
            start = sheet.start
            if start is None:
                return
            rows = sheet.to_python(skip_empty_area=True)
        except Exception as exc:  # noqa: BLE001
            raise SheetError(f"工作表「{self.sheet}」无法读取：{exc}") from None
        finally:
            wb.close()
            _give_back()
        self._marks(xml)
        xml = piece = None
        number, pad = start
        pad = [""] * pad if pad else None
        rows.reverse()          # handed out from the end: each row is let go once looked at
        while rows:
            row = rows.pop()
            yield number, (pad + row if pad else row)
            number += 1

    def __iter__(self):
        following = 0            # the 0-based number of the next row to hand out
        for piece in self._numbered(self._pieces()):
            rows, piece = self._read(piece), None
            for number, row in rows:
                while following < number:
                    following += 1
                    yield []
                following += 1
                yield row
        self.percent, self.formulas = frozenset(), {}

    def column(self, col: int) -> "SheetRows":
        """Only column ``col`` (0-based) of each row (the rest of a row left out)."""
        return _Column(self, col)


def _trimmer():
    """glibc's ``malloc_trim``, or None elsewhere."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError, ImportError):
        return None


_TRIM = _trimmer() if sys.platform.startswith("linux") else None


def _give_back() -> None:
    """Return the heap calamine freed to the system: the few-megabyte buffers and cells of a
    piece are freed, but glibc keeps the pages (a 20,000-project register's 项目清单 left ~25 MB
    resident, which the forked workers then share and are counted for)."""
    if _TRIM is not None:
        _TRIM(0)


def _rows_without_number(piece: bytes) -> bool:
    """Whether a row start tag of ``piece`` lacks ``r=`` (byte counts first; the regular
    expression only when some row is not written ``<row r="…``)."""
    if piece.count(b"<row") == piece.count(b'<row r="') and b":row" not in piece:
        return False
    return _ROW_WITHOUT_R_RE.search(piece) is not None


def _last_row_number(piece: bytes, default: int) -> int:
    """The number of the last row start tag of ``piece`` (found from the end)."""
    i = len(piece)
    while True:
        i = piece.rfind(b"row", 0, i)
        if i < 0:
            return default
        m = _ROW_RE.match(piece, piece.rfind(b"<", 0, i))
        if m:
            r = _ROW_NUMBER_RE.search(m.group(1))
            return int(r.group(1)) if r else default


class _Column(SheetRows):
    """One column of a sheet. Where every cell of a piece is written ``<c r="A1"…`` (as Excel,
    LibreOffice, WPS and openpyxl write them) and the column's cells hold a plain shared string
    (one ``<t>`` of text with nothing to unescape or trim) or a number without a style, a regular
    expression takes that column's cells out and they are read here without calamine; a piece
    written otherwise is read by calamine, whole."""

    def __init__(self, rows: SheetRows, col: int):
        super().__init__(rows.book, rows.sheet)
        self.col = col
        letters = col_letter(col).encode()
        self._cell_re = re.compile(rb'<c r="' + letters + rb'([0-9]+)"((?:\s+[st]="[^"<>]*")*)\s*'
                                   rb'(?:/>|>(?:<v>([^<]*)</v>)?</c>)')
        self._refs = b'<c r="' + letters

    def _simple(self, piece: bytes) -> list | None:
        """The column's values below row 1 when the piece is simple enough to read here, else None."""
        cells = self._cell_re.findall(piece)
        if len(cells) != piece.count(self._refs) or piece.count(b"<c") != piece.count(b'<c r="') or b":c" in piece:
            return None
        book, table = self.book, {}
        for token in {(a, v) for _, a, v in cells}:
            attrs, v = token[0].strip(), token[1]
            value = None
            if not v:
                value = ""
            elif attrs == b't="s"':
                value = _plain_string(book, int(v)) if v.isdigit() else None
            elif not attrs or attrs == b't="n"':
                value = float(v) if _NUMBER_RE.fullmatch(v) else None
            if value is None:
                return None
            table[token] = value
        if cells and cells[0][0] == b"1":
            del cells[0]
        return [table[a, v] for _, a, v in cells]

    def values(self):
        """The value of each cell of the column below row 1 (blank rows may be left out)."""
        col = self.col
        for piece in self._numbered(self._pieces()):
            values = self._simple(piece)
            if values is not None:
                yield from values
                continue
            for number, row in self._read(piece):
                if number:
                    yield row[col] if len(row) > col else ""

    def __iter__(self):
        pad = [""] * self.col
        for value in self.values():
            yield pad + [value]
