"""The hostile corpus's twin for the paths that open one file a person hands us by its
``xp_*`` names: ``xlperf recalc`` and ``xlperf generate --from`` (read_declaration).

Each case was found by the probe on the main of its day (issues #17 items 4/5, #18 items
1/5, #13 item 2): a whole-sheet named range, a zip bomb, a name on a missing sheet, a
FIFO, user content lost by recalc, lock files, one backup, macros.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from xlperf import cli
from xlperf.generate import GenerateError, read_declaration, render, roll_forward_jobs
from xlperf.model import DECLARATION
from xlperf.recalc import FINDINGS_HEADER, FINDINGS_SHEET, RecalcError, recalc_file
from xlperf.register import SAMPLE_REGISTER, read_register
from xlperf.seeds import load

OWNED_PARTS = {"xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml",
               "xl/styles.xml"}


@pytest.fixture(scope="module")
def form_bytes() -> bytes:
    project = next(f.project for f in load() if f.project.key == "004-02")
    return render(project)


@pytest.fixture(scope="module")
def declaration_bytes() -> bytes:
    entry = next(e for e in read_register(SAMPLE_REGISTER, kind=DECLARATION).entries if e.project.indicators)
    return render(entry.project)


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def _with_name(data: bytes, name: str, target: str) -> bytes:
    parts = _parts(data)
    wb = parts["xl/workbook.xml"].decode()
    wb, n = re.subn(rf'(<definedName name="{name}">)[^<]*(</definedName>)', rf"\g<1>{target}\g<2>", wb)
    assert n == 1
    parts["xl/workbook.xml"] = wb.encode()
    return _zip(parts)


# ------------------------------------------------------------------ #18 item 1, #17 item 5

WHOLE_SHEET = "'自评表'!$A$1:$XFD$1048576"
_CAPPED = ("import resource,sys; resource.setrlimit(resource.RLIMIT_AS,(2**30,2**30)); "
           "from xlperf import cli; sys.exit(cli.main(sys.argv[1:]))")


def _run_capped(*args: str) -> subprocess.CompletedProcess:
    """The CLI in a child whose address space is capped at 1 GB (main reached 2.7 GB and more)."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _CAPPED, *args], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - t0 < 60
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-2000:]
    return proc


def test_whole_sheet_name_is_refused_by_recalc_within_memory(form_bytes, tmp_path):
    """10 KB workbook whose xp_ind_note spans the whole sheet: one Chinese sentence, exit 2,
    no output file."""
    bad = tmp_path / "全表名称.xlsx"
    bad.write_bytes(_with_name(form_bytes, "xp_ind_note", WHOLE_SHEET))
    assert bad.stat().st_size < 20_000
    proc = _run_capped("recalc", str(bad))
    assert proc.returncode == 2 and "xp_ind_note" in proc.stderr and "范围过大" in proc.stderr
    assert not (tmp_path / "全表名称_重算.xlsx").exists()


@pytest.mark.parametrize("area", ["$A$1:$XFD$1048576", "$D:$D"])
def test_whole_sheet_or_whole_column_name_is_refused_by_generate_from(declaration_bytes, tmp_path, area):
    src = tmp_path / "src"
    src.mkdir()
    sheet = re.search(r'<sheet [^>]*name="([^"]+)"', _parts(declaration_bytes)["xl/workbook.xml"].decode()).group(1)
    (src / "申报.xlsx").write_bytes(_with_name(declaration_bytes, "xp_ind_target", f"'{sheet}'!{area}"))
    proc = _run_capped("generate", "--from", str(src), "--year", "2024", "-o", str(tmp_path / "out"), "-q")
    assert proc.returncode == 1 and "申报.xlsx" in proc.stderr and "xp_ind_target" in proc.stderr
    assert "范围过大" in proc.stderr


def test_name_on_a_missing_sheet_is_one_sentence_not_a_keyerror(form_bytes, declaration_bytes, tmp_path):
    bad = tmp_path / "缺表.xlsx"
    bad.write_bytes(_with_name(form_bytes, "xp_ind_note", "'已删除'!$H$13:$H$19"))
    with pytest.raises(RecalcError, match="已删除.*不存在"):
        recalc_file(bad)
    decl = tmp_path / "src"
    decl.mkdir()
    (decl / "缺表申报.xlsx").write_bytes(_with_name(declaration_bytes, "xp_ind_target", "'已删除'!$D$13:$D$19"))
    jobs, errors, _ = roll_forward_jobs(decl, year=2024)
    assert len(errors) == 1 and "已删除" in str(errors[0]) and "缺表申报.xlsx" in str(errors[0])


