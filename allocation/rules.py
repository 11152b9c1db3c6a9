"""Ops rules as data: parse and validate rule documents, and evaluate them against a day.

Evaluation turns a rule set into what the solver needs: per package the targets still allowed
(the fleet and/or partner carriers) with cost biases, plus the assignment-level constraints
(carrier caps, volume commitments, ship-together groups). Every conflict, and every package
that the rules leave without a feasible option, becomes an ``Issue`` naming the rules involved.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema

import schemas
from allocation import model

SCHEMA_PATH = Path(schemas.__file__).resolve().parent / "json" / "allocation_rules.schema.json"


class RulesError(ValueError):
    """A rule document is invalid; ``errors`` lists every problem as 'path: message'."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid allocation rules:\n  " + "\n  ".join(errors))
        self.errors = errors


def load_schema() -> dict[str, Any]:
    """Return the JSON Schema that rule documents must satisfy."""
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def validate(document: Any) -> list[str]:
    """Return every problem with a rule document, as 'path: message' lines (empty when valid)."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors: list[str] = []
    for err in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        if err.validator in ("if", "allOf"):
            continue
        where = "/".join(str(p) for p in err.absolute_path) or "(document)"
        errors.append(f"{where}: {_message(err)}")
    if not errors:
        seen: set[str] = set()
        for i, rule in enumerate(document["rules"]):
            if rule["id"] in seen:
                errors.append(f"rules/{i}/id: duplicate rule id {rule['id']!r}")
            seen.add(rule["id"])
            for key in ("weight_kg", "longest_side_cm", "volume_m3", "value"):
                rng = rule["when"].get(key)
                if rng and "min" in rng and "max" in rng and Decimal(rng["min"]) > Decimal(rng["max"]):
                    errors.append(f"rules/{i}/when/{key}: min {rng['min']} is above max {rng['max']}")
    return errors


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "unknown field(s)")
    if err.validator == "enum" and isinstance(err.validator_value, list):
        return f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    if err.validator == "pattern" and isinstance(err.instance, str):
        if list(err.absolute_path)[-1:] == ["id"]:
            return f"{err.instance!r} is not a valid rule id (letters, digits, _ . : -; at most 64)"
        return f'{err.instance!r} is not a decimal string such as "12.50"'
    if err.validator == "type" and err.validator_value == "string" and isinstance(err.instance, int | float):
        return f'write {err.instance!r} as a decimal string ("{err.instance}"); floats lose cents'
    if err.validator in ("minimum", "maximum") and list(err.absolute_path)[-1:] == ["probability"]:
        return f"probability must be between 0 and 1, got {err.instance!r}"
    if (
        err.validator == "type"
        and err.validator_value == "number"
        and list(err.absolute_path)[-1:] == ["probability"]
    ):
        return f"write the probability as a number from 0 to 1 (such as 0.9), not {err.instance!r}"
    if err.validator == "not":
        return f"{err.instance!r} is not allowed here: caps and commitments apply to partner carriers"
    if err.validator == "anyOf" and isinstance(err.validator_value, list):
        return "needs at least one of " + " or ".join(
            "/".join(sub.get("required", [])) for sub in err.validator_value
        )
    return err.message


def parse(document: Any) -> model.RuleSet:
    """Validate a rule document and return it as a ``RuleSet``; raise ``RulesError`` when invalid."""
    errors = validate(document)
    if errors:
        raise RulesError(errors)
    return model.RuleSet(
        version=document["version"],
        name=document.get("name", ""),
        rules=tuple(_rule(r) for r in document["rules"]),
    )


def _range(raw: dict[str, str] | None) -> model.Range | None:
    if raw is None:
        return None
    return model.Range(
        min=Decimal(raw["min"]) if "min" in raw else None, max=Decimal(raw["max"]) if "max" in raw else None
    )


def _set(raw: list[str] | None) -> frozenset[str] | None:
    return None if raw is None else frozenset(raw)


def _rule(raw: dict[str, Any]) -> model.Rule:
    when = raw["when"]
    action = raw["action"]
    kind = action["type"]
    return model.Rule(
        id=raw["id"],
        action=kind,
        description=raw.get("description", ""),
        enabled=raw.get("enabled", True),
        when=model.Condition(
            zones=_set(when.get("zone")),
            postal_prefixes=tuple(when["postal_prefix"]) if "postal_prefix" in when else None,
            weight_kg=_range(when.get("weight_kg")),
            longest_side_cm=_range(when.get("longest_side_cm")),
            volume_m3=_range(when.get("volume_m3")),
            value=_range(when.get("value")),
            service_levels=_set(when.get("service_level")),
            tags_any=_set(when.get("tags_any")),
            tags_all=_set(when.get("tags_all")),
            tenants=_set(when.get("tenant")),
            hazmat=when.get("hazmat"),
            fragile=when.get("fragile"),
        ),
        target=action.get("target", action.get("carrier")),
        bias=Decimal(action.get("bias", "0")),
        max_packages=action.get("max_packages"),
        max_kg=Decimal(action["max_kg"]) if "max_kg" in action else None,
        min_packages=action.get("min_packages"),
        min_kg=Decimal(action["min_kg"]) if "min_kg" in action else None,
        period=action.get("period"),
        by=action.get("by", "group"),
        probability=float(action["probability"]) if "probability" in action else None,
    )


def to_document(rule_set: model.RuleSet) -> dict[str, Any]:
    """Return the JSON document form of a rule set (the inverse of ``parse``)."""
    rules = []
    for r in rule_set.rules:
        when: dict[str, Any] = {}
        c = r.when
        for key, val in (
            ("zone", c.zones),
            ("service_level", c.service_levels),
            ("tags_any", c.tags_any),
            ("tags_all", c.tags_all),
            ("tenant", c.tenants),
        ):
            if val is not None:
                when[key] = sorted(val)
        if c.postal_prefixes is not None:
            when["postal_prefix"] = list(c.postal_prefixes)
        for key, rng in (
            ("weight_kg", c.weight_kg),
            ("longest_side_cm", c.longest_side_cm),
            ("volume_m3", c.volume_m3),
            ("value", c.value),
        ):
            if rng is not None:
                when[key] = {k: str(v) for k, v in (("min", rng.min), ("max", rng.max)) if v is not None}
        for key, flag in (("hazmat", c.hazmat), ("fragile", c.fragile)):
            if flag is not None:
                when[key] = flag
        action: dict[str, Any] = {"type": r.action}
        if r.action in ("require", "forbid", "prefer"):
            action["target"] = r.target
        if r.action == "prefer":
            action["bias"] = str(r.bias)
        if r.action in ("cap", "commit"):
            action["carrier"] = r.target
        for key, setting in (
            ("max_packages", r.max_packages),
            ("max_kg", r.max_kg),
            ("min_packages", r.min_packages),
            ("min_kg", r.min_kg),
            ("period", r.period),
        ):
            if setting is not None:
                action[key] = setting if isinstance(setting, int | str) else str(setting)
        if r.action == "ship_together":
            action["by"] = r.by
        if r.action == "min_on_time":
            action["probability"] = r.probability
        item: dict[str, Any] = {"id": r.id, "when": when, "action": action}
        if r.description:
            item["description"] = r.description
        if not r.enabled:
            item["enabled"] = False
        rules.append(item)
    doc: dict[str, Any] = {"version": rule_set.version, "rules": rules}
    if rule_set.name:
        doc["name"] = rule_set.name
    return doc


# ---- evaluation ------------------------------------------------------------------------------


MOVE_TO_PARTNER_TAG = "move_to_partner"
# A parcel an exception playbook sends back to the sender: not a package of any later day.
RETURN_TO_SENDER_TAG = "return_to_sender"
# Built into every active rule set: a fleet parcel an exception playbook moved to a partner (the
# ``move_to_partner`` action tags it) is never put back on a van.
MOVED_TO_PARTNER = model.Rule(
    id="builtin:move_to_partner",
    action="forbid",
    target=model.FLEET,
    when=model.Condition(tags_any=frozenset({MOVE_TO_PARTNER_TAG})),
    description="An exception playbook moved this parcel to a partner",
)
BUILT_IN: tuple[model.Rule, ...] = (MOVED_TO_PARTNER,)


def with_built_ins(rule_set: model.RuleSet) -> model.RuleSet:
    """The rule set with the built-in rules after its own."""
    return dataclasses.replace(rule_set, rules=(*rule_set.rules, *BUILT_IN))


def matches(condition: model.Condition, package: model.Package) -> bool:
    """Return whether a package satisfies every field of a condition."""
    c = condition
    checks = (
        c.zones is None or package.zone in c.zones,
        c.postal_prefixes is None
        or (package.postal_code is not None and package.postal_code.startswith(c.postal_prefixes)),
        c.weight_kg is None or c.weight_kg.contains(package.weight_kg),
        c.longest_side_cm is None or c.longest_side_cm.contains(package.longest_side_cm),
        c.volume_m3 is None or c.volume_m3.contains(package.volume_m3),
        c.value is None or c.value.contains(package.value.amount if package.value else None),
        c.service_levels is None or package.service_level in c.service_levels,
        c.tags_any is None or bool(c.tags_any & package.tags),
        c.tags_all is None or c.tags_all <= package.tags,
        c.tenants is None or package.tenant in c.tenants,
        c.hazmat is None or package.hazmat == c.hazmat,
        c.fragile is None or package.fragile == c.fragile,
    )
    return all(checks)


def percent(probability: float) -> str:
    """Return a probability as a percentage for people ("90%", "97.5%")."""
    return f"{round(probability * 100, 1):g}%"


@dataclass(frozen=True, slots=True)
class OnTime:
    """A package's on-time requirement and what it left of the options the rules allow.

    ``minimum`` is the strictest of the package's own minimum and every matching ``min_on_time``
    rule (None: no requirement, and everything the rules allow is kept). An option meets it when
    its probability is known and at least the minimum; an unknown probability never meets it.
    When some option meets it only those are kept (``met``); when none does, the ones with the
    highest known probability are kept (all of them when no probability is known), so the
    package is still delivered, and ``rules.evaluate`` reports an ``on_time_risk`` issue.
    ``fallback`` lists the partner options dropped, most likely first (unknown last), then
    cheapest: what a plan uses rather than leaving the package undelivered when none of the kept
    options has room.
    """

    minimum: float | None = None
    rule_ids: tuple[str, ...] = ()  # the min_on_time rules that set the minimum
    met: bool = True
    fleet: bool = True  # the fleet is kept (when the rules allow it)
    fleet_probability: float | None = None
    kept: tuple[model.PartnerOption, ...] = ()
    fallback: tuple[model.PartnerOption, ...] = ()
    dropped: frozenset[str] = frozenset()  # targets (carriers, "fleet") left with no option

    def describe(self, probability: float | None) -> str:
        """Return a short note on an option's probability against the minimum ("" without one)."""
        if self.minimum is None:
            return ""
        p = "unknown" if probability is None else percent(probability)
        note = f"on-time probability {p} against the required {percent(self.minimum)}"
        return note if self.met else note + " (no option meets it)"

    def fleet_dropped(self) -> str:
        """Return why the minimum kept a package off the vans."""
        p = "unknown" if self.fleet_probability is None else percent(self.fleet_probability)
        return f"the van's on-time probability ({p}) is below the required {percent(self.minimum or 0)}"


