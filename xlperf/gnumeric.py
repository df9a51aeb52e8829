"""Recalculate workbooks with Gnumeric (``ssconvert --recalc``): a second spreadsheet engine,
independent of LibreOffice, for the tests that compare the portable formulas with the engine.

A formula both engines compute exactly is far more likely to be right in Excel and WPS, which
cannot run here. ssconvert converts one file per call, so the calls run a few at a time."""
from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .libreoffice import LibreOfficeMissing


def find_ssconvert() -> str:
    path = shutil.which("ssconvert")
    if path is None:
        raise LibreOfficeMissing("ssconvert (Gnumeric) not found on PATH")
    return path


def recalculate(paths, outdir, *, timeout: float = 120, jobs: int | None = None) -> list[Path]:
    """Recalculate each .xlsx in ``paths`` into ``outdir`` (same file names); returns the
    outputs in order. Raises RuntimeError naming the file when ssconvert fails."""
    exe = find_ssconvert()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in paths]
    env = {**os.environ, "LC_ALL": "C.UTF-8"}

    def one(path: Path) -> Path:
        out = outdir / path.name
        done = subprocess.run([exe, "--recalc", str(path), str(out)], capture_output=True, text=True,
                              timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"ssconvert failed on {path}: {done.stderr[-500:]}")
        return out

    with ThreadPoolExecutor(max_workers=jobs or min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(one, paths))
