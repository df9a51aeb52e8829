"""Re-score a filled xlperf workbook with the engine: ``xlperf recalc FILE`` and the
ribbon's 重新计算 / 检查 buttons share this code.

Reading goes through the workbook's ``xp_*`` defined names (so a person may have
moved rows); :func:`project_from_names` is the one reader, fed by the guarded file
reader :mod:`xlperf.named_cells` (files) or an xlwings adapter (the open workbook).
Scores and findings come from :mod:`xlperf.scoring` and :mod:`xlperf.validate`; input
cells are never changed.

A file is read once, behind harvest's guards (:mod:`xlperf.safezip`), and written back
as the same package (:mod:`xlperf.xlsx_edit`): only the cached values of the cells
xlperf computes change and the 检查结果 sheet is added or replaced, so sheets, comments,
links, images, names, validations, formats and macros people added all stay.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Sequence

from .errors import XlperfError
from .model import DECLARATION, DEFAULT_PROFILE, FUNDS_ROWS, SELF_EVALUATION, FundsLine, Indicator, Project
from .notation import from_excel, is_blank, to_decimal
from .template import atomic_write, cell_xml
from .winpaths import fit_name

FINDINGS_SHEET = "检查结果"
FINDINGS_HEADER = ("严重程度", "工作表", "单元格", "问题", "填写值", "应为")

# Lookup: defined name → (sheet, [A1 refs], [values]) or None when the name is absent.
Lookup = Callable[[str], "tuple[str, list[str], list] | None"]


class RecalcError(XlperfError):
    pass


def _value(v):
    if isinstance(v, float):
        return from_excel(v)
    if isinstance(v, str):
        return v.strip()
    return v


_LABELS = {"initial": "年初预算数", "budget": "全年预算数", "executed": "全年执行数"}


def _amount(v, where, file="", sheet="", cell=None):
    v = _value(v)
    if v is None or (isinstance(v, str) and is_blank(v)):
        return None
    try:
        return to_decimal(v, where)
    except XlperfError as exc:
        raise exc.at(file, sheet, cell) if cell else exc


def project_from_names(lookup: Lookup, source_file: str = "") -> Project:
    """Build a :class:`Project` from an xlperf workbook's named cells."""
    from .named_cells import Unread

    first = lookup("xp_ind_level1")
    if first is None:
        raise RecalcError("这不是 xlperf 生成的工作簿（找不到名称 xp_ind_level1），无法按字段读取。")
    sheet = first[0]
    cells: dict[str, str] = {}

    def one(name, path=None, default=""):
        got = lookup(name)
        if got is None:
            return default
        if path:
            cells[path] = got[1][0]
        v = _value(got[2][0])
        return default if v is None else v

    def many(name):
        got = lookup(name)
        return (got[1], [_value(v) for v in got[2]]) if got else ([], [])

    kind = SELF_EVALUATION if lookup("xp_total_score") is not None else DECLARATION
    year_text = str(one("xp_year"))
    year = int(m.group(1)) if (m := re.search(r"(\d{4})", year_text)) else 0
    unit_text = str(one("xp_money_unit"))
    project = Project(kind=kind, year=year, name=str(one("xp_project_name", "name")),
                      department=str(one("xp_department", "department")), unit=str(one("xp_unit", "unit")),
                      money_unit="万元" if "万元" in unit_text else "元",
                      profile=str(one("xp_profile") or DEFAULT_PROFILE),
                      source_file=source_file, source_sheet=sheet)
    try:
        if kind == SELF_EVALUATION:
            project.annual_goal = str(one("xp_expected_goal"))
            project.actual_result = str(one("xp_actual_result"))
            refs = {k: many(f"xp_funds_{k}") for k in ("initial", "budget", "executed", "rate")}
            for i, row in enumerate(FUNDS_ROWS):
                line = FundsLine()
                for attr, key in (("initial", "initial"), ("budget", "budget"), ("executed", "executed")):
                    r, vals = refs[key]
                    if i < len(vals):
                        cells[f"funds.{row}.{attr}"] = r[i]
                        setattr(line, attr, _amount(vals[i], f"{row}{_LABELS[attr]}", source_file, sheet, r[i]))
                project.funds[row] = line
            if refs["rate"][0]:
                cells["funds_rate"] = refs["rate"][0][0]
                cells["funds.年度资金总额.rate"] = refs["rate"][0][0]
            w = one("xp_funds_weight", "funds_weight", None)
            project.funds_weight = _amount(w, "分值")
            project.funds_score = _amount(one("xp_funds_score", "funds_score", None), "得分")
            project.total_score = _amount(one("xp_total_score", "total_score", None), "总分")
            cells["total_weight"] = (lookup("xp_total_weight") or ("", [""], []))[1][0]
            project.grade = str(one("xp_grade", "grade") or "")
        else:
            for name in ("nature", "category", "start", "end", "total_goal", "annual_goal"):
                setattr(project, name, str(one(f"xp_{name}", name)))
            for name in ("project_total", "project_fiscal", "project_other", "annual_total",
                         "annual_fiscal", "annual_carryover", "annual_other"):
                setattr(project.declared, name, _amount(one(f"xp_{name}", f"declared.{name}", None), name))
        columns = {f: many(f"xp_ind_{f}") for f in ("level1", "level2", "level3", "target", "actual", "weight",
                                                      "score", "note", "override", "value", "proposal")}
        refs3, level3 = columns["level3"]
        last1 = last2 = ""
        for k, name3 in enumerate(level3):
            get = lambda f: columns[f][1][k] if k < len(columns[f][1]) else None  # noqa: E731
            l1, l2, target = get("level1") or last1, get("level2") or last2, get("target")
            last1, last2 = l1, l2
            if not name3 and not target:
                continue
            i = len(project.indicators)
            for f in ("target", "actual", "weight", "score", "note", "override", "value", "proposal"):
                if k < len(columns[f][0]):
                    cells[f"indicators.{i}.{f}"] = columns[f][0][k]
            actual = get("actual")
            unread = (target.why, target.held) if isinstance(target, Unread) else None
            if unread:
                target = ""               # said by the check at the cell (validate: unreadable)
            project.indicators.append(Indicator(
                str(l1), str(l2), str(name3 or ""), str(target or ""),
                weight=_amount(get("weight"), "分值"),
                actual=None if actual is None or actual == "" else (actual if isinstance(actual, str) else str(actual)),
                score=_amount(get("score"), "得分"), note=str(get("note") or ""),
                override=_amount(get("override"), "人工调整得分"), unread_target=unread))
    except XlperfError as exc:
        raise exc.at(source_file, sheet) if exc.location is None else exc
    project.cells = cells
    return project


