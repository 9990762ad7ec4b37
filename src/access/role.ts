/** The roles a user can have: `admin` may do everything, `member` what concerns itself. */
export const ROLES = ['admin', 'member'] as const;
export type Role = (typeof ROLES)[number];
