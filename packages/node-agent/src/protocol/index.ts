export * from './data.js';
export * from './failure.js';
export * from './bundle.js';
export * from './agent.js';
