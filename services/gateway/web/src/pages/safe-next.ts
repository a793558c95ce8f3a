/** Where to go after signing in: only paths of this app, never another site (open redirect). */
export function safeNext(next: string): string {
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}
