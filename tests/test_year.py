"""Issue 13 item 1: one year of an invented department, played as people play it.

示例区卫生健康委员会 has three units and twelve projects. The admin fills a blank register
(``xlperf register-template``) the way Excel stores what people type: text, numbers, dates
as dates and as text, ``=100%`` typed as a formula and as text, ``95%`` as a percent-formatted
number, a unit left blank under the one above as if merged. ``generate`` writes the 申报表; the
units edit them in autumn (a changed target, an inserted indicator row, ``=100%`` typed in a
text target cell and in one whose format was lost, stored as a formula); ``generate --from``
writes next spring's 自评表; the units fill them (amounts, actual values typed as people type
them, reasons, ``=100%`` and ``95%`` retyped where the text format was lost) and "Excel" saves them (LibreOffice
recalculates the formulas, as Excel does on save). ``recalc`` runs in both modes, ``check``
and ``harvest --declarations`` read the folders, and the year is rolled on to the next.

Every expectation is written here from the scenario, never from an output of the code under
test: the true problems are the ones this file plants (``TRUE_PROBLEMS``), and each figure is
what :func:`xlperf.scoring.score_project` gives for the project as this file types it.

Assertions whose fix belongs to another developer and is not on main yet are marked
``xfail(strict=True)`` with the owner named; a strict xfail fails as soon as the fix lands,
so the mark is removed then.
"""
from __future__ import annotations

import copy
import datetime as dt
import re
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

import needs
from excel_typing import type_cells
from xlperf import cli, libreoffice, profiles, scoring
from xlperf.generate import MANIFEST, read_declaration, read_manifest
from xlperf.model import DECLARATION, SELF_EVALUATION, FundsLine, Indicator, Project
from xlperf.register import INDICATOR_COLUMNS, INDICATORS_SHEET, PROJECT_COLUMNS, PROJECTS_SHEET

D = Decimal
SHANGHAI = profiles.get("shanghai")
YEAR = 2024
DEPT = "示例区卫生健康委员会"
UNITS = {"U1": ("示例区疾病预防控制中心", "元"), "U2": ("示例区卫生健康委员会监督所", "万元"),
         "U3": ("示例区社区卫生服务中心", "元")}

#: One project's indicators: (一级, 二级, 三级, target as typed in the register, actual as typed
#: in the 自评表). The target "typed" is what a person entered; TARGET_AS below says how Excel
#: stored it.
BASE = [
    ("产出指标", "数量指标", "开展培训次数", "≥12次", "12次"),
    ("产出指标", "质量指标", "培训合格率", "≥95%", "96%"),
    ("产出指标", "时效指标", "按时完成率", "=100%", "100%"),
    ("效益指标", "社会效益指标", "服务覆盖人数", "≥5000人", "5200人"),
    ("效益指标", "可持续影响指标", "长效管理机制", "建立健全", "达成指标"),
    ("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥90%", "93%"),
]
NAMES = ["传染病监测预警", "免疫规划服务", "慢性病综合防控", "健康教育与促进", "卫生监督执法", "公共场所监督抽检",
         "医疗机构依法执业监管", "职业卫生监督", "家庭医生签约服务", "社区老年人健康管理", "基本公共卫生信息系统运维",
         "社区康复服务"]


