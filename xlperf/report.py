"""Harvest reports: 汇总.xlsx (XlsxWriter, native charts) and one self-contained HTML file.

Both are built from the same rows (:func:`report_tables`) so they never disagree.

Safety rules, because every text in them was typed by someone else:

* 汇总.xlsx is written with ``strings_to_formulas=False``, ``strings_to_urls=False`` and
  ``strings_to_numbers=False``, and every harvested text goes through ``write_string``:
  ``=HYPERLINK(…)``, ``=cmd|' /C calc'!A0``, ``+1+1`` or ``@SUM(…)`` in a source cell stay
  text. The only hyperlinks are the ones built here (``external:`` to the source file
  and cell, ``internal:`` to the project row), and only when the path cannot be
  misread as a link anchor.
* The HTML is rendered by jinja2 with autoescape on, carries its CSS and SVG charts
  inline and references nothing outside itself (a Content-Security-Policy forbids
  it too): it opens on a government LAN with no internet.
* Outputs are written atomically (temporary file in the same folder, then
  ``os.replace``) and an existing output is never replaced without ``force``.
"""
from __future__ import annotations

import bisect
import contextlib
import datetime as _dt
import io
import itertools
import logging
import marshal
import os
import re
import tempfile
import time
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from . import marker, scoring
from . import profiles as _profiles
from .safezip import Limits
from .errors import XlperfError
from .template import atomic_file, atomic_write, put_in_place
from .progress import Progress, elapsed
from .model import DECLARATION, DEFAULT_PROFILE, TO_YUAN, DeclaredFunds, FundsLine, Indicator, Project
from .validate import (ERROR, NOTE, SEVERITIES, SEVERITY_RANK, WARNING, CheckRun, Finding, ProjectCheck,
                       add_declarations, attach_checks, check_harvest, check_projects, finding_check,
                       severity_text)

log = logging.getLogger(__name__)
ASSETS = Path(__file__).parent / "assets"
GRADES = ("优", "良", "中", "差")
MAX_CELL = 32767          # Excel's limit on the characters of one cell
CHECK_NAMES = {
    "rate": "执行率", "funds_score": "预算执行率得分", "funds_over": "得分超过分值", "score_over": "得分超过分值",
    "weights": "分值合计", "total": "总分", "grade": "评分等级", "band": "定性评分区间",
    "reason": "偏差原因", "departure": "人工评分", "unit": "计量单位", "declared": "与申报表一致",
    "declared_missing": "与申报表一致", "declared_funds": "与申报表一致", "missing": "空白",
    "unreadable": "无法识别", "engine": "计分规则", "decl_sum": "资金合计", "decl_dates": "计划日期",
    "decl_year": "计划日期", "overspent": "超预算支出",
}


class OutputExists(XlperfError):
    """The output file exists and ``force`` was not given."""


_BACKUP_LIMITS = Limits(max_file_bytes=2**31)


# ------------------------------------------------------------------ the rows

def _as_run(obj) -> CheckRun:
    """Accept a CheckRun, a harvest result, :func:`xlperf.harvest.to_frames` frames,
    ProjectChecks or Projects; anything not yet checked is checked here."""
    if isinstance(obj, CheckRun):
        return obj
    if isinstance(obj, dict) and "projects" in obj:
        return _run_from_frames(obj)
    if isinstance(obj, (list, tuple)):
        items = list(obj)
        if all(isinstance(x, ProjectCheck) for x in items):
            files = sorted({c.project.source_file for c in items if c.project.source_file})
            return CheckRun(items, [], files, 0.0)
        if all(isinstance(x, Project) for x in items):
            checks = check_projects(items, [p for p in items if p.kind == DECLARATION])
            files = sorted({p.source_file for p in items if p.source_file})
            return CheckRun(checks, [], files, 0.0)
        raise TypeError("report: a list must hold Project or ProjectCheck objects")
    if hasattr(obj, "projects"):
        return check_harvest(obj, [p for p in obj.projects if p.kind == DECLARATION])
    raise TypeError(f"report: cannot make a report from {type(obj).__name__}")


def _cell_value(v):
    """A frame cell as the model holds it: NaN/NaT/None → None."""
    if v is None:
        return None
    try:
        if v != v:  # NaN
            return None
    except (TypeError, ValueError):
        pass
    return v


def _run_from_frames(frames: dict) -> CheckRun:
    """Rebuild the projects from :func:`xlperf.harvest.to_frames` and check them."""
    def records(name):
        df = frames.get(name)
        if df is None:
            return []
        rows = df.to_dict("records") if hasattr(df, "to_dict") else list(df)
        return [{k: _cell_value(v) for k, v in r.items()} for r in rows]

    projects: dict = {}
    for r in records("projects"):
        p = Project(kind=r.get("kind") or "自评表", year=int(r["year"]) if r.get("year") else 0,
                    name=r.get("name") or "")
        for attr in ("department", "unit", "key", "money_unit", "profile", "nature", "category", "start", "end",
                     "total_goal", "annual_goal", "actual_result", "grade"):
            if r.get(attr) is not None:
                setattr(p, attr, str(r[attr]))
        for attr in ("funds_weight", "funds_rate", "funds_score", "total_score"):
            setattr(p, attr, r.get(attr))
        p.declared = DeclaredFunds(**{a: r.get(f"declared_{a}") for a in (
            "project_total", "project_fiscal", "project_other", "annual_total", "annual_fiscal",
            "annual_carryover", "annual_other")})
        p.source_file, p.source_sheet = r.get("file") or "", r.get("sheet") or ""
        p.funds = {}
        projects[r["project_id"]] = p
    for r in records("funds"):
        p = projects.get(r["project_id"])
        if p is not None:
            p.funds[r["row"]] = FundsLine(r.get("initial"), r.get("budget"), r.get("executed"), r.get("rate"))
            for a in ("initial", "budget", "executed", "rate"):
                if r.get(f"cell_{a}"):
                    p.cells[f"funds.{r['row']}.{a}"] = r[f"cell_{a}"]
    for r in sorted(records("indicators"), key=lambda r: (r["project_id"], r["index"])):
        p = projects.get(r["project_id"])
        if p is None:
            continue
        i = len(p.indicators)
        p.indicators.append(Indicator(r.get("level1") or "", r.get("level2") or "", r.get("level3") or "",
                                      r.get("target") or "", r.get("weight"), r.get("actual"), r.get("score"),
                                      r.get("note") or ""))
        for a in ("target", "actual", "weight", "score"):
            if r.get(f"cell_{a}"):
                p.cells[f"indicators.{i}.{a}"] = r[f"cell_{a}"]
    for p in projects.values():
        if not p.funds:
            p.funds = {row: FundsLine() for row in ("年度资金总额", "当年财政拨款", "上年结转资金", "其他资金")}
    problems = [Finding(r.get("severity") or NOTE, r.get("file") or "", r.get("sheet") or "", r.get("cell") or "",
                        r.get("message_zh") or "", r.get("found") or "", r.get("expected") or "")
                for r in records("problems")]
    items = list(projects.values())
    checks = check_projects(items, [p for p in items if p.kind == DECLARATION])
    files = sorted({p.source_file for p in items if p.source_file} | {f.file for f in problems if f.file})
    return CheckRun(checks, problems, files, 0.0)


def _yuan(amount: Decimal | None, unit: str) -> Decimal | None:
    if amount is None:
        return None
    factor = TO_YUAN.get(unit or "元")
    return None if factor is None else amount * factor


def _main_line(p: Project):
    return p.funds.get("年度资金总额")


@dataclass
class ProjectRow:
    n: int                      # 1-based position: anchors and row links
    check: ProjectCheck
    budget: Decimal | None
    executed: Decimal | None
    budget_yuan: Decimal | None
    executed_yuan: Decimal | None
    rate: Decimal | None
    rate_source: str            # 表上 | 核算
    total: Decimal | None
    grade: str
    grade_source: str           # 表上 | 按总分
    counts: dict
    findings: list              # the checks' findings, then the reader's problems on this form

    @property
    def project(self) -> Project:
        return self.check.project

    @property
    def is_declaration(self) -> bool:
        return self.project.kind == DECLARATION

    @property
    def anchor(self) -> str:
        return f"{'d' if self.is_declaration else 'p'}{self.n}"

    @property
    def sheet(self) -> str:
        """The 汇总.xlsx sheet that lists this project (one row each, row n + 1)."""
        return "申报汇总" if self.is_declaration else "项目汇总"


def _attach(run: CheckRun) -> tuple[dict[int, list], list]:
    """Give each reading problem of the harvester to the project it concerns: the only
    project on its sheet, else the only project in its file. Returns (by check index,
    problems that belong to no single project)."""
    return _attach_to(run.checks, run.problems)


