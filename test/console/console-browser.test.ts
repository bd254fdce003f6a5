/**
 * The console in a real browser: Debian's chromium driven by playwright-core. Pastes (and loads from a file) a
 * sample ORU into the workbench and checks the feature row, loads the training page and the aggregator console,
 * and writes docs/screenshots/{workbench,training,aggregator}.png. No request may leave the two origins, and no
 * Content-Security-Policy violation may occur (the inline CSS and JS run only through the per-response nonce).
 *
 * Needs: `apt-get install -y chromium` and `npm install -D playwright-core`; skipped with the reason otherwise.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_ORU, startConsoleWorld, TOKEN, type ConsoleWorld } from './fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'docs', 'screenshots');
const SHARED_ORU = join(process.cwd(), '..', 'shared', 'samples', 'hl7v2', 'ms-fhir-converter', 'messages', 'ORU-R01-01.hl7');

// Only the calls this test makes; playwright-core is optional, so its types may be absent at compile time.
interface Locator {
  textContent(): Promise<string | null>;
  count(): Promise<number>;
  first(): Locator;
  fill(v: string): Promise<void>;
  click(): Promise<void>;
  inputValue(): Promise<string>;
}
interface Page {
  goto(url: string): Promise<unknown>;
  url(): string;
  locator(selector: string, o?: { hasText?: string }): Locator;
  getByLabel(text: string): Locator;
  getByRole(role: string, o: { name: string }): Locator;
  keyboard: { press(key: string): Promise<void> };
  setInputFiles(selector: string, file: string): Promise<void>;
  waitForURL(url: string | RegExp): Promise<void>;
  waitForFunction(fn: string): Promise<unknown>;
  evaluate<T>(fn: string): Promise<T>;
  screenshot(o: { path: string; fullPage: boolean }): Promise<unknown>;
  on(event: 'request', fn: (r: { url(): string }) => void): void;
  on(event: 'console', fn: (m: { type(): string; text(): string }) => void): void;
}
interface Context {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Chromium {
  launchPersistentContext(dir: string, o: Record<string, unknown>): Promise<Context>;
}

async function loadPlaywright(): Promise<{ chromium?: Chromium; reason?: string }> {
  if (!existsSync(CHROMIUM)) return { reason: `${CHROMIUM} not found: apt-get install -y chromium` };
  try {
    const resolved = createRequire(import.meta.url).resolve('playwright-core');
    const mod = (await import(resolved)) as { chromium: Chromium };
    return { chromium: mod.chromium };
  } catch {
    return { reason: 'playwright-core is not installed: npm install -D playwright-core' };
  }
}

const pw = await loadPlaywright();
if (pw.reason) console.warn(`console browser tests skipped: ${pw.reason}`);

describe.skipIf(!pw.chromium)(`console in chromium${pw.reason ? ` (skipped: ${pw.reason})` : ''}`, () => {
  let world: ConsoleWorld;
  let context: Context;
  let page: Page;
  let profile: string;
  const offOrigin: string[] = [];
  const cspViolations: string[] = [];

  beforeAll(async () => {
    world = await startConsoleWorld();
    profile = mkdtempSync(join(tmpdir(), 'fhirfed-chromium-'));
    context = await (pw.chromium as Chromium).launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1280, height: 900 },
    });
    page = await context.newPage();
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(world.gatewayBase) && !u.startsWith(world.aggregatorBase) && !u.startsWith('data:')) offOrigin.push(u);
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    mkdirSync(SHOTS, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await world?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('logs in with the keyboard and lands on the workbench', async () => {
    await page.goto(`${world.gatewayBase}/console/`);
    expect(page.url()).toBe(`${world.gatewayBase}/console/login`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement.textContent')).toBe('Skip to content');
    await page.getByLabel('Operator token').fill(TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${world.gatewayBase}/console/workbench`);
    expect(await page.locator('h1').textContent()).toBe('Mapping workbench');
  });

  it('loads a message file into the box client-side, and shows the feature row a pasted ORU yields', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fhirfed-oru-'));
    const file = join(dir, 'oru.hl7');
    writeFileSync(file, SAMPLE_ORU);
    await page.setInputFiles('#file', file);
    await page.waitForFunction("document.getElementById('input').value.startsWith('MSH|')");
    expect((await page.getByLabel('Message (HL7v2 or FHIR JSON)').inputValue()).replace(/\r?\n/g, '\r')).toBe(SAMPLE_ORU.replace(/\r?\n/g, '\r'));
    rmSync(dir, { recursive: true, force: true });
    // paste it again by hand, as an engineer would
    await page.getByLabel('Message (HL7v2 or FHIR JSON)').fill(SAMPLE_ORU.replace(/\r/g, '\n'));
    await page.getByRole('button', { name: 'Convert and harmonize' }).click();
    await page.waitForURL(`${world.gatewayBase}/console/workbench`);
    const glucose = (await page.locator('#feature-row-0 tr', { hasText: 'glucose' }).first().textContent()) ?? '';
    expect(glucose).toContain('6.994');
    expect(glucose).toContain('mmol/L');
    expect(glucose).toContain('labs.value');
    expect(glucose).toMatch(/concept-map@1\.0\.0 → unit-repair@1\.0\.0 → ucum@1\.0\.0/);
    const quarantined = (await page.locator('#quarantined-0').textContent()) ?? '';
    expect(quarantined).toMatch(/systolic_bp\s*implausible-value/);
    expect(await page.locator('#fhir-output').textContent()).toContain('"resourceType": "Bundle"');
    await page.screenshot({ path: join(SHOTS, 'workbench.png'), fullPage: true });
  });

  it.skipIf(!existsSync(SHARED_ORU))('converts a real-world ORU from ../shared/samples (absent: skipped)', async () => {
    await page.getByLabel('Message (HL7v2 or FHIR JSON)').fill(readFileSync(SHARED_ORU, 'utf8'));
    await page.getByRole('button', { name: 'Convert and harmonize' }).click();
    await page.waitForURL(`${world.gatewayBase}/console/workbench`);
    // Its codes are LOINC, not hospital C's local ones: the page lists them as unmapped instead of failing.
    expect(await page.locator('#result-h').count()).toBe(1);
    expect(await page.locator('#fhir-output').textContent()).toContain('"resourceType": "Bundle"');
  });

  it('shows the training and federation page with its plots', async () => {
    await page.getByRole('link', { name: 'Training and federation' }).click();
    await page.waitForURL(`${world.gatewayBase}/console/training`);
    expect(await page.locator('svg[role="img"]').count()).toBe(3);
    expect(await page.locator('#round-metrics tbody tr').count()).toBe(3);
    expect(await page.locator('#privacy-summary').textContent()).toMatch(/epsilon budget\s*30/);
    await page.screenshot({ path: join(SHOTS, 'training.png'), fullPage: true });
  });

  it('shows the aggregator console after its own login', async () => {
    await page.goto(`${world.aggregatorBase}/console/`);
    await page.waitForURL(`${world.aggregatorBase}/console/login`);
    await page.getByLabel('Operator token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${world.aggregatorBase}/console/`);
    expect(await page.locator('#sites tbody tr').count()).toBe(2);
    expect(await page.locator('#versions tbody tr').count()).toBe(4);
    expect(await page.locator('svg[role="img"]').count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'aggregator.png'), fullPage: true });
  });

  it('made no request off the two origins and no CSP violation, and wrote the screenshots', () => {
    expect(offOrigin).toEqual([]);
    expect(cspViolations).toEqual([]);
    const shots = readdirSync(SHOTS).filter((f) => f.endsWith('.png'));
    for (const name of ['workbench.png', 'training.png', 'aggregator.png']) {
      expect(shots).toContain(name);
      expect(statSync(join(SHOTS, name)).size).toBeGreaterThan(10_000);
    }
  });
});
