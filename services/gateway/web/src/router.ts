// Client-side routes over the History API; the gateway answers every such
// path with index.html, so deep links and reloads land on the same page.
//
// Scroll positions are the app's to restore (pages render their data a
// moment after the route changes, too late for the browser's own
// restoration): each history entry has a key, the position of each key is
// kept in sessionStorage, and Back, Forward and reloads scroll there again
// once the page has grown tall enough.
import type { TargetedMouseEvent } from "preact";
import { useEffect, useState } from "preact/hooks";

const CHANGE = "shop:navigate";
const POSITIONS_KEY = "shop.scroll";
/** Give up restoring after this long (the page never grew that tall). */
const RESTORE_FOR_MS = 3000;

export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

function newKey(): string {
  return Math.random().toString(36).slice(2, 10);
}

function entryKey(): string {
  const state = history.state as { key?: unknown } | null;
  if (typeof state?.key === "string") return state.key;
  const key = newKey();
  history.replaceState({ ...(state ?? {}), key }, "");
  return key;
}

function positions(): Record<string, number> {
  try {
    return JSON.parse(sessionStorage.getItem(POSITIONS_KEY) ?? "{}") as Record<string, number>;
  } catch {
    return {};
  }
}

function savePosition(): void {
  const key = entryKey();
  // A long session must not grow this without bound: keep the latest 100 entries.
  const kept = Object.entries(positions())
    .filter(([k]) => k !== key)
    .slice(-99);
  sessionStorage.setItem(POSITIONS_KEY, JSON.stringify(Object.fromEntries([...kept, [key, window.scrollY]])));
}

let restoring: (() => void) | undefined;

/** Scrolls to the position saved for the current entry, as soon as the page is tall enough. */
function restorePosition(): void {
  restoring?.();
  const target = positions()[entryKey()] ?? 0;
  const tryScroll = () => {
    const reachable = document.documentElement.scrollHeight - window.innerHeight >= target;
    if (reachable) window.scrollTo(0, target);
    return reachable;
  };
  if (tryScroll()) return;
  const observer = new ResizeObserver(() => {
    if (tryScroll()) stop();
  });
  const timer = setTimeout(() => {
    stop();
  }, RESTORE_FOR_MS);
  // The shopper scrolling themselves wins.
  const userScrolled = () => {
    stop();
  };
  const stop = () => {
    observer.disconnect();
    clearTimeout(timer);
    window.removeEventListener("wheel", userScrolled);
    window.removeEventListener("touchmove", userScrolled);
    window.removeEventListener("keydown", userScrolled);
    restoring = undefined;
  };
  observer.observe(document.body);
  window.addEventListener("wheel", userScrolled, { passive: true });
  window.addEventListener("touchmove", userScrolled, { passive: true });
  window.addEventListener("keydown", userScrolled);
  restoring = stop;
}

/** Takes scrolling over from the browser; call once at start-up. */
export function startScrollRestoration(): void {
  history.scrollRestoration = "manual";
  entryKey();
  let queued = false;
  window.addEventListener(
    "scroll",
    () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        savePosition();
      });
    },
    { passive: true },
  );
  window.addEventListener("popstate", restorePosition);
  window.addEventListener("pagehide", savePosition);
  restorePosition(); // a reload
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  savePosition();
  restoring?.();
  if (options.replace) history.replaceState({ key: entryKey() }, "", to);
  else history.pushState({ key: newKey() }, "", to);
  window.dispatchEvent(new Event(CHANGE));
  window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => {
      setLocation(current());
    };
    window.addEventListener("popstate", update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return location;
}

/** `pattern` such as "/orders/:id" against `path`: the parameters, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

/** Plain left clicks on app links navigate in place; modified clicks open tabs as usual. */
export function onLinkClick(event: TargetedMouseEvent<HTMLAnchorElement>): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return;
  const href = event.currentTarget.getAttribute("href");
  if (!href?.startsWith("/")) return;
  event.preventDefault();
  navigate(href);
}

/** The current path with its query, for "come back here after signing in". */
export function currentPath(): string {
  return `${window.location.pathname}${window.location.search}`;
}
