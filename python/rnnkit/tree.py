"""Keras 3's `keras.tree`: functions over nested structures of lists, tuples, namedtuples, dicts (OrderedDict,
defaultdict) and deques, whose other values (None included) are leaves.

As Keras: a dict's values go in the order of its sorted keys (an OrderedDict's in its own order); list, tuple,
namedtuple and deque are different structures; map_structure keeps each dict's key order, the other functions
that build structures build dicts in sorted key order.
"""
import collections

__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten", "flatten_with_path", "is_nested",
           "lists_to_tuples", "map_shape_structure", "map_structure", "map_structure_up_to", "pack_sequence_as",
           "traverse"]


class MAP_TO_NONE:
    """What a traverse() function returns to replace a sub-structure with None."""


def _is_namedtuple(value):
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def is_nested(structure):
    return isinstance(structure, (list, tuple, dict, collections.deque))


def _keys(node):
    """The node's children's keys in flattening order."""
    if isinstance(node, dict):
        return list(node) if isinstance(node, collections.OrderedDict) else sorted(node)
    return list(range(len(node)))


def _children(node):
    return [node[k] for k in _keys(node)] if isinstance(node, dict) else list(node)


def _rebuild(node, children, sorted_dicts=False):
    """A node like `node` holding `children` (in _keys order)."""
    if isinstance(node, dict):
        pairs = dict(zip(_keys(node), children))
        order = _keys(node) if sorted_dicts else list(node)
        items = [(k, pairs[k]) for k in order]
        if isinstance(node, collections.defaultdict):
            return type(node)(node.default_factory, items)
        return type(node)(items)
    if _is_namedtuple(node):
        return type(node)(*children)
    if isinstance(node, collections.deque):
        return collections.deque(children, maxlen=node.maxlen)
    return type(node)(children)


def _node_kind(node):
    """What two nodes must share to be the same structure: dicts of any kind compare by their keys."""
    if isinstance(node, dict):
        return ("dict", tuple(sorted(node)))
    return (type(node), len(node))


def flatten(structure):
    if not is_nested(structure):
        return [structure]
    return [leaf for child in _children(structure) for leaf in flatten(child)]


def flatten_with_path(structure):
    if not is_nested(structure):
        return [((), structure)]
    return [((key,) + path, leaf) for key, child in zip(_keys(structure), _children(structure))
            for path, leaf in flatten_with_path(child)]


def assert_same_structure(a, b, check_types=None):
    """ValueError unless a and b nest the same node types (any dicts with the same keys count as the same)."""
    del check_types  # deprecated in Keras 3, without effect
    if is_nested(a) != is_nested(b):
        raise ValueError(f"The two structures don't have the same nested structure: {a!r} and {b!r}")
    if not is_nested(a):
        return
    if _node_kind(a) != _node_kind(b):
        raise ValueError(f"The two structures don't have the same nested structure: node {type(a).__name__} of "
                         f"{len(a)} against {type(b).__name__} of {len(b)} ({a!r} and {b!r})")
    for x, y in zip(_children(a), _children(b)):
        assert_same_structure(x, y)


def assert_same_paths(a, b):
    """ValueError unless a and b have the same leaf paths, whatever their node types."""
    paths_a, paths_b = ({path for path, _ in flatten_with_path(s)} for s in (a, b))
    if paths_a != paths_b:
        raise ValueError(f"The two structures don't have the same paths: only in the first "
                         f"{sorted(paths_a - paths_b, key=repr)}, only in the second "
                         f"{sorted(paths_b - paths_a, key=repr)}")


def map_structure(func, *structures, none_is_leaf=True):
    if not callable(func):
        raise TypeError(f"map_structure expects a callable, received {func!r}")
    if not structures:
        raise TypeError("map_structure expects at least one structure")
    for other in structures[1:]:
        assert_same_structure(structures[0], other)
    return _map(func, structures, none_is_leaf)


def _map(func, structures, none_is_leaf):
    first = structures[0]
    if not is_nested(first):
        if first is None and not none_is_leaf:
            return None
        return func(*structures)
    children = [_map(func, group, none_is_leaf) for group in zip(*(_children(s) for s in structures))]
    return _rebuild(first, children)


def map_structure_up_to(shallow_structure, func, *structures):
    """func over the sub-structures of `structures` found at the leaves of `shallow_structure`."""
    if not structures:
        raise TypeError("map_structure_up_to expects at least one structure")

    def up_to(shallow, group):
        if not is_nested(shallow):
            return func(*group)
        for s in group:
            if not is_nested(s) or _node_kind(s) != _node_kind(shallow):
                raise ValueError(f"The structure {s!r} does not match the shallow structure {shallow!r}")
        children = [up_to(child, tuple(_children(s)[i] for s in group))
                    for i, child in enumerate(_children(shallow))]
        return _rebuild(shallow, children)

    return up_to(shallow_structure, structures)


def pack_sequence_as(structure, flat_sequence):
    flat = list(flat_sequence)
    if not is_nested(structure):
        if len(flat) != 1:
            raise ValueError(f"pack_sequence_as: a leaf structure takes one value, received {len(flat)}")
        return flat[0]
    count = len(flatten(structure))
    if count != len(flat):
        raise ValueError(f"pack_sequence_as: the structure {structure!r} has {count} leaves, received "
                         f"{len(flat)} values")
    values = iter(flat)

    def pack(node):
        if not is_nested(node):
            return next(values)
        return _rebuild(node, [pack(child) for child in _children(node)], sorted_dicts=True)

    return pack(structure)


def lists_to_tuples(structure):
    if not is_nested(structure):
        return structure
    children = [lists_to_tuples(child) for child in _children(structure)]
    return tuple(children) if isinstance(structure, list) else _rebuild(structure, children, sorted_dicts=True)


def _is_shape(value):
    return isinstance(value, (list, tuple)) and not _is_namedtuple(value) and all(
        d is None or isinstance(d, int) for d in value)


def map_shape_structure(func, structure):
    """map_structure with shapes (lists or tuples of ints and None) as leaves."""
    if _is_shape(structure) or not is_nested(structure):
        return func(structure)
    return _rebuild(structure, [map_shape_structure(func, child) for child in _children(structure)])


def traverse(func, structure, top_down=True):
    """func over every sub-structure, depth first (see Keras' keras.tree.traverse): top down, a non-None result
    replaces the sub-structure and stops the descent; bottom up, a non-None result replaces it. MAP_TO_NONE maps
    to None."""
    if not callable(func):
        raise TypeError(f"traverse expects a callable, received {func!r}")

    def resolved(value):
        return None if value is MAP_TO_NONE else value

    def descend(node):
        if not is_nested(node):
            return node
        return _rebuild(node, [visit(child) for child in _children(node)], sorted_dicts=True)

    def visit(node):
        if top_down:
            result = func(node)
            return descend(node) if result is None else resolved(result)
        rebuilt = descend(node)
        result = func(rebuilt)
        return rebuilt if result is None else resolved(result)

    return visit(structure)
