// Labelled form controls with their error right under them: the label names
// the control (label/for), the error is announced with it (aria-describedby)
// and the control is marked invalid (aria-invalid). After a failed submit,
// useFocusOnErrors moves focus to the first invalid control (or, when only
// the form as a whole failed, to its message), so keyboard and screen reader
// users land where the problem is.
import type { ComponentChildren, RefObject } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { FormErrors } from "../errors.ts";

interface CommonProps {
  id: string;
  label: string;
  error?: string;
  hint?: ComponentChildren;
  /** Shown after the label, e.g. "(optional)". */
  labelSuffix?: string;
}

function describedBy(id: string, hint: unknown, error: unknown): string | undefined {
  return [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
}

function FieldFrame({ id, label, error, hint, labelSuffix, children }: CommonProps & { children: ComponentChildren }) {
  return (
    <div class={`field${error ? " field--invalid" : ""}`}>
      <label for={id}>
        {label}
        {labelSuffix && <span class="muted"> {labelSuffix}</span>}
      </label>
      {hint && (
        <div class="field-hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {children}
      {error && (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

interface FieldProps extends CommonProps {
  value: string;
  onValue: (value: string) => void;
  type?: "text" | "email" | "password" | "tel";
  inputMode?: "text" | "numeric" | "email";
  autoComplete?: string;
  maxLength?: number;
  /** Fires as the shopper types, with the input element (to keep the caret where it belongs). */
  onInputElement?: (input: HTMLInputElement) => void;
}

export function Field(props: FieldProps) {
  const { id, value, onValue, error, hint, type = "text", inputMode, autoComplete, maxLength } = props;
  return (
    <FieldFrame {...props}>
      <input
        id={id}
        name={id}
        // Preact 11 types <input> as a union per `type`; all of ours take the same attributes.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it with the web tsconfig
        type={type as "text"}
        inputMode={inputMode}
        autoComplete={autoComplete}
        maxLength={maxLength}
        value={value}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onInput={(e) => {
          onValue(e.currentTarget.value);
          props.onInputElement?.(e.currentTarget);
        }}
      />
    </FieldFrame>
  );
}

interface SelectProps extends CommonProps {
  value: string;
  onValue: (value: string) => void;
  options: readonly { value: string; label: string }[];
  autoComplete?: string;
}

export function SelectField(props: SelectProps) {
  const { id, value, onValue, error, hint, options, autoComplete } = props;
  return (
    <FieldFrame {...props}>
      <select
        id={id}
        name={id}
        autoComplete={autoComplete}
        value={value}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onChange={(e) => {
          onValue(e.currentTarget.value);
        }}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldFrame>
  );
}

/**
 * The form's own message, announced when it appears (role=alert), plus links
 * to each invalid field when there are several.
 */
export function FormMessage({
  errors,
  fieldIds = {},
  messageRef,
}: {
  errors: FormErrors;
  /** Field path -> control id, for the links. */
  fieldIds?: Record<string, string>;
  messageRef?: RefObject<HTMLDivElement | null>;
}) {
  const linked = Object.entries(errors.fields).filter(([path]) => fieldIds[path]);
  return (
    <div class="form-message" role="alert" tabIndex={-1} ref={messageRef}>
      {errors.message && <p>{errors.message}</p>}
      {linked.length > 1 && (
        <ul>
          {linked.map(([path, message]) => (
            <li key={path}>
              <a
                href={`#${fieldIds[path]}`}
                onClick={(e) => {
                  e.preventDefault();
                  document.getElementById(fieldIds[path])?.focus();
                }}
              >
                {message}
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * After every failed submit (a new `errors` object), focus the first invalid
 * control of `form` in document order, else the form's message.
 */
export function useFocusOnErrors(errors: FormErrors) {
  const form = useRef<HTMLFormElement>(null);
  const message = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (Object.keys(errors.fields).length === 0 && !errors.message) return;
    const invalid = form.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
    (invalid ?? message.current)?.focus();
  }, [errors]);
  return { form, message };
}