# ------------------------------------------------------------------ adapters

def named_lookup(named) -> Lookup:
    """Adapter for a file read by :func:`xlperf.named_cells.read_names`. Targets come as the
    person typed them (:func:`xlperf.named_cells.typed_values`: ``=100%`` stored as a formula
    reads ``=100%``, not 1), as check and harvest read them."""
    from .named_cells import typed_values

    def lookup(name: str):
        if name not in named.values:
            return None
        values = typed_values(named, name) if name == "xp_ind_target" else named.values[name]
        return named.sheet[name], named.refs[name], values
    return lookup


def xlwings_lookup(book) -> Lookup:
    """Adapter for an open workbook (xlwings Book): the same reader as for files."""
    def lookup(name: str):
        try:
            rng = book.names[name].refers_to_range
        except Exception:  # noqa: BLE001 - xlwings raises COM/KeyError variants for a missing name
            return None
        refs = [c.get_address(False, False) for c in rng]
        values = [_live_target(c) if name == "xp_ind_target" else c.value for c in rng]
        return rng.sheet.name, refs, values
    return lookup


def _live_target(cell):
    """A target cell of the open workbook as typed (:func:`xlperf.notation.as_typed`, as for
    files): Excel tells its formula and number format, so ``=100%`` is not read as 1."""
    from .errors import NotationError
    from .named_cells import Unread
    from .notation import as_typed
    from .safezip import _is_percent_format

    value = cell.value
    if isinstance(value, str) and value.strip():
        return value                      # text: what the cell shows (no COM round trips)
    f = cell.formula
    formula = f[1:] if isinstance(f, str) and f.startswith("=") else None
    try:
        return as_typed(value, formula=formula, percent=_is_percent_format(str(cell.number_format or "")))
    except NotationError as exc:
        return Unread(exc.message, (f"={formula}" if formula else str(value))[:200])


def read_file(path: Path) -> Project:
    return _read(Path(path), None)[0]


