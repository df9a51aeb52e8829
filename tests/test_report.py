"""Item 3 and 4: 汇总.xlsx and the offline HTML report (xlperf.report).

The sample is a harvest of seed-like projects: real seed projects from three units plus two
clearly marked variants (lower execution, lower grades) so every chart has something to show.
Harvested text is hostile: formula-like strings must stay text, markup must stay escaped.
"""
from __future__ import annotations

import copy
import io
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from xlperf import generate, harvest, report, seeds, validate
from xlperf.report import OutputExists, write_html, write_summary_xlsx

D = Decimal
ROOT = Path(__file__).resolve().parent.parent

INJECTIONS = [
    '=HYPERLINK("http://evil.example/x","点我")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(A1:A9)",
    "-2+3",
    "=1+1",
    '<script>alert("x")</script>',
]


@pytest.fixture(scope="module")
def forms():
    return {f.id: f for f in seeds.load()}


def sample_projects(forms, folder: Path | None = None):
    """Seed projects as a harvest would return them (file, sheet, cells), plus two variants."""
    ids = ["001-01", "001-02", "002-01", "002-03", "002-04", "002-07", "004-02", "004-03", "004-05"]
    out = []
    for pid in ids:
        p = copy.deepcopy(forms[pid].project)
        p.source_file = str((folder or Path("样例")) / f"{p.unit}" / f"{pid}.xlsx")
        p.source_sheet = "自评表"
        p.cells = {"name": "B3", "funds_rate": "G7", "funds_score": "H7", "total_score": "G30",
                   "total_weight": "F30", **{f"indicators.{i}.score": f"G{13 + i}"
                                            for i in range(len(p.indicators))}}
        out.append(p)
    # Two seed-like variants from a fourth unit (marked 示例): a low execution rate, lower grades.
    a = copy.deepcopy(forms["001-01"].project)
    a.unit, a.name = "示例区社区卫生服务中心", "家庭医生签约服务（示例）"
    a.funds["年度资金总额"].executed, a.funds_rate, a.funds_score = D("11.20"), D("74.66"), D("7.46")
    # the sub-row carries the same money (年度资金总额 is the sum of its sub-rows)
    a.funds["当年财政拨款"].executed, a.funds["当年财政拨款"].rate = D("11.20"), D("74.66")
    a.indicators[0].actual, a.indicators[0].score = "3.00(次)", D("7.50")
    a.indicators[0].note = "第四季度排查因人员调整顺延"
    a.indicators[3].actual, a.indicators[3].score = "部分达成", D("14.00")
    a.indicators[3].note = "安全系数提升未达预期"
    a.total_score, a.grade = D("88.96"), "良"
    b = copy.deepcopy(a)
    b.name = "慢病随访信息化（示例）"
    b.funds["年度资金总额"].executed, b.funds_rate, b.funds_score = D("8.00"), D("53.33"), D("5.33")
    b.funds["当年财政拨款"].executed, b.funds["当年财政拨款"].rate = D("8.00"), D("53.33")
    b.indicators[2].actual, b.indicators[2].score, b.indicators[2].note = "未达成", D("6.00"), "系统延期上线"
    b.total_score, b.grade = D("72.83"), "中"
    for v in (a, b):
        v.source_file = str((folder or Path("样例")) / v.unit / f"{v.name}.xlsx")
        v.source_sheet = "自评表"
    return out + [a, b]


def run_of(projects, problems=()):
    return validate.check_harvest(type("H", (), {"projects": projects, "problems": list(problems)})())


@pytest.fixture()
def sample(forms, tmp_path):
    folder = tmp_path / "收集"
    projects = sample_projects(forms, folder)
    for p in projects:
        Path(p.source_file).parent.mkdir(parents=True, exist_ok=True)
        Path(p.source_file).write_bytes(b"")
    return run_of(projects)


