"""Label names as CloudWatch dimension values: always valid, reversible while they fit."""

from __future__ import annotations

import random
import urllib.parse

import pytest

from contracts.metric_dimensions import (
    ENCODED_PREFIX,
    MAX_DIMENSION_VALUE,
    SHORTENED_PREFIX,
    LabelNotReversible,
    is_valid_dimension_value,
    label_dimension,
    label_from_dimension,
)


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("circle", "circle"),
        ("chat noir", "chat noir"),
        ("a/b (x) = 50%!", "a/b (x) = 50%!"),
        ("Straßenbahn", "utf8:Stra%C3%9Fenbahn"),
        ("猫", "utf8:%E7%8C%AB"),
        ("🚲", "utf8:%F0%9F%9A%B2"),
        ("chat noir 猫", "utf8:chat%20noir%20%E7%8C%AB"),
        ("50% 猫", "utf8:50%25%20%E7%8C%AB"),
        (" padded", "utf8:%20padded"),
        ("padded ", "utf8:padded%20"),
        ("   ", "utf8:%20%20%20"),
        ("tab\there", "utf8:tab%09here"),
        ("line\nbreak", "utf8:line%0Abreak"),
        ("del\x7f", "utf8:del%7F"),
        # ASCII that looks encoded is encoded, so every value decodes one way only.
        ("utf8:cat", "utf8:utf8:cat"),
        ("utf8~cat", "utf8:utf8~cat"),
    ],
)
def test_documented_examples(label: str, value: str) -> None:
    assert label_dimension(label) == value
    assert is_valid_dimension_value(value)
    assert label_from_dimension(value) == label
    if value.startswith(ENCODED_PREFIX):  # any URL decoder reverses it
        assert urllib.parse.unquote(value.removeprefix(ENCODED_PREFIX)) == label


ALPHABET = (
    [chr(code) for code in range(0x20, 0x7F)]
    + ["\t", "\n", "\x00", "\x7f", "%", " "]
    + list("äßéñøÆŒ")
    + list("猫犬鳥車")
    + list("кошкаπλ")
    + list("عربي")
    + ["🚲", "🐈", "\u200d", "\ufeff", "\ud800"]  # emoji, zero-width joiner, BOM, lone surrogate
)


def random_labels(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)
    return [
        "".join(generator.choice(ALPHABET) for _ in range(generator.randint(1, 255)))
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_every_label_becomes_a_valid_value_that_decodes_back(seed: int) -> None:
    """Custom Labels names are 1..255 characters of any script."""
    values: dict[str, str] = {}
    for label in random_labels(400, seed):
        value = label_dimension(label)
        assert is_valid_dimension_value(value), repr(value)
        if value.startswith(SHORTENED_PREFIX):
            with pytest.raises(LabelNotReversible):
                label_from_dimension(value)
        else:
            assert label_from_dimension(value) == label
        assert values.setdefault(value, label) == label, "two labels, one dimension value"


def test_a_label_too_long_to_encode_is_shortened_uniquely() -> None:
    first, second = "猫" * 255, "猫" * 254 + "犬"
    one, other = label_dimension(first), label_dimension(second)

    for value in (one, other):
        assert value.startswith(SHORTENED_PREFIX)
        assert len(value) <= MAX_DIMENSION_VALUE
        assert is_valid_dimension_value(value)
        assert value.split(":", 1)[1].startswith("%E7%8C%AB")  # readable start
    assert one != other
    with pytest.raises(LabelNotReversible, match="the evaluation report names it in full"):
        label_from_dimension(one)


def test_the_longest_ascii_and_latin_labels_stay_reversible() -> None:
    # The most that fit in 1024 - len("utf8:") = 1019: 169 x 6 (é), 113 x 9 (猫), 84 x 12 (🚲).
    for label in ("x" * 255, "é" * 169, "猫" * 113, "🚲" * 84):
        assert label_from_dimension(label_dimension(label)) == label


def test_an_empty_label_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one character"):
        label_dimension("")
