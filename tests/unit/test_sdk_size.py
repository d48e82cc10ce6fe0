"""The browser SDK's size budget, on the bundle `make sdk` builds for sites to embed."""

from __future__ import annotations

import gzip
from pathlib import Path

GOAL_GZIP_BYTES = 3072  # issue 7: minified and gzipped, at most 3 KB
BUNDLE = Path(__file__).resolve().parents[2] / "web" / "sdk" / "dist" / "clickstream.min.js"


def test_the_sdk_bundle_stays_within_3_kb_gzipped() -> None:
    assert BUNDLE.exists(), f"{BUNDLE} is missing: run `make sdk`"
    gzipped = len(gzip.compress(BUNDLE.read_bytes(), compresslevel=9, mtime=0))
    assert gzipped <= GOAL_GZIP_BYTES, (
        f"the SDK bundle is {gzipped} B gzipped, over the {GOAL_GZIP_BYTES} B budget: "
        "see what grew with `cd web/sdk && node build.mjs`"
    )
