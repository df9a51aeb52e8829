"""Harvest throughput: ``python benchmarks/bench_harvest.py [N ...] [--forms seedlike|xlperf] [--workers W] [--repeat R] [--keep DIR]``.

Forms (max(N) of them):

* ``seedlike`` (default): a seed-like 自评表 written with XlsxWriter (seed 001's first
  project, labels and merged cells as printed), copied with different names and amounts;
  every tenth copy has a 全年执行数 that does not give the printed 执行率, and the run
  asserts that the checks flag exactly those;
* ``xlperf``: what ``xlperf generate`` writes (``generate.render``: formulas with cached
  values, validations, helper columns, xp_ names), the seeds' 自评表 cycled with a running
  number in the name (their printed weight errors are found again by the checks).

Then, for each N, on the first N files and in the same run:

* **raw floor** — python-calamine alone: open each file (``CalamineWorkbook.from_path``)
  and read every sheet's values (``to_python()``), the work a minimal reader does; once
  in this process, once in ``W`` worker processes (same pool kind as harvest);
* **harvest only** — ``xlperf.harvest.harvest(files, workers=W)``: safety checks
  (:mod:`xlperf.safezip`), calamine, label-anchored parsing into Projects, results sent
  back to this process;
* **harvested and checked** — what ``xlperf check`` and ``xlperf harvest`` do: the same
  with each file checked in this process as its result arrives, while the workers read on
  (``harvest(after=validate.attach_checks)``), then ``validate.check_harvest`` here.

Each line gives files/s of wall time and CPU ms per file (this process plus its worker
processes, from ``getrusage``): the like-for-like ratios are wall W vs W processes and
CPU per file (per core). Peak RSS of this process and of the largest worker follow.
Timings are the best of ``R`` repeats (default 1). The page cache is warmed first.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

NAME = "安全生产专项工作经费占位0000"
PLACEHOLDERS = {"initial": 111111.11, "budget": 222222.22, "executed": 133333.33}


def write_template(path: Path) -> None:
    """A seed-like 自评表 written with XlsxWriter (numbers as numbers, placeholders for copying)."""
    import xlsxwriter
    from hostile_corpus import Variant, load_seeds, plan_form

    seed = next(s for s in load_seeds() if s["source"].startswith("001"))
    proj = dict(seed["projects"][0], name=NAME)
    proj["funds"] = [dict(f) for f in proj["funds"]]
    # 年度资金总额 and its 当年财政拨款 row carry the same money (the total is its sub-rows' sum,
    # which the checks verify): both get the placeholders
    for f in proj["funds"]:
        if f["row"] in ("年度资金总额", "当年财政拨款"):
            f.update(initial=str(PLACEHOLDERS["initial"]), budget=str(PLACEHOLDERS["budget"]),
                     executed=str(PLACEHOLDERS["executed"]))
    plan = plan_form(seed, proj, Variant(numeric=True))
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("自评表")
    merged = {(a, b) for a, b, _c, _d in plan.merges}
    fmt = wb.add_format({"text_wrap": True, "valign": "vcenter", "border": 1})
    pct = wb.add_format({"num_format": "0.00%", "border": 1})
    for a, b, c, d in plan.merges:
        value, _f = plan.cells.get((a, b), ("", None))
        ws.merge_range(a, b, c, d, value, fmt)
    for (r, c), (value, f) in plan.cells.items():
        if (r, c) in merged:
            continue
        if isinstance(value, str):
            ws.write_string(r, c, value, fmt)
        else:
            ws.write_number(r, c, value, pct if f else fmt)
    wb.close()


def make_copies(template: Path, folder: Path, n: int, seed: int = 7) -> list[dict]:
    """N copies of the template, each with its own name and amounts; returns what each holds.
    The printed 执行率 (63.53%) stays; 全年执行数 is chosen to give it, except in every tenth
    copy (``bad``), where the checks must report the rate."""
    rng = random.Random(seed)
    with zipfile.ZipFile(template) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    sst = parts["xl/sharedStrings.xml"].decode()
    truth = []
    for i in range(n):
        budget = Decimal(rng.randrange(100_000, 10_000_000)) / 100
        bad = i % 10 == 3
        share = Decimal("0.5") if bad else Decimal("0.6353")
        executed = (budget * share).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
        name = f"专项工作经费{i:05d}"
        s = sheet
        for key, value in (("initial", budget), ("budget", budget), ("executed", executed)):
            s = s.replace(f"<v>{PLACEHOLDERS[key]!r}</v>", f"<v>{value}</v>")
        out = dict(parts, **{"xl/worksheets/sheet1.xml": s.encode(), "xl/sharedStrings.xml": sst.replace(NAME, name).encode()})
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for k, v in out.items():
                z.writestr(k, v)
        (folder / f"form_{i:05d}.xlsx").write_bytes(buf.getvalue())
        truth.append({"name": name, "budget": budget, "executed": executed, "bad": bad})
    return truth


def make_generated(folder: Path, n: int) -> list[dict]:
    """N workbooks from xlperf's own generator: the seeds' 自评表, cycled, numbered names."""
    import dataclasses

    from hostile_corpus import expected_project, load_seeds
    from xlperf import generate

    bases = []
    for seed in load_seeds():
        for proj in seed["projects"]:
            p = expected_project(seed, proj)
            if p.kind == "自评表":
                p.profile = seed.get("profile") or "shanghai"
                bases.append(p)
    truth = []
    for i in range(n):
        base = bases[i % len(bases)]
        p = dataclasses.replace(base, name=f"{base.name}{i:05d}")
        (folder / f"form_{i:05d}.xlsx").write_bytes(generate.render(p))
        line = p.funds["年度资金总额"]
        truth.append({"name": p.name, "budget": line.budget, "executed": line.executed, "bad": None})
    return truth


# ------------------------------------------------------------------ what is timed

def raw_read(files) -> int:
    """The floor: python-calamine opens each file and reads every sheet's values."""
    from python_calamine import CalamineWorkbook

    cells = 0
    for f in files:
        wb = CalamineWorkbook.from_path(str(f))
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python()
            cells += sum(map(len, rows))
        wb.close()
    return cells


