import { Link } from "../components/link.tsx";

export function SignInFirst({ title, next }: { title: string; next: string }) {
  return (
    <section>
      <h1>{title}</h1>
      <p>
        Please <Link href={`/signin?next=${encodeURIComponent(next)}`}>sign in</Link> first.
      </p>
    </section>
  );
}
