// Checkout: contact email, shipping address and card, checked against the
// contract's rules in the browser first (request-checks.ts) so every problem
// shows at once; then the card is exchanged for a token (TokenizeCard) and
// the order placed with an idempotency key made for this attempt.
//
// An attempt is kept (sessionStorage) while it may not have reached the shop
// (a network error): pressing the button again retries with the same key and
// token, so the order is placed once. Once an order is placed, the attempt is
// over: its outcome decides what happens to the cart (cart.ts). After a
// declined card, the shopper comes back here with the same cart and address
// and a new attempt (a new key, a new card token) starts.
import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import { PlaceOrderRequestSchema, TokenizeCardRequestSchema } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { storefront } from "../api.ts";
import { caretAfterDigits, cardDigits, groupCardNumber } from "../card-number.ts";
import { beginCheckout, cart, pendingCheckout, type CartLine } from "../cart.ts";
import { countryName } from "../components/order-status.tsx";
import { Field, FormMessage, SelectField, useFocusOnErrors } from "../components/field.tsx";
import { Link } from "../components/link.tsx";
import { ProductImage } from "../components/product-image.tsx";
import { formErrors, isRetryable, noErrors, type FormErrors } from "../errors.ts";
import { orderNumber } from "../format.ts";
import { FIX_FIELDS } from "../messages.ts";
import { formatMoney } from "../money.ts";
import { usePageTitle } from "../page-title.ts";
import { navigate } from "../router.ts";
import { session } from "../session.ts";
import { readStored, useStore } from "../store.ts";
import { CartTotal } from "./cart-page.tsx";

interface Card {
  cardNumber: string;
  expMonth: string;
  expYear: string;
  cvc: string;
  cardholderName: string;
}

interface Address {
  name: string;
  line1: string;
  line2: string;
  city: string;
  postalCode: string;
  region: string;
  countryCode: string;
}

/** What the shopper entered besides the card, kept for their next checkout (never the card). */
interface Details {
  contactEmail: string;
  address: Address;
}

/** One checkout attempt: its idempotency key, and the card token it got. */
interface Attempt {
  idempotencyKey: string;
  /** The whole request: a change means a new order, so a new key. */
  orderFingerprint: string;
  /** The card alone: the token stays good while the card does not change. */
  cardFingerprint: string;
  cardToken?: string;
  cardLast4?: string;
}

const ATTEMPT_KEY = "shop.checkout-attempt";
const DETAILS_KEY = "shop.checkout-details";

export const TEST_CARDS: readonly [string, string][] = [
  ["4242 4242 4242 4242", "approved"],
  ["4000 0000 0000 0002", "declined"],
  ["4000 0000 0000 9995", "insufficient funds"],
  ["4000 0000 0000 0259", "processor fails twice, then approves"],
  ["4000 0000 0000 3063", "approved after a 3-second delay"],
  ["4000 0000 0000 0119", "processor unavailable"],
];

/** Where the shop ships (ISO 3166-1 alpha-2). */
const COUNTRIES = [
  "AT",
  "AU",
  "BE",
  "CA",
  "CH",
  "CZ",
  "DE",
  "DK",
  "ES",
  "FI",
  "FR",
  "GB",
  "GR",
  "HU",
  "IE",
  "IS",
  "IT",
  "JP",
  "LU",
  "NL",
  "NO",
  "NZ",
  "PL",
  "PT",
  "SE",
  "SI",
  "SK",
  "US",
];
const COUNTRY_OPTIONS = COUNTRIES.map((code) => ({ value: code, label: countryName(code) })).sort((a, b) =>
  a.label.localeCompare(b.label, "en"),
);

const MONTH_OPTIONS = [
  { value: "", label: "Month" },
  ...Array.from({ length: 12 }, (_, i) => ({ value: String(i + 1), label: String(i + 1).padStart(2, "0") })),
];
function yearOptions(): { value: string; label: string }[] {
  const now = new Date().getFullYear();
  return [
    { value: "", label: "Year" },
    ...Array.from({ length: 16 }, (_, i) => ({ value: String(now + i), label: String(now + i) })),
  ];
}

