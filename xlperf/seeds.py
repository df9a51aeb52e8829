"""The seed transcription (``workbooks/seeds.yaml``) as model objects.

``load()`` reads the one transcription of the five real forms in ``shared/seeds`` and returns one
:class:`SeedForm` per printed project, in printed order: ``.project`` is an
:class:`xlperf.model.Project` (amounts, weights and scores as ``Decimal`` through
:func:`xlperf.notation.to_decimal`; targets and actuals as the text printed), ``.printed`` keeps
every printed figure as the exact string (``"96.36%"``, ``"9.7"``, ``"-"``), so an audit can compare
with what the form shows and a register can be built from the figures.

:func:`project_from_dict` reads ONE project of that shape (plus kind/year/money_unit/profile) and is
the only dict → Project path: ``load()`` goes through it for every seed project, ``xlperf fill
项目.yaml`` for a user's file.

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
from .model import (DECLARATION, FUNDS_ROWS, KINDS, MONEY_UNITS, SELF_EVALUATION, DeclaredFunds, FundsLine,
                    Indicator, Project)
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


# ---------------------------------------------------------------------------- one project

def project_from_dict(data, *, kind, year, money_unit: str = "元", profile: str | None = None,
                      where: str | None = None) -> Project:
    """One project written as in ``workbooks/seeds.yaml`` → a :class:`~xlperf.model.Project`.

    This is the one dict → Project path: :func:`load` reads every seed project through it, and
    ``xlperf fill 项目.yaml`` reads a user's project file through it. ``data`` is the mapping of
    ONE item of a form's ``projects`` list (workbooks/SEEDS-SCHEMA.md)::

        id: "001-01"                 # optional here → Project.key
        name: 安全生产专项工作经费    # required
        department: …                # 主管部门
        unit: …                      # 实施单位
        # 申报表: nature, category, start, end, total_goal, annual_goal,
        #         declared_funds: {project_total, project_fiscal, project_other,
        #                          annual_total, annual_fiscal, annual_carryover, annual_other}
        # 自评表: funds (required list of {row, initial, budget, executed, weight, rate, score};
        #         row one of 年度资金总额 / 当年财政拨款 / 上年结转资金 / 其他资金),
        #         expected_goal, actual_result, printed_total, printed_grade
        indicators:                  # both kinds; l1, l2, l3 required on every row
          - {l1: 产出指标, l2: 数量指标, l3: …, target: "≥4.00(次)", actual: "4.00(次)",
             weight: "10.00", score: "10.00", note: ""}

    ``kind`` (申报表 | 自评表), ``year``, ``money_unit`` (元 | 万元) and ``profile`` are what a seed
    form gives all its projects. Figures are best given as strings (``"1,234.50"``); integers and
    ``Decimal`` are read exactly, as are floats through their shortest repr. ``where`` names the
    project in error messages (default: its id or name).

    Raises :class:`SeedError` with a Chinese message naming the project and the key."""
    return _read_project(data, kind, year, money_unit, profile, where=where)[0]


# ---------------------------------------------------------------------------- internals

def _need(mapping, key: str, where: str):
    if not isinstance(mapping, dict) or key not in mapping:
        raise SeedError(f"{where} 缺少字段 {key}。")
    return mapping[key]


def _str(mapping: dict, key: str, where: str = "") -> str:
    value = mapping.get(key, "")
    if isinstance(value, (dict, list, tuple)):
        kind = "映射" if isinstance(value, dict) else "列表"
        raise SeedError(f"{where + ' ' if where else ''}字段 {key} 应为文字或数字，而不是{kind}。")
    return "" if value is None else str(value)


def _amount(value: str, where: str) -> Decimal | None:
    try:
        return to_decimal(value, where, blank=None)
    except NotationError as exc:
        raise SeedError(exc.message) from None


def _settings(kind, year, money_unit, profile, where: str) -> tuple[str, int, str, str | None]:
    """The fields a form gives all its projects, checked: (kind, year, money_unit, profile)."""
    if kind is None or kind == "":
        raise SeedError(f"{where} 缺少字段 kind。")
    kind = str(kind)
    if kind not in KINDS:
        raise SeedError(f"{where} 的 kind 应为 {'或'.join(KINDS)}，而不是「{kind}」。")
    if year is None or year == "":
        raise SeedError(f"{where} 缺少字段 year。")
    try:
        year_number = int(str(year).strip())
    except ValueError:
        raise SeedError(f"{where} 的 year「{year}」不是年份。") from None
    if not 1900 <= year_number <= 2999:
        raise SeedError(f"{where} 的 year「{year}」不是年份。")
    money_unit = "元" if money_unit is None or money_unit == "" else str(money_unit)
    if money_unit not in MONEY_UNITS:
        raise SeedError(f"{where} 的 money_unit 应为 元 或 万元，而不是「{money_unit}」。")
    if isinstance(profile, (dict, list)):
        raise SeedError(f"{where} 的 profile 应为评分规则名称（如 shanghai）。")
    return kind, year_number, money_unit, (str(profile) if profile else None)


def _form(form: dict, path: Path) -> list[SeedForm]:
    source = str(_need(form, "source", f"种子表转录文件「{path}」的一项"))
    where = f"种子「{source}」"
    kind, year, money_unit, profile = _settings(_need(form, "kind", where), _need(form, "year", where),
                                                form.get("money_unit"), form.get("profile"), where)
    projects = _need(form, "projects", where)
    if not isinstance(projects, list):
        raise SeedError(f"{where} 的 projects 应为列表。")
    return [_project(p, source, kind, year, money_unit, profile) for p in projects]


def _project(p: dict, source: str, kind: str, year: int, money_unit: str, profile: str | None) -> SeedForm:
    pid = str(_need(p, "id", f"种子「{source}」的项目"))
    project, printed = _read_project(p, kind, year, money_unit, profile, where=f"种子项目 {pid}")
    project.source_file = source
    return SeedForm(id=pid, seed=pid.split("-")[0], source=source, project=project, printed=printed,
                    remarks=_str(p, "remarks"))


def _read_project(p, kind, year, money_unit, profile, *, where: str | None) -> tuple[Project, Printed]:
    """The project and its printed figures (see :func:`project_from_dict`)."""
    if where is None:
        if isinstance(p, dict) and p.get("id"):
            where = f"项目 {p['id']}"
        elif isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"]:
            where = f"项目「{p['name']}」"
        else:
            where = "项目数据"
    if not isinstance(p, dict):
        raise SeedError(f"{where} 应为映射（字段: 值），而不是{type(p).__name__}。")
    kind, year, money_unit, profile = _settings(kind, year, money_unit, profile, where)
    name = _str({"name": _need(p, "name", where)}, "name", where).strip()
    if not name:
        raise SeedError(f"{where} 的 name（项目名称）为空。")
    project = Project(kind=kind, year=year, name=name,
                      department=_str(p, "department", where), unit=_str(p, "unit", where),
                      key=_str(p, "id", where), money_unit=money_unit)
    if profile:
        project.profile = profile
    printed_funds: list[PrintedFunds] = []
    declared: tuple[tuple[str, str], ...] = ()
    if kind == DECLARATION:
        project.nature = _str(p, "nature", where)
        project.category = _str(p, "category", where)
        project.start = _str(p, "start", where)
        project.end = _str(p, "end", where)
        df = p.get("declared_funds") or {}
        if not isinstance(df, dict):
            raise SeedError(f"{where} 的 declared_funds 应为映射（{'、'.join(_DECLARED_FIELDS)}）。")
        w = f"{where} 的 declared_funds"
        declared = tuple((name, _str(df, name, w)) for name in _DECLARED_FIELDS)
        project.declared = DeclaredFunds(**{name: _amount(value, f"{w}.{name}") for name, value in declared})
        project.total_goal = _str(p, "total_goal", where)
        project.annual_goal = _str(p, "annual_goal", where)
    else:
        funds = _need(p, "funds", where)
        if not isinstance(funds, list):
            raise SeedError(f"{where} 的 funds 应为列表（每个资金行一项）。")
        for i, row in enumerate(funds, start=1):
            name = str(_need(row, "row", f"{where} 的 funds 第 {i} 行"))
            if name not in FUNDS_ROWS:
                raise SeedError(f"{where} 的资金行「{name}」（funds 第 {i} 行的 row）不是 {'、'.join(FUNDS_ROWS)} 之一。")
            w = f"{where} 的 funds 第 {i} 行（{name}）"
            cells = PrintedFunds(name, *(_str(row, k, w) for k in
                                         ("initial", "budget", "executed", "weight", "rate", "score")))
            printed_funds.append(cells)
            project.funds[name] = FundsLine(_amount(cells.initial, f"{w} 的 initial（年初预算数）"),
                                            _amount(cells.budget, f"{w} 的 budget（全年预算数）"),
                                            _amount(cells.executed, f"{w} 的 executed（全年执行数）"),
                                            _amount(cells.rate, f"{w} 的 rate（执行率）"))
            if name == FUNDS_ROWS[0]:
                project.funds_weight = _amount(cells.weight, f"{w} 的 weight（分值）")
                project.funds_rate = _amount(cells.rate, f"{w} 的 rate（执行率）")
                project.funds_score = _amount(cells.score, f"{w} 的 score（得分）")
        project.annual_goal = _str(p, "expected_goal", where)
        project.actual_result = _str(p, "actual_result", where)
        project.total_score = _amount(_str(p, "printed_total", where), f"{where} 的 printed_total（总分）")
        project.grade = _str(p, "printed_grade", where)
    indicators = p.get("indicators") or []
    if not isinstance(indicators, list):
        raise SeedError(f"{where} 的 indicators 应为列表（每个三级指标一项）。")
    printed_indicators: list[PrintedIndicator] = []
    for i, row in enumerate(indicators, start=1):
        w = f"{where} 的 indicators 第 {i} 个指标"
        cells = PrintedIndicator(_str({"l3": _need(row, "l3", w)}, "l3", w), _str(row, "target", w),
                                 _str(row, "actual", w), _str(row, "weight", w), _str(row, "score", w),
                                 _str(row, "note", w))
        printed_indicators.append(cells)
        project.indicators.append(Indicator(
            level1=_str({"l1": _need(row, "l1", w)}, "l1", w), level2=_str({"l2": _need(row, "l2", w)}, "l2", w),
            level3=cells.level3, target=cells.target,
            weight=_amount(cells.weight, f"{w} 的 weight（分值）"),
            actual=cells.actual if kind == SELF_EVALUATION and cells.actual != "" else None,
            score=_amount(cells.score, f"{w} 的 score（得分）"),
            note=cells.note))
    printed = Printed(funds=tuple(printed_funds), indicators=tuple(printed_indicators),
                      total_weight=_str(p, "printed_total_weight", where), total=_str(p, "printed_total", where),
                      grade=_str(p, "printed_grade", where), declared_funds=declared)
    return project, printed
