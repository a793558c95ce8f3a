// A labelled form control with its error right under it: the label names the
// control (label/for), the error is announced with it (aria-describedby) and
// the control is marked invalid (aria-invalid).
import type { ComponentChildren } from "preact";

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  error?: string;
  hint?: ComponentChildren;
  type?: "text" | "email" | "password";
  inputMode?: "text" | "numeric" | "email";
  autoComplete?: string;
}

export function Field({ id, label, value, onValue, error, hint, type = "text", inputMode, autoComplete }: FieldProps) {
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${error ? " field--invalid" : ""}`}>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={id}
        // Preact 11 types <input> as a union per `type`; all three of ours take the same attributes.
        type={type as "text"}
        inputMode={inputMode}
        autoComplete={autoComplete}
        value={value}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
      {hint && (
        <div class="field-hint" id={hintId}>
          {hint}
        </div>
      )}
      {error && (
        <p class="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

/** The message for the whole form, announced when it appears. */
export function FormMessage({ message }: { message?: string }) {
  return (
    <div class="form-message" role="alert">
      {message}
    </div>
  );
}
