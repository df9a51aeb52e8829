"""Reading side of harvest: seed-like forms read back exactly, hostile files refused safely.

The hostile corpus (≥ 200 files, tests/hostile_corpus.py) is generated into a temporary
folder and harvested once with a worker process; the run prints the slowest file and the
reader's peak memory. Everything here runs in well under a minute on two cores.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import socket
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import hostile_corpus as hc  # noqa: E402
from xlperf import harvest as hv  # noqa: E402
from xlperf.terminal import display_name  # noqa: E402
from xlperf.harvest import (Harvest, Limits, Problem, Severity, collect_files, harvest, parse_sheet,  # noqa: E402
                            read_workbook, to_frames)
from xlperf.model import DECLARATION, SELF_EVALUATION  # noqa: E402

SEEDS = hc.load_seeds()
CJK = re.compile(r"[\u4e00-\u9fff]")


def _seed(prefix: str) -> dict:
    return next(s for s in SEEDS if s["source"].startswith(prefix))


def _assert_same(expected, got, where=""):
    assert len(got) == len(expected), f"{where}: {len(got)} projects read, {len(expected)} written"
    for e, g in zip(expected, got):
        ce, cg = hc.comparable(e), hc.comparable(g)
        if ce != cg:
            diff = {k: (ce[k], cg[k]) for k in ce if ce[k] != cg[k]}
            if "indicators" in diff:
                rows = [(i, {k: (x[k], y[k]) for k in x if x[k] != y[k]})
                        for i, (x, y) in enumerate(zip(*diff.pop("indicators"))) if x != y]
                diff["indicators"] = rows[:3] or "count differs"
            pytest.fail(f"{where} {e.name}: {diff}")


# ====================================================================== seed-like forms

@pytest.mark.parametrize("variant", hc.VARIANTS, ids=lambda v: v.name)
@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s["source"][:3])
def test_seed_forms_read_back_exactly(tmp_path, seed, variant):
    path = tmp_path / f"{seed['source'][:3]}_{variant.name}.xlsx"
    expected = hc.write_seed_workbook(path, seed, variant)
    res = read_workbook(path)
    _assert_same(expected, res.projects, f"{path.name}")
    assert not [p for p in res.problems if p.severity != Severity.INFO], res.problems[:5]
    for p in res.projects:
        assert p.source_file == str(path) and p.source_sheet
        assert p.profile == ""                                  # no xp_profile: left to inference
        assert p.money_unit == seed["money_unit"]


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s["source"][:3])
def test_stacked_forms_on_one_sheet_with_profile(tmp_path, seed):
    path = tmp_path / "stacked.xlsx"
    expected = hc.write_seed_workbook(path, seed, hc.Variant("stacked", r0=2, c0=1, gap=1, spaced=True),
                                      stacked=True, profile="excel")
    res = read_workbook(path)
    _assert_same(expected, res.projects, "stacked")
    assert {p.profile for p in res.projects} == {"excel"}


def test_sheet_scoped_xp_profile(tmp_path):
    path = tmp_path / "scoped.xlsx"
    expected = hc.write_seed_workbook(path, _seed("001"), profile="shanghai", scoped_profile=True)
    _assert_same(expected, read_workbook(path).projects, "scoped")


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s["source"][:3])
def test_xls_forms(tmp_path, seed):
    grids = {p["id"]: hc.plan_form(seed, p).grid() for p in seed["projects"]}
    path = tmp_path / "form.xls"
    path.write_bytes(hc.cfb({"Workbook": hc.biff_workbook(grids)}))
    res = read_workbook(path)
    assert res.format == "xls"
    _assert_same([hc.expected_project(seed, p) for p in seed["projects"]], res.projects, "xls")


def test_kinds_units_and_printed_figures():
    """Spot checks against the seed texts themselves (not only the YAML round trip)."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p001 = hc.write_seed_workbook(Path(d) / "a.xlsx", _seed("001"))
        p002 = hc.write_seed_workbook(Path(d) / "b.xlsx", _seed("002"), projects=_seed("002")["projects"][:1])
        p003 = hc.write_seed_workbook(Path(d) / "c.xlsx", _seed("003"), projects=_seed("003")["projects"][:2])
        a, b, c = (read_workbook(Path(d) / n).projects for n in ("a.xlsx", "b.xlsx", "c.xlsx"))
    assert a[0].kind == SELF_EVALUATION and a[0].year == 2023 and a[0].money_unit == "万元"
    assert a[0].funds["年度资金总额"].executed == Decimal("9.53") and a[0].funds_rate == Decimal("63.53")
    assert a[0].funds["当年财政拨款"].budget == Decimal("15.00") and a[0].grade == "优"
    assert b[0].money_unit == "元" and b[0].year == 2022
    assert b[0].funds_rate == Decimal("96.36") and b[0].funds_score == Decimal("9.36")   # the printed error, kept
    assert b[0].total_score == Decimal("99.36") and b[0].grade == ""
    assert c[0].kind == DECLARATION and c[0].nature == "经常性项目" and c[0].category == ""
    assert c[0].declared.annual_total == Decimal("743000") and c[0].declared.annual_carryover is None
    assert c[1].total_goal.startswith("(2023年-2023年)通过开展")
    assert len(p001) == 2 and len(p002) == 1 and len(p003) == 2


