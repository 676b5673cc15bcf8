"""Run a cell's source the way IPython runs a cell, from inside a cell magic.

IPython's own compile path, as ``%%time`` takes it: the input transformers
(``%magics``, ``!shell``), the shell's AST transformers (users' and
extensions'), the compiler flags (``from __future__`` imports carry over),
and a cached source, so tracebacks show the cell's lines. The last
expression's value is returned, as a cell's would be. Kepler's frames hide
from the tracebacks IPython shows (``__tracebackhide__``).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


def execute_cell(shell: InteractiveShell, cell: str) -> Any:
    """Execute ``cell`` in the user's namespace; return its last expression's value (or None)."""
    __tracebackhide__ = True
    source = shell.transform_cell(cell)
    filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)
    tree = shell.transform_ast(shell.compile.ast_parse(source, filename=filename))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    namespace = shell.user_ns
    exec(shell.compile(tree, filename, "exec"), namespace)
    if last is not None:
        return eval(shell.compile(ast.Expression(last.value), filename, "eval"), namespace)
    return None
