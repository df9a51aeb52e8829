"""Opening untrusted workbooks before any parser sees them.

Everything here works on the file's bytes, read once, read-only. A file is either
accepted as a :class:`Container` (its bytes plus what the checks learned) or refused
with :class:`Refused`, whose message is Chinese and names the reason.

Checks, in order:

* the file is a regular file (no FIFO/device), not empty, not larger than
  ``Limits.max_file_bytes``;
* its bytes are a zip (xlsx/xlsm) or an OLE compound file (xls); text, HTML,
  Excel-2003 XML, ODS and xlsb are refused by name;
* zip: entry count, duplicate names, encrypted entries, compression methods, declared
  uncompressed total and per-entry compression ratio (zip bombs); every entry is then
  inflated here, stopping at its declared size and verifying its CRC, and the reader is
  handed a new *stored* zip of exactly these parts (:meth:`Container.reader_bytes`): it
  inflates nothing and sees no entry, name or length other than what was checked;
* XML parts: any ``<!DOCTYPE`` / ``<!ENTITY`` refuses the file (billion laughs,
  quadratic blowup and external entities all need a DTD; OOXML never has one);
* worksheets: the cell extent calamine would allocate densely (it allocates
  rows x columns between the first and the last cell, so two cells at A1 and
  XFD1048576 ask for 550 GB and abort the process) is computed from the cell
  references actually present; a declared ``<dimension>`` is ignored;
* ``sharedStrings.xml``: a ``uniqueCount`` far above the strings present is refused
  (calamine reserves that many strings up front);
* OLE: the compound-file header, DIFAT/FAT/directory/mini-stream chains are validated
  (bounded, acyclic) before calamine walks them; ``EncryptedPackage`` (an encrypted
  xlsx) and BIFF ``FILEPASS`` (an encrypted xls) are refused; BIFF ``DIMENSIONS``
  records and the cell extent are bounded like worksheets.

XML this module parses itself (workbook, relationships, styles) goes through
:mod:`defusedxml` with DTDs forbidden. Nothing is evaluated, no link is followed,
nothing is written.
"""
from __future__ import annotations

import html
import io
import os
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from array import array
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from defusedxml import ElementTree as SafeET

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


class Refused(Exception):
    """The file is not read. ``message`` is Chinese; ``found``/``expected`` detail it."""

    def __init__(self, message: str, found: str = "", expected: str = ""):
        super().__init__(message)
        self.message = message
        self.found = found
        self.expected = expected


@dataclass(frozen=True)
class Limits:
    """Per-file resource bounds. Defaults fit forms (a few hundred cells) with a wide margin."""
    max_file_bytes: int = 20 * 2**20          # size on disk
    max_uncompressed: int = 50 * 2**20        # sum of decompressed zip entries
    max_ratio: int = 100                      # per-entry compression ratio ...
    ratio_floor: int = 2 * 2**20              # ... checked for entries above this size
    max_entries: int = 1000                   # zip entries
    max_area: int = 2_000_000                 # cells calamine may allocate for one sheet
    max_rows: int = 5_000                     # rows read per sheet (rest ignored, with a finding)
    max_cells: int = 200_000                  # cells read per sheet
    max_sheets: int = 200                     # worksheets read per workbook
    seconds_per_file: float = 60.0            # a worker busy longer than this is killed
    worker_memory: int = 3 * 2**30            # RLIMIT_AS of worker processes (0: none)


DEFAULT_LIMITS = Limits()


