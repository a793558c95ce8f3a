// Sign-up. The browser does not pre-validate (noValidate): the server's rules
// (from the contract) are the ones that count, and each field violation it
// returns is shown under its field in the catalogue's words.
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

const FIELD_IDS = { email: "signup-email", password: "signup-password", display_name: "signup-name" };

export function SignUpPage({ next }: { next: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [busy, setBusy] = useState(false);
  const { form, message } = useFocusOnErrors(errors);
  usePageTitle("Create an account");

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    try {
      const { session } = await storefront.signUp({ email, password, displayName });
      if (!session) throw new ConnectError("the shop answered without a session", Code.Internal);
      signIn(session);
      navigate(safeNext(next), { replace: true });
    } catch (err) {
      // A taken email comes back as AlreadyExists: it belongs to the email field.
      setErrors(
        formErrors(err, (e) => (e.code === Code.AlreadyExists ? { field: "email", rule: "taken" } : undefined)),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="narrow" aria-labelledby="signup-title">
      <h1 id="signup-title">Create an account</h1>
      <form class="form" onSubmit={(e) => void submit(e)} noValidate ref={form}>
        <FormMessage errors={errors} fieldIds={FIELD_IDS} messageRef={message} />
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
        <button type="submit" class="button--primary" aria-disabled={busy ? "true" : undefined}>
          Create account
        </button>
      </form>
      <p>
        Already have an account? <Link href={`/signin?next=${encodeURIComponent(next)}`}>Sign in</Link>
      </p>
    </section>
  );
}
