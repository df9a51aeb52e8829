"""The texts of the offline bundle (see :mod:`xlperf.bundle`): two ASCII-only batch files
and the Chinese texts they point to. Kept apart so the bundle logic stays readable.

Why ASCII batch: cmd.exe decodes a batch file in the console's current code page (936 on
Chinese Windows, 65001 after ``chcp 65001``, 437 elsewhere) and mis-splits lines when the
bytes disagree; ASCII is the same in all of them. Chinese output comes from ``type`` of a
GBK file when the console is code page 936, else an English line."""
from __future__ import annotations

_CHECK = ("-c \"import sys, struct; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) "
          "and struct.calcsize('P') == 8 else 1)\"")

_COMMON = r"""set "HERE=%~dp0"
set "TARGET=%LOCALAPPDATA%\xlperf"
set "VENV=%TARGET%\venv"
set "RC=0"
set "CP="
for /f "tokens=2 delims=:" %%c in ('chcp') do set "CP=%%c"
set "CP=%CP: =%"
set "CP=%CP:.=%"
"""

_SUBROUTINES = r"""
:say
rem %1: message file (Chinese, GBK) for a code page 936 console; %2: the English text otherwise
if "%CP%"=="936" (
  type "%HERE%messages\%~1.txt"
) else (
  echo %~2
)
goto :eof

:end
if /i not "%~1"=="/q" pause
endlocal & exit /b %RC%
"""

# The user's PATH is edited in the registry as it is stored (REG_EXPAND_SZ, %VAR% references
# kept unexpanded, which [Environment]::SetEnvironmentVariable would expand for good); setting
# XLPERF_HOME through .NET then broadcasts the change to Explorer, so new windows see it.
_PATH_EDIT = ("powershell -NoProfile -NonInteractive -Command \"$k = [Microsoft.Win32.Registry]::CurrentUser"
              ".CreateSubKey('Environment'); $bin = $env:VENV + '\\Scripts'; "
              "$p = [string]$k.GetValue('Path', '', 'DoNotExpandEnvironmentNames'); "
              "$parts = @($p -split ';' | Where-Object { $_ -ne '' -and $_ -ne $bin }); "
              "{op}"
              "$k.SetValue('Path', ($parts -join ';'), 'ExpandString'); $k.Close(); "
              "[Environment]::SetEnvironmentVariable('XLPERF_HOME', {home}, 'User')\"")


def install_cmd(python_versions) -> str:
    tries = "".join(f"call :try_py py -{v}\n" for v in sorted(python_versions, reverse=True))
    return (r"""@echo off
rem xlperf offline installer: per user, no administrator rights, no internet.
rem Installs into %LOCALAPPDATA%\xlperf\venv from the wheelhouse folder next to this file,
rem puts xlperf on the user's PATH and installs the Excel add-in. Chinese instructions are
rem in the .txt file next to this script. Run with /q to skip the final pause.
setlocal EnableExtensions DisableDelayedExpansion
""" + _COMMON + r"""if "%LOCALAPPDATA%"=="" (
  echo LOCALAPPDATA is not set: cannot install for this user.
  set "RC=1"
  goto :end
)
set "PY="
""" + tries + r"""call :try_py python
if not defined PY goto :nopython
echo Python: %PY%
if exist "%VENV%\Scripts\python.exe" goto :venv_ready
%PY% -m venv "%VENV%"
if errorlevel 1 goto :fail
:venv_ready
"%VENV%\Scripts\python.exe" -m pip install --no-index --find-links "%HERE%wheelhouse" --upgrade --disable-pip-version-check xlperf
if errorlevel 1 goto :fail
""" + _PATH_EDIT.replace("{op}", "$parts += $bin; ").replace("{home}", "$env:TARGET") + r"""
if errorlevel 1 goto :fail
"%VENV%\Scripts\xlperf.exe" addin install --file "%HERE%addin\xlperf.xlam"
if errorlevel 1 goto :fail
call :say done "xlperf is installed. Open a NEW command window to use the xlperf command."
goto :end

:try_py
if defined PY goto :eof
%* """ + _CHECK + r""" >nul 2>&1
if not errorlevel 1 set "PY=%*"
goto :eof

:nopython
call :say no-python "No 64-bit Python 3.11, 3.12 or 3.13 found. Install one from python.org for this user (tick Add python.exe to PATH), then run this file again."
set "RC=2"
goto :end

:fail
call :say failed "Installation failed, see the messages above. Nothing outside %LOCALAPPDATA%\xlperf was changed."
set "RC=1"
goto :end
""" + _SUBROUTINES)


