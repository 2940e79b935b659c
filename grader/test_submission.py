"""One test per rubric item; a failing test shows the item's message (expected vs got)."""
import pytest


def test_item(graded, item_id):
    item = next(t for t in graded.tests if t.id == item_id)
    if item.status != "passed":
        pytest.fail(f"{item.id}: {item.score:g}/{item.max_score:g} points ({item.status})\n{item.output}",
                    pytrace=False)
