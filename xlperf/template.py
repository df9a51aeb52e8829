"""Compile a template workbook once, then write filled copies fast.

A template is an ordinary .xlsx (see :mod:`xlperf.layout`). Compiling reads its
defined names (``xp_*``) and splits the sheet XML into a jinja2 skeleton: static
rows, the named cells as slots, the prototype indicator row as a loop, the footer
rows with their row numbers shifted. Every other zip part is deflated once and
copied as bytes, so writing a workbook costs one template render and one deflate.

Text always goes out as inline strings, never as ``<f>``: a value that looks like a
formula (``=HYPERLINK(…)``) stays text. Only :class:`Formula` values, which the
generator builds itself, become formulas.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from lxml import etree

from .notation import plain

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CELL_RE = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Elements of CT_Worksheet that may follow sheetData, in schema order.
_AFTER_DATA = ["sheetCalcPr", "sheetProtection", "protectedRanges", "scenarios", "autoFilter",
               "sortState", "dataConsolidate", "customSheetViews", "mergeCells", "phoneticPr",
               "conditionalFormatting", "dataValidations", "hyperlinks", "printOptions",
               "pageMargins", "pageSetup", "headerFooter", "rowBreaks", "colBreaks",
               "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing",
               "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects",
               "controls", "webPublishItems", "tableParts", "extLst"]


class TemplateError(Exception):
    pass


@dataclass(frozen=True)
class Formula:
    """A formula the generator wrote (``expr`` without ``=``) and its cached result."""
    expr: str
    cached: object = None


def col_index(col: str) -> int:
    n = 0
    for ch in col:
        n = n * 26 + ord(ch) - 64
    return n


def col_letter(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def split_ref(ref: str) -> tuple[str, int]:
    m = _CELL_RE.match(ref)
    if not m:
        raise TemplateError(f"not a cell reference: {ref}")
    return m.group(1), int(m.group(2))


_XML_SPECIAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff&<>]")


def xml_text(value) -> str:
    # saxutils.escape without entities, inlined (hot path of bulk generation); most texts need
    # nothing, and one search finds that faster than the four passes
    text = str(value)
    if _XML_SPECIAL.search(text) is None:
        return text
    return _ILLEGAL_XML.sub("", text).replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _number(value) -> str:
    if isinstance(value, Decimal):
        return plain(value)
    return repr(value) if isinstance(value, float) else str(value)


_FORMULA_XML: dict[str, str] = {}


def _formula_xml(expr: str) -> str:
    """``<f>…</f>`` for a formula; memoised, since bulk runs write the same formulas again
    and again (bounded)."""
    xml = _FORMULA_XML.get(expr)
    if xml is None:
        if len(_FORMULA_XML) > 50000:
            _FORMULA_XML.clear()
        xml = _FORMULA_XML[expr] = f"<f>{xml_text(expr)}</f>"
    return xml


# Text cells are written as inline strings, not into a shared-strings table: each workbook is
# rendered from a compiled skeleton by string substitution with no per-file table to build, and
# cell text can be produced in any order. Excel reads them as they are and moves them into a
# shared-strings table on its first save (openxml-audit's only warning on these files), which
# changes nothing that a user sees; LibreOffice, Gnumeric and WPS read them directly.
def cell_xml(ref: str, style: str | None, value) -> str:
    """One ``<c>`` element. Text → inline string; numbers → ``<v>``; Formula → ``<f>``."""
    s = f' s="{style}"' if style else ""
    if type(value) is str:  # the common case first (same result as the general path below)
        if not value:
            return f'<c r="{ref}"{s}/>'
        return (f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{xml_text(value)}'
                f"</t></is></c>")
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>'
    if isinstance(value, Formula):
        f = _formula_xml(value.expr)
        cached = value.cached
        if cached is None or cached == "":
            return f'<c r="{ref}"{s}>{f}</c>'
        if isinstance(cached, str):
            return f'<c r="{ref}"{s} t="str">{f}<v>{xml_text(cached)}</v></c>'
        return f'<c r="{ref}"{s}>{f}<v>{_number(cached)}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)):
        return f'<c r="{ref}"{s}><v>{_number(value)}</v></c>'
    return (f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{xml_text(value)}'
            f"</t></is></c>")


_FORMULA_UTF8: dict = {}
#: Bytes held by :data:`_FORMULA_UTF8`, and its bound: a formula cell is up to ~7 KB, and a real
#: register's variety of (row, target) pairs is unbounded, so the memo is bounded by size.
_FORMULA_UTF8_SIZE = [0]
FORMULA_MEMO_BYTES = 8 * 2**20


def _formula_head(head: str, value: Formula) -> bytes:
    """:func:`_cell`'s text of a formula cell up to its cached value, as UTF-8 (memoised per cell
    and formula: the text depends on nothing else)."""
    cached = value.cached
    key = (head, value.expr, isinstance(cached, str) and cached != "")
    found = _FORMULA_UTF8.get(key)
    if found is None:
        if _FORMULA_UTF8_SIZE[0] > FORMULA_MEMO_BYTES:
            _FORMULA_UTF8.clear()
            _FORMULA_UTF8_SIZE[0] = 0
        f = f"<f>{xml_text(value.expr)}</f>"   # (not through _formula_xml's memo: this one holds it)
        found = _FORMULA_UTF8[key] = (f'{head} t="str">{f}' if key[2] else f"{head}>{f}").encode()
        _FORMULA_UTF8_SIZE[0] += len(found)
    return found


def _formula_tail(cached) -> bytes:
    """The rest of a formula cell after :func:`_formula_head`: its cached value."""
    if cached is None or cached == "":
        return b"</c>"
    if isinstance(cached, str):
        return f"<v>{xml_text(cached)}</v></c>".encode()
    return f"<v>{_number(cached)}</v></c>".encode()


def _cell(head: str, value) -> str:
    """:func:`cell_xml` for a cell whose ``<c r=".." s=".."`` head is already written (the same
    text; the hot path of bulk generation: formula heads are memoised per cell and formula)."""
    kind = type(value)
    if kind is str:
        if not value:
            return head + "/>"
        return f'{head} t="inlineStr"><is><t xml:space="preserve">{xml_text(value)}</t></is></c>'
    if value is None:
        return head + "/>"
    if kind is Formula:
        return (_formula_head(head, value) + _formula_tail(value.cached)).decode()
    if kind is Decimal or kind is int:
        return f"{head}><v>{_number(value)}</v></c>"
    if value == "":
        return head + "/>"
    if isinstance(value, bool):
        return f'{head} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)):
        return f"{head}><v>{_number(value)}</v></c>"
    return f'{head} t="inlineStr"><is><t xml:space="preserve">{xml_text(value)}</t></is></c>'


# ------------------------------------------------------------------ zip writing

@dataclass
class _Part:
    name: bytes
    crc: int
    size: int
    data: bytes  # raw deflate stream


#: Deflate level of the parts written per file. Measured on the sample register's 自评表 sheets
#: (43 KB of XML each) with zlib: level 1 deflates in 1.2 ms, 3 in 1.8 ms, 6 in 4.4 ms (best of
#: 15); the file grows from 11.7 KB to 13.0 KB. Deflate at 6 was ~27% of a worker's time per file.
#: (Now ISA-L's deflate, see :func:`deflate_raw`.)
DEFLATE_LEVEL = 1


@functools.lru_cache(maxsize=1)
def _isal():
    """ISA-L's zlib (python-isal), or None where it is not installed. Its deflate at level 1 is
    ~4× faster than zlib's on a 自评表 sheet (87 KB of XML: 0.07 ms vs 0.28 ms) for the same size
    (9.44 KB vs 9.46 KB): a plain deflate stream any zip reader inflates. Imported on first use."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - a platform without its wheel: zlib, the same format
        return None
    return isal_zlib


