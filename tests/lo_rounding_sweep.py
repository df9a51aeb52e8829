"""How LibreOffice Calc rounds, compared with exact decimal arithmetic.

Run as a script (pytest does not collect it):

    python tests/lo_rounding_sweep.py [--n 5000] [--seed 20240601]
        [--max-budget 10000000.00] [--out report.md]

Part 1 evaluates a fixed list of classic rounding formulas. Part 2 sweeps random
(budget, executed) pairs with 2-decimal amounts and compares the execution rate
E/B*100 rounded to 2 decimals (down, up, half-up) in LibreOffice against exact
rational arithmetic, for three formula variants:

* ``direct``    ROUNDDOWN/ROUNDUP/ROUND(E/B*100,2)
* ``int``       integer cents a=ROUND(E*100,0), b=ROUND(B*100,0), then INT of
                a*10000/b, (a*10000+b-1)/b, (2*a*10000+b)/(2*b)
* ``int_fixed`` as ``int`` but each INT(N/D) is corrected with exact integer
                products: k - (k*D>N) + ((k+1)*D<=N)  (single-cell formulas)

Pairs mix random ones with constructed exact boundaries, exact ROUND ties and
the nearest possible misses of both (see make_pairs). ``lo_model`` is an
empirical model of LibreOffice 7.4 that the sweep checks itself against.
Python float results (no spreadsheet) are listed as a reference.
"""

from __future__ import annotations

import argparse
import ast
import math
import random
import sys
import tempfile
from collections import Counter, defaultdict
from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    localcontext,
)
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openpyxl  # noqa: E402

from xlperf import libreoffice as lo  # noqa: E402

# --- part 1: fixed formulas --------------------------------------------------

# (function, argument expression, digits); digits None = one-argument function.
FIXED = [
    ("ROUND", "1.005", 2),
    ("ROUND", "2.675", 2),
    ("ROUND", "0.285", 2),
    ("ROUNDDOWN", "0.29*100", 0),
    ("ROUNDDOWN", "1.1*3", 1),
    ("ROUNDUP", "0.1*3", 1),
    ("ROUNDDOWN", "131.01/132.2*100", 2),
    ("ROUNDUP", "2716431.92/2730000*100", 2),
    ("ROUND", "99.51*10/100", 2),
    ("ROUNDDOWN", "4.35*100", 0),
    ("INT", "4.35*100", None),
    ("TRUNC", "4.35*100", None),
    ("ROUNDDOWN", "1.005*1000/1000*100", 0),
    # extra probes
    ("ROUND", "-2.675", 2),
    ("ROUND", "1.015", 2),
    ("ROUNDDOWN", "0.58*100", 0),
    ("ROUNDUP", "0.7*100", 0),
    ("ROUNDUP", "1.1*1.1", 2),
    ("INT", "0.29*100", None),
    ("TRUNC", "1.1*3", 1),
]

# Intermediate values: RAWSUBTRACT does not snap near-equal results to 0
# (LibreOffice's "-" and comparisons do), so it shows the double LibreOffice
# really holds. Then probes of the snapping width of ROUNDDOWN/ROUNDUP/INT.
PROBES = [
    "=_xlfn.ORG.LIBREOFFICE.RAWSUBTRACT(0.29*100,29)",
    "=0.29*100-29",
    "=IF(0.29*100=29,1,0)",
    "=0.29*100<29",
    "=_xlfn.ORG.LIBREOFFICE.RAWSUBTRACT(4.35*100,435)",
    "=_xlfn.ORG.LIBREOFFICE.RAWSUBTRACT(1.1*3,3.3)",
    "=_xlfn.ORG.LIBREOFFICE.RAWSUBTRACT(0.1+0.2,0.3)",
    "=0.1+0.2=0.3",
    "=ROUNDDOWN(0.9999999999995,0)",
    "=ROUNDDOWN(0.999999999999,0)",
    "=INT(0.9999999999995)",
    "=ROUNDUP(1.000000000001,0)",
    "=ROUNDDOWN(99.0899999999991,2)",
    "=ROUNDDOWN(1234567890123.456,2)",
    "=1000000000000001>1000000000000000",
]

_DMODE = {"ROUND": ROUND_HALF_UP, "ROUNDDOWN": ROUND_DOWN, "ROUNDUP": ROUND_UP,
          "INT": ROUND_FLOOR, "TRUNC": ROUND_DOWN}


