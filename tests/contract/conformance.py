"""Shared machinery of the contract conformance suite (issue 17): carriers' published specs as validators.

Every carrier's adapter is checked the same way: capture the HTTP requests it really sends (``responses``
mocks) and validate method, path, query, headers and body against the operation the carrier's published
spec declares; feed the spec's own example replies to the adapter's parser. The specs are third-party
material in ``../shared/carriers/`` that is read, never copied: when the folder is absent every helper
here calls ``pytest.skip`` with the reason.

- :func:`carrier_dir` / :func:`spec_path`: locate a spec, skipping with a reason when absent.
- :class:`OpenApi`: load an OpenAPI 3.0/3.1 document (YAML or JSON), resolve ``$ref`` s, find the
  operation a URL hits, its request-body / response schemas and its examples; validate with jsonschema.
- :func:`check_request`: every :class:`Violation` of one captured request against an :class:`OpenApi`.
- :func:`sent_operation`: the (method, server path + template) a captured request hits, for the guards that
  compare what an adapter sent with what its mapping can build (:func:`request_builders`);
  :func:`spec_for`: which of a carrier's specs declares it; :func:`accept_violations`: an ``Accept`` header
  names a media type the operation replies with.
- :meth:`OpenApi.patched` and :func:`merge_all_of`: read a spec through a named fix of its own defect
  (``allOf`` parts closed with ``additionalProperties: false``, FedEx's ``oneOf`` of overlapping samples).
- :func:`documented_values`: the values a parameter's prose lists under "Valid values" (UPS's enums).
- :func:`example_instance`: an instance built from the ``example`` values a schema's leaves declare, for
  specs that document replies field by field instead of whole example bodies.
- :class:`Wsdl`: the XML Schemas embedded in a WSDL compiled into one lxml validator, plus each
  operation's SOAPAction and input/output element, to validate SOAP envelope bodies.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import json
import re
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import openapi_schema_validator
import pytest
import referencing
import referencing.jsonschema
import requests
import yaml
from lxml import etree

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "carriers"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def carrier_dir(carrier: str) -> Path:
    """Return ``../shared/carriers/<carrier>``, or skip the calling test saying why it cannot run."""
    path = SHARED / carrier
    if not path.is_dir():
        pytest.skip(
            f"{carrier} published contract not found at {path}: ../shared/carriers/ is absent, so the "
            "conformance suite has nothing to check against (specs are read from there, never copied)"
        )
    return path


def spec_path(carrier: str, name: str) -> Path:
    """Return one spec file of a carrier, or skip saying which file is missing."""
    path = carrier_dir(carrier) / name
    if not path.is_file():
        pytest.skip(f"{carrier} contract file {name} not found in {path.parent}")
    return path


@dataclass(frozen=True)
class Violation:
    """One way a request or reply breaks the spec: where, which schema keyword, and the message."""

    where: str
    keyword: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.keyword}]"


def _pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _unpointer(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


# -- OpenAPI ------------------------------------------------------------------------------------------------


@dataclass
class Operation:
    """One operation of an OpenAPI document, as found for a concrete request."""

    api: OpenApi
    method: str
    template: str
    pointer: str
    node: Mapping[str, Any]
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.template} ({self.api.name})"

    def parameters(self) -> dict[tuple[str, str], tuple[Mapping[str, Any], str]]:
        """Declared parameters keyed by (in, lower-cased name for headers), with their JSON pointers."""
        out: dict[tuple[str, str], tuple[Mapping[str, Any], str]] = {}
        path_item = self.pointer.rsplit("/", 1)[0]
        for base in (path_item, self.pointer):  # operation-level parameters override path-level ones
            node = self.api.at(base).get("parameters") or []
            for i in range(len(node)):
                param, pointer = self.api.follow(f"{base}/parameters/{i}")
                name = str(param["name"])
                out[(param["in"], name.lower() if param["in"] == "header" else name)] = (param, pointer)
        return out

    def request_schema(self, media_type: str) -> str | None:
        """Return the pointer of the request-body schema for a media type (None if not declared)."""
        if "requestBody" not in self.node:
            return None
        body, pointer = self.api.follow(f"{self.pointer}/requestBody")
        content = body.get("content") or {}
        if media_type not in content:
            return None
        return f"{pointer}/content/{_pointer_token(media_type)}/schema"

    def request_required(self) -> bool:
        if "requestBody" not in self.node:
            return False
        return bool(self.api.follow(f"{self.pointer}/requestBody")[0].get("required"))

    def response_schema(self, status: int | str, media_type: str = "application/json") -> str | None:
        """Return the pointer of the reply schema for a status (falling back to ``default``)."""
        responses = self.node.get("responses") or {}
        key = str(status) if str(status) in responses else "default" if "default" in responses else None
        if key is None:
            return None
        reply, pointer = self.api.follow(f"{self.pointer}/responses/{_pointer_token(key)}")
        if media_type not in (reply.get("content") or {}):
            return None
        return f"{pointer}/content/{_pointer_token(media_type)}/schema"

    def response_examples(self) -> list[tuple[str, str, Any]]:
        """Return every (status, example name, value) the spec gives for this operation's replies."""
        found: list[tuple[str, str, Any]] = []
        for status in self.node.get("responses") or {}:
            reply, pointer = self.api.follow(f"{self.pointer}/responses/{_pointer_token(status)}")
            for media_type, content in (reply.get("content") or {}).items():
                base = f"{pointer}/content/{_pointer_token(media_type)}"
                found += [(str(status), name, value) for name, value in self.api.examples_at(base, content)]
        return found

    def request_examples(self) -> list[tuple[str, Any]]:
        """Return every (example name, value) the spec gives for this operation's request body."""
        if "requestBody" not in self.node:
            return []
        body, pointer = self.api.follow(f"{self.pointer}/requestBody")
        found: list[tuple[str, Any]] = []
        for media_type, content in (body.get("content") or {}).items():
            found += self.api.examples_at(f"{pointer}/content/{_pointer_token(media_type)}", content)
        return found


