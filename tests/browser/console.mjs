// Browser test of herald's web console, run by scripts/browser-test against a
// real `herald serve`: Debian's headless Chromium driven by playwright-core.
//
// Signs in, creates a request bin in the console, registers a webhook to the
// bin and an async Update step (Web API), updates a contact, sees the request
// in the bin page and the job in System Jobs, makes a failing job (webhook to
// a closed port) and retries it from the console. Saves screenshots of the
// main pages. Exits non-zero on any failure.
//
// Environment: HERALD_BASE (http://127.0.0.1:PORT), HERALD_KEY (admin key),
// HERALD_PROFILE_DIR (fresh Chromium profile), HERALD_SCREENSHOTS (folder),
// HERALD_FAILURE_SHOT (where a failure's screenshot goes), CHROMIUM (default
// /usr/bin/chromium).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = must('HERALD_BASE');
const key = must('HERALD_KEY');
const profile = must('HERALD_PROFILE_DIR');
const shots = process.env.HERALD_SCREENSHOTS || 'docs/screenshots';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const failureShot = process.env.HERALD_FAILURE_SHOT || join(profile, 'failure.png');
const api = `${base}/api/data/v9.2`;

function must(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`console.mjs: ${name} is not set (run scripts/browser-test)`);
    process.exit(2);
  }
  return v;
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function step(what) {
  console.log(`browser-test: ${what}`);
}

/** A Web API call with the admin key: { status, headers, body }. */
async function webapi(method, path, body) {
  const url = path.startsWith('http') ? path : path.startsWith('/') ? `${base}${path}` : `${api}/${path}`;
  const resp = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  if (resp.status >= 400) throw new Error(`${method} ${path} → ${resp.status}: ${text}`);
  return { status: resp.status, headers: resp.headers, body: json };
}

/** Create a row; returns its id (from OData-EntityId). */
async function create(set, body) {
  const r = await webapi('POST', set, body);
  const entity = r.headers.get('odata-entityid');
  check(entity, `OData-EntityId of ${set}`);
  return entity.slice(entity.lastIndexOf('(') + 1, -1);
}

async function registerStep(name, webhookId, message, table) {
  const m = await webapi('GET', `sdkmessages?$select=name&$filter=name eq '${message}'`);
  const mid = m.body.value[0].sdkmessageid;
  const f = await webapi('GET', `sdkmessagefilters?$select=primaryobjecttypecode&$filter=_sdkmessageid_value eq ${mid} and primaryobjecttypecode eq '${table}'`);
  const fid = f.body.value[0].sdkmessagefilterid;
  return create('sdkmessageprocessingsteps', {
    name,
    'sdkmessageid@odata.bind': `/sdkmessages(${mid})`,
    'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${fid})`,
    'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${webhookId})`,
    stage: 40,
    mode: 1,
    rank: 1,
  });
}

