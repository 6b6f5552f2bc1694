"""The sparse layout of whole-state signatures (docs/design.md §4.3) holds exactly the dense
signature: rebuilt, it equals every location's clamped items; two sparse signatures are
equal exactly when the dense ones are; a restore gives back the state the dense layout
would. Random states around the issue floor, chunked and not, so that chunks with a write
just above the floor, with only a pending read, or with nothing above their clamps all
occur."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.engine import signatures
from analyzer.engine.layout import NEVER, SIG_CHUNK_SHIFT
from analyzer.engine.signatures import (
    FE_ISSUE,
    FE_WIDTH,
    FE_WINDOW,
    FRONTEND_COLUMNS,
)

MIN_LATENCY = 2
BASE = 100


def _frontend() -> np.ndarray:
    """One front end of width 1 and window 1 that issued its last bundle at BASE."""
    frontend = np.zeros((1, FRONTEND_COLUMNS), dtype=np.int64)
    frontend[0, FE_ISSUE] = BASE
    frontend[0, FE_WIDTH] = 1
    frontend[0, FE_WINDOW] = 1
    return frontend


def _run_starts(write_end, read_until, n_chunks) -> np.ndarray:
    """The run starts a state with these times has (analyzer/engine/runs.py): a bit
    wherever a location's times differ from the one before it in its chunk."""
    words = np.zeros(n_chunks, dtype=np.uint64)
    for x in range(1, len(write_end)):
        if x % 64 and (write_end[x], read_until[x]) != (write_end[x - 1], read_until[x - 1]):
            words[x >> 6] |= np.uint64(1) << np.uint64(x % 64)
    return words


def assert_runs_hold(state, chunk_shift):
    """No run of the state holds two locations with different times, its chunk's floor
    folded into a write time (a run start may be set where none is needed, never missing
    where one is). A state without runs has nothing to hold."""
    _, write_end, read_until, _, _, _, chunk_floor, _, _, run_start = state
    if len(run_start) == 0:
        return
    written = write_end.copy()
    if chunk_shift:
        written = np.maximum(written, chunk_floor[np.arange(len(written)) >> chunk_shift])
    needed = _run_starts(written, read_until, len(run_start))
    assert not (needed & ~run_start).any()


@st.composite
def states(draw):
    """(state, chunk_shift): write, read-until and floor times near BASE (a chunk's maximum
    and read bound exact or above them, as the kernel keeps them: no location is later)."""
    n = draw(st.one_of(st.integers(1, 8), st.integers(1, 200)))
    chunk_shift = draw(st.sampled_from((0, SIG_CHUNK_SHIFT)))
    near = st.integers(BASE - 3, BASE + 3)
    write_end = np.array(draw(st.lists(near, min_size=n, max_size=n)), dtype=np.int64)
    read_until = np.array(
        draw(st.lists(st.one_of(near, st.just(NEVER)), min_size=n, max_size=n)), dtype=np.int64
    )
    # Most locations at or below their clamps, so that whole chunks are left out.
    quiet = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    write_end[quiet] = np.minimum(write_end[quiet], BASE)
    read_until[quiet] = np.minimum(read_until[quiet], BASE + MIN_LATENCY)
    n_chunks = (n >> chunk_shift) + 1 if chunk_shift else 1
    chunk_floor = np.full(n_chunks, NEVER, dtype=np.int64)
    chunk_max = np.zeros(n_chunks, dtype=np.int64)
    chunk_read = np.full(n_chunks, NEVER, dtype=np.int64)
    if chunk_shift:
        floors = draw(
            st.lists(st.one_of(near, st.just(NEVER)), min_size=n_chunks, max_size=n_chunks)
        )
        chunk_floor[:] = floors
        for c in range(n_chunks):
            own = write_end[c << chunk_shift : (c + 1) << chunk_shift]
            top = max([chunk_floor[c], *own.tolist()])
            chunk_max[c] = top + draw(st.sampled_from((0, 0, 1, 5)))
            reads = read_until[c << chunk_shift : (c + 1) << chunk_shift]
            latest = max([NEVER, *reads.tolist()])
            chunk_read[c] = latest + draw(st.sampled_from((0, 0, 1, 5)))
    state = (
        np.array([BASE + draw(st.integers(-2, 2))], dtype=np.int64),  # unit free time
        write_end,
        read_until,
        np.array([BASE - 1], dtype=np.int64),  # issue ring
        np.array([BASE], dtype=np.int64),  # window ring
        np.zeros(0, dtype=np.int64),  # no queues
        chunk_floor,
        chunk_max,
        chunk_read,
        _run_starts(write_end, read_until, n_chunks) if chunk_shift else np.zeros(0, np.uint64),
    )
    return state, chunk_shift


def _sparse(state, chunk_shift) -> np.ndarray:
    frontend = _frontend()
    sig = np.full(signatures._signature_width(state, frontend), -7, dtype=np.int64)
    signatures._signature(
        sig, BASE, state, MIN_LATENCY, frontend, 0, 1, BASE + 1,
        np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), chunk_shift,
    )  # fmt: skip
    return sig


