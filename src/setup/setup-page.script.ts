/**
 * The setup page's script, served as `/setup/setup.js` (the CSP allows no inline script). Plain
 * browser JavaScript, no build step: it takes the token from the URL fragment, posts the form to
 * `POST /api/setup` as JSON, shows each error from the answer's `fields` beside its field (by
 * `data-field`, e.g. `admin.password`), and reports progress and the outcome in the status region.
 */
export const SETUP_PAGE_SCRIPT = String.raw`'use strict';
(function () {
  const form = document.getElementById('setup-form');
  if (!form) return;
  const status = document.getElementById('status');
  const done = document.getElementById('done');
  const submit = form.querySelector('button[type="submit"]');
  const inputs = Array.from(form.querySelectorAll('[data-field]'));

  // The token comes in the URL fragment, which the browser never sends to a server (so no
  // access log has it). Take it into the form, then drop it from the address bar and history.
  const fromLink = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (fromLink) {
    form.elements.token.value = fromLink;
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }

  function inputFor(field) {
    return inputs.find(function (input) {
      return input.dataset.field === field;
    });
  }

  function errorOf(input) {
    return document.getElementById(input.id + '-error');
  }

  function say(message) {
    status.textContent = message;
  }

  function clearErrors() {
    inputs.forEach(function (input) {
      input.removeAttribute('aria-invalid');
      errorOf(input).textContent = '';
    });
  }

  /** Shows the message beside the field the API named; false when no field on the page has it. */
  function showFieldError(field, message) {
    const input = inputFor(field);
    if (!input) return false;
    input.setAttribute('aria-invalid', 'true');
    const error = errorOf(input);
    error.textContent = error.textContent ? error.textContent + ' ' + message : message;
    return true;
  }

  // Errors without a field that still belong to one.
  const FIELD_OF_CODE = {
    setup_token_invalid: 'token',
    username_taken: 'admin.username',
    backend_unavailable: 'settings.sessionCache.backend',
  };

  function showProblem(problem) {
    const unplaced = [];
    const fields = Array.isArray(problem.fields) ? problem.fields : [];
    fields.forEach(function (entry) {
      if (!showFieldError(entry.field, entry.message)) unplaced.push(entry.message);
    });
    const field = FIELD_OF_CODE[problem.code];
    if (fields.length === 0 && !(field && showFieldError(field, problem.message))) {
      unplaced.push(problem.message || 'Setup failed; try again.');
    }
    const firstInvalid = inputs.find(function (input) {
      return input.getAttribute('aria-invalid') === 'true';
    });
    const summary = firstInvalid ? ['Setup is not complete: check the fields marked below.'] : [];
    say(summary.concat(unplaced).join(' '));
    if (firstInvalid) firstInvalid.focus();
  }

  // The outcome replaces the form; focus moves to it, so it is read out without the status.
  function finish(title, message) {
    form.hidden = true;
    document.getElementById('intro').hidden = true;
    document.getElementById('done-title').textContent = title;
    document.getElementById('done-message').textContent = message;
    done.hidden = false;
    say('');
    done.focus();
  }

  function requestBody() {
    const admin = {
      username: form.elements.username.value.trim(),
      password: form.elements.password.value,
    };
    const email = form.elements.email.value.trim();
    if (email) admin.email = email;
    return {
      token: form.elements.token.value.trim(),
      admin: admin,
      settings: { sessionCache: { backend: form.elements.backend.value } },
    };
  }

  // A browser that already holds a Keel session cookie must send its CSRF token with a POST.
  async function csrfToken() {
    const response = await fetch('/api/auth/csrf', { credentials: 'same-origin' });
    if (!response.ok) throw new Error('the server answered ' + response.status);
    return (await response.json()).csrfToken;
  }

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    clearErrors();
    submit.disabled = true;
    say('Completing setup\u2026');
    try {
      const response = await fetch('/api/setup', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': await csrfToken() },
        body: JSON.stringify(requestBody()),
      });
      const answer = await response.json().catch(function () {
        return {};
      });
      if (response.status === 201) {
        finish(
          'Setup is complete',
          'You are signed in as ' + answer.user.username + ', the first administrator.',
        );
      } else if (answer.code === 'setup_completed') {
        finish('Setup was already complete', 'An administrator account exists already; sign in instead.');
      } else {
        showProblem(answer);
      }
    } catch (error) {
      say('The server could not be reached (' + error.message + '). Check that it runs, then try again.');
    } finally {
      submit.disabled = false;
    }
  });
})();
`;
