"""Issue 13 item 8: every sample form prints whole. The whole sample year is generated from
the register, printed to PDF by LibreOffice in one call, and read back with pdftotext:
every registered project name appears whole and inside its row (LibreOffice keeps clipped
text in the PDF under a clip path, so the words' boxes are checked: between the year line
above and the 主管部门 row below), every page carries its whole footer 「第 i 页，共 N 页」
inside the page, and no prose of the generator (a placeholder reason) is printed."""
from __future__ import annotations

import html
import re
import subprocess

import pytest

import openpyxl

import needs
from xlperf import cli, layout, libreoffice
from xlperf.generate import MANIFEST, STATUS_NEW, read_manifest
from xlperf.register import SAMPLE_REGISTER, read_register


def _margins() -> tuple[float, float]:
    ws = openpyxl.load_workbook(layout.template_path("申报表")).active
    return ws.page_margins.bottom * 72, ws.page_margins.footer * 72


BOTTOM, FOOTER = _margins()   # in points; the same page setup on both forms (layout._page)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    needs.require("soffice")
    needs.require("pdftotext")
    root = tmp_path_factory.mktemp("print")
    assert cli.main(["generate", str(SAMPLE_REGISTER), "--out", str(root / "forms"), "-j", "1", "-q"]) == 1
    rows = [r for r in read_manifest(root / "forms" / MANIFEST) if r["状态"] == STATUS_NEW]
    # distinct stems for the one soffice call: the folder (unit) goes into the name
    flat = root / "flat"
    flat.mkdir()
    sources = []
    for i, r in enumerate(rows):
        dst = flat / f"{i:03d}.xlsx"
        dst.write_bytes((root / "forms" / r["文件"]).read_bytes())
        sources.append((r, dst))
    pdfs = libreoffice.to_pdf([d for _, d in sources], root / "pdf", timeout=900)
    texts = {}
    for (r, src), pdf in zip(sources, sorted(pdfs)):
        assert pdf.stem == src.stem
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True,
                               check=True).stdout
        texts[r["项目序号"]] = (text, _pages(boxes))
    return texts


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def _pages(xhtml: str) -> list[tuple[float, list[tuple[float, float, str]]]]:
    """Per page: its height and its words as (yMin, yMax, text), in reading order."""
    out = []
    for m in re.finditer(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', xhtml, re.S):
        words = [(float(w[1]), float(w[3]), html.unescape(w[4])) for w in _WORD.findall(m.group(2))]
        out.append((float(m.group(1)), words))
    return out


def test_every_registered_name_prints_whole(printed):
    reg = read_register(SAMPLE_REGISTER)
    names = {e.project.key: e.project.name for e in reg.entries}
    assert len(printed) == 69 and set(printed) <= set(names)
    for key, (text, pages) in printed.items():
        assert _squeeze(names[key]) in _squeeze(text), (key, names[key])
        _, words = pages[0]
        top = max(y1 for _, y1, w in words if "年度）" in w)             # the （2023年度） line above
        bottom = min(y0 for y0, _, w in words if w == "主管部门")          # the next row's label
        i = next(i for i, (_, _, w) in enumerate(words) if w == "项目名称")
        got, seen = _squeeze(names[key]), ""
        for y0, y1, w in words[i + 1:]:
            if not got.startswith(seen + w):
                continue                                                  # a label of the same row
            seen += w
            assert top <= y0 and y1 <= bottom, (key, w, y0, y1, top, bottom)
            if seen == got:
                break
        assert seen == got, (key, seen)


def test_every_page_has_its_whole_footer(printed):
    for key, (text, pages) in printed.items():
        footers = re.findall(r"第\s*(\d+)\s*页，\s*共\s*(\d+)\s*页", text)
        assert [int(i) for i, _ in footers] == list(range(1, len(pages) + 1)), key
        assert {int(n) for _, n in footers} == {len(pages)}, key
        # LibreOffice draws the footer in the band between the two margins and clips it there
        # (0.6/0.5 in left 7 pt: the line was cut in half). Glyph boxes may overhang by ~0.5 pt.
        for height, words in pages:
            y0, y1 = max(((y0, y1) for y0, y1, w in words if w.startswith("第")), key=lambda b: b[1])  # lowest
            assert height - BOTTOM <= y0 and y1 <= height - FOOTER + 2, (key, y0, y1, height)


def test_no_prose_of_the_generator_is_printed(printed):
    for key, (text, _) in printed.items():
        assert "未写明理由" not in text and "请补充" not in text, key


def test_group_labels_are_printed_again_after_a_page_break(tmp_path):
    """A form of 36 indicators runs over several pages; each page shows the 一级指标 of its
    first indicator row inside the page body. (A merge running over a page break is drawn
    once, centred on the whole merge and clipped: on the next page its text sits in the top
    margin, outside the body, where pdftotext still finds it — hence the position check.)"""
    import copy

    from xlperf import generate, seeds
    from xlperf.model import LEVEL1

    needs.require("soffice")
    needs.require("pdftotext")
    forms = {f.id: f for f in seeds.load()}
    sources, groups = [], {}
    for fid in ("001-02", "000-01"):
        p = copy.deepcopy(forms[fid].project)
        extra = []
        for i in range(30):
            ind = copy.deepcopy(p.indicators[i % len(p.indicators)])
            ind.level3 += f"第{i}项"
            ind.weight = ind.score = ind.override = None
            extra.append(ind)
        p.indicators = sorted(p.indicators + extra, key=lambda x: LEVEL1.index(x.level1))
        groups.update({_squeeze(i.level3): i.level1 for i in p.indicators})
        path = tmp_path / f"long-{fid}.xlsx"
        path.write_bytes(generate.render(p))
        sources.append(path)
    top = openpyxl.load_workbook(layout.template_path("申报表")).active.page_margins.top * 72
    for pdf in libreoffice.to_pdf(sources, tmp_path / "pdf", timeout=600):
        boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True,
                               check=True).stdout
        pages = _pages(boxes)
        assert len(pages) >= 2, pdf
        for i, (height, words) in enumerate(pages[1:], 2):
            body = [(y0, w) for y0, y1, w in words if top <= y0 and y1 <= height - BOTTOM]
            first = next(groups[w] for _, w in sorted(body) if w in groups)
            assert first in {w for _, w in body}, (pdf.name, i, first)
        if "000-01" in pdf.name:
            # the 申报表's 绩效指标 (column A): once on every page, inside the page body — not
            # drawn centred on a merge that runs over the break (off the table on a later page)
            for i, (height, words) in enumerate(pages, 1):
                found = [(y0, y1) for y0, y1, w in words if w == "绩效指标"]
                assert len(found) == 1, (pdf.name, i, found)
                (y0, y1), = found
                assert top <= y0 and y1 <= height - BOTTOM, (pdf.name, i, y0, y1)
                header = min(y for y, _, w in words if w == "一级指标")
                assert abs(y0 - header) < 3, (pdf.name, i, y0, header)   # on the header row


