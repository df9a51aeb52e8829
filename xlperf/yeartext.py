"""Moving the period phrases of free text (项目总目标, 年度目标, 指标…) with ``generate --year``.

Only the year being rolled moves, and only where it names the form's own period:
``2023年度``, ``2023年1月-12月``, ``2023年底前``, ``在2023年完成…``, a one-year span
``(2023年-2023年)`` (both ends), a date ``2023-12-31``. It stays where it is something else:

* a multi-year span (``2023-2025年``): the project's span, not the form's year (a 提醒 when
  the new year falls outside it);
* a reference to a document: ``2019年印发的…``, ``自2023年1月1日起施行``, ``2023年版``,
  a 文号 ``〔2023〕12号``; a year inside a title ``《2023年工作计划》`` stays with a 提醒 (the
  new year may cite a new document);
* a comparison base (``较2023年增长``), a bare number (``(2023运维)``: 提醒; ``2023万元``: an
  amount), a date that does not exist in the new year (29 February): kept, with a 提醒.

Other years (``2022年度通过…``) are never touched. :func:`move_year` returns the text and
the 提醒 (Chinese sentences, without the cell: the caller names it).
"""
from __future__ import annotations

import datetime as _dt
import re
from bisect import bisect_left

_Y = r"(?:19|20)\d\d"
_SP = r"[ \t\u3000]*"
# No two white-space runs stand next to each other in these patterns (nor inside an optional
# group next to one): a text of thousands of spaces must cost linear time, not quadratic.
#: A span of years: 2023-2025年, 2023年-2023年, (2023 年 - 2023年), 2023至2025年度.
_RANGE_RE = re.compile(rf"(?<!\d)(?P<a>{_Y})(?:{_SP}(?P<ya>年))?{_SP}(?:[-－—–~～]+|至|到){_SP}(?P<b>{_Y})"
                       rf"(?:{_SP}(?P<yb>年))?(?!\d)")
#: A full date: 2023-12-31, 2023/1/1, 2023.12.31.
_DATE_RE = re.compile(rf"(?<![\d.])(?P<y>{_Y})(?P<s>[-/.])(?P<m>\d{{1,2}})(?P=s)(?P<d>\d{{1,2}})(?![\d.])")
#: Any four-digit year-like number standing alone.
_YEAR_RE = re.compile(rf"(?<![\d.]){_Y}(?![\d.])")
_NIAN_RE = re.compile(rf"{_SP}年")
#: After "Y年": a month and day, then what makes it the year of a document or a rule.
_DOCUMENT_AFTER_RE = re.compile(rf"{_SP}(?:\d{{1,2}}{_SP}月(?:{_SP}\d{{1,2}}{_SP}日)?{_SP})?(?:起?(?:施行|生效)|版|"
                                r"(?:印发|发布|颁布|出台|修订|修正|制定|公布|下发)了?(?:的|《|[，。；、）)]|$))")
#: A 文号's year: 〔2023〕12号, [2023]3 号.
_DOC_NUMBER_RE = re.compile(rf"{_SP}[〕\]］】)）]{_SP}\d+{_SP}号")
_OPEN_BRACKETS = "〔[［【(（"
#: Before "Y年": a comparison base (较2023年增长), not the form's period.
_COMPARE_BEFORE_RE = re.compile(r"(?:较|比|同比|相比|相较|与|对比|低于|高于|超过)\s*$")
#: After a bare year: an amount or a count, not a year.
_AMOUNT_AFTER_RE = re.compile(rf"{_SP}(?:万|亿|千|百|元|人|个|次|台|件|份|户|家|所|套|项|名|例|条|本|张|册|场|天|小时|米|公里|平方|㎡|吨|辆|床|%|％)")
#: 提醒 said for one text at most (the rest counted): a text is a cell, not a report.
MAX_NOTES = 3


