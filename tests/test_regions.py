"""Other regions' 自评表 layouts (issue 15): every field read, every printed error found,
nothing false flagged. The forms come from tests/region_forms.py (figures chosen by hand)."""
from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import region_forms as rf  # noqa: E402
from xlperf import validate  # noqa: E402
from xlperf.harvest import Severity, read_workbook  # noqa: E402

CASES = [(name, errors) for name in rf.VARIANTS for errors in (False, True)]
#: 提示 a clean form may carry: a human score that departs from the rule *with* a reason.
ALLOWED_NOTES = {"departure"}


def _read(tmp_path, name, errors):
    path = tmp_path / f"{name}{'_errors' if errors else ''}.xlsx"
    expected = rf.VARIANTS[name](path, errors)
    res = read_workbook(path)
    return expected, res


def _dec(x):
    return None if x is None else Decimal(str(x))


@pytest.mark.parametrize("name,errors", CASES, ids=[f"{n}{'-errors' if e else ''}" for n, e in CASES])
def test_every_field_is_read(tmp_path, name, errors):
    e, res = _read(tmp_path, name, errors)
    assert not [q for q in res.problems if q.severity != Severity.INFO], res.problems
    assert len(res.projects) == 1, [p.name for p in res.projects]
    p = res.projects[0]
    got = {"name": p.name, "key": p.key, "department": p.department, "unit": p.unit, "year": p.year,
           "money_unit": p.money_unit, "funds_weight": p.funds_weight, "funds_rate": p.funds_rate,
           "funds_score": p.funds_score, "total_score": p.total_score}
    want = {"name": e.name, "key": e.key, "department": e.department, "unit": e.unit, "year": e.year,
            "money_unit": e.money_unit, "funds_weight": e.funds_weight, "funds_rate": e.funds_rate,
            "funds_score": e.funds_score, "total_score": e.total_score}
    assert got == want
    for row, values in e.funds.items():
        line = p.funds.get(row)
        assert line is not None, f"funds row {row} not read: {list(p.funds)}"
        assert (line.initial, line.budget, line.executed, line.rate) == tuple(_dec(v) for v in values), row
    for row, line in p.funds.items():
        if row not in e.funds:
            assert (line.initial, line.budget, line.executed, line.rate) == (None,) * 4, row
    inds = [(i.level1, i.level2, i.level3, i.target, i.weight, i.actual, i.score) for i in p.indicators]
    want_inds = [(a, b, c, t, _dec(w), x, _dec(s)) for a, b, c, t, w, x, s in e.indicators]
    # actuals typed as numbers come back as Decimal, as text as text: compare as text
    assert [(*r[:5], str(r[5]), r[6]) for r in inds] == [(*r[:5], str(r[5]), r[6]) for r in want_inds]


def test_the_corpus_builder_writes_every_variant(tmp_path):
    built = rf.build_all(tmp_path)
    assert len(built) == 2 * len(rf.VARIANTS)
    assert all((tmp_path / f).stat().st_size > 0 for f in built)


# ====================================================================== issue 17.6

def _label_text_sheet(n: int, width: int = 12) -> list[list]:
    from xlperf.harvest import _LABELS
    words = list(_LABELS) + ["项目支出绩效自评表", "(2023年度)", "年度资金总额", "项目名称"]
    return [[words[(r * 7 + c) % len(words)] for c in range(width)] for r in range(n)]


def _seconds(rows) -> float:
    import time
    from xlperf.harvest import parse_sheet
    best = 1e9
    for _ in range(2):
        t0 = time.perf_counter()
        projects, problems = parse_sheet(rows, sheet="S", file="junk.xlsx")
        best = min(best, time.perf_counter() - t0)
    assert projects == [] and len(problems) == 1, (len(projects), problems[:3])
    return best


def test_label_like_text_is_read_in_near_linear_time_and_makes_no_project():
    """A sheet of label words (hundreds of 项目名称) yields no project and one finding, and
    four times the rows cost about four times the time (it was ~28×: quadratic)."""
    small, large = _seconds(_label_text_sheet(1000)), _seconds(_label_text_sheet(4000))
    assert large < 10 * small + 0.5, (small, large)
