// The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core): what
// a user signed in with a tenant's token sees of a running workflow, and what they never see.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import t from 'tap';
import { startProcess } from '@lzy/actors/testing';
import { fixture, lzy, runs, startServer, tempDir, tenantToken, waitUntil, type Teardown } from './harness.js';

/** The chromium binary on PATH (as `command -v chromium` finds it), if any. */
function chromiumBinary(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const file = join(dir, 'chromium');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const executablePath = chromiumBinary();
const noChromium = executablePath === undefined ? 'no chromium binary on PATH: install Debian’s chromium (CI does)' : false;
/** Where the test saves its screenshots, when asked to (the README's come from here). */
const screenshots = process.env['LZY_UI_SCREENSHOTS'];

async function screenshot(page: Page, name: string): Promise<void> {
  if (screenshots === undefined) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** A page of a new headless Chromium, closed at teardown. */
async function newPage(t: Teardown): Promise<Page> {
  const browser = await chromium.launch({ executablePath: executablePath!, headless: true, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  return browser.newPage({ viewport: { width: 1280, height: 800 } });
}

/** The status code of `GET path` asked from inside the page, with its session's cookie. */
function statusFromPage(page: Page, path: string): Promise<number> {
  return page.evaluate(async (url) => (await fetch(url)).status, path);
}

t.test(
  'in the browser, a signed-in tenant sees its runs, watches a running op turn succeeded without reloading, and never sees another tenant’s run',
  { skip: noChromium },
  async (t) => {
    const server = await startServer(t);
    const base = server.url.replace(/^ws/, 'http');
    const tokens = { alpha: await tenantToken(server, 'alpha'), beta: await tenantToken(server, 'beta') };
    const remote = (tenant: 'alpha' | 'beta') => ({ LZY_ENDPOINT: server.url, LZY_TOKEN: tokens[tenant] });
    const betaRun = await lzy(['run', fixture('chain-program')], { ...remote('beta'), LZY_TEST_DIR: tempDir(t) });
    t.equal(betaRun.code, 0, betaRun.stderr);
    const betaList = await lzy(['status', '--json'], remote('beta'));
    const betaWorkflow = (JSON.parse(betaList.lines.at(-1)!) as Array<{ workflowId: string }>)[0]!.workflowId;

    const dir = tempDir(t);
    const alphaRun = lzy(['run', fixture('dashboard-program')], { ...remote('alpha'), LZY_TEST_DIR: dir });
    await waitUntil(() => runs(dir, 'report') === 1, 'op report to start', 60_000);

    const page = await newPage(t);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    await page.goto(`${base}/ui/`);
    await page.locator('#sign-in').waitFor();
    await page.fill('#token', 'lzy_not-a-token');
    await page.click('#sign-in button');
    await page.locator('#sign-in-error', { hasText: 'refused' }).waitFor();
    t.ok(await page.locator('#runs-view').isHidden(), 'a bad token shows no runs');

    await page.fill('#token', tokens.alpha);
    await page.click('#sign-in button');
    const row = page.locator('#runs tr', { hasText: 'etl' });
    await row.waitFor();
    t.equal(await page.locator('#tenant').textContent(), 'alpha', 'the page names the tenant signed in');
    t.match(await row.textContent(), /active/, 'the run is listed as active');
    t.equal(await page.locator('#runs tr').count(), 1, 'the tenant’s one run, and not the other tenant’s');
    t.notOk((await page.locator('#runs').textContent())!.includes(betaWorkflow), 'another tenant’s run is not listed');
    await screenshot(page, 'runs');

    await row.click();
    const report = page.locator('#graph g.op[data-name="chatty"]');
    await page.locator('#graph g.op[data-name="chatty"][data-state="running"]').waitFor();
    t.equal(await page.locator('#graph g.op').count(), 5, 'the graph shows each op of the run');
    t.equal(await page.locator('#graph path.edge').count(), 5, 'and an edge for each result an op takes');
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    await report.click();
    await page.locator('#op-log', { hasText: 'line 1' }).waitFor();
    await screenshot(page, 'run-live');

    writeFileSync(join(dir, 'report.go'), '');
    await page.locator('#graph g.op[data-name="chatty"][data-state="succeeded"]').waitFor();
    t.ok(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), 'the op turned succeeded on the page it was shown on, without a reload');
    t.equal((await alphaRun).code, 0, 'the run is not disturbed by its watcher');
    await page.locator('#graph g.op[data-name="sum"][data-state="succeeded"]').waitFor();
    await page.locator('#run-summary b.finished').waitFor();
    await page.locator('#op-log', { hasText: 'after go' }).waitFor();
    t.match(await page.locator('#op-summary').textContent(), /^succeeded · 1 attempt/, 'the op’s panel tells its state and attempts');
    t.equal(await page.locator('#op-attempts tr').count(), 1, 'and each attempt with where its time went');
    t.match(await page.locator('#op-split-legend').textContent(), /queue .*run .*commit/);
    await page.locator('#graph g.op[data-name="cachedStep"]').click();
    await page.locator('#op-miss', { hasText: 'never-cached' }).waitFor();
    await page.locator('#graph g.op[data-name="chatty"]').click();
    await page.locator('#op-log', { hasText: 'after go' }).waitFor();
    await screenshot(page, 'run');

    await page.click('nav a[href="#/whiteboards"]');
    const board = page.locator('#whiteboards table.whiteboard');
    await board.waitFor();
    t.match(await page.locator('#whiteboards').textContent(), /etl \[dashboard\]/, 'the run’s whiteboard is found by its name and tags');
    t.same(await board.locator('tbody tr td').allTextContents(), ['total', '4', '1 B', 'inline'], 'with its field’s value');
    await page.click('nav a[href="#/pools"]');
    await page.locator('#leases tr').first().waitFor();
    t.notOk((await page.locator('#pools-view').textContent())!.includes('beta'), 'the pools page shows the tenant’s own nodes only');

    await page.goto(`${base}/ui/#/runs/${encodeURIComponent(betaWorkflow)}`);
    await page.locator('#run-summary', { hasText: `No run ${betaWorkflow}` }).waitFor();
    t.equal(await page.locator('#graph g.op').count(), 0, 'another tenant’s run, opened by its URL, shows nothing');
    t.notOk((await page.locator('body').textContent())!.includes('chain'), 'not even its name');
    for (const api of ['', '/events', '/logs?op=x']) t.equal(await statusFromPage(page, `/ui/api/runs/${betaWorkflow}${api}`), 404, `nor does /ui/api/runs/ID${api}`);

    // An admin's runs page lists every tenant's runs in one list, with their tenant, still filtered by name.
    await page.goto(`${base}/ui/#/runs`);
    await page.click('#sign-out');
    await page.locator('#sign-in').waitFor();
    await page.fill('#token', server.adminToken);
    await page.click('#sign-in button');
    await page.locator('#runs tr', { hasText: 'chain' }).waitFor();
    t.ok(await page.locator('#runs-tenant').isVisible(), 'an admin’s runs page has a tenant column');
    t.same((await page.locator('#runs tr td:first-child').allTextContents()).sort(), ['alpha', 'beta'], 'and lists both tenants’ runs');
    await page.selectOption('#status-filter', 'finished');
    await page.fill('#name-filter', 'chai');
    await page.locator('#runs tr', { hasText: 'etl' }).waitFor({ state: 'detached' });
    t.same(await page.locator('#runs tr td:first-child').allTextContents(), ['beta'], 'the filters still apply');
    await screenshot(page, 'runs-every-tenant');
    await page.locator('#runs tr', { hasText: 'chain' }).click();
    await page.locator('#graph g.op[data-state="succeeded"]').first().waitFor();
    t.equal(await page.locator('#graph g.op').count(), 3, 'another tenant’s run opens from that list, for an admin');
    t.same(pageErrors, [], 'the page’s script threw nothing');
  },
);

t.test('lzy ui prints a sign-in link to the dashboard of the embedded runtime, whose runs include those of programs run in the folder meanwhile', { skip: noChromium }, async (t) => {
  const dataDir = tempDir(t);
  const ui = startProcess(t, new URL('../../bin/lzy.js', import.meta.url), ['ui', '--port', '0'], { LZY_HOME: dataDir });
  const link = (await ui.waitForLine((line) => line.startsWith('lzy ui on '), 'lzy ui to listen', 90_000)).slice('lzy ui on '.length);
  t.match(link, /^http:\/\/127\.0\.0\.1:\d+\/ui\/#token=lzy_/);
  const run = await lzy(['run', fixture('chain-program')], { LZY_HOME: dataDir, LZY_TEST_DIR: tempDir(t) });
  t.equal(run.code, 0, run.stderr);
  const second = await lzy(['ui', '--port', '0'], { LZY_HOME: dataDir });
  t.equal(second.code, 1, 'a second lzy ui on the same data dir is refused');
  t.match(second.stderr, /start `lzy ui` first, then run programs in the folder/);

  const page = await newPage(t);
  await page.goto(link);
  await page.locator('#runs tr', { hasText: 'chain' }).waitFor();
  t.equal(await page.locator('#tenant').textContent(), 'local');
  t.notOk(page.url().includes('token'), 'the token is taken out of the address');
});