class OpenApi:
    """An OpenAPI 3.0 or 3.1 document with a jsonschema registry so any schema in it validates."""

    def __init__(self, path: Path, doc: dict[str, Any] | None = None) -> None:
        self.path = path
        self.name = path.name
        if doc is not None:  # a patched copy (``patched``): the file is not read again
            self.doc: dict[str, Any] = doc
        elif path.suffix == ".json":
            self.doc = json.loads(path.read_text(encoding="utf-8"))
        else:
            text = path.read_text(encoding="utf-8")
            # UPS's Shipping.yaml and Tracking.yaml carry trailing tabs that strict YAML parsers reject.
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: Shipping.yaml is 600 kB
            self.doc = yaml.load(re.sub(r"[ \t]+(\r?\n)", r"\1", text), Loader=loader)
        self.uri = f"urn:contract:{path.parent.name}:{path.name}"
        oas31 = str(self.doc.get("openapi", "3.0")).startswith("3.1")
        self._validator_class = (
            openapi_schema_validator.OAS31Validator if oas31 else openapi_schema_validator.OAS30Validator
        )
        specification = referencing.jsonschema.DRAFT202012 if oas31 else referencing.jsonschema.DRAFT4
        resource = referencing.Resource.from_contents(self.doc, default_specification=specification)
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(self.uri, resource)
        self.format_checker: Any = None  # ``format`` is an annotation unless ``patched(check_formats=True)``

    @classmethod
    def load(cls, carrier: str, name: str) -> OpenApi:
        """Load ``../shared/carriers/<carrier>/<name>`` (cached), or skip when it is absent."""
        path = spec_path(carrier, name)
        if path not in _CACHE:
            _CACHE[path] = cls(path)
        return _CACHE[path]

    def patched(
        self, patch: Callable[[dict[str, Any]], Any] | None = None, *, check_formats: bool = False
    ) -> OpenApi:
        """Return a copy of this document read through ``patch`` (called on a deep copy of it).

        For a spec's own defect that no request could satisfy; each patch is named, and proved to cover only
        that defect, by the suite that applies it. The file is never changed and ``load``'s cache is not
        touched. ``patch`` edits the copy in place or returns a replacement document. ``check_formats``
        asserts ``format`` (the OpenAPI dialect's ``date``, ``date-time``, ``email``, ``byte`` ...): a spec
        that tells ``oneOf`` alternatives apart by format alone needs it.
        """
        doc = copy.deepcopy(self.doc)
        replaced = patch(doc) if patch is not None else None
        copied = OpenApi(self.path, doc if replaced is None else replaced)
        copied.format_checker = self._validator_class.FORMAT_CHECKER if check_formats else self.format_checker
        return copied

    # -- navigation

    def at(self, pointer: str) -> Any:
        """Return the node at a JSON pointer (``""`` is the whole document)."""
        node: Any = self.doc
        for token in filter(None, pointer.split("/")):
            token = _unpointer(token)
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def follow(self, pointer: str) -> tuple[Any, str]:
        """Return (node, pointer) at a pointer after following local ``$ref`` s."""
        node = self.at(pointer)
        seen = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#") or ref in seen:
                raise ValueError(f"{self.name}: unsupported or cyclic $ref {ref!r} at {pointer}")
            seen.add(ref)
            pointer = ref[1:]
            node = self.at(pointer)
        return node, pointer

    def resolve(self, node: Any) -> Any:
        """Follow a node's local ``$ref`` (if any) and return the target."""
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            node = self.at(node["$ref"][1:])
        return node

    def examples_at(self, pointer: str, content: Mapping[str, Any]) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = []
        if "example" in content:
            found.append(("example", content["example"]))
        for name in content.get("examples") or {}:
            example, _ = self.follow(f"{pointer}/examples/{_pointer_token(name)}")
            if isinstance(example, Mapping) and "value" in example:
                found.append((str(name), example["value"]))
        return found

    def operations(self) -> Iterator[Operation]:
        for template, item in (self.doc.get("paths") or {}).items():
            for method in HTTP_METHODS:
                if method in item:
                    pointer = f"/paths/{_pointer_token(template)}/{method}"
                    yield Operation(self, method, template, pointer, item[method])

    def operation(self, method: str, template: str) -> Operation:
        """Return the operation declared at a path template (KeyError when the spec has none)."""
        item = (self.doc.get("paths") or {})[template]
        node = item[method.lower()]
        return Operation(
            self, method.lower(), template, f"/paths/{_pointer_token(template)}/{method.lower()}", node
        )

    def _server_prefixes(self) -> list[tuple[str, Mapping[str, Any]]]:
        servers = self.doc.get("servers") or [{"url": "/"}]
        prefixes = []
        for server in servers:
            prefix = urlsplit(server["url"]).path.rstrip("/")
            prefixes.append((prefix, server.get("variables") or {}))
        return prefixes

    def find(self, method: str, url: str) -> Operation | None:
        """Return the operation a concrete request hits (server path prefix + path template), if any.

        A template with fewer variables wins (``/track/v1/reference/details/{n}`` over ``/{a}/{b}/...``).
        """
        path = urlsplit(url).path
        matches: list[tuple[int, int, Operation]] = []
        for prefix, variables in self._server_prefixes():
            for operation in self.operations():
                if operation.method != method.lower():
                    continue
                names: list[str] = []

                def group(match: re.Match[str], names: list[str] = names) -> str:
                    names.append(match.group(1))
                    return f"(?P<v{len(names) - 1}>[^/]+)"

                pattern = re.sub(r"\\\{([^}]+)\\\}", group, re.escape(prefix + operation.template))
                hit = re.fullmatch(pattern, path)
                if hit is None:
                    continue
                values = {names[i]: unquote(v) for i, v in enumerate(hit.groups())}
                bad_server_var = any(
                    name in variables
                    and "enum" in variables[name]
                    and values[name] not in variables[name]["enum"]
                    for name in values
                )
                if bad_server_var:
                    continue
                operation.path_params = values
                matches.append((len(names), _undocumented(operation), operation))
        if not matches:
            return None
        # Fewest variables, then the twin whose documented values accept the request (UPS declares
        # ``/shipments/{version}/ship`` and ``/shipments/{deprecatedVersion}/ship`` side by side).
        return min(matches, key=lambda m: m[:2])[2]

    # -- validation

    def violations(self, pointer: str, instance: Any, where: str = "") -> list[Violation]:
        """Validate an instance against the schema at a pointer of this document."""
        validator = self._validator_class(
            {"$ref": f"{self.uri}#{pointer}"}, registry=self.registry, format_checker=self.format_checker
        )
        out = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
            location = "/".join(map(str, error.absolute_path))
            out.append(
                Violation(
                    f"{where}{'/' if where and location else ''}{location}",
                    str(error.validator),
                    error.message,
                )
            )
        return out

    def component(self, name: str) -> str:
        """Return the pointer of ``components/schemas/<name>``."""
        self.at(f"/components/schemas/{_pointer_token(name)}")  # KeyError if the spec has no such schema
        return f"/components/schemas/{_pointer_token(name)}"