def _attach_to(checks, problems) -> tuple[dict[int, list], list]:
    """:func:`_attach` for ``problems`` among ``checks``."""
    by_sheet: dict[tuple, list[int]] = {}
    by_file: dict[str, list[int]] = {}
    for i, c in enumerate(checks):
        by_sheet.setdefault((c.project.source_file, c.project.source_sheet), []).append(i)
        by_file.setdefault(c.project.source_file, []).append(i)
    attached: dict[int, list] = {}
    loose = []
    for f in problems:
        owners = by_sheet.get((f.file, f.sheet)) or by_file.get(f.file) or []
        if len(owners) == 1:
            attached.setdefault(owners[0], []).append(f)
        else:
            loose.append(f)
    return attached, loose


def _sorted(findings: list) -> list:
    return sorted(findings, key=lambda f: SEVERITY_RANK.get(severity_text(f.severity), 9))


def project_rows(run: CheckRun) -> list[ProjectRow]:
    """One row per project checked, numbered within its kind (自评表 1…, 申报表 1…). A
    申报表's budget is its 年度资金申请总额; it has no execution, rate, total or grade."""
    attached, _loose = _attach(run)
    numbers: Counter = Counter()
    return [project_row(c, numbers, attached.get(i, [])) for i, c in enumerate(run.checks)]


def project_row(c: ProjectCheck, numbers: Counter, attached=()) -> ProjectRow:
    """The row of one checked project; ``numbers``: the projects numbered so far, per kind
    (counted up here); ``attached``: the reading problems that concern it."""
    p = c.project
    numbers[p.kind == DECLARATION] += 1
    n = numbers[p.kind == DECLARATION]
    findings = _sorted(list(c.findings) + list(attached))
    counts = Counter(severity_text(f.severity) for f in findings)
    counts = {s: counts.get(s, 0) for s in SEVERITIES}
    if p.kind == DECLARATION:
        annual = p.declared.annual_total
        return ProjectRow(n, c, annual, None, _yuan(annual, p.money_unit), None, None, "", None, "", "",
                          counts, findings)
    line = _main_line(p)
    budget = line.budget if line else None
    executed = line.executed if line else None
    rate, rsrc = p.funds_rate, "表上"
    if rate is None and c.score is not None:
        rate, rsrc = c.score.rates.get("年度资金总额"), "核算"
    total = p.total_score
    if total is None and c.score is not None:
        total = c.score.total
    grade, gsrc = (p.grade or "").strip(), "表上"
    if not grade and total is not None:
        grade, gsrc = scoring.grade(total, c.profile), "按总分"
    return ProjectRow(n, c, budget, executed, _yuan(budget, p.money_unit),
                      _yuan(executed, p.money_unit), rate, rsrc if rate is not None else "",
                      total, grade, gsrc if grade else "", counts, findings)


def unit_rates(rows: list[ProjectRow]) -> list[dict]:
    """Per 实施单位: budget and spending in 元 and the rate the engine computes from them
    (Shanghai rounding: truncated to 2 decimals)."""
    acc: OrderedDict[str, list[Decimal]] = OrderedDict()
    for r in rows:
        if r.budget_yuan is None or r.executed_yuan is None:
            continue
        a = acc.setdefault(r.project.unit or "（未填单位）", [Decimal(0), Decimal(0), 0])
        a[0] += r.budget_yuan
        a[1] += r.executed_yuan
        a[2] += 1
    out = []
    for unit, (b, e, n) in acc.items():
        try:
            rate = scoring.execution_rate(b, e, DEFAULT_PROFILE)
        except XlperfError:
            rate = None
        out.append({"unit": unit, "budget": b, "executed": e, "rate": rate, "projects": n})
    return out


def grade_counts(rows: list[ProjectRow]) -> dict[str, int]:
    counts = Counter(r.grade for r in rows if r.grade)
    return {g: counts.get(g, 0) for g in GRADES}


def _check_name(f) -> str:
    check = finding_check(f)
    return CHECK_NAMES.get(check, check) if check else "读取"


# ------------------------------------------------------------------ atomic output

def _is_own(path: Path) -> bool:
    """Whether ``path`` is a 汇总.xlsx / report this user's xlperf wrote there, unchanged
    since (:mod:`xlperf.marker`)."""
    if path.suffix.lower() in (".html", ".htm"):
        return marker.verify_html_file(path)
    return marker.verify_xlsx_file(path)


def _prepare(path: Path, force: bool) -> Path:
    """Check that ``path`` may be written: absent, ``force``, or our own earlier output
    (recognised by its mark; it is kept as ``<name>.bak`` when replaced). A foreign file
    is never replaced without ``force``."""
    path = Path(path)
    if os.path.isdir(path):
        raise XlperfError(f"输出路径「{path}」是一个文件夹。")
    if os.path.lexists(path) and not force and not _is_own(path):
        raise OutputExists(f"输出文件「{path}」已存在，且不是 xlperf 在此处生成的文件；如要覆盖，请加 --force。")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, force: bool, data: bytes) -> Path:
    """Write ``data`` atomically (:func:`_atomic_file`), never over an existing foreign file
    without ``force``; our own earlier output is kept as ``.bak``. A link or FIFO planted at
    ``path`` is replaced, never followed or opened."""
    with _atomic_file(path, force) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


# ------------------------------------------------------------------ 汇总.xlsx

def _f(d: Decimal | None):
    return None if d is None else float(d)


_LINK_UNSAFE = re.compile(r"[#%\x00-\x1f\x7f\"<>|?*]")


@lru_cache(maxsize=1 << 10)
def _dir_relpath(folder: str, base) -> str | None:
    try:
        return os.path.relpath(folder, base)
    except ValueError:  # another drive on Windows
        return None


def _relpath(path: str, base) -> str:
    """:func:`os.path.relpath` of a file, its folder's part computed once per folder (every
    project row and finding links its source file)."""
    folder, name = os.path.split(path)
    rel = _dir_relpath(folder, base)
    if rel is None:
        raise ValueError(f"{path} is not on the drive of {base}")
    return name if rel == os.curdir else os.path.join(rel, name)


def _external_link(source_file: str, sheet: str, cell: str, out_dir: Path) -> str | None:
    """An ``external:`` link to the source cell, relative to the summary's folder, or
    None when the path could be misread (``#`` starts the anchor, ``%xx`` turns off
    escaping) or is too long for Excel."""
    if not source_file or not os.path.isfile(source_file):
        return None  # only files that were read; never a link made of harvested text
    try:
        rel = _relpath(os.path.abspath(source_file), os.path.abspath(out_dir))
    except ValueError:  # another drive on Windows
        rel = os.path.abspath(source_file)
    if _LINK_UNSAFE.search(rel) or (":" in rel and not re.match(r"^[A-Za-z]:[\\/]", rel)) \
            or ":" in rel[2:]:
        return None
    url = "external:" + rel.replace("\\", "/")
    if sheet and cell and re.fullmatch(r"\$?[A-Z]{1,3}\$?\d{1,7}", cell) and not _LINK_UNSAFE.search(sheet) \
            and "]" not in sheet and "[" not in sheet:
        url += "#'" + sheet.replace("'", "''") + "'!" + cell.replace("$", "")
    return url if len(url) < 2000 else None


def _clip(text) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= MAX_CELL else s[: MAX_CELL - 1] + "…"


def write_summary_xlsx(harvest_or_frames, path, force: bool = False, progress: bool | None = None) -> Path:
    """Write 汇总.xlsx: 项目汇总, 申报汇总, 指标明细, 检查结果 and a 图表 sheet with native charts
    (streamed to disk row by row, sealed as it is written; ``progress``: a bar on stderr,
    default on a terminal)."""
    run = _as_run(harvest_or_frames)
    path = Path(path)
    _prepare(path, force)                 # refuse before the work, not after it
    rows = project_rows(run)
    summary = SummaryXlsx(path, force, progress, total=len(rows))
    try:
        for r in rows:
            summary.add(r)
        for f in _attach(run)[1]:
            summary.add_loose(f)
        summary.close()
    finally:
        summary.discard()
    return path


@contextlib.contextmanager
def _atomic_file(path: Path, force: bool, seal=None):
    """:func:`xlperf.template.atomic_file` for an output that may replace only our own earlier
    output (:func:`_prepare`), kept as ``.bak``. ``seal(tmp)``: called on the finished file
    before it is put in place (HTML: fill in our mark)."""
    path = _prepare(path, force)

    def finish(tmp):
        if seal is not None:      # our mark (xlperf.marker), over the finished content
            seal(tmp)
        if not force and os.path.lexists(path):   # our own earlier output (checked): keep a backup
            from .safezip import read_source
            atomic_write(path.with_name(path.name + ".bak"), read_source(path, _BACKUP_LIMITS))

    with atomic_file(path, finish) as tmp:
        yield tmp


