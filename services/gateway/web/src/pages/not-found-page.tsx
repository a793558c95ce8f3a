import { Link } from "../components/link.tsx";
import { usePageTitle } from "../page-title.ts";

export function NotFoundPage() {
  usePageTitle("Page not found");
  return (
    <section aria-labelledby="not-found-title">
      <h1 id="not-found-title">Page not found</h1>
      <p>
        <Link href="/">Back to the shop</Link>
      </p>
    </section>
  );
}
