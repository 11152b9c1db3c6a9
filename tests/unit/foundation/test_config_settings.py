"""Every setting is declared once in gateway/kernel/config.py, typed, and docs/CONFIG.md lists them all.

Regenerate the table in docs/CONFIG.md after changing a declaration:
``.venv/bin/python tests/unit/foundation/test_config_settings.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from gateway.kernel import config

ROOT = Path(__file__).resolve().parents[3]
GATEWAY = ROOT / "gateway"
CONFIG_DOC = ROOT / "docs" / "CONFIG.md"
BEGIN, END = "<!-- settings:begin -->\n", "<!-- settings:end -->\n"

KEY = r'"([A-Z][A-Z0-9_]*)"'
# Reads of a setting; group 1 is its name, group 2 (when present) what follows it.
READS = [
    re.compile(rf"\b(?:settings|config)\s*\[\s*{KEY}\s*\]"),  # settings["X"], app.config["X"]
    re.compile(rf"\bconfig\.read\(\s*[\w.()]+\s*,\s*{KEY}\s*\)"),  # config.read(settings, "X")
    re.compile(rf"\bconfig\.from_environment\(\s*{KEY}"),
    re.compile(rf"\b\w*setting\(\s*[\w.]+\s*,\s*{KEY}\s*([,)])"),  # module helpers: setting(c, "X")
]
# Reads that carry (or may hide) a default of their own.
WITH_DEFAULT = [
    re.compile(rf"\b(?:settings|config)\.get\(\s*{KEY}"),  # .get("X", d) / .get("X") or d
    # os.environ.get("GATEWAY_X", d) in a module: read config.from_environment("X") instead
    re.compile(rf"\benviron(?:\.get\(|\[)\s*\"{config.PREFIX}([A-Z0-9_]+)\""),
    re.compile(rf"\bgetenv\(\s*\"{config.PREFIX}([A-Z0-9_]+)\""),
]


def _sources() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(ROOT)), path.read_text())
        for path in sorted(GATEWAY.rglob("*.py"))
        if path != GATEWAY / "kernel" / "config.py"
    ]


def test_every_setting_read_in_the_gateway_is_declared_in_config_and_has_no_default_elsewhere():
    reads: set[str] = set()
    problems: list[str] = []
    for name, text in _sources():
        for pattern in READS:
            for match in pattern.finditer(text):
                key = match.group(1)
                reads.add(key)
                line = text.count("\n", 0, match.start()) + 1
                if key not in config.BY_NAME:
                    problems.append(f"{name}:{line}: {key} is not declared in gateway/kernel/config.py")
                elif pattern.groups > 1 and match.group(2) == ",":
                    problems.append(f"{name}:{line}: {key} is read with a default outside config.py")
        for pattern in WITH_DEFAULT:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(
                    f"{name}:{line}: read {match.group(1)} as settings[...] or config.read/from_environment "
                    "(its default lives in config.py)"
                )
        for key in config.BY_NAME:  # a dict of defaults, e.g. {"LABEL_MAX_ATTEMPTS": 8}
            for match in re.finditer(rf'^\s*"{key}"\s*:\s*(?:[-\d"\[{{]|True\b|False\b)', text, re.MULTILINE):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{name}:{line}: a value for {key} outside config.py")
    assert not problems, "\n".join(problems)
    assert len(reads) > 40, f"the scan found only {sorted(reads)}: have the read patterns changed?"


def test_the_declarations_are_complete_and_their_defaults_have_their_type():
    assert len(config.BY_NAME) == len(config.SETTINGS), "a setting is declared twice"
    assert {s.name: s.default for s in config.SETTINGS} == config.DEFAULTS
    for setting in config.SETTINGS:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", setting.name)
        assert setting.doc.strip() and "\n" not in setting.doc, setting.name
        assert config.convert(setting.name, setting.default) == setting.default, setting.name
        assert config.read({}, setting.name) == setting.default
    assert config.load({}) == config.DEFAULTS


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("RATE_DEADLINE_MS", " 2500 ", 2500),
        ("RATE_DEADLINE_MS", 2500.0, 2500),
        ("LABEL_RETRY_BASE_SECONDS", "0.5", 0.5),
        ("LABEL_RETRY_BASE_SECONDS", 2, 2.0),
        ("LOG_JSON", "off", False),
        ("LOG_JSON", "Yes", True),
        ("WEBHOOK_ALLOW_LOCAL_HTTP", "1", True),
        ("LOG_LEVEL", "DEBUG", "DEBUG"),
        ("DATA_DIR", Path("/srv/handoff"), "/srv/handoff"),
        ("CARRIERS", '[{"adapter": "ups"}]', [{"adapter": "ups"}]),
        ("CARRIERS", "", []),
        ("CALLBACK_SECRETS", '{"fleet": "k"}', {"fleet": "k"}),
        ("CALLBACK_SECRETS", {"fleet": "k"}, {"fleet": "k"}),
        ("NOT_A_DECLARED_SETTING", "kept as given", "kept as given"),
    ],
)
def test_values_are_converted_to_the_declared_type(name, raw, expected):
    value = config.convert(name, raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("MAX_CONTENT_LENGTH", "lots", "GATEWAY_MAX_CONTENT_LENGTH must be an integer, got 'lots'"),
        ("MAX_CONTENT_LENGTH", "1.5", "must be an integer"),
        ("MAX_CONTENT_LENGTH", 1.5, "must be an integer"),
        ("MAX_CONTENT_LENGTH", True, "must be an integer"),
        ("MAX_CONTENT_LENGTH", "0", "GATEWAY_MAX_CONTENT_LENGTH must be at least 1, got '0'"),
        ("WEBHOOK_TIMEOUT_SECONDS", "soon", "GATEWAY_WEBHOOK_TIMEOUT_SECONDS must be a number"),
        ("WEBHOOK_TIMEOUT_SECONDS", "-1", "must be at least 0"),
        ("LOG_JSON", "maybe", "GATEWAY_LOG_JSON must be a boolean, got 'maybe'"),
        ("LOG_JSON", 2, "must be a boolean"),
        ("LOG_LEVEL", 10, "GATEWAY_LOG_LEVEL must be a string"),
        ("CARRIERS", "[{", "GATEWAY_CARRIERS must be valid JSON"),
        ("CARRIERS", '{"ups": {}}', "GATEWAY_CARRIERS must be a JSON array"),
        ("CALLBACK_SECRETS", '["k"]', "GATEWAY_CALLBACK_SECRETS must be a JSON object"),
    ],
)
def test_a_value_that_cannot_be_converted_is_a_clear_config_error(name, raw, message):
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.convert(name, raw)
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.load({f"GATEWAY_{name}": raw} if isinstance(raw, str) else {}, overrides={name: raw})


def test_environment_values_and_overrides_arrive_typed():
    settings = config.load(
        {
            "GATEWAY_RECON_CHUNK_LINES": "500",
            "GATEWAY_WEBHOOK_RETENTION_DAYS": "7.5",
            "REDIS_URL": "redis://r/1",
        },
        overrides={"WEBHOOK_ALLOW_LOCAL_HTTP": "true"},
    )
    assert settings["RECON_CHUNK_LINES"] == 500
    assert settings["WEBHOOK_RETENTION_DAYS"] == 7.5
    assert settings["WEBHOOK_ALLOW_LOCAL_HTTP"] is True
    assert settings["REDIS_URL"] == "redis://r/1"  # also read without the prefix
    assert config.load({})["CARRIERS"] is not config.load({})["CARRIERS"]  # no shared mutable default


def test_read_takes_a_partial_mapping_and_refuses_an_undeclared_name():
    assert config.read({"RECON_CHUNK_LINES": "7"}, "RECON_CHUNK_LINES") == 7
    assert config.read({}, "RECON_CHUNK_LINES") == 20000
    with pytest.raises(KeyError, match="not a declared setting"):
        config.read({}, "RECON_CHUNK")


def test_launchers_read_one_setting_from_the_environment():
    assert config.from_environment("PORT", {"GATEWAY_PORT": "9001"}) == 9001
    assert config.from_environment("PORT", {"GATEWAY_PORT": " "}) == 8000
    assert config.from_environment("PORT", {}) == 8000
    with pytest.raises(config.ConfigError, match="GATEWAY_PORT must be an integer"):
        config.from_environment("PORT", {"GATEWAY_PORT": "http"})


def _documented(text: str) -> str:
    assert BEGIN in text and END in text, f"docs/CONFIG.md lost its {BEGIN.strip()} / {END.strip()} markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0]


def test_docs_config_lists_every_setting_as_declared():
    assert _documented(CONFIG_DOC.read_text()) == config.markdown_table(), (
        "docs/CONFIG.md is out of date: run .venv/bin/python tests/unit/foundation/test_config_settings.py"
    )


def _regenerate() -> None:
    text = CONFIG_DOC.read_text()
    old = _documented(text)
    CONFIG_DOC.write_text(text.replace(BEGIN + old + END, BEGIN + config.markdown_table() + END))


if __name__ == "__main__":
    _regenerate()
    sys.exit(0)
