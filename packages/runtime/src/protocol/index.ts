export * from './client.js';
export * from './gateway.js';
export * from './errors.js';
export * from './records.js';
export { ROLES, type Role } from '../iam/subject.js';
