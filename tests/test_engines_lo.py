"""Two independent spreadsheet engines, LibreOffice and Gnumeric, recalculate the portable
自评表 of every seed project and of 200 generated edge projects: every computed cell (and the
helper cells the scores read) equals the scoring engine to the cent in both.

Edge projects: rates landing on x.xx5, budgets up to 1e9, targets with 4 to 8 decimals, actuals
typed with a unit suffix, thousands separators, spaces (also U+3000 and non-breaking), full-width
digits and punctuation, 元 against 万元, a fraction against a percentage, every target notation of
the seeds; and no portable workbook calls the add-in."""
from __future__ import annotations

import html
import io
import random
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

import needs
from test_templates_lo import _computed_cells, _same

from xlperf import gnumeric, libreoffice
from xlperf.errors import XlperfError
from xlperf.generate import compiled, render
from xlperf.model import DECLARATION, SELF_EVALUATION, FundsLine, Indicator, Project
from xlperf.notation import Quantity, parse_target, plain
from xlperf.scoring import score_project
from xlperf.seeds import load
from xlperf.template import Layout

pytestmark = pytest.mark.libreoffice

GENERATED = 200


def _target(text):
    try:
        return parse_target(text)
    except XlperfError:
        return None


_FULL_WIDTH = str.maketrans("0123456789.,%()-/:", "０１２３４５６７８９．，％（）－／：")


def _typed(rng: random.Random, value: Decimal, unit: str | None, places: int = 4) -> str:
    """An actual as people type it: bare, with the unit (bracketed or not), thousands
    separators, spaces around (ordinary, ideographic U+3000, non-breaking), full-width digits
    and punctuation, 元 against a 万元 target."""
    text = plain(value)
    choice = rng.randrange(11)
    if choice == 6:
        return _typed(rng, value, unit, places).translate(_FULL_WIDTH)
    if choice == 7:
        return f"\u3000{text}\u3000"
    if choice == 8:
        return f"\u00a0{text}{unit or ''}\u00a0"
    if choice == 9 and unit == "万元":
        return f"{text}元"
    if choice == 10 and unit == "%":
        # 95% typed as 0.95: scored as 0.95% (请核对 printed beside it), to the decimals the row reads
        return rng.choice([f"{text}％", plain((value / 100).quantize(Decimal(1).scaleb(-places)))])
    if choice == 1 and unit and unit[0] not in "*/":
        return f"{text}({unit})"
    if choice == 2 and unit:
        return f"{text}{unit}"
    if choice == 3 and value >= 1000:
        whole, _, frac = text.partition(".")
        grouped = f"{int(whole):,}"
        return grouped + (f".{frac}" if frac else "")
    if choice == 4:
        return f" {text} "
    if choice == 5 and unit:
        return f"{text}{unit}次"  # a longer unit than the target's: the leading number counts
    return text


