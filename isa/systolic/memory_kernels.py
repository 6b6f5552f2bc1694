"""Numba kernel: SCALE-Sim 3.0.0's double-buffered SRAMs, replayed over one GEMM's demand.

The systolic array's compute side is the instruction-level evaluation (analyzer/engine/kernels.py).
This kernel is its memory side for a DRAM bandwidth other than "unlimited": it walks the
array's demand rows (one row = one cycle of the stall-free schedule) fold by fold and
returns the stall cycles the operand SRAMs add, with SCALE-Sim's rules. Paths are in the
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
def _read(state, first, last, cycle):
    """Demand of prefetch positions first..last (ascending) at `cycle`: its lateness.

    state: [line words, lines, active lines, move lines, window start, move cycles,
    last move's completion]."""
    offset = 1  # the SRAM's hit latency
    for line in range(first // state[0], last // state[0] + 1):
        while (line - state[4]) % state[1] >= state[2]:
            offset = _move_window(state, cycle, offset)
    return offset - 1


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
def _read_im2col(
    state, first, last, cycle, d, lo, geometry, output_stationary, t, rows, stacked, last_rows
):
    """_read for the im2col ifmap: positions first..last are diagonal d's columns lo.. of the
    stacked matrix; an element whose own line is not resident is looked up by address,
    element by element, as SCALE-Sim's read buffer checks each demanded address."""
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
        while not _resident_copy(
            state, pixel, element, geometry, output_stationary, t, rows, stacked, last_rows
        ):
            offset = _move_window(state, cycle, offset)
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
    row = 0
    stalls = 0
    for fc in range(col_folds):
        valid_cols = min(cols, sc - fc * cols)
        for fr in range(row_folds):
            valid_rows = min(rows, sr - fr * rows)
            for x in range(fold_rows):
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
                        ),
                    )
                if output_stationary:
                    lo = max(0, x - t + 1)
                    hi = min(valid_cols - 1, x)
                    if lo <= hi:
                        m = col_folds * t
                        first = _diagonal_position(fc * t + x, lo, m, cols, m - t, last_cols)
                        late = max(late, _read(filter_state, first, first + hi - lo, cycle))
                    # The fold's output block leaves flipped upside down (its padding
                    # rows first), skewed by column.
                    y = x - t + 1
                    lo = max(rows - valid_rows, y - valid_cols + 1)
                    hi = min(rows - 1, y)
                else:
                    k = rows - 1 - x  # the fold's filter rows arrive flipped
                    if x < rows and k < valid_rows:
                        m = fc * sr + fr * rows + k
                        first = m * cols - max(0, m - (col_folds - 1) * sr) * (cols - last_cols)
                        late = max(
                            late,
                            _read(filter_state, first, first + valid_cols - 1, cycle),
                        )
                    y = x - 2 * rows + 1
                    lo = max(0, y - t + 1)
                    hi = min(valid_cols - 1, y)
                written = hi - lo + 1 if y >= 0 and lo <= hi else 0
                if written > 0:
                    late = max(late, _write(write_state, segments, written, cycle))
                stalls += late
                row += 1
    return row, stalls


@njit(cache=True)
def _ifmap(state, d, lo, hi, cycle, geometry, output_stationary, t, rows, stacked, last_rows):
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
        )
    return _read(state, first, first + hi - lo, cycle)
