"""``xlperf bundle``: the offline Windows installer.

Cost: the wheelhouse is downloaded from the index ONCE per test session (one ``bundle()``
call for 3.11, 3.12 and 3.13, ~30 wheels, ~90 MB; pip's HTTP cache makes a second CI run on
the same machine cheaper); every other test works offline on that folder — the resolve
checks (``pip install --dry-run --no-index``) and a second, offline bundle built from the
first one's wheelhouse (``--offline-from``) for the reproducibility check. Deterministic:
the checks compare the bundle with itself and with pip's resolver, never with a list of
versions written down here."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from xlperf import bundle as B
from xlperf.addin.build import ADDIN_NAME

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="session")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "xlperf-离线安装包"
    B.bundle(out)
    return out


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("version", B.PYTHON_VERSIONS)
def test_the_wheelhouse_resolves_offline_for_windows(made, version, tmp_path):
    """pip's own resolver, offline, as for a 64-bit Windows CPython ``version``; and the
    closure under Windows markers (pip evaluates sys_platform on this machine, so pywin32,
    which Windows needs, is checked by :func:`missing_requirements`)."""
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--find-links", str(made / "wheelhouse"),
         "--platform", "win_amd64", "--only-binary=:all:", "--python-version", version, "--implementation", "cp",
         "--target", str(tmp_path / "target"), "--ignore-installed", "--disable-pip-version-check", "-q",
         "--report", str(report), "xlperf"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = {i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"]}
    assert {"xlperf", "openpyxl", "pandas", "xlwings"} <= names
    assert B.missing_requirements(made / "wheelhouse", version) == []
    cp = "cp" + version.replace(".", "")
    assert any(re.match(rf"pywin32-.*-{cp}-{cp}-win_amd64\.whl$", w.name) for w in (made / "wheelhouse").iterdir())


def test_missing_requirements_sees_what_windows_needs(made, tmp_path):
    """The closure check can fail: without the pywin32 wheels it names pywin32."""
    partial = tmp_path / "wh"
    partial.mkdir()
    for w in (made / "wheelhouse").iterdir():
        if not w.name.startswith("pywin32-"):
            (partial / w.name).write_bytes(w.read_bytes())
    assert any(m.startswith("pywin32") for m in B.missing_requirements(partial, "3.12"))


def test_the_bundle_holds_the_addin_scripts_and_instructions(made):
    assert zipfile.is_zipfile(made / "addin" / ADDIN_NAME)
    for name in (B.INSTALL_CMD, B.UNINSTALL_CMD, B.README_TXT, "SHA256SUMS.txt"):
        assert (made / name).is_file(), name
    readme = (made / B.README_TXT).read_bytes()
    assert readme.startswith(b"\xef\xbb\xbf") and "%LOCALAPPDATA%\\xlperf" in readme.decode("utf-8-sig")
    sums = dict(line.split("  ", 1)[::-1] for line in (made / "SHA256SUMS.txt").read_text().splitlines())
    assert sums == {k: v for k, v in _hashes(made).items() if k != "SHA256SUMS.txt"}
    with zipfile.ZipFile(made.with_name(made.name + ".zip")) as z:
        assert sorted(n.split("/", 1)[1] for n in z.namelist()) == sorted(_hashes(made))


@pytest.mark.parametrize("script", [B.INSTALL_CMD, B.UNINSTALL_CMD])
def test_batch_files_are_ascii_crlf_and_lint_clean(made, script):
    data = (made / script).read_bytes()
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    text = data.decode("ascii")
    labels = set(re.findall(r"^:(\w[\w-]*)", text, re.M))
    for target in re.findall(r"(?:goto|call) :([\w-]+)", text, re.I):
        assert target == "eof" or target in labels, target
    for message in re.findall(r"call :say ([\w-]+)", text):
        raw = (made / "messages" / f"{message}.txt").read_bytes()
        assert raw.decode("gbk") and b"\r\n" in raw                 # the console's `type` on code page 936
    assert "--no-index" in text or script == B.UNINSTALL_CMD
    lint = subprocess.run([sys.executable, "-m", "blinter", str(made / script), "--fail-on", "error"],
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout[-3000:]


def test_blinter_fails_a_broken_script(tmp_path):
    """The static check can fail: a GOTO to a missing label and an unclosed parenthesis."""
    bad = tmp_path / "bad.cmd"
    bad.write_bytes(b'@echo off\r\ngoto :nowhere\r\nif "%A%"=="1" (\r\n  echo x\r\nexit /b 0\r\n')
    lint = subprocess.run([sys.executable, "-m", "blinter", str(bad), "--fail-on", "error"],
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode != 0


def test_installer_checks_python_version_and_bitness(made):
    text = (made / B.INSTALL_CMD).read_text("ascii")
    assert all(f"py -{v}" in text for v in B.PYTHON_VERSIONS) and "call :try_py python" in text
    assert "(3, 11) <= sys.version_info[:2] <= (3, 13)" in text and "calcsize('P') == 8" in text
    assert "addin install --file" in text and "%LOCALAPPDATA%\\xlperf" in text
    assert "no-python" in text and "python.org" in (made / "messages" / "no-python.txt").read_bytes().decode("gbk")


def test_the_bundle_is_reproducible(made, tmp_path):
    """Same inputs (here: the same wheels, offline) → the same files, byte for byte, and the
    same .zip."""
    again = tmp_path / made.name
    B.bundle(again, offline_from=made / "wheelhouse")
    assert _hashes(again) == _hashes(made)
    assert (again.with_name(again.name + ".zip")).read_bytes() == made.with_name(made.name + ".zip").read_bytes()
