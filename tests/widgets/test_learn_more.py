"""LearnMore's kernel side: content rendering and the open state."""

from __future__ import annotations

import pytest

from widgets.learn_more import LearnMore


def test_markdown_content_is_rendered_to_html_and_follows_changes():
    learn = LearnMore("**N+1** queries\n\n| a | b |\n|---|---|\n| 1 | 2 |", title="N+1")
    assert "<strong>N+1</strong>" in learn._html and "<td>1</td>" in learn._html
    learn.content = "# Changed"
    assert learn._html.strip() == "<h1>Changed</h1>"


def test_html_content_is_passed_through_untouched():
    html = '<p class="x">Already <em>HTML</em></p>'
    assert LearnMore(html, title="T", content_format="html")._html == html


def test_python_can_open_and_close_the_modal():
    learn = LearnMore("x", title="T")
    assert learn.is_open is False
    learn.show_modal()
    assert learn.is_open is True
    learn.hide_modal()
    assert learn.is_open is False


def test_a_title_is_required_because_it_names_the_dialog():
    with pytest.raises(ValueError, match="accessible name"):
        LearnMore("x", title="  ")