def _read(path: Path, data: bytes | None):
    """(project, named cells) of the workbook at ``path`` (its bytes ``data`` when already
    read), behind the safe-zip guards."""
    from .named_cells import read_names
    from .safezip import Refused, inspect_bytes, open_container

    try:
        container = inspect_bytes(data) if data is not None else open_container(path)
        named = read_names(path, container=container)
    except Refused as exc:
        raise RecalcError(f"无法打开工作簿：{exc.message}").at(path) from None
    return project_from_names(named_lookup(named), str(path)), named


def findings_for(project: Project) -> list:
    """Findings after recalculation: the computed cells take the engine's values (that
    is what recalc writes), so only what the user typed can be wrong."""
    from .scoring import score_project
    from .validate import check_project

    if project.kind == SELF_EVALUATION:
        s = score_project(project)
        project.funds_rate = s.rates.get("年度资金总额")
        project.funds_score, project.total_score, project.grade = s.funds_score, s.total, s.grade or ""
        for ind, res in zip(project.indicators, s.indicators):
            ind.score = res.score if res is not None else None
    # The total-vs-sub-rows check (validate ``subrows``) runs in check/harvest only: the Windows
    # checklist's ribbon scenario edits 年度资金总额 alone; whether recalc flags it too is for the
    # recalc/add-in owners to decide with that scenario (issue 13 item 6 note).
    return [f for f in check_project(project) if getattr(f, "check", "") != "subrows"]


def findings_rows(findings: Sequence) -> list[tuple]:
    rows = [FINDINGS_HEADER]
    for f in findings:
        rows.append((f.severity, f.sheet, f.cell, f.message_zh, f.found, f.expected))
    if len(rows) == 1:
        rows.append(("提示", "", "", "未发现问题。", "", ""))
    return rows


# ------------------------------------------------------------------ files

#: The names of the cells xlperf computes: recalc sets their cached values, nothing else.
_FUNDS_OWNED = ("xp_funds_rate", "xp_funds_score", "xp_total_weight", "xp_total_score", "xp_grade")
_INDICATOR_OWNED = ("score", "value", "proposal")
#: Columns of the 检查结果 sheet (Excel widths), chosen to fit A4 landscape.
_WIDTHS = (9, 12, 9, 60, 18, 18)


def findings_sheet_xml(rows: Sequence[Sequence], style: int) -> bytes:
    """The 检查结果 sheet: text cells that wrap, row heights from the text, A4 landscape
    fitted to the page width, the header row repeated on every page (the print title is
    set by the caller), and a page footer."""
    from .generate import _height, _lines

    body = []
    for r, row in enumerate(rows, start=1):
        texts = ["" if v is None else str(v) for v in row]
        lines = max(_lines(t, w) for t, w in zip(texts, _WIDTHS))
        cells = "".join(cell_xml(f"{chr(65 + c)}{r}", str(style), t) for c, t in enumerate(texts))
        body.append(f'<row r="{r}" ht="{_height(lines, 18, 14)}" customHeight="1">{cells}</row>')
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(_WIDTHS, 1))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            'state="frozen"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            f"<cols>{cols}</cols><sheetData>{''.join(body)}</sheetData>"
            '<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.7" header="0.3" footer="0.3"/>'
            '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
            '<headerFooter><oddFooter>&amp;C第 &amp;P 页，共 &amp;N 页</oddFooter></headerFooter>'
            "</worksheet>").encode("utf-8")


def _owned_values(project: Project, named) -> dict[str, dict]:
    """sheet → {A1 → cached value} for the cells xlperf computes, as a fresh render of the
    project computes them (the one place that knows which result goes into which cell)."""
    from .generate import render
    from .named_cells import read_names
    from .safezip import inspect_bytes
    from .xlsx_edit import read_cached

    rendered = inspect_bytes(render(project, profile=project.profile))
    fresh = read_names("", container=rendered)
    sheet_xml = rendered.parts[rendered.sheet_parts[next(iter(fresh.sheet.values()))]]
    pairs: list[tuple[str, str, str]] = []          # (user sheet, user ref, rendered ref)
    for name in _FUNDS_OWNED:
        if name in named.refs and name in fresh.refs:
            pairs += [(named.sheet[name], mine, theirs) for mine, theirs in zip(named.refs[name], fresh.refs[name])]
    sheet = project.source_sheet
    for i in range(len(project.indicators)):
        for f in _INDICATOR_OWNED:
            mine = project.cells.get(f"indicators.{i}.{f}")
            rendered_refs = fresh.refs.get(f"xp_ind_{f}", [])
            if mine and i < len(rendered_refs):
                pairs.append((sheet, mine, rendered_refs[i]))
    cached = read_cached(sheet_xml, [t for _, _, t in pairs])
    out: dict[str, dict] = {}
    for s, mine, theirs in pairs:
        out.setdefault(s, {})[mine] = cached[theirs]
    return out


