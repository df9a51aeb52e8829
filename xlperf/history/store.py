"""The history database: one DuckDB file, versioned schema, idempotent and atomic loads.

DuckDB rather than SQLite: the harvest arrives as pandas DataFrames
(:func:`xlperf.harvest.to_frames`) and DuckDB inserts them in one columnar scan (no row
loop, no executemany), and the analyses are joins and window functions over millions of
indicator rows that it runs column-wise; it is still one embedded file with no server.

A load is one transaction: files already loaded with the same sha256 are skipped, a file
whose content changed replaces its earlier rows (the change is recorded in ``changes``),
and a load that is killed leaves the database as it was.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..errors import XlperfError
from ..model import DECLARATION, FUNDS_ROWS, SELF_EVALUATION
from . import identity

DEFAULT_DB = "绩效历史.duckdb"
SCHEMA_VERSION = 2
DEC = "DECIMAL(38,10)"     # amounts/scores: exact; harvested Decimals are quantised to 1e-10

_FORM_TEXT = ("sheet", "kind", "name", "department", "unit", "code", "money_unit", "profile", "nature", "category",
              "start_date", "end_date", "total_goal", "annual_goal", "actual_result", "grade",
              "cell_name", "cell_total_score", "cell_funds_rate", "cell_funds_score", "cell_grade",
              "uid", "uid_basis")
_FORM_DEC = ("funds_weight", "funds_rate", "funds_score", "total_score",
             "declared_project_total", "declared_project_fiscal", "declared_project_other",
             "declared_annual_total", "declared_annual_fiscal", "declared_annual_carryover",
             "declared_annual_other", "uid_confidence")

# Versioned migrations: each step runs once, in order, inside the transaction that records
# the new version. Never edit a released step; add one.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE TABLE meta(key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE TABLE loads(load_id INTEGER PRIMARY KEY, started TIMESTAMP, finished TIMESTAMP, source VARCHAR,"
        " added INTEGER, replaced INTEGER, unchanged INTEGER, unreadable INTEGER, xlperf VARCHAR)",
        "CREATE TABLE files(file_id INTEGER PRIMARY KEY, path VARCHAR, sha256 VARCHAR, size BIGINT,"
        " load_id INTEGER, status VARCHAR, forms INTEGER, problems INTEGER)",
        "CREATE TABLE changes(load_id INTEGER, path VARCHAR, old_file_id INTEGER, new_file_id INTEGER,"
        " old_sha256 VARCHAR, new_sha256 VARCHAR, what VARCHAR, changed_at TIMESTAMP)",
        "CREATE TABLE forms(form_id BIGINT PRIMARY KEY, file_id INTEGER, year INTEGER, indicator_count INTEGER, "
        + ", ".join(f"{c} VARCHAR" for c in _FORM_TEXT) + ", "
        + ", ".join(f"{c} {DEC}" for c in _FORM_DEC) + ")",
        f"CREATE TABLE funds(form_id BIGINT, row VARCHAR, initial {DEC}, budget {DEC}, executed {DEC}, rate {DEC},"
        " cell_initial VARCHAR, cell_budget VARCHAR, cell_executed VARCHAR, cell_rate VARCHAR)",
        "CREATE TABLE indicators(form_id BIGINT, idx INTEGER, level1 VARCHAR, level2 VARCHAR, level3 VARCHAR,"
        f" target VARCHAR, weight {DEC}, actual VARCHAR, score {DEC}, note VARCHAR, cell_target VARCHAR,"
        " cell_actual VARCHAR, cell_weight VARCHAR, cell_score VARCHAR)",
        "CREATE TABLE findings(file_id INTEGER, form_id BIGINT, severity VARCHAR, check_name VARCHAR,"
        " sheet VARCHAR, cell VARCHAR, message VARCHAR, found VARCHAR, expected VARCHAR)",
    ],
    2: [
        # The admin's decisions on project identity (项目对应 sheet): this form is that project.
        "CREATE TABLE overrides(year INTEGER, unit VARCHAR, name VARCHAR, uid VARCHAR, note VARCHAR,"
        " imported TIMESTAMP)",
    ],
}


class HistoryError(XlperfError):
    """A history database that cannot be used as asked."""


# Test hook: called inside the load transaction just before COMMIT (a test kills the process there).
_before_commit = None


def _duckdb():
    import duckdb
    return duckdb


def schema_version(con) -> int:
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    except _duckdb().CatalogException:
        return 0
    return int(row[0][0]) if row else 0


def connect(db, *, read_only: bool = False):
    """Open (creating or migrating when allowed) the database ``db``; refuse a newer schema."""
    duckdb = _duckdb()
    path = Path(db)
    if read_only and not path.exists():
        raise HistoryError(f"找不到历史数据库「{path}」。请先用 xlperf history add 导入。")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise HistoryError(f"无法打开历史数据库「{path}」：{_why(exc)}") from None
    except duckdb.Error as exc:
        raise HistoryError(f"「{path}」不是可用的历史数据库：{exc}") from None
    try:
        version = schema_version(con)
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"历史数据库「{path}」的结构版本为 {version}，本程序只认识到版本 {SCHEMA_VERSION}："
                f"它由更新版本的 xlperf 写入。请升级 xlperf 后再使用；数据库未做任何改动。")
        if version < SCHEMA_VERSION:
            if read_only:
                con.close()
                connect(path).close()          # migrate once, then reopen as asked
                return connect(path, read_only=True)
            migrate(con, version)
    except BaseException:
        con.close()
        raise
    return con


def _why(exc) -> str:
    text = str(exc)
    if "lock" in text.lower():
        return "它正被另一个程序使用（例如另一个 xlperf history 命令），请等其结束后再试。"
    return text


def migrate(con, version: int) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for v in range(version + 1, SCHEMA_VERSION + 1):
            for sql in MIGRATIONS[v]:
                con.execute(sql)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(v)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# ------------------------------------------------------------------ frames for one load

def _dec_text(v):
    """Decimal → exact text for a DECIMAL cast (None, NaN → NULL)."""
    if v is None:
        return None
    if isinstance(v, Decimal):
        return None if v.is_nan() else format(v, "f")
    if isinstance(v, float) and v != v:
        return None
    return str(v)


def _text(v):
    if v is None:
        return None
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, float) and v != v:
        return None
    return str(v)


@dataclass
class Batch:
    """The rows of one load before they are inserted: DataFrames whose decimal columns hold
    exact text (cast to DECIMAL in SQL)."""
    files: list[dict] = field(default_factory=list)
    forms: object = None
    funds: object = None
    indicators: object = None
    findings: object = None


def frames_for(h, run, file_ids: dict[str, int], first_form_id: int):
    """forms/funds/indicators/findings DataFrames of harvest ``h`` (checked as ``run``, or
    None for no findings) from :func:`xlperf.harvest.to_frames`, keyed by new form ids."""
    import pandas as pd

    from ..harvest import to_frames

    fr = to_frames(h)
    projects = h.projects
    p = fr["projects"]
    pid_to_form = {i: first_form_id + i for i in range(len(projects))}
    forms = pd.DataFrame({
        "form_id": [pid_to_form[i] for i in p["project_id"]],
        "file_id": [file_ids.get(f) for f in p["file"]],
        "year": p["year"].astype("Int64"),
        "indicator_count": p["indicator_count"].astype("Int64"),
        "sheet": p["sheet"], "kind": p["kind"], "name": p["name"], "department": p["department"],
        "unit": p["unit"], "code": p["key"], "money_unit": p["money_unit"], "profile": p["profile"],
        "nature": p["nature"], "category": p["category"], "start_date": p["start"], "end_date": p["end"],
        "total_goal": p["total_goal"], "annual_goal": p["annual_goal"], "actual_result": p["actual_result"],
        "grade": p["grade"],
    })
    cells = [(x.cells.get("name", ""), x.cells.get("total_score", ""), x.cells.get("funds_rate", ""),
              x.cells.get("funds_score", ""), x.cells.get("grade", "")) for x in projects]
    for j, c in enumerate(("cell_name", "cell_total_score", "cell_funds_rate", "cell_funds_score", "cell_grade")):
        forms[c] = [row[j] for row in cells]
    uids = [identity.project_uid(x.key, x.unit, x.name) for x in projects]
    forms["uid"] = [u[0] for u in uids]
    forms["uid_basis"] = [u[1] for u in uids]
    for c in _FORM_DEC:
        src = p[c] if c in p else None
        forms[c] = [_dec_text(v) for v in src] if src is not None else [_dec_text(u[2]) for u in uids]
    funds = fr["funds"]
    funds = pd.DataFrame({"form_id": funds["project_id"].map(pid_to_form), "row": funds["row"],
                          **{c: funds[c].map(_dec_text) for c in ("initial", "budget", "executed", "rate")},
                          **{c: funds[c] for c in ("cell_initial", "cell_budget", "cell_executed", "cell_rate")}})
    ind = fr["indicators"]
    indicators = pd.DataFrame({
        "form_id": ind["project_id"].map(pid_to_form), "idx": ind["index"], "level1": ind["level1"],
        "level2": ind["level2"], "level3": ind["level3"], "target": ind["target"].map(_text),
        "weight": ind["weight"].map(_dec_text), "actual": ind["actual"].map(_text), "score": ind["score"].map(_dec_text),
        "note": ind["note"], **{c: ind[c] for c in ("cell_target", "cell_actual", "cell_weight", "cell_score")}})
    findings = []
    if run is not None:
        form_of = {id(x): pid_to_form[i] for i, x in enumerate(projects)}
        for c in run.checks:
            for f in c.findings:
                findings.append((file_ids.get(f.file or c.project.source_file), form_of.get(id(c.project)),
                                 str(getattr(f.severity, "value", f.severity)), getattr(f, "check", ""),
                                 f.sheet, f.cell, f.message_zh, _text(f.found), _text(f.expected)))
        for f in run.problems:
            findings.append((file_ids.get(f.file), None, str(getattr(f.severity, "value", f.severity)),
                             getattr(f, "check", ""), f.sheet, f.cell, f.message_zh, _text(f.found),
                             _text(f.expected)))
    else:
        for f in h.problems:
            findings.append((file_ids.get(f.file), None, str(getattr(f.severity, "value", f.severity)), "",
                             f.sheet, f.cell, f.message_zh, _text(f.found), _text(f.expected)))
    findings = pd.DataFrame(findings, columns=["file_id", "form_id", "severity", "check_name", "sheet", "cell",
                                               "message", "found", "expected"])
    findings["file_id"] = findings["file_id"].astype("Int64")
    findings["form_id"] = findings["form_id"].astype("Int64")
    return forms, funds, indicators, findings


def _insert(con, table: str, df, dec_cols) -> None:
    """One columnar INSERT … SELECT from the DataFrame (DuckDB scans it in place)."""
    if df is None or len(df) == 0:
        return
    cols = list(df.columns)
    select = ", ".join(f"CAST(\"{c}\" AS {DEC})" if c in dec_cols else f"\"{c}\"" for c in cols)
    con.register("_batch", df)
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(chr(34) + c + chr(34) for c in cols)}) SELECT {select} FROM _batch")
    finally:
        con.unregister("_batch")


# ------------------------------------------------------------------ the load

@dataclass
class LoadReport:
    """What one ``history add`` did."""
    load_id: int = 0
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    forms: int = 0
    indicators: int = 0
    findings: int = 0
    seconds: float = 0.0

    def summary_zh(self) -> str:
        return (f"新增文件 {len(self.added)} 个，内容有变而替换 {len(self.replaced)} 个，未变化而跳过 "
                f"{len(self.unchanged)} 个（其中无法读取 {len(self.unreadable)} 个）；写入表格 {self.forms} 张、"
                f"指标 {self.indicators} 行、检查结果 {self.findings} 条。")


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def plan(con, files: list[tuple[str, str, int]]) -> tuple[list, list, list]:
    """Split (path, sha256, size) into new, changed (with the old file id) and unchanged."""
    current = con.execute("SELECT file_id, path, sha256 FROM files WHERE status = 'current'").fetchall()
    by_path = {p: (fid, sha) for fid, p, sha in current}
    shas = {sha for _fid, _p, sha in current}
    new, changed, same = [], [], []
    seen = set()
    for path, sha, size in files:
        if sha in shas or sha in seen:
            same.append(path)
            continue
        seen.add(sha)
        if path in by_path:
            changed.append((path, sha, size, by_path[path][0], by_path[path][1]))
        else:
            new.append((path, sha, size))
    return new, changed, same


def load_harvest(con, h, run, *, source: str = "", replacing: dict[str, tuple[int, str]] | None = None,
                 unchanged: list[str] = ()) -> LoadReport:
    """Write harvest ``h`` (and its checks ``run``) in one transaction. ``replacing``: path →
    (old file id, old sha256) of files whose earlier version this load replaces."""
    import time

    from .. import __version__ as xlperf_version

    t0 = time.perf_counter()
    replacing = replacing or {}
    rep = LoadReport(unchanged=list(unchanged))
    now = _dt.datetime.now()
    con.execute("BEGIN TRANSACTION")
    try:
        load_id = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchall()[0][0]
        next_file = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchall()[0][0]
        next_form = con.execute("SELECT coalesce(max(form_id), 0) + 1 FROM forms").fetchall()[0][0]
        file_ids, file_rows = {}, []
        for k, r in enumerate(h.results):
            fid = next_file + k
            file_ids[str(r.file)] = fid
            file_rows.append((fid, str(r.file), r.sha256, int(r.size or 0), load_id, "current", len(r.projects),
                              len(r.problems)))
            (rep.replaced if str(r.file) in replacing else rep.added).append(str(r.file))
            if not r.projects and not r.skipped:
                rep.unreadable.append(str(r.file))
        forms, funds, indicators, findings = frames_for(h, run, file_ids, next_form)
        for path, (old_id, old_sha) in replacing.items():
            if path not in file_ids:
                continue
            _delete_file_rows(con, old_id)
            con.execute("UPDATE files SET status = 'replaced' WHERE file_id = ?", [old_id])
            con.execute("INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [load_id, path, old_id, file_ids[path], old_sha, _sha_of(h, path), "内容变化，已替换", now])
        if file_rows:   # a frame, not executemany: DuckDB runs executemany row by row
            import pandas as pd
            _insert(con, "files", pd.DataFrame(file_rows, columns=["file_id", "path", "sha256", "size", "load_id",
                                                                   "status", "forms", "problems"]), ())
        _insert(con, "forms", forms, _FORM_DEC)
        _insert(con, "funds", funds, ("initial", "budget", "executed", "rate"))
        _insert(con, "indicators", indicators, ("weight", "score"))
        _insert(con, "findings", findings, ())
        rep.load_id, rep.forms, rep.indicators, rep.findings = load_id, len(forms), len(indicators), len(findings)
        con.execute("INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [load_id, now, _dt.datetime.now(), source, len(rep.added), len(rep.replaced),
                     len(rep.unchanged), len(rep.unreadable), xlperf_version])
        if _before_commit is not None:
            _before_commit(con)
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
        raise
    rep.seconds = time.perf_counter() - t0
    return rep


def _sha_of(h, path: str) -> str:
    return next((r.sha256 for r in h.results if str(r.file) == path), "")


def _delete_file_rows(con, file_id: int) -> None:
    forms = "SELECT form_id FROM forms WHERE file_id = ?"
    con.execute(f"DELETE FROM indicators WHERE form_id IN ({forms})", [file_id])
    con.execute(f"DELETE FROM funds WHERE form_id IN ({forms})", [file_id])
    con.execute("DELETE FROM findings WHERE file_id = ?", [file_id])
    con.execute("DELETE FROM forms WHERE file_id = ?", [file_id])


# ------------------------------------------------------------------ sources

def source_files(paths) -> list[str]:
    """Workbooks to load: the forms under folders/files given, and for an xlperf 汇总.xlsx the
    source files its 项目汇总 / 申报汇总 sheets list (its 文件 column), relative to its folder."""
    from ..harvest import collect_files

    out: list[str] = []
    for item in paths:
        item = os.fspath(item)
        listed = _summary_sources(item) if os.path.isfile(item) else None
        out.extend(listed if listed is not None else collect_files(item))
    seen, unique = set(), []
    for f in out:
        a = os.path.abspath(f)
        if a not in seen:
            seen.add(a)
            unique.append(a)
    return unique


def _summary_sources(path: str) -> list[str] | None:
    """The files an xlperf 汇总.xlsx lists, or None when ``path`` is not one."""
    if not path.lower().endswith((".xlsx", ".xlsm")):
        return None
    try:
        from python_calamine import CalamineWorkbook
        wb = CalamineWorkbook.from_path(path)
    except Exception:  # noqa: BLE001 - not readable here: harvest it and let harvest report it
        return None
    from ..harvest import OWN_SUMMARY_SHEETS
    if not OWN_SUMMARY_SHEETS.issubset(set(wb.sheet_names)):
        return None
    base = os.path.dirname(os.path.abspath(path))
    files = []
    for sheet in ("项目汇总", "申报汇总"):
        if sheet not in wb.sheet_names:
            continue
        rows = wb.get_sheet_by_name(sheet).to_python()
        if not rows or "文件" not in rows[0]:
            continue
        col = rows[0].index("文件")
        for r in rows[1:]:
            v = r[col] if col < len(r) else ""
            if isinstance(v, str) and v.strip():
                f = v if os.path.isabs(v) else os.path.join(base, v)
                if os.path.isfile(f):
                    files.append(f)
    if not files:
        raise HistoryError(f"「{path}」是 xlperf 的汇总表，但其中列出的原始文件一个也找不到；请改为指定原始表格所在的文件夹。")
    return files


def add(db, paths, *, workers: int | None = None, profile=None) -> LoadReport:
    """``xlperf history add``: harvest and check what is new or changed under ``paths`` and
    load it into ``db`` in one transaction."""
    from ..harvest import harvest
    from ..validate import attach_checks, check_harvest

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = source_files(paths)
    db_abs = os.path.abspath(db)
    files = [f for f in files if f != db_abs]
    if not files:
        raise HistoryError(f"在「{'、'.join(map(str, paths))}」中没有找到 .xlsx / .xlsm / .xls 工作簿。")
    hashed = [(f, file_sha256(f), os.path.getsize(f)) for f in files]
    con = connect(db)
    try:
        new, changed, same = plan(con, hashed)
        todo = [x[0] for x in new] + [x[0] for x in changed]
        if not todo:
            return LoadReport(unchanged=same)      # nothing new: the database is not touched
        h = harvest(todo, workers=workers, after=attach_checks if profile is None else None)
        run = check_harvest(h, [p for p in h.projects if p.kind == DECLARATION], profile)
        rep = load_harvest(con, h, run, source="、".join(map(str, paths)),
                           replacing={x[0]: (x[3], x[4]) for x in changed}, unchanged=same)
    finally:
        con.close()
    return rep


__all__ = ["DEFAULT_DB", "SCHEMA_VERSION", "HistoryError", "connect", "add", "load_harvest", "LoadReport",
           "source_files", "FUNDS_ROWS", "SELF_EVALUATION"]
