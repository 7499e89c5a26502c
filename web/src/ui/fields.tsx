import { useId, type ReactNode } from "react";

interface Common {
  label: string;
  /** the API's message for this field, shown under it and announced */
  error?: string | undefined;
  hint?: ReactNode;
  required?: boolean | undefined;
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

/** What a control needs to be tied to its label, hint and error. */
interface ControlProps {
  id: string;
  "aria-invalid": true | undefined;
  "aria-describedby": string | undefined;
}

/** A labelled control with its hint and the API's message under it: the frame every field but the checkbox shares. */
function LabelledField({ label, error, hint, required, control }: Common & { control: (props: ControlProps) => ReactNode }) {
  const id = useId();
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {control({ id, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy(id, hint, error) })}
      <Described id={id} hint={hint} error={error} />
    </div>
  );
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
  return (
    <LabelledField
      label={label}
      error={error}
      hint={hint}
      required={required}
      control={(props) => (
        <input
          {...props}
          name={name}
          type={type}
          value={value}
          readOnly={readOnly}
          required={required}
          autoComplete={autoComplete}
          placeholder={placeholder}
          onChange={(e) => onChange?.(e.target.value)}
        />
      )}
    />
  );
}

export function TextAreaField({ label, value, onChange, error, hint, required, rows = 6 }: Common & { value: string; onChange: (value: string) => void; rows?: number }) {
  return (
    <LabelledField
      label={label}
      error={error}
      hint={hint}
      required={required}
      control={(props) => <textarea {...props} rows={rows} value={value} required={required} onChange={(e) => onChange(e.target.value)} />}
    />
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
  return (
    <LabelledField
      label={label}
      error={error}
      hint={hint}
      required={required}
      control={(props) => (
        <select {...props} value={value} disabled={disabled} required={required} onChange={(e) => onChange(e.target.value)}>
          {choices.map((c) => (
            <option key={c.value} value={c.value} disabled={c.disabled}>
              {c.label}
            </option>
          ))}
        </select>
      )}
    />
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
