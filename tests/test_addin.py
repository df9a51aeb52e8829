"""The Excel add-in: build from the pinned xlwings template, static checks (ribbon XML and
relationship, callbacks against the VBA project read with olevba, RunPython targets),
install/uninstall/status with a simulated Windows, and the ribbon's Python callbacks with
fake xlwings objects and fake xlperf.recalc / xlperf.generate modules."""
from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import types
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from xlperf import cli
from xlperf.addin import build as B
from xlperf.addin import check as C
from xlperf.addin import install as I
from xlperf.addin import ribbon as R
from xlperf.addin import vba as V

pytest.importorskip("oletools.olevba")

NS = {"ui": B.NS_CUSTOMUI_2009}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    result = B.build(out, vba_directory=out / "no-finished-vba")
    return result


@pytest.fixture(scope="module")
def xlam(built) -> bytes:
    return built.path.read_bytes()


def part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name)


def with_part(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, content if info.filename == name else src.read(info.filename))
    return out.getvalue()


# ------------------------------------------------------------------------ build

def test_build_starts_from_the_pinned_template(xlam):
    template = B.template_bytes()
    assert hashlib.sha256(template).hexdigest() == B.TEMPLATE_SHA256
    import xlwings
    assert xlwings.__version__ == B.XLWINGS_VERSION
    # The VBA project is the template's, byte for byte, until a finished one exists.
    assert part(xlam, "xl/vbaProject.bin") == part(template, "xl/vbaProject.bin")
    assert part(xlam, "xl/styles.xml") == part(template, "xl/styles.xml")


def test_build_refuses_another_xlwings_version(monkeypatch):
    import xlwings
    monkeypatch.setattr(xlwings, "__version__", "0.30.0")
    with pytest.raises(B.AddinError, match="xlwings==0.37.8"):
        B.template_bytes()


def test_cli_build_refuses_another_xlwings_version_in_chinese(monkeypatch, tmp_path, capsys):
    import xlwings
    monkeypatch.setattr(xlwings, "__version__", "0.33.1")
    assert cli.main(["addin", "build", "--out", str(tmp_path / "dist")]) == 2
    err = capsys.readouterr().err
    assert "加载项基于 xlwings 0.37.8 的模板生成，当前安装的是 xlwings 0.33.1" in err
    assert "pip install xlwings==0.37.8" in err
    assert not (tmp_path / "dist").exists()                   # nothing half-built


def test_the_pin_in_pyproject_is_the_version_the_addin_is_built_from():
    import tomllib
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = pyproject["project"]["dependencies"]
    assert f"xlwings=={B.XLWINGS_VERSION}" in dependencies
    assert 'pywin32>=224; sys_platform == "win32"' in dependencies   # as xlwings 0.37.8 itself requires


def test_the_built_addin_records_the_xlwings_version(xlam, built):
    assert B.stage_keywords(B.STAGE_TEMPLATE) == "xlperf-vba=template; xlwings=0.37.8"
    assert "<cp:keywords>xlperf-vba=template; xlwings=0.37.8</cp:keywords>" in part(xlam, "docProps/core.xml").decode()
    assert json.loads(built.manifest.read_text(encoding="utf-8"))["xlwings"] == "0.37.8"
    assert 'Public Const XLWINGS_VERSION As String = "0.37.8"' in C.vba_modules(xlam)["xlwings"]


def test_build_is_reproducible(built, tmp_path):
    again = B.build(tmp_path, vba_directory=tmp_path / "none")
    assert again.path.read_bytes() == built.path.read_bytes()
    assert again.sha256 == built.sha256


def test_build_is_reproducible_across_processes(built, tmp_path):
    # Another interpreter, another hash seed, time zone and working folder: the same bytes.
    import os
    import subprocess
    code = ("import sys; from pathlib import Path; from xlperf.addin import build as B; "
            "print(B.build(Path(sys.argv[1]), vba_directory=Path(sys.argv[1]) / 'none').sha256)")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Asia/Shanghai",
           "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "输出")], capture_output=True, text=True,
                         env=env, cwd=tmp_path, check=True, encoding="utf-8")
    assert out.stdout.strip() == built.sha256
    assert (tmp_path / "输出" / "xlperf.xlam").read_bytes() == built.path.read_bytes()


def test_build_writes_manifest_and_vba_sidecar(built):
    manifest = json.loads(built.manifest.read_text(encoding="utf-8"))
    assert manifest["sha256"] == hashlib.sha256(built.path.read_bytes()).hexdigest()
    assert manifest["stage"] == B.STAGE_TEMPLATE == built.stage
    assert manifest["xlwings"] == "0.37.8" and manifest["template_sha256"] == B.TEMPLATE_SHA256
    assert set(built.sidecar) == {"RibbonMyAddin", "xlwings_udfs"}
    for name, path in built.sidecar.items():
        raw = path.read_bytes()
        raw.decode("ascii")                                   # the VBA editor reads ANSI
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
        assert raw.decode("ascii").replace("\r\n", "\n") == V.modules()[name]


def test_ribbon_part_namespace_and_relationship(xlam):
    with zipfile.ZipFile(io.BytesIO(xlam)) as z:
        names = z.namelist()
    assert "customUI/customUI14.xml" in names and "customUI/customUI.xml" not in names
    assert names[0] == "[Content_Types].xml"
    rels = etree.fromstring(part(xlam, "_rels/.rels"))
    ui = [r for r in rels if r.get("Type").endswith("/ui/extensibility")]
    assert len(ui) == 1
    assert ui[0].get("Type") == "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
    assert ui[0].get("Target") == "customUI/customUI14.xml"
    root = etree.fromstring(part(xlam, "customUI/customUI14.xml"))
    assert root.tag == "{http://schemas.microsoft.com/office/2009/07/customui}customUI"


def test_ribbon_tab_and_buttons(xlam):
    root = etree.fromstring(part(xlam, "customUI/customUI14.xml"))
    tab = root.find("ui:ribbon/ui:tabs/ui:tab", NS)
    assert tab.get("label") == "绩效自评"
    buttons = root.findall(".//ui:button", NS)
    assert [b.get("label") for b in buttons] == ["重新计算", "检查", "导入申报表", "帮助"]
    assert [b.get("tag") for b in buttons] == list(R.ACTIONS)
    assert {b.get("onAction") for b in buttons} == {"RibbonMyAddin.RunMain"}
    # Template stage: the template's RunMain would run `xlperf.main()`, so the buttons are off
    # and say why.
    assert all(b.get("enabled") == "false" and "xlperf addin finish" in b.get("supertip") for b in buttons)


