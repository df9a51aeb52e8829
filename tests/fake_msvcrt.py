"""A stand-in for Windows' ``msvcrt`` byte-range locking, so the lock code xlperf runs on
Windows runs here too. ``locking(fd, LK_NBLCK, n)`` locks ``n`` bytes from the current
position and raises OSError when another process holds them, released when the process
dies — the documented contract, mapped onto POSIX record locks (also per process and
released at exit)."""
import errno
import fcntl
import os

LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4
calls: list = []


def locking(fd: int, mode: int, nbytes: int) -> None:
    pos = os.lseek(fd, 0, os.SEEK_CUR)
    calls.append((mode, pos, nbytes))
    if mode == LK_UNLCK:
        fcntl.lockf(fd, fcntl.LOCK_UN, nbytes, pos)
        return
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if mode == LK_NBLCK else 0), nbytes, pos)
    except OSError:
        raise OSError(errno.EACCES, "Permission denied") from None


def install() -> None:
    import sys
    sys.modules["msvcrt"] = sys.modules[__name__]
