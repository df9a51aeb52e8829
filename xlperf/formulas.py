"""Excel formula text for the computed cells of a 自评表.

Two modes (chosen per workbook):

* ``udf``: the cells call the add-in's functions (``XLPERF_RATE`` …), with the engine's
  results as cached values;
* ``portable``: native functions only (INT, ROUND, IF, SUM…), parameterised by the
  profile, so WPS, LibreOffice and Excel without the add-in give the engine's results.

Portable formulas compute in *integers*: amounts become whole cents, rates whole
hundredths of a percent, and every division is a floor division corrected by exact
integer comparisons. Spreadsheets compute in binary doubles and LibreOffice even
rounds ROUNDDOWN's argument to 12 significant digits first, so ``ROUNDDOWN(E/B*100,2)``
is off by 0.01 for some budgets above ~100,000 元; the integer form is exact while
its products stay below 2^53 (amounts up to about 4.5·10^9).

These builders are the only place where a rule is written in Excel's language; the
tests recalculate them in LibreOffice against :mod:`xlperf.scoring`.
"""
from __future__ import annotations

import math
from decimal import Decimal

from .notation import _BLANKS, _JUDGEMENTS, Judgement, Op, Quantity
from .profiles import Profile


def floor_div(n: str, d: str) -> str:
    """floor(n/d) for non-negative integer expressions, exact: INT(n/d) corrected by
    one step either way with whole-number comparisons."""
    k = f"INT(({n})/({d}))"
    return f"({k}-({k}*({d})>({n}))+(({k}+1)*({d})<=({n})))"


def div_round(n: str, d: str | int, mode: str) -> str:
    """n/d rounded to an integer as ROUNDDOWN / ROUNDUP / ROUND do, for n ≥ 0, d > 0.

    A constant ``d`` (an int) up to 10^6 needs no correction: a non-integer quotient
    of whole numbers is then at least 1/d away from the next integer, far beyond any
    binary or 15-digit rounding of quotients below 10^6."""
    if isinstance(d, int):
        if mode == "up":
            n = f"({n})+{d - 1}"
        elif mode == "half_up":
            n, d = f"2*({n})+{d}", 2 * d
        return f"INT(({n})/{d})" if d <= 10**6 else floor_div(n, str(d))
    if mode == "down":
        return floor_div(n, d)
    if mode == "up":
        return floor_div(f"({n})+({d})-1", d)
    return floor_div(f"2*({n})+({d})", f"2*({d})")


SPLIT = 10 ** 7  # products are split at 10^7 so that every partial product stays below 2^48


def _halves(y: str) -> tuple[str, str]:
    """An integer expression as (high, low) with y = high*SPLIT + low, both small (any
    integer high will do: low is computed exactly from it)."""
    if y.lstrip("-").isdigit():
        high, low = divmod(int(y), SPLIT)
        return str(high), str(low)
    high = f"INT(({y})/{SPLIT})"
    return high, f"(({y})-{high}*{SPLIT})"


def exact_floor(x: str, y: str, c: str, d: str) -> str:
    """floor((x*y + c)/d) for non-negative integers, exact although x*y may exceed 2^53
    (weights × 4-decimal targets near 10^9): an approximate quotient k is corrected by the
    sign of k*d − x*y − c, computed from split operands so that no partial product is
    rounded — and none is so large that LibreOffice's approximate subtraction (which makes
    values equal to 15 digits zero) could cancel it. Valid while y, c, d < 2.8·10^14 and
    x, the quotient < 10^6."""
    yh, yl = _halves(y)
    dh, dl = _halves(d)
    k = f"INT((({x})*({y})+({c}))/({d}))"

    def excess(q: str) -> str:  # q*d - x*y - c, exactly
        return f"((({q})*{dh}-({x})*{yh})*{SPLIT}+(({q})*{dl}-({x})*{yl}-({c})))"

    return f"({k}-({excess(k)}>0)+({excess(f'{k}+1')}<=0))"


