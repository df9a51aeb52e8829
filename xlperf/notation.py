"""Reading the notation of 年度指标值 / 实际完成值 cells and of amounts.

Everything the seed forms print is accepted: ``≥12.00(次)``, ``>=90%``, ``$\\geq 90\\%$``,
``不少于3次``, ``<=6小时``, ``=1期/月``, ``7*24小时``, bare ``100%``, ``=0件``,
``建设周期不超过4个月`` (a name before a word operator), full-width characters, stray spaces,
HTML wrappers; qualitative targets (``建立健全``)
and the judgements ``达成指标`` / ``部分达成`` / ``未达成``.

The result is a small typed value; nothing here scores (see :mod:`xlperf.scoring`).
"""
from __future__ import annotations

import datetime as _dt
import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum

from .errors import NotationError


class Op(str, Enum):
    GE = "≥"
    GT = ">"
    LE = "≤"
    LT = "<"
    EQ = "="

    @property
    def lower_is_better(self) -> bool:
        return self in (Op.LE, Op.LT)


class Judgement(str, Enum):
    ACHIEVED = "达成指标"
    PARTIAL = "部分达成"
    NOT_ACHIEVED = "未达成"


@dataclass(frozen=True)
class Quantity:
    """A measured value or a quantitative target: operator, number, unit."""
    op: Op
    value: Decimal
    unit: str | None
    text: str = ""

    def __str__(self) -> str:
        unit = self.unit or ""
        if unit and unit[0] not in "*/":
            unit = f"({unit})"
        return f"{self.op.value}{self.value}{unit}"


@dataclass(frozen=True)
class Qualitative:
    """A 定性 target or a free-text actual; ``judgement`` set when the text is one."""
    text: str
    judgement: Judgement | None = None


Value = Quantity | Qualitative

ACCEPTED_FORMS = ("可识别的写法：≥12.00(次)、>=90%、≤2.00(次)、<30分钟、=100.00(%)、=1期/月、"
                  "100%、7*24小时、不少于3次、3次以上；定性指标写文字（如 建立健全）；"
                  "实际完成值也可填 达成指标 / 部分达成 / 未达成。")

# Longest first: the prefix scan takes the first that matches.
_WORD_OPS = [
    ("大于等于", Op.GE), ("大于或等于", Op.GE), ("不少于", Op.GE), ("不低于", Op.GE),
    ("不小于", Op.GE), ("至少", Op.GE),
    ("小于等于", Op.LE), ("小于或等于", Op.LE), ("不多于", Op.LE), ("不超过", Op.LE),
    ("不高于", Op.LE), ("不大于", Op.LE), ("至多", Op.LE),
    ("大于", Op.GT), ("高于", Op.GT), ("超过", Op.GT), ("多于", Op.GT),
    ("小于", Op.LT), ("低于", Op.LT), ("少于", Op.LT),
    ("等于", Op.EQ), ("达到", Op.EQ),
]
_SYMBOL_OPS = [(">=", Op.GE), ("=>", Op.GE), ("≥", Op.GE), ("≧", Op.GE), ("⩾", Op.GE),
               ("<=", Op.LE), ("=<", Op.LE), ("≤", Op.LE), ("≦", Op.LE), ("⩽", Op.LE),
               ("==", Op.EQ), ("=", Op.EQ), (">", Op.GT), ("<", Op.LT),
               # Angle quotation marks stand in for < and > in some PDF extractions (seed 003).
               ("‹=", Op.LE), ("›=", Op.GE), ("‹", Op.LT), ("›", Op.GT)]
_SUFFIX_OPS = [("及以上", Op.GE), ("以上", Op.GE), ("及以下", Op.LE), ("以下", Op.LE), ("以内", Op.LE)]
_LATEX = [(r"\geqslant", "≥"), (r"\leqslant", "≤"), (r"\geq", "≥"), (r"\leq", "≤"),
          (r"\ge", "≥"), (r"\le", "≤"), (r"\gt", ">"), (r"\lt", "<"), (r"\%", "%"),
          (r"\times", "*"), (r"\cdot", "*")]

