// The quotecast reference console: plain JavaScript calling the API with
// the Connect protocol (JSON over fetch), the way a CRM front end would.
// Unary methods are one POST of a JSON message; streaming methods send and
// receive enveloped JSON messages (a flag byte, a 4-byte length, the JSON).
"use strict";

const $ = (id) => document.getElementById(id);
const api = {
  quote: "quotecast.v1.QuoteService",
  catalog: "quotecast.v1.CatalogService",
  configurator: "quotecast.v1.ConfiguratorService",
  forecast: "quotecast.v1.ForecastService",
  server: "quotecast.v1.ServerService",
};

function headers(contentType) {
  const h = { "content-type": contentType, "connect-protocol-version": "1" };
  const key = $("api-key").value.trim();
  if (key) h["x-api-key"] = key;
  return h;
}

/** A Connect error as a JavaScript error, with every field violation. */
function connectError(error) {
  const lines = [`${error.code}: ${error.message || ""}`];
  for (const detail of error.details || []) {
    for (const v of (detail.debug && detail.debug.fieldViolations) || []) {
      lines.push(`  ${v.field}: ${v.description}`);
    }
  }
  const e = new Error(lines.join("\n"));
  e.code = error.code;
  return e;
}

/** Calls a unary method with a JSON message; resolves to the reply. */
async function call(service, method, message) {
  const response = await fetch(`/${service}/${method}`, {
    method: "POST",
    headers: headers("application/json"),
    body: JSON.stringify(message),
  });
  return reply(response);
}

/** A unary reply: the message, or its Connect error (or a plain HTTP one). */
async function reply(response) {
  const json = (response.headers.get("content-type") || "").startsWith("application/json");
  if (!json) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const body = await response.json();
  if (!response.ok) throw connectError(body);
  return body;
}

function envelope(message) {
  const json = new TextEncoder().encode(JSON.stringify(message));
  const out = new Uint8Array(5 + json.length);
  new DataView(out.buffer).setUint32(1, json.length);
  out.set(json, 5);
  return out;
}

/** Calls a server-streaming method; resolves to all its messages. */
async function stream(service, method, message) {
  const response = await fetch(`/${service}/${method}`, {
    method: "POST",
    headers: headers("application/connect+json"),
    body: envelope(message),
  });
  // A stream refused before it started answers as a unary call does.
  if (!response.ok) await reply(response);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const view = new DataView(bytes.buffer);
  const messages = [];
  for (let at = 0; at + 5 <= bytes.length; ) {
    const flags = bytes[at];
    const length = view.getUint32(at + 1);
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + length)));
    at += 5 + length;
    if (flags & 2) {
      if (json.error) throw connectError(json.error);
    } else {
      messages.push(json);
    }
  }
  return messages;
}

/** Streamed tables (a header, then row batches) by name. */
function tables(messages) {
  const out = {};
  let current = null;
  for (const m of messages) {
    if (m.table) {
      current = { columns: m.table.columns.map((c) => c.name), rows: [] };
      out[m.table.name] = current;
    } else if (m.rows && current) {
      for (const row of m.rows.rows || []) current.rows.push(row.values || []);
    }
  }
  return out;
}

