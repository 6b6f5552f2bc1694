"""Integer expressions over description parameters, e.g. ``"rows * cols"``.

Descriptions are data, but some sizes follow from parameters (one PE per array cell).
Rather than evaluating Python, we walk the AST and allow only integer literals, parameter
names, + - * // and parentheses, so a description can never run code.
"""

from __future__ import annotations

import ast

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
}


class ExpressionError(ValueError):
    """The text is not a valid integer expression over the known parameter names."""


# A size formula is short. Longer text could nest deeper than Python's parser and this
# module's recursive walk can go (a RecursionError, not an answer).
MAX_LENGTH = 200


def _parse(text: str) -> ast.Expression:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"{text[:20]!r}... is {len(text):,} characters long; a size expression has at "
            f"most {MAX_LENGTH}"
        )
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError) as exc:  # ValueError: a null byte
        raise ExpressionError(f"{text!r} is not a valid expression") from exc


def evaluate(text: str | int, names: dict[str, int]) -> int:
    """Evaluate `text` with `names` bound; an int is returned unchanged."""
    if isinstance(text, bool):
        raise ExpressionError(f"expected an integer or an expression, got {text!r}")
    if isinstance(text, int):
        return text
    if not isinstance(text, str):
        raise ExpressionError(f"expected an integer or an expression, got {text!r}")
    return _walk(_parse(text).body, names, text)


def referenced_names(text: str | int) -> set[str]:
    """Names an expression uses (empty for a literal)."""
    if not isinstance(text, str):
        return set()
    tree = _parse(text)
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.Name, ast.Load, *_BINARY)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            continue
        if not isinstance(node, allowed):
            raise ExpressionError(
                f"{text!r}: only integers, parameter names, + - * // and parentheses are allowed"
            )
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _walk(node: ast.AST, names: dict[str, int], text: str) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            known = ", ".join(sorted(names)) or "none"
            raise ExpressionError(f"{text!r} uses unknown name {node.id!r} (known: {known})")
        value = names[node.id]
        if not isinstance(value, int) or isinstance(value, bool):
            raise ExpressionError(f"{text!r} uses {node.id!r}, which is not an integer")
        return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _walk(node.left, names, text)
        right = _walk(node.right, names, text)
        if isinstance(node.op, ast.FloorDiv) and right == 0:
            raise ExpressionError(f"{text!r} divides by zero")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_walk(node.operand, names, text)
    raise ExpressionError(
        f"{text!r}: only integers, parameter names, + - * // and parentheses are allowed"
    )
