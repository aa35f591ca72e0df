"""Layout facts read from the DOM of a rendered page, and the WCAG contrast they are judged by.

One script collects, for every table header and heat-map cell, what the browser computed: boxes
(``getBoundingClientRect``, transforms included, and a ``Range`` over the text for where the
glyphs are), scroll and client sizes, and the computed styles that decide colour and writing
direction. The assertions live in the tests; this module only measures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MEASURE = r"""
const box = (r) => ({left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                     width: r.width, height: r.height});
const textBox = (element) => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  return {box: box(range.getBoundingClientRect()), lines: lines.size};
};
const naturalWidth = (element) => {
  const probe = document.createElement("x-probe");  // no page style applies to it
  probe.textContent = element.textContent;
  probe.style.whiteSpace = "nowrap";
  probe.style.display = "inline";
  probe.style.position = "absolute";
  probe.style.visibility = "hidden";
  element.appendChild(probe);
  const width = probe.getBoundingClientRect().width;
  probe.remove();
  return width;
};
const styleOf = (element) => {
  const s = getComputedStyle(element);
  return {color: s.color, background: s.backgroundColor, opacity: s.opacity,
          writingMode: s.writingMode, textOrientation: s.textOrientation,
          transform: s.transform, fontSize: parseFloat(s.fontSize)};
};
const rgba = (css) => {
  const [r, g, b, a] = css.match(/[\d.]+/g).map(Number);
  return {r, g, b, a: a === undefined ? 1 : a};
};
// The colour behind an element's text: its own and its ancestors' backgrounds composited
// down to the first opaque one (the canvas is white).
const effectiveBackground = (element) => {
  const layers = [];
  for (let e = element; e; e = e.parentElement) {
    const colour = rgba(getComputedStyle(e).backgroundColor);
    if (colour.a > 0) layers.push(colour);
    if (colour.a >= 1) break;
  }
  let base = {r: 255, g: 255, b: 255};
  for (const c of layers.reverse()) {
    base = {r: c.r * c.a + base.r * (1 - c.a), g: c.g * c.a + base.g * (1 - c.a),
            b: c.b * c.a + base.b * (1 - c.a)};
  }
  return `rgb(${base.r}, ${base.g}, ${base.b})`;
};
const headers = [...document.querySelectorAll("th")].map((th) => {
  const inner = th.querySelector("span") || th;
  return {text: th.textContent, scope: th.getAttribute("scope"),
          table: th.closest("table").className, cell: box(th.getBoundingClientRect()),
          scrollWidth: th.scrollWidth, clientWidth: th.clientWidth,
          scrollHeight: th.scrollHeight, clientHeight: th.clientHeight,
          text_box: textBox(th), natural: naturalWidth(th),
          inner: styleOf(inner), style: styleOf(th)};
});
const cells = [...document.querySelectorAll("table.heatmap td")].map((td) => ({
  text: td.textContent, cell: box(td.getBoundingClientRect()),
  scrollWidth: td.scrollWidth, clientWidth: td.clientWidth, style: styleOf(td),
  parts: [td, ...td.querySelectorAll("*")].map(styleOf)}));
const texts = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const element = node.parentElement;
  if (!node.textContent.trim() || element.closest("style")) continue;
  texts.push({text: node.textContent.trim().slice(0, 40), tag: element.tagName,
              color: getComputedStyle(element).color,
              background: effectiveBackground(element)});
}
const root = document.querySelector(arguments[0]);
const scrollers = [...document.querySelectorAll(".scroll, .ew-scroll")].map((e) => ({
  scrollWidth: e.scrollWidth, clientWidth: e.clientWidth}));
return {headers, cells, texts, scrollers,
        root: {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
               width: root.getBoundingClientRect().width},
        viewport: {width: innerWidth, height: innerHeight}};
