"""A merchant acting in a mode is a copy: the instance it came from, and its cached relations,
are left as they were."""

from __future__ import annotations

import pytest

from vault.merchants import api_key_create, merchant_create
from vault.models import ApiKey, Merchant

pytestmark = pytest.mark.django_db


def test_acting_in_a_mode_leaves_the_merchant_as_it_was() -> None:
    merchant = merchant_create(name="Modes")
    key = api_key_create(merchant=merchant.in_mode(True)).api_key
    loaded = ApiKey.objects.select_related("merchant").get(pk=key.pk).merchant

    live, test = loaded.in_mode(True), loaded.in_mode(False)

    assert (live.acting_livemode(), test.acting_livemode()) == (True, False)
    assert loaded.livemode is None
    with pytest.raises(RuntimeError):
        loaded.acting_livemode()
    assert live == loaded and type(live) is Merchant and live.name == "Modes"
    assert live._state is not loaded._state and not live._state.adding
    live._state.fields_cache["probe"] = object()
    assert "probe" not in loaded._state.fields_cache
    live.name = "Renamed"
    assert loaded.name == "Modes"
    live.save(update_fields=["name"])
    assert Merchant.objects.get(pk=merchant.pk).name == "Renamed"
