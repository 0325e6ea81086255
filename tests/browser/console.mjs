// Browser test of herald's web console, run by scripts/browser-test against a
// real `herald serve`: Debian's headless Chromium driven by playwright-core.
//
// Signs in, creates a request bin in the console, registers a webhook to the
// bin and an async Update step (Web API), updates a contact, sees the request
// in the bin page and the job in System Jobs (with the request id the update
// was sent with, and a link to the contact's record page), makes a failing
// job (webhook to a closed port) and retries it from the console, and runs a
// BulkDelete whose System Job shows what it deleted. Then every
// page again at desktop width and at 390 px (a phone), in the light and the
// dark colour scheme: no horizontal scroll of the page, a nav whose links
// all fit and do not overlap, and readable text (contrast >= 4.5). Saves
// screenshots of the main pages (NAME.png, NAME-390.png, bin-390-dark.png).
// Exits non-zero on any failure.
//
// Environment: HERALD_BASE (http://127.0.0.1:PORT), HERALD_KEY (admin key),
// HERALD_PROFILE_DIR (fresh Chromium profile), HERALD_SCREENSHOTS (folder),
// HERALD_FAILURE_SHOT (where a failure's screenshot goes), CHROMIUM (default
// /usr/bin/chromium).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
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
async function webapi(method, path, body, extraHeaders = {}) {
  const url = path.startsWith('http') ? path : path.startsWith('/') ? `${base}${path}` : `${api}/${path}`;
  const resp = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'application/json', ...extraHeaders },
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

/** Width of the narrow (phone) viewport every console page is checked at. */
const NARROW = 390;

/**
 * Layout and colour checks of the page as shown now: no horizontal scroll
 * of the page at `width`, every nav link and button inside the viewport,
 * at least 12 px and not overlapping another, and every visible text
 * element readable against what is behind it (WCAG contrast >= 4.5).
 */
async function checkLayout(page, what, width) {
  const r = await page.evaluate((width) => {
    const problems = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > width) {
      const wide = [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > width + 0.5)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')} right=${Math.round(e.getBoundingClientRect().right)}`);
      problems.push(`page scrolls sideways: scrollWidth ${doc.scrollWidth} > ${width} (${wide.join(', ')})`);
    }
    const nav = [...document.querySelectorAll('nav.top a, nav.top button')];
    const boxes = nav.map((e) => ({ e, b: e.getBoundingClientRect(), size: parseFloat(getComputedStyle(e).fontSize) }));
    for (const { e, b, size } of boxes) {
      if (b.left < 0 || b.right > width + 0.5) problems.push(`nav '${e.textContent.trim()}' outside the viewport (${Math.round(b.left)}..${Math.round(b.right)})`);
      if (size < 12) problems.push(`nav '${e.textContent.trim()}' font ${size}px`);
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].b, c = boxes[j].b;
        if (a.left < c.right - 1 && c.left < a.right - 1 && a.top < c.bottom - 1 && c.top < a.bottom - 1) {
          problems.push(`nav '${boxes[i].e.textContent.trim()}' overlaps '${boxes[j].e.textContent.trim()}'`);
        }
      }
    }
    const rgba = (s) => {
      const m = s.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return rgba(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255, a: 1 };
    };
    const lum = (c) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
      return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    const root = getComputedStyle(document.documentElement).backgroundColor;
    const bodyBg = rgba(getComputedStyle(document.body).backgroundColor);
    if (!bodyBg || bodyBg.a < 0.5) problems.push(`the page has no background of its own (${root})`);
    const texts = [...document.querySelectorAll('nav.top a, nav.top span, nav.top button, main h1, main h2, main p, main td, main th, main pre, main a, main label, main .badge, main summary, main span, main input, main button, main select, main div.empty')];
    let checked = 0;
    for (const e of texts) {
      const b = e.getBoundingClientRect();
      if (b.width === 0 || b.height === 0) continue;
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()) || ['INPUT', 'SELECT'].includes(e.tagName);
      if (!own) continue;
      const fg = rgba(getComputedStyle(e).color);
      const bg = background(e);
      if (!fg) continue;
      const [l1, l2] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      checked++;
      if (ratio < 4.5) problems.push(`low contrast ${ratio.toFixed(2)} for ${e.tagName.toLowerCase()}.${[...e.classList].join('.')} '${(e.value || e.textContent).trim().slice(0, 40)}' (${getComputedStyle(e).color} on rgb(${bg.r}, ${bg.g}, ${bg.b}))`);
      if (problems.length > 12) break;
    }
    if (checked === 0) problems.push('no text found to check');
    return problems;
  }, width);
  check(r.length === 0, `${what} at ${width} px: ${r.join('; ')}`);
}

