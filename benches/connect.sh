#!/bin/sh
# PriceQuote throughput of one `quotecast serve` over each protocol a
# client may use, measured by the same client (h2load, Debian's
# nghttp2-client) so that only the server's path differs:
#
#   grpc          HTTP/2, application/grpc (what tonic's generated clients send)
#   connect-proto HTTP/2 and HTTP/1.1, application/proto (unary Connect)
#   connect-json  HTTP/2 and HTTP/1.1, application/json (a browser's fetch)
#
# Usage: benches/connect.sh [BINARY] [LINES] [REQUESTS]
#   BINARY    the quotecast binary (default target/dist/quotecast; build it
#             with `cargo build --profile dist -p quotecast`)
#   LINES     lines per quote (default 10)
#   REQUESTS  requests per cell (default 40000)
# Needs h2load and a Python with grpcio-tools (examples/clients/python/
# requirements.txt) to encode the protobuf request. Concurrency: 16
# requests in flight, over one HTTP/2 connection (gRPC's and Connect's
# clients multiplex) or 16 HTTP/1.1 connections (a browser's pool).
set -eu
bin=${1:-target/dist/quotecast}
lines=${2:-10}
requests=${3:-40000}
python=${QUOTECAST_PYTHON:-python3}
command -v h2load >/dev/null || { echo "h2load is missing: apt-get install nghttp2-client" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/quotecast-connect.XXXXXX")
port=$((20000 + $$ % 20000))
"$bin" serve --addr "127.0.0.1:$port" --data "$work/data" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT INT TERM
url="http://127.0.0.1:$port/quotecast.v1.QuoteService/PriceQuote"
for _ in $(seq 100); do
    curl -sf -o /dev/null -X POST -H 'content-type: application/json' -d '{}' \
        "http://127.0.0.1:$port/grpc.health.v1.Health/Check" && break
    sleep 0.1
done

# The request: LINES lines over the catalog's products that price alone
# (no configuration needed, a USD price), as JSON and as protobuf (bare
# and in a gRPC frame).
curl -sf -X POST -H 'content-type: application/json' -d '{"pageSize": 500}' \
    "http://127.0.0.1:$port/quotecast.v1.CatalogService/ListProducts" >"$work/products.json"
printf '%s' "$url" >"$work/url"
"$python" -m grpc_tools.protoc -I proto --python_out="$work" proto/quotecast/v1/*.proto
"$python" - "$work" "$lines" <<'EOF'
import json, struct, sys
work, lines = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, work)
from google.protobuf import json_format
from quotecast.v1 import quote_pb2
import urllib.request
url = open(f"{work}/url").read()
def prices_alone(sku):
    body = json.dumps({"currencyCode": "USD", "priceDate": "2026-05-12",
                       "lines": [{"sku": sku, "quantity": "1"}]}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    try:
        return urllib.request.urlopen(request).status == 200
    except urllib.error.HTTPError:
        return False  # a product that needs a configuration, or no USD price
products = json.load(open(f"{work}/products.json"))["products"]
skus = [p["sku"] for p in products if prices_alone(p["sku"])]
quote = {
    "currencyCode": "USD", "priceDate": "2026-05-12", "accountId": "acme",
    "lines": [{"lineId": f"L{i}", "sku": skus[i % len(skus)], "quantity": str(1 + (i * 7) % 40)}
              for i in range(lines)],
}
open(f"{work}/quote.json", "w").write(json.dumps(quote))
message = json_format.Parse(json.dumps(quote), quote_pb2.PriceQuoteRequest()).SerializeToString()
open(f"{work}/quote.bin", "wb").write(message)
open(f"{work}/quote.grpc", "wb").write(struct.pack(">BI", 0, len(message)) + message)
EOF
curl -sf -X POST -H 'content-type: application/json' --data-binary "@$work/quote.json" "$url" \
    | "$python" -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print("quote:", sys.argv[1], "lines, net", t["net"])' "$lines"

cell() { # name, h2load options...
    name=$1
    shift
    h2load -n "$requests" "$@" "$url" >"$work/h2load.txt" 2>&1 || { cat "$work/h2load.txt" >&2; exit 1; }
    rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$work/h2load.txt")
    ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$work/h2load.txt")
    mean=$(sed -n 's/^time for request: *[^ ]* *[^ ]* *\([^ ]*\).*/\1/p' "$work/h2load.txt")
    printf '%-24s %10s req/s  %8s 2xx  mean %s\n' "$name" "$rps" "$ok" "$mean"
}
echo "protocol                      throughput   answered  latency ($requests requests each, 16 in flight)"
cell "grpc (h2)" -c 1 -m 16 -d "$work/quote.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers'
cell "connect-proto (h2)" -c 1 -m 16 -d "$work/quote.bin" -H 'content-type: application/proto'
cell "connect-json (h2)" -c 1 -m 16 -d "$work/quote.json" -H 'content-type: application/json'
cell "connect-proto (h1.1)" --h1 -c 16 -d "$work/quote.bin" -H 'content-type: application/proto'
cell "connect-json (h1.1)" --h1 -c 16 -d "$work/quote.json" -H 'content-type: application/json'
cell "connect-json gzip (h1.1)" --h1 -c 16 -d "$work/quote.json" \
    -H 'content-type: application/json' -H 'accept-encoding: gzip'
