"""The project register (登记表): the workbook a supervising department keeps, one row per
project, from which ``xlperf generate`` writes every unit's forms.

Two sheets, Chinese headers in row 1, data from row 2 (columns are found by header, so an
admin may reorder them or add columns of their own):

* 项目清单 — one row per project: 序号 (the register key, unique), 表格类型 (申报表 | 自评表),
  年度, 主管部门, 实施单位, 项目名称, optional 项目编号, 金额单位 (元 | 万元), 评分规则, the
  申报表 header and funds fields, 项目总目标, 年度总体目标 and, for a 自评表, the funds block
  (年初预算数 / 全年预算数 / 全年执行数 of each funds row), 预算执行率分值 and 实际完成情况;
* 绩效指标 — one row per indicator, in printed order: 项目序号, 一级/二级/三级指标, 指标值,
  optional 分值 and, for a 自评表, 实际完成值, 得分, 偏差原因分析及改进措施.

Amounts are numbers in the project's 金额单位. :func:`read_register` reads a register
(python-calamine, plus the percent formats and formula texts
:mod:`xlperf.safezip` finds) into :class:`~xlperf.model.Project` objects; every
problem is an :class:`~xlperf.errors.XlperfError` naming the file, sheet and cell, and a
project with a problem is left out while the others are read. :func:`register_workbook`
writes the blank register template (with data validation and a 填写说明 sheet) and, from
the seed transcription, the sample register ``workbooks/样例登记表.xlsx`` — so the project
keeps one transcription of the seed forms (``xlperf register-template --sample``).
"""
from __future__ import annotations

import datetime as _dt
import gc
import io
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Iterable

from .errors import NotationError, XlperfError
from .model import (DECLARATION, DEFAULT_PROFILE, FUNDS_ROWS, KINDS, MONEY_UNITS, SELF_EVALUATION, DeclaredFunds, FundsLine,
                    Indicator, Project)
from .notation import as_typed, from_excel, is_blank, plain, plausible
from .template import atomic_write, col_letter

PROJECTS_SHEET = "项目清单"
INDICATORS_SHEET = "绩效指标"
README_SHEET = "填写说明"
SAMPLE_REGISTER = Path(__file__).resolve().parent.parent / "workbooks" / "样例登记表.xlsx"
#: Fixed timestamp written into generated registers, so the same content gives the same bytes.
_FIXED_TIME = _dt.datetime(2024, 1, 1, 0, 0, 0)


class RegisterError(XlperfError):
    pass


@dataclass(frozen=True)
class Column:
    header: str
    attr: str
    type: str = "text"          # text | long | key | kind | year | unit | profile | date | amount | weight
    required: bool = False
    width: float = 14
    help: str = ""
    aliases: tuple[str, ...] = ()
    forms: tuple[str, ...] = KINDS   # the form kinds that use this column


_FUNDS_COLUMNS = tuple(
    Column(f"{label}（{row}）", f"funds.{row}.{attr}", "amount", width=13,
           help=f"自评表：{row} 的{label}（金额单位见「金额单位」列）。", forms=(SELF_EVALUATION,))
    for row in FUNDS_ROWS
    for attr, label in (("initial", "年初预算数"), ("budget", "全年预算数"), ("executed", "全年执行数")))

PROJECT_COLUMNS: tuple[Column, ...] = (
    Column("序号", "key", "key", True, 10, "登记表内的项目键，每个项目唯一（如 001-01）；「绩效指标」表用它对应项目。",
           aliases=("项目序号", "项目键")),
    Column("表格类型", "kind", "kind", True, 10, "申报表 或 自评表。"),
    Column("年度", "year", "year", True, 8, "表格年度，如 2024（生成时可用 --year 覆盖）。"),
    Column("主管部门", "department", width=24, help="主管部门全称。"),
    Column("实施单位", "unit", required=True, width=26, help="实施单位全称；生成的表格按单位分文件夹存放。"),
    Column("项目名称", "name", required=True, width=30, help="项目名称。"),
    Column("项目编号", "code", width=14, help="选填：预算系统中的项目编号（写入 manifest.csv）。"),
    Column("金额单位", "money_unit", "unit", width=9, help="元 或 万元（默认 元）；本行及其金额列均按此单位。"),
    Column("评分规则", "profile", "profile", width=10,
           help="选填：shanghai（上海一体化系统，截尾）或 excel（区级 Excel 表，执行率向上舍入）；留空用命令行 --profile，默认 shanghai。"),
    Column("项目性质", "nature", width=12, help="申报表：经常性项目 / 一次性项目。", forms=(DECLARATION,)),
    Column("项目类别", "category", width=12, help="申报表：其他运转类、特定目标类等。", forms=(DECLARATION,)),
    Column("计划开始日期", "start", "date", width=12, help="申报表：如 2024-01-01。", forms=(DECLARATION,)),
    Column("计划完成日期", "end", "date", width=12, help="申报表：如 2024-12-31。", forms=(DECLARATION,)),
    Column("项目资金总额", "declared.project_total", "amount", width=14, help="申报表：项目资金总额。",
           forms=(DECLARATION,)),
    Column("其中：财政资金", "declared.project_fiscal", "amount", width=14, help="申报表：项目资金总额中的财政资金。",
           forms=(DECLARATION,)),
    Column("其他资金（项目）", "declared.project_other", "amount", width=14, help="申报表：项目资金总额中的其他资金。",
           forms=(DECLARATION,)),
    Column("年度资金申请总额", "declared.annual_total", "amount", width=14, help="申报表：年度资金申请总额。",
           forms=(DECLARATION,)),
    Column("其中：当年财政拨款", "declared.annual_fiscal", "amount", width=14, help="申报表：当年财政拨款。",
           forms=(DECLARATION,)),
    Column("上年结转资金", "declared.annual_carryover", "amount", width=14, help="申报表：上年结转资金。",
           forms=(DECLARATION,)),
    Column("其他资金（年度）", "declared.annual_other", "amount", width=14, help="申报表：年度资金中的其他资金。",
           forms=(DECLARATION,)),
    Column("项目总目标", "total_goal", "long", width=40, help="申报表：项目总目标。", forms=(DECLARATION,)),
    Column("年度总体目标", "annual_goal", "long", width=40,
           help="申报表：年度总体目标；自评表：预期目标（即申报表的年度总体目标）。", aliases=("年度总目标", "预期目标")),
    *_FUNDS_COLUMNS,
    Column("预算执行率分值", "funds_weight", "weight", width=10,
           help="自评表选填：预算执行率的分值；留空按评分规则（默认 10）。", forms=(SELF_EVALUATION,)),
    Column("实际完成情况", "actual_result", "long", width=40, help="自评表：年度总体目标的实际完成情况。",
           forms=(SELF_EVALUATION,)),
)

