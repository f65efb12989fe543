"""Sharing published dashboards on the hub: the rules JupyterHub is made to enforce (``rules``), publishing a
user's own notebook (``publishing``, the hub's ``/hub/workbench/publish``), the home page's lists of what is
published and shared (``pages``), and the owner's "My dashboards" page (``my_dashboards``, the hub's
``/hub/workbench/dashboards``) with the views it counts (``views``).

May import jupyterhub and :mod:`spawner` (what a published dashboard's server is).
"""