def recalculated(data: bytes, project: Project, named, findings: Sequence, *, copy: bool = False) -> bytes:
    """The workbook ``data`` with the engine's values in the cells xlperf computes and the
    findings in the 检查结果 sheet; every other part as it was. A ``copy`` (not written over
    its original) records the SHA-256 of ``data`` in the hidden name ``_xlperf_recalc_of``:
    harvest then reads the original and passes over the copy when both are in one folder."""
    import hashlib

    from .xlsx_edit import EditError, add_wrap_style, put_sheet, set_cached, set_defined_name, sheet_part, zip_parts

    c = named.container
    parts = dict(c.parts)
    wb_part = c.workbook_part
    try:
        for sheet, values in _owned_values(project, named).items():
            part = c.sheet_parts[sheet]
            parts[part] = set_cached(parts[part], values)
        existing = sheet_part(parts, FINDINGS_SHEET, wb_part)
        if existing is not None and not _is_findings_sheet(c, FINDINGS_SHEET):
            raise RecalcError(f"工作簿中已有名为「{FINDINGS_SHEET}」的工作表，但不是 xlperf 写的检查结果；"
                              "为免覆盖，未写入。请把该工作表改名后再重算。")
        style = add_wrap_style(parts)
        put_sheet(parts, FINDINGS_SHEET, findings_sheet_xml(findings_rows(findings), style), "$1:$1",
                  replace_part=existing, workbook_part=wb_part)
        if copy:
            set_defined_name(parts, "_xlperf_recalc_of", f'"{hashlib.sha256(data).hexdigest()}"', hidden=True,
                             workbook_part=wb_part)
    except EditError as exc:
        raise RecalcError(exc.message) from None
    return zip_parts(parts)


def _is_findings_sheet(c, sheet: str) -> bool:
    """Whether ``sheet`` holds only a findings table (its first row is our header, nothing
    beyond column F): replacing it loses nothing a person wrote."""
    import io

    from python_calamine import CalamineWorkbook

    if c.sheet_parts.get(sheet) in c.too_large:     # calamine would allocate its whole extent
        return False
    wb = CalamineWorkbook.from_filelike(io.BytesIO(c.reader_bytes()))
    try:
        rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    finally:
        wb.close()
    return bool(rows) and tuple(str(v) for v in rows[0][:6]) == FINDINGS_HEADER and \
        all(v in ("", None) for row in rows for v in row[6:])


def held_open_by(path: Path) -> str | None:
    """The lock file another program keeps beside ``path`` while it has it open, or None:
    LibreOffice ``.~lock.NAME#``, Excel ``~$NAME`` (``~$`` over the first two characters
    for longer names)."""
    name = path.name
    for lock in (f".~lock.{name}#", f"~${name}", f"~${name[2:]}"):
        if os.path.lexists(path.with_name(lock)):
            return lock
    return None


def _refuse_if_open(path: Path) -> None:
    lock = held_open_by(path)
    if lock:
        raise RecalcError(f"文件正被其他程序（Excel 或 WPS/LibreOffice）打开（锁文件「{lock}」），未写入；"
                          "请先关闭该文件再重算。").at(path)


