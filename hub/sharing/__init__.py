"""Sharing published dashboards on the hub: the rules JupyterHub is made to enforce (``rules``), publishing a
user's own notebook (``publishing``, the hub's ``/hub/workbench/publish``) and the home page's lists of what is
published and shared (``pages``).

May import jupyterhub and :mod:`spawner` (what a published dashboard's server is).
"""