_CACHE: dict[Path, OpenApi] = {}


def merge_all_of(doc: dict[str, Any]) -> dict[str, Any]:
    """Return a document whose every ``allOf`` is read the way OpenAPI tools read it: one object.

    The merged object has the union of its parts' properties and ``required`` lists, and is closed
    (``additionalProperties: false``) when any part was. Under plain JSON Schema a part closed with
    ``additionalProperties: false`` sees the other parts' properties as extra, so no instance satisfies
    the ``allOf`` (USPS writes its specs this way). Local ``$ref`` s inside an ``allOf`` are inlined.
    """

    def resolve(node: Any) -> Any:
        while isinstance(node, Mapping) and str(node.get("$ref", "")).startswith("#/"):
            target: Any = doc
            for token in node["$ref"][2:].split("/"):
                target = target[_unpointer(token)]
            node = target
        return node

    def merged(node: Any) -> Any:
        if isinstance(node, list):
            return [merged(v) for v in node]
        if not isinstance(node, Mapping):
            return node
        node = {k: merged(v) for k, v in node.items()}
        if "allOf" not in node:
            return node
        parts = [merged(resolve(part)) for part in node.pop("allOf")]
        closed = node.get("additionalProperties") is False
        properties: dict[str, Any] = {}
        required: list[str] = []
        rest: dict[str, Any] = {}
        for part in parts:
            closed = closed or part.get("additionalProperties") is False
            properties.update(part.get("properties", {}))
            required += [r for r in part.get("required", []) if r not in required]
            rest.update(
                {k: v for k, v in part.items() if k not in ("properties", "required", "additionalProperties")}
            )
        out = {**rest, **node, "properties": {**properties, **node.get("properties", {})}}
        required += [r for r in node.get("required", []) if r not in required]
        if required:
            out["required"] = required
        out["additionalProperties"] = not closed
        return out

    result: dict[str, Any] = merged(doc)
    return result


