"""The commands as a user runs them, next to honest floors measured in the same run.

    python benchmarks/bench_cli.py                    # 1,000 files
    python benchmarks/bench_cli.py --files 1000 20000 # both sizes (20k: ~2 GB of disk, minutes)
    python benchmarks/bench_cli.py --files 20 --repeat 1   # smoke run (tests/test_bench_cli.py)

For each size N it builds a register the way Excel saves one (shared strings, numbers as
numbers): the sample register's valid 自评表 rows repeated with new keys and names, then
runs the installed ``xlperf`` as a subprocess:

1. ``xlperf generate REGISTER --kind 自评表 -o OUT`` (the register read included);
2. ``xlperf harvest OUT -o 汇总.xlsx --html 报告.html`` (read, check, summary, report);
3. ``xlperf check ONE_FILE`` (start-up dominated; the median of several runs).

Each is measured as the whole process tree: wall time, CPU (user+sys of the process and
every descendant it waited for, from ``getrusage(RUSAGE_CHILDREN)``) and peak memory (the
largest sum over the tree of proportional set sizes, sampled every 20 ms from
``/proc/PID/smaps_rollup``; forked workers share pages, so RSS would count them twice).

Floors, in the same run, with as many processes as xlperf uses (one per core):

* **bare zip** for generate: one of xlperf's own output files taken apart once; per file
  only the sheet XML is changed (the project name), deflated with the library (ISA-L or zlib)
  and level xlperf uses and written with the other parts copied pre-deflated — the bytes of a
  file, no logic;
* **raw calamine** for harvest + check: python-calamine opening each file xlperf wrote and
  reading every sheet's values (``to_python()``) — what the least a reader must do.

Ratios printed are xlperf / floor for wall time (targets: generate ≤ 2, harvest ≤ 3) and for
CPU time, and the peak-memory growth from the smallest to the largest N. On a busy machine
wall times are noise (other processes take the cores); CPU ratios hold up better there. Take
the best of ``--repeat`` runs and compare within one run only.
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REGISTER = ROOT / "workbooks" / "样例登记表.xlsx"
KIND = "自评表"


def xlperf_command() -> list[str]:
    """The installed console script (as a user runs it), else ``python -m xlperf``."""
    exe = shutil.which("xlperf", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return [exe] if exe else [sys.executable, "-m", "xlperf"]


# ------------------------------------------------------------------ the register, as Excel saves it

def sample_rows():
    """(header, rows) of 项目清单 and 绩效指标 for the sample register's valid 自评表."""
    from python_calamine import CalamineWorkbook

    sys.path.insert(0, str(ROOT))
    from xlperf.register import read_register

    valid = {e.project.key for e in read_register(SAMPLE_REGISTER, kind=KIND).entries}
    wb = CalamineWorkbook.from_path(str(SAMPLE_REGISTER))
    out = {}
    for sheet, key_header in (("项目清单", "序号"), ("绩效指标", "项目序号")):
        rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        header = rows[0]
        k = header.index(key_header)
        out[sheet] = (header, [r for r in rows[1:] if r[k] in valid])
    return out, valid


