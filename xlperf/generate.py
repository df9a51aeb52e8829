"""Filling the form templates: one project → one workbook (``xlperf fill``), and the
building blocks of bulk generation.

:func:`render` turns a :class:`~xlperf.model.Project` into the bytes of a workbook:
the named cells get the project's values, computed cells get formulas (portable or
udf, see :mod:`xlperf.formulas`) with the engine's results cached, input cells get
data validation with Chinese prompts. Nothing here scores: the numbers come from
:func:`xlperf.scoring.score_project`.
"""
from __future__ import annotations

import csv
import datetime
import functools
import gc
import hashlib
import io
import itertools
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from . import formulas as F
from . import profiles as _profiles
from .errors import XlperfError, os_error_text
from . import layout as _layout
from .layout import TEMPLATE_DIR, template_path
from .model import DECLARATION, DEFAULT_PROFILE, FUNDS_ROWS, SELF_EVALUATION, Project
from .progress import Progress, elapsed
from .notation import Judgement, Qualitative, Quantity, is_blank, judgement_of, parse_actual, parse_target
from .scoring import score_project
from .template import DEFLATE_LEVEL, FILE_MODE, CompiledTemplate, Formula, Layout, atomic_write, compile_template
from .winpaths import casefold_key, mp_context, safe_name, try_lock  # noqa: F401 - safe_name is part of this module's API

MODES = ("portable", "udf")


# xml.sax.saxutils's escape and quoteattr, the same text: importing it pulls urllib.request,
# http.client, ssl and email (~50 ms of every generate's start-up).
def escape(data: str) -> str:
    return data.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(data: str) -> str:
    data = escape(data).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in data:
        if "'" in data:
            return '"%s"' % data.replace('"', "&quot;")
        return "'%s'" % data
    return '"%s"' % data


class GenerateError(XlperfError):
    pass


class YearMissing(GenerateError):
    """A 申报表 whose title prints no year: the caller must give one (the ribbon asks)."""
    needs_year = True


class NotADeclaration(GenerateError):
    """A workbook met during roll-forward that is not a 申报表 (skipped, not an error)."""


@functools.lru_cache(maxsize=8)
def _compiled(path: str, mtime: float) -> CompiledTemplate:
    return compile_template(path)


def compiled(kind: str, template_dir: Path | None = None) -> CompiledTemplate:
    """The compiled template for a form kind (cached; recompiled when the file changes)."""
    path = template_path(kind, template_dir or TEMPLATE_DIR)
    if not path.is_file():
        raise GenerateError(f"找不到模板文件「{path}」。可用 xlperf templates 重新生成标准模板。")
    return _compiled(str(path), path.stat().st_mtime)


# ------------------------------------------------------------ layout helpers

class _CharWidths(dict):
    """Character → width in Excel column units, filled on first sight (bulk runs see few
    distinct characters, so a dict lookup replaces the unicodedata call)."""

    def __missing__(self, ch: str) -> float:
        width = self[ch] = 2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1
        return width


_CHAR_WIDTHS = _CharWidths()


def _text_width(text: str) -> float:
    """Approximate width in Excel column units (a CJK character is about two)."""
    return sum(map(_CHAR_WIDTHS.__getitem__, text))


def _lines(text, width: float) -> int:
    # Not memoised by text: the texts are the projects' own (a register that repeats its projects
    # would hit, a real one would not). A text no wider than the cell even if every character
    # were wide (2.0) is one line without measuring it, which is most of them.
    if text is None or text == "":
        return 1
    usable = max(width - 1.5, 2.0)
    text = str(text)
    if "\n" not in text:
        if len(text) * 2.0 <= usable:
            return 1
        return max(1, math.ceil(sum(map(_CHAR_WIDTHS.__getitem__, text)) / usable))
    return sum(max(1, math.ceil(_text_width(part) / usable)) for part in text.split("\n"))


@functools.lru_cache(maxsize=256)   # a line count and a minimum: a handful of pairs
def _height(lines: int, minimum: float, line_pt: float = 13.5) -> float:
    return max(minimum, round(lines * line_pt + 6, 1))


def _merged_width(t: CompiledTemplate, col: str, row: int) -> float:
    """Width of the merge that starts at col/row (or of the single column)."""
    from .template import col_index, col_letter
    for c1, r1, c2, r2 in t.merges:
        if c1 == col and r1 == row:
            return sum(t.widths.get(col_letter(i), 8.43) for i in range(col_index(c1), col_index(c2) + 1))
    return t.widths.get(col, 8.43)


#: Header fields whose text may be long (a project name of 60 characters in a 16-wide cell).
_HEADER_TEXTS = ("xp_project_name", "xp_department", "xp_unit", "xp_nature", "xp_category")


def _header_heights(t: CompiledTemplate, values: dict) -> dict[int, float]:
    """Heights of the header rows from their texts: a fixed height clips a long name's first
    and last lines in print (the text is centred vertically in a too-short row)."""
    places = t.memo.get("header places")
    if places is None:   # (name, row, template height, cell width): the template's, once
        by_row = {r.number: r for r in t.rows}
        places = []
        for name in _HEADER_TEXTS:
            if t.has(name):
                row = t.names[name].row1
                base = float((by_row[row].attrs.get("ht") if row in by_row else None) or 15)
                places.append((name, row, base, _merged_width(t, t.names[name].col1, row)))
        t.memo["header places"] = places
    out: dict[int, float] = {}
    for name, row, base, width in places:
        text = values.get(name)
        if not text:
            continue
        out[row] = max(out.get(row, base), _height(_lines(str(text), width), base))
    return out


#: Share of the computed page height the breaks may fill: column widths and fonts differ a
#: little between Excel and LibreOffice, and a break placed late is overtaken by an automatic one.
_PAGE_SAFETY = 0.95


def _page_breaks(t: CompiledTemplate, kind: str, heights: dict, band_heights: list, n: int) -> list[int]:
    """Rows after which a printed page ends (manual breaks), placed inside the indicator
    table only: the page is A4 portrait fitted to the width of the printed columns, the
    indicator header row repeated at the top of every page (layout's page setup)."""
    key = ("page", kind)
    found = t.memo.get(key)
    if found is None:   # the page height and the template's row heights: the template's, once
        from .template import col_index, col_letter
        m = _layout.MARGINS
        last = col_index(_layout.PRINT_COLUMNS[kind])
        width_pt = sum((t.widths.get(col_letter(c), 8.43) * 7 + 5) * 0.75 for c in range(1, last + 1))
        scale = min(1.0, (_layout.A4_INCHES[0] - m["left"] - m["right"]) * 72 / width_pt)
        page = (_layout.A4_INCHES[1] - m["top"] - m["bottom"]) * 72 / scale * _PAGE_SAFETY
        template = {r.number: float(r.attrs.get("ht") or 15) for r in t.rows}
        found = t.memo[key] = (page, template, sorted(template))
    page, template, order = found
    title = heights.get(_layout.TITLE_ROW, template.get(_layout.TITLE_ROW, 15))
    band, last_band = t.band, t.band + max(1, n) - 1
    breaks, used = [], 0.0
    for r in order:                              # (output row, height) in print order
        if r == band:
            sizes = [(band + k, band_heights[k] if k < len(band_heights) else template[r]) for k in range(n)]
        else:
            sizes = ((r if r < band else r + max(1, n) - 1, heights.get(r, template[r])),)
        for row, h in sizes:
            if used + h > page and band < row <= last_band:
                breaks.append(row - 1)
                used = title
            used += h
    return breaks


def _repeat_labels(rows: list[dict], band: int, breaks: list[int], indicators) -> None:
    """The 一级/二级指标 of the first indicator on a new page, printed again there."""
    for b in breaks:
        k = b + 1 - band
        if 0 < k < len(rows):
            rows[k]["xp_ind_level1"] = indicators[k].level1
            rows[k]["xp_ind_level2"] = indicators[k].level2


def _level_merges(t: CompiledTemplate, layout: Layout, indicators, breaks: list[int] = ()) -> list[str]:
    """Merge runs of equal 一级/二级 names, as on the paper form; a run stops at a page break
    (its label is printed again on the next page)."""
    merges = []
    starts = {b + 1 - layout.band for b in breaks}
    for name, key in (("xp_ind_level1", lambda i: (i.level1,)), ("xp_ind_level2", lambda i: (i.level1, i.level2))):
        if not t.has(name):
            continue
        col = t.names[name].col1
        start = 0
        for k in range(1, len(indicators) + 1):
            if k == len(indicators) or key(indicators[k]) != key(indicators[start]) or k in starts:
                if k - start > 1:
                    merges.append(f"{col}{layout.band + start}:{col}{layout.band + k - 1}")
                start = k
    return merges


