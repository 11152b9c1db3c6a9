"""The house's layout rules that import-linter does not check: module size and where modules live."""

from __future__ import annotations

from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[3] / "gateway"
LIMIT = 600  # lines; aim for about 400 (docs/ARCHITECTURE.md)
# Modules allowed at the top of gateway/: the composition root, entry points and launchers.
TOP_LEVEL = {"__init__.py", "__main__.py", "app.py", "cli.py", "serve.py", "wiring.py", "gunicorn_conf.py"}


def test_no_module_in_the_gateway_is_over_the_size_limit():
    sizes = {
        str(path.relative_to(GATEWAY)): sum(1 for _ in path.open(encoding="utf-8"))
        for path in GATEWAY.rglob("*.py")
    }
    assert sizes, "no gateway modules found"
    too_long = {name: lines for name, lines in sizes.items() if lines > LIMIT}
    assert not too_long, f"modules over {LIMIT} lines: {too_long}"


def test_every_gateway_module_lives_in_its_capability_or_the_kernel():
    stray = sorted(p.name for p in GATEWAY.glob("*.py") if p.name not in TOP_LEVEL)
    assert not stray, f"put these in a capability package or the kernel: {stray}"
