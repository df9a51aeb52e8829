"""Regressions found by the round-trip property tests (tests/test_roundtrip.py), each as the
smallest workbook that showed it: overrides not read, typed text taken for HTML, a value
that reads like a footer label ending the indicator table, a partial 总分."""
from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest

from xlperf import libreoffice
from xlperf.generate import render
from xlperf.harvest import read_workbook
from xlperf.model import SELF_EVALUATION, FundsLine, Indicator, Project
from xlperf.scoring import score_project


def _named(wb, name, index=0):
    (sheet, ref), = list(wb.defined_names[name].destinations)
    got = wb[sheet][ref.replace("$", "")]
    cells = [c for row in got for c in row] if isinstance(got, tuple) else [got]
    return cells[index]


def _form(indicators, budget="100", executed=None):
    p = Project(SELF_EVALUATION, 2024, "复现项目", "某委员会", "某中心")
    p.funds["年度资金总额"] = FundsLine(Decimal(budget), Decimal(budget), None if executed is None else Decimal(executed))
    p.funds_weight = Decimal("10")
    p.indicators = indicators
    return p


def test_harvest_reads_the_manual_override_column(tmp_path):
    """A unit types 人工调整得分 (column L, xp_ind_override) with its reason; the harvested
    Indicator.override should be that score."""
    register = _form([Indicator("满意度指标", "服务对象满意度指标", "满意度", "≥90%", Decimal("90"))])
    wb = openpyxl.load_workbook(io.BytesIO(render(register)))
    _named(wb, "xp_ind_actual").value = "85%"
    _named(wb, "xp_ind_override").value = Decimal("80")
    _named(wb, "xp_ind_note").value = "问卷样本不足，按抽样结果人工调整"
    wb.save(tmp_path / "f.xlsx")
    (got,) = read_workbook(tmp_path / "f.xlsx").projects
    assert got.indicators[0].note == "问卷样本不足，按抽样结果人工调整"   # read
    assert got.indicators[0].override == Decimal("80")                     # got None


@pytest.mark.parametrize("text", ["实际值 x<y 且 z>w", "R&D&copy 部门", "AT&amp;T 合同"])
def test_free_text_keeps_angle_brackets_and_ampersands(tmp_path, text):
    """Text a unit types into an xlperf workbook (偏差原因, 实际完成情况, goals) is harvested as typed."""
    register = _form([Indicator("产出指标", "数量指标", "次数", "≥4次", Decimal("90"))])
    wb = openpyxl.load_workbook(io.BytesIO(render(register)))
    _named(wb, "xp_ind_actual").value = "3次"
    _named(wb, "xp_ind_note").value = text
    _named(wb, "xp_actual_result").value = text
    wb.save(tmp_path / "f.xlsx")
    (got,) = read_workbook(tmp_path / "f.xlsx").projects
    assert (got.indicators[0].note, got.actual_result) == (text, text)   # got 'xw' / 'R&D© 部门' / 'AT&T 合同'


@pytest.mark.libreoffice
def test_total_is_blank_until_every_score_is_there(tmp_path):
    """An incomplete 自评表 (one 实际完成值 still empty): the engine's 总分 is None (and the
    评分等级 formula is blank), but the workbook's 总分 formula shows the partial sum."""
    register = _form([Indicator("产出指标", "数量指标", "次数", "≥4次", Decimal("45")),
                      Indicator("效益指标", "社会效益指标", "效果", "≥90%", Decimal("45"))], executed="50")
    wb = openpyxl.load_workbook(io.BytesIO(render(register)))
    _named(wb, "xp_ind_actual", 0).value = "4次"          # the second actual is not filled yet
    wb.save(tmp_path / "f.xlsx")
    (out,) = libreoffice.recalculate([tmp_path / "f.xlsx"], tmp_path / "lo")
    (got,) = read_workbook(out).projects
    filled = _form([Indicator("产出指标", "数量指标", "次数", "≥4次", Decimal("45"), actual="4次"),
                    Indicator("效益指标", "社会效益指标", "效果", "≥90%", Decimal("45"))], executed="50")
    s = score_project(filled)
    assert (s.funds_score, s.total, s.grade) == (Decimal("5"), None, None)
    assert got.grade == ""                    # the grade formula waits for every score
    assert got.total_score == s.total         # got Decimal('50'): 5 + 45, a partial total


@pytest.mark.parametrize("text", ["合计", "总分", "评分等级：待定", "三级指标"])
def test_a_value_that_reads_like_a_footer_label_does_not_end_the_indicator_table(tmp_path, text):
    """A 偏差原因 (or 三级指标) typed as 合计 / 总分 made the harvester stop the indicator table
    there, silently dropping every indicator of the form (no problem reported)."""
    p = _form([Indicator("产出指标", "数量指标", f"指标{k}", "≥1次", Decimal("30")) for k in range(3)])
    p.indicators[2].level3 = text
    wb = openpyxl.load_workbook(io.BytesIO(render(p)))
    _named(wb, "xp_ind_note", 0).value = text
    for k in range(3):
        _named(wb, "xp_ind_actual", k).value = "1次"
    wb.save(tmp_path / "f.xlsx")
    res = read_workbook(tmp_path / "f.xlsx")
    (got,) = res.projects
    assert [(i.level3, i.note, i.actual) for i in got.indicators] == \
        [("指标0", text, "1次"), ("指标1", "", "1次"), (text, "", "1次")]   # got [] (or 2 rows for 三级指标)
    assert got.grade == ""
