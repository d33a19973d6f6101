"""Atomic file replacement: readers see the old file or the whole new one, never a torn write."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def atomic_write(path: Path, write: Callable[[BinaryIO], Any], durable: bool = True) -> None:
    """Write through ``write`` to a temp file beside ``path``, fsync it, then ``os.replace`` it.

    ``durable=False`` skips the fsync: a kill still cannot tear the file (the rename is atomic), only
    a power loss could leave it empty, which is fine for data that can be rebuilt.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # 0o666 so the umask decides the mode, as for any file the user's tools write.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
