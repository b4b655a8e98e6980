// The offline IDE in a real headless Chromium: a person types a key, runs a query, starts a
// subscription and sees a rollback event arrive. Nothing is loaded from outside this server.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { IDE_ASSETS } from '../../src/graphql/ide.js';
import { bundleIde } from '../../src/graphql/ide-bundle.js';
import { createKey, ok, startTestApp, type TestApp } from '../support/app.js';

// These run inside the page (Playwright's evaluate), where the DOM exists.
declare const document: { querySelector(selector: string): unknown; activeElement: { dispatchEvent(e: unknown): boolean } | null };
declare class DataTransfer {
  setData(type: string, value: string): void;
}
declare class ClipboardEvent {
  constructor(type: string, init: { clipboardData: DataTransfer; bubbles: boolean; cancelable: boolean });
}
declare const localStorage: { getItem(key: string): string | null };

const CHROMIUM = '/usr/bin/chromium';
// CI installs Debian's chromium (.ci/run) and must fail without it; a laptop without it skips.
const skip = !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is not installed (apt-get install chromium)` : false;

/**
 * Puts a document into GraphiQL's operation editor (Monaco) as a person pasting it would: select
 * all, paste. A paste, not typing: Monaco closes brackets and quotes as they are typed.
 */
async function setQuery(page: Page, text: string): Promise<void> {
  const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
  await editor.waitFor();
  const normal = (s: string) => s.replace(/\s+/g, ' ').trim();
  const shows = async () => normal(await editorText(page)) === normal(text);
  // Monaco 0.52 applies a paste asynchronously, after its paste providers, and cancels it when the
  // selection changes first (copyPasteController.js): an Escape at once collapses the select-all and
  // the paste is lost. So wait for the text before any key, and paste again if it never lands.
  for (let attempt = 0; attempt < 5 && !(await shows()); attempt++) {
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.evaluate((q) => {
      const data = new DataTransfer();
      data.setData('text/plain', q);
      document.activeElement!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, text);
    for (let waited = 0; waited < 5_000 && !(await shows()); waited += 100) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(normal(await editorText(page)), normal(text), 'the operation editor shows the pasted document');
  await page.keyboard.press('Escape'); // close a suggestion list, as a person would before running
  // GraphiQL reads the operation name from the editor on a debounce; a person is never this fast.
  await new Promise((r) => setTimeout(r, 700));
}

/** What the operation editor shows (Monaco renders its lines as DOM, with non-breaking spaces). */
async function editorText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.querySelector('.graphiql-query-editor .view-lines') as unknown as { innerText: string } | null;
    return el ? el.innerText.replace(/\u00a0/g, ' ') : '';
  });
}

/** What the response pane shows (Monaco renders its lines as DOM, with non-breaking spaces). */
async function resultText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.querySelector('.result-window .view-lines') as unknown as { innerText: string } | null;
    return el ? el.innerText.replace(/\u00a0/g, ' ') : '';
  });
}

async function waitForResult(page: Page, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await resultText(page);
    if (pattern.test(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the result pane never showed ${pattern}; it shows:\n${text}`);
}

// `npm run build` bundles the IDE; a tree compiled by a bare tsc gets the same bundle here.
before(async () => {
  if (!existsSync(IDE_ASSETS['ide.js'])) await bundleIde();
});

