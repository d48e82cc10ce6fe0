/** Test doubles: an in-memory Storage, a scriptable ingest API behind `fetch`, SDK instances. */
import { afterEach, onTestFinished, vi } from "vitest";
import { createClient, type Client } from "../src/client";
import type { CsEvent, Options, StorageLike } from "../src/types";

export const ENDPOINT = "https://ingest.example";
export const EVENTS_URL = ENDPOINT + "/v1/events";

/** Web Storage in memory; one object shared by two clients stands for two tabs of one origin. */
export class MemoryStorage implements StorageLike {
  map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, String(v));
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
  json(k: string) {
    return JSON.parse(this.getItem(k) ?? "null");
  }
  queue(): CsEvent[] {
    return this.json("cs_q") || [];
  }
}

/** One answer of the fake ingest API: a status (+ body, headers), a network error, or a wait. */
export type Reply =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | "network-error"
  | Promise<{ status: number; body?: unknown; headers?: Record<string, string> }>;

export interface Sent {
  url: string;
  init: RequestInit;
  body: string;
  events: CsEvent[];
  auth: string | null;
  contentType: string | null;
}

/**
 * Replaces global fetch with the ingest API stand-in. Replies are taken in order; once they
 * run out every request is answered 200 with all events accepted.
 */
export function fakeIngest(...replies: Reply[]) {
  const sent: Sent[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const body = init.body as string;
    // what the browser would put on the wire, Content-Type default included
    const req = new Request(url, init);
    const events = JSON.parse(body).events as CsEvent[];
    sent.push({ url, init, body, events, auth: req.headers.get("authorization"), contentType: req.headers.get("content-type") });
    const r = await (replies.length ? replies.shift()! : { status: 200 });
    if (r === "network-error") throw new TypeError("Failed to fetch");
    const body_ = r.body ?? { request_id: "r1", accepted: events.length, rejected: [] };
    return new Response(JSON.stringify(body_), { status: r.status, headers: r.headers });
  });
  vi.stubGlobal("fetch", fetch);
  return {
    fetch,
    sent,
    /** every event sent so far, in order */
    events: () => sent.flatMap((s) => s.events),
    names: () => sent.flatMap((s) => s.events.map((e) => e.event_name)),
  };
}

/** A reply the test releases by hand, to hold a request in flight. */
export function deferred() {
  let resolve!: (r: { status: number }) => void;
  const promise = new Promise<{ status: number }>((r) => (resolve = r));
  return { promise, resolve };
}

const live: Client[] = [];
afterEach(() => {
  // clients cannot be torn down (a page never needs it); switching them off keeps their
  // document listeners from reacting to later tests
  live.splice(0).forEach((c) => c.consent(false));
});

/** A new SDK instance (a page load) on `storage`; autotrack off unless asked for. */
export function start(storage: StorageLike = new MemoryStorage(), options: Partial<Options> = {}): Client {
  const c = createClient();
  live.push(c);
  c.init({ endpoint: ENDPOINT, appId: "shop", autotrack: false, storage, ...options });
  return c;
}

/** Lets pending promise callbacks (fetch answers) run. */
export const settle = async (n = 10) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Overrides a (possibly read-only) browser property for the current test only. */
export function setProp(obj: object, key: string, value: unknown) {
  const had = Object.getOwnPropertyDescriptor(obj, key);
  Object.defineProperty(obj, key, { value, configurable: true, writable: true });
  onTestFinished(() => {
    if (had) Object.defineProperty(obj, key, had);
    else delete (obj as any)[key];
  });
}
