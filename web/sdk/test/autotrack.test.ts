import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { clickEvent } from "../src/autotrack";
import { MemoryStorage, fakeIngest, setProp, start } from "./helpers";

const auto = (options = {}) => start(new MemoryStorage(), { autotrack: true, ...options });

beforeEach(() => {
  history.replaceState(null, "", "/");
  document.title = "Shop";
  document.body.innerHTML = "";
});

describe("page views", () => {
  test("one on load, with the scrubbed URL, path, title and referrer", async () => {
    history.replaceState(null, "", "/p/42?ref=mail&utm_source=news#reviews");
    setProp(document, "referrer", "https://search.example/?q=secret&gclid=G");
    const api = fakeIngest();
    const cs = auto();
    await cs.flush();
    const [pv] = api.events();
    expect(pv.event_name).toBe("page_view");
    expect(pv.page).toEqual({
      url: "https://shop.example/p/42?utm_source=news",
      path: "/p/42",
      title: "Shop",
      referrer: "https://search.example/?gclid=G",
      page_view_id: expect.any(String),
    });
  });

  test("single-page apps: pushState and popstate make page views, the previous URL is the referrer", async () => {
    const api = fakeIngest();
    const cs = auto();
    history.pushState(null, "", "/cart");
    history.pushState(null, "", "/checkout?step=2");
    history.replaceState(null, "", "/cart");
    dispatchEvent(new PopStateEvent("popstate"));
    await cs.flush();
    const views = api.events().filter((e) => e.event_name == "page_view");
    expect(views.map((e) => e.page.path)).toEqual(["/", "/cart", "/checkout", "/cart"]);
    expect(views[2].page.url).toBe("https://shop.example/checkout");
    expect(views[1].page.referrer).toBe("https://shop.example/");
    expect(views[2].page.referrer).toBe("https://shop.example/cart");
    expect(new Set(views.map((e) => e.page.page_view_id)).size).toBe(4);
  });

  test("no page view when only the state or the fragment changes", async () => {
    const api = fakeIngest();
    const cs = auto();
    history.replaceState({ scroll: 1 }, "");
    history.pushState(null, "", "#reviews");
    dispatchEvent(new PopStateEvent("popstate"));
    await cs.flush();
    expect(api.names()).toEqual(["page_view"]);
  });

  test("events carry the page view they happened in", async () => {
    const api = fakeIngest();
    const cs = auto();
    cs.track("first");
    history.pushState(null, "", "/next");
    cs.track("second");
    await cs.flush();
    const by = Object.fromEntries(api.events().map((e) => [e.event_name + ":" + e.page.path, e.page.page_view_id]));
    expect(by["first:/"]).toBe(by["page_view:/"]);
    expect(by["second:/next"]).toBe(by["page_view:/next"]);
  });

  test("autotrack: false sends no page view by itself; page() does", async () => {
    const api = fakeIngest();
    const cs = start();
    history.pushState(null, "", "/x");
    await cs.flush();
    expect(api.sent).toHaveLength(0);
    cs.page({ section: "x" });
    await cs.flush();
    expect(api.events()[0]).toMatchObject({ event_name: "page_view", properties: { section: "x" } });
  });
});

describe("site search from the URL", () => {
  test.each([["q"], ["s"], ["search"], ["query"]])("?%s=…", async (key) => {
    history.replaceState(null, "", `/results?${key}=red%20shoes&page=2`);
    const api = fakeIngest();
    const cs = auto();
    await cs.flush();
    expect(api.names()).toEqual(["page_view", "search"]);
    expect(api.events()[1].properties).toEqual({ search_term: "red shoes" });
    expect(api.events()[1].page.url).toBe("https://shop.example/results"); // the term is not in the URL
  });

  test("the parameters are configurable", async () => {
    history.replaceState(null, "", "/results?q=no&term=yes");
    const api = fakeIngest();
    const cs = auto({ searchParams: ["term"] });
    await cs.flush();
    expect(api.events()[1].properties).toEqual({ search_term: "yes" });
  });

  test("a new search in a single-page app is a new page view and search", async () => {
    const api = fakeIngest();
    const cs = auto();
    history.pushState(null, "", "/s?q=boots");
    await cs.flush();
    expect(api.names()).toEqual(["page_view", "page_view", "search"]);
  });

  test("search(term) reports one explicitly", async () => {
    const api = fakeIngest();
    const cs = start();
    cs.search("hat", { results: 3 });
    await cs.flush();
    expect(api.events()[0]).toMatchObject({ event_name: "search", properties: { search_term: "hat", results: 3 } });
  });
});

