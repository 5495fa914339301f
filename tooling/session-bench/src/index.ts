export { freshDir, onInterrupt } from './cleanup.js';
export {
  type Cycles,
  type CyclingManager,
  type FleetOptions,
  type FleetRun,
  lineReader,
  managerCycles,
  runCycler,
  runFleet,
} from './cycler.js';
export { fmt, median, pool } from './numbers.js';
export { type BenchRecord, benchRecord } from './record.js';