INDICATOR_COLUMNS: tuple[Column, ...] = (
    Column("项目序号", "key", "key", True, 10, "对应「项目清单」的序号。", aliases=("序号",)),
    Column("一级指标", "level1", required=True, width=12, help="产出指标 / 效益指标 / 满意度指标。"),
    Column("二级指标", "level2", required=True, width=16, help="数量指标、质量指标、时效指标、社会效益指标等。"),
    Column("三级指标", "level3", required=True, width=30, help="具体指标名称。"),
    Column("指标值", "target", width=16,
           help="年度指标值，如 ≥90%、≤2次、=100%、建立健全（定性指标写文字）。",
           aliases=("年度指标值", "指标目标值")),
    Column("分值", "weight", "weight", width=8,
           help="选填：不填则按评分规则把一级指标分值平均分给其下各指标（两位小数，余数给最后一个）；填写则每个指标都要填，且与预算执行率分值合计为 100。"),
    Column("实际完成值", "actual", width=16, help="自评表：实际完成值，如 95%、12次；定性指标填 达成指标 / 部分达成 / 未达成。",
           forms=(SELF_EVALUATION,)),
    Column("得分", "score", "weight", width=8,
           help="自评表选填：与规则得分不同时作为人工调整得分写入（须在偏差原因栏写明理由）。", forms=(SELF_EVALUATION,)),
    Column("偏差原因分析及改进措施", "note", "long", width=36, help="自评表：未达标或调整得分时必填。",
           forms=(SELF_EVALUATION,)),
)

_SUGGESTIONS = {
    "nature": ("经常性项目", "一次性项目"),
    "category": ("其他运转类", "特定目标类"),
    "level1": ("产出指标", "效益指标", "满意度指标"),
    "level2": ("数量指标", "质量指标", "时效指标", "成本指标", "经济效益指标", "社会效益指标", "生态效益指标",
               "可持续影响指标", "服务对象满意度指标"),
}


# ------------------------------------------------------------------ reading

@dataclass
class Entry:
    """One project read from the register."""
    project: Project
    row: int                         # row in 项目清单
    code: str = ""                   # 项目编号
    warnings: list[str] = field(default_factory=list)
    errors: list[XlperfError] = field(default_factory=list)   # set on a rejected project


@dataclass
class Register:
    """What :func:`read_register` found: the projects it could read, and every problem."""
    path: str
    entries: list[Entry]             # projects that can be generated
    errors: list[XlperfError]        # every problem, in sheet order (rejected projects' included)
    skipped_kind: int = 0            # rows left out by the kind filter
    rejected: list[Entry] = field(default_factory=list)   # projects left out, with their errors

    @property
    def projects(self) -> list[Project]:
        return [e.project for e in self.entries]


class _NoMarks:
    percent: frozenset = frozenset()
    formulas: dict = {}