describe("clicks", () => {
  const click = (el: Element) => el.dispatchEvent(new MouseEvent("click", { bubbles: true }));

  test("a link: click with id, text and scrubbed URL", async () => {
    document.body.innerHTML = `<a id="promo" href="https://partner.example/x?aff=1&utm_source=shop"><span>  Winter
      sale  </span></a>`;
    const api = fakeIngest();
    const cs = auto();
    click(document.querySelector("span")!);
    await cs.flush();
    expect(api.events()[1]).toMatchObject({
      event_name: "click",
      properties: { element_id: "promo", element_text: "Winter sale", link_url: "https://partner.example/x?utm_source=shop" },
    });
  });

  test("[data-cs-event] names the event, even around a link", async () => {
    document.body.innerHTML = `<div data-cs-event="hero_click"><a href="/sale">Sale</a></div><button data-cs-event="newsletter_open">Join</button>`;
    const api = fakeIngest();
    const cs = auto();
    click(document.querySelector("a")!);
    click(document.querySelector("button")!);
    await cs.flush();
    const [, hero, join] = api.events();
    expect(hero).toMatchObject({ event_name: "hero_click", properties: { element_text: "Sale", link_url: "https://shop.example/sale" } });
    expect(join).toMatchObject({ event_name: "newsletter_open", properties: { element_text: "Join" } });
  });

  test("text is trimmed to 100 characters", async () => {
    document.body.innerHTML = `<a href="/x">${"word ".repeat(60)}</a>`;
    const api = fakeIngest();
    const cs = auto();
    click(document.querySelector("a")!);
    await cs.flush();
    expect((api.events()[1].properties!.element_text as string).length).toBe(100);
  });

  test("form field values are never read", () => {
    document.body.innerHTML = `
      <form data-cs-event="signup"><input name="email" value="jane@example.com"><textarea>my secret</textarea><button>Go</button></form>
      <input data-cs-event="focus_email" value="jane@example.com">
      <div data-cs-event="note" contenteditable>typed by the user</div>`;
    (document.querySelector("input") as HTMLInputElement).value = "typed@example.com";
    const all = [...document.querySelectorAll("[data-cs-event], button")].map((el) => clickEvent(el)!);
    for (const [, props] of all) {
      const seen = JSON.stringify(props);
      expect(seen).not.toMatch(/jane|typed|secret/);
    }
    expect(all.map(([name]) => name)).toEqual(["signup", "signup", "focus_email", "note"]);
  });

  test("other elements, and links without http(s) URLs, give no link_url or no event", () => {
    document.body.innerHTML = `<p>text</p><a href="mailto:jane@example.com">Mail</a>`;
    expect(clickEvent(document.querySelector("p"))).toBeUndefined();
    expect(clickEvent(document)).toBeUndefined();
    expect(clickEvent(document.querySelector("a"))![1].link_url).toBeUndefined();
  });

  test("an invalid data-cs-event name is not sent (and warned about)", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    document.body.innerHTML = `<button data-cs-event="Add To Cart">x</button>`;
    const api = fakeIngest();
    const cs = auto();
    click(document.querySelector("button")!);
    await cs.flush();
    expect(api.names()).toEqual(["page_view"]);
    expect(warn).toHaveBeenCalled();
  });
});

