"""Plain-text reports: one labelled value a line, the values in one column."""

LABEL_WIDTH = 24


def labelled(rows):
    """``rows`` of (label, value) as lines ``label`` padded to ``LABEL_WIDTH``, then ``value``."""
    return "\n".join(f"{label:<{LABEL_WIDTH}}{value}" for label, value in rows)
