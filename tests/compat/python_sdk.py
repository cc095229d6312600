"""UQPay's official Python SDK (PyPI `uqpay`, pinned in .ci/run) against the
simulator: proof that what passes against uqpay-mock is what UQPay's own
client sends and understands, and that the simulator's webhook deliveries
are what UQPay's own verifier accepts.

    python tests/compat/python_sdk.py path/to/uqpay-mock

It starts the simulator binary itself, with random faults (503 and
"request is processing") that the SDK must retry through, and delivering
its webhooks to a receiver in this script that verifies them with the SDK's
WebhookVerifier. Exits non-zero on the first broken expectation.
"""

import http.server
import subprocess
import sys
import threading
import time
import uuid

from uqpay import UQPayClient
from uqpay.error import IdempotencyError, ValidationError
from uqpay.webhooks import WebhookVerifier

simulator_binary = sys.argv[1]
client_id, api_key, secret = "compat-client", "compat-key", "whsec_compat_secret"

# A webhook receiver: keeps every delivery (headers, raw body), answers 200.
deliveries = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

simulator = subprocess.Popen(
    [simulator_binary, "--addr", "127.0.0.1:0", "--client-id", client_id,
     "--api-key", api_key, "--fault-rate", "0.3", "--faults", "503,processing",
     "--seed", "3", "--webhook-url", hook_url, "--webhook-secret", secret],
    stdout=subprocess.PIPE, text=True,
)
base_url = simulator.stdout.readline().strip()
if not base_url.startswith("http://"):
    sys.exit(f"the simulator did not start: {base_url!r}")

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

# Every order's event was delivered and UQPay's own verifier accepts it:
# assign, update, three status changes (a cancellation sends PRE_CANCEL then
# CANCELLED), and the second assignment.
expected = 7
deadline = time.monotonic() + 30
while len({d[1] for d in deliveries}) < expected and time.monotonic() < deadline:
    time.sleep(0.05)
verifier = WebhookVerifier(secret)
events = [verifier.construct_event(body, headers) for headers, body in deliveries]
expect(len({e["event_id"] for e in events}) == expected, f"events: {events}")
types = sorted(e["event_type"] for e in events)
expect(types.count("card.status.update.succeeded") == 4, f"types: {types}")
expect(types.count("card.create.succeeded") == 2, f"types: {types}")
statuses = [e["data"]["card_status"] for e in events if e["data"].get("card_id") == card_id
            and e["event_type"] == "card.status.update.succeeded"]
expect(statuses == ["FROZEN", "ACTIVE", "PRE_CANCEL", "CANCELLED"], f"statuses: {statuses}")
try:
    headers, body = deliveries[0]
    verifier.construct_event(body + b" ", headers)
    expect(False, "a tampered delivery verified")
except Exception as error:
    expect("signature" in str(error).lower(), f"tampered: {error}")

simulator.terminate()
print("UQPay's Python SDK works against the simulator, and verifies its webhooks")