def build_register(path: Path, n: int) -> int:
    """A register of ``n`` 自评表 projects (the sample's valid ones cycled, new keys and names),
    written as Excel writes one: shared strings, numbers as numbers. Returns indicator rows."""
    sheets, valid = sample_rows()
    pheader, prows = sheets["项目清单"]
    iheader, irows = sheets["绩效指标"]
    pk, pn = pheader.index("序号"), pheader.index("项目名称")
    ik = iheader.index("项目序号")
    by_key: dict = {}
    for r in irows:
        by_key.setdefault(r[ik], []).append(r)
    strings: dict[str, int] = {}
    count = [0]

    def sheet_xml(header, rows_iter) -> bytes:
        parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
        for r, values in enumerate(rows_iter, start=1):
            cells = []
            for c, v in enumerate(values):
                ref = f"{_col(c)}{r}"
                if v is None or v == "":
                    continue
                if isinstance(v, bool):
                    cells.append(f'<c r="{ref}" t="b"><v>{int(v)}</v></c>')
                elif isinstance(v, (int, float)):
                    cells.append(f'<c r="{ref}"><v>{v!r}</v></c>')
                else:
                    count[0] += 1
                    i = strings.setdefault(str(v), len(strings))
                    cells.append(f'<c r="{ref}" t="s"><v>{i}</v></c>')
            parts.append(f'<row r="{r}">{"".join(cells)}</row>')
        parts.append("</sheetData></worksheet>")
        return "".join(parts).encode("utf-8")

    def projects():
        yield pheader
        for i in range(n):
            row = list(prows[i % len(prows)])
            row[pk], row[pn] = f"{row[pk]}-{i:06d}", f"{row[pn]} {i:06d}"
            yield row

    def indicators():
        yield iheader
        for i in range(n):
            src = prows[i % len(prows)][pk]
            for r in by_key[src]:
                row = list(r)
                row[ik] = f"{src}-{i:06d}"
                yield row

    p_xml = sheet_xml(pheader, projects())
    i_xml = sheet_xml(iheader, indicators())
    n_ind = i_xml.count(b"<row ") - 1
    sst = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count[0]}" '
           f'uniqueCount="{len(strings)}">']
    sst += [f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings]
    sst.append("</sst>")
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '</Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {ns} xmlns:r="{rel}"><sheets>'
            '<sheet name="项目清单" sheetId="1" r:id="rId1"/><sheet name="绩效指标" sheetId="2" r:id="rId2"/>'
            '</sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/worksheet" Target="worksheets/sheet2.xml"/>'
            f'<Relationship Id="rId3" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            f'<Relationship Id="rId4" Type="{rel}/styles" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet {ns}>'
            '<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
            '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
            '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
            '</styleSheet>'),
        "xl/worksheets/sheet1.xml": p_xml,
        "xl/worksheets/sheet2.xml": i_xml,
        "xl/sharedStrings.xml": "".join(sst),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in files.items():
            z.writestr(name, body)
    return n_ind


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


# ------------------------------------------------------------------ measuring a process tree

def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _memory(pid: int) -> int:
    """Proportional set size of a process (kB), or its RSS where smaps_rollup is missing."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def _tree_memory(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _memory(pid)
        todo += _children(pid)
    return total


class Measured:
    def __init__(self, label, wall, cpu, peak_kb, code, stderr):
        self.label, self.wall, self.cpu, self.peak_kb, self.code, self.stderr = label, wall, cpu, peak_kb, code, stderr


def run_tree(label: str, argv: list[str], *, sample: bool = True, env=None) -> Measured:
    """Run a command; wall, CPU of it and its descendants, peak memory of the tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = [0]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_memory(proc.pid))
            stop.wait(0.02)

    th = threading.Thread(target=sampler, daemon=True)
    if sample:
        th.start()
    err = proc.stderr.read()
    code = proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    if sample:
        th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(label, wall, cpu, peak[0], code, err.decode("utf-8", "replace"))


def run_python(label: str, code: str, *args: str) -> Measured:
    return run_tree(label, [sys.executable, "-c", code, *map(str, args)])


# ------------------------------------------------------------------ floors (run as their own processes)

