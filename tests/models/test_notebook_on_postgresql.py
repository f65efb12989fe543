"""The data models tutorial notebook as a hub user runs it: only their role's variables, on PostgreSQL with passwords.
(nbval runs the same notebook on SQLite.)"""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from spawner import database
from spawner.names import for_user
from testing.support import REPO_ROOT


def test_the_notebook_runs_as_a_provisioned_user_and_a_built_in_refuses_its_drop(pg_admin, monkeypatch):
    names = for_user("notebook")
    access = database.provision_user(pg_admin, names)
    for variable, value in access.environment().items():
        monkeypatch.setenv(variable, value)
    try:
        notebook = nbformat.read(REPO_ROOT / "notebooks" / "data_models_tutorial.ipynb", as_version=4)
        NotebookClient(notebook, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
        printed = "\n".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                            for output in cell.outputs)
        assert "'books' is a built-in model: everyone can read it and nobody can drop it. The database refused: " \
               "must be owner of table books" in printed
        assert "The database refused: permission denied for table authors" in printed
    finally:
        database.deprovision_user(pg_admin, names)
