"""Bulk generation checked by a real spreadsheet engine: the sample year is generated the way a
user runs it (``xlperf generate workbooks/样例登记表.xlsx --out …``), the files are checked
against manifest.csv, and a deterministic sample of 50 of them is recalculated in LibreOffice.
Every computed cell LibreOffice finds must equal the scoring engine's result for the project
the workbook was generated from (read again from the register), to the cent; every input cell
must hold that project's figure.

Only the default ``portable`` mode is recalculated: ``udf`` workbooks call the add-in's
functions, which LibreOffice does not have (their cached results are checked in
tests/test_templates_lo.py).
"""
from __future__ import annotations

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

import needs
from test_templates_lo import _same
from openpyxl.utils.cell import get_column_letter, range_boundaries

from xlperf import cli, libreoffice
from xlperf.generate import MANIFEST, STATUS_FAILED, STATUS_NEW, read_manifest
from xlperf.model import DECLARATION, FUNDS_ROWS, SELF_EVALUATION
from xlperf.errors import XlperfError
from xlperf.notation import Judgement, Quantity, is_blank, parse_actual, parse_target
from xlperf.register import SAMPLE_REGISTER, read_register
from xlperf.scoring import score_project

pytestmark = pytest.mark.libreoffice

SAMPLE = 50            # workbooks recalculated per run
MIN_DECLARATIONS = 10  # places of the sample kept for 申报表 (they have no formulas)
GENERATED, REFUSED = 69, 5
ERROR_VALUES = ("#NAME?", "#VALUE!", "#REF!", "#DIV/0!", "#N/A", "#NUM!", "#NULL!", "Err:")


_require_soffice = needs.require


