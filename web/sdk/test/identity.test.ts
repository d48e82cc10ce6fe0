import { afterEach, describe, expect, onTestFinished, test, vi } from "vitest";
import { iso, uuid } from "../src/ids";
import { openStore } from "../src/storage";
import { MemoryStorage, UUID, fakeIngest, settle, start } from "./helpers";

describe("ids", () => {
  afterEach(() => vi.unstubAllGlobals());

  test("UUID v4 from crypto.randomUUID", () => {
    expect(uuid()).toMatch(UUID);
  });

  test("UUID v4 without crypto.randomUUID (plain-http pages)", () => {
    vi.stubGlobal("crypto", {});
    const ids = new Set(Array.from({ length: 2000 }, uuid));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(UUID);
  });

  test("timestamps are ISO-8601 UTC with milliseconds", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 25, 10, 0, 0, 123) });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    expect(iso()).toBe("2026-11-25T10:00:00.123Z");
  });
});

describe("persistence across page loads (new instance, same storage)", () => {
  test("anonymous_id and session_id are kept, event_seq continues", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const first = start(storage);
    first.track("a");
    await first.flush();
    const second = start(storage);
    second.track("b");
    await second.flush();
    const [a, b] = api.events();
    expect(a.anonymous_id).toMatch(UUID);
    expect(b.anonymous_id).toBe(a.anonymous_id);
    expect(b.session_id).toBe(a.session_id);
    expect(b.event_seq).toBe(a.event_seq + 1);
  });

  test("events queued by a page that closed before sending are sent by the next one, once", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    start(storage).track("left_behind");
    expect(api.sent).toHaveLength(0);
    const next = start(storage);
    await next.flush();
    expect(api.names()).toEqual(["left_behind"]);
    await next.flush();
    expect(api.sent).toHaveLength(1);
  });

  test("reset() starts a new anonymous_id and session and forgets the token", async () => {
    const api = fakeIngest();
    const cs = start();
    cs.identify("tok");
    cs.track("before");
    cs.reset();
    await settle();
    cs.track("after");
    await cs.flush();
    const [before, after] = api.events();
    expect(api.sent[0].auth).toBe("Bearer tok");
    expect(api.sent[1].auth).toBeNull();
    expect(after.anonymous_id).not.toBe(before.anonymous_id);
    expect(after.session_id).not.toBe(before.session_id);
  });

  test("with localStorage blocked the SDK keeps ids in memory for the page", async () => {
    vi.spyOn(window, "localStorage", "get").mockImplementation(() => {
      throw new DOMException("blocked", "SecurityError");
    });
    const api = fakeIngest();
    const cs = start(null as never);
    cs.track("a");
    cs.track("b");
    await cs.flush();
    const [a, b] = api.events();
    expect(b.anonymous_id).toBe(a.anonymous_id);
    expect(b.event_seq).toBe(2);
  });

  test("a storage that throws on every call never breaks the page", () => {
    const broken = {
      getItem: () => {
        throw new Error("x");
      },
      setItem: () => {
        throw new Error("quota");
      },
      removeItem: () => {
        throw new Error("x");
      },
    };
    const st = openStore(broken);
    expect(() => (st.set("k", 1), st.get("k"), st.del("k"))).not.toThrow();
    expect(st.get("k")).toBeUndefined();
  });
});
