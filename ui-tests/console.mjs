// End-to-end test of drey's web console in real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core). Run by
// crates/drey/tests/web_console.rs against a real drey server with tokens on
// and real Flink:
//
//   node ui-tests/console.mjs <drey url> <token> <artifacts dir>
//
// The FlinkApplication to deploy comes as YAML in DREY_CONSOLE_APP_YAML (its
// metadata.name is read from it). Screenshots go to the artifacts dir;
// DREY_UPDATE_SCREENSHOT=1 also writes docs/console.png. Exits non-zero on the
// first failed step, with a screenshot and the page's text.

import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [base, token, artifacts] = process.argv.slice(2);
const appYaml = process.env.DREY_CONSOLE_APP_YAML;
if (!base || !token || !artifacts || !appYaml) {
  console.error('usage: DREY_CONSOLE_APP_YAML=... node console.mjs <drey url> <token> <artifacts dir>');
  process.exit(2);
}
const appName = /^metadata:\s*\n\s+name:\s*(\S+)/m.exec(appYaml)?.[1];
const ENV = 'console';
const DEPLOY = 240_000; // a Flink cluster starting or stopping on a small machine
const STEP = 15_000;
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const page = await context.newPage();
page.setDefaultTimeout(STEP);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('dialog', (d) => d.dismiss()); // the console never uses window.confirm/alert

let stepName = 'start';
const started = Date.now();
function step(name) {
  stepName = name;
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${name}`);
}
async function shot(name, options = {}) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), ...options });
}
function check(condition, message) {
  if (!condition) throw new Error(message);
}
/** Waits until `selector` shows text matching `re`. */
async function waitText(selector, re, timeout = STEP) {
  await page.locator(selector, { hasText: re }).first().waitFor({ timeout });
}
/** Waits until Flink (asked through drey's proxy) runs every task of the application's job. */
async function tasksRunning() {
  const url = `${base}/cmf/api/v1/environments/${ENV}/applications/${appName}/flink-web-ui/jobs/overview`;
  const deadline = Date.now() + DEPLOY;
  for (;;) {
    const response = await page.request.get(url, { headers: { Authorization: `Bearer ${token}` } });
    const jobs = response.ok() ? (await response.json()).jobs || [] : [];
    if (jobs.some((j) => j.state === 'RUNNING' && j.tasks && j.tasks.running === j.tasks.total)) return;
    check(Date.now() < deadline, `the job's tasks are not running: ${JSON.stringify(jobs)}`);
    await page.waitForTimeout(300);
  }
}
const row = (name) => `tr[data-name="${name}"]`;
const errorFor = (id) => page.locator(`[data-error-for="${id}"]`);

