"""Child-process entry point: ``python -m benchmarks.child module:function '{"kw": 1}'``.

Imports ``benchmarks.<module>``, calls the function with the JSON keyword arguments (a
coroutine function runs under ``asyncio.run``) and prints its JSON result on the last line,
after :data:`benchmarks.common.RESULT_MARK`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys

from benchmarks.common import RESULT_MARK


def main(argv: list[str]) -> None:
    target, kwargs = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(f"benchmarks.{module_name}"), func_name)
    result = asyncio.run(func(**kwargs)) if inspect.iscoroutinefunction(func) else func(**kwargs)
    print(RESULT_MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
