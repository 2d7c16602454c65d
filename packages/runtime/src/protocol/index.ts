export * from './client.js';
export * from './gateway.js';
export * from './errors.js';