async function main() {
  step('the console needs no token to load, and asks for one');
  const response = await page.goto(`${base}/ui`);
  check(response.ok(), `GET /ui answered ${response.status()}`);
  check(page.url().endsWith('/ui/'), `/ui redirects to /ui/, not ${page.url()}`);
  await page.getByLabel('API token').waitFor();
  await shot('01-sign-in');

  step('a wrong token: a clear 401 message');
  await page.getByLabel('API token').fill('drey_nope_wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitText('#token-error', /401/);
  await shot('02-wrong-token');

  step('the right token');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Environments', exact: true }).waitFor();
  await waitText('main', /No environments yet/);
  check(await page.evaluate(() => sessionStorage.getItem('drey.token')) === token, 'the token is kept in sessionStorage');
  await shot('03-environments-empty', { fullPage: true });

  step('create an environment with the YAML editor');
  await page.getByLabel('Environment YAML').fill(`name: ${ENV}\n`);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator(row(ENV)).waitFor();
  await page.reload(); // the token survives a reload (same tab)
  await page.locator(row(ENV)).waitFor();
  await page.getByRole('link', { name: ENV, exact: true }).click();
  await waitText('main', new RegExp(`No applications in ${ENV} yet`));

  step('malformed YAML: the error names the line');
  const editor = page.getByLabel('Application YAML');
  await editor.fill('kind: FlinkApplication\nmetadata: [unclosed\n');
  await page.getByRole('button', { name: 'Apply' }).click();
  await errorFor('application-yaml').waitFor();
  const syntax = await errorFor('application-yaml').innerText();
  check(/Line \d+/.test(syntax) && /malformed YAML/.test(syntax), `syntax error shown with its line: ${syntax}`);
  check(await editor.getAttribute('aria-invalid') === 'true', 'the editor is marked invalid');
  await shot('04-yaml-syntax-error', { fullPage: true });

  step('an invalid field: the server\'s message, at the field\'s line');
  const invalid = appYaml.replace(/upgradeMode: \S+/, 'upgradeMode: sideways');
  await editor.fill(invalid);
  await page.getByRole('button', { name: 'Apply' }).click();
  await waitText('[data-error-for="application-yaml"]', /spec\.job\.upgradeMode/);
  const expectedLine = invalid.split('\n').findIndex((l) => l.includes('upgradeMode: sideways')) + 1;
  const line = await errorFor('application-yaml').getAttribute('data-line');
  check(line === String(expectedLine), `the error points at line ${expectedLine}, not ${line}`);
  await shot('05-validation-error', { fullPage: true });

  step('apply the application; it runs on real Flink');
  await editor.fill(appYaml);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator(row(appName)).waitFor();
  check(await errorFor('application-yaml').isHidden(), 'no error after a valid apply');
  await waitText(`${row(appName)} [data-col="job"]`, /^RUNNING$/, DEPLOY);
  await waitText(`${row(appName)} [data-col="lifecycle"]`, /^STABLE$/, DEPLOY);
  await shot('06-application-running', { fullPage: true });

  step('the application detail: status, cluster through the proxy, events');
  await page.getByRole('link', { name: appName, exact: true }).click();
  await waitText('[data-field="job-state"]', /^RUNNING$/);
  await waitText('main', /TaskManagers/); // Flink's overview, fetched through drey's proxy with the token
  await waitText('main', /JOB_SUBMITTED|JOB_STATUS/);
  check(await page.locator('[data-flink-ui]').count() === 0, 'no Flink UI link with tokens on (a link cannot carry the header)');
  await page.locator('#flink-ui-note').waitFor();

  step('take a savepoint');
  // Flink reports the job RUNNING before its tasks are; a savepoint needs the tasks.
  await tasksRunning();
  await page.getByRole('button', { name: 'Take savepoint', exact: true }).click();
  await waitText('[data-field="savepoint-state"]', /^COMPLETED$/, DEPLOY);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('07-application-detail', { fullPage: true });
  if (process.env.DREY_UPDATE_SCREENSHOT === '1') {
    await page.screenshot({ path: join(repo, 'docs', 'console.png') });
    console.log('wrote docs/console.png');
  }

  step('suspend: SUSPENDED');
  await page.getByRole('button', { name: 'Suspend', exact: true }).click();
  await waitText('[data-field="desired-state"]', /^suspended$/);
  await waitText('[data-field="lifecycle-state"]', /^SUSPENDED$/, DEPLOY);
  await shot('08-suspended', { fullPage: true });

  step('start: RUNNING again, from the savepoint');
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await waitText('[data-field="job-state"]', /^RUNNING$/, DEPLOY);
  await waitText('[data-field="lifecycle-state"]', /^STABLE$/, DEPLOY);

  step('keyboard: the actions are buttons reachable with Tab');
  const actions = page.getByRole('group', { name: 'Application actions' }).locator('button');
  check(await actions.count() === 4, 'four action buttons');
  await page.getByRole('button', { name: 'Delete', exact: true }).focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await shot('09-delete-confirmation');

  step('delete: cancelling keeps it');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await page.waitForTimeout(500);
  check((await page.request.get(`${base}/cmf/api/v1/environments/${ENV}/applications/${appName}`, { headers: { Authorization: `Bearer ${token}` } })).ok(), 'still there after cancel');

  step('delete: confirmed');
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await dialog.getByRole('button', { name: 'Delete application' }).click();
  await page.waitForURL(new RegExp(`#/env/${ENV}$`));
  await waitText('main', new RegExp(`No applications in ${ENV} yet`), DEPLOY);

  step('statements, compute pools and secrets: empty states');
  await page.getByRole('link', { name: 'Statements' }).click();
  await waitText('main', new RegExp(`No statements in ${ENV}`));
  await page.getByRole('link', { name: 'Compute pools' }).click();
  await waitText('main', new RegExp(`No compute pools in ${ENV}`));
  await page.getByRole('link', { name: 'Secrets' }).click();
  await waitText('main', /No secrets/);
  await waitText('main', /never shown/);
  await shot('10-secrets-empty', { fullPage: true });

  step('a phone-sized screen: no sideways scrolling');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/ui/#/`);
  await page.locator(row(ENV)).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390px`);
  await shot('11-phone-environments', { fullPage: true });
  await page.setViewportSize({ width: 1280, height: 860 });

  step('delete the environment, with confirmation');
  await page.getByRole('button', { name: `Delete environment ${ENV}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete environment' }).click();
  await waitText('main', /No environments yet/);

  step('sign out: the token is gone, the form is back');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API token').waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('drey.token')) === null, 'signed out');

  check(pageErrors.length === 0, `JavaScript errors: ${pageErrors.join('; ')}`);
}

try {
  await main();
  console.log(`console test passed in ${((Date.now() - started) / 1000).toFixed(1)}s; screenshots in ${artifacts}`);
  await browser.close();
} catch (e) {
  console.error(`console test failed at "${stepName}": ${e.message}`);
  try {
    await shot('failure', { fullPage: true });
    writeFileSync(join(artifacts, 'failure.txt'), `${stepName}\n${e.stack}\n\n${await page.innerText('body')}`);
    console.error(`page text:\n${(await page.innerText('body')).slice(0, 3000)}`);
  } catch { /* the page may be gone */ }
  if (pageErrors.length) console.error(`JavaScript errors: ${pageErrors.join('; ')}`);
  await browser.close();
  process.exit(1);
}
