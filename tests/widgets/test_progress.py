"""Progress on the kernel side: states, fraction, validation."""

from __future__ import annotations

import math

import pytest
import traitlets

from widgets.progress import Progress


def test_unknown_total_then_steps_then_success():
    progress = Progress(label="Creating stack")
    assert progress.fraction is None and progress.state == "running"
    progress.update(3, total=12, message="3 of 12 resources")
    assert progress.fraction == 0.25 and progress.message == "3 of 12 resources"
    progress.update(6)
    assert progress.fraction == 0.5 and progress.message == "3 of 12 resources"
    progress.succeed("Stack ready")
    assert (progress.state, progress.value, progress.fraction, progress.message) == ("success", 12, 1.0, "Stack ready")


def test_failure_keeps_the_position_and_a_retry_runs_again():
    progress = Progress(value=30, total=100)
    progress.fail("Batch 31 rejected")
    assert (progress.state, progress.fraction, progress.message) == ("error", 0.3, "Batch 31 rejected")
    progress.update(31)
    assert progress.state == "running"
    with pytest.raises(ValueError, match="needs a message"):
        progress.fail("")


def test_total_can_become_unknown_again_and_overshoot_counts_as_done():
    progress = Progress(value=5, total=4)
    assert progress.fraction == 1.0
    progress.update(total=None)
    assert progress.fraction is None


@pytest.mark.parametrize("value", [-1, math.nan, math.inf])
def test_bad_values_are_refused(value):
    with pytest.raises(traitlets.TraitError, match="finite number >= 0"):
        Progress(value=value)


@pytest.mark.parametrize("total", [0, -3, math.inf])
def test_bad_totals_are_refused(total):
    with pytest.raises(traitlets.TraitError, match="total must be a finite number > 0, or None"):
        Progress(total=total)


def test_unknown_state_is_refused():
    with pytest.raises(traitlets.TraitError, match="'state' trait"):
        Progress(state="done")
