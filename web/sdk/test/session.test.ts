import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { SESSION_TIMEOUT_MS, touch } from "../src/session";
import { MemoryStorage, fakeIngest, start } from "./helpers";

const MIN = 60_000;

describe("touch (the rule)", () => {
  test("first event opens a session with event_seq 1", () => {
    const s = touch(null, 1000);
    expect(s).toMatchObject({ seq: 1, t: 1000 });
  });

  test("a gap under 30 minutes continues, 30 minutes or more starts anew", () => {
    const a = touch(null, 0);
    const b = touch({ ...a }, 29 * MIN + 59_999);
    expect(b.id).toBe(a.id);
    expect(b.seq).toBe(2);
    const c = touch({ ...b }, b.t + SESSION_TIMEOUT_MS);
    expect(c.id).not.toBe(a.id);
    expect(c.seq).toBe(1);
  });

  test("inactivity is measured from the last event, not the session start", () => {
    let s = touch(null, 0);
    for (let t = 20 * MIN; t <= 200 * MIN; t += 20 * MIN) s = touch(s, t);
    expect(s.seq).toBe(11);
  });

  test("a new campaign starts a new session, the same one or none does not", () => {
    const a = touch(null, 0, { source: "news" });
    expect(touch({ ...a }, MIN, { source: "news" }).id).toBe(a.id);
    expect(touch({ ...a }, MIN).id).toBe(a.id);
    const b = touch({ ...a }, MIN, { source: "ads", click_id: "g" });
    expect(b.id).not.toBe(a.id);
    expect(b.c).toEqual({ source: "ads", click_id: "g" });
  });
});

describe("sessions in the SDK (fake clock)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date("2026-11-25T10:00:00.000Z") });
    history.replaceState(null, "", "/");
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test("events 29:59 apart share a session; 30:00 of silence starts a new one", async () => {
    const api = fakeIngest();
    const cs = start(new MemoryStorage(), { batchSize: 1 });
    cs.track("a");
    vi.advanceTimersByTime(29 * MIN + 59_000);
    cs.track("b");
    vi.advanceTimersByTime(30 * MIN);
    cs.track("c");
    cs.track("d");
    await vi.runAllTimersAsync();
    const [a, b, c, d] = api.events();
    expect(b.session_id).toBe(a.session_id);
    expect([a.event_seq, b.event_seq]).toEqual([1, 2]);
    expect(c.session_id).not.toBe(a.session_id);
    expect([c.event_seq, d.event_seq]).toEqual([1, 2]);
    expect(d.session_id).toBe(c.session_id);
  });

  test("the session survives a reload within 30 minutes and carries its landing campaign", async () => {
    const api = fakeIngest();
    const storage = new MemoryStorage();
    history.replaceState(null, "", "/?utm_source=news&utm_medium=email&utm_campaign=bf");
    start(storage, { batchSize: 1 }).track("landing");
    await vi.advanceTimersByTimeAsync(10 * MIN);
    history.replaceState(null, "", "/product/1");
    start(storage, { batchSize: 1 }).track("next_page");
    await vi.runAllTimersAsync();
    const [a, b] = api.events();
    expect(b.session_id).toBe(a.session_id);
    expect(b.event_seq).toBe(2);
    expect(b.campaign).toEqual({ source: "news", medium: "email", name: "bf" });
  });

  test("arriving from a different campaign mid-session starts a new session", async () => {
    const api = fakeIngest();
    const cs = start(new MemoryStorage(), { batchSize: 1 });
    history.replaceState(null, "", "/?utm_source=news");
    cs.track("a");
    history.replaceState(null, "", "/?gclid=XYZ");
    cs.track("b");
    await vi.runAllTimersAsync();
    const [a, b] = api.events();
    expect(b.session_id).not.toBe(a.session_id);
    expect(b.campaign).toEqual({ click_id: "XYZ" });
  });
});
