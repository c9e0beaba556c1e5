"""The files `tml-lr` writes (--csv, --npy, --png): whole, or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Any

from tml.optimizers._cli.errors import UserError

__all__ = ["OutputFile", "cannot_write"]


def cannot_write(path: str, e: OSError | ValueError) -> UserError:
    """The error for a file that cannot be written (ValueError: a NUL in its name)."""
    reason = e.strerror if isinstance(e, OSError) and e.strerror else e
    return UserError(f"{path}: cannot write: {reason}")


class OutputFile:
    """A file named on the command line, opened before any work and written whole or not at all.

    A new or regular file is written under a temporary name in its directory and renamed
    to its name by `commit`: a run that fails or is interrupted (Ctrl-C) leaves neither a
    partial file (a .npy whose header promises more than it holds) nor its temporary,
    and an existing file of that name stays as it was. A symbolic link to a regular file
    is followed: the file it points at is replaced, and the link kept. An existing file
    that cannot be written is refused, as opening it would be; the replacement keeps its
    permission bits. A path that is something else (a device such as /dev/null or
    /dev/full, a FIFO) is written in place: it is no file to replace.

    Raises:
        UserError: the file cannot be created (a missing or read-only directory) or is
            not writable; the message names `path`.
    """

    def __init__(self, path: str, *, text: bool) -> None:
        self.path = path
        self._temp: Path | None = None
        try:
            target = Path(os.path.realpath(path))  # a link's file (a dangling one's name)
            held: os.stat_result | None = target.stat()
        except (OSError, ValueError):  # not there, or not reachable: opening it says why
            target, held = Path(path), None
        # A name ending in "/" is no file: opening it as written says so.
        in_place = path.endswith("/") or (held is not None and not stat.S_ISREG(held.st_mode))
        temp = None
        if not in_place:
            if held is not None and not os.access(target, os.W_OK):
                raise cannot_write(path, PermissionError(errno.EACCES, "Permission denied"))
            temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        mode = ("w" if temp is None else "x") + ("" if text else "b")
        try:
            self.file: IO[Any] = open(  # noqa: SIM115, PTH123  (closed by commit or discard)
                path if temp is None else temp,
                mode,
                encoding="utf-8" if text else None,
                newline="" if text else None,
            )
        except (OSError, ValueError) as e:
            raise cannot_write(path, e) from None
        if temp is not None and held is not None:  # the file it replaces keeps its mode
            with contextlib.suppress(OSError):
                temp.chmod(stat.S_IMODE(held.st_mode))
        self._temp = temp
        self._target = target

    def commit(self) -> None:
        """Flushes and closes the file, then gives it its name.

        Raises:
            UserError: it could not be flushed or renamed (a full disk); the temporary
                file is removed.
        """
        try:
            self.file.close()
            if self._temp is not None:
                self._temp.replace(self._target)
                self._temp = None
        except OSError as e:
            self.discard()
            raise cannot_write(self.path, e) from None

    def discard(self) -> None:
        """Closes the file after another error, which is the one reported, and removes it."""
        # Any error here follows the one reported (the write that failed first).
        with contextlib.suppress(OSError):
            self.file.close()
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
            self._temp = None
