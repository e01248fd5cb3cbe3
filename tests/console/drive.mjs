// Drives the web console in headless Chromium as a rep would: picks a
// configurable product, chooses in every group the console marks missing
// until the configuration is complete, prices it, runs a stored pipeline's
// forecast, and takes a screenshot. Prints what it saw as one JSON line
// for tests/console.rs to check against the API.
//
//   node drive.mjs URL PRODUCT PIPELINE AS_OF SCREENSHOT.png
import { writeFileSync } from "node:fs";
import puppeteer from "puppeteer-core";

const [url, product, pipeline, asOf, screenshot] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const seen = { clicks: [], pageErrors: [] };
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => seen.pageErrors.push(String(e)));
  await page.setViewport({ width: 1400, height: 1000 });
  await page.goto(`${url}/ui/`, { waitUntil: "networkidle0" });
  await page.waitForSelector(`#product option[value="${product}"]`);
  await page.select("#product", product);
  await page.waitForSelector("#groups fieldset");

  // Click until complete: in a group marked missing, the first option
  // still offered takes its smallest offered quantity above zero.
  for (let round = 0; round < 20; round++) {
    const state = await page.$eval("#state", (e) => e.dataset.complete);
    if (state === "true") break;
    const click = await page.evaluate(() => {
      for (const group of document.querySelectorAll("#groups fieldset.missing")) {
        for (const select of group.querySelectorAll("select:not([disabled])")) {
          const offered = [...select.options].map((o) => Number(o.value)).filter((q) => q > 0);
          if (offered.length && Number(select.value) === 0) {
            return { sku: select.dataset.sku, quantity: Math.min(...offered) };
          }
        }
      }
      return null;
    });
    if (!click) break;
    seen.clicks.push(click);
    const before = await page.$eval("#groups", (e) => e.innerHTML);
    await page.select(`select[data-sku="${click.sku}"]`, String(click.quantity));
    await page.waitForFunction((b) => document.querySelector("#groups").innerHTML !== b, {}, before);
  }
  seen.complete = await page.$eval("#state", (e) => e.dataset.complete === "true");
  seen.excludedShown = await page.$$eval(".status-EXCLUDED", (e) => e.length);

  await page.click("#price");
  await page.waitForSelector("#total");
  seen.net = await page.$eval("#total", (e) => e.dataset.net);
  seen.waterfallSteps = await page.$$eval("tr.step", (e) => e.length);
  seen.request = await page.evaluate(() => window.lastQuoteRequest);

  await page.waitForSelector(`#pipeline option[value="${pipeline}"]`);
  await page.select("#pipeline", pipeline);
  await page.$eval("#as-of", (e, day) => { e.value = day; }, asOf);
  await page.click("#run-forecast");
  await page.waitForSelector("#fan rect.range");
  seen.fanBuckets = await page.$$eval("#fan rect.range", (e) => e.length);
  seen.forecastSummary = await page.$eval("#forecast-summary", (e) => e.textContent);

  const png = await page.screenshot({ fullPage: true, encoding: "base64" });
  writeFileSync(screenshot, Buffer.from(png, "base64"));
  // The share of pixels not of the commonest colour: a blank page has none.
  seen.painted = await page.evaluate(async (data) => {
    const image = new Image();
    image.src = `data:image/png;base64,${data}`;
    await image.decode();
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [image.width, image.height];
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, image.width, image.height).data;
    const counts = new Map();
    for (let i = 0; i < pixels.length; i += 4) {
      const colour = (pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2];
      counts.set(colour, (counts.get(colour) || 0) + 1);
    }
    const differing = pixels.length / 4 - Math.max(...counts.values());
    return differing / (pixels.length / 4);
  }, png);
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