def test_configuration_sheet(xlam):
    settings = B.read_conf_sheet(xlam)
    assert list(settings) == list(B.CONF_KEYS)             # contiguous from A1: the VBA stops at a blank
    assert settings["UDF Modules"] == "xlperf.udfs"
    assert settings["ADD_WORKBOOK_TO_PYTHONPATH"] == "false"
    assert settings["Use UDF Server"] is False and settings["Debug UDFs"] is False
    assert settings["TEMP DIR"] == "%TEMP%"
    workbook = part(xlam, "xl/workbook.xml").decode("utf-8")
    assert 'name="myaddin.conf"' in workbook and "_myaddin.conf" not in workbook
    assert "felix" not in workbook                              # template author's path dropped
    sheet = etree.fromstring(part(xlam, "xl/worksheets/sheet1.xml"))
    assert sheet.find(f"{{{B.NS_MAIN}}}sheetPr").get("codeName") == "Sheet2"   # its VBA module


def test_settings_with_chinese_paths_survive(xlam):
    data = B.replace_settings(xlam, {"Interpreter_Win": r"C:\Users\张三\AppData\Local\Programs\Python\python.exe",
                                     "TEMP DIR": r"D:\绩效\临时"})
    settings = B.read_conf_sheet(data)
    assert settings["Interpreter_Win"] == r"C:\Users\张三\AppData\Local\Programs\Python\python.exe"
    assert settings["TEMP DIR"] == r"D:\绩效\临时"
    assert part(data, "customUI/customUI14.xml") == part(xlam, "customUI/customUI14.xml")
    assert part(data, "xl/vbaProject.bin") == part(xlam, "xl/vbaProject.bin")
    with pytest.raises(B.AddinError, match="未知的加载项设置"):
        B.replace_settings(xlam, {"Interpreter": "x"})


def test_workbook_paths_on_the_python_command_line_are_ignored(xlam, monkeypatch):
    # RunPython and the UDF server start Python with
    # `xlwings.utils.prepare_sys_path("<ADD_WORKBOOK_TO_PYTHONPATH>;<ActiveWorkbook.FullName>;
    # <ThisWorkbook.FullName>;<3 OneDrive/SharePoint settings>;<PYTHONPATH>")` (template VBA,
    # ExecuteWindows / XLPyCommand). The UDF server's command goes through the ANSI code page,
    # so on an English Windows a Chinese path arrives as "?". With the add-in's settings these
    # paths do not reach sys.path, whatever they look like.
    from xlwings.utils import prepare_sys_path
    settings = B.read_conf_sheet(xlam)
    this = r"C:\Users\张三\AppData\Roaming\Microsoft\Excel\XLSTART\xlperf.xlam"
    for active in (r"D:\绩效\2024\自评表.xlsx", r"D:\??\2024\???.xlsx", r"D:\绩效 资料\（2024）\R&D's.xlsx"):
        for add in (settings["ADD_WORKBOOK_TO_PYTHONPATH"], "true"):
            path = ["site-packages"]
            monkeypatch.setattr(sys, "path", path)
            prepare_sys_path(";".join([add, active, this, "", "", "", settings["PYTHONPATH"]]))
            added = [p for p in path if p != "site-packages"]
            if add == "true":                                       # xlwings' default would add them
                assert any("2024" in p for p in added) and any("XLSTART" in p for p in added)
            else:
                assert added == [""], added                         # only the (empty) PYTHONPATH setting


def test_document_properties_name_the_addin_and_its_stage(xlam):
    core = part(xlam, "docProps/core.xml").decode("utf-8")
    assert "xlperf 绩效自评" in core
    assert B.read_stage(xlam) == B.STAGE_TEMPLATE


# ---------------------------------------------------------------- finished VBA

def test_a_matching_finished_vba_project_is_used_and_enables_the_buttons(tmp_path):
    fake = b"not really a VBA project"
    (tmp_path / "vbaProject.bin").write_bytes(fake)
    (tmp_path / "vbaProject.json").write_text(json.dumps({
        "sources_sha256": V.sources_digest(V.modules(), B.XLWINGS_VERSION),
        "bin_sha256": hashlib.sha256(fake).hexdigest()}), encoding="utf-8")
    data, project = B.build_bytes(vba_directory=tmp_path)
    assert project.stage == B.STAGE_FINISHED
    assert part(data, "xl/vbaProject.bin") == fake
    assert B.read_stage(data) == B.STAGE_FINISHED
    root = etree.fromstring(part(data, "customUI/customUI14.xml"))
    assert all(b.get("enabled") is None for b in root.iter(f"{{{B.NS_CUSTOMUI_2009}}}button"))


def test_a_stale_finished_vba_project_is_not_used(tmp_path):
    (tmp_path / "vbaProject.bin").write_bytes(b"old")
    (tmp_path / "vbaProject.json").write_text(json.dumps({"sources_sha256": "0" * 64}), encoding="utf-8")
    data, project = B.build_bytes(vba_directory=tmp_path)
    assert project.stage == B.STAGE_TEMPLATE and "重新运行 xlperf addin finish" in project.note
    assert part(data, "xl/vbaProject.bin") == part(B.template_bytes(), "xl/vbaProject.bin")


def test_finish_from_a_file_without_our_modules_is_refused(xlam, tmp_path):
    saved = tmp_path / "xlperf.xlam"
    saved.write_bytes(xlam)
    with pytest.raises(B.AddinError, match="RibbonMyAddin"):
        I.finish(saved=saved, export_dir=tmp_path / "assets", out_dir=tmp_path / "dist")
    assert not (tmp_path / "assets" / "vbaProject.bin").exists()


def test_finish_from_a_hand_finished_addin_stores_the_vba_and_builds_the_finished_addin(
        xlam, tmp_path, monkeypatch):
    # Simulate what olevba reads from an add-in whose modules were imported in the VBA editor:
    # identifiers re-cased project-wide, CRLF, no Attribute lines.
    def editor(text):
        return "\r\n".join(l for l in text.replace("action", "Action").split("\n")
                            if not l.startswith("Attribute "))
    modules = {name: editor(text) for name, text in V.modules().items()}
    monkeypatch.setattr(C, "vba_modules", lambda data, filename=B.ADDIN_NAME: dict(modules))
    saved = tmp_path / "xlperf.xlam"
    saved.write_bytes(xlam)
    result, bin_path = I.finish(saved=saved, export_dir=tmp_path / "assets", out_dir=tmp_path / "dist")
    manifest = json.loads((tmp_path / "assets" / "vbaProject.json").read_text(encoding="utf-8"))
    assert manifest["bin_sha256"] == hashlib.sha256(bin_path.read_bytes()).hexdigest()
    assert manifest["sources_sha256"] == V.sources_digest(V.modules(), B.XLWINGS_VERSION)
    assert result.stage == B.STAGE_FINISHED
    final = result.path.read_bytes()
    assert part(final, "xl/vbaProject.bin") == bin_path.read_bytes()
    assert all(b.get("enabled") is None for b in _ribbon(final).iter(f"{{{B.NS_CUSTOMUI_2009}}}button"))
    # A module missing from the hand-finished add-in is refused.
    del modules["xlwings_udfs"]
    with pytest.raises(B.AddinError, match="xlwings_udfs"):
        I.finish(saved=saved, export_dir=tmp_path / "assets2", out_dir=tmp_path / "dist2")


