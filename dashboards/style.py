"""The dashboards' one stylesheet: every CSS class a dashboard's HTML names is defined here, and each dashboard
puts :func:`stylesheet` in its page once, as its last part (a page's text version shows the first parts, which
should be the dashboard's own).

The colours are JupyterLab's theme variables (Voila's lab template has them), with fallbacks for a page
without them. The widgets (``widgets/``) style their own parts in their own CSS files: tables are
``widgets.data_table.DataTable`` and every error, warning, note or success is a ``widgets.message.Message``.
"""

from __future__ import annotations

import ipywidgets as w

STYLESHEET = """
.workbench-muted { color: var(--jp-ui-font-color2, #616161); }
.workbench-error { color: var(--jp-error-color1, #d32f2f); }
ul.workbench-findings { margin: 0.4em 0; padding-left: 1.4em; }
ul.workbench-findings li { margin: 0.25em 0; }

details.workbench-explain { margin: 0.3em 0; }
.workbench-explain details { margin-left: 1.2em; }
.workbench-explain pre { margin: 0.3em 0; overflow-x: auto; }

.workbench-verdict { border-left: 4px solid #888; padding: 0.3em 0.8em; }
.workbench-verdict-saved { border-left-color: #2a8a4a; }
.workbench-verdict-slower { border-left-color: #c0392b; }

.workbench-label { width: 8em; padding-right: 8px; text-align: right; }
.workbench-conversation { margin-bottom: 1em; }
"""


def stylesheet() -> w.HTML:
    """The stylesheet as a widget: a ``<style>`` applies wherever it is in the page, so the widget takes no room."""
    return w.HTML(f"<style>{STYLESHEET}</style>", layout=w.Layout(display="none"))
