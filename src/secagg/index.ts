/** Secure aggregation: fixed-point ring encoding, pairwise masking with dropout recovery, Paillier, codec contract. */
export * from './fixedpoint.js';
export * from './messages.js';
export * from './graph.js';
export * from './client.js';
export * from './server.js';
export * from './paillier.js';
export * from './codec.js';
export * from './paillier-keys.js';