def test_missing_libreoffice_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setenv("XLPERF_SOFFICE", str(tmp_path / "no-soffice-here"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        _require_soffice()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _require_soffice()


def sample(rows: list[dict], n: int = SAMPLE) -> list[dict]:
    """A deterministic sample of ``n`` written files (all when fewer): 自评表 first — their
    formulas are what LibreOffice recomputes — leaving at least MIN_DECLARATIONS places to
    申报表; within a kind, in the order of the sha256 of the file's path (stable from run to
    run, spread over units and projects, independent of the register's order)."""
    if len(rows) <= n:
        return list(rows)
    order = lambda r: hashlib.sha256(r["文件"].encode("utf-8")).hexdigest()  # noqa: E731
    se = sorted((r for r in rows if r["表格类型"] == SELF_EVALUATION), key=order)
    decl = sorted((r for r in rows if r["表格类型"] == DECLARATION), key=order)
    take_se = min(len(se), n - min(MIN_DECLARATIONS, len(decl)))
    return se[:take_se] + decl[:n - take_se]


@pytest.fixture(scope="module")
def bulk(tmp_path_factory):
    """The real bulk path, then one LibreOffice run over the sample."""
    _require_soffice()
    out = tmp_path_factory.mktemp("bulk") / "2023年度"
    code = cli.main(["generate", str(SAMPLE_REGISTER), "--out", str(out), "-q"])
    rows = read_manifest(out / MANIFEST)
    written = [r for r in rows if r["状态"] == STATUS_NEW]
    chosen = sample(written)
    # LibreOffice names its output after the input's stem: stage the sample under unique names
    stage = tmp_path_factory.mktemp("stage")
    staged = []
    for i, r in enumerate(chosen):
        staged.append(stage / f"{i:03d}.xlsx")
        shutil.copyfile(out / r["文件"], staged[-1])
    recalculated = libreoffice.recalculate(staged, tmp_path_factory.mktemp("recalc"), timeout=600)
    projects = {e.project.key: e.project for e in read_register(SAMPLE_REGISTER).entries}
    return {"out": out, "code": code, "rows": rows, "written": written,
            "checked": list(zip(chosen, recalculated)), "projects": projects}


def test_the_run_writes_every_listed_file_with_its_sha256(bulk):
    out, rows, written = bulk["out"], bulk["rows"], bulk["written"]
    assert bulk["code"] == 1                                  # five projects refused, as printed
    assert len(written) == GENERATED and sum(r["状态"] == STATUS_FAILED for r in rows) == REFUSED
    assert {r["表格类型"] for r in written} == {SELF_EVALUATION, DECLARATION}
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xlsx"))
    assert on_disk == sorted(r["文件"] for r in written)
    for r in written:
        assert hashlib.sha256((out / r["文件"]).read_bytes()).hexdigest() == r["sha256"], r["文件"]


def test_the_sample_is_deterministic_and_covers_both_kinds(bulk):
    chosen = [r for r, _ in bulk["checked"]]
    assert len(chosen) == min(SAMPLE, GENERATED) == len({r["文件"] for r in chosen})
    kinds = [r["表格类型"] for r in chosen]
    assert kinds.count(DECLARATION) >= MIN_DECLARATIONS and kinds.count(SELF_EVALUATION) >= 1
    assert sample(list(reversed(bulk["written"]))) == chosen  # the register's order does not matter
    assert sample(bulk["written"][:7]) == bulk["written"][:7]


# ------------------------------------------------------------------ cell by cell

def _names(path: Path) -> dict[str, list[str]]:
    """Each ``xp_*`` defined name of a generated workbook → its cells ("B3", …), row by row."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        out = {}
        for name, dn in wb.defined_names.items():
            if name.startswith("xp_"):
                _sheet, ref = next(iter(dn.destinations))
                c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
                out[name] = [f"{get_column_letter(c)}{r}" for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]
        return out
    finally:
        wb.close()


def _formula_cells(path: Path) -> set[str]:
    wb = openpyxl.load_workbook(path)
    try:
        return {c.coordinate for row in wb.active.iter_rows() for c in row if c.data_type == "f"}
    finally:
        wb.close()


def parse_target_or_text(text):
    try:
        return parse_target(text)
    except XlperfError:
        return text


def _engine_cells(project, names):
    """(name, cell, engine value) for every computed cell of a 自评表."""
    s = score_project(project)
    for i, row in enumerate(FUNDS_ROWS):
        yield "xp_funds_rate", names["xp_funds_rate"][i], s.rates.get(row)
    yield "xp_funds_score", names["xp_funds_score"][0], s.funds_score
    for k, res in enumerate(s.indicators):
        if res is not None and isinstance(res.target, Quantity) and isinstance(res.actual, Quantity):
            yield "xp_ind_value", names["xp_ind_value"][k], res.actual.value
        elif not isinstance(parse_target_or_text(project.indicators[k].target), Quantity):
            # a qualitative row's helper cell: the judgement the engine read (1 达成, 2 部分, 3 未达成)
            actual = project.indicators[k].actual
            j = None if is_blank(actual) else parse_actual(actual)
            code = None if j is None else {Judgement.PARTIAL: 2, Judgement.NOT_ACHIEVED: 3}.get(
                getattr(j, "judgement", None), 1)
            yield "xp_ind_value", names["xp_ind_value"][k], code and Decimal(code)
        yield "xp_ind_proposal", names["xp_ind_proposal"][k], res.proposal if res else None
        yield "xp_ind_score", names["xp_ind_score"][k], res.score if res else None
    yield "xp_total_weight", names["xp_total_weight"][0], s.total_weight
    yield "xp_total_score", names["xp_total_score"][0], s.total
    yield "xp_grade", names["xp_grade"][0], s.grade


def _input_cells(project, names):
    """(name, cell, figure) for the project's own figures and texts."""
    yield "xp_project_name", names["xp_project_name"][0], project.name
    yield "xp_unit", names["xp_unit"][0], project.unit
    for k, ind in enumerate(project.indicators):
        yield "xp_ind_level3", names["xp_ind_level3"][k], ind.level3
        yield "xp_ind_target", names["xp_ind_target"][k], ind.target
    if project.kind == SELF_EVALUATION:
        for i, row in enumerate(FUNDS_ROWS):
            line = project.funds[row]
            yield "xp_funds_initial", names["xp_funds_initial"][i], line.initial
            yield "xp_funds_budget", names["xp_funds_budget"][i], line.budget
            yield "xp_funds_executed", names["xp_funds_executed"][i], line.executed
        for k, ind in enumerate(project.indicators):
            yield "xp_ind_weight", names["xp_ind_weight"][k], ind.weight
            yield "xp_ind_override", names["xp_ind_override"][k], ind.override
    else:
        d = project.declared
        for field in ("project_total", "project_fiscal", "project_other", "annual_total", "annual_fiscal",
                      "annual_carryover", "annual_other"):
            yield f"xp_{field}", names[f"xp_{field}"][0], getattr(d, field)


def test_every_computed_cell_equals_the_engine_in_libreoffice(bulk):
    projects, out = bulk["projects"], bulk["out"]
    mismatches, computed, inputs = [], 0, 0
    for row, recalculated in bulk["checked"]:
        project = projects[row["项目序号"]]
        assert project.kind == row["表格类型"]
        generated = out / row["文件"]
        names = _names(generated)
        values = libreoffice.read_values(recalculated)
        errors = sorted(c for c, v in values.items() if isinstance(v, str) and v.startswith(ERROR_VALUES))
        assert not errors, f"{row['文件']}: LibreOffice error values in {errors}"
        checked_cells = set()
        if project.kind == SELF_EVALUATION:
            assert values.get(names["xp_mode"][0]) == "portable"
            for name, cell, expected in _engine_cells(project, names):
                computed += 1
                checked_cells.add(cell)
                if not _same(values.get(cell), expected):
                    mismatches.append(f"{row['文件']} {name} {cell}: LibreOffice {values.get(cell)!r}, "
                                      f"engine {expected}")
        # every formula of the workbook is one of the cells compared above
        assert _formula_cells(generated) <= checked_cells, row["文件"]
        for name, cell, expected in _input_cells(project, names):
            inputs += 1
            found = values.get(cell)
            if isinstance(expected, Decimal) and isinstance(found, str):
                found = None  # a number stored as text is wrong: never equal
            if not _same(found, expected):
                mismatches.append(f"{row['文件']} {name} {cell}: {found!r}, register {expected}")
    se = sum(r["表格类型"] == SELF_EVALUATION for r, _ in bulk["checked"])
    assert se >= 25 and computed >= se * 12 and inputs > 1000
    assert not mismatches, "\n".join(mismatches[:40])
