/** Talking to the ingest API: the request itself, and what each answer means for the batch. */

/** What to do with a batch after an answer. */
export const DONE = 0, // 2xx or 400: accepted or quarantined by the server; never re-send
  RETRY = 1, // network error, 408, 429, 5xx: keep, back off
  SPLIT = 2, // 413: halve the batch and re-send at once
  AUTH = 3, // 401: drop the token and the batch
  DROP = 4; // any other 4xx: the batch can never succeed

/** `status` 0 stands for a network error (fetch threw). */
export const decide = (status: number): number =>
  status == 401
    ? AUTH
    : status == 413
      ? SPLIT
      : !status || status == 408 || status == 429 || status > 499
        ? RETRY
        : status < 300 || status == 400
          ? DONE
          : DROP;

export const REQUEST_TIMEOUT_MS = 20000;
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 60000;

/**
 * Milliseconds to wait before retry number `tries + 1`: full jitter over an exponential
 * ceiling (1 s, 2 s, 4 s … capped at 60 s), and never less than the Retry-After seconds the
 * server sent (the ingest API sends delta-seconds, never an HTTP date).
 */
export const backoff = (tries: number, retryAfter?: string | null): number =>
  Math.max(+retryAfter! * 1000 || 0, Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** tries));

/**
 * POSTs a batch. A string body goes as `text/plain;charset=UTF-8` (Fetch standard), which keeps
 * the request CORS-simple unless a token adds Authorization. Returns [status, Retry-After];
 * a network error gives status 0.
 */
export async function post(url: string, body: string, token?: string): Promise<[number, string | null]> {
  try {
    const r = await fetch(url, {
      method: "POST",
      body,
      keepalive: true,
      headers: token ? { Authorization: "Bearer " + token } : {},
      // a hung request must end while its sender still holds the lease (LEASE_MS), or another
      // tab would take over and send the same events again
      signal: AbortSignal.timeout?.(REQUEST_TIMEOUT_MS),
    });
    return [r.status, r.headers.get("Retry-After")];
  } catch {
    return [0, null];
  }
}
