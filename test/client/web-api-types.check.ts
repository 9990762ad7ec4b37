import type * as Web from '../../web/shared/api-types.js';
import type { components } from './generated/keel-api.js';

// The browser code's own API types (web/shared/api-types.ts) against the ones generated from
// the OpenAPI document: each generated schema must be assignable to the web's type, so a field
// the console reads that the server renames, retypes or drops fails the root type-check
// (`npm test` runs `npm run api:client` first). Types only: nothing here runs.

type Schemas = components['schemas'];
type Covers<Generated, Read> = [Generated] extends [Read] ? true : false;
type Assert<T extends true> = T;

export type WebApiTypesMatch = [
  Assert<Covers<Schemas['UserSummaryResponse'], Web.UserSummary>>,
  Assert<Covers<Schemas['SignedInResponse'], Web.SignedIn>>,
  Assert<Covers<Schemas['MeResponse'], Web.Me>>,
  Assert<Covers<Schemas['PublicUserResponse'], Web.PublicUser>>,
  Assert<Covers<Schemas['OwnSessionResponse'], Web.OwnSession>>,
  Assert<Covers<Schemas['SettingsResponse'], Web.Settings>>,
  Assert<Covers<Schemas['SettingsHistoryEntryResponse'], Web.SettingsHistoryEntry>>,
  Assert<Covers<Schemas['SessionCacheStatusResponse'], Web.SessionCacheStatus>>,
  Assert<Covers<Schemas['TaskStatusResponse'], Web.TaskStatus>>,
  Assert<Covers<Schemas['LiveInstanceResponse'], Web.LiveInstance>>,
  Assert<Covers<Schemas['RuntimeReportResponse'], Web.RuntimeReport>>,
  Assert<Covers<Schemas['SetupCompletedResponse'], Web.SetupCompleted>>,
];
