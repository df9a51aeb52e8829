"""One check of a project before its 自评表 is written, shared by ``xlperf generate`` (register
rows) and ``xlperf fill`` (a YAML/JSON project): weights all given or all by the profile, none
negative, totalling 100; a printed score that differs from the rule's becomes the 人工调整得分
(with a reason, or a note that one is missing); a score the rules refuse is an error.

The project is completed in place (default weights, overrides, notes); the caller says where
each issue is (a register row and column, or a field of the project file)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from .errors import ScoringError, XlperfError
from .model import SELF_EVALUATION, Project
from .notation import plain


@dataclass(frozen=True)
class Issue:
    index: int | None   # the indicator (0-based), None for the project
    field: str          # weight | score | actual | level1 | funds_weight | indicators
    message: str
    warning: bool = False


def prepare(p: Project, _profiles, who: str | None = None, mode: str = "portable") -> list[Issue]:
    """The problems of ``p`` as :class:`Issue` s (errors stop generation; warnings do not).
    ``who`` names the project in messages (default 项目「名称」); ``mode`` is the workbook's
    calculation mode (a portable workbook cannot express every target, see :func:`inexpressible_targets`)."""
    from .generate import _parsed_actual, _parsed_target
    from .scoring import Override, assess_indicator, default_weights, pending_reason

    if p.kind != SELF_EVALUATION:
        return []
    who = who or f"项目「{p.name}」"
    prof = _profiles.get(p.profile)
    given = [ind.weight is not None for ind in p.indicators]
    if any(given) and not all(given):
        blank = [i for i, g in enumerate(given) if not g]
        return [Issue(blank[0], "weight", f"{who}部分指标填写了分值、部分未填（第 "
                      + "、".join(str(i + 1) for i in blank) + " 个指标未填）：要么全部填写，要么全部留空（按评分规则默认分配）。")]
    if not any(given):
        try:
            weights = default_weights([ind.level1 for ind in p.indicators], prof)
        except ScoringError as exc:
            bad = next(i for i, ind in enumerate(p.indicators) if ind.level1 not in prof.weights)
            return [Issue(bad, "level1", exc.message)]
        for ind, w in zip(p.indicators, weights):
            ind.weight = w
    negative = [i for i, ind in enumerate(p.indicators) if ind.weight < 0]
    if negative:
        return [Issue(i, "weight", f"分值不能为负数（{plain(p.indicators[i].weight)}），未生成。") for i in negative]
    funds_weight = p.funds_weight if p.funds_weight is not None else prof.funds_weight
    if funds_weight < 0:
        return [Issue(None, "funds_weight", f"预算执行率的分值不能为负数（{plain(funds_weight)}），未生成。")]
    total = funds_weight + sum(ind.weight for ind in p.indicators)
    if total != 100:
        parts = f"预算执行率 {plain(funds_weight)} + 指标 {plain(total - funds_weight)}"
        if any(given):
            hint = "请核对各指标的分值和预算执行率的分值。"
        else:
            absent = [l1 for l1 in prof.weights if l1 != "预算执行率" and l1 not in {i.level1 for i in p.indicators}]
            hint = (f"分值按评分规则「{prof.name}」默认分配" + (f"，缺少一级指标 {'、'.join(absent)}" if absent else "") +
                    "；请填写各指标的分值。")
        return [Issue(None, "funds_weight",
                      f"{who}的分值合计为 {plain(total)}（{parts}），应为 100，未生成。" + hint)]
    issues = inexpressible_targets(p) if mode == "portable" else []
    for i, ind in enumerate(p.indicators):
        if ind.actual is None:
            if ind.score is not None:
                issues.append(Issue(i, "score", "填写了得分但没有实际完成值。"))
            continue
        try:
            result = assess_indicator(_parsed(ind.target, _parsed_target), _parsed(ind.actual, _parsed_actual),
                                      ind.weight, prof)
        except XlperfError as exc:
            issues.append(Issue(i, "actual", exc.message))
            continue
        if ind.score is None or ind.score == result.proposal:
            continue
        # No placeholder prose in the form (it goes to the 财政局 as printed): the reason cell
        # stays blank, the 提醒 says so, and `check` reports the missing reason.
        if not ind.note.strip():
            issues.append(Issue(i, "score", f"得分 {plain(ind.score)} 与规则得分 {plain(result.proposal)} 不同但未写明理由："
                                            "已作为人工调整得分写入，偏差原因栏留空待填写", warning=True))
        try:   # the score itself (range, band) is checked as if a reason were written
            assess_indicator(ind.target, ind.actual, ind.weight, prof,
                             Override(ind.score, ind.note if ind.note.strip() else
                                      pending_reason(ind.score, result.proposal)))
        except XlperfError as exc:
            issues.append(Issue(i, "score", exc.message))
            continue
        ind.override = ind.score
    return issues


def inexpressible_targets(p: Project) -> list[Issue]:
    """Rows no native formula scores exactly: a target beyond :func:`xlperf.formulas.expressible`,
    or an actual with more decimals than the row's formulas read (:func:`xlperf.formulas.target_scale`).
    The portable workbook leaves their score to 待核 rather than call the add-in (#NAME?
    without it) or round the actual."""
    from . import formulas
    from .generate import _parsed_actual
    from .notation import Quantity

    issues = []
    for i, ind in enumerate(p.indicators):
        target, scale = _target_scale(ind.target) if type(ind.target) is str else _scale_of(ind.target)
        if not isinstance(target, Quantity):
            continue
        if scale is None:
            why = ("为负数的「≤」目标" if target.value < 0 else
                   f"有效数字过多（放大为整数后达到 10^{len(str(formulas.MAX_SCALED_TARGET)) - 1}）")
            issues.append(Issue(i, "target", f"指标值「{ind.target}」{why}，便携版（portable）自评表的原生公式"
                                             "无法精确计分：该行得分显示「待核」，请核对指标值，或改用 --mode udf"
                                             "（需安装 xlperf 加载项）", warning=True))
            continue
        actual = _parsed(ind.actual, _parsed_actual) if ind.actual is not None else None
        places = len(str(scale)) - 1
        if isinstance(actual, Quantity) and actual.value.scaleb(places) != actual.value.scaleb(places).to_integral_value():
            issues.append(Issue(i, "actual", f"实际完成值「{ind.actual}」的小数多于 {places} 位，便携版（portable）"
                                             "自评表的原生公式无法精确计分：该行得分显示「待核」，请核对实际完成值",
                                warning=True))
    return issues


def _scale_of(target):
    """(the parsed target, :func:`xlperf.formulas.target_scale` of it when it is a Quantity)."""
    from . import formulas
    from .generate import _parsed_target
    from .notation import Quantity

    target = _parsed(target, _parsed_target)
    return target, (formulas.target_scale(target) if isinstance(target, Quantity) else None)


@functools.lru_cache(maxsize=8192)
def _target_scale(text: str):
    # memoised by the target's text: a register repeats its notations (≥90%, =100%) row after row
    return _scale_of(text)


def _parsed(value, parse):
    """A parsed notation (memoised) where the text reads; the text itself otherwise, so the
    scoring engine reports it with its own message."""
    if type(value) is not str:
        return value
    try:
        return parse(value)
    except XlperfError:
        return value