#: The tables of 汇总.xlsx: (header, width, kind); kind int/money/two are numbers, sev a
#: severity (coloured), text/wrap text.
PROJECT_COLUMNS = [
    ("序号", 6, "int"), ("实施单位", 26, "text"), ("项目名称", 36, "text"), ("年度", 7, "int"),
    ("金额单位", 8, "text"), ("全年预算数", 14, "money"), ("全年执行数", 14, "money"),
    ("全年预算数（元）", 16, "money"), ("全年执行数（元）", 16, "money"),
    ("执行率(%)", 10, "two"), ("总分", 9, "two"), ("评分等级", 8, "text"), ("等级来源", 8, "text"),
    ("问题数", 8, "int"), ("错误", 6, "int"), ("警告", 6, "int"), ("提示", 6, "int"),
    ("评分规则", 10, "text"), ("规则推断", 50, "text"), ("主管部门", 24, "text"),
    ("文件", 40, "text"), ("工作表", 12, "text")]
DECLARATION_COLUMNS = [
    ("序号", 6, "int"), ("实施单位", 26, "text"), ("项目名称", 36, "text"), ("年度", 7, "int"),
    ("项目性质", 10, "text"), ("项目类别", 12, "text"), ("计划开始日期", 12, "text"),
    ("计划完成日期", 12, "text"), ("金额单位", 8, "text"), ("项目资金总额", 14, "money"),
    ("其中：财政资金", 14, "money"), ("其他资金", 12, "money"), ("年度资金申请总额", 14, "money"),
    ("其中：当年财政拨款", 14, "money"), ("上年结转资金", 12, "money"), ("其他资金（年度）", 12, "money"),
    ("年度资金申请总额（元）", 16, "money"), ("指标数", 7, "int"), ("问题数", 8, "int"),
    ("错误", 6, "int"), ("警告", 6, "int"), ("提示", 6, "int"), ("主管部门", 24, "text"),
    ("文件", 40, "text"), ("工作表", 12, "text")]
INDICATOR_COLUMNS = [
    ("序号", 6, "int"), ("表别", 7, "text"), ("实施单位", 22, "text"), ("项目名称", 30, "text"),
    ("一级指标", 10, "text"), ("二级指标", 14, "text"), ("三级指标", 28, "text"), ("年度指标值", 16, "text"),
    ("实际完成值", 16, "text"), ("分值", 7, "two"), ("得分", 7, "two"), ("规则得分", 9, "two"),
    ("是否达成", 8, "text"), ("计分方法", 30, "text"), ("偏差原因分析及改进措施", 40, "wrap"),
    ("文件", 30, "text"), ("单元格", 8, "text")]
FINDING_COLUMNS = [
    ("严重程度", 8, "sev"), ("实施单位", 22, "text"), ("项目名称", 30, "text"), ("检查项", 12, "text"),
    ("问题说明", 60, "wrap"), ("表上值", 14, "text"), ("应为", 14, "text"), ("文件", 36, "text"),
    ("工作表", 12, "text"), ("单元格", 8, "text"), ("定位", 14, "text")]
#: The columns that fit the printed page's width (the rest print on pages across).
_PRINT_COLUMNS = {"项目汇总": 17, "申报汇总": 22, "指标明细": 15, "检查结果": 7}
_MAX_LINKS = 65530          # Excel's limit of hyperlinks per worksheet (XlsxWriter skips the rest)


class Totals:
    """What the charts, the title and the report's header need of all projects, kept as
    small aggregates while the projects pass: grade counts, budget and spending per unit."""

    def __init__(self):
        self.grades: Counter = Counter()
        self.units: OrderedDict[str, list] = OrderedDict()
        self.kinds: set[bool] = set()
        self.selfevals = self.declarations = 0
        self.budget, self.executed = Decimal(0), Decimal(0)     # in 元, over the 自评表

    def add(self, r: "ProjectRow") -> None:
        self.kinds.add(r.is_declaration)
        if r.is_declaration:
            self.declarations += 1
            return
        self.selfevals += 1
        if r.budget_yuan is not None:
            self.budget += r.budget_yuan
        if r.executed_yuan is not None:
            self.executed += r.executed_yuan
        if r.grade:
            self.grades[r.grade] += 1
        if r.budget_yuan is not None and r.executed_yuan is not None:
            a = self.units.setdefault(r.project.unit or "（未填单位）", [Decimal(0), Decimal(0), 0])
            a[0] += r.budget_yuan
            a[1] += r.executed_yuan
            a[2] += 1

    def grade_counts(self) -> dict[str, int]:
        return {g: self.grades.get(g, 0) for g in GRADES}

    def unit_rates(self) -> list[dict]:
        out = []
        for unit, (b, e, n) in self.units.items():
            try:
                rate = scoring.execution_rate(b, e, DEFAULT_PROFILE)
            except XlperfError:
                rate = None
            out.append({"unit": unit, "budget": b, "executed": e, "rate": rate, "projects": n})
        return out

    def title(self) -> str:
        if self.kinds == {True}:
            return "项目支出绩效目标申报汇总"
        if self.kinds == {True, False}:
            return "项目支出绩效目标申报与自评汇总"
        return "项目支出绩效自评汇总"


def _escape_attr(v: str) -> str:
    return (str(v).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "&#xA;"))


_PCT_ESCAPED = re.compile("%[0-9a-fA-F]{2}")


def _escape_url(url: str) -> str:
    """As XlsxWriter escapes a link target (a path already %-escaped is left alone)."""
    if _PCT_ESCAPED.search(url):
        return url
    for a, b in (("%", "%25"), ('"', "%22"), (" ", "%20"), ("<", "%3c"), (">", "%3e"), ("[", "%5b"),
                 ("]", "%5d"), ("^", "%5e"), ("`", "%60"), ("{", "%7b"), ("}", "%7d")):
        url = url.replace(a, b)
    return url


def _external_target(url: str) -> tuple[str, str]:
    """(relationship target, location) of an ``external:`` link, as XlsxWriter makes them."""
    path = url[len("external:"):].replace("/", "\\")
    relative = not path.startswith("\\\\") and not (path[:1].isalpha() and path[1:2] == ":")
    link = path if relative else "file:///" + path
    anchor = ""
    if "#" in link:
        link, anchor = link.split("#", 1)
    if link.startswith(".\\"):
        link = link[2:]
    return _escape_url(link).replace("#", "%23"), anchor


@lru_cache(maxsize=1 << 12)
def _inline(value) -> str:
    """A text cell's ``<is>`` content (cached: unit, project and file repeat on every row)."""
    return _inline_text(_clip(value))


def _inline_text(text: str) -> str:
    from .xlsxstream import inline_text
    return inline_text(text)


def _number_cell(ref: str, style: int, value: float) -> str:
    if value - value == 0:     # finite (the common case: one f-string)
        return f'<c r="{ref}" s="{style}"><v>{value:.16G}</v></c>'
    from .xlsxstream import number_cell
    return number_cell(ref, style, value)


