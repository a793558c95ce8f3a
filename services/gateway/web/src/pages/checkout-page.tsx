// Checkout: the card is exchanged for a token (TokenizeCard), then the order
// is placed with an idempotency key made for this checkout attempt. If placing
// fails in a way that may not have reached the shop, pressing the button
// again retries with the same key and card token, so the order is placed
// once; changing the cart or the card starts a new attempt.
import { useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { cart, clearCart, type CartLine } from "../cart.ts";
import { Field, FormMessage } from "../components/field.tsx";
import { Link } from "../components/link.tsx";
import { formErrors, isRetryable, noErrors, type FormErrors } from "../errors.ts";
import { navigate } from "../router.ts";
import { session } from "../session.ts";
import { useStore } from "../store.ts";
import { CartTotal } from "./cart-page.tsx";

interface Card {
  cardNumber: string;
  expMonth: string;
  expYear: string;
  cvc: string;
  cardholderName: string;
}

/** One checkout attempt: reused as long as the cart and the card stay the same. */
interface Attempt {
  idempotencyKey: string;
  fingerprint: string;
  cardToken?: string;
  cardLast4?: string;
}

const ATTEMPT_KEY = "shop.checkout-attempt";

export const TEST_CARDS: readonly [string, string][] = [
  ["4242424242424242", "approved"],
  ["4000000000000002", "declined"],
  ["4000000000009995", "insufficient funds"],
  ["4000000000000259", "processor fails twice, then approves"],
  ["4000000000003063", "approved after a 3-second delay"],
  ["4000000000000119", "processor unavailable"],
];

/** 32 hex characters: fits the contract's [A-Za-z0-9_-]{8,64}, and works outside secure contexts too. */
function newIdempotencyKey(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function fingerprint(lines: readonly CartLine[], card: Card): string {
  return JSON.stringify([lines.map((l) => [l.productId, l.quantity]), card]);
}

function loadAttempt(): Attempt | undefined {
  try {
    return JSON.parse(sessionStorage.getItem(ATTEMPT_KEY) ?? "null") ?? undefined;
  } catch {
    return undefined;
  }
}

function saveAttempt(attempt: Attempt | undefined): void {
  if (attempt) sessionStorage.setItem(ATTEMPT_KEY, JSON.stringify(attempt));
  else sessionStorage.removeItem(ATTEMPT_KEY);
}

/** Server field paths (TokenizeCard's fields) -> this form's controls. */
const CARD_FIELDS: Record<string, keyof Card> = {
  card_number: "cardNumber",
  exp_month: "expMonth",
  exp_year: "expYear",
  cvc: "cvc",
  cardholder_name: "cardholderName",
};

export function CheckoutPage() {
  const lines = useStore(cart);
  const signedIn = useStore(session);
  const [card, setCard] = useState<Card>({
    cardNumber: "",
    expMonth: "12",
    expYear: String(new Date().getFullYear() + 2),
    cvc: "",
    cardholderName: signedIn?.user.displayName ?? "",
  });
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);

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
  if (lines.length === 0) {
    return (
      <section aria-labelledby="checkout-title">
        <h1 id="checkout-title">Checkout</h1>
        <p>Your cart is empty.</p>
        <Link href="/">Browse products</Link>
      </section>
    );
  }

  const update = (field: keyof Card) => (value: string) =>
    setCard({ ...card, [field]: field === "cardNumber" ? value.replace(/[\s-]/g, "") : value });
  const fieldError = (field: keyof Card) =>
    Object.entries(CARD_FIELDS).find(([path, f]) => f === field && errors.fields[path])?.[0];

  async function placeOrder(event: Event) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setErrors(noErrors);
    const print = fingerprint(lines, card);
    let attempt = loadAttempt();
    if (!attempt || attempt.fingerprint !== print)
      attempt = { idempotencyKey: newIdempotencyKey(), fingerprint: print };
    saveAttempt(attempt);
    try {
      if (!attempt.cardToken) {
        setStatus("Checking your card…");
        const tokenized = await storefront.tokenizeCard({
          cardNumber: card.cardNumber,
          expMonth: Number(card.expMonth) || 0,
          expYear: Number(card.expYear) || 0,
          cvc: card.cvc,
          cardholderName: card.cardholderName,
        });
        attempt = { ...attempt, cardToken: tokenized.cardToken, cardLast4: tokenized.cardLast4 };
        saveAttempt(attempt);
      }
      setStatus(`Placing your order (card ending ${attempt.cardLast4})…`);
      const { order } = await storefront.placeOrder({
        idempotencyKey: attempt.idempotencyKey,
        cardToken: attempt.cardToken!,
        lines: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
      });
      saveAttempt(undefined);
      clearCart();
      navigate(`/orders/${order!.id}`);
    } catch (err) {
      setStatus("");
      // Not known to have reached the shop: keep the attempt, so retrying cannot order twice.
      if (!isRetryable(err)) saveAttempt(undefined);
      const found = formErrors(err);
      setErrors(
        isRetryable(err)
          ? { ...found, message: `${found.message} Pressing “Place order” again will not order twice.` }
          : found,
      );
    } finally {
      setBusy(false);
    }
  }

  const errorFor = (field: keyof Card) => {
    const path = fieldError(field);
    return path ? errors.fields[path] : undefined;
  };

  return (
    <section aria-labelledby="checkout-title">
      <h1 id="checkout-title">Checkout</h1>
      <h2>Your order</h2>
      <ul class="summary">
        {lines.map((l) => (
          <li key={l.productId}>
            {l.quantity} × {l.name}
          </li>
        ))}
      </ul>
      <CartTotal lines={lines} />
      <form class="form" onSubmit={placeOrder} noValidate aria-labelledby="payment-title">
        <h2 id="payment-title">Payment</h2>
        <Field
          id="card-number"
          label="Card number"
          inputMode="numeric"
          autoComplete="cc-number"
          value={card.cardNumber}
          onValue={update("cardNumber")}
          error={errorFor("cardNumber")}
          hint={<TestCards />}
        />
        <div class="field-row">
          <Field
            id="exp-month"
            label="Expiry month"
            inputMode="numeric"
            autoComplete="cc-exp-month"
            value={card.expMonth}
            onValue={update("expMonth")}
            error={errorFor("expMonth")}
          />
          <Field
            id="exp-year"
            label="Expiry year"
            inputMode="numeric"
            autoComplete="cc-exp-year"
            value={card.expYear}
            onValue={update("expYear")}
            error={errorFor("expYear")}
          />
          <Field
            id="cvc"
            label="CVC"
            inputMode="numeric"
            autoComplete="cc-csc"
            value={card.cvc}
            onValue={update("cvc")}
            error={errorFor("cvc")}
          />
        </div>
        <Field
          id="cardholder-name"
          label="Name on card"
          autoComplete="cc-name"
          value={card.cardholderName}
          onValue={update("cardholderName")}
          error={errorFor("cardholderName")}
        />
        <FormMessage message={errors.message} />
        <p role="status" class="progress">
          {status}
        </p>
        <button type="submit" class="button--primary" disabled={busy} aria-disabled={busy}>
          Place order
        </button>
      </form>
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
      Any future expiry and any 3-digit CVC.
    </details>
  );
}
