import { Code, ConnectError } from "@connectrpc/connect";
import { useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { Field, FormMessage, useFocusOnErrors } from "../components/field.tsx";
import { Link } from "../components/link.tsx";
import { formErrors, noErrors, type FormErrors } from "../errors.ts";
import { usePageTitle } from "../page-title.ts";
import { navigate } from "../router.ts";
import { signIn } from "../session.ts";
import { safeNext } from "./safe-next.ts";

const FIELD_IDS = { email: "signin-email", password: "signin-password" };

export function SignInPage({ next }: { next: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [busy, setBusy] = useState(false);
  const { form, message } = useFocusOnErrors(errors);
  usePageTitle("Sign in");

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    try {
      const { session } = await storefront.signIn({ email, password });
      if (!session) throw new ConnectError("the shop answered without a session", Code.Internal);
      signIn(session);
      navigate(safeNext(next), { replace: true });
    } catch (err) {
      // The server does not say which of the two was wrong, and neither do we.
      if (ConnectError.from(err).code === Code.Unauthenticated)
        setErrors({ fields: {}, message: "That email and password do not match an account." });
      else setErrors(formErrors(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="narrow" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <form class="form" onSubmit={(e) => void submit(e)} noValidate ref={form}>
        <FormMessage errors={errors} fieldIds={FIELD_IDS} messageRef={message} />
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
        <button type="submit" class="button--primary" aria-disabled={busy ? "true" : undefined}>
          Sign in
        </button>
      </form>
      <p>
        New here? <Link href={`/signup?next=${encodeURIComponent(next)}`}>Create an account</Link>
      </p>
    </section>
  );
}
