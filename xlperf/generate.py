"""Filling the form templates: one project → one workbook (``xlperf fill``), and the
building blocks of bulk generation.

:func:`render` turns a :class:`~xlperf.model.Project` into the bytes of a workbook:
the named cells get the project's values, computed cells get formulas (portable or
udf, see :mod:`xlperf.formulas`) with the engine's results cached, input cells get
data validation with Chinese prompts. Nothing here scores: the numbers come from
:func:`xlperf.scoring.score_project`.
"""
from __future__ import annotations

import argparse
import functools
import io
import json
import math
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from . import formulas as F
from . import profiles as _profiles
from .errors import XlperfError
from .layout import TEMPLATE_DIR, template_path
from .model import DECLARATION, FUNDS_ROWS, SELF_EVALUATION, Project
from .notation import Qualitative, Quantity, parse_target
from .scoring import score_project
from .template import CompiledTemplate, Formula, Layout, atomic_write, compile_template

MODES = ("portable", "udf")


class GenerateError(XlperfError):
    pass


@functools.lru_cache(maxsize=8)
def _compiled(path: str, mtime: float) -> CompiledTemplate:
    return compile_template(path)


def compiled(kind: str, template_dir: Path | None = None) -> CompiledTemplate:
    """The compiled template for a form kind (cached; recompiled when the file changes)."""
    path = template_path(kind, template_dir or TEMPLATE_DIR)
    if not path.is_file():
        raise GenerateError(f"找不到模板文件「{path}」。可用 xlperf templates 重新生成标准模板。")
    return _compiled(str(path), path.stat().st_mtime)


# ------------------------------------------------------------ layout helpers

def _text_width(text: str) -> float:
    """Approximate width in Excel column units (a CJK character is about two)."""
    return sum(2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1 for ch in text)


def _lines(text, width: float) -> int:
    if text is None or text == "":
        return 1
    usable = max(width - 1.5, 2.0)
    return sum(max(1, math.ceil(_text_width(part) / usable)) for part in str(text).split("\n"))


def _height(lines: int, minimum: float, line_pt: float = 13.5) -> float:
    return max(minimum, round(lines * line_pt + 6, 1))


def _merged_width(t: CompiledTemplate, col: str, row: int) -> float:
    """Width of the merge that starts at col/row (or of the single column)."""
    from .template import col_index, col_letter
    for c1, r1, c2, r2 in t.merges:
        if c1 == col and r1 == row:
            return sum(t.widths.get(col_letter(i), 8.43) for i in range(col_index(c1), col_index(c2) + 1))
    return t.widths.get(col, 8.43)


def _level_merges(t: CompiledTemplate, layout: Layout, indicators) -> list[str]:
    """Merge runs of equal 一级/二级 names, as on the paper form."""
    merges = []
    for name, key in (("xp_ind_level1", lambda i: (i.level1,)), ("xp_ind_level2", lambda i: (i.level1, i.level2))):
        if not t.has(name):
            continue
        col = t.names[name].col1
        start = 0
        for k in range(1, len(indicators) + 1):
            if k == len(indicators) or key(indicators[k]) != key(indicators[start]):
                if k - start > 1:
                    merges.append(f"{col}{layout.band + start}:{col}{layout.band + k - 1}")
                start = k
    return merges


def _dv(kind: str, sqref: str, formula: str | None = None, *, prompt: str, title: str,
        error: str = "", operator: str | None = None, formula2: str | None = None,
        list_values: str | None = None) -> str:
    attrs = [f'type="{kind}"', 'allowBlank="1"', 'showInputMessage="1"']
    if error:
        attrs += ['showErrorMessage="1"', f"errorTitle={quoteattr('输入有误')}", f"error={quoteattr(error[:255])}"]
    if operator:
        attrs.append(f'operator="{operator}"')
    attrs += [f"promptTitle={quoteattr(title[:32])}", f"prompt={quoteattr(prompt[:255])}", f'sqref="{sqref}"']
    body = ""
    if list_values is not None:
        body = f'<formula1>"{escape(list_values)}"</formula1>'
    elif formula is not None:
        body = f"<formula1>{escape(formula)}</formula1>"
        if formula2 is not None:
            body += f"<formula2>{escape(formula2)}</formula2>"
    return f"<dataValidation {' '.join(attrs)}>{body}</dataValidation>"


