"""``xlperf history report``: the analyses as an offline HTML page (inline SVG small multiples,
sortable tables, each flagged row linked to its source file and cell) and a workbook with
native charts; and the 项目对应 sheet read back (:func:`import_overrides`).

Harvested text is untrusted: the HTML is rendered with autoescaping (and a CSP that allows
only the page's own script, by hash); the workbook writes every text as a string, formula-like
ones with Excel's quote prefix so an edit cannot turn them into formulas.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
import os
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from ..errors import XlperfError
from ..profiles import section
from ..report import _external_link, _prepare, _write
from . import analyses
from .store import HistoryError, connect

ASSETS = Path(__file__).resolve().parent.parent / "assets"
OVERRIDE_SHEET = "项目对应"
OVERRIDE_HEADER = ("年度", "表格类型", "实施单位", "项目名称", "项目编号", "自动识别编号", "识别依据", "置信度",
                   "人工指定编号", "文件")

# Sortable tables: click a header. Numbers (with , and %) sort as numbers.
_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var key = function (tr) {
      var t = tr.cells[th.cellIndex].textContent.trim(), n = parseFloat(t.replace(/[,%]/g, ''));
      return isNaN(n) || !/^[-\\d.,%]+$/.test(t) ? t : n;
    };
    Array.prototype.slice.call(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      if (typeof x === typeof y) return (x < y ? -1 : x > y ? 1 : 0) * dir;
      return (typeof x === 'number' ? -1 : 1) * dir;
    }).forEach(function (tr) { body.appendChild(tr); });
  });
});
"""

# (column, label, numeric) per section; the source columns (file, sheet, cell) are added to each.
COLUMNS = {
    "unit_year": [("unit", "实施单位", 0), ("year", "年度", 1), ("projects", "项目数", 1),
                  ("budget_yuan", "全年预算数（元）", 1), ("executed_yuan", "全年执行数（元）", 1),
                  ("rate", "执行率(%)", 1), ("funds_score", "平均执行率得分", 1), ("total", "平均总分", 1),
                  ("grade_优", "优", 1), ("grade_良", "良", 1), ("grade_中", "中", 1), ("grade_差", "差", 1),
                  ("grade_未填", "未填等级", 1)],
    "drift": [("unit", "实施单位", 0), ("name", "项目名称", 0), ("year", "年度", 1), ("level3", "三级指标", 0),
              ("pattern", "情形", 0), ("prev_target", "上年指标值", 0), ("prev_actual", "上年实际完成值", 0),
              ("target", "本年指标值", 0), ("actual", "本年实际完成值", 0)],
    "easy_targets": [("unit", "实施单位", 0), ("name", "项目名称", 0), ("year", "年度", 1),
                     ("level3", "三级指标", 0), ("target", "指标值", 0), ("actual", "实际完成值", 0),
                     ("run", "连续年数", 1)],
    "inflation": [("unit", "实施单位", 0), ("name", "项目名称", 0), ("year", "年度", 1),
                  ("total_score", "总分", 1), ("grade", "等级", 0), ("rate", "执行率(%)", 1),
                  ("funds_score", "执行率得分", 1), ("reason", "原因", 0)],
    "lifecycle": [("unit", "实施单位", 0), ("name", "项目名称", 0), ("year", "年度", 1), ("status", "状态", 0)],
    "ambiguous": [("year", "年度", 1), ("kind", "情形", 0), ("similarity", "名称相似度", 1), ("unit", "实施单位", 0),
                  ("old_name", "上年项目", 0), ("old_uid", "上年项目编号（可填入“人工指定编号”）", 0),
                  ("new_name", "本年项目", 0), ("new_uid", "本年自动识别编号", 0)],
    "indicator_changes": [("unit", "实施单位", 0), ("name", "项目名称", 0), ("year", "年度", 1),
                          ("between", "比较", 0), ("change", "变化", 0), ("level3", "三级指标", 0),
                          ("target", "指标值", 0)],
}
NOTES = {
    "drift": "同一项目同一指标：上年实际完成值超过指标值{margin}以上（反向指标低于{margin}以上），本年指标值却未提高或放宽；"
             "或连续 {missed} 年未达成。",
    "easy_targets": "实际完成值连续 {easy} 年达到“≥/＞”指标值的 {ratio}% 以上。",
    "inflation": "总分 ≥ {total} 而执行率 < {rate}%；或全部指标满分而执行率得分低于其分值的 {fraction}%。",
    "lifecycle": "“首年”为数据库中最早的年度；状态只在相邻年度之间比较。",
    "ambiguous": "名称相近（相似度 ≥ {similarity}）的结束项目与新增项目，未自动合并。如确为同一项目，请在工作簿“项目对应”表的"
                 "“人工指定编号”一列填入上年项目编号，再运行 xlperf history identity 读回。",
    "indicator_changes": "同一项目同一年度的申报表与自评表之间，以及相邻年度自评表之间，三级指标的增减。",
}