def test_modules_are_compared_as_the_vba_editor_stores_them():
    text = V.modules()["RibbonMyAddin"]
    recased = text.replace("action", "Action").replace("\n", "\r\n").replace("    ", "  ")
    recased = "\r\n".join(line for line in recased.split("\r\n") if not line.startswith("Attribute "))
    assert I._normalised(recased) == I._normalised(text)


# --------------------------------------------------------------- static checks

def test_static_checks_pass_on_the_built_addin(xlam):
    report = C.check_addin(xlam)
    assert report.ok, report.render()
    assert report.stage == B.STAGE_TEMPLATE
    assert [cb.name for cb in report.callbacks] == ["RibbonMyAddin.RunMain"] * 4
    assert not any(cb.enabled for cb in report.callbacks)
    # The disabled buttons' target is reported, not silently skipped.
    assert any("xlperf.main()" in note for note in report.notes)


def test_every_onaction_names_a_sub_of_the_vba_project_read_with_olevba(xlam):
    modules = C.vba_modules(xlam)
    assert {"xlwings", "RibbonMyAddin", "ThisWorkbook", "Sheet2"} <= set(modules)
    subs = C.parse_subs("RibbonMyAddin", modules["RibbonMyAddin"])
    root = etree.fromstring(part(xlam, "customUI/customUI14.xml"))
    for button in root.iter(f"{{{B.NS_CUSTOMUI_2009}}}button"):
        module, _, name = button.get("onAction").partition(".")
        assert module == "RibbonMyAddin"
        assert "IRibbonControl" in subs[name.lower()].params
    # RunPython lives in the template's xlwings module.
    assert "runpython" in C.parse_subs("xlwings", modules["xlwings"])


def test_static_checks_pass_on_the_vba_project_after_finish(xlam):
    report = C.check_addin(xlam, overrides=V.modules())
    assert report.ok, report.render()
    commands = dict(report.commands)
    assert commands == {f"xlperf{name}": f"import xlperf.addin.ribbon as xa; xa.ribbon_action('{tag}')"
                        for name, tag in zip(("Recalc", "Check", "Import", "Help"), R.ACTIONS)}
    assert all(cb.enabled for cb in report.callbacks)


def test_the_check_catches_the_templates_relationship_mismatch():
    report = C.check_addin(B.template_path().read_bytes(), filename="myaddin.xlam")
    assert not report.ok
    assert any("2006/01/customui" in p and "2006/relationships/ui/extensibility" in p for p in report.problems)


def _ribbon(xlam: bytes) -> etree._Element:
    return etree.fromstring(part(xlam, "customUI/customUI14.xml"))


