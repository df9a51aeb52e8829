"""benchmarks/bench_cli.py runs end to end at a tiny size (the real runs are 1,000 and 20,000
files, by hand: see README); a benchmark that no longer runs is caught here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_cli.py"


def test_bench_cli_runs_at_a_tiny_size(tmp_path):
    out = subprocess.run([sys.executable, str(BENCH), "--files", "4", "--repeat", "1", "--check-runs", "1",
                          "--dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    for row in ("| 4 | generate |", "| 4 | harvest |", "| 4 | check ONE_FILE |"):
        assert row in out.stdout, out.stdout
    assert "bare zip" in out.stdout and "raw calamine" in out.stdout and "×" in out.stdout
    # the register it built is read by xlperf as 4 projects, and harvest read back what generate wrote
    assert len(list((tmp_path / "out").rglob("*.xlsx"))) == 4
    assert (tmp_path / "report" / "汇总.xlsx").is_file() and (tmp_path / "report" / "报告.html").is_file()
