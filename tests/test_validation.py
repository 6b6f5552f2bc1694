"""Programs the kernels must not see are refused before packing (they do not bounds-check)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.engine.evaluate import evaluate_program
from isa.program import MAX_DEPTH, Block, BlockRef, HostLayer, LayerProgram, Loop, Operand
from isa.validation import ProgramError, _action_names, _templates_certainly_valid, check_program
from tests.builders import instr, op, program
from tracer.lowering import lower_model

_BAD_TEMPLATES = [
    (instr(latency=-1), "latency is -1; need 0.."),
    (instr(occupancy=-1), "occupancy is -1; need 0.."),
    (instr(read_time=-1), "read_time is -1; need 0.."),
    (instr(instance=4), r"unit alu\[4\] does not exist"),
    (instr(reads=(op("r", 15, count=2),)), "leaves space 'r'"),
    (instr(reads=(op("q", 0),)), "address space 'q' does not exist"),
    (instr(unit="fpu"), "unit 'fpu' does not exist"),
]


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        *_BAD_TEMPLATES,
        (instr(writes=(op("r", 0, coefs=(0, 1)),)), "leaves space 'r'"),  # 0..39 over 40 trips
    ],
)
def test_bad_templates_are_refused(template, fragment):
    with pytest.raises(ProgramError, match=fragment):
        evaluate_program(program([template], trips=40))


@pytest.mark.parametrize(("template", "fragment"), _BAD_TEMPLATES)
def test_a_bad_template_is_named_by_its_place(template, fragment):
    bad = program([instr(), template])
    with pytest.raises(ProgramError, match=rf"^block 'body' \(0\) #1: .*{fragment}"):
        check_program(bad)
    # The column pass (isa/validation.py) does not vouch for it: the one-by-one walk runs.
    templates = list(bad.blocks[0].templates)
    assert not _templates_certainly_valid(templates, bad, _action_names(bad))


@pytest.mark.parametrize(
    ("accelerator", "params", "model"),
    [
        ("systolic", {"rows": "8", "cols": "4"}, "tc_resnet8"),
        ("systolic", {"rows": "4", "cols": "8", "dataflow": "os"}, "tc_resnet8"),
        ("gemmini", {}, "tc_resnet8"),
        ("ultratrail", {}, "tc_resnet8_ut"),
        ("plasticine", {}, "tc_resnet8"),
    ],
)
def test_the_column_pass_vouches_for_the_built_in_lowerings(accelerator, params, model):
    """check_program checks a program's templates column by column and walks them one at a
    time only when that pass cannot vouch for them; a lowering whose templates it refused
    would still be accepted, only slowly (at 512x512 the walk took 2 s of 5)."""
    lowered = lower_model(accelerator, params, model)
    templates = [t for block in lowered.blocks for t in block.templates]
    assert _templates_certainly_valid(templates, lowered, _action_names(lowered))


def test_frontend_and_sizes_are_checked():
    with pytest.raises(ProgramError, match="window_bundles is 0"):
        evaluate_program(program([instr()], window=0))
    with pytest.raises(ProgramError, match="unit 'alu' has size 0"):
        evaluate_program(program([instr()], units={"alu": 0}))
    # An empty mapping is refused as such, before any template names a unit or space in it.
    for sizes in ("units", "spaces"):
        kind = "unit" if sizes == "units" else "address space"
        with pytest.raises(ProgramError, match=f"{kind} sizes must be a non-empty mapping"):
            check_program(replace(program([instr()]), **{sizes: {}}))


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


# The limits docs/design.md §2.5 states, written out so that a changed limit fails here.
SIZE_LIMIT = 2**26  # unit instances, space locations, operand counts and coefficients
CYCLE_LIMIT = 2**20  # latency, occupancy, read time
FRONTEND_LIMIT = 2**20  # bundles per cycle, window, front-end delay, queue entries
INSTRUCTION_LIMIT = 2**56  # per layer; also a loop's trips and a host layer's operations


def _nested_loops(depth: int) -> LayerProgram:
    """`depth` loops, the root included, around block 0."""
    node: Loop | BlockRef = BlockRef(0)
    for level in reversed(range(depth)):
        node = Loop(f"l{level}", 1, (node,))
    return LayerProgram("layer", "test", 0, {}, node)


def _limit_cases():
    """(what, the program at a limit, the program one past it, the refusal). The limits
    keep times, counts and allocations inside int64 and memory, and the kernels trust
    them, so the edges themselves are pinned: the extreme value passes, one past fails."""
    base = program([instr()])

    def edges(what, make, low, high, fragment):
        yield f"{what} {low}", make(low), make(low - 1), fragment
        if high is not None:
            yield f"{what} {high}", make(high), make(high + 1), fragment

    def template(name):
        return lambda n: program([replace(instr(), **{name: n})])

    def operand(count=1, coef=0):
        block = Block("b", (instr(reads=(Operand("r", 0, count, (0, coef)),)),))
        return replace(base, blocks=(block,), spaces={"r": SIZE_LIMIT})

    def host(position=1, operations=8):
        return replace(base, host_layers=(HostLayer("pool", "pool", operations, position, ""),))

    def trips(n):
        return replace(base, layers=(_layer_of(Loop("many", n, (BlockRef(0),))),))

    def instructions(extra: int):
        # A loop of INSTRUCTION_LIMIT trips of one instruction, then `extra` more.
        body = (Loop("many", INSTRUCTION_LIMIT, (BlockRef(0),)),) + (BlockRef(0),) * extra
        return replace(base, layers=(_layer_of(*body),))

    def queue(n):
        return replace(program([replace(instr(), queue="q")]), queues={"q": n})

    yield from edges("queue entries", queue, 1, FRONTEND_LIMIT, "queue 'q' has")
    yield from edges(
        "unit size", lambda n: replace(base, units={"alu": n}), 1, SIZE_LIMIT, "unit 'alu' has"
    )
    yield from edges(
        "space size", lambda n: replace(base, spaces={"r": n}), 1, SIZE_LIMIT, "space 'r' has"
    )
    for name, low in (("bundles_per_cycle", 1), ("window_bundles", 1), ("frontend_delay", 0)):
        yield from edges(
            name,
            lambda n, name=name: replace(base, **{name: n}),
            low,
            FRONTEND_LIMIT,
            name.replace("_delay", " delay") + " is",
        )
    for name in ("latency", "occupancy", "read_time"):
        yield from edges(name, template(name), 0, CYCLE_LIMIT, f"{name} is")
    # The instance: program() has alu[0..3].
    yield from edges("instance", template("instance"), 0, 3, "unit alu")
    yield from edges("operand count", lambda n: operand(count=n), 1, SIZE_LIMIT, "is malformed")
    # The loop at depth 1 has one trip: a coefficient there never moves the address.
    yield from edges(
        "coefficient", lambda c: operand(coef=c), -SIZE_LIMIT, SIZE_LIMIT, "has a bad coefficient"
    )
    yield (
        "coefficients",
        *(
            replace(base, blocks=(Block("b", (instr(reads=(op("r", 0, coefs=(0,) * n),)),)),))
            for n in (MAX_DEPTH, MAX_DEPTH + 1)
        ),
        "is malformed",
    )
    yield (
        "loop depth",
        *(replace(base, layers=(_nested_loops(n),)) for n in (MAX_DEPTH, MAX_DEPTH + 1)),
        f"loops nest deeper than {MAX_DEPTH}",
    )
    yield from edges("trips", trips, 0, INSTRUCTION_LIMIT, "loop 'many' has")
    yield "instructions", instructions(0), instructions(1), "more than"
    # One lowered layer and one host layer: positions 0 and 1.
    yield from edges("host position", lambda n: host(position=n), 0, 1, "position is")
    yield from edges(
        "host operations", lambda n: host(operations=n), 0, INSTRUCTION_LIMIT, "operations is"
    )


LIMITS = {what: case for what, *case in _limit_cases()}


@pytest.mark.parametrize("what", LIMITS)
def test_every_limit_accepts_its_edge_and_refuses_one_past(what):
    at_limit, past_limit, fragment = LIMITS[what]
    check_program(at_limit)
    with pytest.raises(ProgramError, match=fragment):
        check_program(past_limit)


class _Cycles(int):
    """An int subclass: valid, but the column pass leaves it to the template-by-template
    walk (isa/validation.py, _templates_certainly_valid)."""


@pytest.mark.parametrize("what", ["coefficients", "loop depth"])
def test_a_limit_holds_on_the_template_by_template_walk_too(what):
    # The column pass vouches for most programs, so the walk's own checks of a limit run
    # only when some template sends check_program there: here an int subclass latency.
    at_limit, past_limit, fragment = LIMITS[what]

    def walked(program):
        def subclassed(block):
            templates = tuple(replace(t, latency=_Cycles(t.latency)) for t in block.templates)
            return replace(block, templates=templates)

        return replace(program, blocks=tuple(map(subclassed, program.blocks)))

    check_program(walked(at_limit))
    with pytest.raises(ProgramError, match=fragment):
        check_program(walked(past_limit))


@pytest.mark.parametrize(
    ("good", "bad", "fragment"),
    [
        (
            instr(reads=(op("r", 0, coefs=(0, 1)),)),
            instr(reads=(op("r", 0, coefs=(0, True)),)),
            "has a bad coefficient",
        ),
        (
            replace(instr(), instance_coefs=(0, 1)),
            replace(instr(), instance_coefs=(0, True)),
            "has a bad one",
        ),
    ],
)
def test_a_bool_coefficient_is_refused_beside_an_equal_int_one(good, bad, fragment):
    # (0, 1) and (0, True) compare equal, so a check of distinct values alone would see
    # only one of them; the column pass checks the items' types first.
    with pytest.raises(ProgramError, match=rf"#1: .*{fragment}"):
        check_program(program([good, bad], trips=2))
