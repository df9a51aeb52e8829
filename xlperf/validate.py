"""Checks of harvested forms: every printed figure is recomputed by the scoring engine.

``check_project(project, declared=None, profile=None)`` is pure: it takes a
:class:`xlperf.model.Project` (a 自评表 as read from a workbook, figures as printed)
and returns a list of findings, each with a severity (错误 / 警告 / 提示), the place
(file, sheet, cell), a Chinese message, the value found and the value expected.
Every number it expects comes from :mod:`xlperf.scoring` (``score_project``,
``execution_rate``, ``funds_score``, ``grade``) under a profile — this module holds
no rule of its own, only the comparison of what is printed with what the rules give.

What is checked (``Finding.check`` names the check):

* ``rate``       执行率 = 全年执行数 ÷ 全年预算数 under the profile, in the form's money unit (every
  funds row that prints one);
* ``funds_score`` 预算执行率得分 from the printed rate (as the forms compute it) — also when 预算执行率
  is scored as an indicator row (Ningxia);
* ``subrows``    年度资金总额's 全年预算数 / 全年执行数 = the sum of its sub-rows (when they print any), and
  a total row printed 0 while its sub-rows spent: the funds score from the sub-rows' sums;
* ``funds_over`` / ``score_over``  a score above its 分值 (or below 0);
* ``weights``    the 分值 column (funds row included) totals the profile's weights (100);
* ``total``      总分 (or a header 自评得分) = the sum of the printed scores, and never above what the
  rows can reach when some score is blank;
* ``grade``      评分等级 matches the 总分 (skipped when the form prints no grade, as seed 002);
* ``band``       a qualitative score outside its band (达成 [80%, 100%] …);
* ``reason``     a missed target or a docked score without 偏差原因分析 (警告);
* ``departure``  a human score that departs from the rule *with* a written reason (提示: legitimate);
* ``unit``       the actual value carries a different unit from the target's;
* ``overspent``  全年执行数 above 全年预算数 on a funds row (警告: the score is capped, so only this shows it);
* ``declared`` / ``declared_missing`` / ``declared_funds``  drift from the 申报表, when given (a changed
  target is 错误: the score is measured against it);
* ``missing`` / ``unreadable``  a figure that is blank or cannot be read, so cannot be checked;
* ``engine``     what the engine refuses (an override without a reason, spending without a budget).

A 申报表 is checked on its own terms: ``decl_sum`` (项目资金总额 = 财政资金 + 其他资金,
年度资金申请总额 = its three parts, and not above the project's total), ``decl_dates``,
``decl_year`` (plan dates outside the form's year, 警告),
``missing`` / ``unreadable`` targets, and ``weights`` when it gives 分值.

The rounding of a form made elsewhere is not printed on it: :func:`infer_profile` finds
the profile(s) that reproduce the form's own 执行率 and 得分, and a figure no profile
reproduces is reported as such (a 9.36 for 96.36% is wrong under every rounding; a
99.51 for 99.503% is right under ``excel``).
"""
from __future__ import annotations

import logging
import os
import re
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from collections.abc import Iterable, Sequence

from . import profiles as _profiles
from . import scoring
from .errors import XlperfError
from .harvest import Problem
from .model import DEFAULT_PROFILE, LEVEL1, TO_YUAN, Project
from .notation import Judgement, Qualitative, Quantity, clean_text, is_blank, parse_target

log = logging.getLogger(__name__)

ERROR, WARNING, NOTE = "错误", "警告", "提示"
SEVERITIES = (ERROR, WARNING, NOTE)
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
MAIN_ROW = "年度资金总额"

@dataclass(frozen=True)
class Finding(Problem):
    """One finding: where (file, sheet, cell), how bad (错误 / 警告 / 提示), the Chinese
    message, the value found and the value expected. A :class:`xlperf.harvest.Problem`
    with two more fields: ``check`` (which check, see the module docstring) and
    ``project`` ("实施单位 / 项目名称")."""
    check: str = ""
    project: str = ""


def severity_text(severity) -> str:
    """错误 / 警告 / 提示 for a plain string or the harvester's ``Severity`` enum."""
    return str(getattr(severity, "value", severity))


def _finding(severity, project: Project | None, cell_key, message, found="", expected="", check="",
             file=None, sheet=None) -> Finding:
    cell = ""
    if project is not None:
        keys = cell_key if isinstance(cell_key, (list, tuple)) else [cell_key]
        for k in keys:
            if k and project.cells.get(k):
                cell = project.cells[k]
                break
    return Finding(severity=severity,
                   file=file if file is not None else (project.source_file if project else ""),
                   sheet=sheet if sheet is not None else (project.source_sheet if project else ""),
                   cell=cell, message_zh=message, found=_txt(found), expected=_txt(expected),
                   check=check, project=project.title if project is not None else "")


def _txt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _num(d: Decimal | None) -> str:
    """A figure for a message: as printed when it has decimals, else plain."""
    return "" if d is None else format(d, "f")


def shown(value: Decimal | None, decimals: int) -> Decimal | None:
    """The figure a reader sees: a cell that stores more decimals than the rule keeps (an
    unrounded formula result such as 96.35903… under a 0.00 format) shows them rounded
    half away from zero, as Excel's number format does. Figures are compared as shown."""
    if value is None or value.as_tuple().exponent >= -decimals:
        return value
    return scoring.excel_round(value, decimals, "half_up")


def finding_check(f) -> str:
    """The check name of a finding (empty for findings of other origin)."""
    return getattr(f, "check", "") or ""


# ------------------------------------------------------------- profile inference

def _printed_figures(project: Project):
    """(label, printed, compute(profile) -> expected) for every printed figure whose value
    depends on the rounding profile: the 执行率 and the 预算执行率得分."""
    line = project.funds.get(MAIN_ROW)
    out = []
    # Every printed 执行率, the sub-rows' too: a main row that divides exactly fits every
    # profile, and its sub-rows then decide (they are checked under the same rule).
    for row, fl in project.funds.items():
        printed = project.funds_rate if row == MAIN_ROW else fl.rate
        if printed is not None and fl.budget is not None and fl.executed is not None:
            out.append(("执行率" if row == MAIN_ROW else f"{row}执行率", printed,
                        lambda p, b=fl.budget, e=fl.executed: scoring.execution_rate(b, e, p), "rate"))
    if project.funds_score is not None:
        rate = project.funds_rate
        if rate is None and line is not None and line.budget is not None and line.executed is not None:
            rate_of = lambda p, b=line.budget, e=line.executed: scoring.execution_rate(b, e, p)  # noqa: E731
        else:
            rate_of = lambda p, r=rate: r  # noqa: E731
        weight = project.funds_weight

        def score(p, rate_of=rate_of, weight=weight):
            r = rate_of(p)
            return None if r is None else scoring.funds_score(r, weight, p)
        out.append(("得分", project.funds_score, score, "score"))
    return out