def _with_ribbon(xlam: bytes, root) -> bytes:
    return with_part(xlam, "customUI/customUI14.xml", etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def test_the_check_catches_a_callback_without_a_sub(xlam):
    root = _ribbon(xlam)
    root.find(".//ui:button", NS).set("onAction", "RibbonMyAddin.Recalc")
    report = C.check_addin(_with_ribbon(xlam, root))
    assert any("RibbonMyAddin.Recalc" in p and "没有对应的 Sub" in p for p in report.problems)


def test_the_check_catches_a_callback_with_the_wrong_signature(xlam):
    root = _ribbon(xlam)
    root.find(".//ui:button", NS).set("onAction", "KillPy")       # a Sub of the template without (control)
    report = C.check_addin(_with_ribbon(xlam, root))
    assert any("KillPy" in p and "IRibbonControl" in p for p in report.problems)


def test_the_check_catches_schema_errors(xlam):
    root = _ribbon(xlam)
    buttons = root.findall(".//ui:button", NS)
    buttons[1].set("id", buttons[0].get("id"))
    buttons[2].set("keytip", "ABCD")
    buttons[3].set("size", "huge")
    buttons[3].set("colour", "red")
    report = C.check_addin(_with_ribbon(xlam, root))
    text = "\n".join(report.problems)
    assert "重复" in text and "keytip" in text and "huge" in text and "colour" in text


def test_the_check_catches_a_relationship_of_the_wrong_type(xlam):
    rels = part(xlam, "_rels/.rels").replace(b"office/2007/relationships/ui", b"office/2006/relationships/ui")
    report = C.check_addin(with_part(xlam, "_rels/.rels", rels))
    assert any("需要关系类型" in p for p in report.problems)


def test_the_check_catches_a_runpython_target_that_does_not_import(xlam):
    broken = V.modules()["RibbonMyAddin"].replace("xlperf.addin.ribbon", "xlperf.addin.ribbons")
    report = C.check_addin(xlam, overrides={"RibbonMyAddin": broken})
    assert any("无法导入" in p and "xlperf.addin.ribbons" in p for p in report.problems)
    unknown = V.modules()["RibbonMyAddin"].replace("xa.ribbon_action(", "xa.ribbon_actions(")
    report = C.check_addin(xlam, overrides={"RibbonMyAddin": unknown})
    assert any("ribbon_actions" in p and "不存在" in p for p in report.problems)


def test_python_command_check():
    assert C.check_python("import xlperf.addin.ribbon as xa; xa.ribbon_action('recalc')", "recalc") == []
    assert any("不认识" in p for p in C.check_python(
        "import xlperf.addin.ribbon as xa; xa.ribbon_action('print')", "print"))
    assert any("有效的 Python" in p for p in C.check_python("import ;", "x"))
    assert any("xlperf.nothing" in p for p in C.check_python("import xlperf; xlperf.nothing()", "x"))


def test_the_check_catches_a_button_tag_the_vba_dispatcher_does_not_handle(xlam):
    ribbon = V.modules()["RibbonMyAddin"]
    assert 'Case "recalc", "check"' in ribbon
    broken = ribbon.replace('Case "recalc", "check"', 'Case "recalc"')
    report = C.check_addin(xlam, overrides={"RibbonMyAddin": broken})
    assert [p for p in report.problems if "Select Case" in p] == [
        "xlperfCheck 的 tag「check」在 RibbonMyAddin.RunMain 的 Select Case 中没有对应的 Case（按下按钮会执行 Case Else）。"]
    # A Sub renamed in the VBA (not in the ribbon) is caught as well.
    renamed = ribbon.replace("Sub RunMain(", "Sub RunMainX(")
    report = C.check_addin(xlam, overrides={"RibbonMyAddin": renamed})
    assert any("RibbonMyAddin.RunMain" in p and "没有对应的 Sub" in p for p in report.problems)


def test_the_check_catches_a_runpython_command_cmd_exe_would_rewrite(xlam):
    # VBA `"…ribbon_action(""" & action & """)"`: Python would get ribbon_action("recalc").
    broken = V.modules()["RibbonMyAddin"].replace("""ribbon_action('" & action & "')""",
                                                  '''ribbon_action(""" & action & """)''')
    assert broken != V.modules()["RibbonMyAddin"]
    report = C.check_addin(xlam, overrides={"RibbonMyAddin": broken})
    assert any("cmd.exe" in p and '"' in p for p in report.problems)


def test_every_engine_function_a_button_calls_exists_with_the_ribbons_call_shape():
    # The real xlperf.recalc.run_on_book and xlperf.generate.roll_forward_file: what the static
    # check of `xlperf addin check` imports for the buttons 重新计算 / 检查 / 导入申报表.
    for action, spec in R.ENGINE_CALLS.items():
        assert C.check_engine_call(action, spec) == [], action
    assert R.ribbon_action.engine_calls is R.ENGINE_CALLS
    assert set(R.ENGINE_CALLS) == set(R.ACTIONS)


def test_the_check_catches_a_missing_or_changed_engine_function(monkeypatch):
    command = "import xlperf.addin.ribbon as xa; xa.ribbon_action('import')"
    empty = types.ModuleType("xlperf.generate")
    monkeypatch.setitem(sys.modules, "xlperf.generate", empty)
    assert C.check_python(command, "import") == ["按钮动作「import」调用的 xlperf.generate.roll_forward_file 不存在（或不可调用）。"]

    def roll_forward_file(declaration_path, out_path, *, year=None, overwrite=False):   # force renamed
        raise AssertionError("not called by the check")
    empty.roll_forward_file = roll_forward_file
    problems = C.check_python(command, "import")
    assert len(problems) == 1 and "xlperf.generate.roll_forward_file(…, …, year=…, mode=…, force=…)" in problems[0]
    # The other buttons do not depend on it.
    assert C.check_python("import xlperf.addin.ribbon as xa; xa.ribbon_action('recalc')", "recalc") == []
    monkeypatch.setitem(sys.modules, "xlperf.recalc", None)
    assert any("xlperf.recalc" in p and "无法导入" in p for p in C.check_python(
        "import xlperf.addin.ribbon as xa; xa.ribbon_action('check')", "check"))


# ------------------------------------------------------------------ VBA text

def test_vba_modules_are_ascii_and_carry_the_chinese_texts_as_chrw():
    ribbon = V.ribbon_module()
    ribbon.encode("ascii")
    assert V.TEXTS_MARKER not in ribbon
    assert max(len(line) for line in ribbon.splitlines()) < 1024
    assert """RunPython("import xlperf.addin.ribbon as xa; xa.ribbon_action('" & action & "')")""" in ribbon
    # Decode every text the module builds and compare with the source texts.
    built: dict[str, str] = {}
    key = None
    for line in ribbon.splitlines():
        stripped = line.strip()
        if stripped.startswith('Case "') and stripped[6:-1] in V.ribbon_texts():
            key = stripped[6:-1]
        elif stripped == "End Select":
            key = None
        elif key and stripped.startswith("s = s & "):
            built[key] += V.eval_vba_string(stripped[len("s = s & "):])
        elif key and stripped.startswith("s = "):
            built[key] = V.eval_vba_string(stripped[len("s = "):])
    assert built == V.ribbon_texts()
    assert "导入申报表" in built["help"] and "portable" in built["help"]


def test_vba_string_expressions():
    assert V.eval_vba_string(" & ".join(V.vba_string_parts('绩效 "自评"\n𠮷'))) == '绩效 "自评"\n𠮷'
    assert V.eval_vba_string('"a" & x & "c"', {"X": "b"}) == "abc"
    with pytest.raises(V.DynamicExpression):
        V.eval_vba_string('"a" & y')


def test_udf_wrappers_come_from_the_pinned_xlwings_generator():
    text = V.udf_module()
    assert text.startswith('Attribute VB_Name = "xlwings_udfs"\n')
    for signature, call in [
        ("Function XLPERF_RATE(budget, executed, Optional profile)", "Array(budget, executed, profile)"),
        ("Function XLPERF_FUNDS_SCORE(rate, weight, Optional profile)", "Array(rate, weight, profile)"),
        ("Function XLPERF_SCORE(target, actual, weight, Optional profile)", "Array(target, actual, weight, profile)"),
        ("Function XLPERF_GRADE(total, Optional profile)", "Array(total, profile)"),
        ("Function XLPERF_PARSE(text)", "Array(text)"),
    ]:
        assert signature in text
        name = signature.split()[1].split("(")[0]
        assert (f'{name} = XLPy.CallUDF("xlperf.udfs", "{name}", {call}, ActiveWorkbook, '
                f"Application.Caller)") in text
    if not sys.platform.startswith("win"):
        # The generator ran with stand-ins for pywin32 that are gone again.
        assert "pythoncom" not in sys.modules and "xlwings.udfs" not in sys.modules


def test_udf_metadata_carries_the_chinese_argument_docs():
    with V.xlwings_udf_generator() as generator:
        meta = V.udf_metadata(generator)
        info = meta.XLPERF_SCORE.__xlfunc__
    assert info["category"] == "绩效自评"
    assert [a["name"] for a in info["args"]] == ["target", "actual", "weight", "profile"]
    assert info["args"][0]["doc"].startswith("年度指标值")
    assert info["args"][0]["options"] == {"err_to_str": True}
    assert "optional" in info["args"][3]


# --------------------------------------------------------------------- install

def windows(tmp_path, *, encoding="cp936", short=None, executable=None, environ=None) -> I.Machine:
    appdata = tmp_path / "Users" / "张三" / "AppData" / "Roaming"
    env = {"APPDATA": str(appdata), "TEMP": str(tmp_path / "Temp")}
    env.update(environ or {})
    return I.Machine(platform="win32", environ=env, executable=executable or sys.executable,
                     prefix=str(tmp_path / "prefix"), ansi_encoding=encoding, short_path=short)


@pytest.mark.parametrize("command", ["install", "uninstall", "status"])
def test_windows_commands_refuse_clearly_elsewhere(command):
    fn = getattr(I, command)
    with pytest.raises(B.AddinError, match=f"xlperf addin {command} 只能在 Windows 上运行.*portable"):
        fn(machine=I.Machine(platform="linux"))


def test_cli_refuses_install_on_linux(capsys):
    if sys.platform.startswith("win"):
        pytest.skip("Linux behaviour")
    assert cli.main(["addin", "install"]) == 2
    assert "只能在 Windows 上运行" in capsys.readouterr().err


def test_install_copies_into_xlstart_and_writes_the_settings(tmp_path):
    machine = windows(tmp_path)
    result = I.install(machine=machine)
    target = tmp_path / "Users" / "张三" / "AppData" / "Roaming" / "Microsoft" / "Excel" / "XLSTART" / "xlperf.xlam"
    assert result.path == target and target.is_file()
    settings = B.read_conf_sheet(target.read_bytes())
    assert settings["Interpreter_Win"] == sys.executable
    assert settings["UDF Modules"] == "xlperf.udfs"
    assert settings["TEMP DIR"] == "%TEMP%"
    assert C.check_addin(target.read_bytes()).ok
    text = I.describe_install(result)
    assert str(target) in text and f"Interpreter_Win = {sys.executable}" in text
    assert "不需要勾选「信任对 VBA 工程对象模型的访问」" in text
    assert "未完成的加载项" in text                      # honest about the template stage
    assert not list(target.parent.glob("*.tmp"))


def test_install_with_show_console_for_diagnosis(tmp_path):
    result = I.install(machine=windows(tmp_path), show_console=True)
    assert B.read_conf_sheet(result.path.read_bytes())["Show Console"] is True
    assert "Show Console = True" in I.describe_install(result)
    result = I.install(machine=windows(tmp_path))                       # re-install: off again
    assert B.read_conf_sheet(result.path.read_bytes())["Show Console"] is False
    assert "Show Console" not in I.describe_install(result)


def test_install_a_given_file_keeps_its_vba_and_replaces_the_settings(tmp_path, xlam):
    source = tmp_path / "from-maintainer.xlam"
    source.write_bytes(B.replace_settings(xlam, {"Interpreter_Win": r"C:\other\python.exe"}))
    result = I.install(source=source, machine=windows(tmp_path))
    data = result.path.read_bytes()
    assert part(data, "xl/vbaProject.bin") == part(xlam, "xl/vbaProject.bin")
    assert B.read_conf_sheet(data)["Interpreter_Win"] == sys.executable


def test_install_uses_a_short_path_when_the_ansi_code_page_cannot_hold_the_path(tmp_path):
    chinese = r"C:\Users\张三\AppData\Local\Programs\Python\Python311\python.exe"
    short = r"C:\Users\6F2B~1\AppData\Local\Programs\Python\PYTHON~1\python.exe"
    # Chinese Windows (GBK): the long path survives the ANSI conversion as it is.
    assert I.ansi_safe(chinese, windows(tmp_path), "Python ").value == chinese
    # English Windows (cp1252): the 8.3 short name is used …
    english = windows(tmp_path, encoding="cp1252", short=lambda p: short)
    safe = I.ansi_safe(chinese, english, "Python ")
    assert safe.value == short and "8.3" in safe.note and safe.warning is None
    # … and without one the user is told what to do.
    none = windows(tmp_path, encoding="cp1252", short=lambda p: None)
    safe = I.ansi_safe(chinese, none, "Python ")
    assert safe.value == chinese and "纯英文路径" in safe.warning
    settings, notes, warnings = I.install_settings(windows(tmp_path, encoding="cp1252", short=lambda p: short,
                                                           executable=chinese, environ={"TEMP": r"C:\Users\张三\Temp"}))
    assert settings["Interpreter_Win"] == short and settings["TEMP DIR"] == short
    assert len(notes) == 2 and warnings == []


def test_install_with_conda_writes_conda_settings(tmp_path):
    machine = windows(tmp_path, environ={"CONDA_DEFAULT_ENV": "jixiao",
                                         "CONDA_EXE": r"C:\Users\张三\miniconda3\Scripts\conda.exe"})
    (Path(machine.prefix) / "conda-meta").mkdir(parents=True)
    settings, notes, _ = I.install_settings(machine)
    assert settings["Conda Path"] == r"C:\Users\张三\miniconda3" and settings["Conda Env"] == "jixiao"
    assert settings["Interpreter_Win"] == ""


def test_install_explains_a_locked_file(tmp_path, monkeypatch):
    def locked(src, dst):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(I.os, "replace", locked)
    with pytest.raises(B.AddinError, match="关闭所有 Excel 窗口"):
        I.install(machine=windows(tmp_path))


def test_uninstall_and_status(tmp_path):
    machine = windows(tmp_path)
    ok, text = I.status(machine=machine)
    assert not ok and "未安装" in text
    I.install(machine=machine)
    ok, text = I.status(machine=machine)
    assert "已安装" in text and "UDF Modules = xlperf.udfs" in text
    assert "加载项未完成" in text and not ok             # template stage is a problem for users
    message = I.uninstall(machine=machine)
    assert "已删除" in message
    assert "未安装" in I.uninstall(machine=machine)


# ------------------------------------------------------------- ribbon callbacks

class FakeRange:
    def __init__(self, log, sheet, address):
        self.log, self.sheet, self.address = log, sheet, address

    def select(self):
        self.log.append(("select", self.sheet, self.address))


class FakeSheet:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def activate(self):
        self.log.append(("activate", self.name))

    def range(self, address):
        return FakeRange(self.log, self.name, address)


class FakeApi:
    def __init__(self, open_name=None, save_name=None):
        self.open_name, self.save_name, self.calls = open_name, save_name, []

    def GetOpenFilename(self, *args):
        self.calls.append(("open", args))
        return self.open_name if self.open_name else False

    def GetSaveAsFilename(self, *args):
        self.calls.append(("save", args))
        return self.save_name if self.save_name else False


class FakeApp:
    def __init__(self, api=None, answer="yes"):
        self.api = api or FakeApi()
        self.alerts, self.statuses, self.opened, self.answer = [], [], [], answer
        self.books = types.SimpleNamespace(open=self.opened.append)

    def alert(self, prompt, title=None, buttons="ok", mode=None, callback=None):
        self.alerts.append((prompt, title, buttons, mode))
        return self.answer if buttons == "yes_no" else "ok"

    @property
    def status_bar(self):
        return self.statuses[-1] if self.statuses else None

    @status_bar.setter
    def status_bar(self, value):
        self.statuses.append(value)


class FakeBook:
    def __init__(self, app, sheets=("自评表", "检查结果")):
        self.app, self.log = app, []
        self.sheets = {name: FakeSheet(self.log, name) for name in sheets}


@pytest.fixture
def fake_recalc(monkeypatch):
    calls = []
    module = types.ModuleType("xlperf.recalc")
    module.findings = []

    def run_on_book(book, action):
        calls.append((book, action))
        return list(module.findings)

    module.run_on_book = run_on_book
    module.calls = calls
    monkeypatch.setitem(sys.modules, "xlperf.recalc", module)
    return module


@pytest.fixture
def fake_generate(monkeypatch):
    module = types.ModuleType("xlperf.generate")
    module.calls = []

    def roll_forward_file(declaration_path, out_path, *, year=None, profile=None, mode="portable", force=False):
        # The signature agreed for xlperf.generate.roll_forward_file.
        module.calls.append((declaration_path, out_path))
        module.kwargs.append({"year": year, "profile": profile, "mode": mode, "force": force})
        Path(out_path).write_bytes(b"xlsx")
        return Path(out_path)

    module.kwargs = []

    module.roll_forward_file = roll_forward_file
    monkeypatch.setitem(sys.modules, "xlperf.generate", module)
    return module


def finding(sheet, cell):
    return types.SimpleNamespace(sheet=sheet, cell=cell, message="…")


def test_recalc_calls_the_same_recalc_as_the_cli(fake_recalc):
    app = FakeApp()
    book = FakeBook(app)
    R.ribbon_action("recalc", book)
    assert fake_recalc.calls == [(book, "recalc")]
    assert app.alerts == [] and "已重新计算" in app.statuses[-1]
    fake_recalc.findings = [finding("自评表", "F14")]
    R.ribbon_action("recalc", book)
    assert "发现 1 个问题" in app.statuses[-1]


def test_check_selects_the_first_problem_cell(fake_recalc):
    fake_recalc.findings = [finding(None, None), finding("自评表", "G15"), finding("自评表", "G20")]
    app = FakeApp()
    book = FakeBook(app)
    R.ribbon_action("check", book)
    assert fake_recalc.calls == [(book, "check")]
    assert book.log == [("activate", "自评表"), ("select", "自评表", "G15")]
    prompt, title, _, mode = app.alerts[-1]
    assert "发现 3 个问题" in prompt and "检查结果" in prompt and "自评表!G15" in prompt
    assert title == "绩效自评" and mode == "critical"


def test_check_without_findings(fake_recalc):
    app = FakeApp()
    R.ribbon_action("check", FakeBook(app))
    assert "未发现问题" in app.alerts[-1][0]


def test_check_skips_a_finding_on_a_missing_sheet(fake_recalc):
    fake_recalc.findings = [finding("已删除", "A1"), finding("自评表", "B2")]
    book = FakeBook(FakeApp())
    book.sheets = {"自评表": FakeSheet(book.log, "自评表")}
    R.ribbon_action("check", book)
    assert book.log[-1] == ("select", "自评表", "B2")


def test_import_declaration_with_chinese_paths(tmp_path, fake_generate):
    folder = tmp_path / "绩效" / "2024"
    folder.mkdir(parents=True)
    declaration = folder / "卫生银联专线申报表.xlsx"
    declaration.write_bytes(b"x")
    out = folder / "卫生银联专线自评表.xlsx"
    app = FakeApp(FakeApi(open_name=str(declaration), save_name=str(out)))
    assert R.ribbon_action("import", FakeBook(app)) == out
    assert fake_generate.calls == [(declaration, out)]
    assert fake_generate.kwargs == [{"year": None, "profile": None, "mode": "portable", "force": False}]
    assert app.opened == [str(out)]
    assert app.api.calls[1][1][0] == str(out)                      # suggested name: 申报表 → 自评表
    assert "卫生银联专线自评表.xlsx" in app.statuses[-1]


def test_import_declaration_cancelled_and_overwrite_declined(tmp_path, fake_generate):
    app = FakeApp(FakeApi())
    assert R.ribbon_action("import", FakeBook(app)) is None
    assert fake_generate.calls == [] and "已取消" in app.statuses[-1]
    existing = tmp_path / "已有.xlsx"
    existing.write_bytes(b"x")
    app = FakeApp(FakeApi(open_name=str(tmp_path / "a.xlsx"), save_name=str(existing)), answer="no")
    assert R.ribbon_action("import", FakeBook(app)) is None
    assert fake_generate.calls == [] and app.alerts[-1][2] == "yes_no"


def test_import_declaration_overwrites_only_when_the_user_agreed(tmp_path, fake_generate):
    existing = tmp_path / "项目自评表.xlsx"
    existing.write_bytes(b"old")
    app = FakeApp(FakeApi(open_name=str(tmp_path / "项目申报表.xlsx"), save_name=str(existing)), answer="yes")
    assert R.ribbon_action("import", FakeBook(app)) == existing
    assert "已存在" in app.alerts[0][0] and ".bak" in app.alerts[0][0]
    # roll_forward_file keeps an existing file unless force: the user's "yes" is passed on.
    assert fake_generate.kwargs == [{"year": None, "profile": None, "mode": "portable", "force": True}]


def test_import_declaration_with_the_real_engine_in_a_chinese_folder(tmp_path):
    # 导入申报表 end to end with the real xlperf.generate.roll_forward_file (only Excel's dialogs
    # and Workbooks.Open are fakes): a 申报表 in D:\绩效\2024 becomes a 自评表 beside it.
    import openpyxl

    from xlperf import generate, seeds
    folder = tmp_path / "绩效" / "2024"
    folder.mkdir(parents=True)
    declaration = folder / "项目申报表.xlsx"
    project = {s.id: s for s in seeds.load()}["000-01"].project
    generate.write(project, declaration)
    target = R.default_output(declaration)
    app = FakeApp(FakeApi(open_name=str(declaration), save_name=str(target)))
    assert R.ribbon_action("import", FakeBook(app)) == target == folder / "项目自评表.xlsx"
    assert app.alerts == [] and app.opened == [str(target)]
    assert "已由「项目申报表.xlsx」生成「项目自评表.xlsx」" in app.statuses[-1]
    sheet = openpyxl.load_workbook(target)["自评表"]
    assert sheet["A1"].value == "财政项目支出绩效自评表" and sheet["K2"].value == "portable"
    targets = [sheet[f"D{13 + i}"].value for i in range(len(project.indicators))]
    assert targets == [i.target for i in project.indicators]            # the declared 年度指标值
    # Again onto the same file: asked, and with "yes" overwritten with a .bak copy.
    app = FakeApp(FakeApi(open_name=str(declaration), save_name=str(target)), answer="yes")
    assert R.ribbon_action("import", FakeBook(app)) == target
    assert (folder / "项目自评表.xlsx.bak").is_file() and "已存在" in app.alerts[0][0]


def test_default_output_name():
    assert R.default_output(Path("D:/绩效/2024/项目申报表.xlsx")) == Path("D:/绩效/2024/项目自评表.xlsx")
    assert R.default_output(Path("D:/绩效/2024/项目.xls")) == Path("D:/绩效/2024/项目-自评表.xlsx")


def test_engine_errors_become_a_message_box(fake_recalc):
    from xlperf.errors import ScoringError

    def fail(book, action):
        raise ScoringError("全年预算数为 0，但全年执行数为 5").at(sheet="自评表", cell="D8")
    fake_recalc.run_on_book = fail
    app = FakeApp()
    R.ribbon_action("recalc", FakeBook(app))
    prompt, title, _, mode = app.alerts[-1]
    assert "单元格 D8" in prompt and "全年预算数为 0" in prompt and mode == "critical"
    assert app.statuses[-1] is False


def test_unexpected_errors_are_logged_not_shown_as_tracebacks(fake_recalc, tmp_path, monkeypatch):
    monkeypatch.setattr(R.tempfile, "gettempdir", lambda: str(tmp_path))

    def crash(book, action):
        raise KeyError("xp_profile")
    fake_recalc.run_on_book = crash
    app = FakeApp()
    R.ribbon_action("check", FakeBook(app))
    prompt = app.alerts[-1][0]
    assert "内部错误（KeyError）" in prompt and "Traceback" not in prompt
    log = tmp_path / R.LOG_NAME
    assert str(log) in prompt and "Traceback" in log.read_text(encoding="utf-8")


def test_missing_engine_module_and_unknown_action(monkeypatch):
    monkeypatch.setitem(sys.modules, "xlperf.recalc", None)      # import fails like a missing module
    app = FakeApp()
    R.ribbon_action("recalc", FakeBook(app))
    assert "没有重新计算模块（xlperf.recalc）" in app.alerts[-1][0]
    R.ribbon_action("print", FakeBook(app))
    assert "未知的按钮动作「print」" in app.alerts[-1][0]


def test_missing_engine_function_is_a_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "xlperf.generate", types.ModuleType("xlperf.generate"))
    app = FakeApp(FakeApi(open_name=str(tmp_path / "a申报表.xlsx"), save_name=str(tmp_path / "a自评表.xlsx")))
    R.ribbon_action("import", FakeBook(app))
    assert "没有导入申报表功能（xlperf.generate.roll_forward_file）" in app.alerts[-1][0]


