"""The snapshot of a published notebook and its thumbnail: the first picture the notebook holds, scaled down and
saved again as PNG by the owner's process, and checked again by the hub before any page shows it."""

from __future__ import annotations

import base64
import io
import json

import nbformat
from PIL import Image

from spawner.own_dashboards import (
    MAX_THUMBNAIL_BYTES,
    THUMBNAIL_BOX,
    checked_thumbnail,
    take_snapshot,
    thumbnail,
)


def picture(size=(800, 600), kind="PNG", colour=(200, 40, 40)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return base64.b64encode(out.getvalue()).decode()


def notebook_with(*outputs) -> dict:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("# Report"),
                  nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data=data)
                                                                for data in outputs])]
    return json.loads(nbformat.writes(book))


def size_of(encoded: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
        assert image.format == "PNG"
        return image.size


def test_the_thumbnail_is_the_first_picture_scaled_into_the_box():
    made = thumbnail(notebook_with({"text/plain": "a table"}, {"image/jpeg": picture(kind="JPEG")},
                                   {"image/png": picture((50, 50))}))
    width, height = size_of(made)
    assert height == THUMBNAIL_BOX[1] and abs(width - THUMBNAIL_BOX[1] * 4 / 3) < 1  # 800x600 kept its shape
    assert checked_thumbnail(made) == made


def test_a_notebook_without_a_readable_picture_has_no_thumbnail():
    assert thumbnail(notebook_with({"text/plain": "only text"})) is None
    assert thumbnail(notebook_with({"image/png": base64.b64encode(b"<script>alert(1)</script>").decode()})) is None
    assert thumbnail(notebook_with({"image/png": "%%% not base64"})) is None


def test_the_hub_shows_only_small_pngs_whatever_the_owners_process_answered():
    small = picture((120, 80))
    assert checked_thumbnail(small) == small
    assert checked_thumbnail(picture((1200, 80))) is None  # larger than the box: not what the snapshot makes
    assert checked_thumbnail(picture((120, 80), kind="JPEG")) is None
    assert checked_thumbnail(base64.b64encode(b"<svg onload=alert(1)>").decode()) is None
    assert checked_thumbnail("not base64 at all!") is None
    assert checked_thumbnail("A" * (MAX_THUMBNAIL_BYTES * 2)) is None
    assert checked_thumbnail({"png": small}) is None


def test_the_snapshot_reports_its_thumbnail(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "weekly.ipynb").write_text(json.dumps(notebook_with({"image/png": picture()})))
    copied = take_snapshot(tmp_path, "reports/weekly.ipynb", "weekly")
    assert copied["cells"] == 2 and size_of(copied["thumbnail"])[1] == THUMBNAIL_BOX[1]
    assert (tmp_path / "dashboards" / "published" / "weekly.ipynb").is_file()
