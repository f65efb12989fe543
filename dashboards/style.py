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

.workbench-sql { position: relative; margin: 0.4em 0; }
.workbench-sql pre {
  margin: 0; padding: 0.6em 4.5em 0.6em 0.8em; overflow-x: auto; border-radius: 4px;
  background: var(--jp-layout-color2, #f5f5f5); color: var(--jp-content-font-color1, #1f2933);
  font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px);
}
.workbench-sql-copy {
  position: absolute; top: 0.35em; right: 0.35em; padding: 0.1em 0.6em; cursor: pointer; border-radius: 3px;
  border: 1px solid var(--jp-border-color1, #bdbdbd); background: var(--jp-layout-color1, #fff);
  color: var(--jp-ui-font-color1, #1f2933); font-size: 12px;
}
/* SQL tokens (dashboards/sql.py): the light colours, then the dark ones where JupyterLab's theme is dark */
.workbench-sql-k { color: #0033b3; font-weight: 600; }
.workbench-sql-nb { color: #7a3e9d; }
.workbench-sql-s { color: #067d17; }
.workbench-sql-m { color: #1750eb; }
.workbench-sql-c { color: #6a737d; font-style: italic; }
.workbench-sql-o { color: #a6410c; }
.workbench-sql-p { color: inherit; }
.workbench-sql-n { color: inherit; }
[data-jp-theme-light='false'] .workbench-sql-k { color: #ff7b72; }
[data-jp-theme-light='false'] .workbench-sql-nb { color: #d2a8ff; }
[data-jp-theme-light='false'] .workbench-sql-s { color: #a5d6ff; }
[data-jp-theme-light='false'] .workbench-sql-m { color: #79c0ff; }
[data-jp-theme-light='false'] .workbench-sql-c { color: #8b949e; }
[data-jp-theme-light='false'] .workbench-sql-o { color: #ffa657; }

.workbench-label { width: 8em; padding-right: 8px; text-align: right; }
.workbench-conversation { margin-bottom: 1em; }
"""


def stylesheet() -> w.HTML:
    """The stylesheet as a widget: a ``<style>`` applies wherever it is in the page, so the widget takes no room."""
    return w.HTML(f"<style>{STYLESHEET}</style>", layout=w.Layout(display="none"))
