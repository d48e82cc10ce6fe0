import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { backoff, retryable } from "../src/transport";
import { EVENTS_URL, MemoryStorage, deferred, fakeIngest, setProp, settle, start } from "./helpers";

describe("retryable: the answers that keep the batch and back off", () => {
  test.each([
    [0, true], // network error
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [200, false],
    [202, false],
    [400, false], // none accepted: the server quarantined them, re-sending cannot help
    [401, false],
    [403, false],
    [404, false],
    [413, false], // halved and re-sent at once, not backed off
    [415, false],
  ])("%i", (status, retry) => expect(retryable(status)).toBe(retry));
});

describe("backoff: exponential with full jitter", () => {
  test("uniform in [0, min(60 s, 1 s × 2^tries))", () => {
    const r = vi.spyOn(Math, "random");
    r.mockReturnValue(0);
    expect(backoff(3)).toBe(0);
    r.mockReturnValue(0.999999);
    expect([0, 1, 2, 5, 6, 10].map((t) => Math.round(backoff(t)))).toEqual([1000, 2000, 4000, 32000, 60000, 60000]);
    r.mockReturnValue(0.5);
    expect(backoff(2)).toBe(2000);
  });

  test("never shorter than Retry-After seconds; a junk header is ignored", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    expect(backoff(0, "30")).toBe(30000);
    expect(backoff(10, "1")).toBe(30000);
    expect(backoff(0, "soon")).toBe(500);
    expect(backoff(0, null)).toBe(500);
  });
});