class _Sheet:
    """One table of 汇总.xlsx being streamed: its rows (spooled, deflated) and its links."""

    def __init__(self, name: str, columns, styles: dict):
        from .xlsxstream import SheetSpool, col_letter

        self.name, self.columns = name, columns
        self.spool = SheetSpool()
        self.count = 0
        self.links = tempfile.TemporaryFile(prefix="xlperf-")
        self.link_count = 0
        self.rels: list[str] = []
        self.rels_file = tempfile.TemporaryFile(prefix="xlperf-")
        self.n_rels = 0
        self.letters = [col_letter(j) for j in range(len(columns))]
        sev = styles["sev"]
        # (kind, style): n a number (XF index), v a text styled by its value (a function),
        # s a text (the cell's markup between the reference and the text)
        self.plan = [(("n", styles[kind]) if kind in ("int", "money", "two") else
                      ("v", lambda v, sev=sev, text=styles["text"]: sev.get(v, text)) if kind == "sev" else
                      ("s", f'" s="{styles["wrap" if kind == "wrap" else "text"]}" t="inlineStr"><is>'))
                     for _h, _w, kind in columns]
        self.link_style = styles["link"]

    def row(self, values, links=()) -> None:
        """Append a row: ``values`` in column order; ``links``: (column, url, text, tip) in
        column order, the cell showing ``text`` with the link style (as write_url)."""
        self.count += 1
        r = self.count + 1
        rs = str(r)
        over = self._links(r, links) if links else None
        letters, plan = self.letters, self.plan
        out = ['<row r="', rs, '">']
        add = out.append
        for j, value in enumerate(values):
            if over and j in over:
                add(f'<c r="{letters[j]}{rs}" s="{self.link_style}" t="inlineStr"><is>{_inline_text(over[j])}</is></c>')
                continue
            if value is None or value == "":
                continue
            kind, style = plan[j]
            if kind == "s":
                add(f'<c r="{letters[j]}{rs}{style}{_inline(value)}</is></c>')
            elif kind == "n":
                add(_number_cell(letters[j] + rs, style, float(value)))
            else:
                add(f'<c r="{letters[j]}{rs}" s="{style(value)}" t="inlineStr"><is>{_inline_text(str(value))}</is></c>')
        add("</row>")
        self.spool.add("".join(out), r)

    def _links(self, r: int, links) -> dict:
        over = {}
        for col, url, text, tip in links:
            if self.link_count >= _MAX_LINKS:
                break
            self.link_count += 1
            ref = f"{self.letters[col]}{r}"
            over[col] = text
            if url.startswith("internal:"):
                loc = url[len("internal:"):]
                self.links.write((f'<hyperlink ref="{ref}" location="{_escape_attr(loc)}"'
                                  + (f' tooltip="{_escape_attr(tip)}"' if tip else "")
                                  + f' display="{_escape_attr(text)}"/>').encode("utf-8"))
            else:
                target, anchor = _external_target(url)
                self.n_rels += 1
                rid = f"rId{self.n_rels}"
                self.links.write((f'<hyperlink ref="{ref}" r:id="{rid}"'
                                  + (f' location="{_escape_attr(anchor)}"' if anchor else "")
                                  + (f' tooltip="{_escape_attr(tip)}"' if tip else "") + "/>").encode("utf-8"))
                self.rels_file.write((f'<Relationship Id="{rid}" Type="http://schemas.openxmlformats.org/'
                                      f'officeDocument/2006/relationships/hyperlink" Target="{_escape_attr(target)}" '
                                      'TargetMode="External"/>').encode("utf-8"))
        return over

    def parts(self, skeleton: bytes) -> tuple[bytes, bytes, bytes | None]:
        """(head, tail, rels) of the finished sheet from its skeleton (header row only)."""
        from .xlsxstream import col_letter

        head, tail = skeleton.split(b"</sheetData>", 1)
        if self.count:
            dim = f'<dimension ref="A1:{col_letter(len(self.columns) - 1)}{self.count + 1}"/>'.encode()
            head = re.sub(rb'<dimension ref="[^"]*"/>', dim, head, count=1)
        if self.link_count:
            self.links.seek(0)
            links = b"<hyperlinks>" + self.links.read() + b"</hyperlinks>"
            at = tail.find(b"<printOptions")
            at = tail.find(b"<pageMargins") if at < 0 else at
            tail = tail[:at] + links + tail[at:]
        rels = None
        if self.n_rels:
            self.rels_file.seek(0)
            rels = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
                    b'openxmlformats.org/package/2006/relationships">' + self.rels_file.read() + b"</Relationships>")
        return head, b"</sheetData>" + tail, rels

    def close(self) -> None:
        self.spool.close()
        self.links.close()
        self.rels_file.close()


#: 指标明细's 是否达标 column: the engine's ``met``.
_MET = {True: "是", False: "否", None: "定性"}


