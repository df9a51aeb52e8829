"""Item 6: properties of the scoring rules (hypothesis, bounded so the suite stays fast)."""
from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlperf import assess_indicator, execution_rate, funds_score, indicator_score
from xlperf import profiles
from xlperf.scoring import excel_round

#: Bounded runs: ~200 examples each, no per-example deadline (the first call loads a profile).
bounded = settings(max_examples=200, deadline=None)

PROFILES = ("shanghai", "excel")
OPS = (">=", "≥", ">", "<=", "≤", "<", "=", "")
UNITS = ("", "%", "(%)", "次", "(户次)", "小时", "分")

# Non-negative decimals with up to 2 places, the shape of figures on the forms.
cents = st.integers(min_value=0, max_value=10_000_000).map(lambda n: Decimal(n).scaleb(-2))
small = st.integers(min_value=0, max_value=100_000).map(lambda n: Decimal(n).scaleb(-2))
positive = st.integers(min_value=1, max_value=100_000).map(lambda n: Decimal(n).scaleb(-2))
weights = st.sampled_from(["0", "1", "2.5", "4", "5", "6", "10", "15", "20", "30"]).map(Decimal)


@pytest.fixture(scope="module")
def half_up_profile(tmp_path_factory) -> str:
    """The shanghai rules with ROUND (half up) everywhere instead of truncation."""
    folder = tmp_path_factory.mktemp("profiles")
    path = folder / "halfup.toml"
    path.write_text(textwrap.dedent("""
        extends = "shanghai"
        name = "halfup"
        [funds]
        rate_rounding = "half_up"
        score_rounding = "half_up"
        [indicators]
        score_rounding = "half_up"
    """), encoding="utf-8")
    return str(path)


def _text(op: str, value: Decimal, unit: str) -> str:
    return f"{op}{value}{unit}"


# ------------------------------------------------------------------ scores within [0, weight]

@bounded
@given(op=st.sampled_from(OPS), target=small, actual=small, unit=st.sampled_from(UNITS),
       weight=weights, profile=st.sampled_from(PROFILES))
def test_indicator_score_within_zero_and_weight(op, target, actual, unit, weight, profile):
    score = indicator_score(_text(op, target, unit), _text("", actual, unit), weight, profile)
    assert Decimal(0) <= score <= weight


@bounded
@given(judgement=st.sampled_from(["达成指标", "部分达成", "未达成", "有所提升"]), weight=weights,
       profile=st.sampled_from(PROFILES))
def test_qualitative_score_within_band(judgement, weight, profile):
    result = assess_indicator("建立健全", judgement, weight, profile)
    assert Decimal(0) <= result.proposal <= weight
    if weight:
        assert result.band.contains(result.proposal / weight)


@bounded
@given(budget=positive, executed=cents, weight=weights, profile=st.sampled_from(PROFILES))
def test_funds_score_within_zero_and_weight(budget, executed, weight, profile):
    rate = execution_rate(budget, executed, profile)
    assert rate >= 0
    score = funds_score(rate, weight, profile)
    assert Decimal(0) <= score <= weight


# ------------------------------------------------------------------ monotone in the right direction

@bounded
@given(op=st.sampled_from([">=", ">", "=", "", "<=", "<"]), target=small, a=small, b=small,
       weight=weights, profile=st.sampled_from(PROFILES))
def test_monotone_in_actual(op, target, a, b, weight, profile):
    low, high = sorted((a, b))
    t = _text(op, target, "次")
    s_low = indicator_score(t, f"{low}次", weight, profile)
    s_high = indicator_score(t, f"{high}次", weight, profile)
    # ≤ and < are lower-is-better; so is a zero "=" target (=0件: met only at 0, DOMAIN.md)
    if op in ("<=", "<") or (op in ("=", "") and target == 0):
        assert s_low >= s_high, "lower is better: more must not score more"
    else:
        assert s_low <= s_high, "higher is better: more must not score less"


