"""argparse in Chinese: headings (用法 / 位置参数 / 选项) and its error messages.

argparse translates its own words through ``gettext``; no Chinese catalogue ships with
Python, so :class:`Parser` swaps in this module's table while it builds, formats or
parses — only for its own calls, so any other argparse user in the process (pytest)
keeps English. Sub-parsers made by ``add_subparsers().add_parser`` are of the same class.
"""
from __future__ import annotations

import argparse
import contextlib
import re
import threading
import unicodedata

_WORDS = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "optional arguments": "选项",
    "subcommands": "命令",
    "show this help message and exit": "显示本帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "the following arguments are required: %s": "缺少必需的参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选择：%(value)r（可选：%(choices)s）",
    "invalid %(type)s value: %(value)r": "无效的 %(type)s 值：%(value)r",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多一个值",
    "expected at least one argument": "至少需要一个值",
    "ambiguous option: %(option)s could match %(matches)s": "选项 %(option)s 有歧义，可能是 %(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "参数 %s 中必须给出一个",
    "ignored explicit argument %r": "忽略了多余的值 %r",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "没有命令 %(parser_name)r（可选：%(choices)s）",
    "can't open '%(filename)s': %(error)s": "无法打开「%(filename)s」：%(error)s",
}
_PLURALS = {"expected %s argument": "需要 %s 个值", "expected %s arguments": "需要 %s 个值"}

_lock = threading.RLock()


def _gettext(text: str) -> str:
    return _WORDS.get(text, text)


def _ngettext(singular: str, plural: str, n: int) -> str:
    text = singular if n == 1 else plural
    return _PLURALS.get(text, text)


@contextlib.contextmanager
def chinese():
    """argparse speaks Chinese inside this block (re-entrant; restores what was there)."""
    with _lock:
        saved = argparse._, argparse.ngettext
        argparse._, argparse.ngettext = _gettext, _ngettext
        try:
            yield
        finally:
            argparse._, argparse.ngettext = saved


#: Placeholders shown for a value (``--out 输出``) when the argument names none itself.
METAVARS = {
    "out": "输出", "output": "输出", "profile": "规则", "year": "年度", "jobs": "进程数", "workers": "进程数",
    "templates": "模板文件夹", "password": "密码", "seed": "编号", "register": "登记表", "file": "文件",
    "input": "项目文件", "seeds": "转录文件", "xlstart": "文件夹", "vba": "文件夹", "saved": "文件",
    "export": "文件夹", "dpi": "分辨率", "files": "文件", "db": "数据库文件", "html": "网页文件",
}


def width(text: str) -> int:
    """Terminal columns: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


#: Never at the start of a line (Chinese line-breaking rule): closing punctuation.
_NO_START = set("，。、；：？！）」』》】,.;:?!)")


def _wrap(text: str, columns: int) -> list[str]:
    """Greedy wrap by display width: a Chinese character may end a line anywhere, a Latin
    word (a flag, a file name) stays whole, closing punctuation stays with what it closes."""
    lines, line = [], ""
    for token in re.findall(r"[\x21-\x7e]+|\s+|.", " ".join(text.split())):
        if token.isspace():
            if line:
                line += " "
            continue
        if line and width(line + token) > columns and token[0] not in _NO_START:
            lines.append(line.rstrip())
            line = ""
        line += token
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


class _Formatter(argparse.HelpFormatter):
    """argparse's layout measured in display columns, so Chinese help lines up and wraps."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)

    def add_argument(self, action):
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:
            inv = [self._format_action_invocation(a) for a in [action, *self._iter_indented_subactions(action)]]
            longest = max(width(x) for x in inv) + self._current_indent
            self._action_max_length = max(self._action_max_length, longest)

    def _split_lines(self, text, columns):
        return _wrap(text, columns)

    def _fill_text(self, text, columns, indent):
        return "\n".join(indent + line for line in _wrap(text, columns - len(indent)))

    def _format_action(self, action):
        help_position = min(self._action_max_length + 2, self._max_help_position)
        help_width = max(self._width - help_position, 11)
        action_width = help_position - self._current_indent - 2
        header = self._format_action_invocation(action)
        indent = " " * self._current_indent
        if not action.help:
            parts = [f"{indent}{header}\n"]
            first = None
        elif width(header) <= action_width:
            parts = [f"{indent}{header}{' ' * (action_width - width(header))}  "]
            first = 0
        else:
            parts = [f"{indent}{header}\n"]
            first = help_position
        if action.help and action.help.strip():
            lines = self._split_lines(self._expand_help(action), help_width)
            parts.append(" " * first + lines[0] + "\n")
            parts.extend(" " * help_position + line + "\n" for line in lines[1:])
        elif not parts[0].endswith("\n"):
            parts.append("\n")
        for sub in self._iter_indented_subactions(action):
            parts.append(self._format_action(sub))
        return self._join_parts(parts)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose headings, help of -h and error messages are Chinese."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        with chinese():
            super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        if action.metavar is None and action.nargs != 0 and not action.choices and action.dest in METAVARS:
            action.metavar = METAVARS[action.dest]   # also what an error message calls it
        return action

    def add_subparsers(self, **kwargs):
        kwargs.setdefault("parser_class", Parser)
        with chinese():
            return super().add_subparsers(**kwargs)

    def parse_known_args(self, args=None, namespace=None):
        with chinese():
            return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        with chinese():
            return super().format_usage()

    def format_help(self) -> str:
        with chinese():
            text = super().format_help()
        for group in self._action_groups:   # argparse puts an ASCII colon after each heading
            if group.title:
                text = text.replace(f"\n{group.title}:\n", f"\n{group.title}：\n")
        return text

    def error(self, message):
        with chinese():
            super().error(message)
