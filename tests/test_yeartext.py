"""``generate --year``: which years in free text move with the form (issue 13 item 3).

The expectations are written by hand from the rule in xlperf/yeartext.py's docstring; the seed
texts are checked by properties that do not depend on the code's output (other years and
document references untouched, every 「2023年度」 moved, moving back restores the text).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from xlperf.yeartext import move_year, names_year

SEEDS = yaml.safe_load((Path(__file__).parent.parent / "workbooks" / "seeds.yaml").read_text(encoding="utf-8"))

CASES = [
    # the form's own period: moves
    ("完成2023年度各项任务", "完成2024年度各项任务", 0),
    ("(2023年-2023年)通过开展", "(2024年-2024年)通过开展", 0),
    ("(2023 年 - 2023年)通过", "(2024 年 - 2024年)通过", 0),
    ("2023年1月-12月完成，2023年底前验收", "2024年1月-12月完成，2024年底前验收", 0),
    ("在2023年完成车辆更新购置工作", "在2024年完成车辆更新购置工作", 0),
    ("计划2023-12-31前完成", "计划2024-12-31前完成", 0),
    ("2023年发布宣传稿10篇", "2024年发布宣传稿10篇", 0),
    # a multi-year span: the project's, not the form's year
    ("2023-2025年建成监测网络", "2023-2025年建成监测网络", 0),
    ("2021-2023年建成监测网络", "2021-2023年建成监测网络", 1),          # ends before 2024: 提醒
    # documents: never moved
    ("依据2023年印发的《三年行动计划（2023-2025年）》开展", "依据2023年印发的《三年行动计划（2023-2025年）》开展", 0),
    ("委员会在2023年12月发布《卫生资源规划》", "委员会在2023年12月发布《卫生资源规划》", 0),
    ("自2023年1月1日起施行", "自2023年1月1日起施行", 0),
    ("沪卫信息[2023]3 号", "沪卫信息[2023]3 号", 0),
    ("按2023年版标准", "按2023年版标准", 0),
    ("我所制定了《2023年监督所工作计划》", "我所制定了《2023年监督所工作计划》", 1),   # a title: 提醒
    # amounts and other years: untouched; unsure: kept with a 提醒
    ("安排资金2023万元", "安排资金2023万元", 0),
    ("2022年度通过整合多方数据", "2022年度通过整合多方数据", 0),
    ("较2023年增长10%", "较2023年增长10%", 1),
    ("系统运维(2023运维)", "系统运维(2023运维)", 1),
]


@pytest.mark.parametrize("text, moved, notes", CASES, ids=[c[0][:12] for c in CASES])
def test_what_moves_and_what_stays(text, moved, notes):
    got, said = move_year(text, 2023, 2024)
    assert got == moved
    assert len(said) == notes, said
    assert all("未改动" in s for s in said)


def test_a_date_the_new_year_lacks_is_kept_with_a_note():
    assert move_year("2024-02-29前完成", 2024, 2025) == ("2024-02-29前完成", [
        "日期「2024-02-29」在 2025 年没有对应的日期，未改动，请核对"])


def test_the_project_name_is_kept_where_a_text_quotes_it():
    text = "2022年设备购置项目中，2022年度完成验收"
    assert move_year(text, 2022, 2023, keep=("2022年设备购置",))[0] == "2022年设备购置项目中，2023年度完成验收"
    assert names_year("系统(2023运维)", 2023) and not names_year("编号12023", 2023)


def _seed_texts():
    for form in SEEDS:
        for p in form["projects"]:
            for attr in ("total_goal", "annual_goal", "actual_result"):
                if p.get(attr):
                    yield form["year"], p.get("name", ""), p[attr]
            for ind in p.get("indicators", ()):
                for attr in ("l3", "target", "actual", "note"):
                    if isinstance(ind.get(attr), str) and ind[attr]:
                        yield form["year"], p.get("name", ""), ind[attr]


def test_seed_texts_move_only_their_own_year():
    seen = 0
    for year, name, text in _seed_texts():
        new = year + 1
        if str(new) in text:
            continue
        moved, _notes = move_year(text, year, new, keep=(name,))
        years = lambda t: re.findall(r"(?<!\d)(?:19|20)\d\d(?!\d)", t)  # noqa: E731
        pairs = list(zip(years(text), years(moved)))
        assert len(pairs) == len(years(text)) == len(years(moved)), text
        assert all(a == b or (a, b) == (str(year), str(new)) for a, b in pairs), text   # no other year touched
        titles = lambda t: re.findall(r"《[^》]*》|[〔\[［][^〕\]］]*[〕\]］]", t)  # noqa: E731
        assert titles(moved) == titles(text), text                    # documents and 文号 as written
        assert moved.count(f"{year}年度") == 0 or f"{year}年度" in name, text
        assert move_year(moved, new, year, keep=(name,))[0] == text   # moving back restores it
        seen += str(year) in text
    assert seen >= 40          # the seeds' (2023年-2023年) spans, 2023年完成…, dates


def test_long_hostile_texts_cost_linear_time_and_few_notes():
    """A 申报表 text is typed by someone else (generate --from reads it): thousands of spaces
    or years must not make the patterns backtrack quadratically, nor flood the 提醒."""
    import time
    texts = ["2023" + " " * 30000, "2023年" + " " * 30000 + "x", "2023" + "\u3000" * 15000 + "年" + " " * 15000,
             "《" + "2023年" * 6000, "2023-" * 6000, "2023年 " * 5000]
    t0 = time.perf_counter()
    for text in texts:
        _moved, notes = move_year(text, 2023, 2024)
        assert len(notes) <= 3
    assert time.perf_counter() - t0 < 5          # quadratic patterns took minutes here
    assert move_year("《" + "2023年" * 6000, 2023, 2024)[1][-1] == "另有 5998 处年份未改动，请核对全文"