def _validations(items: list[str]) -> str:
    return f'<dataValidations count="{len(items)}">{"".join(items)}</dataValidations>' if items else ""


# ------------------------------------------------------------------ 自评表

@dataclass
class Rendered:
    sheet_xml: bytes
    workbook_xml: bytes
    template: CompiledTemplate


def _num(x):
    return x if x is not None else None


def _self_evaluation(project: Project, t: CompiledTemplate, mode: str, p) -> tuple[dict, list, list, dict, list]:
    n = max(1, len(project.indicators))
    layout = Layout(t.band, n)
    ref = lambda name, i=0: t.ref(name, layout, i)  # noqa: E731
    absolute = lambda r: "$" + r[:len(r.rstrip("0123456789"))] + "$" + r[len(r.rstrip("0123456789")):]  # noqa: E731
    profile_cell = absolute(ref("xp_profile"))
    fix = lambda expr: expr.replace("$PROFILE", profile_cell)  # noqa: E731
    scored = score_project(project, p)
    unit = project.money_unit or "元"

    values: dict = {
        "xp_project_name": project.name, "xp_department": project.department, "xp_unit": project.unit,
        "xp_expected_goal": project.annual_goal, "xp_actual_result": project.actual_result,
        "xp_profile": p.name, "xp_mode": mode,
        "xp_funds_initial": [project.funds[r].initial for r in FUNDS_ROWS],
        "xp_funds_budget": [project.funds[r].budget for r in FUNDS_ROWS],
        "xp_funds_executed": [project.funds[r].executed for r in FUNDS_ROWS],
        "xp_funds_weight": scored.funds_weight,
    }
    rates = []
    for i, row in enumerate(FUNDS_ROWS):
        expr = F.rate(ref("xp_funds_budget", i), ref("xp_funds_executed", i), p, mode)
        rates.append(Formula(fix(expr), scored.rates.get(row)))
    values["xp_funds_rate"] = rates
    values["xp_funds_score"] = Formula(
        fix(F.funds_score(ref("xp_funds_rate", 0), ref("xp_funds_weight"), p, mode)), scored.funds_score)

    rows, dvs, band_heights = [], [], []
    amount_cells = " ".join(f"{ref(name, 0)}:{ref(name, 3)}" for name in
                            ("xp_funds_initial", "xp_funds_budget", "xp_funds_executed"))
    first_amount = ref("xp_funds_initial", 0)
    dvs.append(_dv("custom", amount_cells,
                   f"AND(ISNUMBER({first_amount}),{first_amount}>=0,ROUND({first_amount},2)={first_amount})",
                   title="金额", prompt=f"请填写金额（{unit}），不小于 0，最多两位小数。",
                   error=f"金额应为不小于 0 的数字（单位：{unit}），最多两位小数。"))
    weight_cells = f"{ref('xp_funds_weight')} {t.band_range('xp_ind_weight', layout)}"
    dvs.append(_dv("decimal", weight_cells, "0", formula2="100", operator="between", title="分值",
                   prompt="请填写分值（0–100）。分值合计（含预算执行率）应为 100。",
                   error="分值应为 0 到 100 之间的数字。"))

    widths = {name: _merged_width(t, t.names[name].col1, t.band) for name in
              ("xp_ind_level3", "xp_ind_target", "xp_ind_actual", "xp_ind_note")}
    for k, ind in enumerate(project.indicators):
        r = {name: ref(name, k) for name in ("xp_ind_target", "xp_ind_actual", "xp_ind_weight",
                                              "xp_ind_score", "xp_ind_value", "xp_ind_proposal",
                                              "xp_ind_override")}
        res = scored.indicators[k]
        prev = project.indicators[k - 1] if k else None
        target = _safe_target(ind.target)
        row = {
            "xp_ind_level1": ind.level1 if not prev or prev.level1 != ind.level1 else None,
            "xp_ind_level2": ind.level2 if not prev or (prev.level1, prev.level2) != (ind.level1, ind.level2) else None,
            "xp_ind_level3": ind.level3, "xp_ind_target": ind.target,
            "xp_ind_actual": _actual_text(ind.actual), "xp_ind_weight": ind.weight,
            "xp_ind_note": ind.note, "xp_ind_override": ind.override,
        }
        qualitative = not isinstance(target, Quantity)
        proposal_cached = res.proposal if res is not None else None
        parsed = None
        if mode == "udf":
            proposal = F.udf_score(r["xp_ind_target"], r["xp_ind_actual"], r["xp_ind_weight"])
        elif qualitative:
            proposal = F.qualitative_score(r["xp_ind_actual"], r["xp_ind_weight"], p)
        else:
            parsed = F.parse_actual(r["xp_ind_actual"], target.unit)
            proposal = F.quantitative_score(target, r["xp_ind_value"], r["xp_ind_weight"], p)
            if proposal is None:  # a target too fine for integer formulas: fall back to the add-in
                proposal = F.udf_score(r["xp_ind_target"], r["xp_ind_actual"], r["xp_ind_weight"])
        if parsed is not None:
            actual_value = res.actual.value if res is not None and isinstance(res.actual, Quantity) else None
            row["xp_ind_value"] = Formula(parsed, actual_value)
        row["xp_ind_proposal"] = Formula(fix(proposal), proposal_cached)
        final_cached = res.score if res is not None else (ind.override if ind.override is not None else None)
        row["xp_ind_score"] = Formula(F.final_score(r["xp_ind_proposal"], r["xp_ind_override"]), final_cached)
        rows.append(row)

        target_text = ind.target
        if qualitative:
            dvs.append(_dv("list", r["xp_ind_actual"], list_values="达成指标,部分达成,未达成",
                           title="实际完成值（定性）",
                           prompt=f"目标：{target_text}。请选择 达成指标 / 部分达成 / 未达成。",
                           error="请从下拉列表中选择 达成指标、部分达成 或 未达成。"))
        else:
            unit_hint = f"（单位：{target.unit}）" if target.unit else ""
            example = f"{target.value}({target.unit})" if target.unit and target.unit[0] not in "*/" else str(target.value)
            dvs.append(_dv("custom", r["xp_ind_actual"],
                           f"ISNUMBER({F.parse_actual(r['xp_ind_actual'], target.unit)})",
                           title="实际完成值（定量）",
                           prompt=f"目标：{target_text}。请填写实际数值{unit_hint}，可带单位，如 {example}。",
                           error=f"无法识别为数值。请填写数字{unit_hint}，如 {example}。"))
        dvs.append(_dv("custom", r["xp_ind_override"],
                       F.override_validation(r["xp_ind_override"], r["xp_ind_actual"], r["xp_ind_weight"], p,
                                             qualitative),
                       title="人工调整得分",
                       prompt=("留空则按规则得分。填写时须在 0 到分值之间" +
                               ("，且在所选档次的区间内（达成 80%–100%，部分达成 60%–80%，未达成 0–60%）" if qualitative else "") +
                               "，并在偏差原因栏写明理由。"),
                       error="调整得分超出允许范围（0 到分值；定性指标须在所选档次区间内）。"))
        lines = max(_lines(ind.level3, widths["xp_ind_level3"]), _lines(ind.target, widths["xp_ind_target"]),
                    _lines(_actual_text(ind.actual), widths["xp_ind_actual"]), _lines(ind.note, widths["xp_ind_note"]))
        band_heights.append(_height(lines, 22))

    band_score = t.band_range("xp_ind_score", layout)
    band_weight = t.band_range("xp_ind_weight", layout)
    total_score = ref("xp_total_score")
    values["xp_total_weight"] = Formula(F.total([ref("xp_funds_weight"), band_weight]), scored.total_weight)
    values["xp_total_score"] = Formula(F.total([ref("xp_funds_score"), band_score]),
                                       scored.total if scored.total is not None else None)
    values["xp_grade"] = Formula(
        fix(F.grade(total_score, f"{ref('xp_funds_score')},{band_score}", len(project.indicators) + 1, p, mode)),
        scored.grade or "")
    goal_row = t.names["xp_expected_goal"].row1
    goal_lines = max(_lines(project.annual_goal, _merged_width(t, t.names["xp_expected_goal"].col1, goal_row)),
                     _lines(project.actual_result, _merged_width(t, t.names["xp_actual_result"].col1, goal_row)))
    heights = {goal_row: _height(goal_lines, 40)}
    return values, rows, dvs, heights, band_heights


