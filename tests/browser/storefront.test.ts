// The storefront in a real browser against the whole system: Debian's
// Chromium (playwright-core) drives the web app the gateway serves, which
// talks to the services only through its generated Connect-web client.
// Screenshots of the main pages go to test-results/screenshots/.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, screenshot } from "./chromium.ts";
import { startShop, type ShopSystem } from "./shop-system.ts";

const PASSWORD = "correct horse battery staple";
/** Waiting for the saga: reservation, payment (with retries for some cards), confirmation. */
const SAGA_TIMEOUT_MS = 60_000;

let shop: ShopSystem;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [shop, browser] = await Promise.all([startShop(), launchChromium()]);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await shop?.stop();
});

async function newPage(options: { width?: number; height?: number } = {}): Promise<Page> {
  const context = await browser.newContext({
    baseURL: shop.url,
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
  });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

let accounts = 0;
function newEmail(): string {
  return `shopper-${Date.now().toString(36)}-${accounts++}@shop.test`;
}

async function signUp(page: Page, name: string, email = newEmail()): Promise<string> {
  await page.goto("/signup");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return email;
}

/** Browses to a product by category and puts one in the cart. */
async function addKettleToCart(page: Page, screenshots = false): Promise<void> {
  await page.goto("/");
  await page.getByRole("navigation", { name: "Categories" }).getByRole("link", { name: "Kitchen" }).click();
  await page.getByRole("heading", { name: "Kitchen", level: 1 }).waitFor();
  await page.getByRole("link", { name: "Stovetop kettle" }).click();
  await page.getByRole("heading", { name: "Stovetop kettle", level: 1 }).waitFor();
  await page.getByText(/In stock \(\d+ available\)/).waitFor();
  if (screenshots) await screenshot(page, "product");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.getByRole("status").filter({ hasText: "Added 1 × Stovetop kettle" }).waitFor();
}

async function checkout(page: Page, cardNumber: string, screenshots = false): Promise<string> {
  await page.getByRole("link", { name: /^Cart/ }).click();
  await page.getByRole("heading", { name: "Your cart" }).waitFor();
  if (screenshots) await screenshot(page, "cart");
  await page.getByRole("link", { name: "Checkout" }).click();
  await page.getByLabel("Card number").fill(cardNumber);
  await page.getByLabel("CVC").fill("123");
  if (screenshots) await screenshot(page, "checkout");
  await page.getByRole("button", { name: "Place order" }).click();
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
  return page.url().split("/").at(-1)!;
}

describe("browsing", () => {
  it("lists categories and products with stock, pages through them, and searches from the keyboard", async () => {
    const page = await newPage();
    await page.goto("/");
    await page.getByRole("heading", { name: "All products" }).waitFor();
    const cards = page.getByRole("list", { name: "All products" }).getByRole("article");
    await cards.nth(11).waitFor();
    expect(await cards.count()).toBe(12);
    expect(await page.getByText(/In stock \(\d+ available\)/).count()).toBe(12);
    await page.waitForFunction("[...document.images].every((img) => img.complete)");
    await screenshot(page, "catalog");

    const firstName = await cards.first().getByRole("heading").textContent();
    await page.getByRole("button", { name: "Next page" }).click();
    await expect
      .poll(async () => cards.first().getByRole("heading").textContent(), { timeout: 20_000 })
      .not.toBe(firstName);
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect
      .poll(async () => cards.first().getByRole("heading").textContent(), { timeout: 20_000 })
      .toBe(firstName);

    // Keyboard only, from a fresh page: skip link, brand, then the search box.
    await page.goto("/");
    await page.getByRole("heading", { name: "All products" }).waitFor();
    for (let i = 0; i < 3; i++) await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.id")).toBe("search");
    await page.keyboard.type("kettle");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Results for “kettle”" }).waitFor();
    await page.getByRole("link", { name: "Stovetop kettle" }).waitFor();
  });

  it("fits a phone-sized screen", async () => {
    const page = await newPage({ width: 390, height: 844 });
    await page.goto("/?category=garden");
    await page.getByRole("heading", { name: "Garden", level: 1 }).waitFor();
    await page.getByRole("article").first().waitFor();
    const overflow = await page.evaluate<number>(
      "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, "catalog-phone");
  });
});

describe("sign-up", () => {
  it("shows the server's field violations next to each field", async () => {
    const page = await newPage();
    await page.goto("/signup");
    await page.getByLabel("Email", { exact: true }).fill("not-an-email");
    await page.getByLabel("Password", { exact: true }).fill("short");
    await page.getByRole("button", { name: "Create account" }).click();

    const emailError = page.locator("#signup-email-error");
    await emailError.waitFor();
    expect(await emailError.textContent()).toMatch(/email/i);
    expect(await page.locator("#signup-password-error").textContent()).toMatch(/10/);
    expect(await page.locator("#signup-name-error").textContent()).not.toBe("");
    const email = page.getByLabel("Email", { exact: true });
    expect(await email.getAttribute("aria-invalid")).toBe("true");
    expect(await email.getAttribute("aria-describedby")).toContain("signup-email-error");
    await screenshot(page, "signup-errors");

    // Fixed, it goes through; the same email again belongs to the email field.
    const address = newEmail();
    await email.fill(address);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Your name").fill("Val Idation");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("link", { name: "Sign up" }).click();
    await page.getByLabel("Email", { exact: true }).fill(address);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Your name").fill("Val Again");
    await page.getByRole("button", { name: "Create account" }).click();
    await emailError.waitFor();
    expect(await emailError.textContent()).toMatch(/already|taken|exists/i);
    expect(await page.locator("#signup-password-error").count()).toBe(0);
  });
});

describe("buying", () => {
  let buyer: Page;
  let confirmedOrderId: string;

  it("a full purchase is seen live until CONFIRMED", async () => {
    buyer = await newPage();
    await signUp(buyer, "Ada Buyer");
    await addKettleToCart(buyer, true);
    // Marks this document: still there at the end means no reload happened.
    await buyer.evaluate("window.sameDocument = true");
    confirmedOrderId = await checkout(buyer, "4242424242424242", true);

    const status = buyer.getByTestId("order-status");
    await status.filter({ hasText: "Confirmed" }).waitFor({ timeout: SAGA_TIMEOUT_MS });
    expect(await buyer.evaluate("window.sameDocument")).toBe(true);
    const timeline = buyer.getByRole("list", { name: "Order timeline" }).getByRole("listitem");
    expect(await timeline.count()).toBeGreaterThanOrEqual(2);
    expect(await buyer.getByRole("link", { name: /^Cart/ }).textContent()).toContain("0");
    // The confirmation notification arrives live too (WatchNotifications).
    await buyer
      .locator(".toast")
      .filter({ hasText: /confirmed/i })
      .first()
      .waitFor({ timeout: SAGA_TIMEOUT_MS });
    await screenshot(buyer, "order-confirmed");
  }, 150_000);

  it("order history survives a reload, with the timeline", async () => {
    await buyer.getByRole("link", { name: "Orders", exact: true }).click();
    const card = buyer.locator(`[data-order-id="${confirmedOrderId}"]`);
    await card.waitFor();
    await buyer.reload();
    await card.waitFor();
    expect(await card.textContent()).toContain("Confirmed");
    await card.getByText("Timeline").click();
    expect(await card.getByRole("listitem").count()).toBeGreaterThanOrEqual(2);
    await screenshot(buyer, "orders");

    await buyer.getByRole("link", { name: /^Notifications/ }).click();
    await buyer.getByRole("heading", { name: "Notifications", level: 1 }).waitFor();
    await buyer
      .getByRole("list", { name: "Notifications" })
      .getByText(/confirmed/i)
      .first()
      .waitFor();
    await screenshot(buyer, "notifications");
  });

  it("a declined card is seen as CANCELLED with its reason", async () => {
    const page = await newPage();
    await signUp(page, "Dee Clined");
    await addKettleToCart(page);
    // A mistyped number first: the payment service's complaint lands under the card number.
    await page.goto("/checkout");
    await page.getByLabel("Card number").fill("4242424242424241");
    await page.getByLabel("CVC").fill("123");
    await page.getByRole("button", { name: "Place order" }).click();
    const cardError = page.locator("#card-number-error");
    await cardError.waitFor();
    expect(await cardError.textContent()).toMatch(/card number/i);
    await checkout(page, "4000000000000002");
    await page.getByTestId("order-status").filter({ hasText: "Cancelled" }).waitFor({ timeout: SAGA_TIMEOUT_MS });
    const reason = await page.getByTestId("cancellation").textContent();
    expect(reason).toMatch(/payment failed/i);
    expect(reason).toMatch(/declined/i);
    await screenshot(page, "order-cancelled");
  }, 150_000);
});