def seed_workbook(p, path: Path, *, helpers: bool = False, tweak=None) -> Path:
    """A workbook of the project *as printed*: the xlperf form filled by the generator, then
    every computed cell replaced by the figure the seed prints (errors included), as a
    unit's own Excel copy would be. ``helpers=False`` drops the generator's on-screen
    helper columns J–L (printed forms have none). ``tweak(ws, cells)`` edits further."""
    data = generate.render(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    (hp,) = harvest.read_workbook(str(path)).projects
    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)   # values only: no formulas left
    ws = wb[hp.source_sheet]

    def put(key, value):
        if key in hp.cells and value is not None:
            ws[hp.cells[key]] = value if isinstance(value, str) else float(value)
    put("funds_rate", p.funds_rate)
    put("funds_score", p.funds_score)
    put("total_score", p.total_score)
    put("grade", p.grade or None)
    for i, ind in enumerate(p.indicators):
        put(f"indicators.{i}.score", ind.score)
    if not helpers:
        for rng in [r for r in ws.merged_cells.ranges if r.min_col >= 10]:
            ws.unmerge_cells(str(rng))
        ws.delete_cols(10, 3)
    if tweak:
        tweak(ws, hp.cells)
    wb.save(path)
    return path


def harvest_folder(forms, folder: Path):
    """The sample as workbooks in one folder per unit, read back by the real harvester."""
    for p in sample_projects(forms, folder):
        seed_workbook(p, Path(p.source_file))
    return harvest.harvest(folder, workers=0)


# ------------------------------------------------------------------ 汇总.xlsx

def test_summary_workbook_sheets_and_rows(sample, tmp_path):
    out = write_summary_xlsx(sample, tmp_path / "汇总.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["项目汇总", "申报汇总", "指标明细", "检查结果", "图表"]
    ws = wb["项目汇总"]
    header = [c.value for c in ws[1]]
    for col in ("实施单位", "项目名称", "全年预算数", "全年执行数", "执行率(%)", "总分", "评分等级", "问题数"):
        assert col in header
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(sample.checks) == 11
    by_name = {r[header.index("项目名称")]: dict(zip(header, r)) for r in rows}
    r = by_name["执法办案及能力提升"]
    assert r["执行率(%)"] == 96.36 and r["总分"] == 99.36 and r["错误"] == 1
    assert r["评分等级"] == "优" and r["等级来源"] == "按总分"          # 002 prints no grade
    assert r["金额单位"] == "元" and r["全年预算数（元）"] == 1981900
    r = by_name["信息化运维项目"]                                          # 万元 form, converted for totals
    assert r["金额单位"] == "万元" and r["全年预算数"] == 165.18 and r["全年预算数（元）"] == 1651800
    assert r["评分规则"] == "shanghai" and "推断" in r["规则推断"]
    n_ind = sum(len(c.project.indicators) for c in sample.checks)
    assert wb["指标明细"].max_row == n_ind + 1
    n_find = sum(len(c.findings) for c in sample.checks)
    assert wb["检查结果"].max_row == n_find + 1
    # errors first
    sev = [row[0] for row in wb["检查结果"].iter_rows(min_row=2, values_only=True)]
    assert sev == sorted(sev, key=validate.SEVERITY_RANK.get)


def test_native_charts(sample, tmp_path):
    out = write_summary_xlsx(sample, tmp_path / "汇总.xlsx")
    with zipfile.ZipFile(out) as z:
        charts = [n for n in z.namelist() if re.match(r"xl/charts/chart\d+\.xml$", n)]
        assert len(charts) == 2
        xml = "".join(z.read(n).decode("utf-8") for n in charts)
    assert "<c:barChart>" in xml and "评分等级分布" in xml and "各单位预算执行率" in xml
    assert "'图表'!$A$2:$A$5" in xml or "图表!$A$2:$A$5" in xml
    ws = openpyxl.load_workbook(out)["图表"]
    grades = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(2, 6)}
    assert grades == {"优": 9, "良": 1, "中": 1, "差": 0}


