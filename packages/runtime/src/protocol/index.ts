export * from './client.js';
export * from './gateway.js';
export * from './errors.js';
export * from './records.js';