def required_on_time(
    package: model.Package, matched: list[model.Rule]
) -> tuple[float | None, tuple[str, ...]]:
    """Return the strictest on-time minimum for a package and the rules that set one."""
    found = [
        (r.probability, r.id) for r in matched if r.action == "min_on_time" and r.probability is not None
    ]
    candidates = [p for p, _ in found]
    if package.min_on_time_probability is not None:
        candidates.append(package.min_on_time_probability)
    if not candidates:
        return None, ()
    return max(candidates), tuple(sorted(rid for _, rid in found))


def _rank(probability: float | None) -> float:
    return -1.0 if probability is None else probability


def _on_time(
    problem: model.Problem,
    package: model.Package,
    matched: list[model.Rule],
    targets: set[str],
    options: list[model.PartnerOption],
) -> OnTime:
    """Apply the on-time minimum to the options the rules allow (see ``OnTime``)."""
    fleet_p = problem.fleet_on_time_probability
    minimum, rule_ids = required_on_time(package, matched)
    if minimum is None:
        return OnTime(fleet_probability=fleet_p, kept=tuple(options))
    fleet = model.FLEET in targets
    probs = [o.on_time_probability for o in options] + ([fleet_p] if fleet else [])

    def meets(p: float | None) -> bool:
        return p is not None and p >= minimum

    met = any(meets(p) for p in probs)
    if met:
        keep_fleet = fleet and meets(fleet_p)
        kept = [o for o in options if meets(o.on_time_probability)]
    else:
        best = max((_rank(p) for p in probs), default=-1.0)
        keep_fleet = fleet and _rank(fleet_p) == best
        kept = [o for o in options if _rank(o.on_time_probability) == best]
    fallback = sorted(
        (o for o in options if o not in kept), key=lambda o: (-_rank(o.on_time_probability), o.cost.amount)
    )
    left = {o.carrier for o in kept} | ({model.FLEET} if keep_fleet else set())
    return OnTime(
        minimum=minimum,
        rule_ids=rule_ids,
        met=met,
        fleet=keep_fleet,
        fleet_probability=fleet_p,
        kept=tuple(kept),
        fallback=tuple(fallback),
        dropped=frozenset(targets - left),
    )


