"""Where a process spends its CPU: py-spy's collapsed stacks recorded, and summed up by function.

    .venv/bin/python -m bench.kit.profile FILE.txt [--top 25]

FILE is ``py-spy record --format raw`` output (one ``frame;frame;...;frame count`` line per distinct stack;
idle threads are left out by py-spy). "self" is time with the function at the top of the stack, "total"
time with it anywhere on the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")
# "function (path/to/file.py:123)": the line number varies within a function; drop it to sum by function.
_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


async def record(out: Path, label: str, pids: dict[str, int], duration_s: float) -> None:
    """py-spy samples each process (without pausing it) for ``duration_s``, into out/<label>-<name>.txt
    (``out`` must exist)."""
    spies = [
        await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "py-spy"),
            *("record", "--nonblocking", "--format", "raw", "--rate", "100"),
            *("--duration", str(int(duration_s)), "--pid", str(pid)),
            *("--output", str(out / f"{label}-{name}.txt")),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    await asyncio.gather(*(s.wait() for s in spies))


def _function(frame: str, lines: bool = False) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    name, path = m.groups()
    if lines:
        path = frame[frame.rindex("(") + 1 : -1]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarise(path: Path, lines: bool = False) -> tuple[int, Counter[str], Counter[str]]:
    total, own, incl = 0, Counter[str](), Counter[str]()
    for line in path.read_text().splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        stack, n = m.group(1).split(";"), int(m.group(2))
        funcs = [_function(f, lines) for f in stack]
        total += n
        own[funcs[-1]] += n
        for f in set(funcs):
            incl[f] += n
    return total, own, incl


def render(path: Path, top: int = 25, lines: bool = False) -> str:
    total, own, incl = summarise(path, lines)
    if not total:
        return f"{path}: no samples"
    out = [f"{path.name}: {total} samples", f"{'self %':>7}  function"]
    out += [f"{n * 100 / total:7.1f}  {f}" for f, n in own.most_common(top)]
    out += ["", f"{'total %':>7}  function"]
    out += [f"{n * 100 / total:7.1f}  {f}" for f, n in incl.most_common(top)]
    return "\n".join(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--lines", action="store_true", help="by source line rather than by function")
    a = ap.parse_args()
    print("\n\n".join(render(f, a.top, a.lines) for f in a.files))
