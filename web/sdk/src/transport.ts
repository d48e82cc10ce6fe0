/** Talking to the ingest API: the request itself, and what each answer means for the batch. */
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, REQUEST_TIMEOUT_MS } from "./constants";

/**
 * What an answer means for a batch (applied by the client's `answer()`): 2xx and 400 end it
 * (accepted, or quarantined by the server: never re-sent); 401 drops the token and the batch;
 * 413 halves it and re-sends at once, down to single events (a single one is dropped); these
 * retryable ones keep it and back off; any other 4xx drops it (it can never succeed).
 * `status` 0 stands for a network error (fetch threw).
 */
export const retryable = (status: number): boolean => !status || status == 408 || status == 429 || status > 499;

/**
 * Milliseconds to wait before retry number `tries + 1`: full jitter over an exponential
 * ceiling (1 s, 2 s, 4 s … capped at 60 s), and never less than the Retry-After seconds the
 * server sent (the ingest API sends delta-seconds, never an HTTP date).
 */
export const backoff = (tries: number, retryAfter?: string | null): number =>
  Math.max(~~(retryAfter as any) * 1000, Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** tries));

/**
 * POSTs a batch. A string body goes as `text/plain;charset=UTF-8` (Fetch standard), which keeps
 * the request CORS-simple unless a token adds Authorization. Resolves to [status, Retry-After];
 * a network error gives status 0 (and no Retry-After).
 */
export const post = (url: string, body: string, token?: string): Promise<Answer> =>
  fetch(url, {
    method: "POST",
    body,
    keepalive: true,
    headers: token ? { Authorization: "Bearer " + token } : {},
    // a hung request must end while its sender still holds the lease (LEASE_MS), or another
    // tab would take over and send the same events again
    signal: AbortSignal.timeout?.(REQUEST_TIMEOUT_MS),
  }).then(
    (r): Answer => [r.status, r.headers.get("Retry-After")],
    (): Answer => [0],
  );

/** An answer of the ingest API: status (0 for a network error) and Retry-After. */
export type Answer = [status: number, retryAfter?: string | null];