def _eval(expr: str, num):
    """Evaluate + - * / expression with literals converted by ``num``."""
    tree = ast.parse(expr, mode="eval")

    class Lit(ast.NodeTransformer):
        def visit_Constant(self, node):
            return ast.Call(ast.Name("num", ast.Load()),
                            [ast.Constant(repr(node.value))], [])

    tree = ast.fix_missing_locations(Lit().visit(tree))
    return eval(compile(tree, "<expr>", "eval"), {"num": num})


def _round(x: Decimal, digits: int | None, func: str) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-(digits or 0)), rounding=_DMODE[func])


def _formula(func, expr, digits):
    return f"={func}({expr})" if digits is None else f"={func}({expr},{digits})"


def fixed_rows(values: list) -> list[tuple]:
    rows = []
    for (func, expr, digits), got in zip(FIXED, values):
        with localcontext() as ctx:
            ctx.prec = 60
            exact = _round(_eval(expr, Decimal), digits, func)
        # A strict IEEE engine: float arithmetic, then exact rounding of that double.
        ieee_arg = _eval(expr, float)
        ieee = _round(Decimal(ieee_arg), digits, func)
        rows.append((_formula(func, expr, digits), repr(ieee_arg), got, exact, ieee))
    return rows


# --- part 2: random sweep ----------------------------------------------------

MAX_CENTS = 1_000_000_000  # 10,000,000.00


def _cents_log(rng: random.Random, lo_c: int, hi_c: int) -> int:
    """Log-uniform integer in [lo_c, hi_c]."""
    return max(lo_c, min(hi_c, round(math.exp(rng.uniform(math.log(lo_c), math.log(hi_c))))))


def _coprime10(rng: random.Random, hi_c: int) -> int:
    """Log-uniform budget in cents, >= 3 and coprime with 10."""
    while True:
        b = _cents_log(rng, 3, hi_c)
        if b % 2 and b % 5:
            return b