@dataclass
class Container:
    """A workbook that passed the checks: its bytes plus what the checks learned."""
    format: str                                          # "xlsx" | "xls"
    data: bytes
    parts: dict[str, bytes] = field(default_factory=dict)  # xlsx: decompressed entries
    too_large: dict[str, str] = field(default_factory=dict)  # xlsx: sheet part -> extent text
    has_vba: bool = False
    external_links: int = 0
    crcs: dict[str, int] = field(default_factory=dict)     # xlsx: part -> CRC-32 (verified)
    biff: bytes = b""                                      # xls: the Workbook stream (checked)

    def reader_bytes(self) -> bytes:
        """The bytes to hand to the workbook reader. xlsx: a new zip, stored (uncompressed),
        of exactly the parts checked here — the reader inflates nothing and cannot see an
        entry, a name or a length other than what these checks saw (a zip its parser would
        read differently from :mod:`zipfile` reads the same). xls: the file's bytes."""
        if self.format != "xlsx" or not self.parts:
            return self.data
        return _stored_zip(self.parts, self.crcs) or self.data

    @cached_property
    def workbook_part(self) -> str:
        rels = self.parts.get("_rels/.rels")
        return _small(_workbook_part, rels) if rels else "xl/workbook.xml"

    @cached_property
    def sheet_parts(self) -> dict[str, str]:
        """Sheet name -> worksheet part, from workbook.xml and its relationships."""
        wb_part = self.workbook_part
        wb = self.parts.get(wb_part)
        if wb is None:
            return {}
        base = posixpath.dirname(wb_part)
        rels_part = posixpath.join(base, "_rels", posixpath.basename(wb_part) + ".rels")
        return dict(_small(_sheet_map, wb, self.parts.get(rels_part, b""), base))

    def defined_names(self, prefix: str = "xp_") -> list[tuple[str, int | None, str]]:
        """Defined names starting with ``prefix``: (name, localSheetId or None, formula text)."""
        wb = self.parts.get(self.workbook_part)
        if not wb or prefix.encode() not in wb:
            return []
        return [n for n in _small(_defined_names, wb) if n[0].lower().startswith(prefix)]

    @cached_property
    def _percent_styles(self) -> frozenset[int]:
        styles = next((p for n, p in self.parts.items() if n.lower().endswith("styles.xml")), None)
        return _small(_percent_styles, styles) if styles is not None else frozenset()

    @cached_property
    def _biff_percent(self) -> dict[str, frozenset[tuple[int, int]]]:
        return _biff_percent_cells(self.biff) if self.biff else {}

    @cached_property
    def _biff_formulas(self) -> dict[str, dict[tuple[int, int], str]]:
        return _biff_formula_cells(self.biff) if self.biff else {}

    def error_cells(self, sheet: str) -> dict[tuple[int, int], str]:
        """0-based (row, col) → cached error value (``#VALUE!``, ``#DIV/0!``…) of the cells of
        ``sheet`` that hold a formula error: the reader hands them over as empty cells."""
        part = self.sheet_parts.get(sheet) if self.format == "xlsx" else None
        xml = self.parts.get(part) if part else None
        if not xml or b't="e"' not in xml:
            return {}
        out = {}
        for m in _ERROR_CELL_RE.finditer(xml):
            r = _R_ATTR_RE.search(b" " + m.group(1))
            ref = parse_ref(r.group(1)) if r else None
            v = _V_RE.search(m.group(2) or b"")
            if ref:
                out[ref] = (v.group(1).decode("utf-8", "replace") if v else "#错误")[:20]
            if len(out) >= 10_000:
                break
        return out

    def percent_cells(self, sheet: str) -> frozenset[tuple[int, int]]:
        """0-based (row, col) of the cells of ``sheet`` shown with a percent format: Excel
        stores 96.36% as 0.9636 and calamine hands over only the number."""
        if self.format == "xls":
            return self._biff_percent.get(sheet, frozenset())
        percent = self._percent_styles
        part = self.sheet_parts.get(sheet)
        if not percent or part not in self.parts:
            return frozenset()
        out = set()
        for tag in _percent_cell_re(percent).findall(self.parts[part]):
            r = _R_ATTR_RE.search(tag)
            ref = parse_ref(r.group(1)) if r else None
            if ref:
                out.add(ref)
        return frozenset(out)


    def formula_at(self, sheet: str, row: int, col: int) -> str | None:
        """The formula text (as :meth:`formula_cells` gives it) of the cell at 0-based ``row``,
        ``col`` of ``sheet``, or None. One cell's look-up is a byte search for its reference, so
        a reader asking about a few cells does not pay for a pass over every formula of the sheet."""
        if self.format == "xls":
            return self._biff_formulas.get(sheet, {}).get((row, col))
        part = self.sheet_parts.get(sheet)
        xml = self.parts.get(part) if part else None
        has = self._has_formulas
        if xml and part not in has:
            has[part] = _F_TAG_RE.search(xml) is not None
        return _formula_at(xml, row, col) if xml and has[part] else None

    @cached_property
    def _has_formulas(self) -> dict[str, bool]:
        return {}

    def formula_cells(self, sheet: str) -> dict[tuple[int, int], str]:
        """0-based (row, col) -> formula text (without "=", XML unescaped) of the cells of
        ``sheet`` that hold a formula: calamine hands over only the cached value, so ``=100%``
        typed into a General cell would read as 1. A shared formula's dependent cells give "".
        xls: a formula that is a constant (``100%``, ``+95%``, ``1``) is given as text, any
        other as "" (its tokens are not decoded)."""
        if self.format == "xls":
            return self._biff_formulas.get(sheet, {})
        part = self.sheet_parts.get(sheet) if self.format == "xlsx" else None
        xml = self.parts.get(part) if part else None
        if not xml or not _F_TAG_RE.search(xml):
            return {}
        out = {}
        for attrs, text in _FORMULA_CELL_RE.findall(xml):
            r = _R_ATTR_RE.search(b" " + attrs)
            ref = parse_ref(r.group(1)) if r else None
            if ref:
                out[ref] = formula_text(text)
        return out


#: Control and format characters a formula's text may carry through character references
#: (&#1;, bidi overrides): dropped, as harvest drops them from cell text — the text is shown
#: in findings, reports and the terminal, and an XML writer cannot hold a control character.
_UNSHOWABLE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f"
                            "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


# Parts that repeat across a harvest (one template, many copies) are parsed once per process:
# the caches are keyed by the part's bytes (small parts only, so a cache never holds much).

def _small(fn, data: bytes, *args):
    return fn(data, *args) if len(data) <= 1 << 18 else fn.__wrapped__(data, *args)


@lru_cache(maxsize=64)
def _workbook_part(rels: bytes) -> str:
    for rel in _xml(rels).iter():
        if _local(rel.tag) == "Relationship" and rel.get("Type", "").endswith("/officeDocument"):
            return _resolve("", rel.get("Target", ""))
    return "xl/workbook.xml"


@lru_cache(maxsize=64)
def _sheet_map(wb: bytes, rels: bytes, base: str) -> tuple[tuple[str, str], ...]:
    targets = {}
    if rels:
        for rel in _xml(rels).iter():
            if _local(rel.tag) == "Relationship":
                targets[rel.get("Id")] = _resolve(base, rel.get("Target", ""))
    out = []
    for el in _xml(wb).iter():
        if _local(el.tag) == "sheet":
            rid = el.get(f"{{{REL_NS}}}id")
            if rid in targets:
                out.append((el.get("name", ""), targets[rid]))
    return tuple(out)


@lru_cache(maxsize=64)
def _defined_names(wb: bytes) -> tuple[tuple[str, int | None, str], ...]:
    out = []
    for el in _xml(wb).iter():
        if _local(el.tag) == "definedName":
            local = el.get("localSheetId")
            out.append((el.get("name", ""), int(local) if local and local.isdigit() else None, el.text or ""))
    return tuple(out)


@lru_cache(maxsize=64)
def _percent_cell_re(styles: frozenset[int]) -> re.Pattern:
    """The start tags of cells with one of these style indices (one C-speed pass finds the few
    percent cells among hundreds)."""
    alternatives = b"|".join(str(i).encode() for i in sorted(styles))
    return re.compile(rb"<" + _PREFIX + rb'c\s[^<>]*?\ss="0*(?:' + alternatives + rb')"[^<>]*?/?>')


