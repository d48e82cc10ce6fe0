/**
 * The tracker: builds events, keeps them in the persistent queue, and delivers them.
 * `createClient()` gives an independent instance (tests run several over one storage);
 * index.ts exports a default one.
 */
import { clickEvent, engagement, onNavigate } from "./autotrack";
import { iso, uuid } from "./ids";
import { dnt } from "./privacy";
import { MAX_EVENT_BYTES, bytes, push, take } from "./queue";
import { ANON, CONSENT, DROPPED, KEYS, LEASE, QUEUE, SESSION, Store, openStore } from "./storage";
import { touch } from "./session";
import { backoff, post, retryable } from "./transport";
import { campaign, scrub, searchTerm } from "./url";
import { EVENT_NAME } from "./validate";
import type { CsEvent, Ecommerce, Options, Page, Props } from "./types";

declare const __SDK_VERSION__: string;

/** The GA4 e-commerce events, each with a helper (`add_to_cart` → `addToCart`). */
export const ECOMMERCE_EVENTS = "view_item_list select_item view_item add_to_cart remove_from_cart view_cart begin_checkout add_payment_info purchase refund".split(" ");

/** How long a tab may hold the send lease without renewing it. */
export const LEASE_MS = 30000;
/** Events kept in memory, never stored, while consent is pending. */
export const MAX_PENDING = 100;

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