def _decimals(p, what: str) -> int:
    return {"rate": p.rate_decimals, "score": p.score_decimals}.get(what, p.indicator_decimals)


def _reproduces(name, figures) -> list[bool]:
    hits = []
    p = _profiles.get(name)
    # A rule that keeps no decimals (Hebei's 86%, 9) is not the rule of a form that prints
    # 99.09 or 9.91 anywhere: it would "explain" a 100 printed for 99.98 by rounding.
    if any(_decimals(p, what) == 0 and printed != printed.to_integral_value()
           for _label, printed, _c, what in figures):
        return [False] * len(figures)
    for _label, printed, compute, what in figures:
        try:
            value = compute(name)
        except XlperfError:
            value = None
        hits.append(value is not None and value == shown(printed, _decimals(p, what)))
    return hits


def _common(name: str) -> tuple[int, str]:
    try:
        return _profiles.get(name).common, name
    except XlperfError:
        return 99, name


def _profile_candidates(preferred: str | None, layout: str | None = None) -> list[str]:
    """Every profile in the order ties are broken in: the project's own (xp_profile), then
    the one of the layout the form was read as (a Ningxia form: ``ningxia``), then the
    default (the official Shanghai form's rounding), then the rest, most common first."""
    names = sorted(_profiles.available(), key=_common)
    for name in (DEFAULT_PROFILE, layout, preferred):
        if name and name in names:
            names.remove(name)
            names.insert(0, name)
    return names


def infer_profile(project: Project | Sequence[Project]) -> tuple[str | None, str]:
    """The rounding profile that reproduces the form's own printed 执行率 and 得分.

    Accepts one project or several (e.g. all projects of one file: one form, one
    rounding). Returns ``(name, explanation)``; ``name`` is ``None`` when the form
    prints nothing that depends on rounding or no profile reproduces any of it. Ties
    go to the project's own profile, then to the default one, then by name."""
    projects = [project] if isinstance(project, Project) else list(project)
    if not projects:
        return None, "没有项目，无法推断评分规则。"
    preferred = projects[0].profile
    layout = getattr(projects[0], "layout", "")
    figures = [f for p in projects for f in _printed_figures(p)]
    if not figures:
        return None, "表上没有执行率或预算执行率得分可供推断评分规则。"
    scores = {}
    for name in _profile_candidates(preferred, layout):
        try:
            scores[name] = _reproduces(name, figures)
        except XlperfError as exc:  # a broken profile file: say so, try the others
            log.warning("profile %s unusable: %s", name, exc)
    if not scores:
        return None, "没有可用的评分规则。"
    best_n = max(sum(h) for h in scores.values())
    if best_n == 0:
        return None, (f"表上 {len(figures)} 个执行率/得分数字在任何评分规则"
                      f"（{'、'.join(scores)}）下都无法得出。")
    best = [n for n, h in scores.items() if sum(h) == best_n]
    name = best[0]
    label = _profiles.get(name).label
    unexplained = [f"{lab} {_num(pr)}" for (lab, pr, _c, _w), ok in zip(figures, scores[name]) if not ok]
    text = f"推断为「{name}」（{label}）：表上 {len(figures)} 个执行率/得分数字中 {best_n} 个可由此规则得出"
    if len(best) > 1:
        why = "本表式的规则" if name == layout else "表上声明的规则" if name == preferred else "最常用的规则"
        text += f"（规则 {'、'.join(best[1:])} 同样能得出，取{why}「{name}」）"
    if unexplained:
        others = [n for n in scores if n not in best]
        if all(not any(scores[n][i] for n in scores)
               for i, ok in enumerate(scores[name]) if not ok):
            text += f"；{'、'.join(unexplained)} 在任何规则下都无法得出"
        elif others:
            text += f"；{'、'.join(unexplained)} 与此规则不符"
    return name, text + "。"


# ----------------------------------------------------------------- the checks

@dataclass
class ProjectCheck:
    """The outcome of checking one project: the profile used, how it was chosen, the
    engine's evaluation, and the findings."""
    project: Project
    profile: str
    profile_explanation: str
    findings: list = field(default_factory=list)
    score: scoring.ProjectScore | None = None
    declared: Project | None = None

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if severity_text(f.severity) == severity)


def check_project(project: Project, declared: Project | None = None, profile=None) -> list:
    """All findings for one 自评表 (see the module docstring). Pure: no I/O."""
    return review_project(project, declared, profile).findings


def review_project(project: Project, declared: Project | None = None, profile=None) -> ProjectCheck:
    """:func:`check_project` with the profile used, why, and the engine's evaluation."""
    if project.kind != "自评表":
        # A 申报表 carries no score to recompute (nothing to infer a rounding from): its own
        # arithmetic and targets are checked.
        p = _profiles.get(profile if profile is not None else project.profile or DEFAULT_PROFILE)
        out = ProjectCheck(project, p.name, f"申报表：按规则「{p.name}」核对资金合计与指标值。", declared=declared)
        _check_declaration(project, p, out.findings)
        _sort_findings(out.findings)
        return out
    if profile is None:
        inferred, why = infer_profile(project)
        name = inferred or project.profile or DEFAULT_PROFILE
        if inferred is None:
            why += f"按表上声明的规则「{name}」检查。"
    else:
        name = profile if isinstance(profile, str) else profile.name
        why = f"按指定的评分规则「{name}」检查。"
    p = _profiles.get(profile if profile is not None and not isinstance(profile, str) else name)
    out = ProjectCheck(project, p.name, why, declared=declared)
    score = scoring.score_project(project, p)
    out.score = score
    f = out.findings
    _check_funds(project, p, score, f)
    _check_indicators(project, p, score, f)
    _check_weights(project, p, score, f)
    _check_total_and_grade(project, p, f)
    if declared is not None:
        _check_declared(project, declared, f)
    _sort_findings(f)
    return out


def _sort_findings(f: list) -> None:
    f.sort(key=lambda x: SEVERITY_RANK.get(severity_text(x.severity), 9))


def _every_rounding(compute, printed, used: str, what: str) -> str:
    """Say whether some other profile would give the printed figure."""
    others = []
    for name in _profiles.available():
        if name == used:
            continue
        try:
            decimals = _decimals(_profiles.get(name), what)
            if decimals == 0 and printed != printed.to_integral_value():
                continue    # a whole-number rule never prints 99.10
            if compute(name) == shown(printed, decimals):
                others.append(name)
        except XlperfError:
            pass
    if others:
        return f"按规则「{'、'.join(others)}」可得出表上数字，与本表其他数字推断的规则「{used}」不一致"
    return "在任何评分规则下都无法得出表上数字"


