"""The scoring rules: execution rate, funds score, indicator scores, total, grade.

Pure functions on ``Decimal``; inputs may be ``str``, ``int`` or ``Decimal`` (floats are
refused). Every number that differs between regions comes from a profile
(:mod:`xlperf.profiles`). Every front end — Excel functions, ribbon, CLI, generator,
harvester — calls these and nothing else.

Defined edge cases (see tests/test_scoring.py):

* budget missing or negative, executed missing or negative → :class:`ScoringError` (a blank cell
  or a printed dash is "missing"; text that is not a number is a :class:`NotationError`);
* budget 0 and executed 0 → rate ``0.00`` (the forms print 0.00 for empty sub-rows);
* budget 0 and executed > 0 → :class:`ScoringError` (spending without a budget);
* executed > budget → the rate exceeds 100 (unless the profile caps it), and the funds
  score is capped at its weight when the profile says so (default);
* a zero target (``=0件``) is met only at 0 and scores 0 otherwise — never a division;
* a strict target (``>``, ``<``) reached exactly is not met, yet the proportional rule then gives
  分值 × 1: the proposal is the full 分值 with ``met`` False (the rule's literal result);
* an actual whose unit differs from the target's (``≥4次`` achieved ``100%``) is scored on the
  numbers as written — never converted — and the difference is recorded in
  :attr:`IndicatorResult.finding`.
"""
from __future__ import annotations

import contextvars
import functools
import re
from dataclasses import dataclass, replace
from decimal import (ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow,
                     localcontext)
from collections.abc import Iterable

from . import profiles as _profiles
from .errors import ScoringError
from .model import DEFAULT_PROFILE
from .notation import (Judgement, Op, Quantity, Qualitative, Value, parse_actual, parse_target, plain,
                       to_decimal)
from .profiles import ROUNDING, Band, Profile

HUNDRED = Decimal(100)
ZERO = Decimal(0)


#: The engine's arithmetic, explicit so that no caller's context changes a result and no
#: input makes it raise ``decimal.InvalidOperation``: 50 digits hold any quotient of two
#: amounts the readers admit (|x| < 10^15, see :func:`xlperf.notation.plausible`) to the
#: cent; anything beyond becomes a :class:`ScoringError` naming the value.
ENGINE = Context(prec=50, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
                 traps=[InvalidOperation, DivisionByZero, Overflow])


#: True while an engine function runs: one called from another is already under ENGINE, so it
#: skips entering the context again (~30-50 nested calls per project; the context switch was
#: the wrapper's cost) but still turns a trap into a ScoringError (score_project catches those).
_UNDER_ENGINE = contextvars.ContextVar("xlperf_under_engine", default=False)


def _engine(fn):
    """Run ``fn`` under :data:`ENGINE`; an arithmetic trap becomes a :class:`ScoringError`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            if _UNDER_ENGINE.get():
                return fn(*args, **kwargs)
            token = _UNDER_ENGINE.set(True)
            try:
                with localcontext(ENGINE):
                    return fn(*args, **kwargs)
            finally:
                _UNDER_ENGINE.reset(token)
        except (InvalidOperation, DivisionByZero, Overflow):
            raise ScoringError("数值超出可计算的范围（过大、过小或位数过多），无法计分，请核对金额与分值。") from None
    return wrapper


@_engine
def excel_round(value: Decimal, decimals: int, mode: str) -> Decimal:
    """Excel's ROUNDDOWN (``down``), ROUNDUP (``up``) or ROUND (``half_up``), exactly."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUNDING[mode])


def _weight(weight, what="分值") -> Decimal:
    w = to_decimal(weight, what)
    if w < 0:
        raise ScoringError(f"{what}不能为负数（{w}）。")
    return w


# ------------------------------------------------------------------------ funds

