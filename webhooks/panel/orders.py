"""Order pages."""

from __future__ import annotations

from aiohttp import web

from core.cards import client_overview
from core.orders import get_order
from core.staff import Permission
from webhooks.app import DATABASE
from webhooks.panel.pages import render
from webhooks.panel.sessions import require

routes = web.RouteTableDef()


@routes.get(r"/orders/{order_id:\d+}")
async def order_page(request: web.Request) -> web.Response:
    require(request, Permission.ORDERS_VIEW)
    db = request.config_dict[DATABASE]
    order = await get_order(db, order_id=int(request.match_info["order_id"]))
    client = await client_overview(db, client_id=order.client_id, last_orders=0)
    address = next((a.text for a in client.addresses if a.id == order.address_id), "")
    return render(request, "order.html", order=order, client=client, address=address)