describe('GraphiQL at GET /graphql in headless Chromium', { skip }, () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const outside: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    t = await startTestApp();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    const origin = new URL(t.url).origin;
    page.on('request', (req) => {
      if (!req.url().startsWith(origin) && !req.url().startsWith('data:')) outside.push(req.url());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('the page loads from this server alone, under a script-src self policy', async () => {
    const res = await page.goto(`${t.url}/graphql`);
    assert.equal(res?.status(), 200);
    assert.match(res!.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.locator('.graphiql-container').waitFor({ timeout: 15_000 });
    assert.deepEqual(outside, [], 'no request leaves the server');
    assert.deepEqual(pageErrors.filter((e) => /Content Security Policy|Refused/i.test(e)), [], 'nothing is blocked by the policy');
  });

  test('without a key a query is refused; with a typed key it returns data', async () => {
    ok(await t.gql(`mutation { provisionVm(input: { name: "ide-vm", portRules: [{ internalPort: 80 }] }) { id } }`));
    await setQuery(page, '{ vms(first: 5) { totalCount edges { node { name } } } }');
    await page.locator('.graphiql-execute-button').click();
    await waitForResult(page, /UNAUTHENTICATED/);

    const viewer = await createKey(t, 'VIEWER');
    await page.locator('#api-key').fill('');
    await page.locator('#api-key').pressSequentially(viewer);
    await page.locator('#use-key').click();
    await setQuery(page, '{ vms(first: 5) { totalCount edges { node { name } } } }');
    await page.locator('.graphiql-execute-button').click();
    const text = await waitForResult(page, /"totalCount": 1/);
    assert.match(text, /"name": "ide-vm"/);
    assert.equal(await page.evaluate(() => localStorage.getItem('vyos-vm-api:api-key')), viewer, 'the key is remembered');
    // The editor's GraphQL language service runs in a worker of ours (worker-src 'self', no blob:).
    assert.ok(
      page.workers().some((w) => w.url() === `${t.url}/ide/graphql.worker.js`),
      `workers: ${page.workers().map((w) => w.url()).join(', ')}`,
    );
  });

  test('the key survives a reload, and a subscription shows a rollback event as it happens', async () => {
    await page.reload();
    await page.locator('.graphiql-container').waitFor();
    assert.ok((await page.locator('#api-key').inputValue()).length > 0, 'the key is back in the field');
    await setQuery(page, 'subscription { rollbackEvents { operation stage outcome } }');
    const subscribed = page.waitForEvent('websocket').then((ws) =>
      ws.waitForEvent('framesent', { predicate: (f) => String(f.payload).includes('"subscribe"') }),
    );
    await page.locator('.graphiql-execute-button').click();
    await subscribed;
    // The subscribe frame is sent before the server has registered it: trigger until one arrives.
    let text = '';
    for (let i = 0; i < 5 && !/ROLLED_BACK/.test(text); i++) {
      t.sim.faults.rejectNextCommit();
      const res = await t.gql(`mutation { provisionVm(input: { name: "ide-rejected-${i}", portRules: [{ internalPort: 22 }] }) { id } }`);
      assert.equal(res.errors?.[0]?.extensions?.code, 'ROUTER_REJECTED');
      text = await waitForResult(page, /ROLLED_BACK/, 3_000).catch(() => '');
    }
    assert.match(text, /"operation": "provisionVm"/);
    assert.match(text, /"stage": "ROUTER_COMMIT"/);
    assert.match(text, /"outcome": "ROLLED_BACK"/);
  });

  test('a mutation runs from the IDE with an OPERATOR key', async () => {
    const operator = await createKey(t, 'OPERATOR');
    await page.locator('.graphiql-execute-button').click(); // stop the subscription
    await page.locator('#api-key').fill(operator);
    await page.locator('#api-key').press('Enter');
    await setQuery(page, 'mutation { provisionVm(input: { name: "from-the-ide", portRules: [{ internalPort: 443 }] }) { name portRules { ruleNumber } } }');
    await page.locator('.graphiql-execute-button').click();
    await waitForResult(page, /"name": "from-the-ide"/);
    assert.ok(t.routerRules().some((r) => r.internalPort === '443'), 'the rule reached the router');
  });
});

describe('GET /graphql without a browser', () => {
  test('GRAPHQL_IDE=false: no page, GraphQL still answers', async () => {
    const t = await startTestApp({ env: { GRAPHQL_IDE: 'false' } });
    try {
      const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
      assert.doesNotMatch(await page.text(), /graphiql/i);
      const asset = await fetch(`${t.url}/ide/ide.js`);
      assert.equal(asset.status, 404);
      ok(await t.gql('{ health { status } }'));
    } finally {
      await t.close();
    }
  });

  test('a GraphQL GET request (with query) is still answered by GraphQL, and assets are a fixed list', async () => {
    const t = await startTestApp();
    try {
      const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'text/html, application/json', 'apollo-require-preflight': 'true' } });
      assert.deepEqual(await res.json(), { data: { __typename: 'Query' } });
      const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
      assert.match(await page.text(), /\/ide\/ide\.js/);
      assert.equal((await fetch(`${t.url}/ide/package.json`)).status, 404);
      assert.equal((await fetch(`${t.url}/ide/constructor`)).status, 404);
      assert.equal((await fetch(`${t.url}/ide/ide.js`)).status, 200);
      assert.equal((await fetch(`${t.url}/ide/graphql.worker.js`)).status, 200);
    } finally {
      await t.close();
    }
  });
});
