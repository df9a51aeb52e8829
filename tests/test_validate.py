"""Item 2: checks of harvested 自评表 (xlperf.validate).

The seed forms are the fixtures: every finding on the 34 printed 自评表 projects is listed
below with the reason it is true (most are named in the transcriber's remarks in
workbooks/seeds.yaml); anything else reported on them would be a false finding. Then each
check is triggered by a deliberately broken copy of a correct seed project.
"""
from __future__ import annotations

import copy
import json
import time
from decimal import Decimal

import pytest

from xlperf import seeds, validate
from xlperf.model import DECLARATION, Indicator, Project
from xlperf.validate import ERROR, NOTE, WARNING, check_project, check_projects, infer_profile, review_project

D = Decimal


@pytest.fixture(scope="module")
def forms():
    return {f.id: f for f in seeds.load()}


def project(forms, pid) -> Project:
    """A fresh copy of a seed project (tests mutate it)."""
    return copy.deepcopy(forms[pid].project)


def kinds(findings):
    return sorted((f.check, f.severity) for f in findings)


# Every finding on the printed seeds, and why it is true. Projects not listed: none.
EXPECTED = {
    # 人员满意度 ≥80.00(分) achieved 90.00(分) scored 9.00 of 10 with no reason written (remarks);
    # three docked scores with a reason written are legitimate human judgements: 提示.
    "001-02": [("departure", NOTE)] * 3 + [("reason", WARNING)],
    # The audit: 96.36% × 10 = 9.64, printed 9.36 (remarks).
    "002-01": [("funds_score", ERROR)],
    # 培训按时完成率 =100% achieved 80%: rule 4.80, scored 5 with a reason.
    "002-02": [("departure", NOTE)],
    # 分值 column sums to 110 and the printed 总分 is 100 minus points lost (remarks);
    # 应急演练人次数 ≥85 achieved 35: rule 1.65, scored 3 with a reason.
    "002-04": [("departure", NOTE), ("total", ERROR), ("weights", ERROR)],
    "002-05": [("total", ERROR), ("weights", ERROR)],
    "002-06": [("total", ERROR), ("weights", ERROR)],
    # 巡检完成次数 >=4次 answered 100% (remarks: actual in a different unit).
    "002-07": [("unit", WARNING)],
    # 医疗质量抽检户次数 >=100户 answered 930户次: 户次 (visits) is not 户 (households).
    "002-10": [("unit", WARNING)],
    "002-12": [("total", ERROR), ("weights", ERROR)],
    # 信息系统正常运行率 prints 分值 10 (5 in its siblings): weights 105, scores 105, printed 100.
    "002-16": [("total", ERROR), ("weights", ERROR)],
    # Same 巡检完成次数 >=4次 → 100% as 002-07.
    "002-17": [("unit", WARNING)],
}


def self_evaluations(forms):
    return [f for f in forms.values() if f.kind == "自评表"]


# ------------------------------------------------------------------ the seeds as printed

def test_seed_findings_are_exactly_the_true_ones(forms):
    evaluated = self_evaluations(forms)
    assert len(evaluated) == 34
    for f in evaluated:
        got = kinds(check_project(f.project))
        assert got == sorted(EXPECTED.get(f.id, [])), (f.id, [x.message_zh for x in check_project(f.project)])


def test_zero_findings_on_every_correct_001_and_004_project(forms):
    clean = [f for f in self_evaluations(forms) if f.seed in ("001", "004") and f.id not in EXPECTED]
    assert len(clean) == 14  # all but 001-02, whose true findings are listed above
    for f in clean:
        assert check_project(f.project) == [], f.id
    # 001-02: no 错误 at all, its departures with a reason are only 提示.
    assert all(x.severity != ERROR for x in check_project(forms["001-02"].project))


