"""The one text-table formatter: what `evaluate`, `explore`, `sweep`, `runs` and `compare` print."""

from __future__ import annotations


def text_table(header: list, rows: list, align: str = "") -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing spaces.

    `align` holds one "<" (left, the default) or ">" (right) per column. A row shorter than
    the header (a message in place of the columns) runs on from its last cell: that cell
    does not widen its column."""
    table = [list(header), *rows]
    widths = [0] * len(header)
    for row in table:
        counted = row if len(row) == len(header) else row[:-1]
        for i, cell in enumerate(counted):
            widths[i] = max(widths[i], len(cell))
    sides = align.ljust(len(header), "<")
    return "\n".join("  ".join(cell.rjust(w) if side == ">" else cell.ljust(w)
                               for cell, w, side in zip(row, widths, sides)).rstrip()
                     for row in table)
