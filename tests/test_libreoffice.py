"""Tests of xlperf.libreoffice that run the real LibreOffice.

Without LibreOffice these tests are skipped locally but fail when CI=true.
"""

from __future__ import annotations

import threading
from pathlib import Path

import openpyxl
import pytest

import needs
import xlsxwriter

from xlperf import libreoffice as lo
from xlperf.libreoffice import LibreOfficeError, LibreOfficeMissing

IN_CI = needs.in_ci()
_require = needs.require


@pytest.fixture(scope="module")
def soffice() -> None:
    _require("soffice")


def _write_stale(path: Path) -> None:
    """XlsxWriter workbook whose formulas carry wrong cached values."""
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("预算执行")
    ws.write("A1", 131.01)
    ws.write("A2", 132.2)
    ws.write("A3", "执行率")
    ws.write_formula("B1", "=A1+A2", None, value=999)
    ws.write_formula("B2", "=ROUNDDOWN(A1/A2*100,2)", None, value=0)
    ws.write_formula("B3", '=A3&"(%)"', None, value="stale")
    ws.write_formula("B4", "=IF(A1>A2,1,2)", None, value=1)
    ws.write_formula("B5", "=Other!A1*2", None, value=-1)
    other = wb.add_worksheet("Other")
    other.write("A1", 21)
    wb.close()


def _write_plain(path: Path) -> None:
    """openpyxl workbook: formulas with no cached value at all."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "绩效"
    ws["A1"] = 2716431.92
    ws["A2"] = 2730000
    ws["B1"] = "=ROUNDUP(A1/A2*100,2)"
    ws["B2"] = "=SUM(A1:A2)"
    wb.save(path)


@pytest.fixture(scope="module")
def batch(soffice, tmp_path_factory):
    """One soffice batch over both workbooks; returns inputs, their bytes, outputs."""
    indir = tmp_path_factory.mktemp("in")
    outdir = tmp_path_factory.mktemp("out")
    stale, plain = indir / "stale.xlsx", indir / "plain.xlsx"
    _write_stale(stale)
    _write_plain(plain)
    before = {p: p.read_bytes() for p in (stale, plain)}
    outputs = lo.recalculate([stale, plain], outdir, timeout=120)
    return {"inputs": [stale, plain], "before": before, "outputs": outputs,
            "indir": indir, "outdir": outdir}


def test_outputs_in_input_order(batch):
    assert batch["outputs"] == [batch["outdir"] / "stale.xlsx",
                                batch["outdir"] / "plain.xlsx"]
    assert all(p.is_file() for p in batch["outputs"])


def test_input_really_has_stale_cache(batch):
    # Guards the test below: the input must carry the wrong values.
    values = lo.read_values(batch["inputs"][0])
    assert values["B1"] == 999
    assert values["B3"] == "stale"


def test_stale_cached_values_are_recomputed(batch):
    values = lo.read_values(batch["outputs"][0], "预算执行")
    assert values["B1"] == pytest.approx(263.21)
    assert values["B2"] == 99.09  # 131.01/132.2*100 = 99.0998...
    assert values["B3"] == "执行率(%)"
    assert values["B4"] == 2
    assert values["B5"] == 42
    assert lo.read_values(batch["outputs"][0], "Other") == {"A1": 21}


def test_uncached_formulas_are_computed(batch):
    values = lo.read_values(batch["outputs"][1])
    assert values["B1"] == 99.51  # 99.503... rounded up
    assert values["B2"] == pytest.approx(5446431.92)


def test_inputs_unchanged(batch):
    for path, data in batch["before"].items():
        assert path.read_bytes() == data
    # No lock files or outputs written next to the inputs.
    assert sorted(p.name for p in batch["indir"].iterdir()) == ["plain.xlsx", "stale.xlsx"]


def test_parallel_calls(soffice, tmp_path):
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"wb{i}.xlsx")
        _write_stale(paths[-1])
    results: dict[int, object] = {}

    def work(i: int) -> None:
        try:
            results[i] = lo.recalculate([paths[i]], tmp_path / f"out{i}", timeout=120)
        except Exception as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        assert not isinstance(results[i], Exception), results[i]
        assert lo.read_values(results[i][0])["B1"] == pytest.approx(263.21)


def test_unloadable_file_raises_with_stderr(soffice, tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(LibreOfficeError, match="could not be loaded"):
        lo.recalculate([bad], tmp_path / "out", timeout=120)
    assert not list((tmp_path / "out").iterdir())


def test_timeout_raises(soffice, tmp_path):
    path = tmp_path / "wb.xlsx"
    _write_plain(path)
    with pytest.raises(LibreOfficeError, match="timed out"):
        lo.recalculate([path], tmp_path / "out", timeout=0.05)


def test_pdf_and_png(soffice, tmp_path):
    _require("pdftoppm")
    path = tmp_path / "wb.xlsx"
    _write_stale(path)
    [pdf] = lo.to_pdf([path], tmp_path / "pdf", timeout=120)
    assert pdf == tmp_path / "pdf" / "wb.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    pngs = lo.pdf_to_png(pdf, tmp_path / "png" / "wb", dpi=50)
    assert [p.name for p in pngs] == ["wb-1.png", "wb-2.png"]  # one page per sheet
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)


# --- no LibreOffice needed below ---------------------------------------------


def test_missing_soffice_raises(monkeypatch, tmp_path):
    monkeypatch.delenv("XLPERF_SOFFICE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # empty directory
    with pytest.raises(LibreOfficeMissing, match="apt-get install"):
        lo.find_soffice()
    path = tmp_path / "wb.xlsx"
    _write_plain(path)
    data = path.read_bytes()
    with pytest.raises(LibreOfficeMissing):
        lo.recalculate([path], tmp_path / "out")
    assert path.read_bytes() == data


def test_duplicate_stems_rejected(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        _write_plain(tmp_path / d / "x.xlsx")
    with pytest.raises(ValueError, match="distinct"):
        lo.recalculate([tmp_path / "a" / "x.xlsx", tmp_path / "b" / "x.xlsx"], tmp_path)


def test_refuses_to_overwrite_input(tmp_path):
    path = tmp_path / "wb.xlsx"
    _write_plain(path)
    data = path.read_bytes()
    with pytest.raises(ValueError, match="overwrite"):
        lo.recalculate([path], tmp_path)
    assert path.read_bytes() == data


def test_missing_soffice_is_runtime_error():
    assert issubclass(LibreOfficeMissing, RuntimeError)


def test_env_override(monkeypatch, tmp_path):
    fake = tmp_path / "my-soffice"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("XLPERF_SOFFICE", str(fake))
    assert lo.find_soffice() == str(fake)
    monkeypatch.setenv("XLPERF_SOFFICE", str(tmp_path / "nonexistent"))
    with pytest.raises(LibreOfficeMissing, match="XLPERF_SOFFICE"):
        lo.find_soffice()


def test_missing_pdftoppm_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LibreOfficeMissing, match="poppler-utils"):
        lo.pdf_to_png(tmp_path / "x.pdf", tmp_path / "x")
