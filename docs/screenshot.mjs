// Takes a screenshot of a real conversation in the Microsoft 365 Agents Playground's web UI:
// types a question into the compose box as a person would and waits for the bot's card.
// Usage: node docs/screenshot.mjs <playground url> <question> <text the answer shows> <out.png>
import { chromium } from "playwright-core";

const [url, question, expected, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  // Only this machine is reachable: fonts and telemetry from elsewhere would only stall the page.
  await page.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    return ["localhost", "127.0.0.1"].includes(host) ? route.continue() : route.abort();
  });
  await page.goto(url, { waitUntil: "domcontentloaded" });
  const compose = page.locator('[data-lexical-editor="true"][role="textbox"]');
  await compose.waitFor({ timeout: 30000 });
  await compose.click();
  await page.keyboard.type(question);
  await page.keyboard.press("Enter");
  await page.getByText(expected).first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(1000);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
