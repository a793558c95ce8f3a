// Sign-up. The browser does not pre-validate (noValidate): the server's rules
// (from the contract) are the ones that count, and each field violation it
// returns is shown under its field.
import { Code } from "@connectrpc/connect";
import { useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { Field, FormMessage } from "../components/field.tsx";
import { Link } from "../components/link.tsx";
import { formErrors, noErrors, type FormErrors } from "../errors.ts";
import { navigate } from "../router.ts";
import { signIn } from "../session.ts";
import { safeNext } from "./safe-next.ts";

export function SignUpPage({ next }: { next: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setErrors(noErrors);
    try {
      const { session } = await storefront.signUp({ email, password, displayName });
      signIn(session!);
      navigate(safeNext(next));
    } catch (err) {
      // A taken email comes back as AlreadyExists: it belongs to the email field.
      setErrors(formErrors(err, (e) => (e.code === Code.AlreadyExists ? "email" : undefined)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="narrow" aria-labelledby="signup-title">
      <h1 id="signup-title">Create an account</h1>
      <form class="form" onSubmit={submit} noValidate>
        <Field
          id="signup-email"
          label="Email"
          type="email"
          autoComplete="email"
          value={email}
          onValue={setEmail}
          error={errors.fields.email}
        />
        <Field
          id="signup-password"
          label="Password"
          type="password"
          autoComplete="new-password"
          value={password}
          onValue={setPassword}
          error={errors.fields.password}
          hint="At least 10 characters."
        />
        <Field
          id="signup-name"
          label="Your name"
          autoComplete="name"
          value={displayName}
          onValue={setDisplayName}
          error={errors.fields.display_name}
        />
        <FormMessage message={errors.message} />
        <button type="submit" class="button--primary" disabled={busy}>
          Create account
        </button>
      </form>
      <p>
        Already have an account? <Link href={`/signin?next=${encodeURIComponent(next)}`}>Sign in</Link>
      </p>
    </section>
  );
}
