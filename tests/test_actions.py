"""Action counts (analyzer/actions.py): equal to counting the instructions one by one, the
same in fast and full mode, kept by the trace, refused when malformed; and the systolic
array's counts from first principles."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accperf
from analyzer.actions import ActionCounter
from analyzer.engine.evaluate import Evaluation
from isa.program import (
    MAC_ACTION,
    Block,
    BlockRef,
    Datapath,
    LayerProgram,
    Loop,
    Memory,
    Program,
    Template,
)
from isa.registry import FAMILIES
from isa.validation import ProgramError, check_program
from tests.builders import examples, op
from tracer.trace_io import iterate_blocks, write_trace
from tracer.trace_read import read_trace
from tracer.workloads.layers import Conv2d, Dense, Model

MEMORIES = {"sram": Memory("sram", 2, 4096), "dram": Memory("dram", 1, 0)}
ACTIONS = (MAC_ACTION, "sram.read", "sram.write", "dram.read", "dram.write")


def one_by_one(layer: LayerProgram, program: Program) -> Counter[str]:
    """Every instruction's actions, instruction by instruction in program order, and the
    family's memory side's (the systolic array's DRAM, Family.layer_actions)."""
    counts: Counter[str] = Counter()
    for block, _ in iterate_blocks(layer.root):
        for template in program.blocks[block].templates:
            for action, amount in template.actions:
                counts[action] += amount
    family = FAMILIES.get(program.isa)
    if family is not None and family.layer_actions is not None:
        counts.update(family.layer_actions(layer.mapping, program.parameters))
    return counts


def counted(layer: LayerProgram, program: Program) -> Counter[str]:
    actions = ActionCounter(program).layer(layer)
    return Counter({action: n for action, n in actions.counts().items() if n})


@st.composite
def programs(draw: st.DrawFn) -> Program:
    """Random loop trees (loops of 0..4 trips, up to 4 deep) over blocks with random
    actions, one subtree used twice (as isa/sharing.py leaves equal subtrees)."""

    def template(index: int) -> Template:
        chosen = draw(st.lists(st.sampled_from(ACTIONS), max_size=3, unique=True))
        return Template(
            f"t{index}",
            "alu",
            0,
            1,
            1,
            1,
            (op("r"),),
            (),
            index == 0,
            actions=tuple((a, draw(st.integers(0, 50))) for a in chosen),
        )

    blocks = tuple(
        Block(f"b{b}", tuple(template(i) for i in range(draw(st.integers(1, 3)))))
        for b in range(draw(st.integers(1, 3)))
    )

    def node(depth: int) -> Loop | BlockRef:
        if depth >= 4 or draw(st.booleans()):
            return BlockRef(draw(st.integers(0, len(blocks) - 1)))
        body = tuple(node(depth + 1) for _ in range(draw(st.integers(1, 3))))
        return Loop(f"l{depth}", draw(st.integers(0, 4)), body)

    shared = node(1)
    root = Loop("layer", 1, (shared, node(1), shared))
    layer = LayerProgram("layer", "test", draw(st.integers(0, 10)), {}, root)
    return Program(
        accelerator="test",
        parameters={},
        bundles_per_cycle=4,
        window_bundles=64,
        frontend_delay=0,
        units={"alu": 1},
        spaces={"r": 4},
        blocks=blocks,
        layers=(layer,),
        memories=MEMORIES,
        datapath=Datapath(8, 32),
    )


@settings(max_examples=examples(150), deadline=None)
@given(programs())
def test_counts_equal_the_instructions_counted_one_by_one(program: Program) -> None:
    check_program(program)
    layer = program.layers[0]
    assert counted(layer, program) == +one_by_one(layer, program)
    # An evaluation counts from how often packing says each block runs, not by walking
    # the tree (a loop of 0 trips runs nothing below it): the same counts.
    for mode in ("fast", "full"):
        assert Evaluation(program, mode).layer(layer).actions == ActionCounter(program).layer(layer)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_systolic_counts_equal_the_instructions_and_both_modes(dataflow: str) -> None:
    model = Model(
        "m",
        (
            Conv2d("conv", 3, 5, 6, 6, kernel_height=3, kernel_width=3),
            Dense("fc", 20, 7),
            # The same shape again: fast mode reuses fc's evaluation (and its counts).
            Dense("fc_again", 20, 7),
        ),
    )
    trace = accperf.lower(model, "systolic", {"rows": 4, "cols": 3, "dataflow": dataflow})
    program = trace.program
    fast, full = accperf.analyze(trace, "fast"), accperf.analyze(trace, "full")
    for layer, in_fast, in_full in zip(program.layers, fast.results, full.results, strict=True):
        assert in_fast.actions == in_full.actions == ActionCounter(program).layer(layer)
        assert counted(layer, program) == +one_by_one(layer, program)
    assert fast.results[-1].reused_from == "fc"


def test_systolic_counts_from_first_principles() -> None:
    # A 10 x 7 linear layer (batch 1: one input row) on a 4 x 3 ws array: K = 10 rows in
    # 3 row folds (4, 4, 2), N = 7 filters in 3 column folds (3, 3, 1); 9 folds, each
    # streaming T = 1 item. Every PE steps in every fold: 9 x 12 MACs issued, 70 useful.
    # West edge: 4 rows read per streamed item per fold (idle rows too) = 9 x 4; north
    # edge: the preload shifts `rows` steps, the top row reading 3 filters each = 9 x 4
    # x 3; outputs: 3 drains per item per fold = 9 x 3.
    trace = accperf.lower(Model("m", (Dense("fc", 10, 7),)), "systolic", {"rows": 4, "cols": 3})
    actions = accperf.analyze(trace).results[0].actions
    assert actions is not None
    assert (actions.macs_issued, actions.macs_useful) == (9 * 12, 70)
    assert actions.macs_idle == 9 * 12 - 70
    traffic = {memory.memory: memory for memory in actions.traffic}
    assert traffic["ifmap_sram"].read_words == 9 * 4
    assert traffic["filter_sram"].read_words == 9 * 4 * 3
    assert traffic["ofmap_sram"].write_words == 9 * 3
    assert traffic["ofmap_sram"].write_bytes == 9 * 3  # one-byte words, as SCALE-Sim's
    # DRAM (isa/systolic/memory_side.py): the 10 inputs and 70 weights fit their SRAMs,
    # read once each; the 7 outputs are written once per row fold (partial sums): 3 x 7.
    assert (traffic["dram"].read_words, traffic["dram"].write_words) == (10 + 70, 3 * 7)
    assert traffic["ifmap_sram"].write_words == 10 and traffic["filter_sram"].write_words == 70
    assert traffic["ofmap_sram"].read_words == 3 * 7


def test_systolic_dram_reads_every_use_of_an_input_too_large_for_its_sram() -> None:
    # 100 rows of 10 inputs (1,000 words) against an active half of 1 KiB: 50 sets of
    # floor(1024 / 100) = 500 words. Nothing is reused: every use is a read, 3 column
    # folds x 100 rows x 10 = 3,000; the 70 weights still fit.
    trace = accperf.lower(
        Model("m", (Dense("fc", 10, 7, rows=100),)),
        "systolic",
        {"rows": 4, "cols": 3, "ifmap_sram_kib": 1},
    )
    actions = accperf.analyze(trace).results[0].actions
    assert actions is not None
    traffic = {memory.memory: memory for memory in actions.traffic}
    assert traffic["dram"].read_words == 3 * 100 * 10 + 70
    assert traffic["ifmap_sram"].write_words == 3 * 100 * 10


def test_the_trace_keeps_actions_memories_and_widths(tmp_path: Path) -> None:
    trace = accperf.lower("resnet18", "systolic", {"rows": 8, "cols": 8})
    folder = write_trace(trace.program, tmp_path, 0)
    again = read_trace(folder)
    assert again.memories == trace.program.memories
    assert again.datapath == trace.program.datapath
    assert again.blocks == trace.program.blocks  # every template's actions included
    before, after = ActionCounter(trace.program), ActionCounter(again)
    for layer, read in zip(trace.program.layers, again.layers, strict=True):
        assert before.layer(layer) == after.layer(read)


@pytest.mark.parametrize(
    "actions, message",
    [
        ((("flops", 1),), "action 'flops' is none of the program's"),
        ((("sram.erase", 1),), "action 'sram.erase' is none"),
        (((MAC_ACTION, -1),), "amount is -1"),
        (((MAC_ACTION, 1), (MAC_ACTION, 2)), "given twice"),
        (((MAC_ACTION,),), "not an \\(action, amount\\) pair"),
    ],
)
def test_malformed_actions_are_refused(actions: tuple, message: str) -> None:
    template = Template("t", "alu", 0, 1, 1, 1, (op("r"),), (), True, actions=actions)
    layer = LayerProgram("layer", "test", 0, {}, Loop("layer", 1, (BlockRef(0),)))
    program = Program(
        "test",
        {},
        1,
        1,
        0,
        {"alu": 1},
        {"r": 1},
        (Block("b", (template,)),),
        (layer,),
        memories=MEMORIES,
    )
    with pytest.raises(ProgramError, match=message):
        check_program(program)


@pytest.mark.parametrize(
    "memories, message",
    [
        ({"sram": Memory("flash", 1, 1)}, "must be a Memory of kind"),
        ({"s.ram": Memory("sram", 1, 1)}, "without '.'"),
        ({"sram": Memory("sram", 0, 1)}, "word_bytes is 0"),
    ],
)
def test_malformed_memories_are_refused(memories: dict, message: str) -> None:
    layer = LayerProgram("layer", "test", 0, {}, Loop("layer", 1, (BlockRef(0),)))
    template = Template("t", "alu", 0, 1, 1, 1, (op("r"),), (), True)
    program = Program(
        "test",
        {},
        1,
        1,
        0,
        {"alu": 1},
        {"r": 1},
        (Block("b", (template,)),),
        (layer,),
        memories=memories,
    )
    with pytest.raises(ProgramError, match=message):
        check_program(program)


@settings(max_examples=examples(25), deadline=None)
@given(
    st.integers(1, 6),  # in channels
    st.integers(1, 9),  # out channels
    st.integers(3, 7),  # input size
    st.sampled_from([1, 3]),  # kernel
    st.sampled_from([1, 2]),  # stride
    st.integers(1, 5),  # rows
    st.integers(1, 5),  # cols
    st.sampled_from(["ws", "os", "is"]),
    st.sampled_from([1, 4, 64]),  # ifmap SRAM KiB: too small, about right, ample
)
def test_random_systolic_layers_count_the_same_in_both_modes_and_one_by_one(
    channels, filters, size, kernel, stride, rows, cols, dataflow, ifmap_kib
) -> None:
    conv = Conv2d(
        "c",
        channels,
        filters,
        size,
        size,
        kernel_height=kernel,
        kernel_width=kernel,
        stride=(stride, stride),
    )
    params = {"rows": rows, "cols": cols, "dataflow": dataflow, "ifmap_sram_kib": ifmap_kib}
    trace = accperf.lower(Model("m", (conv,)), "systolic", params)
    layer, program = trace.program.layers[0], trace.program
    fast, full = accperf.analyze(trace, "fast"), accperf.analyze(trace, "full")
    assert fast.results[0].actions == full.results[0].actions
    assert counted(layer, program) == +one_by_one(layer, program)
    actions = fast.results[0].actions
    assert actions is not None and actions.macs_useful == conv.macs <= actions.macs_issued


@pytest.mark.parametrize(
    "bandwidth, field",
    [
        (0, "distinct_input_words"),  # the DRAM traffic's (Family.layer_actions)
        (10, "temporal"),  # the stalls' (Family.memory_stalls), which run first
    ],
)
def test_a_trace_whose_mapping_lacks_what_the_memory_side_reads_is_one_error(
    tmp_path: Path, capsys, bandwidth: int, field: str
) -> None:
    import json

    from tracer.cli import main

    params = {"rows": 8, "cols": 8, "bandwidth": bandwidth}
    trace = accperf.lower("resnet18", "systolic", params, layers=["fc"])
    folder = trace.save(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["layers"][0]["mapping"][field]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["analyze", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"layer 'fc': its mapping lacks '{field}'" in err
    assert "re-create the trace" in err and "Traceback" not in err
