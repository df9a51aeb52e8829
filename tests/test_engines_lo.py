"""Two independent spreadsheet engines, LibreOffice and Gnumeric, recalculate the portable
自评表 of every seed project and of 200 generated edge projects: every computed cell (and the
helper cells the scores read) equals the scoring engine to the cent in both.

Edge projects: rates landing on x.xx5, budgets up to 1e9, 4-decimal targets, actuals typed with
a unit suffix, thousands separators or spaces, every target notation of the seeds."""
from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest

import needs
from test_templates_lo import _computed_cells, _same

from xlperf import gnumeric, libreoffice
from xlperf.errors import XlperfError
from xlperf.generate import compiled, render
from xlperf.model import SELF_EVALUATION, FundsLine, Indicator, Project
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


def _typed(rng: random.Random, value: Decimal, unit: str | None) -> str:
    """An actual as people type it: bare, with the unit (bracketed or not), thousands
    separators, spaces around."""
    text = plain(value)
    choice = rng.randrange(6)
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
                value = Decimal(rng.randint(1, 10 ** rng.randint(4, 13))).scaleb(-4)
                unit = rng.choice([None, "%", "万元", "户", "次/月"])
                target = f"{op}{plain(value)}" + (f"({unit})" if unit else "")
            else:
                target = rng.choice(seed_targets)
            t = _target(target)
            if isinstance(t, Quantity):
                factor = Decimal(rng.randint(0, 2500)) / 1000
                actual = _typed(rng, (t.value * factor).quantize(Decimal("0.0001")), t.unit)
            else:
                actual = rng.choice(["达成指标", "部分达成", "未达成"])
            p.indicators.append(Indicator("产出指标", "数量指标", f"指标{i}", target, w, actual))
        out.append(p)
    # blank and unreadable targets, judged 达成指标: no score, no total (engine and formulas)
    p = Project(SELF_EVALUATION, 2024, "空目标", key="engines-blank-target")
    p.funds["年度资金总额"] = FundsLine(Decimal(100), Decimal(100), Decimal(100))
    p.funds_weight = Decimal(10)
    p.indicators = [Indicator("产出指标", "数量指标", "甲", "", Decimal(45), "达成指标"),
                    Indicator("产出指标", "数量指标", "乙", ">=abc", Decimal(45), "达成指标")]
    out.append(p)
    return out


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
        path.write_bytes(render(p))
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
