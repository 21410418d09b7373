#!/usr/bin/env python3
"""Print the `go mod edit` flags that make a local build module resolve like an upstream one.

`go install pkg@version` refuses a module whose go.mod has replace directives. The install script then builds
the tool from a small local module; that module must repeat upstream's module replaces (local-path replaces
cannot be repeated and are skipped) and its godebug settings. Usage: gomod_edits.py path/to/upstream/go.mod
Output: one flag per line, e.g. -replace=github.com/a/b=github.com/c/b@v1.2.3 or -godebug=tlsmlkem=0.
"""

import re
import sys


def directives(text: str, keyword: str) -> list[str]:
    """Return the bodies of `keyword ...` lines and `keyword ( ... )` blocks, comments removed."""
    bodies: list[str] = []
    in_block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
            else:
                bodies.append(line)
        elif line == f"{keyword} (":
            in_block = True
        elif line.startswith(keyword + " "):
            bodies.append(line[len(keyword) + 1 :].strip())
    return bodies


def is_local_path(target: str) -> bool:
    return target.startswith(("./", "../", "/"))


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for body in directives(text, "replace"):
        m = re.fullmatch(r"(\S+)(?:\s+(\S+))?\s*=>\s*(\S+)(?:\s+(\S+))?", body)
        if not m:
            sys.exit(f"gomod_edits: cannot parse replace directive: {body!r}")
        old, old_ver, new, new_ver = m.groups()
        if is_local_path(new):
            continue
        lhs = f"{old}@{old_ver}" if old_ver else old
        rhs = f"{new}@{new_ver}" if new_ver else new
        print(f"-replace={lhs}={rhs}")
    for body in directives(text, "godebug"):
        print(f"-godebug={body.replace(' ', '')}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gomod_edits.py GO_MOD_FILE")
    main(sys.argv[1])
