"""The streamed .xlsx reader against what the register read before it: python-calamine over the
whole sheet plus :class:`~xlperf.safezip.Container`'s percent and formula cells — on workbooks
written by openpyxl, by LibreOffice (an independent writer) and by hand (the forms other
writers use), cut into pieces as small as a few rows."""
from __future__ import annotations

import datetime as dt
import math
import zipfile

import openpyxl
import pytest
from needs import require
from python_calamine import CalamineWorkbook

from xlperf import xlsxrows
from xlperf.safezip import Container
from xlperf.xlsxrows import SheetError, XlsxBook


def _calamine(path) -> dict[str, list[list]]:
    wb = CalamineWorkbook.from_path(str(path))
    out = {}
    for name in wb.sheet_names:
        s = wb.get_sheet_by_name(name)
        out[name] = [] if s.start is None else [[""] * s.start[1] + list(r) for r in s.iter_rows()]
    wb.close()
    return out


def _trim(rows: list[list]) -> list[list]:
    rows = [[("nan" if isinstance(v, float) and math.isnan(v) else v) for v in r] for r in rows]
    for r in rows:
        while r and r[-1] == "":
            r.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _same_as_before(path, piece: int) -> None:
    """Every sheet's rows, percent cells and formulas as calamine + Container give them, with
    pieces of about ``piece`` bytes; each column read alone gives the column's values."""
    expected = _calamine(path)
    z = zipfile.ZipFile(path)
    container = Container("xlsx", b"", {n: z.read(n) for n in z.namelist()})
    old, xlsxrows.PIECE = xlsxrows.PIECE, piece
    try:
        book = XlsxBook(path)
        assert book.names == list(expected)
        for name, rows in expected.items():
            got, percent, formulas = [], set(), {}
            reader = book.rows(name)
            for row in reader:
                got.append(list(row))
                percent |= reader.percent
                formulas.update(reader.formulas)
            assert _trim(got) == _trim(rows), name
            assert percent == set(container.percent_cells(name)), name
            assert formulas == container.formula_cells(name), name
            width = max((len(r) for r in rows), default=0)
            for col in range(width):
                want = [r[col] for r in rows[1:] if col < len(r) and r[col] != ""]
                alone = [v for v in book.rows(name).column(col).values() if v != ""]
                assert _trim([alone]) == _trim([want]), (name, col)
        book.close()
    finally:
        xlsxrows.PIECE = old