def _safe_target(text):
    try:
        return parse_target(text)
    except XlperfError:
        return Qualitative(str(text or ""))


def _actual_text(actual):
    if actual is None:
        return None
    if isinstance(actual, Decimal):
        return format(actual, "f")
    return str(actual)


def _declaration(project: Project, t: CompiledTemplate) -> tuple[dict, list, list, dict, list]:
    d = project.declared
    values = {
        "xp_project_name": project.name, "xp_nature": project.nature, "xp_category": project.category,
        "xp_department": project.department, "xp_unit": project.unit, "xp_start": project.start,
        "xp_end": project.end, "xp_total_goal": project.total_goal, "xp_annual_goal": project.annual_goal,
        "xp_project_total": d.project_total, "xp_project_fiscal": d.project_fiscal,
        "xp_project_other": d.project_other, "xp_annual_total": d.annual_total,
        "xp_annual_fiscal": d.annual_fiscal, "xp_annual_carryover": d.annual_carryover,
        "xp_annual_other": d.annual_other,
    }
    n = max(1, len(project.indicators))
    layout = Layout(t.band, n)
    rows, band_heights = [], []
    widths = {name: _merged_width(t, t.names[name].col1, t.band) for name in ("xp_ind_level3", "xp_ind_target")}
    for k, ind in enumerate(project.indicators):
        prev = project.indicators[k - 1] if k else None
        rows.append({
            "xp_ind_level1": ind.level1 if not prev or prev.level1 != ind.level1 else None,
            "xp_ind_level2": ind.level2 if not prev or (prev.level1, prev.level2) != (ind.level1, ind.level2) else None,
            "xp_ind_level3": ind.level3, "xp_ind_target": ind.target,
        })
        band_heights.append(_height(max(_lines(ind.level3, widths["xp_ind_level3"]),
                                        _lines(ind.target, widths["xp_ind_target"])), 22))
    unit = project.money_unit or "元"
    amount_names = [k for k in values if k.startswith(("xp_project_", "xp_annual_")) and k not in
                    ("xp_project_name", "xp_annual_goal")]
    cells = " ".join(t.ref(name, layout) for name in amount_names if t.has(name))
    first = t.ref(amount_names[0], layout)
    dvs = [_dv("custom", cells, f"AND(ISNUMBER({first}),{first}>=0,ROUND({first},2)={first})",
               title="金额", prompt=f"请填写金额（{unit}），不小于 0，最多两位小数；没有请留空。",
               error=f"金额应为不小于 0 的数字（单位：{unit}），最多两位小数。")]
    goal_row = t.names["xp_total_goal"].row1
    lines = max(_lines(project.total_goal, _merged_width(t, t.names["xp_total_goal"].col1, goal_row)),
                _lines(project.annual_goal, _merged_width(t, t.names["xp_annual_goal"].col1, goal_row)))
    return values, rows, dvs, {goal_row: _height(lines, 60)}, band_heights