def _check_funds(project: Project, p, score: scoring.ProjectScore, f: list) -> None:
    line = project.funds.get(MAIN_ROW)
    # Engine refusals on the amounts (spending without a budget, negative amounts).
    for key, exc in score.errors.items():
        if not key.startswith("funds."):
            continue
        row = key.split(".")[1]
        fl = project.funds.get(row)
        if fl is None or fl.budget is None or fl.executed is None:
            continue  # a blank amount on a sub-row: the forms leave those empty (seed 002)
        f.append(_finding(ERROR, project, [f"funds.{row}.executed", f"funds.{row}.budget"],
                          f"{row}：{exc.message}", _num(fl.executed), "", "engine"))
    # Spending above the budget: the rate is capped for the score, so nothing else shows it.
    for row, fl in project.funds.items():
        if fl.budget is not None and fl.executed is not None and fl.budget > 0 and fl.executed > fl.budget:
            f.append(_finding(WARNING, project, [f"funds.{row}.executed"],
                              f"{row}的全年执行数 {_num(fl.executed)} 大于全年预算数 {_num(fl.budget)}"
                              f"（超支 {_num(fl.executed - fl.budget)}{project.money_unit or '元'}），请核实或说明。",
                              fl.executed, f"≤ {_num(fl.budget)}", "overspent"))
    # The sub-rows (当年财政拨款…) print their own 执行率 on most forms: same rule, no score.
    for row, fl in project.funds.items():
        if row != MAIN_ROW:
            _check_rate(project, p, score, row, fl, fl.rate, [f"funds.{row}.rate", f"funds.{row}.executed"], f)
    if line is None or (line.budget is None and line.executed is None):
        if project.funds_score is not None or project.funds_rate is not None:
            f.append(_finding(WARNING, project, ["funds.年度资金总额.budget", "funds_rate"],
                              "年度资金总额的全年预算数和全年执行数为空，无法核对执行率和得分。",
                              "", "", "missing"))
        return
    if line.budget is None or line.executed is None:
        which = "全年预算数" if line.budget is None else "全年执行数"
        key = "budget" if line.budget is None else "executed"
        f.append(_finding(WARNING, project, f"funds.{MAIN_ROW}.{key}",
                          f"年度资金总额的{which}为空，无法核对执行率和得分。", "", "", "missing"))
        return
    subrows = _check_subrows(project, line, f)
    rate = score.rates.get(MAIN_ROW)
    printed_rate = project.funds_rate
    _check_rate(project, p, score, MAIN_ROW, line, printed_rate, ["funds_rate", f"funds.{MAIN_ROW}.rate"], f)
    if subrows is not None and not line.budget and not line.executed and project.funds_score is not None:
        # A total row printed 0 (or blank) while its sub-rows spent money: the score the
        # form should carry is the one of the sub-rows' sums (a published form scored 0 so).
        _check_score_of_subrows(project, p, score.funds_weight, subrows, f)
        return
    weight = score.funds_weight
    base_rate = printed_rate if printed_rate is not None else rate
    if project.funds_score is None:
        if base_rate is not None:
            f.append(_finding(WARNING, project, "funds_score", "预算执行率得分为空。", "",
                              scoring.funds_score(base_rate, weight, p), "missing"))
        return
    printed = project.funds_score
    if printed > weight or printed < 0:
        f.append(_finding(ERROR, project, "funds_score",
                          f"预算执行率得分 {_num(printed)} 超出 0 到分值 {_num(weight)} 的范围"
                          f"（得分不能大于分值）。", printed, weight, "funds_over"))
        return
    if base_rate is None:
        return
    expected = scoring.funds_score(base_rate, weight, p)
    if shown(printed, p.score_decimals) != expected:
        note = _every_rounding(lambda n: scoring.funds_score(base_rate, weight, n), printed, p.name, "score")
        source = "表上执行率" if printed_rate is not None else "执行率"
        what = "预算执行率指标的得分" if getattr(project, "layout", "") == "ningxia" else "预算执行率得分"
        if base_rate >= 100 and expected == weight and printed < weight:
            message = (f"执行率 {_num(base_rate)}%（全额执行），{what}应为满分 {_num(weight)}，表上为 {_num(printed)}。")
        else:
            message = (f"{what}应为 {_num(expected)}（{source} {_num(base_rate)}% × 分值 {_num(weight)}，"
                       f"按规则「{p.name}」取 {p.score_decimals} 位小数），表上为 {_num(printed)}；{note}。")
        f.append(_finding(ERROR, project, "funds_score", message, printed, expected, "funds_score"))


_AMOUNTS = (("budget", "全年预算数"), ("executed", "全年执行数"))


def _check_subrows(project: Project, line, f: list) -> dict | None:
    """年度资金总额 against the sum of its sub-rows (当年财政拨款, 上年结转资金, 其他资金 and any
    further ones printed), for 全年预算数 and 全年执行数; only when some sub-row prints an
    amount (many forms leave them blank). Returns the sums when any differs, else None."""
    subs = [(row, fl) for row, fl in project.funds.items() if row != MAIN_ROW]
    sums, differs = {}, False
    for attr, what in _AMOUNTS:
        parts = [(row, getattr(fl, attr)) for row, fl in subs if getattr(fl, attr) is not None]
        added = sum((v for _r, v in parts), Decimal(0))
        if not added:
            continue   # sub-rows blank or printing 0 only (seed 002 leaves 当年财政拨款 blank): nothing to add up
        sums[attr] = added
        total = getattr(line, attr)
        if abs((total or Decimal(0)) - added) > _NOISE:
            differs = True
            terms = " + ".join(f"{row} {_num(v)}" for row, v in parts)
            f.append(_finding(ERROR, project, [f"funds.{MAIN_ROW}.{attr}"],
                              f"年度资金总额的{what} {_num(total) if total is not None else '空'} 不等于其下各行之和 "
                              f"{_num(added)}（{terms}，金额单位{project.money_unit or '元'}）。",
                              total if total is not None else "空", added, "subrows"))
    return sums if differs else None


def _check_score_of_subrows(project: Project, p, weight, sums: dict, f: list) -> None:
    budget, executed = sums.get("budget"), sums.get("executed")
    if not budget or executed is None:
        return
    try:
        rate = scoring.execution_rate(budget, executed, p)
        expected = scoring.funds_score(rate, weight, p)
    except XlperfError:
        return
    printed = project.funds_score
    if shown(printed, p.score_decimals) != expected:
        f.append(_finding(ERROR, project, "funds_score",
                          f"年度资金总额行为 0，而其下各行合计全年预算数 {_num(budget)}、全年执行数 {_num(executed)}："
                          f"执行率应为 {_num(rate)}%，预算执行率得分应为 {_num(expected)}（分值 {_num(weight)}，"
                          f"按规则「{p.name}」），表上为 {_num(printed)}。", printed, expected, "subrows"))


