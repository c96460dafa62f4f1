"""Agents own their state: nothing outside Collective and Platform assigns their attributes,
and each of the users' arrays is written only where abm/agents.py's docstring says.

Both checks read the source (an AST walk over abm/), so they hold on every code path,
not only on those a scenario happens to run.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import abm.agents

ABM = Path(abm.agents.__file__).resolve().parent
AGENTS = ("Collective", "Platform")
# Methods that change a list, dict, set or array in place (``c.round.append(e)``).
MUTATORS = {"append", "extend", "insert", "pop", "clear", "update", "add", "remove", "fill"}


@functools.cache
def _parsed() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ABM.parent)): ast.parse(path.read_text(), str(path))
        for path in sorted(ABM.rglob("*.py"))
    }


def _modules() -> dict[str, ast.Module]:
    """abm/'s modules by path, parsed once (a test that plants code adds a module)."""
    return dict(_parsed())


def _scopes(tree: ast.AST, prefix: str = ""):
    """(qualified name of the enclosing function or class, node) for every node."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from _scopes(node, name + ".")
        else:
            yield prefix.rstrip("."), node
            yield from _scopes(node, prefix)


def _written(node: ast.AST) -> list[ast.expr]:
    """The expressions an assignment, augmented assignment or in-place call writes."""
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in MUTATORS
    ):
        targets = [node.func.value]
    else:
        return []
    out = []
    while targets:
        t = targets.pop()
        if isinstance(t, ast.Tuple | ast.List):
            targets.extend(t.elts)
            continue
        while isinstance(t, ast.Subscript):  # x.attr[i] = ... writes x.attr
            t = t.value
        out.append(t)
    return out


def _agent_attributes(modules: dict[str, ast.Module]) -> set[str]:
    """Every attribute Collective and Platform assign on ``self``."""
    names = set()
    for node in ast.walk(modules["abm/agents.py"]):
        if isinstance(node, ast.ClassDef) and node.name in AGENTS:
            for sub in ast.walk(node):
                for t in _written(sub):
                    if isinstance(t, ast.Attribute) and _is_self(t.value):
                        names.add(t.attr)
    return names


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _is_users(node: ast.expr) -> bool:
    """``u``, ``users`` or ``<anything>.users``: the users' arrays (``UserState``)."""
    if isinstance(node, ast.Name):
        return node.id in ("u", "users")
    return isinstance(node, ast.Attribute) and node.attr == "users"


def _is_index(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ("index", "columns")


def agent_writes_outside(modules: dict[str, ast.Module]) -> list[str]:
    """Writes of a Collective's or Platform's attribute by anything but its own methods."""
    owned = _agent_attributes(modules) - {"model"}  # Mesa's own, set by mesa.Agent
    bad = []
    for path, tree in modules.items():
        for scope, node in _scopes(tree):
            for t in _written(node):
                if not isinstance(t, ast.Attribute) or t.attr not in owned:
                    continue
                # An object's own attribute (``self.x``) is its business; an agent's
                # method may write its own. The users' arrays (checked below), a User
                # view being built (``user``) and a pandas index share a few names with
                # the agents' attributes.
                if _is_self(t.value) or _is_users(t.value) or _is_index(t.value):
                    continue
                if isinstance(t.value, ast.Name) and t.value.id == "user":
                    continue
                bad.append(f"{path}:{node.lineno} {scope}: {ast.unparse(t)}")
    return bad


def test_no_attribute_of_a_collective_or_platform_is_assigned_outside_its_class():
    assert agent_writes_outside(_modules()) == []


def test_the_check_fails_on_an_assignment_from_outside():
    modules = _modules()
    modules["abm/planted.py"] = ast.parse(
        "def meddle(c, p):\n    c.cost += 1\n    p.discount = 0.0\n    c.round.append(1)\n"
    )
    found = [f.split(" ", 1)[1] for f in agent_writes_outside(modules)]
    # An in-place change counts as much as an assignment.
    assert found == ["meddle: c.cost", "meddle: p.discount", "meddle: c.round"]


# ---------------------------------------------------------------- the users' arrays
def documented_writers() -> dict[str, set[str]]:
    """abm/agents.py's docstring list: array -> the functions that may write it."""
    text = re.sub(r"\n  ", " ", abm.agents.__doc__)  # list items wrap with two spaces
    writers: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line.startswith("* ``"):
            continue
        head, _, tail = line.partition(":")
        funcs = set(re.findall(r"``(\w+\.\w+)``", tail))
        for array in re.findall(r"``(\w+)``", head):
            writers[array] = set(funcs)
    # ``action`` only for choose_platforms (said in words beside it).
    writers["actor"].discard("LeverageModel.choose_platforms")
    return writers


def user_array_writes(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    """array -> every function in abm/ that writes it (``u.x``, ``users.x``, ``.users.x``)."""
    fields = set(abm.agents.UserState.__dataclass_fields__)
    found: dict[str, set[str]] = {}
    for path, tree in modules.items():
        module = Path(path).stem
        for scope, node in _scopes(tree):
            for t in _written(node):
                if not isinstance(t, ast.Attribute) or t.attr not in fields:
                    continue
                if _is_users(t.value):
                    where = scope if "." in scope else f"{module}.{scope}"
                    found.setdefault(t.attr, set()).add(where)
    return found


def test_each_users_array_is_written_only_by_its_documented_owners():
    documented = documented_writers()
    assert set(documented) == set(abm.agents.UserState.__dataclass_fields__)
    assert user_array_writes(_modules()) == documented


def test_the_users_check_fails_on_a_write_from_another_phase():
    modules = _modules()
    modules["abm/planted.py"] = ast.parse("def meddle(model):\n    model.users.platform[0] = 1\n")
    assert user_array_writes(modules)["platform"] - documented_writers()["platform"] == {
        "planted.meddle"
    }
