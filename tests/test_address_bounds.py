"""Address bounds at the edge: the kernels index their arrays without bounds checks, so
isa/validation.py is all that keeps them inside. The last location of a space is
accepted, one past it (or one before location 0) refused, for fixed and affine operands;
the kernel stops on an address its own offsets would carry outside."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.engine.evaluate import Evaluation, evaluate_program, run_kernel
from analyzer.engine.packing import pack_layer
from isa.program import Block, BlockRef, LayerProgram, Loop, Operand, Program
from isa.validation import ProgramError, check_program
from tests.builders import instr, op, program, timeline

SPACE = 16  # program() gives space r 16 locations, r[0] .. r[15]


@pytest.mark.parametrize(
    ("operand", "trips", "fits"),
    [
        # Fixed: r[13:+3] covers r[13], r[14], r[15]; r[14:+3] would touch r[16].
        (op("r", 13, count=3), 1, True),
        (op("r", 14, count=3), 1, False),
        (op("r", 15), 1, True),
        (op("r", 16), 1, False),
        (op("r", 0), 1, True),
        (op("r", -1), 1, False),
        # Affine over 7 trips of the loop at depth 1 (indices 0..6): base + 2 * 6 is the
        # last first address, so r[1 + 2i:+3] ends at r[13 + 2] = r[15]; base 2 ends at r[16].
        (op("r", 1, count=3, coefs=(0, 2)), 7, True),
        (op("r", 2, count=3, coefs=(0, 2)), 7, False),
        # A negative step: r[12 - 2i] reaches r[0] at i = 6; from r[11] it reaches r[-1].
        (op("r", 12, coefs=(0, -2)), 7, True),
        (op("r", 11, coefs=(0, -2)), 7, False),
        # A coefficient on the root loop (depth 0, one trip) never moves the address.
        (op("r", 15, coefs=(5, 0)), 1, True),
    ],
    ids=lambda value: value.render() if isinstance(value, Operand) else str(value),
)
@pytest.mark.parametrize("role", ["reads", "writes"])
def test_the_last_location_is_accepted_and_one_past_refused(operand, trips, fits, role):
    prog = program([instr(**{role: (operand,)})], trips=trips)
    if fits:
        check_program(prog)
        assert evaluate_program(prog, "full")[0].cycles == trips
    else:
        with pytest.raises(ProgramError, match=f"leaves space 'r' of {SPACE} locations"):
            check_program(prog)


def _nested(operand: Operand) -> Program:
    """One instruction under two loops: 3 outer trips (depth 1), 4 inner ones (depth 2)."""
    inner = Loop("inner", 4, (BlockRef(0),))
    layer = LayerProgram("layer", "test", 0, {}, Loop("layer", 1, (Loop("outer", 3, (inner,)),)))
    base = program([instr()])
    block = Block("body", (instr(writes=(operand,)),))
    return Program(**{**base.__dict__, "blocks": (block,), "layers": (layer,)})


def test_affine_bounds_add_up_every_enclosing_loop():
    # r[base + 4 * outer + inner]: the largest address is base + 4 * 2 + 3 = base + 11, so
    # base 4 reaches r[15] and base 5 r[16].
    check_program(_nested(op("r", 4, coefs=(0, 4, 1))))
    with pytest.raises(ProgramError, match="leaves space 'r'"):
        check_program(_nested(op("r", 5, coefs=(0, 4, 1))))
    # Steps of opposite signs: r[8 + 4 * outer - inner] spans r[5] .. r[16].
    with pytest.raises(ProgramError, match="leaves space 'r'"):
        check_program(_nested(op("r", 8, coefs=(0, 4, -1))))
    check_program(_nested(op("r", 7, coefs=(0, 4, -1))))  # r[4] .. r[15]
    # ... and the low end: r[3 + 4 * outer - inner] starts at r[0], r[2 + ...] at r[-1],
    # however far the outer step carries it up.
    check_program(_nested(op("r", 3, coefs=(0, 4, -1))))
    with pytest.raises(ProgramError, match="leaves space 'r'"):
        check_program(_nested(op("r", 2, coefs=(0, 4, -1))))
    # Fewer coefficients than loops (the inner loop does not move it): r[4 + 4 * outer]
    # ends at r[12]; more, zero for loops it is not in: r[4 + 4 * outer + inner] at r[15].
    check_program(_nested(op("r", 4, coefs=(0, 4))))
    check_program(_nested(op("r", 4, coefs=(0, 4, 1, 0))))


def test_one_subtree_is_checked_under_each_of_its_enclosing_trips():
    # isa/validation.py checks a subtree object once per enclosing trips: `inner`
    # (r[4 * outer + inner], 4 trips) fits under 3 outer trips (up to r[11]) and leaves
    # the space under 4 (r[15]) or 5 (r[19]). The same object under other trips, in the
    # same layer or a later one, is checked again, and its layer is named.
    inner = Loop("inner", 4, (BlockRef(0),))
    outer = Loop("outer", 3, (inner,))
    base = program([instr()])
    block = Block("body", (instr(writes=(op("r", 0, coefs=(0, 4, 1)),)),))

    def layers(*parents: Loop) -> Program:
        return Program(
            **{
                **base.__dict__,
                "blocks": (block,),
                "layers": tuple(
                    LayerProgram(f"layer{k}", "test", 0, {}, Loop("layer", 1, (parent,)))
                    for k, parent in enumerate(parents)
                ),
            }
        )

    check_program(layers(outer, outer, Loop("outer", 4, (inner,))))  # r[0] .. r[15]
    with pytest.raises(ProgramError, match="layer 'layer2': operand .* leaves space 'r'"):
        check_program(layers(outer, Loop("outer", 4, (inner,)), Loop("outer", 5, (inner,))))
    with pytest.raises(ProgramError, match="layer 'layer0': operand .* leaves space 'r'"):
        check_program(layers(Loop("outer", 5, (inner,)), outer))


def test_a_coefficient_for_a_loop_the_operand_is_not_in_is_refused():
    # Depth 2 exists only inside "loop" of program(); this block sits at depth 1.
    with pytest.raises(ProgramError, match="uses a loop it is not in"):
        check_program(program([instr(reads=(op("r", 0, coefs=(0, 0, 1)),))], trips=2))


def test_the_last_location_is_really_used():
    # Accepted means evaluated there: iteration 6 of r[1 + 2i:+3] (latency 5) writes r[15],
    # which a reader in the same block waits for. Everything issues at cycle 0. Writer i
    # overwrites r[2i + 1], which writer i - 1 wrote (WAW), so writer i starts at 5i; the
    # reader runs on alu[1], one per cycle, and in iterations 0..5 nothing has written
    # r[15] yet: it starts at i. In iteration 6 it waits for writer 6's end, 30 + 5.
    writer = instr(latency=5, writes=(op("r", 1, count=3, coefs=(0, 2)),))
    reader = instr(instance=1, reads=(op("r", 15),), bundle_start=False)
    times = timeline(program([writer, reader], trips=7))
    assert [start for start, _ in times[0::2]] == [5 * i for i in range(7)]
    assert [start for start, _ in times[1::2]] == [0, 1, 2, 3, 4, 5, 35]


def test_an_address_drifting_outside_the_locations_stops_the_kernel():
    # Validation is the kernels' only bound, so the general path checks its own affine
    # offsets (kept up to date loop by loop, analyzer/engine/kernels.py): given offsets that
    # no longer match the program (a step of 7 where the program says 2), r[2 + 7i:+3]
    # reaches r[16:19] at i = 2, and the kernel refuses instead of writing past r[15].
    prog = program([instr(writes=(op("r", 2, count=3, coefs=(0, 2)),))], trips=3)
    _assert_drift_stops_the_kernel(prog, 3, lambda coefs: coefs * 7 // 2)


def test_an_address_drifting_below_zero_stops_the_shifted_hot_path():
    # The same on the hot path that moves a one-location operand by its unit instance's
    # offset (a systolic MAC's): alu[7 - i] writes r[2 - i]. Given a step of -3, r[2 - 3i]
    # is r[-1] at i = 1, while alu[4] is still a unit: the location's own check refuses.
    prog = program(
        [replace(instr(instance=7, writes=(op("r", 2, coefs=(0, -1)),)), instance_coefs=(0, -1))],
        trips=3,
        units={"alu": 8},
    )
    _assert_drift_stops_the_kernel(prog, 1, lambda coefs: coefs * 3)


def _assert_drift_stops_the_kernel(prog, cycles, drift):
    evaluation = Evaluation(prog, "full")
    arrays = evaluation.blocks.arrays
    assert evaluate_program(prog, "full")[0].cycles == cycles
    drifted = replace(
        evaluation.blocks, arrays=arrays._replace(offset_coefs=drift(arrays.offset_coefs))
    )
    packed = pack_layer(prog.layers[0], prog, drifted)
    with pytest.raises(IndexError, match="address or unit instance left the machine"):
        run_kernel(packed, drifted, fast=False)
