"""The questions asked across years, each a function returning a DataFrame.

Every threshold comes from the ``[history]`` table of a scoring profile
(``xlperf/profiles/*.toml``); targets and actuals are read with :mod:`xlperf.notation`
and "met" is decided by :func:`xlperf.scoring.assess_indicator` — once per distinct text
or pair, then joined in SQL, so the cost grows with the number of distinct notations,
not with the number of indicator rows.

Each flagged row carries ``file``, ``sheet`` and ``cell``: where a person checks it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pandas as pd

from .. import profiles as _profiles
from .. import scoring
from ..errors import XlperfError
from ..model import DEFAULT_PROFILE, TO_YUAN
from ..notation import Judgement, Quantity, parse_actual, parse_target
from . import identity
from .store import DEC, HistoryError

SELF = "自评表"
DECL = "申报表"


@dataclass(frozen=True)
class Settings:
    profile: str
    drift_margin: Decimal
    easy_ratio: Decimal
    easy_years: int
    missed_years: int
    inflation_total: Decimal
    inflation_rate: Decimal
    inflation_funds_fraction: Decimal
    rename_similarity: Decimal
    funds_weight: Decimal


def settings(profile: str | None = None) -> Settings:
    """The ``[history]`` thresholds of ``profile`` (default: the default profile)."""
    name = profile or DEFAULT_PROFILE
    raw, source = _profiles.section(name, "history")
    p = _profiles.load(name)

    def dec(key):
        if key not in raw:
            raise HistoryError(f"评分规则文件「{source}」缺少 [history] 设置项 {key}。")
        v = raw[key]
        try:
            if isinstance(v, (bool, float)):
                raise InvalidOperation
            return Decimal(str(v))
        except InvalidOperation:
            raise HistoryError(f"评分规则文件「{source}」中 history.{key} 的值 {v!r} 不是有效数字"
                               f"（小数请写成带引号的字符串）。") from None

    def whole(key):
        d = dec(key)
        if d != d.to_integral_value() or d < 1:
            raise HistoryError(f"评分规则文件「{source}」中 history.{key} 应为不小于 1 的整数。")
        return int(d)

    return Settings(p.name, dec("drift_margin"), dec("easy_ratio"), whole("easy_years"), whole("missed_years"),
                    dec("inflation_total"), dec("inflation_rate"), dec("inflation_funds_fraction"),
                    dec("rename_similarity"), p.funds_weight)


def frame(con, sql: str, params=None) -> pd.DataFrame:
    """A query as a DataFrame that keeps DECIMAL as ``Decimal`` (DuckDB's .df() makes floats)."""
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return pd.DataFrame(cur.fetchall(), columns=cols)


# ------------------------------------------------------------------ prepared views

def _register(con, name: str, df: pd.DataFrame, dec_cols=()) -> None:
    con.register("_py", df)
    try:
        select = ", ".join(f"CAST(\"{c}\" AS {DEC}) AS \"{c}\"" if c in dec_cols else f"\"{c}\"" for c in df.columns)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM _py")
    finally:
        con.unregister("_py")


def _target_row(text):
    try:
        v = parse_target(text)
    except XlperfError:
        return (text, "unreadable", None, None, None)
    if isinstance(v, Quantity):
        return (text, "quantity", v.op.value, format(v.value, "f"), v.unit)
    return (text, "qualitative", None, None, None)


def _actual_row(text):
    try:
        v = parse_actual(text)
    except XlperfError:
        return (text, None, None, None)
    if isinstance(v, Quantity):
        return (text, format(v.value, "f"), v.unit, None)
    return (text, None, None, v.judgement.value if v.judgement else None)


def _missed(target, actual, profile) -> bool | None:
    """True when the rules say the target was not met (a 部分达成/未达成 judgement counts)."""
    if actual is None or str(actual).strip() == "":
        return None
    try:
        r = scoring.assess_indicator(target, actual, 1, profile)
    except XlperfError:
        return None
    if r.met is not None:
        return not r.met
    j = getattr(r.actual, "judgement", None)
    if j is None:
        return None
    return j is not Judgement.ACHIEVED


def prepare(con, s: Settings) -> None:
    """Temp tables the analyses share: ``fx`` (every current form with its effective project
    id ``pid``), ``main`` (one form per pid, year and kind), ``ix`` (indicators with key,
    parsed target/actual and ``missed``)."""
    con.execute("SET enable_progress_bar = false")
    # Side tables are keyed by coalesce(text, ''): an equality join is a hash join (IS NOT DISTINCT FROM is not).
    units = [r[0] for r in con.execute("SELECT DISTINCT coalesce(unit, '') FROM forms").fetchall()]
    _register(con, "_units", pd.DataFrame({"unit": units, "unit_key": [identity.unit_key(u) for u in units]}))
    con.execute("""
        CREATE OR REPLACE TEMP TABLE fx AS
        SELECT f.*, coalesce(o.uid, f.uid) AS pid, dense_rank() OVER (ORDER BY coalesce(o.uid, f.uid)) AS pno,
               (o.uid IS NOT NULL) AS overridden, u.unit_key, fl.path AS file,
               coalesce(fl.sha256, '') AS sha256
        FROM forms f
        JOIN files fl ON fl.file_id = f.file_id
        LEFT JOIN _units u ON u.unit = coalesce(f.unit, '')
        LEFT JOIN (SELECT year, unit, name, any_value(uid) AS uid FROM overrides GROUP BY ALL) o
               ON o.year = f.year AND o.unit = f.unit AND o.name = f.name""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE main AS
        SELECT * EXCLUDE (rn) FROM (
          SELECT *, row_number() OVER (PARTITION BY pid, year, kind ORDER BY form_id DESC) AS rn FROM fx)
        WHERE rn = 1""")
    l3 = [r[0] for r in con.execute("SELECT DISTINCT coalesce(level3, '') FROM indicators").fetchall()]
    keys = [identity.indicator_key(x) for x in l3]
    key_no = {k: n for n, k in enumerate(dict.fromkeys(keys))}
    _register(con, "_l3", pd.DataFrame({"level3": l3, "l3id": [key_no[k] for k in keys]}))
    targets = [r[0] for r in con.execute("SELECT DISTINCT coalesce(target, '') FROM indicators").fetchall()]
    _register(con, "_t", pd.DataFrame([_target_row(t) for t in targets],
                                      columns=["target", "t_kind", "t_op", "t_val", "t_unit"]), ["t_val"])
    actuals = [r[0] for r in con.execute("SELECT DISTINCT coalesce(actual, '') FROM indicators").fetchall()]
    _register(con, "_a", pd.DataFrame([_actual_row(a) for a in actuals],
                                      columns=["actual", "a_val", "a_unit", "a_judgement"]), ["a_val"])
    pairs = con.execute("SELECT DISTINCT coalesce(target, ''), coalesce(actual, '') FROM indicators i "
                        "JOIN main m USING (form_id) "
                        "WHERE m.kind = ?", [SELF]).fetchall()
    _register(con, "_m", pd.DataFrame([(t, a, _missed(t, a, s.profile)) for t, a in pairs],
                                      columns=["target", "actual", "missed"]).astype({"missed": "boolean"}))
    # ix holds numbers and short codes only (1.5 M rows of file paths and names cost ~20 s to
    # materialise); the flagged rows get their names, texts and cells from ``_show``.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ix AS
        SELECT i.form_id, i.idx, m.pno, m.year, m.kind = '{SELF}' AS self,
               l.l3id * 10000 + row_number() OVER (PARTITION BY i.form_id, l.l3id ORDER BY i.idx) AS ik,
               t.t_kind, t.t_op, t.t_val, t.t_unit, a.a_val, a.a_unit, a.a_judgement, x.missed
        FROM indicators i
        JOIN main m USING (form_id)
        LEFT JOIN _l3 l ON l.level3 = coalesce(i.level3, '')
        LEFT JOIN _t t ON t.target = coalesce(i.target, '')
        LEFT JOIN _a a ON a.actual = coalesce(i.actual, '')
        LEFT JOIN _m x ON x.target = coalesce(i.target, '') AND x.actual = coalesce(i.actual, '')""")
    # (_m holds 自评表 pairs only; a 申报表 row has no actual, so its pair gives missed NULL either way.
    # A condition on m here would turn the hash join into a nested loop.)


def _show(alias: str = "h") -> str:
    """FROM-clause tail giving a set ``{alias}`` of (form_id, idx) its form ``m`` and indicator ``i``."""
    return (f"JOIN main m ON m.form_id = {alias}.form_id "
            f"JOIN indicators i ON i.form_id = {alias}.form_id AND i.idx = {alias}.idx")


# ------------------------------------------------------------------ per unit and year

def unit_year(con, s: Settings) -> pd.DataFrame:
    """Per unit and year (自评表): projects, budget and executed in 元, execution rate, mean funds
    score and total, and the grade distribution."""
    yuan = " ".join(f"WHEN '{u}' THEN {v}" for u, v in TO_YUAN.items())
    df = frame(con, f"""
        SELECT m.unit_key, arg_max(m.unit, m.year) AS unit, m.year, count(*) AS projects,
               sum(fu.budget * CASE coalesce(m.money_unit, '元') {yuan} ELSE 1 END) AS budget_yuan,
               sum(fu.executed * CASE coalesce(m.money_unit, '元') {yuan} ELSE 1 END) AS executed_yuan,
               sum(m.funds_score) AS funds_score_sum, count(m.funds_score) AS funds_score_n,
               sum(m.total_score) AS total_sum, count(m.total_score) AS total_n,
               count(*) FILTER (WHERE m.grade = '优') AS grade_优,
               count(*) FILTER (WHERE m.grade = '良') AS grade_良,
               count(*) FILTER (WHERE m.grade = '中') AS grade_中,
               count(*) FILTER (WHERE m.grade = '差') AS grade_差,
               count(*) FILTER (WHERE coalesce(m.grade, '') NOT IN ('优', '良', '中', '差')) AS grade_未填
        FROM main m LEFT JOIN funds fu ON fu.form_id = m.form_id AND fu.row = '年度资金总额'
        WHERE m.kind = '{SELF}'
        GROUP BY m.unit_key, m.year ORDER BY unit, m.year""")
    # unit names: the latest spelling per unit key for every year
    latest = df.groupby("unit_key")["unit"].last() if len(df) else {}
    df["unit"] = [latest[k] for k in df["unit_key"]] if len(df) else df["unit"]

    def mean(total, n):
        return None if not n else scoring.excel_round(Decimal(total) / n, 2, "half_up")

    def rate(budget, executed):
        try:
            return scoring.execution_rate(budget, executed, s.profile) if budget else None
        except XlperfError:
            return None

    df["rate"] = [rate(b, e) for b, e in zip(df["budget_yuan"], df["executed_yuan"])]
    df["funds_score"] = [mean(t, n) for t, n in zip(df["funds_score_sum"], df["funds_score_n"])]
    df["total"] = [mean(t, n) for t, n in zip(df["total_sum"], df["total_n"])]
    return df.drop(columns=["funds_score_sum", "funds_score_n", "total_sum", "total_n"])


# ------------------------------------------------------------------ targets across years

_HIGHER = "('≥', '>')"
_LOWER = "('≤', '<')"
_SAME_UNIT_A = "(p.a_unit IS NULL OR p.t_unit IS NULL OR p.a_unit = p.t_unit)"


def drift(con, s: Settings) -> pd.DataFrame:
    """Target drift: a quantitative target lowered (≤/< targets: raised) or a ≥/> target kept,
    after the previous year's actual beat it by ``drift_margin``; and the same indicator
    missed ``missed_years`` years running."""
    m = s.drift_margin
    pairs = frame(con, f"""
        WITH h AS (
          SELECT c.form_id, c.idx, p.form_id AS pf, p.idx AS pidx, c.year, c.ik,
                 CASE WHEN c.t_val = p.t_val THEN '上年大幅超额完成后指标值未提高'
                      ELSE '上年大幅超额完成后指标值反而放宽' END AS pattern
          FROM ix c JOIN ix p ON p.pno = c.pno AND p.ik = c.ik AND p.year = c.year - 1 AND p.self
          WHERE c.t_kind = 'quantity' AND p.t_kind = 'quantity' AND c.t_op = p.t_op
            AND c.t_unit IS NOT DISTINCT FROM p.t_unit AND p.a_val IS NOT NULL AND {_SAME_UNIT_A}
            AND ((p.t_op IN {_HIGHER} AND p.t_val > 0 AND p.a_val >= p.t_val * (1 + CAST(? AS {DEC}))
                  AND c.t_val <= p.t_val)
              OR (p.t_op IN {_LOWER} AND p.a_val <= p.t_val * (1 - CAST(? AS {DEC})) AND c.t_val > p.t_val)))
        SELECT m.unit, m.name, h.year, i.level3, m.kind, ip.target AS prev_target, ip.actual AS prev_actual,
               i.target, h.pattern, m.file, m.sheet, i.cell_target AS cell, m.pid, h.ik
        FROM h {_show()} JOIN indicators ip ON ip.form_id = h.pf AND ip.idx = h.pidx
        """, [str(m), str(m)])
    missed = _runs(con, "missed", s.missed_years)
    missed["pattern"] = f"连续 {s.missed_years} 年未达成"
    missed["prev_target"] = missed["prev_actual"] = None
    cols = ["unit", "name", "year", "level3", "pattern", "prev_target", "prev_actual", "target", "actual", "file",
            "sheet", "cell", "pid", "ik"]
    pairs["actual"] = None
    out = pd.concat([pairs[cols], missed[cols]], ignore_index=True)
    return out.sort_values(["unit", "name", "year", "level3", "pattern"], kind="stable").reset_index(drop=True)


def _runs(con, flag_sql: str, years: int) -> pd.DataFrame:
    """自评表 indicator rows where ``flag_sql`` holds for ``years`` consecutive years (ending there)."""
    return frame(con, f"""
        WITH e AS (SELECT form_id, idx, pno, ik, year FROM ix WHERE self AND ({flag_sql})),
        g AS (SELECT *, year - row_number() OVER (PARTITION BY pno, ik ORDER BY year) AS grp FROM e),
        h AS (SELECT *, row_number() OVER (PARTITION BY pno, ik, grp ORDER BY year) AS run FROM g)
        SELECT m.unit, m.name, h.year, i.level3, i.target, i.actual, m.file, m.sheet, i.cell_actual AS cell,
               m.pid, h.ik, h.run
        FROM h {_show()} WHERE h.run >= {int(years)} ORDER BY m.unit, m.name, h.year, i.level3""")


def easy_targets(con, s: Settings) -> pd.DataFrame:
    """≥/> targets whose actual reached ``easy_ratio`` × target ``easy_years`` years running."""
    ratio = format(s.easy_ratio, "f")
    df = _runs(con, f"t_kind = 'quantity' AND t_op IN {_HIGHER} AND t_val > 0 AND a_val IS NOT NULL "
                    f"AND (a_unit IS NULL OR t_unit IS NULL OR a_unit = t_unit) "
                    f"AND a_val >= t_val * CAST('{ratio}' AS {DEC})", s.easy_years)
    return df


# ------------------------------------------------------------------ self-scores

def inflation(con, s: Settings) -> pd.DataFrame:
    """Self-score inflation: 总分 ≥ ``inflation_total`` with 执行率 < ``inflation_rate``, or every
    indicator at full marks while the funds score is below ``inflation_funds_fraction`` of its 分值."""
    df = frame(con, f"""
        WITH ind AS (SELECT form_id, count(*) AS n,
                            bool_and(score IS NOT NULL AND weight IS NOT NULL AND score >= weight) AS all_full
                     FROM indicators GROUP BY form_id)
        SELECT m.unit, m.name, m.year, m.total_score, m.grade,
               m.funds_rate, fu.budget, fu.executed,
               m.funds_score, coalesce(m.funds_weight, CAST(? AS {DEC})) AS funds_weight,
               coalesce(ind.all_full, FALSE) AND ind.n > 0 AS all_full,
               m.file, m.sheet, m.cell_total_score, m.cell_funds_rate, m.cell_funds_score, m.pid
        FROM main m
        LEFT JOIN funds fu ON fu.form_id = m.form_id AND fu.row = '年度资金总额'
        LEFT JOIN ind ON ind.form_id = m.form_id
        WHERE m.kind = '{SELF}' AND (
          -- the same two rules as below, exact (no division), so Python sees only the flagged forms
          (m.total_score >= CAST(? AS {DEC}) AND (m.funds_rate < CAST(? AS {DEC}) OR (m.funds_rate IS NULL
           AND fu.budget > 0 AND fu.executed * 100 < CAST(? AS {DEC}) * fu.budget)))
          OR (coalesce(ind.all_full, FALSE) AND m.funds_score
              < coalesce(m.funds_weight, CAST(? AS {DEC})) * CAST(? AS {DEC})))""",
        [str(s.funds_weight), str(s.inflation_total), str(s.inflation_rate), str(s.inflation_rate),
         str(s.funds_weight), str(s.inflation_funds_fraction)])
    rows = []

    def rate_of(r):
        if r.funds_rate is not None:
            return r.funds_rate
        try:
            return scoring.execution_rate(r.budget, r.executed, s.profile) if r.budget else None
        except XlperfError:
            return None

    for r in df.itertuples(index=False):
        why = []
        rate = rate_of(r)
        if r.total_score is not None and rate is not None and r.total_score >= s.inflation_total \
                and rate < s.inflation_rate:
            why.append(f"总分 {r.total_score.normalize():f} ≥ {s.inflation_total} 而执行率 "
                       f"{rate.normalize():f}% < {s.inflation_rate}%")
            cell = r.cell_funds_rate or r.cell_total_score
        if r.all_full and r.funds_score is not None and r.funds_weight \
                and r.funds_score < r.funds_weight * s.inflation_funds_fraction:
            why.append(f"全部指标满分而预算执行率得分 {r.funds_score.normalize():f} 低于分值 "
                       f"{r.funds_weight.normalize():f} 的 {(s.inflation_funds_fraction * 100).normalize():f}%")
            cell = r.cell_funds_score or r.cell_total_score
        if why:
            rows.append({"unit": r.unit, "name": r.name, "year": r.year, "total_score": r.total_score,
                         "grade": r.grade, "rate": rate, "funds_score": r.funds_score, "reason": "；".join(why),
                         "file": r.file, "sheet": r.sheet, "cell": cell, "pid": r.pid})
    return pd.DataFrame(rows, columns=["unit", "name", "year", "total_score", "grade", "rate", "funds_score",
                                       "reason", "file", "sheet", "cell", "pid"])


# ------------------------------------------------------------------ projects

def lifecycle(con, s: Settings, statuses: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Per project and year with a 自评表 loaded: 新增, 延续 or 结束 (ended: present the year
    before, absent this year). The first loaded year is 首年. ``statuses``: only these."""
    only = "" if not statuses else "WHERE status IN (" + ", ".join(f"'{x}'" for x in statuses) + ")"
    return frame(con, f"""
        SELECT * FROM (
        WITH y AS (SELECT DISTINCT year FROM main WHERE kind = '{SELF}'),
        ymin AS (SELECT min(year) AS y0 FROM y),
        present AS (SELECT pid, year, unit, name, file, sheet, cell_name FROM main WHERE kind = '{SELF}')
        SELECT c.unit, c.name, c.year,
               CASE WHEN c.year = (SELECT y0 FROM ymin) OR NOT EXISTS (SELECT 1 FROM y WHERE y.year = c.year - 1)
                    THEN '首年' WHEN p.pid IS NULL THEN '新增' ELSE '延续' END AS status,
               c.file, c.sheet, c.cell_name AS cell, c.pid
        FROM present c LEFT JOIN present p ON p.pid = c.pid AND p.year = c.year - 1
        UNION ALL
        SELECT p.unit, p.name, y.year, '结束' AS status, p.file, p.sheet, p.cell_name AS cell, p.pid
        FROM present p JOIN y ON y.year = p.year + 1
        WHERE NOT EXISTS (SELECT 1 FROM present c WHERE c.pid = p.pid AND c.year = y.year)
        ) {only} ORDER BY year, status, unit, name""")


def lifecycle_counts(con, s: Settings) -> dict[str, int]:
    """How many (project, year) rows :func:`lifecycle` gives per status."""
    df = lifecycle(con, s)
    return {k: int(v) for k, v in df["status"].value_counts().items()}


def ambiguous(con, s: Settings) -> pd.DataFrame:
    """Possible renames, splits and merges: a project that ended and a new one in the same unit
    with alike names. Listed for a person (项目对应 sheet); never merged here."""
    life = lifecycle(con, s, ("新增", "结束"))
    out = []
    for year in sorted(set(life["year"])):
        ended = life[(life["year"] == year) & (life["status"] == "结束")]
        new = life[(life["year"] == year) & (life["status"] == "新增")]
        if ended.empty or new.empty:
            continue

        def items(df):
            return [{"uid": r.pid, "unit_key": identity.unit_key(r.unit),
                     "name_key": identity.strip_years(identity.clean(r.name)), "unit": r.unit, "name": r.name,
                     "file": r.file, "sheet": r.sheet, "cell": r.cell} for r in df.itertuples(index=False)]
        for c in identity.candidates(items(ended), items(new), s.rename_similarity):
            out.append({"year": year, "kind": c["kind"], "similarity": c["similarity"], "unit": c["new_unit"],
                        "old_name": c["old_name"], "old_uid": c["old_uid"], "new_name": c["new_name"],
                        "new_uid": c["new_uid"], "file": c["new_file"], "sheet": c["new_sheet"],
                        "cell": c["new_cell"], "old_file": c["old_file"]})
    return pd.DataFrame(out, columns=["year", "kind", "similarity", "unit", "old_name", "old_uid", "new_name",
                                      "new_uid", "file", "sheet", "cell", "old_file"])


def identities(con, s: Settings) -> pd.DataFrame:
    """Every (year, unit, name) with its automatic project id, basis, confidence and the override
    in force: the 项目对应 sheet an admin edits."""
    return frame(con, """
        SELECT year, kind, unit, name, code, uid AS auto_uid, uid_basis AS basis, uid_confidence AS confidence,
               CASE WHEN overridden THEN pid END AS override_uid, file
        FROM fx ORDER BY unit, name, year, kind""")


def indicator_changes(con, s: Settings) -> pd.DataFrame:
    """Indicators added or dropped between a project's 申报表 and 自评表 of one year, and between
    its 自评表 of consecutive years."""
    # SEMI/ANTI joins on the narrow ix (correlated NOT EXISTS over wide rows took minutes at 1.5 M rows)
    return frame(con, f"""
        WITH d AS (SELECT form_id, idx, pno, year, ik FROM ix WHERE NOT self),
        e AS (SELECT form_id, idx, pno, year, ik FROM ix WHERE self),
        both_kinds AS (SELECT DISTINCT pno, year FROM d INTERSECT SELECT DISTINCT pno, year FROM e),
        cont AS (SELECT DISTINCT pno, year FROM e INTERSECT SELECT DISTINCT pno, year + 1 FROM e),
        e_both AS (SELECT * FROM e SEMI JOIN both_kinds USING (pno, year)),
        d_both AS (SELECT * FROM d SEMI JOIN both_kinds USING (pno, year)),
        e_cur AS (SELECT * FROM e SEMI JOIN cont USING (pno, year)),
        e_prev AS (SELECT e.* FROM e SEMI JOIN cont c ON c.pno = e.pno AND c.year = e.year + 1),
        h AS (
          SELECT x.*, x.year AS shown_year, '申报表→自评表' AS between, '自评表新增' AS change
          FROM e_both x ANTI JOIN d ON d.pno = x.pno AND d.year = x.year AND d.ik = x.ik
          UNION ALL
          SELECT x.*, x.year, '申报表→自评表', '自评表缺少'
          FROM d_both x ANTI JOIN e ON e.pno = x.pno AND e.year = x.year AND e.ik = x.ik
          UNION ALL
          SELECT x.*, x.year, '上年→本年', '新增指标'
          FROM e_cur x ANTI JOIN e ON e.pno = x.pno AND e.year = x.year - 1 AND e.ik = x.ik
          UNION ALL
          SELECT x.*, x.year + 1, '上年→本年', '删除指标'
          FROM e_prev x ANTI JOIN e ON e.pno = x.pno AND e.year = x.year + 1 AND e.ik = x.ik)
        SELECT m.unit, m.name, h.shown_year AS year, h.between, h.change, i.level3, i.target, m.file, m.sheet,
               i.cell_target AS cell, m.pid
        FROM h {_show()}
        ORDER BY 1, 2, 3, 4, 5, 6""")


#: name → (function, Chinese title); the report's sections, in order.
ANALYSES = {
    "unit_year": (unit_year, "各单位各年度执行率、得分与等级"),
    "drift": (drift, "指标值漂移"),
    "easy_targets": (easy_targets, "偏低的指标值（连续超额完成）"),
    "inflation": (inflation, "自评分偏高"),
    "lifecycle": (lifecycle, "项目新增、延续与结束"),
    "ambiguous": (ambiguous, "待人工确认的项目对应（可能改名、拆分、合并）"),
    "indicator_changes": (indicator_changes, "指标增减"),
}
