"""Which forms of different years are the same project, and which indicators the same indicator.

A project is recognised by its 项目编号 when the form has one, else by its 实施单位 and
项目名称 after normalisation: NFKC (full-width → half-width), white space removed, year
markers (``2023年``, ``2023年度``, ``第3年``, ``第三年``) and year-bearing bracketed suffixes
(``（2023运维）``) dropped. The confidence says how much normalisation the match needed.
Near matches (a renamed or split project) are never merged: :func:`candidates` lists them
for a person, who decides in the 项目对应 sheet (read back by :func:`import_overrides`).
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from difflib import SequenceMatcher

CODE = "项目编号"
NAME = "单位+名称"
NAME_NORMALISED = "单位+名称（去除年度标记）"
CONFIDENCE = {CODE: Decimal("1.00"), NAME: Decimal("0.95"), NAME_NORMALISED: Decimal("0.85")}

_SPACE = re.compile(r"\s+")
_CN_NUM = "一二三四五六七八九十"
# Bracketed suffixes that carry a year: (2023运维), (2023年), (2022-2024年).
_YEAR_BRACKET = re.compile(r"[\(\[【]\s*[^()\[\]【】]*(?:19|20)\d{2}[^()\[\]【】]*[\)\]】]")
_NTH_YEAR = re.compile(rf"第[0-9{_CN_NUM}]+(?:个)?年(?:度)?")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?:年度|年)?(?!\d)")
_EDGE = re.compile(r"^[-_—、,，.。:：;；\s]+|[-_—、,，.。:：;；\s]+$")


def clean(text) -> str:
    """NFKC, no white space, brackets half-width: the text as a key, nothing removed."""
    s = unicodedata.normalize("NFKC", str(text or ""))
    return _SPACE.sub("", s).lower()


def strip_years(s: str) -> str:
    """A cleaned name without its year markers and year-bearing bracketed suffixes."""
    out = _YEAR_BRACKET.sub("", s)
    out = _NTH_YEAR.sub("", out)
    out = _YEAR.sub("", out)
    out = re.sub(r"\(\s*\)|\[\s*\]|【\s*】", "", out)
    out = _EDGE.sub("", out)
    return out or s


def project_uid(code: str, unit: str, name: str) -> tuple[str, str, Decimal]:
    """(uid, basis, confidence) of one form."""
    c = clean(code)
    if c:
        return f"编号:{c}", CODE, CONFIDENCE[CODE]
    n, u = clean(name), unit_key(unit)
    stripped = strip_years(n)
    basis = NAME if stripped == n else NAME_NORMALISED
    return f"名称:{u}/{stripped}", basis, CONFIDENCE[basis]


def unit_key(unit: str) -> str:
    return clean(unit)


def indicator_key(level3: str) -> str:
    return strip_years(clean(level3))


def similarity(a: str, b: str) -> Decimal:
    """How alike two normalised names are (0–1); one containing the other counts as 0.9 at least."""
    if not a or not b:
        return Decimal(0)
    r = SequenceMatcher(None, a, b, autojunk=False).ratio()
    if a in b or b in a:
        r = max(r, 0.9)
    return Decimal(str(round(r, 2)))


def candidates(ended: list[dict], new: list[dict], threshold: Decimal) -> list[dict]:
    """Pairs (a project that ended in year N-1, a project new in year N) of the same unit whose
    names are alike: possible renames, splits (one ended, several new) or merges (several
    ended, one new). Each dict of ``ended``/``new`` has uid, unit_key, name_key (+ anything
    the caller wants back, kept under ``old_``/``new_`` prefixes)."""
    pairs = []
    by_unit: dict[str, list[dict]] = {}
    for b in new:
        by_unit.setdefault(b["unit_key"], []).append(b)
    for a in ended:
        for b in by_unit.get(a["unit_key"], []):
            s = similarity(a["name_key"], b["name_key"])
            if s >= threshold:
                pairs.append((a, b, s))
    n_old = {}
    n_new = {}
    for a, b, _ in pairs:
        n_old[a["uid"]] = n_old.get(a["uid"], 0) + 1
        n_new[b["uid"]] = n_new.get(b["uid"], 0) + 1
    out = []
    for a, b, s in pairs:
        if n_old[a["uid"]] > 1:
            kind = "可能是拆分"
        elif n_new[b["uid"]] > 1:
            kind = "可能是合并"
        else:
            kind = "可能是改名"
        out.append({"kind": kind, "similarity": s,
                    **{f"old_{k}": v for k, v in a.items()}, **{f"new_{k}": v for k, v in b.items()}})
    return out