def test_findings_link_to_file_cell_and_project_row(sample, tmp_path):
    out = write_summary_xlsx(sample, tmp_path / "汇总.xlsx")
    ws = openpyxl.load_workbook(out)["检查结果"]
    header = [c.value for c in ws[1]]
    rows = {ws.cell(r, header.index("问题说明") + 1).value: r for r in range(2, ws.max_row + 1)}
    r = next(r for m, r in rows.items() if "9.64" in m)
    link = ws.cell(r, header.index("定位") + 1)
    assert link.value == "打开 H7"
    target = link.hyperlink.target
    assert target.replace("\\", "/") == "收集/上海市卫生健康委员会监督所/002-01.xlsx"
    assert link.hyperlink.location == "'自评表'!H7"
    name = ws.cell(r, header.index("项目名称") + 1)
    assert name.hyperlink.location.startswith("'项目汇总'!C")
    summary = openpyxl.load_workbook(out)["项目汇总"]
    row = int(name.hyperlink.location.split("!C")[1])
    assert summary.cell(row, 3).value == "执法办案及能力提升"


def test_harvested_text_never_becomes_a_formula_or_link(forms, tmp_path):
    p = copy.deepcopy(forms["001-01"].project)
    p.unit, p.name, p.department = INJECTIONS[0], INJECTIONS[1], INJECTIONS[2]
    p.grade = "优"
    for ind, text in zip(p.indicators, INJECTIONS[3:]):
        ind.level3 = text
        ind.note = text
    p.indicators[0].target = INJECTIONS[2]               # unreadable target: still written as text
    p.source_sheet = INJECTIONS[5]
    p.source_file = str(tmp_path / "in" / "=HYPERLINK(1).xlsx")
    Path(p.source_file).parent.mkdir()
    Path(p.source_file).write_bytes(b"")
    problem = validate.Finding(severity="错误", file="http://evil.example/a.xlsx", sheet="=1+1", cell="@A1",
                               message_zh="=cmd|' /C calc'!A0", found="+1+1", expected="-2+3")
    out = write_summary_xlsx(run_of([p], [problem]), tmp_path / "汇总.xlsx")
    wb = openpyxl.load_workbook(out)
    seen = set()
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    seen.add(c.value)
                if c.hyperlink is not None:      # only links built by the report
                    assert c.hyperlink.location is None or c.hyperlink.location.startswith(
                        ("'项目汇总'!", "'自评表'!", "'=1+1'!")), c.hyperlink.location
                    assert "evil" not in (c.hyperlink.target or "")
    for text in INJECTIONS:
        assert text in seen, text
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert "<f>" not in z.read(name).decode("utf-8"), name
            if name.endswith(".rels"):
                assert "evil" not in z.read(name).decode("utf-8")


def test_unsafe_paths_get_no_link(tmp_path):
    for name in ("a#b.xlsx", "a%20b.xlsx", "x.xlsx"):
        (tmp_path / name).write_bytes(b"")
    assert report._external_link(str(tmp_path / "a#b.xlsx"), "自评表", "A1", tmp_path) is None
    assert report._external_link(str(tmp_path / "a%20b.xlsx"), "自评表", "A1", tmp_path) is None
    assert report._external_link(str(tmp_path / "missing.xlsx"), "自评表", "A1", tmp_path) is None
    assert report._external_link("http://evil.example/x.xlsx", "自评表", "A1", tmp_path) is None
    assert report._external_link(str(tmp_path / "x.xlsx"), "It's", "B2", tmp_path) == "external:x.xlsx#'It''s'!B2"
    assert report._external_link(str(tmp_path / "x.xlsx"), "s", "=A1", tmp_path) == "external:x.xlsx"


# ------------------------------------------------------------------ writing safely

def test_never_overwrites_without_force(sample, tmp_path):
    out = tmp_path / "汇总.xlsx"
    out.write_bytes(b"old")
    with pytest.raises(OutputExists):
        write_summary_xlsx(sample, out)
    with pytest.raises(OutputExists):
        write_html(sample, out)
    assert out.read_bytes() == b"old"
    write_summary_xlsx(sample, out, force=True)
    assert zipfile.is_zipfile(out)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask      # as open() would give, not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".~xlperf")] == []