@functools.lru_cache(maxsize=4096)
def _dv(kind: str, sqref: str, formula: str | None = None, *, prompt: str, title: str,
        error: str = "", operator: str | None = None, formula2: str | None = None,
        list_values: str | None = None) -> str:
    attrs = [f'type="{kind}"', 'allowBlank="1"', 'showInputMessage="1"']
    if error:
        attrs += ['showErrorMessage="1"', f"errorTitle={quoteattr('输入有误')}", f"error={quoteattr(error[:255])}"]
    if operator:
        attrs.append(f'operator="{operator}"')
    attrs += [f"promptTitle={quoteattr(title[:32])}", f"prompt={quoteattr(prompt[:255])}", f'sqref="{sqref}"']
    body = ""
    if list_values is not None:
        body = f'<formula1>"{escape(list_values)}"</formula1>'
    elif formula is not None:
        body = f"<formula1>{escape(formula)}</formula1>"
        if formula2 is not None:
            body += f"<formula2>{escape(formula2)}</formula2>"
    return f"<dataValidation {' '.join(attrs)}>{body}</dataValidation>"


_DV_UTF8: dict[str, bytes] = {}


def _validations(items: list[str]) -> bytes:
    """The <dataValidations> element as UTF-8 (each validation encoded once: they are memoised
    per template cell and target notation, and most of a sheet's text after its formulas)."""
    if not items:
        return b""
    out = [f'<dataValidations count="{len(items)}">'.encode()]
    for item in items:
        data = _DV_UTF8.get(item)
        if data is None:
            if len(_DV_UTF8) > 4000:  # bounded (~1 KB each)
                _DV_UTF8.clear()
            data = _DV_UTF8[item] = item.encode("utf-8")
        out.append(data)
    out.append(b"</dataValidations>")
    return b"".join(out)


# ------------------------------------------------------------------ 自评表

@dataclass
class Rendered:
    sheet_xml: bytes
    workbook_xml: bytes
    template: CompiledTemplate


def _num(x):
    return x if x is not None else None


#: Entries of a template's memo (frames and per-(row, target) formulas, up to ~25 KB each with
#: their validations) before it is cleared: a real register's variety of targets is unbounded.
MEMO_ENTRIES = 2000


def _self_evaluation_frame(t: CompiledTemplate, mode: str, p, count: int, unit: str) -> dict:
    """What a 自评表's formulas and validations are apart from its indicators' targets: they
    depend only on the template, mode, profile, indicator count and money unit, so bulk runs
    build them once per combination (memoised on the template)."""
    key = ("自评表.frame", mode, p.name, p.source, count, unit)
    frame = t.memo.get(key)
    if frame is not None:
        return frame
    n = max(1, count)
    layout = Layout(t.band, n)
    ref = lambda name, i=0: t.ref(name, layout, i)  # noqa: E731
    absolute = lambda r: "$" + r[:len(r.rstrip("0123456789"))] + "$" + r[len(r.rstrip("0123456789")):]  # noqa: E731
    profile_cell = absolute(ref("xp_profile"))
    fix = lambda expr: expr.replace("$PROFILE", profile_cell)  # noqa: E731
    rates = [fix(F.rate(ref("xp_funds_budget", i), ref("xp_funds_executed", i), p, mode))
             for i in range(len(FUNDS_ROWS))]
    funds_score = fix(F.funds_score(ref("xp_funds_rate", 0), ref("xp_funds_weight"), p, mode))
    amount_cells = " ".join(f"{ref(name, 0)}:{ref(name, 3)}" for name in
                            ("xp_funds_initial", "xp_funds_budget", "xp_funds_executed"))
    first_amount = ref("xp_funds_initial", 0)
    dvs = [_dv("custom", amount_cells,
               F.amount_check(first_amount),
               title="金额", prompt=f"请填写金额（{unit}），不小于 0，最多两位小数。",
               error=f"金额应为不小于 0 的数字（单位：{unit}），最多两位小数。")]
    weight_cells = f"{ref('xp_funds_weight')} {t.band_range('xp_ind_weight', layout)}"
    dvs.append(_dv("decimal", weight_cells, "0", formula2="100", operator="between", title="分值",
                   prompt="请填写分值（0–100）。分值合计（含预算执行率）应为 100。",
                   error="分值应为 0 到 100 之间的数字。"))
    widths = {name: _merged_width(t, t.names[name].col1, t.band) for name in
              ("xp_ind_level3", "xp_ind_target", "xp_ind_actual", "xp_ind_note")}
    band_score = t.band_range("xp_ind_score", layout)
    band_weight = t.band_range("xp_ind_weight", layout)
    goal_row = t.names["xp_expected_goal"].row1
    frame = {
        "profile_cell": profile_cell, "rates": rates, "funds_score": funds_score, "dvs": dvs, "widths": widths,
        "total_weight": F.total([ref("xp_funds_weight"), band_weight]),
        "total_score": F.complete_total([ref("xp_funds_score"), band_score],
                                        f"{ref('xp_funds_score')},{band_score}", count + 1),
        "grade": fix(F.grade(ref("xp_total_score"), f"{ref('xp_funds_score')},{band_score}", count + 1, p, mode)),
        "goal_row": goal_row,
        "goal_widths": (_merged_width(t, t.names["xp_expected_goal"].col1, goal_row),
                        _merged_width(t, t.names["xp_actual_result"].col1, goal_row)),
    }
    if len(t.memo) > MEMO_ENTRIES:  # bounded: bulk runs stay flat in memory
        t.memo.clear()
    t.memo[key] = frame
    return frame


def _self_evaluation(project: Project, t: CompiledTemplate, mode: str, p) -> tuple[dict, list, list, dict, list]:
    frame = _self_evaluation_frame(t, mode, p, len(project.indicators), project.money_unit or "元")
    profile_cell = frame["profile_cell"]
    scored = score_project(_with_parsed_notation(project), p)

    values: dict = {
        "xp_project_name": project.name, "xp_department": project.department, "xp_unit": project.unit,
        "xp_expected_goal": project.annual_goal, "xp_actual_result": project.actual_result,
        "xp_profile": p.name, "xp_mode": mode,
        "xp_funds_initial": [project.funds[r].initial for r in FUNDS_ROWS],
        "xp_funds_budget": [project.funds[r].budget for r in FUNDS_ROWS],
        "xp_funds_executed": [project.funds[r].executed for r in FUNDS_ROWS],
        "xp_funds_weight": scored.funds_weight,
    }
    values["xp_funds_rate"] = [Formula(expr, scored.rates.get(row)) for expr, row in zip(frame["rates"], FUNDS_ROWS)]
    values["xp_funds_score"] = Formula(frame["funds_score"], scored.funds_score)

    rows, band_heights = [], []
    dvs = list(frame["dvs"])
    w3, wt, wa, wn = (frame["widths"][name] for name in ("xp_ind_level3", "xp_ind_target", "xp_ind_actual",
                                                           "xp_ind_note"))
    prev = None
    for k, ind in enumerate(project.indicators):
        res = scored.indicators[k]
        parsed, proposal, final, dv_actual, dv_override, quantitative = _indicator_formulas(
            t, k, ind.target, mode, p, profile_cell)
        actual_text = _actual_text(ind.actual)
        row = {
            "xp_ind_level1": ind.level1 if not prev or prev.level1 != ind.level1 else None,
            "xp_ind_level2": ind.level2 if not prev or (prev.level1, prev.level2) != (ind.level1, ind.level2) else None,
            "xp_ind_level3": ind.level3, "xp_ind_target": ind.target,
            "xp_ind_actual": actual_text, "xp_ind_weight": ind.weight,
            "xp_ind_note": ind.note, "xp_ind_override": ind.override,
        }
        if parsed is not None:
            if quantitative:
                cached = res.actual.value if res is not None and isinstance(res.actual, Quantity) else None
            else:
                cached = _judgement_code(actual_text)
            row["xp_ind_value"] = Formula(parsed, cached)
        if proposal == '""':   # no formula for this row (see _indicator_formulas): 待核 as it computes
            res = None
        row["xp_ind_proposal"] = Formula(proposal, res.proposal if res is not None else None)
        final_cached = res.score if res is not None else (ind.override if ind.override is not None else None)
        row["xp_ind_score"] = Formula(final, final_cached)
        rows.append(row)
        dvs.append(dv_actual)
        dvs.append(dv_override)
        lines = max(_lines(ind.level3, w3), _lines(ind.target, wt), _lines(actual_text, wa), _lines(ind.note, wn))
        band_heights.append(_height(lines, 22))
        prev = ind

    values["xp_total_weight"] = Formula(frame["total_weight"], scored.total_weight)
    values["xp_total_score"] = Formula(frame["total_score"], scored.total if scored.total is not None else None)
    values["xp_grade"] = Formula(frame["grade"], scored.grade or "")
    goal_lines = max(_lines(project.annual_goal, frame["goal_widths"][0]),
                     _lines(project.actual_result, frame["goal_widths"][1]))
    heights = {frame["goal_row"]: _height(goal_lines, 40)}
    return values, rows, dvs, heights, band_heights


