"""Editing a person's xlsx package in place: a few cells and one sheet xlperf owns,
every other part byte for byte.

``xlperf recalc`` used to re-render the workbook from the template and so dropped what
people add in Excel (sheets, comments, hyperlinks, images, validations, formats, names,
macros). Here the package the person handed us stays as it is: only the ``<v>`` of the
cells named here changes (their formulas and styles stay), and one sheet is added or
replaced. What this module cannot edit with certainty (namespace-prefixed cell markup,
rows without numbers) raises :class:`EditError`, so the caller refuses and leaves the
file alone rather than guess.
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile
from typing import Sequence

from .safezip import parse_ref
from .template import xml_text

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WORKSHEET_REL = REL_NS + "/worksheet"
WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
MACRO_CT = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"


class EditError(Exception):
    """The package cannot be edited with certainty; ``message`` is Chinese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# A cached value as it stands in the XML: (t attribute or "", escaped <v> text) or None for none.
Cached = "tuple[str, str] | None"

_CELL_TAG = r'<c\s(?:[^>"]|"[^"]*")*?\br="{ref}"(?:[^>"]|"[^"]*")*?(?:/>|>.*?</c>)'
_F_RE = re.compile(r"<f(?:\s[^>]*)?(?:/>|>.*?</f>)", re.S)
_V_RE = re.compile(r"<v>(.*?)</v>", re.S)
_T_ATTR = re.compile(r'\st="[^"]*"')
_ROW_CELL_COL = re.compile(r'<c\s(?:[^>"]|"[^"]*")*?\br="([A-Z]{1,3})\d+"')


def _cell_re(ref: str) -> re.Pattern:
    return re.compile(_CELL_TAG.format(ref=re.escape(ref)), re.S)


def _check_plain(xml: str) -> None:
    if re.search(r"<[A-Za-z_][\w.\-]*:(?:c|row|sheetData)[\s/>]", xml):
        raise EditError("工作表 XML 使用了带前缀的写法，xlperf 无法确定地修改它，未写入；请在 Excel 中另存一次后再试。")


def read_cached(sheet_xml: bytes, refs: Sequence[str]) -> dict[str, Cached]:
    """The cached values (``t``, ``<v>`` text) of ``refs`` in a sheet (absent or empty: None)."""
    xml = sheet_xml.decode("utf-8")
    out = {}
    for ref in refs:
        m = _cell_re(ref).search(xml)
        if not m:
            out[ref] = None
            continue
        cell = m.group(0)
        head = cell[:cell.index(">")]
        v = _V_RE.search(cell)
        t = re.search(r'\st="([^"]*)"', head)
        out[ref] = (t.group(1) if t else "", v.group(1)) if v else None
    return out


def set_cached(sheet_xml: bytes, values: dict[str, Cached]) -> bytes:
    """Return the sheet with each ref's value set: a formula cell keeps its formula and gets
    the value as its cached result; any other cell gets the value as a constant. The cell's
    other attributes (style, …) stay; a missing cell is created in its row."""
    xml = sheet_xml.decode("utf-8")
    _check_plain(xml)
    for ref, cached in values.items():
        m = _cell_re(ref).search(xml)
        if m:
            cell = m.group(0)
            end = cell.index(">")
            head = cell[:end].rstrip("/")
            head = _T_ATTR.sub("", head)
            f = _F_RE.search(cell[end:]) if not cell[:end + 1].endswith("/>") else None
            if f is None and cached is None and "<v>" not in cell and "<is>" not in cell:
                continue                    # already empty: leave the markup as it is
            new = _cell(head, f.group(0) if f else "", cached)
            xml = xml[:m.start()] + new + xml[m.end():]
        else:
            xml = _insert(xml, ref, _cell(f'<c r="{ref}"', "", cached))
    return xml.encode("utf-8")


def _cell(head: str, formula: str, cached: Cached) -> str:
    if cached is None or (cached[1] == "" and cached[0] in ("str", "inlineStr", "s")):
        return f"{head}>{formula}</c>" if formula else f"{head}/>"
    t, v = cached
    if formula:
        kind = {"": "", "n": "", "str": ' t="str"', "s": ' t="str"', "inlineStr": ' t="str"', "b": ' t="b"',
                "e": ' t="e"'}[t]
        return f"{head}{kind}>{formula}<v>{v}</v></c>"
    if t in ("str", "s", "inlineStr"):
        return f'{head} t="inlineStr"><is><t xml:space="preserve">{v}</t></is></c>'
    return f"{head}{' t=' + chr(34) + t + chr(34) if t in ('b', 'e') else ''}><v>{v}</v></c>"


