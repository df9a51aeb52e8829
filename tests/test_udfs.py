"""The Excel functions (xlperf.udfs) called as plain Python, with floats as Excel passes them.

Every expected figure is the engine's (xlperf.scoring) or printed on a seed form; a UDF result
must equal the engine's Decimal to the cent: Decimal(repr(result)) == engine value.
"""
from __future__ import annotations

import datetime as dt
import inspect
import random
from decimal import Decimal

import pytest

from xlperf import notation, scoring, udfs
from xlperf.udfs import XLPERF_FUNDS_SCORE, XLPERF_GRADE, XLPERF_PARSE, XLPERF_RATE, XLPERF_SCORE


def same(result, expected) -> bool:
    """A float from a UDF equals an engine Decimal to the cent (and is a float, not a str)."""
    return isinstance(result, float) and Decimal(repr(result)) == Decimal(expected)


def is_error(result, *words) -> bool:
    return (isinstance(result, str) and result.startswith("#VALUE! ") and "Traceback" not in result
            and all(w in result for w in words))


# ---------------------------------------------------------------- seed figures

@pytest.mark.parametrize("budget, executed, profile, rate, score", [
    (132.2, 131.01, "shanghai", "99.09", "9.90"),          # seed 004-02: truncated, not rounded
    (80.95, 80.94, "shanghai", "99.98", "9.99"),           # seed 004-03
    (15.0, 9.53, "shanghai", "63.53", "6.35"),             # schema example of seed 001
    (2730000.0, 2716431.92, "excel", "99.51", "9.95"),     # seed 002: ROUNDUP rate, ROUND score
    (323200.0, 222193.64, "excel", "68.75", "6.88"),       # seed 002: score from the rounded rate
])
def test_rate_and_funds_score_reproduce_the_seed_forms(budget, executed, profile, rate, score):
    r = XLPERF_RATE(budget, executed, profile)
    assert same(r, rate)
    assert same(XLPERF_FUNDS_SCORE(r, 10.0, profile), score)


def test_doubles_are_read_by_their_shortest_repr_not_their_binary_value():
    # Decimal(1.15) is 1.149999…: truncating that would print 1.14. The cell holds 1.15.
    assert Decimal(1.15) < Decimal("1.15")
    assert same(XLPERF_RATE(100.0, 1.15), "1.15")
    assert scoring.execution_rate(Decimal(100), Decimal(1.15)) == Decimal("1.14")  # the trap avoided
    # 131.01 never becomes 131.0099999…
    assert same(XLPERF_RATE(131.01, 131.01), "100.00")


def test_typed_numbers_are_taken_exactly_as_typed():
    # Every number typed into a cell has at most 15 significant digits; its double's shortest
    # repr is that number, however small or large.
    assert same(XLPERF_RATE(132.2, 131.01), "99.09")
    assert XLPERF_PARSE(131.01) == "定量 =131.01：运算符 =，数值 131.01，无单位；实际值 = 131.01 即达成"
    assert "数值 0.00000000000000000001，" in XLPERF_PARSE(1e-20)                  # 1e-20 stays exact
    assert "数值 123456789012345，" in XLPERF_PARSE(123456789012345.0)           # 15 digits
    assert "数值 0.123456789012345，" in XLPERF_PARSE(0.123456789012345)
    assert same(XLPERF_RATE(100.0, 1e-20, "excel"), "0.01")                    # ROUNDUP sees the 1e-20


#: The proposed change of xlperf.notation.from_excel (15 significant digits for results of
#: Excel's arithmetic). Until it is applied these tests must fail; afterwards they run normally.
FIFTEEN_DIGITS = pytest.mark.xfail(not hasattr(notation, "EXCEL_DIGITS"), strict=True,
                                   reason="xlperf.notation.from_excel does not yet read 16-17 digit "
                                          "doubles at Excel's 15 significant digits (proposed patch)")


def binary_sum(values):
    total = 0.0
    for v in values:          # left to right in doubles (Python 3.12's sum() compensates)
        total += v
    return total


