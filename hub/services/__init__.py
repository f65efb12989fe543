"""What the hub runs beside itself: the local AWS (``local_aws``), the playground reaper (``reaper``) and the idle
culler (``culler``), as JupyterHub managed services, and the provisioning step run before the hub starts
(``provisioning``).

May import :mod:`hub.settings` and :mod:`spawner`; never the user side.
"""
