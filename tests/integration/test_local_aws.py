"""The local moto server's request path: the one patch we make to it, and that it still routes."""

from __future__ import annotations

import inspect
import os

import pytest

from clickstream.local.aws import LocalAws, LocalResources, cache_moto_module_list


def _directory_listing() -> tuple[str, ...]:
    import moto

    root = os.path.dirname(moto.__file__)
    return tuple(sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)) and not n.startswith("__")))


def test_the_seam_is_still_where_moto_looks_up_a_host() -> None:
    from moto.moto_server import werkzeug_app

    source = inspect.getsource(werkzeug_app.DomainDispatcherApplication.get_backend_for_host)
    assert "backends.list_of_moto_modules()" in source, "moto changed its host lookup: revisit cache_moto_module_list"


def test_the_cached_module_list_is_moto_s_own_listing(local_aws: tuple[LocalAws, LocalResources]) -> None:
    from moto import backends

    cache_moto_module_list()  # idempotent: a second call keeps the first cache
    assert tuple(backends.list_of_moto_modules()) == _directory_listing()
    assert {"s3", "stepfunctions", "sns", "cognitoidp", "awslambda"} <= set(backends.list_of_moto_modules())


def test_requests_no_longer_list_moto_s_directory(local_aws: tuple[LocalAws, LocalResources],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    aws, resources = local_aws
    s3 = aws.clients().s3()
    s3.put_object(Bucket=resources.raw_bucket, Key="seam/one.txt", Body=b"one")
    listed: list[str] = []
    real_listdir = os.listdir

    def counting_listdir(path: str = ".") -> list[str]:
        listed.append(str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", counting_listdir)
    bodies = [s3.get_object(Bucket=resources.raw_bucket, Key="seam/one.txt")["Body"].read() for _ in range(20)]
    monkeypatch.undo()
    assert bodies == [b"one"] * 20
    import moto

    assert [p for p in listed if p == os.path.dirname(moto.__file__)] == []
