/** URL scrubbing and campaign parsing: only UTM parameters and ad click ids survive. */
import type { Campaign } from "./types";

export const CLICK_IDS = ["gclid", "fbclid", "msclkid", "ttclid", "dclid"];

/**
 * `origin + path + ?kept-params` of an http(s) URL: the fragment, credentials and every query
 * parameter but utm_* and click ids are dropped. Anything else (mailto:, invalid, empty) gives
 * undefined.
 */
export const scrub = (href?: string | null): string | undefined => {
  try {
    const u = new URL(href!),
      p = u.searchParams;
    for (const k of [...p.keys()]) /^utm_/.test(k) || CLICK_IDS.includes(k) || p.delete(k);
    return /^http/.test(u.protocol) ? u.origin + u.pathname + (p + "" && "?" + p) : undefined;
  } catch {}
};

/**
 * Campaign fields from a query string's utm_source/medium/campaign/term/content and the first
 * click id; undefined when there are none.
 */
export const campaign = (search: string): Campaign | undefined => {
  const s = new URLSearchParams(search),
    c: Record<string, string | undefined> = { click_id: CLICK_IDS.map((k) => s.get(k)).find((v) => v)! };
  for (const k of ["source", "medium", "campaign", "term", "content"]) c[k == "campaign" ? "name" : k] = s.get("utm_" + k) || undefined;
  return JSON.stringify(c) != "{}" ? c : undefined;
};

/** The first non-empty site-search term among `keys` in a query string (≤ 100 chars). */
export const searchTerm = (search: string, keys: string[]): string | undefined => {
  const s = new URLSearchParams(search);
  return keys.map((k) => s.get(k)?.trim()).find((v) => v)?.slice(0, 100);
};
