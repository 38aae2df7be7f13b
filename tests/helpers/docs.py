"""Reading the tables of the docs, for tests that check docs against code."""

from __future__ import annotations

from pathlib import Path


def markdown_table(path: Path, first_header: str) -> list[dict[str, str]]:
    """The rows of the first table in ``path`` whose header row starts with ``| first_header |``.

    Each row is a dict of stripped cells by column name (the separator row is skipped).
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (c.strip() for c in line.strip().strip("|").split("|")))))
    return rows
