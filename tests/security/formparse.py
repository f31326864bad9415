"""A small HTML reader for the security walks: forms with their fields, and what CSP would block.

Standard library only (`html.parser`): the walks read the pages as a browser would see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit


@dataclass
class Field:
    name: str
    kind: str  # input type ("text", "hidden", "date", "number", "checkbox", ...), "select" or "textarea"
    value: str = ""
    options: list[str] = field(default_factory=list)
    checked: bool = False


@dataclass
class Form:
    action: str  # absolute path (query string kept)
    method: str  # "get" or "post"
    fields: list[Field] = field(default_factory=list)

    @property
    def path(self) -> str:
        return urlsplit(self.action).path

    def defaults(self) -> dict[str, list[str]]:
        """What a browser would submit untouched (checked boxes, selected options, hidden values)."""
        data: dict[str, list[str]] = {}
        for f in self.fields:
            if f.kind in ("checkbox", "radio") and not f.checked:
                continue
            if f.kind in ("submit", "button", "reset", "file", "image"):
                continue
            data.setdefault(f.name, []).append(f.value)
        return data


@dataclass
class InlineCode:
    """Markup a `script-src 'self'; style-src 'self'` policy blocks: the page would be broken."""

    what: str
    excerpt: str


class _Reader(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.inline: list[InlineCode] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._select_selected = False
        self._textarea: Field | None = None
        self._script: dict | None = None
        self._style = False

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        for name, value in a.items():
            if name.startswith("on"):
                self.inline.append(InlineCode(f"event handler {name}= on <{tag}>", value[:80]))
            if name == "style":
                self.inline.append(InlineCode(f"style= attribute on <{tag}>", value[:80]))
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith("javascript:"):
                self.inline.append(InlineCode(f"javascript: URL in {name}= on <{tag}>", value[:80]))
        if tag == "script":
            self._script = {"src": "src" in a, "type": a.get("type", "").lower(), "text": ""}
        elif tag == "style":
            self._style = True
        elif tag == "form":
            action = urljoin(self.page_url, a.get("action") or self.page_url)
            parts = urlsplit(action)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            self._form = Form(action=path, method=(a.get("method") or "get").lower())
            self.forms.append(self._form)
        elif self._form is not None and "name" in a and "disabled" not in a:
            if tag == "input":
                kind = (a.get("type") or "text").lower()
                self._form.fields.append(
                    Field(
                        a["name"],
                        kind,
                        a.get("value", "on" if kind in ("checkbox", "radio") else ""),
                        [],
                        "checked" in a,
                    )
                )
            elif tag == "select":
                self._select = Field(a["name"], "select")
                self._select_selected = False
                self._form.fields.append(self._select)
            elif tag == "textarea":
                self._textarea = Field(a["name"], "textarea")
                self._form.fields.append(self._textarea)
            elif tag == "button" and a.get("type", "submit") == "submit" and a.get("value") is not None:
                self._form.fields.append(Field(a["name"], "submit", a.get("value", "")))
        if tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select.options.append(value)
            if "selected" in a or not self._select_selected and len(self._select.options) == 1:
                self._select.value = value
                self._select_selected = self._select_selected or "selected" in a

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            script, self._script = self._script, None
            executable = script["type"] in ("", "text/javascript", "module", "application/javascript")
            if executable and not script["src"] and script["text"].strip():
                self.inline.append(InlineCode("inline <script>", script["text"].strip()[:80]))
        elif tag == "style":
            self._style = False
        elif tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._script is not None:
            self._script["text"] += data
        elif self._style and data.strip():
            self.inline.append(InlineCode("inline <style>", data.strip()[:80]))
        elif self._textarea is not None:
            self._textarea.value += data


def read_page(html_text: str, page_url: str) -> tuple[list[Form], list[InlineCode]]:
    reader = _Reader(page_url)
    reader.feed(html_text)
    reader.close()
    return reader.forms, reader.inline
