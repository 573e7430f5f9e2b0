"""A list bound as one parameter finds the same rows as ``IN``, whatever its length, and the
statement's text does not change with the length (compiled and prepared once)."""

from __future__ import annotations

from sqlalchemy import Integer, String, event, select

from core.db import Database
from core.models import ServiceCategory
from core.one_of import one_of

BY_ID = select(ServiceCategory.code).where(one_of(ServiceCategory.id, "ids", Integer()))
BY_CODE = select(ServiceCategory.id).where(one_of(ServiceCategory.code, "codes", String()))


async def test_a_list_parameter_finds_what_in_finds(db: Database):
    async with db.transaction() as tx:
        categories = [ServiceCategory(code=f"c{n}", names={"en": f"C{n}"}) for n in range(4)]
        tx.add_all(categories)
        await tx.flush()
        ids = [category.id for category in categories]

        async def codes(wanted: list[int]) -> list[str]:
            return sorted(await tx.scalars(BY_ID, {"ids": wanted}))

        assert await codes([]) == []
        assert await codes([ids[2]]) == ["c2"]
        assert await codes([ids[0], ids[3], 10**9]) == ["c0", "c3"]
        assert await codes(tuple(ids)) == ["c0", "c1", "c2", "c3"]  # a tuple will do
        found = await tx.scalars(BY_CODE, {"codes": ["c1", "it's \"quoted\""]})
        assert list(found) == [ids[1]]


async def test_the_statement_sent_is_the_same_for_any_length(db: Database):
    sent: list[str] = []
    async with db.transaction(read_only=True) as tx:
        connection = (await tx.connection()).sync_connection
        assert connection is not None

        def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            sent.append(statement)

        event.listen(connection, "before_cursor_execute", record)
        try:
            for wanted in ([1], [1, 2, 3], list(range(50))):
                await tx.scalars(BY_ID, {"ids": wanted})
        finally:
            event.remove(connection, "before_cursor_execute", record)
    assert len(sent) == 3 and len(set(sent)) == 1
