import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import {
  MAX_QUEUE_BYTES,
  MAX_QUEUE_EVENTS,
  MAX_REQUEST_BYTES,
  MAX_REQUEST_EVENTS,
  bytes,
  push,
  take,
} from "../src/queue";
import type { CsEvent } from "../src/types";
import { MemoryStorage, fakeIngest, start } from "./helpers";

const ev = (i: number, extra: Partial<CsEvent> = {}) => ({ event_id: "e" + i, ...extra }) as CsEvent;
const big = (kb: number) => ({ blob: "x".repeat(kb * 1024) });

describe("push: the queue's caps", () => {
  test("at most 1,000 events, the oldest dropped first, drops counted", () => {
    const q: CsEvent[] = [];
    let lost = 0;
    for (let i = 0; i < MAX_QUEUE_EVENTS + 25; i++) lost += push(q, ev(i));
    expect(q).toHaveLength(MAX_QUEUE_EVENTS);
    expect(lost).toBe(25);
    expect(q[0].event_id).toBe("e25");
    expect(q[q.length - 1].event_id).toBe("e1024");
  });

  test("at most 1 MB (UTF-8), the oldest dropped first", () => {
    const q: CsEvent[] = [];
    let lost = 0;
    for (let i = 0; i < 150; i++) lost += push(q, ev(i, { properties: big(10) }));
    expect(bytes(JSON.stringify(q))).toBeLessThanOrEqual(MAX_QUEUE_BYTES);
    expect(lost).toBe(150 - q.length);
    expect(q.length).toBeGreaterThan(90);
    expect(q[q.length - 1].event_id).toBe("e149");
    expect(q[0].event_id).toBe("e" + lost);
  });

  test("multi-byte text counts by its UTF-8 size", () => {
    const q: CsEvent[] = [];
    // 4,000 × 3-byte characters: 12 KB each, so 1 MB holds 85 of them, not 256
    for (let i = 0; i < 120; i++) push(q, ev(i, { properties: { t: "€".repeat(4000) } }));
    expect(q.length).toBeLessThan(90);
  });

  test("an evicted event's own drop report is counted again, so no drop goes unreported", () => {
    const q: CsEvent[] = [ev(0, { properties: { sdk_dropped: 7 } })];
    for (let i = 1; i < MAX_QUEUE_EVENTS; i++) q.push(ev(i));
    expect(push(q, ev(1000))).toBe(8);
  });
});

describe("take: one request", () => {
  test("at most the asked number of events, never more than 500", () => {
    const q = Array.from({ length: 600 }, (_, i) => ev(i));
    expect(take(q, MAX_REQUEST_EVENTS)[0]).toHaveLength(500);
    expect(take(q, 20)[0]).toHaveLength(20);
  });

  test("at most 64 KB of body, whole events only, in queue order", () => {
    const q = Array.from({ length: 40 }, (_, i) => ev(i, { properties: big(5) }));
    const [batch, body] = take(q, 500);
    expect(bytes(body)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(batch.length).toBe(12);
    expect(JSON.parse(body).events.map((e: CsEvent) => e.event_id)).toEqual(q.slice(0, 12).map((e) => e.event_id));
  });

  test("stamps sent_ts on what it sends, not on the queue", () => {
    const q = [ev(1)];
    const [, body] = take(q, 10);
    expect(JSON.parse(body).events[0].sent_ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(q[0].sent_ts).toBeUndefined();
  });

  test("one sent_ts for the whole request, even when the clock moves while it is built", () => {
    // The server corrects clock skew with it: the events of one request were sent together.
    let tick = Date.UTC(2026, 0, 1);
    vi.spyOn(Date, "now").mockImplementation(() => tick++);
    const real = Date;
    vi.stubGlobal("Date", class extends real {
      constructor(...args: []) {
        super(...(args.length ? args : [tick++]) as []);
      }
    });
    try {
      const [, body] = take(Array.from({ length: 5 }, (_, i) => ev(i)), 10);
      const stamps = new Set(JSON.parse(body).events.map((e: CsEvent) => e.sent_ts));
      expect(stamps.size).toBe(1);
    } finally {
      vi.unstubAllGlobals();
      vi.restoreAllMocks();
    }
  });
});

describe("the SDK's persistent queue", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test("while the API is unreachable the queue keeps the newest 1,000 and reports the rest", async () => {
    const api = fakeIngest(...Array(50).fill("network-error"));
    const storage = new MemoryStorage();
    const cs = start(storage, { batchSize: 500, flushIntervalMs: 3_600_000 });
    for (let i = 0; i < 1005; i++) cs.track("tick", { i });
    const q = storage.queue();
    expect(q).toHaveLength(1000);
    // invariant: pending count + counts riding on queued events = events lost
    const riding = q.reduce((n, e) => n + (Number(e.properties?.sdk_dropped) || 0), 0);
    expect((storage.json("cs_d") || 0) + riding).toBe(5);
    expect(q[0].properties!.i).toBe(5);
    expect(api.sent.length).toBeGreaterThan(0); // tried, failed, kept
  });

  test("drops are reported as properties.sdk_dropped on the next event, then reset", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    storage.setItem("cs_d", "3");
    const cs = start(storage);
    cs.track("next", { a: 1 });
    cs.track("after");
    await cs.flush();
    const [next, after] = api.events();
    expect(next.properties).toEqual({ a: 1, sdk_dropped: 3 });
    expect(after.properties).toBeUndefined();
    expect(storage.getItem("cs_d")).toBeNull();
  });

  test("an event over the API's 16 KB limit is dropped and counted, not sent", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const cs = start(storage);
    cs.track("huge", big(17));
    cs.track("fine");
    await cs.flush();
    expect(api.names()).toEqual(["fine"]);
    expect(api.events()[0].properties).toEqual({ sdk_dropped: 1 });
  });

  test("a backlog goes out in requests of at most 64 KB each, every event once", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const cs = start(storage, { batchSize: 500, flushIntervalMs: 3_600_000 });
    for (let i = 0; i < 200; i++) cs.track("tick", { i, pad: "y".repeat(900) });
    await cs.flush();
    expect(api.sent.length).toBeGreaterThan(3);
    for (const s of api.sent) expect(bytes(s.body)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(api.events().map((e) => e.properties!.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(storage.queue()).toEqual([]);
  });
});
