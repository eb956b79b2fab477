"""Render a Markdown export the way a viewer would and say what it turned into.

Two viewers: plain CommonMark with raw HTML on (what the exports must survive), and a
GitHub-like one (tables, strikethrough) that also accepts every link scheme, so a test
proves that the escaping itself keeps links from forming, not markdown-it's own refusal
of javascript: URLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from markdown_it import MarkdownIt

# Hostile text: raw HTML, event handlers, javascript: links in every Markdown form, code
# spans, table-cell breakers, heading, list, quote, setext and indented-code injections,
# entities, and backslashes that try to undo escapes.
PAYLOAD = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [click](javascript:alert(1)) "
    '<a href="javascript:alert(1)">x</a> `code` ``` fence a | b || c\n'
    "# heading\n<javascript:alert(1)> ![i](javascript:alert(1)) <iframe src=javascript:x>\n"
    "- item\n+ item\n1. item\n> quote\n===\n---\n\n\n    indented code\n"
    "&lt;b&gt; &amp; *em* _u_ ~~s~~ \\*not em\\* \\| end \\"
)
# In a file name: the same, less the slashes a path cannot hold in one name.
FILE_PAYLOAD = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) `q` | b .gguf"
ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "p", "br", "ul", "li", "strong", "em", "code", "pre", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip


@dataclass
class Rendered:
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    text: str = ""

    @property
    def skeleton(self) -> list[str]:
        """The element structure, less the paragraphs and line breaks that the number of
        lines in a value decides."""
        return [name for name, _ in self.tags if name not in ("p", "br")]

    def problems(self, allowed_images: tuple[str, ...] = ()) -> list[str]:
        found = []
        for name, attrs in self.tags:
            if name not in ALLOWED_TAGS:
                found.append(f"<{name}> element")
            found += [f"{key}= on <{name}>" for key in attrs if key.startswith("on")]
            found += [
                f"javascript: in {key}= of <{name}>"
                for key, value in attrs.items()
                if "javascript:" in "".join(value.lower().split())
            ]
            if name == "img" and attrs.get("src") not in allowed_images:
                found.append(f"<img src={attrs.get('src')!r}>")
        return found


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.result = Rendered()
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.result.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "img":  # a viewer shows an image's alt text
            self._text.append(dict(attrs).get("alt") or "")

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def commonmark() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True})


def lax_gfm() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


VIEWERS = {"commonmark": commonmark, "lax-gfm": lax_gfm}


def render(markdown: str, viewer: str) -> Rendered:
    collector = _Collector()
    collector.feed(VIEWERS[viewer]().render(markdown))
    collector.close()
    collector.result.text = "".join(collector._text)
    return collector.result


def visible(value: str, rendered: Rendered) -> bool:
    """Whether the value's words show, in order, in the rendered text (white space, line
    breaks and no-break spaces aside)."""
    return " ".join(value.split()) in " ".join(rendered.text.split())