@_engine
def execution_rate(full_year_budget, executed, profile=DEFAULT_PROFILE) -> Decimal:
    """预算执行率 in percent: 全年执行数 ÷ 全年预算数 × 100, rounded as the profile says.

    ``execution_rate("132.20", "131.01")`` → ``Decimal("99.09")`` (shanghai truncates)."""
    p = _profiles.get(profile)
    budget = to_decimal(full_year_budget, "全年预算数", blank=None)
    spent = to_decimal(executed, "全年执行数", blank=None)
    if budget is None or spent is None:
        missing = "、".join(n for n, v in (("全年预算数", budget), ("全年执行数", spent)) if v is None)
        raise ScoringError(f"{missing}为空：无法计算执行率，请填写金额（没有的填 0）。")
    if budget < 0 or spent < 0:
        raise ScoringError(f"金额不能为负数（全年预算数 {budget}，全年执行数 {spent}）。")
    if budget == 0:
        if spent == 0:
            return excel_round(ZERO, p.rate_decimals, p.rate_rounding)
        raise ScoringError(f"全年预算数为 0，但全年执行数为 {spent}：无法计算执行率，请核对金额。")
    rate = excel_round(spent * HUNDRED / budget, p.rate_decimals, p.rate_rounding)
    if p.cap_rate_at_100 and rate > HUNDRED:
        rate = excel_round(HUNDRED, p.rate_decimals, p.rate_rounding)
    return rate


@_engine
def funds_score(rate, weight=None, profile=DEFAULT_PROFILE) -> Decimal:
    """预算执行率 得分 from the (already rounded) rate: rate% × weight, rounded per profile,
    capped at the weight when the profile says so. ``weight`` defaults to the profile's."""
    p = _profiles.get(profile)
    r = to_decimal(rate, "执行率")
    w = p.funds_weight if weight is None else _weight(weight)
    if r < 0:
        raise ScoringError(f"执行率不能为负数（{r}）。")
    score = excel_round(r * w / HUNDRED, p.score_decimals, p.score_rounding)
    if p.cap_score_at_weight and score > w:
        score = w
    return score


# ------------------------------------------------------------------- indicators

#: What the generator writes in 偏差原因 when a register gives a score that departs from the
#: rule without a reason: the workbook can carry the score, and the unit sees what to add.
_PENDING = re.compile(r"（登记表得分 [-\d.]+ 与规则得分 [-\d.]+ 不同，未写明理由，请补充。）")


#: The engine's refusal of a human score without a reason (validate tells it from the others).
NO_REASON = "人工调整得分必须写明理由"


def pending_reason(score: Decimal, proposal: Decimal) -> str:
    return f"（登记表得分 {plain(score)} 与规则得分 {plain(proposal)} 不同，未写明理由，请补充。）"


def has_reason(note) -> bool:
    """A reason is written: some text other than the generator's :func:`pending_reason`."""
    text = (note or "").strip()
    return bool(text) and not _PENDING.fullmatch(text)


@dataclass(frozen=True)
class Override:
    """A human score that replaces the rule's proposal, with the reason written."""
    score: Decimal
    reason: str


@dataclass(frozen=True)
class IndicatorResult:
    """The rule's proposal for one indicator, and the human override if any."""
    target: Value
    actual: Value
    weight: Decimal
    proposal: Decimal
    met: bool | None              # None: qualitative, judged not measured
    rule: str                     # how the proposal was reached (Chinese)
    band: Band | None = None      # allowed score range for a qualitative judgement
    override: Override | None = None
    finding: str = ""             # something to check that does not stop scoring (e.g. unit mismatch)

    @property
    def score(self) -> Decimal:
        return self.override.score if self.override else self.proposal

    @property
    def departs(self) -> bool:
        """True when a human score differs from the rule's proposal."""
        return self.override is not None and self.override.score != self.proposal

    def band_range(self) -> tuple[Decimal, Decimal] | None:
        """The band as points: (lowest allowed, highest allowed or exclusive bound)."""
        if self.band is None:
            return None
        return self.band.low * self.weight, self.band.high * self.weight


def _clamp(x: Decimal, w: Decimal) -> Decimal:
    return min(max(x, ZERO), w)


def _quantitative(t: Quantity, a: Quantity, w: Decimal, p: Profile) -> tuple[Decimal, bool, str]:
    tv, av = t.value, a.value
    if tv == 0 and t.op in (Op.EQ, Op.LE):
        if av <= 0:
            return w, True, "目标值为0，实际为0，得满分"
        return ZERO, False, "目标值为0，实际不为0，得0分（不做比例计算）"
    if t.op is Op.LT and tv <= 0:
        met = av < tv
        return (w if met else ZERO), met, "目标为小于0，达成得满分，否则得0分"
    if t.op.lower_is_better:
        met = av <= tv if t.op is Op.LE else av < tv
        if met:
            return w, True, "达到目标值，得满分"
        if p.lower_is_better == "linear":
            return w * (1 - (av - tv) / tv), False, "反向指标未达标：分值 ×（1 −（实际 − 目标）÷ 目标）"
        return w * tv / av, False, "反向指标未达标：分值 × 目标值 ÷ 实际值"
    if t.op is Op.GE:
        met = av >= tv
    elif t.op is Op.GT:
        met = av > tv
    else:
        met = av == tv or (p.equal_over_is_met and av > tv)
    if met:
        return w, True, "达到目标值，得满分"
    if tv <= 0:
        return ZERO, False, "目标值不大于0且未达成，得0分"
    return w * av / tv, False, "未达到目标值：分值 × 实际值 ÷ 目标值"