def _bomb(form_bytes: bytes) -> bytes:
    parts = _parts(form_bytes)
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(b"<sheetData>", b"<sheetData>" + b" " * (80 * 2**20), 1)
    return _zip(parts)


def test_zip_bomb_is_refused_by_recalc_and_generate_from(form_bytes, declaration_bytes, tmp_path):
    bomb = tmp_path / "炸弹.xlsx"
    bomb.write_bytes(_bomb(form_bytes))
    assert bomb.stat().st_size < 2 * 2**20
    with pytest.raises(RecalcError, match="压缩"):
        recalc_file(bomb)
    assert not (tmp_path / "炸弹_重算.xlsx").exists()
    dbomb = tmp_path / "申报炸弹.xlsx"
    dbomb.write_bytes(_bomb(declaration_bytes))
    with pytest.raises(GenerateError, match="压缩"):
        read_declaration(dbomb)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_named_xlsx_does_not_hang(tmp_path):
    fifo = tmp_path / "管道.xlsx"
    os.mkfifo(fifo)
    result: dict = {}

    def run():
        for key, call in (("recalc", lambda: recalc_file(fifo)), ("declaration", lambda: read_declaration(fifo))):
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - the type is what is asserted below
                result[key] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():
        pytest.fail("reading a FIFO hangs")
    assert isinstance(result["recalc"], RecalcError) and "不是普通文件" in str(result["recalc"])
    assert isinstance(result["declaration"], GenerateError) and "不是普通文件" in str(result["declaration"])


def test_fill_project_file_that_is_a_fifo_does_not_hang(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs")
    fifo = tmp_path / "项目.yaml"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "xlperf", "fill", str(fifo), "-o", str(tmp_path / "o.xlsx")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "不是普通文件" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ #17 item 4: nothing lost

def _user_edits(path: Path) -> None:
    """What people add in Excel: an extra sheet with merged cells and formats, a comment, a
    hyperlink, a picture, a defined name, a data validation, a conditional format, a column
    width, a figure changed in an input cell."""
    from openpyxl.comments import Comment
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.load_workbook(path)
    ws = wb["自评表"]
    ws["E6"] = 120.5
    ws["I3"] = "内部备注：见附件"
    ws["I3"].comment = Comment("请核对执行数", "张三")
    ws["I4"].hyperlink = "https://example.org/附件.pdf"
    ws["I4"].value = "附件"
    ws["I5"].font = Font(bold=True, color="FF0000")
    ws["I5"].value = "加粗"
    ws.column_dimensions["I"].width = 33
    dv = DataValidation(type="list", formula1='"是,否"')
    ws.add_data_validation(dv)
    dv.add("I6")
    ws.conditional_formatting.add("I7", CellIsRule(operator="greaterThan", formula=["5"], fill=PatternFill("solid", fgColor="FFFF00")))
    extra = wb.create_sheet("附表")
    extra["A1"] = "明细"
    extra["B2"] = 42
    extra.merge_cells("A3:C3")
    extra["A3"] = "合并单元格"
    wb.defined_names["我的名称"] = DefinedName("我的名称", attr_text="'附表'!$B$2")
    wb.save(path)
    path.write_bytes(_with_picture(path.read_bytes()))


_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8"
                     "ffff3f0005fe02fea7d6a4a50000000049454e44ae426082")