def deflate_raw(data: bytes, level: int = DEFLATE_LEVEL) -> bytes:
    """``data`` as a raw deflate stream (what a zip entry holds): ISA-L for the fast levels
    (≤ 3, what bulk writing uses), zlib for the rest (template compilation's level 9)."""
    fast = _isal() if level <= 3 else None
    c = (fast or zlib).compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


_deflate = deflate_raw


def _crc32(data: bytes) -> int:
    fast = _isal()
    return (fast or zlib).crc32(data)


def _part(name: str, data: bytes, level: int = DEFLATE_LEVEL) -> _Part:
    return _Part(name.encode("utf-8"), _crc32(data), len(data), deflate_raw(data, level))


def write_zip(path_or_file, parts: Sequence[_Part]) -> None:
    """A minimal, deterministic zip writer (deflate, fixed 1980-01-01 timestamps)."""
    data = zip_bytes(parts)
    if hasattr(path_or_file, "write"):
        path_or_file.write(data)
    else:
        atomic_write(Path(path_or_file), data)


def zip_bytes(parts: Sequence[_Part]) -> bytes:
    """The bytes :func:`write_zip` writes."""
    out = bytearray()
    central = bytearray()
    for p in parts:
        offset = len(out)
        flags = 0x800  # UTF-8 names
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, 0, 0x21, p.crc, len(p.data),
                           p.size, len(p.name), 0) + p.name + p.data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, 8, 0, 0x21, p.crc,
                               len(p.data), p.size, len(p.name), 0, 0, 0, 0, 0, offset) + p.name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(central), len(out), 0)
    out += central
    out += end
    return bytes(out)


