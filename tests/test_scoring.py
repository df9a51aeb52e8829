"""Item 3: the scoring rules, their edge cases, and profiles added without code.

Every expected value is computed here independently — by hand in the comment next to it, or with
fractions.Fraction and the small integer rounding helpers below — never by calling the function under test.
"""
from __future__ import annotations

import math
import textwrap
from decimal import Decimal
from fractions import Fraction as F

import pytest

from xlperf import (Override, assess_indicator, execution_rate, funds_score, grade, indicator_score,
                    total)
from xlperf import profiles
from xlperf.errors import NotationError, ProfileError, ScoringError
from xlperf.notation import Judgement, Op

D = Decimal


# ---------------------------------------------------------------- independent rounding on fractions

def _dec(n: int, places: int) -> Decimal:
    return D(n).scaleb(-places)


def down(x: F, places: int = 2) -> Decimal:      # ROUNDDOWN, for x >= 0
    return _dec(math.floor(x * 10 ** places), places)


def up(x: F, places: int = 2) -> Decimal:        # ROUNDUP, for x >= 0
    return _dec(math.ceil(x * 10 ** places), places)


def half_up(x: F, places: int = 2) -> Decimal:   # ROUND (half away from zero), for x >= 0
    return _dec(math.floor(x * 10 ** places + F(1, 2)), places)


@pytest.fixture(autouse=True)
def _fresh_profile_cache():
    profiles.load.cache_clear()
    yield
    profiles.load.cache_clear()


def write_profile(folder, name: str, body: str):
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# ======================================================================== execution rate

@pytest.mark.parametrize("budget,executed,expected", [
    # 131.01 / 132.20 = 99.0998… % → truncated 99.09 (seed 004-02)
    ("132.20", "131.01", down(F(13101, 13220) * 100)),
    # 80.94 / 80.95 = 99.9876… % → 99.98 (seed 004-03)
    ("80.95", "80.94", down(F(8094, 8095) * 100)),
    # 9.53 / 15.00 = 63.5333… % → 63.53 (seed 001-01)
    ("15.00", "9.53", down(F(953, 1500) * 100)),
    ("1.39", "1.39", D("100.00")),
])
def test_execution_rate_shanghai_truncates(budget, executed, expected):
    assert expected in (D("99.09"), D("99.98"), D("63.53"), D("100.00"))  # the printed figures
    assert execution_rate(budget, executed, "shanghai") == expected


@pytest.mark.parametrize("budget,executed,expected", [
    # 2716431.92 / 2730000 = 99.5030… % → ROUNDUP 99.51 (seed 002-03; ROUND would give 99.50)
    ("2730000", "2,716,431.92", up(F(271643192, 273000000) * 100)),
    # 222193.64 / 323200 = 68.7480… % → 68.75 (seed 002-17)
    ("323200.00", "222,193.64", up(F(22219364, 32320000) * 100)),
    # 1909740.24 / 1981900 = 96.3590… % → 96.36 (seed 002-01)
    ("1981900.00", "1909740.24", up(F(190974024, 198190000) * 100)),
])
def test_execution_rate_excel_rounds_up(budget, executed, expected):
    assert expected in (D("99.51"), D("68.75"), D("96.36"))
    assert execution_rate(budget, executed, "excel") == expected


def test_execution_rate_keeps_two_decimals():
    assert str(execution_rate("100", "50")) == "50.00"
    assert str(execution_rate("3", "1", "excel")) == "33.34"      # 33.333… rounded up


def test_execution_rate_accepts_every_amount_notation():
    for budget in ("1,234.50", "1234.5", "1234.50元", D("1234.50"), " 1234.50 "):
        # 1000 / 1234.5 = 81.0044… % → 81.00
        assert execution_rate(budget, "1000") == down(F(1000) / F("1234.5") * 100)


# ---- budget 0 or missing, executed > budget, negative amounts: defined behaviour

def test_budget_zero_and_nothing_spent_is_rate_zero():
    # the forms print 0.00 for the empty 上年结转资金 / 其他资金 rows
    assert execution_rate("0.00", "0.00") == D("0.00")
    assert str(execution_rate("0", "0")) == "0.00"
    assert funds_score("0.00") == D("0.00")


