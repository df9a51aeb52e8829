"""The official form layouts, written as the template workbooks in ``templates/``.

The templates are ordinary .xlsx files a person may restyle in Excel (fonts, widths,
wording, even inserted rows): the generator finds every field through workbook
*defined names* (``xp_*``), never through coordinates. This module only (re)creates
the stock templates: ``xlperf templates --out templates``.

Conventions the generator relies on:

* each ``xp_*`` name below points at its cell; ``xp_ind_*`` names point at the single
  *prototype* indicator row, which the generator repeats once per indicator; rows below
  it (the footer) move down accordingly;
* label text may contain ``{year}`` and ``{money_unit}``;
* input cells are unlocked and tinted; everything else is locked.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpyxl import Workbook

# openpyxl is imported where a template is built, not at import: bulk generation and the other
# commands use this module's constants and paths only (openpyxl with numpy is ~0.2 s of start-up).

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
SELF_EVAL_SHEET = "自评表"
DECLARATION_SHEET = "申报表"
FONT = "宋体"             # rendered with Noto Serif CJK SC on Linux (see xlperf.libreoffice)
INPUT_FILL = "FFF8E1"     # pale yellow: "type here"
HELPER_FILL = "EEF3FA"    # pale blue: on-screen helper columns outside the print area


@functools.lru_cache(maxsize=None)
def _border():
    from openpyxl.styles import Border, Side

    thin = Side(style="thin", color="000000")
    return Border(left=thin, right=thin, top=thin, bottom=thin)


def _style(cell, *, bold=False, size=10, h="center", wrap=True, fmt=None, locked=True, fill=None,
           border=True):
    from openpyxl.styles import Alignment, Font, PatternFill, Protection

    cell.font = Font(name=FONT, size=size, bold=bold)
    cell.alignment = Alignment(horizontal=h, vertical="center", wrap_text=wrap)
    if border:
        cell.border = _border()
    if fmt:
        cell.number_format = fmt
    cell.protection = Protection(locked=locked)
    if fill or not locked:
        cell.fill = PatternFill("solid", fgColor=fill or INPUT_FILL)


def _box(ws, ref: str, value=None, **style):
    """Merge ``ref`` (if a range), write ``value`` top-left, and style every cell of it
    so borders survive the merge."""
    first = ref.split(":")[0]
    if ":" in ref:
        ws.merge_cells(ref)
    for row in ws[ref] if ":" in ref else [[ws[ref]]]:
        for c in row:
            _style(c, **style)
    if value is not None:
        ws[first] = value
    return ws[first]


#: Conditional formats of the printed 自评表 (the generator stretches them over the indicator
#: rows): a score, total or grade that cannot be computed prints 「待核」 on red instead of a
#: blank; a percentage actual typed as a fraction (0.95 against ≥90%) prints 「请核对」 beside
#: it; a docked score whose 偏差原因 is empty is highlighted (the cell itself stays blank: no
#: placeholder prose goes to the 财政局). Display only: the cells' values stay what the
#: engine computes, so check/harvest read them unchanged.
PENDING_TEXT = "待核"
CHECK_TEXT = "请核对"
def _conditional_formats(ws) -> None:
    """The rules on the prototype row 13 and the total rows 14/15 (references relative to the
    first cell of each range, as Excel reads them)."""
    from openpyxl.formatting.rule import Rule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.styles.differential import DifferentialStyle
    from openpyxl.styles.numbers import NumberFormat

    red = PatternFill(bgColor="FFC7CE", fill_type="solid")
    pending = DifferentialStyle(font=Font(color="9C0006", bold=True), fill=red,
                                numFmt=NumberFormat(numFmtId=200, formatCode=f'0.00;-0.00;0.00;"{PENDING_TEXT}"'))
    check = DifferentialStyle(font=Font(color="9C0006", bold=True),
                              numFmt=NumberFormat(numFmtId=201, formatCode=f'@" {CHECK_TEXT}"'))
    rules = [
        # a rate / funds score not computed although both amounts are typed (text pasted past
        # the validation, or a budget of 0 with spending): 待核, not a blank or #VALUE!
        ("G6:G9", 'AND(NOT(ISNUMBER($G6)),$D6<>"",$E6<>"")', pending),
        ("H6", 'AND(NOT(ISNUMBER($H6)),$D6<>"",$E6<>"")', pending),
        # an indicator typed but not scored (unreadable actual or target, no native formula)
        ("G13", 'AND($G13="",TRIM($E13)<>"")', pending),
        # total / grade blank although something is typed: some row (or the funds) is 待核
        ("G14", 'AND($G14="",COUNTA($E$13:$E$13)>0)', pending),
        ("C15", 'AND($C15="",COUNTA($E$13:$E$13)>0)', pending),
        # 0.95 typed against a percentage target: meant 95%? (the score is read as 0.95%)
        ("E13", 'AND(ISNUMBER(FIND("%",ASC($D13))),ISNUMBER($J13),$J13>0,$J13<=1)', check),
        # a docked or adjusted score without a reason
        ("H13", 'AND(TRIM($H13)="",ISNUMBER($G13),OR($G13<$F13,AND(ISNUMBER($L13),$L13<>$K13)))',
         DifferentialStyle(fill=red)),
    ]
    for ref, formula, style in rules:
        ws.conditional_formatting.add(ref, Rule(type="expression", dxf=style, formula=[formula]))


def _name(wb, name: str, sheet: str, ref: str):
    col_row = ref.replace(":", ":$")
    absolute = "$" + col_row.replace(":$", ":$")
    absolute = _absolute(ref)
    from openpyxl.workbook.defined_name import DefinedName

    wb.defined_names[name] = DefinedName(name, attr_text=f"'{sheet}'!{absolute}")


def _absolute(ref: str) -> str:
    out = []
    for part in ref.split(":"):
        col = "".join(ch for ch in part if ch.isalpha())
        row = "".join(ch for ch in part if ch.isdigit())
        out.append(f"${col}${row}")
    return ":".join(out)


#: Page setup of both forms (inches), read by the generator to place page breaks.
MARGINS = {"left": 0.5, "right": 0.5, "top": 0.6, "header": 0.3, "bottom": 0.8, "footer": 0.3}
A4_INCHES = (8.27, 11.69)
#: The last printed column of each form and its repeated title row (the indicator header).
PRINT_COLUMNS = {"自评表": "H", "申报表": "F"}
TITLE_ROW = 12


def _page(ws, print_area: str, title_rows: str):
    ws.print_area = print_area
    ws.print_title_rows = title_rows
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    # LibreOffice makes the footer as tall as (bottom − footer) margins: 0.3 in from the edge
    # with 0.8 in below the body leaves the 「第 1 页，共 N 页」 line whole (0.6/0.5 cut it in half).
    for side, inches in MARGINS.items():
        setattr(ws.page_margins, side, inches)
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.sheet_view.showGridLines = False


def _form(sheet: str, widths: dict[str, float], title: str, last_col: str):
    """A workbook of one sheet with the form's column widths, title and year rows."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for col, w in widths.items():
        ws.column_dimensions[col].width = w
    _box(ws, f"A1:{last_col}1", title, bold=True, size=16, border=False)
    _box(ws, f"A2:{last_col}2", "（{year}年度）", size=11, border=False)
    ws.row_dimensions[1].height = 30
    ws.row_dimensions[2].height = 20
    return wb, ws


