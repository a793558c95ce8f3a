import type { AnchorHTMLAttributes, ComponentChildren } from "preact";
import { onLinkClick } from "../router.ts";

/** An in-app link: a real <a href> (keyboard, middle click) that navigates without a reload. */
export function Link({
  href,
  children,
  ...rest
}: AnchorHTMLAttributes & { href: string; children: ComponentChildren }) {
  return (
    <a href={href} onClick={onLinkClick} {...rest}>
      {children}
    </a>
  );
}
