"""A user's own notebook published as a dashboard: what may be published, and the snapshot taken of it.

Publishing snapshots ``<home>/<source>`` into ``<home>/dashboards/published/<url name>.ipynb`` and starts the
restricted server ``dash-<url name>`` on that copy (:mod:`spawner.published`): editing the source afterwards
changes nothing until the owner republishes. The hub checks the request's form (:func:`check_request`); the
copy itself is made by a process that already is the user (``python -I -m spawner.own_dashboards SOURCE NAME``,
started through :func:`spawner.accounts.run_as` on system accounts), so root never opens a path a user chose,
nor follows a link they planted.

May import :mod:`spawner.dashboards`, :mod:`spawner.published` and the standard library at module level (the
command must start fast); :mod:`spawner.accounts` and :mod:`spawner.userdata` only inside :func:`snapshot`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

from spawner.dashboards import FOLDER, Dashboard
from spawner.published import OWN_FOLDER, PREFIX, PublishError, is_slug, own_notebook, server_name

# A notebook larger than this is refused: a dashboard is code and a few outputs, and the copy is made as the
# user at every publish (the largest shipped dashboard, query_optimization.ipynb, is under 10 kB).
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_TITLE_LENGTH = 120
MAX_URL_NAME_LENGTH = 40
# The thumbnail the hub's pages show: the notebook's first picture, scaled to fit this box and saved as PNG.
THUMBNAIL_BOX = (320, 200)
# A PNG of THUMBNAIL_BOX from a plot is 10-40 kB; anything larger is not shown (it travels in every page listing it).
MAX_THUMBNAIL_BYTES = 96 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PICTURE_TYPES = ("image/png", "image/jpeg")


@dataclass(frozen=True)
class PublishRequest:
    source: str  # the notebook, relative to the owner's home
    title: str
    url_name: str

    @property
    def server(self) -> str:
        return PREFIX + self.url_name


def check_request(source: object, title: object, url_name: object, offered: Iterable[Dashboard]) -> PublishRequest:
    """The request's form, checked before anything touches the owner's home; PublishError says what is wrong."""
    if not isinstance(url_name, str) or not is_slug(url_name) or len(url_name) > MAX_URL_NAME_LENGTH:
        raise PublishError(f"URL name {url_name!r}: use lowercase letters, digits and single hyphens (at most "
                           f"{MAX_URL_NAME_LENGTH} characters), e.g. 'weekly-report'")
    built_in = {server_name(dashboard): dashboard for dashboard in offered}
    if PREFIX + url_name in built_in:
        raise PublishError(f"URL name {url_name!r} is taken by the built-in dashboard "
                           f"{built_in[PREFIX + url_name].title!r}: choose another")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE_LENGTH:
        raise PublishError(f"Give the dashboard a title of 1 to {MAX_TITLE_LENGTH} characters")
    if not isinstance(source, str) or not source.strip():
        raise PublishError("Choose a notebook from your home (a path such as 'reports/weekly.ipynb')")
    path = PurePosixPath(source.strip())
    if path.is_absolute() or ".." in path.parts or "\0" in source:
        raise PublishError(f"{source!r} is not inside your home: give its path relative to your home, without '..'")
    if path.suffix != ".ipynb":
        raise PublishError(f"{source!r} is not a notebook: only .ipynb files can be published")
    return PublishRequest(str(path), " ".join(title.split()), url_name)


class SnapshotRefused(PublishError):
    """The notebook cannot be snapshotted (missing, outside the home through a link, not a notebook...)."""


def take_snapshot(home: Path, source: str, url_name: str) -> dict:
    """Copy ``home/source`` to the dashboard's snapshot; run as the owner. Returns what was copied."""
    real_home = home.resolve()
    wanted = home / source
    real = Path(os.path.realpath(wanted))
    if not real.is_relative_to(real_home):
        raise SnapshotRefused(f"{source} leads outside your home (through a link): only notebooks in your home "
                              "can be published")
    if not real.is_file():
        raise SnapshotRefused(f"{source}: no such notebook in your home")
    if real.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise SnapshotRefused(f"{source} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    content = real.read_bytes()
    try:
        notebook = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        notebook = None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4 or not isinstance(notebook.get("cells"), list):
        raise SnapshotRefused(f"{source} is not a notebook (a Jupyter notebook file, format 4)")
    folder = home / FOLDER / OWN_FOLDER
    for path in (home / FOLDER, folder):
        if path.is_symlink():  # the hub's folders to fill; as the owner, the link could only be theirs
            path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    target = home / FOLDER / own_notebook(url_name)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".snapshot-", suffix=".ipynb")
    with os.fdopen(handle, "wb") as copy:
        copy.write(content)
    os.replace(temporary, target)  # viewers' page loads see the old copy or the new one, never half of one
    return {"cells": len(notebook["cells"]), "bytes": len(content), "thumbnail": thumbnail(notebook)}


