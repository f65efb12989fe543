"""Plugins of each user's Jupyter server, and its configuration.

- ``voila_preheat``: Voila's kernel preheating inside the server; ``voila_pages``: what the dashboards' pages
  load; ``kernel_websocket``: widget messages sent at once; ``server_timing``: Server-Timing headers;
  ``dashboard_only``: a published dashboard's server restricted to that one page.
- ``jupyter_config/`` and ``jupyter_data/`` (package data): the configuration and the dashboards' Voila template
  every user's server runs with; the spawner points Jupyter at them.

May import jupyter_server, voila and tornado; never the hub side, nor the engines or widgets.
"""
