"""The one tree of block calls (cnndsl/ir/scopes.py): it nests nodes as the summary's
rows (by named frames, cut at a depth) and the emitted code's submodules (by named
frames, in order) do, over zoo networks of every shape of nesting."""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl.ir.graph import Graph, Node
from cnndsl.ir.scopes import Scope, cut, scope_tree

NAMES = ["resnet50", "googlenet", "densenet121", "inception_v3", "efficientnet_b0",
         "seresnet50", "fractalnet", "mobilenet_v3", "preact_resnet164"]


@pytest.fixture(scope="module", params=NAMES)
def graph(request) -> Graph:
    return cnndsl.compile(request.param).graph


def _rows_by_named_frames(graph: Graph, depth: int) -> list[object]:
    """A node's own name, or the names of its first depth + 1 named frames."""
    keys: dict[object, None] = {}
    for n in graph.nodes:
        named = [f.name for f in n.scope if f.named]
        keys.setdefault(tuple(named[: depth + 1]) if len(named) > depth else n.name)
    return list(keys)


def _key(it: Node | Scope) -> object:
    return it.name if isinstance(it, Node) else tuple(f.name for f in it.frames if f.named)


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_cut_gives_one_item_per_summary_row(graph, depth):
    assert [_key(it) for it in cut(scope_tree(graph), depth)] == \
        _rows_by_named_frames(graph, depth)


def _nested_by_named_frames(graph: Graph) -> list:
    """(named frame names, items) per call, consecutive nodes of one call together."""
    root: list = []
    stack: list[tuple[tuple[str, ...], list]] = [((), root)]
    for node in graph.nodes:
        frames = tuple(f.name for f in node.scope if f.named)
        while stack[-1][0] != frames[: len(stack[-1][0])]:
            stack.pop()
        while len(stack[-1][0]) < len(frames):
            group: list = []
            stack[-1][1].append((frames[: len(stack[-1][0]) + 1], group))
            stack.append((frames[: len(stack[-1][0]) + 1], group))
        stack[-1][1].append(node.name)
    return root


def _parts(scope: Scope) -> list:
    return [it.name if isinstance(it, Node) else (_key(it), _parts(it))
            for it in scope.parts()]


def test_parts_nest_as_the_emitted_submodules(graph):
    assert _parts(scope_tree(graph)) == _nested_by_named_frames(graph)


def test_every_node_is_in_its_scopes(graph):
    root = scope_tree(graph)
    assert root.nodes == list(graph.nodes)
    for s in root.walk():
        inner = [n for it in s.items for n in (it.nodes if isinstance(it, Scope) else [it])]
        assert inner == s.nodes
        assert all(n.scope[: len(s.frames)] == s.frames for n in s.nodes)
        if s.frame is not None:
            named = sum(f.named for f in s.frames)
            assert s.level == named - 1 and s.transparent == (not s.frame.named)
