"""Audit of printed 自评表: does every printed figure follow from the form's own inputs?

:func:`audit` is pure: it takes :class:`xlperf.seeds.SeedForm` objects (or anything with ``.id``,
``.seed``, ``.source``, ``.project`` and ``.printed``) and returns an :class:`AuditReport`, per seed:

* every printed 执行率 and 得分 of the funds rows against the rule of the form's profile
  (a printed figure that differs is a *printed error*, listed with the rule's figure);
* every printed 总分 against the sum of the printed scores, and the printed 分值 total against the
  sum of the printed 分值 (the funds row included);
* every printed 评分等级 against its printed 总分;
* every printed indicator 得分 against the rule's proposal: equal, or a human departure — these
  are expected (evaluators judge), so they are listed, with whether a reason is written and
  whether the engine would accept the score as an :class:`xlperf.scoring.Override`;
* which built-in or configured profile reproduces most of the printed funds figures (a form made
  elsewhere does not say which rounding it used).

``xlperf audit [SEEDS_YAML]`` prints the report in Chinese.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from . import profiles as _profiles
from .errors import XlperfError
from .model import FUNDS_ROWS, SELF_EVALUATION
from .notation import is_blank, to_decimal
from .scoring import Override, assess_indicator, execution_rate, funds_score, grade, total

RATE = "执行率"
SCORE = "得分"


def _fmt(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:f}"


def _equal(printed: str, rule: Decimal | None) -> bool:
    if rule is None or is_blank(printed):
        return False
    try:
        return to_decimal(printed) == rule
    except XlperfError:
        return False


# ------------------------------------------------------------------------------ results

@dataclass(frozen=True)
class FundsCheck:
    """One printed 执行率 or 得分 of a funds row against the rule."""
    project: str
    row: str                  # 年度资金总额 / 当年财政拨款 / …
    figure: str               # 执行率 | 得分
    printed: str
    rule: Decimal | None      # the rule's figure; None when the rule cannot give one
    basis: str = ""           # how the rule's figure was reached (Chinese)
    error: str = ""           # why the rule gives no figure

    @property
    def ok(self) -> bool:
        return _equal(self.printed, self.rule)


@dataclass(frozen=True)
class TotalCheck:
    """The 总分 row: printed 得分 total and 分值 total against the sums of the printed columns."""
    project: str
    printed_total: str
    score_sum: Decimal        # printed funds 得分 + printed indicator 得分
    printed_weight: str
    weight_sum: Decimal       # printed funds 分值 + printed indicator 分值
    rule_total: Decimal | None  # the rule's funds 得分 + the printed indicator 得分

    @property
    def ok(self) -> bool:
        return _equal(self.printed_total, self.score_sum)

    @property
    def weight_ok(self) -> bool:
        return is_blank(self.printed_weight) or _equal(self.printed_weight, self.weight_sum)


@dataclass(frozen=True)
class GradeCheck:
    project: str
    printed_total: str
    printed_grade: str        # "" when the form prints none
    rule_grade: str | None    # the grade of the printed 总分 under the profile

    @property
    def printed(self) -> bool:
        return bool(self.printed_grade.strip())

    @property
    def ok(self) -> bool:
        return self.printed and self.printed_grade.strip() == self.rule_grade


@dataclass(frozen=True)
class IndicatorCheck:
    """One printed indicator 得分 against the rule's proposal."""
    project: str
    index: int                # 1-based row number in the indicator table
    name: str                 # 三级指标
    target: str
    actual: str
    weight: str
    printed: str
    proposal: Decimal | None
    rule: str = ""            # how the proposal was reached (Chinese)
    note: str = ""            # printed 偏差原因分析及改进措施
    band: tuple[Decimal, Decimal, bool] | None = None   # qualitative band in points: (low, high, high incl.)
    override_problem: str = ""  # why the engine would refuse the printed score as an override
    finding: str = ""         # e.g. a unit mismatch between target and actual
    error: str = ""           # why the rule gives no proposal

    @property
    def equal(self) -> bool:
        return _equal(self.printed, self.proposal)

    @property
    def departs(self) -> bool:
        return self.proposal is not None and not self.equal

    @property
    def direction(self) -> str:
        if not self.departs:
            return ""
        return "低于规则" if to_decimal(self.printed) < self.proposal else "高于规则"


