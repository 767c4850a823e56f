"""Host-side file handling for directories a sandbox could write: never follow a link.

Judge0's CVE-2024-28185/28189 were the host following a symlink planted in the box.
Here the host only touches box directories through a directory fd opened with
O_NOFOLLOW, opens entries relative to it with O_NOFOLLOW | O_NONBLOCK, accepts regular
files only (fstat on the opened fd, so no check/use race) and removes boxes with
``shutil.rmtree``, which is fd-based and does not follow links on Linux.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
import uuid
from pathlib import Path

if not shutil.rmtree.avoids_symlink_attacks:  # pragma: no cover - Linux always has it
    raise RuntimeError("this platform's shutil.rmtree can follow symlinks; refusing to judge")

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafeBox(RuntimeError):
    pass


def make_private_dir(parent: Path, prefix: str, owner_uid: int | None, owner_gid: int | None) -> Path:
    """A fresh directory (mode 0700) that only ``owner_uid`` (and root) can enter."""
    path = parent / f"{prefix}{uuid.uuid4().hex}"
    os.mkdir(path, 0o700)
    if owner_uid is not None and os.geteuid() == 0:
        os.chown(path, owner_uid, owner_gid if owner_gid is not None else owner_uid)
    return path


def write_new_file(directory: Path, name: str, data: bytes, owner_uid: int | None, mode: int = 0o644) -> None:
    """Create a file that must not exist yet, relative to a no-follow directory fd."""
    dfd = os.open(directory, _O_DIR)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if owner_uid is not None and os.geteuid() == 0:
                os.fchown(fd, owner_uid, owner_uid)
        finally:
            os.close(fd)
    finally:
        os.close(dfd)


def copy_out(box: Path, patterns: tuple[str, ...], dest_parent: Path, dest_name: str, max_bytes: int) -> list[str]:
    """Copy the box's top-level regular files matching ``patterns`` into a new directory.

    The copy lands in ``dest_parent/dest_name`` atomically (staging + rename), owned by
    the judge, world-readable. Links, FIFOs, devices and sub-directories are skipped.
    Returns the copied names (empty when nothing matched).
    """
    dfd = os.open(box, _O_DIR)
    staging = dest_parent / f".staging-{uuid.uuid4().hex}"
    copied: list[str] = []
    total = 0
    try:
        os.mkdir(staging, 0o755)
        for name in sorted(os.listdir(dfd)):
            if name.startswith(".") or not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                continue
            try:
                fd = os.open(name, _O_FILE, dir_fd=dfd)
            except OSError:
                continue  # a symlink (ELOOP) or gone
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    continue
                total += st.st_size
                if total > max_bytes:
                    raise UnsafeBox(f"compiled artifacts exceed {max_bytes} bytes")
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                out = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
                try:
                    while chunk := os.read(fd, 1 << 20):
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(out, view) :]
                finally:
                    os.close(out)
                os.chmod(staging / name, mode)
                copied.append(name)
            finally:
                os.close(fd)
        if not copied:
            shutil.rmtree(staging)
            return []
        try:
            os.rename(staging, dest_parent / dest_name)
        except OSError:
            shutil.rmtree(staging)  # a concurrent compile of the same code won
        return copied
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        os.close(dfd)


def remove_box(path: Path) -> None:
    """Delete a box directory without following anything planted in it."""
    if path.is_symlink():
        path.unlink()
        return
    shutil.rmtree(path, ignore_errors=True)
