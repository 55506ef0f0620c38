// The public surface of api/: schemas, inferred types, constants and helpers shared by every component.
export * from './apikey.ts';
export * from './conditions.ts';
export * from './constants.ts';
export * from './duration.ts';
export * from './expiration.ts';
export * from './record.ts';
export * from './record-secret.ts';
export * from './spec.ts';
export * from './team.ts';
export * from './usage.ts';