@dataclass
class SeedAudit:
    seed: str
    source: str
    profile: str                          # the forms' declared profile(s)
    projects: list[str] = field(default_factory=list)
    funds: list[FundsCheck] = field(default_factory=list)
    totals: list[TotalCheck] = field(default_factory=list)
    grades: list[GradeCheck] = field(default_factory=list)
    indicators: list[IndicatorCheck] = field(default_factory=list)
    profile_fit: dict[str, int] = field(default_factory=dict)   # profile -> funds figures reproduced

    # ---- summaries
    def _figures(self, figure: str) -> list[FundsCheck]:
        return [c for c in self.funds if c.figure == figure]

    @property
    def rates(self) -> list[FundsCheck]:
        return self._figures(RATE)

    @property
    def scores(self) -> list[FundsCheck]:
        return self._figures(SCORE)

    @property
    def printed_errors(self) -> list[FundsCheck]:
        """Funds figures the rule does not reproduce."""
        return [c for c in self.funds if not c.ok]

    @property
    def total_errors(self) -> list[TotalCheck]:
        return [t for t in self.totals if not t.ok]

    @property
    def weight_errors(self) -> list[TotalCheck]:
        return [t for t in self.totals if not t.weight_ok]

    @property
    def printed_grades(self) -> list[GradeCheck]:
        return [g for g in self.grades if g.printed]

    @property
    def grade_errors(self) -> list[GradeCheck]:
        return [g for g in self.grades if g.printed and not g.ok]

    @property
    def proposals_equal(self) -> list[IndicatorCheck]:
        return [c for c in self.indicators if c.equal]

    @property
    def departures(self) -> list[IndicatorCheck]:
        return [c for c in self.indicators if c.departs]

    @property
    def unscored(self) -> list[IndicatorCheck]:
        return [c for c in self.indicators if c.proposal is None]

    @property
    def inferred_profile(self) -> str | None:
        """The profile reproducing most printed funds figures (the declared one wins a tie)."""
        if not self.profile_fit:
            return None
        best = max(self.profile_fit.values())
        winners = [name for name, n in self.profile_fit.items() if n == best]
        return self.profile if self.profile in winners else winners[0]


@dataclass
class AuditReport:
    seeds: list[SeedAudit] = field(default_factory=list)

    def seed(self, seed: str) -> SeedAudit:
        for s in self.seeds:
            if s.seed == seed:
                return s
        raise KeyError(seed)

    def text(self) -> str:
        """The report in Chinese, as ``xlperf audit`` prints it."""
        return "\n".join(_render(self))


# ------------------------------------------------------------------------------ the audit

def audit(seed_forms: Iterable) -> AuditReport:
    """Check every printed figure of the 自评表 among ``seed_forms`` (申报表 are skipped)."""
    report = AuditReport()
    by_seed: dict[str, SeedAudit] = {}
    forms = [f for f in seed_forms if f.project.kind == SELF_EVALUATION]
    for form in forms:
        sa = by_seed.get(form.seed)
        if sa is None:
            sa = by_seed[form.seed] = SeedAudit(form.seed, form.source, form.project.profile)
            report.seeds.append(sa)
        elif form.project.profile not in sa.profile.split("、"):
            sa.profile += f"、{form.project.profile}"
        sa.projects.append(form.id)
        funds, rule_funds_score = _funds_checks(form, form.project.profile)
        sa.funds.extend(funds)
        sa.totals.append(_total_check(form, rule_funds_score))
        sa.grades.append(_grade_check(form))
        sa.indicators.extend(_indicator_checks(form))
    for sa in report.seeds:
        sa.profile_fit = _profile_fit([f for f in forms if f.seed == sa.seed])
    return report


