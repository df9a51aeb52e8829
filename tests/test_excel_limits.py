"""Every kind of workbook xlperf writes stays inside Microsoft Excel's published limits
(xlperf.excel_limits; the table and its sources are in docs/excel-limits.md) and passes the
openxml-audit schema validator with zero errors: 自评表 and 申报表 in both modes, the register
template and filled registers, 汇总.xlsx, recalc output and the add-in — on the seed projects
and on generated edge projects (targets of up to 9 decimals and 15 digits included: no
portable workbook calls the add-in).

openxml-audit's one warning, inline strings, is deliberate (see xlperf.template.cell_xml)."""
from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path

import openxml_audit
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_report import run_of, sample_projects

from xlperf import excel_limits as L
from xlperf import recalc, register, seeds
from xlperf.generate import render
from xlperf.model import DECLARATION, SELF_EVALUATION, FundsLine, Indicator, Project
from xlperf.report import write_summary_xlsx

UDFS = {"XLPERF_RATE", "XLPERF_FUNDS_SCORE", "XLPERF_SCORE", "XLPERF_GRADE"}


_AUDIT = openxml_audit.OpenXmlValidator()


def _schema_errors(data: bytes, folder: Path, suffix: str = ".xlsx") -> list[str]:
    path = folder / f"audit{suffix}"
    path.write_bytes(data)
    result = _AUDIT.validate(str(path))
    return [f"{e.part_uri}: {e.description}" for e in result.errors
            if e.severity != openxml_audit.ValidationSeverity.WARNING]


def _violations(data: bytes, mode: str = "portable", folder: Path | None = None, suffix: str = ".xlsx") -> list[str]:
    found = L.check(data, udfs=UDFS if mode == "udf" else ())
    if folder is not None:
        found += _schema_errors(data, folder, suffix)
    return found


# ---------------------------------------------------------------- the checker itself

def test_the_checker_finds_what_excel_would_repair():
    assert L.formula_problems("SUM(1,2)") == []
    assert any("characters" in p for p in L.formula_problems("1+" * 5000 + "1"))
    deep = "ABS(" * 65 + "1" + ")" * 65
    assert any("nested" in p for p in L.formula_problems(deep))
    assert L.formula_problems("ABS(" * 64 + "1" + ")" * 64) == []
    assert any("arguments" in p for p in L.formula_problems("SUM(" + ",".join(["1"] * 256) + ")"))
    assert any("literal" in p for p in L.formula_problems('LEN("' + "x" * 256 + '")'))
    assert L.formula_problems('LEN("a,b(c")') == []          # commas and brackets inside text
    assert any("IFS" in p for p in L.formula_problems("IFS(A1>1,1,TRUE,0)"))
    assert L.formula_problems("_xlfn.IFS(A1>1,1,TRUE,0)") == []
    assert any("XLPERF_SCORE" in p for p in L.formula_problems("XLPERF_SCORE(A1)"))
    assert L.formula_problems("XLPERF_SCORE(A1)", udfs={"XLPERF_SCORE"}) == []
    assert L.sheet_name_problems("自评表") == []
    assert L.sheet_name_problems("a/b") and L.sheet_name_problems("x" * 32) and L.sheet_name_problems("History")
    assert L.defined_name_problems("xp_project_name") == []
    for bad in ("AB12", "R1C1", "1abc", "a b", "TRUE"):
        assert L.defined_name_problems(bad), bad


def _with_sheet(xml: str) -> bytes:
    """A generated 自评表 with one sheet part replaced by ``xml`` edits."""
    p = seeds.load()[1].project
    data = render(p)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            part = src.read(name)
            if name == "xl/worksheets/sheet1.xml":
                part = part.replace(b"</dataValidations>", xml.encode() + b"</dataValidations>")
            dst.writestr(name, part)
    return out.getvalue()


def test_the_checker_reads_validations_from_the_file():
    long = "AND(" + ",".join(["A1>0"] * 60) + ")"
    bad = (f'<dataValidation type="custom" sqref="A1" promptTitle="{"题" * 33}">'
           f"<formula1>{long}</formula1></dataValidation>")
    found = L.check(_with_sheet(bad))
    assert any("validation formula1 of" in p for p in found), found
    assert any("promptTitle" in p for p in found), found


# ---------------------------------------------------------------- every kind of file

def test_the_schema_check_can_fail(tmp_path):
    data = register.register_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            part = src.read(name)
            if name == "xl/styles.xml":  # a font's name before its size, as openpyxl writes it
                part = part.replace(b"<font>", b'<font><name val="x"/>', 1)
            dst.writestr(name, part)
    assert _schema_errors(out.getvalue(), tmp_path)


