// @nook/ingest: watches folder libraries and NAS shares, reconciles them and feeds the job queue.
export { Ingest, type IngestDeps, type IngestOptions } from './ingest';