def sent_operation(apis: Collection[OpenApi], request: requests.PreparedRequest) -> tuple[str, str] | None:
    """Return (METHOD, server path + template) of the operation a request hits in one of the specs.

    ``("DELETE", "/labels/v3/label/{trackingNumber}")``: the form a suite compares with the operations
    its adapter can build. None when no spec declares the operation.
    """
    for api in apis:
        operation = api.find(str(request.method or ""), str(request.url or ""))
        if operation is not None:
            path = urlsplit(str(request.url or "")).path
            prefixes = [prefix for prefix, _ in api._server_prefixes() if path.startswith(prefix + "/")]
            return str(request.method).upper(), max(prefixes, key=len, default="") + operation.template
    return None


def spec_for(apis: Collection[OpenApi], request: requests.PreparedRequest) -> OpenApi:
    """Return the first of a carrier's specs that declares the operation a request hits (fail if none)."""
    for api in apis:
        if api.find(str(request.method or ""), str(request.url or "")) is not None:
            return api
    raise AssertionError(f"{request.method} {request.url} is no operation of {[a.name for a in apis]}")


def request_builders(*modules: ModuleType) -> set[str]:
    """Return ``module.function`` for every public function of the modules that returns an ``HttpCall``.

    The request builders of an adapter's mapping: a suite lists the operation each builds, and fails when a
    builder appears that it does not drive.
    """
    return {
        f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
        for module in modules
        for name, function in vars(module).items()
        if inspect.isfunction(function)
        and function.__module__ == module.__name__
        and not name.startswith("_")
        and str(inspect.signature(function).return_annotation).rsplit(".", 1)[-1] == "HttpCall"
    }


