"""xlperf recalc: reads a filled workbook by its defined names, re-scores it with the
engine, writes a 检查结果 sheet, and leaves every input value as it was."""
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from xlperf.errors import XlperfError
from xlperf.generate import write
from xlperf.recalc import RecalcError, read_file, recalc_file
from xlperf.scoring import execution_rate, funds_score
from xlperf.seeds import load


@pytest.fixture()
def filled(tmp_path) -> Path:
    project = next(f.project for f in load() if f.project.key == "004-02")
    return write(project, tmp_path / "004-02.xlsx")


def _inputs(path):
    ws = openpyxl.load_workbook(path)["自评表"]
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row
            if c.value is not None and not (isinstance(c.value, str) and c.value.startswith("="))}


def test_recalc_rescores_after_an_edit_and_keeps_inputs(filled, tmp_path):
    wb = openpyxl.load_workbook(filled)
    ws = wb["自评表"]
    ws["E6"] = 120.5                   # 全年执行数 changed by the user (万元)
    ws["L13"] = 14                     # a docked score without a reason
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    before = _inputs(edited)

    out, findings = recalc_file(edited)
    assert out.name == "edited_重算.xlsx" and edited.exists()
    values = openpyxl.load_workbook(out, data_only=True)["自评表"]
    rate = execution_rate("132.20", "120.50")  # 120.50 / 132.20 = 0.911497… → 91.14 (truncated)
    assert rate == Decimal("91.14")
    assert Decimal(repr(values["G6"].value)) == rate
    assert Decimal(repr(values["H6"].value)) == funds_score(rate, 10) == Decimal("9.11")
    assert values["G13"].value == 14
    after = _inputs(out)
    assert {k: v for k, v in after.items() if k in before} == before
    sheet = openpyxl.load_workbook(out)["检查结果"]
    messages = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value)
    assert "系统开发功能完成率" in messages and "未填写偏差原因" in messages     # a docked score asks for its reason
    assert "为空" not in messages  # computed cells are recomputed, not reported
    assert any(f.severity in ("警告", "错误") for f in findings)


def test_recalc_refuses_to_overwrite_without_flag(filled):
    recalc_file(filled)
    with pytest.raises(RecalcError):
        recalc_file(filled)
    target, _ = recalc_file(filled, force=True)
    assert target.with_name(target.name + ".bak").exists()


def test_read_file_names_the_file_for_a_foreign_workbook(tmp_path):
    path = tmp_path / "plain.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(RecalcError, match="xp_ind_level1"):
        read_file(path)


def test_bad_amount_names_file_sheet_and_cell_and_changes_nothing(filled, tmp_path):
    wb = openpyxl.load_workbook(filled)
    wb["自评表"]["D6"] = "一百"
    bad = tmp_path / "bad.xlsx"
    wb.save(bad)
    before = bad.read_bytes()
    with pytest.raises(XlperfError) as err:
        recalc_file(bad)
    message = str(err.value)
    assert "bad.xlsx" in message and "自评表" in message and "D6" in message and "全年预算数" in message
    assert bad.read_bytes() == before
    assert not (tmp_path / "bad_重算.xlsx").exists()
