// The shell: skip link, header (search, cart, orders, notifications, account),
// the page for the current path, the live notification toasts and the
// announcer for changes that happen without a page change.
import { useEffect, useRef, useState } from "preact/hooks";
import { cart, cartCount } from "./cart.ts";
import { Announcer } from "./components/announcer.tsx";
import { pageOf } from "./components/product-grid.tsx";
import { Link } from "./components/link.tsx";
import { orderNumber } from "./format.ts";
import { dismissToast, liveNotifications } from "./live-notifications.ts";
import { notificationTitle } from "./messages.ts";
import { CartPage } from "./pages/cart-page.tsx";
import { CatalogPage } from "./pages/catalog-page.tsx";
import { CheckoutPage } from "./pages/checkout-page.tsx";
import { ConfirmationPage } from "./pages/confirmation-page.tsx";
import { NotFoundPage } from "./pages/not-found-page.tsx";
import { NotificationsPage } from "./pages/notifications-page.tsx";
import { OrderPage } from "./pages/order-page.tsx";
import { OrdersPage } from "./pages/orders-page.tsx";
import { ProductPage } from "./pages/product-page.tsx";
import { SearchPage } from "./pages/search-page.tsx";
import { SignInPage } from "./pages/sign-in-page.tsx";
import { SignUpPage } from "./pages/sign-up-page.tsx";
import { match, navigate, useLocation, type Location } from "./router.ts";
import { session, signOut } from "./session.ts";
import { useStore } from "./store.ts";

function page({ path, query }: Location) {
  const next = query.get("next") ?? "/";
  const sort = query.get("sort");
  if (path === "/")
    return <CatalogPage categoryId={query.get("category") ?? ""} sort={sort} page={pageOf(query.get("page"))} />;
  if (path === "/search")
    return <SearchPage query={query.get("q") ?? ""} sort={sort} page={pageOf(query.get("page"))} />;
  if (path === "/cart") return <CartPage />;
  if (path === "/checkout") return <CheckoutPage retrying={query.has("retry")} />;
  if (path === "/orders") return <OrdersPage pageToken={query.get("page") ?? ""} />;
  if (path === "/notifications") return <NotificationsPage />;
  if (path === "/signin") return <SignInPage next={next} />;
  if (path === "/signup") return <SignUpPage next={next} />;
  const product = match("/products/:id", path);
  if (product) return <ProductPage productId={product.id} />;
  const confirmation = match("/orders/:id/confirmation", path);
  if (confirmation) return <ConfirmationPage orderId={confirmation.id} />;
  const order = match("/orders/:id", path);
  if (order) return <OrderPage orderId={order.id} />;
  return <NotFoundPage />;
}

export function App() {
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  // After in-app navigation, move focus to the new page so screen readers and
  // keyboards start there (without scrolling: Back restores the position).
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
  }, [location.path, location.query.toString()]);
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Header query={location.path === "/search" ? (location.query.get("q") ?? "") : ""} />
      <main id="main" ref={main} tabIndex={-1}>
        {page(location)}
      </main>
      <Toasts />
    </>
  );
}

function Header({ query }: { query: string }) {
  const user = useStore(session);
  const lines = useStore(cart);
  const live = useStore(liveNotifications);
  const [search, setSearch] = useState(query);
  useEffect(() => {
    setSearch(query);
  }, [query]);
  const count = cartCount(lines);
  return (
    <header class="site-header">
      <Link class="brand" href="/">
        Shop
      </Link>
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (search.trim()) navigate(`/search?q=${encodeURIComponent(search.trim())}`);
        }}
      >
        <label for="search" class="visually-hidden">
          Search products
        </label>
        <input
          id="search"
          type="search"
          placeholder="Search products"
          value={search}
          onInput={(e) => {
            setSearch(e.currentTarget.value);
          }}
        />
        <button type="submit">Search</button>
      </form>
      <nav class="account" aria-label="Account">
        <Link href="/cart">
          Cart <span class="count">{count}</span>
          <span class="visually-hidden"> {count === 1 ? "item" : "items"}</span>
        </Link>
        {user ? (
          <>
            <Link href="/orders">Orders</Link>
            <Link href="/notifications">
              Notifications
              {live.unread > 0 && (
                <>
                  {" "}
                  <span class="count">{live.unread}</span>
                  <span class="visually-hidden"> new</span>
                </>
              )}
            </Link>
            <span class="user" title={user.user.email}>
              {user.user.displayName}
            </span>
            <button
              type="button"
              class="link-button"
              onClick={() => {
                signOut();
                navigate("/");
              }}
            >
              Sign out
            </button>
          </>
        ) : (
          <>
            <Link href="/signin">Sign in</Link>
            <Link href="/signup">Sign up</Link>
          </>
        )}
      </nav>
      <Announcer />
    </header>
  );
}

function Toasts() {
  const { toasts } = useStore(liveNotifications);
  return (
    <section class="toasts" aria-label="New notifications">
      <div aria-live="polite" aria-relevant="additions">
        {toasts.map((n) => {
          const title = notificationTitle(n.kind, orderNumber(n.orderId));
          return (
            <div class="toast" key={n.id} data-kind={n.kind}>
              <p class="toast-title">{title}</p>
              {n.orderId && (
                <Link href={`/orders/${n.orderId}`}>
                  View order<span class="visually-hidden"> {orderNumber(n.orderId)}</span>
                </Link>
              )}
              <button
                type="button"
                class="link-button"
                onClick={() => {
                  dismissToast(n.id);
                }}
              >
                Dismiss<span class="visually-hidden">: {title}</span>
              </button>
            </div>
          );
        })}
      </div>
    </section>
  );
}
