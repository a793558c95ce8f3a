// The storefront in a real browser against the whole system: Debian's
// Chromium (playwright-core) drives the web app the gateway serves, which
// talks to the services only through its generated Connect-web client.
// Screenshots of every page go to test-results/screenshots/ (and, with
// README_SCREENSHOTS=1, the README's to docs/screenshots/).
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeViolations, horizontalOverflow, launchChromium, screenshot } from "./chromium.ts";
import { startShop, type ShopSystem } from "./shop-system.ts";

const PASSWORD = "correct horse battery staple";
/** Waiting for the saga: reservation, payment (with retries for some cards), confirmation. */
const SAGA_TIMEOUT_MS = 60_000;
const CARDS = { approve: "4242424242424242", decline: "4000000000000002", slow: "4000000000003063" };
/** The slow test card's approval delay: long enough to watch an order wait. */
const SLOW_APPROVAL_MS = 6_000;

let shop: ShopSystem;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [shop, browser] = await Promise.all([
    startShop({ PROCESSOR_SLOW_DELAY_MS: String(SLOW_APPROVAL_MS) }),
    launchChromium(),
  ]);
}, 240_000);

/** Closes the tabs a group of tests opened: left open they keep their live connections and timers running. */
async function closeTabs(): Promise<void> {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
}

afterAll(async () => {
  await browser?.close();
  await shop?.stop();
});

const PHONE = { width: 390, height: 844 };

async function newContext(
  viewport = { width: 1280, height: 900 },
  storageState?: Awaited<ReturnType<BrowserContext["storageState"]>>,
): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: shop.url, viewport, locale: "en-IE", storageState });
  context.setDefaultTimeout(20_000);
  contexts.push(context);
  return context;
}

async function newPage(viewport?: { width: number; height: number }): Promise<Page> {
  return (await newContext(viewport)).newPage();
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

/** Browses to a product by category and puts `quantity` in the cart. */
async function addToCart(page: Page, product = "Stovetop kettle", category = "Kitchen", quantity = 1): Promise<void> {
  await page.goto("/");
  await page.getByRole("navigation", { name: "Categories" }).getByRole("link", { name: category }).click();
  await page.getByRole("heading", { name: category, level: 1 }).waitFor();
  await page.getByRole("link", { name: product }).click();
  await page.getByRole("heading", { name: product, level: 1 }).waitFor();
  await page.getByText(/In stock \(\d+ available\)|Only \d+ left/).waitFor();
  await page.getByLabel("Quantity").fill(String(quantity));
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page
    .getByRole("status")
    .filter({ hasText: `Added ${quantity} × ${product}` })
    .waitFor();
}

/** The number in the header's cart link. */
async function cartCount(page: Page): Promise<number> {
  return Number(await page.getByRole("link", { name: /^Cart/ }).locator(".count").textContent());
}

/** Fills the checkout's address (first time only: it is remembered) and card, and places the order. */
async function placeOrder(page: Page, cardNumber: string): Promise<string> {
  if (!(await page.getByLabel("Street and number").inputValue())) {
    await page.getByLabel("Street and number").fill("12 Harbour Road");
    await page.getByLabel("Postcode").fill("D02 X285");
    await page.getByLabel("Town or city").fill("Dublin");
    await page.getByLabel("Country").selectOption("IE");
  }
  await page.getByLabel("Card number").fill(cardNumber);
  await page.getByLabel("Expiry month").selectOption("12");
  await page.getByLabel("Expiry year").selectOption(String(new Date().getFullYear() + 2));
  await page.getByLabel("Security code").fill("123");
  await page.getByRole("button", { name: "Place order" }).click();
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}\/confirmation$/);
  return page.url().split("/").at(-2)!;
}

async function goToCheckout(page: Page): Promise<void> {
  await page.getByRole("link", { name: /^Cart/ }).click();
  await page.getByRole("heading", { name: "Your cart" }).waitFor();
  await page.getByRole("link", { name: "Checkout" }).click();
  await page.getByRole("heading", { name: "Checkout", level: 1 }).waitFor();
}