@dataclass(frozen=True, slots=True)
class Allowed:
    """What one package may use after rules and eligibility, with optimisation biases."""

    package_id: str
    fleet: bool
    carriers: dict[str, model.PartnerOption]  # cheapest usable option per allowed carrier
    bias: dict[str, Decimal] = field(default_factory=dict)  # target -> added cost while optimising
    required_by: tuple[str, ...] = ()  # require rules that matched
    removed_by: dict[str, tuple[str, ...]] = field(default_factory=dict)  # target -> rule ids
    fleet_reason: str | None = None  # why the fleet cannot take it, when not by rule
    on_time: OnTime = field(default_factory=OnTime)  # the on-time requirement and what it dropped

    @property
    def targets(self) -> frozenset[str]:
        return frozenset(self.carriers) | ({model.FLEET} if self.fleet else frozenset())

    def biased_cost(self, carrier: str) -> Decimal:
        """Return a partner's price plus the rules' bias for it."""
        return self.carriers[carrier].cost.amount + self.bias.get(carrier, Decimal(0))


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``max_packages`` / ``max_kg`` of the matching packages go to ``carrier`` today."""

    rule_id: str
    carrier: str
    package_ids: frozenset[str]
    max_packages: int | None
    max_kg: Decimal | None


@dataclass(frozen=True, slots=True)
class Commitment:
    """At least today's share of a period minimum goes to ``carrier``."""

    rule_id: str
    carrier: str
    package_ids: frozenset[str]
    min_packages: int  # today's target, after what the period already shipped
    min_kg: Decimal