@lru_cache(maxsize=64)
def cell_formats(styles: bytes) -> tuple[tuple[str, str], ...]:
    """Per cellXfs index (a cell's ``s``), its (numFmtId, custom format code or "")."""
    codes: dict[str, str] = {}
    xfs: list[str] = []
    for el in _xml(styles).iter():
        tag = _local(el.tag)
        if tag == "numFmt":
            codes[el.get("numFmtId", "")] = el.get("formatCode", "")
        elif tag == "cellXfs":
            xfs = [x.get("numFmtId", "0") for x in el if _local(x.tag) == "xf"]
    return tuple((fmt, codes.get(fmt, "")) for fmt in xfs)


@lru_cache(maxsize=64)
def _percent_styles(styles: bytes) -> frozenset[int]:
    """Indices of cellXfs whose number format shows a percent."""
    return frozenset(i for i, (fmt, code) in enumerate(_small(cell_formats, styles))
                     if fmt in ("9", "10") or "%" in _QUOTED_RE.sub("", code))


def formula_text(raw: bytes | None) -> str:
    """A formula's text as :meth:`Container.formula_cells` gives it: XML unescaped, without
    the characters :data:`_UNSHOWABLE_RE` drops."""
    return _UNSHOWABLE_RE.sub("", html.unescape((raw or b"").decode("utf-8", "replace")))


# ------------------------------------------------------------------ entry point