def test_002_01_funds_score_error_is_found(forms):
    p = project(forms, "002-01")
    p.cells = {"funds_score": "H6", "funds_rate": "G6", "total_score": "G30"}
    p.source_file, p.source_sheet = "监督所/执法办案.xlsx", "自评表"
    (f,) = check_project(p)
    assert (f.severity, f.check, f.found, f.expected) == (ERROR, "funds_score", "9.36", "9.64")
    assert (f.file, f.sheet, f.cell) == ("监督所/执法办案.xlsx", "自评表", "H6")
    assert "96.36%" in f.message_zh and "在任何评分规则下都无法得出" in f.message_zh
    # Under either rounding it is wrong (ROUND 9.64, ROUNDDOWN 9.63): never silently accepted.
    for name in ("shanghai", "excel"):
        assert any(x.check == "funds_score" and x.found == "9.36" for x in check_project(p, profile=name))


def test_002_prints_no_grade_and_that_is_not_a_finding(forms):
    for f in self_evaluations(forms):
        if f.seed == "002":
            assert f.project.grade == ""
            assert not any(x.check == "grade" for x in check_project(f.project))


def test_departures_with_reason_are_notes_not_errors(forms):
    findings = check_project(forms["001-02"].project)
    notes = [f for f in findings if f.check == "departure"]
    assert {f.found for f in notes} == {"19.00", "9.00", "18.00"}
    assert all(f.severity == NOTE for f in notes)
    (warning,) = [f for f in findings if f.check == "reason"]
    # The finding stands at the blank reason cell: 表上 is that cell, the scores are in the text.
    assert (warning.severity, warning.found, warning.expected) == (WARNING, "空", "偏差原因分析及改进措施")
    assert "人员满意度" in warning.message_zh and "偏差原因" in warning.message_zh
    assert "得分 9.00" in warning.message_zh and "应得 10.00" in warning.message_zh


# ------------------------------------------------------------------ profile inference

def test_inferred_profiles_match_the_seeds(forms):
    for f in self_evaluations(forms):
        name, why = infer_profile(f.project)
        assert name == {"001": "shanghai", "004": "shanghai", "002": "excel"}[f.seed], (f.id, why)
    name, why = infer_profile(forms["002-01"].project)
    assert "9.36" in why and "任何规则下都无法得出" in why


def test_inference_ignores_the_declared_profile(forms):
    # A form made elsewhere: the harvester cannot know its rounding; the figures decide.
    p = project(forms, "002-03")  # 2716431.92 / 2730000 = 99.503% printed 99.51%: ROUNDUP
    p.profile = "shanghai"
    assert infer_profile(p)[0] == "excel"
    assert check_project(p) == []
    p = project(forms, "004-02")  # 131.01 / 132.20 = 99.0998% printed 99.09: truncated
    p.profile = "excel"
    assert infer_profile(p)[0] == "shanghai"
    assert check_project(p) == []


def test_a_99_51_for_99_503_is_not_an_error_but_a_9_36_for_96_36_is():
    p = Project(kind="自评表", year=2022, name="示例", profile="shanghai")
    p.funds["年度资金总额"].budget, p.funds["年度资金总额"].executed = D("2730000"), D("2716431.92")
    p.funds_weight, p.funds_rate, p.funds_score = D("10"), D("99.51"), D("9.95")
    name, why = infer_profile(p)
    assert name == "excel" and "2 个可由此规则得出" in why
    p.funds_score = D("9.36")
    assert infer_profile(p)[0] == "excel"
    assert kinds(validate.check_project(p)) == [("funds_score", ERROR)]


def test_unrounded_formula_results_are_compared_as_shown(forms):
    """A unit's own Excel copy may compute =E6/D6 under a 0.00% format: the cell stores
    96.359034…, the form shows 96.36. Compared as shown, with binary noise in the sum."""
    p = project(forms, "002-01")
    p.funds_rate = D("96.3590342600535")               # 1909740.24 / 1981900 × 100, as a double
    p.funds_score = D("9.63590342600535")
    p.total_score = D("99.63590342600536")             # 90 + the score, summed in binary
    assert check_project(p) == []
    p.funds_score = D("9.3590342600535")               # shows 9.36: still the printed error
    p.total_score = D("99.3590342600535")
    (f,) = check_project(p)
    assert (f.check, f.expected) == ("funds_score", "9.64")