def _edge_projects() -> list[Project]:
    rng = random.Random(20261203)
    seed_targets = sorted({i.target for f in load() for i in f.project.indicators
                           if isinstance(_target(i.target), Quantity)})
    out = []
    for n in range(GENERATED):
        profile = ("shanghai", "excel")[n % 2]
        p = Project(SELF_EVALUATION, 2024, f"边界项目{n}", "主管部门", "单位", key=f"engines-{n}", profile=profile)
        budget = Decimal(rng.randint(1, 10 ** rng.randint(3, 11))) / 100
        if n % 4 == 0:  # executed/budget lands on x.xx5 %
            executed = (budget * (Decimal(rng.randint(0, 10000)) + Decimal("0.5")) / 10000).quantize(Decimal("0.01"))
        else:
            executed = (budget * Decimal(rng.randint(0, 1200)) / 1000).quantize(Decimal("0.01"))
        p.funds["年度资金总额"] = FundsLine(budget, budget, executed)
        p.funds_weight = Decimal(rng.choice(["10", "15", "20"]))
        rest = Decimal(100) - p.funds_weight
        k = rng.randint(3, 8)
        weights = [(rest / k).quantize(Decimal("0.01"))] * (k - 1)
        weights.append(rest - sum(weights))
        for i, w in enumerate(weights):
            if i % 3 == 0:  # a 4-decimal target of any size
                op = rng.choice(["≥", ">", "≤", "<", "="])
                decimals = rng.choice([4, 4, 5, 6, 8])   # more than 4: still native and exact
                value = Decimal(rng.randint(1, 10 ** rng.randint(4, 13))).scaleb(-decimals)
                unit = rng.choice([None, "%", "万元", "户", "次/月"])
                target = f"{op}{plain(value)}" + (f"({unit})" if unit else "")
            else:
                target = rng.choice(seed_targets)
            t = _target(target)
            if isinstance(t, Quantity):
                factor = Decimal(rng.randint(0, 2500)) / 1000
                places = max(4, -t.value.normalize().as_tuple().exponent)
                actual = _typed(rng, (t.value * factor).quantize(Decimal(1).scaleb(-places)), t.unit, places)
            else:
                # a judgement with a stray space after it (ideographic, non-breaking, ordinary)
                actual = rng.choice(["达成指标", "部分达成", "未达成"]) + rng.choice(["", "", "\u3000", "\u00a0", " "])
            p.indicators.append(Indicator("产出指标", "数量指标", f"指标{i}", target, w, actual))
        out.append(p)
    # blank and unreadable targets, judged 达成指标: no score, no total (engine and formulas)
    p = Project(SELF_EVALUATION, 2024, "空目标", key="engines-blank-target")
    p.funds["年度资金总额"] = FundsLine(Decimal(100), Decimal(100), Decimal(100))
    p.funds_weight = Decimal(10)
    p.indicators = [Indicator("产出指标", "数量指标", "甲", "", Decimal(45), "达成指标"),
                    Indicator("产出指标", "数量指标", "乙", ">=abc", Decimal(45), "达成指标")]
    out.append(p)
    # what a spreadsheet would turn into a date or time (the actual cells are text, so it stays
    # text): the engine refuses it, the formulas score nothing either — in both engines
    p = Project(SELF_EVALUATION, 2024, "日期样式", key="engines-datelike")
    p.funds["年度资金总额"] = FundsLine(Decimal(100), Decimal(100), Decimal(90))
    p.funds_weight = Decimal(10)
    p.indicators = [Indicator("产出指标", "数量指标", name, "≥10(次)", Decimal(30), actual)
                    for name, actual in (("分数", "1/2"), ("时间", "12:30"), ("横线", "1-2"))]
    out.append(p)
    return out


def _sheet_xml(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("xl/worksheets/sheet1.xml")


def _helper_cells(project: Project):
    """The parsed actual of each quantitative row, as the engine read it."""
    t = compiled(SELF_EVALUATION)
    layout = Layout(t.band, max(1, len(project.indicators)))
    for k, res in enumerate(score_project(project).indicators):
        if res is not None and isinstance(res.target, Quantity) and isinstance(res.actual, Quantity):
            yield t.ref("xp_ind_value", layout, k), res.actual.value


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory):
    needs.require("soffice")
    needs.require("ssconvert")
    src = tmp_path_factory.mktemp("engines")
    projects = [f.project for f in load() if f.project.kind == SELF_EVALUATION] + _edge_projects()
    files = []
    for i, p in enumerate(projects):
        path = src / f"{i:04d}.xlsx"
        data = render(p)
        assert b"XLPERF" not in _sheet_xml(data), p.key   # a portable workbook never calls the add-in
        path.write_bytes(data)
        files.append(path)
    lo = libreoffice.recalculate(files, tmp_path_factory.mktemp("lo"), timeout=1200)
    gn = gnumeric.recalculate(files, tmp_path_factory.mktemp("gn"))
    return projects, {"LibreOffice": lo, "Gnumeric": gn}


@pytest.mark.parametrize("engine", ["LibreOffice", "Gnumeric"])
def test_every_computed_cell_equals_the_engine(recalculated, engine):
    projects, outputs = recalculated
    mismatches, checked = [], 0
    for project, path in zip(projects, outputs[engine]):
        values = libreoffice.read_values(Path(path))
        for cell, expected in [*_computed_cells(project), *_helper_cells(project)]:
            checked += 1
            if not _same(values.get(cell), expected):
                mismatches.append(f"{project.key} {cell}: {engine} {values.get(cell)!r}, engine {expected}")
    assert len(projects) >= GENERATED + 30 and checked > 5000
    assert not mismatches, f"{len(mismatches)} of {checked}:\n" + "\n".join(mismatches[:40])


def _fine_project(target: str) -> Project:
    p = Project(SELF_EVALUATION, 2024, "细目标", "主管部门", "单位", key="fine")
    p.funds["年度资金总额"] = FundsLine(Decimal(100), Decimal(100), Decimal(90))
    p.funds_weight = Decimal(10)
    p.indicators = [Indicator("产出指标", "数量指标", "甲", target, Decimal(90), "0.1")]
    return p


