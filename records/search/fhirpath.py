"""A compiler for the small FHIRPath subset used by the R4 search parameter expressions.

Indexing runs on every write, so expressions are parsed and type-checked once per
(resource type, parameter) and turned into plain closures over dicts and lists: no
parsing, regex or reflection happens while a resource is evaluated.

Every value produced is tagged with its FHIR datatype (``CodeableConcept``,
``Identifier``, ``dateTime``...), because the index entries for a value depend on its
type and the JSON shape alone cannot tell an ``Identifier`` from a ``ContactPoint``.
Types come from an element-type lookup (derived from the official JSON schema); where
it has no answer, the type is guessed from the JSON shape.

Supported: dotted paths (lists flatten), choice types via ``as``/``as()``/``ofType()``
or bare (every ``value[x]`` variant), ``where()`` with ``resolve() is Type`` or any
supported boolean criterion, ``exists()``, ``empty()``, ``not()``, ``first()``,
``[n]``, ``=``, ``!=``, ``and``, ``or``, ``is`` and unions ``|``.  A union part that
cannot be compiled is skipped and recorded in :data:`UNSUPPORTED`; compiling never
raises.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "UNSUPPORTED",
    "Branch",
    "ElementTypeLookup",
    "Evaluator",
    "Item",
    "Unsupported",
    "Values",
    "compile_branches",
    "compile_expression",
    "infer_type",
    "parse",
    "split_union",
]

Item = tuple[str, Any]
"""A value with its FHIR datatype name (or ``'primitive'`` when unknown)."""

Evaluator = Callable[[dict[str, Any]], list[Item]]

Values = Callable[[dict[str, Any]], list[Any]]
"""A resource's values for a branch whose datatype is known when compiling, untagged."""

ElementType = str | tuple[str, ...]
"""One datatype, or the datatypes of a choice element ``name[x]`` (in schema order)."""

ElementTypeLookup = Callable[[str, str], ElementType | None]
"""``(owning type, element name) -> datatype``; ``None`` when unknown."""

_Fn = Callable[[list[Item]], list[Item]]
_Types = frozenset[str] | None  # static types of a collection; None when not known


class Unsupported(NamedTuple):
    resource_type: str
    expression: str
    reason: str


UNSUPPORTED: list[Unsupported] = []
"""Expression parts that were skipped at compile time, for diagnostics and tests."""

