"""MkDocs hook: guide pages take their text from README sections, so each fact is
written once. A page holding ``<!-- readme: NAME -->`` gets the README's text between
``<!-- section: NAME -->`` and ``<!-- /section: NAME -->``, its links rewritten from
the repository root's point of view to the site's (``docs/x.md`` -> ``x.md``, a
``#heading`` of another section -> that section's page)."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "README.md"
REPOSITORY = "https://github.com/wayline-dev/wayline/blob/main/"
_SECTION = re.compile(r"<!-- section: ([\w-]+) -->\n(.*?)<!-- /section: \1 -->", re.DOTALL)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if "<!-- readme: " not in markdown:
        return markdown
    sections = dict(_SECTION.findall(README.read_text(encoding="utf-8")))
    pages = {
        re.search(r"<!-- readme: ([\w-]+) -->", f.content_string).group(1): f.src_uri
        for f in files.documentation_pages()
        if "<!-- readme: " in f.content_string
    }
    anchors = {
        _slug(heading): name
        for name, text in sections.items()
        for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    }

    def section(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in sections:
            raise ValueError(f"README.md has no section {name!r}")
        here = page.file.src_uri
        up = "../" * here.count("/")

        def anchor(link: re.Match[str]) -> str:
            owner = anchors.get(link.group(1))
            if owner is None or owner == name or owner not in pages:
                return link.group(0)
            target = posixpath.relpath(pages[owner], posixpath.dirname(here) or ".")
            return f"]({target}#{link.group(1)})"

        body = re.sub(r"\]\(docs/", f"]({up}", sections[name])
        body = re.sub(r"\]\(#([\w-]+)\)", anchor, body)
        return re.sub(r"\]\((LICENSE|examples/[^)]*|src/[^)]*)\)", rf"]({REPOSITORY}\1)", body)

    return re.sub(r"<!-- readme: ([\w-]+) -->", section, markdown)


def _slug(heading: str) -> str:
    """The anchor GitHub and MkDocs give a heading (lower case, punctuation dropped)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")