"""

_RGB = re.compile(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)")


@dataclass(frozen=True)
class Colour:
    red: float
    green: float
    blue: float
    alpha: float

    @classmethod
    def parse(cls, css: str) -> Colour:
        """A computed CSS colour (``rgb(...)`` or ``rgba(...)``)."""
        match = _RGB.fullmatch(css.strip())
        if match is None:
            raise ValueError(f"not a computed rgb colour: {css!r}")
        red, green, blue, alpha = match.groups()
        return cls(float(red), float(green), float(blue), 1.0 if alpha is None else float(alpha))


def luminance(colour: Colour) -> float:
    """WCAG 2 relative luminance."""
    channels = []
    for value in (colour.red, colour.green, colour.blue):
        c = value / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast_ratio(text: str, background: str) -> float:
    """WCAG 2 contrast of two computed CSS colours (both must be opaque)."""
    first, second = Colour.parse(text), Colour.parse(background)
    if first.alpha != 1 or second.alpha != 1:
        raise ValueError(f"translucent colour: {text} on {background}")
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def measure(driver: Any, root: str = "body") -> dict[str, Any]:
    """Every layout fact of the page open in ``driver`` (see :data:`MEASURE`)."""
    facts: dict[str, Any] = driver.execute_script(MEASURE, root)
    return facts


# --------------------------------------------------------------------------------------------
# Checks: each returns the problems it found (empty when the page is right), one line each.

TOLERANCE = 1.0  # CSS pixels: sub-pixel rounding of boxes
MIN_CONTRAST = 4.5  # WCAG 2 AA, normal text


def header_overflows(facts: dict[str, Any]) -> list[str]:
    """Header text outside its cell, or a header cell whose content overflows it."""
    problems = []
    for header in facts["headers"]:
        cell, text = header["cell"], header["text_box"]["box"]
        outside = any(
            (
                text["left"] < cell["left"] - TOLERANCE,
                text["right"] > cell["right"] + TOLERANCE,
                text["top"] < cell["top"] - TOLERANCE,
                text["bottom"] > cell["bottom"] + TOLERANCE,
            )
        )
        if outside or (
            header["scrollWidth"] > header["clientWidth"] + TOLERANCE
            or header["scrollHeight"] > header["clientHeight"] + TOLERANCE
        ):
            problems.append(f"{header['text']!r} overflows its cell: text {text}, cell {cell}")
    return problems


def upside_down_headers(facts: dict[str, Any]) -> list[str]:
    """Column headers that are neither horizontal nor read bottom to top, glyphs all turned.

    Vertical text is ``writing-mode: vertical-rl`` turned half a turn: without ``text-orientation:
    sideways`` Japanese and emoji glyphs would stand upright first and end up upside down.
    """
    problems = []
    for header in facts["headers"]:
        if header["scope"] != "col" or "heatmap" not in header["table"]:
            continue
        style = header["inner"]
        horizontal = style["writingMode"] == "horizontal-tb" and style["transform"] == "none"
        bottom_to_top = (
            style["writingMode"] == "vertical-rl"
            and style["textOrientation"] == "sideways"
            and style["transform"] == "matrix(-1, 0, 0, -1, 0, 0)"
        )
        if not (horizontal or bottom_to_top):
            problems.append(f"{header['text']!r}: {style}")
    return problems


def squeezed_row_names(facts: dict[str, Any], min_em: float = 4.0) -> list[str]:
    """Row names narrower than their one-line width or ``min_em`` ems, whichever is less."""
    problems = []
    for header in facts["headers"]:
        if header["scope"] != "row":
            continue
        width = header["text_box"]["box"]["width"]
        needed = min(header["natural"], min_em * header["style"]["fontSize"])
        if width < needed - TOLERANCE:
            lines = header["text_box"]["lines"]
            problems.append(f"{header['text']!r} squeezed to {width:.0f}px ({lines} lines)")
    return problems


def heat_map_contrast(facts: dict[str, Any]) -> list[str]:
    """Heat-map cells whose text (count and share) contrasts less than 4.5:1 with the cell."""
    problems = []
    for cell in facts["cells"]:
        background = cell["style"]["background"]
        for part in cell["parts"]:
            if part["opacity"] != "1":
                problems.append(f"cell {cell['text']!r}: opacity {part['opacity']}")
                continue
            try:
                ratio = contrast_ratio(part["color"], background)
            except ValueError as error:
                problems.append(f"cell {cell['text']!r}: {error}")
                continue
            if ratio < MIN_CONTRAST:
                problems.append(
                    f"cell {cell['text']!r}: {part['color']} on {background} is {ratio:.2f}:1"
                )
    return problems


def text_contrast(facts: dict[str, Any]) -> list[str]:
    """Any text on the page against what is behind it (backgrounds composited)."""
    problems = []
    for text in facts["texts"]:
        ratio = contrast_ratio(text["color"], text["background"])
        if ratio < MIN_CONTRAST:
            problems.append(
                f"{text['tag']} {text['text']!r}: {text['color']} on {text['background']} "
                f"is {ratio:.2f}:1"
            )
    return problems