@dataclass(frozen=True, slots=True)
class Together:
    """Packages that must all go with the same carrier (the fleet counts as one, on one van)."""

    key: str
    rule_id: str | None  # None for a package's own ship-together group
    package_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The rules applied to a day."""

    allowed: dict[str, Allowed]
    caps: tuple[Cap, ...]
    commitments: tuple[Commitment, ...]
    groups: tuple[Together, ...]
    issues: tuple[model.Issue, ...]

    @property
    def infeasible(self) -> frozenset[str]:
        """Return the packages left with no option at all."""
        return frozenset(pid for pid, a in self.allowed.items() if not a.targets)


def fleet_reason(problem: model.Problem, package: model.Package) -> str | None:
    """Return why no van can deliver a package, or None when one can."""
    if not problem.vehicles:
        return "no vans in the fleet"
    if all(package.weight_kg > v.capacity_kg for v in problem.vehicles):
        return f"{package.weight_kg} kg exceeds every van's capacity"
    if all(package.volume_m3 > v.capacity_m3 for v in problem.vehicles):
        return f"{package.volume_m3} m3 exceeds every van's capacity"
    if package.window is not None:
        w = package.window
        if all(w.end < max(v.shift_start, problem.depot.opens) for v in problem.vehicles) or all(
            w.start > min(v.shift_end, problem.depot.closes) for v in problem.vehicles
        ):
            return "delivery window outside every van's shift"
    return None


def evaluate(problem: model.Problem) -> Evaluation:
    """Apply the rule set to every package and collect constraints and issues."""
    active = [r for r in problem.rules.rules if r.enabled]
    allowed: dict[str, Allowed] = {}
    conflicts: dict[tuple[str, ...], list[str]] = defaultdict(list)
    empty: dict[tuple[str, ...], list[str]] = defaultdict(list)
    short: dict[tuple[float, tuple[str, ...]], list[str]] = defaultdict(list)
    matched_by_rule: dict[str, list[model.Package]] = defaultdict(list)

    for pkg in problem.packages:
        matched = [r for r in active if matches(r.when, pkg)]
        for r in matched:
            matched_by_rule[r.id].append(pkg)
        usable = [o for o in problem.options.get(pkg.id, ()) if o.usable]
        reason = fleet_reason(problem, pkg)
        targets = {o.carrier for o in usable} | ({model.FLEET} if reason is None else set())
        removed: dict[str, list[str]] = defaultdict(list)
        requires = [r for r in matched if r.action == "require"]
        required_targets = {r.target for r in requires}
        if len(required_targets) > 1:
            conflicts[tuple(sorted(r.id for r in requires))].append(pkg.id)
        for r in requires:
            for t in list(targets):
                if t != r.target:
                    targets.discard(t)
                    removed[t].append(r.id)
        for r in matched:
            if r.action == "forbid":
                if r.target in required_targets:
                    conflicts[
                        tuple(sorted([r.id, *(q.id for q in requires if q.target == r.target)]))
                    ].append(pkg.id)
                if r.target in targets:
                    targets.discard(r.target)
                    removed[r.target].append(r.id)
        bias: dict[str, Decimal] = {}
        for r in matched:
            if r.action == "prefer" and r.target is not None:
                bias[r.target] = bias.get(r.target, Decimal(0)) + r.bias
        if not targets:
            involved = sorted({rid for ids in removed.values() for rid in ids})
            empty[tuple(involved)].append(pkg.id)
        risk = _on_time(problem, pkg, matched, targets, [o for o in usable if o.carrier in targets])
        if risk.minimum is not None and not risk.met and targets:
            short[(risk.minimum, risk.rule_ids)].append(pkg.id)
        carriers: dict[str, model.PartnerOption] = {}
        for opt in risk.kept:
            if opt.carrier not in carriers or opt.cost.amount < carriers[opt.carrier].cost.amount:
                carriers[opt.carrier] = opt
        allowed[pkg.id] = Allowed(
            package_id=pkg.id,
            fleet=model.FLEET in targets and risk.fleet,
            carriers=carriers,
            bias=bias,
            required_by=tuple(r.id for r in requires),
            removed_by={t: tuple(ids) for t, ids in removed.items()},
            fleet_reason=reason,
            on_time=risk,
        )

    issues: list[model.Issue] = [
        model.Issue("conflict", f"rules {', '.join(ids)} contradict each other", ids, tuple(pids))
        for ids, pids in conflicts.items()
    ]
    for ids, pids in empty.items():
        why = f"rules {', '.join(ids)} leave" if ids else "eligibility leaves"
        issues.append(model.Issue("no_feasible_option", f"{why} no carrier and no van", ids, tuple(pids)))
    for (minimum, ids), pids in short.items():
        issues.append(
            model.Issue(
                "on_time_risk",
                f"no option is known to be on time with probability {percent(minimum)} or more: "
                "the most likely one is used",
                ids,
                tuple(pids),
            )
        )

    weight = {p.id: p.weight_kg for p in problem.packages}
    caps: list[Cap] = []
    commitments: list[Commitment] = []
    progress = {p.carrier: p for p in problem.progress}
    for r in active:
        pkgs = matched_by_rule.get(r.id, [])
        if r.action == "cap" and r.target is not None:
            caps.append(Cap(r.id, r.target, frozenset(p.id for p in pkgs), r.max_packages, r.max_kg))
        elif r.action == "commit" and r.target is not None:
            prog = progress.get(r.target, model.PeriodProgress(r.target))
            days = max(1, prog.days_left)
            need_pkgs = max(0, (r.min_packages or 0) - prog.shipped_packages)
            need_kg = max(Decimal(0), (r.min_kg or Decimal(0)) - prog.shipped_kg)
            today_pkgs = math.ceil(need_pkgs / days)
            today_kg = need_kg / days
            eligible = [p.id for p in pkgs if r.target in allowed[p.id].carriers]
            commitments.append(Commitment(r.id, r.target, frozenset(eligible), today_pkgs, today_kg))
            if len(eligible) < today_pkgs or sum((weight[i] for i in eligible), Decimal(0)) < today_kg:
                issues.append(
                    model.Issue(
                        "commitment_shortfall",
                        f"only {len(eligible)} eligible packages for {r.target}; today's share of the "
                        f"commitment is {today_pkgs} packages / {today_kg:.1f} kg",
                        (r.id,),
                    )
                )

    groups: list[Together] = []
    by_group: dict[str, list[str]] = defaultdict(list)
    for p in problem.packages:
        if p.group is not None:
            by_group[p.group].append(p.id)
    groups += [Together(f"group:{g}", None, tuple(ids)) for g, ids in by_group.items() if len(ids) > 1]
    for r in active:
        if r.action != "ship_together":
            continue
        keyed: dict[str, list[str]] = defaultdict(list)
        for p in matched_by_rule.get(r.id, []):
            key = {"group": p.group, "tenant": p.tenant, "postal_code": p.postal_code, "zone": p.zone}[r.by]
            if key is not None:
                keyed[key].append(p.id)
        groups += [Together(f"{r.by}:{k}", r.id, tuple(ids)) for k, ids in keyed.items() if len(ids) > 1]

    for g in groups:
        common = frozenset.intersection(*(allowed[i].targets for i in g.package_ids))
        if not common:
            rule_ids = tuple(
                sorted(
                    {rid for i in g.package_ids for ids in allowed[i].removed_by.values() for rid in ids}
                    | ({g.rule_id} if g.rule_id else set())
                )
            )
            issues.append(
                model.Issue(
                    "no_feasible_option",
                    f"ship-together {g.key} has no carrier every member may use",
                    rule_ids,
                    g.package_ids,
                )
            )

    return Evaluation(allowed, tuple(caps), tuple(commitments), tuple(groups), tuple(issues))
