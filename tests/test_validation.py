"""Programs the kernels must not see are refused before packing (they do not bounds-check)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.engine.evaluate import evaluate_program
from isa.program import BlockRef, HostLayer, LayerProgram, Loop
from isa.validation import ProgramError, check_program
from tests.builders import instr, op, program


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        (instr(latency=-1), "latency is -1; need 0.."),
        (instr(occupancy=-1), "occupancy is -1; need 0.."),
        (instr(read_time=-1), "read_time is -1; need 0.."),
        (instr(instance=4), r"unit alu\[4\] does not exist"),
        (instr(reads=(op("r", 15, count=2),)), "leaves space 'r'"),
        (instr(reads=(op("q", 0),)), "address space 'q' does not exist"),
        (instr(writes=(op("r", 0, coefs=(0, 1)),)), "leaves space 'r'"),  # 0..39 over 40 trips
    ],
)
def test_bad_templates_are_refused(template, fragment):
    with pytest.raises(ProgramError, match=fragment):
        evaluate_program(program([template], trips=40))


def test_frontend_and_sizes_are_checked():
    with pytest.raises(ProgramError, match="window_bundles is 0"):
        evaluate_program(program([instr()], window=0))
    with pytest.raises(ProgramError, match="unit 'alu' has size 0"):
        evaluate_program(program([instr()], units={"alu": 0}))


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"queue": "nope"}, "queue 'nope' does not exist"),
        ({"issue_queue": "nope"}, "issue queue 'nope' does not exist"),
        ({"queue": "q", "issue_queue": "q"}, "cannot also be its issue queue"),
        ({"issue_queue": "q", "bundle_start": False}, "needs the bundle's first instruction"),
    ],
)
def test_bad_queues_are_refused(fields, fragment):
    prog = replace(program([instr(), replace(instr(), **fields)]), queues={"q": 2})
    with pytest.raises(ProgramError, match=fragment):
        evaluate_program(prog)


def test_a_queue_needs_at_least_one_entry():
    # An instruction of a queue waits for a free entry; a queue of 0 entries has none, so
    # its first instruction could never start. One entry is the smallest queue (the timing
    # of a one-entry queue is pinned in test_timing_rules.py).
    def with_queue(entries: int):
        return replace(program([replace(instr(), queue="q")]), queues={"q": entries})

    check_program(with_queue(1))
    with pytest.raises(ProgramError, match="queue 'q' has 0 entries; need 1.."):
        check_program(with_queue(0))


def _layer_of(*body) -> LayerProgram:
    return LayerProgram("layer", "test", 0, {}, Loop("layer", 1, body))


def test_a_loop_refers_to_an_existing_block():
    # program() has one block, id 0: BlockRef(0) is its last, BlockRef(1) one past the end,
    # which the kernels would index without a check.
    one_block = program([instr()])
    check_program(replace(one_block, layers=(_layer_of(BlockRef(0)),)))
    with pytest.raises(ProgramError, match="layer 'layer': block 1 does not exist"):
        check_program(replace(one_block, layers=(_layer_of(BlockRef(0), BlockRef(1)),)))


def test_a_host_layer_takes_a_free_position_and_a_name_no_other_layer_has():
    # One lowered layer, named "layer", and host layers placed among it: reports list every
    # layer by name, so a host layer named "layer" would be two rows of one name.
    def hosts(*placed: tuple[str, int]):
        layers = tuple(
            HostLayer(name, "pool", 8, position, "no vector unit") for name, position in placed
        )
        return replace(program([instr()]), host_layers=layers)

    check_program(hosts(("pool", 1)))
    check_program(hosts(("pool", 0), ("pool2", 2)))
    taken = "its position or name is taken by another layer"
    with pytest.raises(ProgramError, match=f"host layer 'layer': {taken}"):
        check_program(hosts(("layer", 1)))
    with pytest.raises(ProgramError, match=f"host layer 'pool': {taken}"):
        check_program(hosts(("pool2", 1), ("pool", 0), ("pool", 2)))
    with pytest.raises(ProgramError, match=f"host layer 'pool2': {taken}"):
        check_program(hosts(("pool", 1), ("pool2", 1)))
