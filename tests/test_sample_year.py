"""Issue 6, done-when: the sample year generated from ``workbooks/`` plus text-faithful
copies of the five seed forms, harvested into one summary.

Every expectation comes from outside the code under test: the figures are the seeds'
printed strings (``workbooks/seeds.yaml``, transcribed from ``shared/seeds``) and the
findings are the hand-made lists of true findings in ``test_validate`` (``EXPECTED`` for
the 自评表, ``BLANK_TARGETS`` for the 申报表).
"""
from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

import hostile_corpus as hc
from test_validate import BLANK_TARGETS, EXPECTED
from xlperf import cli, report, seeds

ROOT = Path(__file__).resolve().parent.parent
REGISTER = ROOT / "workbooks" / "样例登记表.xlsx"

#: What a generated workbook recomputes from its inputs (formulas), so a printed mistake
#: of the seed cannot survive into it; the generator refuses the 110/105-weight projects.
COMPUTED = {"funds_score", "total", "weights"}
REFUSED = {"002-04", "002-05", "002-06", "002-12", "002-16"}


def _d(text: str) -> Decimal | None:
    text = (text or "").replace(",", "").replace("%", "").strip()
    return Decimal(text) if text and text not in ("-", "—") else None


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    root = tmp_path_factory.mktemp("year")
    gen = root / "收集" / "年度"
    assert cli.main(["generate", str(REGISTER), "--out", str(gen), "-j", "1", "-q"]) == 1   # 5 refused
    originals = root / "收集" / "原表"
    originals.mkdir()
    for seed in hc.load_seeds():
        # The printed originals stand beside forms generated for the same projects: under
        # their own unit names, or the harvest would rightly take them for duplicates (#17.8).
        seed = dict(seed, projects=[dict(p, unit=p["unit"] + "（原表）") for p in seed["projects"]])
        hc.write_seed_workbook(originals / f"{seed['source'][:3]}.xlsx", seed)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "收集").rglob("*.xlsx")}
    parser = argparse.ArgumentParser(prog="xlperf")
    report.register_cli(parser.add_subparsers())
    out, html = root / "汇总.xlsx", root / "报告.html"
    args = parser.parse_args(["harvest", str(root / "收集"), "-o", str(out), "--html", str(html), "--workers", "0"])
    code = args.func(args)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "收集").rglob("*.xlsx")}
    return {"root": root, "code": code, "out": out, "html": html, "unchanged": before == after,
            "forms": {f.id: f for f in seeds.load()}}


def _sheet(path: Path, name: str) -> list[dict]:
    ws = openpyxl.load_workbook(path, read_only=True)[name]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def _seed_of(row: dict, forms) -> str:
    """The seed project a summary row is: its file (原表/002.xlsx, sheet 002-01) or its
    generated name (年度/<单位>/<年>_<名称>_<表>.xlsx)."""
    if "原表" in Path(row["文件"]).parts:
        return row["工作表"]
    matches = [f.id for f in forms.values() if f.project.unit == row["实施单位"] and f.project.name == row["项目名称"]
               and f.project.kind == ("申报表" if row["文件"].endswith("申报表.xlsx") else "自评表")]
    assert len(matches) == 1, (row["文件"], matches)
    return matches[0]


def test_every_form_is_read_and_nothing_is_touched(year):
    assert year["unchanged"]
    projects = _sheet(year["out"], "项目汇总")
    declarations = _sheet(year["out"], "申报汇总")
    origin = Counter("原表" if "原表" in Path(r["文件"]).parts else "年度" for r in projects + declarations)
    # 34 printed 自评表 + 40 printed 申报表; generated: 29 自评表 (34 − 5 refused) + 40 申报表.
    assert len(projects) == 34 + 29 and len(declarations) == 40 + 40
    assert origin == {"原表": 74, "年度": 69}
    assert year["code"] == 1                      # the printed errors are 错误


def test_summary_figures_are_the_printed_ones(year):
    forms = year["forms"]
    for row in _sheet(year["out"], "项目汇总"):
        sid = _seed_of(row, forms)
        f = forms[sid]
        main = f.printed.funds_row("年度资金总额")
        assert row["金额单位"] == f.project.money_unit, sid
        assert Decimal(str(row["全年预算数"])) == _d(main.budget), sid
        assert Decimal(str(row["全年执行数"])) == _d(main.executed), sid
        assert Decimal(str(row["执行率(%)"])).quantize(Decimal("0.01")) == _d(main.rate), sid
        generated = "原表" not in Path(row["文件"]).parts
        total = Decimal(str(row["总分"])).quantize(Decimal("0.01"))
        if not (generated and sid == "002-01"):
            assert total == _d(f.printed.total), sid
        else:                                         # recomputed: 96.36% → 9.64, not the printed 9.36
            assert total == _d(f.printed.total) + Decimal("0.28")
        if f.printed.grade:
            assert row["评分等级"] == f.printed.grade, sid


def test_declaration_figures_are_the_printed_ones(year):
    forms = year["forms"]
    for row in _sheet(year["out"], "申报汇总"):
        sid = _seed_of(row, forms)
        printed = dict(forms[sid].printed.declared_funds)
        for col, field in (("项目资金总额", "project_total"), ("年度资金申请总额", "annual_total")):
            want = _d(printed.get(field, ""))
            assert (Decimal(str(row[col])) if row[col] is not None else None) == want, (sid, col)
        assert row["指标数"] == len(forms[sid].printed.indicators), sid


def test_findings_are_the_true_ones_and_no_others(year):
    forms = year["forms"]
    names = {v: k for k, v in report.CHECK_NAMES.items() if k not in ("funds_over", "declared_missing",
                                                                       "declared_funds")}
    got: dict[tuple[str, bool], Counter] = {}
    for row in _sheet(year["out"], "检查结果"):
        assert row["项目名称"], row                  # every finding belongs to a project
        sid = _seed_of(row, forms)
        generated = "原表" not in Path(row["文件"]).parts
        got.setdefault((sid, generated), Counter())[(names[row["检查项"]], row["严重程度"])] += 1
    want: dict[tuple[str, bool], Counter] = {}
    for sid, items in EXPECTED.items():
        want[(sid, False)] = Counter(items)
        if sid not in REFUSED:
            kept = Counter(i for i in items if i[0] not in COMPUTED)
            if kept:
                want[(sid, True)] = kept
    for sid, n in BLANK_TARGETS.items():
        want[(sid, False)] = want[(sid, True)] = Counter({("missing", "警告"): n})
    assert got == want


def test_the_audit_error_is_found_where_it_is_printed(year):
    rows = [r for r in _sheet(year["out"], "检查结果") if r["检查项"] == "预算执行率得分"]
    (r,) = rows
    assert (r["表上值"], r["应为"], r["工作表"], Path(r["文件"]).name) == ("9.36", "9.64", "002-01", "002.xlsx")


def test_html_report_lists_both_kinds(year):
    text = year["html"].read_text(encoding="utf-8")
    assert "自评表项目 63 个" in text and "申报表项目 80 个" in text
    assert "申报表一览" in text and text.count('id="d') == 80 and text.count('id="p') == 63
