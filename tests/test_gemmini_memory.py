"""Gemmini's memory hierarchy (issue 22 item 2): where each tile's data is (the reuse
distance against the L2 and FASED's LLC model), what one command costs at each level, what
cache_at_start changes, and every parameter's source."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from isa.gemmini import library
from isa.gemmini.commands import Affine
from isa.gemmini.hierarchy import DRAM, L2, LLC, Where, cache_levels, reaches
from isa.gemmini.lowering import lower
from tests.builders import check_fast_equals_full, examples, gemmini_machine, run_block
from tests.reference import reference_cycles
from tracer.lowering import lower_model
from tracer.workloads.layers import Conv2d, Model

ROOT = Path(__file__).resolve().parents[1]

# Five tiles: w:A (100 bytes) read three times, i:B (300) and i:C (500) between.
TOUCHES = [
    [("w", "A", 100)],
    [("i", "B", 300)],
    [("w", "A", 100)],
    [("i", "C", 500)],
    [("w", "A", 100)],
]


def test_a_re_read_hits_while_what_came_between_fits_the_l2():
    # 450 bytes of L2. Tile 2 re-reads w:A with 300 bytes (i:B) touched since: 300 + its
    # own 100 fit, a hit. Tile 4 re-reads it after 500 bytes (i:C): a miss. First touches
    # miss when the cache starts empty.
    levels = [tile["w" if "w" in tile else "i"] for tile in cache_levels(TOUCHES, 450, "empty")]
    assert levels == [DRAM, DRAM, L2, DRAM, DRAM]
    # previous_layer: the i operand reads the 300-byte tensor the layer before left; B
    # and C hit at their first touch while it and the 100 bytes of A brought in since fit
    # (300 + 100 <= 450).
    warm = cache_levels(TOUCHES, 450, "previous_layer", {"i": 300})
    assert [tile.get("i") for tile in warm] == [None, L2, None, L2, None]
    assert cache_levels(TOUCHES, 399, "previous_layer", {"i": 300})[1]["i"] == DRAM
    # An empty tensor left warm is still the operand's: B finds it, with the 100 bytes of A.
    assert cache_levels(TOUCHES, 100, "previous_layer", {"i": 0})[1]["i"] == L2
    # same_layer: the layer's touches ran once before. The first w:A finds A touched last
    # at the end of that run (nothing since): a hit; B was touched before A (100) and C
    # (500): a miss.
    again = cache_levels(TOUCHES, 450, "same_layer")
    assert again[0]["w"] == L2 and again[1]["i"] == DRAM


def test_a_re_read_beyond_the_l2_but_within_the_llc_hits_there():
    # The same touches with an LLC of 1,000 bytes behind the 450-byte L2: tile 4's re-read
    # of w:A, 500 + 100 bytes after its last touch, misses the L2 but hits the LLC; a
    # first touch still comes from DRAM. previous_layer with a 600-byte tensor left by
    # the layer before: it and the 100 bytes of A brought in since (700) no longer fit
    # the L2 at B's first touch, but fit the LLC.
    levels = cache_levels(TOUCHES, 450, "empty", llc_bytes=1000)
    assert [tile.get("w") for tile in levels] == [DRAM, None, L2, None, LLC]
    assert cache_levels(TOUCHES, 450, "empty", llc_bytes=599)[4]["w"] == DRAM
    assert cache_levels(TOUCHES, 450, "previous_layer", {"i": 600}, 1000)[1]["i"] == LLC


def _reaches_walking_back(touches, cache_at_start, warm):
    """(operand, size, reach) of each touch, from the definition (isa/gemmini/hierarchy.py,
    reaches): walk back from the touch to the previous touch of its data, summing each
    other region met once, at its latest size. Quadratic, and shares no code with the
    merge-sort tree reaches uses."""
    passes = 2 if cache_at_start == "same_layer" else 1
    sequence = [region for tile in touches for region in tile] * passes
    brought_in = 0
    found = []
    for i, (operand, key, size) in enumerate(sequence):
        latest: dict[tuple, int] = {}  # walking back, the first size met is the latest
        since = None
        for other_operand, other_key, other_size in reversed(sequence[:i]):
            if (other_operand, other_key) == (operand, key):
                since = sum(latest.values())
                break
            latest.setdefault((other_operand, other_key), other_size)
        if since is not None:
            reach = since + size
        elif cache_at_start == "previous_layer" and operand in warm:
            reach = warm[operand] + brought_in
        else:
            reach = None
        if since is None and operand not in warm:
            brought_in += size
        found.append((operand, size, reach))
    reported = found[len(found) - len(found) // passes :]
    shaped, i = [], 0
    for tile in touches:
        shaped.append(reported[i : i + len(tile)])
        i += len(tile)
    return shaped


def _as_tuples(walked):
    return [[tuple(touch) for touch in tile] for tile in walked]


REGIONS = st.tuples(st.sampled_from("wiob"), st.integers(0, 30), st.integers(0, 400))


@settings(max_examples=examples(300), deadline=None)
@given(
    touches=st.lists(st.lists(REGIONS, max_size=4), max_size=60),
    cache_at_start=st.sampled_from(["empty", "previous_layer", "same_layer"]),
    warm=st.dictionaries(st.sampled_from("wiob"), st.integers(0, 2000), max_size=2),
)
def test_reaches_equal_the_lru_stack_walked_back(touches, cache_at_start, warm):
    # Keys recur at every distance, a region's size may change between its touches, and a
    # warm tensor or a region may be empty.
    walked = reaches(touches, cache_at_start, warm)
    assert _as_tuples(walked) == _reaches_walking_back(touches, cache_at_start, warm)


@pytest.mark.parametrize("cache_at_start", ["empty", "previous_layer", "same_layer"])
def test_reaches_on_a_networks_tiles_equal_the_lru_stack_walked_back(monkeypatch, cache_at_start):
    # Every layer ResNet-18 lowers, with the tiles and warm tensors the lowering passes.
    seen = []
    levels = library.cache_levels

    def recorded(touches, l2_bytes, start, warm=None, llc_bytes=0):
        seen.append((touches, start, dict(warm or {})))
        return levels(touches, l2_bytes, start, warm, llc_bytes)

    monkeypatch.setattr(library, "cache_levels", recorded)
    lower_model("gemmini", {"cache_at_start": cache_at_start}, "resnet18")
    assert len(seen) > 10
    re_reads = 0
    for touches, start, warm in seen:
        expected = _reaches_walking_back(touches, start, warm)
        assert _as_tuples(reaches(touches, start, warm)) == expected
        re_reads += sum(reach is not None for tile in expected for _, _, reach in tile)
    assert re_reads > 500


DIM = 16
ROWS = Affine(0)


def _mvin_times(where: Where, **params: str) -> list[tuple[int, int]]:
    """(start, end) of one mvin of 16 rows of 16 bytes on the default Gemmini."""
    lowering, program = gemmini_machine(**params)
    mvin = lowering.mvin("mvin", DIM, DIM, False, ROWS, DIM, {}, 0, where=where)
    return run_block(program, [mvin])


def test_a_first_touch_through_the_llc_model_waits_for_each_block_in_turn():
    # FASED's LLC model (FS LastLevelCache.scala) takes requests one at a time: a miss holds
    # it 2 cycles (lookup) and its refill a 128-byte block's 16 beats. Reach: 4 system bus
    # + 5 L2 + 4 memory bus + 2 lookup + 8 line beats + 16 DRAM = 39.
    # Rows on lines of their own (no stride): 16 misses on 16 blocks, 16 x (2 + 16) = 288
    # bound the issue (8 misses out at once: ceil(16 x 34 / 8) = 68; the L2's 10 MSHRs
    # ceil(16 x 35 / 10) = 56; the memory bus 16 x 8 = 128); the last beat 39 + 4 + 1 later.
    assert _mvin_times(Where(DRAM)) == [(0, 288 + 39 + 4 + 1)]
    # With one LLC MSHR the misses go one at a time: 16 x (2 + 16 + 16) = 544.
    assert _mvin_times(Where(DRAM), llc_mshrs="1") == [(0, 544 + 39 + 4 + 1)]
    # Contiguous rows (stride 16): 4 lines in 2 blocks. Each block's second line waits at the
    # queue's head for the first one's refill (DRAM's 16 + 16 beats) and then reads as a hit
    # (8 beats): 2 x (2 + 16 + 16 + 8) = 84 bound the issue (the L2's set, 35 + 3 = 38;
    # the tracker, ceil((16 x 39 + 16) / 16) = 40).
    assert _mvin_times(Where(DRAM, DIM)) == [(0, 84 + 39 + 4 + 1)]
    # Without the LLC model (llc_kib = 0) the tracker's ceil((16 x 37 + 16) / 16) = 38
    # bounds the same rows (the L2's set 33 + 3 = 36), and 37 to the first beat (no
    # lookup).
    assert _mvin_times(Where(DRAM, DIM), llc_kib="0") == [(0, 38 + 37 + 4 + 1)]


def test_a_line_the_llc_holds_costs_the_memory_bus_but_no_dram():
    # Reach 4 + 5 + 4 + 2 + 8 = 23; the 4 lines' first requests miss the L2 for 5 + 4 + 2 +
    # 8 = 19 each, the 3 behind on the set one a cycle: 19 + 3 = 22. The memory bus, 4
    # lines x 8 = 32, bounds the issue (the tracker ceil((16 x 23 + 16) / 16) = 24).
    assert _mvin_times(Where(LLC, DIM)) == [(0, 32 + 23 + 4 + 1)]


def test_the_llc_orders_a_networks_cycles():
    # conv2 reads conv1's output: with the cache empty at each layer's start every first
    # touch goes to DRAM, through the LLC model's in-order queue (slowest), or straight to
    # DRAM without one (llc_kib = 0). A larger L2 hides DRAM behind both.
    def cycles(**params: str) -> int:
        program = _two_convs(cache_at_start="empty", **params)
        return evaluate_program(program, "full")[1].cycles

    assert cycles() > cycles(llc_kib="0")


def _two_convs(**params: str):
    # conv2 reads conv1's output (16 x 16 x 64 = 16 KiB, well inside the L2).
    conv1 = Conv2d("conv1", 64, 64, 16, 16, 3, 3, padding=1)
    conv2 = Conv2d("conv2", 64, 64, 16, 16, 3, 3, padding=1, inputs=("conv1",))
    accelerator = find_accelerator("gemmini").resolve({"dim": "8", **params})
    return lower(accelerator, Model("two", (conv1, conv2)))


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_cache_at_start_orders_a_layers_cycles(mode):
    # conv2 with everything it touches in the L2 (same_layer) is fastest; with its input
    # left there by conv1 (previous_layer) next; cold (empty), every first touch from
    # DRAM, slowest.
    cycles = {
        start: evaluate_program(_two_convs(cache_at_start=start), mode)[1].cycles
        for start in ("same_layer", "previous_layer", "empty")
    }
    assert cycles["same_layer"] < cycles["previous_layer"] < cycles["empty"]


def test_the_three_starts_keep_fast_equal_to_full_and_the_reference():
    for start in ("same_layer", "previous_layer", "empty"):
        program = _two_convs(cache_at_start=start)
        check_fast_equals_full(program)
        full = [r.cycles for r in evaluate_program(program, "full")]
        assert [reference_cycles(program, layer) for layer in program.layers] == full


def test_a_three_channel_input_serialises_on_the_l2_set():
    # A first conv: 3 input channels, so an input mvin's pixels are 3 bytes apart in
    # DRAM, 16 of them on one 64-byte line, one L2 set. The line's first request takes
    # the L2's hit pipeline (5), those queued behind it are reloaded into its MSHR as it
    # finishes and answered a beat a cycle (inclusive cache Scheduler.scala:204-236,
    # SourceD.scala:128-140): the 16 pixels take 17 Gets of 19 beats on average (pixels
    # straddling 16 bytes take larger Gets), 18 beats on the line, 5 + 17 = 22 cycles of
    # the reader, more than the 16 of one request a cycle; one request per set at the hit
    # latency would have been 16 x 5 = 80. 64-channel pixels (a line each, 4 beats) are
    # bound by the bus, not the set.
    def input_mvins(channels: int) -> list:
        """The input mvins of 16 whole pixels, of a conv whose data all hits the L2."""
        layer = Conv2d("conv", channels, 64, 32, 32, 3, 3, padding=1)
        accelerator = find_accelerator("gemmini").resolve({"cache_at_start": "same_layer"})
        program = lower(accelerator, Model("one", (layer,)))
        return [
            t
            for block in program.blocks
            for t in block.templates
            if block.name == "mvin inputs" and dict(t.actions)["dram.read"] == 16 * channels
        ]

    narrow = input_mvins(3)
    assert narrow and {t.occupancy for t in narrow} == {5 + 17}
    wide = input_mvins(64)
    assert wide and max(t.occupancy for t in wide) == 16 * 4


def test_every_parameter_names_its_source_or_says_assumed():
    # Every Gemmini parameter's doc gives a file and line, or says "derived" (counted from
    # the RTL) or "assumed" (no public source).
    description = tomllib.loads((ROOT / "accelerators/gemmini.toml").read_text())
    source = re.compile(r"\.(scala|conf|h|c)[: ]+L?\d|derived|assumed", re.IGNORECASE)
    missing = [name for name, p in description["parameters"].items() if not source.search(p["doc"])]
    assert missing == []
    memory = {
        "cache_at_start",
        "system_bus_bytes",
        "system_bus_latency",
        "l2_kib",
        "l2_line_bytes",
        "l2_mshrs",
        "l2_hit_latency",
        "memory_bus_bytes",
        "memory_bus_latency",
        "llc_kib",
        "llc_block_bytes",
        "llc_mshrs",
        "llc_lookup_latency",
        "dram_latency",
    }
    assert memory <= set(description["parameters"])
