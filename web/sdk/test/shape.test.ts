import { beforeEach, expect, test, vi } from "vitest";
import { ECOMMERCE_EVENTS } from "../src/client";
import type { CsEvent } from "../src/types";
import { EVENT_NAME } from "../src/validate";
import { MemoryStorage, UUID, fakeIngest, setProp, start } from "./helpers";

/** Schema version 1: the server rejects any other top-level field (and user_id from clients). */
const ALLOWED = [
  "event_id", "event_name", "event_ts", "sent_ts", "app_id", "platform", "sdk", "schema_version",
  "anonymous_id", "session_id", "event_seq", "page", "campaign", "device", "consent", "properties", "ecommerce",
];
const REQUIRED = [
  "event_id", "event_name", "event_ts", "sent_ts", "app_id", "platform", "sdk", "schema_version",
  "anonymous_id", "session_id", "event_seq", "page", "device", "consent",
];
const NESTED: Record<string, string[]> = {
  sdk: ["name", "version"],
  page: ["url", "path", "title", "referrer", "page_view_id"],
  campaign: ["source", "medium", "name", "term", "content", "click_id"],
  device: ["screen_w", "screen_h", "viewport_w", "viewport_h", "language", "tz_offset_min"],
  consent: ["analytics"],
  ecommerce: ["currency", "value", "transaction_id", "items"],
};
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

beforeEach(() => {
  history.replaceState(null, "", "/?utm_source=news&utm_medium=email&q=boots");
  document.body.innerHTML = `<a id="l" href="/sale">Sale</a><button data-cs-event="cta_click">Go</button>`;
});

/** Drives every path that emits an event and returns all that reached the API. */
async function everything(): Promise<CsEvent[]> {
  vi.spyOn(document, "hasFocus").mockReturnValue(true);
  const api = fakeIngest();
  const storage = new MemoryStorage();
  storage.setItem("cs_d", "2"); // an earlier page dropped events
  const cs = start(storage, { autotrack: true });
  const items = [{ item_id: "sku-1", item_name: "Boot", item_category: "shoes", item_brand: "Acme", item_variant: "42", price: 80, quantity: 1, index: 0 }];
  const ec = { currency: "EUR", value: 80, items };
  cs.track("custom_thing", { a: "x", b: 1, c: true, d: null });
  cs.page();
  cs.search("hat");
  cs.viewItemList(ec, { list_name: "home" });
  cs.selectItem(ec);
  cs.viewItem(ec);
  cs.addToCart(ec);
  cs.removeFromCart(ec);
  cs.viewCart(ec);
  cs.beginCheckout(ec);
  cs.addPaymentInfo(ec);
  cs.purchase({ ...ec, transaction_id: "T-1" });
  cs.refund({ ...ec, transaction_id: "T-1" });
  document.querySelector("a")!.dispatchEvent(new MouseEvent("click", { bubbles: true }));
  document.querySelector("button")!.dispatchEvent(new MouseEvent("click", { bubbles: true }));
  history.pushState(null, "", "/next");
  setProp(document, "visibilityState", "hidden");
  document.dispatchEvent(new Event("visibilitychange"));
  await cs.flush();
  return api.events();
}

test("every event the SDK emits has only allowed fields, a valid name and the required identity", async () => {
  const events = await everything();
  const names = new Set(events.map((e) => e.event_name));
  for (const n of ["page_view", "search", "click", "cta_click", "user_engagement", "custom_thing", ...ECOMMERCE_EVENTS])
    expect(names).toContain(n);
  for (const e of events) {
    const keys = Object.keys(e);
    expect(keys.filter((k) => !ALLOWED.includes(k)), e.event_name).toEqual([]);
    expect(REQUIRED.filter((k) => !keys.includes(k)), e.event_name).toEqual([]);
    expect(e).not.toHaveProperty("user_id");
    expect(e.event_name).toMatch(EVENT_NAME);
    for (const [k, allowed] of Object.entries(NESTED))
      if (k in e) expect(Object.keys((e as any)[k]).filter((x) => !allowed.includes(x)), `${e.event_name}.${k}`).toEqual([]);
    // absent optional fields are omitted, never null
    for (const k of ["page", "campaign", "device", "ecommerce"] as const)
      if (e[k]) expect(Object.values(e[k]!)).not.toContain(null);
    expect(e.event_id).toMatch(UUID);
    expect(e.anonymous_id).toMatch(UUID);
    expect(e.session_id).toMatch(UUID);
    expect(e.page.page_view_id).toMatch(UUID);
    expect(e.event_ts).toMatch(ISO_MS);
    expect(e.sent_ts).toMatch(ISO_MS);
    expect(e).toMatchObject({ app_id: "shop", platform: "web", schema_version: 1, consent: { analytics: true } });
    expect(e.sdk).toEqual({ name: "clickstream-web", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(Number.isInteger(e.event_seq) && e.event_seq > 0).toBe(true);
    expect(e.campaign).toEqual({ source: "news", medium: "email" });
    if (e.properties) {
      expect(Object.keys(e.properties).length).toBeLessThanOrEqual(50);
      for (const v of Object.values(e.properties)) expect(["string", "number", "boolean"]).toContain(v === null ? "boolean" : typeof v);
    }
  }
  expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
  expect(events.map((e) => e.event_seq)).toEqual(events.map((_, i) => i + 1));
});

test("device fields are numbers and a language; tz_offset_min is minutes east of UTC", async () => {
  const [e] = await everything();
  expect(e.device).toEqual({
    screen_w: expect.any(Number),
    screen_h: expect.any(Number),
    viewport_w: innerWidth,
    viewport_h: innerHeight,
    language: navigator.language,
    tz_offset_min: -new Date().getTimezoneOffset() || 0, // JSON has no -0
  });
});

test("e-commerce helpers send GA4 names with the ecommerce object as given", async () => {
  const events = await everything();
  const purchase = events.find((e) => e.event_name == "purchase")!;
  expect(purchase.ecommerce).toEqual({
    currency: "EUR",
    value: 80,
    transaction_id: "T-1",
    items: [{ item_id: "sku-1", item_name: "Boot", item_category: "shoes", item_brand: "Acme", item_variant: "42", price: 80, quantity: 1, index: 0 }],
  });
  expect(events.find((e) => e.event_name == "view_item_list")!.properties).toEqual({ list_name: "home" });
});

test("the drop count rides on the first event and only there", async () => {
  const events = await everything();
  expect(events[0].properties).toMatchObject({ sdk_dropped: 2 });
  expect(events.slice(1).some((e) => e.properties && "sdk_dropped" in e.properties)).toBe(false);
});

test("invalid event names are never sent", async () => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
  const api = fakeIngest();
  const cs = start();
  for (const n of ["", "Add", "add to cart", "1st", "_x", "a".repeat(41), "ümlaut", "add-to-cart"]) cs.track(n);
  cs.track("a".repeat(40));
  await cs.flush();
  expect(api.names()).toEqual(["a".repeat(40)]);
});