def test_spending_without_budget_is_an_error():
    with pytest.raises(ScoringError, match="全年预算数为 0"):
        execution_rate("0", "5.00")


@pytest.mark.parametrize("budget,executed,name", [
    (None, "5", "全年预算数"), ("", "5", "全年预算数"), ("-", "5", "全年预算数"), ("—", "5", "全年预算数"),
    ("100", None, "全年执行数"), ("100", "", "全年执行数"),
])
def test_missing_amount_is_a_scoring_error(budget, executed, name):
    with pytest.raises(ScoringError) as info:
        execution_rate(budget, executed)
    assert name in str(info.value) and "为空" in str(info.value)


@pytest.mark.parametrize("budget,executed", [("-100", "50"), ("100", "-5"), ("-1", "-1")])
def test_negative_amounts_are_errors(budget, executed):
    with pytest.raises(ScoringError, match="负数"):
        execution_rate(budget, executed)


def test_text_amount_is_a_notation_error():
    with pytest.raises(NotationError, match="全年执行数"):
        execution_rate("100", "九十")


def test_overspending_rate_above_100_score_capped():
    rate = execution_rate("100", "120")
    assert rate == D("120.00")                       # shanghai does not cap the rate
    assert funds_score(rate) == D("10")              # 120 % × 10 = 12, capped at the 分值 10
    assert funds_score(rate, "20") == D("20")


def test_caps_are_profile_settings(tmp_path):
    path = write_profile(tmp_path, "capped", """
        extends = "shanghai"
        name = "capped"
        [funds]
        cap_rate_at_100 = true
        cap_score_at_weight = false
    """)
    assert execution_rate("100", "120", str(path)) == D("100.00")
    # without the score cap 120 % × 10 = 12.00
    assert funds_score("120", "10", str(path)) == D("12.00")


@pytest.mark.parametrize("value", [132.2, 131.01])
def test_floats_rejected_for_amounts(value):
    with pytest.raises(NotationError, match="浮点数"):
        execution_rate(value, "131.01")
    with pytest.raises(NotationError, match="浮点数"):
        execution_rate("132.20", value)


# ======================================================================== funds score

@pytest.mark.parametrize("rate,expected", [
    ("99.09", down(F("99.09") * 10 / 100)),   # 9.909 → 9.90 (seed 004-02)
    ("99.98", down(F("99.98") * 10 / 100)),   # 9.998 → 9.99 (seed 004-03)
    ("63.53", down(F("63.53") * 10 / 100)),   # 6.353 → 6.35 (seed 001-01)
    ("100.00", D("10.00")),
])
def test_funds_score_shanghai(rate, expected):
    assert expected in (D("9.90"), D("9.99"), D("6.35"), D("10.00"))
    assert funds_score(rate) == expected


@pytest.mark.parametrize("rate,expected", [
    ("99.51", half_up(F("99.51") / 10)),   # 9.951 → 9.95
    ("68.75", half_up(F("68.75") / 10)),   # 6.875 → 6.88 (from the rounded rate; 6.87 from the raw one)
    ("96.36%", half_up(F("96.36") / 10)),  # 9.636 → 9.64 — seed 002-01 prints 9.36
])
def test_funds_score_excel(rate, expected):
    assert expected in (D("9.95"), D("6.88"), D("9.64"))
    assert funds_score(rate, "10", "excel") == expected


def test_funds_score_weight():
    # 99.09 % × 20 = 19.818 → 19.81 (truncated); default weight comes from the profile (10)
    assert funds_score("99.09", "20") == down(F("99.09") * 20 / 100)
    assert funds_score("99.09", None) == funds_score("99.09", "10")


def test_funds_score_rejects_negative_and_float():
    with pytest.raises(ScoringError, match="负数"):
        funds_score("-1")
    with pytest.raises(ScoringError, match="负数"):
        funds_score("90", "-10")
    with pytest.raises(NotationError, match="浮点数"):
        funds_score(99.09)
    with pytest.raises(NotationError, match="浮点数"):
        funds_score("99.09", 10.0)


# ======================================================================== indicators: higher is better

