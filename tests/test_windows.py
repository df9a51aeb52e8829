"""Windows behaviour checked on Linux: names (against pathvalidate's Windows rules, not
xlperf's own list), path lengths, the generate folder lock in its Windows form (msvcrt),
long names and a full disk in generate, and the worker start-method switch."""
from __future__ import annotations

import dataclasses
import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pathvalidate import ValidationError, validate_filename

from xlperf import cli, winpaths
from xlperf import generate as G
from xlperf.model import DECLARATION, SELF_EVALUATION, Project
from xlperf.register import read_register

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REGISTER = ROOT / "workbooks" / "样例登记表.xlsx"
#: The output folder of a typical admin (user name in Chinese, folder on the desktop).
WINDOWS_PREFIX = "C:\\Users\\张三\\Desktop\\2024年绩效\\"


def windows_ok(name: str) -> bool:
    try:
        validate_filename(name, platform="windows")
    except ValidationError:
        return False
    return True


# Names Windows maps to devices that pathvalidate 3.x does not all know (CONIN$, CONOUT$, "NUL .txt").
DEVICE_NAMES = ["CON", "con", "PRN.xlsx", "aux.tar.gz", "NUL .txt", "COM1", "com9.csv", "LPT1", "COM¹", "com².x",
                "LPT³", "COM0", "CONIN$", "conout$.txt", "CLOCK$"]


@pytest.mark.parametrize("name", DEVICE_NAMES)
def test_device_names_never_pass_the_sanitiser(name):
    safe = G.safe_name(name)
    assert safe != name and not winpaths.is_reserved(safe) and windows_ok(safe)


@pytest.mark.parametrize("name", ["名称. . ", "a ", "x.", "a<b>c:d\"e/f\\g|h?i*j", "\x00\x1f\x7f", "tab\there",
                                  "零宽\u200b字符", "\u202e反转", " ", "", "."])
def test_odd_names_become_windows_names(name):
    assert windows_ok(G.safe_name(name))


_piece = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20) | st.sampled_from(
    list('<>:"/\\|?*. \t') + ["CON", "com¹", "CONIN$", "LPT3", "NUL ", ".txt", "\u200b", "\x00", "很" * 30])
printable_or_not = st.lists(_piece, max_size=8).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=printable_or_not, limit=st.integers(min_value=20, max_value=120))
def test_any_text_becomes_a_windows_and_linux_name(text, limit):
    safe = G.safe_name(text, limit)
    assert windows_ok(safe), (text, safe)
    assert not winpaths.is_reserved(safe)
    assert len(safe) <= limit and len(safe.encode("utf-8")) <= winpaths.NAME_BYTES
    assert G.safe_name(text, limit) == safe                             # stable


@settings(max_examples=200, deadline=None)
@given(tail1=st.text("甲乙丙丁abc1", min_size=1, max_size=8), tail2=st.text("甲乙丙丁abc1", min_size=1, max_size=8))
def test_long_names_that_share_a_beginning_stay_different(tail1, tail2):
    long1, long2 = "很" * 120 + tail1, "很" * 120 + tail2
    assert (G.safe_name(long1) == G.safe_name(long2)) == (tail1 == tail2)


project_names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=150)
unit_names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=100)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(st.tuples(unit_names, project_names), min_size=1, max_size=6), data=st.data())
def test_generated_paths_are_windows_paths_within_excels_limit(names, data):
    """Every path Namer gives is legal on Windows, fits under a typical desktop folder within
    Excel's 218 characters (with a .bak backup), and no two differ only in letter case."""
    namer = G.Namer()
    out_dir = WINDOWS_PREFIX + "申报表输出"
    assert len(out_dir) + 1 <= winpaths.OUT_DIR_BUDGET
    seen = set()
    for i, (unit, name) in enumerate(names + [(u.upper(), n.upper()) for u, n in names]):
        kind = data.draw(st.sampled_from([DECLARATION, SELF_EVALUATION]))
        rel, _note = namer.assign(Project(kind=kind, year=2024, name=name, unit=unit, key=str(i)))
        parts = rel.split("/")
        assert all(windows_ok(p) for p in parts), rel
        assert all(len((p + ".bak99").encode()) <= 255 for p in parts)
        full = winpaths.OUT_DIR_BUDGET * "x" + rel.replace("/", "\\") + ".bak9"
        assert len(full) <= winpaths.EXCEL_PATH_LIMIT, rel
        assert rel.casefold() not in seen
        seen.add(rel.casefold())


def test_projects_differing_only_in_case_get_their_own_files(tmp_path):
    base = Project(kind=DECLARATION, year=2024, name="IT运维", unit="某单位", key="1")
    jobs = [base, dataclasses.replace(base, name="it运维", key="2"),
            dataclasses.replace(base, name="It运维", unit="某单位", key="3")]
    summary = G.generate_all(jobs, tmp_path, workers=1, progress=False, durable=False)
    assert summary.files == 3
    names = sorted(p.name.casefold() for p in tmp_path.rglob("*.xlsx"))
    assert len(set(names)) == 3


