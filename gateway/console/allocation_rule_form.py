"""The rule-set page's plain form for the four most common kinds of rule (beside the JSON editor).

The form edits the same document the JSON editor does: a submitted rule is added to (or, with an
existing rule id, put in place of) the current version's rules, and the whole list is saved by
``rule_sets.update_rule_set``, so the JSON Schema and every other check stay in one place. Values
go into the document as typed; a bad one comes back as the schema's message at its JSON path,
which is also shown beside the form field it came from.

The kinds (schemas/json/allocation_rules.schema.json, allocation/rules.py):

- ``service_carrier``: parcels of these service levels go with this carrier (or the fleet):
  ``when.service_level`` + ``action: require``.
- ``van_max_weight``: parcels from this weight up never go on a van:
  ``when.weight_kg.min`` + ``action: forbid fleet``.
- ``service_on_time``: parcels of these service levels need this on-time probability:
  ``when.service_level`` + ``action: min_on_time``.
- ``region_exclusion``: this carrier (or the fleet) is not used for these postal code prefixes:
  ``when.postal_prefix`` + ``action: forbid <carrier>``.

Any other rule is edited in the JSON editor; the form leaves it as it is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

FLEET = "fleet"  # the own fleet's target name in rule documents (allocation.model.FLEET)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    hint: str


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    fields: tuple[Field, ...]
    paths: dict[str, str]  # JSON path inside the rule -> form field


RULE_ID = Field("rule_id", "Rule id", "optional; an existing id replaces that rule")
SERVICE = Field("service_level", "Service levels", "comma-separated, such as express, priority")
KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind(
            "service_carrier",
            "Service level → carrier",
            (SERVICE, Field("target", "Carrier", 'a carrier code, or "fleet" for the own vans'), RULE_ID),
            {"when.service_level": "service_level", "action.target": "target", "id": "rule_id"},
        ),
        Kind(
            "van_max_weight",
            "Heavy parcels off the vans",
            (Field("min_kg", "From (kg)", "parcels this heavy or heavier never go on a van"), RULE_ID),
            {"when.weight_kg.min": "min_kg", "when.weight_kg": "min_kg", "id": "rule_id"},
        ),
        Kind(
            "service_on_time",
            "Minimum on-time probability per service level",
            (SERVICE, Field("probability", "On-time probability", "from 0 to 1, such as 0.95"), RULE_ID),
            {"when.service_level": "service_level", "action.probability": "probability", "id": "rule_id"},
        ),
        Kind(
            "region_exclusion",
            "Carrier or vans not used in a region",
            (
                Field("postal_prefix", "Postal code prefixes", "comma-separated, such as 191, 190"),
                Field("target", "Carrier", 'a carrier code, or "fleet" for the own vans'),
                RULE_ID,
            ),
            {"when.postal_prefix": "postal_prefix", "action.target": "target", "id": "rule_id"},
        ),
    )
}
FIELD_NAMES = ("rule_id", "service_level", "target", "min_kg", "probability", "postal_prefix")


def classify(rule: Any) -> str | None:
    """The form kind a stored rule has, or None when only the JSON editor can edit it."""
    if not isinstance(rule, dict):
        return None
    when, action = rule.get("when"), rule.get("action")
    if not isinstance(when, dict) or not isinstance(action, dict):
        return None
    keys, kind = set(when), action.get("type")
    if keys == {"service_level"} and kind == "require" and set(action) == {"type", "target"}:
        return "service_carrier"
    if keys == {"service_level"} and kind == "min_on_time" and set(action) == {"type", "probability"}:
        return "service_on_time"
    if keys == {"weight_kg"} and isinstance(when["weight_kg"], dict) and set(when["weight_kg"]) == {"min"}:
        return "van_max_weight" if action == {"type": "forbid", "target": FLEET} else None
    if keys == {"postal_prefix"} and kind == "forbid" and set(action) == {"type", "target"}:
        return "region_exclusion"
    return None


def _joined(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value or "")


def values_of(kind: str, rule: dict[str, Any]) -> dict[str, str]:
    """A stored rule as the form's field values (to edit it)."""
    when, action = rule["when"], rule["action"]
    values = {"rule_id": str(rule.get("id", ""))}
    if kind in ("service_carrier", "service_on_time"):
        values["service_level"] = _joined(when.get("service_level"))
    if kind in ("service_carrier", "region_exclusion"):
        values["target"] = str(action.get("target", ""))
    if kind == "van_max_weight":
        values["min_kg"] = str(when["weight_kg"].get("min", ""))
    if kind == "service_on_time":
        values["probability"] = str(action.get("probability", ""))
    if kind == "region_exclusion":
        values["postal_prefix"] = _joined(when.get("postal_prefix"))
    return values


