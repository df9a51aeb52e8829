"""Issue 13 item 8: every sample form prints whole. The whole sample year is generated from
the register, printed to PDF by LibreOffice in one call, and read back with pdftotext:
every registered project name appears whole, every page carries its whole footer
「第 i 页，共 N 页」, and no prose of the generator (a placeholder reason) is printed."""
from __future__ import annotations

import re
import subprocess

import pytest

import needs
from xlperf import cli, libreoffice
from xlperf.generate import MANIFEST, STATUS_NEW, read_manifest
from xlperf.register import SAMPLE_REGISTER, read_register


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    needs.require("soffice")
    needs.require("pdftotext")
    root = tmp_path_factory.mktemp("print")
    assert cli.main(["generate", str(SAMPLE_REGISTER), "--out", str(root / "forms"), "-j", "1", "-q"]) == 1
    rows = [r for r in read_manifest(root / "forms" / MANIFEST) if r["状态"] == STATUS_NEW]
    # distinct stems for the one soffice call: the folder (unit) goes into the name
    flat = root / "flat"
    flat.mkdir()
    sources = []
    for i, r in enumerate(rows):
        dst = flat / f"{i:03d}.xlsx"
        dst.write_bytes((root / "forms" / r["文件"]).read_bytes())
        sources.append((r, dst))
    pdfs = libreoffice.to_pdf([d for _, d in sources], root / "pdf", timeout=900)
    texts = {}
    for (r, src), pdf in zip(sources, sorted(pdfs)):
        assert pdf.stem == src.stem
        texts[r["项目序号"]] = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                          check=True).stdout
    return texts


def test_every_registered_name_prints_whole(printed):
    reg = read_register(SAMPLE_REGISTER)
    names = {e.project.key: e.project.name for e in reg.entries}
    assert len(printed) == 69 and set(printed) <= set(names)
    for key, text in printed.items():
        assert _squeeze(names[key]) in _squeeze(text), (key, names[key])


def test_every_page_has_its_whole_footer(printed):
    for key, text in printed.items():
        pages = [p for p in text.split("\f") if p.strip()]
        footers = re.findall(r"第\s*(\d+)\s*页，\s*共\s*(\d+)\s*页", text)
        assert [int(i) for i, _ in footers] == list(range(1, len(pages) + 1)), key
        assert {int(n) for _, n in footers} == {len(pages)}, key


def test_no_prose_of_the_generator_is_printed(printed):
    for key, text in printed.items():
        assert "未写明理由" not in text and "请补充" not in text, key