@pytest.mark.parametrize("target,actual,weight,expected,met", [
    ("≥4.00(次)", "4.00(次)", "10", D(10), True),
    ("≥90.00(%)", "100.00(%)", "20", D(20), True),
    (">=85人次", "35", "4", down(F(4) * 35 / 85), False),         # 1.647… → 1.64
    (">=90%", "45%", "10", D("5.00"), False),                     # 10 × 45 / 90 = 5
    (">2.00(万)", "3.00(万)", "5", D(5), True),
    (">=4次", "0", "6", D("0.00"), False),
])
def test_higher_is_better(target, actual, weight, expected, met):
    result = assess_indicator(target, actual, weight)
    assert result.proposal == expected
    assert result.met is met
    assert indicator_score(target, actual, weight) == expected


def test_strict_more_than_reached_exactly():
    # > 2 achieved 2: not met; the proportional rule gives 5 × 2 / 2 = 5 — defined, documented
    result = assess_indicator(">2.00(万)", "2.00(万)", "5")
    assert result.met is False
    assert result.proposal == D(5)


def test_equal_to():
    assert indicator_score("=100.00(%)", "100.00(%)", "15") == D(15)
    # =100% achieved 80%: 6 × 80 / 100 = 4.80 (seed 002-02 prints 5: a human departure)
    assert indicator_score("=100%", "80%", "6", "excel") == D("4.80")
    # over-fulfilment of "=" counts as met (shanghai: equal_over_is_met = true)
    result = assess_indicator("=85%", "100%", "6")
    assert result.met is True and result.proposal == D(6)
    # compound unit 1期/月 achieved as 1期/月
    assert indicator_score("=1期/月", "1期/月", "5") == D(5)
    assert indicator_score("7*24小时", "7*24小时", "5") == D(5)


def test_rounding_of_indicator_scores_follows_profile():
    # 10 × 2 / 3 = 6.666…: shanghai truncates to 6.66, excel rounds to 6.67
    assert indicator_score("≥3次", "2次", "10", "shanghai") == down(F(20, 3))
    assert indicator_score("≥3次", "2次", "10", "excel") == half_up(F(20, 3))
    assert down(F(20, 3)) == D("6.66") and half_up(F(20, 3)) == D("6.67")


# ======================================================================== lower is better, zero targets

@pytest.mark.parametrize("target,actual,met", [
    ("≤2.00(次)", "2次", True), ("≤2.00(次)", "0次", True), ("<30分钟", "29分钟", True),
    ("<=5%", "0.5%", True), ("<10%", "0", True),
])
def test_lower_is_better_met(target, actual, met):
    result = assess_indicator(target, actual, "10")
    assert result.met is met and result.proposal == D(10)


def test_lower_is_better_missed_proportional():
    # ≤2 achieved 3: 10 × 2 / 3 = 6.666… → 6.66
    result = assess_indicator("≤2.00(次)", "3次", "10")
    assert result.met is False
    assert result.proposal == down(F(20, 3))
    # ≤10 分钟 achieved 25: 10 × 10 / 25 = 4
    assert indicator_score("≤10(分钟)", "25(分钟)", "10") == D("4.00")


