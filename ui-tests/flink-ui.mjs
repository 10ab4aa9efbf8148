// Flink's own Web UI through drey's proxy in real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core). Run by
// crates/drey/tests/lakesail_flink.rs with a pre-signed URL of a running
// application:
//
//   node ui-tests/flink-ui.mjs <pre-signed url> <drey url> <job name> <artifacts dir>
//
// Checks that the proxied pages are sandboxed (an opaque origin: no access to
// drey's sessionStorage, where the console keeps its token, nor to its
// cookies) and that Flink's UI still works there: its overview shows the
// TaskManager and the running job, and its application's and job's pages
// open. Exits non-zero
// on the first failed check, with a screenshot.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [url, base, jobName, artifacts] = process.argv.slice(2);
if (!url || !base || !jobName || !artifacts) {
  console.error('usage: node flink-ui.mjs <pre-signed url> <drey url> <job name> <artifacts dir>');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const STEP = 30_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const page = await context.newPage();
page.setDefaultTimeout(STEP);
const failedRequests = [];
page.on('requestfailed', (r) =>
  failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText} (sent ${JSON.stringify(r.headers())})`));
page.on('console', (m) => {
  if (m.type() === 'error') failedRequests.push(`console: ${m.text()}`);
});
page.on('response', (r) => {
  if (r.status() >= 400) failedRequests.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
});

function check(condition, message) {
  if (!condition) throw new Error(message);
}

try {
  // drey's origin holds a token the way the console does.
  await page.goto(`${base}/ui/`);
  await page.evaluate(() => sessionStorage.setItem('drey-token', 'secret-token-of-the-console'));

  console.log('open the pre-signed URL');
  await page.goto(url);
  await page.locator('text=/Available Task Slots/i').first().waitFor();
  await page.locator(`text=${jobName}`).first().waitFor();
  await page.screenshot({ path: join(artifacts, 'flink-ui-overview.png') });

  console.log('the page runs in an opaque origin');
  const seen = await page.evaluate(() => {
    const attempt = (f) => {
      try {
        return `read: ${f()}`;
      } catch (e) {
        return `blocked: ${e.name}`;
      }
    };
    return {
      origin: self.origin,
      storage: attempt(() => sessionStorage.getItem('drey-token')),
      cookie: attempt(() => document.cookie),
    };
  });
  console.log(JSON.stringify(seen));
  check(seen.origin === 'null', `the Flink page's origin is opaque: ${seen.origin}`);
  check(seen.storage.startsWith('blocked'), `sessionStorage is out of reach: ${seen.storage}`);
  check(seen.cookie.startsWith('blocked'), `cookies are out of reach: ${seen.cookie}`);

  console.log("open the application's page, then the job's");
  await page.locator(`text=${jobName}`).first().click();
  await page.locator('text=/Running Job List/').first().waitFor();
  await page.locator('td', { hasText: jobName }).first().click();
  await page.locator('text=/Checkpoints/').first().waitFor();
  await page.locator('text=/Exceptions/').first().waitFor();
  await page.screenshot({ path: join(artifacts, 'flink-ui-job.png') });
  // ERR_ABORTED: a poll the UI cancels itself when the route changes.
  const broken = failedRequests.filter((r) => !r.includes('favicon') && !r.includes('net::ERR_ABORTED'));
  check(broken.length === 0, `every request of the UI succeeded: ${broken.join('\n')}`);
  console.log('ok');
} catch (e) {
  await page.screenshot({ path: join(artifacts, 'flink-ui-failed.png') }).catch(() => {});
  console.error(`failed: ${e.message}`);
  console.error(`failed requests:\n${failedRequests.join('\n')}`);
  console.error((await page.locator('body').innerText().catch(() => '')).slice(0, 2000));
  await browser.close();
  process.exit(1);
}
await browser.close();
