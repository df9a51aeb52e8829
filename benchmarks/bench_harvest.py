"""Harvest throughput: ``python benchmarks/bench_harvest.py [N] [--workers W] [--keep DIR]``.

Writes a seed-like 自评表 with XlsxWriter (seed 001's first project, labels and merged
cells as printed), copies it N times with different names and amounts, then times in the
same run:

* a raw python-calamine read of every file (open + every sheet ``to_python()``, one process);
* ``xlperf.harvest.harvest()`` on the folder (safety checks + label extraction + Projects),
  with ``W`` worker processes (default: one per core);

and prints files/s for both, their ratio, and peak RSS of this process and of the workers.
"""
from __future__ import annotations

import argparse
import io
import random
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from decimal import Decimal
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
    proj["funds"][0].update(initial=str(PLACEHOLDERS["initial"]), budget=str(PLACEHOLDERS["budget"]),
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
    """N copies of the template, each with its own name and amounts; returns what each holds."""
    rng = random.Random(seed)
    with zipfile.ZipFile(template) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    sst = parts["xl/sharedStrings.xml"].decode()
    truth = []
    for i in range(n):
        budget = Decimal(rng.randrange(10_000, 10_000_000)) / 100
        executed = (budget * Decimal(rng.randrange(50, 100)) / 100).quantize(Decimal("0.01"))
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
        truth.append({"name": name, "budget": budget, "executed": executed})
    return truth


def raw_calamine(files: list[Path]) -> float:
    from python_calamine import CalamineWorkbook

    t0 = time.perf_counter()
    for f in files:
        wb = CalamineWorkbook.from_path(str(f))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
        wb.close()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--keep", help="write the forms here and keep them")
    args = ap.parse_args(argv)

    from xlperf.harvest import harvest

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_harvest_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        template = folder / "_template.xlsx.tmp"
        write_template(template)
        truth = make_copies(template, folder, args.n)
        template.unlink()
        files = sorted(folder.glob("*.xlsx"))
        print(f"generated {len(files)} forms in {time.perf_counter() - t0:.2f}s ({files[0].stat().st_size:,} bytes each)")

        raw_calamine(files[:50])  # warm the page cache and imports
        raw = raw_calamine(files)
        h = harvest(folder, workers=args.workers)
        ok = sum(1 for r in h.results if r.projects)
        assert ok == len(files), f"only {ok} of {len(files)} forms harvested: {h.problems[:3]}"
        by_name = {p.name: p for p in h.projects}
        for t in truth[:: max(1, len(truth) // 50)]:
            p = by_name[t["name"]]
            assert p.funds["年度资金总额"].budget == t["budget"] and p.funds["年度资金总额"].executed == t["executed"]

        n = len(files)
        raw_rate, h_rate = n / raw, n / h.seconds
        slow = h.slowest()
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"raw calamine read (1 process):      {raw_rate:9.0f} files/s  ({raw / n * 1000:.3f} ms/file)")
        print(f"harvest() ({h.workers} worker processes):   {h_rate:9.0f} files/s  ({h.seconds / n * 1000:.3f} ms/file wall,"
              f" {sum(r.seconds for r in h.results) / n * 1000:.3f} ms/file in workers)")
        print(f"ratio harvest/raw:                  {h_rate / raw_rate:9.2f}")
        print(f"slowest file: {slow.seconds * 1000:.2f} ms; {len(h.projects)} projects, {len(h.problems)} problems")
        print(f"peak RSS: this process {self_rss:.0f} MB, largest worker {child_rss:.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