@_engine
def assess_indicator(target, actual, weight, profile=DEFAULT_PROFILE, override: Override | None = None,
                     ) -> IndicatorResult:
    """Score one indicator by the rules and check a human override against them.

    ``target``/``actual`` are the raw cell texts (or already parsed values). A
    quantitative target scores full marks when met, proportionally otherwise (the
    right direction for ≤/<), capped to [0, weight]. A qualitative target scores the
    profile's default for the judgement's band; free-text actuals count as achieved
    unless they state otherwise."""
    p = _profiles.get(profile)
    w = _weight(weight)
    t = target if isinstance(target, (Quantity, Qualitative)) else parse_target(target)
    a = actual if isinstance(actual, (Quantity, Qualitative)) else parse_actual(actual)
    if isinstance(t, Quantity):
        if not isinstance(a, Quantity):
            if a.judgement is None:
                raise ScoringError(f"定量指标「{t.text or t}」的实际完成值「{a.text}」不是数值，无法计分。")
            band = p.bands[a.judgement.value]
            raw = excel_round(w * band.default, p.indicator_decimals, p.indicator_rounding)
            result = IndicatorResult(t, a, w, raw, None,
                                     f"定量指标按判断「{a.judgement.value}」计分", band)
        else:
            raw, met, rule = _quantitative(t, a, w, p)
            score = excel_round(_clamp(raw, w), p.indicator_decimals, p.indicator_rounding)
            result = IndicatorResult(t, a, w, score, met, rule, finding=_unit_finding(t, a))
    else:
        judgement = a.judgement if isinstance(a, Qualitative) else None
        rule = f"定性指标，按「{(judgement or Judgement.ACHIEVED).value}」档默认分计分"
        if judgement is None:
            judgement = Judgement.ACHIEVED
            rule = "定性指标，实际完成值为文字描述，按「达成指标」档默认分计分"
        band = p.bands[judgement.value]
        score = excel_round(w * band.default, p.indicator_decimals, p.indicator_rounding)
        result = IndicatorResult(t, a, w, score, None, rule, band)
    if override is not None:
        result = _with_override(result, override)
    return result


def _with_override(result: IndicatorResult, override: Override) -> IndicatorResult:
    score = to_decimal(override.score, "人工得分")
    reason = (override.reason or "").strip()
    w = result.weight
    if not reason:
        raise ScoringError(NO_REASON + "（偏差原因分析及改进措施）。")
    if score < 0 or score > w:
        raise ScoringError(f"得分 {score} 超出范围：应在 0 到分值 {w} 之间（得分不能大于分值）。")
    if result.band is not None and w > 0 and not result.band.contains(score / w):
        judgement = result.actual.judgement.value if isinstance(result.actual, Qualitative) and \
            result.actual.judgement else Judgement.ACHIEVED.value
        low, high = result.band_range()
        close = "]" if result.band.high_inclusive else ")"
        raise ScoringError(f"得分 {score} 不在「{judgement}」档的分数区间 [{low.normalize():f}, "
                           f"{high.normalize():f}{close} 内（分值 {w} 的 {result.band.describe()}）。")
    return IndicatorResult(result.target, result.actual, w, result.proposal, result.met, result.rule,
                           result.band, Override(score, reason), result.finding)


def _unit_finding(t: Quantity, a: Quantity) -> str:
    """A different unit in the actual is a finding, not a conversion. A bare number takes the
    target's unit (the forms often print ``240`` for ``=240本``)."""
    if t.unit and a.unit and t.unit != a.unit:
        return (f"实际完成值「{a.text or a}」的单位「{a.unit}」与指标值「{t.text or t}」的单位「{t.unit}」"
                f"不一致：未做换算，按数值直接比较，请核对。")
    return ""


