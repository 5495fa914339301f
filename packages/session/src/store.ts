// `@core/session/store`: what a session store is written against — the
// contract it implements, the reading of untrusted values, the values every
// fleet store shares and the checks of its options. An application that uses
// a store imports nothing from here.
export type {
  ClaimOutcome,
  ClaimRequest,
  CleanupResult,
  LeaseEvidence,
  ReapingMark,
  ReapTakeover,
  ResourceCleanup,
  ResourceRecord,
  SessionLogger,
  SessionOwner,
  SessionRecord,
  SessionStore,
  StoredClaim,
  StoredSession,
} from './contract.js';
export { parseSessionRecord, parseWith } from './schema.js';
export {
  ownerOf,
  type Parsed,
  parseClaimHolder,
  parseReapingMark,
  parseStoredOwner,
  parseStoredRecord,
  type ReapingMarkValue,
  serializeClaimHolder,
  serializeReapingMark,
} from './store-kit/codec.js';
export {
  checkHeartbeat,
  checkLogger,
  type OptionIssue,
  type OptionsSchema,
  parseStoreOptions,
  type StoreOptionsContext,
} from './store-kit/options.js';
