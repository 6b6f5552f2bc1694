"""How a layer is spread over Plasticine's PCU/PMU pairs, and how its tiles fit the PMUs.

Every layer becomes *steps* on P pairs (a PCU with the PMU beside it) running in lockstep:

- GEMM-like layers (convolutions as GEMM, fully connected, matmul), C[X x Y] = sum over K,
  oriented so that X, the *parallel* dimension, is the larger of the GEMM's M (output
  positions or rows) and N (output channels or columns). Each pair holds a *private* tile of
  Xt rows of one operand (its Xt x K slice; for a convolution's activations, the raw input
  rows those output positions need, the PMU's address pipeline doing the im2col), and one
  more PMU holds a *shared* tile of Yt columns of the other, which the switch network
  multicasts to every pair. A step computes an Xt x Yt output tile in every pair: Xt x Yt
  dot products of K, each ceil(K / lanes) vectors through the PCU's lanes, reduction tree
  and accumulating stage. A pair keeps its private tile for all ceil(Y / Yt) steps over Y
  (a *round*); a group of a grouped convolution (or a matmul's batch) is its own GEMM.
- Element-wise layers (map) and pooling (fold over the window) with lanes over elements
  (channels for pooling): each pair streams Xt output vectors per step, each reading
  `arity` (map) or window-size (fold) vectors of its private tile.

Tiles are double buffered: 2 x (private + output) words fit one PMU, 2 x shared words the
shared one. A tile too big for any tiling is refused (`PlasticineTileError`).

Sources: accelerators/plasticine.toml cites each parameter (stanford-ppl/pir @11e2e738).
Assumptions (no public source gives Plasticine's DNN mapping; docs/models.md):
- rows of X are padded so that every pair runs the same number of equal tiles (the last
  tiles compute padding rows: lane utilisation shows it); Y likewise;
- a convolution's private or shared activation tile is loaded as the fewer of the whole
  input rows its positions read (halo rows again for each tile) and its im2col rows; a
  pooling layer's as its share of the input (no halo);
- a shared tile holds at most Y_CAP columns (so the output tile leaves the private tile room).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

from accelerators.description import Accelerator
from isa.arithmetic import ceil_div
from tracer.errors import MappingError
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Layer, MatMul, Pool

WORD_BYTES = 4  # 32-bit words: TopParam.scala:9 (wordWidth 32)
Y_CAP = 64  # assumed: columns of a shared tile at most (see the module docstring)


class PlasticineTileError(MappingError):
    """A layer whose tiles fit no PMU, or a parallelisation factor the grid cannot give."""


def log2_ceil(value: int) -> int:
    return max(0, (value - 1).bit_length())


@dataclass(frozen=True)
class Machine:
    """The description's parameters, as the mapping and the instructions use them."""

    grid_rows: int
    grid_cols: int
    lanes: int
    stages: int
    pmu_words: int
    banks: int
    pmu_latency: int
    dram_bytes_per_cycle: int
    dram_latency: int
    burst_bytes: int
    hop_latency: int
    par: int

    @classmethod
    def of(cls, accelerator: Accelerator) -> Machine:
        p = {name: int(value) for name, value in accelerator.parameters.items()}
        return cls(
            grid_rows=p["grid_rows"],
            grid_cols=p["grid_cols"],
            lanes=p["lanes"],
            stages=p["pcu_stages"],
            pmu_words=p["pmu_kib"] * 1024 // WORD_BYTES,
            banks=p["pmu_banks"],
            pmu_latency=p["pmu_latency"],
            dram_bytes_per_cycle=p["dram_bytes_per_cycle"],
            dram_latency=p["dram_latency"],
            burst_bytes=p["burst_bytes"],
            hop_latency=p["hop_latency"],
            par=p["par"],
        )

    @property
    def pcus(self) -> int:
        """Checkerboard: a PCU where row + column is even (TopParam.scala:59-60)."""
        return ceil_div(self.grid_rows * self.grid_cols, 2)

    @property
    def pmus(self) -> int:
        return self.grid_rows * self.grid_cols // 2

    @property
    def vector_cycles(self) -> int:
        """Cycles a PMU takes per vector: one word per bank per cycle."""
        return ceil_div(self.lanes, self.banks)

    @property
    def broadcast_hops(self) -> int:
        """Hops of the multicast to the farthest pair: the grid's Manhattan diameter."""
        return self.grid_rows + self.grid_cols - 2

    def max_pairs(self, shared: bool) -> int:
        """Pairs a layer may use; a GEMM's shared operand takes one PMU of its own."""
        return max(0, min(self.pcus, self.pmus - 1 if shared else self.pmus))

    def dram_cycles(self, words: int) -> int:
        """Cycles the DRAM interface is busy moving `words`, in whole bursts."""
        bursts = ceil_div(words * WORD_BYTES, self.burst_bytes)
        return max(1, ceil_div(bursts * self.burst_bytes, self.dram_bytes_per_cycle))


