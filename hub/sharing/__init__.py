"""Sharing published dashboards on the hub: the rules JupyterHub is made to enforce (``rules``) and the home
page's lists of what is shared (``pages``).

May import jupyterhub and :mod:`spawner` (what a published dashboard's server is).
"""
