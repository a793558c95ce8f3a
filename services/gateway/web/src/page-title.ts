// Every page names itself in the tab and in the history list ("Kitchen ·
// Shop"), and screen readers announce the title on navigation.
import { useEffect } from "preact/hooks";

export const SHOP_NAME = "Shop";

export function usePageTitle(title: string | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} · ${SHOP_NAME}` : SHOP_NAME;
  }, [title]);
}
