"""The hub side of the Profiler Workbench: everything the JupyterHub process runs.

- ``settings``: every option, declared once; ``configure``: options turned into JupyterHub's configuration;
  ``jupyterhub_config.py``: the file JupyterHub loads (assignments only); ``cli``: the ``workbench`` command.
- ``auth/``: local sign-up and login, OAuth. ``sharing/``: what may be shared and the pages about shares.
- ``services/``: managed services (local AWS, playground reaper) and the provisioning step.
- ``backup/``: ``workbench backup``/``restore`` of a stopped hub (databases, secrets, local AWS state, homes).
- ``templates/``: the home and login pages.
- ``metrics``: the workbench's metrics on JupyterHub's Prometheus page; ``probes``: the tasks it reports from (the
  local AWS answering, the event loop's lag).

May import jupyterhub and :mod:`spawner` (which composes users' servers). Never imports the user side
(``profiler``, ``widgets``, ``dashboards``, ``user_server``): the two meet only through the environment contract.
"""
