import { describe, expect, test } from "vitest";
import { MemoryStorage, fakeIngest, setProp, start } from "./helpers";

describe("requireConsent", () => {
  test("before consent nothing is stored or sent", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const cs = start(storage, { requireConsent: true, autotrack: true });
    cs.track("a");
    cs.addToCart({ currency: "EUR", value: 5, items: [{ item_id: "sku" }] });
    await cs.flush();
    expect(storage.map.size).toBe(0);
    expect(api.sent).toHaveLength(0);
  });

  test("consent(true) sends what happened on this page since it loaded, with fresh identifiers", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const cs = start(storage, { requireConsent: true, autotrack: true });
    cs.track("a");
    cs.consent(true);
    cs.track("b");
    await cs.flush();
    expect(api.names()).toEqual(["page_view", "a", "b"]);
    expect(api.events().every((e) => e.consent.analytics === true)).toBe(true);
    expect(storage.json("cs_a")).toBe(api.events()[0].anonymous_id);
  });

  test("a granted consent is remembered on the next page", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    start(storage, { requireConsent: true }).consent(true);
    const next = start(storage, { requireConsent: true });
    next.track("a");
    await next.flush();
    expect(api.names()).toEqual(["a"]);
  });

  test("consent(false) wipes ids and queue, stops tracking, and is remembered", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const cs = start(storage, { flushIntervalMs: 60_000 });
    cs.track("a");
    expect(storage.map.size).toBeGreaterThan(0);
    cs.consent(false);
    cs.track("b");
    await cs.flush();
    expect([...storage.map.keys()]).toEqual(["cs_c"]); // only the refusal itself
    expect(api.sent).toHaveLength(0);
    const next = start(storage);
    next.track("c");
    await next.flush();
    expect(api.sent).toHaveLength(0);
    expect([...storage.map.keys()]).toEqual(["cs_c"]);
  });

  test("consent(false) in one tab stops the others from their next event", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const tabA = start(storage);
    const tabB = start(storage);
    tabB.track("before");
    tabA.consent(false);
    tabB.track("after");
    await tabB.flush();
    expect(api.sent).toHaveLength(0);
    expect([...storage.map.keys()]).toEqual(["cs_c"]);
  });

  test("consent(false) before any answer drops what waited in memory", async () => {
    const api = fakeIngest();
    const cs = start(new MemoryStorage(), { requireConsent: true });
    cs.track("a");
    cs.consent(false);
    cs.consent(true);
    cs.track("b");
    await cs.flush();
    expect(api.names()).toEqual(["b"]);
  });
});

describe("Do Not Track / Global Privacy Control", () => {
  const silent = async (options: object) => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    const cs = start(storage, { respectDnt: true, autotrack: true, ...options });
    cs.track("a");
    cs.consent(true);
    cs.track("b");
    await cs.flush();
    return { sent: api.sent.length, stored: storage.map.size };
  };

  test("navigator.doNotTrack = '1' with respectDnt: nothing stored or sent, consent(true) included", async () => {
    setProp(navigator, "doNotTrack", "1");
    expect(await silent({})).toEqual({ sent: 0, stored: 0 });
  });

  test("navigator.globalPrivacyControl with respectDnt: same", async () => {
    setProp(navigator, "globalPrivacyControl", true);
    expect(await silent({})).toEqual({ sent: 0, stored: 0 });
  });

  test("doNotTrack '0' or unset: tracked", async () => {
    setProp(navigator, "doNotTrack", "0");
    expect((await silent({})).sent).toBe(1);
  });

  test("without respectDnt the signal is not acted on (the site decides)", async () => {
    setProp(navigator, "doNotTrack", "1");
    expect((await silent({ respectDnt: false })).sent).toBe(1);
  });
});