def exact_div_round(x: str, y: str, d: str, mode: str) -> str:
    """x*y/d rounded as ROUNDDOWN / ROUNDUP / ROUND (see :func:`exact_floor`)."""
    if mode == "down":
        return exact_floor(x, y, "0", d)
    if mode == "up":
        return exact_floor(x, y, f"({d})-1", d)
    return exact_floor(f"2*({x})", y, d, f"2*({d})")


def _int_literal(x: Decimal) -> str:
    return format(x.to_integral_value(), "f")


def _pow10(decimals: int) -> int:
    return 10 ** decimals


# ------------------------------------------------------------------ funds

def rate(budget: str, executed: str, p: Profile, mode: str) -> str:
    """执行率 (percent) from the 全年预算数 and 全年执行数 cells."""
    if mode == "udf":
        return f'IF(OR({budget}="",{executed}=""),"",XLPERF_RATE({budget},{executed},$PROFILE))'
    scale = _pow10(p.rate_decimals)
    cents_b, cents_e = f"ROUND({budget}*100,0)", f"ROUND({executed}*100,0)"
    # rate in 1/scale percent = executed_cents * 100 * scale / budget_cents
    q = div_round(f"{cents_e}*{100 * scale}", cents_b, p.rate_rounding)
    value = f"{q}/{scale}"
    if p.cap_rate_at_100:
        value = f"MIN(100,{value})"
    # An amount that is text the spreadsheet cannot read as a number (pasted past the input
    # validation, e.g. 1,165.18元) leaves the rate blank — printed 待核 — not #VALUE!.
    return (f'IF(OR({budget}="",{executed}=""),"",IF(OR(ISERROR(-{budget}),ISERROR(-{executed})),"",'
            f'IF({cents_b}=0,IF({cents_e}=0,0,"预算为0"),{value})))')


def funds_score(rate_cell: str, weight: str, p: Profile, mode: str) -> str:
    """预算执行率 得分 from the (rounded) rate cell and the 分值 cell."""
    if mode == "udf":
        return f'IF(ISNUMBER({rate_cell}),XLPERF_FUNDS_SCORE({rate_cell},{weight},$PROFILE),"")'
    rs = _pow10(p.rate_decimals)
    ss = _pow10(p.score_decimals)
    # score in 1/ss points = rate_units * weight_cents * ss / (rs * 100 * 100)
    n = f"ROUND({rate_cell}*{rs},0)*ROUND({weight}*100,0)*{ss}"
    q = div_round(n, rs * 100 * 100, p.score_rounding)
    value = f"{q}/{ss}"
    if p.cap_score_at_weight:
        value = f"MIN({weight},{value})"
    return f'IF(ISNUMBER({rate_cell}),{value},"")'


# ------------------------------------------------------------ indicators

ACTUAL_SCALE = 10_000  # actual values are read to 4 decimals (more for a finer target)


UNREADABLE = "无法识别"  # the helper cell's text for an actual that is not a number
LEADING_DIGITS = 15  # Excel keeps 15 significant digits: a longer number is not exact anyway


def _half_width(cell: str) -> str:
    """The cell's text with full-width digits and punctuation (``１２３．４５``, ``，``, ``％``,
    ``／``, ``：``) made half-width, as the engine's NFKC reads them. ASC is native in Excel
    (since 97, for the CJK editing languages staff use), WPS, LibreOffice and Gnumeric;
    LibreOffice's VALUE alone refuses full-width digits."""
    return f"ASC({cell})"


def _stripped(actual: str) -> str:
    """The actual's text without operators and spaces, with ``/``, ``:`` and ``%`` turned into
    a character no number contains: a spreadsheet would read ``1/2`` or ``12:30`` as a date
    or time and ``95%次`` as 0.95; the engine reads no number past them."""
    expr = f"TRIM({_half_width(actual)})"
    for old, new in (("≥", ""), ("≤", ""), ("=", ""), (">", ""), ("<", ""), (" ", ""), ("\u3000", ""),
                     ("\u00a0", ""), (",", ""), ("/", "|"), (":", "|"), ("%", "|")):
        expr = f'SUBSTITUTE({expr},"{old}","{new}")'
    return expr


