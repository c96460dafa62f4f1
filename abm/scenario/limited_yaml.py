"""YAML with limits: what a scenario, sweep or ``--set`` value may ask of the parser.

A scenario file is untrusted input (docs/security.md): it is parsed with a safe loader
(no Python objects) under limits on size, nesting and the number of values once aliases
are expanded (counted without expanding them, so an alias bomb is refused in
milliseconds), and a repeated key is an error. Booleans are YAML 1.2's: only ``true``
and ``false`` (any case) are booleans; ``yes``, ``no``, ``on`` and ``off`` stay words, so
a number field never silently receives one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from abm.messages import printable
from abm.scenario.schema import ScenarioError

MAX_YAML_BYTES = 1 << 20  # a scenario is a page of YAML; 1 MiB is generous
MAX_YAML_DEPTH = 40  # nesting of mappings and lists (the schema needs 4)
MAX_YAML_NODES = 100_000  # nodes after expanding aliases (stops "billion laughs")
_BOOL = "tag:yaml.org,2002:bool"


class YAMLLimitError(Exception):
    """A YAML text asks for more than the limits allow (``line`` is 1-based, or None)."""

    def __init__(self, line: int | None, expected: str):
        super().__init__(expected)
        self.line, self.expected = line, expected


class LimitedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with limits: nesting depth, expanded size, no repeated keys."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            mark = self.peek_event().start_mark
            raise YAMLLimitError(mark.line + 1, f"nesting at most {MAX_YAML_DEPTH} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:  # noqa: D102
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: SafeLoader reports it
            if repeated:
                raise YAMLLimitError(
                    key_node.start_mark.line + 1,
                    f"each key once ('{printable(key, 40)}' is repeated)",
                )
        return super().construct_mapping(node, deep)


def _expanded_size(node: Any, memo: dict[int, int], cap: int) -> int:
    """Nodes in the document once every alias is expanded (computed without expanding)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once; PyYAML refuses real recursion later
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo, cap)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, memo, cap) + _expanded_size(v, memo, cap)
    memo[key] = min(total, cap + 1)
    return memo[key]


def load_limited(text: str, max_nodes: int = MAX_YAML_NODES) -> Any:
    """Parse YAML text with :class:`LimitedLoader` (no message formatting).

    Raises:
        YAMLLimitError: Too deep, too many values once aliases are expanded, a repeated key.
        yaml.YAMLError: Not YAML.
    """
    loader = LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, max_nodes) > max_nodes:
            raise YAMLLimitError(None, f"at most {max_nodes:,} values once aliases are expanded")
        return loader.construct_document(node)
    except RecursionError:
        raise YAMLLimitError(None, f"nesting at most {MAX_YAML_DEPTH} levels deep") from None
    finally:
        loader.dispose()


def parse_yaml(
    text: str,
    file: str | Path,
    max_bytes: int = MAX_YAML_BYTES,
    max_nodes: int = MAX_YAML_NODES,
) -> Any:
    """Parse YAML text with :class:`LimitedLoader`; every problem is one line."""
    if len(text) > max_bytes:
        raise ScenarioError(file, "", f"a YAML file of at most {max_bytes:,} bytes")
    try:
        return load_limited(text, max_nodes)
    except YAMLLimitError as err:
        where = f"line {err.line}" if err.line else ""
        raise ScenarioError(file, where, err.expected) from None
    except yaml.reader.ReaderError as err:
        raise ScenarioError(
            file, f"character {err.position}", f"YAML text ({printable(err.reason, 80)})"
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(parse)"
        problem = _without_quotes(getattr(err, "problem", None) or "invalid YAML")
        raise ScenarioError(file, where, f"valid YAML ({printable(problem, 80)})") from None


_ONE_CHARACTER = re.compile(r".|<.*>|\\(?:[a-z]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def _without_quotes(problem: str) -> str:
    """PyYAML's problem, without the text it quotes from the file (an alias, a tag).

    A quoted single character (a tab that cannot start a token) and token kinds
    (``<scalar>``) say what is wrong without the file's content, so they stay.
    """
    return re.sub(
        r"'([^']*)'",
        lambda m: m[0] if _ONE_CHARACTER.fullmatch(m[1]) else "'...'",
        problem,
    )


LimitedLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
