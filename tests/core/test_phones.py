import pytest
from sqlalchemy import func, select

from core.clients import add_phone, find_client, register_client
from core.errors import Conflict, InvalidInput
from core.models import Client, ClientPhone

FORMATS = ("0671234567", "+380 67 123 45 67", "380671234567", "(067) 123-45-67")


async def count(db, model):
    async with db.transaction() as tx:
        return await tx.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("registered_as", FORMATS)
async def test_every_usual_format_of_a_number_finds_the_same_client(db, registered_as):
    client = await register_client(db, phone=registered_as, region="UA", name="Olena")
    assert client.phones == ("+380671234567",)
    for typed in FORMATS:
        found = await find_client(db, phone=typed, region="UA")
        assert found is not None, typed
        assert found.id == client.id, typed


async def test_unknown_number_finds_nobody(db):
    await register_client(db, phone="0671234567", region="UA")
    assert await find_client(db, phone="0501112233", region="UA") is None


async def test_registering_again_in_another_format_returns_the_same_client(db):
    first = await register_client(db, phone="0671234567", region="UA", name="Olena")
    again = await register_client(db, phone="+380 67 123 45 67", region="UA", name="Someone")
    once_more = await register_client(db, phone="(067) 123-45-67", region="UA")
    assert again.id == first.id == once_more.id
    assert again.name == "Olena"  # a repeat caller does not rename the client
    assert await count(db, Client) == 1
    assert await count(db, ClientPhone) == 1


@pytest.mark.parametrize("typed", ["12345", "+380 00 000", "hello"])
async def test_invalid_number_is_refused_naming_the_input_as_typed(db, typed):
    with pytest.raises(InvalidInput) as refused:
        await register_client(db, phone=typed, region="UA")
    assert f"“{typed}”" in str(refused.value)
    assert f"«{typed}»" in refused.value.message("uk")
    assert refused.value.field == "phone"
    with pytest.raises(InvalidInput):
        await find_client(db, phone=typed, region="UA")
    assert await count(db, Client) == 0


async def test_a_second_phone_finds_the_client_too(db):
    client = await register_client(db, phone="0671234567", region="UA")
    card = await add_phone(db, client_id=client.id, phone="050 111 22 33", region="UA")
    assert card.phones == ("+380671234567", "+380501112233")
    found = await find_client(db, phone="+380501112233", region="UA")
    assert found is not None and found.id == client.id


async def test_adding_a_number_that_belongs_to_another_client_is_refused(db):
    olena = await register_client(db, phone="0671234567", region="UA", name="Olena")
    petro = await register_client(db, phone="0501112233", region="UA", name="Petro")
    with pytest.raises(Conflict) as refused:
        await add_phone(db, client_id=petro.id, phone="+380 67 123 45 67", region="UA")
    assert f"belongs to client {olena.id}" in str(refused.value)
    found = await find_client(db, phone="0671234567", region="UA")
    assert found is not None and found.id == olena.id
    unchanged = await find_client(db, phone="0501112233", region="UA")
    assert unchanged is not None and unchanged.phones == ("+380501112233",)
