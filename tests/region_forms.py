"""Builder of small 自评表 workbooks laid out as other regions publish them (issue 15).

Layouts follow published forms found with the search tool (headings copied, figures invented):

* ``sichuan`` — 部门预算项目支出绩效自评表 (e.g. scqs.gov.cn 青神县, dyxrmt.cn 大英县): 报表编号 line,
  project name ``<21-char code>-<name>``, 实施单位（盖章）, funds block 年度预算数(万元) | 年初预算 |
  调整后预算数 | 预算执行数 | 预算执行率 | 权重 | 得分 | 原因 with rows 总额 / 其中:财政资金 /
  财政专户管理资金 / 单位资金 / 其他资金, indicators 指标性质 | 指标值 | 度量单位 | 完成值 | 权重 | 得分 |
  未完成原因分析, footer 合计.
* ``ningxia`` — 银川市本级部门项目支出绩效自评表(2021年) (yzwku.com copy): 自评得分 in the header, funds
  block 年初预算数 | 调整预算数(A) | 全年执行数(B) | 执行率(B/A) with no 分值/得分, indicators under
  项目决策 / 项目管理 / 项目产出 / 项目效益 with 参考分值 | 指标值(A) | 全年实际值(B) | 得分, 预算执行率
  scored as an indicator, unused 指标1:/指标2: rows.
* ``hebei`` — the national annex layout printing whole percents (86%) and whole scores (9).
* ``anhui`` — the national annex layout as 池州市贵池区 publishes it: 年度资金总额: / 其中:本年财政拨款,
  一级指标 with its points (产出指标(50分)), 达成预期指标 as actuals, unused 二级指标 rows.

Each builder returns ``Expected``: every field the reader must get, and the printed errors
the checks must find as ``(check, cell)`` pairs — nothing else may be flagged. The
figures are chosen by hand (see the comments), not computed by xlperf.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter


@dataclass
class Pct:
    """A number shown with a percent format (what Excel stores for 86%)."""
    value: float
    fmt: str = "0%"


@dataclass
class Expected:
    name: str
    key: str = ""
    department: str = ""
    unit: str = ""
    year: int = 0
    money_unit: str = "万元"
    funds: dict = field(default_factory=dict)        # row -> (initial, budget, executed, rate)
    funds_weight: D | None = None
    funds_rate: D | None = None
    funds_score: D | None = None
    total_score: D | None = None
    indicators: list = field(default_factory=list)   # (l1, l2, l3, target, weight, actual, score)
    profile: str = ""                                # the profile the checks should infer
    errors: set = field(default_factory=set)         # {(check, cell)} every printed error


class Sheet:
    """Rows of cells written from A1; remembers where things are for the expectations."""

    def __init__(self):
        self.rows: list[list] = []

    def row(self, *cells) -> int:
        self.rows.append(list(cells))
        return len(self.rows)          # the Excel row number

    def cell(self, row: int, col: int) -> str:   # col 0-based
        return f"{get_column_letter(col + 1)}{row}"

    def save(self, path: Path, title="自评表") -> Path:
        wb = Workbook()
        ws = wb.active
        ws.title = title
        for r, cells in enumerate(self.rows, 1):
            for c, v in enumerate(cells, 1):
                if v is None or v == "":
                    continue
                if isinstance(v, Pct):
                    ws.cell(r, c, v.value).number_format = v.fmt
                else:
                    ws.cell(r, c, v)
        wb.save(path)
        return path


def _d(x) -> D | None:
    return None if x is None else D(str(x))


# ====================================================================== 四川

def sichuan(path: Path, errors: bool = False) -> Expected:
    """Sichuan: budget 251.89 spent 251.89 → 100.00% × 权重 10 = 10 under every rule. With
    ``errors``: the total's 预算执行数 prints 251.89 while its sub-rows add to 250.89, and the
    合计 row prints 98 where the scores add to 97."""
    s = Sheet()
    s.row("报表编号:510000_0013zp")
    s.row("部门预算项目支出绩效自评表(2023年度)")
    s.row("项目名称", "51000021R000000019951-工资性支出")
    s.row("主管部门", "青神县发展和改革局本级", "", "", "实施单位（盖章）", "青神县发展和改革局")
    s.row("项目基本情况", "1.项目年度目标完成情况", "项目年度目标", "", "", "年度目标完成情况")
    s.row("", "", "保障工资及时足额发放", "", "", "工资按月足额发放")
    fh = s.row("预算执行情况(10分)", "年度预算数(万元)", "年初预算", "调整后预算数", "预算执行数", "预算执行率",
               "权重", "得分", "原因")
    fiscal_exec = 250.89 if errors else 251.89
    tr = s.row("", "总额", 238.93, 251.89, 251.89, Pct(1, "0.00%"), 10, 10,
               "1.预算执行率=预算执行数/调整后预算数")
    fr = s.row("", "其中:财政资金", 238.93, 251.89, fiscal_exec, Pct(0.996 if errors else 1, "0.00%"), "/", "/")
    s.row("", "财政专户管理资金", 0, 0, 0, Pct(0, "0.00%"), "/", "/")
    s.row("", "单位资金", 0, 0, 0, Pct(0, "0.00%"), "/", "/")
    s.row("", "其他资金", "", "", "", "", "/", "/")
    s.row("绩效指标(90分)", "一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "完成值", "权重", "得分",
          "未完成原因分析")
    s.row("", "产出指标", "数量指标", "发放(缴纳)覆盖率", "=", 100, "%", 100, 30, 30)
    s.row("", "", "时效指标", "按时发放率", "≥", 95, "%", 90, 30, 28, "个别月份延迟发放")
    s.row("", "", "成本指标", "成本控制数", "≤", 260, "万元", 251.89, 10, 10)
    s.row("", "效益指标", "社会效益指标", "足额保障率(参保率)", "定性", "有效保障", "", "有效保障", 20, 19,
          "个别人员缴纳滞后")
    tot = s.row("", "合计", "", "", "", "", "", "", 100, 98 if errors else 97)
    s.row("评价结论", "完成年度目标")
    s.save(path)
    e = Expected(name="工资性支出", key="51000021R000000019951", department="青神县发展和改革局本级",
                 unit="青神县发展和改革局", year=2023, money_unit="万元",
                 funds={"年度资金总额": ("238.93", "251.89", "251.89", "100"),
                        "当年财政拨款": ("238.93", "251.89", str(fiscal_exec), "99.6" if errors else "100"),
                        "财政专户管理资金": ("0", "0", "0", "0"), "单位资金": ("0", "0", "0", "0")},
                 funds_weight=D(10), funds_rate=D(100), funds_score=D(10),
                 total_score=D(98 if errors else 97),
                 indicators=[("产出指标", "数量指标", "发放(缴纳)覆盖率", "=100%", "30", "100", "30"),
                             ("产出指标", "时效指标", "按时发放率", "≥95%", "30", "90", "28"),
                             ("产出指标", "成本指标", "成本控制数", "≤260万元", "10", "251.89", "10"),
                             ("效益指标", "社会效益指标", "足额保障率(参保率)", "有效保障", "20", "有效保障", "19")],
                 profile="shanghai")
    if errors:
        # 250.89 / 251.89 = 99.6030…%: the printed 99.60 (0.00%) is right under every rounding; 0 decimals not.
        e.funds["当年财政拨款"] = ("238.93", "251.89", "250.89", "99.6")
        e.errors = {("subrows", s.cell(tr, 4)), ("total", s.cell(tot, 9))}
    del fh, fr
    return e


# ====================================================================== 宁夏/银川

def ningxia(path: Path, errors: bool = False) -> Expected:
    """Yinchuan: 64.8 of 64.8 spent → 100%; 预算执行率 (参考分值 10) is an indicator. Clean: it
    scores 10 and 自评得分 98 is the rows' sum. With ``errors``: 预算执行率 scores 9 at 100%, the
    total's 全年执行数 118.2 ≠ its sub-rows' 118.0, and 自评得分 99 (rows add to 97)."""
    s = Sheet()
    s.row("银川市本级部门项目支出绩效自评表(2021年)")
    s.row("项目名称", "初中公用经费", "", "", "", "", "")
    s.row("主管部门", "银川市教育局", "", "", "实施单位", "银川市第六中学")
    hr = s.row("自评得分", 98 if errors else 96, "", "", "财政审核评分", "")
    s.row("项目资金(万元)", "", "年初预算数", "调整预算数(A)", "全年执行数(B)", "执行率(B/A)")
    if errors:
        tr = s.row("", "年度资金总额", 118, 118.2, 118.2, Pct(1))
        s.row("", "其中:当年财政拨款", 118, 118, 118, Pct(1))
        s.row("", "其他资金", 0, 0.2, 0, Pct(0))
    else:
        tr = s.row("", "年度资金总额", 64.8, 64.8, 64.8, Pct(1))
        s.row("", "其中:当年财政拨款", 64.8, 64.8, 64.8, Pct(1))
        s.row("", "其他资金", 0, 0, 0, Pct(0))
    s.row("年度总体目标", "年初设定目标", "", "", "年度总体目标完成情况")
    s.row("", "保障学校正常运行", "", "", "学校正常运行")
    s.row("一级指标", "二级指标", "三级指标", "参考分值", "指标值(A)", "全年实际值(B)", "得分", "未完成原因分析及改进措施")
    s.row("项目决策(10分)", "项目目标", "完整性", 4, "目标明确", "目标明确、内容细化", 4)
    s.row("", "项目立项", "相关性", 6, "按照学校管理标准", "按照学校管理标准管理", 6)
    er = s.row("项目管理(25分)", "投入管理", "预算执行率", 10, "—", Pct(1), 9 if errors else 10)
    s.row("", "财务管理", "财务管理制度有效性", 7, "财务制度健全", "财务制度健全，会计核算规范", 7)
    s.row("", "项目实施", "管理制度有效性", 8, "严格执行", "严格执行相关管理制度", 8)
    s.row("项目产出(30分)", "数量指标(10分)", "保障人数", 10, "2370人", "2370人", 10)
    s.row("", "", "指标2:", "", "", "", "")
    s.row("", "时效指标(10分)", "公用经费完成时间", 10, "2021年12月完成", "2021年12月完成", 10)
    s.row("", "成本指标(10分)", "办公所需成本", 10, "≤15万元", "16万元", 9, "物价上涨")
    s.row("项目效益(35分)", "经济效益指标", "指标1:", "", "", "", "")
    s.row("", "", "指标2:", "", "", "", "")
    s.row("", "社会效益指标", "改善学校的办学条件", 15, "改善办学条件", "改善办学条件", 13, "部分设施待更新")
    s.row("", "可持续影响指标", "社会认可的办学环境", 10, "社会认可", "社会认可", 9, "仍需改进")
    s.row("", "服务对象满意度指标", "学生和老师满意度", 10, "≥90%", Pct(0.95), 10)
    s.row("", "", "……", "", "", "", "")
    s.save(path)
    rows = [("项目决策(10分)", "项目目标", "完整性", "目标明确", "4", "目标明确、内容细化", "4"),
            ("项目决策(10分)", "项目立项", "相关性", "按照学校管理标准", "6", "按照学校管理标准管理", "6"),
            ("项目管理(25分)", "财务管理", "财务管理制度有效性", "财务制度健全", "7", "财务制度健全，会计核算规范", "7"),
            ("项目管理(25分)", "项目实施", "管理制度有效性", "严格执行", "8", "严格执行相关管理制度", "8"),
            ("项目产出(30分)", "数量指标(10分)", "保障人数", "2370人", "10", "2370人", "10"),
            ("项目产出(30分)", "时效指标(10分)", "公用经费完成时间", "2021年12月完成", "10", "2021年12月完成", "10"),
            ("项目产出(30分)", "成本指标(10分)", "办公所需成本", "≤15万元", "10", "16万元", "9"),
            ("项目效益(35分)", "社会效益指标", "改善学校的办学条件", "改善办学条件", "15", "改善办学条件", "13"),
            ("项目效益(35分)", "可持续影响指标", "社会认可的办学环境", "社会认可", "10", "社会认可", "9"),
            ("项目效益(35分)", "服务对象满意度指标", "学生和老师满意度", "≥90%", "10", "95%", "10")]
    funds = ({"年度资金总额": ("118", "118.2", "118.2", "100"), "当年财政拨款": ("118", "118", "118", "100"),
              "其他资金": ("0", "0.2", "0", "0")} if errors else
             {"年度资金总额": ("64.8", "64.8", "64.8", "100"), "当年财政拨款": ("64.8", "64.8", "64.8", "100"),
              "其他资金": ("0", "0", "0", "0")})
    e = Expected(name="初中公用经费", department="银川市教育局", unit="银川市第六中学", year=2021, money_unit="万元",
                 funds=funds, funds_weight=D(10), funds_rate=D(100), funds_score=D(9 if errors else 10),
                 total_score=D(98 if errors else 96), indicators=rows, profile="ningxia")
    if errors:
        # executed 118.2 vs 118.0; the budget row adds up (118 + 0.2). 9 + 86 = 95 ≠ 98.
        e.errors = {("subrows", s.cell(tr, 4)), ("funds_score", s.cell(er, 6)), ("total", s.cell(hr, 1))}
    return e


# ====================================================================== 河北

def _national(s: Sheet, title: str, year_row: str, name: str, dept: str, unit: str, money: str,
              funds_rows: list, goal: tuple, header: list, ind_rows: list, total: list, grade=None, note=""):
    s.row(title, "", "", "", "", "", "", note)
    s.row(year_row)
    s.row("项目名称", name)
    s.row("主管部门", dept, "", "", "实施单位", unit)
    s.row(money, "", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分")
    rows = [s.row("", *fr) for fr in funds_rows]
    s.row("年度总体目标", "预期目标", "", "", "实际完成情况")
    s.row("", goal[0], "", "", goal[1])
    s.row("绩效指标", *header)
    for ir in ind_rows:
        s.row("", *ir)
    tot = s.row(*total)
    if grade:
        s.row("评分等级", grade)
    return rows, tot


def hebei(path: Path, errors: bool = False) -> Expected:
    """Hebei prints whole percents and whole scores, half up: 103.5 / 120 = 86.25% → 86%,
    86% × 10 = 8.6 → 9. With ``errors``: the funds score prints 8 and the 总分 adds it up."""
    s = Sheet()
    score = 8 if errors else 9
    funds = [("年度资金总额", 120, 120, 103.5, 10, Pct(0.86), score),
             ("其中：当年财政拨款", 120, 120, 103.5, "—", Pct(0.86), "—"),
             ("上年结转资金", "", "", "", "—", "", "—"),
             ("其他资金", "", "", "", "—", "", "—")]
    header = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"]
    inds = [("产出指标", "数量指标", "检查户数", "≥300户", "290户", 20, 19, "部分企业停产"),
            # 8 × 87 / 90 = 7.73… → 8 (whole number, half up)
            ("", "质量指标", "合格率", "≥90%", Pct(0.87), 8, 8, "抽检不合格"),
            ("", "时效指标", "完成及时率", "＝100%", Pct(1), 12, 12),
            ("", "成本指标", "成本控制", "≤120万元", "103.5万元", 10, 10),
            ("效益指标", "社会效益指标", "群众安全感", "有效提升", "有效提升", 30, 30),
            ("满意度指标", "服务对象满意度指标", "企业满意度", "≥90%", Pct(0.93), 10, 10)]
    # 9 + 19 + 8 + 12 + 10 + 30 + 10 = 98 (errors: 97)
    rows, tot = _national(s, "项目支出绩效自评表", "(2022年度)", "食品安全监管", "河北省某县市场监督管理局",
                          "某县市场监督管理局", "项目资金（万元）", funds, ("完成检查300户", "完成检查290户"), header,
                          inds, ["总分", "", "", "", "", "", 100, 90 + score - 1], grade="优")
    s.save(path)
    e = Expected(name="食品安全监管", department="河北省某县市场监督管理局", unit="某县市场监督管理局", year=2022,
                 funds={"年度资金总额": ("120", "120", "103.5", "86"), "当年财政拨款": ("120", "120", "103.5", "86")},
                 funds_weight=D(10), funds_rate=D(86), funds_score=D(score), total_score=D(90 + score - 1),
                 indicators=[("产出指标", "数量指标", "检查户数", "≥300户", "20", "290户", "19"),
                             ("产出指标", "质量指标", "合格率", "≥90%", "8", "87%", "8"),
                             ("产出指标", "时效指标", "完成及时率", "＝100%", "12", "100%", "12"),
                             ("产出指标", "成本指标", "成本控制", "≤120万元", "10", "103.5万元", "10"),
                             ("效益指标", "社会效益指标", "群众安全感", "有效提升", "30", "有效提升", "30"),
                             ("满意度指标", "服务对象满意度指标", "企业满意度", "≥90%", "10", "93%", "10")],
                 profile="hebei")
    if errors:
        e.errors = {("funds_score", s.cell(rows[0], 7))}
    return e


# ====================================================================== 安徽

def anhui(path: Path, errors: bool = False) -> Expected:
    """Anhui (池州 layout): 本年财政拨款 90 of 90 spent → 100% → 10. With ``errors`` the total row
    prints 0 / 0 / 0 with rate 0 and score 0 (as a published form does): the sub-row spent its
    whole budget, so budget and executed of the total are wrong and the score should be 10."""
    s = Sheet()
    total = ("年度资金总额:", 0, 0, 0, 10, Pct(0, "0.00%"), 0) if errors else \
        ("年度资金总额:", 90, 90, 90, 10, Pct(1, "0.00%"), 10)
    funds = [total, ("其中:本年财政拨款", 90, 90, 90, "", "", ""), ("上年结转资金",), ("其他资金",)]
    header = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"]
    inds = [("产出指标(50分)", "数量指标", "委托业务项目数量", "≥50个", "52个", 20, 20),
            ("", "质量指标", "经费支出合规性", "严格执行相关制度规定", "达成预期指标", 10, 10),
            ("", "时效指标", "提交报告及时性", "在项目计划完成时间内完成", "达成预期指标", 10, 10),
            ("", "成本指标", "项目总成本", "≤90万元", "90万元", 10, 10),
            ("效益指标(30分)", "经济效益指标", "", "", "", "", ""),
            ("", "社会效益指标", "对维护市场公平的影响程度", "效果明显", "达成预期指标", 30, 30),
            ("满意度指标(10分)", "满意度指标", "公众满意度", "≥90%", Pct(0.95), 10, 10)]
    ts = 90 if errors else 100
    rows, tot = _national(s, "项目支出绩效自评表", "(2022年度)", "委托业务项目", "219-池州市贵池区棠溪镇人民政府",
                          "219001-池州市贵池区棠溪镇人民政府", "项目资金", funds,
                          ("完成委托业务", "完成委托业务"), header, inds, ["总分", "", "", "", "", "", 100, ts],
                          note="单位：万元")
    s.save(path)
    e = Expected(name="委托业务项目", department="219-池州市贵池区棠溪镇人民政府",
                 unit="219001-池州市贵池区棠溪镇人民政府", year=2022,
                 funds={"年度资金总额": ("0", "0", "0", "0") if errors else ("90", "90", "90", "100"),
                        "当年财政拨款": ("90", "90", "90", None)},
                 funds_weight=D(10), funds_rate=D(0 if errors else 100), funds_score=D(0 if errors else 10),
                 total_score=D(ts),
                 indicators=[("产出指标(50分)", "数量指标", "委托业务项目数量", "≥50个", "20", "52个", "20"),
                             ("产出指标(50分)", "质量指标", "经费支出合规性", "严格执行相关制度规定", "10", "达成预期指标", "10"),
                             ("产出指标(50分)", "时效指标", "提交报告及时性", "在项目计划完成时间内完成", "10", "达成预期指标",
                              "10"),
                             ("产出指标(50分)", "成本指标", "项目总成本", "≤90万元", "10", "90万元", "10"),
                             ("效益指标(30分)", "社会效益指标", "对维护市场公平的影响程度", "效果明显", "30", "达成预期指标", "30"),
                             ("满意度指标(10分)", "满意度指标", "公众满意度", "≥90%", "10", "95%", "10")],
                 profile="shanghai")
    if errors:
        e.errors = {("subrows", s.cell(rows[0], 3)), ("subrows", s.cell(rows[0], 4)),
                    ("subrows", s.cell(rows[0], 7))}   # the score, from the sub-rows' sums
    return e


VARIANTS = {"sichuan": sichuan, "ningxia": ningxia, "hebei": hebei, "anhui": anhui}


def build_all(folder: Path) -> dict[str, Expected]:
    """Every variant, clean and with its printed errors, as ``<variant>[_errors].xlsx``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, build in VARIANTS.items():
        for errors in (False, True):
            fname = f"{name}{'_errors' if errors else ''}.xlsx"
            out[fname] = build(folder / fname, errors)
    return out


if __name__ == "__main__":   # python tests/region_forms.py OUT_DIR: write the corpus to look at
    import sys
    for f in build_all(Path(sys.argv[1] if len(sys.argv) > 1 else "region_forms")):
        print(f)
