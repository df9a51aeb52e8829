"""Static checks of an add-in file, runnable anywhere (CI runs them on the built ``xlperf.xlam``).

* the package: add-in content type, VBA project part and relationship;
* the ribbon part: well-formed, its namespace known and the package relationship of the type
  Office expects for that namespace (2006/01 ↔ ``…/2006/relationships/ui/extensibility``,
  2009/07 ↔ ``…/2007/relationships/ui/extensibility``), and the structure and attribute
  rules of the customUI schema for the elements it uses (ids unique NCNames, one of
  id/idQ/idMso, lengths, keytips, enumerations);
* every callback the ribbon names (``onAction`` …) exists as a public ``Sub`` with the right
  first parameter in the add-in's VBA project, read with oletools/olevba, and a callback that
  dispatches on the button's tag (``Select Case``) has a ``Case`` for every button's tag;
* every ``RunPython`` command those callbacks can reach is valid Python whose imports import
  and whose called functions exist (and accept the button's tag, for ``ribbon_action``); for
  ``ribbon_action`` also the engine function each action calls
  (:data:`xlperf.addin.ribbon.ENGINE_CALLS`: ``xlperf.recalc.run_on_book``,
  ``xlperf.generate.roll_forward_file``) imports and accepts the arguments the ribbon passes.

``overrides`` (module name → ``.bas`` text) checks the VBA project as it will be after
``xlperf addin finish`` puts the generated modules in: the check then assumes every button
enabled. Disabled buttons (a template-stage add-in) cannot run anything, so their
``RunPython`` targets are listed as notes, not problems.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field

from lxml import etree

from . import build as B
from .vba import DynamicExpression, eval_vba_string

NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaProject"
VBA_RELATIONSHIP = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"

_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_BOOL = {"true", "false", "1", "0"}
_STRING_1024 = ("label", "screentip", "supertip", "tag", "description", "idQ", "idMso")
_CALLBACK_ATTRIBUTES = ("onAction", "onLoad", "loadImage", "getEnabled", "getVisible", "getLabel",
                        "getImage", "getScreentip", "getSupertip", "getKeytip", "getSize",
                        "getShowLabel", "getShowImage", "getDescription", "getPressed")
_POSITION = ("insertAfterMso", "insertBeforeMso", "insertAfterQ", "insertBeforeQ")
_CONTROL_COMMON = {"id", "idQ", "idMso", "tag", "label", "getLabel", "visible", "getVisible",
                   "keytip", "getKeytip", "screentip", "getScreentip", "supertip", "getSupertip",
                   *_POSITION}
#: Element → (allowed attributes, allowed children in schema order, max children).
_SCHEMA = {
    "customUI": ({"onLoad", "loadImage"}, ("commands", "ribbon", "backstage", "contextMenus"), None),
    "ribbon": ({"startFromScratch"}, ("officeMenu", "qat", "tabs", "contextualTabs"), None),
    "tabs": (set(), ("tab",), 100),
    "tab": (_CONTROL_COMMON, ("group",), 100),
    "group": (_CONTROL_COMMON | {"image", "imageMso", "getImage", "autoScale", "centerVertically"},
              ("button", "separator"), 1000),
    "button": (_CONTROL_COMMON | {"enabled", "getEnabled", "size", "getSize", "image", "imageMso",
                                  "getImage", "showLabel", "getShowLabel", "showImage",
                                  "getShowImage", "description", "getDescription", "onAction"},
               (), 0),
    "separator": ({"id", "idQ", "tag", "visible", "getVisible", *_POSITION}, (), 0),
}
_CONTROLS = {"tab", "group", "button"}
_ENUMS = {"size": {"normal", "large"}}
_BOOLEAN_ATTRIBUTES = {"visible", "enabled", "showLabel", "showImage", "startFromScratch",
                       "autoScale", "centerVertically"}
#: First parameter each kind of callback takes.
_FIRST_PARAMETER = {"onLoad": "IRibbonUI"}


@dataclass
class Callback:
    control: str
    tag: str
    attribute: str
    name: str
    enabled: bool


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stage: str | None = None
    callbacks: list[Callback] = field(default_factory=list)
    #: (control id, Python command) of every RunPython target checked.
    commands: list[tuple[str, str]] = field(default_factory=list)
    #: (control id, engine call) of every engine function checked behind those commands.
    engine: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [f"加载项阶段：{self.stage or '未知'}"]
        for cb in self.callbacks:
            state = "" if cb.enabled else "（按钮已禁用）"
            lines.append(f"  {cb.control} [{cb.tag}] {cb.attribute} → {cb.name}{state}")
        for control, command in self.commands:
            lines.append(f"  RunPython（{control}）：{command}")
        for control, call in self.engine:
            lines.append(f"  引擎（{control}）：{call}")
        lines += [f"说明：{n}" for n in self.notes]
        lines += [f"问题：{p}" for p in self.problems]
        lines.append("静态检查通过。" if self.ok else f"静态检查发现 {len(self.problems)} 个问题。")
        return "\n".join(lines)


# ------------------------------------------------------------------------ VBA

@dataclass
class Sub:
    module: str
    name: str
    params: str
    public: bool
    body: list[str]


_SUB_START = re.compile(r"^\s*(?P<scope>Public\s+|Private\s+|Friend\s+)?(?:Static\s+)?"
                        r"(?P<kind>Sub|Function)\s+(?P<name>\w+)\s*\((?P<params>[^)]*)", re.I)
_SUB_END = re.compile(r"^\s*End\s+(Sub|Function)\b", re.I)


def vba_modules(xlam: bytes, filename: str = B.ADDIN_NAME) -> dict[str, str]:
    """Module name → source of the VBA project inside an Office file (via olevba)."""
    try:
        from oletools.olevba import VBA_Parser
    except ImportError as exc:  # pragma: no cover - oletools is a test/check dependency
        raise B.AddinError("静态检查需要 oletools：pip install oletools") from exc
    olevba_log = logging.getLogger("olevba")
    level = olevba_log.level
    olevba_log.setLevel(logging.ERROR)  # "VBA stomping cannot be detected for files in memory"
    parser = VBA_Parser(filename, data=xlam)
    try:
        if not parser.detect_vba_macros():
            return {}
        return {vba_name.rsplit(".", 1)[0]: code
                for _, _, vba_name, code in parser.extract_macros()}
    finally:
        parser.close()
        olevba_log.setLevel(level)


def parse_subs(module: str, code: str) -> dict[str, Sub]:
    subs: dict[str, Sub] = {}
    current: Sub | None = None
    for line in code.replace("\r\n", "\n").split("\n"):
        if current is None:
            m = _SUB_START.match(line)
            if m:
                current = Sub(module, m.group("name"), m.group("params"),
                              (m.group("scope") or "").strip().lower() != "private", [])
        elif _SUB_END.match(line):
            subs[current.name.lower()] = current
            current = None
        else:
            current.body.append(line)
    return subs


def _strip_comment(line: str) -> str:
    out, in_string = [], False
    for ch in line:
        if ch == '"':
            in_string = not in_string
        elif ch == "'" and not in_string:
            break
        out.append(ch)
    return "".join(out).strip()


_RUNPYTHON = re.compile(r"\bRunPython\s*(?:\((?P<paren>.*)\)\s*$|(?P<bare>\".*)$)", re.I)
_CALL = re.compile(r"^(?:Call\s+)?(?P<name>[A-Za-z_]\w*)\b", re.I)


def _reachable_runpython(sub: Sub, subs: dict[str, Sub], depth: int = 0) -> list[str]:
    """The argument expressions of every RunPython in ``sub`` and the Subs it calls in the
    same module."""
    found = []
    for raw in sub.body:
        line = _strip_comment(raw)
        m = _RUNPYTHON.search(line)
        if m:
            found.append((m.group("paren") or m.group("bare")).strip())
            continue
        c = _CALL.match(line)
        if c and depth < 4:
            callee = subs.get(c.group("name").lower())
            if callee is not None and callee is not sub and callee.module == sub.module:
                found += _reachable_runpython(callee, subs, depth + 1)
    return found


def _names_for(sub: Sub, tag: str, addin_stem: str) -> dict[str, str]:
    """What the names in a callback's RunPython expression stand for, as far as statically
    known: the button's tag (``control.Tag``, or a variable assigned from it) and the module
    name the template's RunMain derives from the add-in's file name."""
    names = {"control.Tag": tag}
    for raw in sub.body:
        line = _strip_comment(raw)
        m = re.match(r"^(?:Let\s+)?(\w+)\s*=\s*control\.Tag$", line, re.I)
        if m:
            names[m.group(1)] = tag
        m = re.match(r"^(\w+)\s*=\s*Left\(\s*ThisWorkbook\.Name\s*,", line, re.I)
        if m:
            names[m.group(1)] = addin_stem
    return names


#: Characters cmd.exe still interprets inside the double quotes xlwings' ExecuteWindows puts
#: the RunPython command in (``cmd.exe /C … python -B -c "…; <command>"``).
_CMD_UNSAFE = frozenset('"%\r\n')

_SELECT = re.compile(r"^Select\s+Case\s+(?P<expr>.+)$", re.I)
_CASE = re.compile(r"^Case\s+(?P<labels>.+)$", re.I)


def _dispatches(sub: Sub, tag: str) -> bool:
    """False when ``sub`` dispatches on the button's tag (``Select Case control.Tag`` or on a
    variable assigned from it) and no ``Case`` of that Select names ``tag``."""
    tag_vars = {"control.tag"} | {k.lower() for k, v in _names_for(sub, tag, "").items() if v == tag}
    depth, inside, labels, seen = 0, False, set(), False
    for raw in sub.body:
        line = _strip_comment(raw)
        m = _SELECT.match(line)
        if m:
            depth += 1
            if depth == 1 and m.group("expr").strip().lower() in tag_vars:
                inside, seen = True, True
            continue
        if re.match(r"^End\s+Select\b", line, re.I):
            depth -= 1
            if depth == 0:
                inside = False
            continue
        c = _CASE.match(line)
        if inside and depth == 1 and c and not c.group("labels").strip().lower().startswith("else"):
            labels |= {lit[1:-1].replace('""', '"') for lit in re.findall(r'"(?:[^"]|"")*"', c.group("labels"))}
    return not seen or tag in labels


# --------------------------------------------------------------------- Python

def check_python(command: str, tag: str, engine: list[str] | None = None) -> list[str]:
    """Problems of one RunPython command: syntax, imports, called attributes, and the tag
    for functions that declare the actions they accept. The engine calls checked behind the
    command are appended to ``engine``."""
    try:
        tree = ast.parse(command)
    except SyntaxError as exc:
        return [f"RunPython 命令不是有效的 Python：{command!r}（{exc.msg}）"]
    problems: list[str] = []
    scope: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                try:
                    module = importlib.import_module(alias.name)
                except Exception as exc:  # noqa: BLE001 - report any import failure
                    problems.append(f"RunPython 目标无法导入：import {alias.name}（{type(exc).__name__}: {exc}）")
                    continue
                if alias.asname:
                    scope[alias.asname] = module
                else:
                    scope[alias.name.split(".")[0]] = importlib.import_module(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            try:
                module = importlib.import_module(node.module)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"RunPython 目标无法导入：from {node.module}（{type(exc).__name__}: {exc}）")
                continue
            for alias in node.names:
                if not hasattr(module, alias.name):
                    problems.append(f"RunPython 目标不存在：{node.module}.{alias.name}")
                else:
                    scope[alias.asname or alias.name] = getattr(module, alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        chain, target = [], node.func
        while isinstance(target, ast.Attribute):
            chain.insert(0, target.attr)
            target = target.value
        if not isinstance(target, ast.Name) or target.id not in scope:
            if isinstance(target, ast.Name):
                problems.append(f"RunPython 命令调用了未导入的名字 {target.id}：{command!r}")
            continue
        obj, path = scope[target.id], target.id
        for attr in chain:
            path += "." + attr
            if not hasattr(obj, attr):
                problems.append(f"RunPython 目标不存在：{path}（命令 {command!r}）")
                break
            obj = getattr(obj, attr)
        else:
            if not callable(obj):
                problems.append(f"RunPython 目标不可调用：{path}")
                continue
            action = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            accepted = getattr(obj, "accepted_actions", None)
            if accepted is not None and action is not None and action not in accepted:
                problems.append(f"{path} 不认识按钮动作「{action}」（按钮 tag {tag}）")
                continue
            engine_calls = getattr(obj, "engine_calls", None)
            if engine_calls is not None and action is not None:
                problems += check_engine_call(action, engine_calls.get(action))
                if engine is not None and engine_calls.get(action):
                    engine.append(describe_engine_call(engine_calls[action]))
    return problems


def describe_engine_call(spec) -> str:
    module_name, name, positional, keywords = spec
    return f"{module_name}.{name}({', '.join(['…'] * positional + [f'{k}=…' for k in keywords])})"


def check_engine_call(action: str, spec) -> list[str]:
    """The engine function a button reaches (``(module, function, positional arguments,
    keyword arguments)`` from :data:`xlperf.addin.ribbon.ENGINE_CALLS`): importable, present,
    and accepting exactly that call."""
    if spec is None:
        return []
    module_name, name, positional, keywords = spec
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - report any import failure
        return [f"按钮动作「{action}」调用的模块无法导入：{module_name}（{type(exc).__name__}: {exc}）"]
    function = getattr(module, name, None)
    if not callable(function):
        return [f"按钮动作「{action}」调用的 {module_name}.{name} 不存在（或不可调用）。"]
    try:
        inspect.signature(function).bind(*[None] * positional, **{k: None for k in keywords})
    except TypeError as exc:
        return [f"按钮动作「{action}」以 {describe_engine_call(spec)} 调用，"
                f"但它的参数是 {inspect.signature(function)}（{exc}）。"]
    except ValueError:  # pragma: no cover - no signature available (C functions)
        pass
    return []


# ---------------------------------------------------------------------- ribbon

def _local(el) -> str:
    return etree.QName(el).localname


def check_ribbon_structure(root, report: CheckReport) -> None:
    ids: set[str] = set()
    keytips: dict[str, str] = {}

    def visit(el, parent_name: str | None):
        name = _local(el)
        if name not in _SCHEMA:
            report.problems.append(f"功能区 XML 含有本检查不支持的元素 <{name}>（父元素 <{parent_name}>）。")
            return
        attributes, children, max_children = _SCHEMA[name]
        for attr, value in el.attrib.items():
            if attr.startswith("{"):
                continue
            if attr not in attributes:
                report.problems.append(f"<{name}> 不允许属性 {attr}。")
            if attr in _BOOLEAN_ATTRIBUTES and value not in _BOOL:
                report.problems.append(f"<{name}> 的 {attr}=\"{value}\" 不是 true/false。")
            if attr in _ENUMS and value not in _ENUMS[attr]:
                report.problems.append(f"<{name}> 的 {attr}=\"{value}\" 应为 {'/'.join(sorted(_ENUMS[attr]))}。")
            if (attr in _STRING_1024 or attr in _CALLBACK_ATTRIBUTES) and not 1 <= len(value) <= 1024:
                report.problems.append(f"<{name}> 的 {attr} 长度应为 1–1024 个字符。")
            if attr == "keytip":
                if not 1 <= len(value) <= 3 or any(ch.isspace() for ch in value):
                    report.problems.append(f"<{name}> 的 keytip「{value}」应为 1–3 个非空白字符。")
        if name in _CONTROLS:
            given = [a for a in ("id", "idQ", "idMso") if a in el.attrib]
            if len(given) != 1:
                report.problems.append(f"<{name}> 应恰好有 id、idQ、idMso 之一（现有 {given or '无'}）。")
            control_id = el.get("id")
            if control_id is not None:
                if not _NCNAME.match(control_id) or len(control_id) > 1024:
                    report.problems.append(f"<{name}> 的 id「{control_id}」不是有效的 XML 标识符。")
                if control_id in ids:
                    report.problems.append(f"id「{control_id}」重复。")
                ids.add(control_id)
            if control_id is not None and not el.get("label") and not el.get("getLabel") \
                    and el.get("showLabel") not in ("false", "0"):
                report.problems.append(f"<{name} id=\"{control_id}\"> 没有 label。")
        if "keytip" in el.attrib and name == "button":
            previous = keytips.get(el.get("keytip"))
            if previous:
                report.notes.append(f"按钮 {previous} 与 {el.get('id')} 的 keytip 相同：Office 会自动改为其他按键。")
            keytips[el.get("keytip")] = el.get("id") or "?"
        kids = [k for k in el if isinstance(k.tag, str)]
        if max_children is not None and len(kids) > max_children:
            report.problems.append(f"<{name}> 最多 {max_children} 个子元素，现有 {len(kids)} 个。")
        order = [children.index(_local(k)) if _local(k) in children else -1 for k in kids]
        for k, position in zip(kids, order):
            if position < 0 and _local(k) in _SCHEMA:
                report.problems.append(f"<{_local(k)}> 不能放在 <{name}> 里。")
        known = [p for p in order if p >= 0]
        if name in ("customUI", "ribbon") and (known != sorted(known) or len(set(known)) != len(known)):
            report.problems.append(f"<{name}> 的子元素顺序或次数不符合架构（应为 {', '.join(children)}）。")
        for k in kids:
            if _local(k) in children or _local(k) not in _SCHEMA:
                visit(k, name)

    if _local(root) != "customUI":
        report.problems.append(f"功能区 XML 的根元素是 <{_local(root)}>，应为 <customUI>。")
        return
    visit(root, None)


# ------------------------------------------------------------------------ main

def check_addin(xlam: bytes, *, filename: str = B.ADDIN_NAME,
                overrides: dict[str, str] | None = None) -> CheckReport:
    """Run every static check on the add-in's bytes (see the module docstring)."""
    report = CheckReport()
    try:
        z = zipfile.ZipFile(io.BytesIO(xlam))
    except zipfile.BadZipFile as exc:
        report.problems.append(f"{filename} 不是有效的 Office 文件：{exc}")
        return report
    with z:
        names = set(z.namelist())
        try:
            report.stage = B.read_stage(xlam)
        except (KeyError, etree.XMLSyntaxError):
            report.stage = None
        ct = etree.fromstring(z.read("[Content_Types].xml"))
        overrides_ct = {o.get("PartName"): o.get("ContentType") for o in ct.iter(f"{{{NS_CT}}}Override")}
        if overrides_ct.get("/xl/workbook.xml") != B.ADDIN_CONTENT_TYPE:
            report.problems.append("工作簿部件的内容类型不是启用宏的加载项（.xlam）。")
        if overrides_ct.get("/xl/vbaProject.bin") != VBA_CONTENT_TYPE or "xl/vbaProject.bin" not in names:
            report.problems.append("缺少 VBA 工程部件 xl/vbaProject.bin 或其内容类型。")
        wb_rels = etree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        if not any(r.get("Type") == VBA_RELATIONSHIP for r in wb_rels):
            report.problems.append("工作簿关系中缺少 vbaProject 关系。")

        rels = etree.fromstring(z.read("_rels/.rels"))
        ui_rels = [r for r in rels if r.get("Type", "").endswith("/ui/extensibility")]
        if not ui_rels:
            report.problems.append("没有功能区（customUI）部件的关系。")
            return report
        types_seen = [r.get("Type") for r in ui_rels]
        if len(set(types_seen)) != len(types_seen):
            report.problems.append("同一类型的功能区关系出现了多次。")
        ribbons = []
        for rel in ui_rels:
            part = rel.get("Target", "").lstrip("/")
            if part not in names:
                report.problems.append(f"功能区关系指向不存在的部件 {part}。")
                continue
            try:
                root = etree.fromstring(z.read(part), etree.XMLParser(resolve_entities=False,
                                                                       no_network=True))
            except etree.XMLSyntaxError as exc:
                report.problems.append(f"功能区部件 {part} 不是格式正确的 XML：{exc}")
                continue
            ns = etree.QName(root).namespace
            if ns not in B.UI_RELATIONSHIP:
                report.problems.append(f"功能区部件 {part} 的命名空间 {ns} 未知。")
                continue
            if B.UI_RELATIONSHIP[ns] != rel.get("Type"):
                report.problems.append(
                    f"功能区部件 {part} 的命名空间 {ns} 需要关系类型 {B.UI_RELATIONSHIP[ns]}，"
                    f"而包中用的是 {rel.get('Type')}。")
            check_ribbon_structure(root, report)
            ribbons.append(root)
        if report.problems:
            return report

    modules = vba_modules(xlam, filename)
    if overrides:
        modules.update(overrides)
    subs: dict[str, Sub] = {}
    by_module: dict[tuple[str, str], Sub] = {}
    for module, code in modules.items():
        for key, sub in parse_subs(module, code).items():
            subs.setdefault(key, sub)
            by_module[(module.lower(), key)] = sub
    stem = filename.rsplit(".", 1)[0]
    assume_enabled = bool(overrides)
    for root in ribbons:
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            for attr in _CALLBACK_ATTRIBUTES:
                if attr not in el.attrib:
                    continue
                name = el.get(attr)
                enabled = assume_enabled or el.get("enabled", "true") in ("true", "1")
                cb = Callback(el.get("id") or _local(el), el.get("tag", ""), attr, name, enabled)
                report.callbacks.append(cb)
                module, _, proc = name.rpartition(".")
                sub = by_module.get((module.lower(), proc.lower())) if module else subs.get(proc.lower())
                if sub is None:
                    report.problems.append(f"{cb.control} 的 {attr}=\"{name}\" 在加载项的 VBA 工程中没有对应的 Sub。")
                    continue
                expected = _FIRST_PARAMETER.get(attr, "IRibbonControl")
                first = sub.params.split(",")[0] if sub.params.strip() else ""
                if not sub.public or not re.search(rf"\bAs\s+{expected}\b", first, re.I):
                    report.problems.append(
                        f"{sub.module}.{sub.name} 不能作为功能区回调：应为 Public Sub，第一个参数为 As {expected}"
                        f"（现为 {sub.params.strip() or '无参数'}）。")
                    continue
                if attr == "onAction" and _local(el) == "button" and "," in sub.params:
                    report.problems.append(f"{sub.module}.{sub.name} 作为按钮的 onAction 只能有一个参数。")
                module_subs = {k: s for (m, k), s in by_module.items() if m == sub.module.lower()}
                names = _names_for(sub, cb.tag, stem)
                if attr == "onAction" and not _dispatches(sub, cb.tag):
                    message = (f"{cb.control} 的 tag「{cb.tag}」在 {sub.module}.{sub.name} 的 Select Case 中"
                               f"没有对应的 Case（按下按钮会执行 Case Else）。")
                    (report.problems if enabled else report.notes).append(message)
                for expr in dict.fromkeys(_reachable_runpython(sub, module_subs)):
                    try:
                        command = eval_vba_string(expr, names)
                    except DynamicExpression as exc:
                        report.notes.append(f"{cb.control}：RunPython 参数含运行时才知道的 {exc}，未检查：{expr}")
                        continue
                    except ValueError as exc:
                        report.problems.append(f"{cb.control}：无法读取 RunPython 参数 {expr}（{exc}）")
                        continue
                    if not enabled:
                        report.notes.append(f"{cb.control} 已禁用，其 RunPython 命令未检查：{command}")
                        continue
                    report.commands.append((cb.control, command))
                    unsafe = sorted({repr(ch)[1:-1] for ch in command if ch in _CMD_UNSAFE})
                    if unsafe:
                        report.problems.append(
                            f"{cb.control}：RunPython 命令含有字符 {' '.join(unsafe)}：xlwings 把命令放在 cmd.exe 的"
                            f"双引号中交给 python -c，这些字符会被 cmd.exe 改写或截断命令（Python 代码请用单引号）。")
                    engine: list[str] = []
                    report.problems += [f"{cb.control}：{p}" for p in check_python(command, cb.tag, engine)]
                    report.engine += [(cb.control, call) for call in engine]
    return report
