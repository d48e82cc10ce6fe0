/** URL scrubbing and campaign parsing: only UTM parameters and ad click ids survive. */
import type { Campaign } from "./types";

export const CLICK_IDS = ["gclid", "fbclid", "msclkid", "ttclid", "dclid"];

/**
 * `origin + path + ?kept-params` of an http(s) URL: the fragment, credentials and every query
 * parameter but utm_* and click ids are dropped. Anything else (mailto:, invalid, empty) gives
 * undefined.
 */
export function scrub(href?: string | null): string | undefined {
  try {
    const u = new URL(href!),
      p = new URLSearchParams();
    u.searchParams.forEach((v, k) => (/^utm_/.test(k) || CLICK_IDS.includes(k)) && p.append(k, v));
    return /^http/.test(u.protocol) ? u.origin + u.pathname + (p + "" && "?" + p) : undefined;
  } catch {}
}

/**
 * Campaign fields from a query string's utm_source/medium/campaign/term/content and the first
 * click id; undefined when there are none.
 */
export function campaign(search: string): Campaign | undefined {
  const s = new URLSearchParams(search),
    c: Record<string, string | undefined> = { click_id: CLICK_IDS.map((k) => s.get(k)).find(Boolean)! };
  for (const k of ["source", "medium", "campaign", "term", "content"]) c[k == "campaign" ? "name" : k] = s.get("utm_" + k) || undefined;
  return Object.values(c).some(Boolean) ? c : undefined;
}

/** The first non-empty site-search term among `keys` in a query string (≤ 100 chars). */
export function searchTerm(search: string, keys: string[]): string | undefined {
  const s = new URLSearchParams(search);
  return keys.map((k) => s.get(k)?.trim()).find(Boolean)?.slice(0, 100);
}
