"""Numba kernel: SCALE-Sim 3.0.0's double-buffered SRAMs, replayed over one GEMM's demand.

The systolic array's compute side is the instruction-level evaluation (analyzer/engine/kernels.py).
This kernel is its memory side for a DRAM bandwidth other than "unlimited": it walks the
array's demand rows (one row = one cycle of the stall-free schedule) fold by fold and
returns the stall cycles the operand SRAMs add, with SCALE-Sim's rules. Its shortcuts
(docs/design.md §5) pass runs of rows that can neither stall nor move a buffer, remember
im2col words found resident, and make a read's window moves in one step; the walk without
them is kept as their reference (gemm_walk). Paths are in the
`scalesim` package, line numbers approximate (docs/scalesim_memory_model.md has the
prose):

  rows and stalls  memory/double_buffered_scratchpad_mem.py, service_memory_requests
                   (~234-310): row i is issued at i + stalls so far; the row adds the
                   largest lateness of the ifmap read, filter read and ofmap write.
  read buffers     memory/read_buffer.py: an S-word SRAM has an active part
                   A = ceil(S/2) and a prefetch part P = S - A (~84-86); the prefetch
                   order is cut into lines of ceil(S/100) words (~178-203); a window of
                   ceil(A/line) lines is resident, a demand outside it moves the window
                   ceil(P/line) lines on, wrapping around (~464-472); move k completes
                   at DRAM cycle k * (ceil(P/bw) + 1) - 1, back to back from the free
                   first fill (~385-448, 505-517); a late demand's lateness counts twice
                   (~359-364), an early one pulls the row's offset back.
  write buffer     memory/write_buffer.py, service_writes (~189-215): a drain of
                   D = S - ceil(S/2) words starts when more than D are held and no drain
                   is in flight, frees them at once and ends ceil(D/bw) - 1 cycles later
                   (write_port latency 0); a write that fills the buffer while a drain
                   is in flight waits for the drain's end.
  demand order     compute/systolic_compute_ws.py and _os.py: the ifmap prefetch order
                   (and os's filter order) reads the fold-stacked operand matrix along
                   anti-diagonals; ws's filter is read row by row, each fold's rows
                   flipped in the demand; skews and inter-fold gaps as in
                   create_*_demand_mat.

A demand is located by its position in the prefetch order; an im2col input word, which
occurs at several positions, is found at whichever of them is resident.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _diagonal_start(d, m, n):
    """Elements before anti-diagonal d in an m x n matrix read diagonal by diagonal."""
    if d <= m:
        below = d * (d - 1) // 2
    else:
        below = m * (m - 1) // 2 + (d - m) * (m - 1)
    over = (d - n) * (d - n + 1) // 2 if d > n else 0
    return d + below - over


@njit(cache=True)
def _diagonal_position(d, c, m, n, pad_row, valid_cols):
    """Prefetch position of element (d - c, c) of an m x n matrix read along anti-diagonals,
    columns ascending within one, when rows pad_row.. hold only valid_cols real columns
    (the last fold's -1 padding, which SCALE-Sim's read buffer skips)."""
    position = _diagonal_start(d, m, n) + c - max(0, d - m + 1)
    if valid_cols < n and d - pad_row - valid_cols >= 0:
        rows = m - pad_row
        for col in range(valid_cols, n):  # padding in earlier diagonals
            position -= min(max(d - pad_row - col, 0), rows)
        lo = max(valid_cols, d - m + 1)
        hi = min(c - 1, d - pad_row)
        if hi >= lo:  # padding earlier in this diagonal
            position -= hi - lo + 1
    return position


@njit(cache=True)
def _move_window(state, cycle, offset):
    """One window move (read_buffer.new_prefetch) for a demand at cycle + offset; returns
    the demand's new offset: a late move's lag counts twice, an early one pulls it back."""
    state[4] = (state[4] + state[3]) % state[1]
    state[6] += state[5]
    late = state[6] - (cycle + offset)
    offset += late
    if late > 0:
        offset += late
    return offset


@njit(cache=True)
def _read(state, first, last, cycle, moves_at_once):
    """Demand of prefetch positions first..last (ascending) at `cycle`: its lateness.

    state: [line words, lines, active lines, move lines, window start, move cycles,
    last move's completion]. With moves_at_once the moves a line needs are made in one
    step (_moves_to); without, one by one (the reference)."""
    offset = 1  # the SRAM's hit latency
    for line in range(first // state[0], last // state[0] + 1):
        if moves_at_once:
            offset = _moves_to(state, line, cycle, offset)
        else:
            while (line - state[4]) % state[1] >= state[2]:
                offset = _move_window(state, cycle, offset)
    return offset - 1


@njit(cache=True)
def _moves_to(state, line, cycle, offset):
    """The window moves until `line` is in it (_move_window, as often as needed); returns
    the demand's new offset.

    A move takes `move` lines off the window's distance r to the line, and move <= active
    (the prefetch half is no larger than the active one), so the window never passes the
    line: k = ceil((r - active + 1) / move) moves. With u the time the demand is served
    (cycle + offset) and c_j the j-th move's completion, a move makes u = c_j +
    max(0, c_j - u): d_j = u_j - c_j is max(0, c_1 - u_0) after the first move and
    max(0, P - d_(j-1)) after each later one (P the cycles a move takes), which from the
    second move on alternates between d_2 and P - d_2. A wrap around a long operand
    stream, thousands of moves, costs a few operations."""
    distance = (line - state[4]) % state[1]
    if distance < state[2]:
        return offset
    moves = -(-(distance - state[2] + 1) // state[3])
    served = cycle + offset
    first_completion = state[6] + state[5]
    lag = max(0, first_completion - served)  # d_1
    if moves >= 2:
        lag = max(0, state[5] - lag)  # d_2
        if moves % 2:
            lag = state[5] - lag
    state[4] = (state[4] + moves * state[3]) % state[1]
    state[6] += moves * state[5]
    return state[6] + lag - cycle


@njit(cache=True)
def _stacked_position(pixel, element, output_stationary, t, rows, stacked, last_rows):
    """Prefetch position of ifmap element (pixel, kernel element) in the fold-stacked
    matrix (T x rows per row fold): (t, fold row) = (pixel, element) for ws and
    (element, pixel) for os (systolic_compute_ws/_os.create_ifmap_prefetch_mat)."""
    if output_stationary:
        m = (pixel // rows) * t + element
        c = pixel % rows
    else:
        m = (element // rows) * t + pixel
        c = element % rows
    return _diagonal_position(m + c, c, stacked, rows, stacked - t, last_rows)


@njit(cache=True)
def _resident_copy(state, pixel, element, geometry, output_stationary, t, rows, stacked, last_rows):
    """Whether any element reading the same input word as (pixel, element) has its
    prefetch position in the window: SCALE-Sim looks a demanded address up in the line
    sets of the window, so a word that im2col repeats is found at any resident copy.

    geometry = [input height, input width, channels, kernel height, kernel width,
    stride h, stride w, dilation h, dilation w, output height, output width, images] of
    the cropped input, per conv group; addresses as operand_matrix.calc_ifmap_elem_addr
    makes them (channels fastest, then kernel columns, then kernel rows)."""
    channels, kh, kw = geometry[2], geometry[3], geometry[4]
    sh, sw, dh, dw = geometry[5], geometry[6], geometry[7], geometry[8]
    out_h, out_w = geometry[9], geometry[10]
    image, rest = divmod(pixel, out_h * out_w)
    out_row, out_col = divmod(rest, out_w)
    k_row, rest = divmod(element, kw * channels)
    k_col, channel = divmod(rest, channels)
    y = out_row * sh + k_row * dh
    x = out_col * sw + k_col * dw
    for kr in range(kh):
        yy = y - kr * dh
        if yy < 0 or yy % sh:
            continue
        orow = yy // sh
        if orow >= out_h:
            continue
        for kc in range(kw):
            xx = x - kc * dw
            if xx < 0 or xx % sw:
                continue
            ocol = xx // sw
            if ocol >= out_w:
                continue
            position = _stacked_position(
                (image * out_h + orow) * out_w + ocol,
                (kr * kw + kc) * channels + channel,
                output_stationary,
                t,
                rows,
                stacked,
                last_rows,
            )
            if (position // state[0] - state[4]) % state[1] < state[2]:
                return True
    return False


@njit(cache=True)
def _input_word(pixel, element, geometry):
    """Index of the input word element (pixel, kernel element) reads (_resident_copy's
    address), images, rows, columns and channels in that order.

    It repeats _resident_copy's first lines on purpose: the two sharing a helper that
    returns the coordinates made the walk 13-25% slower (VGG-16 and ResNet-50 at 10 words
    a cycle, ws and os, in-process), as Numba then optimizes _resident_copy's loop less."""
    channels, kw = geometry[2], geometry[4]
    out_h, out_w = geometry[9], geometry[10]
    image, rest = divmod(pixel, out_h * out_w)
    out_row, out_col = divmod(rest, out_w)
    k_row, rest = divmod(element, kw * channels)
    k_col, channel = divmod(rest, channels)
    y = out_row * geometry[5] + k_row * geometry[7]
    x = out_col * geometry[6] + k_col * geometry[8]
    return ((image * geometry[0] + y) * geometry[1] + x) * channels + channel


@njit(cache=True)
def _read_im2col(
    state,
    first,
    last,
    cycle,
    d,
    lo,
    geometry,
    output_stationary,
    t,
    rows,
    stacked,
    last_rows,
    found,
    recalled,
):
    """_read for the im2col ifmap: positions first..last are diagonal d's columns lo.. of the
    stacked matrix; an element whose own line is not resident is looked up by address,
    element by element, as SCALE-Sim's read buffer checks each demanded address.

    found (no columns: look every word up) remembers words found resident: a direct-mapped
    table of a power of two columns whose slot word % columns holds, in row 0, the last
    such word and, in row 1, the window it was found in, named by state[6], the last
    move's completion, which every move raises (the window moves nowhere else).
    recalled[0] counts the words found there instead of looked up."""
    offset = 1  # the SRAM's hit latency
    position = first
    while position <= last:
        line = position // state[0]
        if (line - state[4]) % state[1] < state[2]:
            position = min(last, (line + 1) * state[0] - 1) + 1
            continue
        c = lo + position - first
        m = d - c
        if output_stationary:
            pixel, element = (m // t) * rows + c, m % t
        else:
            pixel, element = m % t, (m // t) * rows + c
        word = -1
        slot = 0
        if found.shape[1] > 0:
            word = _input_word(pixel, element, geometry)
            slot = word & (found.shape[1] - 1)
            if found[0, slot] == word and found[1, slot] == state[6]:
                recalled[0] += 1
                position += 1
                continue
        while not _resident_copy(
            state, pixel, element, geometry, output_stationary, t, rows, stacked, last_rows
        ):
            offset = _move_window(state, cycle, offset)
        if word >= 0:
            found[0, slot] = word
            found[1, slot] = state[6]
        position += 1
    return offset - 1


# Write-buffer state: [size, drain words D, bus lines per drain, free words, drain end,
# bandwidth (words per bus line), words in the open line, full lines since the last
# flush, first and next flushed segment]. A segment is what one flush made visible to
# the drains: some full lines and a partial one (memory/write_buffer.py,
# append_to_trace_mat(force=True) at every drain start).
_SEGMENTS = 64  # flushed segments outstanding at once; a drain takes about one


@njit(cache=True)
def _store(state, words):
    fill = state[6] + words
    state[7] += fill // state[5]
    state[6] = fill % state[5]
    state[3] -= words


@njit(cache=True)
def _start_drain(state, segments, current):
    """empty_drain_buf: flush, then drain up to D/bw bus lines, partial ones included. The
    words freed are lines x bw less the last line's empty slots (a partial line in the
    middle counts as full: SCALE-Sim subtracts -1 entries of the last line only)."""
    tail = state[9] % _SEGMENTS
    segments[tail, 0] = state[7]
    segments[tail, 1] = state[6]
    state[9] += 1
    state[6] = 0
    state[7] = 0
    lines = 0
    last_partial = 0
    while lines < state[2] and state[8] < state[9]:
        head = state[8] % _SEGMENTS
        if segments[head, 0] > 0:
            take = min(segments[head, 0], state[2] - lines)
            segments[head, 0] -= take
            lines += take
            last_partial = 0
        else:
            if segments[head, 1] > 0:
                lines += 1
                last_partial = segments[head, 1]
            state[8] += 1
    freed = lines * state[5]
    if last_partial > 0:
        freed -= state[5] - last_partial
    state[3] += freed
    state[4] = current + lines - 1  # write_port latency 0: done with its last line


@njit(cache=True)
def _write(state, segments, words, cycle):
    """`words` ofmap writes at `cycle`: their lateness (write_buffer.service_writes)."""
    threshold = state[0] - state[1]
    current = cycle
    left = words
    while left > 0:
        if current < state[4]:
            if state[3] > left:
                _store(state, left)
                left = 0
            else:
                # The write that leaves no free word waits for the drain in flight.
                left -= max(state[3], 1)
                _store(state, max(state[3], 1))
                current = state[4]
        else:
            until_drain = max(1, state[3] - threshold + 1)
            if until_drain > left:
                _store(state, left)
                left = 0
            else:
                _store(state, until_drain)
                left -= until_drain
                _start_drain(state, segments, current)
    return current - cycle


@njit(cache=True)
def _writer(size, bandwidth):
    drain = size - (-(-size // 2))
    state = np.zeros(10, dtype=np.int64)
    state[0] = size
    state[1] = drain
    state[2] = -(-drain // bandwidth)
    state[3] = size  # all free
    state[5] = bandwidth
    return state


@njit(cache=True)
def _reader(size, bandwidth, total):
    line_words = -(-size // 100)
    active_words = -(-size // 2)
    prefetch_words = size - active_words
    # prepare_hashed_buffer closes a line at every line_words-th word and then adds the
    # open one, even when empty: floor + 1 lines, one more than ceil on an exact multiple.
    lines = total // line_words + 1
    active = min(-(-active_words // line_words), lines)
    move = min(-(-prefetch_words // line_words), lines - active)
    state = np.zeros(7, dtype=np.int64)
    state[0] = line_words
    state[1] = lines
    state[2] = active
    state[3] = move
    state[5] = -(-prefetch_words // bandwidth) + 1  # bus lines + the read port's cycle
    state[6] = -1
    return state


@njit(cache=True)
def gemm_stalls(
    output_stationary,
    sr,
    sc,
    t,
    rows,
    cols,
    bandwidth,
    ifmap,
    filt,
    ofmap,
    geometry,
):
    """(demand rows, stall cycles) of one Sr x Sc x T GEMM on a rows x cols array.

    ifmap/filt/ofmap are the SRAM sizes in words (SCALE-Sim's word is one byte). geometry
    describes an im2col ifmap, whose addresses repeat (see _resident_copy); an empty one
    means every ifmap address occurs once (a GEMM), so a demand's own position decides."""
    rows_walked, stalls, _, _ = gemm_walk(
        output_stationary, sr, sc, t, rows, cols, bandwidth, ifmap, filt, ofmap, geometry, True
    )
    return rows_walked, stalls


@njit(cache=True)
def gemm_walk(
    output_stationary,
    sr,
    sc,
    t,
    rows,
    cols,
    bandwidth,
    ifmap,
    filt,
    ofmap,
    geometry,
    shortcuts,
):
    """gemm_stalls's walk, the number of demand rows it passed over in runs, and the number
    of im2col words it found resident without a lookup.

    With shortcuts, a quiet run of rows (_quiet_rows), which adds no stall and changes only
    the rows walked and the output SRAM's fill, costs a few searches instead of one step
    per row, and an im2col word found resident is not looked up again until the window
    moves (_read_im2col); without, every row is walked and every word looked up (the
    reference the tests hold the shortcuts to)."""
    row_folds = -(-sr // rows)
    col_folds = -(-sc // cols)
    stacked = row_folds * t
    last_rows = sr - (row_folds - 1) * rows
    last_cols = sc - (col_folds - 1) * cols
    # Operand words in prefetch order: the last fold's padding is not fetched.
    ifmap_state = _reader(ifmap, bandwidth, stacked * rows - t * (rows - last_rows))
    if output_stationary:
        filter_words = col_folds * t * cols - t * (cols - last_cols)
    else:
        filter_words = col_folds * sr * cols - sr * (cols - last_cols)
    filter_state = _reader(filt, bandwidth, filter_words)
    write_state = _writer(ofmap, bandwidth)
    segments = np.zeros((_SEGMENTS, 2), dtype=np.int64)
    if output_stationary:
        fold_rows, ifmap_delay = t + rows + cols - 2, 0
    else:
        fold_rows, ifmap_delay = 2 * rows + cols + t - 2, rows
    # A word's copies sit in one fold, where they can be met in one window, under os (a
    # fold is a block of pixels and takes every kernel element) and under ws only when a
    # fold's kernel elements span more than a pixel's channels.
    remember = shortcuts and geometry.shape[0] > 0 and (output_stationary or geometry[2] < rows)
    found = np.full((2, _FOUND_SLOTS if remember else 0), -1, np.int64)
    recalled = np.zeros(1, dtype=np.int64)
    fold = np.zeros(_FOLD_FIELDS, dtype=np.int64)
    fold[0], fold[2], fold[3], fold[6] = output_stationary, t, rows, cols
    fold[7], fold[9], fold[10], fold[11], fold[12] = sr, stacked, last_rows, col_folds, last_cols
    fold[13] = ifmap_delay
    row = 0
    stalls = 0
    passed = 0
    for fc in range(col_folds):
        valid_cols = min(cols, sc - fc * cols)
        for fr in range(row_folds):
            valid_rows = min(rows, sr - fr * rows)
            fold[1], fold[4], fold[5], fold[8] = fr, valid_rows, valid_cols, fc
            x = 0
            wait = 0  # rows to walk before looking for a quiet run again
            backoff = 1
            while x < fold_rows:
                if shortcuts and wait == 0:
                    quiet = _quiet_rows(
                        fold, x, fold_rows - 1, row + stalls, ifmap_state, filter_state, write_state
                    )
                    if quiet > 0:
                        _store_rows(fold, x, x + quiet - 1, write_state)
                        row += quiet
                        passed += quiet
                        x += quiet
                        backoff = 1
                        continue
                    # Rows that move a window tend to come together: look again later.
                    wait = backoff
                    backoff = min(2 * backoff, _MAX_BACKOFF)
                if wait > 0:
                    wait -= 1
                cycle = row + stalls
                late = 0  # an early window move can make a read's lateness negative
                # The ifmap block streams in along anti-diagonals, after the preload for ws.
                y = x - ifmap_delay
                lo = max(0, y - t + 1)
                hi = min(valid_rows - 1, y)
                if y >= 0 and lo <= hi:
                    late = max(
                        late,
                        _ifmap(
                            ifmap_state,
                            fr * t + y,
                            lo,
                            hi,
                            cycle,
                            geometry,
                            output_stationary,
                            t,
                            rows,
                            stacked,
                            last_rows,
                            found,
                            recalled,
                            shortcuts,
                        ),
                    )
                if output_stationary:
                    lo = max(0, x - t + 1)
                    hi = min(valid_cols - 1, x)
                    if lo <= hi:
                        m = col_folds * t
                        first = _diagonal_position(fc * t + x, lo, m, cols, m - t, last_cols)
                        late = max(
                            late, _read(filter_state, first, first + hi - lo, cycle, shortcuts)
                        )
                else:
                    k = rows - 1 - x  # the fold's filter rows arrive flipped
                    if x < rows and k < valid_rows:
                        first = _ws_filter_row(
                            fc * sr + fr * rows + k, sr, cols, col_folds, last_cols
                        )
                        late = max(
                            late,
                            _read(filter_state, first, first + valid_cols - 1, cycle, shortcuts),
                        )
                written = _written(output_stationary, x, t, rows, valid_rows, valid_cols)
                if written > 0:
                    late = max(late, _write(write_state, segments, written, cycle))
                stalls += late
                row += 1
                x += 1
    return row, stalls, passed, recalled[0]


# A fold's description for the searches below: [os, fr, T, rows, valid rows, valid cols,
# cols, Sr, fc, stacked ifmap rows, last row fold's rows, column folds, last column fold's
# cols, ifmap delay].
_FOLD_FIELDS = 14
_MAX_BACKOFF = 64
# Words remembered at once (_read_im2col): a word's copies are demanded within a few
# thousand words of each other (one kernel row of channels apart, about), and 256 KiB stay
# in a core's cache.
_FOUND_SLOTS = 1 << 14


@njit(cache=True)
def _written(output_stationary, x, t, rows, valid_rows, valid_cols):
    """Output words a fold writes at its demand row x."""
    if output_stationary:
        # The fold's output block leaves flipped upside down (its padding rows first),
        # skewed by column.
        y = x - t + 1
        lo = max(rows - valid_rows, y - valid_cols + 1)
        hi = min(rows - 1, y)
    else:
        y = x - 2 * rows + 1
        lo = max(0, y - t + 1)
        hi = min(valid_cols - 1, y)
    return hi - lo + 1 if y >= 0 and lo <= hi else 0


@njit(cache=True)
def _clamped_sum(n, width):
    """sum of min(j, width) over j = 1..n (0 for n <= 0)."""
    if n <= 0:
        return 0
    if n <= width:
        return n * (n + 1) // 2
    return width * (width + 1) // 2 + (n - width) * width


@njit(cache=True)
def _writes_before(fold, x):
    """Output words the fold writes in its demand rows 0..x-1, the sum of _written.

    Row x writes columns c of a band: ws's y = x - 2 rows + 1 holds c in
    [max(0, y - T + 1), min(valid cols - 1, y)], os's y = x - T + 1 holds c in
    [max(rows - valid rows, y - valid cols + 1), min(rows - 1, y)]. Each c is written in
    `width` consecutive rows from y = c, so the rows before x hold the sum over c of
    clamp(y - c, 0, width) words."""
    if fold[0]:
        y, first, last, width = x - fold[2] + 1, fold[3] - fold[4], fold[3] - 1, fold[5]
    else:
        y, first, last, width = x - 2 * fold[3] + 1, 0, fold[5] - 1, fold[2]
    return _clamped_sum(y - first, width) - _clamped_sum(y - last - 1, width)


@njit(cache=True)
def _store_rows(fold, x0, x1, write_state):
    words = _writes_before(fold, x1 + 1) - _writes_before(fold, x0)
    if words > 0:
        _store(write_state, words)


@njit(cache=True)
def _ws_filter_row(m, sr, cols, col_folds, last_cols):
    """Prefetch position of ws filter row m's first word: the last column fold's rows hold
    last_cols words."""
    return m * cols - max(0, m - (col_folds - 1) * sr) * (cols - last_cols)


@njit(cache=True)
def _resident(state, first, last):
    """Whether prefetch positions first..last all lie in the read buffer's window."""
    if first > last or state[2] >= state[1]:
        return True
    line = first // state[0]
    return (line - state[4]) % state[1] + last // state[0] - line < state[2]


@njit(cache=True)
def _quiet(fold, x0, x1, cycle, ifmap_state, filter_state, write_state):
    """Whether no demand row x0..x1 of the fold, the first at `cycle`, can stall or change
    a read buffer: every position either operand demands lies in its window, so no read
    moves one (a demand in the window is served, whatever its cycle), and no write starts
    a drain or waits for one: the output SRAM keeps at least half its words free after
    the rows' writes, or a drain is in flight past the last row and a word stays free.

    The demanded positions are bounded by the run's first and last demand: the prefetch
    order reads the stacked matrices diagonal by diagonal, and a fold's demand runs along
    the same order (ws's filter rows, flipped, are rows of one column fold)."""
    words = _writes_before(fold, x1 + 1) - _writes_before(fold, x0)
    free = write_state[3] - words
    if free < write_state[0] - write_state[1] and (free < 1 or cycle + x1 - x0 >= write_state[4]):
        return False
    t, rows, valid_rows, valid_cols = fold[2], fold[3], fold[4], fold[5]
    # ifmap: y = x - delay reads diagonal fr T + y, columns max(0, y - T + 1)..min(vr - 1, y)
    ya = max(x0 - fold[13], 0)
    yb = min(x1 - fold[13], t + valid_rows - 2)
    if ya <= yb:
        stacked, last_rows = fold[9], fold[10]
        d = fold[1] * t
        first = _diagonal_position(
            d + ya, max(0, ya - t + 1), stacked, rows, stacked - t, last_rows
        )
        lo = max(0, yb - t + 1)
        last = _diagonal_position(d + yb, lo, stacked, rows, stacked - t, last_rows)
        if not _resident(ifmap_state, first, last + min(valid_rows - 1, yb) - lo):
            return False
    cols, col_folds, last_cols = fold[6], fold[11], fold[12]
    if fold[0]:
        # x reads diagonal fc T + x of the filter, columns max(0, x - T + 1)..min(vc - 1, x)
        xb = min(x1, t + valid_cols - 2)
        if x0 > xb:
            return True
        m = col_folds * t
        d = fold[8] * t
        first = _diagonal_position(d + x0, max(0, x0 - t + 1), m, cols, m - t, last_cols)
        lo = max(0, xb - t + 1)
        last = (
            _diagonal_position(d + xb, lo, m, cols, m - t, last_cols) + min(valid_cols - 1, xb) - lo
        )
        return _resident(filter_state, first, last)
    # ws: x < rows reads filter row k = rows - 1 - x of the fold, if k < valid rows
    xa = max(x0, rows - valid_rows)
    xb = min(x1, rows - 1)
    if xa > xb:
        return True
    base = fold[8] * fold[7] + fold[1] * rows + rows - 1
    first = _ws_filter_row(base - xb, fold[7], cols, col_folds, last_cols)
    last = _ws_filter_row(base - xa, fold[7], cols, col_folds, last_cols) + valid_cols - 1
    return _resident(filter_state, first, last)


@njit(cache=True)
def _quiet_rows(fold, x0, end, cycle, ifmap_state, filter_state, write_state):
    """How many rows from x0 on (up to end) are quiet (_quiet): the whole rest of the fold
    at once where it can, else a galloping search, as a run's rows are quiet only if every
    shorter run's are."""
    if _quiet(fold, x0, end, cycle, ifmap_state, filter_state, write_state):
        return end - x0 + 1
    if not _quiet(fold, x0, x0, cycle, ifmap_state, filter_state, write_state):
        return 0
    good = x0  # rows x0..good are quiet, x0..bad are not
    step = 1
    bad = end
    while good + step < end:
        if _quiet(fold, x0, good + step, cycle, ifmap_state, filter_state, write_state):
            good += step
            step *= 2
        else:
            bad = good + step
            break
    while bad - good > 1:
        middle = (good + bad) // 2
        if _quiet(fold, x0, middle, cycle, ifmap_state, filter_state, write_state):
            good = middle
        else:
            bad = middle
    return good - x0 + 1


@njit(cache=True)
def _ifmap(
    state,
    d,
    lo,
    hi,
    cycle,
    geometry,
    output_stationary,
    t,
    rows,
    stacked,
    last_rows,
    found,
    recalled,
    moves_at_once,
):
    """Demand of diagonal d's columns lo..hi of the fold-stacked ifmap: its lateness."""
    first = _diagonal_position(d, lo, stacked, rows, stacked - t, last_rows)
    if geometry.shape[0] > 0:
        return _read_im2col(
            state,
            first,
            first + hi - lo,
            cycle,
            d,
            lo,
            geometry,
            output_stationary,
            t,
            rows,
            stacked,
            last_rows,
            found,
            recalled,
        )
    return _read(state, first, first + hi - lo, cycle, moves_at_once)