def _check_rate(project: Project, p, score: scoring.ProjectScore, row: str, line, printed, cells, f: list) -> None:
    """The 执行率 printed on one funds row against the rule's."""
    rate = score.rates.get(row)
    if rate is None or printed is None or shown(printed, p.rate_decimals) == rate:
        return
    note = _every_rounding(lambda n: scoring.execution_rate(line.budget, line.executed, n), printed, p.name, "rate")
    f.append(_finding(
        ERROR, project, cells,
        f"{'' if row == MAIN_ROW else row + '的'}执行率应为 {_num(rate)}%（全年执行数 {_num(line.executed)} ÷ "
        f"全年预算数 {_num(line.budget)} × 100，金额单位{project.money_unit or '元'}，按规则「{p.name}」取 "
        f"{p.rate_decimals} 位小数），表上为 {_num(printed)}%；{note}。", printed, rate, "rate"))


def _judgement_of(result: scoring.IndicatorResult) -> str:
    a = result.actual
    if isinstance(a, Qualitative) and a.judgement is not None:
        return a.judgement.value
    return Judgement.ACHIEVED.value


def _unit(u: str | None) -> str | None:
    return None if u is None else clean_text(u)


def _percent_as_fraction(t, a) -> bool:
    """0.95 typed against ≥90%: a bare fraction where a percentage of more than 1% is aimed at
    (the printed form says 请核对 beside it too). Below a ≤ target (≤5%, actual 0.5) a small
    number is what is aimed at, so only ≥ / > / = targets above 1% count."""
    return (isinstance(t, Quantity) and isinstance(a, Quantity) and a.unit is None
            and _unit(t.unit) in ("%", "％") and not t.op.lower_is_better and t.value > 1
            and 0 < a.value <= 1)


def _check_indicators(project: Project, p, score: scoring.ProjectScore, f: list) -> None:
    for i, (ind, res) in enumerate(zip(project.indicators, score.indicators)):
        name = ind.level3 or f"第 {i + 1} 个指标"
        key = f"indicators.{i}"
        note = (ind.note or "").strip() if scoring.has_reason(ind.note) else ""
        if ind.unread_target:
            _unread_target(project, ind, name, f"{key}.target", f)
            continue      # no target, no score to check: said once, at the target cell
        if ind.weight is None:
            f.append(_finding(WARNING, project, [f"{key}.weight", f"{key}.score"],
                              f"指标「{name}」的分值为空。", "", "", "missing"))
            continue
        if is_blank(ind.target):
            # Said at the target cell (not at the actual's, with the actual as 表上值).
            f.append(_finding(WARNING, project, [f"{key}.target", f"{key}.level3"],
                              f"指标「{name}」的年度指标值为空，无法核对得分（请按申报表填写年度指标值）。", "",
                              "年度指标值（如 ≥90%、=100%、建立健全）", "missing"))
            continue
        if ind.actual is None or is_blank(ind.actual):
            if ind.weight != 0:
                f.append(_finding(WARNING, project, [f"{key}.actual", f"{key}.score"],
                                  f"指标「{name}」的实际完成值为空，无法核对得分。", "", "", "missing"))
            continue
        refused = score.errors.get(f"{key}.override")
        # An override whose only fault is the missing reason is a human score like a printed
        # one: reported below as a missing 偏差原因 (警告), not as an engine refusal.
        unexplained = refused is not None and not note and refused.message.startswith(scoring.NO_REASON)
        for ekey in (f"{key}.score", f"{key}.override"):
            exc = score.errors.get(ekey)
            if exc is not None and not (unexplained and ekey.endswith(".override")):
                sev = WARNING if ekey.endswith(".score") else ERROR
                # An unreadable target is said at the target's cell, with the target as 表上值.
                at_target = ekey.endswith(".score") and not _readable_target(ind.target)
                f.append(_finding(sev, project, [f"{key}.target", f"{key}.actual", f"{key}.score"] if at_target
                                  else [f"{key}.actual", f"{key}.target", f"{key}.score"],
                                  f"指标「{name}」：{exc.message}",
                                  ind.target if at_target else ind.actual if ekey.endswith(".score") else ind.override, "",
                                  "unreadable" if ekey.endswith(".score") else "engine"))
        if res is None:
            continue
        # The unit of the actual value against the target's.
        t, a = res.target, res.actual
        if isinstance(t, Quantity) and isinstance(a, Quantity) and t.unit and a.unit \
                and _unit(t.unit) != _unit(a.unit):
            f.append(_finding(WARNING, project, [f"{key}.actual"],
                              f"指标「{name}」实际完成值「{_txt(ind.actual)}」的单位「{a.unit}」与年度指标值"
                              f"「{ind.target}」的单位「{t.unit}」不同（不做自动换算，请按目标单位填写）。",
                              a.unit, t.unit, "unit"))
        elif _percent_as_fraction(t, a):
            meant = _num((a.value * 100).normalize())
            f.append(_finding(WARNING, project, [f"{key}.actual"],
                              f"指标「{name}」实际完成值「{_txt(ind.actual)}」像是把 {meant}% 写成了小数：年度指标值"
                              f"「{ind.target}」是百分比，现按 {_txt(ind.actual)}% 计分。若指 {meant}%，请写成 {meant}%。",
                              ind.actual, f"{meant}%", "unit"))
        w = res.weight
        human = ind.override if ind.override is not None else ind.score
        if ind.override is not None and ind.score is not None and ind.score != res.score \
                and (refused is None or unexplained):
            f.append(_finding(ERROR, project, f"{key}.score",
                              f"指标「{name}」得分 {_num(ind.score)} 与人工调整得分 {_num(ind.override)} 不一致。",
                              ind.score, res.score, "score_over"))
        if human is None:
            f.append(_finding(WARNING, project, f"{key}.score", f"指标「{name}」的得分为空。", "",
                              res.proposal, "missing"))
            continue
        if human > w or human < 0:
            f.append(_finding(ERROR, project, f"{key}.score",
                              f"指标「{name}」得分 {_num(human)} 超出 0 到分值 {_num(w)} 的范围（得分不能大于分值）。",
                              human, w, "score_over"))
            continue
        if refused is not None and not unexplained:
            continue  # an xlperf workbook's override the engine refused: reported above
        # Otherwise an override is a human score like a printed one: a departure with a
        # reason is a 提示, without one (or with only the generator's placeholder) a 警告.
        if res.band is not None and w > 0 and not res.band.contains(human / w):
            low, high = res.band_range()
            close = "]" if res.band.high_inclusive else ")"
            f.append(_finding(ERROR, project, f"{key}.score",
                              f"指标「{name}」按「{_judgement_of(res)}」评分，得分应在 [{_num(low.normalize())}, "
                              f"{_num(high.normalize())}{close} 内（分值 {_num(w)} 的 {res.band.describe()}），"
                              f"表上为 {_num(human)}。",
                              human, f"[{_num(low.normalize())}, {_num(high.normalize())}{close}", "band"))
            continue
        missed = res.met is False or (res.met is None and _judgement_of(res) != Judgement.ACHIEVED.value)
        departs = shown(human, p.indicator_decimals) != res.proposal
        if departs and note:
            direction = "低于" if human < res.proposal else "高于"
            f.append(_finding(NOTE, project, f"{key}.score",
                              f"指标「{name}」人工评分 {_num(human)} {direction}规则计算的 {_num(res.proposal)}"
                              f"（{res.rule}），已写明偏差原因：{_short(note)}",
                              human, res.proposal, "departure"))
        elif not note and (missed or shown(human, p.indicator_decimals) < w or departs):
            if missed:
                what = "未达到年度指标值" if res.met is False else f"评为「{_judgement_of(res)}」"
                msg = f"指标「{name}」{what}（年度指标值 {ind.target}，实际 {_txt(ind.actual)}），"
            elif shown(human, p.indicator_decimals) < w:
                msg = f"指标「{name}」得分 {_num(human)} 低于分值 {_num(w)}（规则计算应得 {_num(res.proposal)}），"
            else:
                msg = f"指标「{name}」得分 {_num(human)} 与规则计算的 {_num(res.proposal)} 不同，"
            f.append(_finding(WARNING, project, [f"{key}.note", f"{key}.score"],
                              msg + "但未填写偏差原因分析及改进措施。", "空", "偏差原因分析及改进措施", "reason"))


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


