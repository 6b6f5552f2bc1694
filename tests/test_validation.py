"""Programs the kernels must not see are refused before packing (they do not bounds-check)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.engine.evaluate import evaluate_program
from isa.validation import ProgramError
from tests.builders import instr, op, program


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        (instr(latency=-1), "latency is -1; need 0.."),
        (instr(occupancy=-1), "occupancy is -1; need 0.."),
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