def _indicator_formulas(t: CompiledTemplate, k: int, target_text: str, mode: str, p, profile_cell: str) -> tuple:
    """What indicator ``k``'s formulas and validations are for a target text: they depend on
    nothing else (an indicator row's cells do not move with the indicator count), so bulk
    runs compute them once per (row, target) and template. Returns (parsed-value formula or
    None, proposal formula, final-score formula, validation of the actual, validation of the
    override, whether the target is quantitative)."""
    key = ("自评表.indicator", k, target_text, mode, p.name, p.source, profile_cell)
    found = t.memo.get(key)
    if found is not None:
        return found
    layout = Layout(t.band, k + 1)
    r = {name: t.ref(name, layout, k) for name in ("xp_ind_target", "xp_ind_actual", "xp_ind_weight",
                                                   "xp_ind_score", "xp_ind_value", "xp_ind_proposal",
                                                   "xp_ind_override")}
    target = _safe_target(target_text)
    qualitative = not isinstance(target, Quantity)
    parsed = F.judgement_code(r["xp_ind_actual"]) if qualitative else None
    if _unreadable_target(target_text):
        # The engine scores nothing against a blank or unreadable target (the total stays
        # blank and check names the cell); neither do the formulas.
        proposal = '""'
    elif mode == "udf":
        proposal = F.udf_score(r["xp_ind_target"], r["xp_ind_actual"], r["xp_ind_weight"])
    elif qualitative:
        proposal = F.qualitative_score(r["xp_ind_value"], r["xp_ind_weight"], p)
    else:
        parsed = F.parse_actual(r["xp_ind_actual"], target.unit)
        proposal = F.quantitative_score(target, r["xp_ind_value"], r["xp_ind_weight"], p)
        if proposal is None:
            # No exact native formula for this target (F.target_scale): a portable workbook never
            # calls the add-in (#NAME? without it), so the row is left to 待核 and fill/generate
            # name it (xlperf.prepare).
            proposal = '""'
    final = F.final_score(r["xp_ind_proposal"], r["xp_ind_override"])
    if qualitative:
        dv_actual = _dv("list", r["xp_ind_actual"], list_values="达成指标,部分达成,未达成",
                        title="实际完成值（定性）",
                        prompt=f"目标：{target_text}。请选择 达成指标 / 部分达成 / 未达成。",
                        error="请从下拉列表中选择 达成指标、部分达成 或 未达成。")
    else:
        unit_hint = f"（单位：{target.unit}）" if target.unit else ""
        example = f"{target.value}({target.unit})" if target.unit and target.unit[0] not in "*/" else str(target.value)
        dv_actual = _dv("custom", r["xp_ind_actual"],
                        F.actual_check(r["xp_ind_actual"]),
                        title="实际完成值（定量）",
                        prompt=f"目标：{target_text}。请填写实际数值{unit_hint}，可带单位，如 {example}。",
                        error=f"无法识别为数值。请填写数字{unit_hint}，如 {example}。")
    dv_override = _dv("custom", r["xp_ind_override"],
                      F.override_validation(r["xp_ind_override"], r["xp_ind_value"], r["xp_ind_weight"], p,
                                            qualitative),
                      title="人工调整得分",
                      prompt=("留空则按规则得分。填写时须在 0 到分值之间" +
                              ("，且在所选档次的区间内（达成 80%–100%，部分达成 60%–80%，未达成 0–60%）" if qualitative else "") +
                              "，并在偏差原因栏写明理由。"),
                      error="调整得分超出允许范围（0 到分值；定性指标须在所选档次区间内）。")
    found = (parsed, proposal.replace("$PROFILE", profile_cell), final, dv_actual, dv_override, not qualitative)
    if len(t.memo) > MEMO_ENTRIES:  # bounded: bulk runs stay flat in memory
        t.memo.clear()
    t.memo[key] = found
    return found


def _judgement_code(actual_text: str | None) -> int | None:
    """What :func:`xlperf.formulas.judgement_code` computes, for the cached value."""
    if is_blank(actual_text):
        return None
    j = judgement_of(actual_text)
    return {Judgement.PARTIAL: F.PARTIAL, Judgement.NOT_ACHIEVED: F.NOT_ACHIEVED}.get(j, F.ACHIEVED)


@functools.lru_cache(maxsize=8192)
def _parsed_target(text: str):
    return parse_target(text)


@functools.lru_cache(maxsize=8192)
def _parsed_actual(text: str):
    return parse_actual(text)   # prepare's (xlperf.prepare); render parses actuals unmemoised


def _with_parsed_notation(project: Project) -> Project:
    """A copy of ``project`` whose indicator targets/actuals are already parsed (targets memoised
    by text: bulk runs see the same notations over and over). The scoring engine accepts parsed
    values as they are; texts it cannot parse stay text, so it reports them exactly as before.
    The caller's project is not touched."""
    indicators = []
    for ind in project.indicators:
        target, actual = ind.target, ind.actual
        if type(target) is str:
            try:
                target = _parsed_target(target)
            except XlperfError:
                target = ind.target
        if type(actual) is str and not is_blank(actual):
            try:
                actual = parse_actual(actual)   # not memoised here: actuals are the project's own
            except XlperfError:
                actual = ind.actual
        copy = object.__new__(type(ind))
        copy.__dict__.update(ind.__dict__)
        copy.target, copy.actual = target, actual
        indicators.append(copy)
    view = object.__new__(type(project))
    view.__dict__.update(project.__dict__)
    view.indicators = indicators
    return view


@functools.lru_cache(maxsize=4096)
def _safe_target(text):
    try:
        return parse_target(text)
    except XlperfError:
        return Qualitative(str(text or ""))


@functools.lru_cache(maxsize=4096)
def _unreadable_target(text) -> bool:
    try:
        parse_target(text)
    except XlperfError:
        return True
    return False


def _actual_text(actual):
    if actual is None:
        return None
    if isinstance(actual, Decimal):
        return format(actual, "f")
    return str(actual)


def _declaration(project: Project, t: CompiledTemplate) -> tuple[dict, list, list, dict, list]:
    d = project.declared
    values = {
        "xp_project_name": project.name, "xp_nature": project.nature, "xp_category": project.category,
        "xp_department": project.department, "xp_unit": project.unit, "xp_start": project.start,
        "xp_end": project.end, "xp_total_goal": project.total_goal, "xp_annual_goal": project.annual_goal,
        "xp_project_total": d.project_total, "xp_project_fiscal": d.project_fiscal,
        "xp_project_other": d.project_other, "xp_annual_total": d.annual_total,
        "xp_annual_fiscal": d.annual_fiscal, "xp_annual_carryover": d.annual_carryover,
        "xp_annual_other": d.annual_other,
    }
    n = max(1, len(project.indicators))
    layout = Layout(t.band, n)
    rows, band_heights = [], []
    widths = {name: _merged_width(t, t.names[name].col1, t.band) for name in ("xp_ind_level3", "xp_ind_target")}
    for k, ind in enumerate(project.indicators):
        prev = project.indicators[k - 1] if k else None
        rows.append({
            "xp_ind_level1": ind.level1 if not prev or prev.level1 != ind.level1 else None,
            "xp_ind_level2": ind.level2 if not prev or (prev.level1, prev.level2) != (ind.level1, ind.level2) else None,
            "xp_ind_level3": ind.level3, "xp_ind_target": ind.target,
        })
        band_heights.append(_height(max(_lines(ind.level3, widths["xp_ind_level3"]),
                                        _lines(ind.target, widths["xp_ind_target"])), 22))
    unit = project.money_unit or "元"
    amount_names = [k for k in values if k.startswith(("xp_project_", "xp_annual_")) and k not in
                    ("xp_project_name", "xp_annual_goal")]
    cells = " ".join(t.ref(name, layout) for name in amount_names if t.has(name))
    first = t.ref(amount_names[0], layout)
    dvs = [_dv("custom", cells, F.amount_check(first),
               title="金额", prompt=f"请填写金额（{unit}），不小于 0，最多两位小数；没有请留空。",
               error=f"金额应为不小于 0 的数字（单位：{unit}），最多两位小数。")]
    goal_row = t.names["xp_total_goal"].row1
    lines = max(_lines(project.total_goal, _merged_width(t, t.names["xp_total_goal"].col1, goal_row)),
                _lines(project.annual_goal, _merged_width(t, t.names["xp_annual_goal"].col1, goal_row)))
    return values, rows, dvs, {goal_row: _height(lines, 60)}, band_heights