def _dense_locations(state, chunk_shift) -> np.ndarray:
    """Every location's two items as docs/design.md §4.3 defines them."""
    _, write_end, read_until, _, _, _, chunk_floor, _, _, run_start = state
    written = write_end.copy()
    if chunk_shift:
        written = np.maximum(written, chunk_floor[np.arange(len(written)) >> chunk_shift])
    items = np.empty((len(written), 2), dtype=np.int64)
    items[:, 0] = np.maximum(written, BASE) - BASE
    items[:, 1] = np.maximum(read_until, BASE + MIN_LATENCY) - BASE
    return items


def _kept_chunks(sig, n_locations) -> list[tuple[int, np.ndarray]]:
    """The chunks a sparse signature keeps, in order: (index, its items as rows of two)."""
    n_chunks = -(-n_locations >> SIG_CHUNK_SHIFT)
    pos = len(sig) - 1 - n_chunks - 2 * n_locations
    chunks = []
    while pos < sig[-1]:
        c = int(sig[pos])
        lo = c << SIG_CHUNK_SHIFT
        hi = min(lo + (1 << SIG_CHUNK_SHIFT), n_locations)
        chunks.append((c, sig[pos + 1 : pos + 1 + 2 * (hi - lo)].reshape(-1, 2)))
        pos += 1 + 2 * (hi - lo)
    assert pos == sig[-1]
    return chunks


def _rebuilt_locations(sig, n_locations) -> np.ndarray:
    """The locations' items a sparse signature stands for."""
    items = np.empty((n_locations, 2), dtype=np.int64)
    items[:, 0], items[:, 1] = 0, MIN_LATENCY
    chunks = _kept_chunks(sig, n_locations)
    for c, kept in chunks:
        lo = c << SIG_CHUNK_SHIFT
        items[lo : lo + len(kept)] = kept
        # A chunk is kept only with an item above its clamp.
        assert (kept != (0, MIN_LATENCY)).any()
    indices = [c for c, _ in chunks]
    assert indices == sorted(set(indices))
    return items


@settings(max_examples=300, deadline=None)
@given(states())
def test_a_sparse_signature_holds_the_dense_one(drawn):
    state, chunk_shift = drawn
    sig = _sparse(state, chunk_shift)
    n_locations = len(state[1])
    assert np.array_equal(
        _rebuilt_locations(sig, n_locations), _dense_locations(state, chunk_shift)
    )


@st.composite
def pairs(draw):
    """Two states of one machine: the second the first with a few times changed, often
    only below their clamps (so the dense signatures are equal), sometimes just above."""
    state, chunk_shift = draw(states())
    other = tuple(part.copy() for part in state)
    _, write_end, read_until, _, _, _, chunk_floor, chunk_max, chunk_read, run_start = other
    n = len(write_end)
    for _ in range(draw(st.integers(0, 3))):
        x = draw(st.integers(0, n - 1))
        if draw(st.booleans()):
            write_end[x] = draw(st.integers(BASE - 3, BASE + 1))
        else:
            read_until[x] = draw(st.one_of(st.integers(BASE - 3, BASE + 3), st.just(NEVER)))
    if chunk_shift:
        for c in range(len(chunk_max)):
            own = write_end[c << chunk_shift : (c + 1) << chunk_shift]
            chunk_max[c] = max([chunk_max[c], chunk_floor[c], *own.tolist()])
            reads = read_until[c << chunk_shift : (c + 1) << chunk_shift]
            chunk_read[c] = max([chunk_read[c], *reads.tolist()])
    if chunk_shift:
        run_start[:] = _run_starts(write_end, read_until, len(run_start))
    return (state, other), chunk_shift


@settings(max_examples=400, deadline=None)
@given(pairs())
def test_sparse_signatures_are_equal_exactly_when_the_dense_ones_are(drawn):
    (a, b), chunk_shift = drawn
    sig_a, sig_b = _sparse(a, chunk_shift), _sparse(b, chunk_shift)
    dense_equal = np.array_equal(_dense_locations(a, chunk_shift), _dense_locations(b, chunk_shift))
    assert signatures._equal(sig_a, sig_b) == dense_equal
    assert signatures._equal(sig_b, sig_a) == dense_equal