@FIFTEEN_DIGITS
def test_results_of_excel_arithmetic_are_taken_at_15_significant_digits():
    # A cell =0.1+0.2 holds the double 0.30000000000000004 and shows 0.3; =0.1+0.7 holds
    # 0.7999999999999999 and shows 0.8. The engine must see what the cell shows.
    assert 0.1 + 0.2 == 0.30000000000000004 and 0.1 + 0.7 == 0.7999999999999999
    assert XLPERF_PARSE(0.1 + 0.2) == XLPERF_PARSE(0.3)
    assert same(XLPERF_RATE(1.0, 0.1 + 0.7), "80.00")             # not 79.99 (truncated 79.999…)
    assert same(XLPERF_RATE(0.1 + 0.2, 0.3), "100.00")            # a budget summed in Excel
    # Sums of two-decimal scores added up in binary, as a worksheet SUM can produce them:
    total = binary_sum([3.74, 3.3, 13.11, 20.81, 20.05, 28.99])
    assert total == 89.99999999999999
    assert XLPERF_GRADE(total) == "优"                             # the cell shows 90
    rate = binary_sum([17.44, 25.42, 4.16, 10.65, 2.87, 9.05, 30.41])
    assert rate == 99.99999999999999
    assert same(XLPERF_FUNDS_SCORE(rate, 10.0), "10.00")          # not 9.99 (truncated 9.999…)
    # 16-17 significant digits only come from arithmetic; fewer are kept as they are.
    assert notation.from_excel(0.1 + 0.2) == Decimal("0.3")
    assert notation.from_excel(1e-20) == Decimal("1E-20")
    assert notation.from_excel(5.551115123125783e-17) == Decimal("5.55111512312578E-17")   # =(0.1+0.2-0.3)


def test_rate_equals_the_engine_for_many_two_decimal_amounts():
    rng = random.Random(20240501)
    for _ in range(400):
        budget = Decimal(rng.randint(1, 10_000_000)) / 100
        executed = Decimal(rng.randint(0, 12_000_000)) / 100
        for profile in ("shanghai", "excel"):
            expected = scoring.execution_rate(str(budget), str(executed), profile)
            result = XLPERF_RATE(float(budget), float(executed), profile)
            assert same(result, expected), (budget, executed, profile, result, expected)
            assert same(XLPERF_FUNDS_SCORE(result, 10.0, profile), scoring.funds_score(expected, "10", profile))


def test_numbers_as_text_are_read_by_the_engine():
    assert same(XLPERF_RATE("2,730,000.00", "2,716,431.92", "excel"), "99.51")
    assert same(XLPERF_FUNDS_SCORE("99.51%", "10", "excel"), "9.95")   # seed 002 prints the % sign


def test_funds_score_is_capped_at_the_weight_and_uses_the_given_weight():
    rate = XLPERF_RATE(100.0, 120.0)
    assert same(rate, "120.00")
    assert same(XLPERF_FUNDS_SCORE(rate, 10.0), "10")
    assert same(XLPERF_FUNDS_SCORE(99.09, 20.0), scoring.funds_score("99.09", "20"))


# ------------------------------------------------------------------- indicators

@pytest.mark.parametrize("target, actual, weight", [
    ("≥90.00(%)", "95.00(%)", 15.0),       # seed 004-02, met
    ("≥90%", "85%", 15.0),                 # missed: proportional
    ("≥12.00(次)", "10(次)", 10.0),
    ("≤2.00(次)", "3次", 10.0),            # lower is better, missed
    ("<30分钟", "20分钟", 5.0),
    ("=100.00(%)", "100.00(%)", 15.0),
    ("=0件", "1件", 10.0),                 # zero target: no division
    ("建立健全", "达成指标", 20.0),
    ("提升", "部分达成", 10.0),
    ("有效保障", "未达成", 10.0),
    ("=12.00(月)", 12.0, 10.0),            # a numeric actual cell
    (100.0, "100", 10.0),                  # a numeric target cell
])
def test_indicator_score_equals_the_engine(target, actual, weight):
    def engine_value(v):
        return Decimal(repr(v)) if isinstance(v, float) else v
    for profile in ("shanghai", "excel"):
        expected = scoring.indicator_score(engine_value(target), engine_value(actual),
                                           Decimal(repr(weight)), profile)
        assert same(XLPERF_SCORE(target, actual, weight, profile), expected), (target, actual, profile)


