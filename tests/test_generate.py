"""Bulk generation: the sample year from the register, safe writing (skip, --force with
backup, kill -9), names, roll-forward from filled 申报表, and render() unchanged by the
bulk speed-ups."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pytest
import yaml

from xlperf import cli
from xlperf import generate as G
from xlperf import template as T
from xlperf.generate import (JOURNAL, MANIFEST, STATUS_FAILED, STATUS_NEW, STATUS_REPLACED, STATUS_SAME,
                             STATUS_SKIPPED, Namer, Progress, generate_all, read_manifest, read_named_cells,
                             render, safe_name)
from xlperf.errors import XlperfError
from xlperf.model import DECLARATION, FUNDS_ROWS, SELF_EVALUATION, DeclaredFunds, Project
from xlperf.register import SAMPLE_REGISTER, read_register, register_bytes
from xlperf.seeds import load

ROOT = Path(__file__).resolve().parent.parent
REFUSED = {"002-04", "002-05", "002-06", "002-12", "002-16"}   # printed weights total 110 / 105


@pytest.fixture(scope="module")
def seeds():
    return {f.id: f for f in load()}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "2023年度"
    proc = subprocess.run([sys.executable, "-m", "xlperf", "generate", str(SAMPLE_REGISTER), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    return out, proc


# ------------------------------------------------------------------ the sample year

def test_sample_year_from_the_register(sample_run):
    out, proc = sample_run
    assert proc.returncode == 1, proc.stderr           # five projects refused: exit code says so
    assert "\r" not in proc.stderr                      # no progress bar when not a terminal
    rows = read_manifest(out / MANIFEST)
    assert len(rows) == 74 and not (out / JOURNAL).exists()
    generated = [r for r in rows if r["状态"] == STATUS_NEW]
    refused = [r for r in rows if r["状态"] == STATUS_FAILED]
    assert len(generated) == 69 and {r["项目序号"] for r in refused} == REFUSED
    for r in refused:
        assert "工作表「项目清单」" in r["说明"] and "分值合计为" in r["说明"] and not r["文件"]
        assert r["说明"] in proc.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xlsx"))
    assert files == sorted(r["文件"] for r in generated)
    for r in generated:
        data = (out / r["文件"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        unit, name = r["文件"].split("/")
        assert name.endswith(f"_{r['表格类型']}.xlsx") and name[:4] in ("2022", "2023")
    assert "新生成 69 个" in proc.stdout and "未生成 5 个" in proc.stdout
    # no temporary files left behind
    assert not [p for p in out.rglob("*") if p.name.startswith(G.TMP_PREFIX)]


def test_notes_name_the_register_cell_and_the_file_and_are_not_repeated(sample_run, capsys):
    out, proc = sample_run
    notes = [line for line in proc.stderr.splitlines() if line.startswith("提醒：")]
    assert notes and all(f"文件「{SAMPLE_REGISTER}」，工作表「" in n and "（生成的文件：" in n for n in notes)
    (h61,) = [n for n in notes if "单元格 H61：" in n]
    assert "工作表「绩效指标」" in h61 and h61.endswith("_自评表.xlsx）")
    generated = h61.rsplit("（生成的文件：", 1)[1].rstrip("）")
    assert (out / generated).is_file()            # the named file exists (the named cell is the register's)
    # A second run leaves every file alone and has nothing new to say.
    assert cli.main(["generate", str(SAMPLE_REGISTER), "--out", str(out), "-j", "1"]) == 1   # still 5 refused
    err = capsys.readouterr().err
    assert "提醒：" not in err              # (the 5 refusals are errors of the register: said each time)


def test_generated_files_are_what_render_gives(sample_run):
    out, _ = sample_run
    rows = {r["项目序号"]: r for r in read_manifest(out / MANIFEST)}
    for entry in read_register(SAMPLE_REGISTER).entries:
        assert (out / rows[entry.project.key]["文件"]).read_bytes() == render(entry.project), entry.project.key


def _decimal(v):
    return None if v is None else Decimal(repr(v)) if isinstance(v, float) else Decimal(v)


def test_sample_workbooks_show_the_printed_scores(sample_run, seeds):
    out, _ = sample_run
    rows = {r["项目序号"]: r for r in read_manifest(out / MANIFEST)}
    checked = 0
    for key, form in seeds.items():
        if form.kind != SELF_EVALUATION or key in REFUSED:
            continue
        values, _ = read_named_cells(out / rows[key]["文件"])
        n = len(form.project.indicators)
        scores = [_decimal(v) for v in values["xp_ind_score"][:n]]
        assert scores == [ind.score for ind in form.project.indicators], key
        checked += 1
    assert checked == 29
    values, _ = read_named_cells(out / rows["001-02"]["文件"])
    assert values["xp_ind_override"][5] == 9 and values["xp_ind_note"][5] in (None, "")   # no placeholder prose


def test_names_are_safe_for_windows(sample_run):
    out, _ = sample_run
    quoted = [p.name for p in out.rglob("*.xlsx") if "1+1+1" in p.name]
    assert quoted == ["2023_嘉定区社区卫生服务综合改革＂1+1+1＂签约信息服务平台运维_申报表.xlsx"]
    assert safe_name('a<b>c:d"e/f\\g|h?i*j') == "a＜b＞c：d＂e／f＼g｜h？i＊j"
    assert safe_name("CON") == "_CON" and safe_name("nul.txt") == "_nul.txt"
    assert safe_name("名称. . ") == "名称" and safe_name("\x00\x1f") == "_" and safe_name("a\tb\n c") == "a b c"
    assert len(safe_name("很" * 300, 80)) == 80


def test_name_collisions_are_resolved_in_order():
    namer = Namer()
    base = Project(kind=SELF_EVALUATION, year=2024, name="运维费", unit="某单位", key="A")
    paths = [namer.assign(dataclasses.replace(base, key=k, name=n, unit=u))
             for k, n, u in (("A", "运维费", "某单位"), ("B", "运维费", "某单位"), ("C", "运维费", "某单位"),
                             ("D", "IT运维", "某单位"), ("E", "it运维", "某单位"), ("F", "运维费", "另一单位"))]
    assert [p for p, _ in paths] == [
        "某单位/2024_运维费_自评表.xlsx", "某单位/2024_运维费_自评表_2.xlsx", "某单位/2024_运维费_自评表_3.xlsx",
        "某单位/2024_IT运维_自评表.xlsx", "某单位/2024_it运维_自评表_2.xlsx", "另一单位/2024_运维费_自评表.xlsx"]
    assert "与项目 A 的文件名相同" in paths[1][1] and paths[0][1] == ""


# ------------------------------------------------------------------ safe writing

def _decl_jobs():
    return [e for e in read_register(SAMPLE_REGISTER, kind=DECLARATION).entries]


def test_existing_files_are_skipped_forced_with_backup_or_left_unchanged(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["generate", str(SAMPLE_REGISTER), "--kind", "申报表", "-o", str(out), "-j", "1"]
    assert cli.main(args) == 0
    first = {r["文件"]: r["sha256"] for r in read_manifest(out / MANIFEST)}
    assert len(first) == 40
    victim = out / next(iter(first))
    victim.write_bytes(b"edited by a person")
    assert cli.main(args) == 0                                     # skip, never overwrite
    rows = {r["文件"]: r for r in read_manifest(out / MANIFEST)}
    assert {r["状态"] for r in rows.values()} == {STATUS_SKIPPED}
    assert victim.read_bytes() == b"edited by a person"
    assert rows[victim.relative_to(out).as_posix()]["sha256"] == hashlib.sha256(b"edited by a person").hexdigest()
    assert "加 --force 可覆盖" in capsys.readouterr().out
    assert cli.main(args + ["--force"]) == 0                      # replaced, the old one kept
    rows = {r["文件"]: r for r in read_manifest(out / MANIFEST)}
    rel = victim.relative_to(out).as_posix()
    assert rows[rel]["状态"] == STATUS_REPLACED and "备份" in rows[rel]["说明"]
    assert Path(str(victim) + ".bak").read_bytes() == b"edited by a person"
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == first[rel]
    assert sum(r["状态"] == STATUS_SAME for r in rows.values()) == 39  # identical: untouched, no backup
    assert len(list(out.rglob("*.bak*"))) == 1


def test_parallel_and_single_process_write_the_same(tmp_path):
    entries = read_register(SAMPLE_REGISTER).entries
    a = generate_all(list(entries), tmp_path / "a", workers=2, chunk_size=4, progress=False)
    b = generate_all(iter(entries), tmp_path / "b", workers=1, progress=False)
    c = generate_all(iter(entries), tmp_path / "c", workers=2, chunk_size=5, progress=False)  # streamed, pickled
    ma, mb, mc = (read_manifest(d / MANIFEST) for d in (tmp_path / "a", tmp_path / "b", tmp_path / "c"))
    assert ma == mb == mc and a.files == b.files == c.files == 69
    for r in ma:
        assert (tmp_path / "a" / r["文件"]).read_bytes() == (tmp_path / "b" / r["文件"]).read_bytes()


def test_a_second_run_on_the_same_folder_is_refused_while_one_runs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = G._lock(out / JOURNAL)
    try:
        with pytest.raises(G.GenerateError, match="另一个 xlperf generate 正在写入"):
            generate_all(_decl_jobs()[:2], out, workers=1, progress=False)
    finally:
        os.close(holder)
    assert generate_all(_decl_jobs()[:2], out, workers=1, progress=False).files == 2


def test_progress_bar_only_on_a_terminal(capsys):
    bar = Progress(10, enabled=True)
    bar.update(10)
    bar.close()
    err = capsys.readouterr().err
    assert "\r" in err and "10/10" in err
    quiet = Progress(10)   # stderr is captured: not a terminal
    quiet.update(10)
    quiet.close()
    assert capsys.readouterr().err == ""


def test_progress_bar_passes_the_terminal_guard(capsys):
    """The bar returns to the line start with a CR of its own; the guard every command runs
    under (xlperf.terminal) still shows a CR from a file's text as \\u000d."""
    from xlperf.terminal import guard

    with guard():
        bar = Progress(10, enabled=True)
        bar.update(10)
        bar.status("写入磁盘…")
        bar.close()
        print("名称\r伪造", file=sys.stderr)
    err = capsys.readouterr().err
    assert err.startswith("\r生成 ") and "\r生成 写入磁盘…" in err and "名称\\u000d伪造" in err