def render(project: Project, *, mode: str = "portable", profile: str | None = None,
           template_dir: Path | None = None, password: str | None = None, level: int = DEFLATE_LEVEL,
           template: CompiledTemplate | None = None) -> bytes:
    """The bytes of a filled workbook for ``project`` (its ``kind`` picks the template, unless
    the compiled ``template`` is given: bulk runs look it up once, not per file)."""
    if mode not in MODES:
        raise GenerateError(f"计算方式应为 portable 或 udf，而不是「{mode}」。")
    t = template or compiled(project.kind, template_dir)
    p = _profiles.get(profile or project.profile or DEFAULT_PROFILE)
    if project.kind == SELF_EVALUATION:
        values, rows, dvs, heights, band_heights = _self_evaluation(project, t, mode, p)
    elif project.kind == DECLARATION:
        values, rows, dvs, heights, band_heights = _declaration(project, t)
    else:
        raise GenerateError(f"表格类型应为 申报表 或 自评表，而不是「{project.kind}」。")
    heights = {**_header_heights(t, values), **heights}
    breaks = _page_breaks(t, project.kind, heights, band_heights, len(project.indicators))
    _repeat_labels(rows, t.band, breaks, project.indicators)
    layout = Layout(t.band, max(1, len(project.indicators)))
    labels = {key: text.replace("{year}", str(project.year)).replace("{money_unit}", project.money_unit or "元")
              for key, text in t.label_templates.items()}
    sheet = t.render_sheet(values, rows, labels=labels, heights=heights, band_heights=band_heights,
                           validations=_validations(dvs),
                           extra_merges=_level_merges(t, layout, project.indicators, breaks),
                           protection_password=password, row_breaks=breaks)
    workbook = t.render_workbook_xml(len(project.indicators), full_calc_on_load=(mode == "portable"))
    buf = io.BytesIO()
    t.write(buf, sheet, workbook, level)
    return buf.getvalue()


def write(project: Project, out: Path, *, force: bool = False, **kwargs) -> Path:
    """Render and write atomically. An existing file is kept unless ``force`` (then a
    ``.bak`` copy of it is kept beside it; ``.bak2``, ``.bak3``… when older backups exist)."""
    out = Path(out)
    data = render(project, **kwargs)
    if out.exists():
        if not force:
            raise GenerateError(f"文件「{out}」已存在，未覆盖。确需覆盖请加 --force（会保留 .bak 备份）。")
        atomic_write(Path(_backup_path(str(out))), out.read_bytes())
    atomic_write(out, data)
    return out


# ------------------------------------------------------------------ bulk generation
#
# One workbook per project, rendered in a pool of forked workers (the compiled templates are
# inherited, never recompiled), each file written under a temporary name and renamed. A
# worker handles a chunk at a time: render every file of the chunk to a temporary file, flush
# them to disk with one syncfs (instead of an fsync per file), append the chunk's rows to the
# journal, then rename. So at any instant — a kill -9 included — every .xlsx in the output
# folder is complete and listed, with its sha256, in manifest.journal.csv (rows are written
# *before* the rename; a row whose file is missing was in flight). manifest.csv is written
# atomically at the end, in register order, and lists only files that exist complete; the
# journal is then removed.

MANIFEST = "manifest.csv"
JOURNAL = "manifest.journal.csv"
MANIFEST_HEADER = ("文件", "项目序号", "项目编号", "表格类型", "sha256", "状态", "说明")
TMP_PREFIX = ".~xlperf-"
STATUS_NEW = "已生成"
STATUS_SKIPPED = "已存在，未覆盖"
STATUS_REPLACED = "已覆盖"
STATUS_SAME = "未变化"
STATUS_FAILED = "未生成"

#: Output names reserved by generate itself (a unit called "manifest.csv" must not become them).
_OWN_NAMES = frozenset(n.casefold() for n in (MANIFEST, JOURNAL))
#: Name parts: 80 characters of 项目名称 and 40 of 实施单位 keep ``<单位>/<年度>_<项目>_<表格>_NN.xlsx.bakN``
#: within Excel's path limit under a typical output folder (see xlperf.winpaths); 220 bytes keep
#: the file name within 255 bytes with 年度, 表格类型 and suffixes around it.
NAME_CHARS, NAME_BYTES, UNIT_CHARS = 80, 220, 40


def file_stem(project: Project) -> str:
    """``<年度>_<项目名称>_<表格类型>``, safe as a Windows file name (see :func:`safe_name`)."""
    return f"{project.year}_{safe_name(project.name, NAME_CHARS, max_bytes=NAME_BYTES)}_{project.kind}"


class Namer:
    """Deterministic output paths: ``<实施单位>/<年度>_<项目名称>_<表格类型>.xlsx``, made safe for
    Windows; names that collide (compared as Windows does, ignoring case) get ``_2``, ``_3``…
    in the order the projects come."""

    def __init__(self):
        self._used: dict[tuple[str, str], str] = {}
        self._folders: dict[str, str] = {}

    def assign(self, project: Project) -> tuple[str, str]:
        """(relative path with / separators, note on a collision or "")."""
        folder = safe_name(project.unit or "未填实施单位", UNIT_CHARS)
        if casefold_key(folder) in _OWN_NAMES or folder.startswith(TMP_PREFIX):
            folder = "_" + folder
        folder = self._folders.setdefault(casefold_key(folder), folder)
        stem = file_stem(project)
        name, n = f"{stem}.xlsx", 1
        while (casefold_key(folder), casefold_key(name)) in self._used:
            n += 1
            name = f"{stem}_{n}.xlsx"
        note = ""
        if n > 1:
            first = self._used[(casefold_key(folder), casefold_key(f"{stem}.xlsx"))]
            note = f"与项目 {first} 的文件名相同（Windows 不区分大小写），改名为 {name}"
        self._used[(casefold_key(folder), casefold_key(name))] = project.key
        return f"{folder}/{name}", note


@dataclass
class Job:
    """One workbook to write. ``error`` set: a project that cannot be generated (reported in
    the manifest, nothing written)."""
    project: Project
    path: str = ""
    code: str = ""
    warnings: tuple = ()
    error: str = ""


@dataclass
class Outcome:
    path: str
    key: str
    code: str
    kind: str
    sha256: str
    status: str
    message: str = ""
    #: What to tell the user about this file when it is written: the register's warnings (they
    #: name the register's cell) and notes on the file itself. Not in the manifest row.
    notes: tuple = ()

    def row(self) -> tuple:
        return (self.path, self.key, self.code, self.kind, self.sha256, self.status, self.message)


@dataclass
class Summary:
    out_dir: Path
    counts: dict
    outcomes_failed: list
    warnings: list
    seconds: float
    manifest: Path

    @property
    def failed(self) -> int:
        return self.counts.get(STATUS_FAILED, 0)

    @property
    def files(self) -> int:
        return self.counts.get(STATUS_NEW, 0) + self.counts.get(STATUS_REPLACED, 0)


@dataclass
class _Settings:
    out_dir: str
    mode: str = "portable"
    force: bool = False
    template_dir: Path | None = None
    password: str | None = None
    durable: bool = True


_SETTINGS: _Settings | None = None
_JOURNAL_FD: int | None = None
_SHARED_JOBS: list | None = None
#: form kind -> compiled template of the current bulk run (compiled before forking)
_TEMPLATES: dict[str, CompiledTemplate] = {}


def _csv_bytes(rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


@functools.lru_cache(maxsize=1)
def _syncfs_function():
    try:
        import ctypes
        fn = ctypes.CDLL(None, use_errno=True).syncfs
        fn.argtypes = [ctypes.c_int]
        return fn
    except (OSError, AttributeError, TypeError):
        return None


def _flush_to_disk(folder: str, files: list[str]) -> None:
    """Make the files' contents durable before they are renamed into place: one syncfs of
    the output file system (Linux), else sync(), else an fsync per file."""
    fn = _syncfs_function()
    if fn is not None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            if fn(fd) == 0:
                return
        finally:
            os.close(fd)
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in files:  # pragma: no cover - Windows
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())


_temp_counter = itertools.count()


def _temp_name(final: str) -> str:
    """A temporary name beside ``final``, unique to this process (the output folder is locked)."""
    return os.path.join(os.path.dirname(final), f"{TMP_PREFIX}{os.getpid()}-{next(_temp_counter)}.tmp")


def _backup_path(final: str) -> str:
    backup, n = final + ".bak", 1
    while os.path.lexists(backup):
        n += 1
        backup = f"{final}.bak{n}"
    return backup


