"""Re-score a filled xlperf workbook with the engine: ``xlperf recalc FILE`` and the
ribbon's 重新计算 / 检查 buttons share this code.

Reading goes through the workbook's ``xp_*`` defined names (so a person may have
moved rows); :func:`project_from_names` is the one reader, fed by an openpyxl
adapter (files) or an xlwings adapter (the open workbook). Scores and findings come
from :mod:`xlperf.scoring` and :mod:`xlperf.validate`; input cells are never changed.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from .errors import XlperfError
from .model import DECLARATION, DEFAULT_PROFILE, FUNDS_ROWS, SELF_EVALUATION, FundsLine, Indicator, Project
from .notation import from_excel, is_blank, to_decimal
from .template import atomic_write, cell_xml, xml_text

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
                                                      "score", "note", "override")}
        refs3, level3 = columns["level3"]
        last1 = last2 = ""
        for k, name3 in enumerate(level3):
            get = lambda f: columns[f][1][k] if k < len(columns[f][1]) else None  # noqa: E731
            l1, l2, target = get("level1") or last1, get("level2") or last2, get("target")
            last1, last2 = l1, l2
            if not name3 and not target:
                continue
            i = len(project.indicators)
            for f in ("target", "actual", "weight", "score", "note", "override"):
                if k < len(columns[f][0]):
                    cells[f"indicators.{i}.{f}"] = columns[f][0][k]
            actual = get("actual")
            project.indicators.append(Indicator(
                str(l1), str(l2), str(name3 or ""), str(target or ""),
                weight=_amount(get("weight"), "分值"),
                actual=None if actual is None or actual == "" else (actual if isinstance(actual, str) else str(actual)),
                score=_amount(get("score"), "得分"), note=str(get("note") or ""),
                override=_amount(get("override"), "人工调整得分")))
    except XlperfError as exc:
        raise exc.at(source_file, sheet) if exc.location is None else exc
    project.cells = cells
    return project


# ------------------------------------------------------------------ adapters

def openpyxl_lookup(wb) -> Lookup:
    def lookup(name: str):
        dn = wb.defined_names.get(name)
        if dn is None:
            return None
        for sheet, ref in dn.destinations:
            ws = wb[sheet]
            rng = ws[ref.replace("$", "")]
            cells = [c for row in rng for c in row] if isinstance(rng, tuple) else [rng]
            if cells and isinstance(cells[0], tuple):
                cells = [c for row in cells for c in row]
            return sheet, [c.coordinate for c in cells], [c.value for c in cells]
        return None
    return lookup


def xlwings_lookup(book) -> Lookup:
    """Adapter for an open workbook (xlwings Book): the same reader as for files."""
    def lookup(name: str):
        try:
            rng = book.names[name].refers_to_range
        except Exception:  # noqa: BLE001 - xlwings raises COM/KeyError variants for a missing name
            return None
        refs = [c.get_address(False, False) for c in rng]
        values = [c.value for c in rng]
        return rng.sheet.name, refs, values
    return lookup


def read_file(path: Path) -> Project:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise RecalcError(f"无法打开工作簿：{exc}").at(path) from exc
    try:
        return project_from_names(openpyxl_lookup(wb), str(path))
    finally:
        wb.close()


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
    return check_project(project)


def findings_rows(findings: Sequence) -> list[tuple]:
    rows = [FINDINGS_HEADER]
    for f in findings:
        rows.append((f.severity, f.sheet, f.cell, f.message_zh, f.found, f.expected))
    if len(rows) == 1:
        rows.append(("提示", "", "", "未发现问题。", "", ""))
    return rows


# ------------------------------------------------------------------ files

def add_sheet(xlsx: bytes, name: str, rows: Sequence[Sequence]) -> bytes:
    """Return ``xlsx`` with a (new or replaced) plain-text sheet ``name`` appended."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    parts = {i.filename: src.read(i.filename) for i in src.infolist()}
    wb = parts["xl/workbook.xml"].decode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    ct = parts["[Content_Types].xml"].decode()
    n = 1
    while f"xl/worksheets/sheet{n}.xml" in parts:
        n += 1
    part = f"xl/worksheets/sheet{n}.xml"
    rid = f"rIdXp{n}"
    ids = [int(x) for x in re.findall(r'sheetId="(\d+)"', wb)] or [0]
    esc = xml_text(name)
    wb = re.sub(rf'<sheet [^>]*name="{re.escape(esc)}"[^>]*/>', "", wb)
    wb = wb.replace("</sheets>", f'<sheet name="{esc}" sheetId="{max(ids) + 1}" r:id="{rid}"/></sheets>')
    start = wb.index("<workbook")
    if "xmlns:r=" not in wb[start:wb.index(">", start)]:
        wb = wb.replace("<workbook", '<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"', 1)
    rels = rels.replace("</Relationships>", f'<Relationship Id="{rid}" Type="http://schemas.openxmlformats.org/'
                        f'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/></Relationships>')
    ct = ct.replace("</Types>", f'<Override PartName="/{part}" ContentType="application/vnd.openxmlformats-'
                    f'officedocument.spreadsheetml.worksheet+xml"/></Types>')
    body = "".join(
        f'<row r="{r}">' + "".join(cell_xml(f"{chr(65 + c)}{r}", None, "" if v is None else str(v))
                                  for c, v in enumerate(row)) + "</row>"
        for r, row in enumerate(rows, start=1))
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<cols><col min="1" max="3" width="10" customWidth="1"/><col min="4" max="4" width="60" customWidth="1"/>'
             '<col min="5" max="6" width="16" customWidth="1"/></cols>'
             f"<sheetData>{body}</sheetData></worksheet>")
    parts.update({"xl/workbook.xml": wb.encode(), "xl/_rels/workbook.xml.rels": rels.encode(),
                  "[Content_Types].xml": ct.encode(), part: sheet.encode()})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for filename, data in parts.items():
            z.writestr(filename, data)
    return out.getvalue()


