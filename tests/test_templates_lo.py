"""Generated workbooks recalculated by a real spreadsheet engine (LibreOffice) give the
engine's figures to the cent — every seed project, both formula modes, plus amounts
chosen where binary floating point and decimal arithmetic part ways."""
from __future__ import annotations

import random
import zipfile
from decimal import Decimal

import openpyxl
import pytest

import needs

from xlperf import libreoffice
from xlperf.generate import compiled, render
from xlperf.model import SELF_EVALUATION, FundsLine, Indicator, Project
from xlperf.notation import from_excel
from xlperf.scoring import score_project
from xlperf.seeds import load
from xlperf.template import Layout

pytestmark = pytest.mark.libreoffice


_require_soffice = needs.require


def _edge_projects() -> list[Project]:
    """Amounts where float and decimal differ: products landing on x.xx5 (1.005, 2.675,
    0.285 of the weight), binary-inexact cents, near-miss rates on large budgets, and
    spending above the budget."""
    cases = [("100.00", "10.05"), ("100.00", "26.75"), ("100.00", "2.85"), ("1.00", "0.29"),
             ("4.35", "4.35"), ("556401.43", "723711.34"), ("2730000", "2716431.92"),
             ("323200", "222193.64"), ("132.20", "131.01"), ("80.95", "80.94"), ("0.03", "0.01"),
             ("1981900.00", "1909740.24"), ("99999999.99", "99999999.98"), ("0", "0")]
    rng = random.Random(20261123)
    for _ in range(40):
        b = Decimal(rng.randint(1, 10**9)) / 100
        e = (b * Decimal(rng.randint(0, 1200)) / 1000).quantize(Decimal("0.01"))
        cases.append((str(b), str(e)))
    out = []
    for i, (budget, executed) in enumerate(cases):
        for profile in ("shanghai", "excel"):
            p = Project(SELF_EVALUATION, 2024, f"边界项目{i}", "主管部门", "单位", key=f"edge-{i}-{profile}",
                        profile=profile)
            p.funds["年度资金总额"] = FundsLine(Decimal(budget), Decimal(budget), Decimal(executed))
            p.funds_weight = Decimal("10")
            p.indicators = [
                Indicator("产出指标", "数量指标", "次数", "≥12.00(次)", Decimal("16.75"), f"{i % 13}次"),
                Indicator("产出指标", "质量指标", "合格率", "=100.00(%)", Decimal("33.25"), f"{99 + (i % 3) * Decimal('0.005')}%"),
                Indicator("效益指标", "社会效益指标", "时长", "<=6小时", Decimal("30"), f"{6 + i % 5}.5小时"),
                Indicator("满意度指标", "服务对象满意度指标", "满意度", "建立健全", Decimal("10"),
                          ["达成指标", "部分达成", "未达成"][i % 3]),
            ]
            out.append(p)
    return out


def _computed_cells(project: Project):
    """(cell, engine value) for every computed cell of a generated 自评表."""
    t = compiled(SELF_EVALUATION)
    layout = Layout(t.band, max(1, len(project.indicators)))
    s = score_project(project)
    ref = lambda name, i=0: t.ref(name, layout, i)  # noqa: E731
    rows = ["年度资金总额", "当年财政拨款", "上年结转资金", "其他资金"]
    for i, row in enumerate(rows):
        yield ref("xp_funds_rate", i), s.rates.get(row)
    yield ref("xp_funds_score"), s.funds_score
    for k, res in enumerate(s.indicators):
        yield ref("xp_ind_proposal", k), res.proposal if res else None
        yield ref("xp_ind_score", k), res.score if res else None
    yield ref("xp_total_weight"), s.total_weight
    yield ref("xp_total_score"), s.total
    yield ref("xp_grade"), s.grade


