"""Bugs in the Plasticine family's lowering and mapping (isa/plasticine/): each a plausible
slip in a stream's timing, a credit, a DRAM transfer or the tiling."""

from __future__ import annotations

from scripts.bug_catalogue.common import Bug

PLASTICINE_LOWERING = "isa/plasticine/lowering.py"
PLASTICINE_PLAN = "isa/plasticine/plan.py"
PLASTICINE = "tests/test_plasticine.py"
BY_HAND = PLASTICINE + "::test_a_small_gemm_tile_worked_by_hand"
FILL = PLASTICINE + "::test_unlimited_bandwidth_approaches_macs_over_the_lanes_plus_the_fill"
BANKS = PLASTICINE + "::test_fewer_pmu_banks_than_lanes_make_the_pmu_the_bound"
CREDITS = PLASTICINE + "::test_no_slot_is_refilled_before_its_previous_tile_is_read"
FITS = PLASTICINE + "::test_every_tile_fits_its_pmu_and_every_pair_has_work"
BURSTS = PLASTICINE + "::test_dram_transfers_move_whole_bursts"
ACTIONS = "tests/test_plasticine_actions.py"
DENSE_BY_HAND = ACTIONS + "::test_a_dense_layer_worked_by_hand"
STEP_RUNS = PLASTICINE + "::test_repeating_runs_of_steps_are_loops_that_run_the_steps_in_order"

PLASTICINE_BUGS = (
    Bug(
        "plasticine.private-route-without-its-hop",
        PLASTICINE_LOWERING,
        "latency=m.pmu_latency + m.hop_latency,",
        "latency=m.pmu_latency,",
        "a pair's private stream crosses one switch hop from its PMU to its PCU",
        (BY_HAND, PLASTICINE),
    ),
    Bug(
        "plasticine.broadcast-one-hop",
        PLASTICINE_LOWERING,
        "latency=m.broadcast_hops * m.hop_latency,",
        "latency=m.hop_latency,",
        "the multicast reaches the farthest pair across the grid's diameter",
        (FILL, PLASTICINE),
    ),
    Bug(
        "plasticine.pmu-ignores-its-banks",
        PLASTICINE_LOWERING,
        "self.stream = plan.vectors * machine.vector_cycles",
        "self.stream = plan.vectors",
        "a PMU with fewer banks than lanes takes ceil(lanes / banks) cycles a vector",
        (BANKS, PLASTICINE),
    ),
    Bug(
        "plasticine.refill-without-the-credit",
        PLASTICINE_LOWERING,
        'reads=(_slot("private_free", slot, depth),),',
        "reads=(),",
        "a private tile is loaded into a slot only after its previous tile's reads are done",
        (CREDITS, PLASTICINE),
        equivalent="the one DRAM interface serves transfers in program order and the stores "
        "of the step that last read the slot come before the refill; each store waits for "
        "its step's last dot product, which ends after its streams are read, so the order "
        "alone keeps the refill after the reads (the credit matters to a description whose "
        "DRAM serves transfers out of order)",
    ),
    Bug(
        "plasticine.dot-without-the-reduction-tree",
        PLASTICINE_LOWERING,
        "m.stages + log2_ceil(m.lanes),",
        "m.stages,",
        "a dot product's result passes the log2(lanes) levels of the cross-lane reduction tree",
        (BY_HAND, FILL, PLASTICINE),
    ),
    Bug(
        "plasticine.store-before-the-dot-products",
        PLASTICINE_LOWERING,
        'reads=(_slot("out", slot, depth),),',
        "reads=(),",
        "a store waits for the last dot product that marks its output slot",
        (BY_HAND, PLASTICINE),
    ),
    Bug(
        "plasticine.transfers-ignore-bursts",
        PLASTICINE_PLAN,
        "return max(1, ceil_div(bursts * self.burst_bytes, self.dram_bytes_per_cycle))",
        "return max(1, ceil_div(words * WORD_BYTES, self.dram_bytes_per_cycle))",
        "DRAM moves whole bursts",
        (BURSTS, PLASTICINE),
    ),
    Bug(
        "plasticine.tiles-ignore-the-rounds",
        PLASTICINE_PLAN,
        "x_tile = ceil_div(x, limit * rounds)",
        "x_tile = ceil_div(x, limit)",
        "tiles are cut so that the rounds the largest tile needs fit the PMU",
        (FITS, PLASTICINE),
    ),
    Bug(
        "plasticine.always-parallel-over-m",
        PLASTICINE_PLAN,
        "if gemm.m >= gemm.n:",
        "if True:",
        "the larger GEMM dimension is the one spread over the pairs",
        (FITS, PLASTICINE),
    ),
    Bug(
        "plasticine.actions-useful-macs-only",
        PLASTICINE_LOWERING,
        "(MAC_ACTION, plan.vectors * m.lanes),",
        "(MAC_ACTION, plan.k),",
        "a dot product issues a MAC on every lane of every vector, the last one's idle lanes too",
        (DENSE_BY_HAND, ACTIONS),
    ),
    Bug(
        "plasticine.actions-dot-streams-whole-vectors",
        PLASTICINE_LOWERING,
        'return plan.k if plan.kind == "dot" else plan.vectors * self.m.lanes',
        "return plan.vectors * self.m.lanes",
        "a dot product's streams read its K operands from the PMUs, not the idle lanes",
        (DENSE_BY_HAND, ACTIONS),
    ),
    Bug(
        "plasticine.actions-store-left-in-the-pmu",
        PLASTICINE_LOWERING,
        "actions=_moves(PMU, DRAM, self.plan.output_words),",
        'actions=((memory_action(PMU, "read"), self.plan.output_words),),',
        "a store writes each pair's output tile to DRAM",
        (DENSE_BY_HAND, ACTIONS),
    ),
    Bug(
        "plasticine.step-key-without-the-private-prefetch",
        PLASTICINE_LOWERING,
        "return index % SLOTS, tile % SLOTS, prefetch_shared, prefetch_private",
        "return index % SLOTS, tile % SLOTS, prefetch_shared, False",
        "a step that prefetches the next tile's private operands differs from one that does not",
        (STEP_RUNS, PLASTICINE),
    ),
    Bug(
        "plasticine.step-key-without-the-tile-slot",
        PLASTICINE_LOWERING,
        "return index % SLOTS, tile % SLOTS, prefetch_shared, prefetch_private",
        "return index % SLOTS, 0, prefetch_shared, prefetch_private",
        "a step's elements read its tile's private slot, which alternates with the tiles",
        (STEP_RUNS, PLASTICINE),
    ),
)
