// What a reader does, in a real headless Chromium: open a Folio site from disk (file://) and
// over HTTP under a project subpath (/folio-test/, as GitHub Pages serves it), follow links,
// open the graph, search and open a result. Fails on any console error or failed request.
// Also runs axe-core on every kind of page, measures search on a large site, and saves
// screenshots at 1280px and 390px, light and dark.
//
// Usage: node run.mjs --example DIR --corpus DIR [--large DIR] [--screenshots DIR]
// Prints "N passed, N failed" last; exits 1 on any failure.

import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const SUBPATH = "/folio-test/";
let passed = 0;
let failed = 0;

async function check(name, body) {
  try {
    await body();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e && e.stack || e).split("\n").slice(0, 4).join("\n     ")}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const TYPES = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript", ".json": "application/json", ".xml": "application/xml", ".txt": "text/plain", ".svg": "image/svg+xml", ".png": "image/png" };

// Serves `dir` under SUBPATH, as GitHub Pages serves a project site (404.html for misses).
function serve(dir, subpath = SUBPATH) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://localhost");
    let rel = decodeURIComponent(url.pathname);
    if (!rel.startsWith(subpath)) { res.writeHead(404); res.end(); return; }
    rel = rel.slice(subpath.length) || "index.html";
    const file = path.join(dir, path.normalize(rel));
    if (!file.startsWith(path.resolve(dir)) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404, { "content-type": TYPES[".html"] });
      res.end(fs.readFileSync(path.join(dir, "404.html")));
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" });
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function newPage(browser, problems, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console error: ${msg.text()} (${msg.location().url})`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  // A request the browser cancels because the page navigated on (a favicon still loading) is
  // not a failure; a missing file is (HTTP 404 below, ERR_FILE_NOT_FOUND from disk).
  page.on("requestfailed", (req) => {
    const error = req.failure() && req.failure().errorText;
    if (error !== "net::ERR_ABORTED") problems.push(`request failed: ${req.url()} ${error}`);
  });
  page.on("response", (res) => { if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`); });
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith("file://") && !url.startsWith("http://127.0.0.1") && !url.startsWith("data:")) problems.push(`request to another host: ${url}`);
  });
  return page;
}

