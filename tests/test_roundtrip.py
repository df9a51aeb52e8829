"""Issue 6 item 7 — round trip: generate → fill as a unit would → harvest gives back what was filled.

Each example is one project drawn by hypothesis: Chinese/ASCII names with awkward text (a leading
``=``, ``+``, ``-``, ``@``, quotes, formula-injection strings, newlines where the field keeps them),
1–8 indicators across the three 一级指标 with targets in the notations xlperf reads
(tests/data/notations.yaml plus synthesised ``≥12.5(次)``-style ones), weights that total 100,
amounts as ``Decimal`` with up to two places over a wide range, money unit 元 or 万元, profile
shanghai or excel.

The *register* part of the project goes through :func:`xlperf.generate.render`, exactly as
``xlperf generate`` writes a unit's blank form. The *unit's* part (全年预算数 / 全年执行数,
实际完成值, 偏差原因, 人工调整得分, 实际完成情况; for a 申报表 the header, funds, goals, targets
and dates) is then typed into that workbook with openpyxl at the cells the workbook's own
``xp_*`` defined names designate — no coordinate is hard-coded — and the file is saved and read
back with :func:`xlperf.harvest.read_workbook`. The harvested project must equal what the test
drew, field by field (texts, Decimals to the cent, units, indicator order), and ``project.cells``
must point at the named cells.

openpyxl keeps formulas but writes no cached values, so the computed cells (执行率, 得分, 总分,
评分等级) of such a file hold nothing to read: the harvester reads them as missing (``None`` /
``""``, never 0 and never a stale value), and :func:`xlperf.validate.check_project` reports each
one as a ``missing`` finding at the computed cell. A few examples (marked ``libreoffice``) are
then recalculated in LibreOffice, and the harvested computed figures must equal
:func:`xlperf.scoring.score_project` of the drawn project.

Normalisations of the reader, respected by the drawn text: no leading/trailing white space
(values are stripped); no line breaks in one-line fields (names, 三级指标, 指标值: lines are
joined); 二级指标 without white space and in NFKC form (the merged level columns are normalised).

Gaps this test found, now fixed, each with its smallest reproduction in
tests/test_harvest_regressions.py: (1) the harvester did not read the 人工调整得分 column; (2) free text was
HTML-stripped and entity-unescaped (``x<y 且 z>w`` → ``xw``, ``AT&amp;T`` → ``AT&T``), so no ``<`` or
``&`` is drawn; (3) a value that *is* a footer or header label (a 偏差原因 of ``合计`` or ``总分``)
silently ends the indicator table, so no drawn value is a label; (4) the portable 总分 formula shows
a partial sum while a 实际完成值 is still empty (the engine and the 评分等级 formula: blank), so
the LibreOffice examples fill every 实际完成值.

Deterministic (``derandomize=True``, no example database) and bounded: about 10–15 s in all.
"""
from __future__ import annotations

import copy
import datetime as dt
import io
import re
import string
import tempfile
import unicodedata
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import openpyxl
import pytest

import needs
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlperf import libreoffice
from xlperf.generate import render
from xlperf.harvest import Severity, harvest, read_workbook
from xlperf.model import DECLARATION, FUNDS_ROWS, LEVEL1, SELF_EVALUATION, DeclaredFunds, FundsLine, Indicator, Project
from xlperf.scoring import score_project
from xlperf.validate import check_project

NOTATIONS = Path(__file__).parent / "data" / "notations.yaml"

ROUNDTRIP = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DECLARATION_RUNS = settings(ROUNDTRIP, max_examples=25)
LO_RUNS = settings(ROUNDTRIP, max_examples=5)

CENT = Decimal("0.01")
#: Inputs typed into the form: up to 99,999,999,999.99 (13 significant digits, exact as a double).
MAX_CENTS = 10**13 - 1
#: The portable formulas compute in whole cents exactly up to about 4.5·10^9 (xlperf/formulas.py).
LO_MAX_CENTS = 10**11


# ====================================================================== text