# ------------------------------------------------------------------ long names, full disk

def test_a_79_plus_character_name_is_shortened_with_a_stable_hash(tmp_path, capsys):
    """Issue 17 item 2: a project name of 79+ CJK characters (over 255 bytes with year and
    kind) used to end in ENAMETOOLONG with temporaries left behind."""
    long1 = "上海市某区社区卫生服务中心家庭医生签约服务信息化平台建设及运维项目" * 4    # 132 characters
    long2 = long1[:-1] + "乙"
    jobs = [Project(kind=DECLARATION, year=2024, name=n, unit="某单位", key=k) for k, n in (("1", long1), ("2", long2))]
    summary = G.generate_all(jobs, tmp_path, workers=1, progress=False, durable=False)
    assert summary.failed == 0 and summary.files == 2
    files = sorted(tmp_path.rglob("*.xlsx"))
    assert len(files) == 2 and all(len(f.name.encode()) <= 255 for f in files)
    assert files[0].name != files[1].name and all("~" in f.name for f in files)
    assert not list(tmp_path.rglob(G.TMP_PREFIX + "*"))
    # same input, same name (the hash is of the name, not of the run)
    again = G.Namer().assign(jobs[0])[0]
    assert (tmp_path / again).exists()


def _enospc_on(monkeypatch, should_fail):
    """Make os.write in generate fail with ENOSPC for the descriptors ``should_fail`` picks
    (by the file's name), as a full disk does."""
    real = os.write

    def write(fd, data):
        try:
            name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            name = ""
        if should_fail(name):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(G.os, "write", write)


