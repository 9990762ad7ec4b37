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

/** A polite live region: what changed, read out without moving focus. */
export function Status(props: { id?: string; message: string }) {
  return (
    <p id={props.id} class="status" role="status" aria-live="polite">
      {props.message}
    </p>
  );
}
