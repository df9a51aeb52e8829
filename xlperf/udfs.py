"""Excel functions of the xlperf add-in (xlwings UDFs): thin calls into the engine.

``=XLPERF_RATE(全年预算数, 全年执行数, [规则])``, ``=XLPERF_FUNDS_SCORE(执行率, 分值, [规则])``,
``=XLPERF_SCORE(年度指标值, 实际完成值, 分值, [规则])``, ``=XLPERF_GRADE(总分, [规则])`` and
``=XLPERF_PARSE(指标值)``. The ``udf`` template mode passes the workbook's profile cell as the last
argument (``=XLPERF_SCORE(D14,E14,F14,$B$3)``); without it the profile is ``shanghai``.

Conventions (each function is a thin wrapper; every rule lives in :mod:`xlperf.scoring`):

* Excel hands numbers over as binary doubles. Each is converted to the decimal Excel shows
  by :func:`xlperf.notation.from_excel` before the engine sees it (shortest repr: 131.01 →
  ``Decimal("131.01")``; a result of Excel's binary arithmetic such as =0.1+0.2 is taken at
  Excel's 15 significant digits), so the engine's exact decimal arithmetic works on what the
  cell shows. The same conversion serves ``xlperf recalc`` and ``harvest``: nothing here is
  specific to the cell functions.
* Results go back as ``float``: the engine's 2-decimal ``Decimal`` → the nearest double,
  whose repr is that same decimal (``Decimal(repr(result)) == engine result``).
* Blank inputs (an empty cell, ``-``/``—`` as the forms print) give ``""`` so a half-filled
  form stays clean; inputs the engine cannot score give a readable ``"#VALUE! …"`` string
  in Chinese, never a Python traceback.

On Windows with pywin32 the ``xw.func``/``xw.arg`` decorators register the functions for
the add-in; elsewhere they are no-ops, so the functions are plain Python (the tests call
them with floats exactly as Excel would pass them). The decorator arguments live in
:data:`UDF_SPECS` so ``xlperf addin build`` can generate the add-in's VBA wrappers with the
pinned xlwings' own generator on any platform.
"""
from __future__ import annotations

import datetime as _dt
import functools
import logging
from decimal import Decimal

import xlwings as xw

from . import scoring
from .errors import NotationError, XlperfError
from .model import DEFAULT_PROFILE
from .notation import Judgement, Op, Quantity, from_excel, is_blank, parse_actual, parse_target, \
    to_decimal
from .profiles import get as _get_profile

logger = logging.getLogger(__name__)

#: Category of the functions in Excel's function wizard (设置 via MacroOptions at finish time).
CATEGORY = "绩效自评"
#: What an error cell arrives as when read with xlwings' ``err_to_str`` option.
EXCEL_ERRORS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!",
                          "#SPILL!", "#CALC!", "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#BUSY!",
                          "#CONNECT!", "#UNKNOWN!"})
ERROR_PREFIX = "#VALUE! "

_PROFILE_DOC = "评分规则名称（可选）：shanghai 或 excel 等；生成的自评表会引用工作簿中的规则单元格。省略时为 shanghai。"

#: name → (function description, [(argument, description), …]). The single source of the
#: Chinese texts Excel shows in the function wizard (Ctrl+A / fx).
UDF_SPECS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "XLPERF_RATE": (
        "预算执行率(%) = 全年执行数 ÷ 全年预算数 × 100，按评分规则取两位小数（shanghai 截尾，excel 向上舍入）。",
        [("budget", "全年预算数（与执行数同一金额单位，元或万元）"),
         ("executed", "全年执行数"),
         ("profile", _PROFILE_DOC)]),
    "XLPERF_FUNDS_SCORE": (
        "预算执行率得分 = 执行率% × 分值，按评分规则取两位小数；超过分值时按分值计。",
        [("rate", "执行率（百分数，如 99.09；通常引用 XLPERF_RATE 的结果单元格）"),
         ("weight", "分值（预算执行率一行的分值，通常为 10）"),
         ("profile", _PROFILE_DOC)]),
    "XLPERF_SCORE": (
        "绩效指标得分：按年度指标值的写法（≥、≤、=、定性…）和实际完成值给出规则建议分。",
        [("target", "年度指标值，如 ≥90.00(%)、≤2(次)、=12(月)、建立健全"),
         ("actual", "实际完成值，如 95%、12(月)；定性指标填 达成指标 / 部分达成 / 未达成"),
         ("weight", "该指标的分值"),
         ("profile", _PROFILE_DOC)]),
    "XLPERF_GRADE": (
        "评分等级：按总分给出 优 / 良 / 中 / 差（等级分界取自评分规则）。",
        [("total", "总分"),
         ("profile", _PROFILE_DOC)]),
    "XLPERF_PARSE": (
        "显示一个指标值是如何被识别的（运算符、数值、单位、定性/判断），用于核对写法。",
        [("text", "年度指标值或实际完成值")]),
}
#: xlwings reading options for every argument: error cells arrive as "#DIV/0!" etc.
ARG_OPTIONS = {"err_to_str": True}


class _Blank(Exception):
    """An input cell is blank: the function shows an empty string."""


def _excel_function(fn):
    """Wrap an engine call for a worksheet cell: blank → "", XlperfError → "#VALUE! message",
    anything unexpected → "#VALUE! 内部错误…" (logged), never a traceback."""
    description, args = UDF_SPECS[fn.__name__]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _Blank:
            return ""
        except XlperfError as exc:
            return ERROR_PREFIX + str(exc)
        except Exception as exc:  # noqa: BLE001 - a cell must show a message, not a traceback
            logger.exception("%s failed", fn.__name__)
            return f"{ERROR_PREFIX}内部错误（{type(exc).__name__}）：{exc}"

    wrapper.__doc__ = description
    decorated = wrapper
    for name, doc in reversed(args):
        decorated = xw.arg(name, doc=doc, **ARG_OPTIONS)(decorated)
    return xw.func(category=CATEGORY)(decorated)