def test_a_full_disk_while_writing_workbooks_is_one_sentence_per_file(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    _enospc_on(monkeypatch, lambda name: name.startswith(G.TMP_PREFIX) and name.endswith(".tmp"))
    code = cli.main(["generate", str(SAMPLE_REGISTER), "--kind", DECLARATION, "--out", str(out), "-j", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "磁盘空间不足" in err and "Traceback" not in err and "Errno" not in err
    assert not list(out.rglob("*.xlsx")) and not list(out.rglob(G.TMP_PREFIX + "*"))


def test_a_full_disk_while_writing_the_journal_ends_in_one_sentence(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    G.generate_all([Project(kind=DECLARATION, year=2024, name="甲", unit="某单位", key="1")], out, workers=1,
                   progress=False, durable=False)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _enospc_on(monkeypatch, lambda name: name == G.JOURNAL)
    code = cli.main(["generate", str(SAMPLE_REGISTER), "--kind", DECLARATION, "--out", str(out), "-j", "1", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("错误：") and "磁盘空间不足" in err and len(err.splitlines()) == 1
    assert {p: p.read_bytes() for p in before} == before                 # nothing already there harmed
    assert not list(out.rglob(G.TMP_PREFIX + "*"))


def test_os_errors_reach_the_user_as_a_sentence(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = cli.main(["generate", str(SAMPLE_REGISTER), "--out", str(blocker / "sub"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("错误：") and "Traceback" not in err


# ------------------------------------------------------------------ folder lock (Windows form)

HOLD = """
import sys, time, os
sys.path.insert(0, sys.argv[1])
import fake_msvcrt; fake_msvcrt.install()
from xlperf import generate as G
from pathlib import Path
fd = G._lock(Path(sys.argv[2]))
print("locked", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("kind", ["msvcrt", "fcntl"])
def test_the_folder_lock_holds_across_processes_and_dies_with_its_holder(tmp_path, monkeypatch, kind):
    """The lock generate takes on Windows (msvcrt byte-range lock past the journal's end)
    refuses a second run while the first lives, and is gone when it is killed."""
    sys.path.insert(0, str(Path(__file__).parent))
    import fake_msvcrt
    monkeypatch.setitem(sys.modules, "msvcrt", fake_msvcrt)
    monkeypatch.setenv(winpaths.LOCK_ENV, kind)
    journal = tmp_path / G.JOURNAL
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(Path(__file__).parent), str(journal)],
                              stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ})
    try:
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(G.GenerateError, match="另一个 xlperf generate 正在写入"):
            G._lock(journal)
        if kind == "msvcrt":
            assert fake_msvcrt.calls[-1] == (fake_msvcrt.LK_NBLCK, winpaths.LOCK_OFFSET, 1)
        holder.kill()
        holder.wait()
        fd = G._lock(journal)          # the system released the dead holder's lock
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0   # the journal is written from its start
        os.close(fd)
    finally:
        holder.kill()
        holder.wait()


def test_generate_runs_with_the_windows_lock(tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent))
    import fake_msvcrt
    monkeypatch.setitem(sys.modules, "msvcrt", fake_msvcrt)
    monkeypatch.setenv(winpaths.LOCK_ENV, "msvcrt")
    entries = read_register(SAMPLE_REGISTER, kind=DECLARATION).entries[:3]
    summary = G.generate_all(entries, tmp_path, workers=1, progress=False, durable=False)
    assert summary.files == 3 and not (tmp_path / G.JOURNAL).exists()


# ------------------------------------------------------------------ start method

def test_the_start_method_switch_is_honoured_or_refused(monkeypatch):
    from xlperf import harvest as hv
    monkeypatch.setenv(winpaths.START_METHOD_ENV, "spawn")
    assert hv._mp_context().get_start_method() == "spawn"
    assert winpaths.mp_context("fork").get_start_method() == "spawn"
    monkeypatch.setenv(winpaths.START_METHOD_ENV, "windows")
    with pytest.raises(Exception, match="XLPERF_MP_START"):
        hv._mp_context()


def test_generate_with_spawned_workers_writes_what_one_process_writes(tmp_path, monkeypatch):
    monkeypatch.setenv(winpaths.START_METHOD_ENV, "spawn")
    entries = read_register(SAMPLE_REGISTER, kind=DECLARATION).entries[:6]
    a = G.generate_all(entries, tmp_path / "a", workers=2, chunk_size=2, progress=False, durable=False)
    b = G.generate_all(entries, tmp_path / "b", workers=1, progress=False, durable=False)
    assert a.files == b.files == 6
    ra, rb = G.read_manifest(a.manifest), G.read_manifest(b.manifest)
    assert [(r["文件"], r["sha256"]) for r in ra] == [(r["文件"], r["sha256"]) for r in rb]


# ------------------------------------------------------------------ worker memory cap (Windows form)

def test_the_windows_memory_cap_puts_the_worker_in_a_job_object(monkeypatch):
    """pywin32's Job Object calls, as harvest's worker makes them on Windows (stand-ins here)."""
    import types

    calls = []
    job = object()
    win32job = types.SimpleNamespace(
        JobObjectExtendedLimitInformation=9, JOB_OBJECT_LIMIT_PROCESS_MEMORY=0x100,
        CreateJobObject=lambda sa, name: calls.append("create") or job,
        QueryInformationJobObject=lambda j, cls: {"ProcessMemoryLimit": 0, "BasicLimitInformation": {"LimitFlags": 0}},
        SetInformationJobObject=lambda j, cls, info: calls.append(("set", j is job, cls, info["ProcessMemoryLimit"],
                                                                  info["BasicLimitInformation"]["LimitFlags"])),
        AssignProcessToJobObject=lambda j, proc: calls.append(("assign", j is job, proc)))
    win32api = types.SimpleNamespace(GetCurrentProcess=lambda: "self")
    monkeypatch.setitem(sys.modules, "win32job", win32job)
    monkeypatch.setitem(sys.modules, "win32api", win32api)
    monkeypatch.setattr(winpaths, "_JOB", None)
    assert winpaths.cap_memory_windows(3 * 2**30)
    assert calls == ["create", ("set", True, 9, 3 * 2**30, 0x100), ("assign", True, "self")]
    assert winpaths._JOB is job                      # kept open: closing it would lift the limit


def test_without_pywin32_the_memory_cap_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "win32job", None)
    assert winpaths.cap_memory_windows(2**30) is False


def test_generate_writes_every_hostile_name_as_a_windows_name(tmp_path):
    """The corpus' hostile names, as project and as unit names: every one generated, under a
    Windows-legal path, none overwriting another, no temporary left."""
    sys.path.insert(0, str(Path(__file__).parent))
    from hostile_corpus import HOSTILE_NAMES

    jobs = [Project(kind=DECLARATION, year=2024, name=n, unit=u, key=f"{i}")
            for i, (n, u) in enumerate([(n, "某单位") for n in HOSTILE_NAMES] + [("项目", n) for n in HOSTILE_NAMES])]
    summary = G.generate_all(jobs, tmp_path, workers=1, progress=False, durable=False)
    assert summary.failed == 0 and summary.files == len(jobs)
    rows = G.read_manifest(summary.manifest)
    assert len({r["文件"].casefold() for r in rows}) == len(jobs)
    for r in rows:
        assert all(windows_ok(part) for part in r["文件"].split("/")), r["文件"]
        assert (tmp_path / r["文件"]).is_file()
    assert not list(tmp_path.rglob(G.TMP_PREFIX + "*"))
    assert (tmp_path / G.MANIFEST).read_bytes()[:3] == b"\xef\xbb\xbf"      # the manifest itself intact


def test_a_name_derived_from_a_long_file_name_still_fits():
    """recalc writes <原文件名>_重算.xlsx beside the file: a 252-byte stem must not become 262 bytes."""
    stem = "很" * 84
    name = winpaths.fit_name(stem, "_重算.xlsx")
    assert name.endswith("_重算.xlsx") and len((name + ".bak").encode()) <= 255 and windows_ok(name)
    assert winpaths.fit_name("短", "_重算.xlsx") == "短_重算.xlsx"
    assert winpaths.fit_name(stem, "_重算.xlsx") == name != winpaths.fit_name(stem[:-1] + "甲", "_重算.xlsx")