def _run_jobs(jobs) -> list[Outcome]:
    """Worker side: render, write to temporary names, journal, rename (see above)."""
    s = _SETTINGS
    outcomes: list[Outcome] = []
    pending: list[tuple[str, str, bool]] = []
    for job in jobs:
        p = job.project
        message = "；".join(w.rstrip("。") for w in job.warnings)
        out = Outcome(job.path, p.key, job.code, p.kind, "", STATUS_FAILED, message, tuple(job.warnings))
        outcomes.append(out)
        if job.error:
            out.message = job.error
            continue
        final = os.path.join(s.out_dir, job.path)
        existing = None
        try:
            if os.path.lexists(final):
                with open(final, "rb") as fh:
                    existing = fh.read()
                if not s.force:
                    out.sha256, out.status = hashlib.sha256(existing).hexdigest(), STATUS_SKIPPED
                    continue
            t = _TEMPLATES.get(p.kind)
            if t is None:   # not compiled before the fork (spawn): once per worker, not per file
                t = _TEMPLATES[p.kind] = compiled(p.kind, s.template_dir)
            data = render(p, mode=s.mode, template_dir=s.template_dir, password=s.password, template=t)
            out.sha256 = hashlib.sha256(data).hexdigest()
            if existing is not None and existing == data:
                out.status = STATUS_SAME
                continue
            tmp = _temp_name(final)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            except BaseException:
                os.close(fd)
                _unlink_quietly(tmp)
                raise
            os.close(fd)
            pending.append((tmp, final, existing is not None))
            out.status = STATUS_REPLACED if existing is not None else STATUS_NEW
        except XlperfError as exc:
            out.status, out.sha256, out.message = STATUS_FAILED, "", _join(exc, message)
        except OSError as exc:
            out.status, out.sha256, out.message = STATUS_FAILED, "", _join(
                f"无法写入「{job.path}」：{os_error_text(exc)}", message)
        except Exception as exc:  # a bug must not stop the other projects
            out.status, out.sha256, out.message = STATUS_FAILED, "", _join(f"内部错误：{exc!r}", message)
    try:
        if pending and s.durable:
            _flush_to_disk(s.out_dir, [t for t, _, _ in pending])
        if _JOURNAL_FD is not None:
            os.write(_JOURNAL_FD, _csv_bytes(o.row() for o in outcomes))
    except BaseException:  # e.g. a full disk: no temporary file stays behind
        for tmp, _final, _r in pending:
            _unlink_quietly(tmp)
        raise
    by_final = {os.path.join(s.out_dir, o.path): o for o in outcomes}
    for tmp, final, replacing in pending:
        o = by_final[final]
        try:
            if replacing:
                backup = _backup_path(final)
                try:
                    os.link(final, backup)
                except OSError:
                    shutil.copy2(final, backup)
                o.message = _join(f"原文件备份为 {os.path.basename(backup)}", o.message)
                o.notes = (f"原文件备份为 {os.path.basename(backup)}",) + o.notes
            os.replace(tmp, final)
        except OSError as exc:
            _unlink_quietly(tmp)
            o.status, o.sha256, o.message = STATUS_FAILED, "", _join(
                f"无法写入「{o.path}」：{os_error_text(exc)}", o.message)
    return outcomes


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def note_line(path: str, note: str) -> str:
    """One 提醒 line: a register warning names its own cell (文件「登记表」，工作表…) and then
    the file it concerns; a note on the generated file names that file first."""
    note = note.rstrip("。")
    if note.startswith("文件「"):
        return f"{note}（生成的文件：{path}）"
    return f"{path}：{note}"


def _join(first, second: str) -> str:
    return "；".join(x for x in (str(first), second) if x)


def _run_range(bounds: tuple[int, int]) -> list[Outcome]:
    return _run_jobs(_SHARED_JOBS[bounds[0]:bounds[1]])