def _projects() -> list[dict]:
    out = []
    for i, name in enumerate(NAMES, start=1):
        unit = ("U1", "U2", "U3")[(i - 1) // 4]
        out.append({"key": f"P{i:02d}", "unit": unit, "name": f"{name}项目", "inds": [list(b) for b in BASE],
                    "start": dt.datetime(YEAR, 1, 1), "end": dt.datetime(YEAR, 12, 31),
                    "total": D(100000 * i), "fiscal": D(100000 * i), "other": None,
                    "annual": D(100000 * i), "annual_fiscal": D(100000 * i)})
    return out


PROJECTS = _projects()
P = {p["key"]: p for p in PROJECTS}
# --- what the admin types in the register
P["P03"]["inds"][2][3] = "=100%"        # typed with an apostrophe: text
P["P04"]["inds"][4][3] = ""             # a qualitative target left blank (提醒; 申报表 check: missing)
P["P05"]["end"] = dt.datetime(YEAR - 1, 12, 31)   # last year's date left in (提醒; check: decl_year)
P["P06"]["total"] = D("650000")         # 项目资金总额 ≠ 财政资金 + 其他资金 (check: decl_sum)
P["P09"]["start"] = "2024/3/1"          # a date typed as text
P["P09"]["inds"][2][3] = "≥99%"         # the unit will type =100% over it in autumn
MERGED_BLANK = "P12"                    # 实施单位 left blank under P11's, as if merged: refused
#: 项目总目标 / 年度总体目标 with periods, documents and amounts in them (the rest: GOALS_DEFAULT).
GOALS = {
    "P01": (f"{YEAR}-{YEAR + 2}年建成覆盖全区的传染病监测预警网络。",
            f"{YEAR}年1月-12月按月报送监测报告，{YEAR}年底前完成系统验收。"),
    "P02": (f"依据{YEAR}年印发的《示例区公共卫生三年行动计划（{YEAR}-{YEAR + 2}年）》实施。",
            f"完成{YEAR}年度免疫规划任务，安排资金{YEAR}万元。"),
    "P03": (f"({YEAR}年-{YEAR}年)开展慢性病综合防控。",
            f"对照《{YEAR}年示例区慢性病防控工作方案》完成各项任务。"),
}
#: Register cells Excel stores as other than text: (key, indicator index) -> how.
TARGET_AS = {("P01", 2): "formula", ("P02", 1): "percent"}   # =100% typed; 95% typed in a General cell
# --- what the units change in their 申报表 in autumn
EDIT_TARGET = ("P07", 1, "≥96%")        # a declared target changed before submission: no finding
INSERT_ROW = ("P08", 4, ("效益指标", "社会效益指标", "健康知识知晓率", "≥80%", "85%"))   # inside the 效益 merge
TYPED_IN_TARGET = ("P09", 2, "=100%")   # typed into the (text-formatted) target cell
#: Targets typed where a cell lost its text format (format-painted from another workbook): Excel
#: stores =100% as a formula (cached value 1, percent format) and 95% as 0.95 with a percent
#: format. Each is what the cell held as text before, so the targets (and every figure) stay.
DECL_EXCEL_TYPED = ("P10", 2, "=100%")                              # in the 申报表, autumn
SE_EXCEL_TYPED = {("P07", 2): "=100%", ("P02", 1): "95%"}           # in the 自评表, spring
# --- what the units type in their 自评表 next spring
MISSED_NO_REASON = ("P03", 1, "90%")    # below ≥95%, no reason written (check: reason)
MISSED_WITH_REASON = ("P10", 3, "4500人", "受疫情影响，部分活动延期，已调整计划。")
CHANGED_TARGET = ("P11", 5, "≥85%")     # the 自评表 target differs from the 申报表 (check: declared 错误)
OVERSPENT = "P06"                       # 全年执行数 above 全年预算数 (check: overspent)


def funds_of(p: dict) -> tuple[Decimal, Decimal]:
    """(全年预算数, 全年执行数) in the project's money unit."""
    scale = D("0.0001") if UNITS[p["unit"]][1] == "万元" else D(1)
    budget = p["annual"] * scale
    if p["key"] == OVERSPENT:
        return budget, budget + D("1250") * scale * 100
    return budget, (budget * D("0.9634")).quantize(D("0.01"))


def GOALS_DEFAULT(p: dict, year: int) -> tuple[str, str]:
    return f"{p['name']}：保障全年工作目标实现。", f"完成{year}年度{p['name']}各项任务。"


#: The true problems, by where they are: (folder, key) -> Counter of (check, severity).
TRUE_DECLARATION = {"P04": Counter({("missing", "警告"): 1}), "P05": Counter({("decl_year", "警告"): 1, ("decl_dates", "错误"): 1}),
                    "P06": Counter({("decl_sum", "错误"): 1})}
TRUE_SELF_EVALUATION = {"P03": Counter({("reason", "警告"): 1}),
                        "P06": Counter({("overspent", "警告"): 2}),       # 年度资金总额 and 当年财政拨款
                        "P11": Counter({("declared", "错误"): 1}),
                        "P04": Counter({("missing", "警告"): 1}),        # the blank target, carried over
                        "P10": Counter()}   # missed with a reason written: nothing to say


# ------------------------------------------------------------------ helpers: typing into workbooks

def _header_map(ws) -> dict[str, int]:
    return {str(c.value).lstrip("*＊").strip(): c.column for c in ws[1] if c.value is not None}


def _fill_register(path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    pws, iws = wb[PROJECTS_SHEET], wb[INDICATORS_SHEET]
    ph, ih = _header_map(pws), _header_map(iws)
    col = {c.attr: ph[c.header] for c in PROJECT_COLUMNS if c.header in ph}
    icol = {c.attr: ih[c.header] for c in INDICATOR_COLUMNS if c.header in ih}
    prow, irow = 2, 2
    for p in PROJECTS:
        unit, money = UNITS[p["unit"]]
        put = lambda attr, v: pws.cell(prow, col[attr], v)  # noqa: E731
        put("key", p["key"])
        put("kind", DECLARATION)
        put("year", YEAR)                                  # a number, as typed
        put("department", DEPT)
        put("unit", None if p["key"] == MERGED_BLANK else unit)
        put("name", p["name"])
        put("money_unit", money)
        put("nature", "经常性项目")
        put("category", "其他运转类")
        for attr in ("start", "end"):
            c = put(attr, p[attr])
            if isinstance(p[attr], dt.datetime):
                c.number_format = "yyyy-mm-dd"             # a date as Excel stores a typed date
        scale = D("0.0001") if money == "万元" else D(1)
        for attr, key in (("declared.project_total", "total"), ("declared.project_fiscal", "fiscal"),
                          ("declared.annual_total", "annual"), ("declared.annual_fiscal", "annual_fiscal")):
            v = p[key]
            put(attr, None if v is None else float(v * scale))
        total_goal, annual_goal = GOALS.get(p["key"], GOALS_DEFAULT(p, YEAR))
        put("total_goal", total_goal)
        put("annual_goal", annual_goal)
        prow += 1
        for k, (l1, l2, l3, target, _actual) in enumerate(p["inds"]):
            iws.cell(irow, icol["key"], p["key"])
            iws.cell(irow, icol["level1"], l1)
            iws.cell(irow, icol["level2"], l2)
            iws.cell(irow, icol["level3"], l3)
            c = iws.cell(irow, icol["target"])
            how = TARGET_AS.get((p["key"], k))
            if how == "formula":
                c.value = "=100%"                          # Excel: a formula, value 1
            elif how == "percent":
                c.value, c.number_format = 0.95, "0%"      # Excel: 0.95 shown as 95%
            elif target:
                c.value = target
                c.data_type = "s"                          # text, even when it starts with =
            irow += 1
    wb.save(path)


def _cells(wb, name: str) -> list[str]:
    (sheet, ref), = list(wb.defined_names[name].destinations)[:1]
    c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
    return [f"{openpyxl.utils.get_column_letter(c1)}{r}" for r in range(r1, r2 + 1)]


def _set_text(cell, text: str) -> None:
    cell.value = text
    cell.data_type = "s"          # the cell is text-formatted: what is typed stays text


def _insert_indicator_row(path: Path, before: int, values: tuple) -> None:
    """Excel's 插入行 inside the indicator table of a 申报表: the rows below move down, a merge
    the row falls in (the 一级指标 cell) grows, the defined names spanning the table grow."""
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    rows = [int(re.sub(r"[A-Z]+", "", c)) for c in _cells(wb, "xp_ind_level3")]
    at = rows[before]
    ws.insert_rows(at)
    for col in range(1, ws.max_column + 1):          # Excel gives the new row the format of the row above
        ws.cell(at, col)._style = copy.copy(ws.cell(at - 1, col)._style)
    ws.row_dimensions[at].height = ws.row_dimensions[at - 1].height
    merges = list(ws.merged_cells.ranges)
    for m in merges:
        ws.merged_cells.remove(m)
    for m in merges:
        if m.min_row >= at:
            m.shift(0, 1)
        elif m.max_row >= at:
            m.expand(down=1)
        ws.merged_cells.add(m)
    for dn in wb.defined_names.values():
        (sheet, ref), = list(dn.destinations)[:1]
        c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
        if r1 <= at <= r2:
            col1, col2 = openpyxl.utils.get_column_letter(c1), openpyxl.utils.get_column_letter(c2)
            dn.attr_text = f"'{sheet}'!${col1}${r1}:${col2}${r2 + 1}"
    target_col = re.match(r"[A-Z]+", _cells(wb, "xp_ind_target")[0]).group(0)
    for name, value in zip(("xp_ind_level2", "xp_ind_level3", "xp_ind_target"), values[1:4]):
        col = re.match(r"[A-Z]+", _cells(wb, name)[0]).group(0)
        _set_text(ws[f"{col}{at}"], value)
    nxt = openpyxl.utils.get_column_letter(openpyxl.utils.column_index_from_string(target_col) + 1)
    ws.merge_cells(f"{target_col}{at}:{nxt}{at}")
    wb.save(path)


# ------------------------------------------------------------------ the year

@pytest.fixture(scope="module")
def year(tmp_path_factory):
    needs.require("soffice")
    root = tmp_path_factory.mktemp("year")
    out = {"root": root}
    reg = root / "登记表.xlsx"
    assert cli.main(["register-template", "-o", str(reg)]) == 0
    _fill_register(reg)
    out["register"] = reg

    # 1. the admin generates the 申报表
    decl = root / "申报"
    out["generate"] = _run(["generate", str(reg), "--out", str(decl)])
    out["manifest"] = read_manifest(decl / MANIFEST)

    # 2. the units edit their 申报表 in autumn
    files = {r["项目序号"]: decl / r["文件"] for r in out["manifest"] if r["文件"]}
    out["decl_files"] = files
    key, k, target = EDIT_TARGET
    wb = openpyxl.load_workbook(files[key])
    _set_text(wb.active[_cells(wb, "xp_ind_target")[k]], target)
    wb.save(files[key])
    key, k, target = TYPED_IN_TARGET
    wb = openpyxl.load_workbook(files[key])
    _set_text(wb.active[_cells(wb, "xp_ind_target")[k]], target)
    wb.save(files[key])
    key, before, values = INSERT_ROW
    _insert_indicator_row(files[key], before, values)
    key, k, _target = DECL_EXCEL_TYPED
    wb = openpyxl.load_workbook(files[key])
    type_cells(files[key], {_cells(wb, "xp_ind_target")[k]: ("=100%", "0%", "1")})

    # 3. next spring: 自评表 from the 申报表
    se = root / "自评"
    out["from"] = _run(["generate", "--from", str(decl), "--out", str(se)])
    se_files = {}
    for r in read_manifest(se / MANIFEST):
        if r["文件"]:
            d = read_declaration(files_by_rel(decl, r["项目序号"]))
            se_files[_key_of(d.name)] = se / r["文件"]
    out["se_files"] = se_files

    # 4. the units fill them, typing as people type
    for key, path in se_files.items():
        _fill_self_evaluation(key, path)
    # "Excel" saves: every formula calculated, as the saved file of a unit holds it
    saved = root / "已保存"
    libreoffice.recalculate(sorted(se_files.values()), saved, timeout=900)
    for path in se_files.values():
        shutil.copyfile(saved / path.name, path)
    out["se"], out["decl"] = se, decl
    return out


def files_by_rel(folder: Path, rel: str) -> Path:
    return folder / rel


def _key_of(name: str) -> str:
    return next(p["key"] for p in PROJECTS if p["name"] == name)


def _run(argv) -> dict:
    import contextlib
    import io
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = cli.main(argv)
    return {"code": code, "stderr": err.getvalue(), "stdout": std.getvalue()}


def _indicators_now(key: str) -> list[list]:
    """The project's indicators as they stand in the 自评表: register + autumn edits + spring."""
    inds = [list(i) for i in P[key]["inds"]]
    if key == "P01":
        inds[2][3] = "=100%"
    if key == "P02":
        inds[1][3] = "95%"
    k_key, k, target = EDIT_TARGET
    if key == k_key:
        inds[k][3] = target
    t_key, k, target = TYPED_IN_TARGET
    if key == t_key:
        inds[k][3] = target
    i_key, before, values = INSERT_ROW
    if key == i_key:
        inds.insert(before, list(values))
    m_key, k, actual = MISSED_NO_REASON
    if key == m_key:
        inds[k][4] = actual
    r_key, k, actual, _note = MISSED_WITH_REASON
    if key == r_key:
        inds[k][4] = actual
    return inds


def _fill_self_evaluation(key: str, path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    budget, executed = funds_of(P[key])
    b_cells, e_cells = _cells(wb, "xp_funds_budget"), _cells(wb, "xp_funds_executed")
    ws[b_cells[0]].value, ws[e_cells[0]].value = float(budget), float(executed)       # typed numbers
    ws[b_cells[1]].value, ws[e_cells[1]].value = float(budget), float(executed)
    ws[_cells(wb, "xp_actual_result")[0]].value = "已按计划完成年度任务。"
    inds = _indicators_now(key)
    actual_cells = _cells(wb, "xp_ind_actual")
    assert len(actual_cells) == len(inds), (key, path)
    for k, ind in enumerate(inds):
        _set_text(ws[actual_cells[k]], ind[4])
    r_key, k, _actual, note = MISSED_WITH_REASON
    if key == r_key:
        ws[_cells(wb, "xp_ind_note")[k]].value = note
    c_key, k, target = CHANGED_TARGET
    if key == c_key:
        _set_text(ws[_cells(wb, "xp_ind_target")[k]], target)
    for (t_key, k), typed in SE_EXCEL_TYPED.items():
        if key == t_key:
            cell = ws[_cells(wb, "xp_ind_target")[k]]
            cell.number_format = "0%"                          # the text format painted over
            cell.value = "=100%" if typed == "=100%" else 0.95     # LibreOffice saves the cached value
    wb.save(path)


def _engine_project(key: str) -> Project:
    """The 自评表 as this file typed it, for the scoring engine (the oracle of every figure)."""
    p = P[key]
    unit, money = UNITS[p["unit"]]
    proj = Project(kind=SELF_EVALUATION, year=YEAR, name=p["name"], unit=unit, department=DEPT, money_unit=money)
    budget, executed = funds_of(p)
    proj.funds["年度资金总额"] = FundsLine(budget, budget, executed)
    proj.funds["当年财政拨款"] = FundsLine(budget, budget, executed)
    inds = _indicators_now(key)
    c_key, k, target = CHANGED_TARGET
    if key == c_key:
        inds[k][3] = target
    levels = [i[0] for i in inds]
    weights = scoring.default_weights(levels, SHANGHAI)
    proj.indicators = [Indicator(l1, l2, l3, t, weight=w, actual=a) for (l1, l2, l3, t, a), w in zip(inds, weights)]
    return proj


# ------------------------------------------------------------------ what the admin sees at each step

def test_generate_reports_every_register_problem_at_the_register_cell(year):
    g = year["generate"]
    assert g["code"] == 1                                     # one project refused: the exit code says so
    reg = str(year["register"])
    errors = [line for line in g["stderr"].splitlines() if line.startswith("错误：")]
    (blank,) = [e for e in errors if "实施单位" in e]
    assert f"文件「{reg}」，工作表「{PROJECTS_SHEET}」，单元格 E{2 + NAMES.index(NAMES[11])}" in blank
    notes = [line for line in g["stderr"].splitlines() if line.startswith("提醒：")]
    assert all(f"文件「{reg}」" in n and "（生成的文件：" in n for n in notes), notes
    assert any("计划完成日期 2023-12-31 不在 2024 年度内" in n for n in notes)
    assert any("指标值为空" in n for n in notes)
    rows = year["manifest"]
    assert len(rows) == 12 and sum(1 for r in rows if r["文件"]) == 11     # no silent drop: P12 listed
    for r in rows:
        if r["文件"]:
            assert r["文件"].startswith(tuple(u for u, _ in UNITS.values())) and f"/{YEAR}_" in r["文件"]


def test_dates_and_typed_targets_reach_the_declaration(year):
    files = year["decl_files"]
    d = read_declaration(files["P09"])
    assert (d.start, d.end, d.year) == ("2024-03-01", "2024-12-31", YEAR)
    d = read_declaration(files["P03"])
    assert d.indicators[2].target == "=100%"                   # typed as text: kept
    d = read_declaration(files["P08"])
    assert [i.level3 for i in d.indicators][INSERT_ROW[1]] == INSERT_ROW[2][2]   # the inserted row is read


def test_register_targets_typed_as_excel_stores_them(year):
    files = year["decl_files"]
    assert read_declaration(files["P01"]).indicators[2].target == "=100%"
    assert read_declaration(files["P02"]).indicators[1].target == "95%"


def test_roll_forward_carries_every_indicator_and_edit(year):
    f = year["from"]
    assert f["code"] == 0 and "提醒" not in f["stderr"], f["stderr"]
    assert len(year["se_files"]) == 11
    for key, path in year["se_files"].items():
        wb = openpyxl.load_workbook(path, data_only=True)
        targets = [wb.active[c].value for c in _cells(wb, "xp_ind_target")]
        want = [i[3] for i in _indicators_now(key)]
        if key == CHANGED_TARGET[0]:
            want[CHANGED_TARGET[1]] = CHANGED_TARGET[2]        # the unit's later change, checked below
        for (t_key, k), _typed in SE_EXCEL_TYPED.items():
            if key == t_key:
                targets[k] = want[k]                           # retyped in spring: the test below
        assert [t or "" for t in targets] == want, key


def test_targets_excel_stored_as_formula_or_percent_read_as_typed(year):
    """=100% stored as a formula and 95% as a percent-formatted number (the cells' text format
    lost) read back as typed — by ``generate --from`` from the 申报表 and by check/harvest from
    the saved 自评表 — so no target changes, and the check below finds nothing more."""
    key, k, typed = DECL_EXCEL_TYPED
    wb = openpyxl.load_workbook(year["decl_files"][key])
    cell = wb.active[_cells(wb, "xp_ind_target")[k]]
    assert (cell.value, cell.number_format) == ("=100%", "0%")       # really a formula in the file
    assert read_declaration(year["decl_files"][key]).indicators[k].target == typed
    from xlperf.harvest import read_workbook
    for (key, k), typed in SE_EXCEL_TYPED.items():
        path = year["se_files"][key]
        wb, values = openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True)
        ref = _cells(wb, "xp_ind_target")[k]
        assert "%" in wb.active[ref].number_format
        assert (wb.active[ref].value, values.active[ref].value) == (("=100%", 1) if typed == "=100%" else (0.95, 0.95))
        (p,) = read_workbook(path).projects
        assert p.indicators[k].target == typed and p.indicators[k].unread_target is None


def test_generated_target_cells_are_text(year):
    painted = [(year["decl_files"], {DECL_EXCEL_TYPED[:2]}), (year["se_files"], set(SE_EXCEL_TYPED))]
    for files, changed in painted:                  # the cells whose format the unit changed aside
        for key, path in files.items():
            wb = openpyxl.load_workbook(path)
            formats = {wb.active[c].number_format for i, c in enumerate(_cells(wb, "xp_ind_target"))
                       if (key, i) not in changed}
            assert formats == {"@"}, path


# ------------------------------------------------------------------ check and harvest

def _findings_by_key(run_json: dict, kind: str) -> dict[str, Counter]:
    got: dict[str, Counter] = {}
    for proj in run_json["projects"]:
        key = _key_of(proj["name"])
        got[key] = Counter((f["check"], f["severity"]) for f in proj["findings"])
    return got


def _check_json(paths, *extra) -> tuple[int, dict]:
    import json
    r = _run(["check", *map(str, paths), "--json", "--workers", "0", *extra])
    return r["code"], json.loads(r["stdout"])


def test_check_of_the_declarations_finds_exactly_the_true_problems(year):
    code, out = _check_json([year["decl"]])
    assert code == 1 and not out["problems"]
    got = _findings_by_key(out, DECLARATION)
    assert set(got) == {p["key"] for p in PROJECTS} - {MERGED_BLANK}          # no phantom, no drop
    got = {k: c for k, c in got.items() if c}
    assert got == TRUE_DECLARATION
    f = next(f for p in out["projects"] for f in p["findings"] if f["check"] == "decl_year")
    assert (f["found"], f["expected"], f["cell"]) == ("2023-12-31", "2024 年内的日期", "D5")
    assert f["file"].endswith(f"{YEAR}_{P['P05']['name']}_申报表.xlsx")


def test_check_of_the_self_evaluations_finds_exactly_the_true_problems(year):
    code, out = _check_json([year["se"]], "--declarations", str(year["decl"]))
    assert code == 1 and not out["problems"]
    got = _findings_by_key(out, SELF_EVALUATION)
    assert set(got) == set(year["se_files"])                                   # 11 projects, no phantom
    want = {k: c for k, c in TRUE_SELF_EVALUATION.items() if c}
    assert {k: c for k, c in got.items() if c} == want
    (f,) = [f for p in out["projects"] for f in p["findings"] if _key_of(p["name"]) == "P04"]
    wb = openpyxl.load_workbook(year["se_files"]["P04"])
    assert (f["cell"], f["found"]) == (_cells(wb, "xp_ind_target")[4], "")       # the blank target's own cell
    f = next(f for p in out["projects"] for f in p["findings"] if f["check"] == "declared")
    assert (f["found"], f["expected"], f["severity"]) == ("≥85%", "≥90%", "错误")
    budget, executed = funds_of(P[OVERSPENT])
    over = [f for p in out["projects"] for f in p["findings"] if f["check"] == "overspent"]
    assert {(D(f["found"]), f["expected"]) for f in over} == {(executed, f"≤ {budget.normalize():f}")}
    assert len({f["cell"] for f in over}) == 2 and all(f["file"].endswith("_自评表.xlsx") for f in over)


def test_every_printed_figure_is_the_engines(year):
    for key, path in year["se_files"].items():
        if key == "P04":
            continue                                    # no total for a blank target: the test below
        wb = openpyxl.load_workbook(path, data_only=True)
        ws = wb.active
        want = scoring.score_project(_engine_project(key), SHANGHAI)
        total = D(str(ws[_cells(wb, "xp_total_score")[0]].value)).quantize(D("0.01"))
        assert total == want.total, key
        assert ws[_cells(wb, "xp_grade")[0]].value == want.grade, key
        rate = D(str(ws[_cells(wb, "xp_funds_rate")[0]].value))
        assert validate_shown(rate) == want.rates["年度资金总额"], key


def validate_shown(d: Decimal) -> Decimal:
    from xlperf.validate import shown
    return shown(d, 2)


def test_a_blank_target_scores_the_same_in_the_workbook_and_the_engine(year):
    path = year["se_files"]["P04"]
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb.active
    want = scoring.score_project(_engine_project("P04"), SHANGHAI)
    printed = ws[_cells(wb, "xp_total_score")[0]].value
    assert (None if printed in (None, "") else D(str(printed)).quantize(D("0.01"))) == want.total


def test_harvest_with_declarations_lists_every_project_once(year, tmp_path):
    out = tmp_path / "汇总.xlsx"
    r = _run(["harvest", str(year["se"]), "-o", str(out), "--html", str(tmp_path / "报告.html"),
              "--declarations", str(year["decl"]), "--workers", "0"])
    assert r["code"] == 1                                           # the changed target is an 错误
    wb = openpyxl.load_workbook(out, read_only=True)
    rows = list(wb["项目汇总"].iter_rows(values_only=True))
    names = [dict(zip(rows[0], row))["项目名称"] for row in rows[1:]]
    assert sorted(names) == sorted(P[k]["name"] for k in year["se_files"])
    html = (tmp_path / "报告.html").read_text(encoding="utf-8")
    assert "按「上海预算一体化系统（截尾）」规则核算" in html and "推断为" not in re.sub(r'title="[^"]*"', "", html)


# ------------------------------------------------------------------ recalc, re-runs, next year

def test_recalc_in_both_modes_leaves_no_phantom(year, tmp_path):
    folder = tmp_path / "自评"
    shutil.copytree(year["se"], folder)
    files = sorted(folder.rglob("*_自评表.xlsx"))
    assert cli.main(["recalc", str(files[0])]) in (0, 1)
    assert cli.main(["recalc", "--in-place", str(files[1])]) in (0, 1)
    code, out = _check_json([folder])
    assert len(out["projects"]) == 11


def test_rerunning_generate_is_idempotent_and_quiet(year):
    again = _run(["generate", str(year["register"]), "--out", str(year["decl"])])
    assert again["code"] == 1 and "提醒" not in again["stderr"]        # P12 still refused, said once more
    assert "已存在" in again["stdout"] and "新生成 0 个" in again["stdout"]
    again = _run(["generate", "--from", str(year["decl"]), "--out", str(year["se"])])
    assert again["code"] == 0 and "提醒" not in again["stderr"] and "新生成 0 个" in again["stdout"]


def test_rerunning_check_gives_the_same_findings(year):
    first = _check_json([year["se"]], "--declarations", str(year["decl"]))
    second = _check_json([year["se"]], "--declarations", str(year["decl"]))
    assert first == second


def test_rerunning_harvest_into_the_same_summary(year, tmp_path):
    out = tmp_path / "汇总.xlsx"
    argv = ["harvest", str(year["se"]), "-o", str(out), "--workers", "0"]
    first = _run(argv)
    assert out.exists()
    second = _run(argv)                                    # the README quick-start, run twice
    assert second["code"] == first["code"] and "已存在" not in second["stderr"], second["stderr"]


#: The goals as the next year's 申报表 must print them (issue 13 item 3): the form's own period
#: moves; the multi-year span, the document, its title and the amount stay.
NEXT_GOALS = {
    "P01": (f"{YEAR}-{YEAR + 2}年建成覆盖全区的传染病监测预警网络。",
            f"{YEAR + 1}年1月-12月按月报送监测报告，{YEAR + 1}年底前完成系统验收。"),
    "P02": (f"依据{YEAR}年印发的《示例区公共卫生三年行动计划（{YEAR}-{YEAR + 2}年）》实施。",
            f"完成{YEAR + 1}年度免疫规划任务，安排资金{YEAR}万元。"),
    "P03": (f"({YEAR + 1}年-{YEAR + 1}年)开展慢性病综合防控。",
            f"对照《{YEAR}年示例区慢性病防控工作方案》完成各项任务。"),     # kept, with a 提醒
}


def test_the_next_year_moves_titles_dates_and_file_names(year, tmp_path):
    nxt = tmp_path / "2025"
    r = _run(["generate", str(year["register"]), "--year", "2025", "--out", str(nxt)])
    assert r["code"] == 1
    rows = [x for x in read_manifest(nxt / MANIFEST) if x["文件"]]
    assert len(rows) == 11 and all("/2025_" in x["文件"] for x in rows)
    # the one year kept in a text: a 提醒 at the register's cell (年度总体目标 of P03, row 4)
    wb = openpyxl.load_workbook(year["register"], read_only=True)
    goal_col = openpyxl.utils.get_column_letter(_header_map(wb[PROJECTS_SHEET])["年度总体目标"])
    kept = [n for n in r["stderr"].splitlines() if n.startswith("提醒：") and "未改动" in n]
    assert len(kept) == 1 and f"文件「{year['register']}」，工作表「{PROJECTS_SHEET}」，单元格 {goal_col}4：" in kept[0]
    assert f"《{YEAR}年示例区慢性病防控工作方案》" in kept[0] and "_慢性病综合防控项目_申报表.xlsx" in kept[0]
    for x in rows:
        d = read_declaration(nxt / x["文件"])
        assert d.year == 2025
        key = _key_of(d.name)
        assert (d.total_goal, d.annual_goal) == NEXT_GOALS.get(key, GOALS_DEFAULT(P[key], YEAR + 1)), key
        if key == "P05":
            assert d.end == "2024-12-31"                 # moved with the year, still a year short
        elif key == "P09":
            assert (d.start, d.end) == ("2025-03-01", "2025-12-31")
        else:
            assert (d.start, d.end) == ("2025-01-01", "2025-12-31"), key
    code, out = _check_json([nxt])
    years = [f for p in out["projects"] for f in p["findings"] if f["check"] == "decl_year"]
    assert [(f["found"]) for f in years] == ["2024-12-31"]


def test_from_declarations_into_another_year_moves_the_goals_too(year, tmp_path):
    """``generate --from --year``: the 预期目标 and indicators carried from a 申报表 of another year
    move as ``--year`` moves a register's; a kept year is a 提醒 at the 申报表's own cell."""
    out = tmp_path / "自评2025"
    r = _run(["generate", "--from", str(year["decl"]), "--year", str(YEAR + 1), "--out", str(out)])
    assert r["code"] == 0
    kept = [n for n in r["stderr"].splitlines() if n.startswith("提醒：") and "未改动" in n]
    (note,) = kept
    decl = year["decl_files"]["P03"]
    wb = openpyxl.load_workbook(decl)
    goal_ref = _cells(wb, "xp_annual_goal")[0]
    assert f"文件「{decl}」，工作表「{wb.active.title}」，单元格 {goal_ref}：" in note, note
    from xlperf.harvest import read_workbook
    goals = {}
    for row in read_manifest(out / MANIFEST):
        (p,) = read_workbook(out / row["文件"]).projects
        goals[_key_of(p.name)] = (p.year, p.annual_goal)
    for key in ("P01", "P02", "P03", "P04"):
        assert goals[key] == (YEAR + 1, NEXT_GOALS.get(key, GOALS_DEFAULT(P[key], YEAR + 1))[1]), key