_NUMBER = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+"
_QUANT_RE = re.compile(rf"^(?P<num>{_NUMBER})(?P<unit>.*)$")
# A unit is text without digits or operators; a compound unit is *24小时, ×24小时, /月.
_UNIT_RE = re.compile(r"^(?:[*×x]\d+(?:\.\d+)?)?[^\d.,+\-≥≤<>=*×]*$")
# HTML tags as web systems export them (<p>, <br/>, <span style="…">): a known tag name and
# attribute syntax only, so text such as "x<y 且 z>w" is not taken for a tag.
@functools.lru_cache(maxsize=1)
def _tag_re() -> re.Pattern:
    """HTML tags (compiled on first use: ~5 ms, and most cells hold no "<")."""
    return re.compile(r"</?(?:a|b|br|div|em|font|h[1-6]|i|img|li|ol|p|s|script|span|strong|style|sub|sup|"
                      r"table|tbody|td|th|thead|tr|u|ul)(?:\s+[A-Za-z_:][-\w:.]*(?:\s*=\s*(?:\"[^\"]*\"|"
                      r"'[^']*'|[^\s\"'<>=`]+))?)*\s*/?>", re.I)
_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_SPACE_RE = re.compile(r"\s+")

_JUDGEMENTS = {
    Judgement.ACHIEVED: ("达成指标", "达成", "已达成", "全部达成", "完成", "已完成", "达到", "已达到",
                         "达成年度指标"),
    Judgement.PARTIAL: ("部分达成", "部分达成指标", "基本达成", "部分完成", "基本完成",
                        "部分达成年度指标并具有一定效果"),
    Judgement.NOT_ACHIEVED: ("未达成", "未达成指标", "未完成", "未达到", "没有达成",
                             "未达成年度指标且效果较差"),
}
_JUDGEMENT_OF = {word: j for j, words in _JUDGEMENTS.items() for word in words}


def clean_text(text: str) -> str:
    """Normalise cell text: NFKC (full-width → half-width), strip HTML tags and entities,
    LaTeX artefacts from PDF extraction, and all white space."""
    s = unicodedata.normalize("NFKC", str(text))
    if "<" in s:
        s = _tag_re().sub("", s)
    s = html.unescape(s)
    if "$" in s or "\\" in s:
        s = s.replace("$", "")
        for latex, plain in _LATEX:
            s = s.replace(latex, plain)
        s = s.replace("\\", "")
    return _SPACE_RE.sub("", s)


def strip_html(text: str) -> str:
    """Remove HTML tags/entities from free text (goals) without touching its spaces."""
    if text is None:
        return ""
    text = str(text)
    stripped = _tag_re().sub("", text) if "<" in text else text
    # Entities only in text that was HTML: a typed "AT&amp;T" or "R&D&copy" stays as typed.
    return (html.unescape(stripped) if stripped != text else stripped).strip()


def _split_unit(unit: str) -> str | None:
    unit = unit.strip()
    while len(unit) >= 2 and unit[0] == "(" and unit[-1] == ")":
        unit = unit[1:-1].strip()
    unit = unit.replace("×", "*")
    return unit or None


def _number(num: str) -> Decimal:
    return Decimal(num.replace(",", ""))


def _parse_quantity(s: str, raw: str, *, strict: bool) -> Quantity | None:
    op = None
    for word, word_op in _WORD_OPS:
        if s.startswith(word):
            op, s = word_op, s[len(word):]
            break
    else:
        for sym, sym_op in _SYMBOL_OPS:
            if s.startswith(sym):
                op, s = sym_op, s[len(sym):]
                break
    for word, word_op in _SUFFIX_OPS:
        if s.endswith(word):  # "3次以上"; redundant in "≥95%以上"
            op, s = op or word_op, s[: -len(word)]
            break
    m = _QUANT_RE.match(s)
    unit = m and _split_unit(m.group("unit"))
    if op is None and unit and "/" not in unit and len(re.sub(r"^[*×x]\d+(?:\.\d+)?", "", unit)) > 4:
        return None  # "2023年底前完成": a number inside a sentence, not a measurement
    if m and (unit is None or _UNIT_RE.match(unit)) and not (unit and unit.startswith("(")):
        return Quantity(op or Op.EQ, _number(m.group("num")), unit, raw)
    if op is not None or strict:
        raise NotationError(f"无法识别「{raw}」：应为（运算符）数字和单位。{ACCEPTED_FORMS}")
    return None