class SummaryXlsx:
    """汇总.xlsx written as the projects come, in their order (:meth:`add`; problems that
    belong to no single project: :meth:`add_loose`), finished by :meth:`close`, which
    writes it atomically at ``path`` with our mark (:mod:`xlperf.marker`) and keeps our own
    earlier summary as ``.bak``. Per project, only its rows are written and a few numbers
    kept (:class:`Totals`); the 检查结果 rows wait in temporary files, by severity."""

    def __init__(self, path, force: bool = False, progress: bool | None = None, total: int | None = None):
        import xlsxwriter

        self.path, self.force, self.progress = Path(path), force, progress
        self.out_dir = self.path.parent
        self.totals = Totals()
        self.bar = Progress(total, progress, "写出汇总表", delay=1.0)
        self._buf = io.BytesIO()
        # The skeleton: styles, sheet set-up and charts by XlsxWriter; the rows are ours.
        wb = self.wb = xlsxwriter.Workbook(self._buf, {"constant_memory": True, "strings_to_formulas": False,
                                                       "strings_to_urls": False, "strings_to_numbers": False,
                                                       "nan_inf_to_errors": True})
        f = self.formats = {
            "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                   "valign": "vcenter", "align": "center"}),
            "text": wb.add_format({"text_wrap": False, "valign": "top"}),
            "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
            "money": wb.add_format({"num_format": "#,##0.00", "valign": "top"}),
            "two": wb.add_format({"num_format": "0.00", "valign": "top"}),
            "int": wb.add_format({"num_format": "0", "valign": "top"}),
            "link": wb.add_format({"font_color": "#1F4E79", "underline": 1, "valign": "top"}),
            ERROR: wb.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"}),
            WARNING: wb.add_format({"font_color": "#9C5700", "bg_color": "#FFEB9C"}),
            NOTE: wb.add_format({"font_color": "#1F4E79", "bg_color": "#DDEBF7"}),
        }
        styles = {k: fmt._get_xf_index() for k, fmt in f.items()}    # fixed now: our rows use them
        styles["sev"] = {s: styles[s] for s in (ERROR, WARNING, NOTE)}
        self.sheets = {name: _Sheet(name, cols, styles) for name, cols in (
            ("项目汇总", PROJECT_COLUMNS), ("申报汇总", DECLARATION_COLUMNS), ("指标明细", INDICATOR_COLUMNS),
            ("检查结果", FINDING_COLUMNS))}
        self.worksheets = {}
        for name, sheet in self.sheets.items():
            ws = self.worksheets[name] = wb.add_worksheet(name)
            if name == "检查结果":
                ws.set_row(0, 20)
            for j, (h, width, _kind) in enumerate(sheet.columns):
                ws.write_string(0, j, h, f["head"])
                ws.set_column(j, j, width)
        # 检查结果 is ordered by severity, then project: its rows wait here, one file per
        # (severity rank, group) — group 0 自评表, 1 申报表, 2 problems of no single project.
        self._findings: dict[tuple[int, int], object] = {}
        self.closed = False

    # ---- rows

    def _link_to_source(self, p) -> list:
        url = _external_link(p.source_file, p.source_sheet, p.cells.get("name", "") or "A1", self.out_dir)
        return [(None, url, _clip(p.source_file), "打开原表")] if url else []

    def add(self, r: "ProjectRow") -> None:
        self.totals.add(r)
        p = r.project
        if r.is_declaration:
            d = p.declared
            sheet = self.sheets["申报汇总"]
            sheet.row([r.n, p.unit, p.name, p.year or None, p.nature, p.category, p.start, p.end, p.money_unit,
                       d.project_total, d.project_fiscal, d.project_other, d.annual_total, d.annual_fiscal,
                       d.annual_carryover, d.annual_other, r.budget_yuan, len(p.indicators), len(r.findings),
                       r.counts[ERROR], r.counts[WARNING], r.counts[NOTE], p.department,
                       p.source_file, p.source_sheet],
                      [(23, *link[1:]) for link in self._link_to_source(p)])
        else:
            self.sheets["项目汇总"].row(
                [r.n, p.unit, p.name, p.year or None, p.money_unit, r.budget, r.executed,
                 r.budget_yuan, r.executed_yuan, r.rate, r.total, r.grade, r.grade_source,
                 len(r.findings), r.counts[ERROR], r.counts[WARNING], r.counts[NOTE],
                 r.check.profile, r.check.profile_explanation, p.department,
                 p.source_file, p.source_sheet],
                [(20, *link[1:]) for link in self._link_to_source(p)])
        ind_sheet = self.sheets["指标明细"]
        results = r.check.score.indicators if r.check.score else [None] * len(p.indicators)
        n, kind, unit, name, source, cells = r.n, p.kind, p.unit, p.name, p.source_file, p.cells
        cell_of = "target" if r.is_declaration else "score"
        for i, ind in enumerate(p.indicators):
            res = results[i] if i < len(results) else None
            actual = ind.actual
            ind_sheet.row([n, kind, unit, name, ind.level1, ind.level2, ind.level3, ind.target,
                           "" if actual is None else format(actual, "f") if isinstance(actual, Decimal) else actual,
                           ind.weight, ind.score if ind.override is None else ind.override,
                           res.proposal if res else None, "" if res is None else _MET[res.met],
                           res.rule if res else "", ind.note, source, cells.get(f"indicators.{i}.{cell_of}", "")])
        for f in r.findings:
            self._finding(f, r)
        self.bar.update(1)

    def add_loose(self, f) -> None:
        """A problem that belongs to no single project (after every project)."""
        self._finding(f, None)

    def _finding(self, f, r) -> None:
        rank = SEVERITY_RANK.get(severity_text(f.severity), 9)
        group = 2 if r is None else int(r.is_declaration)
        spool = self._findings.get((rank, group))
        if spool is None:
            spool = self._findings[(rank, group)] = tempfile.TemporaryFile(prefix="xlperf-")
        internal = None if r is None else [f"internal:'{r.sheet}'!C{r.n + 1}", _clip(r.project.name),
                                           f"转到{r.sheet}"]
        external = _external_link(f.file, f.sheet, f.cell, self.out_dir)
        rec = marshal.dumps((
            [severity_text(f.severity), r.project.unit if r else "", r.project.name if r else "", _check_name(f),
             f.message_zh, f.found, f.expected, f.file, f.sheet, f.cell, ""],
            internal, external, f.cell))
        spool.write(len(rec).to_bytes(4, "little") + rec)

    def _finding_rows(self):
        for key in sorted(self._findings):
            fh = self._findings[key]
            fh.seek(0)
            while True:
                size = fh.read(4)
                if not size:
                    break
                yield marshal.loads(fh.read(int.from_bytes(size, "little")))

    # ---- the workbook

    def _setup(self, ws, columns, count: int, print_cols: int | None) -> None:
        """Printed on A4 landscape with the header on every page: the first ``print_cols``
        columns fitted to the page width, or, without it, every column on pages across with
        序号…项目名称 repeated."""
        ws.freeze_panes(1, 0)
        if count:
            ws.autofilter(0, 0, count, len(columns) - 1)
        ws.set_landscape()
        ws.set_paper(9)
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.repeat_rows(0)
        ws.set_footer("&C第 &P 页，共 &N 页")
        if print_cols:
            ws.print_area(0, 0, max(count, 1), print_cols - 1)
            ws.fit_to_pages(1, 0)
        else:
            ws.repeat_columns(0, min(3, len(columns)) - 1)

    def _charts(self) -> None:
        """图表: native charts on small data tables, each chart on its own printed page."""
        wb, head = self.wb, self.formats["head"]
        money, two = self.formats["money"], self.formats["two"]
        ws = wb.add_worksheet("图表")
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.set_footer("&C第 &P 页，共 &N 页")
        ws.set_column(0, 0, 30)
        ws.set_column(1, 3, 14)
        ws.write_string(0, 0, "评分等级", head)
        ws.write_string(0, 1, "项目数", head)
        gc = self.totals.grade_counts()
        for i, g in enumerate(GRADES, 1):
            ws.write_string(i, 0, g)
            ws.write_number(i, 1, gc[g])
        chart = wb.add_chart({"type": "column"})
        chart.add_series({"name": "项目数", "categories": ["图表", 1, 0, len(GRADES), 0],
                          "values": ["图表", 1, 1, len(GRADES), 1], "data_labels": {"value": True},
                          "fill": {"color": "#2E75B6"}})
        chart.set_title({"name": "评分等级分布"})
        chart.set_legend({"none": True})
        chart.set_y_axis({"name": "项目数", "major_gridlines": {"visible": True}})
        ws.insert_chart(0, 5, chart, {"x_scale": 1.2, "y_scale": 1.1})

        start = len(GRADES) + 3
        ws.write_string(start, 0, "实施单位", head)
        ws.write_string(start, 1, "全年预算数（元）", head)
        ws.write_string(start, 2, "全年执行数（元）", head)
        ws.write_string(start, 3, "执行率(%)", head)
        ur = self.totals.unit_rates()
        for i, u in enumerate(ur, start + 1):
            ws.write_string(i, 0, _clip(u["unit"]))
            ws.write_number(i, 1, float(u["budget"]), money)
            ws.write_number(i, 2, float(u["executed"]), money)
            if u["rate"] is not None:
                ws.write_number(i, 3, float(u["rate"]), two)
        if ur:
            chart = wb.add_chart({"type": "bar"})
            chart.add_series({"name": "执行率(%)", "categories": ["图表", start + 1, 0, start + len(ur), 0],
                              "values": ["图表", start + 1, 3, start + len(ur), 3],
                              "data_labels": {"value": True, "num_format": "0.00"},
                              "fill": {"color": "#548235"}})
            chart.set_title({"name": "各单位预算执行率"})
            chart.set_legend({"none": True})
            chart.set_x_axis({"name": "执行率(%)", "min": 0, "max": 100 if all(
                (u["rate"] or 0) <= 100 for u in ur) else None})
            chart.set_y_axis({"reverse": True, "crossing": "max"})
            chart.set_size({"width": 720, "height": max(240, 60 + 28 * len(ur))})
            second = start + 2 + len(ur) if len(ur) > 20 else 18
            ws.insert_chart(second, 5, chart)
            ws.set_h_pagebreaks([second])
        note = ("各单位执行率 = 该单位全年执行数合计 ÷ 全年预算数合计（均折合为元），按上海一体化系统的规则截尾取两位小数；"
                "万元表的金额按 1 万元 = 10000 元折算。")
        ws.write_string(start + len(ur) + 2, 0, note)

    def close(self, title: str | None = None) -> Path:
        """Finish the workbook and put it in place (atomically; our earlier one kept as .bak)."""
        import zipfile

        from .xlsxstream import ZipWriter

        bar = Progress(len(self.sheets) + 1, self.progress, "完成汇总表", delay=1.0)
        findings = self.sheets["检查结果"]
        for values, internal, external, cell in self._finding_rows():
            links = []
            if internal is not None:
                links.append((2, *internal))
            if external:
                links.append((10, external, f"打开 {cell}" if cell else "打开文件", "打开原表中的单元格"))
            findings.row(values, links)
        bar.update(1)
        for name, sheet in self.sheets.items():
            sheet.spool.finish()
            self._setup(self.worksheets[name], sheet.columns, sheet.count, _PRINT_COLUMNS[name])
        self._charts()
        self.wb.set_properties({"title": title or self.totals.title(), "comments": "由 xlperf 生成"})
        self.wb.close()
        with zipfile.ZipFile(io.BytesIO(self._buf.getvalue())) as z:
            parts = {i.filename: z.read(i) for i in z.infolist()}
        sheet_part = _sheet_parts(parts)
        parts = marker.with_custom_part(parts)
        with _atomic_file(self.path, self.force) as tmp, open(tmp, "wb") as fh:
            out = ZipWriter(fh)
            for name, body in parts.items():
                sheet = next((s for s, part in sheet_part.items() if part == name and s in self.sheets), None)
                if sheet is None:
                    out.write(name, body)
                    continue
                s = self.sheets[sheet]
                head, tail, rels = s.parts(body)
                out.write_sheet(name, head, s.spool, tail)
                bar.update(1)
                if rels is not None:
                    folder, base = name.rsplit("/", 1)
                    out.write(f"{folder}/_rels/{base}.rels", rels)
            out.write(marker.CUSTOM_PART, marker.custom_xml(marker.seal_digests(out.digests, self.path)))
            out.close()
        bar.close()
        self.bar.close()
        self.closed = True
        return self.path

    def discard(self) -> None:
        """Remove the temporary files (after :meth:`close`, or instead of it)."""
        for sheet in self.sheets.values():
            sheet.close()
        for fh in self._findings.values():
            fh.close()
        self._findings = {}
        if not self.closed:
            try:
                self.wb.close()
            except Exception:  # noqa: BLE001 - a half-built skeleton: nothing to keep
                pass
            self.closed = True


def _sheet_parts(parts: dict[str, bytes]) -> dict[str, str]:
    """Sheet name → its part (``xl/worksheets/sheetN.xml``), from workbook.xml and its rels."""
    rels = dict(re.findall(rb'<Relationship Id="([^"]+)"[^>]*?Target="([^"]+)"',
                           parts["xl/_rels/workbook.xml.rels"]))
    out = {}
    for name, rid in re.findall(rb'<sheet name="([^"]+)" sheetId="\d+" r:id="([^"]+)"', parts["xl/workbook.xml"]):
        target = rels[rid].decode()
        out[name.decode()] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


# ------------------------------------------------------------------ HTML

def _fmt(d: Decimal | None, places: int = 2) -> str:
    if d is None:
        return "—"
    q = Decimal(1).scaleb(-places)
    return f"{d.quantize(q):,}"


def _svg_grades(counts: dict[str, int]) -> dict:
    width, height, left, bottom, top = 420, 220, 40, 30, 20
    peak = max(counts.values()) if counts and max(counts.values()) > 0 else 1
    bar_w = (width - left - 20) / len(GRADES)
    bars = []
    colors = {"优": "#2E75B6", "良": "#5B9BD5", "中": "#F4B183", "差": "#C00000"}
    for i, g in enumerate(GRADES):
        h = (height - top - bottom) * counts.get(g, 0) / peak
        x = left + i * bar_w + bar_w * 0.15
        bars.append({"label": g, "value": counts.get(g, 0), "x": round(x, 1), "w": round(bar_w * 0.7, 1),
                     "y": round(height - bottom - h, 1), "h": round(h, 1), "color": colors[g],
                     "cx": round(x + bar_w * 0.35, 1)})
    return {"width": width, "height": height, "base": height - bottom, "left": left, "bars": bars}


