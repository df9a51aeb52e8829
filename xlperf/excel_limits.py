"""Excel's published limits and known repair triggers, checked on a written .xlsx.

Microsoft Excel (and WPS, which follows it) "repairs" a file that exceeds one of these —
dropping the offending validation, formula or name with the dialog 「发现部分内容有问题」 —
or refuses it. We cannot run either program here, so every kind of workbook xlperf writes
is checked against the published specifications instead (sources in docs/excel-limits.md).

:func:`check` takes the bytes (or path) of a workbook and returns the violations as plain
strings naming part, cell and limit; an empty list means the file is inside every limit.
Pure functions over the zip's parts; nothing is evaluated.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from lxml import etree

# --------------------------------------------------------------- the limits
DV_FORMULA = 255          # data-validation formula, list sources included
DV_TITLE = 32             # promptTitle / errorTitle
DV_TEXT = 255             # prompt / error
CELL_FORMULA = 8192       # characters of a cell formula
NESTING = 64              # nested function levels
ARGUMENTS = 255           # arguments to one function
STRING_LITERAL = 255      # a "text" constant inside a formula
CELL_TEXT = 32767         # characters in a cell
HYPERLINK = 255           # hyperlink address
HYPERLINK_WITH_LOCATION = 2079
SHEET_NAME = 31
SHEET_NAME_FORBIDDEN = set("[]:*?/\\")
DEFINED_NAME = 255
HEADER_FOOTER = 255
ROW_HEIGHT = 409          # points
COLUMN_WIDTH = 255        # characters
CELL_STYLES = 64000       # unique cell formats (cellXfs)
NUMBER_FORMATS = 250      # custom number formats (Excel: "between 200 and 250, by language")
FONTS = 512               # Excel 2010 repairs well before its 1,024 nominal global fonts
MAX_ROWS = 1_048_576
MAX_COLS = 16_384

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_q = lambda tag: f"{{{NS}}}{tag}"  # noqa: E731

# Functions Excel 2010 (and WPS) know by their plain name. Newer ones must be written with
# the _xlfn. prefix in the file (IFS, CONCAT, TEXTJOIN, XLOOKUP…), or Excel 2010 shows #NAME?.
EXCEL_2010_FUNCTIONS = frozenset("""
ABS ACCRINT ACCRINTM ACOS ACOSH ADDRESS AGGREGATE AMORDEGRC AMORLINC AND AREAS ASC ASIN ASINH ATAN ATAN2
ATANH AVEDEV AVERAGE AVERAGEA AVERAGEIF AVERAGEIFS BAHTTEXT BESSELI BESSELJ BESSELK BESSELY BETADIST BETAINV
BIN2DEC BIN2HEX BIN2OCT BINOMDIST CALL CEILING CELL CHAR CHIDIST CHIINV CHITEST CHOOSE CLEAN CODE COLUMN
COLUMNS COMBIN COMPLEX CONCATENATE CONFIDENCE CONVERT CORREL COS COSH COUNT COUNTA COUNTBLANK COUNTIF COUNTIFS
COUPDAYBS COUPDAYS COUPDAYSNC COUPNCD COUPNUM COUPPCD COVAR CRITBINOM CUBEKPIMEMBER CUBEMEMBER
CUBEMEMBERPROPERTY CUBERANKEDMEMBER CUBESET CUBESETCOUNT CUBEVALUE CUMIPMT CUMPRINC DATE DATEDIF DATEVALUE
DAVERAGE DAY DAYS360 DB DCOUNT DCOUNTA DDB DEC2BIN DEC2HEX DEC2OCT DEGREES DELTA DEVSQ DGET DISC DMAX DMIN
DOLLAR DOLLARDE DOLLARFR DPRODUCT DSTDEV DSTDEVP DSUM DURATION DVAR DVARP EDATE EFFECT EOMONTH ERF ERFC
ERROR.TYPE EUROCONVERT EVEN EXACT EXP EXPONDIST FACT FACTDOUBLE FALSE FDIST FIND FINDB FINV FISHER FISHERINV
FIXED FLOOR FORECAST FREQUENCY FTEST FV FVSCHEDULE GAMMADIST GAMMAINV GAMMALN GCD GEOMEAN GESTEP GETPIVOTDATA
GROWTH HARMEAN HEX2BIN HEX2DEC HEX2OCT HLOOKUP HOUR HYPERLINK HYPGEOMDIST IF IFERROR IMABS IMAGINARY IMARGUMENT
IMCONJUGATE IMCOS IMDIV IMEXP IMLN IMLOG10 IMLOG2 IMPOWER IMPRODUCT IMREAL IMSIN IMSQRT IMSUB IMSUM INDEX
INDIRECT INFO INT INTERCEPT INTRATE IPMT IRR ISBLANK ISERR ISERROR ISEVEN ISLOGICAL ISNA ISNONTEXT ISNUMBER
ISODD ISPMT ISREF ISTEXT JIS KURT LARGE LCM LEFT LEFTB LEN LENB LINEST LN LOG LOG10 LOGEST LOGINV LOGNORMDIST
LOOKUP LOWER MATCH MAX MAXA MDETERM MDURATION MEDIAN MID MIDB MIN MINA MINUTE MINVERSE MIRR MMULT MOD MODE
MONTH MROUND MULTINOMIAL N NA NEGBINOMDIST NETWORKDAYS NOMINAL NORMDIST NORMINV NORMSDIST NORMSINV NOT NOW
NPER NPV OCT2BIN OCT2DEC OCT2HEX ODD ODDFPRICE ODDFYIELD ODDLPRICE ODDLYIELD OFFSET OR PEARSON PERCENTILE
PERCENTRANK PERMUT PHONETIC PI PMT POISSON POWER PPMT PRICE PRICEDISC PRICEMAT PROB PRODUCT PROPER PV
QUARTILE QUOTIENT RADIANS RAND RANDBETWEEN RANK RATE RECEIVED REGISTER.ID REPLACE REPLACEB REPT RIGHT RIGHTB
ROMAN ROUND ROUNDDOWN ROUNDUP ROW ROWS RSQ RTD SEARCH SEARCHB SECOND SERIESSUM SIGN SIN SINH SKEW SLN SLOPE
SMALL SQL.REQUEST SQRT SQRTPI STANDARDIZE STDEV STDEVA STDEVP STDEVPA STEYX SUBSTITUTE SUBTOTAL SUM SUMIF
SUMIFS SUMPRODUCT SUMSQ SUMX2MY2 SUMX2PY2 SUMXMY2 SYD T TAN TANH TBILLEQ TBILLPRICE TBILLYIELD TDIST TEXT
TIME TIMEVALUE TINV TODAY TRANSPOSE TREND TRIM TRIMMEAN TRUE TRUNC TTEST TYPE UPPER USDOLLAR VALUE VAR VARA
VARP VARPA VDB VLOOKUP WEEKDAY WEEKNUM WEIBULL WORKDAY XIRR XNPV YEAR YEARFRAC YIELD YIELDDISC YIELDMAT
ZTEST
""".split())

_CELL_LIKE = re.compile(r"^(?:[A-Za-z]{1,3}\d+|[Rr]\d*(?:[Cc]\d*)?|[Cc]\d*)$")
_NAME_RE = re.compile(r"^[A-Za-z_\\\u0080-\uffff][A-Za-z0-9_.\\\u0080-\uffff]*$")


# --------------------------------------------------------------- formula text

def _tokens(formula: str):
    """(kind, text) tokens of a formula: 'str' literals, 'func' names (with the '('),
    '(' ')' ',' '{' '}' and other text. Enough for counting, not a full parser."""
    i, n = 0, len(formula)
    while i < n:
        c = formula[i]
        if c == '"':
            j = i + 1
            while j < n:
                if formula[j] == '"':
                    if j + 1 < n and formula[j + 1] == '"':
                        j += 2
                        continue
                    break
                j += 1
            yield "str", formula[i + 1:j].replace('""', '"')
            i = j + 1
        elif c == "'":  # quoted sheet name
            j = formula.find("'", i + 1)
            while j != -1 and j + 1 < n and formula[j + 1] == "'":
                j = formula.find("'", j + 2)
            j = n if j == -1 else j
            yield "other", formula[i:j + 1]
            i = j + 1
        elif c in "(),{}":
            yield c, c
            i += 1
        else:
            m = re.match(r"[A-Za-z_][A-Za-z0-9_.]*(?=\()", formula[i:])
            if m:
                yield "func", m.group(0)
                i += len(m.group(0))
            else:
                yield "other", c
                i += 1


def formula_problems(formula: str, *, limit: int = CELL_FORMULA, udfs=frozenset()) -> list[str]:
    """What is wrong with a formula for Excel: its length, nesting, argument counts,
    string literals and functions Excel 2010 does not know by that name."""
    out = []
    if len(formula) > limit:
        out.append(f"formula of {len(formula)} characters (limit {limit})")
    stack: list[list] = []  # per open parenthesis: [function name or None, commas]
    pending = None
    depth = max_depth = 0
    brace = 0
    for kind, text in _tokens(formula):
        if kind == "str":
            if len(text) > STRING_LITERAL:
                out.append(f"string literal of {len(text)} characters (limit {STRING_LITERAL})")
        elif kind == "func":
            pending = text.upper()
            if not (pending in EXCEL_2010_FUNCTIONS or pending.startswith(("_XLFN.", "_XLL.", "_XLWS."))
                    or pending in udfs):
                out.append(f"function {text} unknown to Excel 2010 (write _xlfn.{text} or avoid it)")
        elif kind == "(":
            stack.append([pending, 0])
            if pending:
                depth += 1
                max_depth = max(max_depth, depth)
            pending = None
        elif kind == ")":
            if stack:
                name, commas = stack.pop()
                if name:
                    depth -= 1
                    if commas + 1 > ARGUMENTS:
                        out.append(f"{name} with {commas + 1} arguments (limit {ARGUMENTS})")
        elif kind == "{":
            brace += 1
        elif kind == "}":
            brace -= 1
        elif kind == "," and not brace and stack:
            stack[-1][1] += 1
    if max_depth > NESTING:
        out.append(f"{max_depth} nested functions (limit {NESTING})")
    return out


def sheet_name_problems(name: str) -> list[str]:
    out = []
    if not name or len(name) > SHEET_NAME:
        out.append(f"sheet name 「{name}」 of {len(name)} characters (1–{SHEET_NAME})")
    bad = SHEET_NAME_FORBIDDEN & set(name)
    if bad:
        out.append(f"sheet name 「{name}」 contains {''.join(sorted(bad))}")
    if name.startswith("'") or name.endswith("'"):
        out.append(f"sheet name 「{name}」 starts or ends with an apostrophe")
    if name.lower() == "history":
        out.append("sheet name 「History」 is reserved by Excel")
    return out


def defined_name_problems(name: str) -> list[str]:
    bare = name.split("!", 1)[-1]
    if bare.startswith("_xlnm."):
        return []
    out = []
    if len(bare) > DEFINED_NAME:
        out.append(f"defined name of {len(bare)} characters (limit {DEFINED_NAME})")
    if not _NAME_RE.match(bare):
        out.append(f"defined name 「{bare}」 has characters Excel does not allow")
    if _CELL_LIKE.match(bare) or bare.upper() in ("TRUE", "FALSE"):
        out.append(f"defined name 「{bare}」 looks like a cell reference")
    else:
        m = re.match(r"^([A-Za-z]{1,3})(\d+)$", bare)
        if m:
            out.append(f"defined name 「{bare}」 looks like a cell reference")
    return out


# --------------------------------------------------------------- the parts

def _text(el) -> str:
    return "".join(el.itertext()) if el is not None else ""


def _parse(data: bytes):
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, huge_tree=True))


def _rels(z: zipfile.ZipFile, part: str) -> dict[str, str]:
    folder, name = part.rsplit("/", 1)
    rels = f"{folder}/_rels/{name}.rels"
    if rels not in z.namelist():
        return {}
    root = _parse(z.read(rels))
    return {r.get("Id"): r.get("Target", "") for r in root}


def _sheet_parts(z: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, part) in workbook order."""
    wb = _parse(z.read("xl/workbook.xml"))
    rels = _rels(z, "xl/workbook.xml")
    out = []
    for s in wb.iter(_q("sheet")):
        target = rels.get(s.get(f"{{{RNS}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        out.append((s.get("name", ""), part))
    return out


def _check_sheet(z, sheet: str, part: str, udfs, out: list[str]) -> None:
    where = lambda cell: f"{part} 「{sheet}」 {cell}"  # noqa: E731
    root = _parse(z.read(part))
    for row in root.iter(_q("row")):
        ht = row.get("ht")
        if ht and float(ht) > ROW_HEIGHT:
            out.append(f"{where('row ' + row.get('r', '?'))}: height {ht} pt (limit {ROW_HEIGHT})")
        r = row.get("r")
        if r and int(r) > MAX_ROWS:
            out.append(f"{where('row ' + r)}: beyond row {MAX_ROWS}")
    for col in root.iter(_q("col")):
        w = col.get("width")
        if w and float(w) > COLUMN_WIDTH:
            out.append(f"{where('columns ' + col.get('min', '?'))}: width {w} (limit {COLUMN_WIDTH})")
    for c in root.iter(_q("c")):
        ref = c.get("r", "?")
        f = c.find(_q("f"))
        if f is not None and f.text:
            for problem in formula_problems(f.text, udfs=udfs):
                out.append(f"{where(ref)}: {problem}")
        is_ = c.find(_q("is"))
        v = c.find(_q("v"))
        text = _text(is_) if is_ is not None else (v.text or "" if c.get("t") == "str" and v is not None else "")
        if len(text) > CELL_TEXT:
            out.append(f"{where(ref)}: text of {len(text)} characters (limit {CELL_TEXT})")
    for dv in root.iter(_q("dataValidation")):
        ref = dv.get("sqref", "?")
        for attr, limit in (("promptTitle", DV_TITLE), ("errorTitle", DV_TITLE), ("prompt", DV_TEXT),
                            ("error", DV_TEXT)):
            value = dv.get(attr) or ""
            if len(value) > limit:
                out.append(f"{where(ref)}: validation {attr} of {len(value)} characters (limit {limit})")
        for tag in ("formula1", "formula2"):
            el = dv.find(_q(tag))
            if el is None or not el.text:
                continue
            if len(el.text) > DV_FORMULA:
                out.append(f"{where(ref)}: validation {tag} of {len(el.text)} characters (limit {DV_FORMULA})")
            for problem in formula_problems(el.text, limit=DV_FORMULA, udfs=udfs):
                if not problem.startswith("formula of"):
                    out.append(f"{where(ref)}: validation {problem}")
    for cf in root.iter(_q("cfRule")):
        for el in cf.iter(_q("formula")):
            for problem in formula_problems(el.text or "", udfs=udfs):
                out.append(f"{where('conditional format')}: {problem}")
    rels = _rels(z, part)
    for h in root.iter(_q("hyperlink")):
        target = rels.get(h.get(f"{{{RNS}}}id"), "") if h.get(f"{{{RNS}}}id") else ""
        location = h.get("location") or ""
        if len(target) > HYPERLINK:
            out.append(f"{where(h.get('ref', '?'))}: hyperlink of {len(target)} characters (limit {HYPERLINK})")
        if len(target) + len(location) > HYPERLINK_WITH_LOCATION:
            out.append(f"{where(h.get('ref', '?'))}: hyperlink with location of "
                       f"{len(target) + len(location)} characters (limit {HYPERLINK_WITH_LOCATION})")
    hf = root.find(_q("headerFooter"))
    if hf is not None:
        for el in hf:
            if len(el.text or "") > HEADER_FOOTER:
                out.append(f"{where(etree.QName(el).localname)}: {len(el.text)} characters (limit {HEADER_FOOTER})")


def check(xlsx, *, udfs=frozenset()) -> list[str]:
    """Every place where the workbook (bytes or path) exceeds a limit of Excel's. ``udfs``:
    function names allowed besides Excel's own (the add-in's, for udf-mode workbooks)."""
    data = Path(xlsx).read_bytes() if isinstance(xlsx, (str, Path)) else bytes(xlsx)
    udfs = frozenset(u.upper() for u in udfs)
    out: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        sheets = _sheet_parts(z)
        seen = set()
        for name, part in sheets:
            for problem in sheet_name_problems(name):
                out.append(f"xl/workbook.xml: {problem}")
            if name.lower() in seen:
                out.append(f"xl/workbook.xml: sheet name 「{name}」 used twice")
            seen.add(name.lower())
            if part in names and "worksheets/" in part:
                _check_sheet(z, name, part, udfs, out)
        wb = _parse(z.read("xl/workbook.xml"))
        for dn in wb.iter(_q("definedName")):
            for problem in defined_name_problems(dn.get("name", "")):
                out.append(f"xl/workbook.xml: {problem}")
            for problem in formula_problems(dn.text or "", udfs=udfs):
                out.append(f"xl/workbook.xml name {dn.get('name')}: {problem}")
        if "xl/sharedStrings.xml" in names:
            for k, si in enumerate(_parse(z.read("xl/sharedStrings.xml")).iter(_q("si"))):
                n = len(_text(si))
                if n > CELL_TEXT:
                    out.append(f"xl/sharedStrings.xml string {k}: {n} characters (limit {CELL_TEXT})")
        if "xl/styles.xml" in names:
            st = _parse(z.read("xl/styles.xml"))
            for tag, limit in (("cellXfs", CELL_STYLES), ("numFmts", NUMBER_FORMATS), ("fonts", FONTS)):
                el = st.find(_q(tag))
                if el is not None and len(el) > limit:
                    out.append(f"xl/styles.xml: {len(el)} {tag} (limit {limit})")
    return out