def render(project: Project, *, mode: str = "portable", profile: str | None = None,
           template_dir: Path | None = None, password: str | None = None, level: int = 6) -> bytes:
    """The bytes of a filled workbook for ``project`` (its ``kind`` picks the template)."""
    if mode not in MODES:
        raise GenerateError(f"计算方式应为 portable 或 udf，而不是「{mode}」。")
    t = compiled(project.kind, template_dir)
    p = _profiles.get(profile or project.profile or "shanghai")
    if project.kind == SELF_EVALUATION:
        values, rows, dvs, heights, band_heights = _self_evaluation(project, t, mode, p)
    elif project.kind == DECLARATION:
        values, rows, dvs, heights, band_heights = _declaration(project, t)
    else:
        raise GenerateError(f"表格类型应为 申报表 或 自评表，而不是「{project.kind}」。")
    layout = Layout(t.band, max(1, len(project.indicators)))
    labels = {key: text.replace("{year}", str(project.year)).replace("{money_unit}", project.money_unit or "元")
              for key, text in t.label_templates.items()}
    sheet = t.render_sheet(values, rows, labels=labels, heights=heights, band_heights=band_heights,
                           validations=_validations(dvs),
                           extra_merges=_level_merges(t, layout, project.indicators),
                           protection_password=password)
    workbook = t.render_workbook_xml(len(project.indicators), full_calc_on_load=(mode == "portable"))
    buf = io.BytesIO()
    t.write(buf, sheet, workbook, level)
    return buf.getvalue()