def first_picture(notebook: dict) -> bytes | None:
    """The bytes of the first PNG or JPEG output the notebook holds (a plot, a chart saved as an image)."""
    for cell in notebook.get("cells", []):
        for output in (cell.get("outputs") or []) if isinstance(cell, dict) else []:
            data = output.get("data") if isinstance(output, dict) else None
            for kind in PICTURE_TYPES:
                picture = data.get(kind) if isinstance(data, dict) else None
                if isinstance(picture, list):
                    picture = "".join(part for part in picture if isinstance(part, str))
                if isinstance(picture, str):
                    try:
                        return base64.b64decode(picture, validate=False)
                    except (binascii.Error, ValueError):
                        continue
    return None


def thumbnail(notebook: dict) -> str | None:
    """The thumbnail shown beside the dashboard's title: its first picture scaled down and saved again as PNG
    (which drops whatever else the file carried), base64; None when it has no picture Pillow can read. Run as
    the owner: decoding a picture the owner chose is their process's risk, not the hub's."""
    picture = first_picture(notebook)
    if picture is None:
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(picture)) as image:
            image.thumbnail(THUMBNAIL_BOX)
            out = io.BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG", optimize=True)
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for a broken or hostile file: no thumbnail then
        return None
    data = out.getvalue()
    return base64.b64encode(data).decode("ascii") if len(data) <= MAX_THUMBNAIL_BYTES else None


def checked_thumbnail(encoded: object) -> str | None:
    """``encoded`` if it is a base64 PNG no larger than the thumbnail box (what :func:`thumbnail` makes), else
    None. The hub checks what the owner's process answered: that process is the owner's, so is its answer."""
    if not isinstance(encoded, str) or len(encoded) > MAX_THUMBNAIL_BYTES * 4 // 3 + 4:
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    # a PNG's first chunk is IHDR: 4 bytes of length, "IHDR", then width and height (big-endian)
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not (0 < width <= THUMBNAIL_BOX[0] and 0 < height <= THUMBNAIL_BOX[1]):
        return None
    return encoded


def main(argv: list[str] | None = None) -> None:
    """``SOURCE URL_NAME`` -> one JSON line: ``{"snapshot": {...}}`` or ``{"refused": "why"}``."""
    source, url_name = argv if argv is not None else sys.argv[1:]
    try:
        print(json.dumps({"snapshot": take_snapshot(Path.home(), source, url_name)}))
    except (PublishError, OSError) as error:
        message = str(error) if isinstance(error, PublishError) else f"{source}: {error.strerror or error}"
        print(json.dumps({"refused": message}))


async def snapshot(spawner, request: PublishRequest) -> dict:
    """Take the snapshot for one of ``spawner``'s user's dashboards, as that user; SnapshotRefused says why not."""
    if hasattr(spawner, "system_account"):  # each user their own account: the copy is made by that account
        from spawner import accounts

        account = await spawner.system_account()
        command = [sys.executable, "-I", "-m", "spawner.own_dashboards", request.source, request.url_name]
        output = await asyncio.to_thread(accounts.run_as, account, command, {"PATH": os.defpath})
        answer = json.loads(output.strip().splitlines()[-1])
    else:
        from spawner.userdata import server_home

        home = server_home(spawner)
        if home is None or getattr(spawner, "install_dashboards", True) is False:
            raise SnapshotRefused("This hub's servers do not run in a home the hub can copy into: publishing your "
                                  "own notebooks is not available here yet")
        try:
            answer = {"snapshot": await asyncio.to_thread(take_snapshot, home, request.source, request.url_name)}
        except OSError as error:
            answer = {"refused": f"{request.source}: {error.strerror or error}"}
    if "refused" in answer:
        raise SnapshotRefused(answer["refused"])
    copied = answer["snapshot"] if isinstance(answer.get("snapshot"), dict) else {}
    # only what the hub asked for, checked: the answer comes from a process of the owner's
    return {"cells": _count(copied.get("cells")), "bytes": _count(copied.get("bytes")),
            "thumbnail": checked_thumbnail(copied.get("thumbnail"))}


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


if __name__ == "__main__":
    main()
