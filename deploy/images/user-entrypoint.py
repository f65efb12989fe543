#!/opt/workbench/bin/python -I
"""The users' server image's entrypoint: the shipped dashboards and studies into ``~/dashboards`` (read-only copies,
replaced at every start, as the hub puts them into a local server's home: :mod:`spawner.home_setup`), then the
command.

On Kubernetes the home is the user's own volume, mounted over the image's, so the copies are made at each start
rather than at build time. Runs as the user: it can only write where the user can.
"""

import os
import sys

from spawner import dashboards, home_setup

if __name__ == "__main__":
    manifest = dashboards.shipped_manifest()
    offered = dashboards.load_manifest(manifest) + dashboards.load_studies(manifest)
    home_setup.main(["--from", str(dashboards.shipped_folder()), *(d.notebook for d in offered)])
    command = sys.argv[1:] or ["jupyterhub-singleuser"]
    os.execvp(command[0], command)