def leading_number(actual: str) -> str:
    """The longest prefix of the stripped text that is a number (``930户次`` → 930), as
    nested IFERRORs over LEFT. Scalar on purpose: ``LOOKUP(1,-LEFT(x,{1,…,15}))`` needs
    implicit array evaluation, which Gnumeric does not do (#N/A)."""
    s = _stripped(actual)
    expr = "NA()"
    for k in range(1, LEADING_DIGITS + 1):  # built inside out: the longest prefix is tried first
        expr = f"IFERROR(VALUE(LEFT({s},{k})),{expr})"
    return expr


def parse_actual(actual: str, unit: str | None) -> str:
    """The number in a 实际完成值 text cell, for a target with ``unit``: made half-width
    (:func:`_half_width`), strips the unit
    as ``(unit)``, ``（unit）`` or ``unit``, percent signs, spaces and thousands commas;
    else the leading number (``930户次`` for a target in 户), as the engine reads it. Text
    with ``/`` or ``:`` left after the unit is never read as a date or time."""
    expr = f"TRIM({_half_width(actual)})"
    for old, new in (("（", "("), ("）", ")"), (" ", ""), ("\u3000", ""), ("\u00a0", ""), (",", "")):
        expr = f'SUBSTITUTE({expr},"{old}","{new}")'
    if unit:
        u = unit.replace('"', '""')
        expr = f'SUBSTITUTE(SUBSTITUTE({expr},"({u})",""),"{u}","")'
    expr = f'SUBSTITUTE(SUBSTITUTE({expr},"(%)",""),"%","")'
    for op in (">=", "≥", "<=", "≤", "=", ">", "<"):
        expr = f'SUBSTITUTE({expr},"{op}","")'
    whole = f'IF(OR(ISNUMBER(FIND("/",{expr})),ISNUMBER(FIND(":",{expr}))),NA(),VALUE({expr}))'
    # "1/2", "12:30", "1-2": a digit right after / : or - means a fraction, date, time or
    # range, which the engine refuses (its unit may contain no digit); "3次/月" and a
    # leading minus stay readable.
    t = f'SUBSTITUTE(SUBSTITUTE(SUBSTITUTE(MID({_half_width(actual)},2,99),"/","|"),":","|"),"-","|")'
    datelike = "OR(" + ",".join(f'ISNUMBER(FIND("|{d}",{t}))' for d in range(10)) + ")"
    return (f'IF(TRIM({actual})="","",IF({datelike},"{UNREADABLE}",'
            f'IFERROR({whole},IFERROR({leading_number(actual)},"{UNREADABLE}"))))')


def squeezed(cell: str) -> str:
    """The cell's text without any white space (ordinary, ideographic, non-breaking) or
    control characters, as :func:`xlperf.notation.clean_text` reads a judgement."""
    return f'SUBSTITUTE(SUBSTITUTE(SUBSTITUTE(CLEAN({cell})," ",""),"\u3000",""),"\u00a0","")'


def _judgement_test(text: str, judgement: Judgement) -> str:
    words = _JUDGEMENTS[judgement]
    return "OR(" + ",".join(f'{text}="{w}"' for w in words) + ")"


#: The judgement codes :func:`judgement_code` writes into the helper cell.
ACHIEVED, PARTIAL, NOT_ACHIEVED = 1, 2, 3


def judgement_code(actual: str) -> str:
    """The helper cell of a qualitative row: 1 达成, 2 部分达成, 3 未达成 (any other text
    counts as achieved, as in the engine), blank when the actual is blank or a dash (as :func:`xlperf.notation.is_blank`). The score and
    the override's validation both read this one cell, so the judgement words are written
    once per row and the validation stays far below Excel's 255 characters."""
    text = squeezed(actual)
    blank = "OR(" + ",".join(f'{text}="{b}"' for b in sorted(_BLANKS)) + ")"  # printed dashes, 无
    return (f'IF({blank},"",IF({_judgement_test(text, Judgement.PARTIAL)},{PARTIAL},'
            f'IF({_judgement_test(text, Judgement.NOT_ACHIEVED)},{NOT_ACHIEVED},{ACHIEVED})))')