def test_sub_row_rates_decide_when_the_main_row_divides_exactly():
    """53555.79 / 84300 is exactly 63.53%: every profile reproduces it. The 当年财政拨款 row,
    9.53 / 15 = 63.5333…% printed 63.53, truncates: ROUNDUP would give 63.54. Found by the
    harvest benchmark, where the tie went to the alphabetically first profile (excel) and
    the sub-row was then reported as wrong."""
    p = Project(kind="自评表", year=2022, name="示例", profile="")
    main, sub = p.funds["年度资金总额"], p.funds["当年财政拨款"]
    main.budget, main.executed, p.funds_rate = D("84300"), D("53555.79"), D("63.53")
    p.funds_weight, p.funds_score = D("10"), D("6.35")
    sub.budget, sub.executed, sub.rate = D("15"), D("9.53"), D("63.53")
    # the rest of the money, so that the total is its sub-rows' sum (no rate printed: not a figure)
    p.funds["上年结转资金"].budget, p.funds["上年结转资金"].executed = D("84285"), D("53546.26")
    name, why = infer_profile(p)
    assert name == "shanghai" and "3 个可由此规则得出" in why, why
    assert check_project(p) == []
    sub.rate = D("63.54")              # now the sub-row says ROUNDUP
    assert infer_profile(p)[0] == "excel"
    assert check_project(p) == []
    sub.rate = D("63.60")              # fits no profile: the main row alone picks, the sub-row is reported
    assert [(f.check, f.expected) for f in check_project(p)] == [("rate", "63.53")]


def test_nothing_to_infer_from():
    p = Project(kind="自评表", year=2023, name="空表", profile="excel")
    name, why = infer_profile(p)
    assert name is None and "没有" in why
    chk = review_project(p)
    assert chk.profile == "excel" and "excel" in chk.profile_explanation


def test_per_file_inference_pools_the_projects_of_one_form(forms):
    group = [f.project for f in self_evaluations(forms) if f.seed == "002"]
    checks = check_projects(group)
    assert {c.profile for c in checks} == {"excel"}
    assert "19 个项目合并推断" in checks[0].profile_explanation
    assert sum(len(c.findings) for c in checks) == sum(len(v) for k, v in EXPECTED.items() if k[:3] == "002")


# ------------------------------------------------------------------ each check, triggered

def test_rate_not_reproduced(forms):
    p = project(forms, "004-02")
    p.funds_rate, p.funds_score = D("99.10"), D("9.91")  # 131.01 / 132.20 = 99.0998…
    f = [x for x in check_project(p, profile="shanghai") if x.check == "rate"][0]
    assert (f.severity, f.found, f.expected) == (ERROR, "99.10", "99.09")
    assert "金额单位万元" in f.message_zh  # computed in the form's own money unit
    assert "按规则「excel」可得出" in f.message_zh  # 99.10 is what ROUNDUP gives


def test_rate_under_every_rounding(forms):
    p = project(forms, "004-03")
    p.funds_rate = D("98.98")
    f = [x for x in check_project(p) if x.check == "rate"][0]
    assert f.expected == "99.98" and "任何评分规则下都无法得出" in f.message_zh


def test_funds_score_above_weight(forms):
    p = project(forms, "004-01")
    p.funds_score, p.total_score = D("11.00"), D("101.00")
    assert ("funds_over", ERROR) in kinds(check_project(p))


def test_indicator_score_above_weight(forms):
    p = project(forms, "004-01")
    p.indicators[3].score, p.total_score = D("21.00"), D("101.00")
    f = [x for x in check_project(p) if x.check == "score_over"][0]
    assert (f.severity, f.found, f.expected) == (ERROR, "21.00", "20.00")


