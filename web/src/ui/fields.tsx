import { useId, type ReactNode } from "react";

interface Common {
  label: string;
  /** the API's message for this field, shown under it and announced */
  error?: string | undefined;
  hint?: ReactNode;
  required?: boolean;
}

function Described({ id, hint, error }: { id: string; hint?: ReactNode; error?: string | undefined }) {
  return (
    <>
      {hint ? (
        <div className="field-hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
      {error ? (
        <div className="field-error" id={`${id}-error`} role="alert">
          {error}
        </div>
      ) : null}
    </>
  );
}

function describedBy(id: string, hint: unknown, error: string | undefined): string | undefined {
  const ids = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export function TextField({
  label,
  value,
  onChange,
  error,
  hint,
  required,
  type = "text",
  readOnly,
  autoComplete,
  placeholder,
  name,
}: Common & {
  value: string;
  onChange?: (value: string) => void;
  type?: "text" | "password" | "email" | "number" | "date" | "url" | "search";
  readOnly?: boolean;
  autoComplete?: string;
  placeholder?: string;
  name?: string;
}) {
  const id = useId();
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </label>
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        readOnly={readOnly}
        required={required}
        autoComplete={autoComplete}
        placeholder={placeholder}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onChange={(e) => onChange?.(e.target.value)}
      />
      <Described id={id} hint={hint} error={error} />
    </div>
  );
}

export function TextAreaField({ label, value, onChange, error, hint, required, rows = 6 }: Common & { value: string; onChange: (value: string) => void; rows?: number }) {
  const id = useId();
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </label>
      <textarea
        id={id}
        rows={rows}
        value={value}
        required={required}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onChange={(e) => onChange(e.target.value)}
      />
      <Described id={id} hint={hint} error={error} />
    </div>
  );
}

export interface Choice {
  value: string;
  label: string;
  disabled?: boolean;
}

export function SelectField({
  label,
  value,
  onChange,
  choices,
  error,
  hint,
  required,
  disabled,
}: Common & { value: string; onChange: (value: string) => void; choices: Choice[]; disabled?: boolean }) {
  const id = useId();
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </label>
      <select
        id={id}
        value={value}
        disabled={disabled}
        required={required}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onChange={(e) => onChange(e.target.value)}
      >
        {choices.map((c) => (
          <option key={c.value} value={c.value} disabled={c.disabled}>
            {c.label}
          </option>
        ))}
      </select>
      <Described id={id} hint={hint} error={error} />
    </div>
  );
}

export function CheckboxField({ label, checked, onChange, hint, error }: Omit<Common, "required"> & { checked: boolean; onChange: (checked: boolean) => void }) {
  const id = useId();
  return (
    <div className={`field field-checkbox${error ? " field-invalid" : ""}`}>
      <input id={id} type="checkbox" checked={checked} aria-invalid={error ? true : undefined} aria-describedby={describedBy(id, hint, error)} onChange={(e) => onChange(e.target.checked)} />
      <label htmlFor={id}>{label}</label>
      <Described id={id} hint={hint} error={error} />
    </div>
  );
}