@settings(max_examples=200, deadline=None)
@given(states(), st.integers(0, 50))
def test_a_restore_gives_back_the_clamped_state_shifted(drawn, gain):
    # A restore writes the chunks the signature keeps, exactly, and leaves every other
    # location as it is: on the path to the signature (here: the signed state itself,
    # moved `gain` ahead) those hold nothing above their clamps, so the state clamped at
    # the new floor is the signed one shifted.
    state, chunk_shift = drawn
    sig = _sparse(state, chunk_shift)
    restored = tuple(part.copy() for part in state)
    frontend = _frontend()
    signatures._restore(
        sig, BASE + gain, restored, frontend, np.zeros(1, dtype=np.int64),
        np.zeros(0, dtype=np.int64), chunk_shift,
    )  # fmt: skip
    _, write_end, read_until, _, _, _, chunk_floor, chunk_max, chunk_read, run_start = restored
    expected = _dense_locations(state, chunk_shift) + BASE + gain
    n = len(write_end)
    kept = np.zeros(n, dtype=bool)
    for c, _ in _kept_chunks(sig, n):
        kept[c << SIG_CHUNK_SHIFT : (c + 1) << SIG_CHUNK_SHIFT] = True
    written = write_end.copy()
    if chunk_shift:
        written = np.maximum(written, chunk_floor[np.arange(n) >> chunk_shift])
    assert np.array_equal(written[kept], expected[kept, 0])
    assert np.array_equal(read_until[kept], expected[kept, 1])
    assert np.array_equal(write_end[~kept], state[1][~kept])
    assert np.array_equal(read_until[~kept], state[2][~kept])
    floor = BASE + gain
    assert np.array_equal(np.maximum(written, floor), expected[:, 0])
    assert np.array_equal(np.maximum(read_until, floor + MIN_LATENCY), expected[:, 1])
    assert_runs_hold(restored, chunk_shift)
    if chunk_shift:
        # A rewritten chunk's floor starts over and its bounds are its restored times; the
        # others keep theirs, which still bound their locations.
        for c in range(len(chunk_max)):
            lo, hi = c << chunk_shift, (c + 1) << chunk_shift
            if lo < n and kept[lo]:
                assert chunk_floor[c] == NEVER
                assert chunk_max[c] == write_end[lo:hi].max()
                assert chunk_read[c] == read_until[lo:hi].max()
            else:
                assert chunk_floor[c] == state[6][c]
                assert chunk_max[c] == state[7][c]
                assert chunk_read[c] == state[8][c]


@settings(max_examples=200, deadline=None)
@given(pairs(), st.integers(0, 50))
def test_a_restore_onto_another_state_sets_its_runs(drawn, gain):
    # The loop memo restores an exit signature onto whatever state meets the same entry:
    # the chunks it writes must get run starts of their own.
    (signed, other), chunk_shift = drawn
    if chunk_shift:
        other[9][:] = _run_starts(other[1], other[2], len(other[9]))
    signatures._restore(
        _sparse(signed, chunk_shift), BASE + gain, other, _frontend(),
        np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), chunk_shift,
    )  # fmt: skip
    assert_runs_hold(other, chunk_shift)


def _chunked_state(n: int, written: int, late: int | None = None) -> tuple:
    """A state of n chunked locations, every write time `written` but location `late`'s,
    which ends at BASE + 1, one cycle past the issue floor; no reads."""
    n_chunks = (n >> SIG_CHUNK_SHIFT) + 1
    write_end = np.full(n, written, dtype=np.int64)
    if late is not None:
        write_end[late] = BASE + 1
    read_until = np.full(n, NEVER, dtype=np.int64)
    chunks = [write_end[c << SIG_CHUNK_SHIFT : (c + 1) << SIG_CHUNK_SHIFT] for c in range(n_chunks)]
    return (
        np.array([BASE], dtype=np.int64),
        write_end,
        read_until,
        np.array([BASE - 1], dtype=np.int64),
        np.array([BASE], dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.full(n_chunks, NEVER, dtype=np.int64),
        np.array([max(chunk.tolist(), default=NEVER) for chunk in chunks], dtype=np.int64),
        np.full(n_chunks, NEVER, dtype=np.int64),
        _run_starts(write_end, read_until, n_chunks),
    )


def test_a_memo_restore_sets_the_run_starts_of_a_chunk_it_writes():
    # The memo writes an exit signature onto a state it was not taken from: here one whose
    # chunk 0 is a single run. The signature keeps chunk 0 for location 3, written one
    # cycle past the floor; restored, location 3 differs from 2 and 4, so runs must start
    # at 3 and 4 (a clear bit would let the translated kernels read 0..63 as one time).
    signed = _chunked_state(70, BASE - 5, late=3)
    other = _chunked_state(70, BASE - 5)
    assert not other[9].any()
    signatures._restore(
        _sparse(signed, SIG_CHUNK_SHIFT), BASE, other, _frontend(),
        np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), SIG_CHUNK_SHIFT,
    )  # fmt: skip
    assert other[1][3] == BASE + 1 and other[1][2] == other[1][4] == BASE
    assert other[9][0] & np.uint64((1 << 3) | (1 << 4)) == np.uint64((1 << 3) | (1 << 4))
    assert_runs_hold(other, SIG_CHUNK_SHIFT)


def test_a_chunk_written_one_cycle_past_the_floor_is_kept():
    # The boundary of the chunk maxima's shortcut: a chunk whose latest write ends at the
    # issue floor + 1, every read at its clamp, holds an item above its clamp.
    n = 70
    state = _chunked_state(n, BASE - 5, late=3)
    assert state[7].tolist() == [BASE + 1, BASE - 5]  # the chunk maxima, exact
    rebuilt = _rebuilt_locations(_sparse(state, SIG_CHUNK_SHIFT), n)
    assert rebuilt[3, 0] == 1
    assert np.array_equal(rebuilt, _dense_locations(state, SIG_CHUNK_SHIFT))