def test_the_real_recalc_module_has_the_interface_the_ribbon_calls():
    import inspect
    import xlperf.recalc
    params = list(inspect.signature(xlperf.recalc.run_on_book).parameters)
    assert params[:2] == ["book", "action"]


def test_help_works_without_the_engine():
    app = FakeApp()
    R.ribbon_action("help", FakeBook(app))
    assert app.alerts[-1][0] == V.ribbon_texts()["help"]


def test_package_entry_point_delegates(fake_recalc):
    import xlperf.addin
    book = FakeBook(FakeApp())
    xlperf.addin.ribbon_action("recalc", book)
    assert fake_recalc.calls == [(book, "recalc")]


# ------------------------------------------------------------------------ CLI

def test_cli_build_and_check(tmp_path, capsys):
    assert cli.main(["addin", "build", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "xlperf.xlam" in out and "RibbonMyAddin.bas" in out
    assert cli.main(["addin", "check", str(tmp_path / "xlperf.xlam")]) == 0
    out = capsys.readouterr().out
    assert out.count("静态检查通过。") == 2 and "ribbon_action('recalc')" in out
    assert "引擎（xlperfImport）：xlperf.generate.roll_forward_file(…, …, year=…, mode=…, force=…)" in out
    assert "引擎（xlperfCheck）：xlperf.recalc.run_on_book(…, …)" in out


def test_cli_check_fails_on_a_broken_addin(tmp_path, capsys):
    (tmp_path / "x.xlam").write_bytes(B.template_path().read_bytes())
    assert cli.main(["addin", "check", str(tmp_path / "x.xlam")]) == 1
    assert "需要关系类型" in capsys.readouterr().out


# ------------------------------------------------- docs/windows-checklist.md figures
# The manual Windows test script quotes cell values; each is recomputed here with the engine
# (xlperf.scoring) for the same sample, and each cell address is looked up in the defined names
# of the workbook `xlperf fill --seed 004-02 --mode udf` generates, so the document cannot drift.

CHECKLIST = Path(__file__).parents[1] / "docs" / "windows-checklist.md"
CHECKLIST_SEED = "004-02"


def checklist_block(name: str) -> list[str]:
    """The lines after `<!-- checked by tests/test_addin.py: name -->`, up to a blank line."""
    text = CHECKLIST.read_text(encoding="utf-8")
    marker = f"<!-- checked by tests/test_addin.py: {name} -->"
    assert text.count(marker) == 1, f"{marker} missing from {CHECKLIST.name}"
    block = []
    for line in text[text.index(marker) + len(marker):].lstrip("\n").splitlines():
        if not line.strip():
            break
        block.append(line.strip())
        if block[0].startswith("```") and len(block) > 1 and block[-1] == "```":
            break                                   # a fenced block ends at its fence
    return block


def checklist_table(name: str) -> tuple[list[str], list[list[str]]]:
    header, _, *body = [[c.strip() for c in line.strip("|").split("|")] for line in checklist_block(name)]
    return header, body


def checklist_code(name: str) -> list[str]:
    lines = checklist_block(name)
    assert lines[0].startswith("```") and lines[-1] == "```", name
    return lines[1:-1]


def plain(text: str) -> str:
    return text.replace("`", "").strip()


def cells_of(spec: str) -> list[str]:
    from openpyxl.utils import range_boundaries, get_column_letter
    out = []
    for part in re.split(r"\s*,\s*", spec):
        if ":" in part:
            c1, r1, c2, r2 = range_boundaries(part)
            out += [f"{get_column_letter(c)}{r}" for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]
        else:
            out.append(part)
    return out


@pytest.fixture(scope="module")
def checklist_workbook(tmp_path_factory):
    """(seed project, cell address → (defined name, index)) of the generated udf workbook."""
    import copy

    import openpyxl
    from openpyxl.utils import range_boundaries, get_column_letter

    from xlperf import generate, seeds
    project = {s.id: s for s in seeds.load()}[CHECKLIST_SEED].project
    path = generate.write(copy.deepcopy(project), tmp_path_factory.mktemp("checklist") / "自评表-udf.xlsx", mode="udf")
    wb = openpyxl.load_workbook(path)
    cells = {}
    for name, dn in wb.defined_names.items():
        (sheet, ref), = dn.destinations
        c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
        addresses = [f"{get_column_letter(c)}{r}" for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]
        for i, address in enumerate(addresses):
            cells[address] = (name, i)
    return project, cells


def engine_value(project, cells, address: str):
    """What the engine makes of the cell at ``address`` for ``project``."""
    from xlperf import scoring
    s = scoring.score_project(project)
    name, i = cells[address]
    values = {
        "xp_funds_rate": lambda: s.rates[list(project.funds)[i]],
        "xp_funds_score": lambda: s.funds_score,
        "xp_ind_proposal": lambda: s.indicators[i].proposal,
        "xp_ind_score": lambda: s.indicators[i].score,
        "xp_total_weight": lambda: s.total_weight,
        "xp_total_score": lambda: s.total,
        "xp_grade": lambda: s.grade,
    }
    assert name in values, f"{address} is {name}: not a computed cell the checklist should quote"
    return values[name]()


def apply_change(project, cells, address: str, value: str) -> None:
    from decimal import Decimal
    name, i = cells[address]
    if name == "xp_funds_executed":
        project.funds[list(project.funds)[i]].executed = Decimal(value)
    elif name == "xp_ind_actual":
        project.indicators[i].actual = value
    elif name == "xp_ind_note":
        project.indicators[i].note = value
    elif name == "xp_profile":
        project.profile = value
    else:
        raise AssertionError(f"the checklist changes {address} ({name}): not an input cell")


def matches(expected: str, value) -> bool:
    from decimal import Decimal
    if isinstance(value, str):
        return plain(expected) == value
    return value is not None and Decimal(plain(expected)) == value


def change_rows(project, cells, name: str):
    """Apply the rows of a change table one after the other; yield (row, project)."""
    import copy
    project = copy.deepcopy(project)
    header, body = checklist_table(name)
    for row in body:
        change = row[0]
        if "→" in change:
            address = re.match(r"[A-Z]{1,2}\d+", change).group(0)
            apply_change(project, cells, address, plain(change.rsplit("→", 1)[1]))
        yield header, row, copy.deepcopy(project)


def test_checklist_start_values_are_the_engines(checklist_workbook):
    project, cells = checklist_workbook
    header, body = checklist_table("udf-start")
    assert header == ["cell", "what", "value"]
    assert project.profile == "shanghai"
    checked = 0
    for spec, _, values in body:
        addresses = cells_of(spec)
        if values.endswith(" each"):
            expected = [values.removesuffix(" each")] * len(addresses)
        else:
            expected = re.split(r"\s*,\s*", values)
        assert len(expected) == len(addresses), spec
        for address, value in zip(addresses, expected):
            assert matches(value, engine_value(project, cells, address)), (address, value)
            checked += 1
    assert checked == 19


def test_checklist_changes_are_the_engines(checklist_workbook):
    project, cells = checklist_workbook
    rows = list(change_rows(project, cells, "udf-changes"))
    assert len(rows) == 5
    for header, row, state in rows:
        for address, value in zip(header[1:], row[1:]):
            assert matches(value, engine_value(state, cells, address)), (row[0], address, value)
    # The one-liner that re-derives the last row's G6 and H6 prints them.
    import contextlib
    (line,) = checklist_code("rederive")
    code = re.fullmatch(r'python -c "(.*)"', line).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})
    header, last = rows[-1][0], rows[-1][1]
    assert out.getvalue().split() == [last[header.index("G6")], last[header.index("H6")]]


