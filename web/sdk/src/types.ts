/** Wire types of the event contract (schema version 1) and the SDK's options. */

export type Primitive = string | number | boolean | null;
/** Flat map of primitives, at most 50 keys (extra keys and nested values are dropped). */
export type Props = Record<string, Primitive | undefined>;

export interface Item {
  item_id: string;
  item_name?: string;
  item_category?: string;
  item_brand?: string;
  item_variant?: string;
  price?: number;
  quantity?: number;
  index?: number;
}

export interface Ecommerce {
  /** ISO 4217, required as soon as `value` or any item `price` is given. */
  currency?: string;
  value?: number;
  /** Required for `purchase` and `refund`. */
  transaction_id?: string;
  items?: Item[];
}

export interface Campaign {
  source?: string;
  medium?: string;
  name?: string;
  term?: string;
  content?: string;
  click_id?: string;
}

export interface Page {
  url?: string;
  path: string;
  title?: string;
  referrer?: string;
  page_view_id: string;
}

export interface Device {
  screen_w: number;
  screen_h: number;
  viewport_w: number;
  viewport_h: number;
  language: string;
  /** Minutes east of UTC (UTC+01:00 is 60), i.e. `-Date#getTimezoneOffset()`. */
  tz_offset_min: number;
}

/** One event as the SDK sends it. `sent_ts` is added at each send attempt. */
export interface CsEvent {
  event_id: string;
  event_name: string;
  event_ts: string;
  sent_ts?: string;
  app_id: string;
  platform: "web";
  sdk: { name: string; version: string };
  schema_version: 1;
  anonymous_id: string;
  session_id: string;
  event_seq: number;
  page: Page;
  campaign?: Campaign;
  device: Device;
  consent: { analytics: boolean };
  properties?: Props;
  ecommerce?: Ecommerce;
}

/** The subset of the Web Storage API the SDK uses; `localStorage` by default. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Options {
  /** Base URL of the ingest API; events go to `${endpoint}/v1/events`. */
  endpoint: string;
  appId: string;
  /** Nothing is stored or sent until `consent(true)` (default false). */
  requireConsent?: boolean;
  /** Do Not Track / Global Privacy Control switch the SDK off (default false). */
  respectDnt?: boolean;
  /** Events per request (max 500) and the queue length that triggers a send (default 20). */
  batchSize?: number;
  /** Longest time an event waits in the queue before a send (default 5000 ms). */
  flushIntervalMs?: number;
  /** Page views, link / `data-cs-event` clicks, URL site search, engagement (default true). */
  autotrack?: boolean;
  /** URL query parameters read as a site-search term (default q, s, search, query). */
  searchParams?: string[];
  /** Called when the ingest API answers 401; the token has already been dropped. */
  onAuthError?: () => void;
  storage?: StorageLike;
}
