import type { Migration } from 'kysely';
import * as settings from './0001-settings.js';
import * as sessions from './0002-sessions.js';
import * as users from './0003-users.js';
import * as setup from './0004-setup.js';
import * as instances from './0005-instances.js';
import * as sessionHandover from './0006-session-handover.js';
import * as instanceReport from './0007-instance-report.js';
import * as sessionChangeNotifications from './0008-session-change-notifications.js';

/**
 * Every migration, in order. Names sort lexically and never change once released;
 * add a new file and a line here (docs/development.md, "Adding a migration").
 */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-settings': settings,
  '0002-sessions': sessions,
  '0003-users': users,
  '0004-setup': setup,
  '0005-instances': instances,
  '0006-session-handover': sessionHandover,
  '0007-instance-report': instanceReport,
  '0008-session-change-notifications': sessionChangeNotifications,
};