CJK = ("项目经费运维保障服务卫生健康委员会中心管理系统建设监督检查人员培训信息化平台社区医疗质量安全"
       "市区县街道办公室采购设备维护数据专项工作疾病预防控制妇幼保健急救站院校满意度达成率")
RARE = "𠮷龘😀"   # outside the BMP (surrogate pairs in UTF-16, as Excel stores them)
ASCII = string.ascii_letters + string.digits
PUNCT = " =+-@'\"()[]{},.;:!?%#*/\\|~^_`$>"
FULL = "，。；：、“”‘’（）【】《》！？·—…％＝＋＠　"
PHRASES = ("2024年度体检服务项目", "社区卫生服务综合改革\"1+1+1\"签约信息服务平台运维", "安全生产专项工作经费",
           "上海市卫生健康委员会", "上海市保健事务中心", "政府雇员项目", "IT运维（二期）", "O'Brien & 合作",
           "自评表系统运维", "ＡＢＣ全角名称", "=SUM(A1:A3)", "@HYPERLINK(\"http://x\")", "+86-21-1234",
           "-1", "'00123", "\"引号\"", "12345", "TRUE", "#N/A", "2024-01-01")
#: Text a spreadsheet (or the harvester) may take for a formula; the harvester must warn.
INJECTIONS = ("=SUM(A1:A3)", "=cmd|' /C calc'!A0", "@SUM(1,2)", "+HYPERLINK(\"http://x\")", "-IMPORTXML(\"u\")")

_char = st.one_of(st.sampled_from(CJK), st.sampled_from(CJK), st.sampled_from(ASCII), st.sampled_from(PUNCT),
                  st.sampled_from(FULL), st.sampled_from(RARE))

# The form's labels (what the label-reading harvester looks for). A value that *is* a label is
# ambiguous to any reader that works by labels, so the drawn values avoid them.
_LABEL_KEYS = {
    "项目名称", "主管部门", "实施单位", "项目性质", "项目类别", "计划开始日期", "开始日期", "计划完成日期", "完成日期",
    "计划结束日期", "项目编号", "项目代码", "评分等级", "总分", "合计", "预期目标", "实际完成情况", "年度总体目标",
    "年度总目标", "年度目标", "年初预算数", "全年预算数", "全年执行数", "分值", "分数", "权重", "得分", "年度资金总额",
    "当年财政拨款", "上年结转资金", "其他资金", "项目资金总额", "财政资金", "年度资金申请总额", "一级指标", "二级指标",
    "三级指标", "实际完成值", "年度指标值", "指标目标值", "年度(/项目)指标值", "年度/项目指标值", "项目指标值", "指标值",
    "目标值", "年度目标值", "绩效指标", "项目绩效目标",
}


def _label_like(text: str) -> bool:
    if len(text) > 60 or text[0] in "0123456789.=≥≤<>+-—–$%":
        return False
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).replace("$", "").replace("\\", "").strip("*:")
    if key.startswith("其中"):
        key = key[2:].lstrip(":")
    return (key in _LABEL_KEYS
            or key.startswith(("项目资金", "项目总目标", "偏差原因", "实际完成值", "执行率", "预算执行率", "评分等级"))
            or (key.endswith(("指标值", "目标值")) and len(key) <= 12)
            or re.fullmatch(r"(?:金额)?单位:?(?:万元|元)", key) is not None)


def _clean(text: str) -> str:
    return text.strip()


def _ok(text: str) -> bool:
    return bool(text) and not _label_like(text)


_body = st.text(alphabet=_char, min_size=1, max_size=30)
_prefix = st.sampled_from(("",) * 6 + ("=", "+", "-", "@", "'", '"', "=1+1 ") + INJECTIONS)

#: One-line text: names, 三级指标, 项目性质 … (a leading =, +, -, @ or quote included).
line_text = st.one_of(
    st.tuples(_prefix, _body).map("".join),
    st.sampled_from(PHRASES),
).map(_clean).filter(_ok)

#: Text that keeps its line breaks: goals, 实际完成情况, 偏差原因分析及改进措施.
long_text = st.one_of(
    st.lists(st.one_of(line_text, st.just("")), min_size=1, max_size=4).map("\n".join),
    line_text,
).map(_clean).filter(_ok)

