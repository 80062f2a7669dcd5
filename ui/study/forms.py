"""Survey and rating items of a study as Gradio inputs, and their values back as answers.

The study file is fixed while the server runs, so every item gets its component when the page
is built (elem_id `<prefix>-<item id>`, what the browser tests click). Validation of the answers
is the service's: it refuses a missing or out-of-range answer with a message naming the item.
"""

from __future__ import annotations

from typing import Any, Sequence

import gradio as gr


def likert_choices(item: Any) -> list[tuple[str, int]]:
    """(shown label, value) per point: every point named, or the two ends named and the middle numbered."""
    points = range(item.min, item.max + 1)
    labels = list(item.labels)
    if len(labels) == len(points):
        return [(f"{label}", value) for value, label in zip(points, labels)]
    if len(labels) == 2:
        ends = {item.min: labels[0], item.max: labels[1]}
        return [(f"{value} · {ends[value]}" if value in ends else str(value), value) for value in points]
    return [(str(value), value) for value in points]


def item_component(item: Any, prefix: str) -> gr.components.Component:
    """One input for a survey or rating item (elem_id `<prefix>-<item id>`)."""
    elem_id = f"{prefix}-{item.id}"
    label = item.text
    if item.type == "likert":
        return gr.Radio(likert_choices(item), label=label, elem_id=elem_id, elem_classes=["scale"])
    if item.type == "choice":
        return gr.Radio(list(item.options), label=label, elem_id=elem_id, elem_classes=["scale"])
    if item.type == "checkbox":
        return gr.Checkbox(label=item.text, elem_id=elem_id)
    if item.type == "number":
        # A text field, not gr.Number: that one shows 0 before anything is typed, and an untouched
        # field would be stored as an answer of 0.
        return gr.Textbox(label=label, elem_id=elem_id, lines=1, max_lines=1, elem_classes=["number-item"],
                          placeholder=number_hint(item))
    return gr.Textbox(label=label, elem_id=elem_id, lines=3, max_lines=8, max_length=item.max_chars)


def number_hint(item: Any) -> str:
    """The range a number field takes, with its unit as people write it: "$0 to $2", "0 to 10 points"."""
    def amount(value: float) -> str:
        if not item.unit:
            return f"{value:g}"
        return f"{value:g} {item.unit}" if item.unit[-1].isalpha() else f"{item.unit}{value:g}"

    return f"a number from {amount(item.min)} to {amount(item.max)}"


def answers(items: Sequence[Any], values: dict[Any, Any], components: Sequence[gr.components.Component]) -> dict[str, Any]:
    """The values of a submitted form as {item id: value}; unanswered items are left out."""
    collected: dict[str, Any] = {}
    for item, component in zip(items, components):
        value = values.get(component)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        collected[item.id] = as_number(value) if item.type == "number" else value
    return collected


def as_number(text: Any) -> Any:
    """A typed number as a float ("1,5" too); anything else as typed, for the service to refuse by name."""
    try:
        return float(str(text).replace(",", ".").lstrip("$€£ "))
    except ValueError:
        return text
