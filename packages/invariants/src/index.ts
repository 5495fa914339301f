export { defineInvariant } from './define.js';
export { createInvariantEngine } from './engine.js';
export { formatChange, formatDetails } from './format.js';
export type {
  EngineOptions,
  FieldChange,
  HealedChange,
  Invariant,
  InvariantDefinition,
  InvariantEngine,
  InvariantIssue,
  IssuePhase,
  ValidateOptions,
  ValidationReport,
  ViolationDetails,
} from './types.js';