def test_checklist_portable_values_are_the_engines(checklist_workbook):
    project, cells = checklist_workbook
    rows = list(change_rows(project, cells, "portable"))
    assert len(rows) == 2
    for header, row, state in rows:
        for address, value in zip(header[1:], row[1:]):
            assert matches(value, engine_value(state, cells, address)), (row[0], address, value)


def test_checklist_findings_and_messages_are_what_the_add_in_shows(checklist_workbook, tmp_path, monkeypatch):
    from xlperf import generate, recalc
    project, cells = checklist_workbook
    *_, (_, _, state) = change_rows(project, cells, "udf-changes")
    # The state of step 5 as a udf workbook, read back as the ribbon's 检查 reads it.
    path = generate.write(state, tmp_path / "自评表-udf.xlsx", mode="udf")
    read = recalc.read_file(path)
    findings = recalc.findings_for(read)
    header, body = checklist_table("findings")
    assert header == ["cell", "finding"]
    assert [(f.sheet, f.cell, f.message_zh) for f in findings] == [("自评表", cell, text) for cell, text in body]
    # What the buttons show for these findings (xlperf.recalc.run_on_book replaced by them).
    module = types.ModuleType("xlperf.recalc")
    module.run_on_book = lambda book, action: findings
    monkeypatch.setitem(sys.modules, "xlperf.recalc", module)
    app = FakeApp()
    R.ribbon_action("check", FakeBook(app))
    assert app.alerts[-1][0] == "\n".join(checklist_code("check-message"))
    R.ribbon_action("recalc", FakeBook(app))
    text = CHECKLIST.read_text(encoding="utf-8")
    status = app.statuses[-1]
    assert status.startswith("绩效自评：已重新计算（") and status.endswith("，发现 2 个问题，点「检查」查看")
    assert "`绩效自评：已重新计算（hh:mm:ss），发现 2 个问题，点「检查」查看`" in text
    # With both reasons written: no findings, and the message the checklist quotes.
    for cell, _ in body:
        apply_change(state, cells, cell, "已分析原因并制定改进措施。")
    path = generate.write(state, tmp_path / "已填写.xlsx", mode="udf")
    read = recalc.read_file(path)
    findings = recalc.findings_for(read)
    assert findings == []
    R.ribbon_action("check", FakeBook(app))
    assert f"`{app.alerts[-1][0]}`" in text and app.alerts[-1][0] == "检查完成：未发现问题。"


