"""Hostile and unlucky input, second probe (issues 17 and 18): each test is one row of
docs/security.md. The files come from tests/hostile_corpus.py."""
from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

import hostile_corpus as hc
from xlperf import cli, harvest, marker, report

GRID = None


def grid():
    global GRID
    if GRID is None:
        GRID = hc.small_form_grid()
    return [row[:] for row in GRID]


def form_bytes(g=None, name="自评表") -> bytes:
    return hc.raw_xlsx([(name, hc.sheet_xml(g or grid()))])


def run_cli(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# ------------------------------------------------------------------ own outputs (#17.3, #13.7)

def test_own_mark_is_bound_to_content_and_place(tmp_path):
    out = tmp_path / "汇总.xlsx"
    data = marker.seal_xlsx(form_bytes(), out)
    out.write_bytes(data)
    assert marker.verify_xlsx_file(out)
    copy = tmp_path / "sub" / "汇总.xlsx"                    # a copy elsewhere is not ours
    copy.parent.mkdir()
    shutil.copy(out, copy)
    assert not marker.verify_xlsx_file(copy)
    with zipfile.ZipFile(io.BytesIO(data)) as z:              # nor is an edited one, mark kept
        parts = {i.filename: z.read(i) for i in z.infolist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(b"15", b"16")
    assert not marker.verify_xlsx(parts, out)
    html = marker.seal_html("<html><head><title>x</title></head><body>1</body></html>", tmp_path / "r.html")
    assert marker.verify_html(html, tmp_path / "r.html") and not marker.verify_html(html.replace("1<", "2<"),
                                                                                        tmp_path / "r.html")


def test_a_form_cannot_hide_as_our_summary(tmp_path):
    f = tmp_path / "汇总.xlsx"
    f.write_bytes(hc.hiding_as_summary(grid()))
    r = harvest.read_workbook(f)
    assert r.projects and not r.skipped
    assert any("汇总表" in q.message_zh and str(q.severity) == "提示" for q in r.problems)


def test_a_real_summary_moved_elsewhere_is_read_not_skipped(tmp_path, capsys):
    src = tmp_path / "收回"
    src.mkdir()
    (src / "a.xlsx").write_bytes(form_bytes())
    code, *_ = run_cli(["harvest", str(src), "-o", str(src / "汇总.xlsx"), "--workers", "0"], capsys)
    assert (src / "汇总.xlsx").exists()
    assert harvest.read_workbook(src / "汇总.xlsx").skipped                  # in place: ours, skipped
    other = tmp_path / "别处"
    other.mkdir()
    shutil.copy(src / "汇总.xlsx", other / "汇总.xlsx")
    assert not harvest.read_workbook(other / "汇总.xlsx").skipped           # copied: read as a file


def test_harvest_replaces_its_own_summary_with_a_backup_never_a_foreign_file(tmp_path, capsys):
    src = tmp_path / "收回"
    src.mkdir()
    (src / "a.xlsx").write_bytes(form_bytes())
    out = src / "汇总.xlsx"
    argv = ["harvest", str(src), "-o", str(out), "--workers", "0"]
    assert run_cli(argv, capsys)[0] in (0, 1)
    first = out.read_bytes()
    assert run_cli(argv, capsys)[0] in (0, 1)                 # README quick-start run twice
    assert (src / "汇总.xlsx.bak").read_bytes() == first
    foreign = hc.hiding_as_summary(grid())                      # a unit's file of that name
    out.write_bytes(foreign)
    code, _out, err = run_cli(argv, capsys)
    assert code == 2 and "--force" in err and out.read_bytes() == foreign


# ------------------------------------------------------------------ terminal (#17.7)

UNSAFE = __import__("re").compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def test_nothing_from_a_file_drives_the_terminal(tmp_path, capsys):
    import json
    (tmp_path / "a.xlsx").write_bytes(hc.form_with_name(grid(), hc.TERMINAL_NAME))
    (tmp_path / "\x1b]0;标题\x07\x1b[2K\u202e名.xlsx").write_bytes(b"\x1b[2Jnot a workbook")
    for argv in (["check", str(tmp_path), "--workers", "0"],
                 ["harvest", str(tmp_path), "-o", str(tmp_path / "out" / "汇总.xlsx"), "--workers", "0"]):
        _code, out, err = run_cli(argv, capsys)
        assert "未发现问题" in out or "汇总表" in out
        assert not UNSAFE.search(out + err), (out + err)[:2000]
        assert argv[0] == "harvest" or "\\u001b" in out + err
    _code, out, _err = run_cli(["check", str(tmp_path / "a.xlsx"), "--json"], capsys)
    assert not UNSAFE.search(out)
    name = json.loads(out)["projects"][0]["name"]
    assert name == "]0;pwned[2K  未发现问题。[8m隐藏反向31m"      # read without its control characters
    assert "\x1b" in str(tmp_path / "x\x1b") and not UNSAFE.search(name)


# ------------------------------------------------------------------ one bad file, extreme numbers (#17.1, #18.2)

def extreme_folder(tmp_path) -> Path:
    folder = tmp_path / "极端"
    cases = [c for c in hc.build_corpus(tmp_path / "corpus") if c.path.name.startswith(("extreme_", "自评表_"))
             or "UTF-8" in c.checks.get("info", "")]
    folder.mkdir()
    for c in cases:
        os.replace(c.path, folder / c.path.name)
    (folder / "good.xlsx").write_bytes(form_bytes())
    return folder


def test_one_bad_file_never_aborts_a_harvest(tmp_path, capsys):
    folder = extreme_folder(tmp_path)
    out = tmp_path / "out"
    code, text, err = run_cli(["harvest", str(folder), "-o", str(out / "汇总.xlsx"), "--html", str(out / "r.html"),
                               "--csv", str(out / "csv"), "--workers", "0"], capsys)
    assert code in (0, 1) and "Traceback" not in err, err
    assert (out / "汇总.xlsx").exists() and (out / "r.html").exists() and (out / "csv" / "problems.csv").exists()
    assert f"读取文件 {len(list(folder.iterdir()))} 个（0 个未能读取）" in text
    problems = (out / "csv" / "problems.csv").read_text(encoding="utf-8-sig")
    assert "自评表_中文名.xlsx" in problems                     # the GBK name, shown decoded
    code, text, err = run_cli(["check", str(folder), "--workers", "0"], capsys)
    assert code in (0, 1) and "Traceback" not in err


def test_extreme_values_are_per_cell_findings(tmp_path):
    from xlperf import validate
    for tag, (r, c, value) in hc.EXTREME_VALUES.items():
        g = grid()
        g[r][c] = value
        f = tmp_path / f"{tag}.xlsx"
        f.write_bytes(form_bytes(g))
        res = harvest.read_workbook(f)
        cell = f"{hc.col_letters(c)}{r + 1}"
        assert any(q.cell == cell and "合理范围" in q.message_zh for q in res.problems), (tag, res.problems)
        run = validate.check_harvest(harvest.Harvest([res]))       # never decimal.InvalidOperation
        assert run.checks


def test_the_engine_has_its_own_context_and_never_raises_invalid_operation():
    import decimal
    from xlperf import scoring
    from xlperf.errors import XlperfError
    D = decimal.Decimal
    with decimal.localcontext(decimal.Context(prec=3)):        # a caller's context changes nothing
        assert scoring.execution_rate("132.20", "131.01") == D("99.09")
    for budget, spent in ((D("1E-40"), D("999999999999999")), ("1" * 30, "1"), (D("1E+308"), "1"),
                          ("0." + "0" * 40 + "1", "9.53")):
        try:
            scoring.execution_rate(budget, spent)
        except XlperfError:
            pass
    for rate, weight in ((D("1E+14"), "9" * 14), ("99.99", "9" * 30), (D("1E-300"), "10")):
        try:
            scoring.funds_score(rate, weight)
        except XlperfError:
            pass
    for target, actual in (("≥95%", "1" + "0" * 40 + "%"), ("≥" + "9" * 40 + "件", "1件"), ("=0件", "1E+300件")):
        try:
            scoring.assess_indicator(target, actual, "10")
        except XlperfError:
            pass


# ------------------------------------------------------------------ CSV export (#18.7, #18.4)

def _as_spreadsheet_sees(field: str) -> str:
    import unicodedata
    return unicodedata.normalize("NFKC", harvest._CSV_INVISIBLE.sub("", field))


def test_csv_export_neutralises_what_a_spreadsheet_would_evaluate(tmp_path, capsys):
    import csv
    folder = tmp_path / "in"
    folder.mkdir()
    for i, text in enumerate(hc.CSV_EVIL):
        (folder / f"{i}.xlsx").write_bytes(hc.form_with(grid(), {(2, 2): text, (3, 7): f"单位{i}"}))
    out = tmp_path / "csv"
    run_cli(["harvest", str(folder), "-o", str(tmp_path / "汇总.xlsx"), "--csv", str(out), "--workers", "0"], capsys)
    with open(out / "projects.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    names = [r[rows[0].index("项目名称")] for r in rows[1:]]
    assert len(names) == len(hc.CSV_EVIL)
    for row in rows[1:]:
        for field in row:
            assert field.startswith("'") or _as_spreadsheet_sees(field)[:1] not in ("=", "+", "-", "@"), field


def test_csv_targets_refuse_overwrite_and_planted_links_or_fifos(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.xlsx").write_bytes(form_bytes())
    out = tmp_path / "csv"
    argv = ["harvest", str(folder), "-o", str(tmp_path / "汇总.xlsx"), "--csv", str(out), "--workers", "0"]
    assert run_cli(argv, capsys)[0] in (0, 1)
    before = (out / "projects.csv").read_bytes()
    code, _o, err = run_cli(argv, capsys)                       # CSVs are never replaced silently
    assert code == 2 and "--force" in err and (out / "projects.csv").read_bytes() == before
    secret = tmp_path / "secret.txt"
    secret.write_text("keep", encoding="utf-8")
    (out / "projects.csv").unlink()
    (out / "projects.csv").symlink_to(secret)                   # a planted link is replaced, not followed
    if hasattr(os, "mkfifo"):
        (out / "funds.csv").unlink()
        os.mkfifo(out / "funds.csv")                            # a FIFO does not hang the write
    assert run_cli(argv + ["--force"], capsys)[0] in (0, 1)
    assert secret.read_text(encoding="utf-8") == "keep" and not (out / "projects.csv").is_symlink()
    assert (out / "funds.csv").is_file()
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    code, _o, err = run_cli(argv[:-3] + [str(linked), "--workers", "0", "--force"], capsys)
    assert code == 2 and "链接" in err and not list((tmp_path / "elsewhere").iterdir())


# ------------------------------------------------------------------ duplicates (#17.8)

def test_duplicate_projects_are_flagged_and_counted_once(tmp_path, capsys):
    import csv
    import openpyxl
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data, mtime in hc.duplicate_files(grid()):
        (folder / name).write_bytes(data)
        os.utime(folder / name, (mtime, mtime))
    out = tmp_path / "out"
    code, text, err = run_cli(["harvest", str(folder), "-o", str(out / "汇总.xlsx"), "--csv", str(out / "csv"),
                               "--workers", "0"], capsys)
    assert "自评表项目 1 个" in text, text
    with open(out / "csv" / "projects.csv", encoding="utf-8-sig", newline="") as fh:
        assert len(list(csv.reader(fh))) == 2                    # header + one project
    ws = openpyxl.load_workbook(out / "汇总.xlsx")["项目汇总"]
    assert ws.max_row == 2
    _code, text, _err = run_cli(["check", str(folder), "--workers", "0"], capsys)
    dup = [line for line in text.splitlines() if "重复的项目" in line]
    kept = hc.duplicate_files(grid())[-1][0]                     # the newest file is kept
    assert len(dup) == 3 and all(f"保留「{kept}」" in line for line in dup), text
    assert sum("内容相同" in line for line in dup) == 2            # two copies; the older version differs


# ------------------------------------------------------------------ symlinks (#18.4)

@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_links_out_of_the_folder_are_not_followed(tmp_path, capsys):
    root = tmp_path / "收回"
    root.mkdir()
    (root / "xls_good.xls").write_bytes(form_bytes())       # the inside link's target
    cases = hc.plant_links(root)
    out = tmp_path / "out"
    code, text, err = run_cli(["harvest", str(root), "-o", str(out / "汇总.xlsx"), "--html", str(out / "r.html"),
                               "--csv", str(out / "csv"), "--workers", "0"], capsys)
    assert "Traceback" not in err
    blobs = [text, err] + [p.read_bytes().decode("utf-8", "replace") for p in (out / "csv").iterdir()]
    blobs.append((out / "r.html").read_text(encoding="utf-8"))
    import zipfile
    with zipfile.ZipFile(out / "汇总.xlsx") as z:
        blobs += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
    everything = "\n".join(blobs)
    assert "外部项目" not in everything and "SECRET" not in everything
    assert hc.SECRET[:8].hex(" ") not in everything
    assert everything.count("所选文件夹以外的链接") >= 3
    assert [c for c in cases if c.expect == "harvested"]
    _code, text, _err = run_cli(["check", str(root), "--workers", "0"], capsys)
    assert "外部项目" not in text and text.count("所选文件夹以外的链接") == 3


# ------------------------------------------------------------------ dense allocation (#18.3)

def test_dense_allocation_dodges_are_bounded_before_reading(tmp_path):
    import resource
    for tag, data in hc.dense_dodges(grid()).items():
        f = tmp_path / f"{tag}.xlsx"
        f.write_bytes(data)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        r = harvest.read_workbook(f)                                # in this process, as --workers 0
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert not r.projects and "范围过大" in r.problems[0].message_zh, (tag, r.problems)
        assert grown_mb < 100, (tag, grown_mb)


# ------------------------------------------------------------------ odd values (#18.6)

def test_look_alike_names_are_one_name_and_no_nul_reaches_the_html(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, unit in enumerate(hc.LOOK_ALIKE_UNITS):
        (folder / f"{i}.xlsx").write_bytes(hc.form_with(grid(), {(3, 7): unit, (2, 2): f"项目{i}"}))
    h = harvest.harvest(folder, workers=0)
    assert {p.unit for p in h.projects} == {"上海市保健事务中心", "上海市保健事务中心（分部）"}
    out = tmp_path / "r.html"
    run_cli(["harvest", str(folder), "-o", str(tmp_path / "汇总.xlsx"), "--html", str(out), "--workers", "0"], capsys)
    html = out.read_text(encoding="utf-8")
    assert "\x00" not in html and "\u200b" not in html and "\u202e" not in html


# ------------------------------------------------------------------ output folders (#18.4)

@pytest.mark.skipif(not hasattr(os, "symlink") or not hasattr(os, "mkfifo"), reason="POSIX links and FIFOs")
def test_planted_links_and_fifos_in_an_output_folder_never_redirect_or_hang_generate(tmp_path):
    from xlperf.generate import JOURNAL, GenerateError, generate_all, plan
    from xlperf.register import read_register
    from xlperf.model import DECLARATION
    register = Path(__file__).resolve().parents[1] / "workbooks" / "样例登记表.xlsx"
    jobs = read_register(register, kind=DECLARATION).entries[:2]
    victim = tmp_path / "victim.txt"
    victim.write_text("keep", encoding="utf-8")
    out = tmp_path / "link_journal"
    out.mkdir()
    (out / JOURNAL).symlink_to(victim)                       # the journal is truncated on start
    with pytest.raises(GenerateError):
        generate_all(jobs, out, workers=1, progress=False)
    assert victim.read_text(encoding="utf-8") == "keep"
    out = tmp_path / "fifo_journal"
    out.mkdir()
    os.mkfifo(out / JOURNAL)                                  # opening it for writing would block
    with pytest.raises(GenerateError):
        generate_all(jobs, out, workers=1, progress=False)
    out = tmp_path / "link_unit"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    unit = next(iter(plan(jobs))).path.split("/")[0]
    (out / unit).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(GenerateError, match="链接"):
        generate_all(jobs, out, workers=1, progress=False)
    assert list(elsewhere.iterdir()) == []


# ------------------------------------------------------------------ payloads end to end (#17.9)

def test_html_dde_external_link_and_formula_payloads_stay_inert_in_every_output(tmp_path, capsys):
    import csv
    import re
    import zipfile
    folder = tmp_path / "in"
    folder.mkdir()
    prefixes = ("formula_text_", "formula_cells_", "external_link_", "types_html", "csv_renamed", "html_renamed",
                "macro_", "csv_evil_")
    for c in hc.build_corpus(tmp_path / "corpus"):
        if c.path.name.startswith(prefixes):
            os.replace(c.path, folder / c.path.name)
    out = tmp_path / "out"
    code, _text, err = run_cli(["harvest", str(folder), "-o", str(out / "汇总.xlsx"), "--html", str(out / "r.html"),
                                "--csv", str(out / "csv"), "--workers", "0"], capsys)
    assert "Traceback" not in err
    with zipfile.ZipFile(out / "汇总.xlsx") as z:
        for name in z.namelist():
            body = z.read(name).decode("utf-8", "replace")
            formulas = re.findall(r"<f>(.*?)</f>", body)
            assert not [f for f in formulas if re.search(r"cmd|HYPERLINK|WEBSERVICE|INDIRECT|192\.0\.2", f, re.I)]
            if name.endswith(".rels"):
                assert "192.0.2.1" not in body and "file:///" not in body and "http://192" not in body
    html = (out / "r.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and not re.search(r"""(?:href|src)\s*=\s*["']?(?:https?:|file:|//)""", html)
    for f in (out / "csv").iterdir():
        with open(f, encoding="utf-8-sig", newline="") as fh:
            for row in list(csv.reader(fh))[1:]:
                for field in row:
                    assert field.startswith("'") or _as_spreadsheet_sees(field)[:1] not in ("=", "+", "-", "@"), field