def _svg_rates(units: list[dict]) -> dict:
    row_h, left, width = 26, 230, 640
    plot = width - left - 70
    peak = max([Decimal(100)] + [u["rate"] for u in units if u["rate"] is not None])
    bars = []
    for i, u in enumerate(units):
        rate = u["rate"] or Decimal(0)
        label = u["unit"]
        bars.append({"label": label if len(label) <= 16 else label[:15] + "…", "full": label,
                     "value": _fmt(u["rate"]), "y": 10 + i * row_h, "w": round(float(plot * rate / peak), 1),
                     "low": rate < 90})
    return {"width": width, "height": 20 + row_h * max(1, len(units)), "left": left, "bars": bars,
            "plot": plot, "x100": round(left + float(plot * 100 / peak), 1), "row_h": row_h}


_CSS = {ERROR: "err", WARNING: "warn", NOTE: "note"}


def _shown_path(path: str, base: Path | None) -> str:
    """A source path as the reader of the report needs it: relative to the report's folder."""
    if not path or base is None or not os.path.isabs(path):
        return path
    try:
        rel = _relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith(".." + os.sep + "..") else rel


def _finding_view(f, base: Path | None) -> dict:
    sev = severity_text(f.severity)
    return {"severity": sev, "cls": _CSS.get(sev, "note"), "check": _check_name(f), "message": f.message_zh,
            "found": f.found, "expected": f.expected, "cell": f.cell, "sheet": f.sheet,
            "file": _shown_path(f.file, base)}


def report_title(run: CheckRun) -> str:
    """The title says what the folder held: 自评表, 申报表 or both."""
    kinds = {c.project.kind == DECLARATION for c in run.checks}
    if kinds == {True}:
        return "项目支出绩效目标申报汇总"
    if kinds == {True, False}:
        return "项目支出绩效目标申报与自评汇总"
    return "项目支出绩效自评汇总"


def rule_sentence(profile: str) -> str:
    """The rounding profile as an admin reads it: 按「上海预算一体化系统（截尾）」规则核算."""
    try:
        return f"按「{_profiles.get(profile).short}」规则核算"
    except XlperfError:
        return f"按「{profile}」规则核算"


def html_context(run: CheckRun, title: str | None = None, stats: dict | None = None,
                 base: Path | None = None, made=None) -> dict:
    """Everything the template shows; ``base``: the report's folder (paths are shown
    relative to it); ``made``: called for each project view the template takes;
    ``title`` defaults to :func:`report_title`."""
    report = HtmlReport(base, made)
    for r in project_rows(run):
        report.add(r)
    for f in _attach(run)[1]:
        report.add_loose(f)
    return report.context(len(run.files), title, stats)


def _project_view(r: ProjectRow, base: Path | None) -> dict:
    p = r.project
    return {
        "anchor": r.anchor, "n": r.n, "unit": p.unit, "name": p.name, "year": p.year or "",
        "kind": p.kind, "is_declaration": r.is_declaration, "n_indicators": len(p.indicators),
        "project_total": _fmt(p.declared.project_total), "annual_total": _fmt(p.declared.annual_total),
        "nature": p.nature, "category": p.category,
        "money_unit": p.money_unit, "budget": _fmt(r.budget), "executed": _fmt(r.executed),
        "rate": _fmt(r.rate), "rate_source": r.rate_source, "total": _fmt(r.total), "grade": r.grade or "—",
        "grade_source": r.grade_source, "profile": r.check.profile,
        "rule": rule_sentence(r.check.profile),
        "profile_explanation": r.check.profile_explanation, "file": _shown_path(p.source_file, base),
        "sheet": p.source_sheet, "counts": r.counts,
        "worst": next((s for s in SEVERITIES if r.counts[s]), ""),
        "findings": [_finding_view(f, base) for f in r.findings],
    }


class _Spool:
    """Records (marshal) in a temporary file, read back by offset."""

    def __init__(self):
        self.file = tempfile.TemporaryFile(prefix="xlperf-")
        self.end = 0
        self._appending = True      # the file position is at the end (a seek would flush the buffer)

    def put(self, record) -> int:
        data = marshal.dumps(record)
        at = self.end
        if not self._appending:
            self.file.seek(at)
            self._appending = True
        self.file.write(len(data).to_bytes(4, "little") + data)
        self.end += 4 + len(data)
        return at

    def get(self, at: int):
        self._appending = False
        self.file.seek(at)
        return marshal.loads(self.file.read(int.from_bytes(self.file.read(4), "little")))

    def close(self) -> None:
        self.file.close()


class _SpooledViews:
    """Project views read back from the spool as the template iterates (each list is shown
    once); ``made``: called per view."""

    def __init__(self, spool: _Spool, offsets, made=None):
        self.spool, self.offsets, self.made = spool, offsets, made

    def __iter__(self):
        for at in self.offsets:
            if self.made:
                self.made()
            yield self.spool.get(at)

    def __len__(self) -> int:
        return len(self.offsets)


class HtmlReport:
    """The HTML report's content gathered as the projects come, in order (:meth:`add`;
    problems of no single project: :meth:`add_loose`): each project's view goes to a
    temporary file at once; kept are its place (per list and per 实施单位) and the totals
    of the header. :meth:`context` is what the template renders."""

    def __init__(self, base: Path | None = None, made=None):
        self.base, self.made = base, made
        self.spool = _Spool()
        self.selfevals = array("q")
        self.declarations = array("q")
        self.groups: dict[str, dict] = {}
        self.totals = Totals()
        self.counts: Counter = Counter()
        self.loose: dict[int, list[int]] = {}

    def add(self, r: ProjectRow) -> None:
        self.totals.add(r)
        self.counts.update(severity_text(f.severity) for f in r.findings)
        at = self.spool.put(_project_view(r, self.base))
        (self.declarations if r.is_declaration else self.selfevals).append(at)
        unit = r.project.unit or ""
        g = self.groups.get(unit or "（未填单位）")
        if g is None:
            g = self.groups[unit or "（未填单位）"] = {"members": {}, "counts": Counter(), "n_selfevals": 0,
                                                     "n_declarations": 0}
        # per unit text (""/"（未填单位）" share a group), 自评表 then 申报表, each in number order
        lists = g["members"].get(unit)
        if lists is None:
            lists = g["members"][unit] = (array("q"), array("q"))
        lists[r.is_declaration].append(at)
        g["counts"].update(r.counts)
        g["n_declarations" if r.is_declaration else "n_selfevals"] += 1

    def add_loose(self, f) -> None:
        self.counts[severity_text(f.severity)] += 1
        rank = SEVERITY_RANK.get(severity_text(f.severity), 9)
        self.loose.setdefault(rank, []).append(self.spool.put(_finding_view(f, self.base)))

    def context(self, n_files: int, title: str | None = None, stats: dict | None = None) -> dict:
        t = self.totals
        try:
            overall = scoring.execution_rate(t.budget, t.executed, DEFAULT_PROFILE) if t.budget else None
        except XlperfError:
            overall = None
        groups = []
        # 实施单位 in order of name, 自评表 before 申报表, each by its number
        for unit, g in sorted(self.groups.items(), key=lambda kv: min(kv[1]["members"])):
            members = [at for text in sorted(g["members"]) for kind in g["members"][text] for at in kind]
            groups.append({"unit": unit, "projects": _SpooledViews(self.spool, members, self.made),
                           "n_selfevals": g["n_selfevals"], "n_declarations": g["n_declarations"],
                           "counts": {s: g["counts"].get(s, 0) for s in SEVERITIES}})
        counts = {s: 0 for s in SEVERITIES}
        counts.update(self.counts)
        return {
            "title": title or t.title(),
            "generated": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "n_files": n_files, "n_projects": t.selfevals, "n_declarations": t.declarations,
            "n_units": len(self.groups),
            "budget": _fmt(t.budget), "executed": _fmt(t.executed), "rate": _fmt(overall),
            "counts": counts, "severities": SEVERITIES,
            "grades": _svg_grades(t.grade_counts()), "rates": _svg_rates(t.unit_rates()),
            "groups": groups, "projects": _SpooledViews(self.spool, self.selfevals, self.made),
            "declarations": _SpooledViews(self.spool, self.declarations, self.made),
            "problems": [self.spool.get(at) for rank in sorted(self.loose) for at in self.loose[rank]],
            "stats": {**(stats or {}), **({"worst_file": os.path.basename(str(stats["worst_file"]))}
                                           if stats and stats.get("worst_file") else {})},
        }

    def write(self, path: Path, force: bool, n_files: int, title: str | None = None,
              stats: dict | None = None) -> Path:
        """Render to ``path`` (atomically, sealed as written; our earlier one kept as .bak)."""
        context = self.context(n_files, title, stats)
        with _atomic_file(path, force) as tmp, open(tmp, "wb") as fh:
            sealer = marker.HtmlSealer(fh, path)       # hashed as written: the page is never read back
            buf, size = [], 0
            for chunk in _html_template().generate(**context):     # tens of thousands of bits
                buf.append(chunk)
                size += len(chunk)
                if size >= 1 << 16:
                    sealer.write("".join(buf))
                    buf, size = [], 0
            sealer.write("".join(buf))
            sealer.seal()
        return path

    def close(self) -> None:
        self.spool.close()


