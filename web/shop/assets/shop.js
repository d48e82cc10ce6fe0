/**
 * The Clickstream Analytics demo shop: catalogue, search, product pages, cart, checkout and
 * sign-in, in plain JavaScript with no dependencies.
 *
 * Every page is a small HTML file whose <body data-page> names its controller below; the
 * header, footer and consent banner are the same everywhere. The SDK is embedded by the
 * snippet in each page's <head> (`window.clickstream`); its autotrack records page views,
 * link clicks, `data-cs-event` clicks, the URL site search and engaged time. This file adds
 * what only the shop knows: the GA4 e-commerce events, and who is signed in.
 *
 * The catalogue is `catalogue.json`, written by `python -m clickstream.demo.catalogue`: the
 * demo traffic generator simulates this same shop (its URLs, titles, lists, search rule,
 * delivery charge), so real clicks and seeded traffic read the same on the dashboard.
 */

const CONFIG = window.CLICKSTREAM_CONFIG || {};
const cs = window.clickstream;
const CURRENCY = "EUR";
const FREE_SHIPPING_FROM = 50;
const SHIPPING = 4.95;
const VAT_RATE = 0.19; // prices include it; the purchase reports the share (as the generator does)
const SEARCH_LIMIT = 12;
const KEYS = { cart: "shop_cart", auth: "shop_auth", consent: "shop_consent", order: "shop_last_order" };

/* ---------------------------------------------------------------- small helpers */

const $ = (selector, root = document) => root.querySelector(selector);
const esc = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
// 1e-9: 0.125 rounds to 0.13 as a till would, despite binary floats
const round2 = (n) => Math.round((n + 1e-9) * 100) / 100;
const euros = new Intl.NumberFormat("en-IE", { style: "currency", currency: CURRENCY });
const money = (n) => euros.format(n);
const slugify = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
const read = (store, key) => {
  try {
    return JSON.parse(store.getItem(key));
  } catch {
    return null;
  }
};
const write = (store, key, value) => store.setItem(key, JSON.stringify(value));

/* ---------------------------------------------------------------- catalogue */

/**
 * The catalogue in one shape, from either file format: the generator's
 * ({shop, categories, products: [{item_id, name, category, category_name, brand, variants, path, popularity}]})
 * or a plain list of GA4 items ({item_id, item_name, item_category, item_brand, item_variant, price}).
 */
function normalize(doc) {
  const rows = Array.isArray(doc) ? doc : doc.products;
  const categories = new Map((doc.categories || []).map((c) => [c.slug, { ...c }]));
  const products = rows.map((p) => {
    const name = p.category_name ?? p.item_category;
    const slug = doc.categories ? p.category : slugify(name);
    if (!categories.has(slug)) categories.set(slug, { slug, name, path: `/c/${slug}` });
    return {
      item_id: p.item_id,
      name: p.name ?? p.item_name,
      brand: p.brand ?? p.item_brand,
      price: p.price,
      variants: p.variants ?? (p.item_variant ? [p.item_variant] : []),
      category: categories.get(slug),
      path: p.path ?? `/p/${p.item_id.toLowerCase()}`,
      popularity: p.popularity ?? 0,
    };
  });
  products.forEach((p) => (p.words = searchWords(`${p.name} ${p.brand} ${p.category.name}`)));
  return { name: doc.shop || "Demo Shop", categories: [...categories.values()], products };
}

async function loadCatalogue() {
  const response = await fetch("/catalogue.json");
  return normalize(await response.json());
}

/** Most popular first (a stable sort: equal popularity keeps the catalogue's order). */
const popular = (products) => [...products].sort((a, b) => b.popularity - a.popularity);

