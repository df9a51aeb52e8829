"""The seed transcription (``workbooks/seeds.yaml``) as model objects.

``load()`` reads the one transcription of the five real forms in ``shared/seeds`` and returns one
:class:`SeedForm` per printed project, in printed order: ``.project`` is an
:class:`xlperf.model.Project` (amounts, weights and scores as ``Decimal`` through
:func:`xlperf.notation.to_decimal`; targets and actuals as the text printed), ``.printed`` keeps
every printed figure as the exact string (``"96.36%"``, ``"9.7"``, ``"-"``), so an audit can compare
with what the form shows and a register can be built from the figures.

Schema: ``workbooks/SEEDS-SCHEMA.md``. The YAML is read with every scalar as a string (no
implicit numbers), so a figure written unquoted still keeps its printed form.

Mapping:

* ``kind``, ``year``, ``money_unit``, ``profile`` (自评表 only; 申报表 keep the model default)
  are copied to each project; ``id`` becomes ``Project.key``; ``source`` ``Project.source_file``;
* 申报表: ``nature``, ``category``, ``start``, ``end``, ``declared_funds`` (→ ``DeclaredFunds``),
  ``total_goal``, ``annual_goal``;
* 自评表: ``funds`` rows → ``Project.funds`` (``FundsLine``: 年初预算数, 全年预算数, 全年执行数,
  blank or dash → ``None``); the 分值 / 执行率 / 得分 of 年度资金总额 → ``funds_weight`` /
  ``funds_rate`` (a ``%`` sign dropped) / ``funds_score``; ``expected_goal`` → ``annual_goal``;
  ``actual_result``; ``printed_total`` → ``total_score``; ``printed_grade`` → ``grade``;
* indicators → :class:`xlperf.model.Indicator` (``weight``/``score`` ``Decimal``, an empty actual
  → ``None``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from .errors import NotationError, XlperfError
from .model import DECLARATION, FUNDS_ROWS, KINDS, SELF_EVALUATION, DeclaredFunds, FundsLine, Indicator, Project
from .notation import to_decimal

#: The transcription in a source checkout; ``XLPERF_SEEDS`` names another file.
SEEDS_YAML = Path(__file__).resolve().parent.parent / "workbooks" / "seeds.yaml"

_DECLARED_FIELDS = ("project_total", "project_fiscal", "project_other", "annual_total", "annual_fiscal",
                    "annual_carryover", "annual_other")


@dataclass(frozen=True)
class PrintedFunds:
    """One printed row of the 自评表 funds block, every cell as printed ("" for an empty cell)."""
    row: str            # 年度资金总额 | 当年财政拨款 | 上年结转资金 | 其他资金
    initial: str = ""   # 年初预算数
    budget: str = ""    # 全年预算数
    executed: str = ""  # 全年执行数
    weight: str = ""    # 分值 (001/004 print 分数); sub-rows print "-" or "—"
    rate: str = ""      # 执行率 (002 prints "96.36%"; its sub-rows leave it empty)
    score: str = ""     # 得分


@dataclass(frozen=True)
class PrintedIndicator:
    """The printed cells of one indicator row (自评表 rows carry actual/weight/score/note)."""
    level3: str
    target: str
    actual: str = ""
    weight: str = ""
    score: str = ""
    note: str = ""


@dataclass(frozen=True)
class Printed:
    """What the form prints, as strings."""
    funds: tuple[PrintedFunds, ...] = ()
    indicators: tuple[PrintedIndicator, ...] = ()
    total_weight: str = ""    # 总分 row, 分值 column
    total: str = ""           # 总分 row, 得分 column
    grade: str = ""           # 评分等级 ("" when none is printed)
    declared_funds: tuple[tuple[str, str], ...] = ()   # 申报表: (field, printed) pairs

    def funds_row(self, row: str) -> PrintedFunds | None:
        return next((r for r in self.funds if r.row == row), None)


@dataclass
class SeedForm:
    """One printed project of a seed form."""
    id: str             # "002-01": seed number - running project number
    seed: str           # "002"
    source: str         # the seed file name in shared/seeds
    project: Project
    printed: Printed
    remarks: str = ""   # the transcriber's notes on oddities of the printed form (English)

    @property
    def kind(self) -> str:
        return self.project.kind


class SeedError(XlperfError):
    """The seed transcription does not follow workbooks/SEEDS-SCHEMA.md."""


def default_path() -> Path:
    env = os.environ.get("XLPERF_SEEDS")
    return Path(env) if env else SEEDS_YAML


def load(path: str | os.PathLike | None = None) -> list[SeedForm]:
    """Read the seed transcription; one :class:`SeedForm` per project, in file order.

    ``path`` defaults to ``$XLPERF_SEEDS`` or the checkout's ``workbooks/seeds.yaml``. Raises
    :class:`SeedError` (Chinese message naming the project and field) on a malformed file."""
    path = Path(path) if path is not None else default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"无法读取种子表转录文件「{path}」：{exc.strerror or exc}") from None
    try:
        # BaseLoader: every scalar stays the string written (printed figures, "2023", "010").
        data = yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        raise SeedError(f"种子表转录文件「{path}」不是有效的 YAML：{exc}") from None
    if not isinstance(data, list):
        raise SeedError(f"种子表转录文件「{path}」应为列表（每个种子文件一项）。")
    out: list[SeedForm] = []
    seen: set[str] = set()
    for form in data:
        for seed_form in _form(form, path):
            if seed_form.id in seen:
                raise SeedError(f"种子表转录文件「{path}」中项目编号 {seed_form.id} 重复。")
            seen.add(seed_form.id)
            out.append(seed_form)
    return out


# ---------------------------------------------------------------------------- internals

def _need(mapping, key: str, where: str):
    if not isinstance(mapping, dict) or key not in mapping:
        raise SeedError(f"{where} 缺少字段 {key}。")
    return mapping[key]


def _str(mapping: dict, key: str) -> str:
    value = mapping.get(key, "")
    return "" if value is None else str(value)


def _amount(value: str, where: str) -> Decimal | None:
    try:
        return to_decimal(value, where, blank=None)
    except NotationError as exc:
        raise SeedError(exc.message) from None


def _form(form: dict, path: Path) -> list[SeedForm]:
    source = str(_need(form, "source", f"种子表转录文件「{path}」的一项"))
    where = f"种子「{source}」"
    kind = str(_need(form, "kind", where))
    if kind not in KINDS:
        raise SeedError(f"{where} 的 kind 应为 {'或'.join(KINDS)}，而不是「{kind}」。")
    try:
        year = int(_need(form, "year", where))
    except ValueError:
        raise SeedError(f"{where} 的 year「{form['year']}」不是年份。") from None
    money_unit = str(form.get("money_unit", "元"))
    if money_unit not in ("元", "万元"):
        raise SeedError(f"{where} 的 money_unit 应为 元 或 万元，而不是「{money_unit}」。")
    profile = form.get("profile") or None
    projects = _need(form, "projects", where)
    if not isinstance(projects, list):
        raise SeedError(f"{where} 的 projects 应为列表。")
    return [_project(p, source, kind, year, money_unit, profile) for p in projects]


def _project(p: dict, source: str, kind: str, year: int, money_unit: str, profile: str | None) -> SeedForm:
    pid = str(_need(p, "id", f"种子「{source}」的项目"))
    where = f"种子项目 {pid}"
    project = Project(kind=kind, year=year, name=str(_need(p, "name", where)),
                      department=_str(p, "department"), unit=_str(p, "unit"), key=pid,
                      money_unit=money_unit, source_file=source)
    if profile:
        project.profile = str(profile)
    printed_funds: list[PrintedFunds] = []
    declared: tuple[tuple[str, str], ...] = ()
    if kind == DECLARATION:
        project.nature = _str(p, "nature")
        project.category = _str(p, "category")
        project.start = _str(p, "start")
        project.end = _str(p, "end")
        df = p.get("declared_funds") or {}
        declared = tuple((name, _str(df, name)) for name in _DECLARED_FIELDS)
        project.declared = DeclaredFunds(**{name: _amount(value, f"{where} 的 {name}")
                                            for name, value in declared})
        project.total_goal = _str(p, "total_goal")
        project.annual_goal = _str(p, "annual_goal")
    else:
        for row in _need(p, "funds", where):
            name = str(_need(row, "row", f"{where} 的资金行"))
            if name not in FUNDS_ROWS:
                raise SeedError(f"{where} 的资金行「{name}」不是 {'、'.join(FUNDS_ROWS)} 之一。")
            cells = PrintedFunds(name, *(_str(row, k) for k in
                                         ("initial", "budget", "executed", "weight", "rate", "score")))
            printed_funds.append(cells)
            w = f"{where} {name}"
            project.funds[name] = FundsLine(_amount(cells.initial, f"{w} 年初预算数"),
                                            _amount(cells.budget, f"{w} 全年预算数"),
                                            _amount(cells.executed, f"{w} 全年执行数"))
            if name == FUNDS_ROWS[0]:
                project.funds_weight = _amount(cells.weight, f"{w} 分值")
                project.funds_rate = _amount(cells.rate, f"{w} 执行率")
                project.funds_score = _amount(cells.score, f"{w} 得分")
        project.annual_goal = _str(p, "expected_goal")
        project.actual_result = _str(p, "actual_result")
        project.total_score = _amount(_str(p, "printed_total"), f"{where} 总分")
        project.grade = _str(p, "printed_grade")
    printed_indicators: list[PrintedIndicator] = []
    for i, row in enumerate(p.get("indicators") or [], start=1):
        w = f"{where} 第 {i} 个指标"
        cells = PrintedIndicator(str(_need(row, "l3", w)), _str(row, "target"), _str(row, "actual"),
                                 _str(row, "weight"), _str(row, "score"), _str(row, "note"))
        printed_indicators.append(cells)
        project.indicators.append(Indicator(
            level1=str(_need(row, "l1", w)), level2=str(_need(row, "l2", w)), level3=cells.level3,
            target=cells.target,
            weight=_amount(cells.weight, f"{w} 分值"),
            actual=cells.actual if kind == SELF_EVALUATION and cells.actual != "" else None,
            score=_amount(cells.score, f"{w} 得分"),
            note=cells.note))
    printed = Printed(funds=tuple(printed_funds), indicators=tuple(printed_indicators),
                      total_weight=_str(p, "printed_total_weight"), total=_str(p, "printed_total"),
                      grade=_str(p, "printed_grade"), declared_funds=declared)
    return SeedForm(id=pid, seed=pid.split("-")[0], source=source, project=project, printed=printed,
                    remarks=_str(p, "remarks"))