_LABEL_RE = re.compile(r"^[\u3400-\u9fff]+$")
_NEGATIONS = "不未没无非否"


def _labelled_quantity(s: str, raw: str) -> Quantity | None:
    """``建设周期不超过4个月``: a name (Chinese characters only) followed by a word operator, a
    number and a short unit reads as that quantity (≤ 4 个月). Anything longer after the number
    (``…4个月内完成全部工作``) stays text, and so does a negated operator (``未超过3次``)."""
    best = None
    for word, _ in _WORD_OPS:
        i = s.find(word)
        if i <= 0 or not _LABEL_RE.match(s[:i]) or s[i - 1] in _NEGATIONS:
            continue
        if best is None or i < best[0] or (i == best[0] and len(word) > len(best[1])):
            best = (i, word)
    if best is None:
        return None
    try:
        quantity = _parse_quantity(s[best[0]:], raw, strict=False)
    except NotationError:
        return None
    if quantity is None or (quantity.unit and "/" not in quantity.unit and len(quantity.unit) > 4):
        return None
    return quantity


def parse_target(text) -> Value:
    """Parse a 年度指标值 cell into a :class:`Quantity` or :class:`Qualitative`.

    Numbers (int/Decimal) are read as ``=number``. Raises :class:`NotationError`
    (Chinese message quoting the text) when the text cannot be read."""
    return _parse(text, allow_judgement=False)


def parse_actual(text) -> Value:
    """Parse a 实际完成值 cell: a quantity, a judgement, or free text."""
    return _parse(text, allow_judgement=True)


def _parse(text, *, allow_judgement: bool) -> Value:
    if type(text) is str:
        return _parse_text(text, allow_judgement)
    if isinstance(text, (int, Decimal)) and not isinstance(text, bool):
        return Quantity(Op.EQ, to_decimal(text), None, str(text))
    if isinstance(text, float):
        raise NotationError(_FLOAT_MESSAGE.format(value=text))
    if text is None or not isinstance(text, str):
        raise NotationError(f"无法识别 {text!r}：应为文字或数字。{ACCEPTED_FORMS}")
    return _parse_text(str(text), allow_judgement)


# A harvest reads the same few hundred targets and actuals on thousands of forms: parsed once
# per process (the values are frozen, so sharing them is safe; errors are not cached).
@functools.lru_cache(maxsize=4096)
def _parse_text(text: str, allow_judgement: bool) -> Value:
    raw = text
    s = clean_text(text)
    if not s:
        raise NotationError(f"指标值为空，无法识别「{raw}」。{ACCEPTED_FORMS}")
    if allow_judgement and s in _JUDGEMENT_OF:
        return Qualitative(raw.strip(), _JUDGEMENT_OF[s])
    has_digit = any(c.isdigit() for c in s)
    starts_like_number = s[0] in "<>=≥≤≧≦‹›+-." or s[0].isdigit()
    if not has_digit:
        if s[0] in "<>=≥≤≧≦‹›":
            raise NotationError(f"无法识别「{raw}」：运算符后缺少数字。{ACCEPTED_FORMS}")
        return Qualitative(strip_html(raw))
    quantity = _parse_quantity(s, raw, strict=starts_like_number and not _CJK_RE.search(s))
    if quantity is None:
        quantity = _labelled_quantity(s, raw)
    if quantity is not None:
        return quantity
    if _CJK_RE.search(s):
        # Text with a number in it that is not a measurement, e.g. 2023年底前完成.
        return Qualitative(strip_html(raw))
    raise NotationError(f"无法识别「{raw}」。{ACCEPTED_FORMS}")


