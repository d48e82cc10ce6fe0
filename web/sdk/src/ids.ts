/** Identifiers and timestamps. */

/**
 * A random UUID v4: `crypto.randomUUID` (every current browser, in a secure context: https or
 * localhost), else one built from Math.random. Ids need to be unique, not secret, so the
 * fallback's weaker randomness is acceptable for plain-http pages.
 */
export const uuid = (): string =>
  crypto.randomUUID?.() ??
  "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c: any) => (c ^ ((Math.random() * 16) >> (c / 4))).toString(16));

/** Now as ISO-8601 UTC with milliseconds, e.g. 2026-11-25T10:00:00.123Z. */
export const iso = (): string => new Date().toISOString();
