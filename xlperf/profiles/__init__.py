"""Scoring profiles: every number a region may change lives in a TOML file, not in code.

Profiles are looked up by name in this folder and in the folders listed in the
environment variable ``XLPERF_PROFILE_PATH`` (``os.pathsep``-separated), or loaded
from an explicit ``.toml`` path. A profile may ``extends = "other"`` and override
only what differs. Adding a region is adding a file.
"""
from __future__ import annotations

import functools
import marshal
import os
import zlib
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from collections.abc import Mapping

from ..errors import ProfileError
from ..model import DEFAULT_PROFILE

BUILTIN_DIR = Path(__file__).parent

#: Excel's rounding functions as ``decimal`` modes. ROUND is half *away from zero*,
#: which is what decimal calls ROUND_HALF_UP; ROUNDDOWN truncates toward zero.
ROUNDING = {"down": ROUND_DOWN, "up": ROUND_UP, "half_up": ROUND_HALF_UP}
#: The Excel function that implements each mode (portable templates use these).
EXCEL_FUNCTION = {"down": "ROUNDDOWN", "up": "ROUNDUP", "half_up": "ROUND"}

JUDGEMENTS = ("达成指标", "部分达成", "未达成")


@dataclass(frozen=True)
class Band:
    """A qualitative band as fractions of the weight: [low, high] or [low, high)."""
    low: Decimal
    high: Decimal
    high_inclusive: bool
    default: Decimal

    def contains(self, fraction: Decimal) -> bool:
        if fraction < self.low:
            return False
        return fraction <= self.high if self.high_inclusive else fraction < self.high

    def describe(self) -> str:
        close = "]" if self.high_inclusive else ")"
        return f"[{self.low * 100:g}%(含), {self.high * 100:g}%{close}"


@dataclass(frozen=True)
class Profile:
    name: str
    label: str
    rate_decimals: int
    rate_rounding: str
    score_decimals: int
    score_rounding: str
    funds_weight: Decimal
    cap_rate_at_100: bool
    cap_score_at_weight: bool
    indicator_decimals: int
    indicator_rounding: str
    lower_is_better: str
    equal_over_is_met: bool
    weights: Mapping[str, Decimal]
    grades: tuple[tuple[Decimal, str], ...]
    bands: Mapping[str, Band]
    source: str
    #: 预算执行率 is scored as an indicator row (Ningxia), not in the funds block; the reader
    #: takes that row for the funds weight and score either way.
    execution_in_indicators: bool = False
    #: whether the 分值 total (``weights``) includes the funds row's 分值 (most forms: 10 + 90 = 100)
    weights_include_funds: bool = True
    #: tie-break when several profiles reproduce a form's figures: the most common rule first
    common: int = 9
    short: str = ""         # a few words for a sentence shown to an admin (the label is the detail)

    def quantum(self, decimals: int) -> Decimal:
        return Decimal(1).scaleb(-decimals)


def _search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("XLPERF_PROFILE_PATH", "").split(os.pathsep) if p]
    return extra + [BUILTIN_DIR]


def available() -> list[str]:
    """Names of every profile that can be loaded by name."""
    key = []
    for d in _search_dirs():
        try:
            key.append((str(d), d.stat().st_mtime_ns))   # a file added or removed changes the folder's mtime
        except OSError:
            pass
    return list(_available(tuple(key)))


@functools.lru_cache(maxsize=8)
def _available(dirs: tuple) -> tuple[str, ...]:
    # Checking a harvested form asks for the list twice per project: globbing each time cost
    # ~15% of the check.
    names = set()
    for d, _mtime in dirs:
        if os.path.isdir(d):
            names.update(p.stem for p in Path(d).glob("*.toml"))
    return tuple(sorted(names))


def _find(name: str) -> Path:
    if name.endswith(".toml") or os.sep in name or "/" in name:
        path = Path(name)
        if path.is_file():
            return path
        raise ProfileError(f"找不到评分规则文件「{name}」。")
    for d in _search_dirs():
        path = d / f"{name}.toml"
        if path.is_file():
            return path
    raise ProfileError(
        f"未知的评分规则「{name}」。可用的规则：{'、'.join(available())}；"
        f"也可把 {name}.toml 放入环境变量 XLPERF_PROFILE_PATH 所列的文件夹。")


def _raw(name: str, seen: tuple[str, ...] = ()) -> tuple[dict, str]:
    path = _find(name)
    if str(path) in seen:
        raise ProfileError(f"评分规则文件的 extends 形成循环：{' → '.join(seen)}")
    try:
        data = dict(_parsed(path.read_text(encoding="utf-8")))   # its tables are only read
    except (OSError, ValueError) as exc:       # tomllib.TOMLDecodeError is a ValueError
        raise ProfileError(f"评分规则文件「{path}」无法读取：{exc}") from exc
    parent = data.pop("extends", None)
    if parent is None:
        return data, str(path)
    base, _ = _raw(parent, seen + (str(path),))
    return _merge(base, data), str(path)