@dataclass(frozen=True)
class StepPlan:
    """One layer's steps. Per step, every pair runs `elements` instructions of `vectors`
    vectors each; see the module docstring for the rest."""

    kind: str  # "dot" (GEMM-like), "map" or "fold"
    parallel: str  # which GEMM dimension X is: "M" or "N"; "vectors" for map and fold
    groups: int  # independent GEMMs run one after the other (groups, matmul batch)
    x: int
    y: int
    k: int
    pairs: int
    rounds: int  # private tiles per pair and group
    x_tile: int
    y_tile: int
    y_steps: int
    vectors: int  # vectors one element (a dot product, an output vector) reads
    private_words: int  # one private tile, loaded from DRAM per round
    shared_words: int  # one shared tile, loaded from DRAM per step (0: none)
    output_words: int  # one pair's output tile, stored to DRAM per step

    @property
    def shared(self) -> bool:
        return self.shared_words > 0

    @property
    def elements(self) -> int:
        return self.x_tile * (self.y_tile if self.kind == "dot" else 1)

    @property
    def steps(self) -> int:
        return self.groups * self.rounds * self.y_steps

    @property
    def dram_words(self) -> int:
        tiles = self.groups * self.rounds * self.pairs
        return tiles * self.private_words + self.steps * (
            self.shared_words + self.pairs * self.output_words
        )


def _refuse(layer: str, what: str, fix: str) -> PlasticineTileError:
    return PlasticineTileError(f"layer {layer!r} on plasticine: {what}; {fix}")