def judgement_of(text) -> Judgement | None:
    """The judgement a 实际完成值 text states, if it states one."""
    if not isinstance(text, str):
        return None
    return _JUDGEMENT_OF.get(clean_text(text))


# ---------------------------------------------------------------- numbers and amounts

_FLOAT_MESSAGE = ("不接受二进制浮点数 {value!r}：它不能精确表示金额和分数。请传入字符串（如 \"131.01\"）、"
                  "整数或 Decimal；来自 Excel 的数值请先用 xlperf.notation.from_excel 转换。")
_BLANKS = {"", "-", "—", "–", "－", "--", "——", "/", "无"}
_AMOUNT_UNITS = ("万元", "元", "(元)", "(万元)", "分", "(%)", "%")
_PLAIN_NUMBER_RE = re.compile(rf"^(?:{_NUMBER})$")
_RAISE = object()


def plain(d: Decimal) -> str:
    """A Decimal as people write it: ``15`` for 15.00, ``9.50`` as is (no exponent)."""
    return format(d.normalize() if d == d.to_integral_value() else d, "f")


def is_blank(value) -> bool:
    """True for an empty cell or a printed dash (the forms print ``-`` / ``—`` for none)."""
    return value is None or (isinstance(value, str) and _blank_text(value))


@functools.lru_cache(maxsize=4096)
def _blank_text(text: str) -> bool:
    # memoised: a bulk run asks about the same few 指标值/实际完成值 texts again and again
    return clean_text(text) in _BLANKS


#: No amount, score, weight or rate on a form reaches this (10^15 元 is a thousand trillion, and
#: Excel keeps 15 significant digits): a larger value is refused where it is read, so the
#: engine never computes with a 30-digit 执行数 or 1e308 (``decimal.InvalidOperation``).
MAX_MAGNITUDE = Decimal("1e15")


def plausible(d: Decimal, what: str = "数值") -> Decimal:
    """``d`` itself, or :class:`NotationError` when it is not finite or beyond
    :data:`MAX_MAGNITUDE` (outside what any form can hold)."""
    if not d.is_finite():
        raise NotationError(f"{what}应为有限数字，而不是 {d}。")
    if abs(d) >= MAX_MAGNITUDE:
        shown = f"{d:.6E}" if d.adjusted() > 20 else format(d, "f")
        raise NotationError(f"{what} {shown} 超出表格数字的合理范围（绝对值应小于 10^15），未采用，请核对。")
    return d


def to_decimal(value, what: str = "数值", blank=_RAISE) -> Decimal:
    """Read an amount/score/weight exactly: ``"1,234.50"``, ``"1234.50元"``, ``1234``,
    ``Decimal("1234.5")`` → ``Decimal``. Floats are refused (binary rounding); blank
    cells and dashes return ``blank`` if given, else raise."""
    if isinstance(value, bool):
        raise NotationError(f"{what}应为数字，而不是 {value!r}。")
    if isinstance(value, Decimal):
        return plausible(value, what)
    if isinstance(value, int):
        if abs(value) >= 10**15:
            raise NotationError(f"{what}（{len(str(abs(value)))} 位整数）超出表格数字的合理范围（绝对值应小于 10^15），未采用，请核对。")
        return Decimal(value)
    if isinstance(value, float):
        raise NotationError(_FLOAT_MESSAGE.format(value=value))
    if is_blank(value):
        if blank is _RAISE:
            raise NotationError(f"{what}为空。")
        return blank
    if not isinstance(value, str):
        raise NotationError(f"{what}应为数字，而不是 {type(value).__name__} {value!r}。")
    s = clean_text(value)
    for unit in _AMOUNT_UNITS:
        if s.endswith(unit) and len(s) > len(unit):
            s = s[: -len(unit)]
            break
    if not _PLAIN_NUMBER_RE.match(s):
        raise NotationError(f"{what}「{value}」不是有效数字（应写成 1234.50 或 1,234.50 这样的形式）。")
    if len(s) > 60:    # a 5000-digit amount: refused before any arithmetic on it
        raise NotationError(f"{what}（{len(s)} 个字符）超出表格数字的合理范围（绝对值应小于 10^15），未采用，请核对。")
    try:
        return plausible(_number(s), what)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
        raise NotationError(f"{what}「{value}」不是有效数字。") from None


