"""Printing helpers shared by the benchmark scripts."""


def print_table(head, rows):
    """Print ``rows`` under ``head`` as a right-aligned Markdown table."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]

    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths)) + " |"

    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
