// Every page names itself in the tab and in the history list ("Kitchen ·
// Shop"), and screen readers announce the title on navigation.
import { useLayoutEffect } from "preact/hooks";

export const SHOP_NAME = "Shop";

export function usePageTitle(title: string | undefined): void {
  // A layout effect: the title changes with the page it names, in the same
  // commit, not a frame later (a page seen under its predecessor's title).
  useLayoutEffect(() => {
    document.title = title ? `${title} · ${SHOP_NAME}` : SHOP_NAME;
  }, [title]);
}
