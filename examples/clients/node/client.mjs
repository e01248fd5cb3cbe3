// A Node client of quotecast with @grpc/grpc-js, the proto files loaded at
// run time by @grpc/proto-loader. It prices a quote, decodes the
// BadRequest of a refused one, uploads a pipeline and streams its
// forecast, and runs a configuration session; it exits non-zero when an
// answer is not what the API promises.
//
//   npm ci && node client.mjs 127.0.0.1:50051 [API_KEY]
import path from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const protoDir = path.resolve(here, "../../../proto");
const googleDir = path.resolve(here, "node_modules/google-proto-files");
const [address = "127.0.0.1:50051", apiKey] = process.argv.slice(2);

const definition = protoLoader.loadSync(
  ["quotecast/v1/quote.proto", "quotecast/v1/forecast.proto", "quotecast/v1/configurator.proto"],
  { includeDirs: [protoDir], longs: String, enums: String, defaults: true, oneofs: true },
);
const v1 = grpc.loadPackageDefinition(definition).quotecast.v1;
const credentials = grpc.credentials.createInsecure();
const metadata = new grpc.Metadata();
if (apiKey) metadata.set("x-api-key", apiKey);

// The error model's messages, to read a refusal's details.
const errors = new protobuf.Root();
errors.resolvePath = (_, target) => path.join(googleDir, target);
errors.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"]);
const Status = errors.lookupType("google.rpc.Status");

function expect(ok, what) {
  if (!ok) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

const unary = (client, method, request) =>
  new Promise((resolve, reject) =>
    client[method](request, metadata, (error, reply) => (error ? reject(error) : resolve(reply))));

// 1. Price a quote.
const quotes = new v1.QuoteService(address, credentials);
const quote = (sku) => ({
  currencyCode: "USD",
  priceDate: "2026-03-01",
  accountId: "acme",
  lines: [{ sku, quantity: "2" }, { sku: "SVC-WTY-3Y-LT", quantity: "2", discount: { percent: "10" } }],
});
const priced = await unary(quotes, "PriceQuote", quote("LT-14-PRO"));
console.log(`priced: net ${priced.totals.net} ${priced.currencyCode} (rules ${priced.rulesVersion})`);
expect(/^\d+\.\d{2}$/.test(priced.totals.net), "the net is a decimal string with cents");

// 2. A refusal: INVALID_ARGUMENT with a BadRequest naming the field.
try {
  await unary(quotes, "PriceQuote", quote("NOPE"));
  expect(false, "an unknown SKU is refused");
} catch (error) {
  expect(error.code === grpc.status.INVALID_ARGUMENT, `INVALID_ARGUMENT, not ${error.code}`);
  const status = Status.decode(error.metadata.get("grpc-status-details-bin")[0]);
  const violations = [];
  for (const detail of status.details) {
    const type = errors.lookupType(detail.type_url.split("/").pop());
    const message = type.decode(detail.value);
    for (const v of message.fieldViolations || []) violations.push(`${v.field}: ${v.description}`);
  }
  console.log(`refused: ${violations.join("; ")}`);
  expect(violations.some((v) => v.startsWith("lines[0].sku")), "the violation names lines[0].sku");
}

// 3. Upload a pipeline (a client stream) and stream its forecast.
const forecasts = new v1.ForecastService(address, credentials);
let csv = "opportunity_id,owner,team,region,stage,created,expected_close,currency,sku,product_line,quantity,amount\n";
for (let i = 0; i < 30; i++) {
  const stage = ["qualify", "propose", "negotiate"][i % 3];
  csv += `O-${i},ann,na-east,na,${stage},2026-03-01,2026-0${6 + (i % 3)}-15,USD,SRV-1U,servers,2,8000.00\n`;
}
const stored = await new Promise((resolve, reject) => {
  const call = forecasts.UploadPipeline(metadata, (error, reply) => (error ? reject(error) : resolve(reply)));
  call.write({ header: { pipeline: "node-demo", file: "PIPELINE_FILE_SNAPSHOT", format: "FILE_FORMAT_CSV" } });
  call.write({ chunk: Buffer.from(csv) });
  call.end();
});
console.log(`uploaded: ${stored.rows} rows of ${stored.pipeline}`);
expect(stored.rows === "30", "30 rows stored");
const tables = {};
let summary = null;
await new Promise((resolve, reject) => {
  const call = forecasts.Forecast({ pipeline: "node-demo", asOf: "2026-05-12", bucket: "BUCKET_QUARTER", trials: 1000 }, metadata);
  let current = null;
  call.on("data", (message) => {
    if (message.summary) summary = message.summary;
    if (message.table) tables[(current = message.table.name)] = { columns: message.table.columns.map((c) => c.name), rows: [] };
    if (message.rows) tables[current].rows.push(...message.rows.rows.map((r) => r.values));
  });
  call.on("error", reject);
  call.on("end", resolve);
});
console.log(`forecast: ${summary.openOpportunities} open opportunities; tables ${Object.keys(tables).join(", ")}`);
expect(summary.openOpportunities === "30", "30 open opportunities");
expect(tables.uncertainty_by_bucket && tables.uncertainty_by_bucket.rows.length >= 2, "P10–P90 per quarter");

// 4. A configuration session: each click answered in order.
const configurator = new v1.ConfiguratorService(address, credentials);
const states = await new Promise((resolve, reject) => {
  const out = [];
  const call = configurator.ConfigureSession(metadata);
  call.on("data", (state) => out.push(state));
  call.on("error", reject);
  call.on("end", () => resolve(out));
  call.write({ productSku: "SRV-2U", choices: [] });
  call.write({ productSku: "SRV-2U", choices: [{ sku: "SRV-CPU-16C", quantity: 1 }] });
  call.end();
});
const added = states[1].options.filter((o) => o.status === "OPTION_STATUS_ADDED").map((o) => o.sku);
console.log(`session: complete ${states[0].complete} then ${states[1].complete}; added ${added.join(", ")}`);
expect(states.length === 2 && !states[0].complete && states[1].complete, "the CPU completes the server");
console.log("ok");