BARE_ZIP = r'''
import os, sys, struct, zlib, zipfile, multiprocessing
src, out, n, level, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].encode()
if sys.argv[6] == "isal":    # the deflate xlperf itself uses, so the floor is never the slower writer
    from isal import isal_zlib as zlib
z = zipfile.ZipFile(src)
fixed, sheet_name, sheet = [], None, None
for info in z.infolist():
    if info.filename.startswith("xl/worksheets/sheet") and name in z.read(info.filename):
        sheet_name, sheet = info.filename.encode(), z.read(info.filename)
        continue
    raw = z.read(info.filename)
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    fixed.append((info.filename.encode(), c.compress(raw) + c.flush(), zlib.crc32(raw), len(raw)))

def entry(fname, data, crc, size):
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(fname), 0)
    return local + fname + data

def central(fname, data, crc, size, offset):
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                       len(fname), 0, 0, 0, 0, 0, offset) + fname

def one(i):
    body = sheet.replace(name, name[:-6] + b"%06d" % i)
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    entries = fixed + [(sheet_name, c.compress(body) + c.flush(), zlib.crc32(body), len(body))]
    blob, cd = [], []
    off = 0
    for e in entries:
        b = entry(*e)
        cd.append(central(*e, off))
        blob.append(b)
        off += len(b)
    cdb = b"".join(cd)
    end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(entries), len(entries), len(cdb), off, 0)
    folder = os.path.join(out, "%03d" % (i // 1000))
    path = os.path.join(folder, "%06d.xlsx" % i)
    with open(path, "wb") as f:
        f.write(b"".join(blob) + cdb + end)

if __name__ == "__main__":
    for k in range(n // 1000 + 1):
        os.makedirs(os.path.join(out, "%03d" % k), exist_ok=True)
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        pool.map(one, range(n), chunksize=64)
    os.sync()
'''

RAW_CALAMINE = r'''
import os, sys, multiprocessing
from python_calamine import CalamineWorkbook
root = sys.argv[1]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".xlsx"))

def read(path):
    wb = CalamineWorkbook.from_path(path)
    n = 0
    for name in wb.sheet_names:
        n += len(wb.get_sheet_by_name(name).to_python())
    wb.close()
    return n

if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        rows = sum(pool.map(read, files, chunksize=64))
    print(len(files), rows, file=sys.stderr)
'''


# ------------------------------------------------------------------ the run

def fresh(parent: Path, name: str) -> Path:
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    return path