def make_pairs(n: int, seed: int, max_cents: int = MAX_CENTS) -> list[tuple[str, int, int]]:
    """(category, budget cents, executed cents) pairs.

    Categories: random-log / random-uniform (executed <= budget), over-budget
    (up to 3x), exact-2dp (rate is exactly k/100 %), exact-tie (rate is exactly
    (k+1/2)/100 %, a ROUND tie), near-2dp / near-tie (rate*100 or rate*100+1/2
    lies exactly 1/budget_cents away from an integer: the closest a 2-decimal
    pair can come to a boundary without hitting it), edge (hand-picked).
    """
    rng = random.Random(seed)
    m = max_cents
    edges = [(1, 0), (1, 1), (1, 2), (3, 1), (3, 2), (m, 1), (m, m - 1), (m, m), (m - 1, m),
             (13220, 13101), (273000000, 271643192), (100, 29), (10000, 435), (7, 1), (m, 0)]
    pairs = [("edge", b, e) for b, e in edges if b <= m]
    while len(pairs) < n:
        r = rng.random()
        if r < 0.25:
            b = _cents_log(rng, 1, m)
            pairs.append(("random-log", b, rng.randint(0, b)))
        elif r < 0.35:
            b = rng.randint(1, m)
            pairs.append(("random-uniform", b, rng.randint(0, b)))
        elif r < 0.45:
            b = _cents_log(rng, 1, m)
            pairs.append(("over-budget", b, rng.randint(b + 1, 3 * b)))
        elif r < 0.60:
            k = rng.randint(0, 15000)
            step = 10000 // math.gcd(k, 10000)
            b = _cents_log(rng, 1, max(1, m // step)) * step
            pairs.append(("exact-2dp", b, k * b // 10000))
        elif r < 0.70:
            j = 2 * rng.randint(0, 15000) + 1
            step = 20000 // math.gcd(j, 20000)
            b = _cents_log(rng, 1, max(1, m // step)) * step
            pairs.append(("exact-tie", b, j * b // 20000))
        elif r < 0.85:  # a*10000 = K*b -/+ 1
            b = _coprime10(rng, m)
            a = (rng.choice((-1, 1)) * pow(10000, -1, b)) % b + rng.choice((0, 0, b))
            pairs.append(("near-2dp", b, a))
        else:  # 2*a*10000 = J*b -/+ 1, J odd
            b = _coprime10(rng, m)
            a = (rng.choice((-1, 1)) * pow(20000, -1, b)) % b + rng.choice((0, 0, b))
            pairs.append(("near-tie", b, a))
    return pairs[:n]


def _floordiv(n: str, d: str) -> str:
    """Exact floor(N/D) for non-negative integer-valued N, D below 2**53."""
    k = f"INT(({n})/({d}))"
    return f"({k}-({k}*({d})>({n}))+(({k}+1)*({d})<=({n})))"


def sweep_formulas(row: int) -> dict[str, str]:
    b, e = f"A{row}", f"B{row}"
    rate = f"{e}/{b}*100"
    ia, ib = f"ROUND({e}*100,0)", f"ROUND({b}*100,0)"
    n = f"{ia}*10000"
    return {
        "direct/down": f"=ROUNDDOWN({rate},2)",
        "direct/up": f"=ROUNDUP({rate},2)",
        "direct/half": f"=ROUND({rate},2)",
        "int/down": f"=INT({n}/{ib})/100",
        "int/up": f"=-INT(-{n}/{ib})/100",
        "int/half": f"=INT((2*{n}+{ib})/(2*{ib}))/100",
        "int_fixed/down": f"={_floordiv(n, ib)}/100",
        "int_fixed/up": f"={_floordiv(f'{n}+{ib}-1', ib)}/100",
        "int_fixed/half": f"={_floordiv(f'2*{n}+{ib}', f'2*{ib}')}/100",
    }


def expected(bc: int, ec: int) -> dict[str, int]:
    """Exact results in hundredths of a percent."""
    q = Fraction(ec * 10000, bc)
    return {"down": math.floor(q), "up": math.ceil(q), "half": math.floor(q + Fraction(1, 2))}


def python_float(bc: int, ec: int) -> dict[str, float]:
    """What naive Python float code computes (reference, not LibreOffice)."""
    rate = (ec / 100) / (bc / 100) * 100
    return {"down": math.floor(rate * 100) / 100, "up": math.ceil(rate * 100) / 100,
            "half": round(rate, 2)}


def _sig(x: float, digits: int) -> Decimal:
    """The double ``x`` rounded half-up to ``digits`` significant digits."""
    d = Decimal(x)
    if d == 0:
        return d
    return d.quantize(Decimal(1).scaleb(d.adjusted() - digits + 1), rounding=ROUND_HALF_UP)


def lo_model(bc: int, ec: int) -> dict[str, int]:
    """Empirical model of LibreOffice 7.4 for the ``direct`` formulas (hundredths of %).

    ROUNDDOWN/ROUNDUP(x, n) behave as if x were first rounded to 12 significant
    digits; ROUND(x, n) as floor(x*10^n + 0.5) with that sum rounded to 15
    significant digits (LibreOffice's approxFloor).
    """
    rate = (ec / 100) / (bc / 100) * 100  # IEEE, as LibreOffice computes B/A*100
    x12 = _sig(rate, 12) * 100
    half = _sig(rate * 100 + 0.5, 15)
    return {"down": math.floor(x12), "up": math.ceil(x12), "half": math.floor(half)}


def classify(got, k: int) -> str | None:
    """None if ``got`` is the double nearest k/100, else the kind of mismatch."""
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        if got == float(Fraction(k, 100)):
            return None
        return "digit" if round(got * 100) != k else "repr"
    return "error"


def _decade(bc: int) -> str:
    """Budget size class in yuan, e.g. '1e6' for 1,000,000.00 .. 9,999,999.99."""
    return f"1e{len(str(bc)) - 3}" if bc >= 100 else "<1"


def run_sweep(pairs, timeout: float = 600):
    """Evaluate fixed formulas and the sweep in one LibreOffice batch."""
    names = list(sweep_formulas(2))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "fixed"
        for i, (func, expr, digits) in enumerate(FIXED, 1):
            ws.cell(i, 1, _formula(func, expr, digits))
        for i, probe in enumerate(PROBES, 1):
            ws.cell(i, 3, probe)
        sw = wb.create_sheet("sweep")
        sw.append(["budget", "executed", *names])
        for row, (_, bc, ec) in enumerate(pairs, 2):
            sw.append([bc / 100, ec / 100, *sweep_formulas(row).values()])
        wb.save(tmp / "rounding.xlsx")
        [out] = lo.recalculate([tmp / "rounding.xlsx"], tmp / "out", timeout=timeout)
        return names, lo.read_values(out, "fixed"), lo.read_values(out, "sweep")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--max-budget", type=Decimal, default=Decimal("10000000.00"),
                    help="largest budget in yuan (default 10,000,000.00)")
    ap.add_argument("--out", type=Path, help="also write the markdown here")
    ap.add_argument("--examples", type=int, default=6)
    args = ap.parse_args(argv)

    max_cents = int(args.max_budget * 100)
    pairs = make_pairs(args.n, args.seed, max_cents)
    names, got_fixed, got_sweep = run_sweep(pairs)

    lines = ["## Part 1: fixed formulas", "",
             "| formula | argument as IEEE double | LibreOffice | exact decimal | strict IEEE |",
             "|---|---|---|---|---|"]
    for formula, arg, got, exact, ieee in fixed_rows(
            [got_fixed.get(f"A{i}") for i in range(1, len(FIXED) + 1)]):
        flag = "" if got is not None and Decimal(repr(got)) == exact else " **≠ exact**"
        lines.append(f"| `{formula}` | {arg} | {got!r}{flag} | {exact} | {ieee} |")
    lines += ["", "| probe | LibreOffice |", "|---|---|"]
    for i, probe in enumerate(PROBES, 1):
        lines.append(f"| `{probe}` | {got_fixed.get(f'C{i}')!r} |")

    from openpyxl.utils import get_column_letter

    col = {name: get_column_letter(3 + j) for j, name in enumerate(names)}
    mism: dict[str, Counter] = defaultdict(Counter)
    by_size: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list] = defaultdict(list)
    cats = Counter(c for c, _, _ in pairs)
    sizes = Counter(_decade(bc) for _, bc, _ in pairs)
    model_disagree = []
    for row, (cat, bc, ec) in enumerate(pairs, 2):
        exp = expected(bc, ec)
        results = {n: got_sweep.get(f"{col[n]}{row}") for n in names}
        results.update({f"python-float/{m}": v for m, v in python_float(bc, ec).items()})
        model = lo_model(bc, ec)
        for mode in ("down", "up", "half"):
            if classify(results[f"direct/{mode}"], model[mode]):
                model_disagree.append((mode, bc, ec, results[f"direct/{mode}"], model[mode]))
        for name, got in results.items():
            k = exp[name.split("/")[1]]
            kind = classify(got, k)
            if kind:
                mism[name][cat] += 1
                mism[name]["kind:" + kind] += 1
                by_size[name][_decade(bc)] += 1
                if len(examples[name]) < args.examples:
                    examples[name].append((cat, bc, ec, got, Decimal(k) / 100))

    all_names = names + [f"python-float/{m}" for m in ("down", "up", "half")]
    lines += ["", f"## Part 2: sweep of {len(pairs)} pairs (seed {args.seed}, "
                  f"budgets 0.01 .. {args.max_budget})", "",
              "Categories: " + ", ".join(f"{c} {k}" for c, k in sorted(cats.items())), "",
              "Budget sizes (yuan): " + ", ".join(f"{c} {k}" for c, k in sorted(sizes.items())),
              "",
              "| variant | mismatches | by category | by budget size | kind |",
              "|---|---|---|---|---|"]
    for name in all_names:
        c = mism[name]
        total = sum(v for k, v in c.items() if not k.startswith("kind:"))
        bycat = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if not k.startswith("kind:"))
        kinds = ", ".join(f"{k[5:]} {v}" for k, v in sorted(c.items()) if k.startswith("kind:"))
        bysize = ", ".join(f"{k} {v}" for k, v in sorted(by_size[name].items()))
        lines.append(f"| {name} | {total} | {bycat or '-'} | {bysize or '-'} | {kinds or '-'} |")
    lines += ["", f"LibreOffice vs. the 12-digit model (`lo_model`) for the direct formulas: "
                  f"{len(model_disagree)} disagreements"]
    lines += [f"- {mode}: B={Decimal(bc) / 100} E={Decimal(ec) / 100} LO {got!r} model {k / 100}"
              for mode, bc, ec, got, k in model_disagree[: args.examples]]
    lines += ["", "Mismatch examples (budget, executed, got, exact):", ""]
    for name in all_names:
        for cat, bc, ec, got, exp in examples[name]:
            lines.append(f"- {name} [{cat}]: B={Decimal(bc) / 100} E={Decimal(ec) / 100} "
                         f"got {got!r}, exact {exp}")
    lines += ["", "Formulas (row 2):", ""]
    lines += [f"- {n}: `{f}`" for n, f in sweep_formulas(2).items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