const outcome = (page: Page) => page.getByTestId("outcome");

/**
 * Waits for the confirmation page's "thank you" (the order CONFIRMED); if it
 * does not come, fails with what the page says instead and the shop's last
 * lines, so a slow or stuck saga can be told from a page that missed the news.
 */
async function waitForThankYou(page: Page): Promise<void> {
  const heading = page.getByRole("heading", { name: "Thank you for your order", level: 1 });
  try {
    await heading.waitFor({ timeout: SAGA_TIMEOUT_MS });
  } catch (error) {
    const shown = await page
      .locator("main h1, main [data-testid=outcome]")
      .allTextContents()
      .catch(() => []);
    throw new Error(
      `no "Thank you for your order" on ${page.url()} after ${SAGA_TIMEOUT_MS} ms; the page shows ${JSON.stringify(shown)}\n` +
        `the shop's last lines:\n${shop.output.slice(-40).join("\n")}`,
      { cause: error },
    );
  }
}
const orderNumber = (orderId: string) => orderId.replaceAll("-", "").slice(-8).toUpperCase();

/** Opens `route` and waits until its page has loaded what it shows (heading, no spinner, pictures). */
async function visit(page: Page, route: string): Promise<void> {
  await page.goto(route);
  await page.locator("main h1").waitFor();
  await expect.poll(() => page.locator("main .loading").count()).toBe(0);
  await page.waitForFunction("[...document.images].every((img) => img.complete)");
}

