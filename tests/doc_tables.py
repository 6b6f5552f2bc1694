"""Reading the docs' tables, so tests can hold the docs to what the code computes."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_doc(relative: str) -> str:
    return (ROOT / relative).read_text()


def markdown_tables(text: str) -> list[tuple[str, list[dict[str, str]]]]:
    """Every markdown table in `text`, with the heading it sits under (its text without
    the #s): (heading, rows), each row a dict of column name to stripped cell text."""
    tables: list[tuple[str, list[dict[str, str]]]] = []
    heading = ""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        is_header = line.startswith("|") and index + 1 < len(lines)
        if is_header and lines[index + 1].strip().startswith("|---"):
            columns = _cells(line)
            rows = []
            index += 2
            while index < len(lines) and lines[index].strip().startswith("|"):
                rows.append(dict(zip(columns, _cells(lines[index]), strict=True)))
                index += 1
            tables.append((heading, rows))
            continue
        index += 1
    return tables


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_under(text: str, heading: str) -> list[dict[str, str]]:
    """The one table under `heading`."""
    [rows] = [rows for title, rows in markdown_tables(text) if title == heading]
    return rows


def unquote(cell: str) -> str:
    """A cell's text without the backticks of a code span."""
    return cell.strip("`")


def printed_rows(text: str) -> list[list[str]]:
    """The body rows of a table rich printed (lines between │ bars), each a list of
    stripped cells; a cell wrapped over several lines is joined with spaces. The header
    and rule lines are left out."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if rows and not cells[0] and len(cells) == len(rows[-1]):  # a wrapped cell goes on
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return rows
