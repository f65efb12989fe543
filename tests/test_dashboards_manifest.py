"""The dashboards manifest the hub reads for its home page, and installing dashboards into a user's home."""

from __future__ import annotations

import json

import pytest

from spawner.dashboards import FOLDER, ManifestError, install, load_manifest, load_studies
from testing.support import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"


def test_the_shipped_manifest_lists_existing_notebooks_with_titles():
    dashboards = load_manifest(NOTEBOOKS / "dashboards.json")
    for dashboard in dashboards:
        assert (NOTEBOOKS / dashboard.notebook).is_file()
        assert dashboard.title and dashboard.description
    assert len({d.notebook for d in dashboards}) == len(dashboards)


def test_the_studies_are_listed_apart_and_never_among_the_dashboards():
    studies = load_studies(NOTEBOOKS / "dashboards.json")
    assert [s.notebook for s in studies] == ["serverless_comparison.ipynb"]
    assert studies[0].title and studies[0].description
    assert not {s.notebook for s in studies} & {d.notebook for d in load_manifest(NOTEBOOKS / "dashboards.json")}


def test_a_manifest_without_studies_has_none_and_a_study_is_checked_like_a_dashboard(tmp_path):
    path = write(tmp_path, [])
    assert load_studies(path) == []
    data = {"dashboards": [], "studies": [{"notebook": "../x.ipynb", "title": "t", "description": "d"}]}
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="is not a notebook file name"):
        load_studies(path)


def write(tmp_path, dashboards):
    (tmp_path / "dashboards.json").write_text(json.dumps({"dashboards": dashboards}))
    return tmp_path / "dashboards.json"


def test_a_listed_notebook_that_is_missing_is_named(tmp_path):
    path = write(tmp_path, [{"notebook": "gone.ipynb", "title": "Gone", "description": "x"}])
    with pytest.raises(ManifestError, match="gone.ipynb is listed but missing"):
        load_manifest(path)


@pytest.mark.parametrize("notebook", ["../secrets.ipynb", "/etc/passwd", "sub/dir.ipynb", "notes.txt"])
def test_entries_cannot_point_outside_the_folder(tmp_path, notebook):
    path = write(tmp_path, [{"notebook": notebook, "title": "t", "description": "d"}])
    with pytest.raises(ManifestError, match="is not a notebook file name"):
        load_manifest(path)


def test_a_broken_manifest_says_where(tmp_path):
    (tmp_path / "dashboards.json").write_text("{not json")
    with pytest.raises(ManifestError, match="dashboards.json"):
        load_manifest(tmp_path / "dashboards.json")


def test_install_refreshes_the_users_copies_and_leaves_their_other_files(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.ipynb").write_text("new version")
    path = write(source, [{"notebook": "a.ipynb", "title": "A", "description": "d"}])
    home = tmp_path / "home"
    (home / FOLDER).mkdir(parents=True)
    (home / FOLDER / "a.ipynb").write_text("old version")
    (home / FOLDER / "mine.ipynb").write_text("the user's own")
    install(load_manifest(path), source, home)
    assert (home / FOLDER / "a.ipynb").read_text() == "new version"
    assert (home / FOLDER / "mine.ipynb").read_text() == "the user's own"
