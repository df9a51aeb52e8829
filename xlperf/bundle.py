"""``xlperf bundle --out DIR``: an offline installer for Windows PCs without internet or
administrator rights — a folder (and a .zip of it) with

* ``wheelhouse/``: xlperf and every dependency as ``win_amd64`` wheels for CPython 3.11–3.13,
  closed under the dependencies *Windows* needs (``pywin32`` is marker-gated to win32, so a
  download made on Linux would leave it out; the closure is computed with Windows markers);
* ``addin/xlperf.xlam`` (``xlperf addin build``);
* ``安装.cmd`` / ``卸载.cmd``: ASCII-only batch files with CRLF ends (cmd.exe reads a batch
  file in the console's code page; ASCII reads the same in every one), per user, no admin:
  a venv under ``%LOCALAPPDATA%\\xlperf``, ``pip install --no-index`` from the wheelhouse,
  xlperf on the user's PATH, ``xlperf addin install``; the Chinese text is in
  ``安装说明.txt`` (UTF-8 with BOM, which Notepad reads) and ``messages/*.txt`` (GBK, which a
  Chinese console's ``type`` shows);
* ``SHA256SUMS.txt``.

Reproducible: the same inputs give the same files (the xlperf wheel is built with
``SOURCE_DATE_EPOCH``; the .zip has fixed times, order and modes); only downloaded wheels
can differ, when the index has newer releases. ``--offline-from`` rebuilds from an existing
wheelhouse without any index.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import XlperfError

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
PLATFORM = "win_amd64"
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip entry can carry
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
INSTALL_CMD, UNINSTALL_CMD, README_TXT = "安装.cmd", "卸载.cmd", "安装说明.txt"


class BundleError(XlperfError):
    """A bundle that cannot be made (no source tree, pip failed, a dependency missing)."""


def windows_environment(python_version: str) -> dict[str, str]:
    """PEP 508 marker values of CPython ``python_version`` on 64-bit Windows."""
    return {"implementation_name": "cpython", "implementation_version": f"{python_version}.0",
            "os_name": "nt", "platform_machine": "AMD64", "platform_python_implementation": "CPython",
            "platform_release": "10", "platform_system": "Windows", "platform_version": "10.0.19045",
            "python_full_version": f"{python_version}.0", "python_version": python_version,
            "sys_platform": "win32", "extra": ""}


def _wheels(wheelhouse: Path) -> list[Path]:
    return sorted(wheelhouse.glob("*.whl"))


def _wheel_fits(path: Path, python_version: str) -> bool:
    from packaging.tags import Tag
    from packaging.utils import parse_wheel_filename

    _name, _ver, _build, tags = parse_wheel_filename(path.name)
    cp = "cp" + python_version.replace(".", "")
    fits = {Tag(cp, cp, PLATFORM), Tag(cp, "abi3", PLATFORM), Tag(cp, "none", PLATFORM),
            Tag("py3", "none", PLATFORM), Tag("py3", "none", "any"), Tag(cp, "none", "any"),
            Tag("py2.py3", "none", "any")}
    fits |= {Tag(f"cp3{m}", "abi3", PLATFORM) for m in range(2, int(python_version.split(".")[1]) + 1)}
    return any(t in fits for t in tags)


def missing_requirements(wheelhouse: Path, python_version: str, roots=("xlperf",)) -> list[str]:
    """Requirements (as text) that a Windows CPython ``python_version`` installing ``roots``
    from ``wheelhouse`` would need and not find there, following each wheel's METADATA with
    Windows markers. Empty when the wheelhouse is closed."""
    from email.parser import BytesParser

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename

    available: dict[str, list[tuple]] = {}
    for w in _wheels(wheelhouse):
        if _wheel_fits(w, python_version):
            name, version, _b, _t = parse_wheel_filename(w.name)
            available.setdefault(name, []).append((version, w))
    env = windows_environment(python_version)
    todo = [(Requirement(r), ()) for r in roots]
    seen, missing = set(), []
    while todo:
        req, extras = todo.pop()
        key = (canonicalize_name(req.name), str(req.specifier), tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        found = [(v, w) for v, w in available.get(canonicalize_name(req.name), []) if req.specifier.contains(v, True)]
        if not found:   # as pip must be told on another system: no marker (already evaluated)
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            missing.append(f"{req.name}{extras}{req.specifier}")
            continue
        _v, wheel = max(found)
        with zipfile.ZipFile(wheel) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
            headers = BytesParser().parsebytes(z.read(meta))
        for text in headers.get_all("Requires-Dist") or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({**env, "extra": e}) for e in (req.extras or {""})):
                todo.append((dep, ()))
    return sorted(set(missing))


def _pip(args: list[str], what: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise BundleError(f"{what}失败（pip 退出码 {proc.returncode}）：\n{tail}")


def source_root() -> Path:
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise BundleError("xlperf bundle 需要 xlperf 的源代码目录（含 pyproject.toml），"
                          "请在源代码目录中以 pip install -e . 安装后运行。")
    return root


def build_xlperf_wheel(dest: Path) -> Path:
    """xlperf's own wheel, built reproducibly (fixed SOURCE_DATE_EPOCH)."""
    with tempfile.TemporaryDirectory(prefix="xlperf-wheel-") as tmp:
        env_before = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
        try:
            _pip(["wheel", "--no-deps", "-q", "-w", tmp, str(source_root())], "生成 xlperf 的 wheel ")
        finally:
            if env_before is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = env_before
        (built,) = Path(tmp).glob("xlperf-*.whl")
        dest.mkdir(parents=True, exist_ok=True)
        for old in dest.glob("xlperf-*.whl"):
            old.unlink()
        return Path(shutil.copy2(built, dest / built.name))


