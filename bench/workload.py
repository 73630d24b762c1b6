"""What is sent: Telegram-shaped updates with unique ids, the relay's config, and the wrk script."""

from __future__ import annotations

import os

BOT_TOKEN = "123456789:BENCH-fake-token-abcdefghijklmnop"
SECRET_TOKEN = "bench-secret-token-0123456789abcdef"
CRM_SECRET = "bench-crm-secret-0123456789abcdef"
WORKSPACE_KEY = "bench-workspace-key-0123456789abcdef-0123456789"
INSTANCE = "tg"
HOOK_PATH = f"/hooks/{INSTANCE}/"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

_FILLER = "Hello, I would like to know the status of my order and whether the delivery date can move. " * 3
TEMPLATE = (
    '{"update_id":%d,"message":{"message_id":%d,'
    '"from":{"id":987654321,"is_bot":false,"first_name":"Bench","last_name":"Customer",'
    '"username":"bench_customer","language_code":"en"},'
    '"chat":{"id":987654321,"first_name":"Bench","last_name":"Customer","username":"bench_customer",'
    '"type":"private"},"date":1700000000,"text":"' + _FILLER.strip() + '"}}'
)
DOCUMENT_TEMPLATE = (
    '{"update_id":%d,"message":{"message_id":%d,'
    '"from":{"id":987654321,"is_bot":false,"first_name":"Bench","language_code":"en"},'
    '"chat":{"id":987654321,"first_name":"Bench","type":"private"},"date":1700000000,'
    '"document":{"file_id":"BENCHFILE","file_unique_id":"benchfileuniq","file_name":"bench.bin",'
    '"mime_type":"application/octet-stream","file_size":%d}}}'
)


def update(n: int) -> bytes:
    """One text update whose update_id and message_id are both `n`."""
    return (TEMPLATE % (n, n)).encode()


BODY_BYTES = len(update(10**12))


def memfd(name: str, text: str) -> tuple[int, str]:
    """An in-memory file (never on disk) and a path other processes can open while the fd is passed."""
    fd = os.memfd_create(name, 0)
    os.write(fd, text.encode())
    return fd, f"/proc/{os.getpid()}/fd/{fd}"


def relay_toml(port: int, sink_port: int, crm_port: int, max_inflight: int, log_level: str) -> str:
    """A workspace: the Telegram connector in webhook mode against the fake Bot API, routed to the sink."""
    sink = f"http://127.0.0.1:{sink_port}"
    return f"""
[server]
host = "127.0.0.1"
port = {port}
max_inflight = {max_inflight}

[workspace]
id = "bench"
keys = [{{ id = "k1", secret = "{WORKSPACE_KEY}" }}]

[logging]
level = "{log_level}"
format = "json"

[consent]
backend = "memory"

[connectors.{INSTANCE}]
type = "telegram"
token = "{BOT_TOKEN}"
mode = "webhook"
secret_token = "{SECRET_TOKEN}"
api_base_url = "{sink}/bot"

[connectors.crm]
type = "webhook"
url = "http://127.0.0.1:{crm_port}/crm"
secret = "{CRM_SECRET}"

[[routes]]
from = ["{INSTANCE}"]
to = "crm"
"""


def wrk_lua(base: int, status_counts: bool = False) -> str:
    """A wrk script: every request a unique update (base + thread * 1e9 + counter), JSON summary at the end."""
    body = TEMPLATE.replace('"', '\\"')
    count = (
        """
local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
"""
        if status_counts
        else ""
    )
    return f"""
local next_tid = 0
local threads = {{}}
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end
local counter = 0
local headers = {{["Content-Type"] = "application/json", ["{SECRET_HEADER}"] = "{SECRET_TOKEN}"}}
local template = "{body}"
function request()
  counter = counter + 1
  local id = {base} + tid * 1000000000 + counter
  return wrk.format("POST", "{HOOK_PATH}", headers, string.format(template, id, id))
end
{count}
function done(summary, latency, requests)
  local extra = ""
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for code, n in pairs(s) do extra = extra .. string.format(',"s%d":%d', code, n) end
    end
  end
  io.write(string.format(
    'BENCHJSON {{"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f%s}}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, extra))
end
"""