LEVEL2 = ("数量指标", "质量指标", "时效指标", "成本指标", "经济效益指标", "社会效益指标", "生态效益指标",
          "可持续影响指标", "服务对象满意度指标")
level2_text = st.one_of(
    st.sampled_from(LEVEL2),
    st.text(alphabet=st.sampled_from(CJK + string.ascii_letters + "（）-+_"), min_size=1, max_size=12)
    .filter(lambda s: unicodedata.normalize("NFKC", s) == s),
).filter(_ok)


# ====================================================================== targets

def _load_targets() -> list[tuple[str, str | None, Decimal | None, str | None]]:
    """(text, op, value, unit) of every readable target notation in notations.yaml (op None:
    qualitative). The parse is the file's hand-written expectation, not the parser's output."""
    data = yaml.safe_load(NOTATIONS.read_text(encoding="utf-8"))
    entries = list(data["targets"]) + [v for v in data["variants"] if v.get("role") == "target"]
    out = []
    for e in entries:
        text = e["text"]
        if e.get("kind") == "error" or text != text.strip() or "<" in text or "&" in text or _label_like(text):
            continue
        if e.get("kind") == "qualitative":
            out.append((text, None, None, None))
        elif "op" in e:
            out.append((text, e["op"], Decimal(e["value"]), e["unit"]))
    return out


YAML_TARGETS = _load_targets()
_OPS = {"≥": "≥", ">=": "≥", ">": ">", "≤": "≤", "<=": "≤", "<": "<", "=": "=", "": "="}
_UNITS = {"": None, "%": "%", "(%)": "%", "次": "次", "(户次)": "户次", "小时": "小时", "分": "分", "人": "人",
          "个": "个", "期/月": "期/月", ".00(次)": "次"}


@st.composite
def targets(draw):
    if draw(st.integers(0, 2)):
        return draw(st.sampled_from(YAML_TARGETS))
    op_text = draw(st.sampled_from(sorted(_OPS)))
    unit_text = draw(st.sampled_from(sorted(_UNITS)))
    value = Decimal(draw(st.integers(1, 100_000))).scaleb(-2) if draw(st.booleans()) \
        else Decimal(draw(st.integers(1, 1000)))
    if unit_text.startswith("."):  # "12.00(次)": an integer written with two zero decimals
        value = value.to_integral_value(rounding=ROUND_CEILING)
    return f"{op_text}{format(value, 'f')}{unit_text}", _OPS[op_text], value, _UNITS[unit_text]


JUDGEMENTS = ("达成指标", "部分达成", "未达成")
#: (low, high, high inclusive) of each judgement's band (shanghai and excel share them).
BANDS = {"达成指标": (Decimal("0.8"), Decimal("1"), True), "部分达成": (Decimal("0.6"), Decimal("0.8"), False),
         "未达成": (Decimal("0"), Decimal("0.6"), False)}


def _cents(draw, low: Decimal, high: Decimal, high_inclusive: bool = True) -> Decimal | None:
    lo = int((low / CENT).to_integral_value(rounding=ROUND_CEILING))
    hi_exact = high / CENT
    hi = int(hi_exact.to_integral_value(rounding=ROUND_FLOOR))
    if not high_inclusive and hi == hi_exact:
        hi -= 1
    if hi < lo:
        return None
    return Decimal(draw(st.integers(lo, hi))) * CENT


@st.composite
def actual_for(draw, value: Decimal, unit: str | None):
    """What a unit types as 实际完成值 for a quantitative target: a number, with or without the
    target's unit (as the cell's prompt suggests), or typed as a number into the cell."""
    factor = draw(st.sampled_from(("0", "0.5", "0.9", "1", "1", "1.1", "2", None)))
    if factor is None:
        a = Decimal(draw(st.integers(0, int(value * 200) + 1000))) * CENT
    else:
        a = (value * Decimal(factor)).quantize(CENT)
    if draw(st.booleans()):
        a = a.to_integral_value(rounding=ROUND_FLOOR)
    style = draw(st.sampled_from(("number", "bare", "unit", "bracket", "eq", "comma")))
    if style == "number":
        return a
    num = format(a, ",f") if style == "comma" and a >= 1000 else format(a, "f")
    if not unit or style == "bare":
        return num
    if style == "bracket" and unit[0] not in "*/":
        return f"{num}({unit})"
    return f"={num}{unit}" if style == "eq" else f"{num}{unit}"


