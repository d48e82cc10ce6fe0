"""What the demo shop shows and sends, computed from `web/shop/catalogue.json` the way its script does.

The tests derive every expectation from here rather than from a hard-coded product, so
they hold for whatever catalogue the generator writes. The rules mirror
`web/shop/assets/shop.js` (`normalize`, `search`, `popular`, `item`); the search rule is
the generator's (`clickstream.demo.catalogue.search_words`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tests.e2e.conftest import SHOP_ROOT

CURRENCY = "EUR"
FREE_SHIPPING_FROM, SHIPPING, VAT_RATE = 50, 4.95, 0.19
SEARCH_LIMIT = 12


@dataclass(frozen=True)
class Category:
    slug: str
    name: str
    path: str


@dataclass(frozen=True)
class Product:
    item_id: str
    name: str
    brand: str
    price: float
    variants: tuple[str, ...]
    category: Category
    path: str
    popularity: float
    words: frozenset[str]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _stem(word: str) -> str:
    word = word.strip(".,'\"()")
    if word.endswith("es") and word[:-2].endswith(("ss", "sh", "ch", "x")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def search_words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in text.lower().replace("&", " ").replace("-", " ").split() if _stem(w))


def _load() -> tuple[str, list[Category], list[Product]]:
    doc: Any = json.loads((SHOP_ROOT / "catalogue.json").read_text())
    rows = doc if isinstance(doc, list) else doc["products"]
    categories: dict[str, Category] = {}
    if isinstance(doc, dict):
        categories = {c["slug"]: Category(c["slug"], c["name"], c.get("path") or f"/c/{c['slug']}")
                      for c in doc.get("categories", [])}
    products = []
    for row in rows:
        name = row.get("category_name") or row["item_category"]
        slug = row["category"] if isinstance(doc, dict) and "categories" in doc else slugify(name)
        category = categories.setdefault(slug, Category(slug, name, f"/c/{slug}"))
        variants = row.get("variants")
        if variants is None:
            variants = [row["item_variant"]] if row.get("item_variant") else []
        product_name, brand = row.get("name") or row["item_name"], row.get("brand") or row["item_brand"]
        products.append(Product(
            item_id=row["item_id"], name=product_name, brand=brand, price=row["price"],
            variants=tuple(variants), category=category, path=row.get("path") or f"/p/{row['item_id'].lower()}",
            popularity=row.get("popularity") or 0, words=search_words(f"{product_name} {brand} {category.name}"),
        ))
    shop = doc.get("shop") if isinstance(doc, dict) else None
    return shop or "Demo Shop", list(categories.values()), products


SHOP_NAME, CATEGORIES, PRODUCTS = _load()


def popular(products: list[Product]) -> list[Product]:
    return sorted(products, key=lambda p: -p.popularity)  # stable: ties keep the catalogue's order


def search(query: str) -> list[Product]:
    words = search_words(query)
    return popular([p for p in PRODUCTS if words and words <= p.words])[:SEARCH_LIMIT] if words else []


def in_category(category: Category) -> list[Product]:
    return popular([p for p in PRODUCTS if p.category == category])


def a_search_term() -> str:
    """A word of a product name that finds two to six products, the second of them with options if any does."""
    words = sorted({w for p in PRODUCTS for w in re.findall(r"[a-z]{4,}", p.name.lower())})
    usable = [w for w in words if 2 <= len(search(w)) <= 6]
    return next((w for w in usable if len(search(w)[1].variants) > 1), usable[0])


def item(product: Product, variant: str | None = None, **extra: Any) -> dict[str, Any]:
    """The GA4 item the shop sends for a product."""
    out: dict[str, Any] = {"item_id": product.item_id, "item_name": product.name,
                           "item_category": product.category.name, "item_brand": product.brand}
    if variant:
        out["item_variant"] = variant
    return {**out, "price": product.price, **extra}


def money(amount: float) -> float:
    return round(amount + 1e-9, 2)


def shipping_for(value: float) -> float:
    return 0 if value >= FREE_SHIPPING_FROM else SHIPPING


def tax_in(value: float) -> float:
    return money(value * VAT_RATE / (1 + VAT_RATE))