#: Sums of figures that Excel stored as binary doubles may differ from the exact sum in
#: the 10th decimal (0.1 + 0.2); such noise is not a printed error.
_NOISE = Decimal("1e-9")


def _check_weights(project: Project, p, score: scoring.ProjectScore, f: list) -> None:
    if not project.indicators or any(ind.weight is None for ind in project.indicators):
        return
    expected = sum(p.weights.values(), Decimal(0))
    total = score.total_weight
    if not p.weights_include_funds:   # the indicators alone total the weights (预算执行率 on top)
        total -= score.funds_weight
    if abs(total - expected) > _NOISE:
        by_level = {}
        for ind in project.indicators:
            by_level[ind.level1] = by_level.get(ind.level1, Decimal(0)) + ind.weight
        parts = [f"预算执行率 {_num(score.funds_weight)}"] + [
            f"{lvl.replace('指标', '')} {_num(by_level[lvl])}" for lvl in
            list(LEVEL1) + [k for k in by_level if k not in LEVEL1] if lvl in by_level]
        f.append(_finding(ERROR, project, ["total_weight", "funds_weight"],
                          f"分值合计应为 {_num(expected)}，实际为 {_num(total)}（{'，'.join(parts)}）。",
                          total, expected, "weights"))


def _check_total_and_grade(project: Project, p, f: list) -> None:
    printed_scores = [project.funds_score] + [
        ind.override if ind.override is not None else ind.score for ind in project.indicators]
    complete = all(s is not None for s in printed_scores) and project.indicators
    total = scoring.total(printed_scores) if complete else None
    if project.total_score is not None and not complete and project.indicators:
        # Some score is blank: the total can still not exceed the printed scores plus the
        # 分值 of the rows without one.
        reach = sum((s for s in printed_scores if s is not None), Decimal(0))
        reach += sum((ind.weight or Decimal(0) for ind in project.indicators
                      if (ind.override if ind.override is not None else ind.score) is None), Decimal(0))
        if project.funds_score is None:
            reach += project.funds_weight if project.funds_weight is not None else p.funds_weight
        if project.total_score > reach + _NOISE:
            f.append(_finding(ERROR, project, "total_score",
                              f"总分 {_num(project.total_score)} 高于各行最多能得的 {_num(reach)}（已填得分之和加未填得分行的分值）。",
                              project.total_score, reach, "total"))
    if project.total_score is None:
        if complete:
            f.append(_finding(WARNING, project, "total_score", "总分为空。", "", total, "missing"))
    elif total is not None and abs(project.total_score - total) > _NOISE:
        ind_sum = total - project.funds_score
        f.append(_finding(ERROR, project, "total_score",
                          f"总分应为各项得分之和 {_num(total)}（预算执行率 {_num(project.funds_score)} + 指标 "
                          f"{_num(ind_sum)}），表上为 {_num(project.total_score)}。",
                          project.total_score, total, "total"))
    printed_grade = (project.grade or "").strip()
    basis = project.total_score if project.total_score is not None else total
    if printed_grade and basis is not None:
        expected = scoring.grade(basis, p)
        if printed_grade != expected:
            f.append(_finding(ERROR, project, "grade",
                              f"总分 {_num(basis)} 对应的评分等级应为「{expected}」，表上为「{printed_grade}」。",
                              printed_grade, expected, "grade"))


# ---------------------------------------------------------------- 申报表

def _norm_name(text: str) -> str:
    return clean_text(text or "").replace("（", "(").replace("）", ")")


def _same_target(a: str, b: str) -> bool:
    if clean_text(a or "") == clean_text(b or ""):
        return True
    try:
        ta, tb = parse_target(a), parse_target(b)
    except XlperfError:
        return False
    if isinstance(ta, Quantity) and isinstance(tb, Quantity):
        return ta.op == tb.op and ta.value == tb.value and _unit(ta.unit) == _unit(tb.unit)
    return False


def _readable_target(text: str) -> bool:
    try:
        parse_target(text)
    except XlperfError:
        return False
    return True


def _unread_target(project: Project, ind, name: str, key: str, f: list) -> None:
    """A 年度指标值 cell whose content does not show what was typed (a formula such as =A1*2,
    a date: :func:`xlperf.notation.as_typed`): one 警告 at the cell, nothing derived from it."""
    why, held = ind.unread_target
    f.append(_finding(WARNING, project, key, f"指标「{name}」的年度指标值{why}", held,
                      "文本格式的指标值（如 =100%、≥90%）", "unreadable"))


