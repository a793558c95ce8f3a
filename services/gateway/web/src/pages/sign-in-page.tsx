import { Code, ConnectError } from "@connectrpc/connect";
import { useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { Field, FormMessage } from "../components/field.tsx";
import { Link } from "../components/link.tsx";
import { formErrors, noErrors, type FormErrors } from "../errors.ts";
import { navigate } from "../router.ts";
import { signIn } from "../session.ts";
import { safeNext } from "./safe-next.ts";

export function SignInPage({ next }: { next: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setErrors(noErrors);
    try {
      const { session } = await storefront.signIn({ email, password });
      signIn(session!);
      navigate(safeNext(next));
    } catch (err) {
      // The server does not say which of the two was wrong, and neither do we.
      if (ConnectError.from(err).code === Code.Unauthenticated)
        setErrors({ fields: {}, message: "Wrong email or password." });
      else setErrors(formErrors(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="narrow" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <form class="form" onSubmit={submit} noValidate>
        <Field
          id="signin-email"
          label="Email"
          type="email"
          autoComplete="email"
          value={email}
          onValue={setEmail}
          error={errors.fields.email}
        />
        <Field
          id="signin-password"
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onValue={setPassword}
          error={errors.fields.password}
        />
        <FormMessage message={errors.message} />
        <button type="submit" class="button--primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <p>
        New here? <Link href={`/signup?next=${encodeURIComponent(next)}`}>Create an account</Link>
      </p>
    </section>
  );
}
