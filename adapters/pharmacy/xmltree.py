"""A small, safe XML reader for pharmacy messages: no DTD, no entities, no surprises.

NCPDP SCRIPT messages never need a document type declaration, and every XML
attack that matters (external entities reading files or URLs, the "billion
laughs" entity expansion) needs one: so any DOCTYPE is refused outright,
before expat reads a single declaration. Built on the standard library's
expat directly (no ElementTree), so the refusal cannot be bypassed by a
parser default, and element names are reduced to their local names
(SCRIPT is sent both with and without its namespace).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn
from xml.parsers import expat

from adapters.base import ConversionError

__all__ = ["MAX_BYTES", "Node", "parse"]

MAX_BYTES = 4 * 1024 * 1024
_MAX_DEPTH = 64


@dataclass(slots=True, eq=False)
class Node:
    """One element: local name, attributes, children, its own text, and where it is."""

    name: str
    path: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def child(self, name: str) -> Node | None:
        """The first child element called ``name``."""
        for node in self.children:
            if node.name == name:
                return node
        return None

    def find(self, path: str) -> Node | None:
        """The first element at a ``/``-separated path of child names."""
        node: Node | None = self
        for name in path.split("/"):
            node = node.child(name) if node is not None else None
        return node

    def all(self, name: str) -> Iterator[Node]:
        """Every child element called ``name``."""
        return (node for node in self.children if node.name == name)

    def value(self, path: str) -> str | None:
        """The stripped text at ``path``, or None when the element is missing or empty."""
        node = self.find(path)
        if node is None:
            return None
        return node.text.strip() or None

    def where(self, path: str) -> str:
        """The source location of ``path`` below this element, for error messages."""
        return f"{self.path}/{path}" if path else self.path


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


def _refuse_dtd(*_: Any) -> NoReturn:
    raise ConversionError("XML with a DOCTYPE (DTD) is refused", code="207")


def _refuse_entity(*_: Any) -> NoReturn:
    raise ConversionError("XML entity declarations are refused", code="207")


def parse(data: bytes | str) -> Node:
    """The element tree of an XML document, or ConversionError.

    A ``str`` is read as the Unicode text it is (its XML declaration's
    encoding is ignored); ``bytes`` follow the declaration, UTF-8 by default.
    """
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise ConversionError("message text is not valid Unicode", code="102") from None
        parser = expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    else:
        raw = bytes(data)
        parser = expat.ParserCreate(namespace_separator=" ")
    if len(raw) > MAX_BYTES:
        raise ConversionError(f"message of {len(raw)} bytes; at most {MAX_BYTES}", code="207")

    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_entity
    parser.buffer_text = True

    stack: list[Node] = []
    roots: list[Node] = []
    texts: list[list[str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= _MAX_DEPTH:
            raise ConversionError(f"XML nested deeper than {_MAX_DEPTH} elements", code="207")
        local = _local(name)
        path = f"{stack[-1].path}/{local}" if stack else local
        node = Node(local, path, {_local(k): v for k, v in attrs.items()})
        if stack:
            stack[-1].children.append(node)
        else:
            roots.append(node)
        stack.append(node)
        texts.append([])

    def end(name: str) -> None:
        node = stack.pop()
        node.text = "".join(texts.pop())

    def characters(data: str) -> None:
        if texts:
            texts[-1].append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(raw, True)
    except (LookupError, UnicodeError) as error:  # an encoding Python does not know, or bad bytes
        raise ConversionError(f"cannot decode the message: {error}", code="102") from None
    except expat.ExpatError as error:
        raise ConversionError(
            f"not well-formed XML: {expat.ErrorString(error.code)}",
            location=f"line {error.lineno}, column {error.offset}",
            code="102",
        ) from None
    if len(roots) != 1:  # pragma: no cover - expat allows exactly one root
        raise ConversionError("XML document has no root element", code="102")
    return roots[0]
