"""Gemmini's commands as instruction templates: what each waits on, marks, and costs.

G = ucb-bar/gemmini @8c3f992 (src/main/scala/gemmini/); isa/gemmini/lowering.py's docstring has the
timing rules these templates implement, docs/gemmini/timing.md the reading notes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from math import gcd

from accelerators.description import Accelerator
from isa.gemmini.hierarchy import FIRST_TOUCH, MemoryPath, Where
from isa.gemmini.tiling import GemminiMemory
from isa.program import MAC_ACTION, Block, BlockRef, Operand, Template, memory_action
from isa.validation import MAX_CYCLES_PER_INSTRUCTION
from tracer.errors import DescriptionError

# Shadow spaces of the reservation station's hazard checks (isa/gemmini/lowering.py's docstring).
SPAD_SPACES = ("spad_loaded", "spad_read")
ACC_SPACES = ("acc_loaded", "acc_computed", "acc_stored")
# Per half: when the tile's load stream issued its last load. The execute stream of a loop
# starts its computes only once its loads are all issued (G LoopConv.scala:723, the
# ld*_completed inputs of the execute machine: the load machines idle, :1266-1268).
TOKEN_SPACE = "loads_issued"
# Per half: when the loop (tile) last in it retired. The unrollers hold two loops at a time
# and take the next only when the older retires (G LoopConv.scala:1253,1517-1519;
# LoopMatmul.scala likewise), which it does once each of its streams has issued its last
# command (a stream is "completed" when its state machine is idle, :1501-1515): a tile's
# loads wait for the tile two before it, which used the same scratchpad half.
RETIRED_SPACE = "loop_retired"
MESH_SPACE = "mesh_drained"  # when the last row of every compute so far has left the mesh
# The RoCC command queue's order: an unroller's streams start only after the commands the
# CPU issued before the loop (the program's flush) have been taken.
ROCC_SPACE = "rocc_taken"
# The reservation station's queues, as the CPU sees them when it issues commands itself
# (output stationary): a full one stalls the CPU (G ReservationStation.scala, alloc.ready).
RS_QUEUES = {"load": "rs_load", "execute": "rs_execute", "store": "rs_store"}
# Each queue's size: the --param giving its entries.
RS_ENTRIES = {
    "rs_load": "rs_ld_entries",
    "rs_execute": "rs_ex_entries",
    "rs_store": "rs_st_entries",
}

# The loop unrollers' command streams, each issued by its own state machine behind the
# arbiter, stalled only by its own class of RS entries (G LoopConv.scala:1220-1270,
# LoopMatmul.scala:959-1003): a front end each (docs/design.md §3.2), named by controller.
STREAMS = {"load": "ld", "execute": "ex", "store": "st"}

Loops = dict[str, tuple[int, int, int]]  # variable -> (loop depth or -1, first value, step)

# The memories whose reads and writes the commands count (docs/gemmini/actions.md), each in
# words of one element: main memory as the DMA sees it (bytes), the scratchpad (input
# elements) and the accumulator (accumulator elements).
DRAM = "dram"
SCRATCHPAD = "scratchpad"
ACCUMULATOR = "accumulator"
# Element widths of the default config: inputType SInt(8), accType SInt(32) (G
# Configs.scala:23,25); the DMA and the timing below move rows of these.
INPUT_BYTES = 1
ACC_BYTES = 4


def actions(**amounts: int) -> tuple[tuple[str, int], ...]:
    """A template's actions from keyword amounts (mac, dram_read, scratchpad_write, ...),
    the zero ones left out."""
    named = []
    for key, amount in amounts.items():
        if amount:
            memory, _, access = key.rpartition("_")
            named.append((MAC_ACTION if key == "mac" else memory_action(memory, access), amount))
    return tuple(named)


# An mvin from DRAM address 0 writes zeros (NO_BIAS's bias loads): from the load
# controller's request to the row in the accumulator, the ZeroWriter's request register
# and the bank write (derived, G ZeroWriter.scala:37-43, Scratchpad.scala:360-389,
# 807-875). The pixel repeater's stage is not counted, as on the DRAM path (the load
# unit's + 4).
ZERO_FILL_LATENCY = 2


def _row_gets(offset: int, row_bytes: int, sizes: tuple[int, ...]) -> list[int]:
    """The sizes of the TileLink Gets the DMA reader issues for one row of `row_bytes`
    bytes starting `offset` bytes into an aligned block of the largest size: of the
    power-of-two sizes from a bus beat to dma_maxbytes, each aligned to itself, it takes
    the one covering the most of what is left of the row (the smaller on a tie) and goes
    on after it (G DMA.scala:180-203, 277-284)."""
    gets = []
    while row_bytes > 0:
        size, covered = max(
            ((size, min(size - offset % size, row_bytes)) for size in sizes),
            key=lambda choice: (choice[1], -choice[0]),
        )
        gets.append(size)
        offset += covered
        row_bytes -= covered
    return gets


def request_sizes(beat_bytes: int, dma_maxbytes: int) -> tuple[int, ...]:
    """The sizes of the Gets the DMA reader may issue: the powers of two from a bus beat
    to dma_maxbytes (G DMA.scala:180-203)."""
    return tuple(size for size in range(beat_bytes, dma_maxbytes + 1) if size & (size - 1) == 0)


@cache
def row_requests(
    rows: int, row_bytes: int, stride: int, dma_maxbytes: int, beat_bytes: int
) -> tuple[int, int]:
    """(Gets, beats) of `rows` rows of `row_bytes` bytes, `stride` bytes apart in DRAM, as
    the reader splits them (_row_gets). Where a row starts within an aligned block of
    dma_maxbytes decides: tensors start aligned, so a command's first row starts at a
    multiple of gcd(stride, dma_maxbytes) (at 0 for a zero or unknown stride) and its
    rows i x stride after it. An instruction stands for commands at all those starts, so
    it counts their mean, rounded up (derived): aligned rows cost what their bytes do (a
    16-byte row one Get of one beat, 48 bytes one 64-byte Get of 4 beats); a 3-byte pixel
    of a 3-channel input 1.03 Gets and 1.19 beats (a 32- or 64-byte Get when it straddles
    16 or 32 bytes, two when it straddles 64)."""
    sizes = request_sizes(beat_bytes, dma_maxbytes)
    step = gcd(stride, dma_maxbytes) if stride else dma_maxbytes
    starts = range(0, dma_maxbytes, step)
    gets = beats = 0
    for start in starts:
        for row in range(rows):
            of_row = _row_gets((start + row * stride) % dma_maxbytes, row_bytes, sizes)
            gets += len(of_row)
            beats += sum(size // beat_bytes for size in of_row)
    return -(-gets // len(starts)), -(-beats // len(starts))


@dataclass(frozen=True)
class Timing:
    dim: int
    bus_bytes: int
    dma_maxbytes: int
    inflight: int
    load_latency: int
    execute_latency: int
    store_latency: int
    store_row_cycles: int
    path: MemoryPath

    def mvin(
        self, rows: int, row_bytes: int, one_row: bool, where: Where = FIRST_TOUCH
    ) -> tuple[int, int]:
        """(occupancy of the reader, latency) of an mvin whose rows are `where`: requests
        (row_requests) are issued one per cycle, at most `inflight` outstanding, data one
        beat per cycle of the narrower of the DMA's and the system bus (G
        DMA.scala:180-289), each request waiting its level's reach, the L2 serving them as
        MemoryPath.occupancy says, the requests queued behind a line's first one after
        another for their beats: the L2 answers one request at a time, a beat a cycle
        (inclusive cache SourceD.scala:128-140, busy until a response's last beat), so they
        are counted in beats.
        A zero DRAM stride reads one row and repeats it (G LoadController.scala:76,105)."""
        fetched = 1 if one_row else rows
        beat_bytes = min(self.bus_bytes, self.path.system_bus_bytes)
        gets, beats = row_requests(fetched, row_bytes, where.stride, self.dma_maxbytes, beat_bytes)
        reach = self.path.reach(where.level)
        lines = self.path.lines(fetched, row_bytes, where)
        line_beats = 1 + -(-(lines.per_line - 1) * beats // gets)  # the first, then a beat a cycle
        issue = max(
            gets,
            beats,
            -(-(gets * reach + beats) // self.inflight),
            self.path.occupancy(where.level, gets, lines, line_beats),
        )
        last_beats = -(-beats // gets)  # the last request's: those of a mean one
        latency = issue + reach + self.load_latency + last_beats + (rows - fetched)
        return issue, latency

    def zero_fill(self, rows: int, row_bytes: int, to_acc: bool) -> tuple[int, int]:
        """(occupancy, latency) of an mvin from DRAM address 0: no DRAM request; the load
        controller sends every row (a zero stride repeats nothing here) and the ZeroWriter
        writes DIM columns a cycle (G LoadController.scala:72-76,105-109;
        ZeroWriter.scala:41-65)."""
        element_bytes = 4 if to_acc else 1
        cycles = rows * -(-row_bytes // (element_bytes * self.dim))
        return cycles, cycles + ZERO_FILL_LATENCY

    def mvout(self, rows: int, blocks: int = 1, reads: int = 0, where: Where = FIRST_TOUCH) -> int:
        """Cycles of an mvout writing `rows` rows of `blocks` DIM-column blocks, reading
        `reads` accumulator rows (default rows x blocks; a pooled mvout reads every window
        element, G StoreController.scala:59-82), to rows that are `where`: the scale
        pipeline's rate, or the writer's `inflight` outstanding writes, each waiting its
        level's reach (G DMA.scala:383-407), or the L2's service of them, whichever is
        slowest, plus the read and scale latency."""
        row_bytes = blocks * self.dim
        beats = -(-row_bytes // min(self.bus_bytes, self.path.system_bus_bytes))
        rate = max(
            (reads or rows * blocks) * self.store_row_cycles,
            -(-rows * (self.path.reach(where.level) + beats) // self.inflight),
            self.path.occupancy(where.level, rows, self.path.lines(rows, row_bytes, where)),
        )
        return rate + self.store_latency


class Affine:
    """An address `base + sum(coef[v] * index[v])` over named loop variables."""

    def __init__(self, base: int, **coefs: int) -> None:
        self.base = base
        self.coefs = coefs

    def operand(self, space: str, count: int, loops: Loops) -> Operand:
        """`loops` maps a variable to (depth of its loop or -1 when fixed, first value,
        step per trip); a variable not in `loops` is 0."""
        base = self.base
        coefs: dict[int, int] = {}
        for var, coef in self.coefs.items():
            depth, first, step = loops.get(var, (-1, 0, 0))
            base += coef * first
            if depth >= 0 and coef:
                coefs[depth] = coefs.get(depth, 0) + coef * step
        width = max(coefs) + 1 if coefs else 0
        return Operand(space, base, count, tuple(coefs.get(d, 0) for d in range(width)))


class GemminiCommands:
    """The commands of one Gemmini configuration, as instruction templates with their
    timing; shared blocks of templates are collected in `blocks`."""

    def __init__(self, accelerator: Accelerator) -> None:
        p = accelerator.parameters
        units = accelerator.units
        self.dim = int(p["dim"])
        self.memory = GemminiMemory(
            dim=self.dim,
            scratchpad_rows=int(p["scratchpad_kib"]) * 1024 // self.dim,
            accumulator_rows=int(p["accumulator_kib"]) * 1024 // (4 * self.dim),
        )
        self.timing = Timing(
            dim=self.dim,
            bus_bytes=int(p["bus_bytes"]),
            dma_maxbytes=int(p["dma_maxbytes"]),
            inflight=int(p["max_in_flight_reqs"]),
            load_latency=units["load"].latency,
            execute_latency=units["execute"].latency,
            store_latency=units["store"].latency,
            store_row_cycles=units["store"].occupancy,
            path=MemoryPath(
                system_bus_bytes=int(p["system_bus_bytes"]),
                system_bus_latency=int(p["system_bus_latency"]),
                l2_hit_latency=int(p["l2_hit_latency"]),
                l2_line_bytes=int(p["l2_line_bytes"]),
                l2_mshrs=int(p["l2_mshrs"]),
                memory_bus_bytes=int(p["memory_bus_bytes"]),
                memory_bus_latency=int(p["memory_bus_latency"]),
                dram_latency=int(p["dram_latency"]),
                llc_block_bytes=int(p["llc_block_bytes"]) if int(p["llc_kib"]) else 0,
                llc_mshrs=int(p["llc_mshrs"]),
                llc_lookup_latency=int(p["llc_lookup_latency"]) if int(p["llc_kib"]) else 0,
            ),
        )
        beat_bytes = min(self.timing.bus_bytes, self.timing.path.system_bus_bytes)
        if not request_sizes(beat_bytes, self.timing.dma_maxbytes):
            raise DescriptionError(
                f"accelerator gemmini: the DMA reads in Gets of a power of two of bytes from "
                f"a bus beat (min(bus_bytes, system_bus_bytes) = {beat_bytes}) to "
                f"dma_maxbytes = {self.timing.dma_maxbytes}, and none lies between them; "
                "give --param dma_maxbytes at least the next power of two, or a narrower bus"
            )
        self.spad_half = self.memory.scratchpad_rows // 2
        self.acc_half = self.memory.accumulator_rows // 2
        self.blocks: list[Block] = []
        self._block_ids: dict[tuple[Template, ...], int] = {}

    # ------------------------------------------------------------------ instructions

    def _check_cycles(self, cycles: int, opcode: str) -> None:
        if cycles > MAX_CYCLES_PER_INSTRUCTION:
            raise DescriptionError(
                f"accelerator gemmini: with dram_latency={self.timing.path.dram_latency} and "
                f"max_in_flight_reqs={self.timing.inflight} one {opcode} takes {cycles:,} "
                f"cycles, more than the {MAX_CYCLES_PER_INSTRUCTION:,} an instruction may "
                "take; lower --param dram_latency or raise --param max_in_flight_reqs"
            )

    def block(self, name: str, templates: list[Template]) -> BlockRef:
        key = tuple(templates)
        if key not in self._block_ids:
            self._block_ids[key] = len(self.blocks)
            self.blocks.append(Block(name, key))
        return BlockRef(self._block_ids[key])

    def mvin(
        self,
        opcode: str,
        rows: int,
        row_bytes: int,
        to_acc: bool,
        dst: Affine,
        count: int,
        loops: Loops,
        half: int | None,
        one_row: bool | None = None,
        zeros: bool = False,
        cols: int | None = None,
        element_bytes: int | None = None,
        accumulate: bool = False,
        where: Where = FIRST_TOUCH,
    ) -> Template:
        """`where`: the memory level holding its rows and their DRAM stride
        (isa/gemmini/hierarchy.py). `one_row`: a zero DRAM stride (a bias row repeated);
        by default, for the accumulator (bias) loads. `zeros`: from DRAM address 0, zero
        rows without DRAM traffic (Timing.zero_fill). `half`: the scratchpad half of the
        unroller's tile it loads for, whose loop two before must have retired, or None.

        Actions (docs/gemmini/actions.md): `cols` elements of each row moved (by default
        row_bytes' worth), each `element_bytes` in DRAM (by default an accumulator element
        into the accumulator, an input element into the scratchpad; a shrunk load into the
        accumulator reads input elements, G LoadController.scala:100-101). DRAM is read
        once per row fetched (a zero stride fetches one, :76), the destination written
        rows x cols (masked writes, G Scratchpad.scala:181-183); `accumulate` adds to the
        accumulator, which reads each whole row it writes first (G
        AccumulatorMem.scala:183-184)."""
        one_row = to_acc if one_row is None else one_row
        if zeros:
            occupancy, latency = self.timing.zero_fill(rows, row_bytes, to_acc)
        else:
            occupancy, latency = self.timing.mvin(rows, row_bytes, one_row, where)
        if element_bytes is None:
            element_bytes = ACC_BYTES if to_acc else INPUT_BYTES
        if cols is None:
            cols = row_bytes // element_bytes
        fetched = 0 if zeros else 1 if one_row else rows
        acc_rows_read = rows * -(-cols // self.dim) if accumulate else 0
        moved = actions(
            dram_read=fetched * cols * element_bytes,
            accumulator_read=acc_rows_read * self.dim,
            **{f"{ACCUMULATOR if to_acc else SCRATCHPAD}_write": rows * cols},
        )
        self._check_cycles(latency, opcode)
        if to_acc:  # bias: waits for the execute and store controllers' use of its rows
            waits = ("acc_computed", "acc_stored")
            marks = ("acc_loaded",)
        else:  # waits for computes that still read the rows it overwrites (WAR)
            waits = ("spad_read",)
            marks = ("spad_loaded",)
        return Template(
            opcode=opcode,
            unit="load",
            instance=0,
            latency=latency,
            occupancy=occupancy,
            read_time=0,
            reads=tuple(dst.operand(s, count, loops) for s in waits)
            + (() if half is None else (Operand(RETIRED_SPACE, half),)),
            writes=(),
            bundle_start=True,
            marks=tuple(dst.operand(s, count, loops) for s in marks),
            queue="load",
            frontend=STREAMS["load"],
            actions=moved,
        )

    def preload(
        self,
        weights: Affine | None,
        weight_rows: int,
        out: Affine,
        out_rows: int,
        group_rows: int,
        loops: Loops,
        half: int,
    ) -> Template:
        reads = [out.operand(s, out_rows, loops) for s in ("acc_loaded", "acc_stored")]
        read_marks: tuple[Operand, ...] = ()
        if weights is not None:
            reads.append(weights.operand("spad_loaded", weight_rows, loops))
            reads.append(Operand(TOKEN_SPACE, half))
            read_marks = (weights.operand("spad_read", weight_rows, loops),)
        # Weights come from the scratchpad a whole row at a time (its SRAM has no read
        # mask, G Scratchpad.scala:163); GARBAGE reads nothing (ExecuteController.scala:424-426).
        read = weight_rows * self.dim if weights is not None else 0
        return Template(
            opcode="preload",
            unit="execute",
            instance=0,
            # Its RS entry is freed when the outputs of its compute leave the mesh.
            latency=group_rows - 1 + self.timing.execute_latency,
            occupancy=0,  # it fires with its compute, which carries the group's rows
            read_time=self.dim,
            reads=tuple(reads),
            writes=(),
            bundle_start=True,
            read_marks=read_marks,
            queue="execute",
            frontend=STREAMS["execute"],
            actions=actions(scratchpad_read=read),
        )

    def compute(
        self,
        opcode: str,
        a: Affine,
        a_rows: int,
        out: Affine,
        out_rows: int,
        group_rows: int,
        loops: Loops,
        out_cols: int | None = None,
        accumulate: bool = True,
    ) -> Template:
        """A WS compute of `out_rows` A rows (one per output pixel) in a group of
        `group_rows` mesh rows, its outputs `out_cols` wide (default DIM). Actions:
        every row the mesh fires (zero rows of a padded group included) passes all
        DIM x DIM PEs, each a MAC (G PE.scala: one mac_unit use per valid row;
        ExecuteController.scala:293-299,875); each A row read whole
        from the scratchpad; each output row written to its `out_cols` accumulator
        columns (the element mask, ExecuteController.scala:922-923,951-956), read first
        when it `accumulate`s (AccumulatorMem.scala:183-184)."""
        dim = self.dim
        out_cols = dim if out_cols is None else out_cols
        moved = actions(
            mac=group_rows * dim * dim,
            scratchpad_read=out_rows * dim,
            accumulator_read=out_rows * dim if accumulate else 0,
            accumulator_write=out_rows * out_cols,
        )
        return Template(
            opcode=opcode,
            unit="execute",
            instance=0,
            latency=group_rows - 1 + self.timing.execute_latency,
            occupancy=group_rows,
            read_time=group_rows,  # its A rows are read as the rows fire
            reads=(a.operand("spad_loaded", a_rows, loops),),
            writes=(),
            bundle_start=True,
            read_marks=(a.operand("spad_read", a_rows, loops),),
            marks=(out.operand("acc_computed", out_rows, loops), Operand(MESH_SPACE, 0)),
            queue="mesh",
            frontend=STREAMS["execute"],
            actions=moved,
        )

    def os_preload(
        self,
        out: Affine | None,
        out_rows: int,
        a: Affine,
        a_rows: int,
        b: Affine,
        b_rows: int,
        loops: Loops,
        first: bool,
        out_cols: int = 0,
        accumulate: bool = True,
    ) -> Template:
        """Output stationary (sp_tiled_matmul_os, T gemmini.h L454-481): the preload names
        where its pair's results go (`out`, or GARBAGE before the last k) and brings no
        weights. Every OS group is DIM rows (G ExecuteController.scala:285-302). The RTL
        fires a preload alone only when no compute precedes it (`first`, DIM rows,
        ExecuteController.scala:585-597), otherwise with the previous compute (mul_pre,
        :600-610). Here it fires with its own compute (it waits for the same rows), and
        its results leave the mesh during the next group (the PEs shift them out as the
        next matmul accumulates; docs/gemmini/timing.md 4.4-4.5): they land DIM rows plus
        the execute latency after the compute's last row. The RS frees a preload with an
        address when its last result row is out (ExecuteController.scala:970-978), one
        with GARBAGE when it fires (:643,662).

        Actions: a preload fired alone sends DIM zero rows through the PEs (MACs, as any
        valid row, G PE.scala); one with an address writes its `out_rows` result rows to
        `out_cols` accumulator columns (ExecuteController.scala:919-956), reading each
        row first when it accumulates onto a bias or an earlier k0 tile's sums (T
        gemmini.h L394, L458-463)."""
        fired = self.dim if first else 0
        written = out_rows * out_cols if out is not None else 0
        reads = [a.operand("spad_loaded", a_rows, loops), b.operand("spad_loaded", b_rows, loops)]
        marks: tuple[Operand, ...] = ()
        latency = fired
        if out is not None:
            reads += [out.operand(s, out_rows, loops) for s in ("acc_loaded", "acc_stored")]
            marks = (out.operand("acc_computed", out_rows, loops), Operand(MESH_SPACE, 0))
            latency = fired + 2 * self.dim - 1 + self.timing.execute_latency
        return Template(
            opcode="preload",
            unit="execute",
            instance=0,
            latency=latency,
            occupancy=fired,
            read_time=0,
            reads=tuple(reads),
            writes=(),
            bundle_start=True,
            marks=marks,
            issue_queue=RS_QUEUES["execute"],
            actions=actions(
                mac=fired * self.dim * self.dim,
                accumulator_read=out_rows * self.dim if written and accumulate else 0,
                accumulator_write=written,
            ),
        )

    def os_compute(
        self, opcode: str, a: Affine, a_rows: int, b: Affine, b_rows: int, loops: Loops
    ) -> Template:
        """Output stationary: A and B both stream from the scratchpad, DIM rows; the RS
        frees a compute when its last row fires (G ExecuteController.scala:661,678).
        Actions: DIM rows through the DIM x DIM PEs, the A and B rows read whole."""
        operands = (
            a.operand("spad_loaded", a_rows, loops),
            b.operand("spad_loaded", b_rows, loops),
        )
        return Template(
            opcode=opcode,
            unit="execute",
            instance=0,
            latency=self.dim,
            occupancy=self.dim,
            read_time=self.dim,
            reads=operands,
            writes=(),
            bundle_start=True,
            read_marks=tuple(replace(o, space="spad_read") for o in operands),
            issue_queue=RS_QUEUES["execute"],
            actions=actions(mac=self.dim**3, scratchpad_read=(a_rows + b_rows) * self.dim),
        )

    def flush(self) -> Template:
        """gemmini_flush: the TLB flush a program issues before its first layer
        (T imagenet/resnet50.c L22); the front end takes it in one cycle, without an RS
        entry (G Controller.scala:488-494)."""
        return Template(
            opcode="flush",
            unit="rocc",
            instance=0,
            latency=1,
            occupancy=1,
            read_time=0,
            reads=(),
            writes=(),
            bundle_start=True,
            marks=(Operand(ROCC_SPACE, 0),),
        )

    def config(self, unit: str) -> Template:
        """config_ld / config_ex / config_st, one per stream of a tile (G LoopConv.scala:1207).
        config_ex runs only with no matmul in the mesh (G ExecuteController.scala:541,579):
        it waits for every earlier compute's last row. The others take their controller
        one cycle (they complete on issue, G ReservationStation.scala:383). Each opens its
        stream, so it waits for the CPU's earlier commands to be taken (ROCC_SPACE)."""
        opcode = {"load": "config_ld", "execute": "config_ex", "store": "config_st"}[unit]
        return Template(
            opcode=opcode,
            unit=unit,
            instance=0,
            latency=1,
            occupancy=1,
            read_time=1,
            reads=(
                Operand(ROCC_SPACE, 0),
                *((Operand(MESH_SPACE, 0),) if unit == "execute" else ()),
            ),
            writes=(),
            bundle_start=True,
            frontend=STREAMS[unit],
        )

    def stream_done(self, unit: str, half: int) -> Template:
        """The point at which a tile's `unit` stream has issued its last command: issued
        right after it from the same front end, it marks the loop in `half` as done with
        that stream when it issues (the load stream's for the tile's computes, the
        execute and store streams' for the loop's retirement). It takes no time and
        occupies nothing (the RoCC unit, occupancy 0): bookkeeping of the unroller, not a
        command the RS sees."""
        return Template(
            opcode=f"{STREAMS[unit]}_stream_done",
            unit="rocc",
            instance=0,
            latency=0,
            occupancy=0,
            read_time=0,
            reads=(),
            writes=(),
            bundle_start=True,
            marks=(Operand(TOKEN_SPACE if unit == "load" else RETIRED_SPACE, half),),
            frontend=STREAMS[unit],
        )

    def mvout(
        self,
        src: Affine,
        count: int,
        loops: Loops,
        rows: int,
        cols: int | None = None,
        blocks: int = 1,
        reads: int = 0,
        where: Where = FIRST_TOUCH,
    ) -> Template:
        """An mvout of `rows` x `blocks` blocks over accumulator rows [src, src + count),
        `cols` elements of each row (of `blocks` DIM-blocks; default all) written to DRAM as input
        elements (scaled, G StoreController.scala; AccumulatorScale.scala). Actions: each
        accumulator row it reads (`reads`, default rows x blocks) read whole, rows x cols
        bytes written to DRAM."""
        cycles = self.timing.mvout(rows, blocks, reads, where)
        cols = blocks * self.dim if cols is None else cols
        self._check_cycles(cycles, "mvout")
        return Template(
            opcode="mvout",
            unit="store",
            instance=0,
            latency=cycles,
            occupancy=cycles,  # the RS releases an mvout's successor only at its completion
            read_time=cycles,
            reads=tuple(src.operand(s, count, loops) for s in ("acc_loaded", "acc_computed")),
            writes=(),
            bundle_start=True,
            marks=(src.operand("acc_stored", count, loops),),
            frontend=STREAMS["store"],
            actions=actions(
                accumulator_read=(reads or rows * blocks) * self.dim,
                dram_write=rows * cols * INPUT_BYTES,
            ),
        )


def issued_by_cpu(template: Template) -> Template:
    """`template` as the CPU issues it (sp_tiled_matmul_os), from the program's default
    front end, one command at a time: it needs an entry of its controller's RS queue to
    issue, and the CPU waits for one in order."""
    return replace(template, issue_queue=RS_QUEUES[template.unit], frontend=None)