def _varied(path) -> None:
    """A workbook of the cells a register holds, and the odd ones."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "绩效指标"
    ws.append(["项目序号", "一级指标", "二级指标", "三级指标", "指标值", "分值", "实际完成值", "得分", "备注"])
    texts = ["  前后空格  ", "a&b<c>", "换行\n文本", "制表\t", "_x0041_ 字面", "全角　空格", "=100%", "≥90%", "", " "]
    for i in range(300):
        row = [f"P{i // 7:03d}", "产出指标", texts[i % len(texts)], f"指标{i}", None, 10 + i % 3, None, 9.5, None]
        kind = i % 12
        if kind == 0:
            row[4] = 0.95
        elif kind == 1:
            row[4] = "=100%"
        elif kind == 2:
            row[4] = "=A1*2"
        elif kind == 3:
            row[4] = dt.datetime(2024, 1, 2)
        elif kind == 4:
            row[4] = 1.5e-7
        elif kind == 5:
            row[4] = 123456789012345.0
        elif kind == 6:
            row[4] = True
        elif kind == 7:
            row[4] = "=1/0"
        elif kind == 8:
            row[4] = dt.date(2023, 12, 31)
        elif kind == 9:
            row[4] = dt.time(6, 30)
        else:
            row[4] = f"≤{i}次"
        row[6] = 0.9636 if i % 5 == 0 else "达成指标"
        ws.append(row)
        r = ws.max_row
        if kind == 0 or i % 5 == 0:
            ws.cell(r, 5).number_format = "0%"
            ws.cell(r, 7).number_format = "0.00%"
        if kind in (3, 8):
            ws.cell(r, 5).number_format = "yyyy-mm-dd"
        if kind == 9:
            ws.cell(r, 5).number_format = "h:mm"
    ws.cell(320, 3, "after a gap")
    other = wb.create_sheet("项目清单")
    other.append(["序号", "项目名称"])
    other.append([1, "一"])
    other.append([2.5, "二"])
    other["D7"] = "far"
    wb.save(path)


@pytest.mark.parametrize("piece", [1 << 22, 2000, 200])
def test_openpyxl_workbook_reads_as_calamine_and_container_read_it(tmp_path, piece):
    path = tmp_path / "varied.xlsx"
    _varied(path)
    _same_as_before(path, piece)


def test_libreoffice_workbook_reads_as_calamine_and_container_read_it(tmp_path):
    require("soffice")
    from xlperf import libreoffice

    src = tmp_path / "src" / "varied.xlsx"
    src.parent.mkdir()
    _varied(src)
    (saved,) = libreoffice.recalculate([src], tmp_path / "lo")
    with zipfile.ZipFile(saved) as z:      # LibreOffice's own writing: shared strings, cached values
        assert "xl/sharedStrings.xml" in z.namelist()
    for piece in (1 << 22, 1500):
        _same_as_before(saved, piece)


_SST = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<si><t>plain</t></si><si><r><t>rich</t></r><r><rPr><b/></rPr><t xml:space="preserve"> run </t></r></si>'
        '<si><t>  trimmed  </t></si><si><t>a&amp;b&#x4E2D;&lt;_x0041_</t></si><si><t/></si>'
        '<si><t>x</t><rPh sb="0" eb="1"><t>PHONETIC</t></rPh></si><si><t>line\r\ntwo</t></si></sst>')
_STYLES = ('<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="2">'
           '<numFmt numFmtId="164" formatCode="0.00%"/><numFmt numFmtId="165" formatCode="[h]:mm"/></numFmts>'
           '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/><xf numFmtId="9"/>'
           '<xf numFmtId="165"/></cellXfs></styleSheet>')


def _hand_written(path, sheet_data: str, *, prefix: str = "", sst: str = _SST, date1904: bool = False) -> None:
    ns = 'xmlns{}="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'.format(":" + prefix[:-1] if prefix
                                                                                       else "")
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{prefix}worksheet {ns}><{prefix}dimension ref="A1:Z99"/>'
             f'<{prefix}sheetData>{sheet_data}</{prefix}sheetData><{prefix}mergeCells count="0"/></{prefix}worksheet>')
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
                   'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>')
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   f'xmlns:r="{rel}">' + ('<workbookPr date1904="1"/>' if date1904 else "") +
                   '<sheets><sheet name="表" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/s.xml"/>'
                   f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
                   f'<Relationship Id="rId3" Type="{rel}/styles" Target="/xl/styles.xml"/></Relationships>')
        z.writestr("xl/styles.xml", _STYLES)
        z.writestr("xl/sharedStrings.xml", sst)
        z.writestr("xl/worksheets/s.xml", sheet)


_CELLS = "".join(
    f'<row r="{r}" spans="1:9">'
    f'<c r="A{r}" t="s"><v>{r % 7}</v></c>'
    f'<c r="B{r}" s="1"><v>0.{r}5</v></c>'
    f'<c r="C{r}" s="2"><v>{45000 + r}.5</v></c>'
    f'<c r="D{r}" t="inlineStr"><is><t xml:space="preserve"> in&amp;line{r} </t></is></c>'
    f'<c r="E{r}" t="str"><f>"x"&amp;"{r}"</f><v>x{r}</v></c>'
    f'<c r="F{r}" t="b"><v>{r % 2}</v></c>'
    f'<c r="G{r}" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
    f'<c r="H{r}"><v>1.5E-{r % 9 + 1}</v></c>'
    f'<c r="I{r}" s="3"><f>100%</f><v>1</v></c>'
    f'<c r="J{r}" s="4"><v>1.25</v></c>'
    "</row>" for r in range(1, 60))


@pytest.mark.parametrize("piece", [1 << 22, 700, 50])
def test_hand_written_forms_read_as_calamine_and_container_read_them(tmp_path, piece):
    path = tmp_path / "h.xlsx"
    gaps = ('<row r="62"><c r="B62"><v>1</v></c></row><row><c><v>2</v></c><c t="s"><v>0</v></c><c r="E63"><v>3</v>'
            '</c><c><v>4</v></c></row><row r="70"/><row r="71"><c r="A71" t="s" s="0"><v>3</v></c></row>')
    _hand_written(path, _CELLS + gaps)
    _same_as_before(path, piece)


def test_prefixed_rows_without_numbers_and_the_1904_calendar(tmp_path):
    path = tmp_path / "p.xlsx"
    rows = "".join(f'<x:row><x:c t="s"><x:v>{r % 7}</x:v></x:c><x:c s="2"><x:v>{r}</x:v></x:c></x:row>' for r in range(40))
    _hand_written(path, rows, prefix="x:", date1904=True)
    for piece in (1 << 22, 300):
        _same_as_before(path, piece)


def test_a_broken_or_oversized_sheet_is_a_sheet_error_not_a_crash(tmp_path, monkeypatch):
    path = tmp_path / "ok.xlsx"
    _hand_written(path, _CELLS)
    data = path.read_bytes()
    for broken in (data[:len(data) // 2], b"PK\x03\x04" + b"\x00" * 100, b"not a zip at all"):
        bad = tmp_path / "bad.xlsx"
        bad.write_bytes(broken)
        with pytest.raises(SheetError, match="无法作为 Excel 工作簿打开"):
            list(XlsxBook(bad).rows("表"))
    # a corrupted deflate stream of the sheet part, found while streaming
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/s.xml")
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    flipped = bytearray(data)
    for k in range(start + 20, start + 60):
        flipped[k] ^= 0x5A
    bad.write_bytes(bytes(flipped))
    with pytest.raises(SheetError):
        list(XlsxBook(bad).rows("表"))
    # a part that inflates beyond the limits, or a row longer than the row limit
    monkeypatch.setattr(xlsxrows, "MAX_PART", 1000)
    with pytest.raises(SheetError, match="过大或压缩比异常"):
        XlsxBook(path).rows("表")
    monkeypatch.setattr(xlsxrows, "MAX_PART", 1 << 30)
    monkeypatch.setattr(xlsxrows, "MAX_ROW", 300)
    _hand_written(path, '<row r="1">' + "".join(f'<c r="A1" t="inlineStr"><is><t>{"x" * 50}</t></is></c>'
                                                for _ in range(10)) + "</row>")
    monkeypatch.setattr(xlsxrows, "PIECE", 10)
    monkeypatch.setattr(xlsxrows, "_INFLATE", 64)     # the part comes in small pieces
    with pytest.raises(SheetError, match="一行超过"):
        list(XlsxBook(path).rows("表"))


def test_a_big_register_is_read_a_piece_at_a_time(tmp_path, monkeypatch):
    """The reader never holds more than about a piece of the sheet: calamine is handed pieces
    of the size asked for, each ending where a row ends."""
    path = tmp_path / "big.xlsx"
    _hand_written(path, _CELLS * 1)
    seen = []
    real = xlsxrows.SheetRows._workbook

    def spy(self, piece):
        seen.append(piece)
        return real(self, piece)

    monkeypatch.setattr(xlsxrows.SheetRows, "_workbook", spy)
    monkeypatch.setattr(xlsxrows, "PIECE", 1000)
    rows = list(XlsxBook(path).rows("表"))
    assert len(rows) == 59 and len(seen) > 10
    assert all(p.rstrip().endswith(b"</row>") and len(p) < 1000 + 2 * max(map(len, _CELLS.split("</row>")))
               for p in seen)