def _insert(xml: str, ref: str, cell: str) -> str:
    pos = parse_ref(ref.encode())
    row, col = pos[0] + 1, pos[1]
    m = re.search(rf'<row\s(?:[^>"]|"[^"]*")*?\br="{row}"(?:[^>"]|"[^"]*")*?(/?)>', xml)
    if m:
        if m.group(1):                      # <row .../> : open it
            return xml[:m.start()] + m.group(0)[:-2] + ">" + cell + "</row>" + xml[m.end():]
        end = xml.index("</row>", m.end())
        body = xml[m.end():end]
        at = len(body)
        for c in _ROW_CELL_COL.finditer(body):
            if _col(c.group(1)) > col:
                at = c.start()
                break
        return xml[:m.end()] + body[:at] + cell + body[at:] + xml[m.end() + len(body):]
    new_row = f'<row r="{row}">{cell}</row>'
    if "<sheetData/>" in xml:
        return xml.replace("<sheetData/>", f"<sheetData>{new_row}</sheetData>", 1)
    for r in re.finditer(r'<row\s(?:[^>"]|"[^"]*")*?(?:\br="(\d+)")?(?:[^>"]|"[^"]*")*?/?>', xml):
        if r.group(1) is None:
            raise EditError("工作表中有未编号的行，xlperf 无法确定单元格位置，未写入；请在 Excel 中另存一次后再试。")
        if int(r.group(1)) > row:
            return xml[:r.start()] + new_row + xml[r.start():]
    end = xml.index("</sheetData>")
    return xml[:end] + new_row + xml[end:]


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


# ------------------------------------------------------------------ sheets

def workbook_sheets(workbook_xml: bytes) -> list[tuple[str, str]]:
    """(name, r:id) of each ``<sheet>`` in order."""
    out = []
    for m in re.finditer(rb"<sheet\s[^>]*>", workbook_xml):
        tag = m.group(0).decode("utf-8")
        name = re.search(r'\sname="([^"]*)"', tag)
        rid = re.search(r'\s[\w]+:id="([^"]*)"', tag)
        out.append((_unescape(name.group(1)) if name else "", rid.group(1) if rid else ""))
    return out


def _unescape(s: str) -> str:
    return (s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
            .replace("&amp;", "&"))


