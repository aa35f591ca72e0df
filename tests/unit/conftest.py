"""Fixtures shared by more than one unit-test module (defined beside their first users)."""

from tests.unit.test_evaluation_widget import widget  # noqa: F401 - a fixture
from tests.unit.test_execution_notifier import inbox  # noqa: F401 - a fixture