def accept_violations(operation: Operation, headers: Mapping[str, str]) -> list[Violation]:
    """An ``Accept`` header naming one media type must name one a 2xx reply of the operation declares."""
    accept = {k.lower(): v for k, v in headers.items()}.get("accept", "")
    wanted = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    if len(wanted) != 1 or "*" in wanted[0]:
        return []
    declared: set[str] = set()
    for status in operation.node.get("responses") or {}:
        if str(status).startswith("2"):
            reply, _ = operation.api.follow(f"{operation.pointer}/responses/{_pointer_token(str(status))}")
            declared |= {m.lower() for m in reply.get("content") or {}}
    if not declared or wanted[0] in declared:
        return []
    return [
        Violation(
            "header Accept",
            "content",
            f"{wanted[0]!r} is not among {operation.name}'s replies {sorted(declared)}",
        )
    ]


def _undocumented(operation: Operation) -> int:
    """Count the path parameters whose value is not among the values their description lists."""
    params = operation.parameters()
    count = 0
    for name, value in operation.path_params.items():
        declared = params.get(("path", name))
        allowed = documented_values(declared[0].get("description")) if declared else None
        count += allowed is not None and value not in allowed
    return count


_INTEGER = re.compile(r"-?[0-9]+")


def _as_typed(api: OpenApi, pointer: str, value: str) -> Any:
    """A path or query value as its schema reads it: text that spells an integer is one (``/v2/3``).

    URLs carry only text; OpenAPI serialises an ``integer`` parameter as its digits. Text that does
    not spell one stays text, so the schema still reports it.
    """
    try:
        kind = api.resolve(api.at(pointer)).get("type")
    except (KeyError, IndexError, AttributeError):
        return value
    if kind == "integer" and _INTEGER.fullmatch(value):
        return int(value)
    return value


def _value_violations(
    api: OpenApi, declared: tuple[Mapping[str, Any], str], value: str, where: str
) -> list[Violation]:
    param, pointer = declared
    found = api.violations(f"{pointer}/schema", _as_typed(api, f"{pointer}/schema", value), where)
    allowed = documented_values(param.get("description"))
    if allowed is not None and value not in allowed:
        found.append(
            Violation(where, "documented-values", f"{value!r} is not one of the documented {allowed}")
        )
    return found


def _security_violations(api: OpenApi, operation: Operation, headers: Mapping[str, str]) -> list[Violation]:
    """The Authorization header must carry a scheme one of the operation's security requirements names."""
    requirements = operation.node.get("security", api.doc.get("security")) or []
    if not requirements:
        return []
    schemes = (api.doc.get("components") or {}).get("securitySchemes") or {}
    expected = set()
    for requirement in requirements:
        for name in requirement:
            scheme = api.resolve(schemes.get(name) or {})
            if scheme.get("type") == "oauth2" or str(scheme.get("scheme", "")).lower() == "bearer":
                expected.add("bearer")
            elif str(scheme.get("scheme", "")).lower() == "basic":
                expected.add("basic")
    sent = headers.get("authorization", "").partition(" ")[0].lower()
    if expected and sent not in expected:
        return [
            Violation(
                "header Authorization",
                "security",
                f"{sent or 'no'} credentials sent; spec wants {sorted(expected)}",
            )
        ]
    return []