def test_lower_is_better_direction():
    """More is worse for ≤/<: a larger actual never scores more."""
    scores = [indicator_score("<=6小时", f"{h}小时", "10") for h in range(0, 30)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == D(10) and scores[-1] < D(10)


def test_strict_less_than_reached_exactly():
    # < 30 achieved 30: not met; 10 × 30 / 30 = 10 by the proportional rule (documented)
    result = assess_indicator("<30分钟", "30分钟", "10")
    assert result.met is False and result.proposal == D(10)


@pytest.mark.parametrize("target", ["=0件", "=0", "0", "≤0件"])
def test_zero_target(target):
    hit = assess_indicator(target, "0", "5")
    assert hit.met is True and hit.proposal == D(5)
    miss = assess_indicator(target, "1", "5")       # no division by zero: 0 points, said so
    assert miss.met is False and miss.proposal == D(0)
    assert "目标值为0" in miss.rule and "不做比例计算" in miss.rule


def test_zero_target_with_units():
    assert indicator_score("=0件", "0件", "10") == D(10)
    assert indicator_score("=0件", "3件", "10") == D(0)


def test_at_least_zero_is_always_met():
    assert assess_indicator("≥0", "0", "5").proposal == D(5)


# ======================================================================== a region's profile is a file

LINEAR_BODY = """
    extends = "shanghai"
    name = "{name}"
    label = "测试地区（反向指标线性扣分）"
    [indicators]
    lower_is_better = "linear"
    [[grades]]
    grade = "优"
    min = "95"
    [[grades]]
    grade = "差"
    min = "0"
"""


def test_profile_file_by_path_changes_the_rule_without_code(tmp_path):
    path = write_profile(tmp_path, "linear_region", LINEAR_BODY.format(name="linear_region"))
    p = str(path)
    # ≤10 achieved 15: linear 10 × (1 − (15 − 10) / 10) = 5; proportional 10 × 10 / 15 = 6.666… → 6.66
    assert indicator_score("≤10(分钟)", "15(分钟)", "10", p) == D("5.00")
    assert indicator_score("≤10(分钟)", "15(分钟)", "10", "shanghai") == down(F(100, 15))
    # ≤10 achieved 25: linear goes below 0 → 0; proportional 10 × 10 / 25 = 4
    assert indicator_score("≤10(分钟)", "25(分钟)", "10", p) == D(0)
    assert indicator_score("≤10(分钟)", "25(分钟)", "10", "shanghai") == D("4.00")
    # ≤10 achieved 12: linear 10 × (1 − 2/10) = 8
    assert indicator_score("≤10(分钟)", "12(分钟)", "10", p) == D("8.00")
    # at exactly twice the target the linear rule reaches 0
    assert indicator_score("<=6小时", "12小时", "10", p) == D(0)
    # inherited from shanghai: truncation, funds weight, qualitative bands
    assert execution_rate("132.20", "131.01", p) == D("99.09")
    assert indicator_score("建立健全", "部分达成", "20", p) == D("14.00")
    # grades replaced wholesale: 优 from 95, otherwise 差
    assert grade("94.99", p) == "差" and grade("95", p) == "优"
    assert profiles.load(p).label == "测试地区（反向指标线性扣分）"


def test_profile_found_by_name_on_xlperf_profile_path(tmp_path, monkeypatch):
    monkeypatch.setenv("XLPERF_PROFILE_PATH", str(tmp_path))
    assert "testregion" not in profiles.available()          # listed (and cached) before the file exists
    write_profile(tmp_path, "testregion", LINEAR_BODY.format(name="testregion"))
    assert "testregion" in profiles.available()
    assert indicator_score("≤10(分钟)", "15(分钟)", "10", "testregion") == D("5.00")
    assert profiles.load("testregion").lower_is_better == "linear"


def test_profile_can_change_bands_and_weights(tmp_path):
    path = write_profile(tmp_path, "bands", """
        extends = "excel"
        name = "bands"
        [funds]
        weight = "20"
        [qualitative."部分达成"]
        default = "0.75"
        [weights]
        "产出指标" = "40"
    """)
    p = str(path)
    assert indicator_score("提升", "部分达成", "20", p) == D("15.00")     # 20 × 0.75
    assert funds_score("99.51", None, p) == half_up(F("99.51") * 20 / 100)  # 19.902 → 19.90
    assert execution_rate("2730000", "2716431.92", p) == D("99.51")       # inherited ROUNDUP
    assert profiles.load(p).weights["产出指标"] == D(40)
    assert profiles.load(p).weights["效益指标"] == D(30)


def test_unknown_profile_is_a_chinese_error():
    with pytest.raises(ProfileError, match="未知的评分规则"):
        execution_rate("1", "1", "no_such_region")
    with pytest.raises(ProfileError, match="找不到评分规则文件"):
        execution_rate("1", "1", "/no/such/file.toml")


def test_profile_with_float_setting_is_rejected(tmp_path):
    path = write_profile(tmp_path, "floaty", """
        extends = "shanghai"
        name = "floaty"
        [qualitative."部分达成"]
        default = 0.7
    """)
    with pytest.raises(ProfileError, match="字符串"):
        profiles.load(str(path))


# ======================================================================== qualitative targets

@pytest.mark.parametrize("actual,fraction,judgement", [
    ("达成指标", F(1), Judgement.ACHIEVED),
    ("部分达成", F(7, 10), Judgement.PARTIAL),
    ("未达成", F(0), Judgement.NOT_ACHIEVED),
])
def test_qualitative_bands_default(actual, fraction, judgement):
    result = assess_indicator("建立健全", actual, "20")
    assert result.proposal == down(20 * fraction)           # 20, 14, 0
    assert result.met is None
    assert result.actual.judgement is judgement
    assert result.band is profiles.load("shanghai").bands[judgement.value]


def test_qualitative_free_text_counts_as_achieved():
    result = assess_indicator("提升", "有所提升", "5")
    assert result.proposal == D(5)
    assert "文字描述" in result.rule


def test_qualitative_band_ranges():
    # 达成 [80%, 100%] of 20 = [16, 20]; 部分达成 [60%, 80%) = [12, 16); 未达成 [0, 60%) = [0, 12)
    assert assess_indicator("提高", "达成指标", "20").band_range() == (D(16), D(20))
    assert assess_indicator("提高", "部分达成", "20").band_range() == (D(12), D(16))
    assert assess_indicator("提高", "未达成", "20").band_range() == (D(0), D(12))
    assert assess_indicator("≥90%", "95%", "20").band_range() is None


def test_quantitative_target_with_a_judgement_actual_uses_the_bands():
    result = assess_indicator("≥90%", "部分达成", "10")
    assert result.proposal == D("7.00") and result.met is None   # 10 × 0.7


def test_quantitative_target_with_free_text_actual_cannot_be_scored():
    with pytest.raises(ScoringError, match="不是数值"):
        assess_indicator("≥90%", "很好", "10")


def test_unit_mismatch_is_a_finding_not_a_conversion():
    # seed 002-07: 巡检完成次数 ≥4次 achieved "100%" — compared as numbers, flagged
    result = assess_indicator(">=4次", "100%", "6")
    assert result.proposal == D(6)
    assert "单位" in result.finding and "次" in result.finding and "%" in result.finding
    # a bare number takes the target's unit; (%) and % are one unit
    assert assess_indicator("=240本", "240", "5").finding == ""
    assert assess_indicator("≥90.00(%)", "95%", "5").finding == ""


# ======================================================================== overrides

def test_override_on_quantitative_indicator():
    # seed 001-02: ≥90(%) achieved 95.00(%) — met (20) but the evaluator gave 19 with a reason
    result = assess_indicator("≥90(%)", "95.00(%)", "20",
                              override=Override(D("19.00"), "2 家医院客户端出现不能数据上传报错问题。"))
    assert result.proposal == D(20)
    assert result.score == D("19.00")
    assert result.departs is True


def test_override_equal_to_proposal_does_not_depart():
    result = assess_indicator("≥90%", "95%", "20", override=Override("20", "核对无误"))
    assert result.score == D(20) and result.departs is False


def test_override_needs_a_reason():
    for reason in ("", "   ", None):
        with pytest.raises(ScoringError, match="理由"):
            assess_indicator("≥90%", "95%", "20", override=Override(D(19), reason))


@pytest.mark.parametrize("score", ["20.01", "21", "-1"])
def test_override_outside_zero_weight(score):
    with pytest.raises(ScoringError, match="得分不能大于分值|超出范围"):
        assess_indicator("≥90%", "95%", "20", override=Override(score, "理由"))


def test_override_rejects_float():
    with pytest.raises(NotationError, match="浮点数"):
        assess_indicator("≥90%", "95%", "20", override=Override(19.0, "理由"))


@pytest.mark.parametrize("actual,ok,bad", [
    # 达成指标: [16, 20] of 20
    ("达成指标", ["16", "18", "20"], ["15.99", "12"]),
    # 部分达成: [12, 16)
    ("部分达成", ["12", "14", "15.99"], ["16", "11.99", "20"]),
    # 未达成: [0, 12)
    ("未达成", ["0", "11.99"], ["12", "16"]),
    # free text counts as 达成指标
    ("有所提升", ["16", "20"], ["15"]),
])
def test_override_band_checks(actual, ok, bad):
    for score in ok:
        result = assess_indicator("提升", actual, "20", override=Override(score, "评价人判断"))
        assert result.score == D(score)
    for score in bad:
        with pytest.raises(ScoringError, match="档的分数区间"):
            assess_indicator("提升", actual, "20", override=Override(score, "评价人判断"))


def test_override_in_band_seed_001_02():
    # seed 001-02 工作目标完成情况: 达成指标, 18 of 20 (90 %, inside [80 %, 100 %]) with a reason
    result = assess_indicator("预算年度内保障系统正常运行", "达成指标", "20.00",
                              override=Override("18.00", "个别运行出错，在发现后处置解决。"))
    assert result.proposal == D(20) and result.score == D(18) and result.departs


def test_zero_weight_indicator():
    # seed 002-10: cancelled sub-projects print 分值 0 and 得分 0
    assert indicator_score(">=550户", "0", "0") == D(0)
    assert indicator_score("按照项目实施进度计划", "0", "0") == D(0)
    assert assess_indicator(">=550户", "0", "0", override=Override("0", "项目取消")).score == D(0)


def test_negative_weight_rejected():
    with pytest.raises(ScoringError, match="负数"):
        indicator_score("≥90%", "95%", "-5")


def test_indicator_rejects_float_inputs():
    with pytest.raises(NotationError, match="浮点数"):
        indicator_score("≥90%", 95.0, "10")
    with pytest.raises(NotationError, match="浮点数"):
        indicator_score("≥90%", "95%", 10.0)


def test_parsed_values_are_accepted():
    from xlperf.notation import parse_actual, parse_target
    t, a = parse_target("≥90%"), parse_actual("45%")
    assert t.op is Op.GE
    assert indicator_score(t, a, "10") == D("5.00")


# ======================================================================== total and grade

def test_total_is_the_exact_sum():
    # seed 001-01: 6.35 + 10 + 20 + 20 + 20 + 20 = 96.35
    scores = ["6.35", "10.00", "20.00", "20.00", "20.00", "20.00"]
    assert total(scores) == D("96.35")
    assert total(["0.1"] * 10) == D("1.0")               # no binary drift
    assert total([]) == D(0)
    assert total(["9.90", D("15"), 20]) == D("44.90")


def test_total_rejects_float_and_blank():
    with pytest.raises(NotationError, match="浮点数"):
        total(["9.90", 0.1])
    with pytest.raises(NotationError, match="为空"):
        total(["9.90", None])


@pytest.mark.parametrize("score,expected", [
    ("100.00", "优"), ("90", "优"), ("90.00", "优"), ("89.99", "良"), ("80", "良"), ("79.99", "中"),
    ("60", "中"), ("59.99", "差"), ("0", "差"), ("-5", "差"), ("96.35", "优"), ("110", "优"),
])
def test_grade_bands(score, expected):
    assert grade(score) == expected
    assert grade(score, "excel") == expected


def test_grade_rejects_float():
    with pytest.raises(NotationError, match="浮点数"):
        grade(95.5)


def test_engine_functions_nested_keep_the_engines_context_and_trap_conversion():
    """An engine function called from another skips re-entering ENGINE (speed) but still runs
    under it whatever the caller's context, and still turns an arithmetic trap into the
    ScoringError its caller catches (score_project catches per indicator)."""
    import decimal

    from xlperf.scoring import _engine

    @_engine
    def inner(x):
        return x / Decimal(3), x * Decimal("1E+999999")

    @_engine
    def outer(x):
        third, _ = inner(Decimal(1))                 # no trap
        try:
            inner(x)
        except ScoringError as exc:                    # what score_project relies on
            return third, str(exc)
        return third, ""

    with decimal.localcontext(decimal.Context(prec=3, rounding=decimal.ROUND_FLOOR, traps=[])):
        third, message = outer(Decimal("9E+999990"))
        assert decimal.getcontext().prec == 3          # the caller's context is back
    assert third == Decimal("0." + "3" * 50)          # 50 digits: ENGINE's precision, not the caller's 3
    assert "超出可计算的范围" in message
    with pytest.raises(ScoringError, match="超出可计算的范围"):
        inner(Decimal("9E+999990"))
