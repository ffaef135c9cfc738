"""The package rules of docs/architecture.md, checked on the source so they cannot drift."""

from __future__ import annotations

import ast
import re

import pytest

from tests.helpers import ROOT


def imports_of(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import under ``package``, type-checking ones included."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found += [(str(path.relative_to(ROOT)), node.module)]
    return found


def offenders(package: str, forbidden: str, allowed_in: tuple[str, ...] = (), allowed: str = "^$") -> list[str]:
    return [f"{file} imports {module}" for file, module in imports_of(package)
            if re.match(forbidden, module) and not re.match(allowed, module)
            and not file.startswith(allowed_in)]


@pytest.mark.parametrize("forbidden", [r"flask\b", r"apiflask\b", r"service\b", r"workers\b", r"torch\b"])
def test_the_domain_knows_nothing_of_http_or_workers(forbidden):
    assert not offenders("civility", forbidden)


def test_sql_lives_only_in_the_store():
    # The domain may name a Session in a signature and catch a constraint error; it builds no query.
    assert not offenders("civility", r"sqlalchemy\b", ("civility/store/",), r"sqlalchemy\.(orm|exc)$")
    assert not offenders("service", r"sqlalchemy\b", allowed=r"sqlalchemy\.exc$")
    assert not offenders("workers", r"sqlalchemy\b")


def test_redis_and_rq_live_only_in_the_infrastructure_package():
    assert not offenders("civility", r"(redis|rq)\b", ("civility/infra/",))


def test_status_and_version_change_only_inside_the_life_cycle():
    # The review's own check, `grep -rn "status = \|version += 1" civility/`, and attribute
    # assignments however they are spaced.
    pattern = re.compile(r"status = |version \+= 1|\.status\s*=[^=]")
    found = []
    for path in sorted((ROOT / "civility").rglob("*.py")):
        if path.name == "lifecycle.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
