// The README's first run in real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core). Run by crates/drey/tests/first_run.rs against a
// drey server started as scripts/run.sh starts it (tokens off), once the
// example application runs:
//
//   node ui-tests/first-run.mjs <drey url> <environment> <application> <job name> <artifacts dir>
//
// Opens the console at the environment, clicks the application's "Flink Web
// UI" link and checks that the tab it opens is Flink's Web UI showing the
// running job; then that the application's page shows its health (the
// figures of its job, no alert firing). Exits non-zero on the first failed
// check, with a screenshot.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [base, env, app, jobName, artifacts] = process.argv.slice(2);
if (!base || !env || !app || !jobName || !artifacts) {
  console.error('usage: node first-run.mjs <drey url> <environment> <application> <job name> <artifacts dir>');
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
let flink = null;
try {
  console.log(`open the console at environment ${env}`);
  await page.goto(`${base}/ui/#/env/${encodeURIComponent(env)}`);
  const link = page.locator(`tr[data-name="${app}"] a[data-flink-ui]`);
  await link.waitFor();
  await page.screenshot({ path: join(artifacts, 'first-run-console.png') });

  console.log('one click on its Flink Web UI link');
  [flink] = await Promise.all([context.waitForEvent('page'), link.click()]);
  flink.setDefaultTimeout(STEP);
  await flink.locator('text=/Available Task Slots/i').first().waitFor();
  await flink.locator(`text=${jobName}`).first().waitFor();
  await flink.locator('text=/RUNNING/').first().waitFor();
  await flink.screenshot({ path: join(artifacts, 'first-run-flink-ui.png') });
  console.log(`ok: ${flink.url()}`);

  console.log('the application page shows its health: the figures drey saw, no alert firing');
  await page.goto(`${base}/ui/#/env/${encodeURIComponent(env)}/app/${encodeURIComponent(app)}`);
  await page.locator('[data-field="health-restarts"]').waitFor({ timeout: 90_000 });
  const restarts = (await page.locator('[data-field="health-restarts"]').innerText()).trim();
  if (!/^\d+$/.test(restarts)) throw new Error(`restarts shows '${restarts}'`);
  await page.locator('section[aria-labelledby="health-h"] .badge', { hasText: 'RUNNING' }).first().waitFor();
  await page.locator('section[aria-labelledby="health-h"]', { hasText: 'No alert is firing.' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'first-run-health.png'), fullPage: true });
  console.log(`ok: health shows the job RUNNING with ${restarts} restart(s)`);
} catch (e) {
  await page.screenshot({ path: join(artifacts, 'first-run-failed.png') }).catch(() => {});
  if (flink) await flink.screenshot({ path: join(artifacts, 'first-run-flink-failed.png') }).catch(() => {});
  console.error(`failed: ${e.message}`);
  console.error((await (flink || page).locator('body').innerText().catch(() => '')).slice(0, 2000));
  await browser.close();
  process.exit(1);
}
await browser.close();
