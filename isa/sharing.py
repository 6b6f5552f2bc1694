"""Equal loop subtrees as one object.

A lowering that builds tiles from the same pieces repeats equal subtrees many times
(Gemmini's ResNet-50: about 23,000 nodes, 2,000 distinct). Whoever walks a program per
subtree object (analyzer/engine/packing.py, SubtreeOps) then does each distinct subtree
once, if equal subtrees are one object. SubtreeSharing makes them so; the tree it returns
equals the one it was given (dataclass equality: names, trips, blocks, order).
"""

from __future__ import annotations

from operator import is_
from typing import overload

from isa.program import BlockRef, Loop


class SubtreeSharing:
    """Returns, for every subtree, one object per distinct value, across every tree it is
    given (a lowering keeps one for a program, so layers share too)."""

    def __init__(self) -> None:
        # Children are keyed by identity: each is already the one shared object of its
        # value, held by the loop that is the value here, so its id() stays its own.
        self._loops: dict[tuple[object, ...], Loop] = {}
        self._refs: dict[int, BlockRef] = {}
        # Nodes seen, by identity, and the shared object of each: a subtree the lowering
        # already shares is walked once. `_held` keeps the nodes seen alive, so their ids
        # stay theirs (a list, not a pair per node: fewer objects for the collector).
        self._seen: dict[int, Loop | BlockRef] = {}
        self._held: list[Loop | BlockRef] = []

    @overload
    def share(self, node: Loop) -> Loop: ...
    @overload
    def share(self, node: BlockRef) -> BlockRef: ...
    def share(self, node: Loop | BlockRef) -> Loop | BlockRef:
        """The one object of `node`'s value."""
        shared = self._seen.get(id(node))
        if shared is not None:
            return shared
        if isinstance(node, BlockRef):
            shared = self._refs.setdefault(node.block, node)
        else:
            body = tuple([self.share(child) for child in node.body])
            key = (node.name, node.trips, *map(id, body))
            shared = self._loops.get(key)
            if shared is None:
                same = all(map(is_, body, node.body))
                shared = self._loops[key] = node if same else Loop(node.name, node.trips, body)
        self._seen[id(node)] = shared
        self._held.append(node)
        return shared

    def loop(self, name: str, trips: int, body: tuple[Loop | BlockRef, ...]) -> Loop:
        """The one Loop of this value, built only if new: for a reader that builds a tree
        bottom-up from its children's shared objects (as `loop` and `block` return them),
        which then never builds a copy of a subtree seen before."""
        key = (name, trips, *map(id, body))
        shared = self._loops.get(key)
        if shared is None:
            shared = self._loops[key] = Loop(name, trips, body)
        return shared

    def block(self, block: int) -> BlockRef:
        """The one BlockRef of `block`."""
        shared = self._refs.get(block)
        if shared is None:
            shared = self._refs[block] = BlockRef(block)
        return shared