def test_weights_must_total_100(forms):
    p = project(forms, "004-01")
    p.indicators[0].weight = D("15.00")
    f = [x for x in check_project(p) if x.check == "weights"][0]
    assert (f.severity, f.found, f.expected) == (ERROR, "105.00", "100")
    assert "产出 35.00" in f.message_zh


def test_total_is_the_sum(forms):
    p = project(forms, "004-02")
    p.total_score = D("99.09")
    f = [x for x in check_project(p) if x.check == "total"][0]
    assert (f.severity, f.found, f.expected) == (ERROR, "99.09", "99.90")


def test_grade_matches_total(forms):
    p = project(forms, "001-01")
    p.grade = "良"
    assert [(f.check, f.found, f.expected) for f in check_project(p)] == [("grade", "良", "优")]
    p.total_score, p.indicators[1].score, p.grade = D("86.35"), D("10.00"), "优"  # 达成 band: 16–20
    got = {f.check: f for f in check_project(p)}
    assert got["grade"].expected == "良" and got["band"].severity == ERROR


def test_score_outside_qualitative_band(forms):
    p = project(forms, "004-01")
    ind = p.indicators[3]             # 有效保障 / 达成指标, 分值 20: band [16, 20]
    ind.score, ind.note = D("15.00"), "部分时段保障不到位"
    p.total_score = D("95.00")
    f = [x for x in check_project(p) if x.check == "band"][0]
    assert (f.severity, f.found, f.expected) == (ERROR, "15.00", "[16, 20]")
    ind.actual = "部分达成"           # band [12, 16): 15 is inside, 14 (default) is the rule
    assert kinds(check_project(p)) == [("departure", NOTE)]


def test_missed_target_without_reason(forms):
    p = project(forms, "001-01")
    ind = p.indicators[0]             # ≥4.00(次), 分值 10
    ind.actual, ind.score = "3.00(次)", D("7.50")
    p.total_score = D("93.85")
    (f,) = check_project(p)
    assert (f.check, f.severity, f.found, f.expected) == ("reason", WARNING, "空", "偏差原因分析及改进措施")
    assert "未达到年度指标值" in f.message_zh
    ind.note = "疫情期间停检一次"
    assert check_project(p) == []     # missed, scored by the rule, reason written: nothing to say


def test_qualitative_not_achieved_without_reason(forms):
    p = project(forms, "004-01")
    ind = p.indicators[4]             # 建立健全, 分值 20
    ind.actual, ind.score, p.total_score = "未达成", D("0.00"), D("80.00")
    got = kinds(check_project(p))
    assert ("reason", WARNING) in got
    assert all(c != "band" for c, _ in got)


def test_actual_unit_differs_from_target(forms):
    p = project(forms, "001-01")
    p.indicators[0].actual = "4.00(个)"
    f = [x for x in check_project(p) if x.check == "unit"][0]
    assert (f.severity, f.found, f.expected) == (WARNING, "个", "次")
    p.indicators[0].actual = "4"      # a bare number takes the target's unit: fine
    assert check_project(p) == []
    p.indicators[0].actual = "4.00次"  # (次) and 次 are the same unit
    assert check_project(p) == []


def test_unreadable_and_missing_figures(forms):
    p = project(forms, "001-01")
    p.indicators[0].actual = "大约四次"
    assert ("unreadable", WARNING) in kinds(check_project(p))
    p = project(forms, "001-01")
    p.funds_score = None
    got = kinds(check_project(p))
    assert ("missing", WARNING) in got
    p = project(forms, "001-01")
    p.indicators[2].actual = None
    assert ("missing", WARNING) in kinds(check_project(p))


