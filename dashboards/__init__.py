"""One composition module per dashboard (engines from ``profiler`` shown with ``widgets``), and the parts they
share: the background job, the form error, the wording and the stylesheet.

May import ``profiler`` and ``widgets``; never the hub side nor ``user_server``.
"""
