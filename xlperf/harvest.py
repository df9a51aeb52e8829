"""Harvest: read filled 申报表 / 自评表 workbooks — untrusted files — into :class:`Project`.

Three layers:

* **pure core** — :func:`parse_sheet` turns one sheet's value grid (what
  ``python_calamine`` returns) into projects by their labels: 项目名称, 主管部门, the funds
  block, the indicator table, 总分, 评分等级… Labels may move, be split by spaces or line
  breaks, sit in merged cells (the value is the next non-empty cell to the right);
  several forms may be stacked on one sheet.
* **one file** — :func:`read_workbook` checks the bytes first (:mod:`xlperf.safezip`:
  zip bombs, DTDs, encryption, oversized sheets, broken containers), then reads values
  only with python-calamine — from the checked parts, re-packed uncompressed — (no
  formula is evaluated, no macro run, no link followed, nothing written) within per-file
  bounds, and returns projects plus problems.
* **many files** — :func:`harvest` reads a folder in worker processes, in tasks of many
  files; one bad file — even one that crashes its worker or hangs (each file has its own
  ``limits.seconds_per_file``, wherever it sits in a task) — never stops the rest.
  :func:`to_frames` flattens the result for reports.

Problems: a file that yields no project gives exactly one ``错误`` problem naming the
reason; a file that yields projects may carry ``警告``/``提示`` problems that point at cells.
"""
from __future__ import annotations

import datetime as _dt
import gc
import io
import logging
import os
import re
import signal
import sys
import threading
import time
import unicodedata
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from hashlib import sha256
from collections.abc import Callable

from .errors import NotationError
from .model import DECLARATION, FUNDS_ROWS, SELF_EVALUATION, DeclaredFunds, FundsLine, Indicator, Project
from .notation import as_typed, clean_text, from_excel, plausible, strip_html, to_decimal
from .marker import verify_xlsx
from .terminal import display_name
from .safezip import DEFAULT_LIMITS, Container, Limits, Refused, a1, open_container, parse_ref

log = logging.getLogger(__name__)

__all__ = ["Severity", "Problem", "HarvestResult", "Harvest", "Limits", "DEFAULT_LIMITS",
           "read_workbook", "harvest", "parse_sheet", "collect_files", "to_frames", "FRAME_COLUMNS_ZH"]

EXTENSIONS = (".xlsx", ".xlsm", ".xls")


# ====================================================================== results

class Severity(str, Enum):
    """How bad a problem is; the value is what users read."""
    ERROR = "错误"      # the file (or form) could not be harvested
    WARNING = "警告"    # harvested, but a value could not be read or looks dangerous
    INFO = "提示"       # harvested; something worth knowing (macros present, unit assumed…)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Problem:
    """One finding about a harvested file; ``cell`` is an A1 address when known."""
    severity: str
    file: str
    sheet: str = ""
    cell: str = ""
    message_zh: str = ""
    found: str = ""
    expected: str = ""

    def __str__(self) -> str:
        where = "，".join(x for x in (f"文件「{self.file}」" if self.file else "",
                                       f"工作表「{self.sheet}」" if self.sheet else "",
                                       f"单元格 {self.cell}" if self.cell else "") if x)
        return f"[{self.severity}] {where}：{self.message_zh}"


@dataclass
class HarvestResult:
    """What one file gave: projects, problems, and what reading it cost."""
    file: str
    projects: list[Project] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    format: str = ""       # xlsx | xls
    size: int = 0
    sha256: str = ""
    cells: int = 0         # cells read from all sheets
    memory_kb: int = 0     # peak RSS of the reading process after this file (an upper bound of its need)
    skipped: str = ""      # why a readable file holds no form on purpose (xlperf's own 汇总.xlsx)
    recalc_of: str = ""    # an xlperf recalc copy: the SHA-256 of the file it was recalculated from
    checks: list | None = None   # set by harvest's ``after`` hook (xlperf.validate.attach_checks)

    @property
    def ok(self) -> bool:
        return bool(self.projects)


@dataclass
class Harvest:
    """All files of one harvest, in the order they were listed."""
    results: list[HarvestResult] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0

    @property
    def projects(self) -> list[Project]:
        return [p for r in self.results for p in r.projects]

    @property
    def problems(self) -> list[Problem]:
        return [p for r in self.results for p in r.problems]

    @property
    def failed(self) -> list[HarvestResult]:
        return [r for r in self.results if not r.projects and not r.skipped]

    def slowest(self) -> HarvestResult | None:
        return max(self.results, key=lambda r: r.seconds, default=None)


# ====================================================================== labels

_A1: dict[tuple[int, int], str] = {}   # (row, col) -> A1 for the cells marked in this process (bounded)


#: :func:`xlperf.safezip.a1`, cached so the strings are shared (and pickled once per task)
#: across the projects of a worker.
_a1 = lru_cache(maxsize=1 << 13)(a1)


#: The national vocabulary: every label a 自评表 / 申报表 prints, with the synonyms the
#: provinces use, mapped to what it labels. A label is matched exactly, then by the prefix
#: rules of :func:`_classify`, then without trailing brackets (「执行率(B/A)」, 「指标值(A)」,
#: 「实施单位（盖章）」, 「产出指标(50分)」). One table: a new region's word goes here.
_LABELS = {
    # header
    "项目名称": "name", "主管部门": "department", "实施单位": "unit", "项目性质": "nature",
    "项目类别": "category", "计划开始日期": "start", "开始日期": "start", "计划完成日期": "end",
    "完成日期": "end", "计划结束日期": "end", "项目编号": "code", "项目代码": "code",
    "评分等级": "grade", "总分": "total", "合计": "total", "自评得分": "total", "自评总分": "total",
    # goals
    "预期目标": "expected", "年初设定目标": "expected", "项目年度目标": "expected",
    "实际完成情况": "actual_result", "年度总体目标完成情况": "actual_result", "年度目标完成情况": "actual_result",
    "年度总体目标": "annual_goal", "年度总目标": "annual_goal", "年度目标": "annual_goal",
    # 自评表 funds block: columns (全年预算数 = the budget after adjustments)
    "年初预算数": "h_initial", "年初预算": "h_initial",
    "全年预算数": "h_budget", "调整后预算数": "h_budget", "调整预算数": "h_budget", "调整后预算": "h_budget",
    "全年执行数": "h_executed", "预算执行数": "h_executed", "执行数": "h_executed",
    "分值": "h_weight", "分数": "h_weight", "权重": "h_weight", "参考分值": "h_weight", "得分": "h_score",
    # … and rows (总额 = 年度资金总额; 财政资金 is also the 申报表's 其中：财政资金)
    "年度资金总额": "f_total", "总额": "f_total", "当年财政拨款": "f_fiscal", "本年财政拨款": "f_fiscal",
    "财政拨款": "f_fiscal", "上年结转资金": "f_carry", "其他资金": "f_other",
    "财政专户管理资金": "f_extra", "单位资金": "f_extra",
    # 申报表 funds
    "项目资金总额": "d_total", "财政资金": "d_fiscal", "年度资金申请总额": "d_annual",
    # indicator table (指标性质 / 指标值 / 度量单位: a target split over three cells)
    "一级指标": "i_l1", "二级指标": "i_l2", "三级指标": "i_l3",
    "实际完成值": "i_actual", "完成值": "i_actual", "全年实际值": "i_actual", "实际值": "i_actual",
    "年度指标值": "i_target", "指标目标值": "i_target", "年度(/项目)指标值": "i_target",
    "年度/项目指标值": "i_target", "项目指标值": "i_target", "指标值": "i_target", "目标值": "i_target",
    "年度目标值": "i_target", "指标性质": "i_op", "度量单位": "i_unit", "计量单位": "i_unit",
    "绩效指标": "section", "项目绩效目标": "section",
}
#: Prefixes that label whatever follows them (long headings that carry an explanation).
_PREFIXES = (("项目总目标", "total_goal"), ("偏差原因", "i_note"), ("未完成原因", "i_note"),
             ("实际完成值", "i_actual"), ("评分等级", "grade"), ("报表编号", "report_no"))
#: A year in a title: 「(2023 年度)」, 「(2021年)」, 「2022年度…」.
_YEAR_RE = re.compile(r"((?:19|20)\d{2})年(?:度|[)\]】]|$)")
_TITLE_YEAR_RE = re.compile(r"((?:19|20)\d{2})年")
_UNIT_NOTE_RE = re.compile(r"^(?:金额)?单位[:：]?(万元|元)$")
_TRAILING_BRACKETS = re.compile(r"(?:\([^()]*\))+$")


#: The caches below hold what repeats from form to form (labels, units, cell addresses); a
#: few thousand entries do (least recently used go first), and a worker that reads 10,000
#: forms stays the size it was after 100 (issue 19: memory flat in the number of files).
@lru_cache(maxsize=1 << 12)
def _key(text: str) -> str:
    """A label's comparable form: NFKC, no HTML, no white space, no ``*``/``:``, no 其中 prefix."""
    key = clean_text(text).strip("*:")
    if key.startswith("其中"):
        key = key[2:].lstrip(":")
    return key


@lru_cache(maxsize=1 << 12)
def _classify(text: str):
    """(label id, title kind, year, key) of a short text cell, or None when it is none of them."""
    if text[0] in "0123456789.=≥≤<>+-—–$%" or len(text) > 60:
        return None
    key = _key(text)
    lid = _LABELS.get(key)
    if lid is None and key:
        if key.startswith("项目资金") and key != "项目资金总额":
            lid = "money"
        elif _UNIT_NOTE_RE.match(key):
            lid = "money"
        elif key.startswith(("执行率", "预算执行率")) and len(key) <= 25:
            lid = "h_rate"
        elif key.endswith(("指标值", "目标值")) and len(key) <= 12 and not key.startswith("实际"):
            lid = "i_target"
        else:
            lid = next((v for k, v in _PREFIXES if key.startswith(k)), None)
        if lid is None and key.endswith(")"):
            core = _TRAILING_BRACKETS.sub("", key)
            lid = _LABELS.get(core)
            if lid is None and core != key and "元)" in key and len(core) <= 12:
                lid = "money"       # 年度预算数(万元): a heading that states the money unit
    title = SELF_EVALUATION if SELF_EVALUATION in key else DECLARATION if DECLARATION in key else None
    m = _YEAR_RE.search(key) or (_TITLE_YEAR_RE.search(key) if title else None)
    year = int(m.group(1)) if m else None
    if lid is None and title is None and year is None:
        return None
    return lid, title, year, key


# ====================================================================== the grid