# ------------------------------------------------------------------ input conversion

def _check_single(value, what: str):
    if isinstance(value, (list, tuple)):
        raise NotationError(f"{what}应引用单个单元格，而不是一个区域。")
    if isinstance(value, str) and value.strip() in EXCEL_ERRORS:
        raise NotationError(f"{what}所在单元格是错误值 {value.strip()}，请先更正该单元格。")
    if isinstance(value, bool):
        raise NotationError(f"{what}应为数字或文字，而不是逻辑值 {'TRUE' if value else 'FALSE'}。")
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        raise NotationError(f"{what}是日期/时间（{value}），应为数字；请检查单元格格式。")


def _number(value, what: str) -> Decimal:
    """An amount/score/weight from a cell: a double via its shortest repr, text via the engine."""
    _check_single(value, what)
    if is_blank(value):
        raise _Blank
    if isinstance(value, float):
        return from_excel(value)
    return to_decimal(value, what)


def _notation(value, what: str) -> tuple[str | Decimal, bool]:
    """A 指标值 cell: text stays text, a double becomes its decimal. Returns (value, was_number)."""
    _check_single(value, what)
    if is_blank(value):
        raise _Blank
    if isinstance(value, float):
        return from_excel(value), True
    if isinstance(value, (int, Decimal)):
        return to_decimal(value, what), True
    if isinstance(value, str):
        return value, False
    raise NotationError(f"{what}应为文字或数字，而不是 {type(value).__name__}。")


def _profile(value) -> str:
    """The profile argument: omitted/blank → shanghai; otherwise a profile name (text)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_PROFILE
    if isinstance(value, (str, list, tuple)):
        _check_single(value, "评分规则")  # a range, or an error value such as #N/A
    if not isinstance(value, str):
        raise NotationError(f"评分规则应为文字（如 shanghai），而不是 {value!r}。")
    name = value.strip()
    _get_profile(name)  # raises ProfileError (Chinese) for an unknown name
    return name


def _out(value: Decimal) -> float:
    return float(value)


def _percent_mixup(target: object, actual: object, target_number: bool, actual_number: bool) -> None:
    """Excel turns a typed ``95%`` into the number 0.95 (percent format). Against a percent
    on the other side that would score silently wrong (0.95 vs 90); say so instead."""
    for side, other, was_number, what in ((actual, target, actual_number, "实际完成值"),
                                          (target, actual, target_number, "年度指标值")):
        if (was_number and isinstance(side, Quantity) and isinstance(other, Quantity)
                and other.unit == "%" and 0 < abs(side.value) <= 1 < abs(other.value)):
            raise NotationError(
                f"{what}是数字 {side.value:f}，而对应的指标值是百分数「{other.text or other}」："
                f"Excel 可能把输入的百分数自动转成了小数。请把该单元格设为文本格式后重新输入（如 95%）。")


# ------------------------------------------------------------------------ functions

@_excel_function
def XLPERF_RATE(budget, executed, profile=None):
    rate = scoring.execution_rate(_number(budget, "全年预算数"), _number(executed, "全年执行数"),
                                  _profile(profile))
    return _out(rate)


@_excel_function
def XLPERF_FUNDS_SCORE(rate, weight, profile=None):
    score = scoring.funds_score(_number(rate, "执行率"), _number(weight, "分值"), _profile(profile))
    return _out(score)


@_excel_function
def XLPERF_SCORE(target, actual, weight, profile=None):
    t_raw, t_number = _notation(target, "年度指标值")
    a_raw, a_number = _notation(actual, "实际完成值")
    w = _number(weight, "分值")
    name = _profile(profile)
    t, a = parse_target(t_raw), parse_actual(a_raw)
    _percent_mixup(t, a, t_number, a_number)
    return _out(scoring.indicator_score(t, a, w, name))


@_excel_function
def XLPERF_GRADE(total, profile=None):
    return scoring.grade(_number(total, "总分"), _profile(profile))


_MEANING = {
    Op.GE: "越高越好：实际值 ≥ {v} 即达成",
    Op.GT: "越高越好：实际值 > {v} 即达成",
    Op.LE: "越低越好（反向指标）：实际值 ≤ {v} 即达成",
    Op.LT: "越低越好（反向指标）：实际值 < {v} 即达成",
    Op.EQ: "实际值 = {v} 即达成",
}


@_excel_function
def XLPERF_PARSE(text):
    raw, _ = _notation(text, "指标值")
    value = parse_actual(raw)
    if isinstance(value, Quantity):
        v = f"{value.value:f}"
        unit = f"，单位 {value.unit}" if value.unit else "，无单位"
        meaning = _MEANING[value.op].format(v=v)
        if value.value == 0 and value.op in (Op.EQ, Op.LE):
            meaning = "目标为 0：实际为 0 才达成（不做比例计算）"
        return f"定量 {value}：运算符 {value.op.value}，数值 {v}{unit}；{meaning}"
    if value.judgement is not None:
        return f"判断「{value.judgement.value}」：定性指标按此档计分"
    return (f"定性「{value.text}」：评价时在实际完成值填 {Judgement.ACHIEVED.value} / "
            f"{Judgement.PARTIAL.value} / {Judgement.NOT_ACHIEVED.value}（或文字描述）")


#: The functions, in the order the add-in registers them.
UDFS = tuple(UDF_SPECS)
__all__ = list(UDFS)
