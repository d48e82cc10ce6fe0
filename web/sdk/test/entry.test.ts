import { describe, expect, test, vi } from "vitest";
import readme from "../README.md?raw";
import type { Options } from "../src/types";
import { fakeIngest } from "./helpers";

const API = [
  "init", "track", "page", "identify", "reset", "consent", "flush", "search",
  "viewItemList", "selectItem", "viewItem", "addToCart", "removeFromCart", "viewCart",
  "beginCheckout", "addPaymentInfo", "purchase", "refund",
];

/** The inline script of the README's embed snippet, run as a page would. */
function runReadmeSnippet() {
  const block = readme.split("<!-- embed-snippet -->")[1].split("<!-- /embed-snippet -->")[0];
  const inline = block.match(/<script>([\s\S]*?)<\/script>/)![1];
  new Function(inline)();
}

describe("entry points", () => {
  test("ES module: the default instance's methods as named exports, plus createClient", async () => {
    const mod = await import("../src/index");
    for (const m of API) expect(typeof (mod as any)[m], m).toBe("function");
    expect(typeof mod.createClient).toBe("function");
    expect(mod.default.track).toBe(mod.track);
  });

  test("script tag: the README snippet's stub covers the whole API, and its calls are replayed on load", async () => {
    vi.resetModules();
    const api = fakeIngest();
    const w = window as any;
    runReadmeSnippet();
    const stub = w.clickstream;
    expect(Object.keys(stub).filter((k) => k != "q").sort()).toEqual([...API].sort());
    stub.track("before_load", { n: 1 });
    await import("../src/global");
    expect(w.clickstream).toBe(stub); // references taken before load stay valid
    expect(w.clickstream.q).toBeUndefined();
    w.clickstream.track("after_load");
    await w.clickstream.flush();
    expect(api.names()).toEqual(["page_view", "before_load", "after_load"]);
    expect(api.sent[0].url).toBe("https://ingest.example.com/v1/events");
    w.clickstream.consent(false);
    localStorage.clear();
    delete w.clickstream;
  });
});

describe("README", () => {
  // a compile error here means Options changed: document the change, then list it
  const OPTIONS: Record<keyof Options, true> = {
    endpoint: true, appId: true, requireConsent: true, respectDnt: true, batchSize: true,
    flushIntervalMs: true, autotrack: true, searchParams: true, onAuthError: true, storage: true,
  };
  test.each(Object.keys(OPTIONS))("documents option %s", (k) => expect(readme).toContain("| `" + k + "`"));
  test.each(API)("documents %s()", (m) => expect(readme).toMatch(new RegExp("`" + m + "[(`]")));
});
