"""xlperf history (#16): the DuckDB store, identity across years, the analyses, the reports.

The 3-year scenario writes real workbooks with :mod:`xlperf.generate` (their scores, totals and
grades are computed by the forms themselves), with planted cases: a target lowered after
being beaten, easy targets, an indicator missed two years running, one inflated self-score,
a renamed and a split project, names that differ only in year markers, an indicator added
between years and one added after the 申报表. The expected findings are written out from the
plan below, by hand, not from the code under test.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from xlperf import generate, history
from xlperf.history import analyses, identity, report as history_report, store
from xlperf.model import FundsLine, Indicator, Project

ROOT = Path(__file__).resolve().parent.parent
A = "上海市测试甲中心"
B = "上海市测试乙监督所"
YEARS = (2022, 2023, 2024)


def ind(l3, target, actual, weight, l1="产出指标", l2="数量指标", note=""):
    return Indicator(l1, l2, l3, target, D(weight), actual, note=note)


def selfeval(year, unit, name, indicators, rate=98):
    p = Project(kind="自评表", year=year, name=name, department="上海市测试委员会", unit=unit)
    executed = D(1000) * rate
    for row in ("年度资金总额", "当年财政拨款"):
        p.funds[row] = FundsLine(D(100000), D(100000), executed)
    p.indicators = indicators
    return p


def declaration(year, unit, name, indicators):
    p = Project(kind="申报表", year=year, name=name, department="上海市测试委员会", unit=unit)
    p.indicators = [Indicator(i.level1, i.level2, i.level3, i.target, i.weight) for i in indicators]
    return p


def base_indicators(year):
    """A project that beats nothing by far and misses nothing (no finding expected)."""
    return [ind("系统正常运行率", "≥95(%)", "98(%)", 30, l2="质量指标"),
            ind("运维响应次数", "≥12(次)", "13(次)", 30),
            ind("故障响应时间", "≤24(小时)", "20(小时)", 20, l1="效益指标", l2="社会效益指标"),
            ind("运维制度", "建立健全", "达成指标", 10, l1="满意度指标", l2="服务对象满意度指标")]


def plan() -> list[Project]:
    out = []
    for y in YEARS:
        out.append(selfeval(y, A, "信息系统运维", base_indicators(y)))
        # P2: the name carries the year in three spellings; the target is lowered in 2023 after 13 of 10.
        p2_name = {2022: "设备购置(2022年)", 2023: "设备购置（2023年）", 2024: "设备购置2024年度"}[y]
        p2_target, p2_actual = {2022: ("≥10(台)", "13(台)"), 2023: ("≥8(台)", "9(台)"),
                                2024: ("≥8(台)", "9(台)")}[y]
        out.append(selfeval(y, A, p2_name, [ind("采购设备数量", p2_target, p2_actual, 30)] + base_indicators(y)[1:]))
        # P3: an easy target — 15, 14, 13 of ≥10 — kept every year.
        out.append(selfeval(y, A, "健康宣传（第" + "一二三"[y - 2022] + "年）",
                            [ind("宣传活动场次", "≥10(场)", {2022: "15(场)", 2023: "14(场)", 2024: "13(场)"}[y], 30)]
                            + base_indicators(y)[1:]))
        # P4: 随访人数 missed in 2023 and 2024.
        out.append(selfeval(y, A, "慢病随访", [ind("随访人数", "≥1000(人)", {2022: "1000(人)", 2023: "900(人)",
                                                                         2024: "950(人)"}[y], 30, note="人员不足")]
                            + base_indicators(y)[1:]))
        # P5: 2023 spends 70% yet every indicator is met: total 97, 优.
        out.append(selfeval(y, A, "食堂外包服务", base_indicators(y), rate=70 if y == 2023 else 98))
        # Unit B: Q1 renamed in 2024, Q2 split in 2024, Q3 gains an indicator in 2023.
        out.append(selfeval(y, B, "卫生监督执法" if y < 2024 else "卫生监督执法能力提升", base_indicators(y)))
        if y < 2024:
            out.append(selfeval(y, B, "信息化建设", base_indicators(y)))
        else:
            out.append(selfeval(y, B, "信息化建设一期", base_indicators(y)))
            out.append(selfeval(y, B, "信息化建设二期", base_indicators(y)))
        q3 = base_indicators(y)
        if y >= 2023:
            q3 = q3[:2] + [ind("抽检报告及时率", "=100(%)", "100(%)", 20, l2="时效指标")] + q3[3:]
            q3[1] = ind("运维响应次数", "≥12(次)", "13(次)", 30)
        out.append(selfeval(y, B, "卫生监督专项抽检", q3))
    # 申报表 of 2024: P1 as evaluated; Q3 without 抽检报告及时率 (added in the 自评表).
    out.append(declaration(2024, A, "信息系统运维", base_indicators(2024)))
    q3_2024 = next(p for p in out if p.name == "卫生监督专项抽检" and p.year == 2024)
    out.append(declaration(2024, B, "卫生监督专项抽检", [i for i in q3_2024.indicators if i.level3 != "抽检报告及时率"]))
    return out


def write_year(folder: Path, projects, year) -> Path:
    d = folder / str(year)
    d.mkdir(parents=True, exist_ok=True)
    for k, p in enumerate(x for x in projects if x.year == year):
        (d / f"{k:02d}-{p.kind}-{generate.safe_name(p.name)}.xlsx").write_bytes(generate.render(p))
    return d


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("history")
    projects = plan()
    dirs = [write_year(folder, projects, y) for y in YEARS]
    db = folder / "绩效历史.duckdb"
    reports = [history.add(db, [d], workers=0) for d in dirs]
    return folder, db, dirs, reports


def _set(df, *cols):
    return {tuple(r) for r in df[list(cols)].itertuples(index=False)}


def test_loads_every_form(scenario):
    _folder, db, dirs, reports = scenario
    assert [len(r.added) for r in reports] == [len(os.listdir(d)) for d in dirs]
    with history.open(db) as h:
        forms = h.forms
        assert len(forms) == sum(len(os.listdir(d)) for d in dirs)
        assert set(forms["kind"]) == {"自评表", "申报表"}
        files = h.files
        assert files["sha256"].str.len().eq(64).all()
        assert len(h.indicators) == forms["indicator_count"].sum()


def test_drift_found_and_nothing_else(scenario):
    _folder, db, *_ = scenario
    with history.open(db) as h:
        got = _set(h.drift(), "name", "year", "level3", "pattern")
    assert got == {
        ("设备购置（2023年）", 2023, "采购设备数量", "上年大幅超额完成后指标值反而放宽"),
        ("健康宣传（第二年）", 2023, "宣传活动场次", "上年大幅超额完成后指标值未提高"),
        ("健康宣传（第三年）", 2024, "宣传活动场次", "上年大幅超额完成后指标值未提高"),
        ("慢病随访", 2024, "随访人数", "连续 2 年未达成"),
    }


def test_easy_targets_found_and_nothing_else(scenario):
    _folder, db, *_ = scenario
    with history.open(db) as h:
        got = _set(h.easy_targets(), "name", "year", "level3")
    assert got == {("健康宣传（第二年）", 2023, "宣传活动场次"), ("健康宣传（第三年）", 2024, "宣传活动场次")}


def test_inflation_found_and_nothing_else(scenario):
    _folder, db, *_ = scenario
    with history.open(db) as h:
        df = h.inflation()
    assert _set(df, "unit", "name", "year") == {(A, "食堂外包服务", 2023)}
    assert "执行率" in df["reason"][0] and "全部指标满分" in df["reason"][0]


def test_renames_and_splits_listed_never_merged(scenario):
    _folder, db, *_ = scenario
    with history.open(db) as h:
        amb = h.ambiguous()
        life = h.lifecycle()
    assert _set(amb, "year", "kind", "old_name", "new_name") == {
        (2024, "可能是改名", "卫生监督执法", "卫生监督执法能力提升"),
        (2024, "可能是拆分", "信息化建设", "信息化建设一期"),
        (2024, "可能是拆分", "信息化建设", "信息化建设二期"),
    }
    changed = life[life["status"] != "延续"]
    assert _set(changed[changed["year"] > 2022], "year", "status", "name") == {
        (2024, "结束", "卫生监督执法"), (2024, "结束", "信息化建设"),
        (2024, "新增", "卫生监督执法能力提升"), (2024, "新增", "信息化建设一期"), (2024, "新增", "信息化建设二期"),
    }
    # names that differ only by year markers are one project, at lower confidence than an exact name
    p2 = h_forms = None
    with history.open(db) as h:
        h_forms = h.forms
    p2 = h_forms[h_forms["name"].str.startswith("设备购置")]
    assert p2["uid"].nunique() == 1 and set(p2["uid_confidence"]) == {identity.CONFIDENCE[identity.NAME_NORMALISED]}


def test_indicator_changes_found_and_nothing_else(scenario):
    _folder, db, *_ = scenario
    with history.open(db) as h:
        got = _set(h.indicator_changes(), "name", "year", "between", "change", "level3")
    assert got == {
        ("卫生监督专项抽检", 2023, "上年→本年", "新增指标", "抽检报告及时率"),
        ("卫生监督专项抽检", 2023, "上年→本年", "删除指标", "故障响应时间"),
        ("卫生监督专项抽检", 2024, "申报表→自评表", "自评表新增", "抽检报告及时率"),
    }


def test_unit_year(scenario):
    _folder, db, *_ = scenario
    with history.open(db) as h:
        df = h.unit_year()
    a2023 = df[(df["unit"] == A) & (df["year"] == 2023)].iloc[0]
    # five projects of 100000 元; 食堂外包服务 spent 70000, the others 98000 each
    assert a2023["projects"] == 5
    assert a2023["budget_yuan"] == D(500000) and a2023["executed_yuan"] == D(462000)
    assert a2023["rate"] == D("92.40")
    assert a2023["grade_优"] == 5


def _snapshot(db) -> dict:
    with history.open(db) as h:
        return {t: h.sql(f"SELECT * FROM {t} ORDER BY ALL").to_csv(index=False)
                for t in ("forms", "funds", "indicators", "findings", "files", "changes", "loads", "overrides")}


def _copy_db(scenario, tmp_path) -> Path:
    import shutil
    _folder, db, *_ = scenario
    out = tmp_path / "copy.duckdb"
    shutil.copy(db, out)
    return out


def test_reload_adds_nothing(scenario, tmp_path):
    folder, _db, dirs, _ = scenario
    db = _copy_db(scenario, tmp_path)
    before = _snapshot(db)
    rep = history.add(db, [folder], workers=0)          # every year again, through the parent folder
    assert rep.added == [] and rep.replaced == [] and len(rep.unchanged) == sum(len(os.listdir(d)) for d in dirs)
    assert _snapshot(db) == before


def test_changed_file_replaces_its_earlier_version(scenario, tmp_path):
    folder, _db, dirs, _ = scenario
    db = _copy_db(scenario, tmp_path)
    with history.open(db) as h:
        n_forms = len(h.forms)
    target = next(dirs[2].glob("*慢病随访*"))
    p = selfeval(2024, A, "慢病随访", [ind("随访人数", "≥1000(人)", "1000(人)", 30)] + base_indicators(2024)[1:])
    target.write_bytes(generate.render(p))
    rep = history.add(db, [dirs[2]], workers=0)
    assert rep.replaced == [str(target)] and rep.added == []
    with history.open(db) as h:
        assert len(h.forms) == n_forms
        ch = h.changes
        assert list(ch["path"]) == [str(target)] and ch["old_sha256"][0] != ch["new_sha256"][0]
        assert set(h.files["status"]) == {"current", "replaced"}
        actual = h.sql("SELECT i.actual FROM indicators i JOIN forms f USING (form_id) "
                       "WHERE f.name = '慢病随访' AND f.year = 2024 AND i.level3 = '随访人数'")
        assert list(actual["actual"]) == ["1000(人)"]
        # the missed-twice finding is gone with the corrected file
        assert "慢病随访" not in set(h.drift()["name"])


def test_killed_load_leaves_the_database_unchanged(scenario, tmp_path):
    folder, _db, dirs, _ = scenario
    db = _copy_db(scenario, tmp_path)
    extra = tmp_path / "2025"
    write_year(tmp_path, [selfeval(2025, A, "信息系统运维", base_indicators(2025)),
                          selfeval(2025, A, "慢病随访", base_indicators(2025))], 2025)
    before = _snapshot(db)
    marker = tmp_path / "in-transaction"
    code = textwrap.dedent(f"""
        import time, pathlib
        from xlperf.history import store
        def hold(con):
            pathlib.Path({str(marker)!r}).write_text("x")
            time.sleep(120)
        store._before_commit = hold
        store.add({str(db)!r}, [{str(extra)!r}], workers=0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the loader ended before reaching the commit"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _snapshot(db) == before
    rep = history.add(db, [extra], workers=0)           # and the same load then goes through
    assert len(rep.added) == 2


def test_newer_schema_refused_older_migrated(tmp_path):
    import duckdb
    newer = tmp_path / "newer.duckdb"
    con = duckdb.connect(str(newer))
    con.execute("CREATE TABLE meta(key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(store.SCHEMA_VERSION + 1)])
    con.close()
    data = newer.read_bytes()
    forms = write_year(tmp_path, [selfeval(2024, A, "信息系统运维", base_indicators(2024))], 2024)
    with pytest.raises(store.HistoryError, match="结构版本为 .*请升级 xlperf"):
        history.add(newer, [forms], workers=0)
    with pytest.raises(store.HistoryError, match="请升级 xlperf"):
        history.open(newer)
    assert newer.read_bytes() == data
    # a version-1 database (no overrides table) is migrated on opening
    older = tmp_path / "older.duckdb"
    con = duckdb.connect(str(older))
    con.execute("BEGIN")
    for sql in store.MIGRATIONS[1]:
        con.execute(sql)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("COMMIT")
    con.close()
    with history.open(older) as h:
        assert store.schema_version(h.con) == store.SCHEMA_VERSION
        assert len(h.overrides) == 0


def test_identity_normalisation():
    uid = identity.project_uid
    assert uid("", "测试 中心", "设备购置(2023运维)")[0] == uid("", "测试中心", "设备购置（2024运维）")[0]
    assert uid("", "测试中心", "运维服务第3年")[0] == uid("", "测试中心", "运维服务（第三年）")[0] \
        == uid("", "测试中心", "２０２３年运维服务")[0]
    assert uid("", "测试中心", "运维服务")[2] > uid("", "测试中心", "2023年运维服务")[2]
    # a code wins over the name, full-width and case aside
    assert uid("ＡＢ-001", "甲", "名称一") == uid("ab-001", "乙", "名称二")
    assert uid("AB-001", "", "")[2] == D("1.00")
    # different projects stay different
    assert uid("", "测试中心", "设备购置一期")[0] != uid("", "测试中心", "设备购置二期")[0]
    assert uid("", "甲中心", "运维")[0] != uid("", "乙中心", "运维")[0]


HOSTILE = ['=HYPERLINK("http://evil.example/x","点我")', "+1+1", "@SUM(A1:A9)", '<script>alert("x")</script>',
           "<img src=x onerror=alert(1)>"]


def _fake_harvest(projects, folder: Path):
    from xlperf.harvest import Harvest, HarvestResult
    results = []
    for k, p in enumerate(projects):
        p.source_file = str(folder / f"{k}.xlsx")
        p.source_sheet = "自评表"
        results.append(HarvestResult(file=p.source_file, projects=[p], sha256=f"{k:064x}", size=1))
    return Harvest(results)


def test_reports_escape_harvested_text(tmp_path):
    import openpyxl
    db = tmp_path / "h.duckdb"
    projects = []
    for y in (2023, 2024):
        for k, bad in enumerate(HOSTILE):
            # inflated (70% spent, every indicator full) so each hostile name is a flagged row
            p = selfeval(y, bad, bad + "项目", [ind(bad, "≥10(场)", "15(场)", 30)] + base_indicators(y)[1:],
                         rate=70)
            p.total_score, p.grade, p.funds_rate, p.funds_score = D("97"), bad, D("70"), D("7")
            for i in p.indicators:
                i.score = i.weight
            projects.append(p)
    con = store.connect(db)
    store.load_harvest(con, _fake_harvest(projects, tmp_path), None)
    con.close()
    out = history_report.write_reports(db, html=tmp_path / "r.html", xlsx=tmp_path / "r.xlsx")
    assert [p.name for p in out] == ["r.html", "r.xlsx"]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert" in page
    assert page.count("<script>") == 1                               # the page's own sorter only
    import re
    assert not re.search(r'(?:href|src)\s*=\s*"(?:[a-z]+:|//)', page)   # no external reference, no scheme
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    formula_like = [c for c in cells if c.value.startswith(("=", "+", "@"))]
    assert formula_like and all(c.data_type == "s" for c in formula_like)
    assert all(c.quotePrefix for c in formula_like if c.parent.title != "说明")
    assert len(wb["自评分偏高"]["A"]) - 1 == len(HOSTILE) * 2


def test_override_sheet_read_back(scenario, tmp_path):
    import openpyxl
    db = _copy_db(scenario, tmp_path)
    xlsx = tmp_path / "趋势.xlsx"
    history_report.write_reports(db, xlsx=xlsx)
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["项目对应"]
    head = [c.value for c in ws[1]]
    rows = list(ws.iter_rows(min_row=2))
    old = next(r for r in rows if r[head.index("项目名称")].value == "卫生监督执法")[head.index("自动识别编号")].value
    renamed = next(r for r in rows if r[head.index("项目名称")].value == "卫生监督执法能力提升")
    renamed[head.index("人工指定编号")].value = old
    wb.save(xlsx)
    assert history_report.import_overrides(db, xlsx) == 1
    with history.open(db) as h:
        amb = h.ambiguous()
        life = h.lifecycle()
    assert set(amb["kind"]) == {"可能是拆分"}                          # the rename is decided, the split still open
    row = life[(life["name"] == "卫生监督执法能力提升") & (life["year"] == 2024)]
    assert list(row["status"]) == ["延续"]
    assert not ((life["name"] == "卫生监督执法") & (life["status"] == "结束")).any()
    # a row whose year/unit/name were edited is refused, naming the row; the overrides stay
    renamed[head.index("项目名称")].value = "改过的名称"
    wb.save(xlsx)
    with pytest.raises(store.HistoryError, match="第 \\d+ 行"):
        history_report.import_overrides(db, xlsx)
    with history.open(db) as h:
        assert len(h.overrides) == 1


def test_cli(scenario, tmp_path, capsys):
    from xlperf import cli
    _folder, _db, dirs, _ = scenario
    db = tmp_path / "cli.duckdb"
    assert cli.main(["history", "add", str(dirs[0]), "--db", str(db), "--workers", "0"]) == 0
    assert "新增文件 8 个" in capsys.readouterr().out
    assert cli.main(["history", "add", str(dirs[0]), "--db", str(db), "--workers", "0"]) == 0
    assert "未变化而跳过 8 个" in capsys.readouterr().out
    html = tmp_path / "趋势报告.html"
    assert cli.main(["history", "report", "--db", str(db), "--html", str(html)]) == 0
    assert html.exists()
    assert cli.main(["history", "report", "--db", str(db), "--html", str(html)]) == 2   # exists, no --force
    assert "已存在" in capsys.readouterr().err


def test_add_from_summary_workbook(scenario, tmp_path):
    """An xlperf 汇总.xlsx stands for the files it lists."""
    from xlperf import cli
    _folder, _db, dirs, _ = scenario
    summary = tmp_path / "汇总.xlsx"
    assert cli.main(["harvest", str(dirs[1]), "-o", str(summary), "--workers", "0"]) in (0, 1)
    db = tmp_path / "s.duckdb"
    rep = history.add(db, [summary], workers=0)
    assert sorted(rep.added) == sorted(str(p) for p in dirs[1].iterdir())


if __name__ == "__main__":
    # The README picture: python tests/test_history.py FOLDER  (forms, database, 趋势报告.html and 趋势.xlsx)
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "history-sample")
    every = plan()
    dirs = [write_year(out, every, y) for y in YEARS]
    for d in dirs:
        print(history.add(out / "绩效历史.duckdb", [d], workers=0).summary_zh())
    print(history_report.write_reports(out / "绩效历史.duckdb", html=out / "趋势报告.html", xlsx=out / "趋势.xlsx",
                                       force=True))
