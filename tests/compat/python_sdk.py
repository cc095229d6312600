"""UQPay's official Python SDK (PyPI `uqpay`, pinned in .ci/run) against the
simulator: proof that what passes against uqpay-mock is what UQPay's own
client sends and understands.

    python tests/compat/python_sdk.py BASE_URL CLIENT_ID API_KEY

The simulator is expected to run with random faults (503 and "request is
processing"), which the SDK must retry through. Exits non-zero on the first
broken expectation.
"""

import sys
import uuid

from uqpay import UQPayClient
from uqpay.error import IdempotencyError, ValidationError

base_url, client_id, api_key = sys.argv[1:4]

client = UQPayClient(client_id, api_key, environment="sandbox", max_retries=8)
# The SDK only knows UQPay's hosts; point it (token endpoint included) at the
# simulator.
client._http._base_url = base_url
client._token_manager._base_url = base_url
cards = client.issuing.cards


def expect(condition, what):
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


account = str(uuid.uuid4())
options = {"on_behalf_of": account}
number = "4096360800" + str(uuid.uuid4().int % 10**6).zfill(6)

# Assign, update (exact decimals as the SDK sends them), freeze, unfreeze,
# cancel: every call through the SDK's Bearer token, idempotency keys and
# retries.
assigned = cards.assign(
    {
        "cardholder_id": str(uuid.uuid4()),
        "card_number": number,
        "card_currency": "USD",
        "card_mode": "SHARE",
    },
    options,
)
card_id = assigned["card_id"]
expect(assigned["card_status"] == "ACTIVE", f"assigned: {assigned}")
expect(assigned["order_status"] == "PENDING", f"assigned: {assigned}")

updated = cards.update(
    card_id,
    {
        "card_limit": 2100.02,
        "name_on_card": "MARSHALL HU",
        "spending_controls": [{"amount": 100.03, "interval": "PER_TRANSACTION"}],
        "risk_controls": {"enable_3ds": "Y", "blocked_mcc": ["5999", "6011"]},
        "metadata": {"key1": "value1"},
    },
    options,
)
expect(updated["card_id"] == card_id, f"updated: {updated}")

for status in ["FROZEN", "ACTIVE", "CANCELLED"]:
    changed = cards.update_status(
        card_id, {"card_status": status, "update_reason": "python sdk"}, options
    )
    expect(changed["update_reason"] == "python sdk", f"status: {changed}")

# The documented errors land in the SDK's classes: an unknown card is a 400
# card_error (a ValidationError there, not a NotFoundError), a cancelled card
# refuses further changes.
try:
    cards.update_status(str(uuid.uuid4()), {"card_status": "FROZEN"}, options)
    expect(False, "an unknown card was updated")
except ValidationError as error:
    expect(error.http_status == 400, f"unknown card: {error.http_status}")
    expect(error.code == "card_not_found", f"unknown card: {error.code}")

try:
    cards.update_status(card_id, {"card_status": "ACTIVE"}, options)
    expect(False, "a cancelled card was reactivated")
except ValidationError as error:
    expect(error.type == "card_error", f"reactivation: {error.type}")

# The same idempotency key with another body is an IdempotencyError.
key = str(uuid.uuid4())
other = dict(options, idempotency_key=key)
second = "4096360800" + str(uuid.uuid4().int % 10**6).zfill(6)
body = {
    "cardholder_id": str(uuid.uuid4()),
    "card_number": second,
    "card_currency": "USD",
    "card_mode": "SINGLE",
}
first = cards.assign(body, other)
replayed = cards.assign(body, other)
expect(first == replayed, "a replay with the same key answers the same")
try:
    cards.assign(dict(body, card_currency="SGD"), other)
    expect(False, "a reused key with another body was accepted")
except IdempotencyError as error:
    expect(error.http_status == 400, f"reused key: {error.http_status}")

print("UQPay's Python SDK works against the simulator")