def one_size(n: int, parent: Path, repeat: int, check_runs: int) -> dict:
    xl = xlperf_command()
    register = parent / f"登记表_{n}.xlsx"
    t0 = time.perf_counter()
    indicators = build_register(register, n)
    print(f"\n== {n:,} 个项目（{indicators:,} 行指标）：登记表 {register.stat().st_size / 2**20:.1f} MB，"
          f"构建 {time.perf_counter() - t0:.1f} 秒", flush=True)
    from xlperf.template import DEFLATE_LEVEL, _isal  # what xlperf deflates with: the floor uses the same
    deflater = "isal" if DEFLATE_LEVEL <= 3 and _isal() is not None else "zlib"

    best: dict[str, Measured] = {}

    def keep(m: Measured):
        if m.code not in (0, 1):
            raise SystemExit(f"{m.label} failed ({m.code}):\n{m.stderr[-3000:]}")
        print(f"   {m.label}: 墙钟 {m.wall:.2f} 秒，CPU {m.cpu:.2f} 秒，峰值内存 {m.peak_kb / 1024:.0f} MB", flush=True)
        if m.label not in best or m.wall < best[m.label].wall:
            best[m.label] = m

    out = parent / "out"
    for _ in range(repeat):
        # interleaved: each command next to its floor, fresh output folders each time
        keep(run_tree("generate", xl + ["generate", str(register), "--kind", KIND, "-o", str(fresh(parent, "out"))]))
        sample = next(out.rglob("*.xlsx"))
        name = _project_name(sample)
        keep(run_python("bare zip", BARE_ZIP, sample, fresh(parent, "floor"), n, DEFLATE_LEVEL, name,
                            deflater))
        shutil.rmtree(parent / "floor", ignore_errors=True)
        report = fresh(parent, "report")
        report.mkdir()
        keep(run_tree("harvest", xl + ["harvest", str(out), "-o", str(report / "汇总.xlsx"),
                                       "--html", str(report / "报告.html")]))
        keep(run_python("raw calamine", RAW_CALAMINE, out))
    checks = [run_tree("check ONE_FILE", xl + ["check", str(sample)]) for _ in range(check_runs)]
    best["check ONE_FILE"] = sorted(checks, key=lambda m: m.wall)[len(checks) // 2]
    floor_check = [run_python("calamine ONE_FILE", RAW_CALAMINE.replace(
        "files = sorted(", "files = [root] or sorted("), sample) for _ in range(check_runs)]
    best["calamine ONE_FILE"] = sorted(floor_check, key=lambda m: m.wall)[len(floor_check) // 2]
    for label in ("generate", "harvest"):
        tail = [line for line in best[label].stderr.splitlines() if "\r" not in line][-3:]
        if tail:
            print(f"   {label} stderr: " + " | ".join(tail))
    return best


def _project_name(path: Path) -> str:
    """The 项目名称 written in an xlperf file (ends in the running number the floor changes)."""
    z = zipfile.ZipFile(path)
    stem = path.stem.split("_", 1)[1].rsplit("_", 1)[0]
    for info in z.infolist():
        body = z.read(info.filename)
        if info.filename.startswith("xl/worksheets/") and escape(stem).encode() in body:
            return escape(stem)
    raise SystemExit(f"project name not found in {path}")


def report(results: dict[int, dict]) -> None:
    print("\n| N | 命令 | 墙钟 s | CPU s | 峰值内存 MB | 底线 | 底线墙钟 s | 底线 CPU s | 墙钟比 | CPU 比 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    pairs = (("generate", "bare zip"), ("harvest", "raw calamine"), ("check ONE_FILE", "calamine ONE_FILE"))
    for n, best in results.items():
        for cmd, floor in pairs:
            m, f = best[cmd], best[floor]
            print(f"| {n:,} | {cmd} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_kb / 1024:.0f} | {floor} | "
                  f"{f.wall:.2f} | {f.cpu:.2f} | {m.wall / f.wall:.2f}× | {m.cpu / max(f.cpu, 1e-3):.2f}× |")
    sizes = sorted(results)
    if len(sizes) > 1:
        lo, hi = results[sizes[0]], results[sizes[-1]]
        for cmd in ("generate", "harvest"):
            grow = (hi[cmd].peak_kb - lo[cmd].peak_kb) / 1024
            print(f"{cmd}: 峰值内存 {lo[cmd].peak_kb / 1024:.0f} → {hi[cmd].peak_kb / 1024:.0f} MB"
                  f"（{sizes[0]:,} → {sizes[-1]:,} 个文件，增加 {grow:.0f} MB；目标 < 50 MB）")
    for n, best in results.items():
        g = best["generate"].wall / best["bare zip"].wall
        h = best["harvest"].wall / best["raw calamine"].wall
        print(f"{n:,} 个文件（墙钟）：generate {g:.2f}× 底线（目标 ≤ 2×）{'达到' if g <= 2 else '未达到'}；"
              f"harvest {h:.2f}× 底线（目标 ≤ 3×）{'达到' if h <= 3 else '未达到'}；"
              f"check ONE_FILE {best['check ONE_FILE'].wall:.2f} 秒（目标 ≤ 0.2 秒）")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, nargs="+", default=[1000], help="sizes to run (default 1000)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per command; the best is kept (default 2)")
    ap.add_argument("--check-runs", type=int, default=5, help="runs of check ONE_FILE; the median is kept")
    ap.add_argument("--dir", help="work folder (default: a temporary folder, removed at the end)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    parent = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="xlperf-bench-cli-"))
    parent.mkdir(parents=True, exist_ok=True)
    print(f"xlperf: {' '.join(xlperf_command())}; {os.cpu_count()} 核; 工作目录 {parent}")
    # warm the bytecode cache and the page cache of the interpreter
    subprocess.run(xlperf_command() + ["--help"], stdout=subprocess.DEVNULL, check=True)
    try:
        results = {n: one_size(n, parent, args.repeat, args.check_runs) for n in args.files}
    finally:
        if not args.dir:
            shutil.rmtree(parent, ignore_errors=True)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
