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


@pytest.mark.parametrize("name,errors", CASES, ids=[f"{n}{'-errors' if e else ''}" for n, e in CASES])
def test_every_printed_error_found_and_nothing_false(tmp_path, name, errors):
    e, res = _read(tmp_path, name, errors)
    (chk,) = validate.check_file(res.projects)
    assert chk.profile == e.profile, chk.profile_explanation
    serious = {(f.check, f.cell) for f in chk.findings if f.severity in (validate.ERROR, validate.WARNING)}
    assert serious == e.errors, [str(f) for f in chk.findings]
    notes = [f for f in chk.findings if f.severity == validate.NOTE and f.check not in ALLOWED_NOTES]
    assert not notes, [str(f) for f in notes]
    for f in chk.findings:
        if (f.check, f.cell) in e.errors:
            assert f.file and f.sheet and f.cell and f.found != "" and f.expected != "", f


def test_region_is_said_in_plain_words(tmp_path):
    _e, res = _read(tmp_path, "ningxia", False)
    (chk,) = validate.check_file(res.projects)
    assert chk.profile == "ningxia" and "宁夏" in chk.profile_explanation


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


# ====================================================================== profiles and checks

def _project(weights, scores, total, funds_weight="10", funds_score="10"):
    from xlperf.model import FundsLine, Indicator, Project
    p = Project(kind="自评表", year=2023, name="测试项目", unit="某单位", source_file="t.xlsx", source_sheet="S")
    p.funds["年度资金总额"] = FundsLine(_dec("100"), _dec("100"), _dec("100"), None)
    p.funds_weight, p.funds_score, p.total_score = _dec(funds_weight), _dec(funds_score), _dec(total)
    p.indicators = [Indicator("产出指标", "数量指标", f"指标{i}", "≥1个", _dec(w), "1个", _dec(s), "")
                    for i, (w, s) in enumerate(zip(weights, scores))]
    p.cells = {"total_score": "H30", "total_weight": "G30"}
    return p


def test_weights_may_total_100_excluding_the_funds_row(tmp_path, monkeypatch):
    (tmp_path / "excl.toml").write_text('extends = "shanghai"\nname = "excl"\nlabel = "指标分值合计 100（不含预算执行率）"\n'
                                        '[funds]\nin_weight_total = false\n', encoding="utf-8")
    p = _project(["60", "40"], ["60", "40"], "110")
    assert "weights" in {f.check for f in validate.check_project(p, profile="shanghai")}
    assert "weights" not in {f.check for f in validate.check_project(p, profile=str(tmp_path / "excl.toml"))}


def test_a_total_above_what_the_rows_can_reach_is_an_error():
    p = _project(["50", "40"], ["50", None], "99")          # at most 10 + 50 + 40 = 100 … but 99 is reachable
    assert "total" not in {f.check for f in validate.check_project(p, profile="shanghai")}
    p = _project(["50", "30", "10"], ["45", None, "10"], "96")   # at most 10 + 45 + 30 + 10 = 95
    (f,) = [f for f in validate.check_project(p, profile="shanghai") if f.check == "total"]
    assert (f.severity, f.cell, f.found, f.expected) == (validate.ERROR, "H30", "96", "95")


def test_ties_go_to_the_most_common_rule(tmp_path, monkeypatch):
    from xlperf import profiles
    # a new profile that reproduces everything shanghai does, as common as hebei (then by name)
    (tmp_path / "aaa.toml").write_text('extends = "shanghai"\nname = "aaa"\nlabel = "测试"\ncommon = 3\n', encoding="utf-8")
    monkeypatch.setenv("XLPERF_PROFILE_PATH", str(tmp_path))
    profiles.load.cache_clear()
    p = _project(["50", "40"], ["50", "40"], "100")
    assert validate._profile_candidates(None, "ningxia")[:2] == ["ningxia", "shanghai"]
    assert validate._profile_candidates(None)[2:4] == ["aaa", "hebei"]
    assert validate.infer_profile(p)[0] == "shanghai"
    profiles.load.cache_clear()


def test_parsed_profiles_are_kept_like_bytecode(monkeypatch):
    """A profile's parsed TOML is kept in the profiles folder's __pycache__ (a one-file check
    then needs no tomllib); a file there whose text differs is not believed."""
    import marshal
    import sys
    import zlib

    from xlperf import profiles
    text = 'extends = "shanghai"\nname = "缓存测试"\ncommon = 1\n'
    expected = {"extends": "shanghai", "name": "缓存测试", "common": 1}
    cache = profiles.BUILTIN_DIR / "__pycache__" / f"profile-{zlib.crc32(text.encode()):08x}.marshal"
    try:
        profiles._parsed.cache_clear()
        assert profiles._parsed(text) == expected and cache.is_file()
        cache.write_bytes(marshal.dumps(("另一个文件的文本", {"name": "错"})))   # same name, other text
        profiles._parsed.cache_clear()
        assert profiles._parsed(text) == expected
        profiles._parsed.cache_clear()
        monkeypatch.setitem(sys.modules, "tomllib", None)     # parsing now would fail
        assert profiles._parsed(text) == expected
    finally:
        profiles._parsed.cache_clear()
        cache.unlink(missing_ok=True)
