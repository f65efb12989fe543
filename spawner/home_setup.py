"""Run as the user (never as root): ``python -I -m spawner.home_setup --from SOURCE NOTEBOOK...`` puts the offered
dashboards into the user's home (:func:`spawner.dashboards.install`), read-only. The hub starts it through
:func:`spawner.accounts.run_as`, so whatever links the user planted in their home, it can only write where the
user already could.

May import :mod:`spawner.dashboards` and the standard library only: it must start fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spawner import dashboards


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Put the offered dashboards into this user's home.")
    parser.add_argument("--from", dest="source", required=True, type=Path, help="folder of the shipped notebooks")
    parser.add_argument("notebooks", nargs="*", help="notebook file names in that folder")
    args = parser.parse_args(argv)
    offered = [dashboards.Dashboard(notebook, notebook, "") for notebook in args.notebooks]
    home = Path.home()
    # A link in place of the folder or of a notebook would send the copies elsewhere: the folder is the
    # hub's to refresh, so a link there is replaced by the real thing (as the user: it can only be theirs).
    folder = home / dashboards.FOLDER
    if folder.is_symlink():
        folder.unlink()
    # Last start's copies are read-only (below): removed, not overwritten. A page still reading one keeps it whole.
    for notebook in args.notebooks:
        if (folder / notebook).is_symlink() or (folder / notebook).is_file():
            (folder / notebook).unlink()
    dashboards.install(offered, args.source, home)
    # The notebooks Voila shows as the dashboards: JupyterLab opens them read-only, so an edit saved by mistake
    # cannot break a dashboard (the copies to change are in ~/workbench-notebooks, made by the user's server).
    for notebook in args.notebooks:
        (folder / notebook).chmod(0o444)


if __name__ == "__main__":
    main()
