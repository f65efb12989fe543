"""Folders as tar archives for backups: packed without following a link, unpacked without letting a member out.

- :func:`pack` stores links as links and never reads through one; a file it cannot read is left out and named.
- :func:`unpack` extracts with tarfile's ``data`` filter: no absolute name, no ``..``, no hard link out of the
  destination, no device, no set-uid bit, owners taken from the extracting process; a member whose path would
  pass through a link (extracted before it, or already in the destination) and lead out is refused, as the filter
  resolves each member's path. Symbolic links themselves are kept whatever they point to. Folders keep their
  modes minus set-id, sticky and others' write bits.
- :func:`check_members`: the same rules over a whole archive before anything is changed, and no member beneath a
  link the archive itself makes (:func:`pack` never makes one).

A user's home is packed and unpacked by a process that is that user (``python -I -m hub.backup.archives pack``
with the archive on standard output, ``unpack`` reading it from standard input), started by
:mod:`hub.backup.commands`: whatever the user planted in their home, that process reaches only what the user
already could, and what it writes is theirs.

May import the standard library (and its tarfile backport) only: it must start fast as a user's account.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

if not hasattr(tarfile, "data_filter"):  # extraction filters came with Python 3.11.4 (Debian 12 ships 3.11.2)
    from backports import tarfile


class ArchiveError(ValueError):
    """An archive holds a member that must not be extracted; the message names it."""


def pack(top: Path, stream: BinaryIO, leave_out: Callable[[str], bool] = lambda _name: False) -> list[str]:
    """Write the contents of ``top`` (not ``top`` itself) to ``stream`` as a tar archive; return what could not
    be read, each as ``name: reason``. ``leave_out(name)`` (names relative to ``top``) skips an entry, and all
    beneath it for a folder."""
    skipped: list[str] = []

    def unreadable(error: OSError) -> None:
        skipped.append(f"{os.path.relpath(error.filename, top)}: {error.strerror}")

    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for folder, subfolders, files in os.walk(top, onerror=unreadable):  # links to folders are not followed
            relative = os.path.relpath(folder, top)
            entries = []
            for name in sorted(subfolders) + sorted(files):
                member = os.path.normpath(os.path.join(relative, name))
                if not leave_out(member):
                    entries.append((name, member))
            subfolders[:] = [name for name, _ in entries if name in subfolders]
            for name, member in entries:
                try:
                    archive.add(os.path.join(folder, name), arcname=member, recursive=False)
                except OSError as error:
                    skipped.append(f"{member}: {error.strerror}")
    return skipped


def _extraction_filter(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo:
    if member.issym():
        # A symbolic link is only a name, and homes are full of links out of them (a virtual environment's
        # python -> /usr/bin/python3), which the data filter refuses. What must never happen is a member written
        # *through* a link: the folder a link goes into is checked with every link on the way resolved; the link
        # itself replaces whatever is at its name (tarfile unlinks it first), so that is not followed.
        name = member.name.lstrip("/")
        folder, last = os.path.split(name)
        if last in ("", ".", ".."):
            raise tarfile.OutsideDestinationError(member, os.path.join(destination, name))
        probe = member.replace(name=os.path.join(folder, "_"), linkname="", deep=False)
        probe.type = tarfile.REGTYPE
        tarfile.data_filter(probe, destination)
        return member.replace(name=name, uid=None, gid=None, uname=None, gname=None, deep=False)
    checked = tarfile.data_filter(member, destination)
    if member.isdir():  # the data filter drops folders' modes; keep them, minus what it takes from files
        return checked.replace(mode=member.mode & 0o755, deep=False)
    return checked


def unpack(stream: BinaryIO, destination: Path) -> int:
    """Extract the tar archive read from ``stream`` into ``destination`` (which must exist); return the number of
    members. Raises :class:`ArchiveError` at the first member that may not be extracted."""
    count = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                archive.extract(member, destination, filter=_extraction_filter)
                count += 1
    except tarfile.FilterError as error:
        raise ArchiveError(str(error)) from None
    return count


def check_members(path: Path) -> int:
    """Refuse (:class:`ArchiveError`) an archive with a member that could not be extracted into an empty folder
    (``..``, a hard link out of it, a device, a path through a link of the archive); return the number of
    members."""
    count = 0
    links: set[str] = set()
    with tempfile.TemporaryDirectory() as empty, tarfile.open(path, mode="r:") as archive:
        for member in archive:
            try:
                _extraction_filter(member, empty)
            except tarfile.FilterError as error:
                raise ArchiveError(f"{path.name}: {error}") from None
            name = os.path.normpath(member.name.lstrip("/"))
            through = [folder for folder in Path(name).parents if str(folder) in links]
            if through:  # a link the archive makes first, and then a member beneath it
                raise ArchiveError(f"{path.name}: {member.name!r} would be written through the link "
                                   f"{str(through[0])!r}")
            if member.issym():
                links.add(name)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pack this account's home to standard output, or unpack an "
                                                 "archive from standard input into it.")
    parser.add_argument("action", choices=["pack", "unpack"])
    args = parser.parse_args(argv)
    home = Path.cwd()  # the caller starts this process in the home, as the home's account
    if args.action == "pack":
        for problem in pack(home, sys.stdout.buffer):
            print(f"left out: {problem}", file=sys.stderr)
        sys.stdout.buffer.flush()
        return 0
    try:
        unpack(sys.stdin.buffer, home)
    except ArchiveError as error:
        print(str(error), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
