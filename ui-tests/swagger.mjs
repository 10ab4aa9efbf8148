// drey's Swagger UI in real headless Chromium (playwright-core, Debian's
// /usr/bin/chromium). Run by crates/drey/tests/vvp_openapi.rs:
//
//   node ui-tests/swagger.mjs <drey url>
//
// Checks that /swagger/ renders the three OpenAPI documents (VVP's two, CMF's)
// with their operations,
// that no request leaves drey (the UI's files are served by drey itself), and
// that the page has no script errors. Exits non-zero on the first failure.

import { chromium } from 'playwright-core';

const [base] = process.argv.slice(2);
if (!base) {
  console.error('usage: node swagger.mjs <drey url>');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const page = await browser.newPage();
page.setDefaultTimeout(20_000);
const errors = [];
const outside = [];
page.on('pageerror', (e) => errors.push(e.message));
page.on('request', (r) => {
  if (!r.url().startsWith(base) && !r.url().startsWith('data:')) outside.push(r.url());
});

try {
  await page.goto(`${base}/swagger/`);
  await page.locator('.swagger-ui .info .title', { hasText: 'Application Manager' }).waitFor();
  await page.locator('.opblock-summary-path', { hasText: '/api/v1/namespaces/{namespace}/deployments' }).first().waitFor();
  // The other document, from the top bar's selector.
  await page.locator('.topbar select').selectOption({ label: 'Platform API' });
  await page.locator('.swagger-ui .info .title', { hasText: 'platform API' }).waitFor();
  await page.locator('.opblock-summary-path', { hasText: '/sql/v1beta1/namespaces/{ns}/sqlscripts:execute' }).first().waitFor();
  await page.locator('.topbar select').selectOption({ label: 'CMF API' });
  await page.locator('.swagger-ui .info .title', { hasText: 'Confluent Manager for Apache Flink' }).waitFor();
  await page.locator('.opblock-summary-path', { hasText: '/cmf/api/v1/environments/{envName}/statements/{stmtName}/results' }).first().waitFor();
  if (outside.length) throw new Error(`requests left drey: ${outside.join(', ')}`);
  if (errors.length) throw new Error(`script errors: ${errors.join('; ')}`);
  console.log('swagger UI: the three documents render');
} catch (e) {
  console.error(`swagger UI check failed: ${e.message}`);
  console.error((await page.locator('body').innerText().catch(() => '')).slice(0, 2000));
  await browser.close();
  process.exit(1);
}
await browser.close();
