"""POST /api/v1/quote: prices from the seeded price list; invalid briefs get 422 naming the field."""

from __future__ import annotations


async def test_quote_returns_three_packages_priced_from_the_database(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/quote", json={"product": "ai_manager", "users": 40, "integrations": 3,
                                                        "hosting": "cloud", "sla": "standard", "deadline": "standard"})
    assert response.status == 200
    body = await response.json()
    assert body["coefficients"] == {"users": 1.5, "integrations": 1.3, "hosting": 1.0, "sla": 1.0, "deadline": 1.0}
    codes = [p["code"] for p in body["packages"]]
    assert codes == ["start", "optimum", "enterprise"]
    prices = [p["price"] for p in body["packages"]]
    assert prices == sorted(prices) and all(isinstance(p, int) and p % 1000 == 0 for p in prices)
    assert all(p["currency"] == "RUB" and p["includes"] for p in body["packages"])


async def test_more_users_cost_more(client) -> None:  # type: ignore[no-untyped-def]
    async def start_price(users: int) -> int:
        response = await client.post("/api/v1/quote", json={"product": "ai_analyst", "users": users})
        return int((await response.json())["packages"][0]["price"])

    assert await start_price(10) < await start_price(11) < await start_price(51) < await start_price(201)


async def test_invalid_briefs_name_the_field(client) -> None:  # type: ignore[no-untyped-def]
    cases = [({"product": "ai_lawyer", "users": 0}, "users"), ({"product": "ai_lawyer", "users": -3}, "users"),
             ({"product": "ai_lawyer", "users": 2.5}, "users"), ({"product": "ai_lawyer", "users": 1_000_001}, "users"),
             ({"product": "ai_lawyer", "users": 5, "integrations": -1}, "integrations"),
             ({"product": "ai_lawyer", "users": 5, "hosting": "moon"}, "hosting"),
             ({"product": "ai_lawyer", "users": 5, "sla": "100"}, "sla"),
             ({"product": "ai_lawyer", "users": 5, "deadline": "yesterday"}, "deadline"),
             ({"product": "robot", "users": 5}, "product")]
    for payload, field in cases:
        response = await client.post("/api/v1/quote", json=payload)
        assert response.status == 422, payload
        body = await response.json()
        assert body["error"]["field"] == field and body["error"]["message"], payload