def _funds_checks(form, profile) -> tuple[list[FundsCheck], Decimal | None]:
    checks: list[FundsCheck] = []
    rule_main_score = None
    for cells in form.printed.funds:
        line = form.project.funds.get(cells.row)
        rule_rate = None
        rate_error = ""
        if not is_blank(cells.rate) or not is_blank(cells.score):
            try:
                rule_rate = execution_rate(line.budget, line.executed, profile)
            except XlperfError as exc:
                rate_error = exc.message
        if not is_blank(cells.rate):
            checks.append(FundsCheck(form.id, cells.row, RATE, cells.rate, rule_rate,
                                     f"{_fmt(line.executed)} ÷ {_fmt(line.budget)} × 100", rate_error))
        if not is_blank(cells.score):
            rule_score, error = None, rate_error
            weight = cells.weight if not is_blank(cells.weight) else None
            if rule_rate is not None:
                try:
                    rule_score = funds_score(rule_rate, weight, profile)
                except XlperfError as exc:
                    error = exc.message
            checks.append(FundsCheck(form.id, cells.row, SCORE, cells.score, rule_score,
                                     f"执行率 {_fmt(rule_rate)}% × 分值 {weight or '（默认）'}", error))
            if cells.row == FUNDS_ROWS[0]:
                rule_main_score = rule_score
    return checks, rule_main_score


def _total_check(form, rule_funds_score: Decimal | None) -> TotalCheck:
    p = form.project
    ind_scores = [i.score for i in p.indicators if i.score is not None]
    ind_weights = [i.weight for i in p.indicators if i.weight is not None]
    score_sum = total(([p.funds_score] if p.funds_score is not None else []) + ind_scores)
    weight_sum = total(([p.funds_weight] if p.funds_weight is not None else []) + ind_weights)
    rule_total = None if rule_funds_score is None else total([rule_funds_score] + ind_scores)
    return TotalCheck(form.id, form.printed.total, score_sum, form.printed.total_weight, weight_sum, rule_total)


def _grade_check(form) -> GradeCheck:
    rule = None
    if not is_blank(form.printed.total):
        try:
            rule = grade(form.printed.total, form.project.profile)
        except XlperfError:
            rule = None
    return GradeCheck(form.id, form.printed.total, form.printed.grade, rule)


def _indicator_checks(form) -> list[IndicatorCheck]:
    out = []
    profile = form.project.profile
    for index, (ind, cells) in enumerate(zip(form.project.indicators, form.printed.indicators), start=1):
        if ind.weight is None or ind.score is None:
            continue
        base = dict(project=form.id, index=index, name=ind.level3, target=ind.target,
                    actual=cells.actual, weight=cells.weight, printed=cells.score, note=ind.note)
        try:
            result = assess_indicator(ind.target, ind.actual, ind.weight, profile)
        except XlperfError as exc:
            out.append(IndicatorCheck(proposal=None, error=exc.message, **base))
            continue
        band = None
        if result.band is not None:
            low, high = result.band_range()
            band = (low, high, result.band.high_inclusive)
        problem = ""
        if ind.score != result.proposal:
            try:
                assess_indicator(result.target, result.actual, ind.weight, profile,
                                 override=Override(ind.score, ind.note))
            except XlperfError as exc:
                problem = exc.message
        out.append(IndicatorCheck(proposal=result.proposal, rule=result.rule, band=band,
                                  override_problem=problem, finding=result.finding, **base))
    return out


def _profile_fit(forms) -> dict[str, int]:
    """How many printed funds figures each loadable profile reproduces."""
    fit: dict[str, int] = {}
    for name in _profiles.available():
        try:
            _profiles.load(name)
        except XlperfError:
            continue
        fit[name] = sum(c.ok for form in forms for c in _funds_checks(form, name)[0])
    return fit


# ------------------------------------------------------------------------------ rendering

def _count(ok: int, n: int) -> str:
    return f"{ok}/{n}"