def write(project: Project, out: Path, *, force: bool = False, **kwargs) -> Path:
    """Render and write atomically. An existing file is kept unless ``force`` (then a
    ``.bak`` copy of it is kept beside it)."""
    out = Path(out)
    data = render(project, **kwargs)
    if out.exists():
        if not force:
            raise GenerateError(f"文件「{out}」已存在，未覆盖。确需覆盖请加 --force（会保留 .bak 备份）。")
        atomic_write(out.with_name(out.name + ".bak"), out.read_bytes())
    atomic_write(out, data)
    return out


# ------------------------------------------------------------------ CLI

def _load_project_file(path: Path, kind: str | None) -> Project:
    from .seeds import project_from_dict

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml
        data = yaml.safe_load(text)
    if isinstance(data, list):
        data = data[0]
    return project_from_dict(data, kind=kind or data.get("kind"), year=data.get("year"),
                             money_unit=data.get("money_unit", "元"), profile=data.get("profile"))


def _cmd_fill(args) -> int:
    if args.seed:
        from .seeds import load
        found = [f.project for f in load() if f.project.key == args.seed]
        if not found:
            raise GenerateError(f"样例数据中没有编号为「{args.seed}」的项目。")
        project = found[0]
        if args.kind and args.kind != project.kind:
            raise GenerateError(f"样例项目 {args.seed} 是{project.kind}，不是{args.kind}。")
    elif args.input:
        project = _load_project_file(Path(args.input), args.kind)
    else:
        raise GenerateError("请给出项目数据文件（YAML/JSON）或 --seed 编号。")
    out = write(project, Path(args.out), force=args.force, mode=args.mode, profile=args.profile,
                template_dir=args.templates, password=args.password)
    print(f"已生成 {out}")
    return 0


def register_cli(sub) -> None:
    p = sub.add_parser("fill", help="填写一个项目 → 一个工作簿")
    p.add_argument("input", nargs="?", help="项目数据（YAML 或 JSON，字段同 workbooks/SEEDS-SCHEMA.md）")
    p.add_argument("--seed", help="改用样例数据中的项目，如 001-01")
    p.add_argument("--kind", choices=["申报表", "自评表"])
    p.add_argument("-o", "--out", required=True, help="输出 .xlsx 文件")
    p.add_argument("--mode", choices=MODES, default="portable",
                   help="portable：仅用 Excel 原生函数（默认，发给他人用）；udf：调用 xlperf 加载项函数")
    p.add_argument("--profile", help="评分规则（默认取项目自带的，否则 shanghai）")
    p.add_argument("--templates", type=Path, help="模板文件夹（默认 templates/）")
    p.add_argument("--password", help="工作表保护密码（默认无密码）")
    p.add_argument("--force", action="store_true", help="覆盖已存在的文件（保留 .bak 备份）")
    p.set_defaults(func=_cmd_fill)