def move_year(text: str, old: int, new: int, keep=()) -> tuple[str, list[str]]:
    """``text`` with the period phrases of year ``old`` moved to ``new``, and the 提醒 for what
    was kept that a person should look at (see the module docstring). The strings in ``keep``
    (the project's name, which is never changed) stay wherever they occur."""
    if not text or old == new or str(old) not in text:
        return text, []
    notes: list[str] = []
    edits: list[tuple[int, int, str]] = []     # (start, end, replacement)
    taken = bytearray(len(text))               # characters already decided (kept or moved)
    for k in keep:
        for m in re.finditer(re.escape(k), text) if k else ():
            taken[m.start():m.end()] = b"\1" * (m.end() - m.start())

    def take(s: int, e: int) -> bool:
        if any(taken[s:e]):
            return False
        taken[s:e] = b"\1" * (e - s)
        return True

    for m in _RANGE_RE.finditer(text):
        a, b = int(m["a"]), int(m["b"])
        if not (m["ya"] or m["yb"]) or a > b or old not in (a, b) and not a < old < b or not take(*m.span()):
            continue
        if a == b == old:              # a one-year span: the form's own year
            edits += [(m.start("a"), m.end("a"), str(new)), (m.start("b"), m.end("b"), str(new))]
        elif not a <= new <= b:
            notes.append(f"「{m[0]}」是跨年度期间，不含 {new} 年，未改动，请核对")
    for m in _DATE_RE.finditer(text):
        if int(m["y"]) != old or not take(*m.span()):
            continue
        try:
            _dt.date(new, int(m["m"]), int(m["d"]))
        except ValueError:
            notes.append(f"日期「{m[0]}」在 {new} 年没有对应的日期，未改动，请核对")
            continue
        edits.append((m.start("y"), m.end("y"), str(new)))
    opens = [i for i, ch in enumerate(text) if ch == "《"]
    closes = [i for i, ch in enumerate(text) if ch == "》"]
    for m in _YEAR_RE.finditer(text):
        s, e = m.span()
        if int(m[0]) != old or not take(s, e):
            continue
        in_title = bisect_left(opens, s) > bisect_left(closes, s)
        doc_number = s > 0 and text[s - 1] in _OPEN_BRACKETS and _DOC_NUMBER_RE.match(text, e) is not None
        nian = _NIAN_RE.match(text, e)
        if nian:
            year_end = nian.end()
            if doc_number or _DOCUMENT_AFTER_RE.match(text, year_end):
                continue                                         # 〔2023〕, 2019年印发的…, 2023年版
            if in_title:
                t0, t1 = text.rfind("《", 0, s), text.find("》", e)
                title = text[t0:t1 + 1] if t1 >= 0 and t1 - t0 < 60 else _around(text, s, year_end)
                notes.append(f"文件名称{title}中的 {old} 年未改动；如引用的是新年度的文件，请修改")
                continue
            if _COMPARE_BEFORE_RE.search(text, max(0, s - 4), s):
                notes.append(f"「{_around(text, s, year_end)}」中的 {old} 年是比较的基准，未改动，请核对")
                continue
            edits.append((s, e, str(new)))
            continue
        if doc_number or _AMOUNT_AFTER_RE.match(text, e):
            continue                                             # 〔2023〕12号; 2023万元, 2023人次
        notes.append(f"「{_around(text, s, e)}」中的 {old} 未能确定是否指年度，未改动，请核对")
    parts, last = [], 0
    for s, e, rep in sorted(edits):
        parts += [text[last:s], rep]
        last = e
    parts.append(text[last:])
    if len(notes) > MAX_NOTES:
        notes = notes[:MAX_NOTES - 1] + [f"另有 {len(notes) - MAX_NOTES + 1} 处年份未改动，请核对全文"]
    return "".join(parts), notes


def names_year(text: str, year: int) -> bool:
    """Whether ``text`` holds ``year`` as a number of its own (not inside a longer number)."""
    return any(int(m[0]) == year for m in _YEAR_RE.finditer(text or ""))


def _around(text: str, s: int, e: int, width: int = 6) -> str:
    """The words around text[s:e], for a 提醒 that shows where the year stands."""
    left, right = max(0, s - width), min(len(text), e + width)
    return ("…" if left else "") + text[left:right].replace("\n", " ") + ("…" if right < len(text) else "")
