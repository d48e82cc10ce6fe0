"""SDK size: what `npm run build` (make sdk) writes to web/sdk/dist/size.json."""

from __future__ import annotations

import json
from typing import Any

from bench.common import ROOT

SIZE = ROOT / "web" / "sdk" / "dist" / "size.json"


def run() -> dict[str, Any]:
    if not SIZE.exists():
        return {"gzip_bytes": None, "min_bytes": None, "reason": f"{SIZE.relative_to(ROOT)} missing: run `make sdk`"}
    data = json.loads(SIZE.read_text())
    bundle = SIZE.parent / "clickstream.min.js"
    stale = bundle.exists() and any(p.stat().st_mtime > SIZE.stat().st_mtime
                                    for p in (ROOT / "web/sdk/src").glob("*.ts"))
    return {"gzip_bytes": data.get("gzip_bytes"), "min_bytes": data.get("min_bytes"), "goal_gzip_bytes": 3072,
            "source": str(SIZE.relative_to(ROOT)), "sources_newer_than_build": stale}
