/**
 * Usernames: 3 to 64 letters, digits, `_ . @ -`. One rule for the API (`/api/users`, setup) and
 * for KEEL_ADMIN_USERNAME, which the environment check applies before anything else loads.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.@-]{3,64}$/;
