/** Key/value persistence over localStorage (or a supplied Storage), JSON-encoded, never throwing. */
import type { StorageLike } from "./types";

export interface Store {
  get(key: string): any;
  set(key: string, value: unknown): void;
  del(key: string): void;
}

/** Keys, all prefixed `cs_`; consent(false) wipes KEYS. */
export const ANON = "cs_a",
  SESSION = "cs_s",
  QUEUE = "cs_q",
  DROPPED = "cs_d",
  LEASE = "cs_l",
  CONSENT = "cs_c";
export const KEYS = [ANON, SESSION, QUEUE, DROPPED, LEASE];

const io = (f: () => any) => {
  try {
    return f();
  } catch {}
};

/**
 * Wraps `s`, else localStorage, else (storage blocked or absent) a per-page memory map.
 * No call throws: a full or blocked storage must never break the host page.
 */
export function openStore(s?: StorageLike | null): Store {
  const m: Record<string, string> = {},
    t: StorageLike = io(() => s || localStorage) || {
      getItem: (k) => m[k] ?? null,
      setItem: (k, v) => (m[k] = v),
      removeItem: (k) => delete m[k],
    };
  return {
    get: (k) => io(() => JSON.parse(t.getItem(k)!)),
    set: (k, v) => io(() => t.setItem(k, JSON.stringify(v))),
    del: (k) => io(() => t.removeItem(k)),
  };
}
