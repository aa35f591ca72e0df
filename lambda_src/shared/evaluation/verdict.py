"""How a quality-gate verdict is decided and spelled, the same in every place that shows one.

The gate (``rekognition_training.gate``), ``report.html``, the dashboard widget and the operator
CLI all import this module, so they agree on the words (:data:`PASSED`, :data:`REJECTED`, as the
workflow's ``REJECTED`` outcome) and on the digits.

Metrics are floats: ``(17/20 + 19/20) / 2`` is ``0.8999999999999999``, which a raw ``>=`` rejects
against a threshold of 0.9. The gate compares values rounded to :data:`DECIMALS` decimals
(:func:`meets`), far finer than any test set's resolution and far coarser than float rounding.
:func:`figures` prints a value and its threshold with as many decimals as it takes to tell them
apart (4 at least, :data:`DECIMALS` at most), so a message never reads "0.9000 is below 0.9000";
:func:`gate_line` is the whole verdict in the one line notifications and the CLI print.
"""

from __future__ import annotations

PASSED = "PASSED"
REJECTED = "REJECTED"
#: The gate compares values rounded to this many decimals.
DECIMALS = 9
_SHOWN = 4  # decimals shown when fewer do not hide a difference


def verdict_word(passed: bool) -> str:
    """PASSED or REJECTED."""
    return PASSED if passed else REJECTED


def compared(value: float) -> float:
    """The value the gate compares: rounded to :data:`DECIMALS` decimals."""
    return round(float(value), DECIMALS)


def meets(value: float, threshold: float) -> bool:
    """``value >= threshold``, up to float rounding."""
    return compared(value) >= compared(threshold)


def figures(value: float, threshold: float) -> tuple[str, str]:
    """``value`` and ``threshold`` as text, with the decimals it takes to tell them apart."""
    decimals = _SHOWN
    while decimals < DECIMALS and f"{value:.{decimals}f}" == f"{threshold:.{decimals}f}":
        decimals += 1
    if f"{value:.{decimals}f}" == f"{threshold:.{decimals}f}":
        decimals = _SHOWN  # equal as compared: the shortest form says so
    return f"{value:.{decimals}f}", f"{threshold:.{decimals}f}"


def gate_line(passed: bool, metric: str, value: float, threshold: float, gap: float | None) -> str:
    """``REJECTED f1_macro = 0.8999 (threshold 0.9000), gap -0.0001``: a verdict in one line.

    The workflow's notifications (the gate's ``summary``) and ``ops train`` print this line,
    so the operator reads the same words and digits wherever the verdict reaches them.
    """
    shown, limit = figures(value, threshold)
    text = f"{verdict_word(passed)} {metric} = {shown} (threshold {limit})"
    if not passed and gap is not None:
        decimals = len(shown.partition(".")[2])
        text += f", gap {gap:+.{decimals}f}"
    return text