def test_indicator_score_rounding_follows_the_profile():
    # 15 × 85 / 90 = 14.1666…: shanghai truncates, excel rounds half up.
    assert same(XLPERF_SCORE("≥90%", "85%", 15.0), "14.16")
    assert same(XLPERF_SCORE("≥90%", "85%", 15.0, "excel"), "14.17")
    assert same(XLPERF_SCORE("建立健全", "部分达成", 10.0), "7.00")


def test_a_percentage_turned_into_a_fraction_by_excel_is_reported_not_mis_scored():
    # Typing 95% into a General cell stores 0.95: against ≥90% it would score 0.15 of 15.
    assert is_error(XLPERF_SCORE("≥90.00(%)", 0.95, 15.0), "实际完成值", "0.95", "文本格式")
    assert is_error(XLPERF_SCORE(0.9, "95%", 15.0), "年度指标值", "文本格式")
    # A plain number against a plain number is fine, and so is 0 against a percentage.
    assert same(XLPERF_SCORE("=12", 12.0, 10.0), "10")
    assert same(XLPERF_SCORE("≤5%", 0.0, 10.0), "10")


def test_grade_bands():
    assert XLPERF_GRADE(99.9) == "优"
    assert XLPERF_GRADE(90.0) == "优"
    assert XLPERF_GRADE(89.99) == "良"
    assert XLPERF_GRADE(80.0) == "良"
    assert XLPERF_GRADE(60.0, "excel") == "中"
    assert XLPERF_GRADE(59.99) == "差"
    assert XLPERF_GRADE("95") == "优"


# ------------------------------------------------------------------------ parse

def test_parse_shows_how_a_value_is_read():
    assert XLPERF_PARSE("≥12.00(次)") == "定量 ≥12.00(次)：运算符 ≥，数值 12.00，单位 次；越高越好：实际值 ≥ 12.00 即达成"
    assert "反向指标" in XLPERF_PARSE("<=6小时") and "单位 小时" in XLPERF_PARSE("<=6小时")
    assert "目标为 0" in XLPERF_PARSE("=0件")
    assert XLPERF_PARSE("部分达成").startswith("判断「部分达成」")
    assert XLPERF_PARSE("建立健全").startswith("定性「建立健全」")
    assert XLPERF_PARSE(95.0) == "定量 =95：运算符 =，数值 95，无单位；实际值 = 95 即达成"
    assert "单位 %" in XLPERF_PARSE("$\\geq 90\\%$")            # PDF/LaTeX artefact of the seeds
    assert is_error(XLPERF_PARSE(">=>5"), "无法识别", ">=>5")


# ------------------------------------------------------------ blanks and errors

@pytest.mark.parametrize("blank", [None, "", "  ", "-", "—"])
def test_blank_inputs_give_an_empty_string(blank):
    assert XLPERF_RATE(blank, 1.0) == ""
    assert XLPERF_RATE(10.0, blank) == ""
    assert XLPERF_FUNDS_SCORE(blank, 10.0) == ""
    assert XLPERF_FUNDS_SCORE(99.0, blank) == ""
    assert XLPERF_SCORE(blank, "95%", 10.0) == ""
    assert XLPERF_SCORE("≥90%", blank, 10.0) == ""
    assert XLPERF_SCORE("≥90%", "95%", blank) == ""
    assert XLPERF_GRADE(blank) == ""
    assert XLPERF_PARSE(blank) == ""


def test_inputs_the_engine_cannot_score_give_readable_messages():
    assert is_error(XLPERF_RATE(0.0, 5.0), "全年预算数为 0")
    assert is_error(XLPERF_RATE(-1.0, 5.0), "负数")
    assert is_error(XLPERF_RATE("十万", 5.0), "全年预算数", "十万")
    assert is_error(XLPERF_RATE(float("nan"), 5.0), "无效")
    assert is_error(XLPERF_SCORE("≥90%", "很好", 10.0), "不是数值")
    assert is_error(XLPERF_SCORE("≥90%", "95%", -1.0), "分值不能为负数")
    assert is_error(XLPERF_SCORE("≥", "95%", 10.0), "缺少数字")


def test_excel_specific_inputs_give_readable_messages():
    assert is_error(XLPERF_RATE("#DIV/0!", 5.0), "错误值 #DIV/0!")
    assert is_error(XLPERF_RATE([[1.0, 2.0]], 5.0), "单个单元格")
    assert is_error(XLPERF_RATE(True, 5.0), "逻辑值 TRUE")
    assert is_error(XLPERF_RATE(dt.datetime(2024, 1, 1), 5.0), "日期")
    assert is_error(XLPERF_SCORE("#N/A", "95%", 10.0), "#N/A")