KILL_SCRIPT = r"""
import sys
from xlperf.cli import main
sys.exit(main(["generate", sys.argv[1], "--out", sys.argv[2], "--kind", "自评表", "-q"]))
"""


def _big_register(path: Path, n: int) -> None:
    base = [f.project for f in load() if f.kind == SELF_EVALUATION and f.id not in REFUSED]
    projects = [dataclasses.replace(base[i % len(base)], name=f"{base[i % len(base)].name} {i:04d}", key=f"K{i:04d}")
                for i in range(n)]
    path.write_bytes(register_bytes(projects))


def test_kill_9_leaves_only_complete_files_listed_in_the_journal(tmp_path):
    register = tmp_path / "大登记表.xlsx"
    _big_register(register, 1200)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(register), str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and sum(1 for _ in out.rglob("*.xlsx")) >= 30:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)   # the workers die with their parent (PR_SET_PDEATHSIG)
    before = sorted(out.rglob("*.xlsx"))
    time.sleep(0.3)
    assert sorted(out.rglob("*.xlsx")) == before, "workers kept writing after the kill"
    assert 30 <= len(before) < 1200 and not (out / MANIFEST).exists()

    journal = {r["文件"]: r for r in read_manifest(out / JOURNAL)}
    for path in before:
        rel = path.relative_to(out).as_posix()
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as z:           # complete: every part's CRC checks out
            assert z.testzip() is None
        assert journal[rel]["sha256"] == hashlib.sha256(data).hexdigest(), rel
    for path in before[:: max(1, len(before) // 5)]:
        openpyxl.load_workbook(path, read_only=True).close()

    # a second run finishes the job: what exists is kept, the rest is written, the manifest lists all
    done = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(register), str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = read_manifest(out / MANIFEST)
    assert len(rows) == 1200 and not (out / JOURNAL).exists()
    assert sum(r["状态"] == STATUS_SKIPPED for r in rows) == len(before)
    for r in rows:
        assert hashlib.sha256((out / r["文件"]).read_bytes()).hexdigest() == r["sha256"]
    assert not [p for p in out.rglob("*") if p.name.startswith(G.TMP_PREFIX)]


# ------------------------------------------------------------------ roll-forward

def test_roll_forward_carries_targets_goals_and_funds(tmp_path, seeds):
    decl_dir, se_dir = tmp_path / "申报表", tmp_path / "自评表"
    assert cli.main(["generate", str(SAMPLE_REGISTER), "--kind", "申报表", "-o", str(decl_dir), "-q"]) == 0
    # a unit edits its declaration in Excel before the roll-forward (openpyxl stands in for Excel)
    edited = decl_dir / "上海市闵行区卫生健康委员会监督所" / "2023_政府雇员项目_申报表.xlsx"
    wb = openpyxl.load_workbook(edited)
    wb["申报表"]["E13"] = "=23.00(人)"
    wb["申报表"]["E13"].data_type = "s"
    wb.save(edited)
    assert cli.main(["generate", "--from", str(decl_dir), "--kind", "自评表", "-o", str(se_dir), "-q"]) == 0
    rows = read_manifest(se_dir / MANIFEST)
    assert len(rows) == 40 and {r["状态"] for r in rows} == {STATUS_NEW}
    decl_rows = {r["文件"]: r["项目序号"] for r in read_manifest(decl_dir / MANIFEST)}
    for r in rows:
        assert r["文件"].endswith("_自评表.xlsx") and r["项目序号"].endswith("_申报表.xlsx")
        seed = seeds[decl_rows[r["项目序号"]]].project
        se, _ = read_named_cells(se_dir / r["文件"])
        n = len(seed.indicators)
        targets = [ind.target or None for ind in seed.indicators]
        if seed.key == "000-02":
            targets[0] = "=23.00(人)"                     # the unit's edit is carried, not the register's
        assert se["xp_ind_target"][:n] == targets
        assert se["xp_ind_level3"][:n] == [ind.level3 for ind in seed.indicators]
        assert se["xp_expected_goal"] == [seed.annual_goal or None]
        assert se["xp_project_name"] == [seed.name] and se["xp_unit"] == [seed.unit]
        d = seed.declared
        assert [_decimal(v) for v in se["xp_funds_initial"]] == \
               [d.annual_total, d.annual_fiscal, d.annual_carryover, d.annual_other]
        assert se["xp_funds_budget"] == [None] * 4 and se["xp_funds_executed"] == [None] * 4
        assert sum(_decimal(w) for w in se["xp_ind_weight"][:n]) == 90   # + 10 for the funds = 100
        assert "2023年度" in se["xp_year"][0]


def test_roll_forward_reports_unreadable_files_and_skips_self_evaluations(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "坏文件.xlsx").write_bytes(b"not a workbook")
    one = next(e for e in read_register(SAMPLE_REGISTER).entries if e.project.key == "001-01")
    (src / "自评表.xlsx").write_bytes(render(one.project))
    assert cli.main(["generate", "--from", str(src), "-o", str(tmp_path / "out"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "坏文件.xlsx" in err and "无法作为 Excel 工作簿打开" in err
    rows = read_manifest(tmp_path / "out" / MANIFEST)
    assert [(r["项目序号"], r["状态"]) for r in rows] == [("坏文件.xlsx", STATUS_FAILED)]
    assert cli.main(["generate", "--from", str(src), "--kind", "申报表", "-o", str(tmp_path / "x")]) == 2


def test_fill_still_works(tmp_path):
    out = tmp_path / "one.xlsx"
    assert cli.main(["fill", "--seed", "001-01", "-o", str(out)]) == 0
    assert out.read_bytes() == render(next(f.project for f in load() if f.id == "001-01"))


# ------------------------------------------------------------------ xlperf fill 项目.yaml / .json

SEEDS_YAML = ROOT / "workbooks" / "seeds.yaml"
_AMOUNT_KEYS = {"initial", "budget", "executed", "weight", "rate", "score", *DeclaredFunds.__dataclass_fields__}


def _seed_project_dict(pid: str) -> dict:
    """One project of workbooks/seeds.yaml exactly as written there (every scalar a string),
    with its form's kind/year/money_unit/profile: the shape `xlperf fill` reads."""
    for form in yaml.load(SEEDS_YAML.read_text(encoding="utf-8"), Loader=yaml.BaseLoader):
        for p in form["projects"]:
            if p["id"] == pid:
                data = {k: form[k] for k in ("kind", "year", "money_unit", "profile") if k in form}
                data.update(p)
                return data
    raise KeyError(pid)


def _as_json_numbers(value, key=""):
    """The figures as JSON numbers (what a program writing JSON would emit)."""
    if isinstance(value, dict):
        return {k: _as_json_numbers(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json_numbers(v, key) for v in value]
    if key in _AMOUNT_KEYS and re.fullmatch(r"\d+(\.\d+)?", value.replace(",", "")):
        return float(value.replace(",", ""))
    return value


def _write_project_file(tmp_path, data: dict, fmt: str) -> Path:
    if fmt == "json":
        path = tmp_path / "项目.json"
        path.write_text(json.dumps(_as_json_numbers(data), ensure_ascii=False, indent=1), encoding="utf-8")
        return path
    path = tmp_path / "项目.yaml"
    if fmt == "seed-form":     # a seeds.yaml form item with its one project
        settings = {k: data[k] for k in ("kind", "year", "money_unit", "profile") if k in data}
        body = {k: v for k, v in data.items() if k not in settings}
        data = [{"source": "手写.txt", **settings, "projects": [body]}]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if fmt == "yaml-plain":    # figures written unquoted, as a person would type them
        text = re.sub(r"'(\d[\d,]*(?:\.\d+)?)'", r"\1", text)
        assert "weight: 10.00" in text or "annual_total: " in text
    path.write_text(text, encoding="utf-8")
    return path


def _figure(text: str):
    """A figure of seeds.yaml as a number, read here without xlperf: "2,275,673.52" → 2275673.52;
    blank or dash → None."""
    text = text.strip()
    return None if text in ("", "-", "—") else Decimal(text.replace(",", ""))


def _cell_number(v):
    return None if v is None else Decimal(repr(v)) if isinstance(v, float) else Decimal(v)


def _filled_down(column: list) -> list:
    out, last = [], None
    for v in column:
        last = v if v not in (None, "") else last
        out.append(last)
    return out


@pytest.mark.parametrize("pid,fmt", [("002-01", "yaml"), ("002-01", "json"), ("001-01", "yaml-plain"),
                                     ("004-03", "seed-form"), ("000-02", "yaml"), ("003-08", "json"),
                                     ("003-02", "yaml-plain")])
def test_fill_from_a_project_file_puts_its_figures_in_the_named_cells(tmp_path, pid, fmt, capsys):
    data = _seed_project_dict(pid)
    src = _write_project_file(tmp_path, data, fmt)
    out = tmp_path / "out" / "表.xlsx"
    assert cli.main(["fill", str(src), "-o", str(out)]) == 0, capsys.readouterr().err
    v, _ = read_named_cells(out)
    one = lambda name: v[name][0]  # noqa: E731
    text = lambda key: data.get(key) or None  # noqa: E731  (an empty text is an empty cell)
    assert one("xp_project_name") == data["name"]
    assert one("xp_unit") == text("unit") and one("xp_department") == text("department")
    assert f"{data['year']}年度" in one("xp_year") and data.get("money_unit", "元") in one("xp_money_unit")
    rows = data["indicators"]
    n = len(rows)
    assert v["xp_ind_level3"][:n] == [r["l3"] for r in rows]
    assert v["xp_ind_target"][:n] == [r["target"] or None for r in rows]
    assert _filled_down(v["xp_ind_level1"][:n]) == [r["l1"] for r in rows]
    assert _filled_down(v["xp_ind_level2"][:n]) == [r["l2"] for r in rows]
    assert all(x is None for x in v["xp_ind_level3"][n:])
    if data["kind"] == "自评表":
        assert one("xp_profile") == data["profile"]
        assert one("xp_expected_goal") == text("expected_goal") and one("xp_actual_result") == text("actual_result")
        by_row = {r["row"]: r for r in data["funds"]}
        for column, key in (("xp_funds_initial", "initial"), ("xp_funds_budget", "budget"),
                            ("xp_funds_executed", "executed")):
            assert [_cell_number(x) for x in v[column]] == \
                   [_figure(by_row[row].get(key, "")) if row in by_row else None for row in FUNDS_ROWS], column
        assert _cell_number(one("xp_funds_weight")) == _figure(by_row["年度资金总额"]["weight"])
        assert [_cell_number(x) for x in v["xp_ind_weight"][:n]] == [_figure(r["weight"]) for r in rows]
        assert v["xp_ind_actual"][:n] == [r.get("actual") or None for r in rows]
        assert v["xp_ind_note"][:n] == [r.get("note") or None for r in rows]
    else:
        for key in ("nature", "category", "start", "end", "total_goal", "annual_goal"):
            assert one(f"xp_{key}") == text(key), key
        for key, figure in data["declared_funds"].items():
            assert _cell_number(one(f"xp_{key}")) == _figure(figure), key


@pytest.mark.parametrize("body,fragment", [
    ("kind: 自评表\nyear: 2024\nname: 甲\nfunds:\n  - {row: 年度资金总额, budget: 一百}\n",
     "funds 第 1 行（年度资金总额） 的 budget（全年预算数）「一百」不是有效数字"),
    ("kind: 申报表\nyear: 2024\nname: 甲\nindicators:\n  - {l1: 产出指标, l2: 数量指标, target: '≥1(次)'}\n",
     "项目「甲」 的 indicators 第 1 个指标 缺少字段 l3"),
    ("kind: 申报表\nyear: 2024\nunit: 乙\n", "缺少字段 name"),
    ("kind: 申报表\nyear: 二〇二四\nname: 甲\n", "year「二〇二四」不是年份"),
    ("kind: 报告\nyear: 2024\nname: 甲\n", "kind 应为 申报表或自评表"),
    ("year: 2024\nname: 甲\n", "缺少字段 kind"),
    ("kind: 申报表\nyear: 2024\nname: 甲\ndeclared_funds: {annual_total: 12.3.4}\n",
     "declared_funds.annual_total「12.3.4」不是有效数字"),
    ("kind: 申报表\nyear: 2024\nname: 甲\nmoney_unit: 美元\n", "money_unit 应为 元 或 万元"),
    ("kind: 自评表\nyear: 2024\nname: 甲\nprofile: 北京\nfunds: []\n", "字段 profile：未知的评分规则「北京」"),
    ("kind: [自评表\n", "不是有效的 YAML（第 2 行）"),
    ("- {kind: 申报表, year: 2024, name: 甲}\n- {kind: 申报表, year: 2024, name: 乙}\n", "文件中有 2 项"),
])
def test_fill_from_a_bad_project_file_names_file_and_key_and_writes_nothing(tmp_path, capsys, body, fragment):
    src = tmp_path / "坏项目.yaml"
    src.write_text(body, encoding="utf-8")
    out = tmp_path / "out" / "表.xlsx"
    assert cli.main(["fill", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"错误：文件「{src}」：") and fragment in err, err
    assert not out.exists() and not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["坏项目.yaml"]


def test_fill_refuses_to_overwrite_without_force_and_keeps_every_backup(tmp_path, capsys):
    src = _write_project_file(tmp_path, _seed_project_dict("000-02"), "yaml")
    out = tmp_path / "表.xlsx"
    out.write_bytes(b"first")
    assert cli.main(["fill", str(src), "-o", str(out)]) == 2
    assert "已存在，未覆盖" in capsys.readouterr().err and out.read_bytes() == b"first"
    assert cli.main(["fill", str(src), "-o", str(out), "--force"]) == 0
    generated = out.read_bytes()
    out.write_bytes(b"second")
    assert cli.main(["fill", str(src), "-o", str(out), "--force"]) == 0
    assert (tmp_path / "表.xlsx.bak").read_bytes() == b"first"       # an older backup is never replaced
    assert (tmp_path / "表.xlsx.bak2").read_bytes() == b"second"
    assert out.read_bytes() == generated


# ------------------------------------------------------------------ roll_forward_file (the add-in's 导入申报表)

def _declaration_file(tmp_path, seeds, pid: str) -> tuple[Path, Project]:
    project = seeds[pid].project
    path = G.write(project, tmp_path / f"{pid}_申报表.xlsx")
    return path, project


def test_roll_forward_file_carries_targets_goals_and_funds(tmp_path, seeds):
    source, decl = _declaration_file(tmp_path, seeds, "003-08")
    out_dir = tmp_path / "自评表"
    out_dir.mkdir()
    written = G.roll_forward_file(source, out_dir)
    # named as bulk generation names it, the name made safe for Windows
    assert written == out_dir / "2023_嘉定区社区卫生服务综合改革＂1+1+1＂签约信息服务平台运维_自评表.xlsx"
    assert sorted(out_dir.iterdir()) == [written]
    se, _ = read_named_cells(written)
    n = len(decl.indicators)
    assert se["xp_ind_target"][:n] == [ind.target for ind in decl.indicators]
    assert se["xp_ind_level3"][:n] == [ind.level3 for ind in decl.indicators]
    assert _filled_down(se["xp_ind_level1"][:n]) == [ind.level1 for ind in decl.indicators]
    assert se["xp_expected_goal"] == [decl.annual_goal]
    assert se["xp_project_name"] == [decl.name] and se["xp_unit"] == [decl.unit]
    assert se["xp_department"] == [decl.department]
    d = decl.declared
    assert [_cell_number(x) for x in se["xp_funds_initial"]] == \
           [d.annual_total, d.annual_fiscal, d.annual_carryover, d.annual_other]
    assert se["xp_funds_budget"] == [None] * 4 and se["xp_funds_executed"] == [None] * 4
    assert se["xp_ind_actual"][:n] == [None] * n
    assert sum(_cell_number(w) for w in se["xp_ind_weight"][:n]) + _cell_number(se["xp_funds_weight"][0]) == 100
    assert "2023年度" in se["xp_year"][0] and se["xp_profile"] == ["shanghai"]

    # a named file, another year, udf formulas
    named = G.roll_forward_file(source, tmp_path / "下一年.xlsx", year=2024, mode="udf")
    v, _ = read_named_cells(named)
    assert "2024年度" in v["xp_year"][0] and v["xp_mode"] == ["udf"]
    assert v["xp_ind_target"][:n] == [ind.target for ind in decl.indicators]


def test_roll_forward_file_never_overwrites_without_force(tmp_path, seeds):
    source, _ = _declaration_file(tmp_path, seeds, "000-02")
    out = tmp_path / "自评表.xlsx"
    out.write_bytes(b"a person's work")
    with pytest.raises(G.GenerateError, match="已存在，未覆盖"):
        G.roll_forward_file(source, out)
    assert out.read_bytes() == b"a person's work"
    assert G.roll_forward_file(source, out, force=True) == out
    assert (tmp_path / "自评表.xlsx.bak").read_bytes() == b"a person's work"
    v, _ = read_named_cells(out)
    assert v["xp_project_name"] == ["政府雇员项目"]
    with pytest.raises(G.GenerateError, match="不能保存在申报表原文件上"):
        G.roll_forward_file(source, source, force=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(G.TMP_PREFIX)]


def test_roll_forward_file_refuses_what_is_not_a_declaration(tmp_path, seeds):
    self_eval = tmp_path / "自评表.xlsx"
    self_eval.write_bytes(render(seeds["001-01"].project))
    plain = tmp_path / "普通.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "项目名称"
    wb.save(plain)
    garbage = tmp_path / "坏.xlsx"
    garbage.write_bytes(b"not a workbook")
    out = tmp_path / "out.xlsx"
    for path, message in ((self_eval, "这是自评表，不是申报表"), (plain, "不是 xlperf 申报表（缺少名称"),
                          (garbage, "无法作为 Excel 工作簿打开")):
        with pytest.raises(XlperfError) as info:
            G.roll_forward_file(path, out, force=True)
        assert str(info.value).startswith(f"文件「{path}」：") and message in str(info.value)
        assert not out.exists()


def test_roll_forward_file_has_the_signature_the_ribbon_calls():
    import inspect
    sig = inspect.signature(G.roll_forward_file)
    assert list(sig.parameters)[:2] == ["declaration_path", "out_path"]
    assert all(p.kind is p.KEYWORD_ONLY for p in list(sig.parameters.values())[2:])
    assert sig.parameters["force"].default is False


# ------------------------------------------------------------------ render() unchanged by the speed-ups

def _legacy_cell_xml(ref, style, value):
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>'
    if isinstance(value, T.Formula):
        f = f"<f>{_legacy_text(value.expr)}</f>"
        cached = value.cached
        if cached is None or cached == "":
            return f'<c r="{ref}"{s}>{f}</c>'
        if isinstance(cached, str):
            return f'<c r="{ref}"{s} t="str">{f}<v>{_legacy_text(cached)}</v></c>'
        return f'<c r="{ref}"{s}>{f}<v>{T._number(cached)}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)):
        return f'<c r="{ref}"{s}><v>{T._number(value)}</v></c>'
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{_legacy_text(value)}</t></is></c>'


def _legacy_text(value):
    return escape(T._ILLEGAL_XML.sub("", str(value)))


def _legacy_row_xml(self, row, layout, values, ind, labels, ht, k):
    r = layout.row(row.number, k)
    attrs = dict(row.attrs)
    if ht is not None:
        attrs["ht"] = f"{ht:g}"
        attrs["customHeight"] = "1"
    attr = "".join(f' {a}="{v}"' for a, v in attrs.items())
    parts = []
    for col, style, static, fname, idx in row.cells:
        ref = f"{col}{r}"
        if fname is None:
            parts.append(static.replace("{ref}", ref) if static else f'<c r="{ref}" s="{style}"/>')
            continue
        if fname.startswith("label:"):
            parts.append(_legacy_cell_xml(ref, style, labels.get(fname[6:], "")))
            continue
        value = (ind or {}).get(fname) if fname.startswith("xp_ind_") else values.get(fname)
        if isinstance(value, (list, tuple)):
            value = value[idx] if idx < len(value) else None
        parts.append(_legacy_cell_xml(ref, style, value))
    return f'<row r="{r}"{attr}>{"".join(parts)}</row>'


def _legacy_write(self, target, sheet_xml, workbook_xml, level=T.DEFLATE_LEVEL):
    T.write_zip(target, list(self.static_parts) + [T._part(self.sheet_part, sheet_xml, level),
                                                  T._part("xl/workbook.xml", workbook_xml, level)])


class _NoMemo(dict):
    def __setitem__(self, key, value):
        pass


def test_render_is_unchanged_by_the_bulk_speedups(monkeypatch):
    """Every cache and fast path added for bulk runs (skeleton join, row plans, cached
    workbook.xml, memoised formulas/validations/notation, character widths) gives the same
    bytes as the plain code paths, for every seed project, both modes, both profiles."""
    projects = [f.project for f in load()]
    modes = [(m, prof) for m in G.MODES for prof in (None, "excel")]
    fast = {(p.key, m, prof): render(p, mode=m, profile=prof) for p in projects for m, prof in modes}
    fast.update({(p.key, "pw"): render(p, password="秘密") for p in projects[:5]})
    for t in (G.compiled(SELF_EVALUATION), G.compiled(DECLARATION)):
        monkeypatch.setattr(t, "pieces", None)
        monkeypatch.setattr(t, "memo", _NoMemo())
    monkeypatch.setattr(T.CompiledTemplate, "_row_xml", _legacy_row_xml)
    monkeypatch.setattr(T.CompiledTemplate, "write", _legacy_write)
    monkeypatch.setattr(T.CompiledTemplate, "render_workbook_xml",
                        lambda self, n, full_calc_on_load: T._workbook_xml(self, max(1, n), full_calc_on_load))
    import unicodedata
    monkeypatch.setattr(G, "_text_width", lambda text: sum(
        2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1 for ch in text))
    monkeypatch.setattr(G, "_lines", lambda text, width: 1 if text is None or text == "" else sum(
        max(1, math.ceil(G._text_width(part) / max(width - 1.5, 2.0))) for part in str(text).split("\n")))
    monkeypatch.setattr(G, "_dv", G._dv.__wrapped__)
    monkeypatch.setattr(G, "_safe_target", G._safe_target.__wrapped__)
    monkeypatch.setattr(G, "_with_parsed_notation", lambda project: project)
    for p in projects:
        for m, prof in modes:
            assert render(p, mode=m, profile=prof) == fast[(p.key, m, prof)], (p.key, m, prof)
    for p in projects[:5]:
        assert render(p, password="秘密") == fast[(p.key, "pw")]


@pytest.mark.parametrize("value", [
    None, "", "文字", "a<b&c>d", "控制\x01字符\ufffe", "=HYPERLINK(\"x\")", 0, 7, -3, True, False, 1.5,
    Decimal("15.00"), Decimal("9.50"), Decimal("-0"), Decimal("1E+2"), ("元组",), 3 + 0j,
    T.Formula("A1+1"), T.Formula("A1+1", ""), T.Formula("A1&\"<\"", "待核<"), T.Formula("B2*2", Decimal("6.50")),
    T.Formula("B2*2", 0), T.Formula("B2*2", True)])
@pytest.mark.parametrize("style", [None, "", "5"])
def test_cell_from_a_written_head_is_cell_xml(value, style):
    """The row renderer writes each cell from its memoised ``<c r=.. s=..`` head
    (template._cell): the same text as cell_xml for every kind of value, twice (memo hit)."""
    head = f'<c r="J17" s="{style}"' if style else '<c r="J17"'
    for _ in range(2):
        assert T._cell(head, value) == _legacy_cell_xml("J17", style, value)


@pytest.mark.parametrize("fast", [True, False])
def test_written_parts_inflate_with_zlib_and_match_their_crc(monkeypatch, fast):
    """The sheet is deflated with ISA-L where installed (template.deflate_raw), else with zlib:
    either way a plain deflate stream that zlib inflates, its CRC what zipfile checks."""
    import zlib
    if not fast:
        monkeypatch.setattr(T, "_isal", lambda: None)
    elif T._isal() is None:
        pytest.skip("isal not installed")
    data = b"<row>\xe6\x8c\x87\xe6\xa0\x87</row>" * 5000
    for level in (1, 3, 9):
        assert zlib.decompress(T.deflate_raw(data, level), -15) == data
    p = next(f.project for f in load() if f.project.kind == SELF_EVALUATION)
    z = zipfile.ZipFile(io.BytesIO(render(p)))
    assert z.testzip() is None
    assert b"<sheetData>" in z.read("xl/worksheets/sheet1.xml")


def test_bulk_memos_stay_bounded_and_render_the_same_after_clearing(monkeypatch):
    """The memos a bulk run fills (formula cells as UTF-8, per-(row, target) formulas) are
    bounded by size: a register of many distinct targets does not grow a worker's memory; a
    cleared memo renders the same bytes."""
    projects = [f.project for f in load() if f.project.kind == SELF_EVALUATION]
    first = [render(p) for p in projects]
    monkeypatch.setattr(T, "FORMULA_MEMO_BYTES", 20_000)
    monkeypatch.setattr(G, "MEMO_ENTRIES", 5)
    T._FORMULA_UTF8.clear()
    T._FORMULA_UTF8_SIZE[0] = 0
    G.compiled(SELF_EVALUATION).memo.clear()
    for p, data in zip(projects, first):
        assert render(p) == data
        assert T._FORMULA_UTF8_SIZE[0] <= 20_000 + 200 * 7_000   # one sheet's cells past the bound at most
        assert T._FORMULA_UTF8_SIZE[0] == sum(len(v) for v in T._FORMULA_UTF8.values())
        assert len(G.compiled(SELF_EVALUATION).memo) <= 5 + 8


def test_declaration_dimension_covers_every_indicator_row():
    """The 申报表's last template row is the indicator row: <dimension> must still cover
    all indicator rows (readers that trust it, like openpyxl read-only, stop there)."""
    p = next(f.project for f in load() if f.id == "000-01")
    xml = zipfile.ZipFile(io.BytesIO(render(p))).read("xl/worksheets/sheet1.xml").decode()
    assert f'<dimension ref="A1:F{13 + len(p.indicators) - 1}"/>' in xml


def test_benchmark_floor_writes_an_equivalent_workbook(tmp_path):
    """benchmarks/bench_generate.py stays runnable: its bare-zip floor writes a workbook with
    xlperf's cells (the running number it changes per file is the project's own for i = 0)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_generate as bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    p = next(bench.make_projects(1))
    data = render(p)
    floor = bench.BareZipFloor()
    prepared = floor.prepare(data)
    assert prepared[2] is not None                      # it found the running number to change
    floor.write(prepared, str(tmp_path / "floor.xlsx"), 0)
    ours = openpyxl.load_workbook(io.BytesIO(data)).active
    theirs = openpyxl.load_workbook(tmp_path / "floor.xlsx").active
    assert [[c.value for c in r] for r in ours.iter_rows()] == [[c.value for c in r] for r in theirs.iter_rows()]