export function createClient(): Client {
  let o: Options & { batchSize: number; flushIntervalMs: number },
    st: Store,
    url: string,
    /** 0 off (not initialised, DNT, consent refused), 1 waiting for consent, 2 on */
    mode = 0,
    token: string | undefined,
    pg: Page | undefined,
    pending: Draft[] = [],
    engaged: ((stop?: 1) => number) | undefined,
    running: Promise<void> | 0 = 0,
    tries = 0,
    retryAt = 0,
    limit = 500,
    /** the batch of the request send() awaits; page hide empties it when it lets go of that batch */
    inflight: CsEvent[] = [],
    /** 1 from pagehide to pageshow: the page is being left */
    gone = 0,
    timer: any = 0;
  const me = uuid();

  const queue = (): CsEvent[] => st.get(QUEUE) || [];
  const drop = (n: number) => st.set(DROPPED, (st.get(DROPPED) || 0) + n);
  const remove = (batch: CsEvent[]) =>
    st.set(
      QUEUE,
      queue().filter((e) => !batch.some((b) => b.event_id == e.event_id)),
    );

  /**
   * The cross-tab lock: the queue is shared, only the tab holding an unexpired lease sends it.
   * Best effort: two tabs taking it within the few milliseconds localStorage needs to reach
   * the other process could both send; the warehouse's event_id key absorbs that.
   */
  const lease = (): boolean => {
    const l = st.get(LEASE),
      now = Date.now();
    return !(l && l[0] != me && l[1] > now) && (st.set(LEASE, [me, now + LEASE_MS]), true);
  };

  const schedule = (ms = o.flushIntervalMs) => {
    timer ||= setTimeout(() => {
      timer = 0;
      flush();
    }, ms);
  };

  function emit(name: string, p?: Props, ecommerce?: Ecommerce) {
    // a refusal given in another tab counts here too, from the next event on
    if (st?.get(CONSENT) === false) mode = 0;
    if (!mode) return;
    if (!EVENT_NAME.test(name)) return console.warn("clickstream: bad event name", name);
    const d: Draft = { event_name: name, event_ts: iso(), page: pg!, properties: p, ecommerce };
    mode > 1 ? enqueue(d) : pending.length < MAX_PENDING && pending.push(d);
  }

  /** Attaches identity, session, device and consent to a draft and queues it. */
  function enqueue(d: Draft) {
    const s = touch(st.get(SESSION), Date.now(), campaign(location.search));
    st.set(SESSION, s);
    let a = st.get(ANON);
    a || st.set(ANON, (a = uuid()));
    const dropped = st.get(DROPPED);
    const e: CsEvent = {
      event_id: uuid(),
      ...d,
      app_id: o.appId,
      platform: "web",
      sdk: { name: "clickstream-web", version: __SDK_VERSION__ },
      schema_version: 1,
      anonymous_id: a,
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
    dropped && st.del(DROPPED);
    const q = queue(),
      lost = push(q, e);
    st.set(QUEUE, q);
    lost && drop(lost);
    q.length >= o.batchSize ? flush() : schedule();
  }

  /** Sends the queue, request after request; a call while a send runs gets that send's promise. */
  const flush = (): Promise<void> => (running ||= send().finally(() => (running = 0)));

  async function send() {
    if (mode < 2) return;
    clearTimeout(timer);
    timer = 0;
    if (retryAt > Date.now()) return schedule(retryAt - Date.now());
    for (;;) {
      const [batch, body] = take(queue(), limit);
      if (!batch.length) break;
      // renewed for every request, so a tab that died mid-send frees the queue within LEASE_MS
      if (!lease()) {
        schedule();
        break;
      }
      inflight = batch;
      // inflight != batch: page hide took the batch out of the queue while it was in the air
      if (answer(batch, await post(url, body, token), inflight != batch)) break;
    }
    inflight = [];
    limit = o.batchSize;
    if (st.get(LEASE)?.[0] == me) st.del(LEASE);
  }

  /**
   * Applies an answer to `batch` (the rules: transport.ts); true when it backs off. A batch kept
   * for another try stays in the queue, or goes back to its head if page hide had taken it out
   * (`out`); but not for a network error after pagehide: Chromium fails the fetch promises of a
   * page being left while their keepalive requests carry on, so that error says nothing.
   */
  function answer(batch: CsEvent[], [status, retryAfter]: [number, string | null], out?: unknown): boolean {
    const retry = retryable(status);
    if (retry) {
      // replaces a later flush timer: page hide's own request is answered outside send()
      clearTimeout(timer);
      timer = 0;
      schedule((retryAt = Date.now() + backoff(tries++, retryAfter)) - Date.now());
    } else tries = 0;
    if (retry || (status == 413 && batch.length > 1)) {
      if (!retry) limit = batch.length >> 1;
      out && mode > 1 && (status || !gone) && (st.set(QUEUE, [...batch, ...queue()]), retry || flush());
    } else {
      if (status == 401) (token = undefined), o.onAuthError?.();
      if (status > 299 && status != 400) drop(batch.length);
      remove(batch);
    }
    return retry;
  }

  /** The engaged time since the last report, as a user_engagement of the current page view. */
  function engage(stop?: 1) {
    const ms = pg && engaged?.(stop);
    if (ms) emit("user_engagement", { engaged_ms: ms });
  }

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
  function hide() {
    // the clock stops here: the visibilitychange that follows a pagehide reports nothing more
    engage(1);
    // offline or backing off: a beacon would be reported queued and then lost, so keep the events
    if (mode < 2 || retryAt > Date.now() || !navigator.onLine || !lease()) return;
    const busy = inflight.length;
    remove(inflight);
    inflight = [];
    const [batch, body] = take(queue(), limit);
    if (
      batch.length &&
      (token || !navigator.sendBeacon
        ? !busy && post(url, body, token).then((a) => answer(batch, a, 1))
        : navigator.sendBeacon(url, body))
    )
      remove(batch);
    st.del(LEASE);
  }

  function setPage() {
    pg = {
      url: scrub(location.href),
      path: location.pathname,
      title: document.title || undefined,
      referrer: pg ? pg.url : scrub(document.referrer),
      page_view_id: uuid(),
    };
  }

  /** A page view; the previous one's engaged time first, a URL site search after. */
  function page(p?: Props) {
    if (!o) return;
    engage();
    setPage();
    emit("page_view", p);
    const term = engaged && searchTerm(location.search, o.searchParams || ["q", "s", "search", "query"]);
    if (term) emit("search", { search_term: term });
  }

  const api = {
    init(options: Options) {
      if (o) return;
      o = { batchSize: 20, flushIntervalMs: 5000, ...options };
      o.batchSize = limit = Math.min(Math.max(1, o.batchSize), 500);
      url = o.endpoint.replace(/\/+$/, "") + "/v1/events";
      st = openStore(o.storage);
      const c = st.get(CONSENT);
      mode = (o.respectDnt && dnt()) || c === false ? 0 : c || !o.requireConsent ? 2 : 1;
      addEventListener("pagehide", () => ((gone = 1), hide()));
      addEventListener("pageshow", () => (gone = 0));
      document.addEventListener("visibilitychange", () => document.visibilityState == "hidden" && hide());
      addEventListener("online", () => {
        retryAt = tries = 0;
        flush();
      });
      if (o.autotrack !== false) {
        engaged = engagement();
        onNavigate(page);
        document.addEventListener(
          "click",
          (ev) => {
            const c = clickEvent(ev.target);
            c && emit(c[0], c[1]);
          },
          true,
        );
      }
      engaged ? page() : setPage();
      schedule(); // whatever an earlier page left in the queue
    },
    track: emit,
    page,
    identify(t?: string) {
      token = t;
    },
    reset() {
      if (!o) return;
      // this page's engaged time so far belongs to the identity (and token) that spent it
      engage();
      flush();
      token = undefined;
      st.del(ANON);
      st.del(SESSION);
    },
    consent(granted: boolean) {
      if (!o || (o.respectDnt && dnt())) return;
      if (granted) {
        if (mode < 2) (mode = 2), pending.splice(0).forEach(enqueue);
      } else {
        mode = 0;
        pending = [];
        KEYS.forEach(st.del);
      }
      st.set(CONSENT, granted);
    },
    flush,
    search: (term: string, p?: Props) => emit("search", { ...p, search_term: term }),
  } as Client;
  // viewItemList … refund: one helper per GA4 e-commerce name, named in camelCase
  ECOMMERCE_EVENTS.forEach(
    (n) => ((api as any)[n.replace(/_(.)/g, (_, c) => c.toUpperCase())] = (ec: Ecommerce, p?: Props) => emit(n, p, ec)),
  );
  return api;
}