def _html_template():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ASSETS)),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2")


def render_html(run_or_harvest, title: str | None = None, stats: dict | None = None,
                base: Path | None = None) -> str:
    return _html_template().render(**html_context(_as_run(run_or_harvest), title, stats, base))


def write_html(harvest_or_frames, path, force: bool = False, title: str | None = None,
               stats: dict | None = None, progress: bool | None = None) -> Path:
    """Write the self-contained HTML report (no external reference of any kind), streamed
    to disk as the template renders (never the whole page in memory)."""
    path = Path(path)
    _prepare(path, force)
    run = _as_run(harvest_or_frames)
    bar = Progress(2 * len(run.checks), progress, "写出网页报告", delay=1.0)   # a table row and a section each
    report = HtmlReport(path.resolve().parent, made=bar.update)
    try:
        for r in project_rows(run):
            report.add(r)
        for f in _attach(run)[1]:
            report.add_loose(f)
        report.write(path, force, len(run.files), title, stats)
    finally:
        report.close()
    bar.close()
    return path


# ------------------------------------------------------------------ CLI

def _file_times(h) -> dict[str, float]:
    """Seconds spent reading each file of a harvest."""
    return {str(r.file): float(r.seconds) for r in getattr(h, "results", []) or []}


def _without(files: list[str], outputs: list[Path]) -> list[str]:
    """``files`` without ``outputs``: the same path, or the same file by another name (a link;
    as :func:`os.path.samefile`). The outputs are looked at once, each file at most once (a
    pair-wise samefile cost seconds of silence before a 20,000-file harvest)."""
    paths = {os.path.abspath(o) for o in outputs}
    ids = set()
    for o in outputs:
        try:
            st = os.stat(o)
        except (OSError, ValueError):
            continue
        ids.add((st.st_dev, st.st_ino))
    kept = []
    for f in files:
        if os.path.abspath(f) in paths:
            continue
        if ids:
            try:
                st = os.stat(f)
            except (OSError, ValueError):
                pass
            else:
                if (st.st_dev, st.st_ino) in ids:
                    continue
        kept.append(f)
    return kept


CSV_NAMES = ("projects", "funds", "indicators", "problems")


def _csv_targets(folder, force: bool) -> list[Path]:
    """The CSV files ``--csv`` writes, checked first: the folder must not be a link (a link
    planted there would send the files elsewhere), and an existing CSV is replaced only with
    ``force`` (they carry no mark of ours)."""
    folder = Path(folder)
    if os.path.islink(folder):
        raise XlperfError(f"CSV 输出文件夹「{folder}」是一个链接，为安全起见未写入；请指定一个普通文件夹。")
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise XlperfError(f"CSV 输出路径「{folder}」不是文件夹。")
    targets = [folder / f"{name}.csv" for name in CSV_NAMES]
    existing = [t for t in targets if os.path.lexists(t)]
    if existing and not force:
        raise OutputExists(f"CSV 文件「{existing[0]}」已存在；如要覆盖，请加 --force。")
    for t in targets:
        if os.path.isdir(t):
            raise XlperfError(f"输出路径「{t}」是一个文件夹。")
    return targets


def write_csvs(h, folder, force: bool = False, exclude=frozenset()) -> list[Path]:
    """projects/funds/indicators/problems.csv (UTF-8 with BOM, Chinese headers), every text
    field neutralised for spreadsheets (:func:`xlperf.harvest._csv_safe`), each written
    atomically: a link or FIFO planted at a target is replaced, never followed or opened."""
    out = CsvFiles(folder, force)
    try:
        out.add([p for r in h.results for p in r.projects if id(p) not in exclude], h.problems)
        return out.close()
    finally:
        out.discard()


def _csv_field(v) -> str:
    """A field as pandas' ``to_csv`` writes it (the CSVs were written with pandas): blank
    for None/NaN, else ``str``."""
    if v is None or (v.__class__ is float and v != v):
        return ""
    return v if v.__class__ is str else str(v)


class CsvFiles:
    """The four CSVs of ``--csv``, written row by row (:meth:`add`, file by file), put in
    place by :meth:`close`; see :func:`write_csvs`."""

    def __init__(self, folder, force: bool = False):
        import csv

        from . import harvest as _harvest

        self.targets = _csv_targets(folder, force)
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.tmps, self.files, self.writers = [], [], []
        self.safe = _harvest._csv_safe
        self.columns = _harvest.FRAME_COLUMNS
        self.next_id = 0
        for target, name in zip(self.targets, CSV_NAMES):
            fd, tmp = tempfile.mkstemp(prefix=".~xlperf-", suffix=".tmp", dir=target.parent)
            self.tmps.append(tmp)
            fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
            self.files.append(fh)
            w = csv.writer(fh, lineterminator=os.linesep)     # as pandas writes: minimal quoting
            fh.write("\ufeff")
            w.writerow([_harvest.FRAME_COLUMNS_ZH.get(c, c) for c in self.columns[name]])
            self.writers.append(w)

    def add(self, projects, problems) -> None:
        from . import harvest as _harvest

        records = _harvest.frame_records(projects, problems, self.next_id)
        self.next_id += len(records["projects"])
        safe = self.safe
        for name, w in zip(CSV_NAMES, self.writers):
            cols = self.columns[name]
            w.writerows([_csv_field(safe(rec[c])) for c in cols] for rec in records[name])

    def close(self) -> list[Path]:
        for fh, tmp, target in zip(self.files, self.tmps, self.targets):
            fh.close()
            put_in_place(tmp, target)
        self.tmps = []
        return self.targets

    def discard(self) -> None:
        for fh in self.files:
            fh.close()
        for tmp in self.tmps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        self.tmps = []


def _cmd_harvest(args) -> int:
    from . import harvest as _harvest

    started = time.perf_counter()

    out = Path(args.output)
    html = Path(args.html) if args.html else None
    outputs = [out] + ([html] if html else [])
    for target in outputs:
        _prepare(target, args.force)         # refuse a foreign file before the work
    if args.csv:
        _csv_targets(args.csv, args.force)
    # Our own outputs are never read back as forms (they may sit in the folder harvested).
    outside: list[str] = []
    files = _without(_harvest.collect_files(args.dirs, outside), outputs)
    if not files and not outside:
        raise XlperfError(f"在「{'、'.join(args.dirs)}」中没有找到 .xlsx / .xlsm / .xls 工作簿。")
    declarations = None
    if args.declarations:
        dbar = Progress(None, None, "读取申报表", delay=1.0)
        dh = _harvest.harvest([args.declarations], workers=args.workers, after=lambda r: dbar.update(1))
        dbar.close()
        declarations = [p for p in dh.projects if p.kind == DECLARATION]
    done = _harvest_streamed(args, files, outside, declarations)
    if done is None:
        done = _harvest_in_memory(args, files, outside, declarations)
    c, n_files, unread, n_self, n_decl, worst, phases = done
    kinds = f"自评表项目 {n_self} 个" + (f"、申报表项目 {n_decl} 个" if n_decl else "")
    print(f"读取文件 {n_files} 个（{unread} 个未能读取），{kinds}（用时 {elapsed(started):.2f} 秒：{phases}）。")
    print("检查结果：" + "，".join(f"{s} {c[s]} 条" for s in SEVERITIES) + "。")
    if worst:
        print(f"最慢的文件：{worst[0]}（{worst[1]:.2f} 秒）。")
    print(f"汇总表：{out}" + (f"；网页报告：{html}" if html else "") + (f"；CSV：{args.csv}" if args.csv else "") + "。")
    return 1 if c[ERROR] else 0