def test_profile_argument():
    assert XLPERF_RATE(132.2, 131.01, None) == XLPERF_RATE(132.2, 131.01) == 99.09
    assert XLPERF_RATE(132.2, 131.01, "") == 99.09
    assert XLPERF_RATE(132.2, 131.01, " excel ") == 99.1     # ROUNDUP of 99.0998…
    assert is_error(XLPERF_RATE(132.2, 131.01, "beijing"), "未知的评分规则「beijing」")
    assert is_error(XLPERF_RATE(132.2, 131.01, 3.0), "评分规则应为文字")


def test_an_unexpected_failure_is_a_message_not_a_traceback(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("磁盘已满")
    monkeypatch.setattr(scoring, "execution_rate", boom)
    assert is_error(XLPERF_RATE(10.0, 5.0), "内部错误", "RuntimeError", "磁盘已满")


# --------------------------------------------------------------- registration

def test_signatures_match_the_udf_template_and_the_argument_docs():
    expected = {
        "XLPERF_RATE": ["budget", "executed", "profile"],
        "XLPERF_FUNDS_SCORE": ["rate", "weight", "profile"],
        "XLPERF_SCORE": ["target", "actual", "weight", "profile"],
        "XLPERF_GRADE": ["total", "profile"],
        "XLPERF_PARSE": ["text"],
    }
    assert list(udfs.UDFS) == list(expected)
    for name, params in expected.items():
        fn = getattr(udfs, name)
        sig = inspect.signature(fn)
        assert list(sig.parameters) == params
        if "profile" in params:
            assert sig.parameters["profile"].default is None
        description, docs = udfs.UDF_SPECS[name]
        assert [arg for arg, _ in docs] == params
        assert fn.__doc__ == description and len(description) <= 255   # Excel's MacroOptions limit
        assert all(len(doc) <= 255 and any("\u4e00" <= c <= "\u9fff" for c in doc) for _, doc in docs)


def test_results_are_plain_floats_and_strings():
    assert type(XLPERF_RATE(132.2, 131.01)) is float
    assert type(XLPERF_GRADE(95.0)) is str
    assert type(XLPERF_SCORE("≥90%", "95%", 15.0)) is float


def test_the_module_registers_as_xlwings_does_it_on_windows(monkeypatch):
    # On Windows with pywin32, xw.func/xw.arg are xlwings.udfs.xlfunc/xlarg, and the UDF server
    # reads each function's __xlfunc__ (names, docs, conversion options, optional defaults).
    # Load udfs.py afresh with the pinned xlwings' real decorators, as Windows would.
    import importlib.util

    import xlwings

    from xlperf.addin import vba
    with vba.xlwings_udf_generator() as generator:
        monkeypatch.setattr(xlwings, "func", generator.xlfunc, raising=False)
        monkeypatch.setattr(xlwings, "arg", generator.xlarg, raising=False)
        spec = importlib.util.spec_from_file_location("xlperf._udfs_as_on_windows", udfs.__file__)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    for name in udfs.UDFS:
        info = getattr(module, name).__xlfunc__
        description, docs = udfs.UDF_SPECS[name]
        assert info["name"] == name and info["category"] == "绩效自评" and not info["sub"]
        assert info["ret"]["doc"] == description
        assert [(a["name"], a["doc"]) for a in info["args"]] == docs
        assert all(a["options"] == {"err_to_str": True} and not a["vararg"] for a in info["args"])
        assert [a.get("optional", "required") for a in info["args"]] == \
            ["required"] * (len(docs) - 1) + [None if docs[-1][0] == "profile" else "required"]
    # xlwings.udfs.call_udf turns an omitted optional argument (VBA's Missing, -2147352572)
    # into that default (None): the profile is then shanghai.
    args_info = module.XLPERF_RATE.__xlfunc__["args"]
    args = [132.2, 131.01, -2147352572]
    args = [args_info[i].get("optional") if a == -2147352572 else a for i, a in enumerate(args)]
    assert args == [132.2, 131.01, None] and module.XLPERF_RATE(*args) == 99.09