def test_a_target_no_native_formula_expresses_is_named_not_sent_to_the_addin(tmp_path, capsys):
    """``≥0.12345(万元)`` has its exact native formula (scaled by 10^5); a 15-digit target with
    decimals or a negative ≤ target has none: the portable workbook leaves the row to 待核
    (no XLPERF_SCORE, #NAME? without the add-in) and fill names the indicator and says why."""
    from xlperf import cli
    from xlperf.formulas import expressible

    assert expressible(parse_target("≥0.12345(万元)")) and expressible(parse_target("≥1234567.1234567"))
    assert b"XLPERF" not in _sheet_xml(render(_fine_project("≥0.12345(万元)")))
    for target, why in (("≥123456789012.12345", "有效数字过多"), ("≤-0.5", "为负数")):
        assert not expressible(parse_target(target))
        project = tmp_path / "p.yaml"
        project.write_text(f"""kind: 自评表
year: 2024
name: 细目标
profile: excel
funds:
  - {{row: 年度资金总额, initial: "100", budget: "100", executed: "90", weight: "10"}}
indicators:
  - {{l1: 产出指标, l2: 数量指标, l3: 甲, target: "{target}", weight: "90", actual: "1"}}
""", encoding="utf-8")
        out = tmp_path / f"{why}.xlsx"
        assert cli.main(["fill", str(project), "-o", str(out)]) == 0
        err = capsys.readouterr().err
        assert "第 1 个指标" in err and target in err and why in err and "待核" in err, err
        assert b"XLPERF" not in _sheet_xml(out.read_bytes())
        assert b"XLPERF" in _sheet_xml(render(_fine_project(target), mode="udf"))  # udf mode still can

    # generate from a register names the register's 指标值 cell
    from xlperf import register
    p = _fine_project("≥123456789012.12345")
    reg = tmp_path / "登记表.xlsx"
    reg.write_bytes(register.register_bytes([p]))
    assert cli.main(["generate", str(reg), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    line = next(l for l in err.splitlines() if "≥123456789012.12345" in l)
    assert "登记表.xlsx" in line and re.search(r"单元格 [A-Z]+\d+", line) and "待核" in line, line
    for form in (tmp_path / "out").rglob("*.xlsx"):
        assert b"XLPERF" not in _sheet_xml(form.read_bytes())

    # generate --from a folder of 申报表 names the 申报表 and the indicator
    decl = _fine_project("≥123456789012.12345")
    decl.kind = DECLARATION
    decl.indicators += [Indicator("效益指标", "社会效益指标", "乙", "建立健全", None),
                        Indicator("满意度指标", "服务对象满意度指标", "丙", "≥90%", None)]
    (tmp_path / "申报").mkdir()
    (tmp_path / "申报" / "细目标.xlsx").write_bytes(render(decl))
    assert cli.main(["generate", "--from", str(tmp_path / "申报"), "--out", str(tmp_path / "自评")]) == 0
    err = capsys.readouterr().err
    line = next(l for l in err.splitlines() if "≥123456789012.12345" in l)
    assert "细目标.xlsx" in line and "第 1 个指标" in line and "待核" in line, line

    # a udf workbook scores such a row through the add-in: no word about the portable mode
    assert cli.main(["generate", str(reg), "--mode", "udf", "--out", str(tmp_path / "udf")]) == 0
    assert cli.main(["generate", "--from", str(tmp_path / "申报"), "--mode", "udf",
                     "--out", str(tmp_path / "udf自评")]) == 0
    err = capsys.readouterr().err
    assert "便携版" not in err and "待核" not in err, err


_AMOUNTS = [("1165.18", True), ("0", True), ("-1", False), ("1.234", False), ("1,165.18元", False),
            ("１１６５．１８", False), ("１，１６５．１８", False), ("1165.18万元", False), ("\u30001165.18", False)]
_ACTUALS = [("１２３．４５", True), ("≥95%", True), ("\u300012\u3000", True), ("\u00a012", True), ("９５％", True),
            ("abc", False), ("约12", False), ("", True)]


def test_the_input_validations_refuse_in_both_engines_what_the_formulas_cannot_read(tmp_path):
    """The amount validation (a number ≥ 0 with at most 2 decimals) refuses text amounts — a
    元/万元 suffix, full-width digits, thousands commas typed as text — and the 实际完成值
    validation accepts full-width and space-padded numbers (which the helper cell reads via
    ASC) and refuses text without a number: each formula, taken from a generated form,
    evaluated against the typed text in LibreOffice and Gnumeric."""
    import openpyxl

    needs.require("soffice")
    needs.require("ssconvert")
    xml = _sheet_xml(render(next(f.project for f in load() if f.project.kind == SELF_EVALUATION))).decode()
    amount = html.unescape(next(m.group(2) for m in re.finditer(
        r'<dataValidation [^>]*promptTitle="([^"]*)"[^>]*><formula1>(.*?)</formula1>', xml) if m.group(1) == "金额"))
    first = re.search(r"ISNUMBER\(([A-Z]+\d+)\)", amount).group(1)
    actual = html.unescape(next(m.group(2) for m in re.finditer(
        r'<dataValidation [^>]*promptTitle="([^"]*)"[^>]*><formula1>(.*?)</formula1>', xml)
        if m.group(1) == "实际完成值（定量）"))
    cell = re.search(r"TRIM\(ASC\(([A-Z]+\d+)\)\)", actual).group(1)
    wb = openpyxl.Workbook()
    ws = wb.active
    cases = [(text, ok, amount, first) for text, ok in _AMOUNTS] + [(t, ok, actual, cell) for t, ok in _ACTUALS]
    for i, (text, _, formula, ref) in enumerate(cases, 1):
        typed = ws.cell(i, 1)
        if formula is amount and re.fullmatch(r"-?\d+(\.\d+)?", text):
            typed.value = Decimal(text)            # what a spreadsheet stores for a typed number
        else:
            typed.value, typed.number_format = text, "@"
        ws.cell(i, 2).value = "=" + re.sub(rf"\b{ref}\b", f"A{i}", formula)
    src = tmp_path / "dv.xlsx"
    wb.save(src)
    for engine, out in (("LibreOffice", libreoffice.recalculate([src], tmp_path / "lo")[0]),
                        ("Gnumeric", gnumeric.recalculate([src], tmp_path / "gn")[0])):
        got = openpyxl.load_workbook(out, data_only=True).active
        wrong = [(text, got.cell(i, 2).value) for i, (text, ok, _, _) in enumerate(cases, 1)
                 if text and bool(got.cell(i, 2).value) is not ok]
        assert not wrong, (engine, wrong)


def test_actual_cells_are_text_so_typing_never_becomes_a_date():
    """1/2 or 12:30 typed into 实际完成值 stays that text (number format "@"), so the formulas
    see what was typed (and refuse it, as the engine does) instead of a date serial; the
    engine test above shows the formulas compute on such text numbers in both engines."""
    import openpyxl

    p = next(f.project for f in load() if f.project.kind == SELF_EVALUATION)
    ws = openpyxl.load_workbook(io.BytesIO(render(p))).active
    t = compiled(SELF_EVALUATION)
    layout = Layout(t.band, len(p.indicators))
    for k in range(len(p.indicators)):
        assert ws[t.ref("xp_ind_actual", layout, k)].number_format == "@"
        assert ws[t.ref("xp_ind_target", layout, k)].number_format == "@"


def test_an_actual_finer_than_the_formulas_read_is_left_to_pending_not_rounded(tmp_path, capsys):
    """99.99999 against ≥100 (shanghai truncates): the engine gives 19.99 of 20; formulas that
    read the actual to 4 decimals would give 20. The portable workbook leaves the row (and
    total) blank — printed 待核 — in LibreOffice and Gnumeric, and fill says which row."""
    from xlperf import cli
    from xlperf.scoring import indicator_score

    assert indicator_score("≥100", "99.99999", "20", "shanghai") == Decimal("19.99")
    project = tmp_path / "p.yaml"
    project.write_text("""kind: 自评表
year: 2024
name: 细实际
profile: shanghai
funds:
  - {row: 年度资金总额, initial: "100", budget: "100", executed: "100", weight: "10"}
indicators:
  - {l1: 产出指标, l2: 数量指标, l3: 甲, target: "≥100", weight: "20", actual: "99.99999"}
  - {l1: 产出指标, l2: 质量指标, l3: 乙, target: "≥0.12345", weight: "20", actual: "0.123449"}
  - {l1: 效益指标, l2: 社会效益指标, l3: 丙, target: "≥0.12345", weight: "20", actual: "0.12344"}
  - {l1: 满意度指标, l2: 服务对象满意度指标, l3: 丁, target: "≥100", weight: "30", actual: "99.9999"}
""", encoding="utf-8")
    out = tmp_path / "细实际.xlsx"
    assert cli.main(["fill", str(project), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "第 1 个指标" in err and "99.99999" in err and "第 2 个指标" in err and "待核" in err, err
    assert "第 3 个指标" not in err and "第 4 个指标" not in err, err
    t = compiled(SELF_EVALUATION)
    layout = Layout(t.band, 4)
    for engine, path in (("LibreOffice", libreoffice.recalculate([out], tmp_path / "lo")[0]),
                         ("Gnumeric", gnumeric.recalculate([out], tmp_path / "gn")[0])):
        values = libreoffice.read_values(Path(path))
        got = [values.get(t.ref("xp_ind_score", layout, k)) for k in range(4)]
        assert got[0] in (None, "") and got[1] in (None, ""), (engine, got)
        assert _same(got[2], indicator_score("≥0.12345", "0.12344", "20", "shanghai")), (engine, got)
        assert _same(got[3], indicator_score("≥100", "99.9999", "30", "shanghai")), (engine, got)
        assert values.get(t.ref("xp_total_score", layout)) in (None, ""), engine


def _with_text(data: bytes, cells: dict[str, str]) -> bytes:
    """``data`` with ``cells`` holding text (an inline string, as pasting stores it past the
    input validation), their styles kept; the rest of the package untouched."""
    src = zipfile.ZipFile(io.BytesIO(data))
    xml = src.read("xl/worksheets/sheet1.xml").decode()
    for ref, text in cells.items():
        xml, n = re.subn(rf'<c r="{ref}"( s="\d+")?[^>]*?(?:/>|>.*?</c>)',
                         lambda m: f'<c r="{ref}"{m.group(1) or ""} t="inlineStr"><is><t>{html.escape(text)}</t></is></c>',
                         xml, count=1, flags=re.S)
        assert n == 1, ref
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            z.writestr(item, xml.encode() if item.filename == "xl/worksheets/sheet1.xml" else src.read(item))
    return out.getvalue()


def test_a_text_amount_pasted_past_the_validation_leaves_the_rate_pending_not_an_error(tmp_path):
    """Issue 12 item 4: 1,165.18元 or full-width digits pasted into 全年预算数/全年执行数 (the
    validation only stops typing) gave #VALUE! or 预算为0 in 执行率. Now the rate, the funds
    score and the total stay blank in LibreOffice and Gnumeric and print 待核 on red; a plain
    number stored as text is read as the number (both engines convert it, as the engine does)."""
    import subprocess

    needs.require("soffice")
    needs.require("ssconvert")
    needs.require("pdftotext")
    p = next(f.project for f in load() if f.project.kind == SELF_EVALUATION and f.project.funds["年度资金总额"].budget)
    t = compiled(SELF_EVALUATION)
    layout = Layout(t.band, len(p.indicators))
    rate = [t.ref("xp_funds_rate", layout, i) for i in range(4)]
    budget = [t.ref("xp_funds_budget", layout, i) for i in range(4)]
    executed = [t.ref("xp_funds_executed", layout, i) for i in range(4)]
    total = p.funds["年度资金总额"]
    expected = score_project(p).rates["当年财政拨款"]
    src = tmp_path / "text.xlsx"
    src.write_bytes(_with_text(render(p), {
        budget[0]: f"{total.budget:,}元", executed[0]: plain(total.executed).translate(_FULL_WIDTH),
        budget[1]: plain(p.funds["当年财政拨款"].budget), executed[1]: plain(p.funds["当年财政拨款"].executed)}))
    for engine, path in (("LibreOffice", libreoffice.recalculate([src], tmp_path / "lo")[0]),
                         ("Gnumeric", gnumeric.recalculate([src], tmp_path / "gn")[0])):
        values = libreoffice.read_values(Path(path))
        got = {name: values.get(t.ref(name, layout)) for name in ("xp_funds_rate", "xp_funds_score", "xp_total_score")}
        assert all(v in (None, "") for v in got.values()), (engine, got)
        assert _same(values.get(rate[1]), expected), (engine, values.get(rate[1]), expected)
    pdf, = libreoffice.to_pdf([src], tmp_path / "pdf", timeout=300)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    line = next(l for l in text.splitlines() if "年度资金总额" in l)
    assert line.count("待核") == 2 and "#VALUE" not in text and "预算为0" not in text, line
    assert "待核" not in next(l for l in text.splitlines() if "当年财政拨款" in l)