def _harvest_in_memory(args, files, outside, declarations):
    """The whole harvest in memory, then the outputs: when the projects of one file change
    another's rows (copies of a project, a 自评表 and its 申报表 in the same folder, a recalc
    copy next to its original)."""
    from . import harvest as _harvest

    t0 = time.perf_counter()
    bar = Progress(len(files), None, "读取并核对", delay=1.0)

    def after(result) -> None:
        attach_checks(result)
        bar.update(1)

    h = _harvest.harvest(files, workers=args.workers, after=after)
    bar.close()
    h.results += [_harvest.outside_result(p) for p in outside]      # links out of the folder: not read
    read_s = time.perf_counter() - t0
    if declarations is None:
        declarations = [p for p in h.projects if p.kind == DECLARATION]
    run = check_harvest(h, declarations)
    times = _file_times(h)
    stats = {"read_seconds": round(read_s, 2), "check_seconds": round(run.seconds, 2)}
    worst = None
    if times:
        name = max(times, key=times.get)
        worst = (name, times[name])
        stats.update(worst_file=name, worst_seconds=round(times[name], 3))
    t1 = time.perf_counter()
    write_summary_xlsx(run, args.output, force=args.force)
    if args.html:
        write_html(run, args.html, force=args.force, stats=stats)
    if args.csv:
        write_csvs(h, args.csv, force=args.force, exclude=run.dropped)
    written_s = time.perf_counter() - t1
    n_decl = sum(1 for c in run.checks if c.project.kind == DECLARATION)
    return (run.counts(), len(run.files), len(h.failed), len(run.checks) - n_decl, n_decl, worst,
            f"读取并核对 {read_s + run.seconds:.2f} 秒，写出汇总表和报告 {written_s:.2f} 秒")


class _Hashes:
    """A set of hashes (64-bit ints) kept in a sorted array, a few bytes each and no object
    per entry: a streamed harvest keeps some per file, and small objects kept among the
    many a file's reading frees would pin the allocator's pages."""

    def __init__(self):
        self.sorted = array("q")
        self.recent: set[int] = set()

    def __contains__(self, key: int) -> bool:
        if key in self.recent:
            return True
        i = bisect.bisect_left(self.sorted, key)
        return i < len(self.sorted) and self.sorted[i] == key

    def add(self, key: int) -> None:
        self.recent.add(key)
        if len(self.recent) >= 4096:
            self.sorted = array("q", sorted(itertools.chain(self.sorted, self.recent)))
            self.recent = set()


class _Crossing(Exception):
    """Projects of different files bear on each other's rows: the streamed harvest stops."""


def _harvest_streamed(args, files, outside, declarations):
    """Read, check and write each file's rows as it comes (in file order), keeping only the
    totals and a few hashes per project: memory does not grow with the number of files.

    Rows are numbered and problems attached file by file, which is what the whole-harvest
    rules give unless one file's projects change another's rows — a copy of a project (only
    one is counted), a 自评表 whose 申报表 is in the same harvest, a recalc copy next to its
    original, two files shown under one name. Those are spotted by hashes as the files
    pass; then this gives up (returns None, nothing written) and the harvest is done in
    memory."""
    from . import harvest as _harvest
    from .validate import check_file, declaration_matcher, identity, _decl_key

    t0 = time.perf_counter()
    out = Path(args.output)
    html = Path(args.html) if args.html else None
    workers = args.workers if args.workers is not None else _harvest.default_workers(len(files))
    summary = SummaryXlsx(out, args.force, False)
    report = HtmlReport(html.resolve().parent) if html else None
    csvs = CsvFiles(args.csv, args.force) if args.csv else None
    match = declaration_matcher(declarations) if declarations else None
    bar = Progress(len(files), None, "读取、核对并写出", delay=1.0)
    counts: Counter = Counter()
    numbers: Counter = Counter()
    seen = {k: _Hashes() for k in ("names", "projects", "sha", "recalc_of", "self_keys", "decl_keys")}
    n_files = unread = 0
    worst = None

    def once(kind: str, value) -> None:
        key = hash(value)
        if key in seen[kind]:
            raise _Crossing(kind)
        seen[kind].add(key)

    def crossing(res) -> None:
        """Raise _Crossing when this result bears on another file's rows (or they on it)."""
        once("names", res.file)
        if res.sha256:
            sha = hash(res.sha256)
            seen["sha"].add(sha)
            if sha in seen["recalc_of"]:
                raise _Crossing("recalc")
        if res.recalc_of and res.projects:
            if hash(res.recalc_of) in seen["sha"]:
                raise _Crossing("recalc")
            seen["recalc_of"].add(hash(res.recalc_of))
        for p in res.projects:
            if p.name:
                once("projects", (p.kind, p.year, identity(p.unit), identity(p.name)))
            if declarations is None:          # the 申报表 are those of this harvest
                mine, theirs = ("decl_keys", "self_keys") if p.kind == DECLARATION else ("self_keys", "decl_keys")
                keys = [hash(("k", p.key))] if p.key else []
                keys.append(hash(("n", _decl_key(p))))
                if any(k in seen[theirs] for k in keys):
                    raise _Crossing("declaration")
                for k in keys:
                    seen[mine].add(k)

    def emit(res) -> None:
        nonlocal n_files, unread, worst
        n_files += 1
        if not res.projects and not res.skipped:
            unread += 1
        if worst is None or res.seconds > worst[1]:
            worst = (str(res.file), float(res.seconds))
        if csvs is not None:
            csvs.add(res.projects, res.problems)
        checks = res.checks if res.checks is not None else check_file(res.projects)
        if match is not None:
            add_declarations(checks, match)
        mine = {id(f) for c in checks for f in c.findings}
        attached, loose = _attach_to(checks, [pr for pr in res.problems if id(pr) not in mine])
        for i, c in enumerate(checks):
            r = project_row(c, numbers, attached.get(i, []))
            counts.update(severity_text(f.severity) for f in r.findings)
            summary.add(r)
            if report is not None:
                report.add(r)
        for f in loose:
            counts[severity_text(f.severity)] += 1
            summary.add_loose(f)
            if report is not None:
                report.add_loose(f)

    def after(result) -> None:
        attach_checks(result)
        bar.update(1)

    results = _harvest.iter_results(files, workers, None, after)
    try:
        try:
            for res in results:
                crossing(res)
                emit(res)
                res.projects = res.checks = None      # nothing of a written file is kept
            for p in outside:
                emit(_harvest.outside_result(p))
        except _Crossing as why:
            log.info("harvest: %s across files; harvested in memory", why)
            results.close()
            bar.close()
            return None
        bar.close()
        read_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        summary.progress = None      # its rows went with the reading bar; finishing it has its own
        summary.close()
        stats = {"read_seconds": round(read_s, 2)}
        if worst:
            stats.update(worst_file=worst[0], worst_seconds=round(worst[1], 3))
        if report is not None:
            rbar = Progress(2 * (report.totals.selfevals + report.totals.declarations), None, "写出网页报告",
                            delay=1.0)
            report.made = rbar.update
            report.write(html, args.force, n_files, stats=stats)
            rbar.close()
        if csvs is not None:
            csvs.close()
    finally:
        summary.discard()
        if report is not None:
            report.close()
        if csvs is not None:
            csvs.discard()
    counts = {s: counts.get(s, 0) for s in SEVERITIES} | dict(counts)
    return (counts, n_files, unread, summary.totals.selfevals, summary.totals.declarations, worst,
            f"读取、核对并写出表行 {read_s:.2f} 秒，完成汇总表和报告 {time.perf_counter() - t1:.2f} 秒")


def register_cli(sub) -> None:
    p = sub.add_parser("harvest", help="汇总文件夹中的自评表和申报表：逐项核对，写出汇总.xlsx（含图表）和网页报告",
                       description="读取文件夹（含子文件夹）中的全部自评表和申报表（只读、安全），逐项核对，"
                                   "写出汇总.xlsx（项目汇总、申报汇总、指标明细、检查结果、图表）和可离线打开的网页报告；"
                                   "发现“错误”时退出码为 1。")
    p.add_argument("dirs", nargs="+", metavar="文件夹", help="自评表、申报表所在文件夹（或文件）")
    p.add_argument("-o", "--output", default="汇总.xlsx", help="汇总工作簿（默认 汇总.xlsx）")
    p.add_argument("--html", metavar="报告.html", help="同时写出网页报告（单个文件，可离线打开）")
    p.add_argument("--declarations", metavar="申报表文件夹", help="申报表所在文件夹：核对自评表的指标值是否与申报一致")
    p.add_argument("--force", action="store_true", help="覆盖已存在的输出文件")
    p.add_argument("--workers", type=int, default=None, metavar="进程数", help="并行读取的进程数（默认按 CPU 核数）")
    p.add_argument("--csv", metavar="文件夹", help="另把读到的原始数据写成 CSV（projects/funds/indicators/problems）")
    p.set_defaults(func=_cmd_harvest)