def _with_picture(data: bytes) -> bytes:
    """A picture on the form sheet, as Excel stores one (openpyxl needs Pillow to add it)."""
    parts = _parts(data)
    parts["xl/media/image1.png"] = _PNG
    parts["xl/drawings/drawing1.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<xdr:oneCellAnchor><xdr:from><xdr:col>9</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>1</xdr:row>'
        '<xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:ext cx="952500" cy="952500"/><xdr:pic><xdr:nvPicPr>'
        '<xdr:cNvPr id="2" name="公章"/><xdr:cNvPicPr/></xdr:nvPicPr><xdr:blipFill><a:blip r:embed="rId1"/>'
        '<a:stretch><a:fillRect/></a:stretch></xdr:blipFill><xdr:spPr><a:prstGeom prst="rect"><a:avLst/>'
        '</a:prstGeom></xdr:spPr></xdr:pic><xdr:clientData/></xdr:oneCellAnchor></xdr:wsDr>').encode()
    parts["xl/drawings/_rels/drawing1.xml.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/image" Target="../media/image1.png"/></Relationships>').encode()
    rels = parts["xl/worksheets/_rels/sheet1.xml.rels"].decode()
    parts["xl/worksheets/_rels/sheet1.xml.rels"] = rels.replace(
        "</Relationships>", '<Relationship Id="rIdPic" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/drawing" Target="../drawings/drawing1.xml"/></Relationships>').encode()
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    anchor = "<legacyDrawing" if "<legacyDrawing" in sheet else "</worksheet>"
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(anchor, '<drawing xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
                                                      'r:id="rIdPic"/>' + anchor, 1).encode()
    ct = parts["[Content_Types].xml"].decode().replace(
        "</Types>", '<Default Extension="png" ContentType="image/png"/><Override PartName="/xl/drawings/drawing1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/></Types>')
    parts["[Content_Types].xml"] = ct.encode()
    return _zip(parts)


def _without_cached(xml: bytes) -> bytes:
    return re.sub(rb'<v>[^<]*</v>| t="(?:str|n|e|b)"', b"", xml)


@pytest.mark.parametrize("in_place", [False, True])
def test_recalc_keeps_everything_it_does_not_own(form_bytes, tmp_path, in_place):
    src = tmp_path / "填好.xlsx"
    src.write_bytes(form_bytes)
    _user_edits(src)
    before = _parts(src.read_bytes())
    out, _ = recalc_file(src, in_place=in_place)
    after = _parts(out.read_bytes())
    for name, data in before.items():          # every part kept, byte for byte, but the few we edit
        assert name in after, name
        if name not in OWNED_PARTS:
            assert after[name] == data, name
    assert _without_cached(after["xl/worksheets/sheet1.xml"]) == _without_cached(before["xl/worksheets/sheet1.xml"])
    assert after["xl/media/image1.png"] == _PNG and b'r:id="rIdPic"/>' in after["xl/worksheets/sheet1.xml"]
    wb = openpyxl.load_workbook(out)
    ws = wb["自评表"]
    assert ws["I3"].comment.text.startswith("请核对执行数") and ws["I4"].hyperlink.target == "https://example.org/附件.pdf"
    assert ws["I5"].font.b and ws.column_dimensions["I"].width == 33
    assert len(ws.data_validations.dataValidation) >= 1 and any("I6" in str(d.sqref) for d in ws.data_validations.dataValidation)
    assert any("I7" in str(r.sqref) for r in ws.conditional_formatting)
    assert wb["附表"]["B2"].value == 42 and "A3:C3" in {str(m) for m in wb["附表"].merged_cells.ranges}
    assert "我的名称" in wb.defined_names
    assert wb.sheetnames == ["自评表", "附表", FINDINGS_SHEET]
    assert ws["E6"].value == 120.5
    values = openpyxl.load_workbook(out, data_only=True)["自评表"]
    assert values["G6"].value == pytest.approx(91.14)         # the engine's rate, as the formula's cached value


def test_recalc_keeps_macros_and_refuses_mismatched_names(form_bytes, tmp_path):
    parts = _parts(form_bytes)
    ct = parts["[Content_Types].xml"].decode()
    ct = ct.replace("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    ct = ct.replace("</Types>", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    parts["[Content_Types].xml"] = ct.encode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode().replace(
        "</Relationships>", '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/'
        'vbaProject" Target="vbaProject.bin"/></Relationships>')
    parts["xl/_rels/workbook.xml.rels"] = rels.encode()
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 not really a VBA project but kept byte for byte"
    macro = tmp_path / "宏.xlsm"
    macro.write_bytes(_zip(parts))
    out, _ = recalc_file(macro)
    assert out.name == "宏_重算.xlsm"
    got = _parts(out.read_bytes())
    assert got["xl/vbaProject.bin"] == parts["xl/vbaProject.bin"]
    assert b"macroEnabled.main+xml" in got["[Content_Types].xml"] and b"vbaProject" in got["xl/_rels/workbook.xml.rels"]
    with pytest.raises(RecalcError, match="含宏"):
        recalc_file(macro, tmp_path / "丢宏.xlsx")
    plain = tmp_path / "无宏.xlsx"
    plain.write_bytes(form_bytes)
    with pytest.raises(RecalcError, match="不含宏"):
        recalc_file(plain, tmp_path / "假宏.xlsm")
    renamed = tmp_path / "改名.xlsm"
    renamed.write_bytes(form_bytes)
    with pytest.raises(RecalcError, match="不含宏"):
        recalc_file(renamed, in_place=True)
    assert renamed.read_bytes() == form_bytes
    assert not list(tmp_path.glob("*假宏*")) and not list(tmp_path.glob("*丢宏*"))


def test_foreign_sheet_called_like_ours_is_not_overwritten(form_bytes, tmp_path):
    src = tmp_path / "同名.xlsx"
    src.write_bytes(form_bytes)
    wb = openpyxl.load_workbook(src)
    wb.create_sheet(FINDINGS_SHEET)["A1"] = "我自己的检查记录"
    wb.save(src)
    before = src.read_bytes()
    with pytest.raises(RecalcError, match="不是 xlperf 写的"):
        recalc_file(src, in_place=True)
    assert src.read_bytes() == before


# ------------------------------------------------------------------ #18 item 5: other programs

@pytest.mark.parametrize("lock", [".~lock.{}#", "~${}"])
def test_in_place_refuses_a_file_another_program_holds_open(form_bytes, tmp_path, lock):
    src = tmp_path / "打开中.xlsx"
    src.write_bytes(form_bytes)
    (tmp_path / lock.format(src.name)).write_text("user,host", encoding="utf-8")
    with pytest.raises(RecalcError, match="正被其他程序") as err:
        recalc_file(src, in_place=True)
    assert "打开中.xlsx" in str(err.value)
    assert src.read_bytes() == form_bytes and not list(tmp_path.glob("*.bak*"))


def test_two_in_place_runs_keep_two_backups_of_what_was_there(form_bytes, tmp_path):
    src = tmp_path / "两次.xlsx"
    src.write_bytes(form_bytes)
    recalc_file(src, in_place=True)
    first = src.read_bytes()
    recalc_file(src, in_place=True)
    assert (tmp_path / "两次.xlsx.bak").read_bytes() == form_bytes
    assert (tmp_path / "两次.xlsx.bak2").read_bytes() == first
    sheets = openpyxl.load_workbook(src).sheetnames
    assert sheets.count(FINDINGS_SHEET) == 1                # replaced, not added twice


def test_recalc_reads_the_file_once_and_refuses_a_concurrent_change(form_bytes, tmp_path, monkeypatch):
    import xlperf.recalc as R
    import xlperf.safezip as S

    src = tmp_path / "并发.xlsx"
    src.write_bytes(form_bytes)
    opened = []
    real = S.read_source
    monkeypatch.setattr(S, "read_source", lambda p, *a, **k: opened.append(str(p)) or real(p, *a, **k))
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: pytest.fail("opened a second time"))
    real_findings = R.findings_for

    def writer_meanwhile(project):
        src.write_bytes(form_bytes + b"")             # another program saves while we work
        os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))
        return real_findings(project)
    monkeypatch.setattr(R, "findings_for", writer_meanwhile)
    with pytest.raises(RecalcError, match="被其他程序修改"):
        recalc_file(src, in_place=True)
    assert opened == [str(src)]
    assert src.read_bytes() == form_bytes and not list(tmp_path.glob("*.bak*"))


