"""Files that hold personal data (bank files and their parts, import uploads, their
working files and rejected-row reports) are created 0600 in folders that are 0700:
readable by the portal's own user only, whatever the process umask is.

Created with these modes from the start (os.open with the mode), never chmod-ed after
writing, so there is no moment when another user could open them.
"""

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path | str) -> Path:
    """Make `path` (and any missing parent) a 0700 directory; an existing one is
    tightened to 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def open_private(path: Path | str, mode: str = "wb", **kwargs):
    """open() for writing a new (or truncated) file, created 0600."""
    if not any(m in mode for m in "wax"):
        raise ValueError("open_private is for writing")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if "x" in mode else 0) | (os.O_APPEND if "a" in mode else 0)
    if "w" in mode:
        flags |= os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_TRUNC
        return os.fdopen(fd, mode.replace("x", "w"), **kwargs)
    except BaseException:
        os.close(fd)
        raise


def private_file(path: Path | str) -> Path:
    """Create `path` empty and 0600, for a library that then opens it by name and
    writes it (XlsxWriter): truncating keeps the mode."""
    with open_private(path, "wb"):
        pass
    return Path(path)


def write_private_text(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    with open_private(path, "w", encoding=encoding) as fh:
        fh.write(text)