describe("engaged time", () => {
  let focused = true;
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date("2026-11-25T10:00:00Z") });
    focused = true;
    vi.spyOn(document, "hasFocus").mockImplementation(() => focused);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const visibility = (v: "visible" | "hidden") => {
    setProp(document, "visibilityState", v);
    document.dispatchEvent(new Event("visibilitychange"));
  };
  const blur = () => ((focused = false), dispatchEvent(new FocusEvent("blur")));
  const focus = () => ((focused = true), dispatchEvent(new FocusEvent("focus")));

  test("counts visible and focused time only, reported when the page is hidden", async () => {
    const api = fakeIngest();
    const cs = auto({ flushIntervalMs: 3_600_000 });
    vi.advanceTimersByTime(5_000);
    blur();
    vi.advanceTimersByTime(60_000); // another window has focus
    focus();
    vi.advanceTimersByTime(2_000);
    visibility("hidden");
    vi.advanceTimersByTime(600_000); // tab in the background
    visibility("visible");
    vi.advanceTimersByTime(3_000);
    dispatchEvent(new Event("pagehide"));
    await cs.flush();
    const engaged = api.events().filter((e) => e.event_name == "user_engagement");
    expect(engaged.map((e) => e.properties!.engaged_ms)).toEqual([7_000, 3_000]);
    expect(engaged.every((e) => e.page.page_view_id == api.events()[0].page.page_view_id)).toBe(true);
  });

  test("a single-page navigation closes the previous page view's engaged time first", async () => {
    const api = fakeIngest();
    const cs = auto();
    vi.advanceTimersByTime(4_000);
    history.pushState(null, "", "/next");
    await cs.flush();
    const [pv1, engaged, pv2] = api.events();
    expect(api.names()).toEqual(["page_view", "user_engagement", "page_view"]);
    expect(engaged.properties).toEqual({ engaged_ms: 4_000 });
    expect(engaged.page.page_view_id).toBe(pv1.page.page_view_id);
    expect(pv2.page.page_view_id).not.toBe(pv1.page.page_view_id);
  });

  test("leaving fires pagehide, then visibilitychange: one user_engagement, however long between", async () => {
    const api = fakeIngest();
    const cs = auto({ flushIntervalMs: 3_600_000 });
    vi.advanceTimersByTime(5_000);
    dispatchEvent(new Event("pagehide"));
    vi.advanceTimersByTime(1); // the millisecond that used to make a second, 1 ms event
    visibility("hidden");
    await cs.flush();
    const engaged = api.events().filter((e) => e.event_name == "user_engagement");
    expect(engaged.map((e) => e.properties!.engaged_ms)).toEqual([5_000]);
  });

  test("one user_engagement per hide cycle (back-forward cache: left, restored, left again), totals right", async () => {
    const api = fakeIngest();
    const cs = auto({ flushIntervalMs: 3_600_000 });
    vi.advanceTimersByTime(5_000);
    dispatchEvent(new Event("pagehide"));
    vi.advanceTimersByTime(1);
    visibility("hidden");
    vi.advanceTimersByTime(60_000); // in the cache
    visibility("visible");
    dispatchEvent(new Event("pageshow"));
    vi.advanceTimersByTime(2_000);
    dispatchEvent(new Event("pagehide"));
    vi.advanceTimersByTime(3);
    visibility("hidden");
    dispatchEvent(new Event("pagehide")); // closed while hidden: nothing more to report
    await cs.flush();
    const engaged = api.events().filter((e) => e.event_name == "user_engagement");
    expect(engaged.map((e) => e.properties!.engaged_ms)).toEqual([5_000, 2_000]);
  });

  test("reset(): the engaged time so far goes with the identity (and token) that spent it", async () => {
    const api = fakeIngest();
    const cs = auto({ flushIntervalMs: 3_600_000 });
    cs.identify("tok");
    vi.advanceTimersByTime(4_000);
    cs.reset();
    expect(api.sent[0].auth).toBe("Bearer tok");
    vi.advanceTimersByTime(1_000);
    visibility("hidden");
    await cs.flush();
    const [pv, before, after] = api.events();
    expect(api.names()).toEqual(["page_view", "user_engagement", "user_engagement"]);
    expect(api.sent[0].events).toContainEqual(before);
    expect(before.properties).toEqual({ engaged_ms: 4_000 });
    expect([before.anonymous_id, before.session_id]).toEqual([pv.anonymous_id, pv.session_id]);
    expect(after.properties).toEqual({ engaged_ms: 1_000 });
    expect(after.anonymous_id).not.toBe(pv.anonymous_id);
    expect(after.session_id).not.toBe(pv.session_id);
    expect(api.sent[api.sent.length - 1].auth).toBeNull();
  });

  test("no engagement event when there was no engaged time", async () => {
    focused = false;
    const api = fakeIngest();
    const cs = auto();
    vi.advanceTimersByTime(10_000);
    visibility("hidden");
    await cs.flush();
    expect(api.names()).toEqual(["page_view"]);
  });
});