def _cell(v) -> str:
    if v is None:
        return ""
    try:
        if v != v:   # NaN / NA
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(v, Decimal):
        return f"{v.quantize(Decimal('0.01')):,}"
    return str(v)


def _href(path: str, base: Path) -> str | None:
    """A relative link to a source file that exists (never a link made of harvested text)."""
    if not path or not os.path.isfile(path):
        return None
    try:
        rel = os.path.relpath(os.path.abspath(path), base)
    except ValueError:
        rel = os.path.abspath(path)
    return quote(rel.replace(os.sep, "/"), safe="/")   # ':' is quoted: no scheme can appear


def _shown(path: str, base: Path) -> str:
    if not path:
        return ""
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith(".." + os.sep + "..") else rel


#: Rows per section on the HTML page (the workbook has them all).
HTML_ROWS = 2000


class Written(list):
    seconds: float = 0.0


def collect(con, s: analyses.Settings, full: bool = True) -> dict[str, pd.DataFrame]:
    """Every analysis; without ``full`` (the page alone) lifecycle keeps only 新增/结束 rows and
    its counts go to ``lifecycle_counts``."""
    analyses.prepare(con, s)
    out = {}
    for name, (fn, _t) in analyses.ANALYSES.items():
        out[name] = fn(con, s) if full or name != "lifecycle" else fn(con, s, ("新增", "结束"))
    counts = analyses.frame(con, """
        WITH p AS (SELECT DISTINCT pid, year FROM main WHERE kind = '自评表')
        SELECT count(*) FILTER (WHERE q.pid IS NULL AND y.year IS NOT NULL) AS new, count(*) AS n
        FROM p c LEFT JOIN p q ON q.pid = c.pid AND q.year = c.year - 1
        LEFT JOIN (SELECT DISTINCT year FROM p) y ON y.year = c.year - 1""")
    out["lifecycle_counts"] = counts
    return out


def _multiples(uy: pd.DataFrame, years: list[int], s: analyses.Settings) -> list[dict]:
    w, h, left, right_pad, top, bottom = 230, 120, 26, 16, 8, 18
    out = []
    if uy.empty:
        return out
    peak = max([Decimal(100)] + [v for v in uy["rate"] if v is not None] + [v for v in uy["total"] if v is not None])
    peak = min(peak, Decimal(200))
    span = max(1, len(years) - 1)

    def x(year):
        return round(left + (w - left - right_pad) * (years.index(year) / span if len(years) > 1 else 0.5), 1)

    def y(v):
        return round(h - bottom - (h - bottom - top) * float(min(v, peak) / peak), 1)

    for unit_key, g in uy.groupby("unit_key", sort=False):
        unit = g["unit"].iloc[-1]
        series = []
        for col, color, label in (("rate", "#2e75b6", "执行率"), ("total", "#c55a11", "平均总分")):
            pts = [(int(r.year), getattr(r, col)) for r in g.itertuples() if getattr(r, col) is not None]
            series.append({"color": color, "points": " ".join(f"{x(yr)},{y(v)}" for yr, v in pts),
                           "dots": [{"x": x(yr), "y": y(v), "title": f"{yr} 年{label} {_cell(v)}"} for yr, v in pts]})
        out.append({"unit": unit, "w": w, "h": h, "left": left, "right": w - right_pad, "top": top,
                    "base": h - bottom, "y_line": y(s.inflation_rate), "peak": f"{peak:.0f}", "series": series,
                    "ticks": [{"x": x(yr), "label": str(yr)} for yr in years]})
    return out


