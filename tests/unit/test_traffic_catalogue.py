"""The demo shop's catalogue and search: the same data for the generator and the web shop."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from clickstream.demo.catalogue import CATALOGUE, CATEGORIES, catalogue_document, main, write_catalogue
from clickstream.demo.traffic import SEARCH_TERMS, search_results


def test_sixty_products_in_eight_categories_with_brands_variants_and_prices() -> None:
    assert len(CATALOGUE) == 60 and len(CATEGORIES) == 8
    assert len({p.item_id for p in CATALOGUE}) == 60 and len({p.name for p in CATALOGUE}) == 60
    per_category = collections.Counter(p.category for p in CATALOGUE)
    assert set(per_category) == set(CATEGORIES) and min(per_category.values()) >= 7
    assert len({p.brand for p in CATALOGUE}) >= 15
    assert sum(1 for p in CATALOGUE if p.variants) >= 30
    for product in CATALOGUE:
        assert 0 < product.price < 1000 and round(product.price, 2) == product.price
        assert product.path == f"/p/{product.item_id.lower()}" and product.popularity > 0
    # a long tail: the five most popular products draw more views than the thirty least
    popularity = sorted((p.popularity for p in CATALOGUE), reverse=True)
    assert sum(popularity[:5]) > sum(popularity[-30:])


def test_the_web_shop_file_is_the_catalogue_and_writing_it_twice_changes_nothing(tmp_path: Path) -> None:
    # GIVEN the catalogue written for the web shop, twice
    target = write_catalogue(tmp_path / "web" / "shop" / "catalogue.json")
    first = target.read_bytes()
    assert main([str(target)]) == 0
    # THEN the file is stable and holds every product with the fields the shop renders
    assert target.read_bytes() == first
    document = json.loads(first)
    assert document == catalogue_document() and document["currency"] == "EUR"
    assert [p["item_id"] for p in document["products"]] == [p.item_id for p in CATALOGUE]
    assert {c["slug"] for c in document["categories"]} == {p["category"] for p in document["products"]}


def test_search_terms_mostly_find_products_and_some_find_nothing() -> None:
    found = [term for term, _ in SEARCH_TERMS if search_results(term)]
    empty = [term for term, _ in SEARCH_TERMS if not search_results(term)]
    assert len(found) >= 30 and len(empty) >= 5
    assert [p.name for p in search_results("kettle")] == ["Stainless Steel Kettle 1.7 L"]
    assert {p.name for p in search_results("Wine Glasses")} == {"Wine Glasses Set of 2"}
    assert search_results("sofa") == [] and search_results("") == []
    assert all(len(search_results(term)) <= 12 for term, _ in SEARCH_TERMS)