def test_a_failed_write_leaves_the_old_file(sample, tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("old", encoding="utf-8")

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(report.os, "replace", boom)
    with pytest.raises(RuntimeError):
        write_html(sample, out, force=True)
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["report.html"]


# ------------------------------------------------------------------ HTML

def test_html_is_self_contained(sample, tmp_path):
    html = write_html(sample, tmp_path / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"(https?|ftp|file):", html, re.I)
    for attr, value in re.findall(r"""\b(src|href|action|xlink:href)\s*=\s*["']?([^"' >]*)""", html, re.I):
        assert value.startswith("#"), (attr, value)
    assert "//" not in " ".join(re.findall(r"""(?:src|href)\s*=\s*["'][^"']*["']""", html))
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", html, re.I)
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in html


def test_html_content(sample, tmp_path):
    html = write_html(sample, tmp_path / "report.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(p\d+)"', html))
    assert anchors == {f"p{i}" for i in range(1, 12)}
    assert set(re.findall(r'href="#(p\d+)"', html)) == anchors          # each project linkable
    assert html.count("<svg") == 2 and "评分等级分布" in html and "各实施单位预算执行率" in html
    for unit in ("上海市保健事务中心", "上海市卫生健康委员会监督所", "上海市闵行区卫生健康信息中心", "示例区社区卫生服务中心"):
        assert f"<h3>{unit}" in html
    assert "预算执行率得分应为 9.64" in html
    assert "表上未填，按总分推算" in html


def test_html_title_says_what_the_folder_held_and_rules_read_as_one_sentence(forms, sample, tmp_path):
    html = write_html(sample, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<title>项目支出绩效自评汇总</title>" in html                 # 自评表 only
    assert "推断为" not in re.sub(r'title="[^"]*"', "", html)          # the inference detail: on hover only
    rules = re.findall(r'<span class="rule" title="([^"]+)">([^<]+)</span>', html)
    assert rules and {r[1] for r in rules} <= {"按「上海预算一体化系统（截尾）」规则核算",
                                               "按「Excel 表格版（执行率向上舍入）」规则核算"}
    assert all(r[0] for r in rules)
    decl = copy.deepcopy(forms["000-01"].project)
    both = report.render_html([copy.deepcopy(forms["001-01"].project), decl])
    assert "<title>项目支出绩效目标申报与自评汇总</title>" in both
    assert "<title>项目支出绩效目标申报汇总</title>" in report.render_html([decl])


def test_html_escapes_harvested_text(forms, tmp_path):
    p = copy.deepcopy(forms["001-01"].project)
    p.name = '<script>alert("x")</script>'
    p.unit = '"><img src=x onerror=alert(1)>'
    p.indicators[0].score = D("11.00")
    html = report.render_html([p])
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(chromium() is None, reason="headless Chromium not installed (run .ci/install-system-deps)")
def test_html_renders_in_headless_chromium(forms, tmp_path, monkeypatch):
    """A real browser renders the report of a real harvest (the seed-like sample written as
    workbooks and read back), offline. XLPERF_UPDATE_SCREENSHOT=1 also refreshes
    docs/img/report.png (the README picture)."""
    monkeypatch.chdir(tmp_path)
    h = harvest_folder(forms, Path("收集"))
    slowest = h.slowest()
    html = write_html(h, tmp_path / "report.html", stats={"worst_file": slowest.file,
                                                          "worst_seconds": round(slowest.seconds, 3)})
    png = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             f"--screenshot={png}", "--window-size=1280,1600", html.as_uri()],
            capture_output=True, text=True, timeout=60)
    assert png.exists(), proc.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000   # a blank page is a few KB
    if os.environ.get("XLPERF_UPDATE_SCREENSHOT"):
        target = ROOT / "docs" / "img" / "report.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)


# ------------------------------------------------------------------ with the real harvester

def test_harvested_workbooks_give_the_seed_findings(forms, tmp_path):
    h = harvest_folder(forms, tmp_path / "收集")
    assert len(h.results) == 11 and not h.failed
    run = validate.check_harvest(h)
    by_file = {Path(c.project.source_file).stem: c for c in run.checks}
    from test_validate import EXPECTED
    for pid in ("001-01", "002-01", "002-03", "002-04", "002-07", "004-02", "004-03", "004-05"):
        got = sorted((f.check, f.severity) for f in by_file[pid].findings)
        assert got == sorted(EXPECTED.get(pid, [])), (pid, [f.message_zh for f in by_file[pid].findings])
    (f,) = by_file["002-01"].findings
    assert (f.found, f.expected, f.cell) == ("9.36", "9.64", "H6")
    assert f.file.endswith("002-01.xlsx") and f.sheet == "自评表"
    assert by_file["002-01"].profile == "excel" and by_file["004-02"].profile == "shanghai"


def test_empty_reason_next_to_helper_columns(forms, tmp_path):
    path = seed_workbook(copy.deepcopy(forms["001-02"].project), tmp_path / "001-02.xlsx", helpers=True)
    (p,) = harvest.read_workbook(str(path)).projects
    assert p.indicators[5].note == ""
    assert ("reason", validate.WARNING) in [(f.check, f.severity) for f in validate.check_project(p)]


def test_injected_text_survives_harvest_and_summary(forms, tmp_path):
    def tweak(ws, cells):
        for key, text in (("name", INJECTIONS[1]), ("indicators.0.note", INJECTIONS[0]),
                          ("indicators.1.level3", INJECTIONS[3]), ("indicators.2.note", INJECTIONS[2])):
            c = ws[cells[key]]
            c.value = text
            c.data_type = "s"        # a text cell that looks like a formula, as a hostile form has
    seed_workbook(copy.deepcopy(forms["004-01"].project), tmp_path / "in" / "x.xlsx", tweak=tweak)
    h = harvest.harvest(tmp_path / "in", workers=0)
    (p,) = h.projects
    assert p.name == INJECTIONS[1]
    out = write_summary_xlsx(h, tmp_path / "汇总.xlsx")
    wb = openpyxl.load_workbook(out)
    values = set()
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f"
                values.add(c.value)
    for text in (INJECTIONS[0], INJECTIONS[1], INJECTIONS[2], INJECTIONS[3]):
        assert text in values
    html = write_html(h, tmp_path / "r.html").read_text(encoding="utf-8")
    assert not re.search(r"(https?|ftp|file):", html.replace("http&#34;", ""), re.I) or "evil.example" in html
    assert 'href="http' not in html


def test_summary_from_frames_matches_summary_from_harvest(forms, tmp_path):
    h = harvest_folder(forms, tmp_path / "收集")
    a = openpyxl.load_workbook(write_summary_xlsx(h, tmp_path / "a.xlsx"))
    b = openpyxl.load_workbook(write_summary_xlsx(harvest.to_frames(h), tmp_path / "b.xlsx"))
    for sheet, cols in (("项目汇总", slice(0, 18)), ("指标明细", slice(0, 14)), ("检查结果", slice(0, 8))):
        rows_a = [r[cols] for r in a[sheet].iter_rows(values_only=True)]
        rows_b = [r[cols] for r in b[sheet].iter_rows(values_only=True)]
        assert rows_a == rows_b, sheet


def test_check_paths_with_declarations(forms, tmp_path, capsys):
    import argparse
    import json

    from xlperf.model import DECLARATION, Indicator, Project

    p = copy.deepcopy(forms["004-01"].project)
    seed_workbook(p, tmp_path / "自评" / "卫生银联专线.xlsx")
    seed_workbook(copy.deepcopy(forms["002-01"].project), tmp_path / "自评" / "执法办案.xlsx")
    d = Project(kind=DECLARATION, year=p.year, name=p.name, unit=p.unit, department=p.department)
    d.indicators = [Indicator(i.level1, i.level2, i.level3, i.target) for i in p.indicators]
    d.indicators[1].target = "≥95.00(%)"                      # declared ≥95%, self-evaluated against =100%
    d.declared.annual_total = D("13900")                        # 1.39 万元
    (tmp_path / "申报").mkdir()
    (tmp_path / "申报" / "申报表.xlsx").write_bytes(generate.render(d))
    run = validate.check_paths(tmp_path / "自评", declarations=tmp_path / "申报", workers=0)
    assert len(run.files) == 2 and len(run.checks) == 2
    by_name = {c.project.name: c for c in run.checks}
    (drift,) = by_name["卫生银联专线"].findings
    assert (drift.check, drift.severity, drift.found, drift.expected) == (
        "declared", validate.ERROR, "=100.00(%)", "≥95.00(%)")
    assert drift.cell == "D14" and drift.file.endswith("卫生银联专线.xlsx")
    assert [f.check for f in by_name["执法办案及能力提升"].findings] == ["funds_score"]
    parser = argparse.ArgumentParser(prog="xlperf")
    validate.register_cli(parser.add_subparsers())
    args = parser.parse_args(["check", str(tmp_path / "自评"), "--declarations", str(tmp_path / "申报"),
                              "--json", "--workers", "0"])
    assert args.func(args) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"错误": 2, "警告": 0, "提示": 0}      # the changed target is 错误
    args = parser.parse_args(["check", str(tmp_path / "自评" / "卫生银联专线.xlsx"), "--workers", "0"])
    assert args.func(args) == 0
    assert "未发现问题" in capsys.readouterr().out


