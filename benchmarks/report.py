"""Printing helpers shared by the benchmark scripts, and ``parse_scaling``, the reader of
``engine_scaling.py``'s table."""
import math
import re

import numpy as np

SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def print_table(head, rows):
    """Print ``rows`` under ``head`` as a right-aligned Markdown table."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]

    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths)) + " |"

    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def parse_scaling(text):
    """The table ``engine_scaling.py`` prints (or README's Markdown table) as arrays.

    Returns a dict of equal-length arrays: ``n``, ``connectivity`` (str), ``auto`` (bool, the
    connectivity "auto" picks), ``ns_per_spike``, ``ns_per_event`` (ns), ``bytes_per_neuron``,
    ``conventional_ns_per_spike`` (ns) and ``extrapolated`` (bool, the conventional figure was
    extrapolated, ``(x)``); NaN where a row lacks a figure.
    """
    rows = [row for row in map(_row, str(text).splitlines()) if row is not None]
    if not rows:
        raise ValueError("no rows of the engine_scaling table found in the text")
    cols = list(zip(*rows))
    return {"n": np.array(cols[0]), "connectivity": np.array(cols[1]),
            "auto": np.array(cols[2], bool), "ns_per_spike": np.array(cols[3]),
            "ns_per_event": np.array(cols[4]), "bytes_per_neuron": np.array(cols[5]),
            "conventional_ns_per_spike": np.array(cols[6]),
            "extrapolated": np.array(cols[7], bool)}


def _row(line):
    """One table row as (n, connectivity, auto, ns/spike, ns/event, B/neuron, conventional
    ns/spike, extrapolated), or None for a line that is not one."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")] if "|" in line else None
    if cells and len(cells) >= 6:                  # Markdown table (README)
        n, conn, conv = _number(cells[0]), cells[1], cells[5]
        if not np.isfinite(n) or not re.search(r"stored|fly", conn):
            return None
        return (n, "stored" if "stored" in conn else "on_the_fly", "auto" in conn,
                _number(cells[2]), _number(cells[3]), _number(cells[4]),
                _number(conv.split("(")[0]), "extrapolated" in conv or "(x)" in conv)
    m = re.match(r"^\s*(\d+)\s+(stored|on_the_fly)(\*?)\s+([0-9.]+)\s+([0-9.]+)\s+"
                 r"([0-9.]+)(?:\s+([0-9.]+)(\s*\(x\))?)?", line)
    if m is None:
        return None
    return (float(m.group(1)), m.group(2), m.group(3) == "*", float(m.group(4)),
            float(m.group(5)), float(m.group(6)),
            float(m.group(7)) if m.group(7) else math.nan, bool(m.group(8)))


def _number(cell):
    """A Markdown cell's number: ``1 007``, ``10⁶``, ``≈ 2.2 × 10⁶``; NaN if none."""
    cell = cell.replace("≈", "").replace(",", "").strip()
    m = re.match(r"^([0-9.]+)\s*[×x]\s*10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)$", cell)
    if m:
        return float(m.group(1)) * 10 ** int(m.group(2).translate(SUPERSCRIPTS))
    m = re.match(r"^10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)$", cell)
    if m:
        return float(10 ** int(m.group(1).translate(SUPERSCRIPTS)))
    cell = cell.replace(" ", "").replace("\u202f", "").replace("\u2009", "")
    try:
        return float(cell)
    except ValueError:
        return math.nan