/** Server field paths -> this form's control ids. */
const FIELD_IDS: Record<string, string> = {
  contact_email: "contact-email",
  "shipping_address.name": "ship-name",
  "shipping_address.line1": "ship-line1",
  "shipping_address.line2": "ship-line2",
  "shipping_address.city": "ship-city",
  "shipping_address.postal_code": "ship-postal-code",
  "shipping_address.region": "ship-region",
  "shipping_address.country_code": "ship-country",
  card_number: "card-number",
  exp_month: "exp-month",
  exp_year: "exp-year",
  cvc: "cvc",
  cardholder_name: "cardholder-name",
};

/** 32 hex characters: fits the contract's [A-Za-z0-9_-]{8,64}, and works outside secure contexts too. */
function newIdempotencyKey(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function loadAttempt(): Attempt | undefined {
  try {
    return (JSON.parse(sessionStorage.getItem(ATTEMPT_KEY) ?? "null") as Attempt | null) ?? undefined;
  } catch {
    return undefined;
  }
}

function saveAttempt(attempt: Attempt | undefined): void {
  if (attempt) sessionStorage.setItem(ATTEMPT_KEY, JSON.stringify(attempt));
  else sessionStorage.removeItem(ATTEMPT_KEY);
}

function defaultCountry(): string {
  const region = navigator.language.split("-")[1]?.toUpperCase();
  return region && COUNTRIES.includes(region) ? region : "DE";
}

const isDetails = (v: unknown): v is Details =>
  typeof v === "object" && v !== null && typeof (v as Details).contactEmail === "string" && !!(v as Details).address;

function toRequests(lines: readonly CartLine[], card: Card, details: Details) {
  const tokenize = {
    cardNumber: card.cardNumber,
    expMonth: Number(card.expMonth) || 0,
    expYear: Number(card.expYear) || 0,
    cvc: card.cvc,
    cardholderName: card.cardholderName.trim(),
  };
  const order = {
    lines: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    shippingAddress: { ...details.address },
    contactEmail: details.contactEmail.trim(),
  };
  return { tokenize, order };
}

export function CheckoutPage({ retrying }: { retrying: boolean }) {
  const lines = useStore(cart);
  const signedIn = useStore(session);
  const pending = useStore(pendingCheckout);
  usePageTitle("Checkout");
  if (!signedIn) {
    return (
      <section aria-labelledby="checkout-title">
        <h1 id="checkout-title">Checkout</h1>
        <p>
          Please <Link href="/signin?next=/checkout">sign in</Link> or{" "}
          <Link href="/signup?next=/checkout">create an account</Link> to place your order.
        </p>
      </section>
    );
  }
  if (pending && pending.userId === signedIn.user.id) {
    return (
      <section aria-labelledby="checkout-title">
        <h1 id="checkout-title">Checkout</h1>
        <p>
          Your order {orderNumber(pending.orderId)} is on its way through checkout. Its result decides what happens to
          your cart.
        </p>
        <Link class="button button--primary" href={`/orders/${pending.orderId}/confirmation`}>
          See how it is going
        </Link>
      </section>
    );
  }
  if (lines.length === 0) {
    return (
      <section aria-labelledby="checkout-title">
        <h1 id="checkout-title">Checkout</h1>
        <p>Your cart is empty.</p>
        <Link href="/">Browse products</Link>
      </section>
    );
  }
  return (
    <CheckoutForm
      lines={lines}
      retrying={retrying}
      account={{ email: signedIn.user.email, displayName: signedIn.user.displayName }}
    />
  );
}

function CheckoutForm({
  lines,
  retrying,
  account,
}: {
  lines: CartLine[];
  retrying: boolean;
  account: { email: string; displayName: string };
}) {
  const [details, setDetails] = useState<Details>(() =>
    readStored<Details>(
      DETAILS_KEY,
      {
        contactEmail: account.email,
        address: {
          name: account.displayName,
          line1: "",
          line2: "",
          city: "",
          postalCode: "",
          region: "",
          countryCode: defaultCountry(),
        },
      },
      isDetails,
    ),
  );
  const [card, setCard] = useState<Card>({
    cardNumber: "",
    expMonth: "",
    expYear: "",
    cvc: "",
    cardholderName: account.displayName,
  });
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const { form, message } = useFocusOnErrors(errors);

  useEffect(() => {
    // The rules' code is a separate chunk: fetch it while the shopper types.
    void import("../request-checks.ts");
    if (retrying) document.getElementById("card-number")?.focus();
  }, [retrying]);

  const setAddress = (field: keyof Address) => (value: string) => {
    setDetails({ ...details, address: { ...details.address, [field]: value } });
  };
  const setCardField = (field: keyof Card) => (value: string) => {
    setCard({ ...card, [field]: value });
  };
  const error = (path: string) => errors.fields[path];

  async function placeOrder(event: Event) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    try {
      await submit();
    } finally {
      setBusy(false);
    }
  }

  async function submit() {
    const { tokenize, order } = toRequests(lines, card, details);
    const { ruleViolations } = await import("../request-checks.ts");
    const found = {
      ...ruleViolations(PlaceOrderRequestSchema, {
        ...order,
        idempotencyKey: "checking-rules",
        cardToken: "checking-rules",
      }),
      ...ruleViolations(TokenizeCardRequestSchema, tokenize),
    };
    if (Object.keys(found).length > 0) {
      setStatus("");
      setErrors({ fields: found, message: FIX_FIELDS });
      return;
    }
    setErrors(noErrors);

    const orderFingerprint = JSON.stringify([order, tokenize]);
    const cardFingerprint = JSON.stringify(tokenize);
    let attempt = loadAttempt();
    if (attempt?.orderFingerprint !== orderFingerprint) {
      attempt = {
        idempotencyKey: newIdempotencyKey(),
        orderFingerprint,
        cardFingerprint,
        ...(attempt?.cardFingerprint === cardFingerprint && {
          cardToken: attempt.cardToken,
          cardLast4: attempt.cardLast4,
        }),
      };
    }
    saveAttempt(attempt);
    try {
      if (attempt.cardToken === undefined) {
        setStatus("Checking your card…");
        const tokenized = await storefront.tokenizeCard(tokenize);
        attempt = { ...attempt, cardToken: tokenized.cardToken, cardLast4: tokenized.cardLast4 };
        saveAttempt(attempt);
      }
      setStatus(`Placing your order (card ending ${attempt.cardLast4 ?? ""})…`);
      const { order: placed } = await storefront.placeOrder({
        ...order,
        idempotencyKey: attempt.idempotencyKey,
        cardToken: attempt.cardToken,
      });
      if (!placed) throw new ConnectError("PlaceOrder answered without an order", Code.Internal);
      saveAttempt(undefined);
      localStorage.setItem(DETAILS_KEY, JSON.stringify(details));
      beginCheckout(placed);
      navigate(`/orders/${placed.id}/confirmation`);
    } catch (err) {
      setStatus("");
      // Not known to have reached the shop: keep the attempt, so retrying cannot order twice.
      if (!isRetryable(err)) saveAttempt(undefined);
      const failed = formErrors(err);
      setErrors(
        isRetryable(err)
          ? { ...failed, message: `${failed.message ?? ""} Pressing “Place order” again will not order twice.` }
          : failed,
      );
    }
  }

  return (
    <section aria-labelledby="checkout-title" class="checkout">
      <h1 id="checkout-title">Checkout</h1>
      {retrying && (
        <p class="notice">Your last payment did not go through. Your cart and address are kept: choose another card.</p>
      )}
      <div class="checkout-layout">
        <form class="form" onSubmit={(e) => void placeOrder(e)} noValidate aria-labelledby="checkout-title" ref={form}>
          <FormMessage errors={errors} fieldIds={FIELD_IDS} messageRef={message} />
          <fieldset>
            <legend>Contact</legend>
            <Field
              id="contact-email"
              label="Email"
              type="email"
              autoComplete="email"
              value={details.contactEmail}
              onValue={(contactEmail) => {
                setDetails({ ...details, contactEmail });
              }}
              error={error("contact_email")}
              hint="Where we write to you about this order."
            />
          </fieldset>
          <fieldset>
            <legend>Shipping address</legend>
            <Field
              id="ship-name"
              label="Full name"
              autoComplete="shipping name"
              value={details.address.name}
              onValue={setAddress("name")}
              error={error("shipping_address.name")}
            />
            <Field
              id="ship-line1"
              label="Street and number"
              autoComplete="shipping address-line1"
              value={details.address.line1}
              onValue={setAddress("line1")}
              error={error("shipping_address.line1")}
            />
            <Field
              id="ship-line2"
              label="Apartment, floor, building"
              labelSuffix="(optional)"
              autoComplete="shipping address-line2"
              value={details.address.line2}
              onValue={setAddress("line2")}
              error={error("shipping_address.line2")}
            />
            <div class="field-row field-row--two">
              <Field
                id="ship-postal-code"
                label="Postcode"
                autoComplete="shipping postal-code"
                value={details.address.postalCode}
                onValue={setAddress("postalCode")}
                error={error("shipping_address.postal_code")}
              />
              <Field
                id="ship-city"
                label="Town or city"
                autoComplete="shipping address-level2"
                value={details.address.city}
                onValue={setAddress("city")}
                error={error("shipping_address.city")}
              />
            </div>
            <Field
              id="ship-region"
              label="State, province or region"
              labelSuffix="(optional)"
              autoComplete="shipping address-level1"
              value={details.address.region}
              onValue={setAddress("region")}
              error={error("shipping_address.region")}
            />
            <SelectField
              id="ship-country"
              label="Country"
              autoComplete="shipping country"
              value={details.address.countryCode}
              onValue={setAddress("countryCode")}
              options={COUNTRY_OPTIONS}
              error={error("shipping_address.country_code")}
            />
          </fieldset>
          <fieldset>
            <legend>Payment</legend>
            <Field
              id="card-number"
              label="Card number"
              inputMode="numeric"
              autoComplete="cc-number"
              maxLength={23}
              value={groupCardNumber(card.cardNumber)}
              onValue={() => undefined}
              onInputElement={(input) => {
                // Keep the caret after the digit it followed as spaces come and go.
                const digitsBefore = cardDigits(
                  input.value.slice(0, input.selectionStart ?? input.value.length),
                ).length;
                const digits = cardDigits(input.value);
                const grouped = groupCardNumber(digits);
                input.value = grouped;
                const caret = caretAfterDigits(grouped, digitsBefore);
                input.setSelectionRange(caret, caret);
                setCard((current) => ({ ...current, cardNumber: digits }));
              }}
              error={error("card_number")}
              hint={<TestCards />}
            />
            <div class="field-row">
              <SelectField
                id="exp-month"
                label="Expiry month"
                autoComplete="cc-exp-month"
                value={card.expMonth}
                onValue={setCardField("expMonth")}
                options={MONTH_OPTIONS}
                error={error("exp_month")}
              />
              <SelectField
                id="exp-year"
                label="Expiry year"
                autoComplete="cc-exp-year"
                value={card.expYear}
                onValue={setCardField("expYear")}
                options={yearOptions()}
                error={error("exp_year")}
              />
              <Field
                id="cvc"
                label="Security code"
                inputMode="numeric"
                autoComplete="cc-csc"
                maxLength={4}
                value={card.cvc}
                onValue={setCardField("cvc")}
                error={error("cvc")}
              />
            </div>
            <Field
              id="cardholder-name"
              label="Name on card"
              autoComplete="cc-name"
              value={card.cardholderName}
              onValue={setCardField("cardholderName")}
              error={error("cardholder_name")}
            />
          </fieldset>
          <p role="status" class="progress">
            {status}
          </p>
          <button type="submit" class="button--primary" aria-disabled={busy ? "true" : undefined}>
            Place order
          </button>
        </form>
        <aside class="order-review" aria-labelledby="review-title">
          <h2 id="review-title">Your order</h2>
          <ul class="line-items" aria-label="Items">
            {lines.map((l) => (
              <li key={l.productId} class="line-item">
                <ProductImage imageUrl={l.imageUrl} size="thumbnail" />
                <span class="line-item-name">
                  {l.name}
                  <span class="muted"> × {l.quantity}</span>
                </span>
                <span class="line-item-total">
                  {formatMoney(BigInt(l.unitPriceMinor) * BigInt(l.quantity), l.currency)}
                </span>
              </li>
            ))}
          </ul>
          <CartTotal lines={lines} />
          <p>
            <Link href="/cart">Change your cart</Link>
          </p>
        </aside>
      </div>
    </section>
  );
}

function TestCards() {
  return (
    <details>
      <summary>Test cards</summary>
      <ul>
        {TEST_CARDS.map(([number, outcome]) => (
          <li key={number}>
            <code>{number}</code> {outcome}
          </li>
        ))}
      </ul>
      Any future expiry date and any 3-digit security code.
    </details>
  );
}