UNINSTALL_CMD = (r"""@echo off
rem xlperf uninstaller: removes the Excel add-in, the PATH entry and %LOCALAPPDATA%\xlperf\venv.
rem Run with /q to skip the final pause.
setlocal EnableExtensions DisableDelayedExpansion
""" + _COMMON + r"""if "%LOCALAPPDATA%"=="" (
  echo LOCALAPPDATA is not set: nothing to remove.
  set "RC=1"
  goto :end
)
if exist "%VENV%\Scripts\xlperf.exe" "%VENV%\Scripts\xlperf.exe" addin uninstall
""" + _PATH_EDIT.replace("{op}", "").replace("{home}", "$null") + r"""
if errorlevel 1 set "RC=1"
if exist "%VENV%" rmdir /s /q "%VENV%"
if exist "%VENV%" goto :busy
rmdir "%TARGET%" >nul 2>&1
call :say removed "xlperf has been removed."
goto :end

:busy
call :say busy "Some files are in use. Close Excel and command windows using xlperf, then run this file again."
set "RC=1"
goto :end
""" + _SUBROUTINES)


def messages(python_versions) -> dict[str, str]:
    versions = "、".join(python_versions)
    return {
        "done": "xlperf 已安装。请打开一个新的命令行窗口使用 xlperf 命令；Excel 重新启动后可见 xlperf 选项卡。\n",
        "no-python": (f"未找到 64 位的 Python {versions}。\n"
                      "请从 https://www.python.org/downloads/windows/ 下载“Windows installer (64-bit)”，\n"
                      "安装时选择“为当前用户安装”（不需要管理员权限），并勾选“Add python.exe to PATH”，\n"
                      "然后重新运行 安装.cmd。详见 安装说明.txt。\n"),
        "failed": "安装未完成，原因见上方信息。%LOCALAPPDATA%\\xlperf 以外的内容未被改动。详见 安装说明.txt。\n",
        "removed": "xlperf 已卸载（加载项、PATH 中的条目和 %LOCALAPPDATA%\\xlperf 已删除）。\n",
        "busy": "有文件正在使用中：请关闭 Excel 和正在使用 xlperf 的命令行窗口，然后重新运行 卸载.cmd。\n",
    }


def readme_txt(python_versions) -> str:
    versions = "、".join(python_versions)
    return f"""xlperf 离线安装包（Windows 64 位）

本安装包不需要联网，也不需要管理员权限。只为当前登录的用户安装。

一、安装前
  1. 需要 64 位的 Python {versions} 之一。
     在“开始”菜单搜索“命令提示符”，输入 py --list 查看已安装的版本。
     没有时：从 https://www.python.org/downloads/windows/ 下载“Windows installer (64-bit)”
     （可在有网络的电脑上下载后拷贝过来），安装时选择“Install Now”（为当前用户安装，
     不需要管理员权限），并勾选“Add python.exe to PATH”。
  2. 关闭 Excel。
  3. 把整个文件夹（或 .zip 解压后的文件夹）放在本机磁盘上，不要在压缩包里直接运行。

二、安装
  双击 安装.cmd。它会：
  - 在 %LOCALAPPDATA%\\xlperf\\venv 建立 Python 虚拟环境；
  - 只从本文件夹的 wheelhouse 安装 xlperf 及其依赖（不联网）；
  - 把 xlperf 命令加入当前用户的 PATH；
  - 安装 Excel 加载项 xlperf.xlam（xlperf addin install）。
  结束时显示“xlperf 已安装”。之后请打开一个新的命令行窗口，输入 xlperf --help 检查。
  重新运行 安装.cmd 可以升级到新的安装包。

三、卸载
  关闭 Excel，双击 卸载.cmd。它删除加载项、PATH 中的条目和 %LOCALAPPDATA%\\xlperf\\venv。

四、遇到问题
  - “未找到 64 位的 Python”：按第一步安装 Python 后重新运行。
  - 安装失败：窗口中的英文信息说明了原因；可把窗口内容复制给管理员。
  - 杀毒软件拦截：允许 %LOCALAPPDATA%\\xlperf 中的 python.exe 和 xlperf.exe。
  - 文件完整性：SHA256SUMS.txt 列出了每个文件的 SHA-256。

五、文件说明
  安装.cmd、卸载.cmd   安装和卸载（纯 ASCII 批处理，任何代码页下都能运行）
  wheelhouse\\          xlperf 和全部依赖（Windows 64 位，Python {versions}）
  addin\\xlperf.xlam    Excel 加载项
  messages\\            安装过程中显示的中文提示（GBK 编码）
"""