describe("the SDK against each answer", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date("2026-11-25T10:00:00.000Z") });
    vi.spyOn(Math, "random").mockReturnValue(0.5);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test("a request: POST {endpoint}/v1/events, text/plain JSON, keepalive, no credentials header", async () => {
    const api = fakeIngest();
    const cs = start(new MemoryStorage(), { endpoint: "https://ingest.example/" });
    cs.track("a");
    await cs.flush();
    const [s] = api.sent;
    expect(s.url).toBe(EVENTS_URL);
    expect(s.init.method).toBe("POST");
    expect(s.init.keepalive).toBe(true);
    expect(s.init.signal).toBeInstanceOf(AbortSignal);
    expect(s.contentType).toBe("text/plain;charset=UTF-8");
    expect(s.auth).toBeNull();
    expect(Object.keys(JSON.parse(s.body))).toEqual(["events"]);
  });

  test("identify(token) adds Authorization: Bearer", async () => {
    const api = fakeIngest();
    const cs = start();
    cs.identify("jwt.abc");
    cs.track("a");
    await cs.flush();
    expect(api.sent[0].auth).toBe("Bearer jwt.abc");
  });

  test("200 with some events rejected: the whole batch leaves the queue, rejected ones are never re-sent", async () => {
    const storage = new MemoryStorage();
    const api = fakeIngest({
      status: 200,
      body: { request_id: "r", accepted: 2, rejected: [{ index: 1, event_id: "x", code: "bad_field", message: "m" }] },
    });
    const cs = start(storage);
    ["a", "b", "c"].forEach((n) => cs.track(n));
    await cs.flush();
    cs.track("d");
    await cs.flush();
    expect(api.names()).toEqual(["a", "b", "c", "d"]);
    expect(storage.queue()).toEqual([]);
  });

  test("400: not retried, not counted as dropped (the server quarantined them)", async () => {
    const storage = new MemoryStorage();
    const api = fakeIngest({ status: 400, body: { request_id: "r", accepted: 0, rejected: [] } });
    const cs = start(storage);
    cs.track("a");
    await cs.flush();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(api.sent).toHaveLength(1);
    expect(storage.queue()).toEqual([]);
    expect(storage.getItem("cs_d")).toBeNull();
  });

  test("401: the token is dropped, onAuthError is told, the batch is not retried but counted", async () => {
    const storage = new MemoryStorage();
    const onAuthError = vi.fn();
    const api = fakeIngest({ status: 401, body: { request_id: "r", code: "unauthorized", message: "expired" } });
    const cs = start(storage, { onAuthError });
    cs.identify("expired");
    cs.track("a");
    cs.track("b");
    await cs.flush();
    expect(onAuthError).toHaveBeenCalledOnce();
    cs.track("c");
    await cs.flush();
    expect(api.names()).toEqual(["a", "b", "c"]);
    expect(api.sent[1].auth).toBeNull();
    expect(api.events()[2].properties).toEqual({ sdk_dropped: 2 });
  });

  test("413: halves the batch and re-sends at once, down to single events; a single 413 is dropped", async () => {
    const storage = new MemoryStorage();
    const api = fakeIngest({ status: 413 }, { status: 200 }, { status: 413 }, { status: 413 }, { status: 200 });
    const cs = start(storage, { batchSize: 50 });
    ["a", "b", "c", "d"].forEach((n) => cs.track(n));
    await cs.flush();
    expect(api.sent.map((s) => s.events.map((e) => e.event_name).join(""))).toEqual(["abcd", "ab", "cd", "c", "d"]);
    expect(storage.queue()).toEqual([]);
    expect(storage.json("cs_d")).toBe(1);
  });

  test("429 with Retry-After: kept, not sent again before the server said", async () => {
    const storage = new MemoryStorage();
    const api = fakeIngest({ status: 429, headers: { "Retry-After": "10" } });
    const cs = start(storage, { flushIntervalMs: 1000 });
    cs.track("a");
    await cs.flush();
    expect(storage.queue()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(9_900);
    await cs.flush(); // an eager caller changes nothing
    expect(api.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(api.sent).toHaveLength(2);
    expect(storage.queue()).toEqual([]);
  });

  test("5xx: retried with growing delays, same event_id, fresh sent_ts", async () => {
    const api = fakeIngest({ status: 500 }, { status: 503 }, { status: 502 });
    const cs = start();
    cs.track("a");
    await cs.flush();
    // random 0.5: waits of 0.5 s, 1 s, 2 s
    await vi.advanceTimersByTimeAsync(499);
    expect(api.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(999);
    expect(api.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.sent).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(2000);
    expect(api.sent).toHaveLength(4);
    const ids = new Set(api.events().map((e) => e.event_id));
    const sent = new Set(api.events().map((e) => e.sent_ts));
    expect(ids.size).toBe(1);
    expect(sent.size).toBe(4);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(api.sent).toHaveLength(4);
  });

  test("network error: kept and retried; coming back online retries at once", async () => {
    const storage = new MemoryStorage();
    const down = fakeIngest(...Array(100).fill("network-error"));
    const cs = start(storage);
    cs.track("a");
    await cs.flush();
    await vi.advanceTimersByTimeAsync(300_000);
    // 0.5 s, 1 s, 2 s … 32 s, then every 30 s (the 60 s cap, random 0.5)
    expect(down.sent.length).toBeGreaterThanOrEqual(10);
    expect(new Set(down.events().map((e) => e.event_id)).size).toBe(1);
    expect(storage.queue()).toHaveLength(1);
    const up = fakeIngest();
    dispatchEvent(new Event("online"));
    await settle();
    expect(up.names()).toEqual(["a"]);
    expect(storage.queue()).toEqual([]);
  });

  test("other 4xx (403): dropped and counted, never retried", async () => {
    const storage = new MemoryStorage();
    const api = fakeIngest({ status: 403 });
    const cs = start(storage);
    cs.track("a");
    await cs.flush();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(api.sent).toHaveLength(1);
    expect(storage.json("cs_d")).toBe(1);
  });
});

describe("when a send happens", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test("as soon as batchSize events are queued", async () => {
    const api = fakeIngest();
    const cs = start(new MemoryStorage(), { batchSize: 3, flushIntervalMs: 60_000 });
    cs.track("a");
    cs.track("b");
    await settle();
    expect(api.sent).toHaveLength(0);
    cs.track("c");
    await settle();
    expect(api.names()).toEqual(["a", "b", "c"]);
  });

  test("else flushIntervalMs after the first queued event", async () => {
    const api = fakeIngest();
    const cs = start(new MemoryStorage(), { flushIntervalMs: 2000 });
    cs.track("a");
    await vi.advanceTimersByTimeAsync(1000);
    cs.track("b");
    await vi.advanceTimersByTimeAsync(999);
    expect(api.sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.names()).toEqual(["a", "b"]);
  });

  test("batchSize is capped at 500 events a request", async () => {
    const api = fakeIngest();
    const cs = start(new MemoryStorage(), { batchSize: 10_000, flushIntervalMs: 60_000 });
    for (let i = 0; i < 520; i++) cs.track("t");
    await cs.flush();
    expect(Math.max(...api.sent.map((s) => s.events.length))).toBeLessThanOrEqual(500);
    expect(api.events()).toHaveLength(520);
  });
});