def html_context(frames: dict, s: analyses.Settings, db: Path, base: Path, n_forms: int, years: list[int]) -> dict:
    _raw, source = section(s.profile, "history")
    fmt = {"margin": f"{(s.drift_margin * 100).normalize():f}%", "missed": s.missed_years, "easy": s.easy_years,
           "ratio": f"{(s.easy_ratio * 100).normalize():f}", "total": s.inflation_total, "rate": s.inflation_rate,
           "fraction": f"{(s.inflation_funds_fraction * 100).normalize():f}", "similarity": s.rename_similarity}
    sections = []
    for name, (_fn, title) in analyses.ANALYSES.items():
        df = frames[name]
        if name == "lifecycle":       # the page lists the changes; the rest are counted in the note
            df = df[df["status"].isin(["新增", "结束"])]
        cols = COLUMNS[name]
        has_source = "file" in df.columns and name != "unit_year"
        total = len(df)
        df = df.head(HTML_ROWS)
        rows = []
        for r in df.to_dict("records"):
            where = "!".join(x for x in (r.get("sheet") or "", r.get("cell") or "") if x)
            rows.append({"cells": [_cell(r.get(c)) for c, _l, _n in cols],
                         "file": _shown(r.get("file") or "", base), "href": _href(r.get("file") or "", base),
                         "where": where})
        note = NOTES.get(name, "").format(**fmt)
        if name == "lifecycle":
            c = frames["lifecycle_counts"].iloc[0]
            note += "本页列出新增与结束的项目；其余 {} 个（项目·年度，延续或首年）见工作簿。".format(
                int(c["n"]) - int(c["new"]))
        if total > len(rows):
            note += f"共 {total} 行，本页只列前 {len(rows)} 行，完整列表见工作簿（-o 趋势.xlsx）。"
        sections.append({"id": name, "title": title, "rows": rows, "total": total, "source": has_source,
                         "columns": [{"label": lab, "num": bool(n)} for _c, lab, n in cols], "note": note})
    life = frames["lifecycle"]
    cards = [{"label": "年度", "value": len(years)}, {"label": "表格", "value": n_forms},
             {"label": "实施单位", "value": frames["unit_year"]["unit_key"].nunique() if len(frames["unit_year"]) else 0}]
    for name in ("drift", "easy_targets", "inflation", "ambiguous", "indicator_changes"):
        cards.append({"label": analyses.ANALYSES[name][1].split("（")[0], "value": len(frames[name]), "flag": True})
    cards.append({"label": "新增 / 结束项目", "value": f"{int((life['status'] == '新增').sum())} / "
                                                   f"{int((life['status'] == '结束').sum())}"})
    script_hash = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode()
    return {"title": "项目支出绩效多年趋势报告", "generated": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "db": db.name, "years": years, "n_forms": n_forms, "n_units": cards[2]["value"], "profile": s.profile,
            "profile_source": os.path.basename(source), "cards": cards,
            "multiples": _multiples(frames["unit_year"], years, s), "rate_line": s.inflation_rate,
            "sections": sections, "script": _SCRIPT, "script_hash": script_hash}


def render_html(context: dict) -> str:
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ASSETS)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("history.html.j2").render(**context)


# ------------------------------------------------------------------ workbook

_FORMULA_LIKE = ("=", "+", "-", "@", "\t", "\r")


