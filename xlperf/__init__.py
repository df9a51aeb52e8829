"""xlperf — 财政项目支出绩效申报表 / 自评表 in Excel: one scoring engine behind
templates, Excel functions, bulk generation and harvest."""
from .errors import NotationError, ProfileError, ScoringError, XlperfError
from .notation import Judgement, Op, Qualitative, Quantity, parse_actual, parse_target
from .scoring import (IndicatorResult, Override, assess_indicator, execution_rate, funds_score, grade,
                      indicator_score, total)

__version__ = "0.1.0"

__all__ = [
    "execution_rate", "funds_score", "indicator_score", "assess_indicator", "total", "grade",
    "Override", "IndicatorResult", "parse_target", "parse_actual", "Quantity", "Qualitative",
    "Judgement", "Op", "XlperfError", "NotationError", "ScoringError", "ProfileError",
]
