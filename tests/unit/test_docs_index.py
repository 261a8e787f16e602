"""One index of the docs: README's "Documentation" list, docs/index.md and the site's nav
name the same pages, in the same groups and order, and no page is left out of them."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

Index = list[tuple[str, list[tuple[str, str]]]]  # [(group, [(title, page)])]


def markdown_index(text: str, prefix: str) -> Index:
    """The grouped list: a ``**Group**`` line, then ``- [Title](prefix + page): ...`` items."""
    index: Index = []
    for line in text.splitlines():
        group = re.fullmatch(r"\*\*(.+)\*\*", line)
        item = re.match(r"- \[(.+?)\]\(" + re.escape(prefix) + r"([\w.-]+\.md)\)", line)
        if group:
            index.append((group[1], []))
        elif item and index:
            index[-1][1].append((item[1], item[2]))
    return index


def readme_index() -> Index:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Documentation\n", 1)[1].split("\n## ", 1)[0]
    return markdown_index(section, "docs/")


def nav_index() -> Index:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    index: Index = []
    for entry in config["nav"]:
        ((group, pages),) = entry.items()
        if isinstance(pages, list):
            index.append((group, [next(iter(page.items())) for page in pages]))
    return index


def test_readme_and_the_docs_home_list_the_site_nav() -> None:
    nav = nav_index()
    assert [group for group, _ in nav] == ["Start", "Guides", "Operations", "Reference"]
    assert readme_index() == nav
    assert markdown_index((DOCS / "index.md").read_text(), "") == nav


def test_every_page_is_in_the_index() -> None:
    listed = {page for _, pages in nav_index() for _, page in pages}
    assert listed == {p.name for p in DOCS.glob("*.md")} - {"index.md"}
