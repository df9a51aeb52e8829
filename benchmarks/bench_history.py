"""History load and report at province size: ``python benchmarks/bench_history.py [--forms-per-year N]
[--years Y] [--indicators K] [--keep DIR]``.

Builds Y synthetic years (default 5) of a department with N 自评表 per year (default 20,000, so
100,000 forms) of K indicators each (default 15: 1.5 million indicator rows) directly from the
model (:class:`xlperf.model.Project`, the objects harvest returns), spread over N/40 units, with
a share of lowered/easy/missed targets and inflated scores so every analysis has work.

Per year, in the same run:

* **load** — :func:`xlperf.history.store.load_harvest`, what ``history add`` does after reading:
  ``harvest.to_frames``, identity keys, exact-decimal casts, file/change bookkeeping, one
  transaction; the checks (``validate``) are not part of it (they are harvest's cost, see
  bench_harvest.py);
* **bare** — the same rows the cheapest way: ``harvest.to_frames`` and a plain
  ``INSERT INTO … SELECT * FROM frame`` of each frame into an empty DuckDB file.

The ratio load/bare is printed per year and in total, with this process's RSS after each year
(flat in the number of years: each year's objects are freed before the next). Then the full
report: HTML (``write_reports(html=…)``) and the workbook separately.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from decimal import Decimal as D
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xlperf.harvest import Harvest, HarvestResult, to_frames  # noqa: E402
from xlperf.history import report, store  # noqa: E402
from xlperf.model import FundsLine, Indicator, Project  # noqa: E402

L1 = (("产出指标", "数量指标"), ("产出指标", "质量指标"), ("产出指标", "时效指标"), ("效益指标", "社会效益指标"),
      ("满意度指标", "服务对象满意度指标"))


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def build_year(year: int, n: int, k: int, rng: random.Random) -> Harvest:
    """n 自评表 of year, K indicators each, one HarvestResult per form (as harvest gives)."""
    results = []
    units = max(1, n // 40)
    weight = D(90) / k
    for j in range(n):
        unit = f"上海市某区第{j % units:04d}社区卫生服务中心"
        p = Project(kind="自评表", year=year, name=f"项目{j // units:03d}（{year}年）", department="某区卫生健康委员会",
                    unit=unit)
        budget = D(rng.randrange(100_000, 5_000_000))
        rate = D(rng.choice((98, 99, 100, 95, 92) * 8 + (70, 60)))
        executed = (budget * rate / 100).quantize(D("0.01"))
        p.funds["年度资金总额"] = FundsLine(budget, budget, executed, rate)
        p.funds["当年财政拨款"] = FundsLine(budget, budget, executed, rate)
        p.funds_weight, p.funds_rate, p.funds_score = D(10), rate, rate / 10
        inds = []
        for i in range(k):
            l1, l2 = L1[i % len(L1)]
            base = 10 + (i * 7) % 50
            if (j + i) % 11 == 0:                 # lowered after being beaten, every other year
                base -= (year % 2) * 2
            r = rng.random()           # 2% far beyond the target, 3% short of it
            actual = base * (1.3 if r < 0.02 else 0.9 if r < 0.05 else 1.0 + (r - 0.05) / 10)
            inds.append(Indicator(l1, l2, f"指标{i:02d}", f"≥{base}(次)", weight, f"{actual:.0f}(次)",
                                  weight, ""))
        p.indicators = inds
        p.total_score = D(90) + p.funds_score
        p.grade = "优"
        p.source_file = f"/synthetic/{year}/{unit}/{p.name}.xlsx"
        p.source_sheet = "自评表"
        p.cells = {"name": "C3", "total_score": "G20", "funds_rate": "G6", "funds_score": "H6"}
        results.append(HarvestResult(file=p.source_file, projects=[p], sha256=f"{year:04d}{j:060d}", size=1))
    return Harvest(results)


def bare_insert(con, h) -> tuple[float, float]:
    t0 = time.perf_counter()
    frames = to_frames(h)
    t1 = time.perf_counter()
    for name in ("projects", "funds", "indicators"):
        df = frames[name]
        exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()[0][0]
        con.execute(f"INSERT INTO {name} SELECT * FROM df" if exists else f"CREATE TABLE {name} AS SELECT * FROM df")
    return t1 - t0, time.perf_counter() - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--forms-per-year", type=int, default=20_000)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--indicators", type=int, default=15)
    ap.add_argument("--keep", type=Path, help="keep the databases and reports in this folder")
    args = ap.parse_args()
    import duckdb

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-history-"))
    folder.mkdir(parents=True, exist_ok=True)
    db, bare_db = folder / "绩效历史.duckdb", folder / "bare.duckdb"
    for f in (db, bare_db):
        if f.exists():
            f.unlink()
    con, bare = store.connect(db), duckdb.connect(str(bare_db))
    total_load = total_bare = 0.0
    forms = rows = 0
    rng = random.Random(16)
    print(f"{args.years} 年 × {args.forms_per_year} 张自评表 × {args.indicators} 个指标；duckdb {duckdb.__version__}")
    print(f"{'年度':>6} {'建模(s)':>8} {'导入(s)':>8} {'表/秒':>9} {'裸插入(s)':>10} {'其中to_frames':>13} {'比值':>6} {'RSS(MB)':>8}")
    for y in range(2020, 2020 + args.years):
        t0 = time.perf_counter()
        h = build_year(y, args.forms_per_year, args.indicators, rng)
        built = time.perf_counter() - t0
        frames_s, insert_s = bare_insert(bare, h)
        t0 = time.perf_counter()
        rep = store.load_harvest(con, h, None, source=f"synthetic {y}")
        load_s = time.perf_counter() - t0
        bare_s = frames_s + insert_s
        total_load += load_s
        total_bare += bare_s
        forms += rep.forms
        rows += rep.indicators
        del h
        gc.collect()
        print(f"{y:>6} {built:>8.2f} {load_s:>8.2f} {rep.forms / load_s:>9.0f} {bare_s:>10.2f} {frames_s:>13.2f} "
              f"{load_s / bare_s:>6.2f} {rss_mb():>8.0f}")
    con.close()
    bare.close()
    print(f"合计：{forms} 张表、{rows} 行指标；导入 {total_load:.1f} 秒（{forms / total_load:.0f} 表/秒），"
          f"裸 DuckDB 插入 {total_bare:.1f} 秒；比值 {total_load / total_bare:.2f}")
    print(f"数据库文件 {db.stat().st_size / 1e6:.0f} MB")
    t0 = time.perf_counter()
    report.write_reports(db, html=folder / "趋势报告.html", force=True)
    html_s = time.perf_counter() - t0
    print(f"完整报告（网页）：{html_s:.1f} 秒，{(folder / '趋势报告.html').stat().st_size / 1e6:.1f} MB；RSS {rss_mb():.0f} MB")
    t0 = time.perf_counter()
    report.write_reports(db, xlsx=folder / "趋势.xlsx", force=True)
    print(f"工作簿：{time.perf_counter() - t0:.1f} 秒，{(folder / '趋势.xlsx').stat().st_size / 1e6:.1f} MB；RSS {rss_mb():.0f} MB")
    if not args.keep:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