# ------------------------------------------------------------------ CLI

def test_cli_harvest_writes_both_reports(forms, tmp_path, capsys):
    import argparse

    folder = tmp_path / "收集"
    for p in sample_projects(forms, folder):
        seed_workbook(p, Path(p.source_file))
    parser = argparse.ArgumentParser(prog="xlperf")
    report.register_cli(parser.add_subparsers())
    out, html = folder / "汇总.xlsx", tmp_path / "report.html"      # the summary inside the folder read
    argv = ["harvest", str(folder), "-o", str(out), "--html", str(html), "--workers", "0"]
    args = parser.parse_args(argv)
    assert args.func(args) == 1                      # 002-01 and others carry errors
    text = capsys.readouterr().out
    assert out.exists() and html.exists()
    assert "读取文件 11 个（0 个未能读取），自评表项目 11 个（" in text and "错误 3 条，警告 2 条，提示 5 条" in text
    assert "最慢的文件：" in text and ".xlsx" in text
    first = out.read_bytes()
    args = parser.parse_args(argv)
    assert args.func(args) == 1                      # its own outputs are replaced, kept as .bak
    assert (folder / "汇总.xlsx.bak").read_bytes() == first and (tmp_path / "report.html.bak").exists()
    html.write_text("不是 xlperf 写的", encoding="utf-8")  # a foreign file: never without --force
    with pytest.raises(OutputExists):
        args.func(parser.parse_args(argv))
    args = parser.parse_args(argv + ["--force"])
    assert args.func(args) == 1                      # its own 汇总.xlsx is not read back as a form
    assert "读取文件 11 个（0 个未能读取）" in capsys.readouterr().out
    summary = openpyxl.load_workbook(out)["项目汇总"]
    assert summary.max_row == 12


