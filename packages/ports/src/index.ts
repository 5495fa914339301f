export { DEFAULT_ALIASES, DEFAULT_PORTS } from './defaults.js';
export type { PortResolution, ResolutionReason } from './discovery.js';
export {
  type AttemptOutcome,
  type CandidateSource,
  PortAliasError,
  type PortAttempt,
  PortConflictError,
  PortEnvError,
  type PortErrorCode,
  PortExhaustedError,
  PortNameError,
  PortProbeError,
  PortRangeError,
  PortsError,
} from './errors.js';
export { classifyBindError, type ProbeOutcome, probePort } from './probe.js';
export {
  type AliasProperties,
  createPortRegistry,
  type PortRecord,
  type PortRegistry,
  type PortRegistryMembers,
  type PortRegistryOptions,
  type PortSnapshot,
  type ResolveOptions,
  type ResolveReport,
} from './registry.js';
export type { PortClaimChooser, PortReservationSession, PortResource } from './session.js';
