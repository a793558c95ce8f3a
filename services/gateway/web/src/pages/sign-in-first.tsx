import { Link } from "../components/link.tsx";
import { usePageTitle } from "../page-title.ts";

/** For pages that need an account: sign in (or up) and come straight back to `next`. */
export function SignInFirst({ title, next }: { title: string; next: string }) {
  usePageTitle(title);
  return (
    <section aria-labelledby="sign-in-first-title">
      <h1 id="sign-in-first-title">{title}</h1>
      <p>
        Please <Link href={`/signin?next=${encodeURIComponent(next)}`}>sign in</Link> or{" "}
        <Link href={`/signup?next=${encodeURIComponent(next)}`}>create an account</Link> to see this page. You will come
        back here afterwards.
      </p>
    </section>
  );
}