def test_checks_made_as_files_arrive_equal_checks_made_afterwards(forms, tmp_path):
    """`xlperf check` / `harvest` check each file while the workers read the next
    (harvest(after=validate.attach_checks)); the findings must be those of checking the
    whole harvest afterwards, declarations included, and a hook that fails changes nothing."""
    from xlperf.model import DECLARATION, Indicator, Project

    folder = tmp_path / "收集"
    harvest_folder(forms, folder)
    p = forms["004-02"].project
    d = Project(kind=DECLARATION, year=p.year, name=p.name, unit=p.unit)
    d.indicators = [Indicator(i.level1, i.level2, i.level3, i.target) for i in p.indicators]
    d.indicators[0].target = "≥99.00(%)"                          # one drift to find

    def outcome(h):
        run = validate.check_harvest(h, [d])
        return [(c.project.source_file, c.project.name, c.profile, c.profile_explanation,
                 c.declared is not None, [validate.finding_dict(f) for f in c.findings]) for c in run.checks]

    plain = harvest.harvest(folder, workers=2)
    hooked = harvest.harvest(folder, workers=2, after=validate.attach_checks)
    assert all(r.checks is None for r in plain.results)
    assert all(r.checks is not None for r in hooked.results)
    expected = outcome(plain)
    assert sum(len(x[5]) for x in expected) > 10 and any(f["check"] == "declared" for x in expected for f in x[5])
    assert outcome(hooked) == expected

    def boom(result):
        raise RuntimeError("a broken hook")
    broken = harvest.harvest(folder, workers=0, after=boom)
    assert all(r.checks is None for r in broken.results)
    assert outcome(broken) == expected


