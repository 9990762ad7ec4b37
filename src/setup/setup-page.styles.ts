/** The setup page's styles, served as `/setup/setup.css` (the CSP allows no inline style). */
export const SETUP_PAGE_STYLES = `:root {
  color-scheme: light dark;
  --text: #1b1b1b;
  --muted: #4a4a4a;
  --background: #ffffff;
  --border: #767676;
  --accent: #0b57d0;
  --error: #b3261e;
  --success: #146c2e;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  line-height: 1.5;
}

@media (prefers-color-scheme: dark) {
  :root {
    --text: #ececec;
    --muted: #c4c4c4;
    --background: #1b1b1b;
    --border: #9a9a9a;
    --accent: #a8c7fa;
    --error: #ffb4ab;
    --success: #8fd9a4;
  }
}

body {
  margin: 0;
  color: var(--text);
  background: var(--background);
}

main {
  max-width: 34rem;
  margin: 0 auto;
  padding: 2rem 1rem 4rem;
}

h1 {
  font-size: 1.75rem;
  margin: 0 0 0.5rem;
}

fieldset {
  border: 1px solid var(--border);
  border-radius: 0.5rem;
  margin: 1.5rem 0;
  padding: 0.5rem 1rem 1rem;
}

legend {
  font-weight: 600;
  padding: 0 0.25rem;
}

.field {
  margin-top: 1rem;
}

label {
  display: block;
  font-weight: 600;
}

.optional,
.hint {
  color: var(--muted);
  font-weight: normal;
}

.hint {
  margin: 0.125rem 0 0.375rem;
  font-size: 0.925rem;
}

input,
select,
button {
  font: inherit;
}

input,
select {
  box-sizing: border-box;
  width: 100%;
  padding: 0.5rem;
  color: var(--text);
  background: var(--background);
  border: 1px solid var(--border);
  border-radius: 0.375rem;
}

input[aria-invalid='true'],
select[aria-invalid='true'] {
  border: 2px solid var(--error);
}

:focus-visible {
  outline: 3px solid var(--accent);
  outline-offset: 2px;
}

.error {
  color: var(--error);
  margin: 0.25rem 0 0;
  font-weight: 600;
}

.error:empty,
.status:empty {
  display: none;
}

.status {
  border-left: 4px solid var(--accent);
  padding: 0.5rem 0.75rem;
}

button {
  padding: 0.625rem 1.25rem;
  color: #ffffff;
  background: #0b57d0;
  border: 0;
  border-radius: 0.375rem;
  cursor: pointer;
}

button:disabled {
  opacity: 0.6;
  cursor: progress;
}

.notice {
  border-left: 4px solid var(--success);
  padding: 0.25rem 1rem;
}

[hidden] {
  display: none !important;
}
`;