def self_evaluation_workbook() -> Workbook:
    """The 财政项目支出绩效自评表 template (layout of seeds 001/004)."""
    s = SELF_EVAL_SHEET
    wb, ws = _form(s, {"A": 8, "B": 15, "C": 18, "D": 13, "E": 13, "F": 8, "G": 8, "H": 20,
                       "I": 2, "J": 12, "K": 11, "L": 11}, "财政项目支出绩效自评表", "H")

    _box(ws, "A3:B3", "项目名称")
    _box(ws, "C3:H3", locked=False, h="left")
    _box(ws, "A4:B4", "主管部门")
    _box(ws, "C4:D4", locked=False, h="left")
    _box(ws, "E4:F4", "实施单位")
    _box(ws, "G4:H4", locked=False, h="left")
    for r in (3, 4):
        ws.row_dimensions[r].height = 24

    _box(ws, "A5:A9", "项目资金\n（{money_unit}）")
    _box(ws, "B5")
    for col, label in zip("CDEFGH", ("年初预算数", "全年预算数", "全年执行数", "分值", "执行率(%)", "得分")):
        _box(ws, f"{col}5", label)
    for i, label in enumerate(("年度资金总额：", "其中：当年财政拨款", "上年结转资金", "其他资金")):
        r = 6 + i
        _box(ws, f"B{r}", label, h="left")
        for col in "CDE":
            _box(ws, f"{col}{r}", locked=False, fmt="#,##0.00", h="right")
        _box(ws, f"G{r}", fmt="0.00", h="right")
        if r == 6:
            _box(ws, "F6", locked=False, fmt="0.00", h="right")
            _box(ws, "H6", fmt="0.00", h="right")
        else:
            _box(ws, f"F{r}", "—")
            _box(ws, f"H{r}", "—")
    for r in range(5, 10):
        ws.row_dimensions[r].height = 20

    _box(ws, "A10:A11", "年度总体\n目标")   # break where a reader would, not before 「标」
    _box(ws, "B10:D10", "预期目标")
    _box(ws, "E10:H10", "实际完成情况")
    _box(ws, "B11:D11", locked=False, h="left")
    _box(ws, "E11:H11", locked=False, h="left")
    ws.row_dimensions[11].height = 60

    headers = ("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分",
               "偏差原因分析及改进措施")
    for col, label in zip("ABCDEFGH", headers):
        _box(ws, f"{col}12", label)
    for col, label in zip("JKL", ("实际值（识别）", "规则得分", "人工调整得分")):
        _box(ws, f"{col}12", label, fill=HELPER_FILL)
    ws.row_dimensions[12].height = 30
    # The prototype indicator row: repeated once per indicator by the generator.
    for col in "ABC":
        _box(ws, f"{col}13", locked=False)
    _box(ws, "D13", locked=False, fmt="@")   # targets are text: =100% typed stays =100%, not a formula
    _box(ws, "E13", locked=False, fmt="@")
    _box(ws, "F13", locked=False, fmt="0.00", h="right")
    _box(ws, "G13", fmt="0.00", h="right")
    _box(ws, "H13", locked=False, h="left")
    _box(ws, "J13", fmt="General", h="right", fill=HELPER_FILL)
    _box(ws, "K13", fmt="0.00", h="right", fill=HELPER_FILL)
    _box(ws, "L13", locked=False, fmt="0.00", h="right")
    ws.row_dimensions[13].height = 22

    _box(ws, "A14:E14", "总分")
    _box(ws, "F14", fmt="0.00", h="right")
    _box(ws, "G14", fmt="0.00", h="right")
    _box(ws, "H14")
    _box(ws, "A15:B15", "评分等级")
    _box(ws, "C15:H15")
    ws.row_dimensions[14].height = ws.row_dimensions[15].height = 22

    _box(ws, "J1", "评分规则", fill=HELPER_FILL)
    _box(ws, "K1:L1", fill=HELPER_FILL)
    _box(ws, "J2", "计算方式", fill=HELPER_FILL)
    _box(ws, "K2:L2", fill=HELPER_FILL)
    _box(ws, "J4:L9", "黄色单元格为填写区；J–L 列为计分辅助列，不打印。定量指标的实际完成值请填写数值"
                      "（可带单位，如 95 或 95.00(%)）；定性指标请选择 达成指标/部分达成/未达成。"
                      "需要调整得分时在 L 列填写，并在偏差原因栏写明理由。", size=9, h="left",
         fill=HELPER_FILL)

    names = {
        "xp_year": "A2", "xp_project_name": "C3", "xp_department": "C4", "xp_unit": "G4",
        "xp_money_unit": "A5",
        "xp_funds_initial": "C6:C9", "xp_funds_budget": "D6:D9", "xp_funds_executed": "E6:E9",
        "xp_funds_weight": "F6", "xp_funds_rate": "G6:G9", "xp_funds_score": "H6",
        "xp_expected_goal": "B11", "xp_actual_result": "E11",
        "xp_ind_level1": "A13", "xp_ind_level2": "B13", "xp_ind_level3": "C13",
        "xp_ind_target": "D13", "xp_ind_actual": "E13", "xp_ind_weight": "F13",
        "xp_ind_score": "G13", "xp_ind_note": "H13", "xp_ind_value": "J13",
        "xp_ind_proposal": "K13", "xp_ind_override": "L13",
        "xp_total_weight": "F14", "xp_total_score": "G14", "xp_grade": "C15",
        "xp_profile": "K1", "xp_mode": "K2",
    }
    for name, ref in names.items():
        _name(wb, name, s, ref)
    _conditional_formats(ws)
    _page(ws, f"A1:{PRINT_COLUMNS['自评表']}15", f"{TITLE_ROW}:{TITLE_ROW}")
    ws.freeze_panes = None
    return wb