def test_engine_refusals_are_findings(forms):
    p = project(forms, "001-01")
    p.funds["其他资金"].budget, p.funds["其他资金"].executed = D("0"), D("5.00")
    f = [x for x in check_project(p) if x.check == "engine"][0]
    assert f.severity == ERROR and "其他资金" in f.message_zh
    # An xlperf workbook's 人工调整得分 without a reason: the engine refuses it as an override,
    # the check reports it as what it is to the user, a human score without its 偏差原因 (警告).
    p = project(forms, "001-01")
    p.indicators[0].override = D("9.00")
    p.indicators[0].score = D("9.00")
    p.total_score = D("95.35")
    assert kinds(check_project(p)) == [("reason", WARNING)]
    p.indicators[0].note = "复核后扣 1 分"
    assert kinds(check_project(p)) == [("departure", NOTE)]    # a human score with its reason: for review


def _declaration(self_eval: Project) -> Project:
    d = Project(kind=DECLARATION, year=self_eval.year, name=self_eval.name, unit=self_eval.unit,
                money_unit="元", source_file="申报/卫生银联专线.xlsx")
    d.indicators = [Indicator(i.level1, i.level2, i.level3, i.target) for i in self_eval.indicators]
    d.declared.annual_total = self_eval.funds["年度资金总额"].initial * 10000
    return d


def test_targets_against_the_declaration(forms):
    p = project(forms, "004-01")
    d = _declaration(p)
    assert check_project(p, d) == []                              # same targets, 1.39 万元 = 13900 元
    d.indicators[0].target = "=12(月)"                            # same value, other printing
    assert check_project(p, d) == []
    d.indicators[1].target = "≥95.00(%)"                          # drift: =100% → ≥95%
    d.indicators.append(Indicator("满意度指标", "服务对象满意度指标", "患者满意度", "≥90%"))
    d.declared.annual_total = D("15000")
    got = check_project(p, d)
    drift = [f for f in got if f.check == "declared"][0]
    assert (drift.severity, drift.found, drift.expected) == (ERROR, "=100.00(%)", "≥95.00(%)")   # the score basis moved
    assert "患者满意度" in [f for f in got if f.check == "declared_missing"][0].message_zh
    money = [f for f in got if f.check == "declared_funds"][0]
    assert (money.severity, money.found, money.expected) == (NOTE, "1.39", "1.50")


def test_declarations_are_matched_by_unit_and_name(forms):
    p = project(forms, "004-01")
    d = _declaration(p)
    d.indicators[1].target = "≥95.00(%)"
    other = _declaration(project(forms, "004-02"))
    (chk,) = check_projects([p], [other, d])
    assert chk.declared is d and [f.check for f in chk.findings] == ["declared"]


# ------------------------------------------------------------------ 申报表 on their own

# The printed 申报表 (seeds 000 and 003) whose 指标值 cell is empty, counted off the seed
# text (rows such as "质量指标\t验收合格率" with nothing after the name).
BLANK_TARGETS = {"003-06": 2, "003-12": 1, "003-13": 2, "003-15": 1, "003-21": 1, "003-22": 1, "003-26": 1,
                 "003-27": 1, "003-29": 1, "003-30": 1}


def test_seed_declarations_give_exactly_the_blank_targets(forms):
    decls = [f for f in forms.values() if f.kind == DECLARATION]
    assert len(decls) == 40
    for f in decls:
        got = kinds(check_project(f.project))
        assert got == [("missing", WARNING)] * BLANK_TARGETS.get(f.id, 0), f.id