def _largest(limit: int, fits: Callable[[int], bool]) -> int:
    """The largest t in 1..limit with fits(t) (fits is monotone), or 0."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _conv_rows_words(layer: Conv2d, positions: int) -> int:
    """Input words a tile of `positions` consecutive output positions (row-major, image
    after image) reads at most: whole input rows of one group's channels. Within one image
    the output rows it can span need their input rows and the kernel's halo; a tile that
    can straddle two images needs each part's rows and halo; one longer than an image
    reads whole images."""
    per_image = layer.out_height * layer.out_width
    channels = layer.in_channels // layer.groups
    row_words = layer.in_width * channels
    if positions > per_image and layer.batch > 1:
        images = min(layer.batch, (positions + per_image - 2) // per_image + 1)
        return images * layer.in_height * row_words
    (stride, _), (dilation, _) = layer.stride, layer.dilation

    def input_rows(rows_out: int) -> int:
        reach = (rows_out - 1) * stride + (layer.kernel_height - 1) * dilation + 1
        return min(layer.in_height, reach)

    spanned = (positions + layer.out_width - 2) // layer.out_width + 1
    rows = input_rows(min(layer.out_height, spanned))
    if layer.batch > 1:
        # The last r output rows of one image and the first spanned - r of the next.
        for first in range(max(1, spanned - layer.out_height), min(layer.out_height, spanned)):
            rows = max(rows, input_rows(first) + input_rows(spanned - first))
    return rows * row_words


def _conv_tile_words(layer: Conv2d, positions: int) -> int:
    """Words a tile of output positions loads: the fewer of the whole input rows they
    read and their im2col rows (the address generator gathering each window)."""
    k = layer.in_channels // layer.groups * layer.kernel_height * layer.kernel_width
    return min(_conv_rows_words(layer, positions), positions * k)


@dataclass(frozen=True)
class _Gemm:
    groups: int
    m: int
    k: int
    n: int
    activation_words: Callable[[int], int]  # words of t rows of the first operand


def _gemm_view(layer: Conv2d | Dense | MatMul) -> _Gemm:
    if isinstance(layer, Conv2d):
        k = layer.in_channels // layer.groups * layer.kernel_height * layer.kernel_width
        m = layer.batch * layer.out_height * layer.out_width
        return _Gemm(
            layer.groups,
            m,
            k,
            layer.out_channels // layer.groups,
            lambda t: _conv_tile_words(layer, t),
        )
    if isinstance(layer, Dense):
        return _Gemm(
            1, layer.rows, layer.in_features, layer.out_features, lambda t: t * layer.in_features
        )
    return _Gemm(layer.batch, layer.m, layer.k, layer.n, lambda t: t * layer.k)


def _pairs_and_rounds(
    machine: Machine, layer: str, x: int, x_max: int, shared: bool
) -> tuple[int, int, int]:
    """(pairs, rounds, x_tile): as few rounds as the largest tile allows, then tiles as
    even as they can be over as many pairs as that needs."""
    limit = machine.max_pairs(shared)
    if machine.par:
        if machine.par > limit:
            raise _refuse(
                layer,
                f"par {machine.par} asks for more PCU/PMU pairs than the "
                f"{machine.grid_rows}x{machine.grid_cols} grid gives this layer ({limit}"
                + (", one PMU holding the shared operand)" if shared else ")"),
                f"set --param par to at most {limit}, or 0 for auto",
            )
        limit = machine.par
    if limit < 1:
        raise _refuse(
            layer,
            f"the {machine.grid_rows}x{machine.grid_cols} grid has no PCU/PMU pair to spare",
            "raise --param grid_rows or grid_cols",
        )
    rounds = ceil_div(ceil_div(x, x_max), limit)
    x_tile = ceil_div(x, limit * rounds)
    return ceil_div(x, rounds * x_tile), rounds, x_tile


def _plan_gemm(machine: Machine, layer: Conv2d | Dense | MatMul) -> StepPlan:
    gemm = _gemm_view(layer)
    words = machine.pmu_words

    def weights(t: int) -> int:
        return t * gemm.k

    if gemm.m >= gemm.n:
        parallel, x, y, private, shared = "M", gemm.m, gemm.n, gemm.activation_words, weights
    else:
        parallel, x, y, private, shared = "N", gemm.n, gemm.m, weights, gemm.activation_words
    kib = words * WORD_BYTES / 1024
    if 2 * shared(1) > words or 2 * (private(1) + 1) > words:
        need = max(2 * shared(1), 2 * (private(1) + 1)) * WORD_BYTES / 1024
        raise _refuse(
            layer.name,
            f"even a tile of one row and one column (K = {gemm.k}) needs {need:.1f} KiB "
            f"double buffered, more than a PMU's {kib:g} KiB (pmu_kib)",
            "raise --param pmu_kib",
        )
    y_tile = _largest(
        min(y, Y_CAP),
        lambda t: 2 * shared(t) <= words and 2 * (private(1) + t) <= words,
    )
    y_steps = ceil_div(y, y_tile)
    y_tile = ceil_div(y, y_steps)
    x_max = _largest(x, lambda t: 2 * (private(t) + t * y_tile) <= words)
    pairs, rounds, x_tile = _pairs_and_rounds(machine, layer.name, x, x_max, shared=True)
    return StepPlan(
        kind="dot",
        parallel=parallel,
        groups=gemm.groups,
        x=x,
        y=y,
        k=gemm.k,
        pairs=pairs,
        rounds=rounds,
        x_tile=x_tile,
        y_tile=y_tile,
        y_steps=y_steps,
        vectors=ceil_div(gemm.k, machine.lanes),
        private_words=private(x_tile),
        shared_words=shared(y_tile),
        output_words=x_tile * y_tile,
    )


def _plan_map(machine: Machine, layer: Elementwise | Pool) -> StepPlan:
    """Output vectors of `lanes` elements (channels for pooling) over the pairs."""
    lanes, words = machine.lanes, machine.pmu_words
    if isinstance(layer, Pool):
        kind, window = "fold", layer.kernel_height * layer.kernel_width
        x = layer.batch * layer.out_height * layer.out_width * ceil_div(layer.channels, lanes)
        input_words = prod(layer.input_shapes[0])
    else:
        kind, window = "map", layer.arity
        x = ceil_div(prod(layer.shape), lanes)
        input_words = layer.arity * prod(layer.shape)

    def private(t: int) -> int:
        return ceil_div(input_words * t, x)

    if 2 * (private(1) + lanes) > words:
        raise _refuse(
            layer.name,
            f"one output vector's inputs need {2 * (private(1) + lanes) * WORD_BYTES / 1024:.1f} "
            f"KiB double buffered, more than a PMU's {words * WORD_BYTES / 1024:g} KiB (pmu_kib)",
            "raise --param pmu_kib",
        )
    x_max = _largest(x, lambda t: 2 * (private(t) + t * lanes) <= words)
    pairs, rounds, x_tile = _pairs_and_rounds(machine, layer.name, x, x_max, shared=False)
    return StepPlan(
        kind=kind,
        parallel="vectors",
        groups=1,
        x=x,
        y=1,
        k=window,
        pairs=pairs,
        rounds=rounds,
        x_tile=x_tile,
        y_tile=1,
        y_steps=1,
        vectors=window,
        private_words=private(x_tile),
        shared_words=0,
        output_words=x_tile * lanes,
    )


# The most steps a layer may have: the lowering lays them out one by one before finding
# their repetition (isa/program.py layer_of_steps); VGG-16's largest layer at batch 16
# has 2,146.
MAX_STEPS = 200_000


def plan_layer(machine: Machine, layer: Layer) -> StepPlan:
    if isinstance(layer, (Conv2d, Dense, MatMul)):
        plan = _plan_gemm(machine, layer)
    else:
        plan = _plan_map(machine, layer)
    if plan.steps > MAX_STEPS:
        raise _refuse(
            layer.name,
            f"its tiles make {plan.steps:,} steps; accperf lowers at most {MAX_STEPS:,} a layer",
            "give a smaller batch or model size",
        )
    return plan