describe("browsing", () => {
  afterAll(closeTabs);
  it("lists products with their own pictures and stock, counts them, numbers the pages, sorts, and searches from the keyboard", async () => {
    const page = await newPage();
    await page.goto("/");
    await page.getByRole("heading", { name: "All products" }).waitFor();
    const cards = page.getByRole("list", { name: "All products" }).getByRole("article");
    await cards.nth(11).waitFor();
    expect(await cards.count()).toBe(12);
    expect(await page.getByText(/In stock \(\d+ available\)|Only \d+ left/).count()).toBe(12);
    expect(await page.getByTestId("listing-count").textContent()).toBe("Showing 1–12 of 34 products");
    const pictures = await Promise.all(
      (await cards.locator("img").all()).map(async (img) => (await img.getAttribute("src")) ?? ""),
    );
    expect(new Set(pictures).size).toBe(12);
    expect(pictures.every((src) => /\/images\/products\/[a-z0-9-]+\.svg$/.test(src))).toBe(true);
    await page.waitForFunction("[...document.images].every((img) => img.complete && img.naturalWidth > 0)");
    expect(await page.title()).toBe("All products · Shop");
    await screenshot(page, "catalog", { readme: true });

    const firstName = await cards.first().getByRole("heading").textContent();
    const pages = page.getByRole("navigation", { name: "Pages" });
    await pages.getByRole("link", { name: "Page 3" }).click();
    await page.getByText("Showing 25–34 of 34 products").waitFor();
    expect(await cards.count()).toBe(10);
    expect(await pages.getByRole("link", { name: "Page 3" }).getAttribute("aria-current")).toBe("page");
    await pages.getByRole("link", { name: "Previous page" }).click();
    await page.getByText("Showing 13–24 of 34 products").waitFor();
    await page.goBack();
    await page.getByText("Showing 25–34 of 34 products").waitFor();
    await pages.getByRole("link", { name: "Page 1" }).click();
    await expect.poll(() => cards.first().getByRole("heading").textContent()).toBe(firstName);

    await page.getByLabel("Sort by").selectOption({ label: "Price, low to high" });
    await page.waitForURL(/sort=price-low/);
    await page.getByText("Showing 1–12 of 34 products").waitFor();
    await expect.poll(() => cards.first().getByRole("heading").textContent()).toBe("Herb seed collection"); // €8.99

    // Keyboard only, from a fresh page: skip link, brand, then the search box.
    await page.goto("/");
    await page.getByRole("heading", { name: "All products" }).waitFor();
    for (let i = 0; i < 3; i++) await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.id")).toBe("search");
    await page.keyboard.type("kettle");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Results for “kettle”" }).waitFor();
    await page.getByRole("link", { name: "Stovetop kettle" }).waitFor();
    expect(await page.title()).toBe("Results for “kettle” · Shop");
  });

  it("goes back to where the shopper was in a listing", async () => {
    const page = await newPage(PHONE);
    await page.goto("/?category=kitchen");
    await page.getByRole("heading", { name: "Kitchen", level: 1 }).waitFor();
    const last = page.getByRole("link", { name: "Ceramic teapot" });
    await last.scrollIntoViewIfNeeded();
    await expect.poll(() => page.evaluate<number>("window.scrollY")).toBeGreaterThan(500);
    const before = await page.evaluate<number>("window.scrollY");
    await last.click();
    await page.getByRole("heading", { name: "Ceramic teapot", level: 1 }).waitFor();
    await page.goBack();
    await page.getByRole("heading", { name: "Kitchen", level: 1 }).waitFor();
    await expect.poll(() => page.evaluate<number>("window.scrollY")).toBeGreaterThan(before - 50);
  });

  it("says a product is not there, with a way back instead of a useless Try again", async () => {
    const page = await newPage();
    for (const id of ["019b76da-0000-7000-8000-000000000000", "not-a-product"]) {
      await page.goto(`/products/${id}`);
      await page.getByRole("heading", { name: "Product not available" }).waitFor();
      expect(await page.getByRole("alert").textContent()).toContain("This product is not in the shop (any more).");
      expect(await page.getByRole("button", { name: "Try again" }).count()).toBe(0);
      await page.getByRole("link", { name: "Browse all products" }).waitFor();
      expect(await page.content()).not.toMatch(/GetProductRequest|uuid|\[string\./);
    }
  });
});

describe("sign-up", () => {
  afterAll(closeTabs);
  it("shows the contract's rules next to each field in plain words, and moves focus to the first one", async () => {
    const page = await newPage();
    await page.goto("/signup");
    expect(await page.title()).toBe("Create an account · Shop");
    await page.getByLabel("Email", { exact: true }).fill("not-an-email");
    await page.getByLabel("Password", { exact: true }).fill("short");
    await page.getByRole("button", { name: "Create account" }).click();

    const emailError = page.locator("#signup-email-error");
    await emailError.waitFor();
    expect(await emailError.textContent()).toBe("Enter an email address like name@example.com.");
    expect(await page.locator("#signup-password-error").textContent()).toBe(
      "Use at least 10 characters for your password.",
    );
    expect(await page.locator("#signup-name-error").textContent()).toBe("Enter your name.");
    const email = page.getByLabel("Email", { exact: true });
    expect(await email.getAttribute("aria-invalid")).toBe("true");
    expect(await email.getAttribute("aria-describedby")).toContain("signup-email-error");
    // Focus went to the first invalid field, not to <body>.
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("signup-email");
    expect(await page.content()).not.toMatch(/regex|characters \[|string\.|Invalid /);
    expect(await axeViolations(page)).toEqual([]);
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
    expect(await emailError.textContent()).toMatch(/already an account/);
    expect(await page.locator("#signup-password-error").count()).toBe(0);
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("signup-email");
  });
});

describe("buying", () => {
  afterAll(closeTabs);
  let buyer: Page;
  let confirmedOrderId: string;

  it("a full purchase: address, grouped card number, month and year, a thank-you page live until CONFIRMED", async () => {
    buyer = await newPage();
    await signUp(buyer, "Ada Buyer");
    await addToCart(buyer, "Stovetop kettle", "Kitchen", 2);
    await screenshot(buyer, "product", { readme: true });
    await buyer.getByRole("link", { name: /^Cart/ }).click();
    await buyer.getByRole("heading", { name: "Your cart" }).waitFor();
    await buyer.getByRole("link", { name: "Checkout" }).waitFor();
    await screenshot(buyer, "cart", { readme: true });
    await buyer.getByRole("link", { name: "Checkout" }).click();

    const cardNumber = buyer.getByLabel("Card number");
    await cardNumber.pressSequentially("4242424242424242");
    expect(await cardNumber.inputValue()).toBe("4242 4242 4242 4242");
    expect(await buyer.getByLabel("Email", { exact: true }).inputValue()).toMatch(/@shop\.test$/); // the account's
    expect(await buyer.getByLabel("Full name").inputValue()).toBe("Ada Buyer");
    // Everything missing shows at once, from the contract's rules, and focus goes to the first.
    await buyer.getByRole("button", { name: "Place order" }).click();
    await buyer.locator("#ship-line1-error").waitFor();
    for (const [id, text] of [
      ["ship-line1", "Enter the street and house number."],
      ["ship-city", "Enter the town or city."],
      ["exp-month", "Choose the month the card expires."],
      ["exp-year", "Choose the year the card expires."],
      ["cvc", "Enter the 3 or 4 digit security code from the back of your card."],
    ] as const)
      expect(await buyer.locator(`#${id}-error`).textContent()).toBe(text);
    await expect.poll(() => buyer.evaluate("document.activeElement?.id")).toBe("ship-line1");
    expect(await axeViolations(buyer)).toEqual([]);
    await screenshot(buyer, "checkout-errors");

    // Marks this document: still there at the end means no reload happened.
    await buyer.evaluate("window.sameDocument = true");
    await buyer.getByLabel("Street and number").fill("12 Harbour Road");
    await buyer.getByLabel("Postcode").fill("D02 X285");
    await buyer.getByLabel("Town or city").fill("Dublin");
    await buyer.getByLabel("Country").selectOption("IE");
    await buyer.getByLabel("Expiry month").selectOption("12");
    await buyer.getByLabel("Expiry year").selectOption(String(new Date().getFullYear() + 2));
    await buyer.getByLabel("Security code").fill("123");
    await screenshot(buyer, "checkout", { readme: true });
    await buyer.getByRole("button", { name: "Place order" }).click();
    await buyer.waitForURL(/\/orders\/[0-9a-f-]{36}\/confirmation$/);
    confirmedOrderId = buyer.url().split("/").at(-2)!;

    await waitForThankYou(buyer);
    expect(await outcome(buyer).textContent()).toMatch(/^Order [0-9A-F]{8} is confirmed and paid/);
    expect(await buyer.evaluate("window.sameDocument")).toBe(true);
    expect(await buyer.getByText("12 Harbour Road").count()).toBe(1);
    expect(await buyer.getByText("Ireland").count()).toBe(1);
    // The cart is emptied only now that the order is confirmed.
    await expect.poll(() => cartCount(buyer)).toBe(0);
    // The confirmation notification arrives live too.
    const toast = buyer.locator(".toast").filter({ hasText: /confirmed/i });
    await toast.first().waitFor({ timeout: SAGA_TIMEOUT_MS });
    expect(await toast.first().textContent()).toContain(orderNumber(confirmedOrderId));
    await screenshot(buyer, "confirmation", { readme: true });
  }, 150_000);

  it("the order page: number, pictures, address, a timeline in the shopper's words", async () => {
    await buyer.getByRole("link", { name: "Order details and timeline" }).click();
    const number = orderNumber(confirmedOrderId);
    await buyer.getByRole("heading", { name: `Order ${number}`, level: 1 }).waitFor();
    expect(await buyer.title()).toBe(`Order ${number} · Shop`);
    await buyer.getByTestId("order-status").filter({ hasText: "Confirmed" }).waitFor();
    const timeline = buyer.getByRole("list", { name: "Order timeline" }).getByRole("listitem");
    await expect
      .poll(() => timeline.allTextContents())
      .toEqual(
        expect.arrayContaining([
          expect.stringContaining("Order placed"),
          expect.stringContaining("Items reserved for you"),
          expect.stringContaining("Payment received: order confirmed"),
        ]),
      );
    expect((await timeline.allTextContents()).join(" ")).not.toMatch(/ignored|waiting for|CONFIRMED|AWAITING/);
    expect(await buyer.getByRole("list", { name: "Items" }).locator("img").count()).toBe(1);
    await screenshot(buyer, "order", { readme: true });
  });

  it("order history survives a reload; notifications list the confirmation", async () => {
    await buyer.getByRole("link", { name: "Orders", exact: true }).click();
    const card = buyer.locator(`[data-order-id="${confirmedOrderId}"]`);
    await card.waitFor();
    await buyer.reload();
    await card.waitFor();
    expect(await card.textContent()).toContain("Confirmed");
    expect(await card.locator("img").count()).toBe(1);
    await card.getByText("Timeline").click();
    expect(await card.getByRole("listitem").count()).toBeGreaterThanOrEqual(3);
    await screenshot(buyer, "orders", { readme: true });

    await buyer.getByRole("link", { name: /^Notifications/ }).click();
    await buyer.getByRole("heading", { name: "Notifications", level: 1 }).waitFor();
    const confirmation = buyer
      .getByRole("list", { name: "Notifications" })
      .getByRole("listitem")
      .filter({
        hasText: /confirmed/i,
      });
    await confirmation.first().waitFor();
    // The notification says where the order ships, in the same formats as the pages.
    expect(await confirmation.first().textContent()).toContain("It ships to Ada Buyer, 12 Harbour Road, Dublin");
    expect(await confirmation.first().textContent()).toContain("€69.98");
    await screenshot(buyer, "notifications", { readme: true });
  });

  it("a declined card keeps the cart; another card then buys it, as a new order (no double order)", async () => {
    const page = await newPage();
    await signUp(page, "Dee Clined");
    await addToCart(page, "French press");
    await goToCheckout(page);
    const declinedId = await placeOrder(page, CARDS.decline);
    await page.getByRole("heading", { name: "Your order did not go through", level: 1 }).waitFor({
      timeout: SAGA_TIMEOUT_MS,
    });
    expect(await outcome(page).textContent()).toBe("Your card was declined. Nothing was charged.");
    // The cart still holds the item.
    expect(await cartCount(page)).toBe(1);
    // One toast for the order, though the shop sent "payment failed" and "order cancelled".
    const toasts = page.locator(".toast").filter({ hasText: orderNumber(declinedId) });
    await toasts
      .filter({ hasText: `Order ${orderNumber(declinedId)} cancelled` })
      .waitFor({ timeout: SAGA_TIMEOUT_MS });
    expect(await toasts.count()).toBe(1);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, "declined");

    await page.getByRole("link", { name: "Try another card" }).click();
    await page.getByRole("heading", { name: "Checkout", level: 1 }).waitFor();
    await page.getByText("Your last payment did not go through").waitFor();
    // The address was kept; only the card is asked for again.
    expect(await page.getByLabel("Street and number").inputValue()).toBe("12 Harbour Road");
    expect(await page.getByLabel("Card number").inputValue()).toBe("");
    const approvedId = await placeOrder(page, CARDS.approve);
    expect(approvedId).not.toBe(declinedId);
    await waitForThankYou(page);
    await expect.poll(() => cartCount(page)).toBe(0);

    await page.getByRole("link", { name: "Orders", exact: true }).click();
    await page.locator(`[data-order-id="${approvedId}"]`).waitFor();
    const orders = page.getByRole("list", { name: "Orders" }).locator(":scope > li");
    expect(await orders.count()).toBe(2);
    expect(await page.locator(`[data-order-id="${declinedId}"]`).textContent()).toContain("Cancelled");
    expect(await page.locator(`[data-order-id="${approvedId}"]`).textContent()).toContain("Confirmed");
  }, 150_000);

  it("the cart offers checkout only for what is in stock", async () => {
    const page = await newPage();
    await signUp(page, "Stock Checker");
    await addToCart(page, "Down sleeping bag", "Outdoors");
    await page.goto("/cart");
    const quantity = page.getByLabel("Quantity of Down sleeping bag");
    await quantity.fill("60");
    await quantity.press("Tab");
    await page.getByText(/Only \d+ of Down sleeping bag (is|are) left: lower the quantity to check out\./).waitFor();
    expect(await page.getByRole("button", { name: "Checkout" }).isDisabled()).toBe(true);
    expect(await page.getByRole("link", { name: "Checkout" }).count()).toBe(0);
    await quantity.fill("1");
    await quantity.press("Tab");
    await page.getByRole("link", { name: "Checkout" }).waitFor();
    // The change was announced.
    await page.getByTestId("announcer").filter({ hasText: "Down sleeping bag: quantity 1" }).waitFor();
  });
});

describe("following an order", () => {
  afterAll(closeTabs);
  it("resumes a dropped live connection without a reload", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await signUp(page, "Con Nected");
    await addToCart(page, "Hand trowel", "Garden");
    await goToCheckout(page);
    await placeOrder(page, CARDS.slow);
    await page.getByRole("link", { name: "Order details and timeline" }).click();
    await page.getByTestId("live-status").filter({ hasText: "Updating live." }).waitFor();
    await page.evaluate("window.sameDocument = true");
    await context.setOffline(true);
    await page.getByTestId("live-status").filter({ hasText: "Reconnecting…" }).waitFor();
    await context.setOffline(false);
    await page.getByTestId("order-status").filter({ hasText: "Confirmed" }).waitFor({ timeout: SAGA_TIMEOUT_MS });
    expect(await page.evaluate("window.sameDocument")).toBe(true);
  }, 150_000);

  it("a signed-out deep link to an order leads back to it after signing in", async () => {
    const owner = await newPage();
    const email = await signUp(owner, "Deep Linker");
    await addToCart(owner, "Watering can", "Garden");
    await goToCheckout(owner);
    const orderId = await placeOrder(owner, CARDS.approve);

    const page = await newPage();
    await page.goto(`/orders/${orderId}`);
    await page.getByRole("main").getByRole("link", { name: "sign in", exact: true }).click();
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(new RegExp(`/orders/${orderId}$`));
    await page.getByTestId("order-status").waitFor();
  }, 150_000);
});