def check_request(
    api: OpenApi, request: requests.PreparedRequest, *, waive: Collection[tuple[str, str]] = ()
) -> tuple[Operation | None, list[Violation]]:
    """Return (operation, violations) of one captured request against the spec.

    Checks: method + path hit a declared operation; path parameters, query parameters (none undeclared,
    every required one present) and header parameters validate against their schemas; a JSON or
    form-encoded body validates against the request-body schema of its media type. ``waive`` drops
    violations by (where, keyword) — for documented defects of a spec, each named by the test.
    """
    method = str(request.method or "").lower()
    url = str(request.url or "")
    operation = api.find(method, url)
    if operation is None:
        return None, [
            Violation(urlsplit(url).path, "operation", f"no {method.upper()} operation in {api.name}")
        ]
    found: list[Violation] = []
    params = operation.parameters()
    for name, value in operation.path_params.items():
        declared = params.get(("path", name))
        if declared is None:
            continue  # a server variable (``/api/track/{version}``), already matched against its enum
        found += _value_violations(api, declared, value, f"path {name}")
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    sent_query = {name for name, _ in query}
    for name, value in query:
        declared = params.get(("query", name))
        if declared is None:
            found.append(
                Violation(f"query {name}", "undeclared", f"{name!r} is not a parameter of {operation.name}")
            )
        else:
            found += _value_violations(api, declared, value, f"query {name}")
    headers = {k.lower(): v for k, v in request.headers.items()}
    for (where, name), (param, pointer) in params.items():
        if where == "query" and param.get("required") and name not in sent_query:
            found.append(
                Violation(f"query {name}", "required", f"required query parameter {name!r} not sent")
            )
        if where == "header":
            if name in headers:
                found += api.violations(f"{pointer}/schema", headers[name], f"header {param['name']}")
            elif param.get("required"):
                found.append(Violation(f"header {param['name']}", "required", "required header not sent"))
    found += _security_violations(api, operation, headers)
    found += _body_violations(api, operation, request, headers)
    return operation, [v for v in found if (v.where, v.keyword) not in waive]


def _body_violations(
    api: OpenApi, operation: Operation, request: requests.PreparedRequest, headers: Mapping[str, str]
) -> list[Violation]:
    body = request.body
    if isinstance(body, str):
        body = body.encode()
    if not body:
        if operation.request_required():
            return [Violation("body", "required", f"{operation.name} requires a body; none sent")]
        return []
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    pointer = operation.request_schema(media_type)
    if pointer is None:
        return [
            Violation("body", "content-type", f"{operation.name} declares no {media_type or 'untyped'} body")
        ]
    if media_type == "application/x-www-form-urlencoded":
        instance: Any = dict(parse_qsl(body.decode(), keep_blank_values=True))
    else:
        instance = json.loads(body)
    return api.violations(pointer, instance, "body")


def example_instance(api: OpenApi, pointer: str, *, depth: int = 12) -> Any:
    """Build an instance from the ``example`` values of a schema's leaves (None when none has one).

    Objects take every property that yields something, arrays one item; ``allOf`` parts are merged. Used
    for specs that document replies field by field (UPS Tracking) rather than as whole example bodies.
    """
    schema, pointer = api.follow(pointer)
    if not isinstance(schema, Mapping) or depth == 0:
        return None
    if "example" in schema:
        example = _jsonable(copy.deepcopy(schema["example"]))
        # Some specs give one item as the example of an array (UPS Tracking's ``userRelation``).
        is_array = schema.get("type") == "array"
        return [example] if is_array and not isinstance(example, list) else example
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for i in range(len(schema["allOf"])):
            part = example_instance(api, f"{pointer}/allOf/{i}", depth=depth - 1)
            if isinstance(part, Mapping):
                merged.update(part)
        return merged or None
    if schema.get("type") == "array" or "items" in schema:
        item = example_instance(api, f"{pointer}/items", depth=depth - 1) if "items" in schema else None
        return None if item is None else [item]
    if "properties" in schema:
        out = {}
        for name in schema["properties"]:
            value = example_instance(api, f"{pointer}/properties/{_pointer_token(name)}", depth=depth - 1)
            if value is not None:
                out[name] = value
        return out or None
    return None


