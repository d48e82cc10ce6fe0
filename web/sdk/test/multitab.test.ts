import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { LEASE_MS } from "../src/client";
import { MemoryStorage, deferred, fakeIngest, setProp, start } from "./helpers";

/** Two tabs of one origin: two SDK instances over one storage. */
describe("several tabs share one queue and never send an event twice", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const ids = (api: ReturnType<typeof fakeIngest>) => api.events().map((e) => e.event_id);

  test("while one tab sends, the other does not; afterwards everything went exactly once", async () => {
    const held = deferred();
    const api = fakeIngest(held.promise);
    const storage = new MemoryStorage();
    const tabA = start(storage, { batchSize: 100 });
    const tabB = start(storage, { batchSize: 100 });
    tabA.track("a1");
    tabB.track("b1");
    tabA.track("a2");
    const sendingA = tabA.flush();
    await tabB.flush();
    expect(api.sent).toHaveLength(1);
    tabB.track("b2");
    await tabB.flush();
    expect(api.sent).toHaveLength(1);
    held.resolve({ status: 200 });
    await sendingA;
    await tabB.flush();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.names().sort()).toEqual(["a1", "a2", "b1", "b2"]);
    expect(new Set(ids(api)).size).toBe(ids(api).length);
    expect(storage.queue()).toEqual([]);
  });

  test("both tabs' timers firing together still send each event once", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const tabs = [start(storage, { flushIntervalMs: 1000 }), start(storage, { flushIntervalMs: 1000 })];
    for (let i = 0; i < 30; i++) tabs[i % 2].track("e" + i);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ids(api)).toHaveLength(30);
    expect(new Set(ids(api)).size).toBe(30);
  });

  test("a page hide in the other tab leaves the queue to the tab holding the lease", async () => {
    const beacon = vi.fn(() => true);
    setProp(navigator, "sendBeacon", beacon);
    const held = deferred();
    const api = fakeIngest(held.promise);
    const storage = new MemoryStorage();
    const tabA = start(storage);
    tabA.track("a");
    const sendingA = tabA.flush();
    const tabB = start(storage);
    tabB.track("b");
    // both instances hear this one event; only A (the lease holder) may use a beacon, and not for "a"
    dispatchEvent(new Event("pagehide"));
    expect(beacon).toHaveBeenCalledOnce();
    held.resolve({ status: 200 });
    await sendingA;
    const beaconed = JSON.parse((beacon.mock.calls[0] as unknown as [string, string])[1]).events;
    const all = [...ids(api), ...beaconed.map((e: { event_id: string }) => e.event_id)];
    expect(all).toHaveLength(2);
    expect(new Set(all).size).toBe(2);
  });

  test("a tab that died holding the lease frees the queue once the lease expires", async () => {
    const api = fakeIngest(new Promise(() => {})); // the dead tab's request never answers
    const storage = new MemoryStorage();
    const dead = start(storage);
    dead.track("a");
    void dead.flush();
    const alive = start(storage);
    await alive.flush();
    expect(api.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(LEASE_MS + 5_000);
    // at-least-once: the dead tab's request may or may not have arrived; the warehouse
    // de-duplicates on event_id
    expect(api.sent.length).toBeGreaterThanOrEqual(2);
    expect(api.sent[1].events[0].event_id).toBe(api.sent[0].events[0].event_id);
    expect(storage.queue()).toEqual([]);
  });
});