async function axe(page, label) {
  // axe reads stylesheets with XMLHttpRequest, which file:// pages may not do: it runs over HTTP.
  if (page.url().startsWith("file:")) return;
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert(bad.length === 0, `${label}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 2).map((n) => n.target.join(" ")).join(", ")}`).join("; ")}`);
}

async function searchAndOpen(page, query, expectTitle) {
  await page.keyboard.press("/");
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === "search-input"), "'/' focuses the search box");
  await page.keyboard.type(query, { delay: 20 });
  await page.waitForSelector("#search-results .search-result mark", { timeout: 10000 });
  const first = await page.textContent("#search-results .search-result .search-result-title");
  assert(first.includes(expectTitle), `first result for "${query}" is "${first}", expected "${expectTitle}"`);
  await page.keyboard.press("ArrowDown");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  const h1 = await page.textContent("h1");
  assert(h1.includes(expectTitle), `opened "${h1}"`);
}

// The reader's walk through the example site.
async function walkExample(browser, base, mode, shots) {
  const problems = [];
  const page = await newPage(browser, problems);
  await page.goto(base + "index.html");
  assert((await page.textContent("h1")).includes("Folio example wiki"), "home page title");
  await axe(page, `${mode} home`);
  await Promise.all([page.waitForNavigation(), page.click("text=Israel–Kosovo relations")]);
  assert((await page.textContent("h1")) === "Israel–Kosovo relations", "article title");
  assert(await page.isVisible("table.infobox"), "infobox shown");
  assert((await page.textContent("table.infobox")).includes("Tamar Ziv"), "infobox values");
  await axe(page, `${mode} article`);
  if (mode === "http") {
    // Colour contrast holds in the dark theme too.
    const dark = await newPage(browser, problems, { colorScheme: "dark" });
    for (const path of ["index.html", "israel-kosovo-relations.html", "graph.html", "search.html?q=kosovo"]) {
      await dark.goto(base + path);
      await axe(dark, `${mode} dark ${path}`);
    }
  }
  if (shots) await screenshots(browser, page.url(), shots);
  // A See also link of the seed leads to a title not written yet: a red link.
  const red = page.locator(".see-also a.new").first();
  assert((await red.getAttribute("title")) === "not written yet", "red link has its title");
  await Promise.all([page.waitForNavigation(), red.click()]);
  assert((await page.textContent(".short-description")).includes("There is no article with this title yet"), "missing page");
  assert((await page.textContent("main")).includes("Israel–Kosovo relations"), "missing page lists the article linking to it");
  await axe(page, `${mode} missing`);
  await Promise.all([page.waitForNavigation(), page.click(".site-nav >> text=Graph")]);
  assert(await page.isVisible("svg.site-graph"), "graph drawn");
  assert((await page.locator("svg.site-graph a").count()) >= 7, "graph has the article and its six See also targets");
  await axe(page, `${mode} graph`);
  await searchAndOpen(page, "gervalla", "Israel–Kosovo relations");
  assert(problems.length === 0, problems.join("\n"));
}

// The reader's walk through a generated site: See also between real articles, categories.
async function walkCorpus(browser, base, mode) {
  const problems = [];
  const page = await newPage(browser, problems);
  await page.goto(base + "index.html");
  const firstArticle = page.locator(".letter-group a").first();
  const firstTitle = await firstArticle.textContent();
  await Promise.all([page.waitForNavigation(), firstArticle.click()]);
  assert((await page.textContent("h1")) === firstTitle, "article opened from the index");
  const seeAlso = page.locator(".see-also li a:not(.new)").first();
  const target = await seeAlso.textContent();
  await Promise.all([page.waitForNavigation(), seeAlso.click()]);
  const reached = await page.textContent("h1");
  assert(reached === target, `See also link "${target}" led to "${reached}"`);
  assert((await page.locator(".linked-from li").count()) >= 1, "Linked from lists the article we came from");
  const red = page.locator("a.new").first();
  if (await red.count()) {
    await Promise.all([page.waitForNavigation(), red.click()]);
    assert((await page.textContent(".short-description")).includes("no article with this title yet"), "red link leads to the missing page");
  }
  await page.goto(base + "index.html");
  const category = page.locator(".all-categories a").first();
  await Promise.all([page.waitForNavigation(), category.click()]);
  assert((await page.textContent("h1")).includes("Category"), "category page");
  await axe(page, `${mode} category`);
  await page.goto(base + "search.html?q=" + encodeURIComponent(target.split("–")[0]));
  await page.waitForSelector("#search-page-results .search-result", { timeout: 10000 });
  await axe(page, `${mode} search page`);
  await Promise.all([page.waitForNavigation(), page.locator("#search-page-results .search-result").first().click()]);
  assert((await page.textContent("h1")).length > 0, "search result opened");
  assert(problems.length === 0, problems.join("\n"));
}

async function screenshots(browser, url, dir) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [width, height] of [[1280, 1000], [390, 1100]]) {
    for (const scheme of ["light", "dark"]) {
      const context = await browser.newContext({ viewport: { width, height }, colorScheme: scheme });
      const page = await context.newPage();
      await page.goto(url);
      await page.screenshot({ path: path.join(dir, `article-${width}-${scheme}.png`) });
      if (width === 390) {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(overflow <= 0, `page scrolls sideways at ${width}px (${overflow}px)`);
      }
      await context.close();
    }
  }
}

// Search on a large site: bytes loaded per query and time from the last shard's arrival.
async function measureSearch(browser, base, queries) {
  const problems = [];
  const page = await newPage(browser, problems);
  await page.goto(base + "index.html");
  const before = await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.includes("/search/")).length);
  assert(before === 0, "a page loads no search data before the box is focused");
  await page.focus("#search-input");
  await page.waitForFunction(() => performance.getEntriesByType("resource").some((e) => e.name.includes("titles.js")));
  for (const query of queries) {
    const m = await page.evaluate((q) => new Promise((resolve) => {
      performance.clearResourceTimings();
      const start = performance.now();
      window.folioSearch.search(q, 8, (results) => {
        const done = performance.now();
        const entries = performance.getEntriesByType("resource").filter((e) => e.name.includes("/search/"));
        const bytes = entries.reduce((sum, e) => sum + (e.encodedBodySize || e.transferSize || 0), 0);
        const arrived = entries.reduce((last, e) => Math.max(last, e.responseEnd), start);
        resolve({ results: results.length, bytes, answerMs: done - arrived, totalMs: done - start });
      });
    }), query);
    console.log(`     search "${query}": ${m.results} results, ${(m.bytes / 1e6).toFixed(2)} MB loaded, answered ${m.answerMs.toFixed(1)} ms after the last shard arrived (${m.totalMs.toFixed(0)} ms in all)`);
    assert(m.results > 0, `"${query}" finds something`);
    assert(m.bytes <= 2e6, `"${query}" loaded ${m.bytes} bytes`);
    assert(m.answerMs <= 100, `"${query}" took ${m.answerMs} ms after its shards arrived`);
  }
  assert(problems.length === 0, problems.join("\n"));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const servers = [];
try {
  const example = path.resolve(args.example);
  const corpus = path.resolve(args.corpus);
  const exampleServer = await serve(example);
  const corpusServer = await serve(corpus);
  servers.push(exampleServer, corpusServer);
  const http = (server) => `http://127.0.0.1:${server.address().port}${SUBPATH}`;
  await check("example site from disk (file://)", () => walkExample(browser, "file://" + example + "/", "file", args.screenshots));
  await check("example site over HTTP under /folio-test/", () => walkExample(browser, http(exampleServer), "http", null));
  await check("generated site from disk (file://)", () => walkCorpus(browser, "file://" + corpus + "/", "file"));
  await check("generated site over HTTP under /folio-test/", () => walkCorpus(browser, http(corpusServer), "http"));
  await check("404 page renders at any depth over HTTP, under the site-url's path", async () => {
    const base = new URL(fs.readFileSync(path.join(example, "index.html"), "utf8").match(/<link rel="canonical" href="([^"]+)"/)[1]).pathname.replace(/index\.html$/, "");
    const server = await serve(example, base);
    servers.push(server);
    const problems = [];
    const page = await newPage(browser, problems);
    const res = await page.goto(`http://127.0.0.1:${server.address().port}${base}no/such/deep/page.html`);
    assert(res.status() === 404, "served as 404");
    assert((await page.textContent("h1")).includes("Page not found"), "404 text");
    assert(await page.evaluate(() => getComputedStyle(document.body).fontFamily.length > 0 && !!document.querySelector("link[rel=stylesheet]").sheet), "404 page has its stylesheet");
    await axe(page, "404");
    await Promise.all([page.waitForNavigation(), page.click("main >> text=the list of all articles")]);
    assert((await page.textContent("h1")).includes("Folio example wiki"), "404 page links home");
    const unexpected = problems.filter((p) => !p.includes("no/such/deep/page.html"));
    assert(unexpected.length === 0, unexpected.join("\n"));
  });
  if (args.large) {
    const large = path.resolve(args.large);
    const largeServer = await serve(large);
    servers.push(largeServer);
    await check("search on the large site: under 2 MB and 100 ms a query", () =>
      measureSearch(browser, http(largeServer), ["koso", "Dacic", "Gervalla", "relations embassy", "Thessaloniki"]));
  }
} finally {
  await browser.close();
  servers.forEach((s) => s.close());
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