def _render(report: AuditReport) -> list[str]:
    lines = ["种子表核对报告（按各表的评分规则重算印出的数字）", ""]
    if not report.seeds:
        lines.append("没有可核对的自评表。")
    for sa in report.seeds:
        n = len(sa.projects)
        fit = "，".join(f"{name} {k}" for name, k in sorted(sa.profile_fit.items(), key=lambda kv: -kv[1]))
        lines.append(f"种子 {sa.seed}（{sa.source}）：自评表 {n} 个项目，评分规则 {sa.profile}")
        lines.append(f"  按印出数字推断的评分规则：{sa.inferred_profile}（各规则复现的资金数字个数：{fit}）")
        lines.append(f"  执行率：复现 {_count(sum(c.ok for c in sa.rates), len(sa.rates))}；"
                     f"资金得分：复现 {_count(sum(c.ok for c in sa.scores), len(sa.scores))}")
        lines.append(f"  总分等于印出得分之和：{_count(n - len(sa.total_errors), n)}；"
                     f"分值合计等于印出的总分分值：{_count(n - len(sa.weight_errors), n)}")
        printed = sa.printed_grades
        lines.append(f"  评分等级与总分相符：{_count(len(printed) - len(sa.grade_errors), len(printed))}"
                     + (f"（{n - len(printed)} 个项目未印评分等级）" if n - len(printed) else ""))
        m = len(sa.indicators)
        lines.append(f"  指标得分与规则建议分相同：{_count(len(sa.proposals_equal), m)}；"
                     f"人工调整（与建议分不同）{len(sa.departures)} 处"
                     + (f"；无法按规则计分 {len(sa.unscored)} 处" if sa.unscored else ""))
        problems = []
        for c in sa.printed_errors:
            if c.rule is None:
                problems.append(f"    {c.project} {c.row} {c.figure}：印出 {c.printed}，规则无法计算（{c.error}）")
            else:
                problems.append(f"    {c.project} {c.row} {c.figure}：印出 {c.printed}，规则给出 {_fmt(c.rule)}"
                                f"（{c.basis}）")
        for t in sa.total_errors:
            problems.append(f"    {t.project} 总分：印出 {t.printed_total}，印出得分之和 {_fmt(t.score_sum)}")
        for t in sa.weight_errors:
            problems.append(f"    {t.project} 总分分值：印出 {t.printed_weight}，分值列合计 {_fmt(t.weight_sum)}")
        for t in sa.totals:
            if t.ok and t.rule_total is not None and not _equal(t.printed_total, t.rule_total):
                problems.append(f"    {t.project} 总分：印出 {t.printed_total} 等于印出得分之和，"
                                f"但沿用了错误的资金得分；按规则应为 {_fmt(t.rule_total)}")
        for g in sa.grade_errors:
            problems.append(f"    {g.project} 评分等级：印出 {g.printed_grade}，总分 {g.printed_total} 应为 {g.rule_grade}")
        if problems:
            lines.append("  印出的错误：")
            lines.extend(problems)
        else:
            lines.append("  印出的错误：无")
        if sa.departures:
            lines.append("  人工调整的指标得分（评价人的判断，需写明理由）：")
            for c in sa.departures:
                reason = f"理由：{c.note}" if c.note else "未写理由"
                extra = f"；{c.override_problem}" if c.override_problem else ""
                lines.append(f"    {c.project} 第 {c.index} 行 {c.name}：指标值 {c.target}，实际 {c.actual}，"
                             f"分值 {c.weight}，印出 {c.printed}，规则建议 {_fmt(c.proposal)}"
                             f"（{c.direction}；{reason}{extra}）")
        for c in sa.unscored:
            lines.append(f"    {c.project} 第 {c.index} 行 {c.name}：无法按规则计分（{c.error}）")
        findings = [c for c in sa.indicators if c.finding]
        if findings:
            lines.append("  需核对：")
            for c in findings:
                lines.append(f"    {c.project} 第 {c.index} 行 {c.name}：{c.finding}")
        lines.append("")
    return lines


# ------------------------------------------------------------------------------ command line

def register_cli(sub) -> None:
    p = sub.add_parser("audit", help="核对种子表：重算印出的执行率、得分、总分和评分等级",
                       description="按各表的评分规则重算种子自评表印出的执行率、资金得分、总分和评分等级，"
                                   "列出印出的错误和人工调整的指标得分。")
    p.add_argument("seeds", nargs="?", metavar="转录文件",
                   help="种子表转录文件（默认 workbooks/seeds.yaml 或环境变量 XLPERF_SEEDS）")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from . import seeds
    print(audit(seeds.load(args.seeds)).text())
    return 0