_UMASK = os.umask(0)
os.umask(_UMASK)
#: Permissions of a new file (what open() would give; mkstemp alone would give 0600).
FILE_MODE = 0o666 & ~_UMASK


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, then rename over ``path``:
    a crash leaves either the old file or the complete new one, never half a file."""
    with atomic_file(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_file(path: Path, finish=None):
    """A temporary file beside ``path`` to write into (streamed, never held in memory), put
    in place (:func:`put_in_place`) when the block ends without error, removed otherwise.
    ``finish(tmp)``: called on the finished file just before it is put in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".~xlperf-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        if finish is not None:
            finish(tmp)
        put_in_place(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def put_in_place(tmp, path) -> None:
    """Give the finished temporary file ``tmp`` the permissions open() would, fsync it and
    rename it over ``path`` (atomic: readers see the old file or the whole new one)."""
    if hasattr(os, "chmod"):
        os.chmod(tmp, FILE_MODE)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------ compiling

@dataclass
class Name:
    sheet: str
    col1: str
    row1: int
    col2: str
    row2: int

    @functools.cached_property
    def cells(self) -> list[tuple[str, int]]:
        return [(col_letter(c), r) for r in range(self.row1, self.row2 + 1)
                for c in range(col_index(self.col1), col_index(self.col2) + 1)]


def _parse_name(text: str) -> Name | None:
    m = re.match(r"^'?(.+?)'?!(\$?[A-Z]+\$?\d+)(?::(\$?[A-Z]+\$?\d+))?$", text.strip())
    if not m:
        return None
    c1, r1 = split_ref(m.group(2))
    c2, r2 = split_ref(m.group(3)) if m.group(3) else (c1, r1)
    return Name(m.group(1).replace("''", "'"), c1, r1, c2, r2)


@dataclass
class Layout:
    """Where things are once a workbook has ``n`` indicator rows."""
    band: int          # template row of the prototype indicator row
    n: int

    def row(self, template_row: int, k: int = 0) -> int:
        """The output row of a template row (for the band: of indicator ``k``)."""
        if template_row < self.band:
            return template_row
        if template_row == self.band:
            return self.band + k
        return template_row + self.n - 1

    @property
    def last_band_row(self) -> int:
        return self.band + self.n - 1


@dataclass
class _Row:
    number: int
    attrs: dict
    cells: list  # (col, style, static_xml_or_None, field_or_None, index)
    plan: "_RowPlan | None" = field(default=None, repr=False, compare=False)


@dataclass
class _RowPlan:
    """A row prepared for rendering: its attributes as text, one op per field/label cell and
    one per run of static cells (whose text only needs the row number)."""
    attr: str
    cells: list      # (0, static run index, None, None, None) | (1, col, style, label key, None)
                     # | (2, col, style, field name, (index, is indicator field))
    statics: list    # per static run: its text split at the row number
    resolved: dict = field(default_factory=dict)   # row number → ops (see :func:`_resolve`)
    heights: dict = field(default_factory=dict)    # row height → attributes as text


def _row_plan(row: _Row) -> _RowPlan:
    cells, statics, run = [], [], None
    for col, style, static, fname, idx in row.cells:
        if fname is None:
            text = (static if static else f'<c r="{{ref}}" s="{style}"/>').replace("{ref}", col + "\0")
            if run is None:
                run = []
                cells.append((0, len(statics), None, None, None))
                statics.append(run)
            run.append(text)
            continue
        run = None
        if fname.startswith("label:"):
            cells.append((1, col, style, fname[6:], None))
        else:
            cells.append((2, col, style, fname, (idx, fname.startswith("xp_ind_"))))
    return _RowPlan("".join(f' {a}="{v}"' for a, v in row.attrs.items()), cells,
                    ["".join(texts).split("\0") for texts in statics])


def _resolve(plan: _RowPlan, r: int) -> list:
    """A row plan at output row ``r``: static runs as UTF-8, and per field or label cell
    (``<c r=".." s=".."`` head, the empty cell as UTF-8, name, index or None, where its value is:
    0 the indicator's fields, 1 the form's, 2 the labels)."""
    rs = str(r)
    ops = []
    for op, col, style, name, extra in plan.cells:
        if op == 0:
            ops.append(rs.join(plan.statics[col]).encode())
            continue
        head = f'<c r="{col}{rs}" s="{style}"' if style else f'<c r="{col}{rs}"'
        if op == 1:
            ops.append((head, (head + "/>").encode(), name, None, 2))
        else:
            ops.append((head, (head + "/>").encode(), name, extra[0], 0 if extra[1] else 1))
    return ops


@dataclass
class CompiledTemplate:
    sheet_name: str
    names: dict[str, Name]
    band: int
    rows: list[_Row]
    max_col: str
    merges: list[tuple[str, int, str, int]]
    static_parts: list[_Part]
    sheet_part: str
    workbook_xml: bytes
    skeleton_source: str
    label_templates: dict[str, str]
    widths: dict[str, float] = field(default_factory=dict)
    defined_name_re: re.Pattern = field(default=re.compile(r"<definedName[^>]*>.*?</definedName>", re.S))
    _workbook_cache: dict = field(default_factory=dict, repr=False, compare=False)
    _part_cache: dict = field(default_factory=dict, repr=False, compare=False)
    #: The skeleton as static text and ``"\0slot"`` markers (see :func:`_skeleton`).
    pieces: list | None = field(default=None, repr=False, compare=False)
    _pieces_utf8: list | None = field(default=None, repr=False, compare=False)
    #: Free for callers to memoise what depends only on this template (bounded by them).
    memo: dict = field(default_factory=dict, repr=False, compare=False)
    #: The template's <conditionalFormatting> elements, stretched over the indicator rows
    #: per indicator count (see :func:`_conditional_xml`).
    conditional: tuple = ()

    @functools.cached_property
    def skeleton(self) -> "jinja2.Template":
        """The sheet XML as a jinja2 template (the plain path :attr:`pieces` is checked
        against); built on first use, so bulk runs do not import jinja2."""
        import jinja2

        return jinja2.Environment(autoescape=False, keep_trailing_newline=True).from_string(self.skeleton_source)

    # -- positions ---------------------------------------------------------
    def ref(self, name: str, layout: Layout, index: int = 0) -> str:
        """Output cell of field ``name`` (``index``: position inside a multi-cell name,
        or the indicator number for ``xp_ind_*``)."""
        nm = self.names[name]
        if nm.row1 == self.band:
            return f"{nm.col1}{layout.row(self.band, index)}"
        col, row = nm.cells[index]
        return f"{col}{layout.row(row)}"

    def band_range(self, name: str, layout: Layout) -> str:
        col = self.names[name].col1
        return f"{col}{layout.band}:{col}{layout.last_band_row}"

    def has(self, name: str) -> bool:
        return name in self.names

    # -- rendering ---------------------------------------------------------
    def render_sheet(self, values: Mapping[str, object], indicators: Sequence[Mapping[str, object]],
                     *, labels: Mapping[str, str], heights: Mapping[int, float] | None = None,
                     band_heights: Sequence[float] | None = None, validations: str | bytes = "",
                     extra_merges: Iterable[str] = (), protection_password: str | None = None,
                     row_breaks: Sequence[int] = ()) -> bytes:
        n = max(1, len(indicators))
        layout = Layout(self.band, n)
        heights = heights or {}
        out_rows = []
        for row in self.rows:
            if row.number == self.band:
                for k in range(n):
                    ind = indicators[k] if k < len(indicators) else {}
                    ht = band_heights[k] if band_heights and k < len(band_heights) else None
                    out_rows.append(self._row_xml(row, layout, values, ind, labels, ht, k))
            else:
                out_rows.append(self._row_xml(row, layout, values, None, labels,
                                              heights.get(row.number), 0))
        merges = []
        inside = [b for b in sorted(row_breaks) if self.band <= b < layout.last_band_row]
        for c1, r1, c2, r2 in self.merges:
            if r1 == self.band:
                continue
            if r2 != self.band:
                merges.append(f"{c1}{layout.row(r1)}:{c2}{layout.row(r2)}")
                continue
            # A label merged from the repeated header row down the indicator rows (申报表 绩效指标):
            # on a form of several pages LibreOffice draws it centred on the whole merge from the
            # repeated header row, i.e. off the table on later pages. Then the label keeps to its
            # header rows (printed on every page as the title rows) and the indicator part of the
            # column is a blank block per page.
            if not inside or r1 >= self.band:
                merges.append(f"{c1}{layout.row(r1)}:{c2}{layout.last_band_row}")
                continue
            if self.band - 1 > r1 or c2 != c1:
                merges.append(f"{c1}{r1}:{c2}{self.band - 1}")
            for top, bottom in zip([self.band] + [b + 1 for b in inside], inside + [layout.last_band_row]):
                if bottom > top or c2 != c1:
                    merges.append(f"{c1}{top}:{c2}{bottom}")
        for c1, r1, c2, r2 in self.merges:
            if r1 == self.band == r2:
                merges += [f"{c1}{self.band + k}:{c2}{self.band + k}" for k in range(n)]
        merges += list(extra_merges)
        merge_xml = (f'<mergeCells count="{len(merges)}">' +
                     "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>") if merges else ""
        last = layout.row(self.rows[-1].number) if self.rows else 1
        if self.rows and self.rows[-1].number == self.band:  # the band is the last row (申报表)
            last = layout.last_band_row
        # Manual page breaks (after each listed row): the generator places them where it repeats
        # the 一级/二级指标 labels, so a page never starts with a blank group cell.
        breaks = (f'<rowBreaks count="{len(row_breaks)}" manualBreakCount="{len(row_breaks)}">' +
                  "".join(f'<brk id="{r}" max="16383" man="1"/>' for r in row_breaks) + "</rowBreaks>"
                  ) if row_breaks else ""
        conditional = self.conditional_xml(n)
        if self.pieces is None:
            return self.skeleton.render(
                dimension=f"A1:{self.max_col}{last}", merges=merge_xml, breaks=breaks,
                validations=validations.decode("utf-8") if type(validations) is bytes else validations,
                rows=[r.decode("utf-8") if type(r) is bytes else r for r in out_rows],
                protection=_protection_xml(protection_password), conditional=conditional,
            ).encode("utf-8")
        # The skeleton's text with its slots filled: what the jinja2 skeleton renders, joined
        # directly, as UTF-8 (the rows come encoded: see _row_xml).
        rows = b"".join(r if type(r) is bytes else r.encode("utf-8") for r in out_rows)
        slots = {"dimension": f'<dimension ref="A1:{self.max_col}{last}"/>', "merges": merge_xml,
                 "validations": validations if type(validations) is bytes else str(validations),
                 "breaks": breaks, "protection": _protection_xml(protection_password), "conditional": conditional}
        pieces = self._pieces_utf8
        if pieces is None:
            pieces = self._pieces_utf8 = [p if p[:1] == "\0" else p.encode("utf-8") for p in self.pieces]
        out = []
        for piece in pieces:
            if type(piece) is bytes:
                out.append(piece)
            elif piece == "\0rows":
                out.append(rows)
            else:
                text = slots[piece[1:]]
                out.append(text if type(text) is bytes else text.encode("utf-8"))
        return b"".join(out)

    def conditional_xml(self, n: int) -> str:
        """The template's conditional formats for ``n`` indicator rows (memoised per count)."""
        if not self.conditional:
            return ""
        key = ("conditional", max(1, n))
        xml = self.memo.get(key)
        if xml is None:
            xml = self.memo[key] = "".join(_conditional_xml(c, self.band, max(1, n)) for c in self.conditional)
        return xml

    def _row_xml(self, row: _Row, layout: Layout, values, ind, labels, ht, k) -> bytes:
        """One ``<row>`` as UTF-8: a sheet's text is mostly its formulas, memoised here already
        encoded (encoding them again per file was ~15% of a render)."""
        number, band = row.number, self.band
        r = number if number < band else band + k if number == band else number + layout.n - 1
        plan = row.plan
        if plan is None:
            plan = row.plan = _row_plan(row)
        if ht is None:
            attr = plan.attr
        else:
            attr = plan.heights.get(ht)
            if attr is None:   # a few distinct heights per template row (line counts)
                attrs = dict(row.attrs)
                attrs["ht"] = f"{ht:g}"
                attrs["customHeight"] = "1"
                attr = plan.heights[ht] = "".join(f' {a}="{v}"' for a, v in attrs.items())
        ops = plan.resolved.get(r)
        if ops is None:
            ops = plan.resolved[r] = _resolve(plan, r)
        sources = (ind if ind is not None else {}, values, labels)
        parts = [f'<row r="{r}"{attr}>'.encode()]
        append = parts.append
        for op in ops:
            if type(op) is bytes:   # a run of static cells
                append(op)
                continue
            head, empty, name, idx, where = op
            value = sources[where].get(name)
            if value is None:       # (a missing label is "": written the same, as an empty cell)
                append(empty)
                continue
            if idx is not None and isinstance(value, (list, tuple)):
                value = value[idx] if idx < len(value) else None
            if type(value) is Formula:
                append(_formula_head(head, value))
                append(_formula_tail(value.cached))
            else:
                append(_cell(head, value).encode())
        append(b"</row>")
        return b"".join(parts)

    def render_workbook_xml(self, n: int, full_calc_on_load: bool) -> bytes:
        # Depends only on the indicator count and the calc flag: computed once per pair.
        key = (max(1, n), bool(full_calc_on_load))
        xml = self._workbook_cache.get(key)
        if xml is None:
            xml = self._workbook_cache[key] = _workbook_xml(self, key[0], key[1])
        return xml

    def _cached_part(self, name: str, data: bytes, level: int) -> _Part:
        key = (name, data, level)
        part = self._part_cache.get(key)
        if part is None:
            if len(self._part_cache) > 256:
                self._part_cache.clear()
            part = self._part_cache[key] = _part(name, data, level)
        return part

    def write(self, target, sheet_xml: bytes, workbook_xml: bytes, level: int = DEFLATE_LEVEL) -> None:
        write_zip(target, self._parts(sheet_xml, workbook_xml, level))

    def _parts(self, sheet_xml: bytes, workbook_xml: bytes, level: int) -> list[_Part]:
        parts = list(self.static_parts)
        parts.append(_part(self.sheet_part, sheet_xml, level))
        parts.append(self._cached_part("xl/workbook.xml", workbook_xml, level))
        return parts

    def zip_bytes(self, sheet_xml: bytes, workbook_xml: bytes, level: int = DEFLATE_LEVEL) -> bytes:
        """The whole .xlsx as bytes (same bytes :func:`write_zip` writes)."""
        return zip_bytes(self._parts(sheet_xml, workbook_xml, level))


def _shift_ref(ref: str, band: int, n: int) -> str:
    def one(cell: str, is_end: bool) -> str:
        m = re.match(r"^(\$?)([A-Z]+)(\$?)(\d+)$", cell)
        if not m:
            return cell
        row = int(m.group(4))
        if row > band or (row == band and is_end):
            row += n - 1
        return f"{m.group(1)}{m.group(2)}{m.group(3)}{row}"

    parts = ref.split(":")
    if len(parts) == 1:
        m = re.match(r"^(\$?)([A-Z]+)(\$?)(\d+)$", parts[0])
        if m and int(m.group(4)) == band and n > 1:
            return f"{parts[0]}:{one(parts[0], True)}"
        return one(parts[0], False)
    return f"{one(parts[0], False)}:{one(parts[1], True)}"


_FORMULA_REF = re.compile(r"(?<![A-Za-z_$\d.!])(\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?)(?![\d(A-Za-z_])")


def _shift_formula_ref(ref: str, band: int, n: int) -> str:
    """A reference inside a conditional-format formula for ``n`` indicator rows: rows below
    the prototype row move down, a range ending on it grows; a single cell on it stays (it is
    relative to the first cell of the formatted range, which is the first indicator row)."""
    if ":" in ref:
        return _shift_ref(ref, band, n)
    m = re.match(r"^(\$?)([A-Z]+)(\$?)(\d+)$", ref)
    row = int(m.group(4))
    return f"{m.group(1)}{m.group(2)}{m.group(3)}{row + n - 1 if row > band else row}"


def _conditional_xml(xml: str, band: int, n: int) -> str:
    """One <conditionalFormatting> element of the template for ``n`` indicator rows: its
    ranges stretched like the defined names (:func:`_shift_ref`), its formulas' references
    moved (:func:`_shift_formula_ref`); quoted text inside a formula is left alone."""
    def sqref(m: re.Match) -> str:
        return 'sqref="' + " ".join(_shift_ref(r, band, n) for r in m.group(1).split()) + '"'

    def formula(m: re.Match) -> str:
        parts = re.split(r'(&quot;.*?&quot;|"[^"]*")', m.group(2))
        body = "".join(p if i % 2 else _FORMULA_REF.sub(lambda r: _shift_formula_ref(r.group(1), band, n), p)
                       for i, p in enumerate(parts))
        return f"{m.group(1)}{body}</formula>"

    xml = re.sub(r'sqref="([^"]*)"', sqref, xml)
    return re.sub(r"(<formula>)(.*?)</formula>", formula, xml, flags=re.S)


def _workbook_xml(t: CompiledTemplate, n: int, full_calc: bool) -> bytes:
    xml = t.workbook_xml.decode("utf-8")

    def fix(m: re.Match) -> str:
        whole = m.group(0)
        start = whole.index(">") + 1
        body = whole[start:-len("</definedName>")]
        sheet_q = re.escape(t.sheet_name)

        def fix_ref(rm: re.Match) -> str:
            return rm.group(1) + _shift_ref(rm.group(2), t.band, n)

        body = re.sub(rf"((?:'{sheet_q}'|{sheet_q})!)(\$?[A-Z]+\$?\d+(?::\$?[A-Z]+\$?\d+)?)", fix_ref, body)
        return whole[:start] + body + "</definedName>"

    xml = t.defined_name_re.sub(fix, xml)
    calc = '<calcPr calcId="191029" fullCalcOnLoad="1"/>' if full_calc else '<calcPr calcId="191029"/>'
    if "<calcPr" in xml:
        xml = re.sub(r"<calcPr[^>]*/>", calc, xml)
    else:
        xml = xml.replace("</workbook>", calc + "</workbook>")
    return xml.encode("utf-8")


def _protection_xml(password: str | None) -> str:
    attrs = 'sheet="1" objects="1" scenarios="1" formatColumns="0" formatRows="0"'
    if password:
        attrs += f' password="{legacy_password_hash(password)}"'
    return f"<sheetProtection {attrs}/>"


def legacy_password_hash(password: str) -> str:
    """Excel's 16-bit sheet-protection hash (ECMA-376 Part 4, 14.7.1)."""
    h = 0
    for ch in reversed(password.encode("cp936", errors="replace")[:15]):
        h = ((h >> 14) & 1) | ((h << 1) & 0x7FFF)
        h ^= ch
    h = ((h >> 14) & 1) | ((h << 1) & 0x7FFF)
    h ^= len(password.encode("cp936", errors="replace")[:15])
    h ^= 0xCE4B
    return f"{h:04X}"


def _read_shared_strings(z) -> list[str]:
    try:
        data = z.read("xl/sharedStrings.xml")
    except KeyError:
        return []
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
    return ["".join(si.itertext()) for si in root.findall(f"{{{NS}}}si")]


# CT_Font's children in the order of the schema (ECMA-376 sml.xsd, as Excel writes them);
# openpyxl writes name/charset/family first, which a schema validator rejects.
FONT_ORDER = ("b", "i", "strike", "condense", "extend", "outline", "shadow", "u", "vertAlign", "sz",
              "color", "name", "family", "charset", "scheme")


def schema_ordered_fonts(styles_xml: bytes) -> bytes:
    """styles.xml with every <font>'s (and <rPr>'s) children in schema order."""
    root = etree.fromstring(styles_xml, etree.XMLParser(resolve_entities=False))
    rank = {f"{{{NS}}}{tag}": i for i, tag in enumerate(FONT_ORDER)}
    for font in root.iter(f"{{{NS}}}font"):
        children = list(font)
        children.sort(key=lambda el: rank.get(el.tag, len(rank)))
        font[:] = children
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def compile_template(path: Path | str) -> CompiledTemplate:
    """Read a template .xlsx into a :class:`CompiledTemplate`."""
    import zipfile

    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise TemplateError(f"模板文件「{path}」无法打开：{exc}") from exc
    with z:
        parser = etree.XMLParser(resolve_entities=False, remove_blank_text=False)
        wb_xml = z.read("xl/workbook.xml")
        wb = etree.fromstring(wb_xml, parser)
        names: dict[str, Name] = {}
        for dn in wb.iter(f"{{{NS}}}definedName"):
            nm = dn.get("name")
            if nm and nm.startswith("xp_") and dn.text:
                parsed = _parse_name(dn.text)
                if parsed:
                    names[nm] = parsed
        if "xp_ind_level1" not in names:
            raise TemplateError(f"模板「{path.name}」缺少名称 xp_ind_level1（指标行），无法用作 xlperf 模板。")
        sheet_name = names["xp_ind_level1"].sheet
        rels = etree.fromstring(z.read("xl/_rels/workbook.xml.rels"), parser)
        rid = None
        for sh in wb.iter(f"{{{NS}}}sheet"):
            if sh.get("name") == sheet_name:
                rid = sh.get(f"{{{REL_NS}}}id")
        target = None
        for rel in rels:
            if rel.get("Id") == rid:
                target = rel.get("Target")
        if target is None:
            raise TemplateError(f"模板「{path.name}」中找不到工作表「{sheet_name}」。")
        sheet_part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        strings = _read_shared_strings(z)
        sheet = etree.fromstring(z.read(sheet_part), parser)
        band = names["xp_ind_level1"].row1

        field_at: dict[tuple[str, int], tuple[str, int]] = {}
        for nm, name in names.items():
            if name.sheet != sheet_name:
                continue
            for i, cell in enumerate(name.cells):
                field_at[cell] = (nm, i)

        rows: list[_Row] = []
        labels: dict[str, str] = {}
        max_col = 1
        sheet_data = sheet.find(f"{{{NS}}}sheetData")
        for row_el in sheet_data.findall(f"{{{NS}}}row"):
            number = int(row_el.get("r"))
            attrs = {k: v for k, v in row_el.attrib.items() if k not in ("r", "spans")}
            cells = []
            for c in row_el.findall(f"{{{NS}}}c"):
                col, _ = split_ref(c.get("r"))
                max_col = max(max_col, col_index(col))
                style = c.get("s") or "0"
                text = None
                if c.get("t") == "s" and c.find(f"{{{NS}}}v") is not None:
                    text = strings[int(c.find(f"{{{NS}}}v").text)]
                elif c.get("t") == "inlineStr":
                    text = "".join(c.find(f"{{{NS}}}is").itertext())
                # A label with {year}/{money_unit} stays a label even where a name marks it.
                if (col, number) in field_at and not (text and "{" in text):
                    fname, idx = field_at[(col, number)]
                    cells.append((col, style, None, fname, idx))
                    continue
                if text is not None and "{" in text:
                    key = f"{col}{number}"
                    labels[key] = text
                    cells.append((col, style, None, f"label:{key}", 0))
                    continue
                if number >= band and c.find(f"{{{NS}}}f") is not None:
                    raise TemplateError(
                        f"模板「{path.name}」单元格 {col}{number} 含公式：指标行及其下方只允许在命名单元格中由 xlperf 写入公式。")
                c.set("r", "{ref}")
                static = etree.tostring(c, encoding="unicode")
                static = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", static)
                cells.append((col, style, static, None, 0))
            rows.append(_Row(number, attrs, cells))
        if not any(r.number == band for r in rows):
            raise TemplateError(f"模板「{path.name}」的指标行（第 {band} 行）为空。")

        merges = []
        mc = sheet.find(f"{{{NS}}}mergeCells")
        if mc is not None:
            for m in mc:
                a, b = m.get("ref").split(":")
                c1, r1 = split_ref(a)
                c2, r2 = split_ref(b)
                merges.append((c1, r1, c2, r2))

        widths: dict[str, float] = {}
        cols = sheet.find(f"{{{NS}}}cols")
        if cols is not None:
            for col in cols:
                for i in range(int(col.get("min")), int(col.get("max")) + 1):
                    widths[col_letter(i)] = float(col.get("width", "8.43"))
        conditional = []
        for cf in sheet.findall(f"{{{NS}}}conditionalFormatting"):
            conditional.append(re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", etree.tostring(cf, encoding="unicode")))
            sheet.remove(cf)
        skeleton, pieces = _skeleton(sheet, sheet_data)
        skip = {sheet_part, "xl/workbook.xml", "xl/calcChain.xml"}
        static_parts = []
        for info in z.infolist():
            if info.filename in skip:
                continue
            data = z.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = re.sub(rb'<Override[^>]*calcChain[^>]*/>', b"", data)
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = re.sub(rb'<Relationship[^>]*calcChain[^>]*/>', b"", data)
            elif info.filename == "xl/styles.xml":
                data = schema_ordered_fonts(data)
            static_parts.append(_part(info.filename, data, 9))
    return CompiledTemplate(sheet_name, names, band, rows, col_letter(max_col), merges, static_parts,
                            sheet_part, wb_xml, skeleton, labels, widths, pieces=pieces,
                            conditional=tuple(conditional))


_SLOTS = {"sheetProtection": "protection", "mergeCells": "merges", "dataValidations": "validations",
          "rowBreaks": "breaks", "conditionalFormatting": "conditional"}


def _skeleton(sheet, sheet_data) -> tuple[str, list]:
    """The sheet XML as a jinja2 template's source: static text kept raw, rows/merges/validations
    and protection as variables; and the same as a list of static strings and ``"\0slot"``
    markers, which :meth:`CompiledTemplate.render_sheet` joins directly (same text)."""
    head = etree.tostring(sheet, encoding="unicode")
    # Serialise the parts around sheetData separately so the static text is exact.
    before, after = [], []
    seen_data = False
    for child in sheet:
        tag = etree.QName(child).localname
        if child is sheet_data:
            seen_data = True
            continue
        if tag == "dimension":
            before.append(("slot", "dimension"))
            continue
        xml = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", etree.tostring(child, encoding="unicode"))
        (after if seen_data else before).append(("raw", tag, xml))
    root_open = head[: head.index(">") + 1]
    if root_open.endswith("/>"):
        root_open = root_open[:-2] + ">"
    items = [("raw", "", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + root_open)]
    items += before
    items += [("raw", "", "<sheetData>"), ("slot", "rows"), ("raw", "", "</sheetData>")]
    present = {tag for _, tag, _ in after}
    order = {tag: i for i, tag in enumerate(_AFTER_DATA)}
    tail = [(order.get(tag, 99), ("raw", tag, xml) if tag not in _SLOTS else ("slot", _SLOTS[tag]))
            for _, tag, xml in after]
    for tag, slot in _SLOTS.items():
        if tag not in present:
            tail.append((order[tag], ("slot", slot)))
    tail.sort(key=lambda x: x[0])
    items += [x for _, x in tail]
    items.append(("raw", "", "</worksheet>"))

    jinja_slots = {"dimension": "{{ '<dimension ref=\"' ~ dimension ~ '\"/>' }}",
                   "rows": "{% for r in rows %}{{ r }}{% endfor %}"}
    source, pieces = [], []
    for item in items:
        if item[0] == "slot":
            source.append(jinja_slots.get(item[1], "{{ %s }}" % item[1]))
            pieces.append("\0" + item[1])
        else:
            text = item[-1].replace("{% endraw %}", "")
            source.append("{% raw %}" + text + "{% endraw %}")
            text = re.sub(r"\r\n|\r", "\n", text)  # as jinja2 normalises template text
            if pieces and pieces[-1][:1] != "\0":
                pieces[-1] += text
            else:
                pieces.append(text)
    return "".join(source), pieces