def _check_declared(project: Project, declared: Project, f: list) -> None:
    decl_by_name: dict[str, list[int]] = {}
    for j, d in enumerate(declared.indicators):
        decl_by_name.setdefault(_norm_name(d.level3), []).append(j)
    used = set()
    where = f"申报表「{Path(declared.source_file).name}」" if declared.source_file else "申报表"
    for i, ind in enumerate(project.indicators):
        js = [j for j in decl_by_name.get(_norm_name(ind.level3), []) if j not in used]
        if not js:
            f.append(_finding(WARNING, project, [f"indicators.{i}.target"],
                              f"指标「{ind.level3}」不在{where}中（自评表的指标应与申报时一致）。",
                              ind.level3, "", "declared_missing"))
            continue
        j = js[0]
        used.add(j)
        d = declared.indicators[j]
        if not (ind.unread_target or d.unread_target) and not _same_target(ind.target, d.target):
            # 错误, not 警告: the score is measured against this target, so a target changed
            # after the declaration changes the score itself (the classic audit finding).
            f.append(_finding(ERROR, project, [f"indicators.{i}.target"],
                              f"指标「{ind.level3}」的年度指标值「{ind.target}」与{where}的「{d.target}」不一致"
                              f"（得分以申报的指标值为准，改动目标会改变得分）。",
                              ind.target, d.target, "declared"))
    for j, d in enumerate(declared.indicators):
        if j not in used:
            f.append(_finding(WARNING, project, [], f"{where}中的指标「{d.level3}」（{d.target}）未出现在自评表中。",
                              "", d.level3, "declared_missing"))
    # 年初预算数 against the declared 年度资金申请总额, each in its own money unit.
    line = project.funds.get(MAIN_ROW)
    amount = declared.declared.annual_total
    if line is not None and line.initial is not None and amount is not None:
        mine = TO_YUAN.get(project.money_unit or "元")
        theirs = TO_YUAN.get(declared.money_unit or "元")
        if mine and theirs:
            converted = scoring.excel_round(amount * theirs / mine, max(2, -line.initial.as_tuple().exponent),
                                            "half_up")
            if converted != line.initial:
                f.append(_finding(NOTE, project, f"funds.{MAIN_ROW}.initial",
                                  f"年初预算数 {_num(line.initial)}{project.money_unit} 与{where}的年度资金申请总额 "
                                  f"{_num(amount)}{declared.money_unit}（折合 {_num(converted)}{project.money_unit}）不同。",
                                  line.initial, converted, "declared_funds"))


#: The 申报表's funds block: each total and the parts it is the sum of (blank counts as 0).
_DECLARED_SUMS = (
    ("project_total", "项目资金总额", (("project_fiscal", "财政资金"), ("project_other", "其他资金"))),
    ("annual_total", "年度资金申请总额", (("annual_fiscal", "当年财政拨款"), ("annual_carryover", "上年结转资金"),
                                        ("annual_other", "其他资金"))),
)


def _check_declaration(project: Project, p, f: list) -> None:
    """A 申报表 on its own: the funds add up, this year's request is within the project's
    total, every indicator has a readable target, and 分值 (when given) total the profile's."""
    d = project.declared
    unit = project.money_unit or "元"
    for total_attr, total_name, parts in _DECLARED_SUMS:
        total = getattr(d, total_attr)
        values = [getattr(d, a) for a, _ in parts]
        if total is None:
            f.append(_finding(WARNING, project, f"declared.{total_attr}", f"{total_name}为空。", "", "", "missing"))
            continue
        if all(v is None for v in values):
            f.append(_finding(WARNING, project, f"declared.{total_attr}",
                              f"{total_name} {_num(total)}{unit} 的组成（{'、'.join(n for _, n in parts)}）均未填写。",
                              "", "", "missing"))
            continue
        added = sum((v for v in values if v is not None), Decimal(0))
        if added != total:
            terms = " + ".join(f"{n} {_num(v) if v is not None else '空'}" for (_, n), v in zip(parts, values))
            f.append(_finding(ERROR, project, [f"declared.{total_attr}"],
                              f"{total_name} {_num(total)}{unit} 不等于 {terms} = {_num(added)}{unit}。",
                              total, added, "decl_sum"))
    if d.annual_total is not None and d.project_total is not None and d.annual_total > d.project_total:
        f.append(_finding(WARNING, project, ["declared.annual_total"],
                          f"年度资金申请总额 {_num(d.annual_total)}{unit} 大于项目资金总额 {_num(d.project_total)}{unit}。",
                          d.annual_total, d.project_total, "decl_sum"))
    if project.start and project.end and project.start > project.end:
        f.append(_finding(ERROR, project, ["end", "start"],
                          f"计划完成日期 {project.end} 早于计划开始日期 {project.start}。",
                          project.end, project.start, "decl_dates"))
    _check_plan_year(project, f)
    if not project.indicators:
        f.append(_finding(WARNING, project, "name", "申报表中没有读到任何绩效指标。", "", "", "missing"))
        return
    for i, ind in enumerate(project.indicators):
        name = ind.level3 or f"第 {i + 1} 个指标"
        key = f"indicators.{i}.target"
        if ind.unread_target:
            _unread_target(project, ind, name, key, f)
            continue
        if is_blank(ind.target):
            f.append(_finding(WARNING, project, [key, f"indicators.{i}.level3"],
                              f"指标「{name}」的年度指标值为空（自评时无从对照，请补填）。", "", "", "missing"))
            continue
        try:
            parse_target(ind.target)
        except XlperfError as exc:
            f.append(_finding(WARNING, project, key, f"指标「{name}」：{exc.message}", ind.target, "",
                              "unreadable"))
    weights = [ind.weight for ind in project.indicators]
    if all(w is not None for w in weights):
        funds_weight = project.funds_weight if project.funds_weight is not None else p.funds_weight
        total, expected = funds_weight + sum(weights, Decimal(0)), sum(p.weights.values(), Decimal(0))
        if abs(total - expected) > _NOISE:
            f.append(_finding(ERROR, project, ["total_weight"],
                              f"分值合计应为 {_num(expected)}，实际为 {_num(total)}（预算执行率 {_num(funds_weight)}"
                              f" + 指标 {_num(total - funds_weight)}）。", total, expected, "weights"))


def _date_year(text: str) -> int | None:
    m = re.match(r"\s*(\d{4})\s*[-/.年]", text or "")
    return int(m.group(1)) if m else None


def _check_plan_year(project: Project, f: list) -> None:
    """Plan dates of a year's 申报表 lie in that year. 警告, not 错误: a project that runs
    across years may legitimately print its whole period; a date left over from last
    year's form (the usual cause) is what this catches."""
    if not project.year:
        return
    for attr, label in (("start", "计划开始日期"), ("end", "计划完成日期")):
        when = getattr(project, attr)
        y = _date_year(when)
        if y is not None and y != project.year:
            f.append(_finding(WARNING, project, attr,
                              f"{label} {when} 不在表格年度 {project.year} 年内（是否沿用了上一年的日期？"
                              f"跨年度项目请确认）。", when, f"{project.year} 年内的日期", "decl_year"))


def _decl_key(p: Project) -> tuple:
    return (_norm_name(p.unit), _norm_name(p.name))