# ------------------------------------------------------------------ #13 item 2: findings

def test_recalc_prints_its_findings_as_check_does(form_bytes, tmp_path, capsys):
    src = tmp_path / "打印.xlsx"
    src.write_bytes(form_bytes)
    wb = openpyxl.load_workbook(src)
    wb["自评表"]["L13"] = 14                     # a docked score without a reason: a 警告 (issue 13 item 8)
    wb.save(src)
    checked = cli.main(["check", str(src), "--workers", "0"])
    # check reads the cached values (none here), recalc computes them: compare the line both find
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "H13：" in ln]
    assert cli.main(["recalc", str(src)]) == checked == 0
    out = capsys.readouterr().out
    assert re.search(r"\[警告\] 打印\.xlsx，自评表，\w+13：.*偏差原因", out), out
    assert len(lines) == 1 and lines[0] in out, (lines, out)          # the very line check prints
    assert "警告 1 条" in out


def test_findings_sheet_prints_on_a4_fitted_with_its_header_repeated(form_bytes, tmp_path):
    src = tmp_path / "页面.xlsx"
    src.write_bytes(form_bytes)
    out, _ = recalc_file(src)
    wb = openpyxl.load_workbook(out)
    ws = wb[FINDINGS_SHEET]
    assert ws.page_setup.paperSize in (9, "9") and ws.page_setup.fitToWidth in (1, "1")
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$1"
    assert tuple(c.value for c in ws[1]) == FINDINGS_HEADER
    assert ws["D2"].alignment.wrap_text


