// The VITE_* variables the app reads (vite/client types the rest of import.meta.env).
interface ImportMetaEnv {
  /** Storefront API origin when it is not the page's own (e.g. the vite dev server). */
  readonly VITE_API_URL?: string;
}