# ====================================================================== amounts and weights

def amounts(max_cents: int):
    return st.one_of(st.integers(0, 10**4), st.integers(0, 10**8), st.integers(0, max_cents)).map(
        lambda c: Decimal(c) * CENT)


def _spend(budget: Decimal, permille: int) -> Decimal:
    return (budget * permille / 1000).quantize(CENT, rounding=ROUND_FLOOR)


@st.composite
def weights(draw, n: int):
    """预算执行率 分值 and n indicator 分值 with two decimals, totalling exactly 100."""
    funds = Decimal(draw(st.sampled_from((10, 10, 10, 5, 15, 20))))
    shares = draw(st.lists(st.integers(1, 10), min_size=n, max_size=n))
    rest = int((100 - funds) * 100)
    cents = [rest * s // sum(shares) for s in shares]
    cents[-1] += rest - sum(cents)
    return funds, [Decimal(c) * CENT for c in cents]


# ====================================================================== projects

@st.composite
def level_rows(draw):
    """1–8 (一级, 二级, 三级) rows grouped by 一级指标 in printed order, 二级 often repeated."""
    n = draw(st.integers(1, 8))
    firsts = sorted(draw(st.lists(st.sampled_from(LEVEL1), min_size=n, max_size=n)), key=LEVEL1.index)
    rows, prev2 = [], None
    for l1 in firsts:
        l2 = prev2 if prev2 is not None and draw(st.booleans()) else draw(level2_text)
        rows.append((l1, l2, draw(line_text)))
        prev2 = l2
    return rows


@st.composite
def self_evaluations(draw, max_cents: int = MAX_CENTS, complete: bool = False):
    """(register project given to the generator, the unit's entries [(xp name, index, value)],
    the whole project as filled). ``complete``: every 实际完成值 filled."""
    filled = Project(kind=SELF_EVALUATION, year=draw(st.integers(2015, 2035)), name=draw(line_text),
                     department=draw(st.one_of(st.just(""), line_text)), unit=draw(line_text),
                     money_unit=draw(st.sampled_from(("元", "万元"))),
                     profile=draw(st.sampled_from(("shanghai", "excel"))))
    filled.annual_goal = draw(st.one_of(st.just(""), long_text))
    entries: list[tuple[str, int, object]] = []
    budget_known = draw(st.booleans())  # the register already has the 全年预算数
    for i, row in enumerate(FUNDS_ROWS):
        if i and not draw(st.integers(0, 3)):
            filled.funds[row] = FundsLine(None, None, None)   # a sub-row left empty, as forms do
            continue
        budget = draw(amounts(max_cents))
        initial = draw(st.one_of(st.none(), st.just(budget), amounts(max_cents)))
        executed = _spend(budget, draw(st.integers(0, 1200)))
        filled.funds[row] = FundsLine(initial, budget, executed)
    rows = draw(level_rows())
    filled.funds_weight, ind_weights = draw(weights(len(rows)))
    for k, ((l1, l2, l3), w) in enumerate(zip(rows, ind_weights)):
        text, op, value, unit = draw(targets())
        ind = Indicator(l1, l2, l3, text, weight=w)
        if complete or draw(st.integers(0, 7)):
            if op is None:
                ind.actual = draw(st.sampled_from(JUDGEMENTS))
            else:
                ind.actual = draw(actual_for(value, unit))
        if draw(st.integers(0, 2)) == 0:
            ind.note = draw(long_text)
        if ind.actual is not None and draw(st.integers(0, 3)) == 0:
            low, high, inclusive = BANDS[ind.actual] if op is None else (Decimal(0), Decimal(1), True)
            override = _cents(draw, low * w, high * w, inclusive)
            if override is not None:
                ind.override = override
                if not ind.note:
                    ind.note = draw(long_text)   # an adjusted score needs its reason
        filled.indicators.append(ind)
    filled.actual_result = draw(st.one_of(st.just(""), long_text))

    register = copy.deepcopy(filled)
    register.actual_result = ""
    for i, row in enumerate(FUNDS_ROWS):
        line = register.funds[row]
        if not budget_known and line.budget is not None:
            entries.append(("xp_funds_budget", i, line.budget))
            line.budget = None
        if line.executed is not None:
            entries.append(("xp_funds_executed", i, line.executed))
            line.executed = None
    for k, ind in enumerate(register.indicators):
        for name, attr in (("xp_ind_actual", "actual"), ("xp_ind_note", "note"), ("xp_ind_override", "override")):
            if getattr(ind, attr) not in (None, ""):
                entries.append((name, k, getattr(ind, attr)))
        ind.actual, ind.note, ind.override = None, "", None
    if filled.actual_result:
        entries.append(("xp_actual_result", 0, filled.actual_result))
    order = draw(st.permutations(range(len(entries))))   # a unit fills in any order
    return register, [entries[i] for i in order], filled


@st.composite
def declarations(draw):
    """(register, entries, filled) for a 申报表: the register names the project and its
    indicators (sometimes with targets); the unit types the rest."""
    filled = Project(kind=DECLARATION, year=draw(st.integers(2015, 2035)), name=draw(line_text),
                     department=draw(line_text), unit=draw(line_text),
                     money_unit=draw(st.sampled_from(("元", "万元"))), profile="")
    register = copy.deepcopy(filled)
    entries: list[tuple[str, int, object]] = []
    for attr, pool in (("nature", ("经常性项目", "一次性项目")), ("category", ("其他运转类", "特定目标类", "专项类"))):
        value = draw(st.one_of(st.sampled_from(pool), line_text, st.just("")))
        setattr(filled, attr, value)
        if value:
            entries.append((f"xp_{attr}", 0, value))
    for attr in ("start", "end"):
        day = draw(st.one_of(st.none(), st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))))
        if day is None:
            continue
        setattr(filled, attr, day.isoformat())
        typed = draw(st.sampled_from((day, day.isoformat(), f"{day.year}/{day.month}/{day.day}",
                                      f"{day.year}年{day.month}月{day.day}日")))
        entries.append((f"xp_{attr}", 0, typed))
    for attr in DeclaredFunds.__dataclass_fields__:
        value = draw(st.one_of(st.none(), amounts(MAX_CENTS)))
        setattr(filled.declared, attr, value)
        if value is not None:
            entries.append((f"xp_{attr}", 0, value))
    for attr in ("total_goal", "annual_goal"):
        value = draw(st.one_of(st.just(""), long_text))
        setattr(filled, attr, value)
        if value:
            entries.append((f"xp_{attr}", 0, value))
    with_targets = draw(st.booleans())
    for k, (l1, l2, l3) in enumerate(draw(level_rows())):
        target = draw(targets())[0]
        filled.indicators.append(Indicator(l1, l2, l3, target))
        register.indicators.append(Indicator(l1, l2, l3, target if with_targets else ""))
        if not with_targets:
            entries.append(("xp_ind_target", k, target))
    return register, entries, filled