def read_source(path, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Read a file's bytes read-only: regular files only (a FIFO would block, a device
    never end), at most ``limits.max_file_bytes``."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Refused(f"无法打开文件：{exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("不是普通文件（可能是设备、管道或目录），未读取。")
        if st.st_size > limits.max_file_bytes:
            raise Refused(f"文件过大（{st.st_size:,} 字节），超过上限 {limits.max_file_bytes:,} 字节，未读取。",
                          f"{st.st_size} 字节", f"≤ {limits.max_file_bytes} 字节")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limits.max_file_bytes:
                raise Refused(f"文件过大（超过上限 {limits.max_file_bytes:,} 字节），未读取。")
            chunks.append(chunk)
    except OSError as exc:
        raise Refused(f"读取文件失败：{exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if not data:
        raise Refused("文件为空（0 字节）。")
    return data


def open_container(path, limits: Limits = DEFAULT_LIMITS) -> Container:
    """Read and check one file; raise :class:`Refused` with the reason when it is not safe
    or not a workbook."""
    return inspect_bytes(read_source(path, limits), limits)


def inspect_bytes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Container:
    if data.startswith(ZIP_MAGIC):
        return _inspect_zip(data, limits)
    if data.startswith(OLE_MAGIC):
        return _inspect_ole(data, limits)
    raise Refused(_not_a_workbook(data), _describe_head(data), "xlsx/xlsm（zip）或 xls（OLE）文件")


# ------------------------------------------------------------------ sniffing

def _not_a_workbook(data: bytes) -> str:
    head = data[:4096]
    for bom in (b"\xef\xbb\xbf",):
        if head.startswith(bom):
            head = head[len(bom):]
    low = head.lstrip().lower()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            low = head.decode("utf-16").encode("utf-8").lstrip().lower()
        except UnicodeDecodeError:
            pass
    if low.startswith((b"<html", b"<!doctype html", b"<table", b"<meta")) or b"<html" in low[:512]:
        return "文件实为网页（HTML），不是 Excel 工作簿；请用 Excel 打开后另存为 .xlsx 再提交。"
    if low.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in low:
        return "文件是 Excel 2003 XML 表格，不受支持；请用 Excel 打开后另存为 .xlsx 再提交。"
    if data.startswith(b"PK"):
        return "文件的 zip 结构不完整或已损坏，无法读取。"
    if b"\x00" not in head[:1024]:
        try:
            head.decode("utf-8")
            return "文件内容是文本，不是 Excel 工作簿（可能是改了扩展名的文本文件）。"
        except UnicodeDecodeError as exc:
            if exc.start > len(head) - 4:
                return "文件内容是文本，不是 Excel 工作簿（可能是改了扩展名的文本文件）。"
            try:
                head.decode("gb18030")
                return "文件内容是文本，不是 Excel 工作簿（可能是改了扩展名的文本文件）。"
            except UnicodeDecodeError:
                pass
    return "文件不是 Excel 工作簿（既不是 xlsx/xlsm 也不是 xls 格式），无法读取。"


def _describe_head(data: bytes) -> str:
    return "文件开头：" + data[:8].hex(" ")


# ------------------------------------------------------------------ zip (xlsx / xlsm)

_DTD_RE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
_PREFIX = rb"(?:[A-Za-z_][\w.\-]*:)?"
# Every start tag of a cell element, and the form Excel, LibreOffice, openpyxl and XlsxWriter
# write (``<c r="B7"`` — r first). When both counts agree, the references captured are all the
# references there are (markup-like text in CDATA or comments only adds to the count: the
# estimate errs on the large side).
_CELL_ANY_RE = re.compile(rb"<" + _PREFIX + rb"c[\s/>]")
# Unprefixed sheets (nearly all): one pass finds every cell start tag (``<c`` then white space,
# ``/`` or ``>``) and, when it is written the common way, its reference.
_CELL_RE = re.compile(rb'<c(?:[\t\n\r/>]| (?:r="([A-Za-z]{1,3})([0-9]{1,7})")?)')
_CELL_FAST_PREFIXED_RE = re.compile(rb"<" + _PREFIX + rb'c r="([A-Za-z]{1,3})([0-9]{1,7})"')
_PREFIXED_CELL_RE = re.compile(rb"<[A-Za-z_][\w.\-]*:c[\s/>]")
_COLON_C_RE = re.compile(rb":c[\s/>]")
_R_ATTR_RE = re.compile(rb'\sr="([^"]*)"')
# A cell whose first child is a formula (OOXML puts <f> before <v>): its attributes and formula text.
_F_TAG_RE = re.compile(rb"<" + _PREFIX + rb"f[\s/>]")
_CELL_START_RE = re.compile(rb"<" + _PREFIX + rb"c\s")
_FORMULA_CELL_RE = re.compile(rb"<" + _PREFIX + rb"c\s([^<>]*?)>\s*<" + _PREFIX + rb"f(?:\s[^<>]*?)?(?:/>|>([^<]*)</"
                              + _PREFIX + rb"f>)")
_ERROR_CELL_RE = re.compile(rb'<(?:[A-Za-z_][\w.\-]*:)?c\s([^<>]*?\bt="e"[^<>]*?)(?:/>|>(.*?)</(?:[A-Za-z_][\w.\-]*:)?c>)',
                            re.S)
_V_RE = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?v>([^<]{0,40})</")
_UNIQUE_RE = re.compile(rb"uniqueCount\s*=\s*[\"']\s*([0-9]+)")
_SI_RE = re.compile(rb"<" + _PREFIX + rb"si[\s/>]")
_QUOTED_RE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_BINARY_SUFFIXES = (".bin", ".png", ".jpg", ".jpeg", ".gif", ".emf", ".wmf", ".bmp", ".tif", ".tiff")


def _inspect_zip(data: bytes, limits: Limits) -> Container:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError,
            NotImplementedError, struct.error, UnicodeDecodeError) as exc:
        raise Refused("文件已损坏或不完整（zip 结构无法读取），未读取。", f"{type(exc).__name__}: {exc}") from None
    if len(infos) > limits.max_entries:
        raise Refused(f"zip 条目过多（{len(infos)} 个，上限 {limits.max_entries}），疑似恶意文件，未读取。",
                      str(len(infos)), f"≤ {limits.max_entries}")
    names = [i.filename for i in infos]
    folded = {n.casefold().lstrip("/") for n in names}
    if len(folded) != len(names):
        raise Refused("zip 中有重名条目，不同程序会读到不同内容，疑似伪造文件，未读取。")
    lower = {n.lower().lstrip("/"): n for n in names}
    if "xl/workbook.bin" in lower:
        raise Refused("文件是 .xlsb 二进制工作簿，不受支持；请用 Excel 另存为 .xlsx 再提交。")
    if "content.xml" in lower and "mimetype" in lower:
        raise Refused("文件是 OpenDocument 表格（.ods），不受支持；请另存为 .xlsx 再提交。")
    if not any(n.endswith("workbook.xml") for n in lower):
        kind = "Word 文档" if "word/document.xml" in lower else "PowerPoint 演示文稿" if "ppt/presentation.xml" in lower else ""
        raise Refused(f"zip 文件不是 Excel 工作簿{('（是' + kind + '）') if kind else ''}，未读取。",
                      "缺少 xl/workbook.xml", "xlsx/xlsm 工作簿")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise Refused("工作簿已加密（zip 条目有密码保护），无法读取；请取消密码后重新提交。", info.filename)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Refused("zip 使用了 Excel 不会使用的压缩方式，未读取。", f"{info.filename}: 方式 {info.compress_type}",
                          "stored / deflate")
        total += info.file_size
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise Refused(f"条目「{info.filename}」压缩比异常（{ratio}:1），疑似压缩炸弹，未读取。",
                          f"{ratio}:1", f"≤ {limits.max_ratio}:1")
    if total > limits.max_uncompressed:
        raise Refused(f"文件解压后共 {total:,} 字节，超过上限 {limits.max_uncompressed:,} 字节，疑似压缩炸弹，未读取。",
                      f"{total} 字节", f"≤ {limits.max_uncompressed} 字节")
    parts: dict[str, bytes] = {}
    crcs: dict[str, int] = {}
    for info in infos:
        try:
            parts[info.filename] = _inflate(data, info)
            crcs[info.filename] = info.CRC
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
                struct.error, zlib.error) as exc:
            raise Refused("文件已损坏或不完整（zip 条目无法解压），未读取。", f"{info.filename}: {exc}") from None
    container = Container("xlsx", data, parts, crcs=crcs)
    for name, part in parts.items():
        low = name.lower()
        if low.endswith(_BINARY_SUFFIXES):
            container.has_vba |= low.endswith("vbaproject.bin")
            # A part's name says nothing about what a reader does with it: a worksheet renamed
            # .png/.bin is still parsed as the sheet its relationship points at.
            if not _looks_like_xml(part):
                continue
        text = _as_utf8(part)
        if b"!" in text and _DTD_RE.search(text):    # one-byte test first: "!" is rare in OOXML
            raise Refused(f"文件含 XML 实体/文档类型声明（{name}），可能是实体膨胀攻击，未读取。",
                          "<!DOCTYPE> / <!ENTITY>", "无 DTD 的 OOXML")
        if low.startswith("xl/externallinks/") and low.endswith(".xml"):
            container.external_links += 1
        if b"sheetData" in text:
            extent = _sheet_extent(text)
            if extent[0] > limits.max_area:
                container.too_large[name] = extent[1]
        if low.endswith("sharedstrings.xml"):
            _check_shared_strings(name, text)
    return container


