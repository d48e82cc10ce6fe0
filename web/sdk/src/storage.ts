/** Key/value persistence over localStorage (or a supplied Storage), JSON-encoded, never throwing. */
import { Key } from "./constants";
import type { StorageLike } from "./types";

export interface Store {
  get(key: string): any;
  /** Stores `value` (best effort) and returns it. */
  set<T>(key: string, value: T): T;
  del(key: string): void;
}

/** What consent(false) wipes: every key but the refusal itself (single letters: one string spreads into the list). */
export const KEYS = [...(Key.Anon + Key.Session + Key.Queue + Key.Dropped + Key.Lease)];

const io = (f: () => any) => {
  try {
    return f();
  } catch {}
};

/**
 * Wraps `s`, else localStorage, else (storage blocked or absent) a per-page memory map.
 * No call throws: a full or blocked storage must never break the host page.
 */
export const openStore = (s?: StorageLike | null): Store => {
  const m: Record<string, string> = {},
    t: StorageLike = io(() => s || localStorage) || {
      // a missing key gives undefined, which get() turns into undefined too (JSON.parse throws)
      getItem: (k) => m[k],
      setItem: (k, v) => (m[k] = v),
      removeItem: (k) => delete m[k],
    };
  return {
    get: (k) => io(() => JSON.parse(t.getItem("cs_" + k)!)),
    set: (k, v) => (io(() => t.setItem("cs_" + k, JSON.stringify(v))), v),
    del: (k) => io(() => t.removeItem("cs_" + k)),
  };
};
