/** Differential privacy: clipping, Gaussian noise (CSPRNG), DP-SGD helpers, RDP accountant, budget ledger. */
export * from './clipping.js';
export * from './noise.js';
export * from './dpsgd.js';
export * from './rdp.js';
export * from './budget.js';
export * from './dpsgd-policy.js';
