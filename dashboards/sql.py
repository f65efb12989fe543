"""SQL as the dashboards show it: reindented (sqlparse), highlighted (Pygments) and with a button that copies it.

Pygments' SQL lexer knows dozens of token types; each is folded into one of a few kinds first, so the page uses
a handful of classes, all defined in the one stylesheet (``dashboards/style.py``) in a light and a dark colour.

The copy button is plain HTML with an inline handler: it works wherever the HTML is inserted (an ``ipywidgets``
HTML widget, a LearnMore modal) without a widget of its own. Where the clipboard API is refused (a page served
over plain HTTP, a denied permission) it selects the SQL instead, for Ctrl+C.
"""

from __future__ import annotations

import html
import io

import sqlparse
from pygments import lex
from pygments.formatters import HtmlFormatter
from pygments.lexers import SqlLexer
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text

# The kinds a token is shown as, most specific first; anything else is plain text.
_KINDS = (Keyword, Name.Builtin, String, Number, Comment, Operator, Punctuation, Name)
# The classes those kinds get (HtmlFormatter's short names behind the prefix), each defined in the stylesheet.
PREFIX = "workbench-sql-"
TOKEN_CLASSES = (
    "workbench-sql-k", "workbench-sql-nb", "workbench-sql-s", "workbench-sql-m", "workbench-sql-c",
    "workbench-sql-o", "workbench-sql-p", "workbench-sql-n",
)
_FORMATTER = HtmlFormatter(nowrap=True, classprefix=PREFIX)
_LEXER = SqlLexer()

_COPY = (
    "const box = this.closest('.workbench-sql'), code = box.querySelector('pre'), text = code.textContent;"
    "const said = (word) => { this.textContent = word; setTimeout(() => { this.textContent = 'Copy'; }, 2000); };"
    "const select = () => { const range = document.createRange(); range.selectNodeContents(code);"
    " const selection = getSelection(); selection.removeAllRanges(); selection.addRange(range);"
    " said('Press Ctrl+C'); };"
    "if (navigator.clipboard && window.isSecureContext) {"
    " navigator.clipboard.writeText(text).then(() => said('Copied'), select); } else { select(); }"
)


def format_sql(sql: str) -> str:
    """``sql`` one clause per line, keywords in capitals."""
    return sqlparse.format(sql, reindent=True, keyword_case="upper").strip()


def _kind(token_type):
    for kind in _KINDS:
        if token_type in kind:
            return kind
    return Text


def highlight_sql(sql: str) -> str:
    """``sql`` reindented, as HTML spans of the token classes (no ``<pre>`` around them)."""
    tokens = [(_kind(token_type), value) for token_type, value in lex(format_sql(sql), _LEXER)]
    out = io.StringIO()
    _FORMATTER.format(tokens, out)
    return out.getvalue()


def sql_html(sql: str) -> str:
    """A block of highlighted SQL with a Copy button. It holds no blank line nor a bare newline (``&#10;`` in the
    code), so it also survives inside markdown as one raw HTML block."""
    code = highlight_sql(sql).rstrip("\n").replace("\n", "&#10;")
    return (
        "<div class='workbench-sql'>"
        f"<button type='button' class='workbench-sql-copy' title='Copy the SQL' onclick=\"{html.escape(_COPY)}\">"
        "Copy</button>"
        f"<pre>{code}</pre></div>"
    )