describe("page hide", () => {
  const hide = () => {
    setProp(document, "visibilityState", "hidden");
    document.dispatchEvent(new Event("visibilitychange"));
  };

  test("anonymous events go by sendBeacon (text/plain, ≤ 64 KB) and leave the queue", () => {
    const beacon = vi.fn(() => true);
    setProp(navigator, "sendBeacon", beacon);
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const cs = start(storage);
    cs.track("a");
    hide();
    expect(api.sent).toHaveLength(0);
    expect(beacon).toHaveBeenCalledOnce();
    const [url, body] = beacon.mock.calls[0] as unknown as [string, string];
    expect(url).toBe(EVENTS_URL);
    expect(typeof body).toBe("string");
    expect(JSON.parse(body).events.map((e: { event_name: string }) => e.event_name)).toEqual(["a"]);
    expect(storage.queue()).toEqual([]);
  });

  test("a refused beacon keeps the events", () => {
    setProp(navigator, "sendBeacon", vi.fn(() => false));
    const storage = new MemoryStorage();
    start(storage).track("a");
    hide();
    expect(storage.queue()).toHaveLength(1);
  });

  test("with a token: fetch keepalive with Authorization (a beacon cannot carry it)", async () => {
    const beacon = vi.fn(() => true);
    setProp(navigator, "sendBeacon", beacon);
    const api = fakeIngest();
    const cs = start();
    cs.identify("tok");
    cs.track("a");
    dispatchEvent(new Event("pagehide"));
    await settle();
    expect(beacon).not.toHaveBeenCalled();
    expect(api.sent[0].auth).toBe("Bearer tok");
    expect(api.sent[0].init.keepalive).toBe(true);
  });

  test("offline: no beacon (it would be reported queued and lost); the queue waits", () => {
    const beacon = vi.fn(() => true);
    setProp(navigator, "sendBeacon", beacon);
    setProp(navigator, "onLine", false);
    const storage = new MemoryStorage();
    start(storage).track("a");
    hide();
    expect(beacon).not.toHaveBeenCalled();
    expect(storage.queue()).toHaveLength(1);
  });

  test("while a request is in flight, the beacon carries only the other events", async () => {
    const beacon = vi.fn(() => true);
    setProp(navigator, "sendBeacon", beacon);
    const held = deferred();
    const api = fakeIngest(held.promise);
    const storage = new MemoryStorage();
    const cs = start(storage);
    cs.track("a");
    const inFlight = cs.flush();
    cs.track("b");
    hide();
    const [, body] = beacon.mock.calls[0] as unknown as [string, string];
    expect(JSON.parse(body).events.map((e: { event_name: string }) => e.event_name)).toEqual(["b"]);
    held.resolve({ status: 200 });
    await inFlight;
    expect(api.names()).toEqual(["a"]);
    expect(storage.queue()).toEqual([]);
  });
});

/**
 * A page being left: its requests outlive it (keepalive, beacon) but their answers never reach
 * it. So page hide takes what it hands to the browser out of the queue and frees the lease at
 * once; the next page neither waits for the lease nor sends those events again.
 */