def match_declarations(projects: Iterable[Project], declarations: Iterable[Project]) -> dict[int, Project]:
    """Pair each 自评表 with its 申报表: same 项目编号 when both have one, else the same
    实施单位 and 项目名称 (and the same year when both print one). Keyed by ``id(project)``."""
    match = declaration_matcher(declarations)
    out = {}
    for p in projects:
        d = match(p)
        if d is not None:
            out[id(p)] = d
    return out


def declaration_matcher(declarations: Iterable[Project]):
    """``match(project) -> 申报表 | None``: :func:`match_declarations` for one project at a
    time (the index is built once: a harvest pairs its files as they come)."""
    by_key, by_name = {}, {}
    for d in declarations:
        if d.kind != "申报表":
            continue
        if d.key:
            by_key.setdefault(d.key, d)
        by_name.setdefault(_decl_key(d), []).append(d)

    def match(p: Project) -> Project | None:
        d = by_key.get(p.key) if p.key else None
        if d is None:
            candidates = by_name.get(_decl_key(p), [])
            same_year = [c for c in candidates if not c.year or not p.year or c.year == p.year]
            d = same_year[0] if same_year else None
        return d
    return match


def check_file(projects: Sequence[Project], profile=None) -> list[ProjectCheck]:
    """The checks of the projects read from one file, declarations aside. One form, one
    rounding: without an explicit ``profile`` it is inferred from all the file's 自评表
    together, falling back to each project's own figures. Pure; what
    :func:`attach_checks` runs on each file as the harvest delivers it."""
    evaluations = [p for p in projects if p.kind == "自评表"]
    try:
        name, why = infer_profile(evaluations) if profile is None and len(evaluations) > 1 else (None, "")
    except Exception:  # noqa: BLE001 - see _unreviewable
        name, why = None, ""
    out = []
    for p in projects:
        try:
            if name is not None and p.kind == "自评表":
                chk = review_project(p, None, name)
                chk.profile_explanation = f"本文件 {len(evaluations)} 个项目合并推断：{why}"
            else:
                chk = review_project(p, None, profile)
        except Exception as exc:  # noqa: BLE001 - one project's odd values never stop a check run
            chk = _unreviewable(p, profile, exc)
        out.append(chk)
    return out


def _unreviewable(project: Project, profile, exc: Exception) -> ProjectCheck:
    """The check of a project whose values the checks could not handle: one 错误 that says
    so (the rest of the run goes on; issue 17 item 1)."""
    log.warning("%s: checks failed", project.source_file, exc_info=True)
    name = profile if isinstance(profile, str) else getattr(profile, "name", None) or project.profile or DEFAULT_PROFILE
    out = ProjectCheck(project, name, "无法核算。")
    out.findings.append(_finding(ERROR, project, "name", "该项目的数字无法核算（数值超出范围或格式异常），请核对表上金额、分值和得分。",
                                 "", "", "engine"))
    return out


def attach_checks(result) -> None:
    """A :func:`xlperf.harvest.harvest` hook (``after=``): check one file's projects as soon
    as its result arrives, while the workers read the next files."""
    result.checks = check_file(result.projects)


def add_declarations(checks: Sequence[ProjectCheck], declarations) -> None:
    """Pair each checked 自评表 with its 申报表 (:func:`match_declarations`) and add the
    findings where they differ. Needs every 申报表 (given, or a :func:`declaration_matcher`
    of them); the checks may come file by file."""
    if not declarations:
        return
    match = declarations if callable(declarations) else declaration_matcher(declarations)
    for c in checks:
        d = match(c.project)
        if d is None:
            continue
        c.declared = d
        if c.project.kind == "自评表":
            _check_declared(c.project, d, c.findings)
            _sort_findings(c.findings)


def check_projects(projects: Sequence[Project], declarations: Sequence[Project] = (),
                   profile=None) -> list[ProjectCheck]:
    """Check many projects (:func:`check_file` per source file, then
    :func:`add_declarations`), in the order given."""
    projects = list(projects)
    per_file: dict[str, list[Project]] = {}
    for p in projects:
        per_file.setdefault(p.source_file or f"#{id(p)}", []).append(p)
    by_project = {id(c.project): c for group in per_file.values() for c in check_file(group, profile)}
    out = [by_project[id(p)] for p in projects]
    add_declarations(out, declarations)
    return out


# ---------------------------------------------------------------- I/O wrapper

@dataclass
class CheckRun:
    """What ``xlperf check`` found: per-project checks, the harvester's own problems
    (files it could not read…), and timing."""
    checks: list[ProjectCheck]
    problems: list                       # findings not tied to a project (reading, duplicates)
    files: list[str]
    seconds: float
    harvest: object = None
    dropped: set = field(default_factory=set)    # ids of duplicate projects left out (see duplicates)

    @property
    def findings(self) -> list:
        return list(self.problems) + [f for c in self.checks for f in c.findings]

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in SEVERITIES}
        for f in self.findings:
            sev = severity_text(f.severity)
            counts[sev] = counts.get(sev, 0) + 1
        return counts


def _harvest_parts(h) -> tuple[list[Project], list, list[str]]:
    """Projects, reading problems and file names of a harvest result."""
    projects = list(getattr(h, "projects", []) or [])
    problems = list(getattr(h, "problems", []) or [])
    results = getattr(h, "results", None)
    if results is not None:
        files = [str(r.file) for r in results]
    else:
        files = sorted({p.source_file for p in projects if p.source_file})
    return projects, problems, files


def check_harvest(h, declarations: Sequence[Project] = (), profile=None) -> CheckRun:
    """Check a harvest: each file's checks are those ``harvest(after=attach_checks)`` made
    as the file arrived, else they are made here; then the 申报表 are paired."""
    projects, problems, files = _harvest_parts(h)
    t0 = time.perf_counter()
    results = getattr(h, "results", None)
    if results is None:
        checks = check_projects(projects, declarations, profile)
    else:
        checks = []
        for r in results:
            done = getattr(r, "checks", None)
            checks.extend(done if done is not None and profile is None else check_file(r.projects, profile))
        add_declarations(checks, declarations)
    seen = {id(f) for c in checks for f in c.findings}
    problems = [pr for pr in problems if id(pr) not in seen]
    dropped, notes = duplicates([c.project for c in checks])
    if dropped:
        checks = [c for c in checks if id(c.project) not in dropped]
        problems.extend(notes)
    run = CheckRun(checks, problems, files, time.perf_counter() - t0, h)
    run.dropped = dropped
    return run


