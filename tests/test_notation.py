"""Item 2: every 指标值 / 实际完成值 notation of the five seeds parses into a small typed value.

The expectations live in tests/data/notations.yaml (hand-written from reading each text); the first
tests make sure that file lists exactly the strings of workbooks/seeds.yaml, so the list stays complete.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from xlperf.errors import NotationError
from xlperf.notation import (ACCEPTED_FORMS, Judgement, Op, Qualitative, Quantity, clean_text, from_excel,
                             is_blank, judgement_of, parse_actual, parse_target, to_decimal)

ROOT = Path(__file__).resolve().parent.parent
DATA = yaml.safe_load((ROOT / "tests" / "data" / "notations.yaml").read_text(encoding="utf-8"))
SEEDS = yaml.safe_load((ROOT / "workbooks" / "seeds.yaml").read_text(encoding="utf-8"))

OPS = {"≥": Op.GE, ">": Op.GT, "≤": Op.LE, "<": Op.LT, "=": Op.EQ}


def _seed_strings(field: str) -> set[str]:
    out = set()
    for form in SEEDS:
        for project in form["projects"]:
            for row in project.get("indicators", []):
                if field in row:
                    out.add(row[field])
    return out


def _entries(section: str) -> list[dict]:
    return DATA[section]


def _id(entry: dict) -> str:
    return repr(entry["text"])


# ------------------------------------------------------------------ the list is the seeds' list

@pytest.mark.parametrize("section,field", [("targets", "target"), ("actuals", "actual")])
def test_data_lists_every_seed_string_exactly_once(section, field):
    texts = [e["text"] for e in _entries(section)]
    duplicates = sorted({t for t in texts if texts.count(t) > 1})
    assert not duplicates, f"listed twice in notations.yaml {section}: {duplicates}"
    seeds = _seed_strings(field)
    missing = sorted(seeds - set(texts))
    extra = sorted(set(texts) - seeds)
    assert not missing, f"seed {field} strings missing from notations.yaml: {missing}"
    assert not extra, f"notations.yaml {section} lists strings that are not in seeds.yaml: {extra}"


def test_seed_strings_are_all_strings():
    """seeds.yaml quotes every figure, so YAML gives strings, never numbers."""
    for field in ("target", "actual"):
        assert all(isinstance(s, str) for s in _seed_strings(field))


# ------------------------------------------------------------------ expectations

def _check(value, entry: dict, raw: str) -> None:
    kind = entry.get("kind", "quantity")
    if kind == "quantity":
        assert isinstance(value, Quantity), f"{raw!r} should be a quantity, got {value!r}"
        assert value.op is OPS[entry["op"]], f"{raw!r}: op {value.op} != {entry['op']}"
        assert value.value == Decimal(entry["value"]), f"{raw!r}: value {value.value} != {entry['value']}"
        assert value.unit == entry["unit"], f"{raw!r}: unit {value.unit!r} != {entry['unit']!r}"
        assert value.text == raw
    elif kind == "qualitative":
        assert isinstance(value, Qualitative), f"{raw!r} should be qualitative, got {value!r}"
        assert value.judgement is None
        assert value.text == raw.strip()
    elif kind == "judgement":
        assert isinstance(value, Qualitative), f"{raw!r} should be a judgement, got {value!r}"
        assert value.judgement is Judgement(entry["judgement"])
    else:  # pragma: no cover - data error
        raise AssertionError(f"unknown kind {kind!r}")


def _assert_notation_error(parse, raw) -> None:
    with pytest.raises(NotationError) as info:
        parse(raw)
    message = str(info.value)
    assert f"「{raw}」" in message, f"the message should quote the text: {message}"
    assert ACCEPTED_FORMS in message, f"the message should list the accepted forms: {message}"
    assert any("\u4e00" <= c <= "\u9fff" for c in message)


@pytest.mark.parametrize("entry", [e for e in _entries("targets") if e.get("kind") != "error"], ids=_id)
def test_seed_target(entry):
    _check(parse_target(entry["text"]), entry, entry["text"])


@pytest.mark.parametrize("entry", [e for e in _entries("targets") if e.get("kind") == "error"], ids=_id)
def test_seed_target_unreadable(entry):
    _assert_notation_error(parse_target, entry["text"])


@pytest.mark.parametrize("entry", _entries("actuals"), ids=_id)
def test_seed_actual(entry):
    _check(parse_actual(entry["text"]), entry, entry["text"])


@pytest.mark.parametrize("entry", _entries("variants"), ids=_id)
def test_variant(entry):
    parse = parse_target if entry["role"] == "target" else parse_actual
    _check(parse(entry["text"]), entry, entry["text"])


@pytest.mark.parametrize("entry", _entries("errors"), ids=_id)
def test_unreadable_text_raises_chinese_error_quoting_it(entry):
    parse = parse_target if entry["role"] == "target" else parse_actual
    _assert_notation_error(parse, entry["text"])


def test_accepted_forms_message_names_the_notations():
    for form in ("≥", ">=", "≤", "=", "%", "不少于", "达成指标", "部分达成", "未达成"):
        assert form in ACCEPTED_FORMS


# ------------------------------------------------------------------ half-width / full-width equivalence

@pytest.mark.parametrize("half,full", [
    ("≥90.00(%)", "≥９０．００（％）"),
    (">=90%", "＞＝９０％"),
    ("=1期/月", "＝１期／月"),
    ("<=6小时", "＜＝６小时"),
    ("不少于3次", "不少于３次"),
    ("=0件", "＝０件"),
])
def test_full_width_equals_half_width(half, full):
    a, b = parse_target(half), parse_target(full)
    assert (a.op, a.value, a.unit) == (b.op, b.value, b.unit)


def test_judgements_are_not_read_in_targets():
    """A target cell is never a judgement: 达成指标 there is just text."""
    value = parse_target("达成指标")
    assert isinstance(value, Qualitative) and value.judgement is None


def test_judgement_of():
    assert judgement_of(" 部分达成 ") is Judgement.PARTIAL
    assert judgement_of("达成指标") is Judgement.ACHIEVED
    assert judgement_of("提升") is None
    assert judgement_of(None) is None


def test_numbers_are_read_as_equal_to():
    assert parse_target(20) == Quantity(Op.EQ, Decimal(20), None, "20")
    assert parse_actual(Decimal("99.5")).value == Decimal("99.5")


@pytest.mark.parametrize("parse", [parse_target, parse_actual])
def test_float_refused(parse):
    with pytest.raises(NotationError, match="浮点数"):
        parse(90.0)


@pytest.mark.parametrize("parse", [parse_target, parse_actual])
@pytest.mark.parametrize("value", [None, True, ["≥90%"]])
def test_non_text_refused(parse, value):
    with pytest.raises(NotationError) as info:
        parse(value)
    assert ACCEPTED_FORMS in str(info.value)


def test_html_is_stripped_from_qualitative_text():
    assert parse_target("<p>建立健全</p>") == Qualitative("建立健全")


def test_clean_text():
    assert clean_text(" ≥ ９０ （％） ") == "≥90(%)"
    assert clean_text("$\\geq 90\\%$") == "≥90%"
    assert clean_text("<p>a&amp;b</p>") == "a&b"


# ------------------------------------------------------------------ amounts

@pytest.mark.parametrize("text,expected", [
    ("1,234.50", "1234.50"), ("1234.5", "1234.5"), ("1234.50元", "1234.50"), ("2,275,673.52", "2275673.52"),
    ("96.36%", "96.36"), ("100.00(%)", "100.00"), ("15.00万元", "15.00"), ("１２３４．５０", "1234.50"),
    (" 743,000 ", "743000"), ("0", "0"), (1234, "1234"), (Decimal("131.01"), "131.01"), ("-5", "-5"),
])
def test_to_decimal(text, expected):
    result = to_decimal(text)
    assert isinstance(result, Decimal)
    assert result == Decimal(expected)


def test_to_decimal_keeps_printed_precision():
    assert str(to_decimal("9.90")) == "9.90"
    assert str(to_decimal("1,234.50元")) == "1234.50"


@pytest.mark.parametrize("blank", [None, "", "  ", "-", "—", "－", "/"])
def test_blank_cells(blank):
    assert is_blank(blank)
    assert to_decimal(blank, blank=None) is None
    with pytest.raises(NotationError, match="为空"):
        to_decimal(blank, "全年预算数")


@pytest.mark.parametrize("text", ["1.2.3", "12,34", "abc", "1,234.5x", "1 234,5", "NaN", "Infinity"])
def test_to_decimal_rejects_text(text):
    with pytest.raises(NotationError) as info:
        to_decimal(text, "全年执行数")
    assert "全年执行数" in str(info.value) and text in str(info.value)


def test_to_decimal_refuses_float_and_bool():
    with pytest.raises(NotationError, match="浮点数"):
        to_decimal(131.01)
    with pytest.raises(NotationError):
        to_decimal(True)
    with pytest.raises(NotationError):
        to_decimal(Decimal("NaN"))


def test_from_excel():
    assert from_excel(131.01) == Decimal("131.01") and str(from_excel(131.01)) == "131.01"
    assert str(from_excel(10.0)) == "10"
    assert from_excel(-0.0) == 0
    assert from_excel(None) is None
    assert from_excel("1,234.50") == Decimal("1234.50")
    with pytest.raises(NotationError):
        from_excel(float("nan"))


def test_parsed_texts_are_shared_but_errors_are_raised_every_time():
    # parse_target / parse_actual cache by text (frozen values): a bad text must still fail
    # on every call, and the cached value must be the one a fresh parse gives.
    for _ in range(2):
        with pytest.raises(NotationError):
            parse_target("≥")
    first = parse_target("≥12.00(次)")
    assert parse_target("≥12.00(次)") == first == Quantity(Op.GE, Decimal("12.00"), "次", "≥12.00(次)")
    assert parse_actual("达成指标").judgement is Judgement.ACHIEVED
    assert parse_target("达成指标").judgement is None      # the same text, the other parser: not mixed up


def test_as_typed_reads_a_cell_as_the_person_typed_it():
    """The one reading of a 指标值 cell (register, check/harvest, generate --from, recalc)."""
    import datetime
    import time

    from xlperf.errors import NotationError
    from xlperf.notation import as_typed
    assert as_typed(1.0, formula="100%", percent=True) == "=100%"       # =100% typed: a formula
    assert as_typed(1.0, formula=" + 100 % ") == "=100%"
    assert as_typed(0.95, percent=True) == "95%"                         # 95% typed: 0.95, percent format
    assert as_typed("≥90%", formula='"≥90%"') == "≥90%"                  # text shows what it is
    assert as_typed(12.0) == 12.0 and as_typed(None) is None
    for value, formula, percent in ((0.0, "A1*2", False), (0.9, "0.9", True), (datetime.datetime(2024, 1, 2), None, False)):
        with pytest.raises(NotationError):
            as_typed(value, formula=formula, percent=percent)
    t0 = time.perf_counter()
    for formula in (" " * 20000 + "x", "1" + " " * 20000 + "x"):    # a harvested formula is untrusted
        with pytest.raises(NotationError):
            as_typed(1.0, formula=formula)
    assert time.perf_counter() - t0 < 2