@bounded
@given(budget=positive, a=cents, b=cents, profile=st.sampled_from(PROFILES))
def test_funds_monotone_in_executed(budget, a, b, profile):
    low, high = sorted((a, b))
    r_low, r_high = execution_rate(budget, low, profile), execution_rate(budget, high, profile)
    assert r_low <= r_high
    assert funds_score(r_low, None, profile) <= funds_score(r_high, None, profile)


# ------------------------------------------------------------------ truncation never exceeds half-up

@bounded
@given(x=st.decimals(min_value=0, max_value=10_000, places=6, allow_nan=False, allow_infinity=False),
       places=st.integers(min_value=0, max_value=4))
def test_round_down_never_exceeds_half_up(x, places):
    assert excel_round(x, places, "down") <= excel_round(x, places, "half_up") <= excel_round(x, places, "up")


@bounded
@given(budget=positive, executed=cents, weight=weights)
def test_truncating_profile_never_exceeds_half_up_profile(half_up_profile, budget, executed, weight):
    r_down = execution_rate(budget, executed, "shanghai")
    r_half = execution_rate(budget, executed, half_up_profile)
    assert r_down <= r_half
    assert funds_score(r_down, weight, "shanghai") <= funds_score(r_half, weight, half_up_profile)


@bounded
@given(op=st.sampled_from(OPS), target=small, actual=small, weight=weights)
def test_truncated_indicator_never_exceeds_half_up(half_up_profile, op, target, actual, weight):
    t, a = _text(op, target, "%"), _text("", actual, "%")
    assert indicator_score(t, a, weight, "shanghai") <= indicator_score(t, a, weight, half_up_profile)


# ------------------------------------------------------------------ equal inputs, equal results

def _spellings(value: Decimal) -> list:
    """The same amount as 1,234.50 / 1234.5 / 1234.50元 / Decimal / full-width."""
    q = value.quantize(Decimal("0.01"))
    plain = f"{q:f}"
    grouped = f"{q:,.2f}"
    short = f"{q.normalize():f}" if q != q.to_integral_value() else f"{q.to_integral_value():f}"
    spellings = [plain, grouped, short, f"{plain}元", f"{grouped}元", f" {grouped} ", q,
                 plain.translate(str.maketrans("0123456789.", "０１２３４５６７８９．"))]
    if q == q.to_integral_value():
        spellings.append(int(q))
    return spellings


def test_spellings_helper():
    assert _spellings(Decimal("1234.5"))[:4] == ["1234.50", "1,234.50", "1234.5", "1234.50元"]


@bounded
@given(budget=positive, executed=cents, profile=st.sampled_from(PROFILES))
def test_amount_spellings_give_identical_results(budget, executed, profile):
    expected_rate = execution_rate(budget.quantize(Decimal("0.01")), executed.quantize(Decimal("0.01")), profile)
    for b in _spellings(budget):
        for e in (_spellings(executed)[1], _spellings(executed)[3], _spellings(executed)[2]):
            assert execution_rate(b, e, profile) == expected_rate
    expected_score = funds_score(expected_rate, "10", profile)
    for w in ("10", "10.00", Decimal("10"), 10):
        assert funds_score(expected_rate, w, profile) == expected_score


@bounded
@given(op=st.sampled_from([">=", "≥", ">", "<=", "<", "="]), target=positive, actual=small,
       weight=weights, profile=st.sampled_from(PROFILES))
def test_actual_spellings_give_identical_scores(op, target, actual, weight, profile):
    t = f"{op}{target:,.2f}元"
    expected = indicator_score(t, f"{actual:.2f}", weight, profile)
    for a in _spellings(actual):
        assert indicator_score(t, a, weight, profile) == expected
    # the target written differently too
    for t2 in (f"{op}{target:.2f}", f"{op}{target:,.2f}(元)", f"{op} {target:,.2f} 元"):
        assert indicator_score(t2, f"{actual:.2f}", weight, profile) == expected


def test_profiles_cache_is_not_polluted():
    assert profiles.load("shanghai").rate_rounding == "down"