def test_declared_funds_must_add_up(forms):
    p = project(forms, "000-02")                      # 2,758,878.00 = 2,758,878.00 + blank
    assert check_project(p) == []
    p.declared.project_other = D("100.00")
    (f,) = check_project(p)
    assert (f.check, f.severity, f.found, f.expected) == ("decl_sum", ERROR, "2758878.00", "2758978.00")
    assert "项目资金总额" in f.message_zh and "其他资金 100.00" in f.message_zh
    p = project(forms, "003-01")
    p.declared.annual_fiscal -= 1
    (f,) = check_project(p)
    assert f.check == "decl_sum" and "年度资金申请总额" in f.message_zh and f.expected == "742999"
    p = project(forms, "003-01")
    p.declared.annual_total = p.declared.annual_fiscal = p.declared.project_total + 1
    (f,) = check_project(p)
    assert (f.check, f.severity) == ("decl_sum", WARNING) and "大于项目资金总额" in f.message_zh
    p = project(forms, "003-01")
    p.declared.project_fiscal = p.declared.project_other = None
    (f,) = check_project(p)
    assert (f.check, f.severity) == ("missing", WARNING) and "均未填写" in f.message_zh


def test_a_blank_or_unreadable_self_evaluation_target_is_said_at_its_cell(forms):
    """Issue 13: the finding names the target's cell with the target as 表上值, not the actual's."""
    p = project(forms, "001-01")
    p.cells = {"indicators.0.target": "D13", "indicators.0.actual": "E13", "indicators.0.score": "G13"}
    p.indicators[0].target = "≥(次)"                   # an operator with no number
    (f,) = [f for f in check_project(p) if f.check == "unreadable"]
    assert (f.cell, f.found) == ("D13", "≥(次)")
    p.indicators[0].target = ""
    (f,) = [f for f in check_project(p) if f.cell == "D13"]
    assert (f.check, f.severity, f.found) == ("missing", WARNING, "") and "年度指标值为空" in f.message_zh
    p.indicators[0].target, p.indicators[0].actual = "≥4.00(次)", "大约四次"
    (f,) = [f for f in check_project(p) if f.check == "unreadable"]
    assert (f.cell, f.found) == ("E13", "大约四次")


def test_declaration_dates_targets_and_weights(forms):
    p = project(forms, "000-01")
    p.start, p.end = "2023-12-31", "2023-01-01"
    assert kinds(check_project(p)) == [("decl_dates", ERROR)]
    p = project(forms, "000-01")
    p.indicators[0].target = "≥(次)"                   # an operator with no number
    (f,) = check_project(p)
    assert (f.check, f.found) == ("unreadable", "≥(次)")
    p = project(forms, "000-01")
    p.indicators = []
    assert kinds(check_project(p)) == [("missing", WARNING)]
    p = project(forms, "000-01")                      # 6 indicators
    for ind in p.indicators:
        ind.weight = D("15")
    assert check_project(p) == []                     # 预算执行率 10 + 6 × 15 = 100
    p.indicators[5].weight = D("16")
    (f,) = check_project(p)
    assert (f.check, f.severity, f.found, f.expected) == ("weights", ERROR, "101", "100")


def test_plan_dates_outside_the_year_are_flagged(forms):
    p = project(forms, "000-01")
    assert p.year == 2023 and check_project(p) == []
    p.year = 2024                                     # a title moved to 2024, dates left at 2023
    p.cells.update(start="B6", end="D6")
    got = check_project(p)
    assert [(f.check, f.severity, f.found, f.expected) for f in got] == [
        ("decl_year", WARNING, "2023-01-01", "2024 年内的日期"), ("decl_year", WARNING, "2023-12-31", "2024 年内的日期")]
    assert [f.cell for f in got] == ["B6", "D6"]
    p.start, p.end = "2024-03-01", "2024-11-30"
    assert check_project(p) == []


def test_spending_over_the_budget_is_a_warning(forms):
    p = project(forms, "004-01")
    line = p.funds["当年财政拨款"]
    line.budget, line.executed, line.rate = D("120.5"), D("130"), None
    p.cells["funds.当年财政拨款.executed"] = "E7"
    (f,) = [f for f in check_project(p) if f.check == "overspent"]
    assert (f.severity, f.found, f.expected) == (WARNING, "130", "≤ 120.5")
    assert f.cell == "E7" and "超支 9.5" in f.message_zh
    line.executed = D("120.5")                        # spent exactly the budget: fine
    assert not [f for f in check_project(p) if f.check == "overspent"]