def identity(text) -> str:
    """A name's identity: NFKC, no format characters (zero-width, bidi), no white space or
    control characters, case-folded — 「单位\u200b甲」 and 「单位甲」 are one unit."""
    s = unicodedata.normalize("NFKC", str(text or ""))
    if " " not in s and s.isprintable():
        # Printable excludes every Cc, Cf, Zs (but " "), Zl, Zp and white-space character:
        # nothing to drop (the common case; a streamed harvest asks this twice per project).
        return s.casefold()
    return "".join(ch for ch in s if unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp")
                   and not ch.isspace()).casefold()


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except (OSError, ValueError):
        return 0.0


def duplicates(projects: Sequence[Project]) -> tuple[set[int], list[Finding]]:
    """Projects that appear more than once (same kind, year, 实施单位 and 项目名称 by
    :func:`identity`: copies, or a resubmission next to the original). One of each is kept —
    the one in the most recently modified file (a resubmission is newer), the first listed
    on a tie — and the others are dropped from the totals with a finding that names the file
    kept. Returns (ids of the dropped projects, findings)."""
    groups: dict[tuple, list[Project]] = {}
    for p in projects:
        if p.name:
            groups.setdefault((p.kind, p.year, identity(p.unit), identity(p.name)), []).append(p)
    dropped: set[int] = set()
    notes: list[Finding] = []
    for group in groups.values():
        if len(group) < 2:
            continue
        times = {id(p): _mtime(p.source_file) for p in group}
        kept = max(group, key=lambda p: (times[id(p)], -group.index(p)))
        where = f"「{Path(kept.source_file).name}」" + (f"工作表「{kept.source_sheet}」" if kept.source_sheet else "")
        for p in group:
            if p is kept:
                continue
            dropped.add(id(p))
            same = _content(p) == _content(kept)
            notes.append(_finding(
                NOTE if same else WARNING, p, "name",
                f"重复的项目（与{where}同一实施单位、项目名称、年度{'，内容相同' if same else '，但内容不同'}）："
                f"汇总中只计一次，保留{where}（{'最后修改的文件' if times[id(kept)] != times[id(p)] else '先列出的文件'}）"
                + ("" if same else "；请核对哪一份是最终版本") + "。",
                p.title, kept.source_file, "duplicate"))
    return dropped, notes


def _content(p: Project) -> tuple:
    """What a project says, without where it was read from (copies compare equal)."""
    return (p.funds_rate, p.funds_score, p.total_score, p.grade, p.funds_weight,
            tuple((k, v.budget, v.executed) for k, v in sorted(p.funds.items())),
            tuple((i.level3, i.target, i.actual, i.weight, i.score, i.note) for i in p.indicators))


def check_paths(paths, declarations=None, profile=None, workers: int | None = None) -> CheckRun:
    """Read the workbooks at ``paths`` (files or folders) with the harvester and check them.
    ``declarations``: 申报表 workbooks or folders (or already read projects); without
    them, 申报表 found among ``paths`` are used."""
    from . import harvest as _harvest
    if isinstance(paths, (str, Path)):
        paths = [paths]
    from .progress import Progress
    bar = Progress(None, None, "读取并核对", delay=1.0)     # on a terminal, for a long run

    def after(result) -> None:
        if profile is None:
            attach_checks(result)
        bar.update(1)

    h = _harvest.harvest([str(p) for p in paths], workers=workers, after=after)
    bar.close()
    decl: list[Project] = []
    if declarations:
        if isinstance(declarations, (str, Path)):
            declarations = [declarations]
        items = list(declarations)
        if items and isinstance(items[0], Project):
            decl = items
        else:
            dh = _harvest.harvest([str(p) for p in items], workers=workers)
            decl = [p for p in dh.projects if p.kind == "申报表"]
            h.results.extend(r for r in dh.results if not r.projects)  # unreadable declarations
    own_decl = [p for p in h.projects if p.kind == "申报表"]
    return check_harvest(h, decl or own_decl, profile)


# ---------------------------------------------------------------- CLI

def finding_dict(f, project: Project | None = None) -> dict:
    d = asdict(f) if hasattr(f, "__dataclass_fields__") else dict(vars(f))
    d = {k: _txt(v) if isinstance(v, Decimal) else v for k, v in d.items()}
    d["severity"] = severity_text(f.severity)
    if project is not None:
        d.setdefault("unit", project.unit)
        d.setdefault("project", project.title)
    return d


def run_json(run: CheckRun) -> dict:
    return {
        "files": run.files,
        "counts": run.counts(),
        "projects": [{
            "file": c.project.source_file, "sheet": c.project.source_sheet, "unit": c.project.unit,
            "name": c.project.name, "profile": c.profile, "profile_explanation": c.profile_explanation,
            "findings": [finding_dict(f) for f in c.findings]} for c in run.checks],
        "problems": [finding_dict(f) for f in run.problems],
    }


def format_finding(f) -> str:
    place = "，".join(x for x in (Path(f.file).name if f.file else "", f.sheet, f.cell) if x)
    extra = ""
    if f.found != "" or f.expected != "":
        extra = f"（表上：{f.found or '空'}；应为：{f.expected or '—'}）"
    return f"  [{severity_text(f.severity)}] {place + '：' if place else ''}{f.message_zh}{extra}"


def _cmd_check(args) -> int:
    run = check_paths(args.paths, args.declarations, args.profile, args.workers)
    if args.json:
        import json

        json.dump(run_json(run), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for pr in run.problems:
            print(format_finding(pr))
        for c in run.checks:
            print(f"{c.project.title}（{Path(c.project.source_file).name if c.project.source_file else '—'}）"
                  + (" 申报表" if c.project.kind == "申报表" else f" 规则：{c.profile}"))
            if not c.findings:
                print("  未发现问题。")
            for fd in c.findings:
                print(format_finding(fd))
        counts = run.counts()
        print(f"共检查 {len(run.files)} 个文件、{len(run.checks)} 个项目：" +
              "，".join(f"{s} {counts[s]} 条" for s in SEVERITIES) + "。")
    return 1 if run.counts()[ERROR] else 0


def register_cli(sub) -> None:
    p = sub.add_parser("check", help="核对自评表和申报表：执行率、得分、分值、总分、等级、偏差原因、单位、资金合计、计划日期、与申报表一致",
                       description="重算每张自评表上的数字、核对每张申报表的资金合计和指标值，列出不一致之处；"
                                   "发现“错误”时退出码为 1。")
    p.add_argument("paths", nargs="+", metavar="文件或文件夹", help="自评表、申报表工作簿或其所在文件夹")
    p.add_argument("--declarations", metavar="申报表文件夹", help="申报表所在文件夹：核对自评表的指标值是否与申报一致")
    p.add_argument("--profile", metavar="规则", help="指定评分规则（默认按表上数字推断）")
    p.add_argument("--json", action="store_true", help="以 JSON 输出结果")
    p.add_argument("--workers", type=int, default=None, metavar="进程数", help="并行读取的进程数（默认按 CPU 核数）")
    p.set_defaults(func=_cmd_check)
