"""The demo shop's catalogue: 60 products in 8 categories, with brands, variants and EUR prices.

One list serves both sides of the demo: the traffic generator draws page views, carts and
orders from it, and the static shop in `web/shop/` renders it from `catalogue.json`, which
`write_catalogue` (or `python -m clickstream.demo.catalogue [path]`) writes. Brands are made
up. Popularity is a fixed long tail (a few products get most views, as in real shops); it is
part of the catalogue so the generator and any test that checks "top products" agree.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "CURRENCY",
    "SHOP_NAME",
    "Category",
    "Product",
    "catalogue_document",
    "main",
    "search_words",
    "write_catalogue",
]

CURRENCY = "EUR"
SHOP_NAME = "Demo Shop"
DEFAULT_PATH = Path("web/shop/catalogue.json")


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str

    @property
    def path(self) -> str:
        return f"/c/{self.slug}"


@dataclass(frozen=True, slots=True)
class Product:
    """One product. `variants` are colours or sizes (GA4's item_variant); empty when there are none."""

    item_id: str
    name: str
    category: Category
    brand: str
    price: float
    variants: tuple[str, ...]
    popularity: float

    @property
    def path(self) -> str:
        return f"/p/{self.item_id.lower()}"

    @property
    def search_text(self) -> frozenset[str]:
        """Words a site search matches against: name, brand and category."""
        return search_words(f"{self.name} {self.brand} {self.category.name}")


def search_words(text: str) -> frozenset[str]:
    """The words of a text as the demo shop's search compares them: lower case, singular-ish."""
    return frozenset(_stem(word) for word in text.lower().replace("&", " ").replace("-", " ").split())


def _stem(word: str) -> str:
    # Good enough for a demo search box: "mugs" finds "mug", "glasses" finds "glass".
    word = word.strip(".,'\"()")
    if word.endswith("es") and word[:-2].endswith(("ss", "sh", "ch", "x")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


# slug, name, then (name, brand, price, variants) per product.
_DATA: tuple[tuple[str, str, tuple[tuple[str, str, float, tuple[str, ...]], ...]], ...] = (
    ("kitchen", "Kitchen", (
        ("Stainless Steel Kettle 1.7 L", "Brewmaster", 39.90, ("silver", "black", "cream")),
        ("Chef's Knife 20 cm", "Edgeworks", 59.00, ()),
        ("Cast Iron Skillet 26 cm", "Ironfield", 49.50, ()),
        ("Oak Cutting Board", "Oakline", 24.90, ("small", "large")),
        ("Digital Kitchen Scale", "Measura", 19.99, ("white", "black")),
        ("Silicone Spatula Set", "Kitchenly", 14.50, ()),
        ("Stand Mixer 1000 W", "Brewmaster", 279.00, ("red", "white", "grey")),
        ("Glass Storage Jars Set of 3", "Clearkeep", 22.00, ()),
    )),
    ("coffee-tea", "Coffee & Tea", (
        ("Pour-Over Coffee Dripper", "Brewmaster", 18.50, ("white", "black")),
        ("Burr Coffee Grinder", "Brewmaster", 89.00, ()),
        ("French Press 1 L", "Brewmaster", 29.90, ("chrome", "copper")),
        ("Espresso Machine Classic", "Cremona", 349.00, ("steel", "black")),
        ("Loose Leaf Green Tea 100 g", "Teahouse Hara", 9.90, ()),
        ("Earl Grey Tea 100 g", "Teahouse Hara", 8.50, ()),
        ("Ceramic Teapot 0.8 L", "Claycraft", 34.00, ("blue", "white", "green")),
        ("Milk Frother", "Cremona", 39.00, ()),
    )),
    ("tableware", "Tableware", (
        ("Stoneware Mug", "Claycraft", 12.50, ("blue", "white", "green", "sand")),
        ("Dinner Plates Set of 4", "Claycraft", 44.00, ("white", "grey")),
        ("Wine Glasses Set of 2", "Clearkeep", 24.00, ()),
        ("Cutlery Set 24 Pieces", "Edgeworks", 69.00, ("steel", "gold", "black")),
        ("Olive Wood Salad Bowl", "Oakline", 32.00, ()),
        ("Linen Napkins Set of 4", "Linnea", 19.90, ("natural", "white", "sage")),
        ("Espresso Cups Set of 2", "Claycraft", 16.00, ("white", "black")),
    )),
    ("textiles", "Home Textiles", (
        ("Linen Duvet Cover", "Linnea", 119.00, ("140x200", "155x220", "200x200")),
        ("Wool Throw Blanket", "Nordwol", 79.00, ("grey", "mustard", "navy")),
        ("Cushion Cover 50x50", "Linnea", 24.90, ("sage", "rust", "natural")),
        ("Blackout Curtains", "Linnea", 59.00, ("grey", "navy", "beige")),
        ("Percale Sheet Set", "Linnea", 89.00, ("single", "double", "king")),
        ("Down Pillow", "Nordwol", 49.00, ("40x80", "80x80")),
        ("Jute Rug 160x230", "Oakline", 149.00, ()),
        ("Knitted Pouf", "Nordwol", 69.00, ("grey", "cream")),
    )),
    ("lighting", "Lighting", (
        ("LED Desk Lamp", "Lumio", 45.00, ("black", "white")),
        ("Paper Pendant Lamp", "Lumio", 39.00, ("40 cm", "60 cm")),
        ("Smart LED Bulb E27", "Lumio", 14.99, ()),
        ("Arc Floor Lamp", "Lumio", 159.00, ("brass", "black")),
        ("Rechargeable Table Lamp", "Lumio", 59.00, ("white", "sand", "green")),
        ("String Lights 10 m", "Glowhaus", 19.90, ()),
        ("Candle Lantern", "Glowhaus", 27.50, ("black", "white")),
    )),
    ("bath", "Bath", (
        ("Cotton Bath Towel", "Linnea", 19.90, ("white", "grey", "sage", "navy")),
        ("Bath Mat", "Linnea", 24.00, ("white", "grey")),
        ("Bamboo Bath Caddy", "Oakline", 29.00, ()),
        ("Ceramic Soap Dispenser", "Claycraft", 16.50, ("white", "black")),
        ("Waffle Bathrobe", "Linnea", 59.00, ("S", "M", "L", "XL")),
        ("Shower Caddy", "Steelnest", 22.00, ()),
        ("Cedar Scented Candle", "Glowhaus", 18.00, ()),
    )),
    ("garden", "Garden", (
        ("Terracotta Planter 30 cm", "Greenroot", 24.00, ()),
        ("Watering Can 5 L", "Greenroot", 29.00, ("green", "zinc")),
        ("Garden Hose 20 m", "Greenroot", 34.90, ()),
        ("Pruning Shears", "Edgeworks", 27.00, ()),
        ("Folding Garden Chair", "Oakline", 69.00, ("teak", "grey")),
        ("Herb Seeds Kit", "Greenroot", 12.90, ()),
        ("Solar Garden Lights Set of 6", "Glowhaus", 32.00, ()),
    )),
    ("office", "Office", (
        ("Dotted Notebook A5", "Paperlane", 12.00, ("black", "green", "terracotta")),
        ("Fountain Pen", "Paperlane", 34.00, ("black", "blue")),
        ("Desk Organiser", "Oakline", 29.90, ()),
        ("Ergonomic Office Chair", "Sitwell", 289.00, ("black", "grey")),
        ("Monitor Stand", "Oakline", 49.00, ("oak", "walnut")),
        ("Wireless Mouse", "Clickwise", 29.99, ("black", "white")),
        ("Mechanical Keyboard", "Clickwise", 99.00, ("tenkeyless", "full size")),
        ("Wall Calendar", "Paperlane", 19.00, ()),
    )),
)


def _build() -> tuple[tuple[Category, ...], tuple[Product, ...]]:
    categories: list[Category] = []
    rows: list[tuple[str, str, Category, str, float, tuple[str, ...]]] = []
    for number, (slug, name, products) in enumerate(_DATA, start=1):
        category = Category(slug, name)
        categories.append(category)
        for position, (product_name, brand, price, variants) in enumerate(products, start=1):
            rows.append((f"SKU-{number}{position:03d}", product_name, category, brand, price, variants))
    # A fixed long tail: popularity 1/rank^0.9 over a fixed shuffle (its own seed, so the
    # catalogue never depends on a traffic seed).
    ranks = list(range(1, len(rows) + 1))
    random.Random(20261125).shuffle(ranks)
    products = tuple(
        Product(item_id, name, category, brand, price, variants, round(1.0 / rank**0.9, 4))
        for (item_id, name, category, brand, price, variants), rank in zip(rows, ranks, strict=True)
    )
    return tuple(categories), products


CATEGORIES, CATALOGUE = _build()


def catalogue_document(products: Sequence[Product] = CATALOGUE) -> dict[str, Any]:
    """The catalogue as the web shop reads it (plain JSON)."""
    categories = list(dict.fromkeys(p.category for p in products))
    return {
        "shop": SHOP_NAME,
        "currency": CURRENCY,
        "categories": [{"slug": c.slug, "name": c.name, "path": c.path} for c in categories],
        "products": [
            {
                "item_id": p.item_id,
                "name": p.name,
                "category": p.category.slug,
                "category_name": p.category.name,
                "brand": p.brand,
                "price": p.price,
                "variants": list(p.variants),
                "path": p.path,
                "popularity": p.popularity,
            }
            for p in products
        ],
    }


def write_catalogue(path: Path | str = DEFAULT_PATH) -> Path:
    """Write `catalogue.json` for the web shop (stable formatting, so a re-run changes nothing)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(catalogue_document(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m clickstream.demo.catalogue [path]`: write the catalogue (default web/shop/catalogue.json)."""
    args = list(sys.argv[1:] if argv is None else argv)
    target = write_catalogue(args[0] if args else DEFAULT_PATH)
    print(f"wrote {len(CATALOGUE)} products in {len(CATEGORIES)} categories to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
