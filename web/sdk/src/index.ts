/**
 * Clickstream Analytics web SDK, ES module entry: a default instance's methods as named
 * exports, plus `createClient` for more instances.
 */
import { createClient } from "./client";

export { createClient };
export type { Client } from "./client";
export type * from "./types";

const client = createClient();
export default client;
export const {
  init,
  track,
  page,
  identify,
  reset,
  consent,
  flush,
  search,
  viewItemList,
  selectItem,
  viewItem,
  addToCart,
  removeFromCart,
  viewCart,
  beginCheckout,
  addPaymentInfo,
  purchase,
  refund,
} = client;
