"""rnnkit.tree against the examples of Keras 3's keras.tree documentation (its docstrings' values); the oracle
against keras.tree itself on many structures is test_tree_keras.py."""
import collections

import numpy as np
import pytest

from rnnkit import tree

Foo = collections.namedtuple("Foo", ["a", "b"])


def test_documented_examples():
    assert tree.flatten([[1, 2, 3], [4, [5], [[6]]]]) == [1, 2, 3, 4, 5, 6]
    assert tree.flatten(None) == [None] and tree.flatten(1) == [1]
    assert tree.flatten({100: "world!", 6: "Hello"}) == ["Hello", "world!"]
    assert tree.flatten_with_path([{"foo": 42}]) == [((0, "foo"), 42)]
    assert tree.map_structure(lambda v: v ** 2, [[1], [2], [3]]) == [[1], [4], [9]]
    assert tree.map_structure(lambda x, y: x * y, [[1], [2], [3]], [[1], [2], [3]]) == [[1], [4], [9]]
    assert tree.map_structure(lambda v: v * 2, Foo(a=1, b=2)) == Foo(a=2, b=4)
    assert tree.map_structure_up_to([None, None], len, [[1, 1], [2, 2]]) == [2, 2]
    assert tree.map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]]) == ["[1, 1]", ["2", "2"]]
    assert not tree.is_nested(42) and tree.is_nested({"foo": 42})
    visited = []
    assert tree.traverse(visited.append, [(1, 2), [3], {"a": 4}]) == [(1, 2), [3], {"a": 4}]
    assert visited == [[(1, 2), [3], {"a": 4}], (1, 2), 1, 2, [3], 3, {"a": 4}, 4]
    visited = []
    tree.traverse(visited.append, [(1, 2), [3], {"a": 4}], top_down=False)
    assert visited == [1, 2, (1, 2), 3, [3], 4, {"a": 4}, [(1, 2), [3], {"a": 4}]]


def test_structures_and_their_errors():
    tree.assert_same_structure([(0, 1)], [(2, 3)])
    tree.assert_same_structure({"a": 1}, collections.OrderedDict(a=2))
    AlsoFoo = collections.namedtuple("Foo", ["a", "b"])
    for a, b in [(Foo(0, 1), AlsoFoo(2, 3)), ([1, 2], (1, 2)), ([1, [2]], [1, 2]), ({"a": 1}, {"b": 1})]:
        with pytest.raises(ValueError, match="same nested structure"):
            tree.assert_same_structure(a, b)
    tree.assert_same_paths([0, 1], (2, 3))
    with pytest.raises(ValueError, match="paths"):
        tree.assert_same_paths([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="leaves"):
        tree.pack_sequence_as([1, [2]], [1, 2, 3])
    with pytest.raises(TypeError, match="callable"):
        tree.map_structure(None, [1])


def test_dict_orders_and_containers_round_trip():
    nested = {"b": [1, (2, np.float32(3))], "a": collections.deque([4, None], maxlen=5),
              "c": collections.OrderedDict([("z", 5), ("y", Foo(6, 7))])}
    flat = tree.flatten(nested)
    assert flat == [4, None, 1, 2, 3, 5, 6, 7]
    packed = tree.pack_sequence_as(nested, flat)
    assert list(packed) == ["a", "b", "c"] and list(packed["c"]) == ["z", "y"]
    assert packed["a"].maxlen == 5 and isinstance(packed["c"]["y"], Foo)
    assert list(tree.map_structure(lambda v: v, nested)) == ["b", "a", "c"]  # map keeps the dict's own order
    assert tree.map_structure(lambda v: 0, {"a": [None, 2]}, none_is_leaf=False) == {"a": [None, 0]}
    assert tree.lists_to_tuples([1, [2, {"a": [3]}]]) == (1, (2, {"a": (3,)}))
    assert tree.map_shape_structure(lambda s: tuple(s)[::-1], [(1, 2), [None, 3]]) == [(2, 1), (3, None)]
    defaults = tree.pack_sequence_as(collections.defaultdict(list, {"b": 1, "a": 2}), [5, 6])
    assert defaults == {"a": 5, "b": 6} and defaults.default_factory is list
    assert tree.traverse(lambda s: tree.MAP_TO_NONE if s == (1, 2) else None, [(1, 2), 3]) == [None, 3]