def _same(found, expected) -> bool:
    """LibreOffice's value equals the engine's: text exactly, numbers to the cent (a double
    read back as the decimal it shows), an empty result as an empty cell."""
    if expected is None or expected == "":
        return found in (None, "")
    if isinstance(expected, str):
        return found == expected
    if isinstance(found, bool) or not isinstance(found, (int, float)):
        return False
    return from_excel(float(found)) == expected


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    _require_soffice()
    src = tmp_path_factory.mktemp("gen")
    projects = [f.project for f in load()] + _edge_projects()
    files = {}
    for p in projects:
        modes = ("portable", "udf") if p.kind == SELF_EVALUATION else ("portable",)
        for mode in modes:
            path = src / f"{p.key}_{mode}.xlsx"
            path.write_bytes(render(p, mode=mode))
            files[path] = (p, mode)
    out = tmp_path_factory.mktemp("recalc")
    portable = [f for f, (_, m) in files.items() if m == "portable"]
    recalculated = dict(zip(portable, libreoffice.recalculate(portable, out, timeout=600)))
    return files, recalculated


def test_every_portable_formula_equals_the_engine(generated):
    files, recalculated = generated
    mismatches, checked = [], 0
    for path, (project, mode) in files.items():
        if mode != "portable" or project.kind != SELF_EVALUATION:
            continue
        values = libreoffice.read_values(recalculated[path])
        for cell, expected in _computed_cells(project):
            checked += 1
            if not _same(values.get(cell), expected):
                mismatches.append(f"{project.key} {cell}: LibreOffice {values.get(cell)!r}, engine {expected}")
    assert checked > 2500
    assert not mismatches, "\n".join(mismatches[:40])


def test_udf_workbooks_cache_the_engine_results(generated):
    files, _ = generated
    checked = 0
    for path, (project, mode) in files.items():
        if mode != "udf":
            continue
        wb = openpyxl.load_workbook(path, data_only=True)
        ws = wb[wb.sheetnames[0]]
        for cell, expected in _computed_cells(project):
            checked += 1
            assert _same(ws[cell].value, expected), f"{project.key} {cell}: {ws[cell].value!r} != {expected}"
        formulas = openpyxl.load_workbook(path)[wb.sheetnames[0]]
        assert "XLPERF_RATE(" in str(formulas["G6"].value)
    assert checked > 500


def test_declarations_open_and_keep_their_values(generated):
    files, recalculated = generated
    for path, (project, mode) in files.items():
        if project.kind == SELF_EVALUATION:
            continue
        values = libreoffice.read_values(recalculated[path])
        assert values["B3"] == project.name
        if project.declared.annual_total is not None:
            assert from_excel(float(values["E6"])) == project.declared.annual_total


def test_generated_files_are_valid_zip_with_protection_and_validation(generated):
    files, _ = generated
    path = next(p for p, (proj, m) in files.items() if proj.key == "001-02")
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<sheetProtection" in sheet and 'password="' not in sheet
    assert "<dataValidations" in sheet and "达成指标,部分达成,未达成" in sheet
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws.protection.sheet
    assert ws["D6"].protection.locked is False       # input: 全年预算数
    assert ws["G6"].protection.locked is True        # computed: 执行率
    assert ws.print_title_rows == "$12:$12"


def test_row_count_does_not_break_merges_or_totals():
    """5 to 40 indicator rows: level merges stay inside the band, the 分值 total covers
    every row, the print area reaches the footer."""
    t = compiled(SELF_EVALUATION)
    for n in (1, 5, 17, 40):
        p = Project(SELF_EVALUATION, 2024, "行数测试", key=f"rows-{n}")
        p.indicators = [Indicator("产出指标" if k < n // 2 else "效益指标", "数量指标", f"指标{k}", "≥1(次)",
                                  Decimal("1"), "1次") for k in range(n)]
        wb = openpyxl.load_workbook(__import__("io").BytesIO(render(p)))
        ws = wb.active
        last = t.band + n - 1
        assert ws[f"F{last + 1}"].value == f"=ROUND(SUM(F6,F{t.band}:F{last}),2)"
        assert ws.print_area == f"'自评表'!$A$1:$H${last + 2}"
        for rng in ws.merged_cells.ranges:
            if rng.min_col == 1 and t.band <= rng.min_row <= last:
                assert rng.max_row <= last