def test_last_runs_summary_in_the_folder_is_skipped_not_read_as_a_form(forms, tmp_path):
    folder = tmp_path / "收集"
    h = harvest_folder(forms, folder)
    write_summary_xlsx(h, folder / "旧汇总.xlsx")        # a copy of last run's summary, renamed
    again = harvest.harvest(folder, workers=2)
    (own,) = [r for r in again.results if r.file.endswith("旧汇总.xlsx")]
    assert own.projects == [] and own.skipped and not again.failed
    assert [(str(q.severity), "汇总表" in q.message_zh) for q in own.problems] == [("提示", True)]
    assert len(again.projects) == len(h.projects)
    run = validate.check_paths(folder, workers=0)
    assert len(run.checks) == len(h.projects)


def test_summary_prints_on_a4_landscape_with_headers_on_every_page(sample, tmp_path):
    wb = openpyxl.load_workbook(write_summary_xlsx(sample, tmp_path / "汇总.xlsx"))
    for name in ("项目汇总", "申报汇总", "指标明细", "检查结果"):
        ws = wb[name]
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9, name
        assert ws.print_title_rows == "$1:$1", name
    ws = wb["项目汇总"]                 # the columns a reader needs, fitted to the page width
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    header = [c.value for c in ws[1]]
    assert str(ws.print_area).endswith(f"$A$1:${chr(ord('A') + header.index('提示'))}${len(sample.checks) + 1}")
    # Every list fits the page width (issue 13 item 8: 申报汇总 and 指标明细 printed 18 and 111
    # pages across), with the columns a reader needs; file paths stay on screen.
    for name, last in (("申报汇总", "提示"), ("指标明细", "偏差原因分析及改进措施")):
        ws = wb[name]
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (1, None), name
        assert ws.page_setup.fitToHeight == 0, name
        header = [c.value for c in ws[1]]
        col = openpyxl.utils.get_column_letter(header.index(last) + 1)
        assert re.search(rf"\$A\$1:\${col}\$\d+$", str(ws.print_area)), (name, ws.print_area)
    charts = wb["图表"]
    assert charts.sheet_properties.pageSetUpPr.fitToPage
    assert [b.id for b in charts.row_breaks.brk] == [18]      # the second chart starts a page


# ------------------------------------------------------------------ streamed harvest (issue 19)

def _cells(path) -> dict:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [[(c.value, c.number_format, c.font.b, c.hyperlink and (c.hyperlink.target, c.hyperlink.location))
                        for c in row] for row in ws.iter_rows()] for ws in wb}


