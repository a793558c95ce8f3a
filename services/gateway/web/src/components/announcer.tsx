// A polite live region for things that happen without a page change (an item
// added to the cart, a quantity changed): screen readers hear it, nothing
// moves on screen.
import { Store, useStore } from "../store.ts";

const announcement = new Store("");

/** Says `text` to screen readers (again, even if it is the same as last time). */
export function announce(text: string): void {
  // A changed text is what makes the region speak: alternate a no-break space.
  announcement.set(announcement.get() === text ? `${text}\u00a0` : text);
}

export function Announcer() {
  const text = useStore(announcement);
  return (
    <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">
      {text}
    </div>
  );
}