class _Grid:
    """One sheet's values (as calamine gives them) plus an index of its labels."""

    def __init__(self, rows: list[list], origin: tuple[int, int], percent, merges=(), formulas=None):
        self.rows = rows
        self.r0, self.c0 = origin
        self.edge = 10**6   # rightmost column of the form being read (set per form)
        self.spans: dict[tuple[int, int], int] = {}
        for (mr0, mc0), (_mr1, mc1) in list(merges or ())[:100_000]:
            r, c = mr0 - self.r0, mc0 - self.c0
            if 0 <= r < len(rows) and mc1 >= mc0:
                self.spans[(r, c)] = mc1 - self.c0
        self._percent_source = percent
        self._percent: frozenset | None = None
        self._formula_of = formulas if callable(formulas) else (formulas or {}).get
        self.height = len(rows)
        # Indices built in one pass, so that finding a label in a form's rows costs a
        # bisection, not a scan of every label of the sheet (a sheet of label-like text
        # with a thousand 项目名称 made the per-form scans quadratic: issue 17.6).
        self.row_lids: dict[int, set[str]] = {}
        self.labels: dict[str, list[tuple[int, int]]] = {}
        self._label_rows: dict[str, list[int]] = {}
        self._in_row: dict[tuple[str, int], int] = {}
        self.row_items: dict[int, list[tuple[str, int]]] = {}
        self.row_edge: dict[int, int] = {}   # row -> rightmost column of its labels' merged areas
        self.info: dict[tuple[int, int], tuple] = {}
        self.titles: list[tuple[int, int, str]] = []
        self.years: list[tuple[int, int, int]] = []
        spans = self.spans
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v.__class__ is not str or not v or len(v) > 60:
                    continue
                info = _classify(v)   # cached: labels repeat across forms
                if info is None:
                    continue
                lid, title, year, _key_ = info
                self.info[(r, c)] = info
                if lid:
                    self.labels.setdefault(lid, []).append((r, c))
                    self._label_rows.setdefault(lid, []).append(r)
                    self._in_row.setdefault((lid, r), c)
                    self.row_lids.setdefault(r, set()).add(lid)
                    self.row_items.setdefault(r, []).append((lid, c))
                    if lid != "section":
                        e = spans.get((r, c), c)
                        if e > self.row_edge.get(r, -1):
                            self.row_edge[r] = e
                if title:
                    self.titles.append((r, c, title))
                if year:
                    self.years.append((r, c, year))
        self._edge_rows = sorted(self.row_edge)
        self._title_rows = [t[0] for t in self.titles]
        self._year_rows = [y[0] for y in self.years]

    def edge_of(self, start: int, end: int) -> int:
        """Rightmost column of the labels (and their merged areas) in rows [start, end)."""
        rows = self._edge_rows
        lo, hi = bisect_left(rows, start), bisect_left(rows, end)
        return max((self.row_edge[rows[i]] for i in range(lo, hi)), default=-1)

    def titles_in(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """Titles in rows [start, end]."""
        rows = self._title_rows
        return self.titles[bisect_left(rows, start):bisect_right(rows, end)]

    def years_in(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """Years in rows [start, end]."""
        rows = self._year_rows
        return self.years[bisect_left(rows, start):bisect_right(rows, end)]

    def a1(self, r: int, c: int) -> str:
        return _a1(r + self.r0, c + self.c0)

    def is_percent(self, pos) -> bool:
        """Whether the cell at ``pos`` (relative) is shown with a percent format; the styles
        are looked up only when a number is read where a percent may stand."""
        if self._percent is None:
            src = self._percent_source
            src = src() if callable(src) else src
            self._percent = frozenset((r - self.r0, c - self.c0) for r, c in src or ())
        return pos in self._percent

    def formula(self, pos) -> str | None:
        """The formula text (without "=", never evaluated) of the cell at ``pos`` (relative), or
        None; asked only when a cell's value may not be what was typed (a number in a target
        cell), one cell at a time."""
        return self._formula_of((pos[0] + self.r0, pos[1] + self.c0))

    def get(self, r: int, c: int):
        if 0 <= r < self.height:
            row = self.rows[r]
            if 0 <= c < len(row):
                return row[c]
        return ""

    def width(self, r: int) -> int:
        return len(self.rows[r]) if 0 <= r < self.height else 0

    def span(self, r: int, c: int) -> int:
        """Last column of the merged area that starts at (r, c) (c itself when unmerged)."""
        return self.spans.get((r, c), c)

    def stop_of(self, r: int, c: int, columns) -> int:
        """Where a value under the header at (r, c) may be looked for: up to the next header
        column, within the header's merged width."""
        nxt = min((x for x in columns if x > c), default=10**6)
        return min(nxt, self.span(r, c) + 1)

    def stops(self, r: int, columns) -> dict[int, int]:
        """:meth:`stop_of` for every header column of the header row ``r``."""
        cs = sorted(set(columns))
        nxt = dict(zip(cs, cs[1:] + [10**6]))
        spans = self.spans
        return {c: min(nxt[c], spans.get((r, c), c) + 1) for c in cs}

    def is_label(self, r: int, c: int) -> bool:
        info = self.info.get((r, c))
        return bool(info and info[0] and info[0] != "section")

    def find(self, lid: str, start: int, end: int) -> tuple[int, int] | None:
        rows = self._label_rows.get(lid)
        if rows:
            i = bisect_left(rows, start)
            if i < len(rows) and rows[i] < end:
                return self.labels[lid][i]
        return None

    def find_all(self, lid: str, start: int, end: int) -> list[tuple[int, int]]:
        rows = self._label_rows.get(lid)
        if not rows:
            return []
        return self.labels[lid][bisect_left(rows, start):bisect_left(rows, end)]

    def in_row(self, lid: str, r: int) -> int | None:
        return self._in_row.get((lid, r))

    def right(self, r: int, c: int):
        """The next non-empty cell right of (r, c) — the value of a label, blank when that
        cell is another label. Returns (value, (r, c'))."""
        row = self.rows[r]
        for cc in range(c + 1, min(len(row), self.edge + 1)):
            v = row[cc]
            if _blank_cell(v):
                continue
            if self.is_label(r, cc):
                break
            return v, (r, cc)
        return "", (r, c + 1)

    def at(self, r: int, c: int, stop: int):
        """The value at (r, c), or — when empty — the first non-empty, non-label cell before
        column ``stop`` (a value typed one column off inside a merged header)."""
        row = self.rows[r] if 0 <= r < self.height else ()
        v = row[c] if 0 <= c < len(row) else ""
        if not _blank_cell(v):
            return v, (r, c)
        for cc in range(c + 1, min(stop, len(row))):
            v = row[cc]
            if not _blank_cell(v):
                if self.is_label(r, cc):
                    break
                return v, (r, cc)
        return "", (r, c)

    def below(self, r: int, c: int, c_end: int, r_end: int):
        """Text under a label, within columns [c, c_end): consecutive non-empty rows, stopping
        at a row that holds a label. Returns (list of values, first position)."""
        values, first = [], None
        c_end = min(c_end, self.edge + 1)
        for rr in range(r + 1, min(r_end, self.height)):
            row = self.rows[rr]
            hit = None
            for cc in range(c, min(c_end, len(row))):
                if self.is_label(rr, cc):
                    return values, first
                if hit is None and not _blank_cell(row[cc]):
                    hit = (row[cc], (rr, cc))
            if hit is None:
                if values:
                    break
                continue
            values.append(hit[0])
            first = first or hit[1]
        return values, first


def _formula_shown(formula: str | None, v) -> str:
    """The cell's content for a finding's 表上值: its formula as text (never evaluated);
    「（公式）」 when its text is not known (a shared formula's cell, an xls formula's tokens)."""
    if formula is None:
        return str(v)[:200]
    return f"={formula}"[:200] if formula else "（公式）"


def _blank_cell(v) -> bool:
    if v.__class__ is str:
        return not v or v.isspace()
    return v is None


# ====================================================================== value readers

_FORMULA_RE = re.compile(r"^\s*[=+\-@]\s*(?:[A-Za-z_][\w.]*\s*[(!|]|'[^']*'!)")
_SINGLE_LINE = str.maketrans("", "", "\r\n")


# notation.from_excel itself, cached by value: weights, scores and many amounts repeat from
# form to form (errors, for NaN/infinity, are not cached; 0.0 and -0.0 both give Decimal 0).
_from_float = lru_cache(maxsize=1 << 12, typed=True)(from_excel)
#: What a spreadsheet reads as a number when it is stored as text (no separators, units or
#: full-width digits).
_ASCII_NUMBER_RE = re.compile(r"^ *-?[0-9]+(?:\.[0-9]+)? *$")
_TINY = Decimal("1e-9")    # below any amount, weight or rate a form shows (with MAX_MAGNITUDE above)


def _clean(v: str, single_line: bool) -> tuple[str, bool]:
    """Cell text as read (no HTML; one line unless ``single_line`` is false) and whether it
    looks like a formula."""
    s = strip_html(v)
    if _INVISIBLE_RE.search(s):
        s = _INVISIBLE_RE.sub("", s)
    if single_line:
        s = s.translate(_SINGLE_LINE).strip()
    return s, _FORMULA_RE.match(s) is not None


#: Control and format characters (NUL, escapes, zero-width, bidi overrides, BOM) are dropped
#: from every text read: they only ever make look-alike names (「单位\u200b甲」 shown as a
#: second 单位甲), reorder or repaint what is shown, or break the HTML (NUL).
_INVISIBLE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f"
                           "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


_clean_cached = lru_cache(maxsize=1 << 12)(_clean)   # short texts repeat (indicator names, units…)


def _plain(d: Decimal) -> str:
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


class _Reader:
    """Reads one form block into a Project, collecting problems with cell addresses."""

    def __init__(self, g: _Grid, file: str, sheet: str, problems: list[Problem]):
        self.g, self.file, self.sheet, self.problems = g, file, sheet, problems
        self.cells: dict[str, str] = {}
        self.unread: dict[str, tuple[str, str]] = {}   # target path -> (why, cell content): see target()
        self.funds_scored = True   # the funds block has 分值/得分 columns (else 预算执行率 is an indicator)

    # -- problems
    def warn(self, pos, message: str, found="", expected="", severity=Severity.WARNING) -> None:
        cell = self.g.a1(*pos) if pos else ""
        self.problems.append(Problem(severity, self.file, self.sheet, cell, message,
                                     str(found)[:200], str(expected)))

    def mark(self, path: str, pos) -> None:
        if pos is not None:
            g = self.g
            if g.r0 or g.c0:
                pos = (pos[0] + g.r0, pos[1] + g.c0)
            ref = _A1.get(pos)
            if ref is None:
                ref = _A1[pos] = _a1(*pos) if len(_A1) < 1 << 16 else _a1.__wrapped__(*pos)
            self.cells[path] = ref

    # -- values
    def text(self, v, path: str, pos, *, single_line=True) -> str:
        self.mark(path, pos)
        if v is None or v == "":
            return ""
        if isinstance(v, str):
            s, formula_like = (_clean_cached if len(v) <= 200 else _clean)(v, single_line)
            if formula_like:
                self.warn(pos, "单元格文字像公式（可能是公式注入），已按文字原样读取，未计算。", s,
                          "普通文字")
            return s
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, float):
            try:
                d = _from_float(v)
            except NotationError as exc:
                self.warn(pos, exc.message, v)
                return ""
            return self._percent_text(d) if self.g.is_percent(pos) else _plain(d)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, _dt.datetime):
            return v.date().isoformat() if v.time() == _dt.time() else v.isoformat(sep=" ")
        if isinstance(v, (_dt.date, _dt.time)):
            return v.isoformat()
        return str(v)

    @staticmethod
    def _percent_text(d: Decimal) -> str:
        return _plain(d * 100) + "%"

    def number(self, v, path: str, pos, what: str, *, percent_hint=None, rate=False,
               amount=False) -> Decimal | None:
        """The number in a cell, exactly; a problem at the cell when there is none. ``amount``:
        a 资金 cell of xlperf's own form, whose formulas compute only numbers: text other than a
        plain number is read but pointed out (提示)."""
        self.mark(path, pos)
        if _blank_cell(v):
            return None
        try:
            if isinstance(v, bool):
                raise NotationError(f"{what}应为数字，而不是逻辑值 {'TRUE' if v else 'FALSE'}。")
            if isinstance(v, float):
                d = _from_float(v)
                if d and abs(d) < _TINY:      # 1e-300 as a 全年预算数: no form holds it
                    raise NotationError(f"{what} {v!r} 过小，超出表格数字的合理范围，未采用，请核对。")
                if rate and self.g.is_percent(pos):
                    d = Decimal(_plain(d * 100))
                elif percent_hint is not None:
                    d = percent_hint(d)
                return plausible(d, what)
            if isinstance(v, int):
                return to_decimal(v, what)
            if isinstance(v, str):
                if _FORMULA_RE.match(v):
                    self.warn(pos, f"{what}单元格文字像公式（可能是公式注入），未计算。", v, "数字")
                    return None
                d = to_decimal(v, what, blank=None)
                if d and abs(d) < _TINY:
                    raise NotationError(f"{what}「{v}」过小，超出表格数字的合理范围，未采用，请核对。")
                if amount and d is not None and not _ASCII_NUMBER_RE.match(v):
                    # The form's own formulas compute only numbers: 「1,165.18元」 or full-width
                    # digits leave its 执行率 and score 待核 while this reading has a figure.
                    self.warn(pos, f"{what}以文字「{v}」填写，已按 {d} 读取；表中公式可能无法计算文字"
                                   "（执行率和得分显示为待核），请在该单元格改填数字。", v, "数字（如 1234.50）",
                              Severity.INFO)
                return d
            raise NotationError(f"{what}应为数字，而不是{type(v).__name__}「{v}」。")
        except NotationError as exc:
            self.warn(pos, exc.message, v, "数字（如 1234.50）")
            return None

    def target(self, v, path: str, pos) -> str:
        """年度指标值 as the person typed it (:func:`~xlperf.notation.as_typed`, the register's
        reading too): a formula ``=100%`` or a percent-formatted 0.95 reads back as ``=100%`` /
        ``95%``, not 1 / 0.95; anything whose meaning the cell does not show (``=A1*2``, a date)
        is left blank, the reason kept in ``unread`` for the check to report once (at the cell).
        Text is read as text (cheap path)."""
        if pos is not None and (v.__class__ is not str or not v or v.isspace()):
            g = self.g
            formula = g.formula(pos)
            try:
                v = as_typed(v, formula=formula,
                             percent=(v.__class__ is not str or formula is not None) and g.is_percent(pos))
            except NotationError as exc:
                self.mark(path, pos)
                self.unread[path] = (exc.message, _formula_shown(formula, v))
                return ""
        return self.text(v, path, pos)

    def actual(self, v, path: str, pos):
        """实际完成值 as typed: text stays text; a number becomes a Decimal (a percent-formatted
        number the text Excel shows, e.g. ``"95%"``)."""
        if isinstance(v, float) and not isinstance(v, bool):
            self.mark(path, pos)
            try:
                d = _from_float(v)
            except NotationError as exc:
                self.warn(pos, exc.message, v)
                return None
            return self._percent_text(d) if self.g.is_percent(pos) else d
        if isinstance(v, int) and not isinstance(v, bool):
            self.mark(path, pos)
            return Decimal(v)
        if _blank_cell(v):
            self.mark(path, pos)
            return None
        return self.text(v, path, pos, single_line=False)

    def date(self, v, path: str, pos) -> str:
        self.mark(path, pos)
        if _blank_cell(v):
            return ""
        if isinstance(v, _dt.datetime):
            return v.date().isoformat()
        if isinstance(v, _dt.date):
            return v.isoformat()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and 20000 < v < 80000:
            return (_dt.date(1899, 12, 30) + _dt.timedelta(days=int(v))).isoformat()
        s = self.text(v, path, pos)
        m = re.fullmatch(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*", s)
        if m:
            try:
                return _dt.date(*map(int, m.groups())).isoformat()
            except ValueError:
                pass
        self.warn(pos, "日期无法识别，已按文字保留。", s, "日期（如 2023-01-01）")
        return s


# ====================================================================== forms

def parse_sheet(rows: list[list], *, origin: tuple[int, int] = (0, 0), sheet: str = "", file: str = "",
                percent=frozenset(), profile: str = "", year_hint: str = "",
                merges=(), formulas=None) -> tuple[list[Project], list[Problem]]:
    """Pure core: the forms on one sheet. ``rows`` are the values from ``origin`` (0-based
    row, col of ``rows[0][0]``); ``percent`` holds absolute (row, col) of percent-formatted
    cells (or a callable returning them, called only if needed); ``profile`` is the xp_profile value; ``year_hint`` (sheet and file name) is
    searched for a year when the form prints none; ``merges`` are the sheet's merged ranges
    ((row, col), (row, col)) absolute — they bound where a value may sit; ``formulas`` maps
    absolute (row, col) to formula text, or is a function of (row, col) giving it or None."""
    problems: list[Problem] = []
    g = _Grid(rows, origin, percent, merges, formulas)
    projects, skipped = [], []
    blocks = _blocks(g)
    for start, anchor, end in blocks:
        project = _parse_form(g, start, anchor, end, file, sheet, problems, profile, year_hint, len(blocks) == 1)
        if isinstance(project, Project):
            project.source_file, project.source_sheet = file, sheet
            projects.append(project)
        else:
            skipped.append(project)
    if skipped:
        # One finding for the sheet, however many: a sheet of label-like text is not
        # a thousand forms (issue 17.6), and what is skipped is said once.
        first = skipped[0]
        many = f"{len(skipped)} 处" if len(skipped) > 1 else ""
        problems.append(Problem(Severity.WARNING, file, sheet, g.a1(*first) if first else "",
                                f"工作表有{many}「项目名称」不在完整的自评表或申报表中（没有标题，没有资金表、指标表，"
                                "或表中没有填写任何内容），未作为项目读取。", "", "财政项目支出绩效自评表 / 绩效目标申报表"))
    return projects, problems


def _blocks(g: _Grid) -> list[tuple[int, int, int]]:
    """(start, anchor, end) rows of each form: one per 项目名称 label, starting at its title."""
    anchors = sorted({r for r, _ in g.labels.get("name", ())})
    marks = sorted({r for r, _, _ in g.titles} | {r for r, _, _ in g.years})
    if not anchors:
        return [(0, marks[0], g.height)] if g.titles else []
    starts, prev = [], -1
    for i, ar in enumerate(anchors):
        start = 0 if i == 0 else ar
        if i:
            # the first title/year mark above this anchor, after the previous one, within 8 rows
            j = bisect_left(marks, max(prev + 1, ar - 8))
            if j < len(marks) and marks[j] <= ar:
                start = min(start, marks[j])
        starts.append(start)
        prev = ar
    ends = starts[1:] + [g.height]
    return list(zip(starts, anchors, ends))


def _kind_of(g: _Grid, start: int, anchor: int, end: int) -> str | None:
    for _r, _c, title in g.titles_in(start, anchor):
        return title
    if any(g.find(lid, start, end) for lid in ("h_initial", "h_executed", "i_actual", "expected")):
        return SELF_EVALUATION
    if any(g.find(lid, start, end) for lid in ("d_total", "d_annual", "total_goal")):
        return DECLARATION
    return None


#: A project name that starts with its budget project code (Sichuan: 「51000021R000000019951-工资性支出」).
_CODED_NAME = re.compile(r"^([0-9A-Za-z]{12,40})\s*[-－—–_:：]\s*(\S.*)$")


def _parse_form(g: _Grid, start: int, anchor: int, end: int, file: str, sheet: str,
                problems: list[Problem], profile: str, year_hint: str, alone: bool = True) -> Project | tuple | None:
    """The form in rows [start, end) as a Project; else the position of its 项目名称 (or
    None) when the rows hold no form: no kind, or neither a funds block nor an indicator
    table with a row, or — among several 项目名称 on a sheet (``alone`` false) — nothing
    filled in: many projects are never made of label-like text alone (a blank template
    alone on its sheet is still read, so its emptiness is reported)."""
    rd = _Reader(g, file, sheet, problems)
    kind = _kind_of(g, start, anchor, end)
    anchor_pos = g.find("name", start, end) or (anchor, 0)
    if kind is None:
        return anchor_pos
    mark = len(problems)
    p = Project(kind=kind, year=0, name="", profile=profile or "")
    # The form ends one column right of its rightmost label (or that label's merged area):
    # helper columns beyond it (the generator's J–L) are never taken for values.
    edge = g.edge_of(start, end)
    g.edge = 1 + (edge if edge >= 0 else 10**6)
    # Whether the rows hold a form at all is known before any value is read (and warned
    # about): a table header with a row under it.
    ind_pos = g.find("i_l3", start, end) or g.find("i_l1", start, end)
    if not _has_table(g, start, end, ind_pos):
        return anchor_pos

    # -- header fields
    for lid, attr in (("name", "name"), ("department", "department"), ("unit", "unit"),
                      ("nature", "nature"), ("category", "category"), ("code", "key")):
        pos = g.find(lid, start, end)
        if pos is not None:
            v, vpos = g.right(*pos)
            setattr(p, attr, rd.text(v, attr, vpos))
    if not p.nature and p.category in ("经常性项目", "一次性项目") and g.find("nature", start, end) is None:
        p.nature, p.category = p.category, ""
        rd.cells["nature"] = rd.cells.pop("category")
    for lid in ("start", "end"):
        pos = g.find(lid, start, end)
        if pos is not None:
            v, vpos = g.right(*pos)
            setattr(p, lid, rd.date(v, lid, vpos))
    if not p.name:
        rd.warn(anchor_pos, "项目名称为空。", "", "项目名称")
    elif not p.key:
        m = _CODED_NAME.match(p.name)
        if m and any(ch.isdigit() for ch in m.group(1)):
            p.key, p.name = m.group(1), m.group(2).strip()
            rd.cells["key"] = rd.cells.get("name", "")

    # -- year: the title, else any 「2023年度」 above the header, else a hint, else 0
    for r, c, year in g.years_in(start, anchor):
        p.year = year
        rd.mark("year", (r, c))
        break
    else:
        m = re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", year_hint)
        if p.start[:4].isdigit():
            p.year = int(p.start[:4])
            rd.warn(None, f"表头没有年度，按计划开始日期取 {p.year} 年。", "", "(2023 年度)", Severity.INFO)
        elif m:
            p.year = int(m.group(1))
            rd.warn(None, f"表头没有年度，按工作表名或文件名取 {p.year} 年，请核对。", year_hint, "(2023 年度)")
        else:
            rd.warn(anchor_pos, "表头没有年度（应有「(2023 年度)」这样的标题），年度记为 0。", "", "(2023 年度)")

    # -- money unit: the first label that states one (「单位：万元」 wherever it is written,
    # 「项目资金（万元）」, 「年度预算数(万元)」), else the first 项目资金 heading
    monies = g.find_all("money", start, end)
    pos = next((q for q in monies if "元" in g.info[q][3]), monies[0] if monies else None)
    if pos is not None:
        key = g.info[pos][3]
        p.money_unit = "万元" if "万元" in key else "元"
        rd.mark("money_unit", pos)
    else:
        p.money_unit = "元"
        rd.warn(anchor_pos, "未找到金额单位（如「项目资金（万元）」），按元读取。", "", "项目资金（元）/（万元）", Severity.INFO)

    ind_row = ind_pos[0] if ind_pos else end
    if kind == SELF_EVALUATION:
        _self_funds(g, rd, p, start, ind_row)
        _self_goals(g, rd, p, start, ind_row)
    else:
        _declared_funds(g, rd, p, start, ind_row)
        _declared_goals(g, rd, p, start, ind_row)
    last = _indicators(g, rd, p, ind_row, end) if ind_pos else end
    if not ind_pos:
        rd.warn(anchor_pos, "未找到指标表（表头应有 一级指标 / 二级指标 / 三级指标）。", "", "指标表")
    _footer(g, rd, p, ind_row, end, last)
    if kind == SELF_EVALUATION and p.total_score is None:
        _header_total(g, rd, p, start, ind_row)
    p.layout = _layout(g, rd, start, end)
    if not alone and not _has_content(p):
        del problems[mark:]     # its warnings go with it: the sheet gets one finding
        return anchor_pos
    p.cells = rd.cells
    return p


#: Layouts recognised by what only they print, with their names in plain words.
LAYOUTS = {"ningxia": "宁夏/银川式自评表（预算执行率作为指标计分）",
           "sichuan": "四川部门预算项目支出绩效自评表"}


def _layout(g: _Grid, rd: _Reader, start: int, end: int) -> str:
    """Which published layout the form in rows [start, end) follows: its execution scored
    as an indicator (Ningxia), a 报表编号 or the target split over 指标性质/度量单位 (Sichuan),
    else "" (the national annex / Shanghai form). A hint for ties in rule inference."""
    if getattr(rd, "execution_row", False):
        return "ningxia"
    if g.find("report_no", start, end) or g.find("i_op", start, end):
        return "sichuan"
    return ""


def _has_content(p: Project) -> bool:
    """Something was filled in: a name, a figure, an indicator or a goal — a form's labels
    alone (a blank template, or a sheet of label-like text) make no project."""
    if p.name or p.indicators or p.annual_goal or p.actual_result or p.total_goal:
        return True
    if any(v is not None for v in (p.total_score, p.funds_score, p.funds_weight, p.funds_rate)):
        return True
    if any(v is not None for line in p.funds.values() for v in (line.initial, line.budget, line.executed, line.rate)):
        return True
    d = p.declared
    return any(getattr(d, a) is not None for a in ("project_total", "project_fiscal", "project_other", "annual_total",
                                                  "annual_fiscal", "annual_carryover", "annual_other"))


_INDICATOR_HEADS = ("i_l1", "i_l2", "i_l3", "i_target", "i_actual")
_FUNDS_HEADS = ("h_initial", "h_budget", "h_executed")
_FUNDS_ROWS = ("f_total", "f_fiscal", "f_carry", "f_other", "f_extra")


def _has_table(g: _Grid, start: int, end: int, ind_pos) -> bool:
    """A form has a table: an indicator header (two of its column labels in one row) with a
    row under it, a funds header with a funds row under it, or the 申报表's funds labels."""
    if ind_pos is not None and ind_pos[0] + 1 < end and \
            sum(lid in g.row_lids.get(ind_pos[0], ()) for lid in _INDICATOR_HEADS) >= 2:
        return True
    for lid in _FUNDS_HEADS:
        head = g.find(lid, start, end)
        if head is not None and any(g.find(f, head[0] + 1, end) for f in _FUNDS_ROWS):
            return True
    return any(g.find(lid, start, end) for lid in ("d_total", "d_annual"))


def _header_total(g: _Grid, rd: _Reader, p: Project, start: int, stop: int) -> None:
    """A total printed in the header (Ningxia: 自评得分 next to 实施单位) when the form has
    no 总分 row."""
    pos = g.find("total", start, stop)
    if pos is not None:
        v, vpos = g.right(*pos)
        p.total_score = rd.number(v, "total_score", vpos, "自评得分")


def _self_funds(g: _Grid, rd: _Reader, p: Project, start: int, stop: int) -> None:
    head = None
    for lid in ("h_budget", "h_executed", "h_initial"):
        head = g.find(lid, start, stop)
        if head:
            break
    if head is None:
        rd.warn(g.find("name", start, stop), "未找到资金表表头（年初预算数 / 全年预算数 / 全年执行数）。", "", "资金表")
        return
    hr = head[0]
    cols = {lid: g.in_row(lid, hr) for lid in ("h_initial", "h_budget", "h_executed", "h_weight", "h_rate", "h_score")}
    present = [c for c in cols.values() if c is not None]
    stop_of = g.stops(hr, present).__getitem__
    # xp_profile is defined only in the forms xlperf writes, whose 执行率 formulas read 全年预算数
    # and 全年执行数 (an official export's text amounts feed no formula: nothing to point out).
    xlperf_form = bool(p.profile)

    rd.funds_scored = cols["h_weight"] is not None or cols["h_score"] is not None
    below = hr + 1, min(stop, hr + 12)
    rows = [("f_total", FUNDS_ROWS[0], g.find("f_total", *below)),
            # 其中：财政资金 (Sichuan) is the 当年财政拨款 row
            ("f_fiscal", FUNDS_ROWS[1], g.find("f_fiscal", *below) or g.find("d_fiscal", *below)),
            ("f_carry", FUNDS_ROWS[2], g.find("f_carry", *below)), ("f_other", FUNDS_ROWS[3], g.find("f_other", *below))]
    # further sub-rows some provinces print (财政专户管理资金, 单位资金), under their own names
    rows += [("f_extra", g.info[q][3], q) for q in g.find_all("f_extra", *below)]
    for lid, row_name, pos in rows:
        if pos is None:
            rd.warn((hr, head[1]), f"资金表缺少「{row_name}」行。", "", row_name, Severity.INFO)
            continue
        r = pos[0]
        line = FundsLine()
        for attr, hid, what in (("initial", "h_initial", "年初预算数"), ("budget", "h_budget", "全年预算数"),
                                ("executed", "h_executed", "全年执行数")):
            c = cols[hid]
            if c is not None:
                v, vpos = g.at(r, c, stop_of(c))
                setattr(line, attr, rd.number(v, _path("funds", row_name, attr), vpos, f"{row_name}{what}",
                                                    amount=xlperf_form and attr != "initial"))
        p.funds[row_name] = line
        if cols["h_rate"] is not None:
            v, vpos = g.at(r, cols["h_rate"], stop_of(cols["h_rate"]))
            line.rate = rd.number(v, _path("funds", row_name, "rate"), vpos, f"{row_name}执行率",
                                  percent_hint=_rate_hint(line), rate=True)
        if lid != "f_total":
            continue
        p.funds_rate = line.rate
        if cols["h_rate"] is not None:
            rd.mark("funds_rate", vpos)
        if cols["h_weight"] is not None:
            v, vpos = g.at(r, cols["h_weight"], stop_of(cols["h_weight"]))
            p.funds_weight = rd.number(v, "funds_weight", vpos, "资金分值")
        if cols["h_score"] is not None:
            v, vpos = g.at(r, cols["h_score"], stop_of(cols["h_score"]))
            p.funds_score = rd.number(v, "funds_score", vpos, "资金得分")


def _rate_hint(line: FundsLine) -> Callable[[Decimal], Decimal]:
    """A rate typed as a fraction (0.9636 in a percent-formatted cell of an .xls, where the
    format is not read) is told apart from 96.36 by the budget and spending it should match."""
    def hint(d: Decimal) -> Decimal:
        if line.budget and line.executed is not None and 0 < d <= 2:
            expected = line.executed / line.budget * 100
            if abs(d * 100 - expected) < abs(d - expected):
                return Decimal(_plain(d * 100))
        return d
    return hint


def _self_goals(g: _Grid, rd: _Reader, p: Project, start: int, stop: int) -> None:
    exp, act = g.find("expected", start, stop), g.find("actual_result", start, stop)
    for pos, other, attr in ((exp, act, "annual_goal"), (act, None, "actual_result")):
        if pos is None:
            continue
        c_end = other[1] if other and other[0] == pos[0] and other[1] > pos[1] else g.edge + 1
        setattr(p, attr, _goal_text(g, rd, pos, c_end, stop, attr))


def _goal_text(g: _Grid, rd: _Reader, pos, c_end: int, stop: int, path: str, prefix: str = "") -> str:
    values, first = g.below(pos[0], pos[1], c_end, stop)
    if not values:
        v, vpos = g.right(*pos)
        if not _blank_cell(v) and vpos[1] < c_end:
            values, first = [v], vpos
    if not values:
        rd.mark(path, (pos[0] + 1, pos[1]))
        return prefix
    texts = [rd.text(v, path, first if i == 0 else None, single_line=False) for i, v in enumerate(values)]
    rd.mark(path, first)
    return prefix + "".join(texts)


def _declared_goals(g: _Grid, rd: _Reader, p: Project, start: int, stop: int) -> None:
    tot, ann = g.find("total_goal", start, stop), g.find("annual_goal", start, stop)
    if tot is not None:
        raw = strip_html(str(g.get(*tot)))
        cut = raw.find("目标")
        period = raw[cut + 2:].strip() if cut >= 0 else ""
        c_end = ann[1] if ann and ann[0] == tot[0] and ann[1] > tot[1] else g.edge + 1
        p.total_goal = _goal_text(g, rd, tot, c_end, stop, "total_goal", period)
    if ann is not None:
        p.annual_goal = _goal_text(g, rd, ann, g.edge + 1, stop, "annual_goal")


def _declared_funds(g: _Grid, rd: _Reader, p: Project, start: int, stop: int) -> None:
    d = p.declared = DeclaredFunds()
    left, right = g.find("d_total", start, stop), g.find("d_annual", start, stop)
    for lid, attr, what in (("d_total", "project_total", "项目资金总额"), ("d_fiscal", "project_fiscal", "财政资金"),
                            ("d_annual", "annual_total", "年度资金申请总额"),
                            ("f_fiscal", "annual_fiscal", "当年财政拨款"), ("f_carry", "annual_carryover", "上年结转资金")):
        pos = g.find(lid, start, stop)
        if pos is not None:
            v, vpos = g.right(*pos)
            setattr(d, attr, rd.number(v, f"declared.{attr}", vpos, what))
    lc = left[1] if left else None
    rc = right[1] if right else None
    for pos in g.find_all("f_other", start, stop):
        if lc is not None and (rc is None or abs(pos[1] - lc) < abs(pos[1] - rc)):
            attr = "project_other"
        elif rc is not None:
            attr = "annual_other"
        else:
            continue
        v, vpos = g.right(*pos)
        setattr(d, attr, rd.number(v, f"declared.{attr}", vpos, "其他资金"))
    if left is None and right is None:
        rd.warn(g.find("name", start, stop), "未找到申报表资金（项目资金总额 / 年度资金申请总额）。", "", "资金表")


_STOP_LIDS = frozenset(("total", "grade", "name"))


@lru_cache(maxsize=1 << 12)
def _path(group: str, key, attr: str) -> str:
    """``project.cells`` key such as ``indicators.3.score``; cached, so every project of a
    worker shares the strings (and a task's results pickle each once)."""
    return f"{group}.{key}.{attr}"


def _indicators(g: _Grid, rd: _Reader, p: Project, hr: int, end: int) -> int:
    """Rows under the indicator header until 总分 / 评分等级; returns the row it stopped at."""
    cols = {lid: g.in_row(lid, hr) for lid in
            ("i_l1", "i_l2", "i_l3", "i_op", "i_target", "i_unit", "i_actual", "h_weight", "h_score", "i_note")}
    present = [c for c in cols.values() if c is not None]
    stop_of = g.stops(hr, present).__getitem__
    # 人工调整得分: an xlperf workbook's override column, an input right of the printed form.
    # Found by its header in the header row (not a label: it must not widen the form's edge).
    header = g.rows[hr] if 0 <= hr < g.height else ()
    override_c = next((c for c in range(max(present, default=-1) + 1, len(header))
                       if isinstance(header[c], str) and _key(header[c]) == "人工调整得分"), None)
    # The footer (总分, 评分等级) and the next form (项目名称) begin left of the 三级指标 column;
    # the same words typed as a value (a 三级指标 or 偏差原因 of 合计/总分) do not end the table.
    first_value_c = cols["i_l3"] if cols["i_l3"] is not None else min(
        (c for c in present if c > min(present)), default=10**6)

    def starts_here(r) -> bool:
        return any(lid in _STOP_LIDS and pc < first_value_c for lid, pc in g.row_items.get(r, ()))

    l1 = l2 = ""
    for r in range(hr + 1, end):
        row_labels = g.row_lids.get(r, ())
        if not _STOP_LIDS.isdisjoint(row_labels) and starts_here(r):
            return r
        if ("i_l3" in row_labels or "i_l1" in row_labels) and sum(
                cols[lid] is not None and g.in_row(lid, r) == cols[lid]
                for lid in ("i_l1", "i_l2", "i_l3", "i_target", "i_actual")) >= 2:
            continue  # the header repeated after a page break (not one header word typed as a value)
        vals = {}
        for lid, c in cols.items():
            if c is None:
                vals[lid] = ("", None)
            elif lid in ("i_l1", "i_l2"):
                vals[lid] = (g.get(r, c), (r, c))
            else:
                vals[lid] = g.at(r, c, stop_of(c))
        raw1, raw2 = vals["i_l1"][0], vals["i_l2"][0]
        if not _blank_cell(raw1):
            new1 = clean_text(strip_html(str(raw1)))
            if new1 != l1:
                l2 = ""
            l1 = new1
        if not _blank_cell(raw2):
            l2 = clean_text(strip_html(str(raw2)))
        if all(_blank_cell(vals[k][0]) for k in ("i_l3", "i_target", "i_actual", "h_weight", "h_score", "i_note")):
            continue
        if _placeholder(vals):
            continue    # an unused template row (指标1:、……) left in the table
        if all(_blank_cell(v) or (pos is not None and g.is_label(*pos)) for k, (v, pos) in vals.items()
               if k not in ("i_l1", "i_l2")):
            continue    # label words where values belong: text, not an indicator
        if not rd.funds_scored and p.funds_score is None and _EXECUTION.fullmatch(
                clean_text(strip_html(str(vals["i_l3"][0]))) if not _blank_cell(vals["i_l3"][0]) else ""):
            _execution_indicator(rd, p, vals)
            continue
        i = len(p.indicators)
        rd.mark(_path("indicators", i, "level1"), vals["i_l1"][1])
        rd.mark(_path("indicators", i, "level2"), vals["i_l2"][1])
        ind = Indicator(
            level1=l1, level2=l2,
            level3=rd.text(vals["i_l3"][0], _path("indicators", i, "level3"), vals["i_l3"][1]),
            target=_target(rd, vals, _path("indicators", i, "target")),
            weight=rd.number(vals["h_weight"][0], _path("indicators", i, "weight"), vals["h_weight"][1], "指标分值"),
            actual=rd.actual(vals["i_actual"][0], _path("indicators", i, "actual"), vals["i_actual"][1]),
            score=rd.number(vals["h_score"][0], _path("indicators", i, "score"), vals["h_score"][1], "指标得分"),
            note=rd.text(vals["i_note"][0], _path("indicators", i, "note"), vals["i_note"][1], single_line=False),
        )
        if rd.unread:
            ind.unread_target = rd.unread.pop(_path("indicators", i, "target"), None)
        if override_c is not None:
            ind.override = rd.number(g.get(r, override_c), _path("indicators", i, "override"), (r, override_c),
                                     "人工调整得分")
        p.indicators.append(ind)
    return end


#: Names of an unused template row: 指标1、指标2:、……
_PLACEHOLDER = re.compile(r"(?:指标\d*[:：]?|[.…。·_]+|[-—–/]+)")
#: 预算执行率 scored as an indicator (Ningxia: under 项目管理 / 投入管理).
_EXECUTION = re.compile(r"预算执行率(?:\(.*\))?")


def _blank_or_dash(v) -> bool:
    return _blank_cell(v) or (v.__class__ is str and v.strip() in ("-", "—", "–", "/", "一", "——"))


def _placeholder(vals: dict) -> bool:
    """An unused template row: its name blank or a placeholder (指标1:, ……) and no target,
    actual or score in it (a row that carries a 分值 still counts in the weights)."""
    v = vals["i_l3"][0]
    name = "" if _blank_cell(v) else clean_text(str(v))
    if name and not _PLACEHOLDER.fullmatch(name):
        return False
    return all(_blank_or_dash(vals[k][0]) for k in ("i_target", "i_actual", "h_score")) and \
        _blank_or_dash(vals["h_weight"][0]) if name else \
        all(_blank_or_dash(vals[k][0]) for k in ("i_target", "i_actual", "h_score", "h_weight"))


def _target(rd: _Reader, vals: dict, path: str) -> str:
    """年度指标值 as written; a target split over 指标性质 (＝ ≥ ≤ 定性) / 指标值 / 度量单位
    cells (Sichuan) is joined back into one notation: 「=」「100」「%」 → 「=100%」."""
    value, pos = vals["i_target"]
    text = rd.target(value, path, pos)
    op = vals.get("i_op", ("", None))[0]
    unit = vals.get("i_unit", ("", None))[0]
    if _blank_cell(op) and _blank_cell(unit):
        return text
    op = clean_text(str(op)) if not _blank_cell(op) else ""
    unit = clean_text(str(unit)) if not _blank_cell(unit) else ""
    if op in ("定性", "定量", "定量(其他)", "其他"):
        op = ""
    if not text:
        return ""
    return f"{op}{text}{unit if not text.endswith(unit) else ''}"


def _execution_indicator(rd: _Reader, p: Project, vals: dict) -> None:
    """预算执行率 scored as an indicator on a form whose funds block has no 分值/得分: it is
    the funds score (its 分值 the funds weight, its actual the printed rate when the funds
    block prints none), so one rule checks it whatever the layout."""
    w, s_ = vals["h_weight"], vals["h_score"]
    p.funds_weight = rd.number(w[0], "funds_weight", w[1], "预算执行率分值")
    p.funds_score = rd.number(s_[0], "funds_score", s_[1], "预算执行率得分")
    if p.funds_rate is None:
        a = vals["i_actual"]
        rate = rd.number(a[0], "funds_rate", a[1], "预算执行率", rate=True) if not isinstance(a[0], str) else \
            rd.number(a[0].strip().rstrip("%％"), "funds_rate", a[1], "预算执行率")
        p.funds_rate = rate
    rd.execution_row = True


def _footer(g: _Grid, rd: _Reader, p: Project, hr: int, end: int, last: int) -> None:
    weight_c = g.in_row("h_weight", hr) if hr < end else None
    score_c = g.in_row("h_score", hr) if hr < end else None
    head = [c for c in (g.in_row(lid, hr) for lid in ("i_l1", "i_l2", "i_l3", "i_target", "i_actual", "h_weight",
                                                      "h_score", "i_note")) if c is not None] if hr < end else []
    tot = g.find("total", min(last, end), end) or g.find("total", hr, end)
    if tot is not None:
        r = tot[0]
        if score_c is not None:
            v, vpos = g.at(r, score_c, g.stop_of(hr, score_c, head))
        else:
            nums = [(g.get(r, c), (r, c)) for c in range(tot[1] + 1, min(g.width(r), g.edge + 1))
                    if not _blank_cell(g.get(r, c))]
            v, vpos = nums[-1] if nums else ("", (r, tot[1] + 1))
        p.total_score = rd.number(v, "total_score", vpos, "总分")
        if weight_c is not None:
            rd.mark("total_weight", (r, weight_c))
    grade = g.find("grade", min(last, end), end) or g.find("grade", hr, end)
    if grade is not None:
        key = g.info[grade][3]
        if len(key) > 4:
            p.grade = key[4:].lstrip(":")
            rd.mark("grade", grade)
        else:
            v, vpos = g.right(*grade)
            p.grade = rd.text(v, "grade", vpos)


# ====================================================================== one file

_CRASH = "读取该文件时读取进程异常退出（可能是恶意或损坏的文件），已跳过。"


def read_workbook(path, limits: Limits | None = None) -> HarvestResult:
    """Read one workbook safely into projects and problems. Never raises for a bad file:
    a file that yields no project gets exactly one ``错误`` problem naming the reason."""
    limits = limits or DEFAULT_LIMITS
    t0 = time.perf_counter()
    # A name that is not UTF-8 (GBK bytes left by unzip) is shown decoded: no report, CSV or
    # terminal could hold it as Python hands it over (lone surrogates).
    name = display_name(os.fspath(path))
    res = HarvestResult(file=name)
    try:
        container = open_container(path, limits)
        res.format, res.size = container.format, len(container.data)
        res.sha256 = sha256(container.data).hexdigest()
        _read_container(container, res, limits, os.fspath(path))
    except Refused as exc:
        res.projects, res.problems = [], [Problem(Severity.ERROR, name, "", "", exc.message, exc.found, exc.expected)]
    except (KeyboardInterrupt, SystemExit):
        raise
    except MemoryError:
        res.projects, res.problems = [], [Problem(Severity.ERROR, name, "", "", "读取时内存不足（文件可能被构造为耗尽内存），已跳过。")]
    except BaseException as exc:  # noqa: BLE001 - calamine panics arrive as BaseException
        log.debug("read_workbook %s failed", name, exc_info=True)
        res.projects, res.problems = [], [Problem(Severity.ERROR, name, "", "", _calamine_message(exc),
                                                  f"{type(exc).__name__}: {str(exc)[:200]}")]
    if res.projects and name != os.fspath(path):
        res.problems.append(Problem(Severity.INFO, name, "", "", "文件名不是 UTF-8 编码（可能是解压中文 Windows 的 zip 所致），"
                                    "已按 GBK 显示；建议改为正常的文件名。", repr(os.fsencode(path))[:200], ""))
    if res.skipped:
        res.problems = [Problem(Severity.INFO, name, "", "", res.skipped)]
    elif not res.projects:
        errors = [q for q in res.problems if q.severity == Severity.ERROR]
        if not errors:
            warned = [q for q in res.problems if q.severity == Severity.WARNING]
            message = "文件中未找到绩效自评表或申报表（应有「项目名称」等表头）。"
            if warned:
                first = warned[0]
                message = f"文件中未读到任何项目：{('工作表「' + first.sheet + '」') if first.sheet else ''}{first.message_zh}"
            errors = [Problem(Severity.ERROR, name, warned[0].sheet if warned else "", warned[0].cell if warned else "",
                              message, warned[0].found if warned else "", "财政项目支出绩效自评表 / 绩效目标申报表")]
        res.problems = errors[:1]
    res.seconds = time.perf_counter() - t0
    res.memory_kb = _peak_rss_kb()
    return res


try:
    import resource as _resource
except ImportError:  # pragma: no cover - Windows
    _resource = None


def _peak_rss_kb() -> int:
    if _resource is None:  # pragma: no cover - Windows
        return 0
    peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def _calamine_message(exc: BaseException) -> str:
    text = str(exc).lower()
    if "password" in text or "encrypt" in text:
        return "工作簿已加密（设有打开密码），无法读取；请取消密码后重新提交。"
    if type(exc).__name__ in ("CalamineError", "XmlError", "ZipError", "PasswordError", "WorksheetNotFound"):
        return "工作簿内容已损坏或格式不符，无法解析。"
    if type(exc).__name__ == "PanicException":
        return "解析工作簿时读取组件出错（文件可能被构造为攻击读取程序），已跳过。"
    return "读取工作簿时出错，已跳过。"


#: The sheets of the summary ``xlperf harvest`` writes: a folder that holds last run's
#: 汇总.xlsx is harvested again without reading it back as a form.
OWN_SUMMARY_SHEETS = frozenset({"项目汇总", "指标明细", "检查结果"})


def _read_container(container: Container, res: HarvestResult, limits: Limits, path: str = "") -> None:
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    name = res.file
    path = path or name
    probs = res.problems
    if container.has_vba:
        probs.append(Problem(Severity.INFO, name, "", "", "工作簿含宏（VBA），宏未运行。", "vbaProject", ""))
    if container.external_links:
        probs.append(Problem(Severity.INFO, name, "", "", f"工作簿含 {container.external_links} 个外部链接，未跟随、未更新。",
                             "externalLinks", ""))
    skip: dict[str, str] = {}
    if container.too_large:
        parts = {part: sheet for sheet, part in container.sheet_parts.items()}
        for part, extent in container.too_large.items():
            if part not in parts:
                raise Refused("工作簿中有单元格分布范围过大的工作表，疑似恶意文件，未读取。", extent,
                              f"≤ {limits.max_area:,} 个单元格")
            skip[parts[part]] = extent
    wb = CalamineWorkbook.from_filelike(io.BytesIO(container.reader_bytes()))
    try:
        names = container.defined_names() if container.format == "xlsx" else []
        res.recalc_of = _recalc_source(container)
        metas = wb.sheets_metadata
        sheet_names = [m.name for m in metas]
        if OWN_SUMMARY_SHEETS.issubset(sheet_names):
            # Sheet names can be copied; the mark cannot (xlperf.marker): only a summary this
            # user's xlperf wrote at this very path, unchanged, is skipped. Otherwise read it.
            if container.format == "xlsx" and verify_xlsx(container.parts, path):
                res.skipped = "这是 xlperf 在此处生成的汇总表（项目汇总 / 指标明细 / 检查结果），不是自评表或申报表，未读取。"
                return
            probs.append(Problem(Severity.INFO, name, "", "", "工作簿有汇总表的工作表名（项目汇总 / 指标明细 / 检查结果），"
                                 "但不是 xlperf 在此处生成的汇总表（无有效标记），已按自评表/申报表读取。"))
        grids: dict[str, tuple] = {}
        base = os.path.basename(name)
        dot = base.rfind(".")
        hint = f"{base[:dot] if 0 < dot < len(base) - 1 else base} "     # Path(name).stem
        read = 0
        for idx, meta in enumerate(metas):
            if meta.typ != SheetTypeEnum.WorkSheet:
                continue
            if meta.name in skip:
                probs.append(Problem(Severity.WARNING, name, meta.name, "",
                                     "工作表单元格分布范围过大（疑似恶意构造），已跳过。", skip[meta.name],
                                     f"≤ {limits.max_area:,} 个单元格"))
                continue
            if read >= limits.max_sheets:
                probs.append(Problem(Severity.WARNING, name, meta.name, "",
                                     f"工作表超过 {limits.max_sheets} 个，其余未读取。"))
                break
            read += 1
            rows, origin, merges = _sheet_rows(wb, meta.name, res, limits)
            grids[meta.name] = (rows, origin)
            if not rows:
                continue
            profile = _profile_for(idx, names, sheet_names, grids, wb, res, limits)
            percent = lambda sheet=meta.name: container.percent_cells(sheet)  # noqa: E731 - looked up lazily
            formulas = lambda rc, sheet=meta.name: container.formula_at(sheet, *rc)  # noqa: E731 - per cell, if asked
            projects, problems = parse_sheet(rows, origin=origin, sheet=meta.name, file=name, percent=percent,
                                             profile=profile, year_hint=hint + meta.name, merges=merges,
                                             formulas=formulas)
            if meta.name == _FINDINGS_SHEET and _recalc_findings(rows, origin, projects):
                probs.append(Problem(Severity.INFO, name, meta.name, "", "这是 xlperf recalc 写的检查结果工作表，不是表单，未读取。"))
                continue
            res.projects.extend(projects)
            probs.extend(problems)
            if projects:
                _error_cells(container.error_cells(meta.name), projects, name, meta.name, probs)
    finally:
        wb.close()


# xlperf recalc's outputs (see docs/security.md): its 检查结果 sheet is known by its content,
# and a ``…_重算`` copy by the hash of the file it was made from, which must be in the same
# harvest. Neither needs a key (recalc runs at the units, harvest at the admin): a sheet is
# only passed over when it holds the findings table and no named project, and a copy only
# when its original is read and holds the same projects, so no form can hide behind either.
_FINDINGS_SHEET = "检查结果"    # = xlperf.recalc.FINDINGS_SHEET (a test holds them equal)


def _recalc_findings(rows, origin, projects) -> bool:
    from .recalc import FINDINGS_HEADER

    return origin == (0, 0) and bool(rows) and tuple(str(v) for v in rows[0][:6]) == FINDINGS_HEADER \
        and all(v in ("", None) for row in rows for v in row[6:]) and not any(p.name for p in projects)


def _recalc_source(container: Container) -> str:
    for name, _local, text in (container.defined_names("_xlperf") if container.format == "xlsx" else []):
        m = re.fullmatch(r'\s*"([0-9a-f]{64})"\s*', text)
        if name == "_xlperf_recalc_of" and m:                # written by xlperf.recalc.recalculated
            return m.group(1)
    return ""


def _drop_recalc_copies(results: list[HarvestResult]) -> None:
    """A recalc copy whose original is in this harvest, unchanged, with the same projects: its
    projects would be counted twice; it gets one 提示 instead (the original is what is checked)."""
    by_hash = {r.sha256: r for r in results if r.sha256}
    ident = lambda r: {(p.kind, p.unit, p.name, p.year) for p in r.projects}  # noqa: E731
    for r in results:
        original = by_hash.get(r.recalc_of) if r.recalc_of else None
        if original is None or original is r or not r.projects or not ident(r) <= ident(original):
            continue
        r.projects, r.checks = [], []
        r.skipped = (f"这是「{os.path.basename(original.file)}」的 xlperf 重算副本，原文件已读取，"
                     "副本未重复读取（核对以原文件为准）。")
        r.problems = [Problem(Severity.INFO, r.file, "", "", r.skipped)]


def _error_cells(errors: dict, projects: list[Project], file: str, sheet: str, probs: list[Problem]) -> None:
    """A cell the form's fields were read from that holds a formula error (cached ``#VALUE!``):
    the reader saw it as blank, the user must hear why (issue 18 item 6)."""
    if not errors:
        return
    by_ref = {a1(r, c): v for (r, c), v in errors.items()}
    seen = set()
    for p in projects:
        for ref in p.cells.values():
            if ref in by_ref and ref not in seen:
                seen.add(ref)
                probs.append(Problem(Severity.WARNING, file, sheet, ref,
                                     f"单元格是公式错误值 {by_ref[ref]}，按空白处理；请修正公式或填写数值。",
                                     by_ref[ref], "数值或文字"))


def _sheet_rows(wb, sheet: str, res: HarvestResult, limits: Limits):
    s = wb.get_sheet_by_name(sheet)
    if s.start is None:
        return [], (0, 0), ()
    height, width = s.height, max(s.width, 1)
    nrows = min(height, limits.max_rows, max(1, limits.max_cells // width))
    if nrows < height:
        res.problems.append(Problem(Severity.WARNING, res.file, sheet, "",
                                    f"工作表有 {height:,} 行 × {width:,} 列，超过读取上限，只读取了前 {nrows:,} 行。",
                                    f"{height} 行", f"≤ {nrows} 行"))
    rows = s.to_python(skip_empty_area=True, nrows=nrows)
    res.cells += len(rows) * width
    return rows, tuple(s.start), s.merged_cell_ranges or ()


_REF_RE = re.compile(r"^=?\s*(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Za-z]{1,3})\$?(\d{1,7})\s*$")
_CONST_RE = re.compile(r'^=?\s*"((?:[^"]|"")*)"\s*$')


def _profile_for(idx, names, sheet_names, grids, wb, res, limits) -> str:
    """The value of the defined name ``xp_profile`` (sheet-scoped first), or ""."""
    cands = [n for n in names if n[0].lower() == "xp_profile"]
    chosen = next((n for n in cands if n[1] == idx), None) or next((n for n in cands if n[1] is None), None)
    if chosen is None:
        return ""
    text = chosen[2].strip()
    m = _CONST_RE.match(text)
    if m:
        return m.group(1).replace('""', '"').strip()[:40]
    m = _REF_RE.match(text)
    if not m:
        return ""
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2).strip()
    if sheet not in sheet_names:
        return ""
    if sheet not in grids:
        try:
            grids[sheet] = _sheet_rows(wb, sheet, res, limits)[:2]
        except Exception:  # noqa: BLE001
            return ""
    rows, (r0, c0) = grids[sheet]
    ref = parse_ref(f"{m.group(3)}{m.group(4)}".encode())
    row, col = ref[0] - r0, ref[1] - c0
    if 0 <= row < len(rows) and 0 <= col < len(rows[row]) and isinstance(rows[row][col], str):
        return rows[row][col].strip()[:40]
    return ""


# ====================================================================== many files

def collect_files(paths_or_dir, outside: list | None = None) -> list[str]:
    """Workbooks under the given folders (recursively, symlinked folders not followed) and the
    given files, sorted, without Excel/LibreOffice lock files (``~$…``, ``.~lock…``).

    A link inside a given folder that leads out of it is not followed (nothing outside the
    folder is read — not even its first bytes): it is left out and appended to ``outside``
    when that list is given (:func:`outside_result` says so in a 提示)."""
    if isinstance(paths_or_dir, (str, os.PathLike)):
        paths_or_dir = [paths_or_dir]
    out: list[str] = []
    for item in paths_or_dir:
        item = os.fspath(item)
        if os.path.isdir(item):
            top = os.path.realpath(item)
            found = []
            for root, dirs, files in os.walk(item, followlinks=False):
                dirs.sort()
                for f in files:
                    if f.lower().endswith(EXTENSIONS) and not f.startswith(("~$", ".~lock")):
                        path = os.path.join(root, f)
                        if os.path.islink(path) and not _inside(os.path.realpath(path), top):
                            if outside is not None:
                                outside.append(path)
                            continue
                        found.append(path)
            out.extend(sorted(found))
        else:
            out.append(item)
    return out


def _inside(path: str, top: str) -> bool:
    try:
        return os.path.commonpath([path, top]) == top
    except ValueError:       # another drive
        return False


def outside_result(path: str) -> HarvestResult:
    """The result for a link that leads out of the folder harvested: not read, one 提示."""
    name = display_name(path)
    message = "该文件是指向所选文件夹以外的链接，为安全起见未跟随、未读取；如需汇总，请把文件本身复制到文件夹中。"
    return HarvestResult(name, problems=[Problem(Severity.INFO, name, "", "", message, "链接", "文件夹内的普通文件")],
                         skipped=message)


def harvest(paths_or_dir, workers: int | None = None, limits: Limits | None = None,
            after: Callable[[HarvestResult], None] | None = None) -> Harvest:
    """Read every workbook under ``paths_or_dir`` (a folder, a file, or a list of them).

    ``workers``: processes to use (default: one per core, fewer for few files); ``0`` reads
    in this process (fast for a handful of trusted files, but a crash of the reader would
    take this process down). Worker processes are memory-capped (``limits.worker_memory``);
    a worker that dies or exceeds ``limits.seconds_per_file`` costs only its file, which gets
    one problem, and the rest are read again.

    ``after``: called in this process with each result that has projects as soon as it
    arrives, while the workers go on reading (e.g. :func:`xlperf.validate.attach_checks`).
    If it raises, the result is kept without it (logged) and the caller does that work
    itself. (Run in the workers instead, the checks cost more to send back than to do.)"""
    t0 = time.perf_counter()
    limits = limits or DEFAULT_LIMITS
    outside: list[str] = []
    files = collect_files(paths_or_dir, outside)
    workers = default_workers(len(files)) if workers is None else workers
    results = list(iter_results(files, workers, limits, after))
    _drop_recalc_copies(results)
    results += [outside_result(p) for p in outside]
    return Harvest(results, time.perf_counter() - t0, workers if workers > 0 and files else 0)


def default_workers(n_files: int) -> int:
    """One process per core, fewer for few files."""
    return max(1, min(os.cpu_count() or 1, (n_files + 15) // 16))


def iter_results(files: list[str], workers: int, limits: Limits | None = None,
                 after: Callable[[HarvestResult], None] | None = None):
    """The results of reading ``files``, yielded in their order as soon as each one and all
    before it are read (``after`` already applied): what :func:`harvest` collects, for a
    caller that writes each result out and drops it (memory flat in the number of files).
    Only the results read ahead of a slow file wait here. Recalc copies are not paired
    (:func:`harvest` does that over the whole list)."""
    limits = limits or DEFAULT_LIMITS
    if workers <= 0 or not files:
        for f in files:
            yield _after(read_workbook(f, limits), after)
        return
    if len(files) == 1 and _can_fork():
        yield _after(_read_forked(files[0], limits), after)
        return
    waiting: dict[int, HarvestResult] = {}
    nxt = 0
    for i, r in _run_pool(files, workers, limits, after):
        waiting[i] = r
        while nxt in waiting:
            yield waiting.pop(nxt)
            nxt += 1
    if waiting or nxt != len(files):       # every file gives exactly one result
        raise RuntimeError(f"harvest: {len(files) - nxt} results missing")


_STARTED = None   # in a worker: the shared "started at" array of the current pass


def _after(res: HarvestResult, after) -> HarvestResult:
    if after is not None and res.projects:
        try:
            after(res)
        except Exception:  # noqa: BLE001 - the caller runs it again and reports there
            log.warning("%s: per-file hook %s failed", res.file, getattr(after, "__name__", after), exc_info=True)
    return res


def _read_many(idxs: list[int], files: list[str], limits: Limits) -> list[HarvestResult]:
    """A worker's task: read ``files`` (their indices ``idxs``), noting in the shared array
    when each one starts (``time.monotonic()``) and that it ended (-1), so the parent can
    stop a file that runs past ``limits.seconds_per_file`` whatever its place in the task."""
    started = _STARTED
    out = []
    for i, f in zip(idxs, files):
        if started is not None:
            started[i] = time.monotonic()
        out.append(read_workbook(f, limits))
        if started is not None:
            started[i] = -1.0
    return out


#: Extra allowance for a task's backstop when workers are spawned, not forked.
SPAWN_STARTUP_SECONDS = 30.0


def _init_worker(limits: Limits, started=None) -> None:
    global _STARTED
    _STARTED = started
    import python_calamine  # noqa: F401 - imported before the per-file clock runs (spawn)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["RUST_BACKTRACE"] = "0"  # a reader that aborts says one line, not a page
    if limits.worker_memory and os.name == "nt":
        from .winpaths import cap_memory_windows
        cap_memory_windows(limits.worker_memory)
    elif limits.worker_memory:
        try:
            import resource
            with open("/proc/self/statm") as fh:
                vsz = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            cap = vsz + limits.worker_memory
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            if hard == resource.RLIM_INFINITY or cap < hard:
                resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        except (ImportError, OSError, ValueError):
            pass


def _mp_context():
    import multiprocessing as mp

    from .winpaths import forced_start_method, mp_context
    if forced_start_method():           # XLPERF_MP_START: the Windows lane (spawn) in CI
        return mp_context()
    methods = mp.get_all_start_methods()
    if "fork" in methods and _can_fork():
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def _can_fork() -> bool:
    """Whether a worker may be forked here: what :func:`_mp_context` picks "fork" for."""
    from .winpaths import forced_start_method
    return (hasattr(os, "fork") and sys.platform.startswith("linux") and not forced_start_method()
            and threading.active_count() == 1)


def _read_forked(file: str, limits: Limits) -> HarvestResult:
    """One file read in a forked child: the pool's isolation (memory cap, the per-file clock,
    a reader that dies costs only this file) without a pool's start-up and imports, which
    were most of ``xlperf check ONE_FILE``'s time. The result comes back pickled through a
    pipe, as a pool worker's would."""
    import pickle
    import select

    t0 = time.perf_counter()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # pragma: no cover - the child (ends in _exit)
        code = 70
        try:
            os.close(r)
            _init_worker(limits)
            view = memoryview(pickle.dumps(read_workbook(file, limits), pickle.HIGHEST_PROTOCOL))
            while view:
                view = view[os.write(w, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    chunks: list[bytes] = []
    reaped = False
    try:
        deadline = time.monotonic() + limits.seconds_per_file
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                return _timeout_result(file, limits, time.perf_counter() - t0)
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        reaped = True
    finally:
        os.close(r)
        if not reaped:                               # ran out of time, or Ctrl-C here
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
    if status != 0 or not chunks:
        return HarvestResult(file, problems=[Problem(Severity.ERROR, file, "", "", _CRASH)],
                             seconds=time.perf_counter() - t0)
    return pickle.loads(b"".join(chunks))


def _timeout_result(file: str, limits: Limits, seconds: float) -> HarvestResult:
    message = f"读取超过 {limits.seconds_per_file:g} 秒仍未完成（可能是恶意或损坏的文件），已中止并跳过。"
    return HarvestResult(file, problems=[Problem(Severity.ERROR, file, "", "", message)], seconds=seconds)


def _run_pool(files: list[str], workers: int, limits: Limits, after=None):
    """Yield (index, result) for every file as its result is final (in no particular order)."""
    n = len(files)
    size = max(1, min(64, n // (workers * 8) or 1))
    tasks = deque(list(range(i, min(i + size, n))) for i in range(0, n, size))
    suspects: list[int] = []
    while tasks:
        failed, hung = yield from _pool_pass(files, tasks, workers, limits, after)
        for i, seconds in hung:
            yield i, _timeout_result(files[i], limits, seconds)
        suspects.extend(failed)
    for i in suspects:  # alone, so a second failure is this file's own
        t0 = time.perf_counter()
        got = []
        lost, hung = _collect(_pool_pass(files, deque([[i]]), 1, limits, after), got)
        if hung:
            yield i, _timeout_result(files[i], limits, time.perf_counter() - t0)
        elif lost:
            yield i, HarvestResult(files[i], problems=[Problem(Severity.ERROR, files[i], "", "", _CRASH)],
                                   seconds=time.perf_counter() - t0)
        else:
            yield from got


def _collect(gen, into: list):
    """Run the generator ``gen``, keeping what it yields in ``into``; return its value."""
    while True:
        try:
            into.append(next(gen))
        except StopIteration as stop:
            return stop.value


def _pool_pass(files, tasks: deque, workers: int, limits: Limits, after=None):
    """Run tasks until done or the pool breaks (a worker died, or a file ran past
    ``limits.seconds_per_file`` and the workers were killed), yielding (index, result) as
    results arrive.

    Returns the suspects — files being read when a worker died (to be read again alone)
    — and the files that ran out of time, with their seconds. Files whose task was lost
    but that were not being read (not started yet, or read but their task's results lost
    with it) go back to ``tasks``; when a break cannot be pinned on any file, every lost
    file is a suspect, so each pass that breaks removes at least one file from ``tasks``."""
    ctx = _mp_context()
    # A spawned worker (Windows) starts a fresh interpreter and imports xlperf before its
    # first task — seconds on a busy PC with a virus scanner — so the backstop allows for it.
    startup = 0.0 if ctx.get_start_method() == "fork" else SPAWN_STARTUP_SECONDS
    started = ctx.RawArray("d", len(files))   # 0: not started, > 0: reading since, < 0: done
    if ctx.get_start_method() == "fork":
        # What this process holds goes into the permanent generation: a forked worker's
        # collections then skip it instead of walking it, and so copying every page of it.
        gc.freeze()
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                             initializer=_init_worker, initargs=(limits, started))
    inflight: dict = {}
    unresolved: list[list[int]] = []
    suspects: list[int] = []
    hung: list[tuple[int, float]] = []
    broken = False
    spf = limits.seconds_per_file
    try:
        while (tasks or inflight) and not broken:
            while tasks and len(inflight) < workers * 2:
                idxs = tasks.popleft()
                try:
                    fut = ex.submit(_read_many, idxs, [files[i] for i in idxs], limits)
                except BrokenProcessPool:       # a worker died (or never started) meanwhile
                    unresolved.append(idxs)
                    broken = True
                    break
                # backstop for a worker stuck outside read_workbook (the per-file clock is below)
                inflight[fut] = (idxs, time.monotonic() + spf * len(idxs) * 2 + 1 + startup)
            if broken:
                break
            now = time.monotonic()
            reading = [started[i] for idxs, _ in inflight.values() for i in idxs if started[i] > 0]
            nearest = min([d for _, d in inflight.values()] + [t + spf for t in reading]) - now
            done, _ = wait(list(inflight), timeout=max(0.05, min(0.5, nearest)), return_when=FIRST_COMPLETED)
            for fut in done:
                idxs, _deadline = inflight.pop(fut)
                try:
                    got = list(zip(idxs, fut.result()))
                except BrokenProcessPool:
                    unresolved.append(idxs)
                    broken = True
                except Exception:  # noqa: BLE001 - e.g. a result that failed to pickle
                    suspects.extend(idxs)
                else:
                    for i, r in got:
                        yield i, _after(r, after)
            if broken:
                break
            now = time.monotonic()
            hung = [(i, now - started[i]) for idxs, _ in inflight.values() for i in idxs
                    if 0 < started[i] < now - spf]
            if hung or any(d < now for _, d in inflight.values()):
                _kill_workers(ex)
                broken = True
        if broken:
            for fut, (idxs, _d) in inflight.items():
                try:
                    got = list(zip(idxs, fut.result(timeout=spf)))
                except Exception:  # noqa: BLE001
                    unresolved.append(idxs)
                else:
                    for i, r in got:
                        yield i, _after(r, after)
    finally:
        if broken:
            _kill_workers(ex)
        ex.shutdown(wait=True, cancel_futures=True)
    hung_set = {i for i, _ in hung}
    lost = [i for idxs in unresolved for i in idxs if i not in hung_set]
    culprits = [i for i in lost if started[i] > 0]
    if not culprits and not hung:
        suspects.extend(lost)                 # nothing to pin the break on: all alone
    else:
        suspects.extend(culprits)
        requeue = [i for i in lost if started[i] <= 0]
        if requeue:
            tasks.appendleft(requeue)
    return suspects, hung


def _kill_workers(ex) -> None:
    for proc in list(getattr(ex, "_processes", {}) .values()):
        try:
            proc.kill()
        except Exception:  # noqa: BLE001
            pass


# ====================================================================== frames

#: Chinese display names for the frame columns (the frames themselves use English names).
FRAME_COLUMNS_ZH = {
    "project_id": "项目序号", "file": "文件", "sheet": "工作表", "kind": "表类型", "year": "年度",
    "name": "项目名称", "department": "主管部门", "unit": "实施单位", "key": "项目编号", "money_unit": "金额单位",
    "profile": "计分规则", "nature": "项目性质", "category": "项目类别", "start": "计划开始日期",
    "end": "计划完成日期", "total_goal": "项目总目标", "annual_goal": "年度总体目标/预期目标",
    "actual_result": "实际完成情况", "funds_weight": "资金分值", "funds_rate": "执行率", "funds_score": "资金得分",
    "total_score": "总分", "grade": "评分等级", "indicator_count": "指标数",
    "declared_project_total": "项目资金总额", "declared_project_fiscal": "财政资金",
    "declared_project_other": "其他资金（项目）", "declared_annual_total": "年度资金申请总额",
    "declared_annual_fiscal": "当年财政拨款（申报）", "declared_annual_carryover": "上年结转资金（申报）",
    "declared_annual_other": "其他资金（年度）",
    "row": "资金行", "initial": "年初预算数", "budget": "全年预算数", "executed": "全年执行数",
    "rate": "执行率", "cell_initial": "年初预算数单元格", "cell_budget": "全年预算数单元格", "cell_executed": "全年执行数单元格",
    "cell_rate": "执行率单元格",
    "index": "指标序号", "level1": "一级指标", "level2": "二级指标", "level3": "三级指标", "target": "年度指标值",
    "weight": "分值", "actual": "实际完成值", "score": "得分", "note": "偏差原因分析及改进措施",
    "cell_target": "指标值单元格", "cell_actual": "完成值单元格", "cell_weight": "分值单元格", "cell_score": "得分单元格",
    "severity": "级别", "cell": "单元格", "message_zh": "说明", "found": "发现", "expected": "应为",
    "seconds": "读取秒数",
}


#: The columns of :func:`to_frames`, in order.
FRAME_COLUMNS = {
    "projects": ["project_id", "file", "sheet", "kind", "year", "name", "department", "unit", "key", "money_unit",
                 "profile", "nature", "category", "start", "end", "total_goal", "annual_goal", "actual_result",
                 "funds_weight", "funds_rate", "funds_score", "total_score", "grade", "indicator_count",
                 "declared_project_total", "declared_project_fiscal", "declared_project_other",
                 "declared_annual_total", "declared_annual_fiscal", "declared_annual_carryover",
                 "declared_annual_other"],
    "funds": ["project_id", "file", "sheet", "name", "row", "initial", "budget", "executed", "rate",
              "cell_initial", "cell_budget", "cell_executed", "cell_rate"],
    "indicators": ["project_id", "file", "sheet", "name", "index", "level1", "level2", "level3", "target",
                   "weight", "actual", "score", "note", "cell_target", "cell_actual", "cell_weight", "cell_score"],
    "problems": ["severity", "file", "sheet", "cell", "message_zh", "found", "expected"],
}


def to_frames(h: Harvest, exclude: set | frozenset = frozenset()) -> dict:
    """Four pandas DataFrames with English column names (``FRAME_COLUMNS_ZH`` maps them to
    Chinese): ``projects`` (one row per project, 申报表 amounts as ``declared_*``),
    ``funds`` (自评表 funds rows), ``indicators`` and ``problems``. ``project_id`` joins
    them. Amounts and scores stay ``Decimal`` (object columns) so nothing is rounded.
    ``exclude``: ids of projects to leave out (the duplicates :func:`xlperf.validate.duplicates`
    drops, so a copy is not summed twice)."""
    import pandas as pd

    data = frame_records([p for p in h.projects if id(p) not in exclude], h.problems)
    return {k: pd.DataFrame(data[k], columns=FRAME_COLUMNS[k]) for k in FRAME_COLUMNS}


def frame_records(projects, problems, first_id: int = 0) -> dict[str, list[dict]]:
    """The rows of :func:`to_frames` for ``projects`` (numbered from ``first_id``) and
    ``problems``: a harvest written out file by file gives each file's rows in turn."""
    rows: dict[str, list[dict]] = {"projects": [], "funds": [], "indicators": [], "problems": []}
    funds, indicators = rows["funds"], rows["indicators"]
    for pid, p in enumerate(projects, first_id):
        row = {"project_id": pid, "file": p.source_file, "sheet": p.source_sheet, "kind": p.kind, "year": p.year,
               "name": p.name, "department": p.department, "unit": p.unit, "key": p.key,
               "money_unit": p.money_unit, "profile": p.profile, "nature": p.nature, "category": p.category,
               "start": p.start, "end": p.end, "total_goal": p.total_goal, "annual_goal": p.annual_goal,
               "actual_result": p.actual_result, "funds_weight": p.funds_weight, "funds_rate": p.funds_rate,
               "funds_score": p.funds_score, "total_score": p.total_score, "grade": p.grade,
               "indicator_count": len(p.indicators)}
        for attr in ("project_total", "project_fiscal", "project_other", "annual_total", "annual_fiscal",
                     "annual_carryover", "annual_other"):
            row[f"declared_{attr}"] = getattr(p.declared, attr)
        rows["projects"].append(row)
        if p.kind == SELF_EVALUATION:
            for name, line in p.funds.items():
                funds.append({"project_id": pid, "file": p.source_file, "sheet": p.source_sheet, "name": p.name,
                              "row": name, "initial": line.initial, "budget": line.budget, "executed": line.executed,
                              "rate": line.rate,
                              **{f"cell_{a}": p.cells.get(f"funds.{name}.{a}", "")
                                 for a in ("initial", "budget", "executed", "rate")}})
        for i, ind in enumerate(p.indicators):
            indicators.append({"project_id": pid, "file": p.source_file, "sheet": p.source_sheet, "name": p.name,
                               "index": i, "level1": ind.level1, "level2": ind.level2, "level3": ind.level3,
                               "target": ind.target, "weight": ind.weight, "actual": ind.actual, "score": ind.score,
                               "note": ind.note,
                               **{f"cell_{a}": p.cells.get(f"indicators.{i}.{a}", "")
                                  for a in ("target", "actual", "weight", "score")}})
    rows["problems"] = [{"severity": str(q.severity), "file": q.file, "sheet": q.sheet, "cell": q.cell,
                         "message_zh": q.message_zh, "found": q.found, "expected": q.expected} for q in problems]
    return rows


# ====================================================================== export helper

#: What a spreadsheet skips or folds before it decides a CSV field is a formula: white space,
#: BOM, zero-width and bidi characters, and full-width forms (＝, ＋, －, ＠ fold to =, +, -, @).
_CSV_INVISIBLE = re.compile("^[\\s\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\x00-\x1f]*")


def _csv_safe(v):
    """Text that a spreadsheet would take for a formula gets a leading apostrophe (CSV export):
    OWASP's rule (a field starting with = + - @ TAB CR) applied to the text as a spreadsheet
    sees it — after NFKC and without leading invisible characters (``＝1+1``, ``\\ufeff=1+1``)."""
    if not isinstance(v, str) or not v:
        return v
    if v[0] in "=+-@\t\r\n":
        return "'" + v
    head = unicodedata.normalize("NFKC", _CSV_INVISIBLE.sub("", v[:64]))
    if head[:1] in ("=", "+", "-", "@"):
        return "'" + v
    return v