@_engine
def indicator_score(target, actual, weight, profile=DEFAULT_PROFILE) -> Decimal:
    """The rule's proposed 得分 for one indicator (see :func:`assess_indicator`)."""
    return assess_indicator(target, actual, weight, profile).proposal


# ---------------------------------------------------------------- total, grade

@_engine
def total(scores: Iterable) -> Decimal:
    """总分: the exact sum of the scores (funds score included by the caller)."""
    return sum((to_decimal(s, "得分") for s in scores), ZERO)


@_engine
def grade(total_score, profile=DEFAULT_PROFILE) -> str:
    """评分等级 for a total: 优 / 良 / 中 / 差 with the profile's bands (min inclusive)."""
    p = _profiles.get(profile)
    t = to_decimal(total_score, "总分")
    for minimum, name in p.grades:
        if t >= minimum:
            return name
    return p.grades[-1][1]


@_engine
def default_weights(level1_names: list[str], profile=DEFAULT_PROFILE) -> list[Decimal]:
    """Split each 一级指标's profile weight over its indicators: 2 decimals, the remainder
    going to the last indicator of that level, so each level sums exactly."""
    p = _profiles.get(profile)
    counts: dict[str, int] = {}
    for name in level1_names:
        counts[name] = counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for name in level1_names:
        if name not in p.weights:
            raise ScoringError(f"一级指标「{name}」在评分规则「{p.name}」中没有默认分值，请在登记表中填写分值。")
        level_weight, n = p.weights[name], counts[name]
        share = excel_round(level_weight / n, 2, "down")
        seen[name] = seen.get(name, 0) + 1
        out.append(level_weight - share * (n - 1) if seen[name] == n else share)
    return out


# ------------------------------------------------------------ a whole form

@dataclass
class ProjectScore:
    """What the rules make of one 自评表: every computed cell, and what could not be
    computed (``errors``: field path → error), so front ends can point at cells."""
    rates: dict                     # funds row → Decimal rate, or None when blank/unreadable
    funds_score: Decimal | None
    funds_weight: Decimal
    indicators: list                # IndicatorResult, or None where it could not be scored
    total_weight: Decimal
    total: Decimal | None           # None until every score is there
    grade: str | None
    errors: dict


@_engine
def score_project(project, profile=None) -> ProjectScore:
    """Score a :class:`xlperf.model.Project` (自评表) under its profile.

    Human scores come from ``Indicator.override`` (checked, kept next to the
    proposal); an override the rules refuse is reported in ``errors`` and the
    proposal stands."""
    from .errors import XlperfError
    from .notation import is_blank

    p = _profiles.get(profile or project.profile or DEFAULT_PROFILE)
    errors: dict = {}
    rates = {}
    for row, line in project.funds.items():
        if line.budget is None and line.executed is None:
            rates[row] = None
            continue
        try:
            rates[row] = execution_rate(line.budget if line.budget is not None else "",
                                        line.executed if line.executed is not None else "", p)
        except XlperfError as exc:
            rates[row] = None
            errors[f"funds.{row}.rate"] = exc
    weight = project.funds_weight if project.funds_weight is not None else p.funds_weight
    main = rates.get("年度资金总额")
    try:
        fscore = funds_score(main, weight, p) if main is not None else None
    except XlperfError as exc:
        fscore = None
        errors["funds.年度资金总额.score"] = exc
    results = []
    for i, ind in enumerate(project.indicators):
        if ind.actual is None or is_blank(ind.actual) or ind.weight is None:
            results.append(None)
            continue
        try:
            res = assess_indicator(ind.target, ind.actual, ind.weight, p)
        except XlperfError as exc:
            results.append(None)
            errors[f"indicators.{i}.score"] = exc
            continue
        if ind.override is not None:
            # The form shows the human score whatever the rules say of it (the
            # workbook computes 得分 = 人工调整得分); what the rules refuse is reported.
            try:
                res = _with_override(res, Override(ind.override, ind.note))
            except XlperfError as exc:
                errors[f"indicators.{i}.override"] = exc
                res = replace(res, override=Override(to_decimal(ind.override, "人工得分"), ind.note or ""))
        results.append(res)
    total_weight = weight + sum((ind.weight or ZERO for ind in project.indicators), ZERO)
    complete = fscore is not None and results and all(r is not None for r in results)
    total_score = (fscore + sum((r.score for r in results), ZERO)) if complete else None
    return ProjectScore(rates, fscore, weight, results, total_weight, total_score,
                        grade(total_score, p) if total_score is not None else None, errors)