def _jsonable(value: Any) -> Any:
    """Turn the dates YAML reads from unquoted examples back into the strings JSON would carry."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def documented_values(description: str | None) -> list[str] | None:
    """Return the values a parameter's description lists as ``Valid values:`` bullets (None if none).

    UPS documents enumerations in prose (``Valid values:\n- v2409``, ``- Shop = ...``), not as ``enum``.
    """
    text = description or ""
    found = re.search(r"valid values:?\s*\n((?:\s*-\s*\S.*\n?)+)", text, re.IGNORECASE)
    if found is None:
        return None
    return [
        re.split(r"[\s=]", line.strip()[1:].strip(), maxsplit=1)[0]
        for line in found.group(1).splitlines()
        if line.strip()
    ]


# -- WSDL / XSD ---------------------------------------------------------------------------------------------

XSD_NS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class WsdlOperation:
    """What a WSDL binding declares for one operation."""

    name: str
    soap_action: str
    input_element: str  # Clark notation: {namespace}local
    output_element: str


class Wsdl:
    """A WSDL's embedded XML Schemas compiled into one lxml validator, and its operations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = etree.parse(str(path), _SAFE)
        self.schema = self._compile()
        self.operations = self._operations()

    @classmethod
    def load(cls, carrier: str, name: str) -> Wsdl:
        """Load ``../shared/carriers/<carrier>/<name>`` (cached), or skip when it is absent."""
        path = spec_path(carrier, name)
        if path not in _WSDL_CACHE:
            _WSDL_CACHE[path] = cls(path)
        return _WSDL_CACHE[path]

    def _compile(self) -> etree.XMLSchema:
        schemas = self.tree.getroot().findall(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")
        with tempfile.TemporaryDirectory(prefix="wsdl-xsd-") as tmp:
            workdir = Path(tmp)
            files = {s.get("targetNamespace"): workdir / f"schema{i}.xsd" for i, s in enumerate(schemas)}
            for schema in schemas:
                # Re-declare every prefix in scope at the WSDL root: type="tns:..." values need them, and lxml
                # only carries the prefixes used in element and attribute names.
                nsmap: Any = schema.nsmap
                standalone = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=nsmap)
                standalone.extend(copy.deepcopy(child) for child in schema)
                for imported in standalone.findall(f"{{{XSD_NS}}}import"):
                    target = files.get(imported.get("namespace"))
                    if target is not None:
                        imported.set("schemaLocation", target.name)
                files[schema.get("targetNamespace")].write_bytes(etree.tostring(standalone))
            root = etree.Element(f"{{{XSD_NS}}}schema", nsmap={"xsd": XSD_NS})
            for namespace, path in files.items():
                etree.SubElement(root, f"{{{XSD_NS}}}import", namespace=namespace, schemaLocation=path.name)
            main = workdir / "main.xsd"
            main.write_bytes(etree.tostring(root))
            return etree.XMLSchema(etree.parse(str(main)))

    def _qname(self, node: etree._Element, value: str) -> str:
        prefix, _, local = value.rpartition(":")
        return f"{{{node.nsmap.get(prefix or None, '')}}}{local}"

    def _operations(self) -> dict[str, WsdlOperation]:
        root = self.tree.getroot()
        elements: dict[str, str] = {}
        for message in root.iterfind(f"{{{WSDL_NS}}}message"):
            part = message.find(f"{{{WSDL_NS}}}part")
            if part is not None and part.get("element"):
                elements[_attr(message, "name")] = self._qname(part, _attr(part, "element"))
        io: dict[str, tuple[str, str]] = {}
        for operation in root.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation"):
            in_msg = _attr(operation, "message", f"{{{WSDL_NS}}}input").rpartition(":")[2]
            out_msg = _attr(operation, "message", f"{{{WSDL_NS}}}output").rpartition(":")[2]
            io[_attr(operation, "name")] = (elements[in_msg], elements[out_msg])
        out: dict[str, WsdlOperation] = {}
        for operation in root.iterfind(f"{{{WSDL_NS}}}binding/{{{WSDL_NS}}}operation"):
            name = _attr(operation, "name")
            action = _attr(operation, "soapAction", f"{{{SOAP_BINDING_NS}}}operation")
            out[name] = WsdlOperation(name, action, *io[name])
        return out

    def violations(self, element: etree._Element) -> list[Violation]:
        """Validate one element (a SOAP body's child) against the embedded schemas."""
        document = etree.ElementTree(copy.deepcopy(element))
        if self.schema.validate(document):
            return []
        return [
            Violation(f"{etree.QName(element).localname} line {e.line}", e.type_name, e.message)
            for e in list(self.schema.error_log)  # type: ignore[call-overload]
        ]

    def check_envelope(
        self, request: requests.PreparedRequest
    ) -> tuple[WsdlOperation | None, list[Violation]]:
        """Return (operation, violations) of one captured SOAP 1.1 request.

        The SOAPAction must name a bound operation, the body's single child must be that operation's input
        element, and it must validate against the WSDL's schemas.
        """
        action = str(request.headers.get("SOAPAction", "")).strip('"')
        operation = next((op for op in self.operations.values() if op.soap_action == action), None)
        if operation is None:
            return None, [
                Violation("SOAPAction", "operation", f"{action!r} is not bound in {self.path.name}")
            ]
        body = soap_body(request.body)
        if body.tag != operation.input_element:
            return operation, [
                Violation(
                    "Body", "element", f"{body.tag} sent; {operation.name} takes {operation.input_element}"
                )
            ]
        return operation, self.violations(body)


