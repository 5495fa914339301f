#!/usr/bin/env node
import { bootSummary } from './index.js';

// Placeholder CLI until the app issue lands: `start` prints the boot summary and exits.
console.log(bootSummary());