/** Reload `page` until `probe()` is truthy (or time out). */
async function until(page, what, probe, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(400);
    await page.reload();
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function main() {
  mkdirSync(shots, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

  try {
    step('sign in');
    await page.goto(`${base}/console`);
    check(page.url().includes('/console/login'), `redirected to sign-in (at ${page.url()})`);
    await shot(page, 'login');
    await page.fill('#key', 'hk_not_a_key');
    await page.click('button[type=submit]');
    await page.getByText('That API key is not valid').waitFor();
    await page.fill('#key', key);
    await page.click('button[type=submit]');
    await page.waitForURL('**/console/jobs');
    const cookie = (await context.cookies(`${base}/console/jobs`)).find((c) => c.name === 'herald_console');
    check(cookie, 'session cookie set');
    check(cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict' && cookie.path === '/console', `cookie attributes ${JSON.stringify(cookie)}`);
    check(!cookie.value.includes(key), 'the cookie does not carry the key');
    problems.length = 0; // the refused sign-in logged its 401

    step('create a request bin in the console');
    await page.click('nav >> text=Request bins');
    await page.fill('input[name=name]', 'browser-bin');
    await page.click('#create-bin');
    await page.waitForURL(/\/console\/bins\/[0-9a-f-]{36}$/);
    const binUrl = await page.inputValue('#bin-url');
    check(binUrl.startsWith(`${base}/bins/`), `bin URL ${binUrl}`);

    step('register a webhook to the bin and an async Update step (Web API)');
    const hook = await create('serviceendpoints', {
      name: 'browser-bin', url: binUrl, contract: 8, authtype: 5,
      authvalue: '<settings><setting name="X-Herald-Test" value="browser" /></settings>',
      description: 'Sends contact updates to the console bin',
    });
    await registerStep('contact update → bin', hook, 'Update', 'contact');

    step('update a contact');
    const contact = await create('contacts', { firstname: 'Ada', lastname: 'Lovelace', emailaddress1: 'ada@example.com' });
    await webapi('PATCH', `contacts(${contact})`, { firstname: 'Augusta Ada', jobtitle: 'Analyst' });

    step('the request appears in the bin page');
    await page.goto(`${base}/console/bins`);
    await page.click('text=browser-bin');
    await until(page, 'the webhook request in the bin', async () => (await page.locator('.request').count()) > 0);
    const body = await page.locator('.request pre.json').first().innerText();
    check(body.includes('"MessageName": "Update"'), `pretty JSON body (${body.slice(0, 200)})`);
    check((await page.locator('.request').first().innerText()).includes('update'), 'request name badge');
    await shot(page, 'bin');

    step('the job is in System Jobs, succeeded');
    await page.click('nav >> text=System Jobs');
    await until(page, 'a succeeded job', async () => (await page.locator('#jobs tr', { hasText: 'contact update → bin' }).filter({ hasText: 'Succeeded' }).count()) > 0);

    step('a failing job (webhook to a closed port), retried from the console');
    const dead = await create('serviceendpoints', { name: 'closed-port', url: 'http://127.0.0.1:9/hook', contract: 8, authtype: 4, authvalue: 'k' });
    await registerStep('contact create → closed port', dead, 'Create', 'contact');
    await create('contacts', { firstname: 'Charles', lastname: 'Babbage' });
    await page.goto(`${base}/console/jobs?status=failed`);
    await until(page, 'a failed job', async () => (await page.locator('#jobs tbody tr').count()) > 0);
    await page.goto(`${base}/console/jobs`);
    await shot(page, 'jobs');
    await page.goto(`${base}/console/jobs?status=failed`);
    await page.locator('#jobs tbody tr a').first().click();
    await page.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/);
    const jobUrl = page.url();
    check((await page.locator('h1').innerText()).includes('Failed'), 'job detail shows Failed');
    check((await page.locator('#attempts tbody tr').count()) === 1, 'one attempt so far');
    await page.click('button:has-text("Retry")');
    await page.waitForURL('**?done=retry');
    await page.getByText('Retry requested').waitFor();
    await page.goto(jobUrl);
    await until(page, 'the retry attempt', async () => (await page.locator('#attempts tbody tr').count()) >= 2);
    await until(page, 'the retried job to fail again', async () => (await page.locator('h1').innerText()).includes('Failed'));
    await shot(page, 'job-failed');

    step('job detail of the delivered job');
    await page.goto(`${base}/console/jobs?status=succeeded`);
    await page.locator('#jobs tbody tr a').first().click();
    await page.locator('#context').waitFor();
    check((await page.locator('#context').innerText()).includes('"PrimaryEntityName": "contact"'), 'context JSON');
    await shot(page, 'job');

    step('webhooks, steps and BC subscription pages');
    await page.click('nav >> text=Webhooks');
    check((await page.locator('table.grid').innerText()).includes('closed-port'), 'webhooks listed');
    await shot(page, 'webhooks');
    await page.click('nav >> text=Steps');
    check((await page.locator('table.grid').innerText()).includes('contact update → bin'), 'steps listed');
    await shot(page, 'steps');
    const companies = await webapi('GET', '/api/v2.0/companies');
    const company = companies.body.value[0].id;
    await webapi('POST', '/api/v2.0/subscriptions', { notificationUrl: binUrl, resource: `/api/v2.0/companies(${company})/customers`, clientState: 'browser' });
    await webapi('POST', `/api/v2.0/companies(${company})/customers`, { displayName: 'Adatum Corporation' });
    await page.click('nav >> text=BC subscriptions');
    check((await page.locator('#subscriptions').innerText()).includes('customers'), 'subscription listed');
    await shot(page, 'bc');

    check(problems.length === 0, `no script errors or CSP violations: ${problems.join('; ')}`);
    step('passed');
  } catch (e) {
    console.error(`browser-test: FAILED at ${page.url()}: ${e.stack || e}`);
    try {
      await page.screenshot({ path: failureShot, fullPage: true });
      console.error(`browser-test: screenshot of the failure in ${failureShot}`);
      console.error(`browser-test: page text:\n${(await page.locator('body').innerText()).slice(0, 3000)}`);
    } catch { /* the page may be gone */ }
    await context.close();
    process.exit(1);
  }
  await context.close();
}

main().catch((e) => {
  console.error(`browser-test: ${e.stack || e}`);
  process.exit(1);
});