def actual_check(actual: str) -> str:
    """Data-validation formula for a quantitative 实际完成值 (Excel allows 255 characters, so
    not the whole parse): after operators and spaces, the text starts with a digit — exactly
    when the helper cell's parse finds a leading number. It looks only at the typed cell:
    Excel validates before it recalculates, so a helper cell would still hold the old value."""
    expr = f"TRIM({_half_width(actual)})"
    for old in ("≥", "≤", "=", ">", "<", "\u3000", "\u00a0"):
        expr = f'SUBSTITUTE({expr},"{old}","")'
    return f"ISNUMBER(-LEFT({expr},1))"


def amount_check(cell: str) -> str:
    """Data-validation formula for an amount cell: a number, not below 0, at most 2 decimals.
    Text (``1,165.18元``, full-width digits) is refused with FALSE, not an error: AND evaluates
    every argument, and ROUND of text is #VALUE! in LibreOffice and Gnumeric."""
    return f"IF(ISNUMBER({cell}),AND({cell}>=0,ROUND({cell},2)={cell}),FALSE)"


def _band_score(weight: str, fraction: Decimal, p: Profile) -> str:
    num, den = fraction.as_integer_ratio()
    ss = _pow10(p.indicator_decimals)
    q = div_round(f"ROUND({weight}*100,0)*{num * ss}", den * 100, p.indicator_rounding)
    return f"{q}/{ss}"


def qualitative_score(code: str, weight: str, p: Profile) -> str:
    """The band default for the judgement in the :func:`judgement_code` cell ``code``."""
    partial = _band_score(weight, p.bands[Judgement.PARTIAL.value].default, p)
    missed = _band_score(weight, p.bands[Judgement.NOT_ACHIEVED.value].default, p)
    achieved = _band_score(weight, p.bands[Judgement.ACHIEVED.value].default, p)
    return (f'IF(OR({code}="",{weight}=""),"",IF({code}={PARTIAL},{partial},'
            f"IF({code}={NOT_ACHIEVED},{missed},{achieved})))")


#: Scaled targets stay below this, so that every partial product of :func:`exact_floor` (the
#: half-up form doubles the divisor) is exact; 10^14 is a 15-digit number, Excel's precision.
MAX_SCALED_TARGET = 10 ** 14


def target_scale(target: Quantity) -> int | None:
    """The power of ten the formulas scale a target and its actuals by: 10^4 (actuals are read
    to 4 decimals), more for a target with more decimals (``≥0.12345`` → 10^5), so that
    both are whole numbers. None when no native formula computes the rule exactly: the
    scaled target would reach :data:`MAX_SCALED_TARGET`, or a ``≤`` target is negative
    (the engine's proportional rule divides by a negative number there)."""
    value = target.value
    exponent = value.normalize().as_tuple().exponent
    decimals = max(4, -exponent if isinstance(exponent, int) else 0)
    scaled = value.scaleb(decimals)
    if abs(scaled) >= MAX_SCALED_TARGET or (value < 0 and target.op is Op.LE):
        return None
    return 10 ** decimals


def expressible(target: Quantity) -> bool:
    """True when a portable workbook computes the score of ``target`` exactly in native
    functions (see :func:`target_scale`); otherwise fill/generate say so and leave it to 待核."""
    return target_scale(target) is not None