#: Excel keeps 15 significant digits: a number typed into a cell has at most 15, and Excel
#: shows every result of its binary arithmetic at 15 (=0.1+0.2 holds 0.30000000000000004, shows 0.3).
EXCEL_DIGITS = 15


def from_excel(value) -> Decimal | None:
    """Convert a number as Excel/xlwings hands it over (a binary double) to the decimal Excel
    shows for it.

    A double whose shortest round-trip repr has at most 15 significant digits (every number
    typed into a cell has) is that decimal: 131.01 → Decimal("131.01"), 1e-20 → Decimal("1E-20").
    A longer repr (16 or 17 digits) comes from binary arithmetic (=0.1+0.2 is
    0.30000000000000004, =0.1+0.7 is 0.7999999999999999): the double is then rounded to
    15 significant digits, as Excel displays it (0.3, 0.8)."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise NotationError(f"数值 {value!r} 无效。")
        if value == 0:
            return Decimal(0)  # -0.0 → 0
        r = repr(value)
        if len(r) <= 16 and "e" not in r:   # at most 15 digits: the decimal as typed (the common case)
            return Decimal(int(value)) if r.endswith(".0") else Decimal(r)
        d = Decimal(r)
        if len(d.normalize().as_tuple().digits) > EXCEL_DIGITS:
            exact = Decimal(value)
            d = exact.quantize(Decimal(1).scaleb(exact.adjusted() - EXCEL_DIGITS + 1),
                               rounding=ROUND_HALF_UP).normalize()
        if d == d.to_integral_value():
            return Decimal(int(d))  # 10.0 → 10 as typed; 1E+2 → 100
        return d
    return to_decimal(value)


#: A formula that is only a constant: ``=100%`` typed into a General cell (not =A1*2, not =1/3).
#: No two white-space runs meet (a harvested formula of thousands of spaces costs linear time).
_CONSTANT_FORMULA_RE = re.compile(r"\s*(?:\+\s*)?(\d+(?:\.\d+)?)(?:\s*(%))?\s*")


def as_typed(value, *, formula: str | None = None, percent: bool = False):
    """What a person typed into a cell of 指标值 notation (年度指标值, 实际完成值), from what
    Excel stored — the one reading the register, ``check``/``harvest`` and ``generate --from``
    share. ``value`` is the cell's (cached) value, ``formula`` the cell's formula text without
    "=" (``None``: no formula; the text only, nothing is evaluated), ``percent`` whether the
    cell has a percent number format.

    Text is what the cell shows and is returned as it is (formula or not: nothing was lost).
    ``=100%`` typed into a General cell is a formula (cached value 1, percent format) and
    reads back as ``=100%``; 95% typed is the number 0.95 with a percent format and reads
    back as ``95%``. Anything whose meaning the cell does not show — another formula
    (``=A1*2``), a constant shown otherwise than written (``=0.9`` shown as 90%), a date
    Excel made of 1/2 — raises :class:`NotationError` (a sentence to follow the cell's name).
    Other values (numbers, blanks) are returned as they are."""
    if value.__class__ is str and value and not value.isspace():
        return value
    if formula is not None:
        m = _CONSTANT_FORMULA_RE.fullmatch(formula)
        if m and (m.group(2) or not percent):
            return f"={m.group(1)}{m.group(2) or ''}"
        text = formula.strip()
        shown = f"「={text if len(text) <= 60 else text[:59] + '…'}」" if text else ""     # shared, or xls tokens
        raise NotationError(f"是公式{shown}，看不出要填的值；请把单元格设为文本格式后照原样输入（如 =100%、≥90%）。")
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time, _dt.timedelta)):
        raise NotationError(f"被 Excel 当成了日期或时间（{value}），看不出原来输入的内容；请把单元格设为文本格式后重新输入。")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and percent:
        return format((from_excel(value) * 100).normalize(), "f") + "%"
    return value
