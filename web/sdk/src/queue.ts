/** The persistent queue's pure rules: eviction under the caps, and cutting one request from it. */
import { iso } from "./ids";
import type { CsEvent } from "./types";

export const MAX_QUEUE_EVENTS = 1000;
export const MAX_QUEUE_BYTES = 1 << 20;
/** fetch keepalive and sendBeacon refuse bodies over 64 KB. */
export const MAX_REQUEST_BYTES = 65536;
export const MAX_REQUEST_EVENTS = 500;
/** The ingest API rejects larger events; one this big could never leave the queue anyway. */
export const MAX_EVENT_BYTES = 16384;

/** UTF-8 length. */
export const bytes = (s: string): number => new TextEncoder().encode(s).length;

/**
 * Appends `e`, then drops the oldest events until the queue holds at most 1,000 events and
 * 1 MB. Returns how many events were lost, counting the drops an evicted event was reporting.
 */
export function push(q: CsEvent[], e: CsEvent): number {
  q.push(e);
  let size = bytes(JSON.stringify(q)),
    lost = 0;
  while (q.length > MAX_QUEUE_EVENTS || size > MAX_QUEUE_BYTES) {
    const x = q.shift()!;
    size -= bytes(JSON.stringify(x)) + 1;
    lost += 1 + (+x.properties?.sdk_dropped! || 0);
  }
  return lost;
}

/**
 * The first events of `q` that fit in one request of at most `max` events (the caller keeps it
 * ≤ MAX_REQUEST_EVENTS) and 64 KB, each stamped with `sent_ts`. Returns them and the request body.
 */
export function take(q: CsEvent[], max: number): [CsEvent[], string] {
  const out: CsEvent[] = [],
    parts: string[] = [],
    sent_ts = iso();
  let size = 13; // {"events":[]}
  for (const e of q) {
    if (out.length >= max) break;
    const s = JSON.stringify({ ...e, sent_ts }),
      n = bytes(s) + 1;
    if (size + n > MAX_REQUEST_BYTES) break;
    out.push(e);
    parts.push(s);
    size += n;
  }
  return [out, '{"events":[' + parts + "]}"];
}