# ====================================================================== filling and reading

class NamedCells:
    """The cells of a workbook's ``xp_*`` defined names (a name's range, row by row)."""

    def __init__(self, wb):
        self.cells = {}
        for name, dn in wb.defined_names.items():
            if not name.startswith("xp_"):
                continue
            (sheet, ref), = list(dn.destinations)
            got = wb[sheet][ref.replace("$", "")]
            if not isinstance(got, tuple):
                got = ((got,),)
            elif got and not isinstance(got[0], tuple):
                got = tuple((c,) for c in got)
            self.cells[name] = [c for row in got for c in row]

    def cell(self, name: str, index: int = 0):
        return self.cells[name][index]

    def ref(self, name: str, index: int = 0) -> str:
        return self.cell(name, index).coordinate

    def put(self, name: str, index: int, value) -> None:
        c = self.cell(name, index)
        c.value = value
        if isinstance(value, str):
            c.data_type = "s"   # typed text (=100%, =SUM(…) as words), never a formula


def generate_and_fill(register: Project, entries, path: Path) -> NamedCells:
    """The blank form as ``xlperf generate`` writes it, then the unit's typing, saved by openpyxl."""
    wb = openpyxl.load_workbook(io.BytesIO(render(register)))
    named = NamedCells(wb)
    n = len(register.indicators)
    assert all(len(named.cells[k]) == n for k in named.cells if k.startswith("xp_ind_")), \
        "every indicator name covers exactly the indicator rows"
    for name, index, value in entries:
        named.put(name, index, value)
    wb.save(path)
    return named