def fill_wheelhouse(wheelhouse: Path, python_versions=PYTHON_VERSIONS, offline_from: Path | None = None) -> None:
    """Download (or, with ``offline_from``, copy from there without any index) every wheel
    Windows needs, until :func:`missing_requirements` is empty for each version."""
    source = ["--no-index", "--find-links", str(offline_from)] if offline_from else []
    for version in python_versions:
        cp = "cp" + version.replace(".", "")
        target = ["--only-binary=:all:", "--platform", PLATFORM, "--python-version", version,
                  "--implementation", "cp", "--abi", cp, "--abi", "abi3", "--abi", "none"]
        # xlperf's wheel plus its requirements as Windows evaluates them (marker-free), so the
        # first download already takes pywin32; later rounds only for what deps gate on win32
        wanted = [str(w) for w in wheelhouse.glob("xlperf-*.whl")] + missing_requirements(wheelhouse, version)
        for _round in range(5):
            _pip(["download", "-q", "-d", str(wheelhouse), "--find-links", str(wheelhouse), *source, *target,
                  *wanted], f"下载 Python {version} 的 {PLATFORM} 依赖")
            wanted = missing_requirements(wheelhouse, version)
            if not wanted:
                break
        else:
            raise BundleError(f"Python {version} 缺少依赖：{'、'.join(wanted)}")


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


def write_scripts(out: Path, python_versions=PYTHON_VERSIONS) -> None:
    from . import bundle_scripts as S

    (out / "messages").mkdir(exist_ok=True)
    (out / INSTALL_CMD).write_bytes(_crlf(S.install_cmd(python_versions)))
    (out / UNINSTALL_CMD).write_bytes(_crlf(S.UNINSTALL_CMD))
    (out / README_TXT).write_bytes(b"\xef\xbb\xbf" + S.readme_txt(python_versions).replace("\n", "\r\n")
                                   .encode("utf-8"))
    for name, text in S.messages(python_versions).items():
        (out / "messages" / f"{name}.txt").write_bytes(text.replace("\n", "\r\n").encode("gbk"))


def _files(out: Path) -> list[Path]:
    return sorted((p for p in out.rglob("*") if p.is_file()), key=lambda p: p.relative_to(out).as_posix())


def write_checksums(out: Path) -> Path:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}"
             for p in _files(out) if p.name != "SHA256SUMS.txt"]
    target = out / "SHA256SUMS.txt"
    target.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return target


def write_zip(out: Path, zip_path: Path) -> Path:
    """The folder as a zip with fixed times, order and modes (same files → same bytes);
    names are UTF-8 (flag set), which Windows' Explorer and 7-Zip read."""
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for p in _files(out):
            info = zipfile.ZipInfo(f"{out.name}/{p.relative_to(out).as_posix()}", ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 0
            z.writestr(info, p.read_bytes())
    os.replace(tmp, zip_path)
    return zip_path


def bundle(out: Path, *, python_versions=PYTHON_VERSIONS, offline_from: Path | None = None,
           make_zip: bool = True) -> Path:
    """Make the bundle folder ``out`` (created or refreshed) and ``out.zip`` beside it."""
    from .addin import build as addin_build

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wheelhouse = out / "wheelhouse"
    build_xlperf_wheel(wheelhouse)
    fill_wheelhouse(wheelhouse, python_versions, offline_from)
    addin_build.build(out / "addin")
    write_scripts(out, python_versions)
    write_checksums(out)
    if make_zip:
        write_zip(out, out.with_name(out.name + ".zip"))
    return out


def _cmd_bundle(args) -> int:
    versions = tuple(args.python) if args.python else PYTHON_VERSIONS
    bad = [v for v in versions if v not in PYTHON_VERSIONS]
    if bad:
        raise BundleError(f"只支持 Python {'、'.join(PYTHON_VERSIONS)}，不支持 {'、'.join(bad)}。")
    out = bundle(Path(args.out), python_versions=versions,
                 offline_from=Path(args.offline_from) if args.offline_from else None, make_zip=not args.no_zip)
    count = len(_wheels(out / "wheelhouse"))
    print(f"已生成离线安装包 {out}（{count} 个 wheel，Windows 64 位，Python {'、'.join(versions)}）"
          + ("" if args.no_zip else f" 和 {out.with_name(out.name + '.zip')}") + f"。安装方法见 {out / README_TXT}。")
    return 0


def register_cli(sub) -> None:
    p = sub.add_parser("bundle", help="生成 Windows 离线安装包（wheel、加载项、安装.cmd），无需联网和管理员权限即可安装",
                       description="为 64 位 Windows 上的 Python 3.11–3.13 生成离线安装包：wheelhouse、xlperf.xlam、"
                                   "安装.cmd、卸载.cmd、安装说明.txt，以及同名 .zip。生成时需要能访问 PyPI（或用 --offline-from）。")
    p.add_argument("--out", required=True, help="输出文件夹（旁边另写同名 .zip）")
    p.add_argument("--python", nargs="+", metavar="3.X", help="只为这些 Python 版本准备（默认 3.11 3.12 3.13）")
    p.add_argument("--offline-from", metavar="WHEELHOUSE", help="不联网：从已有的 wheelhouse 文件夹取 wheel")
    p.add_argument("--no-zip", action="store_true", help="不生成 .zip")
    p.set_defaults(func=_cmd_bundle)