def test_cells_point_at_the_values(tmp_path):
    """project.cells addresses hold exactly the values read (shifted layout, gap rows)."""
    from python_calamine import CalamineWorkbook
    from xlperf.notation import to_decimal

    v = hc.Variant("shifted", r0=3, c0=2, gap=2)
    path = tmp_path / "cells.xlsx"
    hc.write_seed_workbook(path, _seed("004"), v, projects=_seed("004")["projects"][:3])
    res = read_workbook(path)
    wb = CalamineWorkbook.from_path(str(path))
    for p in res.projects:
        rows = wb.get_sheet_by_name(p.source_sheet).to_python(skip_empty_area=False)

        def at(a1):
            m = re.fullmatch(r"([A-Z]+)(\d+)", a1)
            col = 0
            for ch in m.group(1):
                col = col * 26 + ord(ch) - 64
            return rows[int(m.group(2)) - 1][col - 1]

        assert at(p.cells["name"]) == p.name
        assert p.cells["name"] == "E8"                     # C3 moved by 3 rows, 2 columns and 2 gap rows
        assert to_decimal(at(p.cells["funds_score"])) == p.funds_score
        assert to_decimal(at(p.cells["funds.年度资金总额.budget"])) == p.funds["年度资金总额"].budget
        assert to_decimal(at(p.cells["total_score"])) == p.total_score
        assert at(p.cells["grade"]) == p.grade
        for i, ind in enumerate(p.indicators):
            assert to_decimal(at(p.cells[f"indicators.{i}.score"])) == ind.score
            assert at(p.cells[f"indicators.{i}.target"]) == ind.target
            assert at(p.cells[f"indicators.{i}.actual"]) == ind.actual


def test_parse_sheet_is_pure_and_tolerant():
    """A hand-made grid: labels split by spaces/newlines, values two cells right of merged labels,
    extra blank rows, 分数, a rate with %, dashes, 评分等级：优 in one cell, HTML in text."""
    E = ""
    rows = [
        [E, "（2021 年度）财政项目支出绩效自评表", E, E, E, E, E, E, E],
        [E] * 9,
        [E, "项目\n名称", E, E, "<b>示例项目</b>", E, E, E, E],
        [E, "主管 部门", E, "某委员会", E, "实施\n单位", E, E, "某中心"],
        [E] * 9,
        [E, "项目资金（元）", E, "年初预算数", "全年预算数", "全年执行数", "分数", "执行率(%)", "得分"],
        [E, E, "年度资金总额：", "1,000.00", 1000.0, "800", "10", "80.00%", "8"],
        [E, E, "其中：当年财政拨款", "1,000.00", "1000", "800", "—", E, "-"],
        [E] * 9,
        [E, "一级 指标", "二级\n指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"],
        [E, "产出 指标", "数量 指标", "次数", "≥4次", "4次", 50.0, "50", E],
        [E] * 9,
        [E, E, "质量 指标", "合格率", "=100%", 0.95, "40", 38.0, "<p>个别不合格</p>"],
        [E, "总分", E, E, E, E, "100", "96", E],
        [E, "评分等级：优", E, E, E, E, E, E, E],
    ]
    projects, problems = parse_sheet(rows, origin=(10, 0), sheet="表一", file="f.xlsx",
                                     percent={(22, 5)}, profile="excel")
    assert [q.message_zh for q in problems] == ["资金表缺少「上年结转资金」行。", "资金表缺少「其他资金」行。"]
    assert {q.severity for q in problems} == {Severity.INFO}
    (p,) = projects
    assert (p.kind, p.year, p.name, p.department, p.unit, p.money_unit, p.profile) == \
        (SELF_EVALUATION, 2021, "示例项目", "某委员会", "某中心", "元", "excel")
    assert p.funds["年度资金总额"].budget == Decimal("1000") and p.funds_rate == Decimal("80.00")
    assert p.funds_weight == Decimal("10") and p.funds_score == Decimal("8")
    assert p.funds["当年财政拨款"].executed == Decimal("800")
    assert p.funds["上年结转资金"].budget is None
    assert [(i.level1, i.level2, i.level3) for i in p.indicators] == [("产出指标", "数量指标", "次数"),
                                                                     ("产出指标", "质量指标", "合格率")]
    assert p.indicators[1].actual == "95%" and p.indicators[1].note == "个别不合格"
    assert p.indicators[0].weight == Decimal("50") and p.indicators[1].score == Decimal("38")
    assert p.total_score == Decimal("96") and p.grade == "优"
    assert p.cells["name"] == "E13" and p.cells["indicators.1.actual"] == "F23"
    assert p.source_file == "f.xlsx" and p.source_sheet == "表一"


