"""The layers (DESIGN.md §5), read from the import statements of every module:

- `unyo.domain` imports only the standard library (and itself);
- the Rakuten adapter knows of the app only its ports (`unyo.app.ports`);
- `unyo.app` does not grow new imports of the adapters or SQLAlchemy: the modules that
  still import them are listed here, and the list may only shrink (issue 16 moves them
  behind ports);
- nothing imports the command line (`unyo.cli`) but `python -m unyo`, and its shared
  helpers (`unyo.cli._common`) import no command module.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
STDLIB = set(sys.stdlib_module_names)

APP_STILL_ON_ADAPTERS = {
    "unyo.app.context", "unyo.app.dashboard", "unyo.app.importing", "unyo.app.mailing",
    "unyo.app.manual", "unyo.app.moves", "unyo.app.outbox", "unyo.app.processing",
    "unyo.app.report", "unyo.app.runner", "unyo.app.shipping", "unyo.app.simulate",
    "unyo.app.users", "unyo.app.views", "unyo.app.warehouse", "unyo.app.worker",
}
"""App modules that import `unyo.adapters` or `sqlalchemy` today (issue 16 removes them)."""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _modules(package: str) -> dict[str, set[str]]:
    root = SRC / package.replace(".", "/")
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        out[name] = _imports(path)
    return out


def test_the_domain_imports_only_the_standard_library() -> None:
    bad = {m: sorted(i for i in imports
                     if i.split(".")[0] not in STDLIB and not i.startswith("unyo.domain"))
           for m, imports in _modules("unyo.domain").items()}
    assert not {m: i for m, i in bad.items() if i}


def test_the_rakuten_adapter_knows_only_the_apps_ports() -> None:
    bad = {m: sorted(i for i in imports if i.startswith("unyo.app") and i != "unyo.app.ports")
           for m, imports in _modules("unyo.adapters.rakuten").items()}
    assert not {m: i for m, i in bad.items() if i}


def test_no_new_app_module_leans_on_the_adapters() -> None:
    leaning = {m for m, imports in _modules("unyo.app").items()
               if any(i.startswith(("unyo.adapters", "sqlalchemy")) for i in imports)}
    assert leaning <= APP_STILL_ON_ADAPTERS, sorted(leaning - APP_STILL_ON_ADAPTERS)
    # ... and the list is kept exact, so that a module freed from them leaves it
    assert leaning == APP_STILL_ON_ADAPTERS, sorted(APP_STILL_ON_ADAPTERS - leaning)


def test_nothing_leans_on_the_command_line() -> None:
    leaning = {m for m, imports in _modules("unyo").items()
               if not m.startswith("unyo.cli") and any(
                   i == "unyo.cli" or i.startswith("unyo.cli.") for i in imports)}
    assert leaning == {"unyo.__main__"}
    commands = {m for m in _modules("unyo.cli") if m not in ("unyo.cli", "unyo.cli._common")}
    assert commands, "the command modules are found"
    assert not _imports(SRC / "unyo/cli/_common.py") & (commands | {"unyo.cli"})
