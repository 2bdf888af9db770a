"""Tables for people and rows for pipes (decision record 0014).

A ``Grid`` is what a table says: its headers, its rows, which columns hold free text and
which hold stages. ``show`` draws it for where the output goes:

- **a pipe**: plain, full rows, one per line, columns padded with spaces and nothing cut;
- **a terminal**: a table that fits its width. Times, versions, stages and numbers are
  never cut (a time may break at its space, a move at its arrow); free text wraps. When
  even that does not fit, each row is shown as a record of ``column  value`` lines, as
  psql's expanded mode does. Stages are coloured, unless ``NO_COLOR`` is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported when there is something to draw, not before
    from rich.console import Console, RenderableType
    from rich.text import Text

GAP = 2  # spaces between two columns
TEXT_FLOOR = 8  # the narrowest a free-text column is made before rows become records
STAGE_STYLES = {
    "development": "cyan",
    "beta": "yellow",
    "champion": "bold green",
    "archived": "bright_black",
}


@dataclass(frozen=True)
class Grid:
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]
    text: frozenset[str] = field(default=frozenset())  # free text: wraps, may break a word
    words: frozenset[str] = field(default=frozenset())  # text that wraps between words only
    staged: frozenset[str] = field(default=frozenset())  # stage names: coloured


def filled(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    text: Sequence[str] = (),
    words: Sequence[str] = (),
    staged: Sequence[str] = (),
) -> Grid:
    """A grid of ``rows`` without the columns no row fills (an empty reason or detail
    column only takes width from the ones that say something)."""
    kept = [i for i in range(len(headers)) if not rows or any(row[i] for row in rows)]
    return Grid(
        headers=tuple(headers[i] for i in kept),
        rows=[tuple(row[i] for i in kept) for row in rows],
        text=frozenset(text) | frozenset(words),
        words=frozenset(words),
        staged=frozenset(staged),
    )


def show(console: Console, grid: Grid, empty: str | None = None) -> None:
    """Draw ``grid`` for the console's destination; ``empty`` instead when it has no rows."""
    if not grid.rows and empty is not None:
        console.print(empty)
    elif not console.is_terminal:
        console.file.write(plain(grid))
    else:
        widths = fitted(grid, console.width)
        console.print(records(grid) if widths is None else table(grid, widths))


def show_record(console: Console, fields: Sequence[tuple[str, str]], staged: str = "") -> None:
    """One thing's fields as ``name  value`` lines, in a terminal and in a pipe alike."""
    grid = Grid(
        headers=tuple(name for name, _ in fields),
        rows=[tuple(value for _, value in fields)],
        staged=frozenset({staged}),
    )
    if console.is_terminal:
        console.print(records(grid))
    else:
        width = max(len(name) for name, _ in fields)
        console.file.write("".join(f"{n:<{width}}{' ' * GAP}{v}\n" for n, v in fields))


def plain(grid: Grid) -> str:
    """Full rows, one per line, in columns padded with spaces: for grep, cut and awk."""
    from rich.cells import cell_len

    lines = [grid.headers, *(tuple(_one_line(c) for c in row) for row in grid.rows)]
    widths = [max(cell_len(line[i]) for line in lines) for i in range(len(grid.headers))]
    return "".join(
        (" " * GAP)
        .join(
            cell + " " * (width - cell_len(cell)) for cell, width in zip(line, widths, strict=True)
        )
        .rstrip()
        + "\n"
        for line in lines
    )


def fitted(grid: Grid, width: int) -> list[int] | None:
    """Each column's width in a table at most ``width`` wide, or ``None`` when it cannot
    fit without cutting a time, a version, a stage or a number."""
    columns = [[header, *(row[i] for row in grid.rows)] for i, header in enumerate(grid.headers)]
    natural = [max(_cell_width(cell) for cell in column) for column in columns]
    least = [
        min(full, TEXT_FLOOR) if h in grid.text - grid.words else max(map(_longest_word, column))
        for h, full, column in zip(grid.headers, natural, columns, strict=True)
    ]
    room = width - GAP * (len(columns) - 1)
    if sum(natural) <= room:
        return natural
    if sum(least) > room:
        return None
    widths = list(least)
    # The room left makes whole the fixed columns that need least of it (a time on one
    # line), then goes to the text, each column's share by what it lacks.
    fixed = [i for i, header in enumerate(grid.headers) if header not in grid.text]
    for i in sorted(fixed, key=lambda i: natural[i] - least[i]):
        if natural[i] - widths[i] <= room - sum(widths):
            widths[i] = natural[i]
    lacking = {i: natural[i] - widths[i] for i, h in enumerate(grid.headers) if h in grid.text}
    spare, total = room - sum(widths), sum(lacking.values())
    for i, lack in lacking.items():
        widths[i] += min(lack, spare * lack // total) if total else 0
    return widths


def table(grid: Grid, widths: Sequence[int]) -> RenderableType:
    from rich import box
    from rich.table import Table

    drawn = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for header, width in zip(grid.headers, widths, strict=True):
        folds = header in grid.text - grid.words
        drawn.add_column(header, width=width, overflow="fold" if folds else "ellipsis")
    for row in grid.rows:
        drawn.add_row(*(_cell(grid, h, cell) for h, cell in zip(grid.headers, row, strict=True)))
    return drawn


def records(grid: Grid) -> RenderableType:
    """Each row as lines of ``column  value``, a blank line between rows."""
    from rich.console import Group
    from rich.table import Table

    shown: list[RenderableType] = []
    for number, row in enumerate(grid.rows):
        record = Table.grid(padding=(0, GAP, 0, 0))
        record.add_column(style="bold", no_wrap=True)
        record.add_column(overflow="fold")
        for header, cell in zip(grid.headers, row, strict=True):
            record.add_row(header, _cell(grid, header, cell))
        shown.extend([record] if number == 0 else ["", record])
    return Group(*shown)


def _cell(grid: Grid, header: str, cell: str) -> Text:
    from rich.text import Text

    text = Text(cell)
    if header in grid.staged:
        for stage, style in STAGE_STYLES.items():
            text.highlight_words([stage], style)
    return text


def _one_line(cell: str) -> str:
    return " ".join(cell.split()) if "\n" in cell or "\t" in cell else cell


def _cell_width(cell: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in cell.splitlines()), default=0)


def _longest_word(cell: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(word) for word in cell.split()), default=0)