def test_wrong_values_give_cell_problems_not_crashes():
    rows = [["财政项目支出绩效自评表"], ["(2023年度)"], ["项目名称", 12345.0],
            ["项目资金（万元）", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"],
            ["年度资金总额", True, "十万", "=cmd|' /C calc'!A0", "abc", "", ""],
            ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
            ["产出指标", "数量指标", "=HYPERLINK(\"http://x\")", "≥1", "1", "五", ""]]
    (p,), problems = parse_sheet(rows, file="x.xlsx", sheet="S")
    assert p.name == "12345" and p.funds["年度资金总额"].initial is None
    assert p.indicators[0].level3 == '=HYPERLINK("http://x")'   # kept as typed, flagged
    cells = {q.cell for q in problems}
    assert {"B5", "C5", "D5", "E5", "C7", "F7"} <= cells
    assert all(CJK.search(q.message_zh) and q.file == "x.xlsx" and q.sheet == "S" for q in problems)


# ====================================================================== files and folders

def test_collect_files_skips_lock_files_and_symlinked_dirs(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.xlsx", "a/y.XLS", "z.xlsm", "~$x.xlsx", ".~lock.x.xlsx#", "note.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    files = [os.path.relpath(f, tmp_path) for f in collect_files(tmp_path)]
    assert files == [os.path.join("a", "x.xlsx"), os.path.join("a", "y.XLS"), "z.xlsm"]
    assert collect_files([tmp_path / "z.xlsm", tmp_path / "a"]) == [str(tmp_path / "z.xlsm"),
                                                                    str(tmp_path / "a" / "x.xlsx"),
                                                                    str(tmp_path / "a" / "y.XLS")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_fifo_and_devices_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    (tmp_path / "zero.xlsx").symlink_to("/dev/zero")
    t0 = time.perf_counter()
    for path in (fifo, tmp_path / "zero.xlsx", tmp_path / "missing.xlsx", tmp_path):
        res = read_workbook(path)
        assert not res.projects and len(res.problems) == 1 and res.problems[0].severity == Severity.ERROR
    assert time.perf_counter() - t0 < 2


def test_crashing_reader_costs_only_its_file(tmp_path):
    """With the extent guard switched off, calamine aborts the worker on a far-corner cell:
    that file gets one problem, the others are read."""
    grid = hc.small_form_grid()
    good = hc.raw_xlsx([("自评表", hc.sheet_xml(grid))])
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    paths = []
    for i in range(6):
        p = tmp_path / f"f{i}.xlsx"
        p.write_bytes(hc.raw_xlsx([("S", hc.sheet_xml(grid, extra_rows=far))]) if i == 2 else good)
        paths.append(p)
    h = harvest(tmp_path, workers=2, limits=Limits(max_area=10**13))
    assert [len(r.projects) for r in h.results] == [1, 1, 0, 1, 1, 1]
    (prob,) = h.results[2].problems
    assert prob.severity == Severity.ERROR and "异常退出" in prob.message_zh and prob.file == str(paths[2])


@dataclasses.dataclass(frozen=True)
class _HangingLimits(Limits):
    hang_on: str = ""

    def __reduce__(self):  # unpickled in a worker (spawn too): installs the hang there
        return _hanging_limits, (self.hang_on, self.seconds_per_file)


def _hanging_limits(name: str, seconds: float) -> Limits:
    """Limits whose unpickling makes ``read_workbook`` of the process hang on the file
    ``name`` — so a worker hangs whatever the start method (fork or spawn), where a
    monkeypatch would reach forked workers only."""
    if not getattr(hv.read_workbook, "hangs", False):
        real = hv.read_workbook

        def hanging(path, limits=None):
            if Path(path).name == getattr(limits, "hang_on", None):
                time.sleep(120)
            return real(path, limits)

        hanging.hangs = True
        hv.read_workbook = hanging
    return _HangingLimits(seconds_per_file=seconds, hang_on=name)


def _pool_start_seconds(one_file) -> float:
    """What starting a worker pool costs here (a second or more with spawn on a busy machine)."""
    t0 = time.perf_counter()
    harvest([str(one_file)], workers=1)
    return time.perf_counter() - t0


def test_a_hanging_reader_is_stopped(tmp_path, monkeypatch):
    """A worker still busy after limits.seconds_per_file is killed; its file gets one problem."""
    good = hc.raw_xlsx([("自评表", hc.sheet_xml(hc.small_form_grid()))])
    for i in range(3):
        (tmp_path / f"f{i}.xlsx").write_bytes(good)
    monkeypatch.setattr(hv, "read_workbook", hv.read_workbook)    # undone after the test
    start = _pool_start_seconds(tmp_path / "f0.xlsx")
    t0 = time.perf_counter()
    h = harvest(tmp_path, workers=2, limits=_hanging_limits("f1.xlsx", 0.2))
    assert time.perf_counter() - t0 < 15 + 3 * start     # the pool is started up to 3 times
    assert [len(r.projects) for r in h.results] == [1, 0, 1]
    (prob,) = h.results[1].problems
    assert "0.2 秒" in prob.message_zh and prob.severity == Severity.ERROR


def test_a_hang_inside_a_task_is_stopped_on_its_own_clock(tmp_path, monkeypatch):
    """Workers get files in tasks of many; a file that hangs is stopped once it alone has run
    limits.seconds_per_file, not when the whole task's allowance is spent, and the files
    around it are still read."""
    good = hc.raw_xlsx([("自评表", hc.sheet_xml(hc.small_form_grid()))])
    for i in range(130):
        (tmp_path / f"f{i:03d}.xlsx").write_bytes(good)
    monkeypatch.setattr(hv, "read_workbook", hv.read_workbook)
    start = _pool_start_seconds(tmp_path / "f000.xlsx")
    t0 = time.perf_counter()
    h = harvest(tmp_path, workers=1, limits=_hanging_limits("f077.xlsx", 0.5))
    took = time.perf_counter() - t0 - 2 * start        # two pools: before and after the kill
    # tasks of 16 files here: their allowance is 0.5 s x 16 x 2 + 1 = 17 s, plus
    # SPAWN_STARTUP_SECONDS (30 s) with spawn: well under either means the file's own clock
    assert took < (8 if hv._mp_context().get_start_method() == "fork" else 30)
    assert [len(r.projects) for r in h.results] == [1] * 77 + [0] + [1] * 52
    (prob,) = h.results[77].problems
    assert "0.5 秒" in prob.message_zh and prob.severity == Severity.ERROR


def test_one_file_is_read_in_a_forked_child_with_the_pools_guarantees(tmp_path, monkeypatch):
    """One file (``xlperf check FILE``) is read in a child forked for it, not a pool (whose
    start-up was most of the command's time); it keeps the pool's guarantees: the same
    result, a reader that dies costs only its file, a hang is stopped on the file's clock.
    Under the Windows lane (spawn) the pool reads it, with the same results."""
    grid = hc.small_form_grid()
    good = tmp_path / "good.xlsx"
    good.write_bytes(hc.raw_xlsx([("自评表", hc.sheet_xml(grid))]))
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    bad = tmp_path / "far.xlsx"
    bad.write_bytes(hc.raw_xlsx([("S", hc.sheet_xml(grid, extra_rows=far))]))
    forked = []
    real = hv._read_forked
    monkeypatch.setattr(hv, "_read_forked", lambda *a: forked.append(a[0]) or real(*a))
    expected = read_workbook(good)
    (got,) = harvest([str(good)]).results
    assert got.projects == expected.projects and got.problems == expected.problems
    (crashed,) = harvest([str(bad)], limits=Limits(max_area=10**13)).results
    assert not crashed.projects and [p.message_zh for p in crashed.problems] == [hv._CRASH]
    monkeypatch.setattr(hv, "read_workbook", hv.read_workbook)    # undone after the test
    t0 = time.perf_counter()
    (hung,) = harvest([str(good)], limits=_hanging_limits("good.xlsx", 0.3)).results
    assert time.perf_counter() - t0 < 10 and "0.3 秒" in hung.problems[0].message_zh and not hung.projects
    assert forked == ([str(good), str(bad), str(good)] if hv._can_fork() else [])


def test_workbooks_made_by_xlperf_read_back(tmp_path):
    """The generator's workbooks (same labels as the seeds, plus xp_ names and helper
    columns right of the form) give back what was generated, xp_profile included."""
    generate = pytest.importorskip("xlperf.generate")
    keys = ("kind", "year", "name", "department", "unit", "money_unit", "nature", "category", "start", "end",
            "declared", "total_goal", "annual_goal", "actual_result")
    for seed in SEEDS:
        for proj in seed["projects"][:3]:
            p = hc.expected_project(seed, proj)
            p.profile = seed.get("profile") or "shanghai"
            path = tmp_path / f"{proj['id']}.xlsx"
            path.write_bytes(generate.render(p))
            res = read_workbook(path)
            (g,) = res.projects
            a, b = hc.comparable(p), hc.comparable(g)
            assert {k: a[k] for k in keys} == {k: b[k] for k in keys}, proj["id"]
            if p.kind == SELF_EVALUATION:
                assert g.profile == p.profile
                assert {k: (v.initial, v.budget, v.executed) for k, v in p.funds.items()} == \
                    {k: (v.initial, v.budget, v.executed) for k, v in g.funds.items()}
            fields = ("level1", "level2", "level3", "target", "weight", "actual", "note")
            assert [[getattr(i, f) for f in fields] for i in p.indicators] == \
                [[getattr(i, f) for f in fields] for i in g.indicators], proj["id"]


def test_refusals_name_the_reason_in_chinese(tmp_path):
    cases = {
        "a.xlsx": b"just some text, renamed",
        "b.xlsx": hc.cfb({"EncryptionInfo": b"\x04\x00" * 60, "EncryptedPackage": b"\x01" * 5000}),
        "c.xlsx": b"PK\x03\x04broken",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    h = harvest(tmp_path, workers=0)
    msgs = {Path(r.file).name: r.problems[0].message_zh for r in h.results}
    assert "文本" in msgs["a.xlsx"] and "加密" in msgs["b.xlsx"] and "损坏" in msgs["c.xlsx"]


def test_to_frames(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    hc.write_seed_workbook(d / "s001.xlsx", _seed("001"))
    hc.write_seed_workbook(d / "s000.xlsx", _seed("000"), projects=_seed("000")["projects"][:2])
    (d / "bad.xlsx").write_bytes(b"not a workbook")
    g = hc.small_form_grid(name="=cmd|' /C calc'!A0")
    (d / "evil.xlsx").write_bytes(hc.raw_xlsx([("S", hc.sheet_xml(g))]))
    h = harvest(d, workers=0)
    frames = to_frames(h)
    assert set(frames) == {"projects", "funds", "indicators", "problems"}
    assert len(frames["projects"]) == 5 and len(frames["funds"]) == 3 * 4
    assert frames["indicators"]["project_id"].nunique() == 5
    decl = frames["projects"][frames["projects"]["kind"] == DECLARATION]
    assert len(decl) == 2 and all(isinstance(x, Decimal) for x in decl["declared_project_total"])
    assert (frames["problems"]["severity"] == "错误").sum() == 1
    assert set(hv.FRAME_COLUMNS_ZH) >= set().union(*(f.columns for f in frames.values()))

    evil = frames["projects"][frames["projects"]["name"].str.startswith("=")]
    assert list(evil["name"]) == ["=cmd|' /C calc'!A0"]            # kept as typed in the frame ...
    assert hv._csv_safe(evil["name"].iloc[0]).startswith("'=")       # ... and defused for CSV export
    assert hv._csv_safe("安全") == "安全" and hv._csv_safe(Decimal("1")) == Decimal("1")


# ====================================================================== the hostile corpus

class NetworkAttempt(Exception):
    pass


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cases = hc.build_corpus(root)
    if hasattr(os, "mkfifo"):
        fifo = root / "fifo.xlsx"
        os.mkfifo(fifo)
        cases.append(hc.Case(fifo, "refused", "a FIFO named .xlsx"))
    cases += hc.plant_links(root)          # links out of the folder (and /dev/zero): not followed
    return root, cases


def _fingerprint(root: Path) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        if p.is_file() and not p.is_symlink():
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size)
        else:
            out[str(p)] = (None, st.st_mtime_ns, st.st_mode)
    return out


@pytest.fixture(scope="module")
def hostile_run(corpus):
    root, cases = corpus
    before = _fingerprint(root)
    attempts = []
    mp = pytest.MonkeyPatch()
    real_socket = socket.socket

    class GuardedSocket(real_socket):
        def __init__(self, family=socket.AF_INET, *a, **k):
            if family in (socket.AF_INET, socket.AF_INET6):
                attempts.append(family)
                raise NetworkAttempt(f"network socket {family}")
            super().__init__(family, *a, **k)

    def refuse(*a, **k):
        attempts.append(a)
        raise NetworkAttempt(f"network call {a!r}")

    mp.setattr(socket, "socket", GuardedSocket)
    mp.setattr(socket, "create_connection", refuse)
    mp.setattr(socket, "getaddrinfo", refuse)
    try:
        t0 = time.perf_counter()
        h = harvest(root, workers=1)           # one reader process: memory growth is per file
        wall = time.perf_counter() - t0
        serial = [read_workbook(c.path) for c in cases if c.path.name.startswith(("external", "formula", "xml_net"))]
    finally:
        mp.undo()
    after = _fingerprint(root)
    return h, wall, before, after, attempts, serial


def test_corpus_is_big_enough(corpus):
    root, cases = corpus
    assert len(cases) >= 200
    assert {c.expect for c in cases} == {"refused", "harvested", "any"} | ({"link"} if hasattr(os, "symlink") else set())


def test_every_file_gives_projects_or_exactly_one_error(corpus, hostile_run):
    _root, cases = corpus
    h = hostile_run[0]
    by_file = {r.file: r for r in h.results}
    assert set(by_file) == {display_name(str(c.path)) for c in cases}
    failures = []
    for c in cases:
        r = by_file[display_name(str(c.path))]
        if c.expect == "link":
            ok = (r.skipped and len(r.problems) == 1 and r.problems[0].severity == Severity.INFO
                  and "链接" in r.problems[0].message_zh and not r.projects
                  and hc.SECRET.hex(" ")[:23] not in str(r.problems) and b"SECRET" not in repr(r).encode())
            if not ok:
                failures.append((c.path.name, c.expect, c.note, [str(p) for p in r.problems][:2], len(r.projects)))
            continue
        if not r.projects:
            ok = (len(r.problems) == 1 and r.problems[0].severity == Severity.ERROR
                  and r.problems[0].file == display_name(str(c.path)) and CJK.search(r.problems[0].message_zh))
        else:
            ok = all(p.severity in (Severity.WARNING, Severity.INFO) and p.file == display_name(str(c.path))
                     for p in r.problems)
        ok = ok and not (c.expect == "refused" and r.projects) and not (c.expect == "harvested" and not r.projects)
        if "message" in c.checks:
            ok = ok and c.checks["message"] in r.problems[0].message_zh
        if "info" in c.checks:
            ok = ok and any(c.checks["info"] in p.message_zh and p.severity == Severity.INFO for p in r.problems)
        if "warn" in c.checks:
            ok = ok and any(c.checks["warn"] in p.message_zh for p in r.problems)
        if not ok:
            failures.append((c.path.name, c.expect, c.note, [str(p) for p in r.problems][:2], len(r.projects)))
    assert not failures, failures


def test_nothing_is_evaluated(corpus, hostile_run):
    _root, cases = corpus
    by_file = {r.file: r for r in hostile_run[0].results}
    for c in cases:
        r = by_file[display_name(str(c.path))]
        if "project_name" in c.checks:                      # formula-like text stays text
            (p,) = r.projects
            assert p.name == c.checks["project_name"].strip()
            assert p.indicators[c.checks["score_none"]].score is None
        if "cached_score" in c.checks:                      # formula cells: cached value or nothing
            (p,) = r.projects
            assert p.name == ""                              # no cached value: not computed
            assert p.funds["年度资金总额"].executed is None   # =1+1 without a cached value is not 2
            assert p.indicators[c.checks["cached_score"]].score == Decimal("7")
            assert p.indicators[c.checks["cached_score"]].actual == "缓存文字"
    macro = [r for f, r in by_file.items() if Path(f).name.startswith("macro_")]
    assert macro and all(r.projects and r.projects[0].name == "安全生产专项工作经费" for r in macro)


def test_sources_untouched_and_no_network(hostile_run):
    h, _wall, before, after, attempts, serial = hostile_run
    assert before == after                       # same files, bytes, sizes and mtimes; nothing added
    assert attempts == []
    assert serial and all(r.projects or r.problems for r in serial)
    for r in h.results + serial:
        assert not any("NetworkAttempt" in p.found for p in r.problems), r.problems


def test_time_and_memory_are_bounded(corpus, hostile_run, capsys):
    _root, cases = corpus
    h, wall, *_ = hostile_run
    slow = h.slowest()
    order = {str(c.path): i for i, c in enumerate(sorted(cases, key=lambda c: str(c.path)))}
    results = sorted(h.results, key=lambda r: order.get(r.file, 0))
    growth, culprit, prev = 0, "", results[0].memory_kb
    for r in results[1:]:
        if r.memory_kb - prev > growth:
            growth, culprit = r.memory_kb - prev, r.file
        prev = max(prev, r.memory_kb)
    peak = max(r.memory_kb for r in h.results)
    with capsys.disabled():
        print(f"\nhostile corpus: {len(h.results)} files in {wall:.2f}s; slowest {Path(slow.file).name} "
              f"{slow.seconds * 1000:.0f} ms; reader peak RSS {peak / 1024:.0f} MB (started at "
              f"{results[0].memory_kb / 1024:.0f} MB), largest growth by one file {growth / 1024:.0f} MB "
              f"({Path(culprit).name if culprit else '-'})")
    # Wall-clock seconds: on a shared machine (load above the core count) a file gets only its
    # share of a core, so the bound scales with the load measured now.
    share = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)) if hasattr(os, "getloadavg") else 1.0
    assert slow.seconds < 10 * share
    assert growth < 400 * 1024 and peak - results[0].memory_kb < 600 * 1024


def test_problem_shape():
    p = Problem(Severity.WARNING, "f.xlsx", "S", "B2", "说明", "x", "y")
    assert (p.severity, p.file, p.sheet, p.cell, p.message_zh, p.found, p.expected) == \
        ("警告", "f.xlsx", "S", "B2", "说明", "x", "y")
    assert "单元格 B2" in str(p)
    assert isinstance(Harvest().projects, list)


# ====================================================================== .xls percent formats

def _percent_xls_grid():
    """A small 自评表 whose 执行率 and one 实际完成值 are numbers shown as percents."""
    return [["财政项目支出绩效自评表"], ["(2023 年度)"],
            ["项目名称", "测试项目", None, "主管部门", "某委", "实施单位", "某中心"],
            ["项目资金（元）", None, "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"],
            [None, "年度资金总额", 100, 100, 95, 10, 0.95, 9.5],
            ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"],
            ["产出指标", "质量指标", "合格率", "≥90%", 0.95, 90, 90, None],
            ["总分", None, None, None, None, 100, 99.5, None]]


def test_xls_percent_cells_from_format_xf_and_cell_records():
    """FORMAT (custom and built-in), XF and NUMBER/RK/MULRK/FORMULA records, built by hand:
    only the cells whose XF points at a percent format are percent cells."""
    import struct

    from xlperf.safezip import _biff_percent_cells
    rec = hc._rec
    fmt = lambda i, code: rec(0x041E, struct.pack("<HHB", i, len(code), 1) + code.encode("utf-16-le"))  # noqa: E731
    xf = lambda ifmt: rec(0x00E0, struct.pack("<HH", 0, ifmt) + b"\0" * 16)                          # noqa: E731
    glob = (rec(0x0809, b"\0" * 16) + fmt(164, "0.00%") + fmt(165, '0.00"%"') + fmt(166, "#,##0.00")
            + xf(0) + xf(164) + xf(165) + xf(166) + xf(9))           # XF 1: custom %, XF 4: built-in 0%
    name = "自评表"
    bound_len = len(rec(0x0085, struct.pack("<IBBBB", 0, 0, 0, len(name), 1) + name.encode("utf-16-le")))
    start = len(glob) + bound_len + len(rec(0x000A, b""))
    bound = rec(0x0085, struct.pack("<IBBBB", start, 0, 0, len(name), 1) + name.encode("utf-16-le"))
    sheet = (rec(0x0809, b"\0" * 16)
             + rec(0x0203, struct.pack("<HHHd", 4, 6, 1, 0.95))          # G5: 0.00%
             + rec(0x0203, struct.pack("<HHHd", 4, 7, 2, 0.95))          # H5: "%" only as text
             + rec(0x027E, struct.pack("<HHHI", 6, 4, 4, 0))            # E7: RK in 0%
             + rec(0x00BD, struct.pack("<HH", 7, 2) + struct.pack("<HI", 3, 0) + struct.pack("<HI", 1, 0)
                   + struct.pack("<H", 3))                               # C8 plain, D8 percent
             + rec(0x0006, struct.pack("<HHH", 9, 0, 1) + b"\0" * 14)    # A10: formula in 0.00%
             + rec(0x000A, b""))
    stream = glob + bound + rec(0x000A, b"") + sheet
    assert _biff_percent_cells(stream) == {name: frozenset({(4, 6), (6, 4), (7, 3), (9, 0)})}
    assert _biff_percent_cells(stream[:len(glob) // 2]) == {}                  # cut short: nothing, no error


@pytest.mark.libreoffice
def test_an_xls_saved_by_a_spreadsheet_keeps_its_percents(tmp_path):
    """A form saved as .xls (LibreOffice's BIFF8 writer, as WPS/Excel would) reads like its
    .xlsx: 95% stays 95%, not 0.95 (which would be a missed ≥90% target)."""
    import needs
    import openpyxl

    from xlperf import libreoffice, validate
    needs.require("soffice")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "自评表"
    for row in _percent_xls_grid():
        ws.append(row)
    ws["G5"].number_format = ws["E7"].number_format = "0.00%"
    wb.save(tmp_path / "form.xlsx")
    (xls,) = libreoffice._convert([tmp_path / "form.xlsx"], tmp_path / "out", "xls", ".xls", 120)
    res = read_workbook(xls)
    assert res.format == "xls"
    (p,) = res.projects
    assert p.funds_rate == Decimal("95") and p.indicators[0].actual == "95%"
    assert validate.check_project(p) == []


# ====================================================================== targets typed as Excel stores them

def _target_cells(path) -> list[str]:
    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries
    wb = openpyxl.load_workbook(path)
    (_sheet, ref), = list(wb.defined_names["xp_ind_target"].destinations)[:1]
    c1, r1, _c2, r2 = range_boundaries(ref.replace("$", ""))
    return [f"{get_column_letter(c1)}{r}" for r in range(r1, r2 + 1)]


def _typed_forms(tmp_path):
    """A 自评表 of seed 002 (targets =100%, =20, >=90%…) and its 申报表 (the targets as text),
    in which the unit typed into General target cells as Excel stores it (issue 13 item 4)."""
    import copy
    import datetime

    from excel_typing import type_cells
    from xlperf import generate
    seed = _seed("002")
    p = hc.expected_project(seed, seed["projects"][0])
    p.profile = "excel"
    se = tmp_path / "自评表.xlsx"
    se.write_bytes(generate.render(p))
    d = copy.deepcopy(p)
    d.kind = DECLARATION
    (tmp_path / "申报").mkdir()
    (tmp_path / "申报" / "申报表.xlsx").write_bytes(generate.render(d))
    cells = _target_cells(se)
    assert [i.target for i in p.indicators][:8] == ["=100%", "=20", ">=90%", ">=90%", ">=90%", ">=90%", "=100%", "=100%"]
    type_cells(se, {cells[0]: ("=100%", "0%", "1"),          # =100% typed: a formula, Excel shows 100%
                    cells[6]: ("=100%", "General", "1"),     # the same where Excel left the format General
                    cells[7]: (1, "0%", None),               # 100% typed: the number 1 with a percent format
                    cells[2]: (0.9, "0%", None),             # 90% typed over >=90%: a true change
                    cells[3]: ("=A1*2", "General", "0"),     # a formula whose meaning the cell does not show
                    cells[4]: ("=0.9", "0%", "0.9"),         # shown 90%, written 0.9: ambiguous
                    cells[5]: (datetime.datetime(2024, 1, 2), "yyyy-mm-dd", None)})   # 1/2 made a date
    return se, tmp_path / "申报", cells


def test_typed_targets_are_read_as_the_notation_meant(tmp_path):
    se, _decl, cells = _typed_forms(tmp_path)
    res = read_workbook(se)
    (p,) = res.projects
    assert [i.target for i in p.indicators][:8] == ["=100%", "=20", "90%", "", "", "", "=100%", "100%"]
    assert not res.problems          # said once, by the check (below), at the cell
    unread = {p.cells[f"indicators.{k}.target"]: i.unread_target for k, i in enumerate(p.indicators) if i.unread_target}
    assert set(unread) == {cells[3], cells[4], cells[5]}
    assert unread[cells[3]][1] == "=A1*2" and "「=A1*2」" in unread[cells[3]][0]
    assert unread[cells[4]][1] == "=0.9" and "日期" in unread[cells[5]][0]


def test_typed_targets_give_only_true_findings(tmp_path):
    """With the 申报表: the =100% / 100% cells agree with it (no finding), 90% typed over >=90%
    is the one changed target, and each unreadable cell gets exactly one 警告 naming the file,
    sheet and cell and saying what was expected — nothing derived from the blank it leaves."""
    from xlperf import validate
    se, decl, cells = _typed_forms(tmp_path)
    run = validate.check_paths([se], declarations=[decl], workers=0)
    on_targets = [f for f in run.findings if f.cell in cells[:8]]
    assert sorted((f.cell, f.check, str(f.severity)) for f in on_targets) == sorted([
        (cells[2], "declared", "错误"), (cells[3], "unreadable", "警告"), (cells[4], "unreadable", "警告"),
        (cells[5], "unreadable", "警告")])
    for f in on_targets:
        assert f.file == str(se) and f.sheet == "自评表"
        if f.check == "unreadable":
            assert f.expected == "文本格式的指标值（如 =100%、≥90%）" and "文本格式" in f.message_zh
    assert next(f for f in on_targets if f.cell == cells[3]).found == "=A1*2"
    assert not [f for f in run.findings if f.check == "declared" and f.cell != cells[2]]


def test_generate_from_carries_typed_targets_and_refuses_ambiguous_ones(tmp_path):
    """``generate --from`` reads a filled 申报表's targets as the check does: =100% and 95% as
    typed; a formula it cannot read stops that 申报表 with the cell named."""
    import copy

    from excel_typing import type_cells
    from xlperf import generate
    seed = _seed("003")
    p = hc.expected_project(seed, seed["projects"][0])
    assert [i.target for i in p.indicators][:7] == ["<=15", "=100%", "=100%", "=100%", "符合规定标准", "=100%", "100%"]
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    good.write_bytes(generate.render(p))
    bad.write_bytes(generate.render(copy.deepcopy(p)))
    cells = _target_cells(good)
    type_cells(good, {cells[1]: ("=100%", "0%", "1"), cells[2]: ("=100%", "General", "1"),
                      cells[6]: (0.95, "0%", None)})
    d = generate.read_declaration(good)
    assert [i.target for i in d.indicators][:7] == ["<=15", "=100%", "=100%", "=100%", "符合规定标准", "=100%", "95%"]
    type_cells(bad, {cells[3]: ("=A1*2", "General", "0")})
    with pytest.raises(generate.GenerateError) as exc:
        generate.read_declaration(bad)
    text = str(exc.value)
    assert "bad.xlsx" in text and f"单元格 {cells[3]}" in text and "「=A1*2」" in text and "文本格式" in text


def test_recalc_reads_typed_targets_as_check_does(tmp_path):
    """``xlperf recalc`` scores against the targets as typed (=100%, not 1) and reports the
    unreadable cells at the cell, as check does."""
    from xlperf import recalc
    se, _decl, cells = _typed_forms(tmp_path)
    p = recalc.read_file(se)
    assert [i.target for i in p.indicators][:8] == ["=100%", "=20", "90%", "", "", "", "=100%", "100%"]
    found = [f for f in recalc.findings_for(p) if f.cell in cells[:8]]
    assert sorted((f.cell, f.check) for f in found) == [(c, "unreadable") for c in sorted(cells[3:6])]
    assert next(f for f in found if f.cell == cells[3]).found == "=A1*2"


def test_a_hostile_formula_in_a_target_cell_is_shown_bounded_and_clean(tmp_path):
    """A target cell's formula is only ever shown as text: bidi/format characters dropped,
    its length bounded in the message and the 表上值 (reports and terminal carry them)."""
    from xlperf import validate
    grid = hc.small_form_grid()
    r, c = next((r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v == "≥4.00(次)")
    grid[r][c] = hc.Formula("=\u202eA1*2+" + "B2*3+" * 400 + "1", 7.0)
    path = tmp_path / "公式.xlsx"
    path.write_bytes(hc.raw_xlsx([("自评表", hc.sheet_xml(grid))]))
    (p,) = read_workbook(path).projects
    why, held = p.indicators[0].unread_target
    assert held.startswith("=A1*2+B2*3+") and len(held) <= 200 and "\u202e" not in held + why
    assert len(why) < 150 and "…" in why
    (f,) = [f for f in validate.check_project(p) if f.check == "unreadable"]
    assert f.cell == hc.col_letters(c) + str(r + 1) and f.found == held


def test_the_ribbon_reads_typed_targets_of_the_open_workbook_as_files_are_read():
    """The add-in's reader (xlwings, Windows): Excel hands over value, formula and number
    format per cell; the target reads as for a file. (A fake book: no Excel here.)"""
    import types

    from xlperf import recalc

    def cell(ref, value, formula=None, fmt="General"):
        return types.SimpleNamespace(value=value, formula=formula if formula is not None else value, number_format=fmt,
                                     get_address=lambda *a: ref)

    rng = [cell("D13", 1.0, "=100%", "0%"), cell("D14", 1.0, "=100%"), cell("D15", 0.95, fmt="0.00%"),
           cell("D16", 0.0, "=A1*2"), cell("D17", "≥90%"), cell("D18", 12.0)]
    book = types.SimpleNamespace(names={"xp_ind_target": types.SimpleNamespace(refers_to_range=_FakeRange(rng, "自评表"))})
    sheet, refs, values = recalc.xlwings_lookup(book)("xp_ind_target")
    assert (sheet, refs) == ("自评表", ["D13", "D14", "D15", "D16", "D17", "D18"])
    assert values[:3] == ["=100%", "=100%", "95%"] and values[4:] == ["≥90%", 12.0]
    assert values[3].held == "=A1*2" and "「=A1*2」" in values[3].why


class _FakeRange(list):
    """An xlwings Range of cells: iterable, with its sheet."""
    def __init__(self, cells, sheet):
        super().__init__(cells)
        self.sheet = type("Sheet", (), {"name": sheet})()


def test_xls_formula_constants_from_formula_and_shared_formula_records():
    """FORMULA records built by hand as Excel writes =100% (ptgInt 100, ptgPercent) and =0.95
    (ptgNum), a shared one as LibreOffice writes it (ptgExp → SHRFMLA), and =A1*2 (ptgRef…):
    the constants give their text, anything else "" (never decoded further, never evaluated)."""
    import struct

    from xlperf.safezip import _biff_formula_cells
    rec = hc._rec

    def formula(row, col, rgce, value=1.0):
        return rec(0x0006, struct.pack("<HHHdHI", row, col, 0, value, 0, 0) + struct.pack("<H", len(rgce)) + rgce)

    name = "自评表"
    glob = rec(0x0809, b"\0" * 16)
    bound_len = len(rec(0x0085, struct.pack("<IBBBB", 0, 0, 0, len(name), 1) + name.encode("utf-16-le")))
    start = len(glob) + bound_len + len(rec(0x000A, b""))
    bound = rec(0x0085, struct.pack("<IBBBB", start, 0, 0, len(name), 1) + name.encode("utf-16-le"))
    percent = b"\x1e" + struct.pack("<H", 100) + b"\x14"
    sheet = (rec(0x0809, b"\0" * 16)
             + formula(6, 3, percent)                                               # D7: =100%
             + formula(7, 3, b"\x1f" + struct.pack("<d", 0.95), 0.95)               # D8: =0.95
             + formula(8, 3, b"\x01" + struct.pack("<HH", 8, 3))                    # D9: shared, anchor D9
             + rec(0x04BC, struct.pack("<HHBBBB", 8, 9, 3, 3, 0, 2) + struct.pack("<H", len(percent)) + percent)
             + formula(9, 3, b"\x01" + struct.pack("<HH", 8, 3))                    # D10: the same shared
             + formula(10, 3, b"\x24" + struct.pack("<HH", 0, 0xC000) + b"\x1e" + struct.pack("<H", 2) + b"\x05", 0)
             + rec(0x000A, b""))
    stream = glob + bound + rec(0x000A, b"") + sheet
    assert _biff_formula_cells(stream) == {name: {(6, 3): "100%", (7, 3): "0.95", (8, 3): "100%", (9, 3): "100%",
                                                  (10, 3): ""}}
    assert _biff_formula_cells(stream[:len(glob) // 2]) == {}
    for end in range(len(glob), len(stream)):                  # cut anywhere: no error
        _biff_formula_cells(stream[:end])


@pytest.mark.libreoffice
def test_an_xls_with_typed_targets_reads_them_as_typed(tmp_path):
    """A form saved as .xls by a spreadsheet (LibreOffice: shared formulas) with =100% typed in
    two target cells and =A1*2 in a third: =100%, =100%, and one 警告 at the third cell."""
    import needs
    import openpyxl

    from xlperf import libreoffice, validate
    needs.require("soffice")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "自评表"
    grid = _percent_xls_grid()
    grid[6][3] = "=100%"
    grid[7:7] = [["产出指标", "时效指标", "及时率", "=100%", "100%", 0, 0, None],
                 ["产出指标", "数量指标", "覆盖率", "=A1*2", "100%", 0, 0, None]]
    for row in grid:
        ws.append(row)
    ws["G5"].number_format = ws["E7"].number_format = ws["D7"].number_format = "0.00%"
    wb.save(tmp_path / "form.xlsx")
    (xls,) = libreoffice._convert([tmp_path / "form.xlsx"], tmp_path / "out", "xls", ".xls", 120)
    res = read_workbook(xls)
    (p,) = res.projects
    assert [i.target for i in p.indicators] == ["=100%", "=100%", ""]
    (f,) = [f for f in validate.check_project(p) if f.check == "unreadable"]
    assert (f.cell, f.found, f.sheet) == ("D9", "（公式）", "自评表") and "是公式" in f.message_zh


def test_formula_at_agrees_with_formula_cells(tmp_path):
    """The per-cell look-up harvest uses (a byte search) gives what the whole-sheet pass gives,
    with namespace prefixes, a decoy reference in a text and cells without a formula."""
    from xlperf.safezip import a1, inspect_bytes, open_container
    se, _decl, _cells = _typed_forms(tmp_path)
    c = open_container(se)
    (sheet,) = [s for s in c.sheet_parts if s == "自评表"]
    every = c.formula_cells(sheet)
    assert len(every) > 20
    for r in range(60):
        for col in range(12):
            assert c.formula_at(sheet, r, col) == every.get((r, col)), a1(r, col)
    xml = ('<?xml version="1.0"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>see r="B1" here</x:t></x:is></x:c>'
           '<x:c r="B1"><x:f>100%</x:f><x:v>1</x:v></x:c><x:c r="C1"><x:v>2</x:v></x:c>'
           '<x:c r="D1"><x:f t="shared" si="0"/><x:v>3</x:v></x:c></x:row></x:sheetData></x:worksheet>')
    c = inspect_bytes(hc.raw_xlsx([("表", xml)]))
    assert [c.formula_at("表", 0, k) for k in range(5)] == [None, "100%", None, "", None]
    assert c.formula_cells("表") == {(0, 1): "100%", (0, 3): ""}


def test_an_amount_typed_as_text_is_read_and_pointed_out_at_its_cell(tmp_path):
    """全年执行数 pasted as text the form's formulas cannot compute (full-width digits, 元): the
    check reads the figure the person meant, and a 提示 at the cell says why the printed 执行率
    shows 待核 there. A plain number stored as text (the formulas compute it) is not pointed out."""
    from excel_typing import type_cells
    from xlperf import generate
    seed = _seed("002")
    p = hc.expected_project(seed, seed["projects"][0])
    se = tmp_path / "自评表.xlsx"
    se.write_bytes(generate.render(p))
    res = read_workbook(se)
    (proj,) = res.projects
    ref = proj.cells["funds.年度资金总额.executed"]
    executed = proj.funds["年度资金总额"].executed
    assert executed and not [q for q in res.problems if q.cell == ref]
    plain = format(executed, "f")
    for typed in (plain.translate(str.maketrans("0123456789.", "０１２３４５６７８９．")), plain + "元"):
        type_cells(se, {ref: (typed, "@", None)})
        res = read_workbook(se)
        (proj,) = res.projects
        assert proj.funds["年度资金总额"].executed == executed
        (q,) = [q for q in res.problems if q.cell == ref]
        assert (q.severity, q.sheet, q.found) == (Severity.INFO, "自评表", typed)
        assert "待核" in q.message_zh and "改填数字" in q.message_zh
    type_cells(se, {ref: (plain, "@", None)})
    res = read_workbook(se)
    assert res.projects[0].funds["年度资金总额"].executed == executed
    assert not [q for q in res.problems if q.cell == ref]