function showError(e) {
  $("error").textContent = e ? String(e.message || e) : "";
  $("error").hidden = !e;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

// ---- configure and price ------------------------------------------------

const session = { product: "", choices: [], state: null };

function describe(explanation) {
  if (!explanation) return "";
  if (explanation.deferred) return "(reason not worked out yet)";
  const because = (explanation.choices || []).map((c) => `${c.sku} × ${c.quantity || 0}`);
  const rules = (explanation.rules || []).map((r) => r.description || r.ruleId);
  return [because.length ? `because of ${because.join(", ")}` : "", rules.join("; ")]
    .filter(Boolean)
    .join(": ");
}

function choose(sku, quantity) {
  session.choices = session.choices.filter((c) => c.sku !== sku);
  session.choices.push({ sku, quantity });
  configure();
}

async function configure() {
  showError(null);
  $("quote").textContent = "";
  try {
    session.state = await call(api.configurator, "Configure", {
      productSku: session.product,
      choices: session.choices,
    });
  } catch (e) {
    // A product without a configuration model is priced as it is.
    const plain = e.code === "not_found";
    session.state = null;
    $("groups").textContent = "";
    $("conflict").hidden = true;
    $("state").textContent = plain ? `${session.product} has no options: it is priced as it is.` : "";
    $("state").dataset.complete = String(plain);
    $("price").disabled = !plain;
    if (!plain) showError(e);
    return;
  }
  render(session.state);
}

function render(state) {
  const complete = Boolean(state.complete);
  $("state").textContent = complete
    ? "Complete: this configuration can be quoted."
    : state.valid ? "Not complete yet: choose in the groups marked missing." : "These choices conflict.";
  $("state").dataset.complete = String(complete);
  $("price").disabled = !complete;
  const conflict = $("conflict");
  conflict.hidden = state.valid !== false;
  conflict.textContent = "";
  if (state.conflict) {
    conflict.append(element("p", {}, `Conflict ${describe(state.conflict.explanation)}`));
    for (const repair of state.conflict.repairs || []) {
      const drop = (repair.drop || []).map((c) => c.sku);
      const button = element("button", {}, `Drop ${drop.join(", ")}`);
      button.onclick = () => {
        session.choices = session.choices.filter((c) => !drop.includes(c.sku));
        configure();
      };
      conflict.append(button, " ");
    }
  }
  const groups = $("groups");
  groups.textContent = "";
  for (const group of state.groups || []) {
    const fieldset = element("fieldset", { "data-group": group.groupId });
    if (group.missing) fieldset.classList.add("missing");
    fieldset.append(element("legend", {}, `${group.name} (${group.min || 0}–${group.max || 0})${group.missing ? " — missing" : ""}`));
    for (const option of (state.options || []).filter((o) => o.groupId === group.groupId)) {
      const status = (option.status || "").replace("OPTION_STATUS_", "");
      const select = element("select", { "data-sku": option.sku, "aria-label": option.sku });
      for (const q of option.quantities && option.quantities.length ? option.quantities : [0]) {
        const o = element("option", { value: String(q) }, String(q));
        if (q === (option.quantity || 0)) o.selected = true;
        select.append(o);
      }
      select.disabled = status === "EXCLUDED";
      select.onchange = () => choose(option.sku, Number(select.value));
      const why = status === "ADDED" || status === "EXCLUDED"
        ? `${status.toLowerCase()} ${describe(option.explanation)}`
        : option.defaultRuleId ? `default (${option.defaultRuleId})` : status.toLowerCase();
      fieldset.append(element("div", { class: `option status-${status}` },
        element("span", { class: "sku" }, option.sku), select, element("span", { class: "why" }, why)));
    }
    groups.append(fieldset);
  }
}

async function price() {
  showError(null);
  const configuration = session.state
    ? (session.state.options || [])
        .filter((o) => (o.quantity || 0) > 0)
        .map((o) => ({ sku: o.sku, quantity: o.quantity }))
    : [];
  const request = {
    currencyCode: $("currency").value,
    accountId: $("account").value.trim(),
    lines: [{ sku: session.product, quantity: String($("quantity").value || 1), configuration }],
  };
  window.lastQuoteRequest = request;
  try {
    const priced = await call(api.quote, "PriceQuote", request);
    renderQuote(priced);
  } catch (e) {
    showError(e);
  }
}

function renderQuote(priced) {
  const table = element("table", {},
    element("tr", {}, element("th", {}, "line"), element("th", {}, "sku"), element("th", { class: "num" }, "qty"),
      element("th", { class: "num" }, "list"), element("th", { class: "num" }, "net")));
  for (const line of priced.lines || []) {
    table.append(element("tr", {}, element("td", {}, line.lineId), element("td", {}, `${line.sku} ${line.name || ""}`),
      element("td", { class: "num" }, line.quantity), element("td", { class: "num" }, line.listExtended || "0"),
      element("td", { class: "num" }, line.netExtended || "0")));
    for (const step of line.waterfall || []) {
      table.append(element("tr", { class: "step" }, element("td", {}), element("td", {}, step.explanation),
        element("td", {}), element("td", { class: "num" }, step.amount), element("td", { class: "num" }, step.runningTotal)));
    }
  }
  const t = priced.totals || {};
  $("quote").replaceChildren(table,
    element("p", { class: "total", id: "total", "data-net": t.net || "0" },
      `Net ${t.net || "0"} ${priced.currencyCode} (list ${t.list || "0"}, discount ${t.discountPercent || "0"} %, margin ${t.marginPercent || "0"} %)`),
    element("p", {}, `Approval: ${(priced.approval && priced.approval.level) || "none"}; rules ${priced.rulesVersion}`));
}

// ---- forecast -----------------------------------------------------------

async function forecast() {
  showError(null);
  const name = $("pipeline").value;
  if (!name) return;
  const stored = (window.pipelines || []).find((p) => p.name === name) || {};
  const request = { pipeline: name, bucket: $("bucket").value, trials: 2000, seed: "1" };
  if (stored.hasHistory) request.history = name;
  if ($("as-of").value) request.asOf = $("as-of").value;
  try {
    const messages = await stream(api.forecast, "Forecast", request);
    const summary = (messages.find((m) => m.summary) || {}).summary || {};
    $("forecast-summary").textContent =
      `${summary.openOpportunities || 0} open opportunities as of ${summary.asOf}, in ${summary.reportingCurrency}; win rates: ${summary.winRateSource}`;
    drawFan(tables(messages).uncertainty_by_bucket);
    if (stored.hasHistory) {
      const funnel = tables(await stream(api.forecast, "Funnel", { pipeline: name, asOf: request.asOf || "" }));
      drawFunnel(Object.values(funnel).find((t) => t.columns.includes("conversion") && !t.columns.includes("team")));
    } else {
      $("funnel").textContent = "";
    }
  } catch (e) {
    showError(e);
  }
}

function drawFan(table) {
  const svg = $("fan");
  svg.replaceChildren();
  if (!table || !table.rows.length) return;
  const at = (name) => table.columns.indexOf(name);
  const rows = table.rows.map((r) => ({ bucket: r[at("bucket")], p10: +r[at("p10")], p50: +r[at("p50")], p90: +r[at("p90")] }));
  const [w, h, pad] = [640, 260, 40];
  const top = Math.max(...rows.map((r) => r.p90)) || 1;
  const x = (i) => pad + (rows.length === 1 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (rows.length - 1));
  const y = (v) => h - pad - (v / top) * (h - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attributes) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    svg.append(node);
    return node;
  };
  if (rows.length > 1) {
    const band = rows.map((r, i) => `${x(i)},${y(r.p90)}`).concat(rows.map((r, i) => `${x(i)},${y(r.p10)}`).reverse());
    add("polygon", { points: band.join(" "), fill: "#e3f2f3", stroke: "none" });
    add("polyline", { points: rows.map((r, i) => `${x(i)},${y(r.p50)}`).join(" "), fill: "none", stroke: "#1d3557", "stroke-width": 2 });
  }
  rows.forEach((r, i) => {
    add("rect", { class: "range", x: x(i) - 12, y: y(r.p90), width: 24, height: Math.max(1, y(r.p10) - y(r.p90)), fill: "#a8dadc", stroke: "#457b9d" });
    add("line", { x1: x(i) - 12, x2: x(i) + 12, y1: y(r.p50), y2: y(r.p50), stroke: "#1d3557", "stroke-width": 2 });
  });
  rows.forEach((r, i) => {
    add("text", { x: x(i), y: h - 15, "text-anchor": "middle", "font-size": 11 }).textContent = r.bucket;
  });
  add("text", { x: 5, y: 15, "font-size": 11 }).textContent = `P10–P90 and median; top ${top.toFixed(0)}`;
}

