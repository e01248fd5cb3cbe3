"""A Python client of quotecast with grpcio, its stubs generated from
proto/ when it starts (grpcio-tools). It prices a quote, decodes the
BadRequest of a refused one, uploads a pipeline and streams its forecast,
and runs a configuration session; it exits non-zero when an answer is not
what the API promises.

    pip install -r requirements.txt
    python client.py 127.0.0.1:50051 [API_KEY]
"""

import atexit
import importlib
import pathlib
import re
import shutil
import sys
import tempfile

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_tools import protoc

PROTO_DIR = pathlib.Path(__file__).resolve().parents[3] / "proto"
PROTOS = ["quote", "forecast", "configurator"]


def generate_stubs():
    """Compiles the API's proto files into a temporary package."""
    out = pathlib.Path(tempfile.mkdtemp(prefix="quotecast-stubs-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    files = sorted(str(p) for p in (PROTO_DIR / "quotecast" / "v1").glob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    code = protoc.main(
        ["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}"]
        + files
    )
    if code != 0:
        sys.exit(f"protoc failed on {PROTO_DIR}")
    sys.path.insert(0, str(out))
    return {
        name: (
            importlib.import_module(f"quotecast.v1.{name}_pb2"),
            importlib.import_module(f"quotecast.v1.{name}_pb2_grpc"),
        )
        for name in PROTOS
    }


def expect(ok, what):
    if not ok:
        sys.exit(f"FAILED: {what}")


def main():
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    metadata = [("x-api-key", sys.argv[2])] if len(sys.argv) > 2 else []
    stubs = generate_stubs()
    quote_pb, quote_grpc = stubs["quote"]
    forecast_pb, forecast_grpc = stubs["forecast"]
    config_pb, config_grpc = stubs["configurator"]
    channel = grpc.insecure_channel(address)

    # 1. Price a quote.
    quotes = quote_grpc.QuoteServiceStub(channel)

    def quote(sku):
        return quote_pb.PriceQuoteRequest(
            currency_code="USD",
            price_date="2026-03-01",
            account_id="acme",
            lines=[
                quote_pb.QuoteLineInput(sku=sku, quantity="2"),
                quote_pb.QuoteLineInput(
                    sku="SVC-WTY-3Y-LT", quantity="2", discount=quote_pb.ManualDiscount(percent="10")
                ),
            ],
        )

    priced = quotes.PriceQuote(quote("LT-14-PRO"), metadata=metadata)
    print(f"priced: net {priced.totals.net} {priced.currency_code} (rules {priced.rules_version})")
    expect(re.fullmatch(r"\d+\.\d{2}", priced.totals.net), "the net is a decimal string with cents")

    # 2. A refusal: INVALID_ARGUMENT with a BadRequest naming the field.
    try:
        quotes.PriceQuote(quote("NOPE"), metadata=metadata)
        expect(False, "an unknown SKU is refused")
    except grpc.RpcError as error:
        expect(error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"INVALID_ARGUMENT, not {error.code()}")
        status = rpc_status.from_call(error)
        violations = []
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [f"{v.field}: {v.description}" for v in bad.field_violations]
        print(f"refused: {'; '.join(violations)}")
        expect(any(v.startswith("lines[0].sku") for v in violations), "the violation names lines[0].sku")

    # 3. Upload a pipeline (a client stream) and stream its forecast.
    forecasts = forecast_grpc.ForecastServiceStub(channel)
    csv = "opportunity_id,owner,team,region,stage,created,expected_close,currency,sku,product_line,quantity,amount\n"
    for i in range(30):
        stage = ["qualify", "propose", "negotiate"][i % 3]
        csv += f"O-{i},ann,na-east,na,{stage},2026-03-01,2026-0{6 + i % 3}-15,USD,SRV-1U,servers,2,8000.00\n"
    header = forecast_pb.UploadHeader(
        pipeline="python-demo", file=forecast_pb.PIPELINE_FILE_SNAPSHOT, format=forecast_pb.FILE_FORMAT_CSV
    )
    parts = [forecast_pb.UploadPipelineRequest(header=header), forecast_pb.UploadPipelineRequest(chunk=csv.encode())]
    stored = forecasts.UploadPipeline(iter(parts), metadata=metadata)
    print(f"uploaded: {stored.rows} rows of {stored.pipeline}")
    expect(stored.rows == 30, "30 rows stored")
    request = forecast_pb.ForecastRequest(
        pipeline="python-demo", as_of="2026-05-12", bucket=forecast_pb.BUCKET_QUARTER, trials=1000
    )
    tables, current, summary = {}, None, None
    for message in forecasts.Forecast(request, metadata=metadata):
        part = message.WhichOneof("part")
        if part == "summary":
            summary = message.summary
        elif part == "table":
            current = message.table.name
            tables[current] = []
        elif part == "rows":
            tables[current] += [list(row.values) for row in message.rows.rows]
    print(f"forecast: {summary.open_opportunities} open opportunities; tables {', '.join(tables)}")
    expect(summary.open_opportunities == 30, "30 open opportunities")
    expect(len(tables.get("uncertainty_by_bucket", [])) >= 2, "P10-P90 per quarter")

    # 4. A configuration session: each click answered in order.
    configurator = config_grpc.ConfiguratorServiceStub(channel)
    clicks = [
        config_pb.ConfigureSessionRequest(product_sku="SRV-2U"),
        config_pb.ConfigureSessionRequest(
            product_sku="SRV-2U", choices=[config_pb.OptionChoice(sku="SRV-CPU-16C", quantity=1)]
        ),
    ]
    states = list(configurator.ConfigureSession(iter(clicks), metadata=metadata))
    added = [o.sku for o in states[-1].options if o.status == config_pb.OPTION_STATUS_ADDED]
    print(f"session: complete {states[0].complete} then {states[-1].complete}; added {', '.join(added)}")
    expect(len(states) == 2 and not states[0].complete and states[1].complete, "the CPU completes the server")
    print("ok")


if __name__ == "__main__":
    main()