def raw_read_pool(files, workers: int) -> int:
    """The floor in ``workers`` processes: same process kind and task size as harvest."""
    from concurrent.futures import ProcessPoolExecutor

    from xlperf.harvest import _mp_context

    size = max(1, min(64, len(files) // (workers * 8) or 1))
    chunks = [files[i:i + size] for i in range(0, len(files), size)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as ex:
        return sum(ex.map(raw_read, chunks))


def _rss_mb() -> float:
    """This process's resident memory now (Linux), else its peak."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def timed(fn, repeat: int):
    """(result of the last call, best wall seconds, CPU seconds of that call: this process
    and the children it reaped)."""
    best = out = None
    for _ in range(repeat):
        out = None                    # the previous result is not kept alive during the next run
        c0, t0 = _cpu(), time.perf_counter()
        out = fn()
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return out, best[0], best[1]


def run_size(files: list[str], truth: list[dict], workers: int, repeat: int) -> dict:
    from xlperf.harvest import harvest
    from xlperf.validate import ERROR, attach_checks, check_harvest

    n = len(files)
    rss_before = _rss_mb()
    _, raw1, raw1_cpu = timed(lambda: raw_read(files), repeat)
    _, rawp, rawp_cpu = timed(lambda: raw_read_pool(files, workers), repeat)
    h, hw, hcpu = timed(lambda: harvest(files, workers=workers), repeat)
    inside = sum(r.seconds for r in h.results)
    worker_rss = max(r.memory_kb for r in h.results) / 1024
    worker_growth = worker_rss - min(r.memory_kb for r in h.results) / 1024
    del h                             # one harvest in memory at a time

    def harvest_and_check():            # what `xlperf check` / `xlperf harvest` do
        h = harvest(files, workers=workers, after=attach_checks)
        return h, check_harvest(h)

    (h, run), hcw, hccpu = timed(harvest_and_check, repeat)

    ok = sum(1 for r in h.results if r.projects)
    assert ok == n, f"only {ok} of {n} forms harvested: {h.problems[:3]}"
    by_name = {p.name: p for p in h.projects}
    for t in truth[:: max(1, n // 50)]:
        p = by_name[t["name"]]
        assert p.funds["年度资金总额"].budget == t["budget"] and p.funds["年度资金总额"].executed == t["executed"]
    errors = run.counts()[ERROR]
    seeded = ""
    if truth[0]["bad"] is not None:
        flagged = {c.project.name for c in run.checks
                   if any(f.severity == ERROR and f.check == "rate" for f in c.findings)}
        wrong = {t["name"] for t in truth if t["bad"]}
        assert flagged == wrong, f"checks flagged {len(flagged)} forms, {len(wrong)} were seeded wrong"
        seeded = f", {len(wrong)} seeded"

    def line(what, wall, cpu):
        return f"  {what:34s} {n / wall:7.0f} files/s wall  {cpu / n * 1000:6.3f} ms CPU/file"

    print(f"N={n:,} forms ({os.path.getsize(files[0]):,} bytes each), {os.cpu_count()} cores, {workers} worker processes,"
          f" best of {repeat}")
    print(line("raw calamine, 1 process", raw1, raw1_cpu))
    print(line(f"raw calamine, {workers} processes", rawp, rawp_cpu))
    print(line(f"harvest, {workers} workers", hw, hcpu) + f"  ({inside / n * 1000:.3f} ms/file wall"
          " inside read_workbook)")
    print(line(f"harvest + check, {workers} workers", hcw, hccpu) + f"  ({errors} 错误 found{seeded})")
    print(f"  ratio harvest+check / raw: wall {workers} vs {workers} processes {hcw / rawp:.2f}x;"
          f" CPU per file {hccpu / rawp_cpu:.2f}x; wall {workers} workers vs raw 1 process {hcw / raw1:.2f}x")
    print(f"  ratio harvest only / raw:  wall {workers} vs {workers} processes {hw / rawp:.2f}x;"
          f" CPU per file {hcpu / rawp_cpu:.2f}x; wall {workers} workers vs raw 1 process {hw / raw1:.2f}x")
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  RSS: this process {rss_before:.0f} MB before, {_rss_mb():.0f} MB holding the results and checks"
          f" (peak so far {self_rss:.0f} MB); harvest workers: peak {worker_rss:.0f} MB, of which {worker_growth:.0f} MB"
          " grew while reading (the rest: pages shared with this process since the fork)")
    return {"n": n, "rate": n / hcw, "harvest_rate": n / hw}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="*", type=int, help="numbers of forms (default 1000; e.g. 1000 20000)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1, help="best of R timings")
    ap.add_argument("--forms", choices=("seedlike", "xlperf"), default="seedlike")
    ap.add_argument("--keep", help="write the forms here and keep them")
    args = ap.parse_args(argv)
    sizes = sorted(set(args.n or [1000]))

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_harvest_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        if args.forms == "xlperf":
            truth = make_generated(folder, sizes[-1])
        else:
            template = folder / "_template.xlsx.tmp"
            write_template(template)
            truth = make_copies(template, folder, sizes[-1])
            template.unlink()
        files = [str(folder / f"form_{i:05d}.xlsx") for i in range(sizes[-1])]
        print(f"generated {len(files):,} {args.forms} forms in {time.perf_counter() - t0:.2f}s")
        for f in files:                          # warm the page cache
            Path(f).read_bytes()
        raw_read(files[:50])                     # and the imports
        rates = [run_size(files[:n], truth[:n], args.workers, args.repeat) for n in sizes]
        if len(rates) > 1:
            first, last = rates[0], rates[-1]
            print(f"linearity: harvest + check {last['rate']:.0f} files/s at {last['n']:,} vs {first['rate']:.0f} at"
                  f" {first['n']:,} ({last['rate'] / first['rate']:.2f}); harvest only {last['harvest_rate']:.0f} vs"
                  f" {first['harvest_rate']:.0f} ({last['harvest_rate'] / first['harvest_rate']:.2f})")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