/** The shop's search rule (the generator's `search_words`): lower case, "mugs" finds "mug". */
function stem(word) {
  word = word.replace(/^[.,'"()]+|[.,'"()]+$/g, "");
  if (word.endsWith("es") && /(ss|sh|ch|x)$/.test(word.slice(0, -2))) return word.slice(0, -2);
  if (word.endsWith("s") && !word.endsWith("ss") && word.length > 3) return word.slice(0, -1);
  return word;
}
const searchWords = (text) =>
  new Set(text.toLowerCase().replace(/&/g, " ").replace(/-/g, " ").split(/\s+/).filter(Boolean).map(stem));

/** Products whose name, brand and category hold every word of the query; popular first, at most 12. */
function search(products, query) {
  const words = [...searchWords(query)];
  if (!words.length) return [];
  return popular(products.filter((p) => words.every((w) => p.words.has(w)))).slice(0, SEARCH_LIMIT);
}

const BLURBS = {
  kitchen: "Tools that earn their place on the counter: made to be used every day, and repaired rather than replaced.",
  "coffee-tea": "Everything for the first cup of the day, from the grinder to the teapot.",
  tableware: "Plates, glasses and linen for an everyday table, made in small workshops.",
  textiles: "Linen, wool and cotton that soften a room and get better with every wash.",
  lighting: "Warm light for long evenings: lamps for desks, tables, floors and gardens.",
  bath: "Towels, robes and small things that turn a bathroom into somewhere to linger.",
  garden: "For balconies, terraces and gardens: planters, tools and something to sit on.",
  office: "A desk that works as hard as you do, and paper for the lists that matter.",
};

/* ---------------------------------------------------------------- product art (inline SVG, no images to load) */

// A drawing per kind of product, picked by a word of its name; the category's drawing otherwise.
const SHAPES = [
  [/\b(kettle|teapot)\b/, '<path d="M5 20h13l-1.6-8.4a2 2 0 0 0-2-1.6H8.6a2 2 0 0 0-2 1.6z"/><path d="M9 10V8a3 3 0 0 1 5 0v2"/><path d="M17 13.5l4.5-4"/>'],
  [/\b(mug|cups?|frother)\b/, '<path d="M5 7h11v8a4 4 0 0 1-4 4H9a4 4 0 0 1-4-4z"/><path d="M16 9h1.5a2.5 2.5 0 0 1 0 5H16"/><path d="M8.5 2.5c-1 1 1 2 0 3M12 2.5c-1 1 1 2 0 3"/>'],
  [/\b(tea)\b/, '<path d="M7 3h10l1.5 4v13a1 1 0 0 1-1 1h-11a1 1 0 0 1-1-1V7z"/><path d="M5.5 7h13"/><path d="M9 14c2-3 4-3 6 0-2 3-4 3-6 0z"/>'],
  [/\b(grinder|machine|mixer|press|dripper)\b/, '<rect x="6" y="10" width="12" height="11" rx="1.5"/><path d="M8 10l1-3.5h6l1 3.5"/><path d="M12 6.5V3h5"/><circle cx="17" cy="3" r="0.8"/><path d="M9 15h6"/>'],
  [/\b(skillet|pan)\b/, '<circle cx="10" cy="13" r="6.5"/><circle cx="10" cy="13" r="3.5"/><path d="M16.5 11.5l5-2"/>'],
  [/\b(knife|cutlery|spatula|shears)\b/, '<path d="M6 21l9-15a2.5 2.5 0 0 1 4 2.8L11 21z"/><path d="M18 3l3 3"/><path d="M4 21h16"/>'],
  [/\b(board|scale|stand|organiser)\b/, '<rect x="2.5" y="8" width="15.5" height="10" rx="3"/><path d="M18 13h3.5"/><circle cx="21.5" cy="13" r="0.8"/><path d="M6 11.5h5"/>'],
  [/\b(plates?|bowl)\b/, '<circle cx="12" cy="12" r="8.5"/><circle cx="12" cy="12" r="5"/>'],
  [/\b(glass(es)?|jars?|dispenser)\b/, '<path d="M7 3h10l-1 8a4 4 0 0 1-8 0z"/><path d="M12 15v6M8.5 21h7"/>'],
  [/\b(napkins?|towel|mat|duvet|sheet|blanket|throw|curtains|rug|bathrobe)\b/, '<path d="M5 4h14v16H5z"/><path d="M5 4l7 7 7-7"/><path d="M9 16h6"/>'],
  [/\b(cushion|pillow|pouf)\b/, '<rect x="3.5" y="6" width="17" height="12" rx="4"/><path d="M3.5 6l4 4M20.5 6l-4 4M3.5 18l4-4M20.5 18l-4-4"/>'],
  [/\b(lamp)\b/, '<path d="M8 3h8l3 8H5z"/><path d="M12 11v8"/><path d="M8 21h8"/>'],
  [/\b(bulb|lights?)\b/, '<path d="M9 17h6M10 21h4"/><path d="M12 3a6 6 0 0 0-3.5 10.9c.6.5 1 1.2 1 2.1h5c0-.9.4-1.6 1-2.1A6 6 0 0 0 12 3z"/>'],
  [/\b(candle|lantern)\b/, '<rect x="8" y="10" width="8" height="11" rx="1.5"/><path d="M12 10V8"/><path d="M12 3c1.5 1.5 1.5 3 0 4-1.5-1-1.5-2.5 0-4z"/>'],
  [/\b(caddy|hose|can)\b/, '<path d="M4 9h12l-1 11H5z"/><path d="M16 11l5-4"/><path d="M7 9V6h6v3"/>'],
  [/\b(planter|seeds)\b/, '<path d="M6 13h12l-1.5 8h-9z"/><path d="M12 13V8"/><path d="M12 9c-3 0-5-2-5-5 3 0 5 2 5 5zM12 8c0-3 2-5 5-5 0 3-2 5-5 5z"/>'],
  [/\b(chair)\b/, '<path d="M7 3h10v9H7z"/><path d="M5 12h14v3H5z"/><path d="M7 15v6M17 15v6"/>'],
  [/\b(notebook|calendar)\b/, '<rect x="5" y="3" width="13" height="18" rx="1.5"/><path d="M8.5 3v18M11.5 8h4M11.5 11h4"/>'],
  [/\b(pen)\b/, '<path d="M4 20l3.5-1 11-11a1.8 1.8 0 0 0-2.5-2.5l-11 11z"/><path d="M14.5 7l2.5 2.5"/>'],
  [/\b(keyboard|mouse)\b/, '<rect x="2.5" y="7" width="19" height="10" rx="2"/><path d="M6 10.5h.01M9 10.5h.01M12 10.5h.01M15 10.5h.01M18 10.5h.01M7 14h10"/>'],
];
const FALLBACK_SHAPE = '<rect x="5" y="8" width="14" height="13" rx="2"/><path d="M9 8V6a3 3 0 0 1 6 0v2"/>';
const hash = (s) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
let artCount = 0;

function art(p, label = true) {
  const hue = (hash(p.category.slug) % 12) * 30 + ((hash(p.item_id) % 24) - 12);
  const id = `g${++artCount}`;
  const name = p.name.toLowerCase();
  const shape = SHAPES.find(([words]) => words.test(name))?.[1] || FALLBACK_SHAPE;
  return `<svg class="art" viewBox="0 0 160 120" preserveAspectRatio="xMidYMid slice" ${label ? `role="img" aria-label="${esc(p.name)}"` : 'aria-hidden="true"'}>
    <defs><linearGradient id="${id}" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="hsl(${hue} 42% 90%)"/><stop offset="1" stop-color="hsl(${hue + 20} 36% 78%)"/>
    </linearGradient></defs>
    <rect width="160" height="120" fill="url(#${id})"/>
    <circle cx="122" cy="26" r="38" fill="hsl(${hue} 60% 97% / 0.45)"/>
    <g transform="translate(50 27) scale(2.5)" fill="none" stroke="hsl(${hue} 35% 27%)" stroke-width="1.2"
       stroke-linecap="round" stroke-linejoin="round">${shape}</g>
  </svg>`;
}

/* ---------------------------------------------------------------- cart (localStorage) */

const cart = {
  /** [{item_id, variant, quantity}] */
  entries: () => read(localStorage, KEYS.cart) || [],
  save: (entries) => write(localStorage, KEYS.cart, entries.filter((e) => e.quantity > 0)),
  count: () => cart.entries().reduce((n, e) => n + e.quantity, 0),
  add(id, variant, quantity) {
    const entries = cart.entries();
    const entry = entries.find((e) => e.item_id == id && e.variant == variant);
    entry ? (entry.quantity += quantity) : entries.push({ item_id: id, variant, quantity });
    cart.save(entries);
  },
  set(id, variant, quantity) {
    cart.save(cart.entries().map((e) => (e.item_id == id && e.variant == variant ? { ...e, quantity } : e)));
  },
  clear: () => localStorage.removeItem(KEYS.cart),
  /** The cart joined with the catalogue: [{product, variant, quantity}] (unknown ids are dropped). */
  lines(products) {
    return cart
      .entries()
      .map((e) => ({ product: products.find((p) => p.item_id == e.item_id), variant: e.variant, quantity: e.quantity }))
      .filter((l) => l.product);
  },
};

const subtotal = (lines) => round2(lines.reduce((s, l) => s + l.product.price * l.quantity, 0));
const shippingFor = (amount) => (amount >= FREE_SHIPPING_FROM ? 0 : SHIPPING);

/* ---------------------------------------------------------------- analytics payloads (GA4 shapes) */

/** GA4 item: what the catalogue knows, the variant chosen, plus quantity / index. */
const item = (p, variant, extra = {}) => ({
  item_id: p.item_id,
  item_name: p.name,
  item_category: p.category.name,
  item_brand: p.brand,
  ...(variant ? { item_variant: variant } : {}),
  price: p.price,
  ...extra,
});

/** The ecommerce object for cart lines: value is the sum of price × quantity (delivery excluded, as in GA4). */
const ecommerce = (lines, extra = {}) => ({
  currency: CURRENCY,
  value: subtotal(lines),
  ...extra,
  items: lines.map((l) => item(l.product, l.variant, { quantity: l.quantity })),
});

/* ---------------------------------------------------------------- sign-in (Cognito USER_PASSWORD_AUTH) */

const decodeJwt = (token) => {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
};

/** The stored session, or null; an expired one is forgotten. */
function currentAuth() {
  const auth = read(localStorage, KEYS.auth);
  if (auth && auth.expiresAt > Date.now()) return auth;
  if (auth) localStorage.removeItem(KEYS.auth);
  return null;
}

async function cognitoSignIn(email, password) {
  const c = CONFIG.cognito || {};
  const response = await fetch(c.endpoint || `https://cognito-idp.${c.region}.amazonaws.com/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: c.clientId,
      AuthParameters: { USERNAME: email, PASSWORD: password },
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || body.Message || `sign-in failed (HTTP ${response.status})`);
  const result = body.AuthenticationResult;
  if (!result) throw new Error(`this account needs a step the demo does not support (${body.ChallengeName})`);
  const auth = {
    accessToken: result.AccessToken,
    email: decodeJwt(result.IdToken).email || email,
    expiresAt: Date.now() + result.ExpiresIn * 1000,
  };
  write(localStorage, KEYS.auth, auth);
  return auth;
}

async function signOut() {
  // what this signed-in visit queued goes out with the token, then the SDK forgets it
  await cs.flush();
  cs.reset();
  localStorage.removeItem(KEYS.auth);
  location.assign("/");
}

/** Only a path on this site: never send a visitor elsewhere after signing in. */
const safeNext = (next) => (next && next.startsWith("/") && !next.startsWith("//") ? next : "/");

/* ---------------------------------------------------------------- layout: header, footer, consent */

const LOGO = `<svg viewBox="0 0 32 32" aria-hidden="true"><circle cx="16" cy="16" r="15" fill="#2f5d4a"/>
  <path d="M16 6c-5 5-6 10-3 15 1 2 2 3 3 5 1-2 2-3 3-5 3-5 2-10-3-15z" fill="#e9efe6"/><path d="M16 12v14" stroke="#2f5d4a" stroke-width="1.5"/></svg>`;
const CART_ICON = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
  <path d="M3 4h2l2.4 11.2a2 2 0 0 0 2 1.6h7.8a2 2 0 0 0 2-1.5L21 8H6.2"/><circle cx="10" cy="20" r="1.3"/><circle cx="17" cy="20" r="1.3"/></svg>`;

function renderHeader(shop, query = "") {
  const auth = currentAuth();
  const here = location.pathname;
  const next = encodeURIComponent(here + location.search);
  const count = cart.count();
  const nav = (c) => `<a id="nav-${esc(c.slug)}" href="${esc(c.path)}" ${here == c.path ? 'aria-current="page"' : ""}>${esc(c.name)}</a>`;
  $("#site-header").outerHTML = `<header class="site-header" id="site-header"><div class="container">
    <div class="bar">
      <a class="logo" id="logo" href="/">${LOGO}<span>${esc(shop.name)}</span></a>
      <form class="search" action="/search" method="get" role="search">
        <label class="visually-hidden" for="q">Search products</label>
        <input id="q" type="search" name="q" placeholder="Search kettles, lamps, towels…" value="${esc(query)}" autocomplete="off">
        <button class="button" type="submit">Search</button>
      </form>
      <div class="header-actions">
        ${
          auth
            ? `<span class="account"><span id="account-email">${esc(auth.email)}</span>
               <button id="sign-out" class="link-button" type="button" data-cs-event="sign_out">Sign out</button></span>`
            : `<a id="sign-in" href="/signin?next=${next}">Sign in</a>`
        }
        <a class="cart-link" id="header-cart" href="/cart">${CART_ICON}<span>Cart</span>
          <span class="badge" id="cart-count" ${count ? "" : "hidden"}>${count}</span></a>
      </div>
    </div>
    <nav class="categories" aria-label="Categories">${shop.categories.map(nav).join("")}</nav>
  </div></header>`;
  $("#sign-out")?.addEventListener("click", signOut);
}

function updateCartCount() {
  const badge = $("#cart-count");
  badge.textContent = cart.count();
  badge.hidden = !cart.count();
}

function renderFooter(shop) {
  $("#site-footer").outerHTML = `<footer class="site-footer"><div class="container">
    <div class="cols">
      <div>
        <h2>The monthly letter</h2>
        <p>New arrivals, restocks and the occasional long read. One email a month.</p>
        <form class="newsletter" id="newsletter">
          <label class="visually-hidden" for="newsletter-email">Email address</label>
          <input id="newsletter-email" type="email" name="email" placeholder="you@example.com" required>
          <button class="button" type="submit" id="newsletter-signup" data-cs-event="newsletter_signup">Subscribe</button>
        </form>
        <p id="newsletter-thanks" hidden>Thank you: the next letter is on its way.</p>
      </div>
      <div>
        <h2>About this shop</h2>
        <p>A demo of <strong>Clickstream Analytics</strong>: every page view, search, click and order here
        is sent to your own ingest API and lands in your own warehouse. No payment is taken and nothing ships.</p>
      </div>
    </div>
    <p class="fine">© ${esc(shop.name)} · first-party analytics only: no cookies, no third parties.</p>
  </div></footer>`;
  $("#newsletter").addEventListener("submit", (e) => {
    e.preventDefault();
    e.target.hidden = true;
    $("#newsletter-thanks").hidden = false;
  });
}

/** The SDK runs with requireConsent: nothing is stored or sent until the visitor accepts. */
function consentBanner() {
  if (localStorage.getItem(KEYS.consent)) return;
  const banner = document.createElement("div");
  banner.className = "consent";
  banner.setAttribute("role", "dialog");
  banner.setAttribute("aria-label", "Analytics consent");
  banner.innerHTML = `<p>We measure how our shop is used with first-party analytics: no cookies, no third parties,
    nothing you type. May we?</p>
    <div class="actions">
      <button class="button small secondary" id="consent-decline" type="button">No thanks</button>
      <button class="button small" id="consent-accept" type="button">Accept analytics</button>
    </div>`;
  const answer = (granted) => () => {
    cs.consent(granted);
    localStorage.setItem(KEYS.consent, granted ? "granted" : "denied");
    banner.remove();
  };
  $("#consent-accept", banner).addEventListener("click", answer(true));
  $("#consent-decline", banner).addEventListener("click", answer(false));
  document.body.append(banner);
}

/* ---------------------------------------------------------------- product lists */

const card = (p, index) => `<a class="card" id="product-${esc(p.item_id.toLowerCase())}" href="${esc(p.path)}" data-index="${index}">
  ${art(p)}
  <div class="body">
    <span class="brand">${esc(p.brand)}</span>
    <span class="name">${esc(p.name)}</span>
    <span class="muted">${p.variants.length > 1 ? `${p.variants.length} options` : esc(p.variants[0] || "")}</span>
    <span class="price">${money(p.price)}</span>
  </div></a>`;

/**
 * Renders a list of products: view_item_list for what is shown, select_item for the one
 * clicked (with its position). `list` ({item_list_id, item_list_name}) goes in properties:
 * GA4 keeps it beside the items, which schema v1 does not allow.
 */
function productList(container, products, list) {
  container.innerHTML = products.map(card).join("");
  if (!products.length) return;
  cs.viewItemList({ currency: CURRENCY, items: products.map((p, index) => item(p, null, { index })) }, list);
  container.addEventListener("click", (e) => {
    const link = e.target.closest("a[data-index]");
    if (!link) return;
    const index = +link.dataset.index;
    cs.selectItem({ currency: CURRENCY, items: [item(products[index], null, { index })] }, list);
  });
}

/* ---------------------------------------------------------------- pages */

function notFound(what = "page") {
  $("#main").innerHTML = `<section class="empty">
    <h1>We could not find that ${esc(what)}</h1>
    <p class="muted">It may have sold out for good, or the link is mistyped.</p>
    <p><a class="button" href="/">Back to the shop</a></p></section>`;
}

const pages = {
  /** `/`: the categories and what is popular right now. */
  home(shop) {
    const firsts = shop.categories.map((c) => popular(shop.products.filter((p) => p.category == c))[0]).filter(Boolean);
    $("#main").innerHTML = `<section class="hero"><div>
        <h1>Good things for every room</h1>
        <p>Kitchen tools, coffee and tea, textiles, lamps and more from makers we know by name.
           Free delivery from ${money(FREE_SHIPPING_FROM)}.</p>
        <a class="button" id="hero-cta" href="${esc(shop.categories[0]?.path || "/")}">Shop ${esc(shop.categories[0]?.name || "now")}</a></div>
        <div class="hero-art">${firsts.slice(0, 6).map((p) => art(p, false)).join("")}</div>
      </section>
      <div class="section-head"><h2>Shop by category</h2></div>
      <div class="tiles">${shop.categories
        .map((c, i) => `<a class="tile" id="tile-${esc(c.slug)}" href="${esc(c.path)}">${firsts[i] ? art(firsts[i], false) : ""}<span>${esc(c.name)}</span></a>`)
        .join("")}</div>
      <div class="section-head"><h2>Popular right now</h2></div>
      <div class="grid" id="products"></div>`;
    productList($("#products"), popular(shop.products).slice(0, 8), { item_list_id: "popular_products", item_list_name: "Popular right now" });
  },

  /** `/c/<slug>`: a category, most popular first. */
  category(shop) {
    const category = shop.categories.find((c) => c.path == location.pathname.replace(/\/$/, ""));
    if (!category) return notFound("category");
    const shown = popular(shop.products.filter((p) => p.category == category));
    $("#main").innerHTML = `<nav class="breadcrumbs" aria-label="Breadcrumbs"><a href="/">Shop</a> / ${esc(category.name)}</nav>
      <div class="section-head"><div><h1>${esc(category.name)}</h1><p class="muted">${esc(BLURBS[category.slug] || "")}</p></div>
      <span class="muted">${shown.length} products</span></div>
      <div class="grid" id="products"></div>`;
    productList($("#products"), shown, { item_list_id: category.slug, item_list_name: category.name });
  },

  /** `/search?q=…`: the SDK records the `search` event itself from the URL. */
  search(shop) {
    const query = (new URLSearchParams(location.search).get("q") || "").trim();
    const results = search(shop.products, query);
    $("#main").innerHTML = `<div class="section-head"><div>
        <h1>${query ? `Results for “${esc(query)}”` : "Search"}</h1>
        <p class="muted" id="result-count">${results.length} ${results.length == 1 ? "product" : "products"}</p></div></div>
      ${
        results.length
          ? '<div class="grid" id="products"></div>'
          : `<section class="empty"><p>Nothing matches ${query ? `“${esc(query)}”` : "an empty search"}. Try a category:</p>
             <p>${shop.categories.map((c) => `<a href="${esc(c.path)}">${esc(c.name)}</a>`).join(" · ")}</p></section>`
      }`;
    if (results.length) productList($("#products"), results, { item_list_id: "search_results", item_list_name: "Search results" });
  },

  /** `/p/<item id>`. */
  product(shop) {
    const p = shop.products.find((x) => x.path == location.pathname.replace(/\/$/, ""));
    if (!p) return notFound("product");
    const variantOf = () => $("#variant")?.value || p.variants[0] || null;
    cs.viewItem({ currency: CURRENCY, value: p.price, items: [item(p, variantOf())] });
    const c = p.category;
    $("#main").innerHTML = `<nav class="breadcrumbs" aria-label="Breadcrumbs"><a href="/">Shop</a> /
        <a id="breadcrumb-${esc(c.slug)}" href="${esc(c.path)}">${esc(c.name)}</a> / ${esc(p.name)}</nav>
      <article class="product">
        ${art(p)}
        <div>
          <span class="muted">${esc(p.brand)}</span>
          <h1 id="product-name">${esc(p.name)}</h1>
          <div class="price">${money(p.price)}</div>
          <p>${esc(BLURBS[c.slug] || "")}</p>
          <dl class="facts"><dt>Brand</dt><dd>${esc(p.brand)}</dd><dt>Article</dt><dd>${esc(p.item_id)}</dd>
            <dt>Delivery</dt><dd>2–4 working days, free from ${money(FREE_SHIPPING_FROM)}</dd></dl>
          <form class="buy" id="buy">
            ${
              p.variants.length
                ? `<label class="wide-label">Option<select name="variant" id="variant">${p.variants
                    .map((v) => `<option>${esc(v)}</option>`)
                    .join("")}</select></label>`
                : ""
            }
            <label>Quantity<select name="quantity" id="quantity">${[1, 2, 3, 4, 5].map((n) => `<option>${n}</option>`).join("")}</select></label>
            <button class="button" type="submit" id="add-to-cart">Add to cart</button>
            <button class="button secondary" type="button" id="wishlist" data-cs-event="wishlist_add">Save for later</button>
          </form>
          <div id="added" class="notice" role="status" hidden></div>
        </div>
      </article>
      <div class="section-head"><h2>You may also like</h2></div>
      <div class="grid" id="related"></div>`;
    $("#buy").addEventListener("submit", (e) => {
      e.preventDefault();
      const quantity = +$("#quantity").value;
      const variant = variantOf();
      cart.add(p.item_id, variant, quantity);
      cs.addToCart(ecommerce([{ product: p, variant, quantity }]));
      updateCartCount();
      const added = $("#added");
      added.innerHTML = `Added ${quantity} × ${esc(p.name)}${variant ? ` (${esc(variant)})` : ""} to your cart.
        <a href="/cart" id="view-cart">View cart</a>`;
      added.hidden = false;
    });
    $("#wishlist").addEventListener("click", (e) => (e.target.textContent = "Saved for later"));
    const related = popular(shop.products.filter((x) => x.category == c && x != p)).slice(0, 4);
    productList($("#related"), related, { item_list_id: "related_products", item_list_name: "You may also like" });
  },

  /** `/cart`: view_cart once; add_to_cart / remove_from_cart for each change made here. */
  cart(shop) {
    const lines = cart.lines(shop.products);
    if (!lines.length) return emptyCart();
    cs.viewCart(ecommerce(lines));
    const render = () => {
      const lines = cart.lines(shop.products);
      if (!lines.length) return emptyCart();
      const sub = subtotal(lines);
      $("#main").innerHTML = `<div class="section-head"><h1>Your cart</h1></div>
        <div class="layout-2">
          <div class="panel"><ul class="lines">${lines
            .map(
              (l, i) => `<li class="line" data-line="${i}">
                ${art(l.product)}
                <div><a href="${esc(l.product.path)}"><strong>${esc(l.product.name)}</strong></a>
                  <div class="meta">${esc(l.product.brand)}${l.variant ? ` · ${esc(l.variant)}` : ""} · ${money(l.product.price)}</div>
                  <div class="qty"><button type="button" data-action="less" aria-label="One less">−</button><span>${l.quantity}</span>
                  <button type="button" data-action="more" aria-label="One more">+</button></div>
                  <button type="button" class="link-button" data-action="remove">Remove</button></div>
                <strong>${money(l.product.price * l.quantity)}</strong></li>`,
            )
            .join("")}</ul></div>
          <aside class="panel">${totals(sub)}
            <a class="button wide" id="checkout-button" href="/checkout">Checkout</a>
            <p><a id="continue-shopping" href="/">Continue shopping</a></p></aside>
        </div>`;
    };
    $("#main").addEventListener("click", (e) => {
      const button = e.target.closest("button[data-action]");
      if (!button) return;
      const line = cart.lines(shop.products)[+button.closest("[data-line]").dataset.line];
      const { product, variant } = line;
      const action = button.dataset.action;
      if (action == "more") {
        cart.add(product.item_id, variant, 1);
        cs.addToCart(ecommerce([{ product, variant, quantity: 1 }]));
      } else {
        const quantity = action == "less" ? 1 : line.quantity;
        cart.set(product.item_id, variant, line.quantity - quantity);
        cs.removeFromCart(ecommerce([{ product, variant, quantity }]));
      }
      updateCartCount();
      render();
    });
    render();
  },

  /** `/checkout`: begin_checkout, delivery → payment (add_payment_info) → review → purchase. */
  checkout(shop) {
    const lines = cart.lines(shop.products);
    if (!lines.length) return emptyCart();
    const sub = subtotal(lines);
    const shipping = shippingFor(sub);
    cs.beginCheckout(ecommerce(lines));
    const auth = currentAuth();
    const order = {};
    const labels = { card: "Card", paypal: "PayPal", klarna: "Klarna" };
    $("#main").innerHTML = `<div class="section-head"><h1>Checkout</h1></div>
      <div class="layout-2">
        <div class="panel">
          <ol class="steps"><li data-step="delivery">Delivery</li><li data-step="payment">Payment</li><li data-step="review">Review</li></ol>
          <form class="stack" id="delivery" data-step="delivery">
            <fieldset><legend>Where should it go?</legend>
              <label>Email<input type="email" name="email" id="email" required value="${esc(auth?.email || "")}"></label>
              <label>Full name<input name="name" id="name" required autocomplete="name"></label>
              <label>Street and number<input name="street" id="street" required autocomplete="street-address"></label>
              <div class="field-row"><label>Postcode<input name="postcode" id="postcode" required autocomplete="postal-code"></label>
                <label>City<input name="city" id="city" required autocomplete="address-level2"></label></div>
              <label>Country<select name="country" id="country">${["Germany", "Austria", "Netherlands", "Belgium", "France", "Ireland", "Spain", "Italy"]
                .map((c) => `<option>${c}</option>`)
                .join("")}</select></label>
            </fieldset>
            <button class="button" type="submit" id="to-payment">Continue to payment</button>
          </form>
          <form class="stack" id="payment" data-step="payment" hidden>
            <fieldset><legend>How would you like to pay?</legend>
              <label class="choice"><input type="radio" name="payment_type" value="card" checked> Card <small>Visa, Mastercard, Amex</small></label>
              <label class="choice"><input type="radio" name="payment_type" value="paypal"> PayPal <small>You confirm on the next step</small></label>
              <label class="choice"><input type="radio" name="payment_type" value="klarna"> Klarna <small>Pay in 30 days</small></label>
            </fieldset>
            <p class="hint">This is a demo: no payment is taken.</p>
            <button class="button" type="submit" id="to-review">Review order</button>
          </form>
          <form class="stack" id="review" data-step="review" hidden>
            <dl class="review" id="review-details"></dl>
            <button class="button" type="submit" id="place-order">Place order · ${money(sub + shipping)}</button>
          </form>
        </div>
        <aside class="panel"><h2>Order summary</h2>
          <ul class="lines">${lines
            .map((l) => `<li class="line">${art(l.product)}<div>${esc(l.product.name)}
              <div class="meta">${l.variant ? `${esc(l.variant)} · ` : ""}× ${l.quantity}</div></div>
              <strong>${money(l.product.price * l.quantity)}</strong></li>`)
            .join("")}</ul>
          ${totals(sub)}</aside>
      </div>`;
    const show = (step) => {
      document.querySelectorAll("form[data-step]").forEach((f) => (f.hidden = f.dataset.step != step));
      let done = true;
      document.querySelectorAll(".steps li").forEach((li) => {
        if (li.dataset.step == step) done = false;
        li.className = li.dataset.step == step ? "active" : done ? "done" : "";
      });
    };
    show("delivery");
    $("#delivery").addEventListener("submit", (e) => {
      e.preventDefault();
      // kept on the page for the review; form values never go to analytics
      Object.assign(order, Object.fromEntries(new FormData(e.target)));
      show("payment");
    });
    $("#payment").addEventListener("submit", (e) => {
      e.preventDefault();
      order.payment_type = new FormData(e.target).get("payment_type");
      cs.addPaymentInfo(ecommerce(lines), { payment_type: order.payment_type });
      $("#review-details").innerHTML = `<dt>Deliver to</dt><dd>${esc(order.name)}, ${esc(order.street)}, ${esc(order.postcode)} ${esc(order.city)}, ${esc(order.country)}</dd>
        <dt>Email</dt><dd>${esc(order.email)}</dd><dt>Payment</dt><dd>${labels[order.payment_type]}</dd>
        <dt>Total</dt><dd>${money(sub + shipping)}</dd>`;
      show("review");
    });
    $("#review").addEventListener("submit", (e) => {
      e.preventDefault();
      $("#place-order").disabled = true;
      const transaction_id = newOrderId();
      const tax = round2((sub * VAT_RATE) / (1 + VAT_RATE));
      cs.purchase(ecommerce(lines, { transaction_id }), { shipping, tax, payment_type: order.payment_type });
      write(sessionStorage, KEYS.order, {
        transaction_id,
        email: order.email,
        subtotal: sub,
        lines: lines.map((l) => ({ item_id: l.product.item_id, variant: l.variant, quantity: l.quantity })),
      });
      cart.clear();
      location.assign("/checkout/thanks");
    });
  },

  /** `/checkout/thanks`: the confirmation (the purchase event went out from the checkout page). */
  thanks(shop) {
    const order = read(sessionStorage, KEYS.order);
    if (!order) return notFound("order");
    const lines = order.lines
      .map((l) => ({ product: shop.products.find((p) => p.item_id == l.item_id), variant: l.variant, quantity: l.quantity }))
      .filter((l) => l.product);
    $("#main").innerHTML = `<section class="panel auth" style="max-width: 620px">
      <h1>Thank you for your order</h1>
      <p>Order <strong id="order-id">${esc(order.transaction_id)}</strong> is confirmed; we will write to ${esc(order.email)}.</p>
      <ul class="lines">${lines
        .map((l) => `<li class="line">${art(l.product)}<div>${esc(l.product.name)}
          <div class="meta">${l.variant ? `${esc(l.variant)} · ` : ""}× ${l.quantity}</div></div>
          <strong>${money(l.product.price * l.quantity)}</strong></li>`)
        .join("")}</ul>
      ${totals(order.subtotal)}
      <a class="button" href="/" id="continue-shopping">Continue shopping</a></section>`;
  },

  /** `/signin?next=…`: signs in against Cognito, then offers the way back to where the visitor was. */
  signin(shop) {
    const next = safeNext(new URLSearchParams(location.search).get("next"));
    const signedIn = (auth) =>
      ($("#main").innerHTML = `<section class="panel auth"><h1>Welcome back</h1>
        <p>You are signed in as <strong>${esc(auth.email)}</strong>.</p>
        <p><a class="button" id="continue" href="${esc(next)}">${next == "/" ? "Continue shopping" : "Continue where you were"}</a></p></section>`);
    const auth = currentAuth();
    if (auth) return signedIn(auth);
    $("#main").innerHTML = `<section class="panel auth"><h1>Sign in</h1>
      <form class="stack" id="signin">
        <label>Email<input type="email" name="email" id="signin-email" required autocomplete="username"></label>
        <label>Password<input type="password" name="password" id="signin-password" required autocomplete="current-password"></label>
        <button class="button" type="submit" id="signin-submit">Sign in</button>
        <div class="notice error" id="signin-error" role="alert" hidden></div>
      </form>
      <p class="hint">Demo account: <code>demo@example.com</code> / <code>Demo-password-1</code></p></section>`;
    $("#signin").addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = $("#signin-submit");
      button.disabled = true;
      try {
        const form = new FormData(e.target);
        const auth = await cognitoSignIn(form.get("email"), form.get("password"));
        // what happened before signing in goes out anonymous; from here on with the token,
        // so the server attributes exactly the signed-in part of the visit to the user
        await cs.flush();
        cs.identify(auth.accessToken);
        cs.track("login", { method: "password" });
        renderHeader(shop);
        signedIn(auth);
      } catch (err) {
        const error = $("#signin-error");
        error.textContent = err.message;
        error.hidden = false;
        button.disabled = false;
      }
    });
  },

  notfound: () => notFound(),
};

function totals(sub) {
  const shipping = shippingFor(sub);
  return `<div class="totals"><span>Subtotal</span><span>${money(sub)}</span>
    <span>Delivery</span><span>${shipping ? money(shipping) : "Free"}</span>
    <span class="total">Total</span><span class="total" id="order-total">${money(sub + shipping)}</span></div>`;
}

function emptyCart() {
  $("#main").innerHTML = `<section class="empty">${CART_ICON}<h1>Your cart is empty</h1>
    <p class="muted">Have a look around: there is something for every room.</p><p><a class="button" href="/">Browse the shop</a></p></section>`;
}

/** ORD-<UTC hour>-<8 random hex>, the generator's form (ORD-20261125T14-9F3A0C21). */
function newOrderId() {
  const hour = new Date().toISOString().slice(0, 13).replace(/-/g, "");
  const random = [...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `ORD-${hour}-${random.toUpperCase()}`;
}

/* ---------------------------------------------------------------- start */

// The token lives in memory in the SDK: hand it over on every page load.
const auth = currentAuth();
if (auth) cs.identify(auth.accessToken);

const shop = await loadCatalogue();
const page = document.body.dataset.page;
renderHeader(shop, page == "search" ? new URLSearchParams(location.search).get("q") || "" : "");
renderFooter(shop);
(pages[page] || pages.notfound)(shop);
consentBanner();
document.body.classList.add("ready");