describe("many tabs", () => {
  afterAll(closeTabs);
  it("ten signed-in tabs all work, on one live connection, and all hear the news", async () => {
    const context = await newContext();
    // Every WatchUpdates call of this browser that is still open, with its tab.
    const open = new Map<unknown, Page>();
    let opened = 0;
    context.on("request", (request) => {
      if (!request.url().endsWith("/WatchUpdates")) return;
      open.set(request, request.frame().page());
      opened++;
    });
    const done = (request: unknown) => open.delete(request);
    context.on("requestfinished", done);
    context.on("requestfailed", done);
    context.on("page", (page) =>
      page.on("close", () => {
        for (const [request, of] of open) if (of === page) open.delete(request);
      }),
    );

    const first = await context.newPage();
    await signUp(first, "Tab Hoarder");
    const routes = [
      "/",
      "/?category=books",
      "/search?q=tea",
      "/products/019b76da-a813-743a-9a8d-ca03580d7b71",
      "/cart",
      "/orders",
      "/notifications",
      "/?category=home",
      "/?page=2",
    ];
    const tabs = [first];
    for (const route of routes) {
      const tab = await context.newPage();
      await tab.goto(route);
      tabs.push(tab);
    }
    expect(tabs).toHaveLength(10);
    // Every tab shows its page: nothing is stuck loading behind held connections.
    for (const tab of tabs) {
      await tab.locator("main h1").waitFor();
      await expect.poll(() => tab.locator("main .loading").count()).toBe(0);
    }

    await addToCart(first, "Travel chess set", "Toys and games");
    await goToCheckout(first);
    const slowOrder = await placeOrder(first, CARDS.slow);
    await tabs[8].goto(`/orders/${slowOrder}`);
    await tabs[8].getByTestId("order-status").filter({ hasText: "Confirmed" }).waitFor({ timeout: SAGA_TIMEOUT_MS });
    // The confirmation reaches every tab, over the one connection.
    const confirmed = (orderId: string) =>
      Promise.all(
        tabs
          .filter((tab) => !tab.isClosed())
          .map((tab) =>
            tab
              .locator(".toast")
              .filter({ hasText: `Order ${orderNumber(orderId)} confirmed` })
              .waitFor({ timeout: SAGA_TIMEOUT_MS }),
          ),
      );
    await confirmed(slowOrder);
    // Every tab still answers: a fresh page from the last one loads at once.
    await tabs[9].getByRole("link", { name: "Page 1" }).click();
    await tabs[9].getByText(/^Showing 1–\d+ of \d+ products$/).waitFor();
    expect(open.size).toBe(1);

    // The tab holding the connection closes: another takes it over.
    const [leader] = [...open.values()];
    await leader.close();
    const buyer = tabs.find((tab) => !tab.isClosed())!;
    await addToCart(buyer, "Stunt kite", "Toys and games");
    await goToCheckout(buyer);
    await confirmed(await placeOrder(buyer, CARDS.approve));
    expect(open.size).toBe(1);
    expect(opened).toBeGreaterThan(1);
  }, 300_000);
});