def test_every_check_type_is_exercised():
    """The module docstring's list of checks is the list the tests above trigger."""
    import re
    documented = set(re.findall(r"``(\w+)``", validate.__doc__.split("What is checked")[1]
                                .split("The rounding")[0]))
    documented -= {"check"}
    triggered = {"rate", "funds_score", "funds_over", "score_over", "weights", "total", "grade", "band",
                 "reason", "departure", "unit", "declared", "declared_missing", "declared_funds",
                 "missing", "unreadable", "engine", "decl_sum", "decl_dates", "decl_year", "overspent",
                 "subrows"}    # tests/test_regions.py triggers it on the other regions' forms
    assert documented == triggered


# ------------------------------------------------------------------ shape, speed, CLI

def test_a_finding_is_a_harvest_problem():
    from xlperf import harvest
    assert issubclass(validate.Finding, harvest.Problem)
    f = validate.Finding(ERROR, "a.xlsx", "自评表", "H6", "说明", "9.36", "9.64", check="funds_score")
    assert (f.severity, f.file, f.sheet, f.cell, f.message_zh, f.found, f.expected) == (
        "错误", "a.xlsx", "自评表", "H6", "说明", "9.36", "9.64")
    assert validate.severity_text(harvest.Severity.WARNING) == WARNING


def test_findings_have_every_field(forms):
    p = project(forms, "002-04")
    for f in check_project(p):
        assert f.severity in validate.SEVERITIES
        assert f.file == p.source_file and f.sheet == p.source_sheet
        assert isinstance(f.found, str) and isinstance(f.expected, str)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in f.message_zh)


def test_check_is_pure(forms):
    p = forms["002-01"].project
    before = copy.deepcopy(p)
    check_project(p)
    assert p == before


def test_checking_all_seeds_is_fast(forms):
    evaluated = [f.project for f in self_evaluations(forms)]
    t0 = time.perf_counter()
    for _ in range(5):
        check_projects(evaluated)
    assert (time.perf_counter() - t0) / 5 < 1.0


def _fake_run(forms, ids):
    projects = [copy.deepcopy(forms[i].project) for i in ids]
    return validate.check_harvest(type("H", (), {"projects": projects, "problems": []})())


