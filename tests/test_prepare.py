"""One validation path for `xlperf fill` and `xlperf generate` (xlperf.prepare): printed scores
become 人工调整得分, weights must total 100 and may not be negative; a blank or unreadable
target gives no score in the formulas, as in the engine."""
from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import yaml

from xlperf import cli
from xlperf.generate import render
from xlperf.model import SELF_EVALUATION, FundsLine, Indicator, Project
from xlperf.scoring import score_project
from xlperf.seeds import load

from test_generate import _seed_project_dict


def _cached(path, name: str):
    wb = openpyxl.load_workbook(path, data_only=True)
    dest = next(iter(wb.defined_names[name].destinations))
    return wb[dest[0]][dest[1].replace("$", "").split(":")[0]].value


def test_fill_seed_honours_the_printed_scores_as_generate_does(tmp_path):
    out = tmp_path / "001-02.xlsx"
    assert cli.main(["fill", "--seed", "001-02", "-o", str(out)]) == 0
    printed = next(f.printed for f in load() if f.project.key == "001-02")
    assert Decimal(repr(_cached(out, "xp_total_score"))) == Decimal(printed.total.replace(",", ""))


def _project_file(tmp_path, weights: list[str]):
    data = _seed_project_dict("001-01")
    for row, w in zip(data["indicators"], weights):
        row["weight"] = w
        row.pop("score", None)
    path = tmp_path / "项目.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, data


def test_fill_refuses_negative_weights_and_totals_other_than_100(tmp_path, capsys):
    data = _seed_project_dict("001-01")
    n = len(data["indicators"])
    rest = Decimal(100) - Decimal(data["funds"][0]["weight"])
    even = [str((rest / n).quantize(Decimal("0.01")))] * (n - 1)
    even.append(str(rest - sum(Decimal(w) for w in even)))
    # the same total of 100, one weight negative
    negative = [str(Decimal(even[0]) + Decimal(even[1]) + 15), "-15", *even[2:]]
    assert sum(Decimal(w) for w in negative) == rest
    for weights, fragment in ((negative, "分值不能为负数"), ([str(Decimal(even[0]) + 10), *even[1:]], "分值合计为 110")):
        src, _ = _project_file(tmp_path, weights)
        out = tmp_path / "表.xlsx"
        assert cli.main(["fill", str(src), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert fragment in err and str(src) in err, err
        assert not out.exists()


def test_a_blank_target_scores_nothing_in_the_formulas_as_in_the_engine():
    p = Project(SELF_EVALUATION, 2024, "空目标")
    p.funds["年度资金总额"] = FundsLine(Decimal(100), Decimal(100), Decimal(100))
    p.funds_weight = Decimal(10)
    p.indicators = [Indicator("产出指标", "数量指标", "甲", "", Decimal(45), "达成指标"),
                    Indicator("产出指标", "数量指标", "乙", ">=abc", Decimal(45), "达成指标")]
    assert score_project(p).total is None
    ws = openpyxl.load_workbook(io.BytesIO(render(p))).active
    assert ws["K13"].value == '=""' and ws["K14"].value == '=""'


def test_weights_are_non_negative_at_input_in_generate_and_in_the_engine(tmp_path, capsys):
    """Issue 12 item 4: a weight below 0 is refused by the form's validation (every 分值 cell),
    by generate (naming the register's cell) as by fill (above), and by the engine."""
    import copy
    import re
    import zipfile

    import pytest

    from xlperf import register
    from xlperf.errors import ScoringError
    from xlperf.scoring import indicator_score

    p = copy.deepcopy(next(f.project for f in load() if f.project.key == "001-01"))
    xml = zipfile.ZipFile(io.BytesIO(render(p))).read("xl/worksheets/sheet1.xml").decode()
    n = len(p.indicators)
    dv = next(m for m in re.finditer(r"<dataValidation [^>]*>.*?</dataValidation>", xml) if "分值" in m.group(0))
    assert 'type="decimal"' in dv.group(0) and 'operator="between"' in dv.group(0)
    assert "<formula1>0</formula1><formula2>100</formula2>" in dv.group(0)
    assert re.search(rf'sqref="F6 F13:F{12 + n}"', dv.group(0)), dv.group(0)

    for ind in p.indicators:
        ind.score = ind.override = None
    p.indicators[0].weight += p.indicators[1].weight + 15      # the total stays 100
    p.indicators[1].weight = Decimal(-15)
    reg = tmp_path / "登记表.xlsx"
    reg.write_bytes(register.register_bytes([p]))
    assert cli.main(["generate", str(reg), "--out", str(tmp_path / "out"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "分值不能为负数" in err and "登记表.xlsx" in err and "单元格" in err, err
    with pytest.raises(ScoringError, match="负数"):
        indicator_score("≥1", "1", "-1")