def _ppm(path) -> tuple[int, int, bytes]:
    """Width, height and RGB bytes of a binary PPM (pdftoppm -ppm)."""
    data = path.read_bytes()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P6" and parts[3] == b"255"
    return int(parts[1]), int(parts[2]), parts[4]


def test_a_row_that_cannot_be_scored_says_so_on_paper(tmp_path):
    """Issue 12 item 4 / 13 item 8, printed by LibreOffice: a score, total and grade that cannot
    be computed print 「待核」 (not a blank); 0.95 typed against ≥90% prints 「请核对」 beside it;
    a docked score whose 偏差原因 is empty has that cell highlighted red, and stays blank."""
    from decimal import Decimal

    from xlperf import generate
    from xlperf.model import SELF_EVALUATION, FundsLine, Indicator, Project

    needs.require("soffice")
    needs.require("pdftotext")
    needs.require("pdftoppm")
    p = Project(SELF_EVALUATION, 2024, "待核示例", "主管部门", "单位", key="pending", profile="excel")
    p.funds["年度资金总额"] = FundsLine(Decimal(100), Decimal(100), Decimal(90))
    p.funds_weight = Decimal(10)
    p.indicators = [
        Indicator("产出指标", "数量指标", "日期样式", "≥10(次)", Decimal(30), "1/2"),
        Indicator("产出指标", "质量指标", "小数比率", "≥90%", Decimal(30), "0.95"),
        Indicator("效益指标", "社会效益指标", "扣分无理由", "≥10(次)", Decimal(20), "5"),
        Indicator("满意度指标", "服务对象满意度指标", "满分行", "建立健全", Decimal(10), "达成指标"),
    ]
    src = tmp_path / "pending.xlsx"
    src.write_bytes(generate.render(p))
    pdf, = libreoffice.to_pdf([src], tmp_path / "pdf", timeout=300)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    lines = {name: next(l for l in text.splitlines() if name in l) for name in ("日期样式", "小数比率", "满分行")}
    assert "待核" in lines["日期样式"] and "请核对" in lines["小数比率"] and "待核" not in lines["满分行"]
    assert "待核" in next(l for l in text.splitlines() if "总分" in l)
    assert "待核" in next(l for l in text.splitlines() if "评分等级" in l)
    assert "未写明理由" not in text and "请补充" not in text

    # the 偏差原因 cell of the docked row is red, the full-marks row's is the input yellow
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout
    pages = _pages(boxes)
    words = {w[4]: tuple(map(float, w[:4])) for w in _WORD.findall(boxes)}
    note_x = (words["偏差原因分析及改进措施"][0] + words["偏差原因分析及改进措施"][2]) / 2
    height = pages[0][0]
    subprocess.run(["pdftoppm", "-r", "72", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    w, h, rgb = _ppm(next(tmp_path.glob("page*.ppm")))
    scale = h / height

    def colour(name):
        y = (words[name][1] + words[name][3]) / 2
        i = (int(y * scale) * w + int(note_x * scale)) * 3
        return tuple(rgb[i:i + 3])

    red, plain_ = colour("扣分无理由"), colour("满分行")
    assert red[0] > 240 and red[1] < 215 and red[2] < 220, red        # FFC7CE
    assert plain_[1] > 240 and plain_[2] > 215, plain_                  # FFF8E1 (input cells)
