/** The persistent queue's pure rules: eviction under the caps, and cutting one request from it. */
import { MAX_QUEUE_BYTES, MAX_QUEUE_EVENTS, MAX_REQUEST_BYTES } from "./constants";
import { iso } from "./ids";
import type { CsEvent } from "./types";

export { MAX_EVENT_BYTES, MAX_QUEUE_BYTES, MAX_QUEUE_EVENTS, MAX_REQUEST_BYTES, MAX_REQUEST_EVENTS } from "./constants";

/** UTF-8 length. */
export const bytes = (s: string): number => new TextEncoder().encode(s).length;

/**
 * Appends `e`, then drops the oldest events until the queue holds at most 1,000 events and
 * 1 MB. Returns how many events were lost, counting the drops an evicted event was reporting.
 */
export const push = (q: CsEvent[], e: CsEvent): number => {
  q.push(e);
  let size = bytes(JSON.stringify(q)),
    lost = 0,
    x: CsEvent;
  while (q.length > MAX_QUEUE_EVENTS || size > MAX_QUEUE_BYTES) {
    size -= bytes(JSON.stringify((x = q.shift()!))) + 1;
    lost -= ~(x.properties?.sdk_dropped as number); // -~n is n + 1 (and 1 for none)
  }
  return lost;
};

/**
 * The first events of `q` that fit in one request of at most `max` events (the caller keeps it
 * ≤ MAX_REQUEST_EVENTS) and 64 KB, all stamped with one `sent_ts`. Returns them and the request body.
 */
export const take = (q: CsEvent[], max: number, sent_ts = iso()): [CsEvent[], string] => {
  let size = 13; // {"events":[]}
  // size only grows, so what passes the filter is a prefix
  const parts = q
    .slice(0, max)
    .map((e) => JSON.stringify({ ...e, sent_ts }))
    .filter((s) => (size += bytes(s) + 1) <= MAX_REQUEST_BYTES);
  return [q.slice(0, parts.length), `{"events":[${parts}]}`];
};