def harvested(path: Path):
    res = read_workbook(path)
    assert len(res.projects) == 1, [str(q) for q in res.problems]
    return res.projects[0], res.problems


def view(p: Project) -> dict:
    """Every field of a project that a form carries, except ``Indicator.override``: the harvester
    does not read the 人工调整得分 column (reported with this item; the recalculated test checks
    the override through the 得分 it produces)."""
    return {
        "kind": p.kind, "year": p.year, "name": p.name, "department": p.department, "unit": p.unit,
        "key": p.key, "money_unit": p.money_unit, "profile": p.profile, "nature": p.nature,
        "category": p.category, "start": p.start, "end": p.end,
        "declared": tuple(getattr(p.declared, f) for f in DeclaredFunds.__dataclass_fields__),
        "total_goal": p.total_goal, "annual_goal": p.annual_goal,
        "funds": {row: (line.initial, line.budget, line.executed) for row, line in p.funds.items()},
        "funds_weight": p.funds_weight, "funds_rate": p.funds_rate, "funds_score": p.funds_score,
        "actual_result": p.actual_result, "total_score": p.total_score, "grade": p.grade,
        "indicators": [(i.level1, i.level2, i.level3, i.target, i.weight, i.actual, i.score, i.note)
                       for i in p.indicators],
    }


def assert_same(expected: dict, got: dict) -> None:
    if expected != got:
        diff = {k: (expected[k], got[k]) for k in expected if expected[k] != got[k]}
        if "indicators" in diff:
            e, g = diff.pop("indicators")
            rows = [(i, x, y) for i, (x, y) in enumerate(zip(e, g)) if x != y]
            diff["indicators"] = rows[:3] if len(e) == len(g) else f"{len(g)} rows read, {len(e)} filled"
        pytest.fail(f"harvested project differs from what was filled (expected, harvested): {diff}")


def assert_exact_types(p: Project) -> None:
    """Amounts, weights and scores come back as Decimal (never float), texts as str."""
    numbers = [*(getattr(p.declared, f) for f in DeclaredFunds.__dataclass_fields__), p.funds_weight, p.funds_rate,
               p.funds_score, p.total_score, *(v for line in p.funds.values() for v in vars(line).values()),
               *(v for i in p.indicators for v in (i.weight, i.score))]
    assert all(v is None or type(v) is Decimal for v in numbers), numbers
    assert all(type(i.actual) in (str, Decimal, type(None)) for i in p.indicators)


def assert_overrides(filled: Project, got: Project) -> bool:
    """人工调整得分 (column L, ``xp_ind_override``) exactly as typed (it used to be dropped: the
    reader stopped at the printed form's right edge; tests/test_harvest_regressions.py)."""
    typed = [i.override for i in filled.indicators]
    read = [i.override for i in got.indicators]
    assert read == typed
    return True


def assert_warnings_only_for_formula_like_text(problems, written: dict[str, str]) -> None:
    """The only problems are formula-injection warnings, at cells where formula-like text was
    written; every injection string the test wrote into a text field is flagged."""
    flagged = set()
    for q in problems:
        assert q.severity == Severity.WARNING and "公式" in q.message_zh, str(q)
        assert written.get(q.cell, " ").lstrip()[:1] in ("=", "+", "-", "@"), (str(q), written.get(q.cell))
        flagged.add(q.cell)
    for cell, text in written.items():
        if text.startswith(INJECTIONS):
            assert cell in flagged, f"{cell}: {text!r} was not flagged as formula-like"


