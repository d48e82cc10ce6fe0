/**
 * The tracker: builds events, keeps them in the persistent queue, and delivers them.
 * `createClient()` gives an independent instance (tests run several over one storage);
 * index.ts exports a default one.
 */
import { clickEvent, engagement, onNavigate } from "./autotrack";
import { Key, LEASE_MS, MAX_EVENT_BYTES, MAX_PENDING, MAX_REQUEST_EVENTS } from "./constants";
import { iso, uuid } from "./ids";
import { dnt } from "./privacy";
import { bytes, push, take } from "./queue";
import { touch } from "./session";
import { KEYS, Store, openStore } from "./storage";
import { type Answer, backoff, post, retryable } from "./transport";
import { campaign, scrub, searchTerm } from "./url";
import { EVENT_NAME } from "./validate";
import type { CsEvent, Ecommerce, Options, Page, Props } from "./types";

declare const __SDK_VERSION__: string;

/** The GA4 e-commerce events, each with a helper (`add_to_cart` → `addToCart`). */
export const ECOMMERCE_EVENTS = "view_item view_item_list select_item view_cart add_to_cart remove_from_cart add_payment_info begin_checkout purchase refund".split(" ");

export { LEASE_MS, MAX_PENDING };

export interface Client {
  init(options: Options): void;
  track(name: string, properties?: Props, ecommerce?: Ecommerce): void;
  page(properties?: Props): void;
  /** Sends the (Cognito) token as `Authorization: Bearer` from now on; kept in memory only. */
  identify(token?: string): void;
  /** Logout: sends what is queued, forgets the token, starts a new anonymous id and session. */
  reset(): void;
  consent(granted: boolean): void;
  flush(): Promise<void>;
  search(term: string, properties?: Props): void;
  viewItemList(ecommerce: Ecommerce, properties?: Props): void;
  selectItem(ecommerce: Ecommerce, properties?: Props): void;
  viewItem(ecommerce: Ecommerce, properties?: Props): void;
  addToCart(ecommerce: Ecommerce, properties?: Props): void;
  removeFromCart(ecommerce: Ecommerce, properties?: Props): void;
  viewCart(ecommerce: Ecommerce, properties?: Props): void;
  beginCheckout(ecommerce: Ecommerce, properties?: Props): void;
  addPaymentInfo(ecommerce: Ecommerce, properties?: Props): void;
  purchase(ecommerce: Ecommerce, properties?: Props): void;
  refund(ecommerce: Ecommerce, properties?: Props): void;
}

/** An event before identifiers are attached (what waits in memory for consent). */
type Draft = Pick<CsEvent, "event_name" | "event_ts" | "page" | "properties" | "ecommerce">;

