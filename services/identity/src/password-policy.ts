// What a password must be beyond the contract's length rule (10 to 128
// characters, enforced by protovalidate before any handler runs): not the
// account's own email, and not a single character repeated. Shared by
// Register and the admin account configured from the environment.

/** Why `password` is not acceptable for `email`, or undefined if it is. */
export function passwordProblem(password: string, email: string): string | undefined {
  if (password.trim().toLowerCase() === email.trim().toLowerCase()) return "must not be the email address";
  // /u: a repeated emoji is one repeated character, not two alternating halves.
  if (/^(.)\1*$/su.test(password)) return "must not be one character repeated";
  return undefined;
}
