/** Browser wiring for automatic collection: navigation, clicks, engaged time. */
import { scrub } from "./url";
import type { Props } from "./types";

/** Calls `cb` now, then after pushState / replaceState / popstate whenever path or query changed. */
export const onNavigate = (cb: () => void): void => {
  let last: string | undefined;
  // compares with the previous value of `last` (none on the first call), then stores the new one
  const check = () => last != (last = location.pathname + location.search) && cb();
  check();
  for (const m of ["pushState", "replaceState"] as const) {
    const f = history[m];
    history[m] = (...a: Parameters<History["pushState"]>) => {
      f.apply(history, a);
      check();
    };
  }
  addEventListener("popstate", check);
};

const FIELDS = "input,textarea,select,[contenteditable]";

/**
 * The event for a click on `target`: the nearest `[data-cs-event]` element names it, else
 * the nearest link makes it `click`; anything else is not tracked. Properties: element id,
 * visible text (≤ 100 chars; none at all if the element is or holds a form field, so field
 * values can never leak) and the scrubbed link URL.
 */
export const clickEvent = (target: EventTarget | null): [string, Props] | undefined => {
  const a = (target as Element).closest?.("a"),
    el = (target as Element).closest?.("[data-cs-event]") || a;
  return el
    ? [
        (el as HTMLElement).dataset.csEvent || "click",
        {
          element_id: el.id || undefined,
          element_text:
            (!el.matches(FIELDS) && !el.querySelector(FIELDS) && el.textContent!.replace(/\s+/g, " ").trim().slice(0, 100)) ||
            undefined,
          link_url: scrub(a?.href),
        },
      ]
    : undefined;
};

/**
 * Starts measuring engaged time (page visible and focused). Returns a function that gives the
 * milliseconds engaged since its previous call; `stop` (page hide) also stops the clock until the
 * page is visible and focused again, since a `pagehide` comes while the page still counts as visible.
 */
export const engagement = (): ((stop?: 1) => number) => {
  let ms = 0,
    /** when the current engaged stretch began, or 0 / false when the page is not engaged */
    since: any = 0;
  const update = () => {
    const t = Date.now();
    ms += since && t - since;
    since = document.visibilityState == "visible" && document.hasFocus() && t;
  };
  update();
  addEventListener("focus", update);
  addEventListener("blur", update);
  document.addEventListener("visibilitychange", update);
  // `ms - (ms = 0)`: the total so far, and the clock restarts from zero
  return (stop) => (update(), stop && (since = 0), ms - (ms = 0));
};