def recalc_file(path: Path, out: Path | None = None, *, in_place: bool = False, force: bool = False):
    """Re-score ``path``: the computed cells get the engine's values (as cached values
    of the same formulas) and a 检查结果 sheet lists the findings. Input values are
    written back exactly as read. Returns (output path, findings)."""
    from .generate import render

    path = Path(path)
    project = read_file(path)
    if project.kind != SELF_EVALUATION:
        raise RecalcError("只有自评表需要重新计分；申报表请用 xlperf check 检查。").at(path)
    findings = findings_for(project)
    mode = "udf" if "XLPERF_" in _sheet_formulas(path) else "portable"
    data = add_sheet(render(project, mode=mode, profile=project.profile), FINDINGS_SHEET, findings_rows(findings))
    target = path if in_place else (out or path.with_name(f"{path.stem}_重算{path.suffix}"))
    if target.exists():
        if not (force or in_place):
            raise RecalcError(f"文件「{target}」已存在，未覆盖（加 --force 覆盖）。")
        atomic_write(target.with_name(target.name + ".bak"), target.read_bytes())
    atomic_write(target, data)
    return target, findings


def _sheet_formulas(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                       if n.startswith("xl/worksheets/sheet"))


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
    p.add_argument("--in-place", action="store_true", help="直接更新原文件（保留 .bak 备份）")
    p.add_argument("--force", action="store_true", help="覆盖已存在的输出文件")

    def run(args) -> int:
        target, findings = recalc_file(args.file, args.out, in_place=args.in_place, force=args.force)
        errors = sum(1 for f in findings if f.severity == "错误")
        print(f"已写出 {target}：{len(findings)} 条检查结果（错误 {errors} 条）。")
        return 1 if errors else 0

    p.set_defaults(func=run)
