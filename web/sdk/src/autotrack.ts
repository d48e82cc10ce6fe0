/** Browser wiring for automatic collection: navigation, clicks, engaged time. */
import { scrub } from "./url";
import type { Props } from "./types";

/** Calls `cb` after pushState / replaceState / popstate whenever path or query changed. */
export function onNavigate(cb: () => void): void {
  let last = location.pathname + location.search;
  const check = () => {
    const now = location.pathname + location.search;
    if (now != last) (last = now), cb();
  };
  for (const m of ["pushState", "replaceState"] as const) {
    const f = history[m];
    history[m] = function (this: History, ...a: Parameters<History["pushState"]>) {
      f.apply(this, a);
      check();
    };
  }
  addEventListener("popstate", check);
}

const FIELDS = "input,textarea,select,[contenteditable]";

/**
 * The event for a click on `target`: the nearest `[data-cs-event]` element names it, else
 * the nearest link makes it `click`; anything else is not tracked. Properties: element id,
 * visible text (≤ 100 chars; none at all if the element is or holds a form field, so field
 * values can never leak) and the scrubbed link URL.
 */
export function clickEvent(target: EventTarget | null): [string, Props] | undefined {
  const t = target as Element,
    a = t.closest?.("a"),
    el = t.closest?.("[data-cs-event]") || a;
  if (!el) return;
  const text =
    !el.matches(FIELDS) && !el.querySelector(FIELDS) && el.textContent!.replace(/\s+/g, " ").trim().slice(0, 100);
  return [
    el.getAttribute("data-cs-event") || "click",
    { element_id: el.id || undefined, element_text: text || undefined, link_url: scrub(a?.href) },
  ];
}

/**
 * Starts measuring engaged time (page visible and focused). Returns a function that gives the
 * milliseconds engaged since its previous call; `stop` (page hide) also stops the clock until the
 * page is visible and focused again, since a `pagehide` comes while the page still counts as visible.
 */
export function engagement(): (stop?: 1) => number {
  let ms = 0,
    since = 0;
  const update = () => {
    const t = Date.now();
    if (since) ms += t - since;
    since = document.visibilityState == "visible" && document.hasFocus() ? t : 0;
  };
  update();
  addEventListener("focus", update);
  addEventListener("blur", update);
  document.addEventListener("visibilitychange", update);
  return (stop) => {
    update();
    if (stop) since = 0;
    const v = ms;
    ms = 0;
    return v;
  };
}