def _stat_key(path: Path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def recalc_file(path: Path, out: Path | None = None, *, in_place: bool = False, force: bool = False):
    """Re-score ``path``: the computed cells get the engine's values (as cached values of
    their formulas) and a 检查结果 sheet lists the findings; everything else in the package
    stays. The file is read once; another program's lock file, a change on disk while we
    worked, or a macro/non-macro mismatch between content and name refuse with nothing
    written. An existing output is kept as a numbered backup (``.bak``, ``.bak2``, …).
    Returns (output path, findings)."""
    from .generate import _backup_path
    from .safezip import DEFAULT_LIMITS, Refused, read_source
    from .xlsx_edit import is_macro_enabled

    path = Path(path)
    target = path if in_place else Path(out or path.with_name(fit_name(path.stem, f"_重算{path.suffix}")))
    _refuse_if_open(path)
    before = _stat_key(path)
    try:
        data = read_source(path, DEFAULT_LIMITS)
    except Refused as exc:
        raise RecalcError(f"无法打开工作簿：{exc.message}").at(path) from None
    project, named = _read(path, data)
    if project.kind != SELF_EVALUATION:
        raise RecalcError("只有自评表需要重新计分；申报表请用 xlperf check 检查。").at(path)
    macro = is_macro_enabled(named.container.parts)
    suffix = target.suffix.lower()
    if macro and suffix != ".xlsm":
        raise RecalcError(f"工作簿含宏，输出文件应以 .xlsm 结尾（不是「{target.name}」），否则宏会丢失或 Excel 无法打开；未写入。"
                          ).at(path)
    if not macro and suffix == ".xlsm":
        raise RecalcError(f"工作簿不含宏，不能以 .xlsm 文件名「{target.name}」保存（Excel 会拒绝打开）；未写入。").at(path)
    findings = findings_for(project)
    new = recalculated(data, project, named, findings, copy=not in_place)
    if target != path:
        _refuse_if_open(target)
    if os.path.lexists(target):
        if not (force or in_place):
            raise RecalcError(f"文件「{target}」已存在，未覆盖（加 --force 覆盖）。")
        if os.path.isdir(target):
            raise RecalcError(f"输出路径「{target}」是一个文件夹。")
        old = data if in_place else _read_for_backup(target)
    if in_place and _stat_key(path) != before:
        raise RecalcError("文件在重算期间被其他程序修改，未写入；请关闭其他程序后重试。").at(path)
    if os.path.lexists(target):
        atomic_write(Path(_backup_path(str(target))), old)
    atomic_write(target, new)
    return target, findings


def _read_for_backup(target: Path) -> bytes:
    from .safezip import Limits, Refused, read_source

    try:
        return read_source(target, Limits(max_file_bytes=2**31))
    except Refused as exc:
        raise RecalcError(f"无法备份已有的输出文件：{exc.message}").at(target) from None


# ------------------------------------------------------------------ Excel

def run_on_book(book, action: str = "recalc") -> list:
    """The ribbon's 重新计算 (``recalc``) and 检查 (``check``) on an open workbook
    (xlwings Book): Excel recalculates its own formulas, the engine checks every
    figure, and the findings are written to the 检查结果 sheet."""
    if action not in ("recalc", "check"):
        raise ValueError(action)
    if action == "recalc":
        book.app.calculate()
    project = project_from_names(xlwings_lookup(book), book.fullname)
    findings = findings_for(project)
    names = [s.name for s in book.sheets]
    sheet = book.sheets[FINDINGS_SHEET] if FINDINGS_SHEET in names else book.sheets.add(
        FINDINGS_SHEET, after=book.sheets[len(names) - 1])
    sheet.clear_contents()
    rows = findings_rows(findings)
    # Text only: prefix nothing, but write as values so nothing is parsed as a formula.
    sheet.range("A1").options(ndim=2).value = [["'" + str(v) if str(v)[:1] in "=+-@" else v for v in r]
                                                 for r in rows]
    return findings


def register_cli(sub) -> None:
    p = sub.add_parser("recalc", help="用评分引擎重新计分并写出检查结果（不改动填写内容）")
    p.add_argument("file", type=Path, help="已填写的自评表（xlperf 生成）")
    p.add_argument("-o", "--out", type=Path, help="输出文件（默认：原文件名_重算.xlsx）")
    p.add_argument("--in-place", action="store_true", help="直接更新原文件（原文件先备份为 .bak、.bak2……）")
    p.add_argument("--force", action="store_true", help="覆盖已存在的输出文件")

    def run(args) -> int:
        from .validate import SEVERITIES, format_finding

        target, findings = recalc_file(args.file, args.out, in_place=args.in_place, force=args.force)
        for f in findings:                       # printed as xlperf check prints them
            print(format_finding(f))
        counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
        print(f"已写出 {target}：{len(findings)} 条检查结果（" + "，".join(f"{s} {counts[s]} 条" for s in SEVERITIES)
              + f"），见工作表「{FINDINGS_SHEET}」。")
        return 1 if counts["错误"] else 0

    p.set_defaults(func=run)