function drawFunnel(table) {
  const out = $("funnel");
  out.textContent = "";
  if (!table) return;
  const at = (name) => table.columns.indexOf(name);
  const most = Math.max(...table.rows.map((r) => +r[at("entered")])) || 1;
  const list = element("table", {}, element("tr", {}, element("th", {}, "stage"), element("th", {}, "entered"), element("th", { class: "num" }, "conversion")));
  for (const r of table.rows) {
    const bar = element("span", { class: "bar" });
    bar.style.width = `${(200 * +r[at("entered")]) / most}px`;
    list.append(element("tr", {}, element("td", {}, r[at("stage")]), element("td", {}, bar, ` ${r[at("entered")]}`),
      element("td", { class: "num" }, r[at("conversion")])));
  }
  out.append(element("h3", {}, "Funnel (company)"), list);
}

// ---- start --------------------------------------------------------------

async function start() {
  $("api-key").value = localStorage.getItem("quotecast-api-key") || "";
  $("api-key").onchange = () => {
    localStorage.setItem("quotecast-api-key", $("api-key").value.trim());
    start();
  };
  try {
    const info = await call(api.server, "GetServerInfo", {});
    $("server").textContent = `${info.version} · ${info.rulesVersion}${info.developmentMode ? " · development mode" : ""}`;
    const products = await call(api.catalog, "ListProducts", { kind: "PRODUCT_KIND_BASE", pageSize: 500 });
    const currencies = new Set();
    $("product").replaceChildren(...(products.products || []).map((p) => {
      for (const m of p.listPrices || []) currencies.add(m.currencyCode);
      return element("option", { value: p.sku }, `${p.sku} — ${p.name}`);
    }));
    $("currency").replaceChildren(...[...currencies].sort().map((c) => element("option", { value: c }, c)));
    if (currencies.has("USD")) $("currency").value = "USD";
    $("product").onchange = () => {
      session.product = $("product").value;
      session.choices = [];
      configure();
    };
    $("price").onclick = price;
    $("run-forecast").onclick = forecast;
    session.product = $("product").value;
    await configure();
    window.pipelines = (await call(api.forecast, "ListPipelines", {})).pipelines || [];
    $("pipeline").replaceChildren(...window.pipelines.map((p) => element("option", { value: p.name }, p.name)));
  } catch (e) {
    showError(e);
  }
}

start();
