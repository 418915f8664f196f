"""What a revision file does, as a checksum that every Python computes alike.

The checksum recorded when a revision is applied is the sha256 of a canonical text of
its syntax tree, docstrings left out. A reformatter (ruff format, black), comments and
blank lines change tokens (quotes, parentheses, trailing commas, line breaks) but not
the tree, so they do not edit an applied revision; any change to its code does.

The text is written here, field by field, not by ``ast.dump``: ``ast.dump`` changed its
output in Python 3.12 (``type_params=[]``) and 3.13 (empty fields left out), so a release
applied on one Python looked edited on the next. The canonical text is the one Python
3.10 and 3.11 print, so checksums those recorded stay valid; what slipway recorded on
3.12 and 3.13 is still recognised (:func:`legacy_sha256s`) while the file is unchanged.

Standard library only: a test computes it under every supported Python.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

_DOCUMENTED = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Fields that exist only on newer Pythons and are empty unless the code uses the newer
# syntax (PEP 695 type parameters): left out when empty, as older Pythons have none.
_NEWER_FIELDS = frozenset({"type_params"})
_TYPE_PARAMS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(data: bytes, path: Path) -> ast.AST | None:
    try:
        tree = ast.parse(data, filename=str(path))
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _DOCUMENTED) or not node.body:
            continue
        first = node.body[0]
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):  # a docstring
            node.body = node.body[1:] or [ast.Pass()]
    return tree


def _text(node: object, style: str) -> str:
    """``node`` as ``ast.dump`` of Python ``style`` prints it: "3.11" (also 3.10, the
    canonical form), "3.12" or "3.13"."""
    if isinstance(node, list):
        return "[" + ", ".join(_text(item, style) for item in node) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    cls = type(node)
    args = []
    for name in node._fields:
        try:
            value = getattr(node, name)
        except AttributeError:
            continue
        if value is None and getattr(cls, name, ...) is None:
            continue  # an optional field not given
        if style == "3.11" and name in _NEWER_FIELDS and not value:
            continue
        if (
            style == "3.13"
            and (value is None or value == [])
            and not isinstance(node, (ast.Constant, ast.MatchSingleton))
        ):
            continue
        args.append(f"{name}={_text(value, style)}")
    if style == "3.12" and isinstance(node, _TYPE_PARAMS) and "type_params" not in node._fields:
        args.append("type_params=[]")  # the field 3.12 added, computed on an older Python
    return f"{cls.__name__}({', '.join(args)})"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def code_sha256(path: Path) -> str:
    """sha256 of what the revision file at ``path`` does (a file that does not parse:
    of its bytes)."""
    data = path.read_bytes()
    tree = _tree(data, path)
    return hashlib.sha256(data).hexdigest() if tree is None else _sha(_text(tree, "3.11"))


def legacy_sha256s(path: Path) -> set[str]:
    """Every checksum an earlier slipway may have recorded for this file as it is now:
    of its bytes, and of ``ast.dump`` as Python 3.12 and 3.13 print it."""
    data = path.read_bytes()
    tree = _tree(data, path)
    found = {hashlib.sha256(data).hexdigest()}
    if tree is not None:
        found |= {_sha(_text(tree, style)) for style in ("3.12", "3.13")}
    return found
