// Opens pages of the built catalog in headless Chromium (Debian's, never a downloaded one) and reports, per
// page, the console errors, the failed requests and which of the expected texts are visible; optionally
// keeps a screenshot of one page. Driven by scripts/check_eventcatalog_build.py --browse; by hand:
//   node browse.mjs <plan.json>
// plan.json: {"base": "http://127.0.0.1:PORT", "chromium": "/usr/bin/chromium", "pages": [{"path": "/docs/...",
//   "visible": ["text" or {"text", "within": "css"}, ...], "legible": ["text", ...], "screenshot": "/abs/path.png"}], "legiblePx": 9,
//   "userDataDir": "/tmp/..."}   (legible and screenshot are optional)
// Prints {"pages": [{"path", "status", "errors": [...], "missing": [...], "illegible": [...]}]} on stdout.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// Flags that keep Chromium off the network and out of the user's profile.
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
const context = await chromium.launchPersistentContext(plan.userDataDir, {
  executablePath: plan.chromium,
  headless: true,
  args,
  viewport: { width: 1440, height: 900 },
});
const origin = new URL(plan.base).origin;
// Nothing leaves the machine: a request to another host fails here, and is reported.
await context.route('**/*', (route) => {
  const url = route.request().url();
  return url.startsWith(origin) || url.startsWith('data:') ? route.continue() : route.abort('blockedbyclient');
});

// The element's box once it stops moving: the same in two looks 250 ms apart (at most 10 s).
async function settledBox(locator) {
  let box = await locator.boundingBox();
  for (let waited = 0; waited < 10000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const next = await locator.boundingBox();
    if (box && next && ['x', 'y', 'width', 'height'].every((k) => Math.abs(box[k] - next[k]) < 0.5)) return next;
    box = next;
  }
  return box;
}

const results = [];
for (const spec of plan.pages) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    errors.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
  });
  let status = 0;
  try {
    const response = await page.goto(plan.base + spec.path, { waitUntil: 'networkidle', timeout: 60000 });
    status = response ? response.status() : 0;
  } catch (error) {
    errors.push(`navigation: ${error.message}`);
  }
  const missing = [];
  // A text, or {text, within: CSS selector} for a text that must show inside a given part of the page.
  for (const wanted of spec.visible || []) {
    const { text, within } = typeof wanted === 'string' ? { text: wanted } : wanted;
    const scope = within ? page.locator(within) : page;
    const found = scope.getByText(text, { exact: false }).first();
    try {
      await found.waitFor({ state: 'visible', timeout: 10000 });
    } catch {
      missing.push(within ? `${text} (in ${within})` : text);
    }
  }
  // Node labels of a flow that must be readable as it opens: on screen, and drawn at least `legiblePx` tall,
  // once the visualiser has fitted the flow to the window (it moves the nodes while it does).
  const illegible = [];
  for (const text of spec.legible || []) {
    const found = page.locator('.react-flow__node').getByText(text, { exact: true }).first();
    try {
      await found.waitFor({ state: 'visible', timeout: 10000 });
      const box = await settledBox(found);
      const inView = box && box.x >= 0 && box.y >= 0 && box.x + box.width <= 1440 && box.y + box.height <= 900;
      if (!inView || box.height < plan.legiblePx) illegible.push(text);
    } catch {
      illegible.push(text);
    }
  }
  if (spec.screenshot) await page.screenshot({ path: spec.screenshot, fullPage: false });
  results.push({ path: spec.path, status, errors, missing, illegible });
  await page.close();
}
await context.close();
process.stdout.write(JSON.stringify({ pages: results }, null, 2) + '\n');