def _init_worker(settings: _Settings, journal: str, parent: int) -> None:
    global _SETTINGS, _JOURNAL_FD
    _SETTINGS = settings
    _JOURNAL_FD = os.open(journal, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    if sys.platform.startswith("linux"):
        try:  # die with the parent (kill -9 of `xlperf generate` stops every worker)
            import ctypes
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:  # the parent died before the death signal was armed
            os._exit(1)


def _lock(path: Path):
    """Open ``path`` (the journal) and lock it for this run: flock on Linux/macOS, a byte-range
    lock (msvcrt) on Windows — either is released by the system if the process dies.
    Never through a link or into a FIFO/device planted at the journal's name: a link would
    truncate its target, a FIFO would block forever (issue 18 item 4)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0), 0o644)
    except OSError as exc:
        raise GenerateError(f"无法使用文件「{path}」（可能是链接或特殊文件，为安全起见未写入）：{exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise GenerateError(f"「{path}」不是普通文件（可能是管道或设备），为安全起见未写入；请删除它后再运行。")
    if not try_lock(fd):
        os.close(fd)
        raise GenerateError(f"另一个 xlperf generate 正在写入文件夹「{path.parent}」，请等它结束后再运行。")
    return fd


def _clean_stale(out_dir: Path) -> int:
    """Remove temporary files a killed run left behind (only xlperf's own)."""
    removed = 0
    for root, _dirs, files in os.walk(out_dir):
        for name in files:
            if name.startswith(TMP_PREFIX) and name.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(root, name))
                    removed += 1
                except FileNotFoundError:
                    pass
    return removed


def plan(projects, namer: Namer | None = None):
    """Jobs for projects (or :class:`~xlperf.register.Entry` objects), with output paths."""
    namer = namer or Namer()
    for item in projects:
        if isinstance(item, Job):
            job = item
        else:
            project = getattr(item, "project", item)
            job = Job(project, code=getattr(item, "code", ""), warnings=tuple(getattr(item, "warnings", ())),
                      error="；".join(str(e) for e in getattr(item, "errors", ())))
        if not job.error and not job.path:
            job.path, note = namer.assign(job.project)
            if note:
                job.warnings = tuple(job.warnings) + (note,)
        yield job


def generate_all(jobs, out_dir, *, mode: str = "portable", force: bool = False, workers: int | None = None,
                 chunk_size: int | None = None, template_dir: Path | None = None, password: str | None = None,
                 progress: bool | None = None, durable: bool = True, total: int | None = None,
                 release: bool = False) -> Summary:
    """Write one workbook per job into ``out_dir`` (see the comment above for the guarantees).

    ``jobs``: :class:`Job` objects, projects or register entries — a list (shared with the
    forked workers without copying) or any iterable (streamed in chunks, memory stays flat).
    ``workers``: processes (default: CPU count; 1 = in this process). ``release``: the list
    given is emptied and each project dropped once its file is written (the CLI holds nothing
    else; 20,000 projects are ~270 MB)."""
    global _SETTINGS, _JOURNAL_FD, _SHARED_JOBS
    if mode not in MODES:
        raise GenerateError(f"计算方式应为 portable 或 udf，而不是「{mode}」。")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = out_dir / JOURNAL
    lock_fd = _lock(journal)
    manifest_tmp = manifest = None
    pool = None
    frozen = False
    previous = (_SETTINGS, _JOURNAL_FD, _SHARED_JOBS)
    try:
        interrupted = os.fstat(lock_fd).st_size > 0
        _clean_stale(out_dir)
        os.ftruncate(lock_fd, 0)
        os.write(lock_fd, "\ufeff".encode() + _csv_bytes([MANIFEST_HEADER]))
        _TEMPLATES.clear()
        for kind in (SELF_EVALUATION, DECLARATION):  # compile once, before forking
            try:
                _TEMPLATES[kind] = compiled(kind, template_dir)
            except XlperfError:
                pass
        settings = _Settings(str(out_dir), mode, force, template_dir, password, durable)
        if isinstance(jobs, list):
            given, jobs = jobs, list(plan(jobs))
            if release:
                given.clear()
            total = len(jobs)
            _prepare_folders(out_dir, jobs)
            stream = None
        else:
            stream = _folders_on_the_way(out_dir, plan(jobs))
        cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = max(1, workers or cpu)
        if chunk_size is None:
            # ~4 chunks per worker for a small run, at most 32 files per chunk: the projects of the
            # chunks in flight are held by this process and a worker (chunks of 128 made a
            # 20,000-project run's peak 25 MB larger, for ~5% less wall time from fewer syncfs).
            chunk_size = 32 if total is None else max(4, min(32, -(-total // (workers * 4))))
        if total is not None and total <= chunk_size:
            workers = 1
        fd, manifest_tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".tmp", dir=out_dir)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)
        manifest = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
        writer = csv.writer(manifest, lineterminator="\r\n")
        writer.writerow(MANIFEST_HEADER)
        counts: dict[str, int] = {}
        failed: list[Outcome] = []
        warnings: list[str] = []
        if interrupted:
            warnings.append(f"上次生成未完成（见到 {JOURNAL}）：已写好的文件保留并跳过，其余本次生成")
        bar = Progress(total, progress)

        def take(outcomes: list[Outcome]) -> None:
            for o in outcomes:
                writer.writerow(o.row())
                counts[o.status] = counts.get(o.status, 0) + 1
                if o.status == STATUS_FAILED:
                    failed.append(o)
                elif o.status in (STATUS_NEW, STATUS_REPLACED):
                    # A file left alone (skipped, unchanged) was reported when it was written.
                    warnings.extend(note_line(o.path, n) for n in o.notes)
            bar.update(len(outcomes))

        if stream is None:
            tasks = [(i, min(i + chunk_size, total)) for i in range(0, total, chunk_size)]
            _SHARED_JOBS = jobs
            run = _run_range
        else:
            tasks = _chunked(stream, chunk_size)
            run = _run_jobs

        def done(task) -> None:
            """A written chunk's projects are not needed here any more (workers have their own copy)."""
            if release and type(task) is tuple:
                jobs[task[0]:task[1]] = [None] * (task[1] - task[0])

        if workers == 1:
            _SETTINGS, _JOURNAL_FD = settings, lock_fd
            for task in tasks:
                take(run(task))
                done(task)
        else:
            ctx = mp_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
            if ctx.get_start_method() != "fork" and stream is None:
                tasks, run = [jobs[a:b] for a, b in tasks], _run_jobs
            # Everything read so far (a 20,000-project register is ~300 MB of objects) goes into
            # the permanent generation: a forked worker's collections then skip it, instead of
            # walking it (CPU) and so copying every page of it (memory).
            gc.freeze()
            frozen = True
            pool = ctx.Pool(workers, initializer=_init_worker, initargs=(settings, str(journal), os.getpid()))
            inflight: deque = deque()
            task_iter = iter(tasks)
            for task in itertools.islice(task_iter, workers * 3):
                inflight.append((task, pool.apply_async(run, (task,))))
            while inflight:
                task, result = inflight.popleft()
                outcomes = result.get()
                nxt = next(task_iter, None)
                if nxt is not None:
                    inflight.append((nxt, pool.apply_async(run, (nxt,))))
                take(outcomes)
                done(task)
            pool.close()
            pool.join()
            pool = None
        if durable:
            if total and total >= 1000:     # a large run's last flush can take seconds on a busy disk
                bar.status("写入磁盘…")
            _flush_to_disk(str(out_dir), [])
        bar.close()
        manifest.flush()
        os.fsync(manifest.fileno())
        manifest.close()
        os.replace(manifest_tmp, out_dir / MANIFEST)
        manifest_tmp = None
        _fsync_dir(out_dir)
        if os.name == "nt":  # pragma: no cover - Windows cannot remove an open file
            os.close(lock_fd)
            lock_fd = None
        os.unlink(journal)
        return Summary(out_dir, counts, failed, warnings, time.perf_counter() - started, out_dir / MANIFEST)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if frozen:
            gc.unfreeze()
        if manifest_tmp is not None:
            if manifest is not None and not manifest.closed:
                manifest.close()
            try:
                os.unlink(manifest_tmp)
            except OSError:
                pass
        if lock_fd is not None:
            os.close(lock_fd)
        _SETTINGS, _JOURNAL_FD, _SHARED_JOBS = previous


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _chunked(iterable, size: int):
    it = iter(iterable)
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


def _prepare_folders(out_dir: Path, jobs) -> None:
    for _job in _folders_on_the_way(out_dir, jobs):
        pass


def _folders_on_the_way(out_dir: Path, jobs):
    made = set()
    for job in jobs:
        if job.path:
            folder = job.path.rsplit("/", 1)[0] if "/" in job.path else ""
            if folder not in made:
                (out_dir / folder).mkdir(parents=True, exist_ok=True)
                _inside_output(out_dir, out_dir / folder)
                made.add(folder)
        yield job


def _inside_output(out_dir: Path, folder: Path) -> None:
    """A unit folder that is a link planted in the output folder would send the forms
    elsewhere: refuse it (issue 18 item 4)."""
    top = os.path.realpath(out_dir)
    real = os.path.realpath(folder)
    if os.path.commonpath([top, real]) != top:
        raise GenerateError(f"输出文件夹中的「{folder.relative_to(out_dir)}」是指向别处的链接，为安全起见未写入；请删除该链接后再运行。")


def read_manifest(path) -> list[dict]:
    """Rows of a manifest.csv (or of a journal) as dicts keyed by the Chinese headers."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ roll-forward

DECLARATION_NAMES = ("xp_project_name", "xp_nature", "xp_category", "xp_department", "xp_unit", "xp_start",
                     "xp_end", "xp_project_total", "xp_project_fiscal", "xp_project_other", "xp_annual_total",
                     "xp_annual_fiscal", "xp_annual_carryover", "xp_annual_other", "xp_total_goal",
                     "xp_annual_goal")


def read_named_cells(path) -> tuple[dict[str, list], dict[str, str]]:
    """Values of every ``xp_*`` defined name of a workbook (a list, one per cell of the
    name's range, row by row), and where each name points (``"Sheet!$B$3"``). The file
    is read behind harvest's guards and every range is bounded first
    (:mod:`xlperf.named_cells`)."""
    named = _named(path)
    return named.values, named.where


def _named(path):
    """:func:`xlperf.named_cells.read_names`, a refusal as a GenerateError at the file."""
    from .named_cells import read_names
    from .safezip import Refused

    try:
        return read_names(path)
    except Refused as exc:
        raise GenerateError(f"无法作为 Excel 工作簿打开：{exc.message}").at(path) from None


def read_declaration(path) -> Project:
    """A filled 申报表 workbook (generated by xlperf, possibly edited in Excel) as a Project,
    read through its ``xp_*`` defined names."""
    from .notation import from_excel

    named = _named(path)
    values, where = named.values, named.where
    missing = [n for n in ("xp_project_name", "xp_ind_level3", "xp_ind_target", "xp_annual_total") if n not in values]
    if "xp_funds_budget" in values:
        raise NotADeclaration("这是自评表，不是申报表。").at(path)
    if missing:
        raise GenerateError(f"不是 xlperf 申报表（缺少名称 {'、'.join(missing)}）。").at(path)

    def one(name):
        v = values.get(name) or [None]
        return v[0]

    def text(name) -> str:
        v = one(name)
        if v is None:
            return ""
        if isinstance(v, datetime.datetime):
            return v.date().isoformat()
        if isinstance(v, datetime.date):
            return v.isoformat()
        if isinstance(v, float):
            return format(from_excel(v), "f")
        return str(v).strip()

    def amount(name):
        v = one(name)
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        try:
            return from_excel(v)
        except XlperfError as exc:
            sheet, _, cell = where[name].partition("!")
            raise GenerateError(exc.message).at(path, sheet, cell.replace("$", "")) from None

    from .model import DeclaredFunds, Indicator

    title = text("xp_year")
    m = re.search(r"(19|20)\d\d", title)
    unit_label = text("xp_money_unit")
    p = Project(kind=DECLARATION, year=int(m.group(0)) if m else 0, name=text("xp_project_name"),
                department=text("xp_department"), unit=text("xp_unit"),
                money_unit="万元" if "万元" in unit_label else "元")
    p.nature, p.category = text("xp_nature"), text("xp_category")
    p.start, p.end = text("xp_start"), text("xp_end")
    p.total_goal, p.annual_goal = text("xp_total_goal"), text("xp_annual_goal")
    p.declared = DeclaredFunds(*(amount(f"xp_{f}") for f in DeclaredFunds.__dataclass_fields__))
    from .named_cells import Unread, typed_values

    columns = [values.get(f"xp_ind_{f}", []) for f in ("level1", "level2", "level3")]
    columns += [typed_values(named, "xp_ind_target"), named.refs.get("xp_ind_target", []),
                named.refs.get("xp_ind_level3", [])]
    level1 = level2 = ""
    for l1, l2, l3, target, ref, ref3 in itertools.zip_longest(*columns):
        if l1 not in (None, ""):
            level1, level2 = str(l1).strip(), ""
        if l2 not in (None, ""):
            level2 = str(l2).strip()
        if isinstance(target, Unread):    # =A1*2, a date: its 自评表 would score against a target nobody wrote
            raise GenerateError(f"年度指标值{target.why}").at(path, named.sheet["xp_ind_target"], ref)
        if l3 in (None, "") and target in (None, ""):
            continue
        target_text = format(from_excel(target), "f") if isinstance(target, (int, float)) else str(target or "")
        i = len(p.indicators)
        p.indicators.append(Indicator(level1, level2, str(l3 or "").strip(), target_text.strip()))
        p.cells[f"indicators.{i}.target"], p.cells[f"indicators.{i}.level3"] = ref or "", ref3 or ""
    if named.refs.get("xp_annual_goal"):
        p.cells["annual_goal"] = named.refs["xp_annual_goal"][0]
    p.source_file, p.source_sheet = str(path), named.sheet.get("xp_ind_target", "")
    return p


def roll_forward(declaration: Project, *, year: int | None = None, profile: str | None = None,
                 notes: list | None = None) -> Project:
    """Next spring's 自评表 from a filled 申报表: the same targets, goals and indicators (so
    they cannot drift), 年初预算数 from the declared annual funds, weights from the profile
    (each 一级指标's weight split over its indicators). Year-end figures stay blank. A ``year``
    other than the 申报表's moves the period phrases of the texts with it; what is kept for a
    person to check goes to ``notes`` (提醒 naming the 申报表's cell)."""
    from .model import FundsLine, Indicator
    from .scoring import default_weights

    p = _profiles.get(profile or DEFAULT_PROFILE)
    d = declaration.declared
    se = Project(kind=SELF_EVALUATION, year=year or declaration.year, name=declaration.name,
                 department=declaration.department, unit=declaration.unit, key=declaration.key,
                 money_unit=declaration.money_unit, profile=p.name if profile is None else profile)
    se.annual_goal = declaration.annual_goal
    for row, initial in zip(FUNDS_ROWS, (d.annual_total, d.annual_fiscal, d.annual_carryover, d.annual_other)):
        se.funds[row] = FundsLine(initial=initial)
    weights = default_weights([i.level1 for i in declaration.indicators], p)
    se.indicators = [Indicator(i.level1, i.level2, i.level3, i.target, weight=w)
                     for i, w in zip(declaration.indicators, weights)]
    total = p.funds_weight + sum(weights, Decimal(0))
    if total != 100:
        levels = "、".join(sorted({i.level1 for i in declaration.indicators}))
        raise GenerateError(f"按评分规则「{p.name}」默认分配的分值合计为 {total.normalize():f}（含预算执行率 "
                            f"{p.funds_weight.normalize():f}），不是 100：该申报表只有一级指标 {levels}。")
    if year and declaration.year and year != declaration.year:
        _move_year(declaration, se, year, notes if notes is not None else [])
    se.source_file = declaration.source_file
    return se


def _move_year(declaration: Project, se: Project, year: int, notes: list) -> None:
    """The texts carried into the 自评表 with their period phrases moved from the 申报表's year
    (:func:`xlperf.yeartext.move_year`, as ``--year`` moves a register's); the project name is
    never changed."""
    from .yeartext import move_year

    fields = [("annual_goal", se, "annual_goal")]
    for i, ind in enumerate(se.indicators):
        fields += [(f"indicators.{i}.level3", ind, "level3"), (f"indicators.{i}.target", ind, "target")]
    for key, obj, attr in fields:
        moved, kept = move_year(getattr(obj, attr), declaration.year, year, keep=(declaration.name,))
        setattr(obj, attr, moved)
        notes.extend(str(GenerateError(f"{n}（年度 {declaration.year} → {year}）").at(
            declaration.source_file, declaration.source_sheet, declaration.cells.get(key) or None)) for n in kept)


def roll_forward_file(declaration_path, out_path, *, year: int | None = None, profile: str | None = None,
                      mode: str = "portable", force: bool = False) -> Path:
    """Next spring's 自评表 for one filled 申报表 workbook (the add-in's 导入申报表 button):
    :func:`read_declaration` + :func:`roll_forward` + :func:`write`, the same steps as
    ``xlperf generate --from`` takes for each file of a folder.

    ``out_path`` is the file to write, or a folder: the file is then named as bulk generation
    names it (``<年度>_<项目名称>_自评表.xlsx``). The write is atomic; an existing file is kept
    unless ``force`` (then backed up as ``.bak``). Returns the path written."""
    source = Path(declaration_path)
    decl = read_declaration(source)
    if not decl.year and year is None:
        raise YearMissing("读不出年度（标题中没有年份），请指定年度。").at(source)
    try:
        se = roll_forward(decl, year=year, profile=profile)
    except XlperfError as exc:
        raise (exc if getattr(exc, "location", None) else exc.at(source)) from None
    out = Path(out_path)
    if out.is_dir():
        out = out / f"{file_stem(se)}.xlsx"
    if out.resolve() == source.resolve():
        raise GenerateError("自评表不能保存在申报表原文件上，请换一个文件名。").at(source)
    return write(se, out, force=force, mode=mode, profile=profile)


def roll_forward_jobs(source_dir, *, year: int | None = None, profile: str | None = None,
                      mode: str = "portable"):
    """Jobs (自评表) for every 申报表 workbook under ``source_dir``, the errors of the files
    that could not be read (also as failed jobs, so the manifest lists them), and how many
    workbooks were passed over because they are not 申报表 (e.g. 自评表 in the same folder).
    ``mode``: only a portable workbook warns of rows its native formulas cannot score."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise GenerateError(f"找不到申报表文件夹「{source_dir}」。")
    jobs, errors, others = [], [], 0
    files = sorted(f for f in source_dir.rglob("*.xlsx")
                   if not f.name.startswith(("~$", TMP_PREFIX)) and f.is_file())
    for f in files:
        key = f.relative_to(source_dir).as_posix()
        try:
            decl = read_declaration(f)
            decl.key = key
            if not decl.year and year is None:
                raise GenerateError("读不出年度（标题中没有年份），请用 --year 指定。").at(f)
            notes: list[str] = []
            se = roll_forward(decl, year=year, profile=profile, notes=notes)
            from .prepare import inexpressible_targets
            if mode == "portable":
                notes += [f"申报表「{f}」第 {i.index + 1} 个指标：{i.message}" for i in inexpressible_targets(se)]
        except NotADeclaration:
            others += 1
            continue
        except XlperfError as exc:
            if not getattr(exc, "location", None):
                exc = exc.at(f)
            errors.append(exc)
            jobs.append(Job(Project(kind=SELF_EVALUATION, year=year or 0, name=f.stem, key=key), error=str(exc)))
            continue
        jobs.append(Job(se, warnings=tuple(notes)))
    return jobs, errors, others


# ------------------------------------------------------------------ CLI

def _load_project_file(path: Path, kind: str | None) -> Project:
    """One project from a YAML or JSON file (``xlperf fill 项目.yaml``), read by
    :func:`xlperf.seeds.project_from_dict`. The file holds one project as in
    ``workbooks/seeds.yaml`` plus ``kind``, ``year`` and optionally ``money_unit`` and ``profile``;
    a seed form item (``kind``/``year``/… and a ``projects`` list of one) or a list of one of
    these is accepted too. YAML scalars stay strings (figures keep their written form); JSON
    numbers are read as ``Decimal``."""
    import yaml

    from .seeds import SeedError, project_from_dict

    from .safezip import Limits, Refused, read_source

    path = Path(path)
    try:   # read_source: a regular file of bounded size (a FIFO would hang read_text)
        text = read_source(path, Limits(max_file_bytes=5 * 2**20)).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GenerateError("项目数据文件应为 UTF-8 编码的 YAML 或 JSON。").at(path) from None
    except Refused as exc:
        raise GenerateError(f"无法读取项目数据文件：{exc.message}").at(path) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text, parse_float=Decimal)
        else:
            data = yaml.load(text, Loader=yaml.BaseLoader)
    except json.JSONDecodeError as exc:
        raise GenerateError(f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}").at(path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"（第 {mark.line + 1} 行）" if mark is not None else ""
        raise GenerateError(f"不是有效的 YAML{line}：{getattr(exc, 'problem', None) or exc}").at(path) from None
    if isinstance(data, list):
        if len(data) != 1:
            raise GenerateError(f"文件中有 {len(data)} 项，xlperf fill 每次填写一个项目"
                                "（批量生成请用 xlperf generate 登记表）。").at(path)
        data = data[0]
    if not isinstance(data, dict):
        raise GenerateError("项目数据应为一个映射（字段: 值），格式见 workbooks/SEEDS-SCHEMA.md。").at(path)
    settings = data
    if "projects" in data:
        projects = data["projects"]
        if not isinstance(projects, list) or len(projects) != 1:
            count = len(projects) if isinstance(projects, list) else 0
            raise GenerateError(f"字段 projects 中有 {count} 个项目，xlperf fill 每次填写一个项目"
                                "（批量生成请用 xlperf generate 登记表）。").at(path)
        data = projects[0]
    file_kind = settings.get("kind") or None
    if kind and file_kind and file_kind != kind:
        raise GenerateError(f"文件中的 kind 是「{file_kind}」，与 --kind {kind} 不符。").at(path)
    if not (kind or file_kind):
        raise GenerateError("缺少字段 kind（申报表 或 自评表），也可用 --kind 指定。").at(path)
    try:
        project = project_from_dict(data, kind=kind or file_kind, year=settings.get("year"),
                                    money_unit=settings.get("money_unit") or "元", profile=settings.get("profile"))
    except SeedError as exc:
        raise GenerateError(exc.message).at(path) from None
    if settings.get("profile"):
        try:
            _profiles.get(project.profile)
        except XlperfError as exc:
            raise GenerateError(f"字段 profile：{exc.message}").at(path) from None
    return project


def _prepare_fill(project: Project, profile: str | None, source, mode: str = "portable") -> None:
    """The check ``generate`` makes of a register row (:func:`xlperf.prepare.prepare`): weights,
    printed scores as 人工调整得分; errors stop, warnings are printed."""
    from .prepare import prepare

    if profile:
        project.profile = profile
    where = lambda issue: "" if issue.index is None else f"第 {issue.index + 1} 个指标：" # noqa: E731
    issues = prepare(project, _profiles, mode=mode)
    for issue in issues:
        if issue.warning:
            print(f"提醒：{source}：{where(issue)}{issue.message}", file=sys.stderr)
    errors = [f"{where(i)}{i.message}" for i in issues if not i.warning]
    if errors:
        raise GenerateError("；".join(errors)).at(source)


def _cmd_fill(args) -> int:
    if args.seed:
        from .seeds import load
        found = [f.project for f in load() if f.project.key == args.seed]
        if not found:
            raise GenerateError(f"样例数据中没有编号为「{args.seed}」的项目。")
        project = found[0]
        if args.kind and args.kind != project.kind:
            raise GenerateError(f"样例项目 {args.seed} 是{project.kind}，不是{args.kind}。")
    elif args.input:
        project = _load_project_file(Path(args.input), args.kind)
    else:
        raise GenerateError("请给出项目数据文件（YAML/JSON）或 --seed 编号。")
    _prepare_fill(project, args.profile, args.input or f"样例 {args.seed}", args.mode)
    out = write(project, Path(args.out), force=args.force, mode=args.mode, profile=args.profile,
                template_dir=args.templates, password=args.password)
    print(f"已生成 {out}")
    return 0


def _cmd_generate(args) -> int:
    from .model import KINDS

    started = time.perf_counter()

    if bool(args.register) == bool(args.from_dir):
        raise GenerateError("请给出登记表（xlperf generate 登记表.xlsx --out 文件夹），或用 --from 指定申报表文件夹（滚动生成自评表），二者选一。")
    errors: list = []
    summary = None
    if args.from_dir:
        if args.kind and args.kind != SELF_EVALUATION:
            raise GenerateError("--from 由已填写的申报表生成自评表，--kind 只能是 自评表。")
        jobs, errors, others = roll_forward_jobs(args.from_dir, year=args.year, profile=args.profile, mode=args.mode)
        source = f"申报表文件夹「{args.from_dir}」" + (f"（跳过 {others} 个不是申报表的工作簿）" if others else "")
    else:
        from .register import RegisterStream

        # Streamed: each project goes to the workers as soon as its rows are read (the read
        # runs beside the writing, and a 20,000-project register is never all in memory);
        # the register's errors are known, and printed, once it has been read to the end.
        reading = RegisterStream(args.register, kind=args.kind, year=args.year, default_profile=args.profile,
                                 progress=False if args.quiet else None, mode=args.mode)
        kinds_seen: set = set()

        def entries():
            for entry in reading:
                kinds_seen.add(entry.project.kind)
                yield entry

        try:
            if reading.total:
                summary = generate_all(entries(), Path(args.out), mode=args.mode, force=args.force,
                                       workers=args.jobs, template_dir=args.templates, password=args.password,
                                       progress=False if args.quiet else None, total=reading.total)
            else:
                for _entry in entries():    # nothing to yield: the errors are then complete
                    pass
        finally:
            reading.close()
        errors = reading.errors
        kinds = "、".join(k for k in KINDS if k in kinds_seen) or (args.kind or "")
        source = f"登记表「{args.register}」（{kinds}）"
        jobs = [None] * reading.total   # only their number is looked at below
    for exc in errors:
        print(f"错误：{exc}", file=sys.stderr)
    if not jobs:
        print(f"{source}中没有可生成的项目。", file=sys.stderr)
        return 1 if errors else 0
    if summary is None:
        summary = generate_all(jobs, Path(args.out), mode=args.mode, force=args.force, workers=args.jobs,
                               template_dir=args.templates, password=args.password,
                               progress=False if args.quiet else None, release=True)
    reported = {str(e) for e in errors}
    for o in summary.outcomes_failed:
        if not set(o.message.split("；")) <= reported:
            print(f"错误：{o.path or o.key}：{o.message}", file=sys.stderr)
    if not args.quiet:
        for w in summary.warnings:
            print(f"提醒：{w}", file=sys.stderr)
    c = summary.counts
    parts = [f"新生成 {c.get(STATUS_NEW, 0)} 个"]
    for status in (STATUS_REPLACED, STATUS_SAME, STATUS_SKIPPED):
        if c.get(status):
            parts.append(f"{status} {c[status]} 个")
    if not args.force and c.get(STATUS_SKIPPED):
        parts[-1] += "（加 --force 可覆盖，原文件保留 .bak）"
    if summary.failed or errors:
        parts.append(f"未生成 {summary.failed} 个（错误 {len(errors) or summary.failed} 处，见上方）")
    rate = summary.files / summary.seconds if summary.seconds > 0 else 0
    wall = elapsed(started)   # the whole run: start-up and reading the register included
    print(f"{source} → {summary.out_dir}：{'，'.join(parts)}；用时 {wall:.2f} 秒"
          + (f"（其中生成 {summary.seconds:.2f} 秒，{rate:,.0f} 个/秒）" if summary.files >= 100 else "")
          + f"。清单：{summary.manifest}")
    return 1 if (summary.failed or errors) else 0


def register_cli(sub) -> None:
    p = sub.add_parser("fill", help="填写一个项目 → 一个工作簿")
    p.add_argument("input", nargs="?",
                   help="项目数据（YAML 或 JSON）：一个项目，字段同 workbooks/seeds.yaml 中 projects 的一项"
                        "（见 workbooks/SEEDS-SCHEMA.md），另加 kind（申报表/自评表）、year，可选 money_unit（元/万元）、profile")
    p.add_argument("--seed", help="改用样例数据中的项目，如 001-01")
    p.add_argument("--kind", choices=["申报表", "自评表"], help="表格类型（默认取项目数据中的 kind）")
    p.add_argument("-o", "--out", required=True, help="输出 .xlsx 文件")
    p.add_argument("--mode", choices=MODES, default="portable",
                   help="portable：仅用 Excel 原生函数（默认，发给他人用）；udf：调用 xlperf 加载项函数")
    p.add_argument("--profile", help="评分规则（默认取项目自带的，否则 shanghai）")
    p.add_argument("--templates", type=Path, help="模板文件夹（默认 templates/）")
    p.add_argument("--password", help="工作表保护密码（默认无密码）")
    p.add_argument("--force", action="store_true", help="覆盖已存在的文件（保留 .bak 备份）")
    p.set_defaults(func=_cmd_fill)

    g = sub.add_parser(
        "generate", help="按登记表批量生成：每个项目一个工作簿，按实施单位分文件夹，附 manifest.csv",
        description="按登记表（项目清单 + 绩效指标）为每个项目生成一份申报表或自评表："
                    "输出文件夹/<实施单位>/<年度>_<项目名称>_<表格类型>.xlsx，并写 manifest.csv（文件、项目序号、sha256、状态）。"
                    "已存在的文件不覆盖（除非 --force，并保留 .bak 备份）；某个项目有错误时指出工作表、行和列，其余照常生成，退出码为 1。")
    g.add_argument("register", nargs="?", help="登记表 .xlsx（可用 xlperf register-template 生成模板）")
    g.add_argument("--from", dest="from_dir", metavar="申报表文件夹",
                   help="滚动生成：由已填写的申报表（xlperf 生成的工作簿）生成同年度的自评表，指标、目标值、年初预算数照搬")
    g.add_argument("--kind", choices=["申报表", "自评表"], help="只生成这一种表（默认登记表中的两种都生成）")
    g.add_argument("--year", type=int, help="表格年度（默认取登记表的「年度」列；--from 时取申报表的年度）")
    g.add_argument("-o", "--out", required=True, help="输出文件夹")
    g.add_argument("--mode", choices=MODES, default="portable",
                   help="portable：仅用 Excel 原生函数（默认）；udf：调用 xlperf 加载项函数")
    g.add_argument("--profile", help="评分规则：登记表「评分规则」列为空的项目用它；--from 时用于生成的自评表（默认 shanghai）")
    g.add_argument("--force", action="store_true", help="覆盖已存在的文件（原文件保留为 .bak）")
    g.add_argument("-j", "--jobs", type=int, help="并行进程数（默认 CPU 核数；1 为不并行）")
    g.add_argument("--templates", type=Path, help="模板文件夹（默认 templates/）")
    g.add_argument("--password", help="工作表保护密码（默认无密码）")
    g.add_argument("-q", "--quiet", action="store_true", help="不显示进度条和提醒")
    g.set_defaults(func=_cmd_generate)
