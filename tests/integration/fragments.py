"""Read a demo's HTML fragment the way a test needs it: texts by data-testid."""

import re
from html.parser import HTMLParser

VOID = {"br", "hr", "img", "input", "link", "meta", "wbr"}


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class Fragment(HTMLParser):
    """Each element's text by its data-testid, and the cells of each such row."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str | None]] = []
        self.texts: dict[str, str] = {}
        self.rows: dict[str, list[str]] = {}
        self.feed(html)
        self.close()

    def marked(self) -> list[str]:
        return [testid for _, testid in self.open if testid]

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        testid = dict(attrs).get("data-testid")
        if tag == "td":
            for name in self.marked():
                self.rows.setdefault(name, []).append("")
        self.open.append((tag, testid))
        if testid:
            self.texts.setdefault(testid, "")

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data):
        inside_cell = any(tag == "td" for tag, _ in self.open)
        for name in self.marked():
            self.texts[name] += data
            if inside_cell and self.rows.get(name):
                self.rows[name][-1] += data

    def text(self, testid: str) -> str:
        """Answer the element's text, spaces squeezed.

        :raise KeyError: no element carries the data-testid.
        """
        return squeeze(self.texts[testid])

    def has(self, testid: str) -> bool:
        return testid in self.texts

    def cells(self, testid: str) -> list[str]:
        """Answer the texts of the td cells inside the element, in order."""
        return [squeeze(cell) for cell in self.rows.get(testid, [])]

    def numbers(self, testid: str) -> list[int]:
        """Answer the whole numbers that open the element's cells, skipping the rest."""
        firsts = [cell.split()[0] for cell in self.cells(testid) if cell]
        return [int(first) for first in firsts if first.isdigit()]
