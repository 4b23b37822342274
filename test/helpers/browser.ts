import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, headless, as every browser test here runs it (no browser is downloaded). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
