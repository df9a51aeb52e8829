"""The forms as data: one :class:`Project` per 申报表 or 自评表.

Amounts, weights and scores are ``Decimal`` (or ``None`` for an empty cell); target and
actual values stay the text the user typed, since the notation *is* the data
(parse it with :mod:`xlperf.notation`). Every workflow — register, generator,
recalc, harvester — moves these objects; none of them invents its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal

#: The rounding of the official Shanghai forms (seeds 001, 003, 004): what a form uses
#: unless it says otherwise.
DEFAULT_PROFILE = "shanghai"

DECLARATION = "申报表"
SELF_EVALUATION = "自评表"
KINDS = (DECLARATION, SELF_EVALUATION)

#: Rows of the 自评表 funds block, in printed order.
FUNDS_ROWS = ("年度资金总额", "当年财政拨款", "上年结转资金", "其他资金")
LEVEL1 = ("产出指标", "效益指标", "满意度指标")
#: The forms' money units and what one of each is in 元.
TO_YUAN = {"元": Decimal(1), "万元": Decimal(10000)}
MONEY_UNITS = tuple(TO_YUAN)


@dataclass
class FundsLine:
    """One row of the 自评表 funds block."""
    initial: Decimal | None = None    # 年初预算数
    budget: Decimal | None = None     # 全年预算数
    executed: Decimal | None = None   # 全年执行数
    rate: Decimal | None = None       # 执行率 as printed (read from a form; every row may print one)


@dataclass
class DeclaredFunds:
    """The 申报表's two-column funds block."""
    project_total: Decimal | None = None      # 项目资金总额
    project_fiscal: Decimal | None = None     # 其中：财政资金
    project_other: Decimal | None = None      # 其他资金
    annual_total: Decimal | None = None       # 年度资金申请总额
    annual_fiscal: Decimal | None = None      # 其中：当年财政拨款
    annual_carryover: Decimal | None = None   # 上年结转资金
    annual_other: Decimal | None = None       # 其他资金


@dataclass
class Indicator:
    level1: str
    level2: str
    level3: str
    target: str                       # 年度指标值, as written
    weight: Decimal | None = None     # 分值
    actual: str | Decimal | None = None   # 实际完成值, as typed (text or number)
    score: Decimal | None = None      # 得分 as entered or printed
    note: str = ""                    # 偏差原因分析及改进措施
    override: Decimal | None = None   # 人工调整得分 (xlperf workbooks: column 人工调整得分)
    # The 年度指标值 cell held what cannot be read as typed (a formula such as =A1*2, a date):
    # (why, what the cell held); ``target`` is then blank and the check says this once.
    unread_target: tuple[str, str] | None = None


@dataclass
class Project:
    kind: str                          # 申报表 | 自评表
    year: int
    name: str                          # 项目名称
    department: str = ""               # 主管部门
    unit: str = ""                     # 实施单位
    key: str = ""                      # 项目编号, or a register key
    money_unit: str = "元"             # 元 | 万元
    profile: str = DEFAULT_PROFILE
    layout: str = ""                   # the published layout a form was read as ("ningxia", "sichuan"; "" national)
    # 申报表
    nature: str = ""                   # 项目性质
    category: str = ""                 # 项目类别
    start: str = ""                    # 计划开始日期 (ISO)
    end: str = ""                      # 计划完成日期
    declared: DeclaredFunds = field(default_factory=DeclaredFunds)
    total_goal: str = ""               # 项目总目标
    annual_goal: str = ""              # 年度总体目标 (自评表: 预期目标)
    # 自评表
    funds: dict[str, FundsLine] = field(default_factory=lambda: {r: FundsLine() for r in FUNDS_ROWS})
    funds_weight: Decimal | None = None
    funds_rate: Decimal | None = None      # printed/entered 执行率 of 年度资金总额
    funds_score: Decimal | None = None     # printed/entered 得分 of 年度资金总额
    actual_result: str = ""                # 实际完成情况
    total_score: Decimal | None = None     # printed/entered 总分
    grade: str = ""                        # printed/entered 评分等级
    indicators: list[Indicator] = field(default_factory=list)
    # Where the figures came from (harvest/recalc): field path -> cell, e.g.
    # "funds_score" -> "H6", "funds.年度资金总额.budget" -> "D6", "indicators.3.score" -> "G17".
    source_file: str = ""
    source_sheet: str = ""
    cells: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.unit} / {self.name}"


def field_names(cls) -> list[str]:
    return [f.name for f in fields(cls)]