# ------------------------------------------------------------------ #13 item 2: no pollution

def _check(folder: Path):
    from xlperf.validate import check_paths
    return check_paths([str(folder)], workers=0)


def test_recalc_outputs_do_not_pollute_a_folder(form_bytes, tmp_path):
    """Main: the 检查结果 sheet was read as an extra empty form (phantom project, false
    warnings) and the ``_重算`` copy counted the project twice."""
    folder = tmp_path / "收表"
    folder.mkdir()
    edited = tmp_path / "原.xlsx"
    edited.write_bytes(form_bytes)
    wb = openpyxl.load_workbook(edited)
    wb["自评表"]["L13"] = 14                      # one true 警告 (a docked score without a reason)
    wb.save(edited)
    (folder / "甲.xlsx").write_bytes(edited.read_bytes())
    # another project in 乙 (two files of one project are duplicates, #17.8)
    (folder / "乙.xlsx").write_bytes(render(next(f.project for f in load()
                                                if f.project.key != "004-02" and f.project.kind == "自评表")))
    recalc_file(folder / "甲.xlsx")               # 甲_重算.xlsx beside its original
    recalc_file(folder / "乙.xlsx", in_place=True)  # 乙.xlsx now carries a 检查结果 sheet
    run = _check(folder)
    assert sorted(Path(c.project.source_file).name for c in run.checks) == ["乙.xlsx", "甲.xlsx"]
    assert all(c.project.name for c in run.checks)
    notes = [p for p in run.problems]
    assert {p.severity for p in notes} == {"提示"}, [str(p) for p in notes]
    assert any("甲_重算.xlsx" in p.file and "甲.xlsx" in p.message_zh for p in notes)
    assert any(p.sheet == FINDINGS_SHEET for p in notes)
    by_file = {Path(c.project.source_file).name: c for c in run.checks}
    assert [(f.severity, f.cell) for f in by_file["甲.xlsx"].findings if f.check == "reason"] == [("警告", "H13")]


def test_a_form_cannot_hide_behind_recalcs_names(form_bytes, tmp_path):
    """A unit names a sheet 检查结果 with recalc's header, or forges a copy's source hash: a
    project read there is still read."""
    import hashlib

    folder = tmp_path / "收表"
    folder.mkdir()
    other = next(f.project for f in load() if f.project.key != "004-02" and f.project.kind == "自评表")
    (folder / "真.xlsx").write_bytes(form_bytes)
    forged = _parts(render(other))
    sha = hashlib.sha256(form_bytes).hexdigest()
    wb = forged["xl/workbook.xml"].decode().replace(
        "</definedNames>", f'<definedName name="_xlperf_recalc_of" hidden="1">"{sha}"</definedName></definedNames>')
    forged["xl/workbook.xml"] = wb.encode()
    (folder / "真_重算.xlsx").write_bytes(_zip(forged))
    hidden = folder / "藏.xlsx"
    # another project than the forged copy's: two files of one project are duplicates (#17.8)
    third = next(f.project for f in load() if f.project.key not in ("004-02", other.key) and f.project.kind == "自评表"
                 and (f.project.unit, f.project.name) != (other.unit, other.name))
    hidden.write_bytes(render(third))
    wb = openpyxl.load_workbook(hidden)
    ws = wb["自评表"]
    ws.title = FINDINGS_SHEET
    ws.unmerge_cells(next(str(m) for m in ws.merged_cells.ranges if str(m).startswith("A1:")))
    for col, text in enumerate(FINDINGS_HEADER, start=1):   # recalc's header over the title row
        ws.cell(1, col, text)
    wb.save(hidden)
    run = _check(folder)
    names = sorted(Path(c.project.source_file).name for c in run.checks)
    assert names == ["真.xlsx", "真_重算.xlsx", "藏.xlsx"]


def test_harvest_knows_recalcs_sheet_name():
    from xlperf import harvest

    assert harvest._FINDINGS_SHEET == FINDINGS_SHEET
