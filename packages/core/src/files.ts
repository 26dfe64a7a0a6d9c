// The part of core a client needs, without the database stack: hashing files and the clutter to skip.
export { hashFile, type FileDigest } from './ingest/hash';
export { defaultExclusions } from './ingest/exclusions';
