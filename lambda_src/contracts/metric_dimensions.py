"""CloudWatch dimension values for label names: ASCII-safe, documented, reversible.

CloudWatch accepts a dimension value of 1 to 1024 ASCII characters, without control characters
and with at least one that is not whitespace; a metric whose dimension breaks that is dropped (an
EMF log line with it never becomes a metric). Custom Labels label names are any Unicode text of
1 to 255 characters ("Straßenbahn", "猫", "🚲"), so the evaluation function publishes per-label
metrics under :func:`label_dimension` of the name, and the report keeps the name itself.

The encoding, in full:

- A label of printable ASCII only (space to ``~``), not starting or ending with a space, and not
  starting with ``utf8:`` or ``utf8~``, is its own dimension value: ``circle``, ``chat noir``.
- Any other label is ``utf8:`` followed by its UTF-8 bytes percent-encoded (RFC 3986 ``%XX``,
  upper-case hex) wherever they are not printable ASCII, and ``%`` and space always:
  ``Straßenbahn`` -> ``utf8:Stra%C3%9Fenbahn``, ``猫`` -> ``utf8:%E7%8C%AB``. Any URL decoder
  reverses what follows the prefix (``urllib.parse.unquote``); :func:`label_from_dimension`
  does it here.
- A label whose encoding would pass 1024 characters (more than 84 to 169 characters outside
  ASCII, depending on the script: 169 ``é``, 113 ``猫``, 84 ``🚲`` still fit) is
  ``utf8~<first 16 hex digits of the SHA-256 of its UTF-8>:`` followed by the encoding of as
  many of its first characters as fit. Such a value is unique per label but cannot be decoded;
  the report names the label in full.

Used by ``rekognition_training.evaluate``; ops and the dashboard widget may decode with it.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote

#: CloudWatch's limit for a dimension value.
MAX_DIMENSION_VALUE = 1024
#: Prefix of an encoded (reversible) label.
ENCODED_PREFIX = "utf8:"
#: Prefix of a shortened (not reversible) label: followed by 16 hex digits and ``:``.
SHORTENED_PREFIX = "utf8~"
_DIGEST_HEX = 16
#: Printable ASCII that stays as it is inside an encoded value (all but ``%`` and space).
_KEPT = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) != "%")
_ERRORS = "surrogatepass"  # a JSON label may hold a lone surrogate: keep it reversible too


class LabelNotReversible(ValueError):  # noqa: N818 - reads as the condition it reports
    """The dimension value is a shortened label: look the label up in the report."""


def _is_plain(label: str) -> bool:
    return (
        0 < len(label) <= MAX_DIMENSION_VALUE
        and all(" " <= character <= "~" for character in label)
        and label == label.strip(" ")
        and not label.startswith((ENCODED_PREFIX, SHORTENED_PREFIX))
    )


def _encode(text: str) -> str:
    return quote(text, safe=_KEPT, encoding="utf-8", errors=_ERRORS)


def label_dimension(label: str) -> str:
    """The CloudWatch dimension value that stands for ``label`` (see the module docstring)."""
    if not label:
        raise ValueError("a label name has at least one character")
    if _is_plain(label):
        return label
    encoded = ENCODED_PREFIX + _encode(label)
    if len(encoded) <= MAX_DIMENSION_VALUE:
        return encoded
    digest = hashlib.sha256(label.encode("utf-8", errors=_ERRORS)).hexdigest()[:_DIGEST_HEX]
    shortened = f"{SHORTENED_PREFIX}{digest}:"
    for character in label:
        piece = _encode(character)
        if len(shortened) + len(piece) > MAX_DIMENSION_VALUE:
            break
        shortened += piece
    return shortened


def label_from_dimension(value: str) -> str:
    """The label a :func:`label_dimension` value stands for.

    Raises :class:`LabelNotReversible` for a shortened value (the report has the label).
    """
    if value.startswith(SHORTENED_PREFIX):
        raise LabelNotReversible(
            f"{value[:40]}... is a shortened label name (its encoding is over "
            f"{MAX_DIMENSION_VALUE} characters); the evaluation report names it in full"
        )
    if value.startswith(ENCODED_PREFIX):
        return unquote(value[len(ENCODED_PREFIX) :], encoding="utf-8", errors=_ERRORS)
    return value


def is_valid_dimension_value(value: str) -> bool:
    """What CloudWatch accepts: 1..1024 ASCII characters, no control character, not blank."""
    return (
        0 < len(value) <= MAX_DIMENSION_VALUE
        and all(" " <= character <= "~" for character in value)
        and bool(value.strip())
    )