/**
 * Every console page again at phone width, in the light and the dark
 * scheme: layout and contrast checked, a screenshot of each saved as
 * NAME-390.png (light) and NAME-390-dark.png for the request bins.
 */
async function narrowPass(page, pages) {
  await page.setViewportSize({ width: NARROW, height: 844 });
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [name, url] of pages) {
      step(`${name} at ${NARROW} px, ${scheme} scheme`);
      await page.goto(url);
      await checkLayout(page, `${name} (${scheme})`, NARROW);
      if (scheme === 'light') await shot(page, `${name}-390`);
      else if (name.startsWith('bin')) await shot(page, `${name}-390-dark`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
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
    const requestId = randomUUID();
    await webapi('PATCH', `contacts(${contact})`, { firstname: 'Augusta Ada', jobtitle: 'Analyst' }, { 'x-request-id': requestId });

    step('the request appears in the bin page');
    await page.goto(`${base}/console/bins`);
    await page.click('text=browser-bin');
    await until(page, 'the webhook request in the bin', async () => (await page.locator('.request').count()) > 0);
    const body = await page.locator('.request pre.json').first().innerText();
    check(body.includes('"MessageName": "Update"'), `pretty JSON body (${body.slice(0, 200)})`);
    check((await page.locator('.request').first().innerText()).includes('update'), 'request name badge');
    await shot(page, 'bin');
    const binPage = page.url();

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
    const okJobUrl = page.url();
    const fields = await page.locator('table.kv').innerText();
    check(fields.includes(`Request id\t${requestId}`), `the request id of the PATCH (${requestId}) on the job page: ${fields}`);
    check(/Attempts\t1\b/.test(fields) && /Automatic retries\t0\b/.test(fields), `attempts and retries: ${fields}`);
    await shot(page, 'job');

    step('Regarding links to the record');
    await page.click(`table.kv a[href="/console/records/contact/${contact}"]`);
    await page.waitForURL(`**/console/records/contact/${contact}`);
    check((await page.locator('h1').innerText()).includes('Augusta Ada Lovelace'), 'the record page names the contact');
    check((await page.inputValue('#record-url')) === `${api}/contacts(${contact})`, 'the record\'s Web API URL');
    check((await page.locator('#record').innerText()).includes('Analyst'), 'the record\'s columns');
    const recordUrl = page.url();
    await shot(page, 'record');

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

    step('the audit trail');
    await page.click('nav >> text=Audit');
    check((await page.locator('#audit').innerText()).includes('serviceendpoint'), 'webhook changes audited');
    await shot(page, 'audit');

    step('a BulkDelete job in System Jobs');
    const bulk = await webapi('POST', 'BulkDelete', {
      QuerySet: [{ EntityName: 'contact', Criteria: { FilterOperator: 'And', Conditions: [{ AttributeName: 'lastname', Operator: 'Equal', Values: [{ Value: 'Babbage', Type: 'System.String' }] }] } }],
      JobName: 'Remove the Babbage contacts', SendEmailNotification: false, ToRecipients: [], CCRecipients: [], RecurrencePattern: '',
    });
    const bulkUrl = `${base}/console/jobs/${bulk.body.JobId}`;
    await page.goto(bulkUrl);
    await until(page, 'the bulk delete to complete', async () => (await page.locator('h1').innerText()).includes('Succeeded'));
    check((await page.locator('#bulk-success').innerText()).trim() === '1', 'one record deleted');
    check((await page.locator('table.kv').innerText()).includes('Bulk Delete'), 'the operation is named');
    await shot(page, 'job-bulk-delete');

    step('every page at desktop width: layout and contrast');
    const pages = [
      ['jobs', `${base}/console/jobs`],
      ['job-failed', jobUrl],
      ['job', okJobUrl],
      ['job-bulk-delete', bulkUrl],
      ['record', recordUrl],
      ['webhooks', `${base}/console/webhooks`],
      ['steps', `${base}/console/steps`],
      ['bc', `${base}/console/bc`],
      ['bins', `${base}/console/bins`],
      ['bin', binPage],
      ['audit', `${base}/console/audit`],
    ];
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [name, url] of pages) {
        await page.goto(url);
        await checkLayout(page, `${name} (${scheme})`, 1280);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await narrowPass(page, pages);

    step('sign out; the sign-in page at phone width');
    await page.setViewportSize({ width: NARROW, height: 844 });
    await page.goto(`${base}/console/jobs`);
    await page.click('nav >> text=Sign out');
    await page.waitForURL('**/console/login**');
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      await checkLayout(page, `login (${scheme})`, NARROW);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await shot(page, 'login-390');

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
