import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium, headless, as every browser test here runs it (no browser is downloaded). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * A page logged in as `member` (its session put where the web client keeps it, as a login would),
 * collecting the page's errors. Tests add their own request listeners to `page`.
 */
export async function pageAs(
  browser: Browser,
  member: { id: number; token: string },
  viewport: { width: number; height: number },
  timeoutMs = 15_000,
): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  const session = {
    token: member.token,
    memberId: member.id,
    email: `member-${member.id}@example.com`,
    expiresAt: Date.now() + 3_600_000,
  };
  await context.addInitScript((s) => sessionStorage.setItem('ticketing.session', s), JSON.stringify(session));
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, context, errors };
}