_WSDL_CACHE: dict[Path, Wsdl] = {}


def _attr(node: etree._Element, name: str, child: str | None = None) -> str:
    """Return an attribute of a node (or of its first ``child``), failing loudly when the WSDL lacks it."""
    target = node.find(child) if child else node
    value = target.get(name) if target is not None else None
    if value is None:
        raise ValueError(f"WSDL {node.get('name') or node.tag}: no {child or ''}@{name}")
    return str(value)


def soap_body(envelope: bytes | str | None) -> etree._Element:
    """Return the single child of a SOAP 1.1 envelope's Body."""
    raw = envelope.encode() if isinstance(envelope, str) else envelope or b""
    root = etree.fromstring(raw, _SAFE)
    body = root.find(f"{{{SOAP_ENV_NS}}}Body")
    if body is None or len(body) != 1:
        raise AssertionError("not a SOAP 1.1 envelope with one body element")
    return body[0]


def soap_envelope(body: etree._Element) -> bytes:
    """Wrap one element in a SOAP 1.1 envelope (to answer a captured request with a built reply)."""
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soapenv": SOAP_ENV_NS})
    etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body").append(copy.deepcopy(body))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def assert_conforms(violations: list[Violation], what: str) -> None:
    """Fail listing every violation (one per line)."""
    assert not violations, f"{what} breaks the published contract:\n" + "\n".join(map(str, violations))


__all__ = [
    "SHARED",
    "OpenApi",
    "Operation",
    "Violation",
    "Wsdl",
    "WsdlOperation",
    "accept_violations",
    "assert_conforms",
    "carrier_dir",
    "check_request",
    "documented_values",
    "example_instance",
    "merge_all_of",
    "request_builders",
    "sent_operation",
    "soap_body",
    "soap_envelope",
    "spec_for",
    "spec_path",
]