def test_checklist_cell_functions_are_what_the_udfs_return():
    from decimal import Decimal

    from xlperf import notation, udfs
    header, body = checklist_table("functions")
    assert header == ["formula", "**Expect**"] and len(body) >= 12

    def argument(text: str):
        text = text.strip()
        if text.startswith('"'):
            return text[1:-1]
        if text == "A1":                      # "with A1 empty"
            return None
        if text == "1/0":                     # an error value, as xlwings' err_to_str passes it
            return "#DIV/0!"
        return float(eval(text, {"__builtins__": {}}))   # numbers and + of numbers, in binary

    for formula, expect in body:
        m = re.fullmatch(r"`=(XLPERF_\w+)\((.*)\)`(?: with A1 empty)?", formula)
        assert m, formula
        if "+" in m.group(2) and not hasattr(notation, "EXCEL_DIGITS"):
            continue                          # needs the proposed 15-digit from_excel
        args = [argument(a) for a in re.findall(r'"[^"]*"|[^,]+', m.group(2))]
        result = getattr(udfs, m.group(1))(*args)
        expect = expect.strip()
        if expect == "empty cell":
            assert result == "", formula
        elif expect.startswith("`"):
            text = expect[1:expect.index("`", 1)]
            pieces = text.split("…")
            assert isinstance(result, str) and result.startswith(pieces[0]) and result.endswith(pieces[-1]), \
                (formula, result)
            position = 0
            for piece in pieces:
                position = result.index(piece, position) + len(piece)
        elif re.match(r"-?\d", expect):
            assert isinstance(result, float) and Decimal(repr(result)) == Decimal(expect.split()[0]), (formula, result)
        else:
            assert result == expect, (formula, result)


