"""ScrollTo's kernel side: requests and section anchors."""

from __future__ import annotations

import pytest

from widgets.scroll_to import ScrollTo, section_anchor, section_id


def test_each_request_gets_a_new_sequence_number_even_for_the_same_target():
    scroller = ScrollTo()
    scroller.scroll_to("inspect-the-data")
    first = scroller._request
    scroller.scroll_to("inspect-the-data", smooth=False)
    assert first == {"seq": 1, "target": "inspect-the-data", "smooth": True, "focus": True}
    assert scroller._request == {"seq": 2, "target": "inspect-the-data", "smooth": False, "focus": True}


def test_empty_targets_are_refused():
    with pytest.raises(ValueError, match="section id or heading text"):
        ScrollTo().scroll_to("  ")


def test_section_anchor_is_a_heading_with_an_id_made_from_its_title():
    assert section_id("Inspect the data") == "inspect-the-data"
    assert section_id("  Cold, warm & cached!  ") == "cold-warm-cached"
    anchor = section_anchor("Inspect <the> data", level=3)
    assert anchor.value == '<h3 id="inspect-the-data">Inspect &lt;the&gt; data</h3>'
    assert section_anchor("Results", anchor="results-table").value.startswith('<h2 id="results-table">')
    with pytest.raises(ValueError, match="level"):
        section_anchor("x", level=7)
    with pytest.raises(ValueError, match="section id"):
        section_id("!!!")