# ====================================================================== 自评表

_SE_TEXT_PATHS = (("xp_project_name", "name"), ("xp_department", "department"), ("xp_unit", "unit"),
                  ("xp_expected_goal", "annual_goal"), ("xp_actual_result", "actual_result"))


def _written_texts(named: NamedCells, p: Project, fields, indicator_fields) -> dict[str, str]:
    """cell → text for the text fields the harvester reads as text (levels 1/2 excluded)."""
    out = {}
    for name, attr in fields:
        if getattr(p, attr):
            out[named.ref(name)] = getattr(p, attr)
    for k, ind in enumerate(p.indicators):
        for name, attr in indicator_fields:
            v = getattr(ind, attr)
            if isinstance(v, str) and v:
                out[named.ref(name, k)] = v
    return out


def _self_evaluation_texts(named: NamedCells, p: Project) -> dict[str, str]:
    return _written_texts(named, p, _SE_TEXT_PATHS,
                          (("xp_ind_level3", "level3"), ("xp_ind_target", "target"), ("xp_ind_actual", "actual"),
                           ("xp_ind_note", "note")))


@ROUNDTRIP
@given(drawn=self_evaluations())
def test_self_evaluation_round_trip(drawn):
    register, entries, filled = drawn
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "自评表.xlsx"
        named = generate_and_fill(register, entries, path)
        got, problems = harvested(path)

    # the inputs come back exactly; the computed cells (no cached value in an openpyxl save) as missing
    expected = view(filled)
    expected.update(funds_rate=None, funds_score=None, total_score=None, grade="")
    expected["indicators"] = [row[:6] + (None,) + row[7:] for row in expected["indicators"]]
    assert_same(expected, view(got))
    assert_exact_types(got)
    overrides_read = assert_overrides(filled, got)

    # project.cells is the workbook's field map: every value was read from its named cell
    cells = {"name": "xp_project_name", "unit": "xp_unit", "annual_goal": "xp_expected_goal",
             "actual_result": "xp_actual_result", "funds_weight": "xp_funds_weight", "funds_rate": "xp_funds_rate",
             "funds_score": "xp_funds_score", "total_score": "xp_total_score", "money_unit": "xp_money_unit",
             "year": "xp_year"}
    if filled.department:
        cells["department"] = "xp_department"
    want = {path_: named.ref(name) for path_, name in cells.items()}
    for i, row in enumerate(FUNDS_ROWS):
        for attr in ("initial", "budget", "executed"):
            want[f"funds.{row}.{attr}"] = named.ref(f"xp_funds_{attr}", i)
    for k, ind in enumerate(filled.indicators):
        for attr in ("level3", "target", "weight", "actual", "score", "note"):
            want[f"indicators.{k}.{attr}"] = named.ref(f"xp_ind_{attr}", k)
    assert {k: got.cells.get(k) for k in want} == want

    assert_warnings_only_for_formula_like_text(problems, _self_evaluation_texts(named, filled))

    # what the checks make of the missing computed figures: one `missing` finding per computed
    # cell that has its inputs, pointing at that cell, and nothing else
    findings = check_project(got)
    expected_missing = {named.ref("xp_funds_score")}
    for k, ind in enumerate(filled.indicators):
        if ind.actual is None:
            if ind.weight != 0:
                expected_missing.add(named.ref("xp_ind_actual", k))
        elif not (overrides_read and ind.override is not None):   # an override read is the score itself
            expected_missing.add(named.ref("xp_ind_score", k))
    missing = [f for f in findings if f.check == "missing"]
    assert {str(f.severity) for f in missing} <= {"警告"}
    assert {f.cell for f in missing} == expected_missing, [str(f) for f in findings]
    # nothing else — except, once overrides are read, a 提示 on a human score that departs from the rule
    overridden = {named.ref("xp_ind_score", k) for k, ind in enumerate(filled.indicators) if ind.override is not None}
    # (the drawn funds sub-rows are independent of the total, so validate's 'subrows' may fire)
    # and a 警告 on every funds row the draw spent above its budget, at its 全年执行数
    over = {named.ref("xp_funds_executed", i) for i, row in enumerate(FUNDS_ROWS)
            if (fl := filled.funds.get(row)) is not None and fl.budget and fl.executed is not None
            and fl.executed > fl.budget > 0}
    assert {f.cell for f in findings if f.check == "overspent"} == over, [str(f) for f in findings]
    others = [f for f in findings if f.check not in ("missing", "subrows", "overspent")]
    assert all(overrides_read and f.check == "departure" and str(f.severity) == "提示" and f.cell in overridden
               for f in others), [str(f) for f in others]