def declaration_workbook() -> Workbook:
    """The 财政项目支出绩效目标申报表 template (layout of seeds 000/003)."""
    s = DECLARATION_SHEET
    wb, ws = _form(s, {"A": 9, "B": 16, "C": 16, "D": 18, "E": 16, "F": 14}, "财政项目支出绩效目标申报表", "F")

    _box(ws, "A3", "项目名称")
    _box(ws, "B3", locked=False, h="left")
    _box(ws, "C3", "项目性质")
    _box(ws, "D3", locked=False)
    _box(ws, "E3", "项目类别")
    _box(ws, "F3", locked=False)
    _box(ws, "A4", "主管部门")
    _box(ws, "B4", locked=False, h="left")
    _box(ws, "C4", "实施单位")
    _box(ws, "D4:F4", locked=False, h="left")
    _box(ws, "A5", "计划开始日期")
    _box(ws, "B5", locked=False)
    _box(ws, "C5", "计划完成日期")
    _box(ws, "D5:F5", locked=False)
    for r in (3, 4, 5):
        ws.row_dimensions[r].height = 30

    _box(ws, "A6:A9", "项目资金\n（{money_unit}）")
    left = ("项目资金总额", "其中：财政资金", None, "其他资金")
    right = ("年度资金申请总额", "其中：当年财政拨款", "上年结转资金", "其他资金")
    for i in range(4):
        r = 6 + i
        _box(ws, f"B{r}", left[i], h="left")
        _box(ws, f"C{r}", locked=left[i] is None, fmt="#,##0.00", h="right")
        _box(ws, f"D{r}", right[i], h="left")
        _box(ws, f"E{r}:F{r}", locked=False, fmt="#,##0.00", h="right")
        ws.row_dimensions[r].height = 20

    _box(ws, "A10:A11", "项目绩效目标")
    _box(ws, "B10:C10", "项目总目标")
    _box(ws, "D10:F10", "年度总体目标")
    _box(ws, "B11:C11", locked=False, h="left")
    _box(ws, "D11:F11", locked=False, h="left")
    ws.row_dimensions[11].height = 80

    _box(ws, "A12:A13", "绩效指标")
    for col, label in zip("BCD", ("一级指标", "二级指标", "三级指标")):
        _box(ws, f"{col}12", label)
    _box(ws, "E12:F12", "年度指标值")
    ws.row_dimensions[12].height = 24
    for col in "BCD":
        _box(ws, f"{col}13", locked=False)
    _box(ws, "E13:F13", locked=False, fmt="@")   # 年度指标值 is text: =100% typed stays =100%
    ws.row_dimensions[13].height = 22

    names = {
        "xp_year": "A2", "xp_project_name": "B3", "xp_nature": "D3", "xp_category": "F3",
        "xp_department": "B4", "xp_unit": "D4", "xp_start": "B5", "xp_end": "D5",
        "xp_money_unit": "A6",
        "xp_project_total": "C6", "xp_project_fiscal": "C7", "xp_project_other": "C9",
        "xp_annual_total": "E6", "xp_annual_fiscal": "E7", "xp_annual_carryover": "E8",
        "xp_annual_other": "E9",
        "xp_total_goal": "B11", "xp_annual_goal": "D11",
        "xp_ind_level1": "B13", "xp_ind_level2": "C13", "xp_ind_level3": "D13",
        "xp_ind_target": "E13",
    }
    for name, ref in names.items():
        _name(wb, name, s, ref)
    _page(ws, f"A1:{PRINT_COLUMNS['申报表']}13", f"{TITLE_ROW}:{TITLE_ROW}")
    return wb


BUILDERS = {"自评表": self_evaluation_workbook, "申报表": declaration_workbook}


def template_path(kind: str, directory: Path | None = None) -> Path:
    return Path(directory or TEMPLATE_DIR) / f"{kind}.xlsx"


def write_templates(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, build in BUILDERS.items():
        path = template_path(kind, out)
        build().save(path)
        paths.append(path)
    return paths


def register_cli(sub) -> None:
    p = sub.add_parser("templates", help="重新生成标准模板（自评表、申报表）")
    p.add_argument("--out", type=Path, default=TEMPLATE_DIR, help="输出文件夹（默认 templates/）")
    p.set_defaults(func=lambda a: [print(f"已写出 {x}") for x in write_templates(a.out)] and 0)