def quantitative_score(target: Quantity, value: str, weight: str, p: Profile) -> str | None:
    """The rule's score for a quantitative target, from the parsed actual ``value`` cell.
    None when the target cannot be written exactly in integers (see :func:`target_scale`)."""
    scale = target_scale(target)
    if scale is None:
        return None
    t4 = target.value.scaleb(len(str(scale)) - 1)
    T = _int_literal(t4)
    A = f"ROUND({value}*{scale},0)"
    W = f"ROUND({weight}*100,0)"
    ss = _pow10(p.indicator_decimals)
    mode = p.indicator_rounding
    full = weight

    g = math.gcd(ss, 100)
    up, down = ss // g, 100 // g

    def scaled(x: str, y: str, d: str) -> str:
        # x*y/d is a score in hundredths of a point; in 1/ss points it is x*y*ss/(d*100)
        xs = x if up == 1 else f"({x})*{up}"
        ds = d if down == 1 else f"({d})*{down}"
        return f"{exact_div_round(xs, y, ds, mode)}/{ss}"

    op = target.op
    if t4 == 0 and op in (Op.EQ, Op.LE):
        body = f"IF({A}<=0,{full},0)"
    elif op is Op.LT and t4 <= 0:
        body = f"IF({A}<{T},{full},0)"
    elif op.lower_is_better:
        met = f"{A}<={T}" if op is Op.LE else f"{A}<{T}"
        if p.lower_is_better == "linear":
            miss = f"IF({A}>=2*{T},0,{scaled(W, f'2*{T}-{A}', T)})"
        else:
            miss = scaled(W, T, A)
        body = f"IF({met},{full},MIN({full},{miss}))"
    else:
        if op is Op.GE:
            met = f"{A}>={T}"
        elif op is Op.GT:
            met = f"{A}>{T}"
        else:
            met = f"{A}>={T}" if p.equal_over_is_met else f"{A}={T}"
        if t4 <= 0:   # the engine: a target not above 0 that is missed scores 0
            miss = "0"
        else:
            miss = f"IF({A}<=0,0,MIN({full},{scaled(W, A, T)}))"
        body = f"IF({met},{full},{miss})"
    # An actual with more decimals than the scale would be rounded here while the engine uses
    # every digit: such a row is left to 待核 (the binary error of value*scale is below 1e-15
    # of it, any further typed digit far above 1e-13 of it).
    finer = f"ABS({value}*{scale}-{A})>ABS({value}*{scale})*1E-13"
    return f'IF(OR(NOT(ISNUMBER({value})),{weight}=""),"",IF({finer},"",{body}))'


def udf_score(target: str, actual: str, weight: str) -> str:
    return f'IF(OR(TRIM({actual})="",{weight}=""),"",XLPERF_SCORE({target},{actual},{weight},$PROFILE))'


def final_score(proposal: str, override: str) -> str:
    return f'IF({override}="",{proposal},{override})'


def override_validation(override: str, code: str, weight: str, p: Profile, qualitative: bool) -> str:
    """Data-validation formula for the 人工调整得分 cell: inside [0, 分值], and for a
    qualitative indicator inside the band of the judgement in the :func:`judgement_code`
    cell ``code`` (filled before the override, so already recalculated when it is checked)."""
    base = f"AND(ISNUMBER({override}),{override}>=0,{override}<={weight})"
    if not qualitative:
        return base

    def band(j: Judgement) -> str:
        b = p.bands[j.value]
        hi = "<=" if b.high_inclusive else "<"
        return f"AND({override}>={weight}*{b.low},{override}{hi}{weight}*{b.high})"

    return (f"AND({base},IF({code}={PARTIAL},{band(Judgement.PARTIAL)},"
            f"IF({code}={NOT_ACHIEVED},{band(Judgement.NOT_ACHIEVED)},{band(Judgement.ACHIEVED)})))")


# ------------------------------------------------------------------ totals

def total(cells: list[str]) -> str:
    return f"ROUND(SUM({','.join(cells)}),2)"


def complete_total(cells: list[str], count_cells: str, expected: int) -> str:
    """总分, blank until every score is there (as :func:`xlperf.scoring.score_project` and
    :func:`grade`)."""
    return f'IF(COUNT({count_cells})<{expected},"",{total(cells)})'


def grade(total_cell: str, count_cells: str, expected: int, p: Profile, mode: str) -> str:
    """评分等级, blank until every score is there."""
    if mode == "udf":
        inner = f"XLPERF_GRADE({total_cell},$PROFILE)"
    else:
        inner = f'"{p.grades[-1][1]}"'
        for minimum, name in reversed(p.grades[:-1]):
            inner = f'IF({total_cell}>={minimum},"{name}",{inner})'
    return f'IF(COUNT({count_cells})<{expected},"",{inner})'
