/** The session rule: 30 minutes of inactivity, or a new campaign, start a new session. */
import { uuid } from "./ids";
import { SESSION_TIMEOUT_MS } from "./constants";
import type { Campaign } from "./types";

export { SESSION_TIMEOUT_MS };

/** Persisted as `cs_s`: id, last event_seq, last activity (ms), the campaign it landed with. */
export interface Session {
  id: string;
  seq: number;
  t: number;
  c?: Campaign;
}

/**
 * Returns the session an event at `now` belongs to, with `seq` already advanced.
 * A gap of 30 minutes or more since the last event, or a landing URL whose campaign
 * differs from the session's, starts a new one (event_seq restarts at 1).
 */
export const touch = (s: Session | null, now: number, c?: Campaign): Session => {
  if (!s || now - s.t >= SESSION_TIMEOUT_MS || (c && JSON.stringify(c) != JSON.stringify(s.c)))
    s = { id: uuid(), seq: 0, c } as Session; // t is set below
  s.seq++;
  s.t = now;
  return s;
};