def _rel_targets(rels: bytes, base: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(rb"<Relationship\s[^>]*>", rels):
        tag = m.group(0).decode("utf-8")
        rid = re.search(r'\sId="([^"]*)"', tag)
        target = re.search(r'\sTarget="([^"]*)"', tag)
        if rid and target:
            t = target.group(1)
            out[rid.group(1)] = posixpath.normpath(t.lstrip("/") if t.startswith("/") else posixpath.join(base, t))
    return out


def put_sheet(parts: dict[str, bytes], name: str, sheet_xml: bytes, print_titles: str | None = None,
              replace_part: str | None = None, workbook_part: str = "xl/workbook.xml") -> None:
    """Put ``sheet_xml`` into the package ``parts`` (edited in place): over ``replace_part``
    (an existing sheet of that name, same place and tab), or as a new last sheet. With
    ``print_titles`` (e.g. ``$1:$1``) the sheet repeats those rows on every printed page."""
    base = posixpath.dirname(workbook_part)
    rels_part = posixpath.join(base, "_rels", posixpath.basename(workbook_part) + ".rels")
    wb = parts[workbook_part]
    sheets = workbook_sheets(wb)
    if replace_part:
        parts[replace_part] = sheet_xml
        index = [n for n, _ in sheets].index(name)
    else:
        rels = parts[rels_part]
        lower = {p.lower() for p in parts}
        n = 1
        while f"{base}/worksheets/sheet{n}.xml".lower() in lower:
            n += 1
        part = f"{base}/worksheets/sheet{n}.xml"
        rid, k = "rIdXlperf1", 1
        while f'Id="{rid}"'.encode() in rels:
            k += 1
            rid = f"rIdXlperf{k}"
        ids = [int(x) for x in re.findall(rb'<sheet\s[^>]*\ssheetId="(\d+)"', wb)] or [0]
        tag = (f'<sheet xmlns:r="{REL_NS}" name="{xml_text(name)}" sheetId="{max(ids) + 1}" r:id="{rid}"/>'
               .encode("utf-8"))
        if b"</sheets>" not in wb:
            raise EditError("工作簿结构不常见（找不到工作表列表），未写入。")
        wb = wb.replace(b"</sheets>", tag + b"</sheets>", 1)
        parts[rels_part] = rels.replace(
            b"</Relationships>", f'<Relationship Id="{rid}" Type="{WORKSHEET_REL}" Target="worksheets/sheet{n}.xml"/>'
            "</Relationships>".encode(), 1)
        ct = parts["[Content_Types].xml"]
        parts["[Content_Types].xml"] = ct.replace(
            b"</Types>", f'<Override PartName="/{part}" ContentType="{WORKSHEET_CT}"/></Types>'.encode(), 1)
        parts[part] = sheet_xml
        index = len(sheets)
    if print_titles:
        quoted = "'" + name.replace("'", "''") + "'"
        wb = _set_defined_name(wb, "_xlnm.Print_Titles", index, f"{quoted}!{print_titles}")
    parts[workbook_part] = wb


def set_defined_name(parts: dict[str, bytes], name: str, text: str, *, hidden: bool = False,
                     workbook_part: str = "xl/workbook.xml") -> None:
    """Set a workbook-scoped defined name (replacing one of that name)."""
    parts[workbook_part] = _set_defined_name(parts[workbook_part], name, None, text, hidden)


def _set_defined_name(wb: bytes, name: str, local: int | None, text: str, hidden: bool = False) -> bytes:
    xml = wb.decode("utf-8")
    for el in re.findall(r"<definedName\s[^>]*>.*?</definedName>|<definedName\s[^>]*/>", xml, flags=re.S):
        head = el[:el.index(">")]
        scope = re.search(r'\slocalSheetId="(\d+)"', head)
        if re.search(rf'\sname="{re.escape(name)}"', head) and (int(scope.group(1)) if scope else None) == local:
            xml = xml.replace(el, "", 1)
    scope = f' localSheetId="{local}"' if local is not None else ""
    el = f'<definedName name="{name}"{scope}{" hidden=" + chr(34) + "1" + chr(34) if hidden else ""}>{xml_text(text)}</definedName>'
    if "</definedNames>" in xml:
        xml = xml.replace("</definedNames>", el + "</definedNames>", 1)
    elif "<definedNames/>" in xml:
        xml = xml.replace("<definedNames/>", f"<definedNames>{el}</definedNames>", 1)
    else:
        after = "</externalReferences>" if "</externalReferences>" in xml else "</sheets>"
        xml = xml.replace(after, after + f"<definedNames>{el}</definedNames>", 1)
    return xml.encode("utf-8")


def sheet_part(parts: dict[str, bytes], name: str, workbook_part: str = "xl/workbook.xml") -> str | None:
    """The part of the sheet called ``name``, or None."""
    base = posixpath.dirname(workbook_part)
    rels_part = posixpath.join(base, "_rels", posixpath.basename(workbook_part) + ".rels")
    targets = _rel_targets(parts.get(rels_part, b""), base)
    for n, rid in workbook_sheets(parts[workbook_part]):
        if n == name:
            return targets.get(rid)
    return None


def add_wrap_style(parts: dict[str, bytes]) -> int:
    """Index of a new cell format that wraps text at the top of the cell (appended to
    ``cellXfs``, so every existing index keeps its meaning)."""
    name = next((p for p in parts if p.lower().endswith("styles.xml")), None)
    if name is None:
        return 0
    xml = parts[name].decode("utf-8")
    m = re.search(r"<cellXfs\b[^>]*>(.*?)</cellXfs>", xml, re.S)
    if not m:
        return 0
    count = len(re.findall(r"<xf[\s/>]", m.group(1)))
    xf = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment wrapText="1" vertical="top"/></xf>'
    head = re.sub(r'\scount="\d+"', f' count="{count + 1}"', xml[m.start():m.start(1)])
    xml = xml[:m.start()] + head + m.group(1) + xf + xml[m.end(1):]
    parts[name] = xml.encode("utf-8")
    return count


def is_macro_enabled(parts: dict[str, bytes]) -> bool:
    return MACRO_CT in parts.get("[Content_Types].xml", b"") or any(
        p.lower().endswith("vbaproject.bin") for p in parts)


def zip_parts(parts: dict[str, bytes]) -> bytes:
    """The package as a zip (deflated, entries in their original order)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            if name.endswith("/"):
                continue
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out.getvalue()
