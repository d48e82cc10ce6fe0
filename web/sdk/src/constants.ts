/**
 * The SDK's limits, timings and storage keys. Kept in one module without imports: esbuild inlines
 * the constants of such a module wherever they are used (one with imports keeps them as variables).
 */

/** The persistent queue's caps: oldest events are dropped beyond them. */
export const MAX_QUEUE_EVENTS = 1000;
export const MAX_QUEUE_BYTES = 1 << 20;
/** fetch keepalive and sendBeacon refuse bodies over 64 KB. */
export const MAX_REQUEST_BYTES = 65536;
export const MAX_REQUEST_EVENTS = 500;
/** The ingest API rejects larger events; one this big could never leave the queue anyway. */
export const MAX_EVENT_BYTES = 16384;
/** Events kept in memory, never stored, while consent is pending. */
export const MAX_PENDING = 100;

/** 30 minutes without an event end a session. */
export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;
/** How long a tab may hold the send lease without renewing it. */
export const LEASE_MS = 30000;
export const REQUEST_TIMEOUT_MS = 20000;
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 60000;

/** Storage keys; the store prefixes them (`cs_a` …). consent(false) wipes all but Consent. */
export const enum Key {
  Anon = "a",
  Session = "s",
  Queue = "q",
  Dropped = "d",
  Lease = "l",
  Consent = "c",
}