def write_xlsx(frames: dict, identities: pd.DataFrame, target, out_dir: Path, years: list[int]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(target, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                      "strings_to_numbers": False, "nan_inf_to_errors": True})
    try:
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                              "valign": "vcenter"})
        text = wb.add_format({"valign": "top"})
        quoted = wb.add_format({"valign": "top", "quote_prefix": True})
        num = wb.add_format({"num_format": "#,##0.00", "valign": "top"})
        whole = wb.add_format({"num_format": "0", "valign": "top"})
        link = wb.add_format({"font_color": "#1F4E79", "underline": 1, "valign": "top"})
        edit = wb.add_format({"bg_color": "#FFF2CC", "border": 1, "valign": "top"})

        def put(ws, i, j, v, numeric=False, fmt=None):
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v == "":
                ws.write_blank(i, j, None, fmt)
            elif numeric and isinstance(v, (int, Decimal)) and not isinstance(v, bool):
                ws.write_number(i, j, float(v), fmt or (whole if isinstance(v, int) else num))
            else:
                s = str(v)
                ws.write_string(i, j, s[:32000], fmt or (quoted if s.startswith(_FORMULA_LIKE) else text))

        def sheet(name, title, df, cols, source=True):
            ws = wb.add_worksheet(name)
            headers = [lab for _c, lab, _n in cols] + (["文件", "工作表", "单元格"] if source else [])
            for j, h in enumerate(headers):
                ws.write_string(0, j, h, head)
                ws.set_column(j, j, 14 if j else 22)
            for i, r in enumerate(df.to_dict("records"), 1):
                for j, (c, _lab, n) in enumerate(cols):
                    put(ws, i, j, r.get(c), bool(n))
                if source:
                    j = len(cols)
                    url = _external_link(r.get("file") or "", r.get("sheet") or "", r.get("cell") or "", out_dir)
                    if url:
                        ws.write_url(i, j, url, link, string=str(r.get("file"))[:255], tip="打开原表")
                    else:
                        put(ws, i, j, r.get("file"))
                    put(ws, i, j + 1, r.get("sheet"))
                    put(ws, i, j + 2, r.get("cell"))
            ws.freeze_panes(1, 0)
            if len(df):
                ws.autofilter(0, 0, len(df), len(headers) - 1)
            return ws

        ws = wb.add_worksheet("说明")
        ws.set_column(0, 0, 110)
        for i, line in enumerate(["项目支出绩效多年趋势（xlperf history report 生成）", "",
                                  f"年度：{'、'.join(map(str, years))}",
                                  "各工作表即网页报告的各节；“文件”列可点击打开原表并定位到单元格。",
                                  f"“{OVERRIDE_SHEET}”表：如两年的表格实为同一项目（改名）或应分开，请在黄色的“人工指定编号”列"
                                  "填写项目编号（可复制“自动识别编号”列中的值），保存后运行",
                                  "    xlperf history identity 本工作簿.xlsx --db 绩效历史.duckdb",
                                  "留空表示按自动识别。同一编号即视为同一项目。"]):
            ws.write_string(i, 0, line, head if i == 0 else text)
        uy_ws = sheet("各单位年度", "", frames["unit_year"], COLUMNS["unit_year"], source=False)
        for name, label in (("drift", "指标值漂移"), ("easy_targets", "偏低指标值"), ("inflation", "自评分偏高"),
                            ("lifecycle", "项目新增结束"), ("ambiguous", "待确认对应"), ("indicator_changes", "指标增减")):
            sheet(label, analyses.ANALYSES[name][1], frames[name], COLUMNS[name])
        # 项目对应: the sheet the admin edits and import_overrides reads back.
        ws = wb.add_worksheet(OVERRIDE_SHEET)
        for j, h in enumerate(OVERRIDE_HEADER):
            ws.write_string(0, j, h, head)
        ws.set_column(0, 1, 8)
        ws.set_column(2, 3, 28)
        ws.set_column(4, 8, 24)
        ws.set_column(9, 9, 50)
        for i, r in enumerate(identities.to_dict("records"), 1):
            vals = [r["year"], r["kind"], r["unit"], r["name"], r["code"], r["auto_uid"], r["basis"], r["confidence"],
                    r["override_uid"], r["file"]]
            for j, v in enumerate(vals):
                put(ws, i, j, v, j in (0, 7), edit if j == 8 else None)
            if not r["override_uid"]:
                ws.write_blank(i, 8, None, edit)
        ws.freeze_panes(1, 4)
        if len(identities):
            ws.autofilter(0, 0, len(identities), len(OVERRIDE_HEADER) - 1)
        # Native charts: execution rate by year, one line per unit (the first 12 units), and grades by year.
        uy = frames["unit_year"]
        ch = wb.add_worksheet("图表")
        if len(uy):
            line = wb.add_chart({"type": "line"})
            units = list(dict.fromkeys(uy["unit_key"]))[:12]
            year_col = [c for c, *_ in COLUMNS["unit_year"]].index("year")
            rate_col = [c for c, *_ in COLUMNS["unit_year"]].index("rate")
            idx = {k: [i for i, u in enumerate(uy["unit_key"], 1) if u == k] for k in units}
            for k in units:
                rows = idx[k]
                if rows != list(range(rows[0], rows[-1] + 1)):
                    continue
                line.add_series({"name": str(uy["unit"].iloc[rows[0] - 1])[:100],
                                 "categories": ["各单位年度", rows[0], year_col, rows[-1], year_col],
                                 "values": ["各单位年度", rows[0], rate_col, rows[-1], rate_col],
                                 "marker": {"type": "circle"}})
            line.set_title({"name": "各单位预算执行率(%)"})
            line.set_y_axis({"name": "执行率(%)"})
            line.set_size({"width": 760, "height": 380})
            ch.insert_chart("A1", line)
            # grades per year (all units): a small table on this sheet feeds the chart
            grades = ("优", "良", "中", "差")
            ch.write_string(20, 10, "年度", head)
            for j, g in enumerate(grades):
                ch.write_string(20, 11 + j, g, head)
            by_year = uy.groupby("year")[[f"grade_{g}" for g in grades]].sum()
            for i, (yr, row) in enumerate(by_year.iterrows(), 21):
                ch.write_number(i, 10, int(yr))
                for j, g in enumerate(grades):
                    ch.write_number(i, 11 + j, int(row[f"grade_{g}"]))
            col = wb.add_chart({"type": "column", "subtype": "stacked"})
            last = 20 + len(by_year)
            for j, g in enumerate(grades):
                col.add_series({"name": ["图表", 20, 11 + j], "categories": ["图表", 21, 10, last, 10],
                                "values": ["图表", 21, 11 + j, last, 11 + j]})
            col.set_title({"name": "评分等级分布（按年度）"})
            col.set_size({"width": 560, "height": 320})
            ch.insert_chart("A21", col)
        del uy_ws
        wb.set_properties({"title": "项目支出绩效多年趋势", "comments": "由 xlperf history report 生成"})
    finally:
        wb.close()


