// CORS as a browser applies it (issue 15, finding 9): a page on another origin listed in
// CORS_ORIGINS calls the API with the headers GraphQL clients and tracing add, and its script can
// read X-Request-Id, and Retry-After on a 429. Headless Chromium, as in ide-browser.test.ts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is not installed (apt-get install chromium)` : false;

interface Seen {
  status?: number;
  requestId?: string | null;
  retryAfter?: string | null;
  rateLimit?: string | null;
  body?: string;
  error?: string;
}

describe('a page on a listed origin, in headless Chromium', { skip }, () => {
  let t: TestApp;
  let site: Server;
  let origin: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    // The console app's origin: another port on this machine.
    site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>console</title>'));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    t = await startTestApp({ env: { CORS_ORIGINS: origin, RATE_LIMIT_READS_PER_MINUTE: '2' } });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    page = await browser.newPage();
    await page.goto(origin);
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await new Promise((r) => site?.close(r));
  });

  /** fetch() in the page: what a browser app's code can see of the reply. */
  function call(headers: Record<string, string>): Promise<Seen> {
    return page.evaluate(
      async ({ url, headers }) => {
        try {
          const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query: '{ vms { totalCount } }' }) });
          return { status: res.status, requestId: res.headers.get('x-request-id'), retryAfter: res.headers.get('retry-after'), rateLimit: res.headers.get('ratelimit'), body: await res.text() };
        } catch (e) {
          return { error: String(e) };
        }
      },
      { url: `${t.url}/graphql`, headers },
    );
  }

  test('the reply and its request id are readable, with tracing and Apollo client headers sent', async () => {
    const seen = await call({
      'content-type': 'application/json',
      authorization: `Bearer ${t.adminKey}`,
      'cache-control': 'no-cache',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'apollographql-client-name': 'console',
      'x-apollo-operation-name': 'Vms',
    });
    assert.equal(seen.error, undefined, 'the preflight let the request through');
    assert.equal(seen.status, 200, seen.body);
    assert.match(seen.body ?? '', /totalCount/);
    assert.match(seen.requestId ?? '', /^[0-9a-f-]{36}$/, 'X-Request-Id is exposed');
  });

  test('on a 429, Retry-After and RateLimit are readable', async () => {
    let seen: Seen = {};
    for (let i = 0; i < 4 && seen.status !== 429; i++) seen = await call({ 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` });
    assert.equal(seen.status, 429, JSON.stringify(seen));
    assert.match(seen.retryAfter ?? '', /^\d+$/, 'Retry-After is exposed');
    assert.match(seen.rateLimit ?? '', /;r=0/, 'RateLimit is exposed');
    assert.ok(seen.requestId);
  });
});
