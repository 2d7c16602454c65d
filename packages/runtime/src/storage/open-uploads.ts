import type { Database, RootDatabase } from 'lmdb';

/** A multipart upload begun and neither completed nor aborted yet. */
export interface OpenUpload {
  readonly tenant: string;
  readonly workflowId: string;
  /** The attempt whose output it is: when that attempt ends, the upload is given up if still open. */
  readonly attemptId: string;
  readonly hash: string;
  readonly size: number;
  readonly partSize: number;
}

/**
 * The open multipart uploads, by upload id, in the runtime's lmdb state: not every S3-compatible
 * server lists them (s3rver does not), and a runtime that restarts gives up those left open.
 */
export class OpenUploads {
  private readonly db: Database<OpenUpload, string>;
  /** The same uploads in memory: every attempt's end looks for those it left open, and almost never finds one. */
  private readonly open = new Map<string, OpenUpload>();

  constructor(root: RootDatabase) {
    this.db = root.openDB<OpenUpload, string>({ name: 'open-uploads' });
    for (const { key, value } of this.db.getRange()) this.open.set(key, value);
  }

  get(uploadId: string): OpenUpload | undefined {
    return this.open.get(uploadId);
  }

  async add(uploadId: string, upload: OpenUpload): Promise<void> {
    this.open.set(uploadId, upload);
    await this.db.put(uploadId, upload);
  }

  async remove(uploadId: string): Promise<void> {
    this.open.delete(uploadId);
    await this.db.remove(uploadId);
  }

  /** The open uploads of attempt `attemptId`, or all of them. */
  of(attemptId?: string): Array<[string, OpenUpload]> {
    const found: Array<[string, OpenUpload]> = [];
    if (this.open.size === 0) return found;
    for (const entry of this.open) if (attemptId === undefined || entry[1].attemptId === attemptId) found.push(entry);
    return found;
  }
}