def write_reports(db, html=None, xlsx=None, profile: str | None = None, force: bool = False) -> Written:
    """Write the HTML report and/or the workbook; returns the paths written (``.seconds``: time)."""
    t0 = time.perf_counter()
    outs = [Path(p) for p in (html, xlsx) if p]
    for p in outs:
        _prepare(p, force)           # refuse before the work
    s = analyses.settings(profile)
    con = connect(db, read_only=True)
    try:
        frames = collect(con, s, full=False)   # lifecycle: new/ended rows (the rest only counted)
        n_forms = con.execute("SELECT count(*) FROM fx").fetchall()[0][0]
        years = [r[0] for r in con.execute("SELECT DISTINCT year FROM fx WHERE year IS NOT NULL ORDER BY 1")
                 .fetchall()]
        idents = analyses.identities(con, s) if xlsx else None
    finally:
        con.close()
    written = Written()
    if html:
        base = Path(html).resolve().parent
        text = render_html(html_context(frames, s, Path(db), base, n_forms, years))
        written.append(_write(Path(html), force, text.encode("utf-8")))
    if xlsx:
        buf = io.BytesIO()
        write_xlsx(frames, idents, buf, Path(xlsx).resolve().parent, years)
        written.append(_write(Path(xlsx), force, buf.getvalue()))
    written.seconds = time.perf_counter() - t0
    return written


# ------------------------------------------------------------------ 项目对应, read back

def import_overrides(db, workbook) -> int:
    """Read the 项目对应 sheet (the admin's 人工指定编号) into ``db``, replacing the overrides
    in force. Only text is read, never evaluated. Returns the number of overrides."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(workbook))
    except Exception as exc:  # noqa: BLE001 - any reading error is the user's file
        raise HistoryError(f"无法读取工作簿「{workbook}」：{exc}") from None
    if OVERRIDE_SHEET not in wb.sheet_names:
        raise HistoryError(f"工作簿「{workbook}」中没有“{OVERRIDE_SHEET}”工作表（请使用 xlperf history report -o 写出的工作簿）。")
    rows = wb.get_sheet_by_name(OVERRIDE_SHEET).to_python()
    if not rows or [str(x).strip() for x in rows[0][:len(OVERRIDE_HEADER)]] != list(OVERRIDE_HEADER):
        raise HistoryError(f"工作簿「{workbook}」的“{OVERRIDE_SHEET}”表第 1 行应为：{'、'.join(OVERRIDE_HEADER)}。")
    col = {h: j for j, h in enumerate(OVERRIDE_HEADER)}
    out, now = [], _dt.datetime.now()
    for i, r in enumerate(rows[1:], 2):
        r = list(r) + [""] * (len(OVERRIDE_HEADER) - len(r))
        uid = str(r[col["人工指定编号"]] or "").strip()
        if not uid:
            continue
        year = r[col["年度"]]
        try:
            year = int(year)
        except (TypeError, ValueError):
            raise HistoryError(f"“{OVERRIDE_SHEET}”表第 {i} 行（单元格 A{i}）：年度「{year}」不是整数。") from None
        out.append((year, str(r[col["实施单位"]] or ""), str(r[col["项目名称"]] or ""), uid, f"第 {i} 行", now))
    con = connect(db)
    try:
        known = {(y, u, n) for y, u, n in con.execute("SELECT DISTINCT year, unit, name FROM forms").fetchall()}
        for y, u, n, _uid, where, _ in out:
            if (y, u, n) not in known:
                raise HistoryError(f"“{OVERRIDE_SHEET}”表{where}：数据库中没有 {y} 年「{u}」的项目「{n}」"
                                   f"（请不要修改年度、实施单位、项目名称三列）。数据库未做改动。")
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM overrides")
            if out:
                con.executemany("INSERT INTO overrides VALUES (?, ?, ?, ?, ?, ?)", out)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return len(out)


__all__ = ["write_reports", "import_overrides", "XlperfError"]
