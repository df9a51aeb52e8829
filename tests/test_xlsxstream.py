"""xlperf.xlsxstream (汇总.xlsx rows as raw sheet XML) and the marks sealed while writing.

The references are independent of the code under test: XlsxWriter itself (constant_memory
mode, what 汇总.xlsx was written with before) for the cell markup, and zipfile / the
whole-content seal functions for the zip and the marks."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from xlperf import marker
from xlperf.xlsxstream import SheetSpool, ZipWriter, inline_text, number_cell

TRICKY = ["普通文字", " 前导空格", "尾随空格 ", "a\tb", "换行\n之后", "x\x01y\x1fz", "_x0041_ 字面", "<b>&amp;</b>",
          '"引号"', "=HYPERLINK(\"http://x\")", "\ufffe\uffff", "😀" * 20000, "长" * 40000, "\u202e反向", "@SUM(A1)"]


def _xlsxwriter_cells(values) -> list[str]:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False, "nan_inf_to_errors": True})
    ws = wb.add_worksheet("s")
    fmt = wb.add_format({"bold": True})
    for i, v in enumerate(values):
        if isinstance(v, str):
            ws.write_string(i, 0, v, fmt)
        else:
            ws.write_number(i, 0, v, fmt)
    wb.close()
    xml = zipfile.ZipFile(buf).read("xl/worksheets/sheet1.xml").decode("utf-8")
    return re.findall(r"<c .*?</c>", xml, re.S)


def test_text_cells_as_xlsxwriter_writes_them():
    expected = _xlsxwriter_cells(TRICKY)
    ours = [f'<c r="A{i + 1}" s="1" t="inlineStr"><is>{inline_text(v)}</is></c>' for i, v in enumerate(TRICKY)]
    assert ours == expected


def test_number_cells_as_xlsxwriter_writes_them():
    values = [0.0, 1.5, -2.25, 1e-300, 1.2345678901234567e25, 123456789.123, float("inf"), float("-inf"), float("nan")]
    ours = [number_cell(f"A{i + 1}", 1, v) for i, v in enumerate(values)]
    assert ours == _xlsxwriter_cells(values)


def test_spliced_sheet_is_a_valid_zip_part(tmp_path):
    spool = SheetSpool(buffer=64)
    rows = [f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{"行" * (r % 50)}</t></is></c></row>'
            for r in range(2, 3000)]
    for r, xml in enumerate(rows, 2):
        spool.add(xml, r)
    spool.finish()
    head, tail = b"<worksheet><sheetData>", b"</sheetData></worksheet>"
    with open(tmp_path / "t.zip", "wb") as fh:
        z = ZipWriter(fh)
        z.write("a.xml", b"<a/>")
        z.write_sheet("s.xml", head, spool, tail)
        z.close()
    spool.close()
    with zipfile.ZipFile(tmp_path / "t.zip") as zf:
        assert zf.testzip() is None                                   # CRCs
        body = zf.read("s.xml")
    assert body == head + "".join(rows).encode("utf-8") + tail
    import hashlib
    assert z.digests["s.xml"] == hashlib.sha256(body).digest()


def test_streamed_xlsx_mark_equals_whole_content_mark(tmp_path, monkeypatch):
    monkeypatch.setenv("XLPERF_CONFIG_DIR", str(tmp_path / "cfg"))
    parts = marker.with_custom_part({"[Content_Types].xml": b"<Types></Types>", "_rels/.rels": b"<Relationships>"
                                     b"</Relationships>", "xl/workbook.xml": b"<workbook/>"})
    where = tmp_path / "汇总.xlsx"
    import hashlib
    token = marker.seal_digests({n: hashlib.sha256(b).digest() for n, b in parts.items()}, where)
    parts[marker.CUSTOM_PART] = marker.custom_xml(token)
    assert marker.verify_xlsx(parts, where)
    assert not marker.verify_xlsx(parts, tmp_path / "别处.xlsx")
    parts["xl/workbook.xml"] = b"<workbook />"
    assert not marker.verify_xlsx(parts, where)


@pytest.mark.parametrize("chunks", [["<!DOCTYPE html><html><head><title>t</title></head><body>", "正文" * 1000,
                                     "</body></html>"],
                                    ["<!DOC", "TYPE html><ht", "ml><he", "ad>", "<meta charset=utf-8>", "x</html>"]])
def test_streamed_html_mark_equals_seal_html(tmp_path, monkeypatch, chunks):
    monkeypatch.setenv("XLPERF_CONFIG_DIR", str(tmp_path / "cfg"))
    where = tmp_path / "报告.html"
    with open(where, "wb") as fh:
        sealer = marker.HtmlSealer(fh, where)
        for c in chunks:
            sealer.write(c)
        sealer.seal()
    text = where.read_text("utf-8")
    assert text == marker.seal_html("".join(chunks), where)
    assert marker.verify_html_file(where)


def test_a_summary_larger_than_any_form_still_verifies_as_ours(tmp_path, monkeypatch):
    """A 20,000-form 汇总.xlsx holds ~270 MB of XML, beyond the 50 MB a form may inflate to:
    the mark is checked part by part as it inflates, so xlperf still knows its own summary
    (skips it, replaces it keeping .bak) — and a copy elsewhere, or too much to inflate, is
    not ours."""
    import hashlib
    import shutil

    monkeypatch.setenv("XLPERF_CONFIG_DIR", str(tmp_path / "cfg"))
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>' + "指标".encode() * 20 + b"</t></is></c></row>"
    big = b"<worksheet><sheetData>" + row * (60 * 2**20 // len(row)) + b"</sheetData></worksheet>"
    parts = marker.with_custom_part({"[Content_Types].xml": b"<Types></Types>",
                                     "_rels/.rels": b"<Relationships></Relationships>",
                                     "xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": big})
    path = tmp_path / "汇总.xlsx"
    with open(path, "wb") as fh:
        z = ZipWriter(fh, level=1)
        for name, body in parts.items():
            z.write(name, body)
        z.write(marker.CUSTOM_PART, marker.custom_xml(marker.seal_digests(
            {n: hashlib.sha256(b).digest() for n, b in parts.items()}, path)))
        z.close()
    assert marker.verify_xlsx_file(path)
    assert not marker.verify_xlsx_file(path, budget=50 * 2**20)
    shutil.copy(path, tmp_path / "副本.xlsx")
    assert not marker.verify_xlsx_file(tmp_path / "副本.xlsx")
    (tmp_path / "链接.xlsx").symlink_to(path)
    assert not marker.verify_xlsx_file(tmp_path / "链接.xlsx")