# ====================================================================== 申报表

@DECLARATION_RUNS
@given(drawn=declarations())
def test_declaration_round_trip(drawn):
    register, entries, filled = drawn
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "申报表.xlsx"
        named = generate_and_fill(register, entries, path)
        got, problems = harvested(path)
    assert_same(view(filled), view(got))
    assert_exact_types(got)

    want = {"name": "xp_project_name", "department": "xp_department", "unit": "xp_unit", "money_unit": "xp_money_unit"}
    want = {k: named.ref(v) for k, v in want.items()}
    for attr in ("nature", "category", "start", "end", "total_goal", "annual_goal"):
        if getattr(filled, attr):
            want[attr] = named.ref(f"xp_{attr}")
    for attr in DeclaredFunds.__dataclass_fields__:
        want[f"declared.{attr}"] = named.ref(f"xp_{attr}")
    for k in range(len(filled.indicators)):
        want[f"indicators.{k}.level3"] = named.ref("xp_ind_level3", k)
        want[f"indicators.{k}.target"] = named.ref("xp_ind_target", k)
    assert {k: got.cells.get(k) for k in want} == want

    written = _written_texts(named, filled, (("xp_project_name", "name"), ("xp_department", "department"),
                                             ("xp_unit", "unit"), ("xp_nature", "nature"),
                                             ("xp_category", "category"), ("xp_total_goal", "total_goal"),
                                             ("xp_annual_goal", "annual_goal")),
                             (("xp_ind_level3", "level3"), ("xp_ind_target", "target")))
    assert_warnings_only_for_formula_like_text(problems, written)


# ====================================================================== recalculated in LibreOffice

@pytest.fixture(scope="module")
def soffice():
    return needs.require("soffice")


@pytest.mark.libreoffice
@LO_RUNS
@given(drawn=self_evaluations(max_cents=LO_MAX_CENTS))
def test_recalculated_figures_equal_the_engine(soffice, drawn):
    register, entries, filled = drawn
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "filled.xlsx"
        named = generate_and_fill(register, entries, path)
        (recalculated,) = libreoffice.recalculate([path], Path(tmp) / "lo", timeout=120)
        h = harvest(recalculated.parent, workers=0)    # the folder API, as `xlperf harvest` reads
    (got,) = h.projects
    problems = h.problems

    s = score_project(filled)   # the drawn project, overrides included
    expected = view(filled)
    expected.update(funds_rate=s.rates["年度资金总额"], funds_score=s.funds_score, total_score=s.total,
                    grade=s.grade or "")
    expected["indicators"] = [row[:6] + (res.score if res is not None else None,) + row[7:]
                              for row, res in zip(expected["indicators"], s.indicators)]
    assert_same(expected, view(got))
    assert_exact_types(got)
    assert_overrides(filled, got)
    assert_warnings_only_for_formula_like_text(problems, _self_evaluation_texts(named, filled))
    # a correctly filled, recalculated form is consistent by every check
    errors = [str(f) for f in check_project(got) if str(f.severity) == "错误"
              and f.check != "subrows"]   # drawn sub-rows are independent of the total
    assert not errors, errors
    if got.grade:
        assert got.cells["grade"] == named.ref("xp_grade")