def test_seed_forms_in_both_modes(tmp_path):
    checked = 0
    for form in seeds.load():
        p = form.project
        for mode in (("portable", "udf") if p.kind == SELF_EVALUATION else ("portable",)):
            assert _violations(render(p, mode=mode), mode, tmp_path) == [], (p.key, mode)
            checked += 1
    assert checked > 30


def test_register_template_and_filled_registers(tmp_path):
    assert _violations(register.register_bytes(), folder=tmp_path) == []
    assert _violations(register.sample_register_bytes(), folder=tmp_path) == []
    assert _violations(register.register_bytes([f.project for f in seeds.load()]), folder=tmp_path) == []


def test_summary_workbook(tmp_path):
    forms = {f.id: f for f in seeds.load()}
    projects = sample_projects(forms, tmp_path / "收集")
    for p in projects:
        Path(p.source_file).parent.mkdir(parents=True, exist_ok=True)
        Path(p.source_file).write_bytes(b"")
    out = write_summary_xlsx(run_of(projects), tmp_path / "汇总.xlsx")
    assert _violations(out.read_bytes(), folder=tmp_path) == []


def test_recalc_output(tmp_path):
    p = next(f.project for f in seeds.load() if f.project.kind == SELF_EVALUATION)
    src = tmp_path / "表.xlsx"
    src.write_bytes(render(p))
    out, _ = recalc.recalc_file(src)
    assert _violations(out.read_bytes(), folder=tmp_path) == []


def test_addin_sheet_parts(tmp_path):
    from xlperf.addin import build
    try:
        xlam, _ = build.build_bytes()
    except Exception as exc:  # the add-in template comes from the pinned xlwings package
        pytest.fail(f"add-in not buildable here: {exc}")
    assert _violations(xlam, folder=tmp_path, suffix=".xlam") == []


# ---------------------------------------------------------------- generated edge projects

_UNITS = ["", "%", "(%)", "次", "(户)", "万元", "个/月", "*24小时", "天"]
_OPS = ["≥", ">=", ">", "≤", "<=", "<", "=", ""]
_text = st.text(alphabet=st.sampled_from("项目预算绩效管理服务（）()、，。ABCabc 123-《》“”&<>'\"/\\"),
                min_size=1, max_size=300)
_four = st.integers(min_value=0, max_value=10**9).map(lambda n: Decimal(n).scaleb(-4))
# targets finer than 4 decimals (native up to 14 digits) and 15-digit ones (no native formula):
# a portable workbook never calls the add-in (L.check flags XLPERF_* unless mode is udf)
_fine = st.tuples(st.integers(min_value=0, max_value=10**15 - 1), st.integers(5, 9)).map(
    lambda t: format(Decimal(t[0]).scaleb(-t[1]), "f"))
_money = st.integers(min_value=0, max_value=10**11).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def _projects(draw):
    kind = draw(st.sampled_from([SELF_EVALUATION, DECLARATION]))
    p = Project(kind, draw(st.integers(2015, 2035)), draw(_text), draw(_text), draw(_text), key="gen",
                profile=draw(st.sampled_from(["excel", "shanghai"])))
    budget = draw(_money)
    p.funds["年度资金总额"] = FundsLine(budget, budget, draw(_money))
    p.declared.annual_total = budget
    p.annual_goal = draw(_text)
    p.actual_result = draw(_text)
    n = draw(st.integers(1, 40))
    p.funds_weight = Decimal(10)
    for k in range(n):
        qualitative = draw(st.booleans())
        target = draw(_text) if qualitative else f"{draw(st.sampled_from(_OPS))}{draw(st.one_of(_four, _fine))}{draw(st.sampled_from(_UNITS))}"
        actual = (draw(st.sampled_from(["达成指标", "部分达成", "未达成", "有所提升", None])) if qualitative
                  else draw(st.one_of(st.none(), _four.map(str), _text)))
        p.indicators.append(Indicator(draw(_text)[:40], draw(_text)[:40], draw(_text), target,
                                      Decimal(90) / n, actual, note=draw(_text)))
    return p


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=_projects(), mode=st.sampled_from(["portable", "udf"]))
def test_generated_projects_stay_inside_excels_limits(project, mode):
    assert _violations(render(project, mode=mode), mode) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(project=_projects(), mode=st.sampled_from(["portable", "udf"]))
def test_generated_projects_pass_the_schema_validator(project, mode, tmp_path):
    assert _schema_errors(render(project, mode=mode), tmp_path) == []