def _looks_like_xml(part: bytes) -> bool:
    head = part[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") or head[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(head) > 1 and head[1:2] == b"\x00")


def _inflate(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """One entry's bytes, inflating at most its declared size and checking its CRC (what
    :meth:`zipfile.ZipFile.read` does, without its per-entry overhead): an entry whose
    stream is longer than its header says, or whose CRC differs, is refused."""
    off = info.header_offset
    if data[off:off + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_len, extra_len = struct.unpack_from("<HH", data, off + 26)
    name = data[off + 30:off + 30 + name_len]
    if name.decode("utf-8" if info.flag_bits & 0x800 else "cp437") != info.orig_filename:
        raise zipfile.BadZipFile("file name in directory and header differ")
    start = off + 30 + name_len + extra_len
    body = data[start:start + info.compress_size]
    if len(body) != info.compress_size:
        raise zipfile.BadZipFile("truncated entry")
    if info.compress_type == zipfile.ZIP_STORED:
        out = body
        if len(out) != info.file_size:
            raise zipfile.BadZipFile("stored size differs")
    else:
        inflater = zlib.decompressobj(-15)
        out = inflater.decompress(body, info.file_size + 1)
        if len(out) != info.file_size or inflater.unconsumed_tail:
            raise zipfile.BadZipFile("inflated size differs from the declared size")
    if zlib.crc32(out) != info.CRC:
        raise zipfile.BadZipFile("bad CRC-32")
    return out


_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


def _stored_zip(parts: dict[str, bytes], crcs: dict[str, int]) -> bytes | None:
    """A zip of ``parts`` without compression (UTF-8 names, fixed 1980-01-01 dates), or None
    when it would need zip64 (a part, an offset or the entry count beyond the 32/16-bit fields)."""
    out, central, off = [], [], 0
    try:
        for name, body in parts.items():
            raw = name.encode("utf-8")
            crc, size = crcs[name], len(body)
            out += (_LOCAL.pack(0x04034B50, 20, 0x800, 0, 0, 0x21, crc, size, size, len(raw), 0), raw, body)
            central += (_CENTRAL.pack(0x02014B50, 20, 20, 0x800, 0, 0, 0x21, crc, size, size, len(raw), 0, 0, 0, 0,
                                      0, off), raw)
            off += 30 + len(raw) + size
        cd = b"".join(central)
        out += (cd, _END.pack(0x06054B50, 0, 0, len(parts), len(parts), len(cd), off, 0))
    except struct.error:
        return None
    return b"".join(out)


def _as_utf8(part: bytes) -> bytes:
    """The bytes to scan: UTF-16 parts are transcoded so the byte patterns still match."""
    if part[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(part) > 3 and (part[0] == 0 or part[1] == 0)):
        try:
            return part.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return part.replace(b"\x00", b"")
    return part


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def parse_ref(ref: bytes) -> tuple[int, int] | None:
    """0-based (row, col) of an A1 reference (``$`` allowed), or None. References beyond
    Excel's grid (``ZZZZ40``, ``A99999999``) are parsed as they read — a reader that accepts
    them allocates that far — so extents computed from them are not underestimated."""
    m = re.fullmatch(rb"\$?([A-Za-z]{1,12})\$?([0-9]{1,15})", ref.strip())
    if not m:
        return None
    return int(m.group(2)) - 1, _col_number(m.group(1)) - 1


def _sheet_extent(xml: bytes) -> tuple[int, str]:
    """(cells in the dense rectangle calamine would allocate, its A1 text), an upper bound."""
    if _COLON_C_RE.search(xml) and _PREFIXED_CELL_RE.search(xml):   # the first: a literal-prefix scan
        n_any, refs = len(_CELL_ANY_RE.findall(xml)), _CELL_FAST_PREFIXED_RE.findall(xml)
        complete = len(refs) == n_any
    else:
        refs = _CELL_RE.findall(xml)       # (b"", b"") for a cell tag not written the common way
        n_any = len(refs)
        complete = True
    if not n_any:
        return 0, ""
    letters, digits = zip(*refs)
    row_texts = set(digits)
    if complete and b"" not in row_texts:
        rows = list(map(int, row_texts))
        cols = list(map(_col_number, set(letters)))
        r0, r1, c0, c1 = min(rows), max(rows), min(cols), max(cols)
    else:
        r0, r1, c0, c1 = _sheet_extent_slow(xml)
    area = (r1 - r0 + 1) * (c1 - c0 + 1)
    return area, f"{a1(r0 - 1, c0 - 1)}:{a1(r1 - 1, c1 - 1)}"


def _sheet_extent_slow(xml: bytes) -> tuple[int, int, int, int]:
    """Exact-or-larger extent for unusual writers, with a real (defused) XML parser:
    missing references count as the next row/column, as calamine places them."""
    r0 = c0 = 10**9
    r1 = c1 = 0
    row, col = 0, 0
    try:
        for _event, el in SafeET.iterparse(io.BytesIO(xml), events=("start",), forbid_dtd=True,
                                           forbid_entities=True, forbid_external=True):
            tag = _local(el.tag)
            if tag == "row":
                r = el.get("r", "")
                row = int(r) if r.isdigit() else row + 1
                col = 0
            elif tag == "c":
                ref = parse_ref(el.get("r", "").encode())
                if ref:
                    row, col = ref[0] + 1, ref[1] + 1
                else:
                    col += 1
                    row = max(row, 1)
                r0, r1, c0, c1 = min(r0, row), max(r1, row), min(c0, col), max(c1, col)
    except Exception as exc:  # noqa: BLE001 - any parse failure refuses the file
        raise Refused("工作表 XML 已损坏，无法读取。", f"{type(exc).__name__}: {exc}") from None
    if r1 == 0:
        return 1, 1, 1, 1
    return r0, r1, c0, c1


def _check_shared_strings(name: str, xml: bytes) -> None:
    """calamine reserves ``uniqueCount`` strings up front: a count far above the strings present
    (each ``<si>`` takes ≥ 9 bytes) is refused; small counts are harmless whatever they say."""
    for m in _UNIQUE_RE.finditer(xml):
        declared = int(m.group(1)[:12])
        if declared <= 100_000:
            continue
        present = len(_SI_RE.findall(xml))
        if declared > present + 1000:
            raise Refused(f"共享字符串表声明 {declared:,} 条，实际只有 {present:,} 条，疑似恶意文件，未读取。",
                          f"uniqueCount={declared}", f"≈ {present}")


def a1(row: int, col: int) -> str:
    """A1 address of a 0-based (row, col)."""
    col += 1
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _xml(data: bytes):
    """Parse a small trusted-shape part through defusedxml (no DTD, no entities)."""
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # noqa: BLE001
        raise Refused("工作簿结构 XML 已损坏，无法读取。", f"{type(exc).__name__}: {exc}") from None


def _resolve(base: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(base, target))


# ------------------------------------------------------------------ OLE (xls, encrypted xlsx)

_ENDOFCHAIN, _MAXREG = 0xFFFFFFFE, 0xFFFFFFFA
_DIFSECT = 0xFFFFFFFC
_ENCRYPTED = "工作簿已加密（设有打开密码），无法读取；请在 Excel 中取消密码（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后重新提交。"


class _Cfb:
    """A validating reader of the compound-file container: every chain calamine will walk is
    checked to be in range, acyclic and no longer than the file."""

    def __init__(self, data: bytes):
        self.data = data
        if len(data) < 512:
            raise Refused("xls 文件不完整（OLE 头部被截断），未读取。")
        major = struct.unpack_from("<H", data, 0x1A)[0]
        shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
        if (major, shift) not in ((3, 9), (4, 12)) or mini_shift != 6:
            raise self._bad(f"版本 {major}/扇区 {shift}/{mini_shift}")
        self.ssize = 1 << shift
        self.nsec = max(0, (len(data) - self.ssize) // self.ssize + (1 if (len(data) - self.ssize) % self.ssize else 0))
        (fat_len, self.dir_start, _tx, cutoff, self.minifat_start, minifat_len,
         difat_start, difat_len) = struct.unpack_from("<IIIIIIII", data, 0x2C)
        # calamine reads a (mis-sliced) u32 at 62 as a capacity: keep it small.
        if struct.unpack_from("<I", data, 62)[0] > 1 << 24 or fat_len > self.nsec or minifat_len > self.nsec \
                or difat_len > self.nsec or cutoff != 4096:
            raise self._bad("头部计数超出文件大小")
        self.minifat_len = minifat_len
        difat = list(struct.unpack_from("<109I", data, 0x4C))
        sid, seen, per = difat_start, set(), self.ssize // 4
        while sid < _MAXREG:
            if sid in seen or sid >= self.nsec:
                raise self._bad("DIFAT 链异常")
            seen.add(sid)
            entries = struct.unpack_from(f"<{per}I", self._sector(sid))
            difat.extend(entries[:-1])
            sid = entries[-1]
        fat = array("I")
        for sid in difat:
            if sid < _DIFSECT:
                if sid >= self.nsec:
                    raise self._bad("FAT 扇区越界")
                fat.frombytes(self._sector(sid))
        if fat.itemsize != 4:  # pragma: no cover - exotic platforms
            raise Refused("当前平台无法校验 xls 文件。")
        if struct.pack("=I", 1) != struct.pack("<I", 1):  # pragma: no cover - big-endian hosts
            fat.byteswap()
        self.fat = fat
        raw = self._chain(self.dir_start, self.fat, self.nsec * self.ssize, what="目录")
        self.entries = []
        for off in range(0, len(raw) - 127, 128):
            e = raw[off:off + 128]
            nlen = struct.unpack_from("<H", e, 64)[0]
            name = e[:min(nlen, 64)].decode("utf-16-le", "replace").split("\x00", 1)[0]
            etype = e[66]
            start, size = struct.unpack_from("<IQ", e, 116)
            if self.ssize == 512:
                size &= 0xFFFFFFFF
            self.entries.append((name, etype, start, size))
        if not self.entries:
            raise self._bad("没有根目录")
        if minifat_len:  # calamine loads the mini stream and the mini FAT when it opens the file
            root = self.entries[0]
            if root[3] > len(self.data):
                raise self._bad("迷你流大小异常")
            self._chain(root[2], self.fat, root[3], what="迷你流")
            self._chain(self.minifat_start, self.fat, minifat_len * self.ssize, what="迷你 FAT")

    def _bad(self, what: str) -> Refused:
        return Refused("xls 文件结构异常（OLE 容器损坏或被篡改），未读取。", what, "有效的 OLE 复合文档")

    def _sector(self, sid: int) -> bytes:
        off = (sid + 1) * self.ssize
        return self.data[off:off + self.ssize].ljust(self.ssize, b"\x00")

    def _chain(self, sid: int, fat, limit: int, *, what: str, sector=None, size=None) -> bytes:
        sector = sector or self._sector
        size = size or self.ssize
        out, seen = [], set()
        total = 0
        while sid != _ENDOFCHAIN:
            if sid >= len(fat) or sid in seen or sid >= _MAXREG:
                raise self._bad(f"{what}链异常")
            seen.add(sid)
            out.append(sector(sid))
            total += size
            if total >= limit:
                break
            sid = fat[sid]
        return b"".join(out)[:limit]

    def names(self) -> set[str]:
        return {name for name, *_ in self.entries}

    def stream(self, name: str) -> bytes | None:
        entry = next((e for e in self.entries if e[0] == name), None)
        if entry is None:
            return None
        _, _etype, start, size = entry
        if size > len(self.data) * 64:
            raise self._bad(f"流「{name}」大小异常")
        if size < 4096:
            root = self.entries[0]
            if root[3] > len(self.data):
                raise self._bad("迷你流大小异常")
            ministream = self._chain(root[2], self.fat, root[3], what="迷你流")
            minifat = array("I")
            minifat.frombytes(self._chain(self.minifat_start, self.fat, self.minifat_len * self.ssize,
                                          what="迷你 FAT") if self.minifat_len else b"")
            if struct.pack("=I", 1) != struct.pack("<I", 1):  # pragma: no cover
                minifat.byteswap()
            return self._chain(start, minifat, size, what=f"流「{name}」",
                               sector=lambda i: ministream[i * 64:(i + 1) * 64].ljust(64, b"\x00"), size=64)
        if size > len(self.data):
            raise self._bad(f"流「{name}」大小超出文件")
        return self._chain(start, self.fat, size, what=f"流「{name}」")


_CELL_RECORDS = frozenset((0x0203, 0x0204, 0x00D6, 0x0205, 0x027E, 0x00FD, 0x0006, 0x0201))
_MUL_RECORDS = frozenset((0x00BD, 0x00BE))


def _inspect_ole(data: bytes, limits: Limits) -> Container:
    cfb = _Cfb(data)
    names = cfb.names()
    if "EncryptedPackage" in names or "EncryptionInfo" in names:
        raise Refused(_ENCRYPTED, "OLE 容器含 EncryptedPackage", "未加密的 .xlsx")
    stream = None
    for candidate in ("Workbook", "Book"):
        if candidate in names:
            stream = cfb.stream(candidate)
            break
    if stream is None:
        kind = "Word 文档" if "WordDocument" in names else "PowerPoint 演示文稿" if "PowerPoint Document" in names else ""
        raise Refused(f"OLE 文件不是 Excel 工作簿{('（是' + kind + '）') if kind else ''}，未读取。",
                      "缺少 Workbook 流", "xls 工作簿")
    _scan_biff(stream, limits)
    return Container("xls", data, has_vba="_VBA_PROJECT_CUR" in names or "VBA" in names, biff=stream)


#: Built-in BIFF number formats that show a percent (0% and 0.00%).
_BUILTIN_PERCENT = frozenset((9, 10))


def _biff_text(body: bytes, pos: int, cch: int) -> str:
    """The characters of an XLUnicodeString whose flags byte is at ``pos``."""
    wide = body[pos] & 1 if pos < len(body) else 0
    raw = body[pos + 1:pos + 1 + cch * (2 if wide else 1)]
    return raw.decode("utf-16-le", "replace") if wide else raw.decode("latin-1")


def _is_percent_format(code: str) -> bool:
    # A % outside quotes and not escaped: "0.00%" is a percent, '0.00"%"' only shows the sign.
    return "%" in re.sub(r'"[^"]*"|\\.', "", code)


def _biff_percent_cells(stream: bytes) -> dict[str, frozenset[tuple[int, int]]]:
    """Per sheet, the 0-based (row, col) of numeric cells shown with a percent format in an
    xls Workbook stream (already bounded by :func:`_scan_biff`): FORMAT → XF → cell ixfe."""
    n = len(stream)
    percent_formats, xf_formats, sheets = set(_BUILTIN_PERCENT), [], []
    pos = 0
    while pos + 4 <= n:                                   # the globals substream
        typ, size = struct.unpack_from("<HH", stream, pos)
        body = stream[pos + 4:pos + 4 + size]
        pos += 4 + size
        if typ == 0x041E and len(body) >= 5:                # FORMAT
            ifmt, cch = struct.unpack_from("<HH", body)
            if _is_percent_format(_biff_text(body, 4, cch)):
                percent_formats.add(ifmt)
        elif typ == 0x00E0 and len(body) >= 4:              # XF, in index order
            xf_formats.append(struct.unpack_from("<H", body, 2)[0])
        elif typ == 0x0085 and len(body) >= 8:              # BoundSheet8
            start, cch = struct.unpack_from("<I", body)[0], body[6]
            sheets.append((_biff_text(body, 7, cch), start))
        elif typ == 0x000A:                                 # EOF of the globals
            break
    percent_xf = {i for i, f in enumerate(xf_formats) if f in percent_formats}
    out: dict[str, frozenset[tuple[int, int]]] = {}
    for name, start in sheets:
        cells, pos = set(), start
        while percent_xf and pos + 4 <= n:
            typ, size = struct.unpack_from("<HH", stream, pos)
            body = stream[pos + 4:pos + 4 + size]
            pos += 4 + size
            if typ in (0x0203, 0x027E, 0x0006) and len(body) >= 6:     # NUMBER, RK, FORMULA
                row, col, ixfe = struct.unpack_from("<HHH", body)
                if ixfe in percent_xf:
                    cells.add((row, col))
            elif typ == 0x00BD and len(body) >= 12:                    # MULRK
                row, col = struct.unpack_from("<HH", body)
                for k in range((len(body) - 6) // 6):
                    if struct.unpack_from("<H", body, 4 + 6 * k)[0] in percent_xf:
                        cells.add((row, col + k))
            elif typ == 0x000A:
                break
        out[name] = frozenset(cells)
    return out


def _formula_at(xml: bytes, row: int, col: int) -> str | None:
    """The formula text of one cell of a worksheet part (see Container.formula_at)."""
    ref = b'r="' + a1(row, col).encode() + b'"'
    i = xml.find(ref)
    while i > 0:
        if xml[i - 1:i] in (b" ", b"\t", b"\r", b"\n"):
            start = xml.rfind(b"<", 0, i)
            m = _FORMULA_CELL_RE.match(xml, start)
            if m and start >= 0 and xml.find(b">", start, i) < 0:      # r= is in this start tag
                return formula_text(m.group(2))
            if _CELL_START_RE.match(xml, start) and xml.find(b">", start, i) < 0:
                return None                                            # the cell, without a formula
        i = xml.find(ref, i + 1)
    return None


def _biff_formula_cells(stream: bytes) -> dict[str, dict[tuple[int, int], str]]:
    """Per sheet, the 0-based (row, col) of the FORMULA records of an xls Workbook stream
    (already bounded by :func:`_scan_biff`) → the formula's text when it is only a constant
    (:func:`_biff_constant`), else ""."""
    n, sheets, pos = len(stream), [], 0
    while pos + 4 <= n:                                   # the globals substream: sheet offsets
        typ, size = struct.unpack_from("<HH", stream, pos)
        body = stream[pos + 4:pos + 4 + size]
        pos += 4 + size
        if typ == 0x0085 and len(body) >= 8:
            sheets.append((_biff_text(body, 7, body[6]), struct.unpack_from("<I", body)[0]))
        elif typ == 0x000A:
            break
    out: dict[str, dict[tuple[int, int], str]] = {}
    by_start: dict[int, dict[tuple[int, int], str]] = {}     # sheets sharing an offset: walked once
    for name, pos in sheets:
        if pos in by_start:
            out[name] = by_start[pos]
            continue
        start = pos
        cells: dict[tuple[int, int], str] = {}
        shared: dict[tuple[int, int], str] = {}       # SHRFMLA anchor cell -> its constant
        uses: dict[tuple[int, int], tuple[int, int]] = {}
        while pos + 4 <= n:
            typ, size = struct.unpack_from("<HH", stream, pos)
            if typ == 0x0006 and size >= 22 and pos + 26 <= n:     # FORMULA: cell, value, flags, chn, cce, rgce
                row, col = struct.unpack_from("<HH", stream, pos + 4)
                cce = struct.unpack_from("<H", stream, pos + 24)[0]
                rgce = stream[pos + 26:pos + 26 + min(cce, size - 22)]
                if len(rgce) == 5 and rgce[0] == 0x01:      # ptgExp: a shared formula (LibreOffice writes these)
                    uses[(row, col)] = struct.unpack_from("<HH", rgce, 1)
                cells[(row, col)] = _biff_constant(rgce)
            elif typ == 0x04BC and size >= 10 and pos + 14 <= n:   # SHRFMLA after its anchor's FORMULA
                first_row, first_col = struct.unpack_from("<H", stream, pos + 4)[0], stream[pos + 8]
                cce = struct.unpack_from("<H", stream, pos + 12)[0]
                shared[(first_row, first_col)] = _biff_constant(stream[pos + 14:pos + 14 + min(cce, size - 10)])
            elif typ == 0x000A:
                break
            pos += 4 + size
        for cell, anchor in uses.items():                  # a constant reads the same in every cell
            cells[cell] = shared.get(anchor, "")
        out[name] = by_start[start] = cells
    return out


def _biff_constant(rgce: bytes) -> str:
    """The text of a formula's tokens when they are one number (ptgInt, ptgNum) with an
    optional unary plus (ptgUplus) and percent (ptgPercent): ``100%`` for =100%; "" else."""
    text, pos, plus = None, 0, ""
    while pos < len(rgce):
        ptg = rgce[pos]
        if ptg == 0x1E and text is None and pos + 3 <= len(rgce):      # ptgInt
            text, pos = str(struct.unpack_from("<H", rgce, pos + 1)[0]), pos + 3
        elif ptg == 0x1F and text is None and pos + 9 <= len(rgce):    # ptgNum
            v = struct.unpack_from("<d", rgce, pos + 1)[0]
            if v != v or v in (float("inf"), float("-inf")) or v < 0:
                return ""
            text, pos = (repr(v) if "e" not in repr(v) else f"{v:f}").removesuffix(".0"), pos + 9
        elif ptg == 0x14 and text is not None and not text.endswith("%"):   # ptgPercent
            text, pos = text + "%", pos + 1
        elif ptg == 0x12 and text is not None:                          # ptgUplus
            plus, pos = "+", pos + 1
        else:
            return ""
    return plus + text if text is not None else ""


def _scan_biff(stream: bytes, limits: Limits) -> None:
    """Bound what calamine allocates for an xls: FILEPASS (encrypted), every DIMENSIONS record,
    and the extent of all cell records, walked from offset 0 and from every sheet offset."""
    starts, visited = [0], bytearray(len(stream) + 1)
    r0 = c0 = 1 << 32
    r1 = c1 = -1
    n = len(stream)
    while starts:
        pos = starts.pop()
        while pos + 4 <= n and not visited[pos]:
            visited[pos] = 1
            typ, size = struct.unpack_from("<HH", stream, pos)
            body = stream[pos + 4:pos + 4 + size]
            pos += 4 + size
            if typ == 0x002F and len(body) >= 2 and body[:2] != b"\x00\x00":
                raise Refused(_ENCRYPTED, "xls 含 FILEPASS 记录", "未加密的 .xls")
            if typ == 0x0085 and len(body) >= 4:  # BoundSheet8: offset of the sheet's BOF
                start = struct.unpack_from("<I", body)[0]
                if start < n:
                    starts.append(start)
            elif typ == 0x0200 and len(body) in (10, 14):
                if len(body) == 14:
                    rf, rl, cf, cl = struct.unpack_from("<IIHH", body)
                else:
                    rf, rl, cf, cl = struct.unpack_from("<HHHH", body)
                if cf > 0xFF or cl < cf:
                    cf = 0
                if rl >= 1 and cl >= 1:
                    if rl - 1 < rf or cl - 1 < cf or (rl - rf) * (cl - cf) > limits.max_area:
                        raise Refused("xls 工作表声明的范围异常或过大，疑似恶意文件，未读取。",
                                      f"DIMENSIONS 行 {rf}-{rl} 列 {cf}-{cl}", f"≤ {limits.max_area:,} 个单元格")
            elif typ in _CELL_RECORDS and len(body) >= 4:
                row, col = struct.unpack_from("<HH", body)
                r0, r1, c0, c1 = min(r0, row), max(r1, row), min(c0, col), max(c1, col)
            elif typ in _MUL_RECORDS and len(body) >= 6:
                row, first = struct.unpack_from("<HH", body)
                last = max(struct.unpack_from("<H", body, len(body) - 2)[0], first + (len(body) - 6) // 6)
                r0, r1, c0, c1 = min(r0, row), max(r1, row), min(c0, first), max(c1, last)
    if r1 >= 0 and (r1 - r0 + 1) * (c1 - c0 + 1) > limits.max_area:
        raise Refused("xls 工作表单元格分布范围过大，疑似恶意文件，未读取。",
                      f"{a1(r0, c0)}:{a1(r1, c1)}", f"≤ {limits.max_area:,} 个单元格")