export const createClient = (): Client => {
  let o: Options,
    /** events per request and the queue length that triggers a send */
    size: number,
    get: Store["get"],
    set: Store["set"],
    del: Store["del"],
    url: string,
    /** 0 (or unset: not initialised, DNT) off or consent refused, 1 waiting for consent, 2 on */
    mode: number,
    token: string | undefined,
    pg: Page | undefined,
    pending: Draft[] = [],
    engaged: ((stop?: 1) => number) | undefined,
    running: Promise<void> | 0,
    tries = 0,
    retryAt: number,
    limit: number,
    /** the batch of the request send() awaits; page hide empties it when it lets go of that batch */
    inflight: CsEvent[] = [],
    /** 1 from pagehide to pageshow: the page is being left */
    gone: number,
    timer: any;
  const me = uuid();

  const queue = (): CsEvent[] => get(Key.Queue) || [];
  const drop = (n: number) => set(Key.Dropped, (get(Key.Dropped) || 0) + n);
  const remove = (batch: CsEvent[]) =>
    set(
      Key.Queue,
      queue().filter((e) => !batch.some((b) => b.event_id == e.event_id)),
    );

  /**
   * The cross-tab lock: the queue is shared, only the tab holding an unexpired lease sends it.
   * Best effort: two tabs taking it within the few milliseconds localStorage needs to reach
   * the other process could both send; the warehouse's event_id key absorbs that.
   */
  const lease = (): unknown => {
    const l = get(Key.Lease),
      now = Date.now();
    return !(l && l[0] != me && l[1] > now) && set(Key.Lease, [me, now + LEASE_MS]);
  };

  const schedule = (ms = o.flushIntervalMs ?? 5000) => {
    timer ||= setTimeout(flush, ms);
  };

  const emit = (name: string, p?: Props, ecommerce?: Ecommerce) => {
    // off (or not initialised) does nothing; a refusal given in another tab switches this one
    // off too, from its next event on
    if (!mode || get(Key.Consent) === false) return (mode = 0);
    if (!EVENT_NAME.test(name)) return console.warn("clickstream: bad event name", name);
    const d: Draft = { event_name: name, event_ts: iso(), page: pg!, properties: p, ecommerce };
    mode > 1 ? enqueue(d) : pending.length < MAX_PENDING && pending.push(d);
  };

  /** Attaches identity, session, device and consent to a draft and queues it. */
  const enqueue = (d: Draft) => {
    const s = set(Key.Session, touch(get(Key.Session), Date.now(), campaign(location.search))),
      dropped = get(Key.Dropped);
    const e: CsEvent = {
      event_id: uuid(),
      ...d,
      app_id: o.appId,
      platform: "web",
      sdk: { name: "clickstream-web", version: __SDK_VERSION__ },
      schema_version: 1,
      anonymous_id: get(Key.Anon) || set(Key.Anon, uuid()),
      session_id: s.id,
      event_seq: s.seq,
      campaign: s.c,
      device: {
        screen_w: screen.width,
        screen_h: screen.height,
        viewport_w: innerWidth,
        viewport_h: innerHeight,
        language: navigator.language,
        tz_offset_min: -new Date().getTimezoneOffset(),
      },
      consent: { analytics: true },
    };
    if (dropped) e.properties = { ...d.properties, sdk_dropped: dropped };
    if (bytes(JSON.stringify(e)) > MAX_EVENT_BYTES) return drop(1);
    const q = queue(),
      lost = push(q, e);
    // the count this event carries is reported now; what push() evicted starts the next one
    lost ? set(Key.Dropped, lost) : dropped && del(Key.Dropped);
    set(Key.Queue, q).length >= size ? flush() : schedule();
  };

  /**
   * Sends the queue, request after request; a call while a send runs gets that send's promise.
   * Any flush timer is dropped (it is what calls this); send() sets a new one when it must wait.
   */
  const flush = (): Promise<void> => (clearTimeout(timer), (timer = 0), (running ||= send().finally(() => (running = 0))));

  const send = async () => {
    if (mode > 1) {
      if (retryAt > Date.now()) return schedule(retryAt - Date.now());
      // the lease is renewed for every request, so a tab that died mid-send frees the queue within
      // LEASE_MS; without it, a later try is scheduled (schedule() gives undefined: the loop ends)
      for (
        let batch: CsEvent[], body: string;
        ([batch, body] = take(queue(), limit))[0].length && (lease() || schedule());

      ) {
        inflight = batch;
        // inflight != batch: page hide took the batch out of the queue while it was in the air
        if (answer(batch, await post(url, body, token), inflight != batch)) break;
      }
      inflight = [];
      limit = size;
      if (get(Key.Lease)?.[0] == me) del(Key.Lease);
    }
  };

  /**
   * Applies an answer to `batch` (the rules: transport.ts); true when it backs off. A batch kept
   * for another try stays in the queue, or goes back to its head if page hide had taken it out
   * (`out`); but not for a network error after pagehide: Chromium fails the fetch promises of a
   * page being left while their keepalive requests carry on, so that error says nothing.
   */
  const answer = (batch: CsEvent[], [status, retryAfter]: Answer, out?: unknown): boolean => {
    const retry = retryable(status);
    if (retry) {
      // replaces a later flush timer: page hide's own request is answered outside send()
      retryAt = Date.now() + backoff(tries++, retryAfter);
      clearTimeout(timer);
      timer = 0;
      schedule(retryAt - Date.now());
    } else tries = 0;
    if (retry || (status == 413 && batch.length > 1)) {
      if (!retry) limit = batch.length >> 1;
      out && mode > 1 && (status || !gone) && (set(Key.Queue, [...batch, ...queue()]), retry || flush());
    } else {
      if (status == 401) (token = undefined), o.onAuthError?.();
      // 401, 403, a single event's 413 …; never 400 (quarantined by the server, not lost)
      if (status > 400) drop(batch.length);
      remove(batch);
    }
    return retry;
  };

  /** The engaged time since the last report, as a user_engagement of the current page view. */
  const engage = (stop?: 1) => {
    const ms = pg && engaged?.(stop);
    if (ms) emit("user_engagement", { engaged_ms: ms });
  };

  /**
   * Page hidden or left: report engaged time, then hand one batch of the queue to the browser.
   * sendBeacon cannot carry Authorization, so with a token a keepalive fetch is used. Either
   * outlives the page, but the page may be gone before an answer comes: so what is handed to the
   * browser (that batch, and the one a send() of this page has in the air) leaves the queue now
   * and the lease is freed now, or the next page would wait LEASE_MS and send them again.
   * At most once for those batches if the page goes; if it lives to see a failure, the batch
   * goes back to the queue (answer()). With a request in the air the fetch path sends nothing
   * more: keepalive bodies in flight share a 64 KB quota, and a fetch refused over it fails only
   * later, when the page may be gone (sendBeacon says so at once); the rest waits for the next page.
   */
  const hide = () => {
    // the clock stops here: the visibilitychange that follows a pagehide reports nothing more
    engage(1);
    // offline or backing off: a beacon would be reported queued and then lost, so keep the events
    if (mode < 2 || retryAt > Date.now() || !navigator.onLine || !lease()) return;
    // what is in the air leaves the queue (`inflight` is cleared below, after the fetch path has
    // looked at it); one batch of the rest goes now
    const [batch, body] = take(remove(inflight), limit);
    if (
      batch.length &&
      (token || !navigator.sendBeacon
        ? !inflight.length && post(url, body, token).then((a) => answer(batch, a, 1))
        : navigator.sendBeacon(url, body))
    )
      remove(batch);
    inflight = [];
    del(Key.Lease);
  };

  const setPage = () => {
    pg = {
      url: scrub(location.href),
      path: location.pathname,
      title: document.title || undefined,
      referrer: pg ? pg.url : scrub(document.referrer),
      page_view_id: uuid(),
    };
  };

  /** A page view; the previous one's engaged time first, a URL site search after. */
  const page = (p?: Props) => {
    if (!url) return;
    engage();
    setPage();
    emit("page_view", p);
    const term = engaged && searchTerm(location.search, o.searchParams || ["q", "s", "search", "query"]);
    if (term) emit("search", { search_term: term });
  };

  const api = {
    init(options: Options) {
      if (o) return;
      o = options;
      // Do Not Track with respectDnt: nothing at all (url stays unset), whatever consent() says
      if (o.respectDnt && dnt()) return;
      size = limit = Math.min(Math.max(1, o.batchSize ?? 20), MAX_REQUEST_EVENTS);
      url = o.endpoint.replace(/\/+$/, "") + "/v1/events";
      ({ get, set, del } = openStore(o.storage));
      const c = get(Key.Consent);
      mode = c === false ? 0 : c || !o.requireConsent ? 2 : 1;
      addEventListener("pagehide", () => ((gone = 1), hide()));
      addEventListener("pageshow", () => (gone = 0));
      document.addEventListener("visibilitychange", () => document.visibilityState == "hidden" && hide());
      addEventListener("online", () => {
        retryAt = tries = 0;
        flush();
      });
      if (o.autotrack !== false) {
        engaged = engagement();
        document.addEventListener(
          "click",
          (ev) => {
            const c = clickEvent(ev.target);
            c && emit(...c);
          },
          true,
        );
        onNavigate(page); // the first page view, then one per navigation
      } else setPage();
      schedule(); // whatever an earlier page left in the queue
    },
    track: emit,
    page,
    identify(t?: string) {
      token = t;
    },
    reset() {
      if (!url) return;
      // this page's engaged time so far belongs to the identity (and token) that spent it
      engage();
      flush();
      token = undefined;
      del(Key.Anon);
      del(Key.Session);
    },
    consent(granted: boolean) {
      if (!url) return;
      // 2 (on) or 0 (off); what waited in memory is sent, or dropped with the rest
      mode = +granted * 2;
      granted ? pending.forEach(enqueue) : KEYS.forEach(del);
      pending = [];
      set(Key.Consent, granted);
    },
    flush,
    search: (term: string, p?: Props) => emit("search", { ...p, search_term: term }),
  } as Client;
  // viewItem … refund: one helper per GA4 e-commerce name, named in camelCase
  ECOMMERCE_EVENTS.forEach(
    (n) => ((api as any)[n.replace(/_(.)/g, (_, c) => c.toUpperCase())] = (ec: Ecommerce, p?: Props) => emit(n, p, ec)),
  );
  return api;
};