_QUANTITY_SUBTYPES = frozenset(
    {"Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
)
_ABSTRACT_ROOTS = frozenset({"Resource", "DomainResource"})


class CompileError(Exception):
    """The expression uses FHIRPath outside the supported subset."""


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | bool | int | float


@dataclass(frozen=True, slots=True)
class This:
    pass


@dataclass(frozen=True, slots=True)
class Variable:
    name: str


@dataclass(frozen=True, slots=True)
class Member:
    base: Node | None  # None: the current focus
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    base: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Index:
    base: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class TypeOp:
    op: str  # 'is' | 'as'
    operand: Node
    type_name: str


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Node


Node = Literal | This | Variable | Member | Call | Index | Binary | TypeOp | Unary

_KEYWORD_OPS = frozenset(
    {"and", "or", "xor", "implies", "is", "as", "in", "contains", "div", "mod"}
)
_SYMBOLS = (
    "!=",
    "!~",
    "<=",
    ">=",
    "|",
    ".",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "~",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "&",
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            tokens.append(("op" if word in _KEYWORD_OPS else "id", word))
            i = j
        elif ch == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise CompileError("unterminated `identifier`")
            tokens.append(("id", text[i + 1 : j]))
            i = j + 1
        elif ch == "'":
            j, chars = i + 1, []
            while j < n and text[j] != "'":
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                    chars.append({"n": "\n", "t": "\t", "r": "\r"}.get(text[j], text[j]))
                else:
                    chars.append(text[j])
                j += 1
            if j >= n:
                raise CompileError("unterminated string literal")
            tokens.append(("str", "".join(chars)))
            i = j + 1
        elif ch.isdigit():
            j = i + 1
            while j < n and (
                text[j].isdigit() or (text[j] == "." and j + 1 < n and text[j + 1].isdigit())
            ):
                j += 1
            tokens.append(("num", text[i:j]))
            i = j
        elif ch in "$%":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_-"):
                j += 1
            tokens.append(("var", text[i:j]))
            i = j
        else:
            for symbol in _SYMBOLS:
                if text.startswith(symbol, i):
                    tokens.append(("op", symbol))
                    i += len(symbol)
                    break
            else:
                raise CompileError(f"unexpected character {ch!r}")
    tokens.append(("eof", ""))
    return tokens


class _Parser:
    """Recursive descent over the FHIRPath operator precedence table."""

    _LEVELS: tuple[frozenset[str], ...] = (
        frozenset({"implies"}),
        frozenset({"or", "xor"}),
        frozenset({"and"}),
        frozenset({"in", "contains"}),
        frozenset({"=", "!=", "~", "!~"}),
        frozenset({"<", ">", "<=", ">="}),
        frozenset({"|"}),
    )

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        kind, got = self.take()
        if got != value or kind not in ("op",):
            raise CompileError(f"expected {value!r}, got {got or 'end of expression'!r}")

    def parse(self) -> Node:
        node = self.expression()
        if self.peek()[0] != "eof":
            raise CompileError(f"unexpected {self.peek()[1]!r}")
        return node

    def expression(self, level: int = 0) -> Node:
        if level == len(self._LEVELS):
            return self.type_expression()
        node = self.expression(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self._LEVELS[level]:
            op = self.take()[1]
            node = Binary(op, node, self.expression(level + 1))
        return node

    def type_expression(self) -> Node:
        node = self.additive()
        while self.peek() in (("op", "is"), ("op", "as")):
            op = self.take()[1]
            node = TypeOp(op, node, self.type_specifier())
        return node

    def type_specifier(self) -> str:
        kind, name = self.take()
        if kind != "id":
            raise CompileError(f"expected a type name, got {name!r}")
        if self.peek() == ("op", ".") and self.tokens[self.pos + 1][0] == "id":
            self.take()
            name = self.take()[1]  # 'FHIR.Patient' / 'System.String': keep the type name
        return name

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-", "&"):
            op = self.take()[1]
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/", "div", "mod"):
            op = self.take()[1]
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            return Unary(op, self.unary())
        return self.invocation()

    def invocation(self) -> Node:
        node = self.term()
        while True:
            if self.peek() == ("op", "."):
                self.take()
                kind, name = self.take()
                if kind != "id" and not (kind == "op" and name in ("as", "is", "contains")):
                    raise CompileError(f"expected a name after '.', got {name!r}")
                node = self.member_or_call(node, name)
            elif self.peek() == ("op", "["):
                self.take()
                index = self.expression()
                self.expect("]")
                node = Index(node, index)
            else:
                return node

    def member_or_call(self, base: Node | None, name: str) -> Node:
        if self.peek() != ("op", "("):
            return Member(base, name)
        self.take()
        args: list[Node] = []
        if self.peek() != ("op", ")"):
            args.append(self.expression())
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.expression())
        self.expect(")")
        return Call(base, name, tuple(args))

    def term(self) -> Node:
        kind, value = self.take()
        if kind == "str":
            return Literal(value)
        if kind == "num":
            return Literal(float(value) if "." in value else int(value))
        if kind == "var":
            return This() if value == "$this" else Variable(value)
        if kind == "id":
            if value in ("true", "false"):
                return Literal(value == "true")
            return self.member_or_call(None, value)
        if (kind, value) == ("op", "("):
            node = self.expression()
            self.expect(")")
            return node
        raise CompileError(f"unexpected {value or 'end of expression'!r}")


def parse(expression: str) -> Node:
    """Parse ``expression``; raises :class:`CompileError` outside the grammar."""
    return _Parser(expression).parse()


def split_union(expression: str) -> list[str]:
    """Split on top-level ``|`` so each part can be kept, skipped or reported on its own."""
    parts: list[str] = []
    depth, start, quoted = 0, 0, False
    for i, ch in enumerate(expression):
        if quoted:
            quoted = ch != "'" or expression[i - 1] == "\\"
        elif ch == "'":
            quoted = True
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


# --------------------------------------------------------------------------- shapes


_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_NUMBERS = (int, float)  # a constant: 'int | float' would build a new union per call


def infer_type(value: Any) -> str:
    """Guess a datatype from the JSON shape, for values the element types do not cover."""
    if isinstance(value, dict):
        if "resourceType" in value:
            return "Resource"
        if "reference" in value:
            return "Reference"
        if "coding" in value:
            return "CodeableConcept"
        if "start" in value or "end" in value:
            return "Period"
        if "low" in value or "high" in value:
            return "Range"
        if "family" in value or "given" in value:
            return "HumanName"
        if "line" in value or "city" in value or "postalCode" in value:
            return "Address"
        if "event" in value or "repeat" in value:
            return "Timing"
        if "currency" in value:
            return "Money"
        if (
            "value" in value
            and isinstance(value["value"], _NUMBERS)
            and not isinstance(value["value"], bool)
        ):
            return "Quantity"
        if "system" in value and "value" in value:
            system = value["system"]
            contact = isinstance(system, str) and system in _CONTACT_SYSTEMS
            return "ContactPoint" if contact else "Identifier"
        if "code" in value:
            return "Coding"
        if set(value) <= {"text", "id", "extension"}:
            return "CodeableConcept"
        return "Element"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    return "primitive"


def _reference_type(value: Any) -> str | None:
    """The resource type a Reference points at (what ``resolve() is T`` tests)."""
    if not isinstance(value, dict):
        return None
    ref = value.get("reference")
    if isinstance(ref, str) and ref and ref[0] != "#" and not ref.startswith("urn:"):
        return _location_type(ref)
    declared = value.get("type")
    if isinstance(declared, str) and "/" not in declared:
        return declared
    return None


@functools.lru_cache(maxsize=4096)  # a feed's resources mostly point at the same few
def _location_type(ref: str) -> str | None:
    """'Patient/1', 'https://host/fhir/Patient/1/_history/2' -> 'Patient'."""
    parts = ref.split("/_history/", 1)[0].rstrip("/").split("/")
    return parts[-2] if len(parts) >= 2 else None


# --------------------------------------------------------------------------- compiling


_KeyPath = tuple[tuple[str, ...], str]  # JSON keys from the focus, datatype at the end


@dataclass(frozen=True, slots=True)
class _Compiled:
    fn: _Fn
    types: _Types
    # When the result is just a set of key paths from the focus, each with a static
    # type, they are kept so that further member steps extend them (one loop per path
    # rather than a stack of closures) and the top level can skip the item wrapping.
    paths: tuple[_KeyPath, ...] | None = None


def _walk_keys(keys: tuple[str, ...]) -> Callable[[list[Any]], list[Any]]:
    if len(keys) == 1:
        (key,) = keys

        def one(values: list[Any]) -> list[Any]:
            out: list[Any] = []
            for v in values:
                if type(v) is dict:
                    x = v.get(key)
                    if x is not None:
                        if type(x) is list:
                            out.extend(x)
                        else:
                            out.append(x)
            return out

        return one

    def many(values: list[Any]) -> list[Any]:
        for key in keys:
            out: list[Any] = []
            for v in values:
                if type(v) is dict:
                    x = v.get(key)
                    if x is not None:
                        if type(x) is list:
                            out.extend(x)
                        else:
                            out.append(x)
            if not out:
                return out
            values = out
        return values

    return many


def _path_fn(keys: tuple[str, ...], tag: str) -> _Fn:
    if not keys:
        return lambda items: [(tag, v) for _, v in items]
    walk = _walk_keys(keys)
    return lambda items: [(tag, v) for v in walk([v for _, v in items]) if v is not None]


def _from_paths(paths: tuple[_KeyPath, ...]) -> _Compiled:
    fns = [_path_fn(keys, tag) for keys, tag in paths]
    types = frozenset(tag for _, tag in paths)
    if len(fns) == 1:
        return _Compiled(fns[0], types, paths)

    def fn(items: list[Item]) -> list[Item]:
        out: list[Item] = []
        for f in fns:
            out.extend(f(items))
        return out

    return _Compiled(fn, types, paths)


def _identity(types: _Types) -> _Compiled:
    if types is not None and len(types) == 1:
        return _from_paths((((), next(iter(types))),))
    return _Compiled(lambda items: items, types)


def _values(keys: tuple[str, ...]) -> Values:
    """A key path run straight on a resource: the hot loop of indexing."""
    if not keys:
        return lambda resource: [resource]
    first, rest = keys[0], keys[1:]
    if not rest:

        def top(resource: dict[str, Any]) -> list[Any]:
            x = resource.get(first)
            if x is None:
                return []
            if type(x) is list:
                return [y for y in x if y is not None]
            return [x]

        return top
    walk = _walk_keys(rest)
    if len(rest) == 1:
        second = rest[0]

        def pair(resource: dict[str, Any]) -> list[Any]:
            x = resource.get(first)
            if type(x) is dict:  # most often a single element ('Resource.meta.tag')
                y = x.get(second)
                if type(y) is list:
                    return [z for z in y if z is not None]
                return [] if y is None else [y]
            if type(x) is not list:
                return []
            return [y for y in walk(x) if y is not None]

        return pair

    def nested(resource: dict[str, Any]) -> list[Any]:
        x = resource.get(first)
        if x is None:
            return []
        return [y for y in walk(x if type(x) is list else [x]) if y is not None]

    return nested


def _choice_key(name: str, type_name: str) -> str:
    return name + type_name[0].upper() + type_name[1:]


def _boolean(items: list[Item]) -> bool | None:
    """FHIRPath singleton evaluation of a collection in a boolean context."""
    if not items:
        return None
    if len(items) == 1:
        value = items[0][1]
        return value if isinstance(value, bool) else True
    return None  # an error in FHIRPath; evaluation must not raise, so: unknown


def _matches_type(tag: str, wanted: str) -> bool:
    return tag == wanted or (wanted == "Quantity" and tag in _QUANTITY_SUBTYPES)


class _Compiler:
    def __init__(self, resource_type: str, element_type: ElementTypeLookup) -> None:
        self.resource_type = resource_type
        self.element_type = element_type

    # -- entry point

    def compile(self, node: Node, types: _Types) -> _Compiled:
        if isinstance(node, Member):
            return self.member(node, types)
        if isinstance(node, Call):
            return self.call(node, types)
        if isinstance(node, TypeOp):
            return self.type_op(node.op, node.operand, node.type_name, types)
        if isinstance(node, Binary):
            return self.binary(node, types)
        if isinstance(node, Index):
            return self.index(node, types)
        if isinstance(node, Literal):
            return self.literal(node.value)
        if isinstance(node, This):
            return _identity(types)
        raise CompileError(f"{type(node).__name__.lower()} is not supported")

    # -- navigation

    def member(self, node: Member, types: _Types) -> _Compiled:
        if node.base is None and node.name[:1].isupper():
            # A leading type name ('Observation.code', 'Resource.meta'): the compiled
            # expression only ever runs on resources of self.resource_type.
            if node.name == self.resource_type or node.name in _ABSTRACT_ROOTS:
                return _identity(frozenset({self.resource_type}))
            raise CompileError(f"expression is rooted at {node.name}, not {self.resource_type}")
        base = self.compile(node.base, types) if node.base is not None else _identity(types)
        return self.step(base, node.name, None)

    def step(self, base: _Compiled, name: str, wanted: str | None) -> _Compiled:
        """Navigate to ``name``; ``wanted`` narrows a choice element to one type (``as``)."""
        paths = base.paths
        if paths is None:
            if base.types is None or len(base.types) != 1:
                return self.dynamic_step(base, name, wanted)
            paths = (((), next(iter(base.types))),)  # continue from the base's result
        extended: list[_KeyPath] = []
        for keys, owner in paths:
            element = self.element_type(owner, name)
            if element is None:
                return self.dynamic_step(base, name, wanted)
            if isinstance(element, tuple):
                extended += [
                    ((*keys, _choice_key(name, t)), t)
                    for t in element
                    if wanted is None or _matches_type(t, wanted)
                ]
            elif wanted is None or _matches_type(element, wanted):
                extended.append(((*keys, name), element))
        if not extended:
            raise CompileError(f"{name} is never a {wanted}")
        if base.paths is not None:
            return _from_paths(tuple(extended))
        return self.chain(base, _from_paths(tuple(extended)))

    def dynamic_step(self, base: _Compiled, name: str, wanted: str | None) -> _Compiled:
        """Navigation without static types: resolve per item, infer types from shape."""
        element_type = self.element_type
        base_fn = base.fn

        def fn(items: list[Item]) -> list[Item]:
            out: list[Item] = []
            for tag, v in base_fn(items):
                if type(v) is not dict:
                    continue
                element = element_type(tag, name)
                if isinstance(element, tuple):
                    pairs = [(_choice_key(name, t), t) for t in element]
                else:
                    pairs = [(name, element or "")]
                for key, known in pairs:
                    x = v.get(key)
                    if x is None:
                        continue
                    for y in x if type(x) is list else (x,):
                        if y is not None:
                            t = known or infer_type(y)
                            if wanted is None or _matches_type(t, wanted):
                                out.append((t, y))
            return out

        return _Compiled(fn, None)

    @staticmethod
    def chain(first: _Compiled, second: _Compiled) -> _Compiled:
        f, g = first.fn, second.fn
        return _Compiled(lambda items: g(f(items)), second.types)

    @staticmethod
    def concat(parts: list[_Compiled]) -> _Compiled:
        if all(p.paths is not None for p in parts):
            return _from_paths(tuple(path for p in parts for path in p.paths or ()))
        fns = [p.fn for p in parts]
        types: _Types = frozenset()
        for p in parts:
            types = None if types is None or p.types is None else types | p.types

        def fn(items: list[Item]) -> list[Item]:
            out: list[Item] = []
            for f in fns:
                out.extend(f(items))
            return out

        return _Compiled(fn, types)

    # -- types

    def type_op(self, op: str, operand: Node, type_name: str, types: _Types) -> _Compiled:
        if op == "as":
            if isinstance(operand, Member) and not (
                operand.base is None and operand.name[:1].isupper()
            ):
                base = (
                    self.compile(operand.base, types)
                    if operand.base is not None
                    else _identity(types)
                )
                return self.step(base, operand.name, type_name)
            inner = self.compile(operand, types)
            inner_fn = inner.fn
            return _Compiled(
                lambda items: [it for it in inner_fn(items) if _matches_type(it[0], type_name)],
                frozenset({type_name}),
            )
        if op == "is":
            if isinstance(operand, Call) and operand.name == "resolve" and not operand.args:
                source = self.compile(operand.base, types).fn if operand.base is not None else None

                def resolves_to(items: list[Item]) -> list[Item]:
                    focus = source(items) if source is not None else items
                    if len(focus) != 1:
                        return []
                    return [("boolean", _reference_type(focus[0][1]) == type_name)]

                return _Compiled(resolves_to, frozenset({"boolean"}))
            inner_fn = self.compile(operand, types).fn

            def is_type(items: list[Item]) -> list[Item]:
                focus = inner_fn(items)
                if len(focus) != 1:
                    return []
                return [("boolean", _matches_type(focus[0][0], type_name))]

            return _Compiled(is_type, frozenset({"boolean"}))
        raise CompileError(f"operator {op!r} is not supported")

    # -- functions

    def call(self, node: Call, types: _Types) -> _Compiled:
        name, args = node.name, node.args
        if name in ("as", "ofType", "is") and len(args) == 1:
            type_arg = args[0]
            if not isinstance(type_arg, Member) or type_arg.base is not None:
                raise CompileError(f"{name}() needs a type name")
            operand = node.base if node.base is not None else This()
            return self.type_op("is" if name == "is" else "as", operand, type_arg.name, types)
        if name == "resolve":
            raise CompileError("resolve() is only supported as 'resolve() is Type' in where()")
        base = self.compile(node.base, types) if node.base is not None else _identity(types)
        base_fn = base.fn
        if name == "where" and len(args) == 1:
            predicate = self.predicate(args[0], base.types)
            return _Compiled(
                lambda items: [it for it in base_fn(items) if predicate(it)], base.types
            )
        if args:
            raise CompileError(f"{name}() with arguments is not supported")
        if name == "exists":
            return _Compiled(
                lambda items: [("boolean", bool(base_fn(items)))], frozenset({"boolean"})
            )
        if name == "empty":
            return _Compiled(
                lambda items: [("boolean", not base_fn(items))], frozenset({"boolean"})
            )
        if name == "not":

            def negate(items: list[Item]) -> list[Item]:
                value = _boolean(base_fn(items))
                return [] if value is None else [("boolean", not value)]

            return _Compiled(negate, frozenset({"boolean"}))
        if name == "first":
            return _Compiled(lambda items: base_fn(items)[:1], base.types)
        raise CompileError(f"function {name}() is not supported")

    def predicate(self, criterion: Node, types: _Types) -> Callable[[Item], bool]:
        test = self.value_test(criterion, types)
        if test is not None:
            return lambda item: test(item[1])
        fn = self.compile(criterion, types).fn

        return lambda item: _boolean(fn([item])) is True

    def value_test(self, criterion: Node, types: _Types) -> Callable[[Any], bool] | None:
        """The common where() criteria, which look at an item's value only; else None."""
        # `where(resolve() is Patient)` (each item is the whole focus of 'resolve()', so
        # this is what resolves_to() answers for it).
        if (
            isinstance(criterion, TypeOp)
            and criterion.op == "is"
            and isinstance(criterion.operand, Call)
            and criterion.operand.name == "resolve"
            and criterion.operand.base is None
            and not criterion.operand.args
        ):
            target = criterion.type_name
            return lambda value: _reference_type(value) == target
        # `where(system='phone')`: one dict lookup.
        if (
            isinstance(criterion, Binary)
            and criterion.op == "="
            and isinstance(criterion.left, Member)
            and criterion.left.base is None
            and not criterion.left.name[:1].isupper()
            and isinstance(criterion.right, Literal)
            and isinstance(criterion.right.value, str)
            and types is not None
            and len(types) == 1
            and isinstance(self.element_type(next(iter(types)), criterion.left.name), str)
        ):
            key, wanted = criterion.left.name, criterion.right.value
            return lambda value: type(value) is dict and value.get(key) == wanted
        return None

    # -- operators

    def binary(self, node: Binary, types: _Types) -> _Compiled:
        op = node.op
        if op == "|":
            return self.concat([self.compile(node.left, types), self.compile(node.right, types)])
        left, right = self.compile(node.left, types).fn, self.compile(node.right, types).fn
        if op in ("=", "!="):
            negate = op == "!="

            def equals(items: list[Item]) -> list[Item]:
                a, b = left(items), right(items)
                if not a or not b:
                    return []
                same = len(a) == len(b) and all(x[1] == y[1] for x, y in zip(a, b, strict=True))
                return [("boolean", same != negate)]

            return _Compiled(equals, frozenset({"boolean"}))
        if op in ("and", "or"):
            is_and = op == "and"

            def logic(items: list[Item]) -> list[Item]:
                a, b = _boolean(left(items)), _boolean(right(items))
                if is_and:
                    if a is False or b is False:
                        return [("boolean", False)]
                    return [("boolean", True)] if a and b else []
                if a is True or b is True:
                    return [("boolean", True)]
                return [("boolean", False)] if a is False and b is False else []

            return _Compiled(logic, frozenset({"boolean"}))
        raise CompileError(f"operator {op!r} is not supported")

    def index(self, node: Index, types: _Types) -> _Compiled:
        if not isinstance(node.index, Literal) or type(node.index.value) is not int:
            raise CompileError("only literal integer indexes are supported")
        position = node.index.value
        base = self.compile(node.base, types)
        base_fn = base.fn
        return _Compiled(lambda items: base_fn(items)[position : position + 1], base.types)

    @staticmethod
    def literal(value: str | bool | int | float) -> _Compiled:
        tag = (
            "boolean"
            if isinstance(value, bool)
            else "string"
            if isinstance(value, str)
            else "integer"
            if isinstance(value, int)
            else "decimal"
        )
        result: list[Item] = [(tag, value)]
        return _Compiled(lambda items: list(result), frozenset({tag}))


def _no_types(owner: str, element: str) -> ElementType | None:
    return None


def _rooted(fn: _Fn, resource_type: str) -> Evaluator:
    return lambda resource: fn([(resource_type, resource)])


@dataclass(frozen=True, slots=True)
class Branch:
    """One alternative of an expression, compiled, with what an indexer needs to skip it.

    ``evaluate`` gives the branch's values tagged with their datatypes.  When they all
    have one datatype known at compile time (a plain walk down JSON keys, possibly
    filtered by a ``where()``), ``tag`` names it and ``values`` gives the same values
    untagged, so that a caller can choose its handling once rather than per value.
    """

    evaluate: Evaluator
    keys: frozenset[str] | None  # the resource's keys it starts from; None: unknown
    tag: str | None = None
    values: Values | None = None
    path: tuple[str, ...] | None = None  # the keys walked, when nothing is filtered out


def _path_branch(keys: tuple[str, ...], tag: str, where: Callable[[Any], bool] | None) -> Branch:
    walk = _values(keys)
    if where is None:
        values = walk
    else:
        test = where

        def values(resource: dict[str, Any]) -> list[Any]:
            return [v for v in walk(resource) if test(v)]

    return Branch(
        lambda resource: [(tag, v) for v in values(resource)],
        frozenset(keys[:1]) if keys else None,
        tag,
        values,
        keys if where is None else None,
    )


def _on_values(predicate: Callable[[Item], bool], tag: str) -> Callable[[Any], bool]:
    """A where() criterion on items of one datatype, as a test of their values."""
    return lambda value: predicate((tag, value))


def _compile_parts(
    expression: str, resource_type: str, compiler: _Compiler
) -> list[tuple[Node, _Compiled]]:
    """Each part of a ``|`` union, compiled; parts outside the subset go to UNSUPPORTED."""
    root: frozenset[str] = frozenset({resource_type})
    parts: list[tuple[Node, _Compiled]] = []
    for part in split_union(expression):
        try:
            node = parse(part)
            parts.append((node, compiler.compile(node, root)))
        except Exception as exc:
            reason = str(exc) if isinstance(exc, CompileError) else f"{type(exc).__name__}: {exc}"
            record = Unsupported(resource_type, part, reason)
            if record not in UNSUPPORTED:
                UNSUPPORTED.append(record)
    return parts


def compile_branches(
    expression: str, resource_type: str, element_type: ElementTypeLookup | None = None
) -> list[Branch]:
    """Compile each alternative of ``expression`` (a ``|`` union) on its own, in order.

    A part that is a choice element without ``as`` ('Observation.value') gives one
    branch per datatype.  Parts outside the subset are dropped and appended to
    :data:`UNSUPPORTED`, so a single exotic alternative does not cost the whole
    parameter.  On a resource that has none of a branch's ``keys`` it finds nothing,
    so an indexer may skip it (most search parameters find nothing in any one resource).
    """
    lookup = element_type or _no_types
    compiler = _Compiler(resource_type, lookup)
    branches: list[Branch] = []
    for node, compiled in _compile_parts(expression, resource_type, compiler):
        paths, test, predicate = compiled.paths, None, None
        if (
            paths is None
            and isinstance(node, Call)
            and node.name == "where"
            and node.base is not None
        ):
            # 'Observation.subject.where(resolve() is Patient)': a filtered key walk (its
            # parts compiled without error just before, as parts of the whole)
            base = compiler.compile(node.base, frozenset({resource_type}))
            if base.paths is not None:
                paths, criterion = base.paths, node.args[0]
                test = compiler.value_test(criterion, base.types)
                if test is None:
                    predicate = compiler.predicate(criterion, base.types)
        if paths is not None:
            for path, tag in paths:
                where = test if predicate is None else _on_values(predicate, tag)
                branches.append(_path_branch(path, tag, where))
        else:
            keys = _root_keys(node, resource_type, lookup)
            branches.append(Branch(_rooted(compiled.fn, resource_type), keys))
    return branches


def compile_expression(
    expression: str, resource_type: str, element_type: ElementTypeLookup | None = None
) -> Evaluator:
    """Compile ``expression`` for resources of ``resource_type`` into an evaluator.

    This is the plain reading of the expression, through the general closures, part
    after part.  Indexing runs :func:`compile_branches` instead, whose branches must
    give the same values: the tests hold one against the other.
    """
    compiler = _Compiler(resource_type, element_type or _no_types)
    parts = _compile_parts(expression, resource_type, compiler)
    evaluators = [_rooted(compiled.fn, resource_type) for _, compiled in parts]
    if not evaluators:
        return lambda resource: []
    if len(evaluators) == 1:
        return evaluators[0]

    def union(resource: dict[str, Any]) -> list[Item]:
        out: list[Item] = []
        for evaluate in evaluators:
            found = evaluate(resource)
            if found:
                out.extend(found)
        return out

    return union


# Steps that turn an empty collection into an empty collection (unlike exists(),
# empty(), not(), '=' or 'is', which answer a boolean about nothing).
_EMPTY_PRESERVING_CALLS = frozenset({"where", "first", "as", "ofType"})


def _root_keys(
    node: Node, resource_type: str, element_type: ElementTypeLookup
) -> frozenset[str] | None:
    """The keys of the resource an expression part first steps into, or None if unknown."""
    while True:
        if isinstance(node, Member):
            base = node.base
            if base is None:
                if node.name[:1].isupper():
                    return None  # the resource itself
                return _element_keys(resource_type, node.name, element_type)
            if isinstance(base, Member) and base.base is None and base.name[:1].isupper():
                return _element_keys(resource_type, node.name, element_type)
            node = base
        elif isinstance(node, Index):
            node = node.base
        elif isinstance(node, Call) and node.name in _EMPTY_PRESERVING_CALLS:
            if node.base is None:
                return None  # where() or first() of the resource itself
            node = node.base
        elif isinstance(node, TypeOp) and node.op == "as":
            node = node.operand
        else:
            return None


def _element_keys(resource_type: str, name: str, element_type: ElementTypeLookup) -> frozenset[str]:
    element = element_type(resource_type, name)
    if isinstance(element, tuple):  # a choice element: value -> valueQuantity, valueString...
        return frozenset({name, *(_choice_key(name, t) for t in element)})
    return frozenset({name})