describe("every page", () => {
  afterAll(closeTabs);
  it("has zero axe violations and a title of its own, and fits a phone without sideways scrolling", async () => {
    const desk = await newPage();
    await signUp(desk, "Pat Pages");
    await addToCart(desk, "Reading lamp", "Home");
    await goToCheckout(desk);
    const orderId = await placeOrder(desk, CARDS.approve);
    await waitForThankYou(desk);
    await desk.locator(".toast").first().waitFor({ timeout: SAGA_TIMEOUT_MS });
    await addToCart(desk, "Wall clock", "Home");
    const signedIn = await desk.context().storageState();

    const pages: { name: string; route: string; title: string; signedOut?: boolean }[] = [
      { name: "home", route: "/", title: "All products · Shop" },
      { name: "category", route: "/?category=outdoors", title: "Outdoors · Shop" },
      { name: "search", route: "/search?q=steel", title: "Results for “steel” · Shop" },
      { name: "product", route: "/products/019b76da-a81a-7b44-b139-d32c93cd59bf", title: "Reading lamp · Shop" },
      { name: "cart", route: "/cart", title: "Your cart · Shop" },
      { name: "checkout", route: "/checkout", title: "Checkout · Shop" },
      {
        name: "confirmation",
        route: `/orders/${orderId}/confirmation`,
        title: "Thank you for your order · Shop",
      },
      { name: "order", route: `/orders/${orderId}`, title: `Order ${orderNumber(orderId)} · Shop` },
      { name: "orders", route: "/orders", title: "Your orders · Shop" },
      { name: "notifications", route: "/notifications", title: "Notifications · Shop" },
      { name: "sign-in", route: "/signin", title: "Sign in · Shop", signedOut: true },
      { name: "sign-up", route: "/signup", title: "Create an account · Shop", signedOut: true },
      { name: "not-found", route: "/no/such/page", title: "Page not found · Shop", signedOut: true },
    ];
    const onPhone = await (await newContext(PHONE, signedIn)).newPage();
    const onPhoneSignedOut = await (await newContext(PHONE)).newPage();
    const deskSignedOut = await newPage();
    const problems: string[] = [];
    for (const { name, route, title, signedOut } of pages) {
      const onDesk = signedOut ? deskSignedOut : desk;
      await visit(onDesk, route);
      expect(await onDesk.title(), route).toBe(title);
      problems.push(...(await axeViolations(onDesk)).map((v) => `${route}: ${v}`));

      const phone = signedOut ? onPhoneSignedOut : onPhone;
      await visit(phone, route);
      expect(await horizontalOverflow(phone), `${route} scrolls sideways on a phone`).toBeLessThanOrEqual(0);
      await screenshot(phone, `${name}-phone`, { readme: name === "home" || name === "checkout" });
    }
    // The phone layout too (one page: the widest content, the checkout form).
    await visit(onPhone, "/checkout");
    problems.push(...(await axeViolations(onPhone)).map((v) => `/checkout (phone): ${v}`));
    expect(problems).toEqual([]);
  }, 300_000);
});
