"""Oracle: rnnkit.tree against Keras 3's keras.tree (torch backend) on the same structures, function by function."""
import collections

import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

from rnnkit import tree  # noqa: E402

pytestmark = pytest.mark.oracle

Point = collections.namedtuple("Point", ["x", "y"])
STRUCTURES = [
    1, None, "text", [], (), {}, [1], (None,), [[1, 2, 3], [4, [5], [[6]]]], {100: "world!", 6: "Hello"},
    {"b": [1, (2, 3)], "a": 2, "c": None}, collections.OrderedDict([("b", 1), ("a", [2, {"d": 3, "c": 4}])]),
    Point(1, [2, 3]), collections.deque([1, (2, 3)]), [Point({"k": 1}, None), ({"x": (1,)}, [])],
    collections.defaultdict(list, {"z": 1, "y": (2, 3)}),
]


@pytest.mark.parametrize("structure", STRUCTURES, ids=range(len(STRUCTURES)))
def test_functions_agree_with_keras(structure):
    ours, theirs = tree, keras.tree
    assert ours.is_nested(structure) == theirs.is_nested(structure)
    assert ours.flatten(structure) == theirs.flatten(structure)
    assert ours.flatten_with_path(structure) == theirs.flatten_with_path(structure)
    numbered = list(range(len(theirs.flatten(structure))))
    for got, expected in [(ours.pack_sequence_as(structure, numbered), theirs.pack_sequence_as(structure, numbered)),
                          (ours.map_structure(repr, structure), theirs.map_structure(repr, structure)),
                          (ours.map_structure(repr, structure, none_is_leaf=False),
                           theirs.map_structure(repr, structure, none_is_leaf=False)),
                          (ours.lists_to_tuples(structure), theirs.lists_to_tuples(structure))]:
        assert got == expected and type(got) is type(expected)
        if isinstance(got, dict):
            assert list(got) == list(expected)
    for top_down in (True, False):
        seen_ours, seen_theirs = [], []
        assert ours.traverse(seen_ours.append, structure, top_down) == theirs.traverse(seen_theirs.append, structure,
                                                                                       top_down)
        assert seen_ours == seen_theirs


def test_structure_checks_agree_with_keras():
    pairs = [([1, 2], (1, 2)), ({"a": 1}, collections.OrderedDict(a=2)), (Point(1, 2), (1, 2)), ([1, [2]], [1, 2]),
             ({"a": 1}, {"a": 1, "b": 2}), ([[1]], [[2]]), (collections.deque([1]), [1])]
    for a, b in pairs:
        for name in ("assert_same_structure", "assert_same_paths"):
            outcomes = []
            for module in (tree, keras.tree):
                try:
                    getattr(module, name)(a, b)
                    outcomes.append("same")
                except ValueError:
                    outcomes.append("different")
            assert outcomes[0] == outcomes[1], (name, a, b)
    assert tree.map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]]) == \
        keras.tree.map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]])
    shapes = [(1, 2), [None, 3], {"a": (4,)}]
    assert tree.map_shape_structure(repr, shapes) == keras.tree.map_shape_structure(repr, shapes)
