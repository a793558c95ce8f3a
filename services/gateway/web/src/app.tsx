// The shell: skip link, header (search, cart, orders, notifications, account),
// the page for the current path, and the live notification toasts.
import { useEffect, useRef, useState } from "preact/hooks";
import { cart, cartCount } from "./cart.ts";
import { Link } from "./components/link.tsx";
import { dismissToast, liveNotifications } from "./live-notifications.ts";
import { CartPage } from "./pages/cart-page.tsx";
import { CatalogPage } from "./pages/catalog-page.tsx";
import { CheckoutPage } from "./pages/checkout-page.tsx";
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
  const pageToken = query.get("page") ?? "";
  const next = query.get("next") ?? "/";
  if (path === "/") return <CatalogPage categoryId={query.get("category") ?? ""} pageToken={pageToken} />;
  if (path === "/search") return <SearchPage query={query.get("q") ?? ""} pageToken={pageToken} />;
  if (path === "/cart") return <CartPage />;
  if (path === "/checkout") return <CheckoutPage />;
  if (path === "/orders") return <OrdersPage pageToken={pageToken} />;
  if (path === "/notifications") return <NotificationsPage />;
  if (path === "/signin") return <SignInPage next={next} />;
  if (path === "/signup") return <SignUpPage next={next} />;
  const product = match("/products/:id", path);
  if (product) return <ProductPage productId={product.id} />;
  const order = match("/orders/:id", path);
  if (order) return <OrderPage orderId={order.id} />;
  return <NotFoundPage />;
}

export function App() {
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  // After in-app navigation, move focus to the new page so screen readers and keyboards start there.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
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
  useEffect(() => setSearch(query), [query]);
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
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <button type="submit">Search</button>
      </form>
      <nav class="account" aria-label="Account">
        <Link href="/cart" aria-label={`Cart, ${count} ${count === 1 ? "item" : "items"}`}>
          Cart <span class="count">{count}</span>
        </Link>
        {user ? (
          <>
            <Link href="/orders">Orders</Link>
            <Link href="/notifications" aria-label={`Notifications${live.unread ? `, ${live.unread} new` : ""}`}>
              Notifications {live.unread > 0 && <span class="count">{live.unread}</span>}
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
    </header>
  );
}

function Toasts() {
  const { toasts } = useStore(liveNotifications);
  return (
    <div class="toasts" aria-live="polite" aria-label="New notifications">
      {toasts.map((n) => (
        <div class="toast" key={n.id}>
          <strong>{n.title}</strong>
          <p>{n.body}</p>
          {n.orderId && <Link href={`/orders/${n.orderId}`}>View order</Link>}
          <button
            type="button"
            class="link-button"
            onClick={() => dismissToast(n.id)}
            aria-label={`Dismiss: ${n.title}`}
          >
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}