describe("page hide lets go of what it hands to the browser", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const hidden = () => {
    setProp(document, "visibilityState", "hidden");
    document.dispatchEvent(new Event("visibilitychange"));
  };

  test("with a token: the keepalive batch leaves the queue and the lease is freed before any answer; the next page sends at once, nothing twice", async () => {
    const api = fakeIngest(new Promise(() => {})); // the answer never reaches the page that is gone
    const storage = new MemoryStorage();
    const first = start(storage, { flushIntervalMs: 60_000 });
    first.identify("tok");
    first.track("a");
    dispatchEvent(new Event("pagehide"));
    expect(api.names()).toEqual(["a"]);
    expect(api.sent[0].auth).toBe("Bearer tok");
    expect(api.sent[0].init.keepalive).toBe(true);
    expect(storage.queue()).toEqual([]);
    expect(storage.getItem("cs_l")).toBeNull();
    const next = start(storage);
    next.identify("tok");
    next.track("b");
    await next.flush();
    expect(api.names()).toEqual(["a", "b"]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(api.names()).toEqual(["a", "b"]);
    expect(storage.queue()).toEqual([]);
  });

  test("a request in flight when the page goes is let go of too; the beacon carries the rest", async () => {
    const beacon = vi.fn(() => true);
    setProp(navigator, "sendBeacon", beacon);
    const api = fakeIngest(new Promise(() => {}));
    const storage = new MemoryStorage();
    const first = start(storage);
    first.track("a");
    void first.flush(); // in flight; its answer never comes
    first.track("b");
    dispatchEvent(new Event("pagehide"));
    expect(JSON.parse((beacon.mock.calls[0] as unknown as [string, string])[1]).events.map((e: { event_name: string }) => e.event_name)).toEqual(["b"]);
    expect(storage.queue()).toEqual([]);
    expect(storage.getItem("cs_l")).toBeNull();
    const next = start(storage);
    next.track("c");
    await next.flush();
    expect(api.names()).toEqual(["a", "c"]);
  });

  test("a page that lives to see its page-hide request fail puts the batch back (at least once)", async () => {
    const api = fakeIngest({ status: 503 });
    const storage = new MemoryStorage();
    const cs = start(storage, { flushIntervalMs: 60_000 });
    cs.identify("tok");
    cs.track("a");
    hidden(); // a tab switch: the page stays
    expect(storage.queue()).toEqual([]);
    await settle();
    expect(storage.queue().map((e) => e.event_name)).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(1_000); // backoff: 0.5 s
    expect(api.names()).toEqual(["a", "a"]);
    expect(new Set(api.events().map((e) => e.event_id)).size).toBe(1);
    expect(api.sent[1].auth).toBe("Bearer tok");
    expect(storage.queue()).toEqual([]);
  });

  test("the same for a request that was in flight at page hide", async () => {
    const held = deferred();
    const api = fakeIngest(held.promise);
    const storage = new MemoryStorage();
    const cs = start(storage, { flushIntervalMs: 60_000 });
    cs.identify("tok");
    cs.track("a");
    const sending = cs.flush();
    hidden();
    expect(api.sent).toHaveLength(1);
    expect(storage.queue()).toEqual([]);
    held.resolve({ status: 500 });
    await sending;
    expect(storage.queue().map((e) => e.event_name)).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(api.names()).toEqual(["a", "a"]);
    expect(storage.queue()).toEqual([]);
  });

  test("a 413 answer the page lives to see puts the batch back, halved and re-sent at once", async () => {
    const api = fakeIngest({ status: 413 });
    const storage = new MemoryStorage();
    const cs = start(storage, { flushIntervalMs: 60_000 });
    cs.identify("tok");
    cs.track("a");
    cs.track("b");
    hidden();
    await settle();
    expect(api.sent.map((s) => s.events.map((e) => e.event_name).join(""))).toEqual(["ab", "a", "b"]);
    expect(storage.queue()).toEqual([]);
    expect(storage.getItem("cs_d")).toBeNull();
  });

  test("a 401 answer the page lives to see drops the token and the batch, and says so", async () => {
    const onAuthError = vi.fn();
    const api = fakeIngest({ status: 401 });
    const storage = new MemoryStorage();
    const cs = start(storage, { onAuthError });
    cs.identify("expired");
    cs.track("a");
    hidden();
    await settle();
    expect(onAuthError).toHaveBeenCalledOnce();
    cs.track("b");
    await cs.flush();
    expect(api.sent[1].auth).toBeNull();
    expect(api.events()[1].properties).toEqual({ sdk_dropped: 1 });
  });
});

describe("a page being left", () => {
  /** A reply the test fails by hand: a network error at a moment of its choosing. */
  const failing = () => {
    let fail!: () => void;
    const promise = new Promise<never>((_, reject) => (fail = () => reject(new TypeError("Failed to fetch"))));
    return { promise, fail };
  };

  test("after pagehide a network error does not put the batch back (Chromium fails the promise, the keepalive request carries on)", async () => {
    const api = fakeIngest("network-error");
    const storage = new MemoryStorage();
    const first = start(storage, { flushIntervalMs: 60_000 });
    first.identify("tok");
    first.track("a");
    dispatchEvent(new Event("pagehide"));
    await settle();
    expect(storage.queue()).toEqual([]);
    const next = start(storage);
    await next.flush();
    expect(api.names()).toEqual(["a"]);
  });

  test("nor for the request that was in flight; and the fetch path adds no second keepalive request then", async () => {
    const held = failing();
    const api = fakeIngest(held.promise);
    const storage = new MemoryStorage();
    const first = start(storage, { flushIntervalMs: 60_000 });
    first.identify("tok");
    first.track("a");
    const sending = first.flush();
    first.track("b");
    dispatchEvent(new Event("pagehide"));
    expect(api.names()).toEqual(["a"]);
    held.fail();
    await sending;
    expect(storage.queue().map((e) => e.event_name)).toEqual(["b"]);
    expect(storage.getItem("cs_l")).toBeNull();
    const next = start(storage);
    await next.flush();
    expect(api.names()).toEqual(["a", "b"]);
  });

  test("back from the back-forward cache (pageshow), a network error puts the batch back again", async () => {
    const api = fakeIngest("network-error");
    const storage = new MemoryStorage();
    const cs = start(storage, { flushIntervalMs: 60_000 });
    dispatchEvent(new Event("pagehide"));
    dispatchEvent(new Event("pageshow"));
    cs.identify("tok");
    cs.track("a");
    setProp(document, "visibilityState", "hidden");
    document.dispatchEvent(new Event("visibilitychange"));
    await settle();
    expect(api.names()).toEqual(["a"]);
    expect(storage.queue().map((e) => e.event_name)).toEqual(["a"]);
  });
});