class _Sheet:
    """Header lookup and typed cell reading for one register sheet. ``rows`` yields each row's
    values from column A (calamine's: "" for an empty cell); ``marks.percent`` and
    ``marks.formulas`` (looked up as each row is read: a streamed sheet keeps only the current
    piece's) are the 0-based (row, col) of percent-formatted cells and of formula cells with the
    formula's text (:class:`~xlperf.safezip.Container` finds them in the sheet XML; calamine
    gives only values)."""

    def __init__(self, path: str, rows, name: str, columns: tuple[Column, ...], errors: list, marks=_NoMarks):
        self.path, self.name, self.errors = path, name, errors
        self.marks = marks
        header = next(rows, None) or ()
        found: dict[str, int] = {}
        for i, text in enumerate(header):
            if text is None or text == "":
                continue
            label = re.sub(r"\s+", "", str(text)).replace(":", "：").replace("(", "（").replace(")", "）")
            label = label.lstrip("*＊")
            for col in columns:
                if col.attr not in found and (label == col.header or label in col.aliases):
                    found[col.attr] = i
                    break
        self.index = found
        self.missing = [c for c in columns if c.required and c.attr not in found]
        for col in self.missing:
            errors.append(RegisterError(f"缺少必填列「{col.header}」（第 1 行为表头）。").at(path, name, "1"))
        self.columns = {c.attr: c for c in columns}
        self._long = frozenset(c.attr for c in columns if c.type == "long")
        self._pad = [""] * (max(found.values(), default=0) + 2)
        self._slots: dict[tuple, list[int]] = {}
        self.rows = rows

    def cells(self, values, attrs: tuple[str, ...]) -> list:
        """The raw values (as :meth:`raw` gives them) of ``attrs`` in one row: the columns are
        looked up once per sheet, not per cell."""
        slots = self._slots.get(attrs)
        if slots is None:
            slots = self._slots[attrs] = [self.index.get(a, -1) for a in attrs]
        row = values + self._pad
        return [None if v.__class__ is str and (not v or v.isspace()) else v for v in map(row.__getitem__, slots)]

    def error(self, row: int, attr: str, message: str, *, with_file: bool = True) -> RegisterError:
        col = self.columns[attr]
        idx = self.index.get(attr)
        cell = f"{col_letter(idx + 1)}{row}" if idx is not None else str(row)
        return RegisterError(f"第 {row} 行「{col.header}」列：{message}").at(
            self.path if with_file else None, self.name, cell)

    def raw(self, values: tuple, attr: str):
        idx = self.index.get(attr)
        if idx is None or idx >= len(values):
            return None
        value = values[idx]
        if value.__class__ is str and (not value or value.isspace()):
            return None
        return value

    def text(self, values, attr, row, errs) -> str:
        return self.as_text(self.raw(values, attr), attr, row, errs)

    def as_text(self, value, attr, row, errs) -> str:
        if value.__class__ is str:          # most cells
            return value if attr in self._long else value.strip()
        if value is None:
            if self.columns[attr].required:
                errs.append(self.error(row, attr, "不能为空。"))
            return ""
        if isinstance(value, (_dt.datetime, _dt.date)):
            return value.date().isoformat() if isinstance(value, _dt.datetime) else value.isoformat()
        if isinstance(value, float):
            value = from_excel(value)
        if isinstance(value, Decimal):
            return format(value, "f")
        text = str(value)
        return text.strip() if self.columns[attr].type != "long" else text

    def notation(self, values, attr, row, errs):
        return self.typed(self.raw(values, attr), attr, row, errs)

    def typed(self, value, attr, row, errs):
        """A cell people type 指标值 notation into (指标值, 实际完成值): what they typed, when Excel
        stored something else (:func:`~xlperf.notation.as_typed`, shared with check/harvest);
        anything whose meaning the cell does not show is refused with the cell named. Other
        numbers are returned as they are (Decimal via :func:`from_excel` by the caller)."""
        idx = self.index.get(attr)
        where = (row - 1, idx)
        marks = self.marks
        if value.__class__ is str:      # text (never blank here) is what the cell shows: as_typed's first rule
            return value
        try:
            return as_typed(value, formula=marks.formulas.get(where) if idx is not None else None,
                            percent=where in marks.percent)
        except NotationError as exc:
            errs.append(self.error(row, attr, exc.message))
            return None

    def number(self, values, attr, row, errs, *, what: str | None = None,
               places: int | None = None) -> Decimal | None:
        return self.number_of(self.raw(values, attr), attr, row, errs, what=what, places=places)

    def number_of(self, value, attr, row, errs, *, what: str | None = None,
                  places: int | None = None) -> Decimal | None:
        """A non-negative number; with ``places``, more decimals than that are refused (an amount
        of 3 decimals would print one 执行率 on the form, whose cells hold cents, and check another)."""
        if value.__class__ is float:       # most cells: skip the text checks
            number = _DECIMALS.get(value)
            if number is None:
                number = from_excel(value)
                if len(_DECIMALS) < 4096:      # weights and scores: a few values, again and again
                    _DECIMALS[value] = number
            if number >= 0 and (places is None or number.as_tuple().exponent >= -places):
                return number
        if value is None or is_blank(value):
            return None
        try:
            number = from_excel(value) if not isinstance(value, str) else from_excel(value.strip())
            number = plausible(number, what or self.columns[attr].header)    # no 1e308 into a form
        except NotationError as exc:
            errs.append(self.error(row, attr, exc.message))
            return None
        if number < 0:
            errs.append(self.error(row, attr, f"{what or self.columns[attr].header}不能为负数（{number}）。"))
            return None
        if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
            errs.append(self.error(row, attr, f"{what or self.columns[attr].header}最多 {places} 位小数"
                                              f"（填写的是 {plain(number)}）：表格金额只保留两位小数，请先取好两位再填写。"))
            return None
        return number


#: float → from_excel(float), for the numbers a register repeats (see _Sheet.number_of).
_DECIMALS: dict[float, Decimal] = {}


def _blank_row(values) -> bool:
    """Every cell empty or white space (the first filled cell ends the look)."""
    for v in values:
        if v is not None and (v.__class__ is not str or (v and not v.isspace())):
            return False
    return True