def test_import_declaration_asks_for_the_year_when_the_title_has_none(tmp_path):
    # The real engine: a 申报表 whose title lost its year cannot be rolled forward without one;
    # the ribbon asks with Excel's number box and passes the answer on (cancel: nothing written).
    import openpyxl

    from xlperf import generate, seeds
    declaration = tmp_path / "项目申报表.xlsx"
    generate.write({s.id: s for s in seeds.load()}["000-01"].project, declaration)
    wb = openpyxl.load_workbook(declaration)
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and "年度)" in c.value.replace("）", ")"):
                    c.value = "（年度）"
    wb.save(declaration)
    assert generate.read_declaration(declaration).year == 0
    target = tmp_path / "项目自评表.xlsx"
    asked = []

    class YearApi(FakeApi):
        def __init__(self, answer):
            super().__init__(open_name=str(declaration), save_name=str(target))
            self.answer = answer

        def InputBox(self, prompt, title, default, Type):
            asked.append((prompt, Type))
            return self.answer

    app = FakeApp(YearApi(False))                                   # cancelled
    assert R.ribbon_action("import", FakeBook(app)) is None
    assert not target.exists() and "未输入年度" in app.statuses[-1] and asked[-1][1] == 1
    app = FakeApp(YearApi(2024.0))
    assert R.ribbon_action("import", FakeBook(app)) == target and app.alerts == []
    assert "没有年份" in asked[-1][0]
    assert generate.read_named_cells(target)[0] and "2024" in str(openpyxl.load_workbook(target)["自评表"]["A2"].value)