def describe(kind: str, rule: dict[str, Any]) -> str:
    """A stored rule of a form kind in one plain sentence."""
    v = values_of(kind, rule)
    off = "" if rule.get("enabled", True) else " (disabled)"
    if kind == "service_carrier":
        return f"Service levels {v['service_level']} go with {v['target']}{off}"
    if kind == "van_max_weight":
        return f"Parcels of {v['min_kg']} kg or more never go on a van{off}"
    if kind == "service_on_time":
        return f"Service levels {v['service_level']} need an on-time probability of at least {v['probability']}{off}"
    who = "The own vans are" if v["target"] == FLEET else f"{v['target']} is"
    return f"{who} not used for postal codes starting {v['postal_prefix']}{off}"


@dataclass(frozen=True)
class Listed:
    id: str
    kind: str
    title: str
    text: str


def listing(rules: list[Any]) -> tuple[list[Listed], int]:
    """The document's rules the form can edit (in order), and how many others there are."""
    shown, others = [], 0
    for rule in rules:
        kind = classify(rule)
        if kind is None:
            others += 1
        else:
            shown.append(Listed(str(rule["id"]), kind, KINDS[kind].title, describe(kind, rule)))
    return shown, others


def _items(raw: str) -> list[str]:
    return [p for p in (x.strip() for x in re.split(r"[,\n]", raw)) if p]


def _probability(raw: str) -> Any:
    """A number when the text is one (the schema then checks 0 to 1), else the text for the schema to refuse."""
    try:
        value = float(raw)
    except ValueError:
        return raw
    if not math.isfinite(value):
        return raw
    return int(value) if value.is_integer() else value


def _free_id(kind: str, taken: set[str]) -> str:
    n = 1
    while f"{kind}-{n}" in taken:
        n += 1
    return f"{kind}-{n}"


def build(kind: str, values: dict[str, str], rule_id: str) -> dict[str, Any]:
    """The rule a form submission means, values as typed (the schema judges them)."""
    if kind == "service_carrier":
        when: dict[str, Any] = {"service_level": _items(values["service_level"])}
        action: dict[str, Any] = {"type": "require", "target": values["target"]}
    elif kind == "van_max_weight":
        when = {"weight_kg": {"min": values["min_kg"]}}
        action = {"type": "forbid", "target": FLEET}
    elif kind == "service_on_time":
        when = {"service_level": _items(values["service_level"])}
        action = {"type": "min_on_time", "probability": _probability(values["probability"])}
    else:
        when = {"postal_prefix": _items(values["postal_prefix"])}
        action = {"type": "forbid", "target": values["target"]}
    return {"id": rule_id, "when": when, "action": action}


def put(
    rules: list[Any], kind: str, values: dict[str, str], elsewhere: set[str] | None = None
) -> tuple[list[Any], int]:
    """The rule list with the submitted rule added, or in place of the rule with its id; and its index.

    A new rule without an id gets one used neither in ``rules`` nor in ``elsewhere`` (the other active
    sets' ids: rule ids are unique across them). A replaced rule keeps its description and enabled flag.
    """
    taken = {str(r.get("id")) for r in rules if isinstance(r, dict)} | (elsewhere or set())
    rule_id = values.get("rule_id") or _free_id(kind, taken)
    rule = build(kind, values, rule_id)
    out = list(rules)
    for i, old in enumerate(out):
        if isinstance(old, dict) and old.get("id") == rule_id:
            out[i] = {**rule, **{k: old[k] for k in ("description", "enabled") if k in old}}
            return out, i
    out.append(rule)
    return out, len(out) - 1


def field_errors(kind: str, index: int, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A refusal's messages about the submitted rule, by the form field they concern."""
    prefix = f"rules.{index}."
    paths = KINDS[kind].paths
    fields: dict[str, list[str]] = {}
    for path, messages in errors.items():
        inner = path[len(prefix) :] if path.startswith(prefix) else None
        name = None
        if inner is not None:
            name = paths.get(inner) or next((f for p, f in paths.items() if inner.startswith(p + ".")), None)
        if name is not None:
            fields.setdefault(name, []).extend(messages)
    return fields