def test_streamed_harvest_writes_what_the_whole_harvest_writes(forms, tmp_path, capsys, monkeypatch):
    """xlperf harvest writes each file's rows as it comes; the outputs equal those written
    from the whole harvest in memory (the summary, the report but its time, the CSVs)."""
    from xlperf import cli

    monkeypatch.setenv("XLPERF_CONFIG_DIR", str(tmp_path / "cfg"))
    folder = tmp_path / "收集"
    for p in sample_projects(forms, folder)[:8]:          # no copies, no 申报表: streamed
        seed_workbook(p, Path(p.source_file))
    (folder / "坏.xlsx").write_bytes(b"PK\x03\x04 not a zip")   # a loose problem
    streamed, whole = tmp_path / "流", tmp_path / "整"
    assert cli.main(["harvest", str(folder), "-o", str(streamed / "汇总.xlsx"), "--html", str(streamed / "r.html"),
                     "--csv", str(streamed / "csv"), "--workers", "2"]) == 1
    assert "读取、核对并写出" in capsys.readouterr().out          # the streamed path ran
    h = harvest.harvest(folder, workers=0)
    run = validate.check_harvest(h, [p for p in h.projects if p.kind == "申报表"])
    write_summary_xlsx(run, whole / "汇总.xlsx")
    write_html(run, whole / "r.html")
    report.write_csvs(h, whole / "csv")
    assert _cells(streamed / "汇总.xlsx") == _cells(whole / "汇总.xlsx")
    strip = lambda t: re.sub(r'生成时间 [0-9: -]+|content="[0-9a-f]{64}"| · 最慢文件 [^<]*', "", t)  # noqa: E731
    assert strip((streamed / "r.html").read_text("utf-8")) == strip((whole / "r.html").read_text("utf-8"))
    for name in report.CSV_NAMES:
        assert (streamed / "csv" / f"{name}.csv").read_bytes() == (whole / "csv" / f"{name}.csv").read_bytes()


def test_csvs_as_pandas_writes_them(forms, tmp_path):
    """The CSVs are written row by row; pandas' to_csv of the harvest's frames (how they were
    written before) is the reference."""
    h = harvest_folder(forms, tmp_path / "收集")
    h.results[0].projects[0].name = "＝HYPERLINK(\"x\")\n第二行, \"引号\""
    h.results[0].projects[0].indicators[0].note = "\ufeff=1+1"
    report.write_csvs(h, tmp_path / "csv")
    frames = harvest.to_frames(h)
    for name in report.CSV_NAMES:
        text = frames[name].map(harvest._csv_safe).rename(columns=harvest.FRAME_COLUMNS_ZH).to_csv(index=False)
        assert (tmp_path / "csv" / f"{name}.csv").read_bytes() == ("\ufeff" + text).encode("utf-8")


def test_own_outputs_are_left_out_by_path_and_by_link(tmp_path):
    """harvest never reads its own outputs back: the same path, a hard link or a symlink to
    one is left out, whatever else is kept (checked against os.path.samefile)."""
    import os

    from xlperf.report import _without

    out = tmp_path / "汇总.xlsx"
    out.write_bytes(b"summary")
    other = tmp_path / "a.xlsx"
    other.write_bytes(b"form")
    hard = tmp_path / "hard.xlsx"
    os.link(out, hard)
    soft = tmp_path / "soft.xlsx"
    soft.symlink_to(out)
    missing = tmp_path / "missing.html"        # an output not written yet
    files = [str(other), str(out), str(hard), str(soft), str(tmp_path / "gone.xlsx"),
             str(tmp_path / "sub" / ".." / "汇总.xlsx")]
    kept = _without(files, [out, missing])
    expected = [f for f in files if not (os.path.abspath(f) == os.path.abspath(out)
                                         or (os.path.exists(f) and os.path.samefile(f, out)))]
    assert kept == expected == [str(other), str(tmp_path / "gone.xlsx")]
    assert _without(files, [missing]) == files


def test_report_spool_reads_back_what_was_put_however_puts_and_gets_interleave():
    from xlperf.report import _Spool

    spool = _Spool()
    try:
        records = [{"n": 1, "名称": "项目甲"}, [1, 2, "三"], "x" * 70_000, None]
        at = [spool.put(records[0]), spool.put(records[1])]
        assert spool.get(at[0]) == records[0]          # a read moves the file position …
        at.append(spool.put(records[2]))                # … the next put still appends
        assert spool.get(at[1]) == records[1]
        at.append(spool.put(records[3]))
        assert [spool.get(a) for a in reversed(at)] == records[::-1]
    finally:
        spool.close()
