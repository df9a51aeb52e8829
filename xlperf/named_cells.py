"""The ``xp_*`` defined names of a workbook a person hands us, read behind the same
guards harvest uses.

``xlperf recalc`` and ``xlperf generate --from`` find their fields through the names
xlperf wrote into the workbook. The file is untrusted: it is read once through
:func:`xlperf.safezip.open_container` (regular file, size, zip-bomb ratio, DTDs, cell
extent), and each name's range is bounded before a single cell is fetched (a name
spanning ``A1:XFD1048576`` asks for 17 billion cells). Cell values come from
python-calamine on the checked parts, as harvest reads them, so no reader sees more than
the checks saw.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from .safezip import DEFAULT_LIMITS, Container, Limits, Refused, open_container, parse_ref

#: Cells one name may span, and all names together. A form has a few hundred named cells;
#: the largest generated indicator table is far below this.
MAX_NAME_CELLS = 20_000
MAX_TOTAL_CELLS = 200_000

_AREA_RE = re.compile(r"^\s*=?\s*(?:'((?:[^']|'')+)'|([^'!]+))!(\$?[A-Za-z]{1,3}\$?\d{1,7})(?::(\$?[A-Za-z]{1,3}\$?\d{1,7}))?\s*$")
_WHOLE_RE = re.compile(r"^\s*=?\s*(?:'((?:[^']|'')+)'|([^'!]+))!\$?(?:[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}|\d{1,7}:\$?\d{1,7})\s*$")


@dataclass
class Named:
    """What the names of one workbook point at: ``values[name]`` (one value per cell, row by
    row; ``None`` for an empty cell), ``refs[name]`` (the cells' A1 references), ``sheet[name]``
    and ``where[name]`` (``自评表!$B$3``)."""
    container: Container
    values: dict[str, list] = field(default_factory=dict)
    refs: dict[str, list[str]] = field(default_factory=dict)
    sheet: dict[str, str] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)


def read_names(path, prefix: str = "xp_", limits: Limits = DEFAULT_LIMITS,
               container: Container | None = None) -> Named:
    """Read the names starting with ``prefix`` of the workbook at ``path`` (or of an already
    checked ``container``). Raises :class:`~xlperf.safezip.Refused` (a Chinese sentence) for
    a file the guards refuse, a name spanning too many cells or pointing at a sheet the
    workbook does not have. A name that refers to nothing (``#REF!``, a formula) is absent."""
    c = container or open_container(path, limits)
    if c.format != "xlsx":
        raise Refused("这是 .xls 文件，不是 xlperf 生成的工作簿；请使用 xlperf 生成的 .xlsx。")
    sheets = c.sheet_parts
    out = Named(c)
    areas: dict[str, tuple[str, int, int, int, int]] = {}
    total = 0
    for name, _local, text in c.defined_names(prefix):
        if name in areas:
            continue
        m = _AREA_RE.match(text)
        if not m:
            w = _WHOLE_RE.match(text)
            if w:
                raise Refused(f"名称「{name}」指向整行或整列（{text.strip()[:60]}），范围过大，疑似损坏或恶意文件，未读取。",
                              text.strip()[:60], f"≤ {MAX_NAME_CELLS:,} 个单元格")
            continue
        sheet = (m.group(1) or "").replace("''", "'") or m.group(2).strip()
        first = parse_ref(m.group(3).encode())
        last = parse_ref(m.group(4).encode()) if m.group(4) else first
        r0, r1 = sorted((first[0], last[0]))
        c0, c1 = sorted((first[1], last[1]))
        cells = (r1 - r0 + 1) * (c1 - c0 + 1)
        total += cells
        if cells > MAX_NAME_CELLS or total > MAX_TOTAL_CELLS:
            raise Refused(f"名称「{name}」指向的区域 {m.group(3)}:{m.group(4) or m.group(3)} 有 {cells:,} 个单元格，"
                          "范围过大，疑似损坏或恶意文件，未读取。",
                          f"{cells} 个单元格", f"≤ {MAX_NAME_CELLS:,} 个单元格")
        if sheet not in sheets:
            raise Refused(f"名称「{name}」指向的工作表「{sheet}」不存在（工作表可能被删除或改名），无法按名称读取。",
                          text.strip()[:60], "工作簿中的工作表")
        if sheets[sheet] in c.too_large:
            raise Refused(f"工作表「{sheet}」的单元格分布范围过大（{c.too_large[sheets[sheet]]}），疑似恶意文件，未读取。",
                          c.too_large[sheets[sheet]], f"≤ {limits.max_area:,} 个单元格")
        areas[name] = (sheet, r0, r1, c0, c1)
        out.where[name] = f"{sheet}!{m.group(3)}" + (f":{m.group(4)}" if m.group(4) else "")
    if not areas:
        return out
    grids = _grids(c, {a[0]: max(x[2] for x in areas.values() if x[0] == a[0]) for a in areas.values()})
    from .safezip import a1
    for name, (sheet, r0, r1, c0, c1) in areas.items():
        get = grids[sheet]
        out.sheet[name] = sheet
        out.refs[name] = [a1(r, col) for r in range(r0, r1 + 1) for col in range(c0, c1 + 1)]
        out.values[name] = [get(r, col) for r in range(r0, r1 + 1) for col in range(c0, c1 + 1)]
    return out


def _grids(c: Container, last_rows: dict[str, int]):
    """Per sheet, a function (row, col) → value (0-based; ``None`` for an empty cell)."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_filelike(io.BytesIO(c.reader_bytes()))
    out = {}
    try:
        for sheet, last in last_rows.items():
            s = wb.get_sheet_by_name(sheet)
            if s.start is None:
                out[sheet] = lambda r, col: None
                continue
            r0, c0 = s.start
            rows = s.to_python(skip_empty_area=True, nrows=max(0, last - r0 + 1)) if last >= r0 else []

            def get(r, col, rows=rows, r0=r0, c0=c0):
                i, j = r - r0, col - c0
                if 0 <= i < len(rows) and 0 <= j < len(rows[i]):
                    v = rows[i][j]
                    return None if v == "" else v
                return None
            out[sheet] = get
    finally:
        wb.close()
    return out


@dataclass(frozen=True)
class Unread:
    """A cell whose content does not show what was typed (:func:`xlperf.notation.as_typed`):
    ``why`` (a sentence to follow the field's name) and what the cell ``held`` (its formula as
    text, never evaluated, or its value)."""
    why: str
    held: str


def typed_values(named: Named, name: str) -> list:
    """The values of ``name`` (a 指标值 column) as the person typed them: a formula ``=100%``
    or a percent-formatted 0.95 give ``=100%`` / ``95%`` (not 1 / 0.95), text stays text, and a
    cell whose meaning it does not show (``=A1*2``, a date) is an :class:`Unread`. Formulas and
    percent formats are looked up only for the cells whose value is not text."""
    from .errors import NotationError
    from .notation import as_typed

    values = named.values.get(name, [])
    if all(isinstance(v, str) and v.strip() for v in values):
        return list(values)
    sheet, c = named.sheet[name], named.container
    percent = None
    out = []
    for ref, v in zip(named.refs[name], values):
        if isinstance(v, str) and v.strip():
            out.append(v)
            continue
        pos = parse_ref(ref.encode())
        f = c.formula_at(sheet, *pos)
        if percent is None and (f is not None or not (v is None or isinstance(v, str))):
            percent = c.percent_cells(sheet)
        try:
            out.append(as_typed(v, formula=f, percent=percent is not None and pos in percent))
        except NotationError as exc:
            out.append(Unread(exc.message, str(v)[:200] if f is None else f"={f}"[:200] if f else "（公式）"))
    return out
