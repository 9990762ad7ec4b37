import type { ComponentChildren } from 'preact';

/**
 * A labelled form control with its hint and its error, both named in `aria-describedby`, and
 * `aria-invalid` while it has an error: what a screen reader reads on focus.
 */
export function Field(props: {
  id: string;
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string;
  children: (describedBy: string, invalid: boolean) => ComponentChildren;
}) {
  const describedBy = [props.hint ? `${props.id}-hint` : '', `${props.id}-error`]
    .filter(Boolean)
    .join(' ');
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.hint ? (
        <p id={`${props.id}-hint`} class="hint">
          {props.hint}
        </p>
      ) : null}
      {props.children(describedBy, Boolean(props.error))}
      <p id={`${props.id}-error`} class="error">
        {props.error ?? ''}
      </p>
    </div>
  );
}

interface ControlProps {
  id: string;
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string;
  value: string;
  onValue: (value: string) => void;
}

/**
 * A text input in a `Field`. `verbatim`: no spell-check or capitals (tokens, usernames), which
 * browsers would otherwise "correct".
 */
export function TextField(
  props: ControlProps & {
    type?: 'text' | 'password' | 'email';
    autocomplete?: string;
    required?: boolean;
    verbatim?: boolean;
  },
) {
  return (
    <Field id={props.id} label={props.label} hint={props.hint} error={props.error}>
      {(describedBy, invalid) => (
        <input
          id={props.id}
          name={props.id}
          // Preact types each input type's attributes apart, and no single type takes a union.
          {...({ type: props.type ?? 'text' } as { type: 'text' })}
          autocomplete={props.autocomplete}
          required={props.required}
          spellcheck={props.verbatim ? false : undefined}
          autocapitalize={props.verbatim ? 'off' : undefined}
          aria-describedby={describedBy}
          aria-invalid={invalid ? 'true' : undefined}
          value={props.value}
          onInput={(event) => props.onValue(event.currentTarget.value)}
        />
      )}
    </Field>
  );
}

type CredentialProps = Omit<ControlProps, 'label'> & { autocomplete: string };

/** A username: required, never spell-checked or capitalised. */
export function UsernameField(props: CredentialProps) {
  return <TextField label="Username" {...props} required verbatim />;
}

/** A password; `autocomplete` says whether it is a new one (`new-password`) or not. */
export function PasswordField(props: CredentialProps) {
  return <TextField label="Password" {...props} type="password" required />;
}

/** A select in a `Field`; `choices` are `[value, label]`. */
export function SelectField(props: ControlProps & { choices: [string, string][] }) {
  return (
    <Field id={props.id} label={props.label} hint={props.hint} error={props.error}>
      {(describedBy, invalid) => (
        <select
          id={props.id}
          name={props.id}
          aria-describedby={describedBy}
          aria-invalid={invalid ? 'true' : undefined}
          value={props.value}
          onChange={(event) => props.onValue(event.currentTarget.value)}
        >
          {props.choices.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** A table in a focusable, named region, so a keyboard user can scroll it when it is wide. */
export function DataTable(props: {
  id?: string;
  label: string;
  caption?: ComponentChildren;
  columns: string[];
  children: ComponentChildren;
}) {
  return (
    <div class="scroll" tabIndex={0} role="region" aria-label={props.label}>
      <table id={props.id}>
        {props.caption ? <caption>{props.caption}</caption> : null}
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/** A polite live region: what changed, read out without moving focus. */
export function Status(props: { id?: string; message: string }) {
  return (
    <p id={props.id} class="status" role="status" aria-live="polite">
      {props.message}
    </p>
  );
}
