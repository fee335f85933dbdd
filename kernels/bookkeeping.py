"""What both event loops keep besides the queue: the compensated clock, the per-neuron spike
statistics, and the statuses a call ends with."""
from numba.extending import register_jitable

REACHED_T_END = 0
BUFFER_FULL = 1
PAUSED = 2
OUT_OF_TABLE = 3    # a TABLE model's input left its lookup table (no tail): the state is invalid
CASCADE = 4         # more than n spikes at one instant (zero-delay excitation): invalid state
DELAY_FULL = 5      # a block's FIFO of spikes in flight is full; the spike is not processed
                    # (the state is valid: a larger FIFO continues it)


@register_jitable
def add_compensated(clock, dt):
    """clock[0] + clock[1] += dt, with Neumaier's compensation."""
    s = clock[0] + dt
    if abs(clock[0]) >= abs(dt):
        clock[1] += (clock[0] - s) + dt
    else:
        clock[1] += (dt - s) + clock[0]
    clock[0] = s


@register_jitable
def take_statistics(times, senders, count, counts, isi):
    """Add ``count`` buffered spikes, in time order, to the per-neuron statistics.

    Done in a batch rather than at each spike: the rows of different neurons are
    independent, so their cache misses overlap here instead of stalling the loop.
    """
    for s in range(count):
        j = senders[s]
        t = times[s]
        seen = counts[j]
        if seen > 0:
            interval = t - isi[j, 0]
            isi[j, 1] += interval
            isi[j, 2] += interval * interval
        counts[j] = seen + 1
        isi[j, 0] = t


@register_jitable
def count_burst(t, t_last, burst):
    """``(t_last, burst)`` after a spike at ``t``: the spikes at one computed time, counted
    again from 1 at a new time (more than n of them is a ``CASCADE``)."""
    if t != t_last:
        return t, 1
    return t_last, burst + 1