def run_cli(argv) -> int:
    """This module's sub-command alone (other modules' commands are not under test here)."""
    import argparse
    parser = argparse.ArgumentParser(prog="xlperf")
    validate.register_cli(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_check_exit_code_and_json(forms, monkeypatch, capsys):
    monkeypatch.setattr(validate, "check_paths", lambda *a, **k: _fake_run(
        forms, ["002-01", "004-01"]))
    assert run_cli(["check", "any", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["counts"][ERROR] == 1
    (f,) = [x for p in out["projects"] for x in p["findings"]]
    assert (f["found"], f["expected"], f["severity"]) == ("9.36", "9.64", ERROR)
    monkeypatch.setattr(validate, "check_paths", lambda *a, **k: _fake_run(
        forms, ["004-01", "001-02"]))
    assert run_cli(["check", "any"]) == 0          # warnings and notes only
    text = capsys.readouterr().out
    assert "警告 1 条" in text and "提示 3 条" in text and "未发现问题" in text


def test_the_generators_placeholder_is_no_reason(forms):
    """A register score that departs from the rule is generated with a request for a reason
    in 偏差原因; harvested unchanged, it is still a missing reason."""
    from xlperf.scoring import has_reason, pending_reason
    p = project(forms, "001-02")
    ind = p.indicators[-1]                               # 人员满意度 9 of 10, no reason printed
    ind.note = pending_reason(ind.score, D("10.00"))
    assert not has_reason(ind.note) and has_reason("复核后扣 1 分")
    assert ("reason", WARNING) in kinds(check_project(p))
    ind.note = "问卷样本不足，复核后扣 1 分"
    assert ("reason", WARNING) not in kinds(check_project(p))


def test_an_override_without_a_reason_is_a_missing_reason_not_an_engine_error(forms):
    """What the generator now writes for a register score without reason: 人工调整得分 9,
    偏差原因 blank. The check asks for the reason at the note cell, like a printed score."""
    p = project(forms, "001-02")
    ind = p.indicators[-1]
    ind.override, ind.note = ind.score, ""
    p.cells["indicators.5.note"] = "H18"
    got = [(f.check, f.severity) for f in check_project(p)]
    assert ("reason", WARNING) in got and ("engine", ERROR) not in got
    (f,) = [f for f in check_project(p) if f.check == "reason"]
    assert f.cell == "H18"
    ind.override = D("11")                                # above 分值: still an error
    assert ("score_over", ERROR) in kinds(check_project(p))


def test_a_sub_row_rate_that_does_not_reproduce(forms):
    p = project(forms, "004-01")                          # prints a rate on every funds row
    fiscal = p.funds["当年财政拨款"]
    assert fiscal.rate is not None and check_project(p) == []
    fiscal.rate += D("0.01")
    (f,) = check_project(p)
    assert (f.check, f.severity, f.expected) == ("rate", ERROR, format(fiscal.rate - D("0.01"), "f"))
    assert "当年财政拨款" in f.message_zh


def test_a_percentage_typed_as_a_fraction_is_pointed_out(forms):
    """0.95 typed against ≥90(%) is scored as 0.95% (the engine reads what is written); the
    check says at the actual's cell that 95% was probably meant, as the printed form's 请核对
    does. 95 without a unit, 0.95%, and a small number under a ≤ target are not pointed out."""
    def fraction_findings(target, actual):
        p = project(forms, "001-02")
        ind = p.indicators[1]
        assert ind.target == "≥90(%)"
        ind.target, ind.actual, ind.note = target, actual, "说明"
        return [f for f in check_project(p) if f.check == "unit"]

    (f,) = fraction_findings("≥90(%)", "0.95")
    assert (f.severity, f.found, f.expected) == (WARNING, "0.95", "95%")
    assert "95%" in f.message_zh and "请写成" in f.message_zh
    (f,) = fraction_findings("=100%", D("1"))       # a number cell holding 1 against =100%
    assert f.expected == "100%"
    for target, actual in (("≥90(%)", "95"), ("≥90(%)", "0.95%"), ("≤5%", "0.5"), ("≥0.5%", "0.8")):
        assert fraction_findings(target, actual) == [], (target, actual)


def test_identity_fast_path_agrees_with_the_character_rule():
    """validate.identity skips its per-character filter for printable text without a space:
    for every code point (alone and inside a name) it gives what the filter gives."""
    import sys
    import unicodedata

    from xlperf.validate import identity

    def by_character(text):
        s = unicodedata.normalize("NFKC", text)
        return "".join(ch for ch in s if unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp")
                       and not ch.isspace()).casefold()

    # every code point up to the CJK block (controls, spaces, format characters, full-width
    # forms), the other format/space characters by name, a sample of the rest
    special = [0x1680, 0x180E, 0x2028, 0x2029, 0x202F, 0x205F, 0x2060, 0x3000, 0xFEFF, 0xFFF9, 0xFFFB,
               0x110BD, 0x1D173, 0xE0001, 0xE0020, 0xE007F, 0xF0000, 0x10FFFD]
    for cp in [*range(0x3100), *range(0x3100, sys.maxunicode + 1, 61), *special, *range(0xFE00, 0xFF00)]:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        for text in (ch, f"单位{ch}甲"):
            assert identity(text) == by_character(text), hex(cp)
    assert identity("单位\u200b甲") == identity("单位 甲") == identity("单位甲")
