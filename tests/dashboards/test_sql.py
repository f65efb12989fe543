"""SQL is shown reindented, highlighted with the stylesheet's classes, and with a copy button."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from dashboards.query_optimization import strategy_help
from dashboards.sql import TOKEN_CLASSES, format_sql, highlight_sql, sql_html
from dashboards.style import STYLESHEET
from widgets.learn_more import markdown_to_html

SQL = ("select authors.id, count(books.id) from authors join books on books.author_id = authors.id "
       "where authors.name = 'Ann' and books.price > 10 -- cheap ones\ngroup by authors.id")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text = ""

    def handle_data(self, data):
        self.text += data


def text_of(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    return parser.text


def test_sql_is_reindented_with_upper_case_keywords():
    formatted = format_sql(SQL)
    assert formatted.startswith("SELECT authors.id,")
    assert "\nFROM authors\n" in formatted and "\nJOIN books ON" in formatted and "\nWHERE " in formatted
    assert "\nGROUP BY authors.id" in formatted and "select" not in formatted


def test_highlighted_sql_uses_only_the_stylesheets_token_classes():
    markup = highlight_sql(SQL)
    classes = set(re.findall(r'class="([^"]+)"', markup))
    assert classes == {"workbench-sql-k", "workbench-sql-s", "workbench-sql-m", "workbench-sql-c",
                       "workbench-sql-o", "workbench-sql-p", "workbench-sql-n"}
    assert classes <= set(TOKEN_CLASSES)
    assert '<span class="workbench-sql-k">FROM</span>' in markup
    assert "<span class=\"workbench-sql-s\">'Ann'</span>" in markup
    assert '<span class="workbench-sql-o">&lt;</span>' in highlight_sql("select 1 where 2 < 3")
    for name in TOKEN_CLASSES:
        assert f".{name} " in STYLESHEET and f"[data-jp-theme-light='false'] .{name} " in STYLESHEET \
            or name in ("workbench-sql-p", "workbench-sql-n"), name  # plain text colour in both themes


def test_a_sql_block_has_a_copy_button_and_keeps_its_lines_in_one_html_line():
    block = sql_html(SQL)
    assert "\n" not in block and "<button type='button' class='workbench-sql-copy'" in block
    assert "navigator.clipboard.writeText" in block and "selectNodeContents" in block
    assert text_of(block.split("<pre>")[1]).replace("</pre></div>", "") == format_sql(SQL)


def test_the_strategy_help_shows_the_emitted_sql_highlighted_in_its_modal():
    rendered = markdown_to_html(strategy_help("lazy", [SQL, "select 1"]))
    assert rendered.count("class='workbench-sql'") == 2
    assert '<span class="workbench-sql-k">FROM</span>' in rendered and "```" not in rendered