@functools.lru_cache(maxsize=32)
def _parsed(text: str) -> dict:
    """A profile file's TOML, parsed once per text: checking one form tries every profile,
    and each ``extends`` reads its base again. Kept across runs like bytecode, in this
    folder's ``__pycache__`` (keyed by the text itself): tomllib, and typing which it
    imports, cost a one-file ``xlperf check`` ~15 ms of its ~0.2 s."""
    cache = BUILTIN_DIR / "__pycache__" / f"profile-{zlib.crc32(text.encode('utf-8')):08x}.marshal"
    try:
        stored, data = marshal.loads(cache.read_bytes())
        if stored == text and isinstance(data, dict):
            return data
    except (OSError, EOFError, ValueError, TypeError):
        pass
    import tomllib

    data = tomllib.loads(text)
    try:                                   # like a .pyc: skipped where the folder is read-only
        blob = marshal.dumps((text, data))  # ValueError for a TOML date (marshal has none)
        cache.parent.mkdir(exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, cache)
    except (OSError, ValueError):
        pass
    return data


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _dec(value, where: str, source: str) -> Decimal:
    try:
        if isinstance(value, bool) or isinstance(value, float):
            raise InvalidOperation  # TOML floats are binary: demand strings or integers
        return Decimal(str(value))
    except InvalidOperation:
        raise ProfileError(
            f"评分规则文件「{source}」中 {where} 的值 {value!r} 不是有效数字"
            f"（小数请写成带引号的字符串，如 \"0.8\"）。") from None


def _mode(value, where: str, source: str) -> str:
    if value not in ROUNDING:
        raise ProfileError(
            f"评分规则文件「{source}」中 {where} 应为 down、up 或 half_up，而不是 {value!r}。")
    return value


@functools.lru_cache(maxsize=64)
def load(name: str = DEFAULT_PROFILE) -> Profile:
    """Load a profile by name (or path to a .toml file). Cached."""
    if isinstance(name, Profile):  # pragma: no cover - defensive
        return name
    data, source = _raw(name)
    try:
        funds, ind = data["funds"], data["indicators"]
        lib = ind.get("lower_is_better", "proportional")
        if lib not in ("proportional", "linear"):
            raise ProfileError(
                f"评分规则文件「{source}」中 indicators.lower_is_better 应为 proportional 或 linear。")
        bands = {}
        for judgement in JUDGEMENTS:
            b = data["qualitative"][judgement]
            band = Band(_dec(b["low"], f"qualitative.{judgement}.low", source),
                        _dec(b["high"], f"qualitative.{judgement}.high", source),
                        bool(b.get("high_inclusive", False)),
                        _dec(b["default"], f"qualitative.{judgement}.default", source))
            if not band.contains(band.default) and not (band.default == band.high):
                raise ProfileError(
                    f"评分规则文件「{source}」中「{judgement}」的默认分数 {band.default} 不在区间 {band.describe()} 内。")
            bands[judgement] = band
        grades = tuple(sorted(
            ((_dec(g["min"], "grades.min", source), str(g["grade"])) for g in data["grades"]),
            reverse=True))
        return Profile(
            name=str(data.get("name", Path(source).stem)),
            label=str(data.get("label", data.get("name", ""))),
            short=str(data.get("short") or data.get("label") or data.get("name", "")),
            rate_decimals=int(funds["rate_decimals"]),
            rate_rounding=_mode(funds["rate_rounding"], "funds.rate_rounding", source),
            score_decimals=int(funds["score_decimals"]),
            score_rounding=_mode(funds["score_rounding"], "funds.score_rounding", source),
            funds_weight=_dec(funds["weight"], "funds.weight", source),
            cap_rate_at_100=bool(funds.get("cap_rate_at_100", False)),
            cap_score_at_weight=bool(funds.get("cap_score_at_weight", True)),
            indicator_decimals=int(ind["score_decimals"]),
            indicator_rounding=_mode(ind["score_rounding"], "indicators.score_rounding", source),
            lower_is_better=lib,
            equal_over_is_met=bool(ind.get("equal_over_is_met", True)),
            weights=MappingProxyType({k: _dec(v, f"weights.{k}", source)
                                      for k, v in data["weights"].items()}),
            grades=grades,
            bands=MappingProxyType(bands),
            source=source,
            execution_in_indicators=bool(funds.get("execution_in_indicators", False)),
            weights_include_funds=bool(funds.get("in_weight_total", True)),
            common=int(data.get("common", 9)),
        )
    except KeyError as exc:
        raise ProfileError(f"评分规则文件「{source}」缺少设置项 {exc.args[0]}。") from None


def section(name: str, table: str) -> tuple[dict, str]:
    """A profile's raw ``[table]`` (``extends`` applied) and its file, for settings another module
    reads itself (e.g. ``[history]``, read by :mod:`xlperf.history.analyses`)."""
    import copy

    data, source = _raw(name)
    return copy.deepcopy(dict(data.get(table, {}))), source    # the parsed text is cached: not the caller's


def get(profile: "str | Profile") -> Profile:
    """Accept a profile name, a path, or an already loaded Profile."""
    return profile if isinstance(profile, Profile) else load(profile)