def _date(sheet: _Sheet, values, attr, row, errs) -> str:
    value = sheet.raw(values, attr)
    if value is None:
        return ""
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    m = re.fullmatch(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*", str(value))
    if m:
        try:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        except ValueError:
            pass
    errs.append(sheet.error(row, attr, f"「{value}」不是日期（应写成 2024-01-01）。"))
    return ""


def shift_year(iso: str, years: int) -> str:
    """An ISO date moved by whole years (29 February becomes 28 February); blank stays blank."""
    if not iso or not years:
        return iso
    d = _dt.date.fromisoformat(iso)
    try:
        return d.replace(year=d.year + years).isoformat()
    except ValueError:
        return d.replace(year=d.year + years, day=28).isoformat()


def read_register(path, *, kind: str | None = None, year: int | None = None,
                  default_profile: str | None = None, progress: bool | None = None,
                  mode: str = "portable") -> Register:
    """Read a register workbook. ``kind`` keeps only the projects of that 表格类型; ``year``
    overrides the register's 年度; ``default_profile`` applies where 评分规则 is blank.

    Never raises for a bad row: problems are collected in :attr:`Register.errors` (each
    naming the sheet, row and column) and the affected project is left out. Raises
    :class:`RegisterError` only when the file itself cannot be read. ``progress``: a bar on
    stderr for a long read (default: when stderr is a terminal). ``mode``: the workbooks'
    calculation mode (only a portable one warns of rows its native formulas cannot score)."""
    # No cyclic garbage is made while reading, only ~14 KB of objects per project that all
    # stay: the collector's passes over them were ~10% of reading a large register.
    collecting = gc.isenabled()
    gc.disable()
    try:
        reading = RegisterStream(path, kind=kind, year=year, default_profile=default_profile, progress=progress,
                                 whole=True, mode=mode)
        out: list[Entry] = []
        rejected: list[Entry] = []
        for entry in reading:
            (rejected if entry.errors else out).append(entry)
    finally:
        if collecting:
            gc.enable()
    return Register(reading.path, out, reading.errors, reading.skipped, rejected)


class RegisterStream:
    """A register read project by project: creating it reads 项目清单 (:attr:`total` is then
    its number of projects, rejected ones included); iterating it reads 绩效指标 and yields
    each project's :class:`Entry` — a rejected one with its ``errors`` — in 项目清单 order, as
    soon as the last 绩效指标 row of it and of every project before it has been read (a
    first pass over the key column counts them). For a register kept in project order, a
    20,000-project run so holds a few projects at a time, not all of them (``xlperf
    generate`` writes each as it comes). Once iterated, :attr:`errors` is what
    :attr:`Register.errors` would be: the sheets' own problems in the order met, then each
    rejected project's in 项目清单 order. ``whole``: the progress bar covers both sheets (else
    only 项目清单, the caller showing its own progress for the rest)."""

    def __init__(self, path, *, kind: str | None = None, year: int | None = None,
                 default_profile: str | None = None, progress: bool | None = None, whole: bool = False,
                 mode: str = "portable"):
        from . import profiles as _profiles
        from .progress import Progress

        self.path = path = str(path)
        self._profiles = _profiles
        self._mode = mode
        self.skipped = 0
        self.total = 0
        self._errors: list[XlperfError] = []        # the sheets' own problems
        self._moved: dict[str, int] = {}            # key -> the register's year, for a project --year moves
        self._rejected: list[list] = []             # each rejected project's, in order
        self._done = False
        bar = Progress(None, progress, "读取登记表", delay=1.0)
        try:
            source = _open_register(path)
        except BaseException:
            bar.close()
            raise
        self._source = source
        # The collector is off for 项目清单 (see read_register); not while the stream is
        # iterated: the caller's own work (and a worker forked meanwhile) runs then.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for name in (PROJECTS_SHEET, INDICATORS_SHEET):
                if name not in source.names:
                    raise RegisterError(f"缺少工作表「{name}」（登记表应有「{PROJECTS_SHEET}」和「{INDICATORS_SHEET}」两张表）。"
                                        ).at(path)
            prange, irange = (source.rows(name) for name in (PROJECTS_SHEET, INDICATORS_SHEET))
            psheet = _Sheet(path, _counted(_guarded(prange, path), bar, prange), PROJECTS_SHEET, PROJECT_COLUMNS,
                            self._errors, prange)
            irows = _guarded(irange, path)
            isheet = _Sheet(path, _counted(irows, bar, irange) if whole else irows, INDICATORS_SHEET,
                            INDICATOR_COLUMNS, self._errors, irange)
            self._psheet, self._isheet, self._bar = psheet, isheet, (bar if whole else None)
            self._entries: dict[str, Entry | None] = {}
            self._order: list[str] = []
            if psheet.missing or isheet.missing:
                self._irange = None
                return
            self._read_projects(kind, year, default_profile)
            self.total = len(self._order)
            psheet.rows = prange = None         # (a streamed sheet holds only a piece meanwhile)
            self._irange = irange
        except BaseException:
            self.close()
            bar.close()
            raise
        finally:
            if collecting:
                gc.enable()
            if not whole:
                bar.close()

    @property
    def errors(self) -> list[XlperfError]:
        """Every problem (complete once iterated)."""
        return self._errors + [e for errs in self._rejected for e in errs]

    def close(self) -> None:
        if getattr(self, "_bar", None) is not None:
            self._bar.close()
            self._bar = None
        if self._source is not None:
            self._source.close()
            self._source = None

    def _read_projects(self, kind, year, default_profile) -> None:
        """The first pass over 项目清单: the keys in order, the rows left out by the kind filter,
        and the sheet's own problems (a repeated key, a row without one). The projects
        themselves are made by :meth:`_projects` when their 绩效指标 rows come: held from the
        start, a 20,000-project register's would take ~180 MB."""
        self._project_args = (kind, year, default_profile)
        for _ in self._scan_projects(self._psheet.rows, build=False):
            pass

    def _projects(self):
        """The second pass over 项目清单: (key, Entry, its errors) of each project, in order."""
        prange = self._source.rows(PROJECTS_SHEET)
        rows = _guarded(prange, self.path)
        next(rows, None)                                # the header
        self._psheet.marks = prange
        return self._scan_projects(rows, build=True)

    def _scan_projects(self, rows, *, build: bool):
        psheet = self._psheet
        kind, year, default_profile = self._project_args
        seen: set[str] = set()
        for row, values in enumerate(rows, start=2):
            if _blank_row(values):
                continue
            errs: list = []
            key = psheet.text(values, "key", row, errs)
            kind_text = psheet.text(values, "kind", row, errs)
            if kind_text and kind_text not in KINDS:
                errs.append(psheet.error(row, "kind", f"应为 申报表 或 自评表，而不是「{kind_text}」。"))
            if kind and kind_text in KINDS and kind_text != kind:
                if key:
                    seen.add(key)
                if not build:
                    self.skipped += 1
                    if key:
                        self._entries.setdefault(key, None)  # the key exists: its indicator rows are not orphans
                continue
            if key in seen:
                if not build:
                    errs.append(psheet.error(row, "key", f"序号「{key}」重复（已在前面出现）。"))
                    self._errors.extend(errs)
                continue
            if not key:
                if not build:
                    _project_row(psheet, values, row, errs, kind_text, year, default_profile, self._profiles)
                    psheet.text(values, "code", row, errs)
                    self._errors.extend(errs)
                continue
            seen.add(key)
            if not build:
                self._entries[key] = _PENDING
                self._order.append(key)
                continue
            project, row_year = _project_row(psheet, values, row, errs, kind_text, year, default_profile,
                                             self._profiles)
            entry = Entry(project, row, psheet.text(values, "code", row, errs))
            if row_year and project.year and row_year != project.year:
                self._moved[key] = row_year
                _move_year(psheet, row, project, ("total_goal", "annual_goal", "actual_result"), row_year,
                           project.year, entry.warnings, project.name)
            for attr, label in (("start", "计划开始日期"), ("end", "计划完成日期")):
                when = getattr(project, attr)
                if when and project.year and not when.startswith(f"{project.year}-"):
                    entry.warnings.append(str(psheet.error(
                        row, attr, f"{label} {when} 不在 {project.year} 年度内（照样生成；跨年度项目请确认）")))
            yield key, entry, errs

    def _remaining(self) -> dict[str, int]:
        """绩效指标 rows still to come per project: the first pass, over the key column only."""
        isheet, entries = self._isheet, self._entries
        remaining = dict.fromkeys(self._order, 0)
        texts: dict = {}
        for value in _guarded(self._source.rows(INDICATORS_SHEET).column(isheet.index["key"]).values(), self.path):
            key = texts.get(value)
            if key is None:
                key = texts[value] = isheet.as_text(None if value.__class__ is str and (not value or value.isspace())
                                                    else value, "key", 0, [])
            if key in remaining:
                remaining[key] += 1
        return remaining

    def __iter__(self):
        if self._done:
            raise RuntimeError("a RegisterStream is read once")
        self._done = True
        try:
            if self._irange is None:        # a required column is missing: no project
                return
            yield from self._read_indicators()
        finally:
            self.close()

    def _read_indicators(self):
        isheet, entries, order = self._isheet, self._entries, self._order
        project_errors: dict[str, list] = {}
        moved, errors = self._moved, self._errors
        remaining = self._remaining()
        indicator_rows: dict[str, list[int]] = {}
        ready = 0                       # projects of order[:ready] have been yielded
        projects = self._projects()

        def made(key: str) -> Entry:
            """The project of ``key``, made now (with those before it) if it was not yet."""
            while entries[key] is _PENDING:
                k, entry, errs = next(projects)
                entries[k], project_errors[k] = entry, errs
            return entries[key]

        def finished(key: str) -> Entry:
            entry = made(key)
            errs = project_errors.pop(key)
            if not errs:
                _check_project(entry, self._psheet, isheet, indicator_rows.pop(key, []), errs, self._profiles,
                               self._mode)
            if errs:
                self._rejected.append(errs)
                entry.errors = errs
            entries[key] = _DONE        # its indicator rows, if more came, are not orphans
            return entry

        while ready < len(order) and not remaining[order[ready]]:
            yield finished(order[ready])
            ready += 1
        for row, values in enumerate(isheet.rows, start=2):
            if _blank_row(values):
                continue
            errs = []
            key = isheet.text(values, "key", row, errs)
            if not key:
                errors.extend(errs)
                continue
            if key not in entries:
                errors.append(isheet.error(row, "key", f"项目清单中没有序号为「{key}」的项目。"))
                continue
            entry = entries[key]
            if entry is None:   # a project of the other kind
                continue
            if entry is _PENDING:
                entry = made(key)
            ind = _indicator_row(isheet, values, row, errs, entry.project, entry.warnings)
            project_errors[key].extend(errs)
            if ind is not None:
                if key in moved:
                    _move_year(isheet, row, ind, ("level3", "target", "actual", "note"), moved[key],
                               entry.project.year, entry.warnings, entry.project.name)
                entry.project.indicators.append(ind)
                indicator_rows.setdefault(key, []).append(row)
            remaining[key] -= 1
            while ready < len(order) and not remaining[order[ready]]:
                yield finished(order[ready])
                ready += 1
        isheet.rows = self._irange = None
        for key in order[ready:]:       # pragma: no cover - every counted row was read above
            yield finished(key)


#: An entry already yielded (:class:`RegisterStream` keeps its key, not its project).
_DONE = Entry(None, 0)
#: A project whose 项目清单 row is not made into its Entry yet.
_PENDING = Entry(None, 0)


def _open_register(path: str):
    """The register opened for reading its sheets: an .xlsx streamed (:mod:`xlperf.xlsxrows`:
    python-calamine's values, a piece of the sheet at a time, with the percent and formula cells
    :class:`~xlperf.safezip.Container` finds); an .xls read whole by python-calamine, its
    percent and formula cells from the checked BIFF stream. The register is the admin's own
    file, so the harvest guards are not run on it."""
    from .safezip import OLE_MAGIC, Limits, Refused, inspect_bytes
    from .xlsxrows import SheetError, XlsxBook

    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise RegisterError("找不到登记表文件。").at(path) from None
    except OSError as exc:
        raise RegisterError(f"无法读取登记表文件：{exc.strerror or exc}").at(path) from None
    if not head.startswith(OLE_MAGIC):
        try:
            return XlsxBook(path)
        except SheetError as exc:
            raise RegisterError(exc.message).at(path) from None
        except OSError as exc:
            raise RegisterError(f"无法读取登记表文件：{exc.strerror or exc}").at(path) from None
    from python_calamine import CalamineWorkbook

    try:
        with open(path, "rb") as f:
            data = f.read()
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = wb.sheet_names
    except Exception as exc:  # calamine raises its own kinds for a file that is not a workbook
        raise RegisterError(f"无法作为 Excel 工作簿打开：{exc}").at(path) from None
    try:
        container = inspect_bytes(data, Limits(max_file_bytes=len(data), max_area=1 << 40, max_rows=1 << 30,
                                               max_cells=1 << 40))
        cells = {name: (container.percent_cells(name), container.formula_cells(name))
                 for name in (PROJECTS_SHEET, INDICATORS_SHEET) if name in names}
    except (Refused, OSError, ValueError) as exc:
        wb.close()
        raise RegisterError(f"无法作为 Excel 工作簿打开：{getattr(exc, 'message', exc)}").at(path) from None
    return _CalamineBook(wb, cells)


class _CalamineBook:
    """An .xls register: python-calamine's sheets, read whole, with the interface of
    :class:`~xlperf.xlsxrows.XlsxBook`."""

    def __init__(self, wb, cells: dict):
        self.wb, self.cells, self.names = wb, cells, list(cells)

    @property
    def sheets(self):
        return self.cells

    def rows(self, name: str) -> "_CalamineRows":
        try:
            return _CalamineRows(self.wb.get_sheet_by_name(name), *self.cells[name])
        except Exception as exc:  # noqa: BLE001 - calamine's own kinds
            raise RegisterError(f"无法作为 Excel 工作簿打开：{exc}").at(None, name) from None

    def close(self) -> None:
        self.wb.close()


class _CalamineRows:
    def __init__(self, sheet, percent, formulas):
        self.range, self.sheet, self.percent, self.formulas = sheet, sheet.name, percent, formulas
        self.last_row = sheet.end[0] + 1 if sheet.end else None

    def __iter__(self):
        return _rows(self.range)

    def column(self, col: int) -> "_CalamineRows":
        self.col = col
        return self

    def values(self):
        col = self.col
        rows = iter(self)
        next(rows, None)
        return (row[col] if len(row) > col else "" for row in rows)


def _guarded(rows, path: str):
    """``rows``, a sheet that cannot be read raising :class:`RegisterError` naming file and sheet."""
    from .xlsxrows import SheetError

    try:
        yield from rows
    except SheetError as exc:
        raise RegisterError(exc.message).at(path, getattr(rows, "sheet", None)) from None


def _counted(rows, bar, source=None, every: int = 1000):
    """``rows``, telling ``bar`` every ``every`` rows (its total grows by the sheet's declared rows)."""
    for i, row in enumerate(rows, start=1):
        if i == 1 and source is not None and getattr(source, "last_row", None):
            bar.total = (bar.total or 0) + source.last_row
        if i % every == 0:
            bar.update(every)
        yield row


def _rows(sheet):
    """Each row's values from column A (calamine's rows start at row 1 but at the first used column)."""
    if sheet.start is None:
        return iter(())
    pad = [""] * sheet.start[1]
    return (pad + row for row in sheet.iter_rows()) if pad else iter(sheet.iter_rows())


def _project_row(sheet: _Sheet, values, row, errs, kind_text, year, default_profile,
                 _profiles) -> tuple[Project, int | None]:
    """The project of one 项目清单 row, and the row's own 年度 (None when blank or unreadable)."""
    p = Project(kind=kind_text, year=0, name=sheet.text(values, "name", row, errs))
    p.key = sheet.text(values, "key", row, [])
    p.department = sheet.text(values, "department", row, errs)
    p.unit = sheet.text(values, "unit", row, errs)
    y = sheet.raw(values, "year")
    row_year = None
    if y is not None:
        m = re.fullmatch(r"\s*(\d{4})\s*年?\s*(?:度)?\s*", str(int(y) if isinstance(y, float) and y.is_integer() else y))
        if m and 1990 <= int(m.group(1)) <= 2100:
            row_year = int(m.group(1))
        elif year is None:
            errs.append(sheet.error(row, "year", f"「{y}」不是年份（应写成 2024）。"))
    if year is not None:
        p.year = int(year)
    elif row_year is not None:
        p.year = row_year
    elif y is None:
        errs.append(sheet.error(row, "year", "不能为空（或在命令行用 --year 指定）。"))
    unit = sheet.text(values, "money_unit", row, errs) or "元"
    if unit not in MONEY_UNITS:
        errs.append(sheet.error(row, "money_unit", f"应为 元 或 万元，而不是「{unit}」。"))
    p.money_unit = unit
    profile = sheet.text(values, "profile", row, errs) or default_profile or DEFAULT_PROFILE
    try:
        _profiles.get(profile)
    except XlperfError as exc:
        errs.append(sheet.error(row, "profile", exc.message))
    p.profile = profile
    p.annual_goal = sheet.text(values, "annual_goal", row, errs)
    if kind_text == DECLARATION:
        p.nature = sheet.text(values, "nature", row, errs)
        p.category = sheet.text(values, "category", row, errs)
        p.start = _date(sheet, values, "start", row, errs)
        p.end = _date(sheet, values, "end", row, errs)
        if row_year is not None and p.year and p.year != row_year:
            # --year moves the whole form: dates written for the register's year move with it.
            p.start, p.end = (shift_year(d, p.year - row_year) for d in (p.start, p.end))
        p.total_goal = sheet.text(values, "total_goal", row, errs)
        p.declared = DeclaredFunds(**{name: sheet.number(values, f"declared.{name}", row, errs, places=2)
                                      for name in DeclaredFunds.__dataclass_fields__})
    elif kind_text == SELF_EVALUATION:
        for fr in FUNDS_ROWS:
            p.funds[fr] = FundsLine(*(sheet.number(values, f"funds.{fr}.{a}", row, errs, places=2)
                                      for a in ("initial", "budget", "executed")))
        p.funds_weight = sheet.number(values, "funds_weight", row, errs)
        p.actual_result = sheet.text(values, "actual_result", row, errs)
    return p, row_year


#: Register texts that report what happened (自评表): not moved by --year, see _move_year.
_FACTS = frozenset({"actual_result", "actual", "note"})


def _move_year(sheet: _Sheet, row: int, obj, attrs, old: int, new: int, warnings: list, name: str = "") -> None:
    """``--year``: the period phrases of these free texts — plans: goals, indicator names and
    targets — move with the form (:func:`xlperf.yeartext.move_year`); what is kept for a person
    to check is a 提醒 at the register's cell. Year-end facts (实际完成情况, 实际完成值, 偏差原因)
    say what happened in their year: never re-dated, a 提醒 when they name the old year. The
    project name is never changed (it pairs the 申报表 with its 自评表), here or where the texts
    quote it, but a year in it is pointed out."""
    from .yeartext import move_year, names_year

    if isinstance(obj, Project) and names_year(obj.name, old):
        warnings.append(str(sheet.error(row, "name", f"项目名称含年份 {old}，未改动（名称用来对应申报表与自评表）；"
                                                     f"如 {new} 年度的项目名称不同，请在登记表中修改")))
    for attr in attrs:
        text = getattr(obj, attr, None)
        if attr in _FACTS:
            if isinstance(text, str) and names_year(text.replace(name, "") if name else text, old):
                warnings.append(str(sheet.error(row, attr, f"写的是 {old} 年的情况，未改动；{new} 年度的表格请按当年实际填写")))
            continue
        if isinstance(text, str) and text:
            moved, notes = move_year(text, old, new, keep=(name,))
            setattr(obj, attr, moved)
            warnings.extend(str(sheet.error(row, attr, f"{n}（年度 {old} → {new}）")) for n in notes)


_INDICATOR_CELLS = ("level1", "level2", "level3", "target", "weight", "actual", "score", "note")


def _indicator_row(sheet: _Sheet, values, row, errs, project: Project, warnings: list) -> Indicator | None:
    n = len(errs)
    level1, level2, level3, target, weight, actual, score, note = sheet.cells(values, _INDICATOR_CELLS)
    text = sheet.as_text
    target = text(sheet.typed(target, "target", row, errs), "target", row, errs)
    ind = Indicator(level1=text(level1, "level1", row, errs), level2=text(level2, "level2", row, errs),
                    level3=text(level3, "level3", row, errs), target=target)
    ind.weight = sheet.number_of(weight, "weight", row, errs)
    if not ind.target:
        warnings.append(str(sheet.error(row, "target", "指标值为空（照样生成，请补填）")))
    if project.kind == SELF_EVALUATION:
        actual = sheet.typed(actual, "actual", row, errs)
        if actual.__class__ is str:
            ind.actual = actual.strip()
        elif isinstance(actual, (int, float)) and not isinstance(actual, bool):
            ind.actual = from_excel(actual)
        elif actual is not None:
            ind.actual = str(actual).strip()
        ind.score = sheet.number_of(score, "score", row, errs)
        ind.note = text(note, "note", row, errs)
    return ind if len(errs) == n else None


def _check_project(entry: Entry, psheet: _Sheet, isheet: _Sheet, rows: list[int], errs: list, _profiles,
                   mode: str = "portable") -> None:
    """Weights, scores and overrides of a whole project (自评表), by :func:`xlperf.prepare.prepare`
    — the same check ``xlperf fill`` makes — located on the register's rows."""
    from .prepare import prepare

    p = entry.project
    if not p.indicators:
        errs.append(psheet.error(entry.row, "key", f"「{INDICATORS_SHEET}」表中没有该项目（序号 {p.key}）的指标。"))
        return
    for issue in prepare(p, _profiles, who=f"项目「{p.name}」（序号 {p.key}）", mode=mode):
        if issue.index is None:
            error = psheet.error(entry.row, issue.field, issue.message)
        else:
            error = isheet.error(rows[issue.index], issue.field, issue.message)   # a warning names the register too
        if issue.warning:
            entry.warnings.append(str(error))
        else:
            errs.append(error)


# ------------------------------------------------------------------ writing

def _cell_value(project: Project, col: Column):
    attr = col.attr
    if attr == "key":
        return project.key
    if attr == "code":
        return None
    if project.kind not in col.forms:
        return None
    if attr.startswith("declared."):
        value = getattr(project.declared, attr.split(".", 1)[1])
    elif attr.startswith("funds."):
        _, row, part = attr.split(".")
        value = getattr(project.funds[row], part)
    elif attr == "profile":
        value = project.profile if project.kind == SELF_EVALUATION else None
    else:
        value = getattr(project, attr)
    if col.type == "date" and value:
        return _dt.date.fromisoformat(value)
    if value == "":
        return None
    return value


def _indicator_values(project: Project, ind: Indicator) -> list:
    out = [project.key, ind.level1, ind.level2, ind.level3, ind.target, ind.weight]
    if project.kind == SELF_EVALUATION:
        actual = ind.actual
        out += [actual if actual != "" else None, ind.score, ind.note or None]
    else:
        out += [None, None, None]
    return out


def _put(ws, row: int, column: int, value):
    """Write a value; text stays text even when it starts with "=" (``=100%`` is a target,
    not a formula)."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def register_workbook(projects: Iterable[Project] = ()):
    """The register as an openpyxl Workbook: the blank template when ``projects`` is empty,
    else filled with them (rows in the order given)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from . import profiles as _profiles

    projects = list(projects)
    wb = Workbook()
    readme = wb.active
    readme.title = README_SHEET
    sheets = []
    for name, columns in ((PROJECTS_SHEET, PROJECT_COLUMNS), (INDICATORS_SHEET, INDICATOR_COLUMNS)):
        ws = wb.create_sheet(name)
        sheets.append(ws)
        for i, col in enumerate(columns, start=1):
            cell = ws.cell(row=1, column=i, value=col.header)
            cell.font = Font(name="宋体", bold=True, size=10)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            colour = "F4B084" if col.required else ("FFE699" if col.forms == (SELF_EVALUATION,) else
                                                    "C6E0B4" if col.forms == (DECLARATION,) else "BDD7EE")
            cell.fill = PatternFill("solid", fgColor=colour)
            cell.comment = Comment(("必填。" if col.required else "") + col.help, "xlperf", width=260, height=110)
            letter = col_letter(i)
            ws.column_dimensions[letter].width = col.width
            if col.type in ("text", "long", "key"):
                ws.column_dimensions[letter].number_format = "@"
        ws.row_dimensions[1].height = 42
        ws.freeze_panes = "B2" if name == PROJECTS_SHEET else "A2"
        last = 5000 if name == PROJECTS_SHEET else 50000

        def rng(attr, cols=columns, last=last):
            i = next(k for k, c in enumerate(cols, start=1) if c.attr == attr)
            return f"{col_letter(i)}2:{col_letter(i)}{last}"

        def add(dv, *attrs):
            ws.add_data_validation(dv)
            for attr in attrs:
                dv.add(rng(attr))

        if name == PROJECTS_SHEET:
            add(DataValidation("list", formula1='"申报表,自评表"', allow_blank=True, showErrorMessage=True,
                               errorTitle="表格类型", error="请选择 申报表 或 自评表。",
                               promptTitle="表格类型", prompt="申报表 或 自评表", showInputMessage=True), "kind")
            add(DataValidation("whole", operator="between", formula1="1990", formula2="2100", allow_blank=True,
                               showErrorMessage=True, errorTitle="年度", error="年度应为四位年份，如 2024。"), "year")
            add(DataValidation("list", formula1='"元,万元"', allow_blank=True, showErrorMessage=True,
                               errorTitle="金额单位", error="请选择 元 或 万元。"), "money_unit")
            add(DataValidation("list", formula1=f'"{",".join(_profiles.available())}"', allow_blank=True,
                               showErrorMessage=False), "profile")
            for attr in ("nature", "category"):
                add(DataValidation("list", formula1=f'"{",".join(_SUGGESTIONS[attr])}"', allow_blank=True,
                                   showErrorMessage=False), attr)
            add(DataValidation("date", operator="greaterThan", formula1="32874", allow_blank=True,
                               showErrorMessage=True, errorTitle="日期", error="请填写日期，如 2024-01-01。"),
                "start", "end")
            amounts = [c.attr for c in columns if c.type == "amount"]
            add(DataValidation("decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                               showErrorMessage=True, errorTitle="金额", error="金额应为不小于 0 的数字（单位见「金额单位」列）。"),
                *amounts)
            add(DataValidation("decimal", operator="between", formula1="0", formula2="100", allow_blank=True,
                               showErrorMessage=True, errorTitle="分值", error="分值应为 0 到 100 之间的数字。"),
                "funds_weight")
        else:
            key_col = col_letter(1)
            add(DataValidation("list", formula1=f"'{PROJECTS_SHEET}'!${key_col}$2:${key_col}$5000", allow_blank=True,
                               showErrorMessage=True, errorTitle="项目序号", error="请填写「项目清单」中已有的序号。"), "key")
            for attr in ("level1", "level2"):
                add(DataValidation("list", formula1=f'"{",".join(_SUGGESTIONS[attr])}"', allow_blank=True,
                                   showErrorMessage=False), attr)
            add(DataValidation("decimal", operator="between", formula1="0", formula2="100", allow_blank=True,
                               showErrorMessage=True, errorTitle="分值", error="分值、得分应为 0 到 100 之间的数字。"),
                "weight", "score")

    pws, iws = sheets
    amount_fmt = "#,##0.00"
    for r, project in enumerate(projects, start=2):
        for i, col in enumerate(PROJECT_COLUMNS, start=1):
            value = _cell_value(project, col)
            if value is None:
                continue
            cell = _put(pws, r, i, value)
            if col.type == "amount":
                cell.number_format = amount_fmt
            elif col.type == "weight":
                cell.number_format = "0.00"
            elif col.type == "date":
                cell.number_format = "yyyy-mm-dd"
            elif col.type in ("text", "long", "key"):
                cell.number_format = "@"
    r = 2
    for project in projects:
        for ind in project.indicators:
            for i, value in enumerate(_indicator_values(project, ind), start=1):
                if value is None or value == "":
                    continue
                cell = _put(iws, r, i, value)
                col = INDICATOR_COLUMNS[i - 1]
                cell.number_format = "0.00" if col.type == "weight" else "@"
            r += 1

    _write_readme(readme)
    wb.properties.creator = "xlperf"
    wb.properties.created = _FIXED_TIME
    return wb


def _write_readme(ws) -> None:
    from openpyxl.styles import Alignment, Font

    lines = [
        ("财政项目支出绩效 登记表 填写说明", True),
        ("", False),
        ("本登记表由主管部门维护，一行一个项目；xlperf generate 据此为每个项目生成一份申报表或自评表。", False),
        (f"「{PROJECTS_SHEET}」：一行一个项目。橙色表头为必填；绿色表头仅申报表使用；黄色表头仅自评表使用；蓝色表头两种表都用。"
         "把鼠标停在表头上可看到该列的说明。", False),
        (f"「{INDICATORS_SHEET}」：一行一个三级指标，按表格上的顺序填写；「项目序号」对应「{PROJECTS_SHEET}」的序号。", False),
        ("金额按「金额单位」列的单位（元 或 万元）填写数字，不要带千分位以外的文字。", False),
        ("分值：不填则按评分规则的一级指标分值（产出 50、效益 30、满意度 10、预算执行率 10）平均分给各指标，"
         "两位小数，余数给最后一个指标；填写则每个指标都要填，且与预算执行率分值合计为 100，否则该项目不生成。", False),
        ("得分（自评表）：与规则计算的得分不同时，作为人工调整得分写入表格，理由取「偏差原因分析及改进措施」。", False),
        ("生成命令：xlperf generate 登记表.xlsx --out 输出文件夹 [--kind 申报表|自评表] [--year 2024]", False),
        ("已存在的文件不会被覆盖（跳过并在 manifest.csv 中注明），确需覆盖请加 --force（原文件保留为 .bak）。", False),
        ("某行有错误时，命令会指出工作表、行号和列名，其余项目照常生成。", False),
    ]
    ws.column_dimensions["A"].width = 120
    for i, (text, bold) in enumerate(lines, start=1):
        cell = ws.cell(row=i, column=1, value=text or None)
        cell.font = Font(name="宋体", bold=bold, size=14 if bold else 10)
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def register_bytes(projects: Iterable[Project] = ()) -> bytes:
    """The register workbook as bytes, deterministic for the same content (fixed zip and
    document timestamps)."""
    buf = io.BytesIO()
    register_workbook(projects).save(buf)
    return _normalise_zip(buf.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", lambda m: m.group(1) + stamp.encode(),
                              body)
            elif info.filename == "xl/styles.xml":
                from .template import schema_ordered_fonts
                body = schema_ordered_fonts(body)  # openpyxl's font order fails the schema
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def sample_projects(seeds_path=None) -> list[Project]:
    """Every project of the five seed forms, as transcribed (``workbooks/seeds.yaml``)."""
    from .seeds import load

    return [form.project for form in load(seeds_path)]


def sample_register_bytes(seeds_path=None) -> bytes:
    """The sample register, built from the seed transcription."""
    return register_bytes(sample_projects(seeds_path))


# ------------------------------------------------------------------ CLI

def _cmd_register_template(args) -> int:

    out = Path(args.out) if args.out else Path("样例登记表.xlsx" if args.sample else "登记表模板.xlsx")
    data = sample_register_bytes(args.seeds) if args.sample else register_bytes()
    if out.exists():
        if out.read_bytes() == data:
            print(f"{out} 已是最新，未改动。")
            return 0
        if not args.force:
            raise RegisterError(f"文件「{out}」已存在，未覆盖。确需覆盖请加 --force（会保留 .bak 备份）。")
        atomic_write(out.with_name(out.name + ".bak"), out.read_bytes())
    atomic_write(out, data)
    what = "样例登记表（五份种子表的全部项目）" if args.sample else "登记表模板"
    print(f"已生成{what}：{out}")
    return 0


def register_cli(sub) -> None:
    p = sub.add_parser("register-template", help="生成登记表模板（项目清单 + 绩效指标，含数据验证和填写说明）")
    p.add_argument("-o", "--out", help="输出 .xlsx（默认 登记表模板.xlsx；--sample 时默认 样例登记表.xlsx）")
    p.add_argument("--sample", action="store_true",
                   help="填入五份种子表的全部项目（数据取自 workbooks/seeds.yaml），即 workbooks/样例登记表.xlsx")
    p.add_argument("--seeds", help="种子表转录文件（默认 workbooks/seeds.yaml）")
    p.add_argument("--force", action="store_true", help="覆盖已存在的文件（保留 .bak 备份）")
    p.set_defaults(func=_cmd_register_template)
