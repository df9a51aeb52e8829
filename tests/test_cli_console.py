"""The GBK lane: the CLI as a Chinese Windows console runs it — ``PYTHONIOENCODING=gbk``
(code page 936) with stdout and stderr redirected to files, as an admin's ``> log.txt``
does. Every command's output must be GBK text; a character GBK lacks (an emoji in a path or
a project name) degrades to ``?``, never a UnicodeEncodeError."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REGISTER = ROOT / "workbooks" / "样例登记表.xlsx"
NOT_GBK = "\U0001F600"      # 😀: not in GBK


def run_gbk(tmp_path: Path, *args: str, name: str = "run") -> tuple[int, str, str]:
    """Run ``python -m xlperf *args`` with a GBK console encoding, output to files; the
    files' bytes must decode as GBK (strict)."""
    out, err = tmp_path / f"{name}.out.txt", tmp_path / f"{name}.err.txt"
    env = {**os.environ, "PYTHONIOENCODING": "gbk", "PYTHONUTF8": "0"}
    with open(out, "wb") as fo, open(err, "wb") as fe:
        code = subprocess.run([sys.executable, "-m", "xlperf", *args], stdout=fo, stderr=fe, cwd=ROOT, env=env,
                              timeout=300).returncode
    text_out, text_err = out.read_bytes().decode("gbk"), err.read_bytes().decode("gbk")
    assert "Traceback" not in text_err and "UnicodeEncodeError" not in text_err, text_err[-2000:]
    return code, text_out, text_err


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gbk")
    out = tmp / f"输出{NOT_GBK}"
    code, text, err = run_gbk(tmp, "generate", str(REGISTER), "--out", str(out), "-j", "2", name="generate")
    return tmp, out, code, text, err


def test_help_in_gbk(tmp_path):
    code, text, _ = run_gbk(tmp_path, "--help")
    assert code == 0 and "财政项目支出绩效" in text


def test_generate_prints_in_gbk_and_replaces_what_gbk_lacks(generated):
    _tmp, out, code, text, err = generated
    assert code == 1                                    # the sample register has refused projects
    assert "新生成" in text and "输出?" in text and NOT_GBK not in text
    assert "错误：" in err
    assert len(list(out.rglob("*.xlsx"))) > 50


def test_fill_check_and_harvest_in_gbk(generated):
    tmp, out, *_ = generated
    target = tmp / f"单个{NOT_GBK}.xlsx"
    code, text, _ = run_gbk(tmp, "fill", "--seed", "001-01", "-o", str(target), name="fill")
    assert code == 0 and "已生成" in text and target.exists()
    code, text, err = run_gbk(tmp, "check", str(out), name="check")
    assert code in (0, 1) and (text + err).strip()
    report = tmp / f"汇总{NOT_GBK}.xlsx"
    code, text, err = run_gbk(tmp, "harvest", str(out), "-o", str(report), name="harvest")
    assert code in (0, 1) and report.exists() and (text + err).strip()


def test_errors_in_gbk(tmp_path):
    code, _text, err = run_gbk(tmp_path, "generate", str(tmp_path / f"没有{NOT_GBK}.xlsx"), "--out",
                               str(tmp_path / "o"))
    assert code == 2 and err.startswith("错误：") and "没有?" in err


def test_recalc_in_gbk(generated):
    tmp, out, *_ = generated
    form = next(p for p in sorted(out.rglob("*自评表.xlsx")))
    code, text, err = run_gbk(tmp, "recalc", str(form), "-o", str(tmp / f"重算{NOT_GBK}.xlsx"), name="recalc")
    assert code in (0, 1) and (text + err).strip()
